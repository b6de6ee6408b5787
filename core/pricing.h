/*
 * pricing.h — the pricing engine: a tariff (modelled on the OCPI 2.2.1 tariff) applied
 * to a session given as metered periods. Pure: no I/O, no loop, no globals besides the
 * per-zone offset cache (pl_tz_*), so every rule below is unit-tested by hand-made cases.
 *
 * Money is never a float. Amounts are int64 minor units of the tariff's currency
 * (cents for EUR, yen for JPY, fils for KWD: `exponent` says how many). Prices per
 * unit are int64 micro-units of the major unit (0.25 EUR/kWh = 250000) so that a
 * price finer than the minor unit stays exact until the one rounding step.
 *
 * The rounding rule, the only one:
 *   1. a component's quantity (Wh, seconds, sessions) is summed over the periods it
 *      applied to, then rounded UP to a multiple of its step_size (OCPI step_size);
 *   2. cost excl. VAT = quantity × price, rounded half-up to the minor unit;
 *   3. VAT = cost excl. VAT × vat rate, rounded half-up to the minor unit, per component;
 *      incl. VAT = excl + VAT;
 *   4. totals are the sums of the rounded components (never re-rounded);
 *   5. min_price / max_price then replace the totals (excl and incl as the tariff
 *      states them) and the result says which bound applied.
 */
#ifndef PIPELET_CORE_PRICING_H
#define PIPELET_CORE_PRICING_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>

enum pl_price_type {
    PL_PRICE_ENERGY = 0,  /* per kWh, quantity in Wh */
    PL_PRICE_TIME,        /* per hour charging, quantity in seconds */
    PL_PRICE_PARKING,     /* per hour connected but not charging (OCPI PARKING_TIME) */
    PL_PRICE_FLAT,        /* per session, quantity 1 */
    PL_PRICE_TYPES
};
const char *pl_price_type_name(enum pl_price_type t); /* "ENERGY", ... (static) */
int pl_price_type_parse(const char *s);                /* -1 when unknown */

#define PL_PRICING_MAX_ELEMENTS 16
#define PL_PRICING_MAX_COMPONENTS 4 /* per element */

struct pl_price_component {
    enum pl_price_type type;
    int64_t price_micro; /* micro-units of the major unit per kWh / hour / session */
    int32_t vat_bp;      /* VAT in basis points: 1900 = 19.00 %; 0 = none */
    int32_t step_size;   /* Wh or seconds; 0 or 1 = no rounding up (ignored for FLAT) */
};

/* Restrictions of one element; a field that is unset (the "has" bit clear, or -1)
 * does not restrict. Evaluated at the start of each (sub)period, in the tariff's zone:
 * the engine cuts periods at every time-of-day boundary, local midnight and zone
 * transition, so time and day restrictions switch exactly where they should.
 * Energy, power and duration restrictions are evaluated at the start of a period
 * (the caller's meter interval is the resolution). */
struct pl_price_restrictions {
    int start_min, end_min;   /* local minutes since midnight, [start, end); -1 unset;
                                 end < start crosses midnight */
    int start_date, end_date; /* local YYYYMMDD, [start, end); -1 unset */
    unsigned day_mask;        /* bit 0 = Monday .. bit 6 = Sunday; 0 = every day */
    int64_t min_wh, max_wh;   /* energy used so far, [min, max); -1 unset */
    int64_t min_w, max_w;     /* power of the period, [min, max); -1 unset */
    int64_t min_s, max_s;     /* session duration so far, [min, max); -1 unset */
};

struct pl_price_element {
    struct pl_price_component comp[PL_PRICING_MAX_COMPONENTS];
    size_t ncomp;
    struct pl_price_restrictions r;
};

struct pl_tz; /* a zone's UTC offsets, see pl_tz_get */

struct pl_tariff {
    char currency[4];  /* ISO 4217 */
    int exponent;      /* minor-unit digits: 2 for EUR, 0 for JPY, 3 for KWD */
    const struct pl_tz *tz; /* borrowed from the cache; NULL = UTC */
    struct pl_price_element el[PL_PRICING_MAX_ELEMENTS];
    size_t nel;
    int has_min, has_max;
    int64_t min_excl, min_incl, max_excl, max_incl; /* minor units */
};
/* ISO 4217 minor-unit digits (0 for JPY, 3 for KWD, 2 for the rest). */
int pl_currency_exponent(const char *code);

/* A tariff definition (OCPI 2.2.1 names; see pricing_json.c) → *t. Money, VAT percent,
 * kWh and kW are decimal strings or integers, never JSON reals. 0, or -1 with a message
 * naming the field in err. A named time_zone is loaded into the zone cache here. */
int pl_tariff_from_json(const json_t *def, struct pl_tariff *t, char *err, size_t len);

/* Every restriction unset, no elements, UTC, exponent 2. */
void pl_tariff_init(struct pl_tariff *t, const char *currency, int exponent);
void pl_price_restrictions_init(struct pl_price_restrictions *r);

/* A session: n points; period i runs from point i to point i+1 with the point's
 * charging flag and power; the last point only closes the last period. */
struct pl_meter_point {
    time_t t;        /* UTC seconds */
    int64_t wh;      /* energy register, Wh (only differences matter) */
    int64_t w;       /* power during the period starting here */
    int charging;    /* 1 = drawing power (TIME), 0 = connected, parked (PARKING_TIME) */
};

/* A reading as stations send it (sorted by time): the energy register and/or the power. */
struct pl_meter_sample {
    time_t t;
    int64_t wh, w;
    int has_wh, has_w;
};
/* Readings → meter points (out has room for n): readings at the same instant merge, a
 * power-only reading sets the power of the point before it; a period is charging when
 * the register rises in it (else parking); without a measured power, a period's power is
 * its average (Wh × 3600 / s). Returns the number of points written. */
size_t pl_meter_points_build(const struct pl_meter_sample *s, size_t n, struct pl_meter_point *out);

/* One cut of a period and the element index (or -1) that priced each dimension. */
struct pl_priced_period {
    time_t start, end;
    int64_t wh; /* energy in this cut (interpolated linearly inside a meter period) */
    int charging;
    int element[PL_PRICE_TYPES];
};

struct pl_priced_component {
    int element;            /* index in the tariff */
    enum pl_price_type type;
    int64_t quantity;       /* Wh / seconds / 1, as used */
    int64_t billed;         /* after the step size */
    int64_t excl, vat, incl; /* minor units */
    int32_t vat_bp;
};

enum pl_price_bound { PL_PRICE_UNBOUNDED = 0, PL_PRICE_MIN_APPLIED, PL_PRICE_MAX_APPLIED };

struct pl_price_result {
    struct pl_priced_component comp[PL_PRICING_MAX_ELEMENTS * PL_PRICING_MAX_COMPONENTS];
    size_t ncomp;
    struct pl_priced_period *periods; /* owned by the result: pl_price_result_free */
    size_t nperiods;
    int64_t energy_wh, charging_s, parking_s;
    int64_t components_excl, components_incl; /* sum of components, before min/max */
    int64_t total_excl, total_incl;            /* what is owed */
    enum pl_price_bound bound;
};

/* Price a session. 0 on success; -1 with *err (static string) when the input is not a
 * session (fewer than 2 points, time going backwards, register going down) or an
 * amount would overflow. The result's periods are allocated; free them always. */
int pl_price_session(const struct pl_tariff *t, const struct pl_meter_point *pts, size_t n,
                     struct pl_price_result *out, const char **err);
void pl_price_result_free(struct pl_price_result *r);

/* Minor units as a decimal string in the currency's digits: (12345, 2) → "123.45". */
void pl_money_format(int64_t minor, int exponent, char *buf, size_t len);
/* A priced session as JSON (new reference): currency, energy_wh, charging_seconds,
 * parking_seconds, components [{element, type, quantity, billed, unit, vat_rate,
 * excl_vat, vat, incl_vat}], periods [{start, end, energy_wh, charging, elements
 * {ENERGY: index, ...}}], components_total and total {excl_vat, incl_vat}, bound
 * ("min_price" / "max_price" / null). Amounts are decimal strings, never reals. */
json_t *pl_price_result_json(const struct pl_tariff *t, const struct pl_price_result *r);

/* Round half-up of num / den for num >= 0, den > 0 (exposed for the tests). */
int64_t pl_div_round_half_up(int64_t num, int64_t den);

/*
 * Time zones. Calling setenv("TZ") + localtime_r on every pricing would be slow and
 * would race anything else reading TZ; instead a zone is loaded once (the first time a
 * tariff names it) into a table of its UTC-offset transitions between 1970 and 2100,
 * found with the C library (TZ set, tzset, localtime_r day by day, bisected to the
 * second at each change; TZ restored after). Lookups are then a binary search, pure.
 * pl_tz_get returns the cached zone (owned by the cache, valid until pl_tz_cache_free)
 * or NULL when the name is not a zone the C library knows.
 */
const struct pl_tz *pl_tz_get(const char *iana_name);
const char *pl_tz_name(const struct pl_tz *z);
long pl_tz_offset(const struct pl_tz *z, time_t utc); /* seconds east of UTC */
/* The first instant after `utc` where the offset changes, or (time_t)-1 if none. */
time_t pl_tz_next_change(const struct pl_tz *z, time_t utc);
void pl_tz_cache_free(void);

#endif
