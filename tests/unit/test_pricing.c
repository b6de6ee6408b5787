/*
 * test_pricing.c — the pricing engine's specification: sessions whose costs were worked
 * out by hand (the arithmetic is in the comment above each case), compared to the
 * minor unit for every component, plus the zone cache the time restrictions rely on.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pricing.h"

#define EUR(x) ((int64_t)((x) * 1000000.0 + 0.5)) /* price literal → micro-units (test only) */
#define H 3600

static time_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi};
    return timegm(&tm);
}

static struct pl_price_element *element(struct pl_tariff *t)
{
    struct pl_price_element *e = &t->el[t->nel++];
    pl_price_restrictions_init(&e->r);
    return e;
}

static void comp(struct pl_price_element *e, enum pl_price_type type, int64_t micro, int vat_bp,
                 int step)
{
    e->comp[e->ncomp++] = (struct pl_price_component){type, micro, vat_bp, step};
}

static struct pl_price_result res;

static void price(const struct pl_tariff *t, const struct pl_meter_point *p, size_t n)
{
    const char *err = NULL;
    pl_price_result_free(&res);
    ck_assert_msg(pl_price_session(t, p, n, &res, &err) == 0, "pricing failed: %s", err);
}

/* The component of (element, type) must exist and match to the minor unit. */
static void expect(int el, enum pl_price_type type, int64_t qty, int64_t billed, int64_t excl,
                   int64_t vat, int64_t incl)
{
    for (size_t i = 0; i < res.ncomp; i++) {
        const struct pl_priced_component *c = &res.comp[i];
        if (c->element != el || c->type != type)
            continue;
        ck_assert_int_eq(c->quantity, qty);
        ck_assert_int_eq(c->billed, billed);
        ck_assert_int_eq(c->excl, excl);
        ck_assert_int_eq(c->vat, vat);
        ck_assert_int_eq(c->incl, incl);
        return;
    }
    ck_abort_msg("no component %s of element %d", pl_price_type_name(type), el);
}

static void totals(size_t ncomp, int64_t excl, int64_t incl, enum pl_price_bound bound)
{
    ck_assert_uint_eq(res.ncomp, ncomp);
    ck_assert_int_eq(res.total_excl, excl);
    ck_assert_int_eq(res.total_incl, incl);
    ck_assert_int_eq(res.bound, bound);
}

/* 1. 0.30 EUR/kWh, 12 345 Wh: 12.345 × 0.30 = 3.7035 EUR = 370.35 ct → 370 ct. */
START_TEST(energy_rounds_to_the_cent)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    comp(element(&t), PL_PRICE_ENERGY, EUR(0.30), 0, 0);
    time_t s = utc(2026, 6, 1, 10, 0);
    struct pl_meter_point p[] = {{s, 1000, 11000, 1}, {s + H, 13345, 0, 1}};
    price(&t, p, 2);
    expect(0, PL_PRICE_ENERGY, 12345, 12345, 370, 0, 370);
    totals(1, 370, 370, PL_PRICE_UNBOUNDED);
    ck_assert_int_eq(res.energy_wh, 12345);
    ck_assert_int_eq(res.charging_s, H);
}
END_TEST

/* 2. Half-up: 12 350 Wh × 0.30 = 3.705 EUR = 370.5 ct → 371 ct. */
START_TEST(half_a_cent_rounds_up)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    comp(element(&t), PL_PRICE_ENERGY, EUR(0.30), 0, 0);
    time_t s = utc(2026, 6, 1, 10, 0);
    struct pl_meter_point p[] = {{s, 0, 11000, 1}, {s + H, 12350, 0, 1}};
    price(&t, p, 2);
    expect(0, PL_PRICE_ENERGY, 12350, 12350, 371, 0, 371);
    totals(1, 371, 371, PL_PRICE_UNBOUNDED);
}
END_TEST

/* 3. Energy step 1 kWh: 12 001 Wh (over two meter periods, 6 000 + 6 001) is billed as
 *    13 000 Wh × 0.25 = 3.25 EUR = 325 ct: the step applies to the sum, once. */
START_TEST(energy_step_size_applies_to_the_sum)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    comp(element(&t), PL_PRICE_ENERGY, EUR(0.25), 0, 1000);
    time_t s = utc(2026, 6, 1, 10, 0);
    struct pl_meter_point p[] = {{s, 0, 11000, 1}, {s + H, 6000, 11000, 1},
                                 {s + 2 * H, 12001, 0, 1}};
    price(&t, p, 3);
    expect(0, PL_PRICE_ENERGY, 12001, 13000, 325, 0, 325);
    totals(1, 325, 325, PL_PRICE_UNBOUNDED);
}
END_TEST

/* 4. Time 2.00 EUR/h, step 15 min: 50 min = 3 000 s → 3 600 s billed → 2.00 EUR = 200 ct. */
START_TEST(time_step_size_rounds_up_to_a_quarter)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    comp(element(&t), PL_PRICE_TIME, EUR(2.00), 0, 900);
    time_t s = utc(2026, 6, 1, 10, 0);
    struct pl_meter_point p[] = {{s, 0, 7000, 1}, {s + 3000, 5000, 0, 1}};
    price(&t, p, 2);
    expect(0, PL_PRICE_TIME, 3000, 3600, 200, 0, 200);
    totals(1, 200, 200, PL_PRICE_UNBOUNDED);
}
END_TEST

/* 5. VAT 19 % on energy and on a flat fee: 10 kWh × 0.30 = 300 ct, VAT 57 ct, 357 ct;
 *    flat 1.00 = 100 ct, VAT 19 ct, 119 ct. Totals 400 ct excl., 476 ct incl. */
START_TEST(vat_per_component_and_flat_fee)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    struct pl_price_element *e = element(&t);
    comp(e, PL_PRICE_ENERGY, EUR(0.30), 1900, 0);
    comp(e, PL_PRICE_FLAT, EUR(1.00), 1900, 0);
    time_t s = utc(2026, 6, 1, 10, 0);
    struct pl_meter_point p[] = {{s, 0, 11000, 1}, {s + H, 10000, 0, 1}};
    price(&t, p, 2);
    expect(0, PL_PRICE_ENERGY, 10000, 10000, 300, 57, 357);
    expect(0, PL_PRICE_FLAT, 1, 1, 100, 19, 119);
    totals(2, 400, 476, PL_PRICE_UNBOUNDED);
}
END_TEST

/* 6. USD, VAT 7 % rounded per component: energy 1 kWh × 0.35 = 35 ¢, VAT 2.45 → 2 ¢,
 *    37 ¢; time 30 min × 0.70/h = 35 ¢, VAT 2 ¢, 37 ¢. Total incl. 74 ¢ — not
 *    70 × 1.07 = 74.9 → 75: the total is the sum of rounded components. */
START_TEST(vat_is_rounded_per_component_not_on_the_total)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "USD", 2);
    struct pl_price_element *e = element(&t);
    comp(e, PL_PRICE_ENERGY, EUR(0.35), 700, 0);
    comp(e, PL_PRICE_TIME, EUR(0.70), 700, 0);
    time_t s = utc(2026, 6, 1, 10, 0);
    struct pl_meter_point p[] = {{s, 0, 2000, 1}, {s + 1800, 1000, 0, 1}};
    price(&t, p, 2);
    expect(0, PL_PRICE_ENERGY, 1000, 1000, 35, 2, 37);
    expect(0, PL_PRICE_TIME, 1800, 1800, 35, 2, 37);
    totals(2, 70, 74, PL_PRICE_UNBOUNDED);
}
END_TEST

/* 7. Time-of-day change inside one meter period (UTC): 0.40/kWh from 08:00 to 20:00,
 *    0.20 otherwise; 19:00 → 21:00 with 20 kWh drawn evenly. Cut at 20:00: 10 kWh at
 *    0.40 = 400 ct (element 0) and 10 kWh at 0.20 = 200 ct (element 1); 600 ct. */
START_TEST(time_of_day_change_inside_a_meter_period)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    struct pl_price_element *day = element(&t);
    comp(day, PL_PRICE_ENERGY, EUR(0.40), 0, 0);
    day->r.start_min = 8 * 60;
    day->r.end_min = 20 * 60;
    comp(element(&t), PL_PRICE_ENERGY, EUR(0.20), 0, 0);
    time_t s = utc(2026, 6, 1, 19, 0);
    struct pl_meter_point p[] = {{s, 0, 10000, 1}, {s + 2 * H, 20000, 0, 1}};
    price(&t, p, 2);
    expect(0, PL_PRICE_ENERGY, 10000, 10000, 400, 0, 400);
    expect(1, PL_PRICE_ENERGY, 10000, 10000, 200, 0, 200);
    totals(2, 600, 600, PL_PRICE_UNBOUNDED);
    ck_assert_uint_eq(res.nperiods, 2);
    ck_assert_int_eq(res.periods[0].end, s + H);
    ck_assert_int_eq(res.periods[0].element[PL_PRICE_ENERGY], 0);
    ck_assert_int_eq(res.periods[1].element[PL_PRICE_ENERGY], 1);
}
END_TEST

/* 8. Parking after the EV stops drawing power: 0.30/kWh, 1.00/h charging, 3.00/h parked.
 *    10:00-11:30 charging 15 kWh: 450 ct + 1.5 h × 1.00 = 150 ct; 11:30-12:10 parked
 *    2 400 s: 2400/3600 × 3.00 = 2.00 EUR = 200 ct. Total 800 ct. */
START_TEST(parking_after_charging_stops)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    struct pl_price_element *e = element(&t);
    comp(e, PL_PRICE_ENERGY, EUR(0.30), 0, 0);
    comp(e, PL_PRICE_TIME, EUR(1.00), 0, 0);
    comp(e, PL_PRICE_PARKING, EUR(3.00), 0, 0);
    time_t s = utc(2026, 6, 1, 10, 0);
    struct pl_meter_point p[] = {{s, 0, 10000, 1}, {s + 5400, 15000, 0, 0},
                                 {s + 7800, 15000, 0, 0}};
    price(&t, p, 3);
    expect(0, PL_PRICE_ENERGY, 15000, 15000, 450, 0, 450);
    expect(0, PL_PRICE_TIME, 5400, 5400, 150, 0, 150);
    expect(0, PL_PRICE_PARKING, 2400, 2400, 200, 0, 200);
    totals(3, 800, 800, PL_PRICE_UNBOUNDED);
    ck_assert_int_eq(res.charging_s, 5400);
    ck_assert_int_eq(res.parking_s, 2400);
    ck_assert_int_eq(res.periods[1].element[PL_PRICE_TIME], -1);
    ck_assert_int_eq(res.periods[1].element[PL_PRICE_PARKING], 0);
}
END_TEST

/* 9. Minimum price: 2 kWh × 0.30 = 60 ct < min 2.00 EUR (2.38 incl.): owes 200 / 238. */
START_TEST(minimum_price_replaces_a_smaller_total)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    comp(element(&t), PL_PRICE_ENERGY, EUR(0.30), 1900, 0);
    t.has_min = 1;
    t.min_excl = 200;
    t.min_incl = 238;
    time_t s = utc(2026, 6, 1, 10, 0);
    struct pl_meter_point p[] = {{s, 0, 2000, 1}, {s + H, 2000, 0, 1}};
    price(&t, p, 2);
    expect(0, PL_PRICE_ENERGY, 2000, 2000, 60, 11, 71); /* VAT 11.4 → 11 */
    totals(1, 200, 238, PL_PRICE_MIN_APPLIED);
    ck_assert_int_eq(res.components_excl, 60);
    ck_assert_int_eq(res.components_incl, 71);
}
END_TEST

/* 10. Maximum price: 50 kWh × 0.30 = 1 500 ct > max 10.00 EUR (11.90 incl.): 1000 / 1190. */
START_TEST(maximum_price_caps_a_larger_total)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    comp(element(&t), PL_PRICE_ENERGY, EUR(0.30), 0, 0);
    t.has_max = 1;
    t.max_excl = 1000;
    t.max_incl = 1190;
    time_t s = utc(2026, 6, 1, 10, 0);
    struct pl_meter_point p[] = {{s, 0, 50000, 1}, {s + H, 50000, 0, 1}};
    price(&t, p, 2);
    expect(0, PL_PRICE_ENERGY, 50000, 50000, 1500, 0, 1500);
    totals(1, 1000, 1190, PL_PRICE_MAX_APPLIED);
}
END_TEST

/* 11. Across midnight into the weekend (UTC): 0.50/kWh Saturday and Sunday, else 0.30.
 *     Friday 2026-12-04 23:00 → Saturday 01:00, 20 kWh evenly: cut at midnight;
 *     10 kWh × 0.30 = 300 ct (element 1), 10 kWh × 0.50 = 500 ct (element 0). */
START_TEST(across_midnight_into_the_weekend)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    struct pl_price_element *we = element(&t);
    comp(we, PL_PRICE_ENERGY, EUR(0.50), 0, 0);
    we->r.day_mask = (1u << 5) | (1u << 6);
    comp(element(&t), PL_PRICE_ENERGY, EUR(0.30), 0, 0);
    time_t s = utc(2026, 12, 4, 23, 0);
    struct pl_meter_point p[] = {{s, 0, 10000, 1}, {s + 2 * H, 20000, 0, 1}};
    price(&t, p, 2);
    expect(0, PL_PRICE_ENERGY, 10000, 10000, 500, 0, 500);
    expect(1, PL_PRICE_ENERGY, 10000, 10000, 300, 0, 300);
    totals(2, 800, 800, PL_PRICE_UNBOUNDED);
}
END_TEST

/* 12. Night rate 22:00-06:00 Berlin time (crossing midnight), 0.20 vs 0.40, in winter
 *     (CET = UTC+1). 2026-12-03 20:00 UTC (21:00 local) → 12-04 06:00 UTC (07:00 local),
 *     3 kWh an hour. Local 21-22 day: 3 kWh; 22-06 night: 8 h = 24 kWh; 06-07 day: 3 kWh.
 *     Night 24 kWh × 0.20 = 480 ct; day 6 kWh × 0.40 = 240 ct; 720 ct. */
START_TEST(night_rate_across_midnight_in_a_zone)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    t.tz = pl_tz_get("Europe/Berlin");
    ck_assert_ptr_nonnull(t.tz);
    struct pl_price_element *night = element(&t);
    comp(night, PL_PRICE_ENERGY, EUR(0.20), 0, 0);
    night->r.start_min = 22 * 60;
    night->r.end_min = 6 * 60;
    comp(element(&t), PL_PRICE_ENERGY, EUR(0.40), 0, 0);
    time_t s = utc(2026, 12, 3, 20, 0);
    struct pl_meter_point p[] = {{s, 0, 3000, 1}, {s + 10 * H, 30000, 0, 1}};
    price(&t, p, 2);
    expect(0, PL_PRICE_ENERGY, 24000, 24000, 480, 0, 480);
    expect(1, PL_PRICE_ENERGY, 6000, 6000, 240, 0, 240);
    totals(2, 720, 720, PL_PRICE_UNBOUNDED);
}
END_TEST

/* 13. Spring DST (Berlin, 2026-03-29 01:00 UTC: CET → CEST). Night 00:00-06:00 local at
 *     0.20, else 0.40. 03:00 → 06:00 UTC = 05:00 → 08:00 CEST, 3 kWh an hour: night ends
 *     at 04:00 UTC: 3 kWh × 0.20 = 60 ct; 6 kWh × 0.40 = 240 ct; 300 ct. (With the winter
 *     offset the night would last until 05:00 UTC and cost 120 + 120.) */
START_TEST(spring_dst_moves_the_local_boundary)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    t.tz = pl_tz_get("Europe/Berlin");
    struct pl_price_element *night = element(&t);
    comp(night, PL_PRICE_ENERGY, EUR(0.20), 0, 0);
    night->r.start_min = 0;
    night->r.end_min = 6 * 60;
    comp(element(&t), PL_PRICE_ENERGY, EUR(0.40), 0, 0);
    time_t s = utc(2026, 3, 29, 3, 0);
    struct pl_meter_point p[] = {{s, 0, 3000, 1}, {s + 3 * H, 9000, 0, 1}};
    price(&t, p, 2);
    expect(0, PL_PRICE_ENERGY, 3000, 3000, 60, 0, 60);
    expect(1, PL_PRICE_ENERGY, 6000, 6000, 240, 0, 240);
    totals(2, 300, 300, PL_PRICE_UNBOUNDED);
}
END_TEST

/* 14. Autumn DST (Berlin, 2026-10-25 01:00 UTC: 03:00 CEST → 02:00 CET): the local hour
 *     02:00-03:00 happens twice. Time 6.00/h in 02:00-03:00 local, 1.00/h otherwise.
 *     00:00 → 02:00 UTC is 02:00-03:00 CEST then 02:00-03:00 CET: 2 h × 6.00 = 1 200 ct. */
START_TEST(autumn_dst_repeats_the_local_hour)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    t.tz = pl_tz_get("Europe/Berlin");
    struct pl_price_element *peak = element(&t);
    comp(peak, PL_PRICE_TIME, EUR(6.00), 0, 0);
    peak->r.start_min = 2 * 60;
    peak->r.end_min = 3 * 60;
    comp(element(&t), PL_PRICE_TIME, EUR(1.00), 0, 0);
    time_t s = utc(2026, 10, 25, 0, 0);
    struct pl_meter_point p[] = {{s, 0, 7000, 1}, {s + 2 * H, 14000, 0, 1}};
    price(&t, p, 2);
    expect(0, PL_PRICE_TIME, 7200, 7200, 1200, 0, 1200);
    totals(1, 1200, 1200, PL_PRICE_UNBOUNDED);
}
END_TEST

/* 15. JPY has no minor unit: 35 JPY/kWh, VAT 10 %, 12 345 Wh: 432.075 → 432 JPY, VAT
 *     43.2 → 43, 475 JPY. */
START_TEST(yen_without_minor_unit)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "JPY", 0);
    comp(element(&t), PL_PRICE_ENERGY, EUR(35), 1000, 0);
    time_t s = utc(2026, 6, 1, 10, 0);
    struct pl_meter_point p[] = {{s, 0, 12000, 1}, {s + H, 12345, 0, 1}};
    price(&t, p, 2);
    expect(0, PL_PRICE_ENERGY, 12345, 12345, 432, 43, 475);
    totals(1, 432, 475, PL_PRICE_UNBOUNDED);
}
END_TEST

/* 16. KWD has three decimals: 0.0125 KWD/kWh × 7.777 kWh = 0.0972125 KWD = 97.2 fils →
 *     97; flat 0.500 KWD = 500 fils; 597 fils. */
START_TEST(dinar_with_three_decimals)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "KWD", 3);
    struct pl_price_element *e = element(&t);
    comp(e, PL_PRICE_ENERGY, 12500, 0, 0);
    comp(e, PL_PRICE_FLAT, EUR(0.5), 0, 0);
    time_t s = utc(2026, 6, 1, 10, 0);
    struct pl_meter_point p[] = {{s, 0, 8000, 1}, {s + H, 7777, 0, 1}};
    price(&t, p, 2);
    expect(0, PL_PRICE_ENERGY, 7777, 7777, 97, 0, 97);
    expect(0, PL_PRICE_FLAT, 1, 1, 500, 0, 500);
    totals(2, 597, 597, PL_PRICE_UNBOUNDED);
}
END_TEST

/* 17. Energy tiers: 0.40 for the first 10 kWh (max_kwh exclusive), 0.25 after. Meter
 *     periods 0 → 10 kWh, 10 → 25 kWh: 10 × 0.40 = 400 ct; 15 × 0.25 = 375 ct; 775 ct. */
START_TEST(energy_tiers_by_energy_used_so_far)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    struct pl_price_element *first = element(&t);
    comp(first, PL_PRICE_ENERGY, EUR(0.40), 0, 0);
    first->r.max_wh = 10000;
    comp(element(&t), PL_PRICE_ENERGY, EUR(0.25), 0, 0);
    time_t s = utc(2026, 6, 1, 10, 0);
    struct pl_meter_point p[] = {{s, 0, 10000, 1}, {s + H, 10000, 15000, 1},
                                 {s + 2 * H, 25000, 0, 1}};
    price(&t, p, 3);
    expect(0, PL_PRICE_ENERGY, 10000, 10000, 400, 0, 400);
    expect(1, PL_PRICE_ENERGY, 15000, 15000, 375, 0, 375);
    totals(2, 775, 775, PL_PRICE_UNBOUNDED);
}
END_TEST

/* 18. Power: 0.60/kWh at 50 kW or more, 0.40 below. 20 kWh at 100 kW = 1 200 ct, then
 *     5 kWh at 11 kW = 200 ct; 1 400 ct. */
START_TEST(power_selects_the_fast_rate)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    struct pl_price_element *fast = element(&t);
    comp(fast, PL_PRICE_ENERGY, EUR(0.60), 0, 0);
    fast->r.min_w = 50000;
    comp(element(&t), PL_PRICE_ENERGY, EUR(0.40), 0, 0);
    time_t s = utc(2026, 6, 1, 10, 0);
    struct pl_meter_point p[] = {{s, 0, 100000, 1}, {s + 720, 20000, 11000, 1},
                                 {s + 720 + 1636, 25000, 0, 1}};
    price(&t, p, 3);
    expect(0, PL_PRICE_ENERGY, 20000, 20000, 1200, 0, 1200);
    expect(1, PL_PRICE_ENERGY, 5000, 5000, 200, 0, 200);
    totals(2, 1400, 1400, PL_PRICE_UNBOUNDED);
}
END_TEST

/* 19. Duration: a 6.00/h time fee only from the second hour on (min_duration 2 h), meter
 *     points hourly over 3 h: periods start at 0, 1 h, 2 h; only the last counts: 600 ct. */
START_TEST(time_fee_after_a_minimum_duration)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    struct pl_price_element *late = element(&t);
    comp(late, PL_PRICE_TIME, EUR(6.00), 0, 0);
    late->r.min_s = 2 * H;
    time_t s = utc(2026, 6, 1, 10, 0);
    struct pl_meter_point p[] = {{s, 0, 1000, 1}, {s + H, 1000, 1000, 1},
                                 {s + 2 * H, 2000, 1000, 1}, {s + 3 * H, 3000, 0, 1}};
    price(&t, p, 4);
    expect(0, PL_PRICE_TIME, H, H, 600, 0, 600);
    totals(1, 600, 600, PL_PRICE_UNBOUNDED);
}
END_TEST

/* 20. Date range: a promotion 0.10/kWh valid 2026-06-01..2026-06-02 (end exclusive), else
 *     0.30. 2026-06-01 23:00 → 06-02 01:00 UTC, 4 kWh evenly: 2 × 0.10 = 20 ct, 2 × 0.30
 *     = 60 ct; 80 ct. No element matching nothing: an empty tariff prices 0. */
START_TEST(date_range_and_no_matching_element)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    struct pl_price_element *promo = element(&t);
    comp(promo, PL_PRICE_ENERGY, EUR(0.10), 0, 0);
    promo->r.start_date = 20260601;
    promo->r.end_date = 20260602;
    comp(element(&t), PL_PRICE_ENERGY, EUR(0.30), 0, 0);
    time_t s = utc(2026, 6, 1, 23, 0);
    struct pl_meter_point p[] = {{s, 0, 2000, 1}, {s + 2 * H, 4000, 0, 1}};
    price(&t, p, 2);
    expect(0, PL_PRICE_ENERGY, 2000, 2000, 20, 0, 20);
    expect(1, PL_PRICE_ENERGY, 2000, 2000, 60, 0, 60);
    totals(2, 80, 80, PL_PRICE_UNBOUNDED);

    struct pl_tariff none;
    pl_tariff_init(&none, "EUR", 2);
    price(&none, p, 2);
    totals(0, 0, 0, PL_PRICE_UNBOUNDED);
}
END_TEST

START_TEST(malformed_sessions_are_refused)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    comp(element(&t), PL_PRICE_ENERGY, EUR(0.30), 0, 0);
    struct pl_meter_point back[] = {{1000, 0, 0, 1}, {900, 10, 0, 1}};
    struct pl_meter_point down[] = {{1000, 50, 0, 1}, {2000, 10, 0, 1}};
    struct pl_price_result r;
    const char *err = NULL;
    ck_assert_int_eq(pl_price_session(&t, back, 1, &r, &err), -1);
    ck_assert_int_eq(pl_price_session(&t, back, 2, &r, &err), -1);
    ck_assert_str_eq(err, "meter points go back in time");
    pl_price_result_free(&r);
    ck_assert_int_eq(pl_price_session(&t, down, 2, &r, &err), -1);
    ck_assert_str_eq(err, "energy register goes down");
    pl_price_result_free(&r);
}
END_TEST

START_TEST(zone_cache_offsets_and_names)
{
    const struct pl_tz *z = pl_tz_get("Europe/Berlin");
    ck_assert_ptr_nonnull(z);
    ck_assert_ptr_eq(pl_tz_get("Europe/Berlin"), z); /* loaded once */
    ck_assert_int_eq(pl_tz_offset(z, utc(2026, 1, 15, 12, 0)), 3600);
    ck_assert_int_eq(pl_tz_offset(z, utc(2026, 7, 15, 12, 0)), 7200);
    ck_assert_int_eq(pl_tz_offset(z, utc(2026, 3, 29, 0, 59) + 59), 3600);
    ck_assert_int_eq(pl_tz_offset(z, utc(2026, 3, 29, 1, 0)), 7200);
    ck_assert_int_eq(pl_tz_next_change(z, utc(2026, 3, 1, 0, 0)), utc(2026, 3, 29, 1, 0));
    ck_assert_ptr_null(pl_tz_get("Mars/Olympus_Mons"));
    ck_assert_ptr_null(pl_tz_get("../../etc/passwd"));
    ck_assert_ptr_null(pl_tz_get("Europe/Berlin;rm"));
    ck_assert_int_eq(pl_tz_offset(NULL, 12345), 0);
    ck_assert_int_eq(pl_div_round_half_up(5, 10), 1);
    ck_assert_int_eq(pl_div_round_half_up(4, 10), 0);
    ck_assert_int_eq(pl_price_type_parse("PARKING_TIME"), PL_PRICE_PARKING);
    ck_assert_int_eq(pl_price_type_parse("RESERVATION"), -1);
}
END_TEST

/* The stored definition: the night tariff of case 12, written as JSON, with VAT 19 % and a
 * minimum price, prices the same session: night 24 kWh × 0.20 = 480 ct, VAT 91.2 → 91,
 * 571; day 6 kWh × 0.40 = 240 ct, VAT 45.6 → 46, 286; totals 720 / 857 (above the
 * 5.00 / 5.95 minimum). */
START_TEST(json_definition_prices_like_the_struct)
{
    json_error_t je;
    json_t *def = json_loads(
        "{\"currency\":\"EUR\",\"time_zone\":\"Europe/Berlin\",\"elements\":["
        "{\"price_components\":[{\"type\":\"ENERGY\",\"price\":\"0.20\",\"vat\":\"19\"}],"
        " \"restrictions\":{\"start_time\":\"22:00\",\"end_time\":\"06:00\"}},"
        "{\"price_components\":[{\"type\":\"ENERGY\",\"price\":\"0.4\",\"vat\":\"19.00\","
        "\"step_size\":1}]}],"
        "\"min_price\":{\"excl_vat\":\"5.00\",\"incl_vat\":\"5.95\"}}",
        0, &je);
    ck_assert_ptr_nonnull(def);
    struct pl_tariff t;
    char err[128] = "";
    ck_assert_msg(pl_tariff_from_json(def, &t, err, sizeof err) == 0, "%s", err);
    json_decref(def);
    ck_assert_int_eq(t.el[0].comp[0].price_micro, 200000);
    ck_assert_int_eq(t.el[0].comp[0].vat_bp, 1900);
    ck_assert_int_eq(t.min_excl, 500);
    time_t s = utc(2026, 12, 3, 20, 0);
    struct pl_meter_point p[] = {{s, 0, 3000, 1}, {s + 10 * H, 30000, 0, 1}};
    price(&t, p, 2);
    expect(0, PL_PRICE_ENERGY, 24000, 24000, 480, 91, 571);
    expect(1, PL_PRICE_ENERGY, 6000, 6000, 240, 46, 286);
    totals(2, 720, 857, PL_PRICE_UNBOUNDED);
}
END_TEST

static void refused(const char *text, const char *field)
{
    json_error_t je;
    json_t *def = json_loads(text, 0, &je);
    ck_assert_msg(def != NULL, "bad test JSON: %s", je.text);
    struct pl_tariff t;
    char err[128] = "";
    ck_assert_int_eq(pl_tariff_from_json(def, &t, err, sizeof err), -1);
    ck_assert_msg(strstr(err, field) != NULL, "'%s' does not name %s", err, field);
    json_decref(def);
}

#define EL "\"elements\":[{\"price_components\":[{\"type\":\"FLAT\",\"price\":\"1\"}]}]"
START_TEST(json_definitions_refused_with_the_field_named)
{
    refused("{\"currency\":\"eur\"," EL "}", "currency");
    refused("{\"currency\":\"EUR\",\"time_zone\":\"Nowhere/City\"," EL "}", "time_zone");
    refused("{\"currency\":\"EUR\",\"elements\":[]}", "elements");
    refused("{\"currency\":\"EUR\",\"elements\":[{\"price_components\":[{\"type\":\"ENERGY\","
            "\"price\":0.30}]}]}", "price"); /* a float is refused */
    refused("{\"currency\":\"EUR\",\"elements\":[{\"price_components\":[{\"type\":\"ENERGY\","
            "\"price\":\"0.1234567\"}]}]}", "price");
    refused("{\"currency\":\"EUR\",\"elements\":[{\"price_components\":[{\"type\":\"RESERVATION\","
            "\"price\":\"1\"}]}]}", "type");
    refused("{\"currency\":\"EUR\",\"elements\":[{\"price_components\":[{\"type\":\"FLAT\","
            "\"price\":\"1\"}],\"restrictions\":{\"start_time\":\"25:00\"}}]}", "start_time");
    refused("{\"currency\":\"EUR\",\"elements\":[{\"price_components\":[{\"type\":\"FLAT\","
            "\"price\":\"1\"}],\"restrictions\":{\"day_of_week\":[\"FUNDAY\"]}}]}", "day_of_week");
    refused("{\"currency\":\"EUR\"," EL ",\"min_price\":{\"excl_vat\":\"9\",\"incl_vat\":\"9\"},"
            "\"max_price\":{\"excl_vat\":\"5\",\"incl_vat\":\"6\"}}", "min_price");
    /* JPY has no minor unit: a price bound with decimals is refused, whole yen accepted. */
    refused("{\"currency\":\"JPY\"," EL ",\"min_price\":{\"excl_vat\":\"1.5\",\"incl_vat\":\"2\"}}",
            "min_price");
    /* the driver's text (OCPI DisplayText): ISO 639-1 language, 1 to 512 characters */
    refused("{\"currency\":\"EUR\"," EL ",\"tariff_alt_text\":[{\"language\":\"eng\",\"text\":\"x\"}]}",
            "tariff_alt_text");
    refused("{\"currency\":\"EUR\"," EL ",\"tariff_alt_text\":[{\"language\":\"en\",\"text\":\"\"}]}",
            "tariff_alt_text");
    refused("{\"currency\":\"EUR\"," EL ",\"tariff_alt_text\":{\"language\":\"en\"}}", "tariff_alt_text");
    {
        json_t *def = json_pack("{s:s, s:[{s:[{s:s, s:s}]}], s:[{s:s, s:s}]}", "currency", "EUR",
                                "elements", "price_components", "type", "FLAT", "price", "1",
                                "tariff_alt_text", "language", "en", "text", "1 EUR per session");
        struct pl_tariff t;
        char err[128] = "";
        ck_assert_msg(pl_tariff_from_json(def, &t, err, sizeof err) == 0, "%s", err);
        json_decref(def);
    }
    ck_assert_int_eq(pl_currency_exponent("JPY"), 0);
    ck_assert_int_eq(pl_currency_exponent("KWD"), 3);
    ck_assert_int_eq(pl_currency_exponent("CHF"), 2);
}
END_TEST

/* The JSON of case 8 (parking): amounts as decimal strings in the currency's digits. */
START_TEST(result_json_amounts_are_decimal_strings)
{
    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    struct pl_price_element *e = element(&t);
    comp(e, PL_PRICE_ENERGY, EUR(0.30), 1900, 0);
    comp(e, PL_PRICE_PARKING, EUR(3.00), 1900, 0);
    t.has_min = 1;
    t.min_excl = 1000;
    t.min_incl = 1190;
    time_t s = utc(2026, 6, 1, 10, 0);
    struct pl_meter_point p[] = {{s, 0, 10000, 1}, {s + 5400, 15000, 0, 0},
                                 {s + 7800, 15000, 0, 0}};
    price(&t, p, 3);
    json_t *j = pl_price_result_json(&t, &res);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    /* energy 450 ct, VAT 85.5 → 86, 536; parking 200 ct, VAT 38, 238; 650 / 774 < min */
    ck_assert_str_eq(text,
        "{\"bound\":\"min_price\",\"charging_seconds\":5400,"
        "\"components\":[{\"billed\":15000,\"element\":0,\"excl_vat\":\"4.50\","
        "\"incl_vat\":\"5.36\",\"quantity\":15000,\"type\":\"ENERGY\",\"unit\":\"Wh\","
        "\"vat\":\"0.86\",\"vat_rate\":\"19.00\"},{\"billed\":2400,\"element\":0,"
        "\"excl_vat\":\"2.00\",\"incl_vat\":\"2.38\",\"quantity\":2400,"
        "\"type\":\"PARKING_TIME\",\"unit\":\"s\",\"vat\":\"0.38\",\"vat_rate\":\"19.00\"}],"
        "\"components_total\":{\"excl_vat\":\"6.50\",\"incl_vat\":\"7.74\"},"
        "\"currency\":\"EUR\",\"energy_wh\":15000,\"parking_seconds\":2400,"
        "\"periods\":[{\"charging\":true,\"elements\":{\"ENERGY\":0},"
        "\"end\":\"2026-06-01T11:30:00Z\",\"energy_wh\":15000,"
        "\"start\":\"2026-06-01T10:00:00Z\"},{\"charging\":false,"
        "\"elements\":{\"ENERGY\":0,\"PARKING_TIME\":0},\"end\":\"2026-06-01T12:10:00Z\","
        "\"energy_wh\":0,\"start\":\"2026-06-01T11:30:00Z\"}],"
        "\"total\":{\"excl_vat\":\"10.00\",\"incl_vat\":\"11.90\"}}");
    free(text);
    json_decref(j);
    char buf[32];
    pl_money_format(432, 0, buf, sizeof buf);
    ck_assert_str_eq(buf, "432");
    pl_money_format(97, 3, buf, sizeof buf);
    ck_assert_str_eq(buf, "0.097");
    pl_money_format(5, 2, buf, sizeof buf);
    ck_assert_str_eq(buf, "0.05");
}
END_TEST

/* Readings to points: 10:00 register 1 000 Wh; 10:30 power 22 kW alone (lent to 10:00);
 * 11:00 register 12 000 Wh and 0 W at the same instant (merged); 11:40 12 000 Wh (no
 * rise: parking). Then priced with case 8's tariff: 11 kWh × 0.30 = 330 ct, 1 h × 1.00 =
 * 100 ct, 40 min × 3.00/h = 200 ct; 630 ct. */
START_TEST(readings_become_charging_and_parking_points)
{
    time_t s = utc(2026, 6, 1, 10, 0);
    struct pl_meter_sample in[] = {{s, 1000, 0, 1, 0}, {s + 1800, 0, 22000, 0, 1},
                                   {s + H, 12000, 0, 1, 0}, {s + H, 0, 0, 0, 1},
                                   {s + H + 2400, 12000, 0, 1, 0}};
    struct pl_meter_point p[5];
    ck_assert_uint_eq(pl_meter_points_build(in, 5, p), 3);
    ck_assert_int_eq(p[0].w, 22000);
    ck_assert_int_eq(p[0].charging, 1);
    ck_assert_int_eq(p[1].w, 0);
    ck_assert_int_eq(p[1].charging, 0);
    struct pl_meter_sample avg[] = {{s, 0, 0, 1, 0}, {s + 1800, 5500, 0, 1, 0}};
    struct pl_meter_point q[2];
    ck_assert_uint_eq(pl_meter_points_build(avg, 2, q), 2);
    ck_assert_int_eq(q[0].w, 11000); /* 5.5 kWh in half an hour */

    struct pl_tariff t;
    pl_tariff_init(&t, "EUR", 2);
    struct pl_price_element *e = element(&t);
    comp(e, PL_PRICE_ENERGY, EUR(0.30), 0, 0);
    comp(e, PL_PRICE_TIME, EUR(1.00), 0, 0);
    comp(e, PL_PRICE_PARKING, EUR(3.00), 0, 0);
    price(&t, p, 3);
    expect(0, PL_PRICE_ENERGY, 11000, 11000, 330, 0, 330);
    expect(0, PL_PRICE_TIME, H, H, 100, 0, 100);
    expect(0, PL_PRICE_PARKING, 2400, 2400, 200, 0, 200);
    totals(3, 630, 630, PL_PRICE_UNBOUNDED);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pricing");
    TCase *tc = tcase_create("pricing");
    tcase_add_test(tc, energy_rounds_to_the_cent);
    tcase_add_test(tc, half_a_cent_rounds_up);
    tcase_add_test(tc, energy_step_size_applies_to_the_sum);
    tcase_add_test(tc, time_step_size_rounds_up_to_a_quarter);
    tcase_add_test(tc, vat_per_component_and_flat_fee);
    tcase_add_test(tc, vat_is_rounded_per_component_not_on_the_total);
    tcase_add_test(tc, time_of_day_change_inside_a_meter_period);
    tcase_add_test(tc, parking_after_charging_stops);
    tcase_add_test(tc, minimum_price_replaces_a_smaller_total);
    tcase_add_test(tc, maximum_price_caps_a_larger_total);
    tcase_add_test(tc, across_midnight_into_the_weekend);
    tcase_add_test(tc, night_rate_across_midnight_in_a_zone);
    tcase_add_test(tc, spring_dst_moves_the_local_boundary);
    tcase_add_test(tc, autumn_dst_repeats_the_local_hour);
    tcase_add_test(tc, yen_without_minor_unit);
    tcase_add_test(tc, dinar_with_three_decimals);
    tcase_add_test(tc, energy_tiers_by_energy_used_so_far);
    tcase_add_test(tc, power_selects_the_fast_rate);
    tcase_add_test(tc, time_fee_after_a_minimum_duration);
    tcase_add_test(tc, date_range_and_no_matching_element);
    tcase_add_test(tc, malformed_sessions_are_refused);
    tcase_add_test(tc, zone_cache_offsets_and_names);
    tcase_add_test(tc, json_definition_prices_like_the_struct);
    tcase_add_test(tc, json_definitions_refused_with_the_field_named);
    tcase_add_test(tc, result_json_amounts_are_decimal_strings);
    tcase_add_test(tc, readings_become_charging_and_parking_points);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK); /* the zone cache is shared between cases */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    pl_price_result_free(&res);
    pl_tz_cache_free();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
