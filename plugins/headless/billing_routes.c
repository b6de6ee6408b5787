/*
 * billing_routes.c — /api/v1/tariffs, their assignments, the tariff that applies at a
 * station, and what a transaction costs: the core's tariffs domain (host->billing,
 * pipelet/billing.h) over REST, answered through the same domain mapping as customers
 * and tokens (hl_domain_call).
 */
#include "headless.h"

#include <string.h>

/* 501 NOT_SUPPORTED and -1 when the host has no tariffs domain, else 0. */
static int billing_available(struct headless *hl, pl_request *req)
{
    if (hl->billing)
        return 0;
    hl->host->reply_error(req, 501, "NOT_SUPPORTED",
                          "this gateway has no tariffs domain (ABI 1.2 with billing needed)");
    return -1;
}

void hl_tariff_create(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    json_t *body;
    if (billing_available(hl, req) < 0 || !(body = hl_body(hl, req)))
        return;
    hl_billing_call(hl, req, "tariff.create", body, "tariff", 201, hl_domain_created, "/api/v1/tariffs/");
}

void hl_tariff_list(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    int deleted = 0, present;
    if (billing_available(hl, req) < 0 ||
        hl_query_bool(hl, req, "include_deleted", &deleted, &present) < 0)
        return;
    json_t *args = json_pack("{s:b}", "include_deleted", deleted);
    if (hl_domain_page_args(hl, req, args) < 0) {
        json_decref(args);
        return;
    }
    hl_billing_call(hl, req, "tariff.list", args, "tariff", 200, hl_domain_page_ok, NULL);
}

static void tariff_by_id(pl_request *req, struct headless *hl, const char *op, json_t *body)
{
    char id[24];
    if (billing_available(hl, req) < 0 || hl_path_id(hl, req, id, sizeof id) < 0) {
        json_decref(body);
        return;
    }
    json_t *args = body ? body : json_object();
    json_object_set_new(args, "id", json_string(id));
    hl_billing_call(hl, req, op, args, "tariff", 200, NULL, NULL);
}

void hl_tariff_get(pl_request *req, void *arg)
{
    tariff_by_id(req, arg, "tariff.get", NULL);
}

void hl_tariff_update(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    json_t *body = hl_body(hl, req);
    if (!body)
        return;
    json_object_del(body, "id"); /* the path names the tariff */
    tariff_by_id(req, hl, "tariff.update", body);
}

void hl_tariff_delete(pl_request *req, void *arg)
{
    tariff_by_id(req, arg, "tariff.delete", NULL);
}

void hl_tariff_assign(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    char id[24];
    json_t *body;
    if (billing_available(hl, req) < 0 || hl_path_id(hl, req, id, sizeof id) < 0 ||
        !(body = hl_body(hl, req)))
        return;
    json_object_set_new(body, "tariff_id", json_string(id));
    hl_billing_call(hl, req, "tariff.assign", body, "tariff", 201, hl_domain_created,
                    "/api/v1/tariff-assignments/");
}

void hl_tariff_assignments(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    char id[24];
    int active = 0, present = 0;
    if (billing_available(hl, req) < 0 || hl_path_id(hl, req, id, sizeof id) < 0 ||
        hl_query_bool(hl, req, "active", &active, &present) < 0)
        return;
    json_t *args = json_pack("{s:s}", "tariff_id", id);
    if (present)
        json_object_set_new(args, "active", json_boolean(active));
    if (hl_domain_page_args(hl, req, args) < 0) {
        json_decref(args);
        return;
    }
    hl_billing_call(hl, req, "tariff.assignments", args, "tariff", 200, hl_domain_page_ok, NULL);
}

void hl_tariff_unassign(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    char id[24];
    if (billing_available(hl, req) < 0 || hl_path_id(hl, req, id, sizeof id) < 0)
        return;
    hl_billing_call(hl, req, "tariff.unassign", json_pack("{s:s}", "id", id), "assignment", 200,
                    NULL, NULL);
}

/* GET /stations/{id}/tariff?customer_id=&at= : which tariff would price a session
 * started there and then (now by default), and why (the assignment and its level). */
void hl_station_tariff(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const char *station, *at = NULL;
    long customer = 0;
    if (billing_available(hl, req) < 0 || hl_path_station(hl, req, &station) < 0 ||
        hl_query_int(hl, req, "customer_id", HL_OPTIONAL, 1, 0x7fffffffL, 0, &customer) < 0 ||
        hl_query_time(hl, req, "at", &at) < 0)
        return;
    json_t *args = json_pack("{s:s, s:s?}", "station_id", station, "at", at);
    if (customer)
        json_object_set_new(args, "customer_id", json_integer(customer));
    hl_billing_call(hl, req, "tariff.resolve", args, "tariff", 200, NULL, NULL);
}

/* GET /transactions/{id}/cost : the session priced from its stored readings with the
 * tariff in force at its start (running while it is active, final once it ended). */
void hl_tx_cost(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    struct hl_tx_ref r;
    if (billing_available(hl, req) < 0 || hl_path_tx(hl, req, &r) < 0)
        return;
    json_t *args = r.id ? json_pack("{s:I}", "id", (json_int_t)r.id)
                        : json_pack("{s:s, s:s}", "station_id", r.station, "station_tx_id",
                                    r.station_tx_id);
    hl_billing_call(hl, req, "transaction.cost", args, "transaction", 200, NULL, NULL);
}

/* GET /cdrs : charge detail records, oldest first, filtered by station, customer,
 * transaction and stop time ([from, to)). */
json_t *hl_cdr_filters(struct headless *hl, pl_request *req)
{
    const char *station = hl->host->req_query(req, "station_id"), *from = NULL, *to = NULL;
    const char *token = hl->host->req_query(req, "id_token");
    long customer = 0, tx = 0;
    if (hl_query_int(hl, req, "customer_id", HL_OPTIONAL, 1, 0x7fffffffL, 0, &customer) < 0 ||
        hl_query_int(hl, req, "transaction_id", HL_OPTIONAL, 1, 0x7fffffffL, 0, &tx) < 0 ||
        hl_query_time(hl, req, "from", &from) < 0 || hl_query_time(hl, req, "to", &to) < 0)
        return NULL;
    const char *bad = station && (!*station || strlen(station) > HL_STATION_ID_MAX) ? "station_id"
                      : token && (!*token || strlen(token) > 255)                   ? "id_token"
                                                                                    : NULL;
    if (bad) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER", "%s must be 1 to 255 characters", bad);
        return NULL;
    }
    json_t *args = json_pack("{s:s?, s:s?, s:s?, s:s?}", "station_id", station, "from", from, "to", to,
                             "id_token", token);
    if (customer)
        json_object_set_new(args, "customer_id", json_integer(customer));
    if (tx)
        json_object_set_new(args, "transaction_id", json_integer(tx));
    return args;
}

void hl_cdr_list(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    json_t *args;
    if (billing_available(hl, req) < 0 || !(args = hl_cdr_filters(hl, req)))
        return;
    if (hl_domain_page_args(hl, req, args) < 0) {
        json_decref(args);
        return;
    }
    hl_billing_call(hl, req, "cdr.list", args, "cdr", 200, hl_domain_page_ok, NULL);
}

void hl_cdr_get(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    char id[24];
    if (billing_available(hl, req) < 0 || hl_path_id(hl, req, id, sizeof id) < 0)
        return;
    hl_billing_call(hl, req, "cdr.get", json_pack("{s:s}", "id", id), "cdr", 200, NULL, NULL);
}

/* POST /tariffs/{id}/quote : a hypothetical session priced by the tariff as it is now. */
void hl_tariff_quote(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    json_t *body = hl_body(hl, req);
    if (!body)
        return;
    json_object_del(body, "id");
    tariff_by_id(req, hl, "tariff.quote", body);
}

/* GET /customers/{id}/statement?from=&to= : the customer's sessions and totals per currency. */
void hl_customer_statement(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    char id[24];
    const char *from = NULL, *to = NULL;
    if (billing_available(hl, req) < 0 || hl_path_id(hl, req, id, sizeof id) < 0 ||
        hl_query_time(hl, req, "from", &from) < 0 || hl_query_time(hl, req, "to", &to) < 0)
        return;
    hl_billing_call(hl, req, "customer.statement",
                    json_pack("{s:s, s:s?, s:s?}", "customer_id", id, "from", from, "to", to),
                    "customer", 200, NULL, NULL);
}
