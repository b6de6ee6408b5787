/*
 * test_load_alloc.c — the sharing rule of the load balancer, case by case: equal shares
 * rounded down to 0.1 A, caps that leave their surplus to the others, the newest sessions
 * paused when a share would fall below the minimum, and never more than what is there.
 */
#include <check.h>
#include <stdlib.h>

#include "load_alloc.h"

#define UNCAPPED 32.0

static struct load_demand d[16];

static void share(size_t n, double avail, double min)
{
    load_allocate(d, n, avail, min);
}

static void caps(size_t n, double cap)
{
    for (size_t i = 0; i < n; i++)
        d[i] = (struct load_demand){cap, -1};
}

static double total(size_t n)
{
    double t = 0;
    for (size_t i = 0; i < n; i++)
        t += d[i].out;
    return t;
}

/* 32 A, sessions arriving one by one: 32, 16, 10.6 (32/3 rounded down), 8. */
START_TEST(equal_shares_as_sessions_arrive)
{
    const double want[] = {32, 16, 10.6, 8};
    for (size_t n = 1; n <= 4; n++) {
        caps(n, UNCAPPED);
        share(n, 32, 6);
        for (size_t i = 0; i < n; i++)
            ck_assert_double_eq_tol(d[i].out, want[n - 1], 1e-9);
        ck_assert(total(n) <= 32 + 1e-9);
    }
}
END_TEST

/* A station of 10 A on a 40 A site with two others: it gets 10, they get 15 each; a cap
 * above the equal share (16 > 13.3) changes nothing. */
START_TEST(a_cap_below_the_share_leaves_the_rest)
{
    caps(3, UNCAPPED);
    d[1].cap = 10;
    share(3, 40, 6);
    ck_assert_double_eq_tol(d[0].out, 15, 1e-9);
    ck_assert_double_eq_tol(d[1].out, 10, 1e-9);
    ck_assert_double_eq_tol(d[2].out, 15, 1e-9);
    d[1].cap = 16;
    share(3, 40, 6);
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq_tol(d[i].out, 13.3, 1e-9);
}
END_TEST

/* An EV drawing 5 A (cap 6) among four on 32 A: 6 for it, (32 - 6) / 3 = 8.6 for the others. */
START_TEST(an_ev_that_draws_less_frees_its_surplus)
{
    caps(4, UNCAPPED);
    d[3].cap = 6;
    share(4, 32, 6);
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq_tol(d[i].out, 8.6, 1e-9);
    ck_assert_double_eq_tol(d[3].out, 6, 1e-9);
}
END_TEST

/* Six on 32 A with a 6 A minimum: 5.33 each is too little, so the newest waits: five at 6.4. */
START_TEST(below_the_minimum_the_newest_wait)
{
    caps(6, UNCAPPED);
    share(6, 32, 6);
    for (int i = 0; i < 5; i++)
        ck_assert_double_eq_tol(d[i].out, 6.4, 1e-9);
    ck_assert_double_eq_tol(d[5].out, 0, 1e-9);
    /* 16 A, four sessions, minimum 6: two at 8, the two newest paused */
    caps(4, UNCAPPED);
    share(4, 16, 6);
    ck_assert_double_eq_tol(d[0].out, 8, 1e-9);
    ck_assert_double_eq_tol(d[1].out, 8, 1e-9);
    ck_assert_double_eq_tol(d[2].out, 0, 1e-9);
    ck_assert_double_eq_tol(d[3].out, 0, 1e-9);
}
END_TEST

/* Less than one minimum available (a station counted at its maximum took it): everyone waits. */
START_TEST(nothing_left_pauses_everyone)
{
    caps(3, UNCAPPED);
    share(3, 4, 6);
    ck_assert_double_eq_tol(total(3), 0, 1e-9);
    caps(2, UNCAPPED);
    share(2, -5, 6); /* more counted at maximum than the limit: never a negative share */
    ck_assert_double_eq_tol(total(2), 0, 1e-9);
}
END_TEST

/* Every session capped below its share: each gets its cap, the rest stays unused. */
START_TEST(all_capped_take_only_their_caps)
{
    caps(3, 10);
    share(3, 100, 6);
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq_tol(d[i].out, 10, 1e-9);
    share(0, 100, 6); /* no session: nothing to do */
}
END_TEST

/* The sum never exceeds what is there, whatever the mix (rounding goes down). */
START_TEST(never_more_than_available)
{
    unsigned seed = 7;
    for (int round = 0; round < 2000; round++) {
        size_t n = 1 + (size_t)(rand_r(&seed) % 16);
        double avail = (rand_r(&seed) % 2000) / 10.0;
        for (size_t i = 0; i < n; i++)
            d[i] = (struct load_demand){6 + (rand_r(&seed) % 300) / 10.0, -1};
        share(n, avail, 6);
        ck_assert(total(n) <= avail + 1e-6);
        for (size_t i = 0; i < n; i++) {
            ck_assert(d[i].out == 0 || d[i].out >= 6 - 1e-9 || d[i].out >= d[i].cap - 0.1);
            ck_assert(d[i].out <= d[i].cap + 1e-9);
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("load_alloc");
    TCase *tc = tcase_create("share");
    tcase_add_test(tc, equal_shares_as_sessions_arrive);
    tcase_add_test(tc, a_cap_below_the_share_leaves_the_rest);
    tcase_add_test(tc, an_ev_that_draws_less_frees_its_surplus);
    tcase_add_test(tc, below_the_minimum_the_newest_wait);
    tcase_add_test(tc, nothing_left_pauses_everyone);
    tcase_add_test(tc, all_capped_take_only_their_caps);
    tcase_add_test(tc, never_more_than_available);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
