/*
 * pricing.c — the pricing engine (see pricing.h for the model and the rounding rule)
 * and the per-zone UTC-offset cache the time-of-day restrictions are evaluated with.
 */
#include "pricing.h"

#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- zones ---- */

struct pl_tz {
    char *name;
    time_t *at;   /* at[i]: first second with offset off[i]; at[0] is the epoch floor */
    long *off;
    size_t n;
    struct pl_tz *next;
};

static struct pl_tz *tz_cache;

#define TZ_FIRST ((time_t)0)                  /* 1970-01-01 */
#define TZ_LAST ((time_t)4102444800LL)        /* 2100-01-01 */

static long local_offset(time_t t)
{
    struct tm tm;
    localtime_r(&t, &tm);
    return tm.tm_gmtoff;
}

/* IANA names only: letters, digits, "_+-/", no "..", and a file in the zone database. */
static int tz_name_ok(const char *name)
{
    if (!name || !*name || strlen(name) > 64 || strstr(name, "..") || name[0] == '/')
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
              (*p >= '0' && *p <= '9') || strchr("_+-/", *p)))
            return 0;
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    return access(path, R_OK) == 0;
}

static int tz_push(struct pl_tz *z, time_t at, long off)
{
    time_t *na = realloc(z->at, (z->n + 1) * sizeof *na);
    if (!na)
        return -1;
    z->at = na;
    long *no = realloc(z->off, (z->n + 1) * sizeof *no);
    if (!no)
        return -1;
    z->off = no;
    z->at[z->n] = at;
    z->off[z->n++] = off;
    return 0;
}

/* With TZ set to the zone: walk day by day, bisect each change to the second. */
static int tz_scan(struct pl_tz *z)
{
    long prev = local_offset(TZ_FIRST);
    if (tz_push(z, TZ_FIRST, prev) < 0)
        return -1;
    for (time_t t = TZ_FIRST + 86400; t <= TZ_LAST; t += 86400) {
        long cur = local_offset(t);
        if (cur == prev)
            continue;
        time_t lo = t - 86400, hi = t; /* offset(lo) == prev, offset(hi) != prev */
        while (hi - lo > 1) {
            time_t mid = lo + (hi - lo) / 2;
            if (local_offset(mid) == prev)
                lo = mid;
            else
                hi = mid;
        }
        if (tz_push(z, hi, cur) < 0)
            return -1;
        prev = cur;
    }
    return 0;
}

static struct pl_tz *tz_load(const char *name)
{
    struct pl_tz *z = calloc(1, sizeof *z);
    if (!z || !(z->name = strdup(name)))
        goto fail;
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    if (old && !saved)
        goto fail;
    setenv("TZ", name, 1);
    tzset();
    int rc = tz_scan(z);
    if (saved)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
    if (rc < 0)
        goto fail;
    return z;
fail:
    if (z) {
        free(z->name);
        free(z->at);
        free(z->off);
        free(z);
    }
    return NULL;
}

const struct pl_tz *pl_tz_get(const char *name)
{
    for (struct pl_tz *z = tz_cache; z; z = z->next)
        if (strcmp(z->name, name) == 0)
            return z;
    if (!tz_name_ok(name))
        return NULL;
    struct pl_tz *z = tz_load(name);
    if (!z)
        return NULL;
    z->next = tz_cache;
    tz_cache = z;
    return z;
}

const char *pl_tz_name(const struct pl_tz *z)
{
    return z ? z->name : "UTC";
}

/* Index of the last transition at or before t (0 when t is before them all). */
static size_t tz_index(const struct pl_tz *z, time_t t)
{
    size_t lo = 0, hi = z->n; /* at[lo] <= t < at[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

long pl_tz_offset(const struct pl_tz *z, time_t utc)
{
    return z ? z->off[tz_index(z, utc)] : 0;
}

time_t pl_tz_next_change(const struct pl_tz *z, time_t utc)
{
    if (!z)
        return (time_t)-1;
    size_t i = tz_index(z, utc);
    if (z->at[i] > utc) /* before the first entry */
        return z->at[i];
    return i + 1 < z->n ? z->at[i + 1] : (time_t)-1;
}

void pl_tz_cache_free(void)
{
    while (tz_cache) {
        struct pl_tz *z = tz_cache;
        tz_cache = z->next;
        free(z->name);
        free(z->at);
        free(z->off);
        free(z);
    }
}

/* -------------------------------------------------------------- tariffs ---- */

static const char *const type_names[PL_PRICE_TYPES] = {"ENERGY", "TIME", "PARKING_TIME", "FLAT"};

const char *pl_price_type_name(enum pl_price_type t)
{
    return (unsigned)t < PL_PRICE_TYPES ? type_names[t] : "?";
}

int pl_price_type_parse(const char *s)
{
    for (int i = 0; s && i < PL_PRICE_TYPES; i++)
        if (strcmp(s, type_names[i]) == 0)
            return i;
    return -1;
}

void pl_price_restrictions_init(struct pl_price_restrictions *r)
{
    r->start_min = r->end_min = -1;
    r->start_date = r->end_date = -1;
    r->day_mask = 0;
    r->min_wh = r->max_wh = r->min_w = r->max_w = r->min_s = r->max_s = -1;
}

void pl_tariff_init(struct pl_tariff *t, const char *currency, int exponent)
{
    memset(t, 0, sizeof *t);
    snprintf(t->currency, sizeof t->currency, "%s", currency);
    t->exponent = exponent;
    for (size_t i = 0; i < PL_PRICING_MAX_ELEMENTS; i++)
        pl_price_restrictions_init(&t->el[i].r);
}

int64_t pl_div_round_half_up(int64_t num, int64_t den)
{
    return num / den + ((num % den) * 2 >= den ? 1 : 0);
}

/* --------------------------------------------------------------- engine ---- */

/* Days since 1970-01-01 → YYYYMMDD (H. Hinnant's civil_from_days). */
static int civil_date(int64_t days)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    return (int)(y * 10000 + m * 100 + d);
}

struct local_time {
    int64_t days; /* local days since the epoch */
    int sod;      /* local second of the day */
};

static struct local_time to_local(const struct pl_tariff *t, time_t utc)
{
    int64_t l = (int64_t)utc + pl_tz_offset(t->tz, utc);
    struct local_time lt = {l >= 0 ? l / 86400 : (l - 86399) / 86400, 0};
    lt.sod = (int)(l - lt.days * 86400);
    return lt;
}

static int in_range(int64_t v, int64_t lo, int64_t hi)
{
    return (lo < 0 || v >= lo) && (hi < 0 || v < hi);
}

static int time_of_day_ok(const struct pl_price_restrictions *r, int minute)
{
    if (r->start_min < 0 && r->end_min < 0)
        return 1;
    int s = r->start_min < 0 ? 0 : r->start_min, e = r->end_min < 0 ? 1440 : r->end_min;
    if (s <= e)
        return minute >= s && minute < e;
    return minute >= s || minute < e; /* crosses midnight */
}

struct cut_state {
    time_t at;
    int64_t wh_so_far, w, duration;
};

static int restrictions_ok(const struct pl_tariff *t, const struct pl_price_restrictions *r,
                           const struct cut_state *c)
{
    struct local_time lt = to_local(t, c->at);
    unsigned dow = (unsigned)((lt.days % 7 + 7 + 3) % 7); /* 1970-01-01 was a Thursday */
    if (r->day_mask && !(r->day_mask & (1u << dow)))
        return 0;
    if (!time_of_day_ok(r, lt.sod / 60))
        return 0;
    int date = civil_date(lt.days);
    return in_range(date, r->start_date, r->end_date) &&
           in_range(c->wh_so_far, r->min_wh, r->max_wh) && in_range(c->w, r->min_w, r->max_w) &&
           in_range(c->duration, r->min_s, r->max_s);
}

static const struct pl_price_component *find_comp(const struct pl_price_element *e,
                                                  enum pl_price_type type)
{
    for (size_t i = 0; i < e->ncomp; i++)
        if (e->comp[i].type == type)
            return &e->comp[i];
    return NULL;
}

/* OCPI: for each dimension, the first element with a component of that type whose
 * restrictions hold. */
static int pick_element(const struct pl_tariff *t, enum pl_price_type type,
                        const struct cut_state *c)
{
    for (size_t i = 0; i < t->nel; i++)
        if (find_comp(&t->el[i], type) && restrictions_ok(t, &t->el[i].r, c))
            return (int)i;
    return -1;
}

/* The next instant after s (capped at b) where a restriction may switch. */
static time_t next_cut(const struct pl_tariff *t, time_t s, time_t b)
{
    time_t best = b, z = pl_tz_next_change(t->tz, s);
    if (z != (time_t)-1 && z > s && z < best)
        best = z;
    int sod = to_local(t, s).sod;
    for (size_t i = 0; i <= t->nel; i++) {
        /* local midnight (day and date restrictions), then each element's times */
        int mins[2] = {0, -1};
        if (i < t->nel) {
            mins[0] = t->el[i].r.start_min;
            mins[1] = t->el[i].r.end_min;
        }
        for (int k = 0; k < 2; k++) {
            if (mins[k] < 0)
                continue;
            int64_t d = (int64_t)mins[k] * 60 - sod;
            if (d <= 0)
                d += 86400;
            if (s + d < best)
                best = s + (time_t)d;
        }
    }
    return best;
}

struct accum {
    int64_t qty[PL_PRICING_MAX_ELEMENTS][PL_PRICE_TYPES];
    int used[PL_PRICING_MAX_ELEMENTS][PL_PRICE_TYPES];
};

static int push_period(struct pl_price_result *out, size_t *cap, const struct pl_priced_period *p)
{
    if (out->nperiods == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        struct pl_priced_period *np = realloc(out->periods, nc * sizeof *np);
        if (!np)
            return -1;
        out->periods = np;
        *cap = nc;
    }
    out->periods[out->nperiods++] = *p;
    return 0;
}

/* One cut [s, c) of a meter period: pick the elements, accumulate, record. */
static int price_cut(const struct pl_tariff *t, struct cut_state *cs, time_t c, int64_t wh,
                     int charging, struct accum *acc, struct pl_price_result *out, size_t *cap)
{
    struct pl_priced_period p = {cs->at, c, wh, charging, {-1, -1, -1, -1}};
    int64_t secs = c - cs->at;
    p.element[PL_PRICE_ENERGY] = pick_element(t, PL_PRICE_ENERGY, cs);
    if (charging)
        p.element[PL_PRICE_TIME] = pick_element(t, PL_PRICE_TIME, cs);
    else
        p.element[PL_PRICE_PARKING] = pick_element(t, PL_PRICE_PARKING, cs);
    int64_t q[PL_PRICE_TYPES] = {wh, secs, secs, 0};
    for (int k = 0; k < PL_PRICE_FLAT; k++) {
        int e = p.element[k];
        if (e >= 0) {
            acc->qty[e][k] += q[k];
            acc->used[e][k] = 1;
        }
    }
    out->energy_wh += wh;
    *(charging ? &out->charging_s : &out->parking_s) += secs;
    cs->wh_so_far += wh;
    return push_period(out, cap, &p);
}

static int walk_periods(const struct pl_tariff *t, const struct pl_meter_point *pts, size_t n,
                        struct accum *acc, struct pl_price_result *out, const char **err)
{
    size_t cap = 0;
    struct cut_state cs = {pts[0].t, 0, pts[0].w, 0};
    int flat = pick_element(t, PL_PRICE_FLAT, &cs);
    if (flat >= 0) {
        acc->qty[flat][PL_PRICE_FLAT] = 1;
        acc->used[flat][PL_PRICE_FLAT] = 1;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        time_t a = pts[i].t, b = pts[i + 1].t;
        int64_t dwh = pts[i + 1].wh - pts[i].wh, done = 0;
        if (b < a || dwh < 0) {
            *err = b < a ? "meter points go back in time" : "energy register goes down";
            return -1;
        }
        if (b == a && dwh > 0) {
            *err = "energy without elapsed time";
            return -1;
        }
        for (time_t s = a; s < b;) {
            time_t c = next_cut(t, s, b);
            int64_t at_c = dwh * (int64_t)(c - a) / (int64_t)(b - a);
            cs.at = s;
            cs.w = pts[i].w;
            cs.duration = s - pts[0].t;
            if (price_cut(t, &cs, c, at_c - done, pts[i].charging, acc, out, &cap) < 0) {
                *err = "out of memory";
                return -1;
            }
            done = at_c;
            s = c;
        }
    }
    return 0;
}

static const int64_t unit_den[PL_PRICE_TYPES] = {1000, 3600, 3600, 1};

static int price_component(const struct pl_tariff *t, int e, const struct pl_price_component *pc,
                           int64_t qty, struct pl_priced_component *out)
{
    int64_t billed = qty;
    if (pc->type != PL_PRICE_FLAT && pc->step_size > 1 && qty % pc->step_size)
        billed = qty + pc->step_size - qty % pc->step_size;
    int64_t scale = 1;
    for (int i = t->exponent; i < 6; i++)
        scale *= 10;
    if (pc->price_micro < 0 || pc->vat_bp < 0 ||
        (pc->price_micro && billed > INT64_MAX / pc->price_micro))
        return -1;
    *out = (struct pl_priced_component){.element = e, .type = pc->type, .quantity = qty,
                                        .billed = billed, .vat_bp = pc->vat_bp};
    out->excl = pl_div_round_half_up(billed * pc->price_micro, unit_den[pc->type] * scale);
    if (pc->vat_bp && out->excl > INT64_MAX / pc->vat_bp)
        return -1;
    out->vat = pl_div_round_half_up(out->excl * pc->vat_bp, 10000);
    out->incl = out->excl + out->vat;
    return 0;
}

static void apply_bounds(const struct pl_tariff *t, struct pl_price_result *out)
{
    out->total_excl = out->components_excl;
    out->total_incl = out->components_incl;
    if (t->has_min && out->components_excl < t->min_excl) {
        out->total_excl = t->min_excl;
        out->total_incl = t->min_incl;
        out->bound = PL_PRICE_MIN_APPLIED;
    } else if (t->has_max && out->components_excl > t->max_excl) {
        out->total_excl = t->max_excl;
        out->total_incl = t->max_incl;
        out->bound = PL_PRICE_MAX_APPLIED;
    }
}

int pl_price_session(const struct pl_tariff *t, const struct pl_meter_point *pts, size_t n,
                     struct pl_price_result *out, const char **err)
{
    memset(out, 0, sizeof *out);
    if (n < 2 || t->nel > PL_PRICING_MAX_ELEMENTS || t->exponent < 0 || t->exponent > 6) {
        *err = n < 2 ? "a session needs at least two meter points" : "malformed tariff";
        return -1;
    }
    struct accum acc;
    memset(&acc, 0, sizeof acc);
    if (walk_periods(t, pts, n, &acc, out, err) < 0)
        return -1;
    for (size_t e = 0; e < t->nel; e++) {
        for (int k = 0; k < PL_PRICE_TYPES; k++) {
            const struct pl_price_component *pc = find_comp(&t->el[e], (enum pl_price_type)k);
            if (!acc.used[e][k] || !pc)
                continue;
            struct pl_priced_component *c = &out->comp[out->ncomp];
            if (price_component(t, (int)e, pc, acc.qty[e][k], c) < 0) {
                *err = "amount out of range";
                return -1;
            }
            out->ncomp++;
            out->components_excl += c->excl;
            out->components_incl += c->incl;
        }
    }
    apply_bounds(t, out);
    return 0;
}

void pl_price_result_free(struct pl_price_result *r)
{
    free(r->periods);
    r->periods = NULL;
    r->nperiods = 0;
}

/* ------------------------------------------------------- meter samples ---- */

/* Samples at one instant merged; an instant without an energy reading only lends its
 * power to the point before. Charging = the register rises until the next point. */
size_t pl_meter_points_build(const struct pl_meter_sample *s, size_t n, struct pl_meter_point *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && out[m - 1].t == s[i].t) {
            if (s[i].has_wh)
                out[m - 1].wh = s[i].wh;
            if (s[i].has_w)
                out[m - 1].w = s[i].w;
            continue;
        }
        if (!s[i].has_wh) {
            if (m && s[i].has_w)
                out[m - 1].w = s[i].w;
            continue;
        }
        out[m++] = (struct pl_meter_point){s[i].t, s[i].wh, s[i].has_w ? s[i].w : -1, 0};
    }
    for (size_t i = 0; i + 1 < m; i++) {
        int64_t dwh = out[i + 1].wh - out[i].wh, dt = out[i + 1].t - out[i].t;
        out[i].charging = dwh > 0;
        if (out[i].w < 0) /* no power measured: the period's average */
            out[i].w = dt > 0 && dwh > 0 ? dwh * 3600 / dt : 0;
    }
    if (m) { /* the last point only closes the last period */
        out[m - 1].charging = 0;
        if (out[m - 1].w < 0)
            out[m - 1].w = 0;
    }
    return m;
}
