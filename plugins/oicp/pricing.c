/*
 * pricing.c — dynamic pricing (OICP eRoamingDynamicPricing 1.0): the billing domain's
 * tariffs pushed as pricing products, and each EVSE's products.
 *
 * Each element of a tariff is one product, "T<tariff id>-<element>": its main price is
 * ENERGY per kWh (else TIME per hour; a FLAT-only element is a FIXED FEE on a zero main
 * price); FLAT beside a main price is a START FEE, PARKING_TIME a PARKING FEE per hour,
 * the tariff's minimum and maximum price a MINIMUM / MAXIMUM FEE; the element's time and
 * day restrictions become its availability times, its max_power the product's maximum
 * power.  Prices are pushed excluding VAT, as the billing domain stores them.  A TIME
 * component beside an ENERGY one has no place in an OICP product and is left out (logged).
 * Every EVSE of a station lists the products of the tariff that resolves for it
 * (tariff.resolve: station, then site, then the default), for every provider ("*").
 * Pushed as fullLoads at start, on sync, and after a tariff or an assignment changes.
 */
#include "oicp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPUSH_DELAY_MS 2000

static json_t *number(json_t *decimal)
{
    if (json_is_number(decimal))
        return json_real(json_number_value(decimal));
    const char *s = json_string_value(decimal);
    return json_real(s ? strtod(s, NULL) : 0);
}

static const char *const day_names[] = {"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"};
static const char *const oicp_days[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

static json_t *availability(json_t *r, int *all_day)
{
    const char *begin = json_string_value(json_object_get(r, "start_time"));
    const char *end = json_string_value(json_object_get(r, "end_time"));
    json_t *days = json_object_get(r, "day_of_week");
    unsigned mask = 0;
    size_t i;
    json_t *d;
    json_array_foreach(days, i, d)
        for (unsigned k = 0; k < 7; k++)
            if (json_string_value(d) && strcmp(json_string_value(d), day_names[k]) == 0)
                mask |= 1u << k;
    if (!mask)
        mask = 0x7f;
    *all_day = !begin && !end && mask == 0x7f;
    json_t *periods = json_pack("[{s:s, s:s}]", "begin", begin ? begin : "00:00", "end", end ? end : "23:59");
    json_t *out = json_array();
    if (mask == 0x7f)
        json_array_append_new(out, json_pack("{s:O, s:s}", "Periods", periods, "on", "Everyday"));
    else if (mask == 0x1f)
        json_array_append_new(out, json_pack("{s:O, s:s}", "Periods", periods, "on", "Workdays"));
    else if (mask == 0x60)
        json_array_append_new(out, json_pack("{s:O, s:s}", "Periods", periods, "on", "Weekend"));
    else
        for (unsigned k = 0; k < 7; k++)
            if (mask & (1u << k))
                json_array_append_new(out, json_pack("{s:O, s:s}", "Periods", periods, "on", oicp_days[k]));
    json_decref(periods);
    return out;
}

static json_t *fee(const char *what, const char *unit, json_t *price)
{
    return json_pack("{s:s, s:s, s:o}", "AdditionalReference", what, "AdditionalReferenceUnit", unit,
                     "PricePerAdditionalReferenceUnit", number(price));
}

/* The products of one tariff, appended to out; their ids into ids (an array). */
static void tariff_products(struct oicp *o, json_t *t, double max_kw, json_t *out, json_t *ids)
{
    json_int_t id = json_integer_value(json_object_get(t, "id"));
    const char *currency = json_string_value(json_object_get(t, "currency")) ?: "EUR";
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(t, "elements"), i, e) {
        json_t *energy = NULL, *time = NULL, *flat = NULL, *parking = NULL, *c;
        size_t k;
        json_array_foreach(json_object_get(e, "price_components"), k, c) {
            const char *type = json_string_value(json_object_get(c, "type")) ?: "";
            json_t *price = json_object_get(c, "price");
            if (strcmp(type, "ENERGY") == 0)
                energy = price;
            else if (strcmp(type, "TIME") == 0)
                time = price;
            else if (strcmp(type, "FLAT") == 0)
                flat = price;
            else if (strcmp(type, "PARKING_TIME") == 0)
                parking = price;
        }
        const char *unit = energy || !time ? "KILOWATT_HOUR" : "HOUR";
        json_t *fees = json_array();
        json_t *main_price = energy ? energy : time;
        if (flat)
            json_array_append_new(fees, fee(main_price ? "START FEE" : "FIXED FEE", unit, flat));
        if (parking)
            json_array_append_new(fees, fee("PARKING FEE", "HOUR", parking));
        /* price bounds are {"excl_vat", "incl_vat"} */
        json_t *min = json_object_get(json_object_get(t, "min_price"), "excl_vat");
        json_t *max = json_object_get(json_object_get(t, "max_price"), "excl_vat");
        if (min)
            json_array_append_new(fees, fee("MINIMUM FEE", unit, min));
        if (max)
            json_array_append_new(fees, fee("MAXIMUM FEE", unit, max));
        if (energy && time)
            o->host->log(o->self, PL_LOG_INFO, "tariff %lld element %zu: its TIME price has no place in an OICP "
                         "product beside the ENERGY price and is not pushed", (long long)id, i + 1);
        json_t *r = json_object_get(e, "restrictions");
        int all_day = 1;
        json_t *times = availability(r, &all_day);
        json_t *mp = json_object_get(r, "max_power");
        char pid[32];
        snprintf(pid, sizeof pid, "T%lld-%zu", (long long)id, i + 1);
        json_t *p = json_pack("{s:s, s:s, s:s, s:o, s:o, s:b, s:o}", "ProductID", pid, "ReferenceUnit", unit,
                              "ProductPriceCurrency", currency, "PricePerReferenceUnit",
                              main_price ? number(main_price) : json_real(0), "MaximumProductChargingPower",
                              mp ? number(mp) : json_real(max_kw), "IsValid24hours", all_day,
                              "ProductAvailabilityTimes", times);
        if (json_array_size(fees))
            json_object_set(p, "AdditionalReferences", fees);
        json_decref(fees);
        json_array_append_new(out, p);
        json_array_append_new(ids, json_string(pid));
    }
}

/* ---------- one push: tariffs, then each station's tariff, then the two calls ---------- */

struct push {
    struct oicp *o;
    oicp_done_cb cb;
    void *arg;
    json_t *tariffs;        /* tariff.list items */
    json_t *station_tariff; /* station id -> tariff id */
    char **resolving;       /* station ids to resolve (copied: locations may change meanwhile) */
    size_t nresolving, at;
    json_t *out;
};

static void push_end(struct push *p, int status)
{
    struct oicp *o = p->o;
    o->pricing_busy = 0;
    if (p->cb)
        p->cb(p->arg, status, p->out);
    else {
        char *text = json_dumps(p->out, JSON_COMPACT);
        o->host->log(o->self, PL_LOG_INFO, "pricing push: %s", text ? text : "?");
        free(text);
        json_decref(p->out);
    }
    json_decref(p->tariffs);
    json_decref(p->station_tariff);
    for (size_t i = 0; i < p->nresolving; i++)
        free(p->resolving[i]);
    free(p->resolving);
    free(p);
    if (o->pricing_due && !o->stopping) {
        o->pricing_due = 0;
        o->host->timer_start(o->pricing_timer, REPUSH_DELAY_MS, 0);
    }
}

static void on_evse_pricing(struct oicp *o, int http_status, json_t *resp, const char *error, void *arg)
{
    (void)o;
    struct push *p = arg;
    json_object_set_new(p->out, "evse_pricing", oicp_push_outcome(http_status, resp, error));
    push_end(p, 200);
}

static void on_products(struct oicp *o, int http_status, json_t *resp, const char *error, void *arg)
{
    struct push *p = arg;
    json_object_set_new(p->out, "products", oicp_push_outcome(http_status, resp, error));
    /* every EVSE of every station whose tariff is known */
    json_t *list = json_array();
    for (struct oicp_location *l = o->locations; l; l = l->next) {
        json_int_t tid = json_integer_value(json_object_get(p->station_tariff, l->station_id));
        if (!tid)
            continue;
        json_t *ids = json_array(), *e;
        size_t i;
        char prefix[32];
        int n = snprintf(prefix, sizeof prefix, "T%lld-", (long long)tid);
        json_t *products = json_object_get(json_object_get(p->out, "sent"), "products");
        json_array_foreach(products, i, e) {
            const char *pid = json_string_value(e);
            if (pid && strncmp(pid, prefix, (size_t)n) == 0)
                json_array_append_new(ids, json_string(pid));
        }
        for (size_t k = 0; k < l->nevses && json_array_size(ids); k++)
            json_array_append_new(list, json_pack("{s:s, s:s, s:O}", "EvseID", l->evse_ids[k], "ProviderID", "*",
                                                  "EvseIDProductList", ids));
        json_decref(ids);
    }
    json_object_set_new(json_object_get(p->out, "sent"), "evses", json_integer((json_int_t)json_array_size(list)));
    if (oicp_hub_call(o, OICP_PUSH_EVSE_PRICING, json_pack("{s:s, s:o}", "ActionType", "fullLoad", "EVSEPricing", list),
                      0, on_evse_pricing, p) != PL_OK) {
        json_object_set_new(p->out, "evse_pricing", oicp_push_outcome(0, NULL, "the call could not be made"));
        push_end(p, 502);
    }
}

static void send_products(struct push *p)
{
    struct oicp *o = p->o;
    double max_kw = 0;
    for (struct oicp_location *l = o->locations; l; l = l->next) {
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(l->data, "ChargingFacilities"), i, f)
            if (json_number_value(json_object_get(f, "Power")) > max_kw)
                max_kw = json_number_value(json_object_get(f, "Power"));
    }
    json_t *records = json_array(), *ids = json_array(), *t;
    size_t i;
    const char *currency = NULL;
    json_array_foreach(p->tariffs, i, t) {
        if (!currency)
            currency = json_string_value(json_object_get(t, "currency"));
        tariff_products(o, t, max_kw, records, ids);
    }
    json_object_set_new(p->out, "sent", json_pack("{s:o}", "products", ids));
    json_t *body = json_pack("{s:s, s:{s:s, s:s, s:s, s:f, s:s, s:s, s:o}}", "ActionType", "fullLoad",
                             "PricingProductData", "OperatorID", o->operator_id, "OperatorName", o->operator_name,
                             "ProviderID", "*", "PricingDefaultPrice", 0.0, "PricingDefaultPriceCurrency",
                             currency ? currency : "EUR", "PricingDefaultReferenceUnit", "KILOWATT_HOUR",
                             "PricingProductDataRecords", records);
    if (oicp_hub_call(o, OICP_PUSH_PRICING_PRODUCTS, body, 0, on_products, p) != PL_OK) {
        json_object_set_new(p->out, "products", oicp_push_outcome(0, NULL, "the call could not be made"));
        push_end(p, 502);
    }
}

static void resolve_next(struct push *p);

static void on_resolved(void *arg, int rc, json_t *result, const char *error)
{
    struct push *p = arg;
    (void)error;
    json_t *tid = json_object_get(json_object_get(result, "tariff"), "id");
    if (rc == PL_OK && json_is_integer(tid))
        json_object_set(p->station_tariff, p->resolving[p->at], tid);
    p->at++;
    resolve_next(p);
}

static void resolve_next(struct push *p)
{
    if (p->at >= p->nresolving) {
        send_products(p);
        return;
    }
    p->o->host->billing->call("tariff.resolve", json_pack("{s:s}", "station_id", p->resolving[p->at]), on_resolved, p);
}

static void on_tariffs(void *arg, int rc, json_t *result, const char *error)
{
    struct push *p = arg;
    struct oicp *o = p->o;
    if (rc != PL_OK) {
        json_object_set_new(p->out, "error", json_string(error ? error : "the tariffs could not be read"));
        push_end(p, 503);
        return;
    }
    p->tariffs = json_incref(json_object_get(result, "items"));
    size_t n = 0;
    for (struct oicp_location *l = o->locations; l; l = l->next)
        n++;
    p->resolving = calloc(n ? n : 1, sizeof *p->resolving);
    for (struct oicp_location *l = o->locations; p->resolving && l; l = l->next)
        if ((p->resolving[p->nresolving] = strdup(l->station_id)))
            p->nresolving++;
    resolve_next(p);
}

void oicp_pricing_push(struct oicp *o, oicp_done_cb cb, void *arg)
{
    if (!o->push_pricing || !o->host->billing) {
        if (cb)
            cb(arg, 200, json_pack("{s:s}", "skipped", "[oicp] push_pricing is off"));
        return;
    }
    if (o->pricing_busy) {
        o->pricing_due = 1;
        if (cb)
            cb(arg, 200, json_pack("{s:s}", "queued", "after the push in flight"));
        return;
    }
    struct push *p = calloc(1, sizeof *p);
    if (!p) {
        if (cb)
            cb(arg, 500, oicp_error("INTERNAL", "out of memory"));
        return;
    }
    *p = (struct push){.o = o, .cb = cb, .arg = arg, .station_tariff = json_object(), .out = json_object()};
    o->pricing_busy = 1;
    o->host->billing->call("tariff.list", json_pack("{s:i}", "limit", 500), on_tariffs, p);
}

static void on_pricing_timer(void *arg)
{
    struct oicp *o = arg;
    if (!o->stopping)
        oicp_pricing_push(o, NULL, NULL);
}

/* A tariff or an assignment changed: push again shortly (changes in a burst, once). */
void oicp_pricing_on_event(const char *topic, json_t *env, void *arg)
{
    struct oicp *o = arg;
    (void)topic;
    (void)env;
    if (o->push_pricing && o->pricing_timer && o->locations_loaded)
        o->host->timer_start(o->pricing_timer, REPUSH_DELAY_MS, 0);
}

int oicp_pricing_start(struct oicp *o)
{
    o->pricing_timer = o->host->timer_new(o->self, on_pricing_timer, o);
    return o->pricing_timer ? PL_OK : PL_ENOMEM;
}

void oicp_pricing_free(struct oicp *o)
{
    o->host->timer_free(o->pricing_timer);
    o->pricing_timer = NULL;
}
