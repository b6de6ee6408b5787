/*
 * pricing_json.c — a tariff's stored definition (the jsonb column; OCPI 2.2.1 field names)
 * read into struct pl_tariff. Money, VAT, kWh and kW are decimal strings (or integers):
 * a JSON real would be a binary float, which money never is, so reals are refused.
 */
#include "pricing.h"

#include <stdio.h>
#include <string.h>
#include <jansson.h>

/* ISO 4217 currencies whose minor unit is not 2 digits (the others are). */
static const struct { const char *code; int exp; } exponents[] = {
    {"BIF", 0}, {"CLP", 0}, {"DJF", 0}, {"GNF", 0}, {"ISK", 0}, {"JPY", 0}, {"KMF", 0},
    {"KRW", 0}, {"PYG", 0}, {"RWF", 0}, {"UGX", 0}, {"VND", 0}, {"VUV", 0}, {"XAF", 0},
    {"XOF", 0}, {"XPF", 0}, {"BHD", 3}, {"IQD", 3}, {"JOD", 3}, {"KWD", 3}, {"LYD", 3},
    {"OMR", 3}, {"TND", 3},
};

int pl_currency_exponent(const char *code)
{
    for (size_t i = 0; i < sizeof exponents / sizeof *exponents; i++)
        if (strcmp(exponents[i].code, code) == 0)
            return exponents[i].exp;
    return 2;
}

/* "12.345" with at most `digits` decimals → value × 10^digits; -1 on anything else. */
static int decimal_scaled(const json_t *v, int digits, int64_t *out)
{
    int64_t scale = 1;
    for (int i = 0; i < digits; i++)
        scale *= 10;
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < 0 || n > INT64_MAX / scale)
            return -1;
        *out = (int64_t)n * scale;
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s || !*s)
        return -1;
    int64_t whole = 0, frac = 0;
    int nfrac = -1;
    for (const char *p = s; *p; p++) {
        if (*p == '.' && nfrac < 0 && p != s && p[1]) {
            nfrac = 0;
            continue;
        }
        if (*p < '0' || *p > '9' || whole > INT64_MAX / 100 / scale)
            return -1;
        if (nfrac < 0)
            whole = whole * 10 + (*p - '0');
        else if (++nfrac > digits)
            return -1;
        else
            frac = frac * 10 + (*p - '0');
    }
    for (int i = nfrac < 0 ? 0 : nfrac; i < digits; i++)
        frac *= 10;
    *out = whole * scale + frac;
    return 0;
}

static int fail(char *err, size_t len, const char *what, const char *where)
{
    snprintf(err, len, "%s: %s", where, what);
    return -1;
}

/* "HH:MM" → minutes since midnight. */
static int parse_hhmm(const char *s, int *out)
{
    int h, m;
    char tail;
    if (!s || strlen(s) != 5 || sscanf(s, "%2d:%2d%c", &h, &m, &tail) != 2 || h > 23 || m > 59 ||
        h < 0 || m < 0)
        return -1;
    *out = h * 60 + m;
    return 0;
}

/* "YYYY-MM-DD" → YYYYMMDD. */
static int parse_date(const char *s, int *out)
{
    int y, mo, d;
    char tail;
    if (!s || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &mo, &d, &tail) != 3 ||
        mo < 1 || mo > 12 || d < 1 || d > 31)
        return -1;
    *out = y * 10000 + mo * 100 + d;
    return 0;
}

static const char *const days[7] = {"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY",
                                    "FRIDAY", "SATURDAY", "SUNDAY"};

static int parse_days(const json_t *a, unsigned *mask)
{
    size_t i;
    json_t *v;
    if (!json_is_array(a))
        return -1;
    json_array_foreach(a, i, v) {
        int k = 0;
        while (k < 7 && !(json_is_string(v) && strcmp(json_string_value(v), days[k]) == 0))
            k++;
        if (k == 7)
            return -1;
        *mask |= 1u << k;
    }
    return 0;
}

/* An optional decimal restriction: absent → stays -1. */
static int opt_scaled(const json_t *o, const char *key, int digits, int64_t *out)
{
    const json_t *v = json_object_get(o, key);
    return v ? decimal_scaled(v, digits, out) : 0;
}

static int parse_restrictions(const json_t *r, struct pl_price_restrictions *out, char *err,
                              size_t len)
{
    const json_t *v;
    if (!r)
        return 0;
    if (!json_is_object(r))
        return fail(err, len, "must be an object", "restrictions");
    if ((v = json_object_get(r, "start_time")) && parse_hhmm(json_string_value(v), &out->start_min))
        return fail(err, len, "expected HH:MM", "start_time");
    if ((v = json_object_get(r, "end_time")) && parse_hhmm(json_string_value(v), &out->end_min))
        return fail(err, len, "expected HH:MM", "end_time");
    if ((v = json_object_get(r, "start_date")) && parse_date(json_string_value(v), &out->start_date))
        return fail(err, len, "expected YYYY-MM-DD", "start_date");
    if ((v = json_object_get(r, "end_date")) && parse_date(json_string_value(v), &out->end_date))
        return fail(err, len, "expected YYYY-MM-DD", "end_date");
    if ((v = json_object_get(r, "day_of_week")) && parse_days(v, &out->day_mask))
        return fail(err, len, "expected an array of MONDAY..SUNDAY", "day_of_week");
    if (opt_scaled(r, "min_kwh", 3, &out->min_wh) || opt_scaled(r, "max_kwh", 3, &out->max_wh) ||
        opt_scaled(r, "min_power", 3, &out->min_w) || opt_scaled(r, "max_power", 3, &out->max_w) ||
        opt_scaled(r, "min_duration", 0, &out->min_s) ||
        opt_scaled(r, "max_duration", 0, &out->max_s))
        return fail(err, len, "kWh / kW as decimal strings, durations as whole seconds",
                    "restrictions");
    return 0;
}

static int parse_component(const json_t *c, struct pl_price_component *out, char *err, size_t len)
{
    int type = pl_price_type_parse(json_string_value(json_object_get(c, "type")));
    if (type < 0)
        return fail(err, len, "ENERGY, TIME, PARKING_TIME or FLAT", "price_components.type");
    out->type = (enum pl_price_type)type;
    if (decimal_scaled(json_object_get(c, "price"), 6, &out->price_micro))
        return fail(err, len, "a decimal string, at most 6 decimals", "price_components.price");
    int64_t vat = 0, step = 0;
    const json_t *v = json_object_get(c, "vat");
    if (v && (decimal_scaled(v, 2, &vat) || vat > 10000))
        return fail(err, len, "a percentage as a decimal string", "price_components.vat");
    v = json_object_get(c, "step_size");
    if (v && (!json_is_integer(v) || (step = json_integer_value(v)) < 0 || step > 86400000))
        return fail(err, len, "a whole number of Wh or seconds", "price_components.step_size");
    out->vat_bp = (int32_t)vat;
    out->step_size = (int32_t)step;
    return 0;
}

static int parse_element(const json_t *e, struct pl_price_element *out, char *err, size_t len)
{
    const json_t *pcs = json_object_get(e, "price_components"), *c;
    size_t i;
    if (!json_is_array(pcs) || json_array_size(pcs) == 0 ||
        json_array_size(pcs) > PL_PRICING_MAX_COMPONENTS)
        return fail(err, len, "1 to 4 price components", "elements");
    json_array_foreach(pcs, i, c) {
        if (parse_component(c, &out->comp[out->ncomp++], err, len) < 0)
            return -1;
    }
    return parse_restrictions(json_object_get(e, "restrictions"), &out->r, err, len);
}

static int parse_bound(const json_t *b, int exp, int *has, int64_t *excl, int64_t *incl,
                       const char *name, char *err, size_t len)
{
    if (!b)
        return 0;
    if (decimal_scaled(json_object_get(b, "excl_vat"), exp, excl) ||
        decimal_scaled(json_object_get(b, "incl_vat"), exp, incl) || *incl < *excl)
        return fail(err, len, "{excl_vat, incl_vat} decimal strings, incl >= excl", name);
    *has = 1;
    return 0;
}

/* OCPI 2.2.1 tariff_alt_text: DisplayText [{"language": ISO 639-1, "text": at most 512
 * characters}], what a station may show about the tariff (OCPP 2.0.1's personal
 * message, whose content holds 512 and whose language holds 8).  Not used to price. */
static int parse_alt_text(const json_t *v, char *err, size_t len)
{
    if (!v)
        return 0;
    if (!json_is_array(v) || json_array_size(v) > 16)
        return fail(err, len, "an array of at most 16 {language, text}", "tariff_alt_text");
    size_t i;
    const json_t *d;
    json_array_foreach(v, i, d) {
        const char *lang = json_string_value(json_object_get(d, "language"));
        const char *text = json_string_value(json_object_get(d, "text"));
        if (!json_is_object(d) || json_object_size(d) != 2 || !lang || strlen(lang) != 2 ||
            strspn(lang, "abcdefghijklmnopqrstuvwxyz") != 2 || !text || !*text ||
            json_string_length(json_object_get(d, "text")) > 512)
            return fail(err, len,
                        "each {\"language\": an ISO 639-1 code (\"en\"), \"text\": 1 to 512 characters}",
                        "tariff_alt_text");
    }
    return 0;
}

int pl_tariff_from_json(const json_t *def, struct pl_tariff *t, char *err, size_t len)
{
    const char *cur = json_string_value(json_object_get(def, "currency"));
    if (!cur || strlen(cur) != 3 || strspn(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
        return fail(err, len, "an ISO 4217 code", "currency");
    pl_tariff_init(t, cur, pl_currency_exponent(cur));
    const json_t *tz = json_object_get(def, "time_zone");
    if (tz && !(t->tz = pl_tz_get(json_string_value(tz) ? json_string_value(tz) : "")))
        return fail(err, len, "an IANA zone name", "time_zone");
    const json_t *els = json_object_get(def, "elements"), *e;
    size_t i;
    if (!json_is_array(els) || json_array_size(els) == 0 ||
        json_array_size(els) > PL_PRICING_MAX_ELEMENTS)
        return fail(err, len, "1 to 16 elements", "elements");
    json_array_foreach(els, i, e) {
        if (parse_element(e, &t->el[t->nel++], err, len) < 0)
            return -1;
    }
    if (parse_bound(json_object_get(def, "min_price"), t->exponent, &t->has_min, &t->min_excl,
                    &t->min_incl, "min_price", err, len) < 0 ||
        parse_bound(json_object_get(def, "max_price"), t->exponent, &t->has_max, &t->max_excl,
                    &t->max_incl, "max_price", err, len) < 0)
        return -1;
    if (t->has_min && t->has_max && t->min_excl > t->max_excl)
        return fail(err, len, "min_price above max_price", "min_price");
    return parse_alt_text(json_object_get(def, "tariff_alt_text"), err, len);
}

/* ------------------------------------------------------------- results ---- */

void pl_money_format(int64_t minor, int exponent, char *buf, size_t len)
{
    int64_t scale = 1;
    for (int i = 0; i < exponent; i++)
        scale *= 10;
    const char *sign = minor < 0 ? "-" : "";
    uint64_t m = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
    if (exponent == 0)
        snprintf(buf, len, "%s%llu", sign, (unsigned long long)m);
    else
        snprintf(buf, len, "%s%llu.%0*llu", sign, (unsigned long long)(m / (uint64_t)scale),
                 exponent, (unsigned long long)(m % (uint64_t)scale));
}

static json_t *money(int64_t minor, int exponent)
{
    char buf[32];
    pl_money_format(minor, exponent, buf, sizeof buf);
    return json_string(buf);
}

static json_t *pair(int64_t excl, int64_t incl, int exponent)
{
    return json_pack("{s:o, s:o}", "excl_vat", money(excl, exponent), "incl_vat",
                     money(incl, exponent));
}

static json_t *utc_string(time_t t)
{
    struct tm tm;
    char buf[32];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

static const char *const units[PL_PRICE_TYPES] = {"Wh", "s", "s", "session"};

static json_t *component_json(const struct pl_priced_component *c, int exp)
{
    return json_pack("{s:i, s:s, s:I, s:I, s:s, s:o, s:o, s:o, s:o}", "element", c->element,
                     "type", pl_price_type_name(c->type), "quantity", (json_int_t)c->quantity,
                     "billed", (json_int_t)c->billed, "unit", units[c->type], "vat_rate",
                     money(c->vat_bp, 2), "excl_vat", money(c->excl, exp), "vat",
                     money(c->vat, exp), "incl_vat", money(c->incl, exp));
}

static json_t *period_json(const struct pl_priced_period *p)
{
    json_t *els = json_object();
    for (int k = 0; k < PL_PRICE_FLAT; k++)
        if (p->element[k] >= 0)
            json_object_set_new(els, pl_price_type_name((enum pl_price_type)k),
                                json_integer(p->element[k]));
    return json_pack("{s:o, s:o, s:I, s:b, s:o}", "start", utc_string(p->start), "end",
                     utc_string(p->end), "energy_wh", (json_int_t)p->wh, "charging",
                     p->charging, "elements", els);
}

json_t *pl_price_result_json(const struct pl_tariff *t, const struct pl_price_result *r)
{
    static const char *const bounds[] = {NULL, "min_price", "max_price"};
    json_t *comps = json_array(), *periods = json_array();
    for (size_t i = 0; i < r->ncomp; i++)
        json_array_append_new(comps, component_json(&r->comp[i], t->exponent));
    for (size_t i = 0; i < r->nperiods; i++)
        json_array_append_new(periods, period_json(&r->periods[i]));
    return json_pack("{s:s, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o*}", "currency", t->currency,
                     "energy_wh", (json_int_t)r->energy_wh, "charging_seconds",
                     (json_int_t)r->charging_s, "parking_seconds", (json_int_t)r->parking_s,
                     "components", comps, "periods", periods, "components_total",
                     pair(r->components_excl, r->components_incl, t->exponent), "total",
                     pair(r->total_excl, r->total_incl, t->exponent), "bound",
                     bounds[r->bound] ? json_string(bounds[r->bound]) : json_null());
}
