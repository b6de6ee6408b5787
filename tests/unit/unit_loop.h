/* unit_loop.h — what the unit tests that run a real event loop share: running the loop
 * until a condition holds (bounded, so a broken test fails instead of hanging) and
 * running a suite in one process (the loop, sockets and pools live across its tests). */
#ifndef PIPELET_UNIT_LOOP_H
#define PIPELET_UNIT_LOOP_H

#include <check.h>
#include <event2/event.h>
#include <stdlib.h>

#include "core.h"

static inline void unit_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* Run core_base until done(arg) holds or ms pass; returns done(arg). */
static inline int unit_run_until(int (*done)(void *), void *arg, unsigned ms)
{
    /* a 5 ms tick, so conditions that no event changes (time) are seen too */
    struct event *t = event_new(core_base, -1, EV_PERSIST, unit_tick, NULL);
    struct timeval tv = {0, 5000};
    event_add(t, &tv);
    uint64_t deadline = core_now_ms() + ms;
    int ok;
    while (!(ok = done(arg)) && core_now_ms() < deadline)
        event_base_loop(core_base, EVLOOP_ONCE);
    event_free(t);
    return ok;
}

static inline int unit_flag_set(void *flag)
{
    return *(const int *)flag != 0;
}

/* Until *flag is non-zero. */
static inline int unit_run_until_flag(const int *flag, unsigned ms)
{
    return unit_run_until(unit_flag_set, (void *)flag, ms);
}

/* Just run the loop for ms. */
static inline void unit_run_for(unsigned ms)
{
    int never = 0;
    unit_run_until_flag(&never, ms);
}

/* Run the suite in this process; EXIT_SUCCESS when every test passed. */
static inline int unit_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
