/*
 * routes.c — the plugin's HTTP surface.
 *
 *  The operator's OICP endpoint, called by Hubject (paths of the OICP 2.3 CPO
 *  specification under [oicp] endpoint_prefix; no API key: the hub is admitted by
 *  its client certificate and address; every answer, refusals included, is an HTTP 200
 *  eRoamingAcknowledgement, as the specification has it):
 *    POST .../charging/v21/providers/{providerID}/authorize-remote/start | stop
 *    POST .../reservation/v11/providers/{providerID}/reservation-start-request | -stop-request
 *
 *  The REST gateway (/api/v1/hubject): the same four calls as the hub would send them
 *  (for tests and manual operation), EVSE data per station, sync, status, sessions.
 *  The OCPP server API (/ocpp/v1/hubject): the EVSE records as they would be sent, the
 *  outbox, any operation sent raw.
 */
#include "oicp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- replies ---------- */

struct reply {
    struct oicp *o;
    pl_request *req;
};

static void on_done(void *arg, int status, json_t *body)
{
    struct reply *r = arg;
    r->o->host->reply_json(r->req, status, body);
    free(r);
}

static struct reply *reply_new(struct oicp *o, pl_request *req)
{
    struct reply *r = calloc(1, sizeof *r);
    if (!r) {
        o->host->reply_error(req, 500, "INTERNAL", "out of memory");
        return NULL;
    }
    *r = (struct reply){.o = o, .req = req};
    return r;
}

static int need_enabled(struct oicp *o, pl_request *req)
{
    if (o->enabled)
        return 1;
    o->host->reply_error(req, 503, "ROAMING_DISABLED",
                         "roaming is not configured: set [oicp] url and operator_id");
    return 0;
}

/* ---------- the hub's calls ---------- */

typedef void (*hub_op_fn)(struct oicp *o, const char *provider_id, json_t *body, oicp_done_cb cb, void *arg);

static void inbound(struct oicp *o, pl_request *req, hub_op_fn fn)
{
    const struct pl_host *h = o->host;
    if (!o->enabled) {
        h->reply_json(req, 200, oicp_ack(0, "320", "Service not available"));
        return;
    }
    if (o->nallow) {
        const char *addr = PL_HOST_HAS(h, req_remote_addr) && h->req_remote_addr ? h->req_remote_addr(req) : NULL;
        if (!addr || !oicp_list_has(o->allow_from, o->nallow, addr)) {
            h->log(o->self, PL_LOG_WARN, "a call to the OICP endpoint from %s refused: not in [oicp] allow_from",
                   addr ? addr : "?");
            h->metric_add("pipelet_oicp_inbound_refused_total{reason=\"address\"}", 1);
            h->reply_json(req, 200, oicp_ack(0, "017", "Unauthorized Access"));
            return;
        }
    }
    if (o->client_subject) {
        const char *subject = h->req_client_cert_subject(req);
        if (!subject || strcmp(subject, o->client_subject) != 0) {
            h->log(o->self, PL_LOG_WARN, "a call to the OICP endpoint with certificate %s refused",
                   subject ? subject : "(none)");
            h->metric_add("pipelet_oicp_inbound_refused_total{reason=\"certificate\"}", 1);
            h->reply_json(req, 200, oicp_ack(0, "017", "Unauthorized Access"));
            return;
        }
    }
    json_t *body = h->req_json(req);
    if (!json_is_object(body)) {
        h->reply_json(req, 200, oicp_ack(0, "022", "the body must be a JSON object"));
        return;
    }
    struct reply *r = reply_new(o, req);
    if (r)
        fn(o, h->req_param(req, "providerID"), body, on_done, r);
}

static void on_remote_start(pl_request *req, void *arg) { inbound(arg, req, oicp_remote_start); }
static void on_remote_stop(pl_request *req, void *arg) { inbound(arg, req, oicp_remote_stop); }
static void on_reservation_start(pl_request *req, void *arg) { inbound(arg, req, oicp_reservation_start); }
static void on_reservation_stop(pl_request *req, void *arg) { inbound(arg, req, oicp_reservation_stop); }

/* /api/v1/hubject/...: the same, with the provider taken from the body */
static void as_hub(struct oicp *o, pl_request *req, hub_op_fn fn)
{
    const struct pl_host *h = o->host;
    if (!need_enabled(o, req))
        return;
    json_t *body = h->req_json(req);
    const char *provider = json_string_value(json_object_get(body, "ProviderID"));
    if (!provider) {
        h->reply_error(req, 400, "MISSING_PARAMETER", "ProviderID is required");
        return;
    }
    struct reply *r = reply_new(o, req);
    if (r)
        fn(o, provider, body, on_done, r);
}

static void on_api_remote_start(pl_request *req, void *arg) { as_hub(arg, req, oicp_remote_start); }
static void on_api_remote_stop(pl_request *req, void *arg) { as_hub(arg, req, oicp_remote_stop); }
static void on_api_reservation_start(pl_request *req, void *arg) { as_hub(arg, req, oicp_reservation_start); }
static void on_api_reservation_stop(pl_request *req, void *arg) { as_hub(arg, req, oicp_reservation_stop); }

/* ---------- EVSE data ---------- */

static void on_station_put(pl_request *req, void *arg)
{
    struct oicp *o = arg;
    if (!need_enabled(o, req))
        return;
    struct reply *r = reply_new(o, req);
    if (r)
        oicp_location_put(o, o->host->req_param(req, "id"), o->host->req_json(req), on_done, r);
}

static void on_station_get(pl_request *req, void *arg)
{
    struct oicp *o = arg;
    struct oicp_location *l = oicp_location_find(o, o->host->req_param(req, "id"));
    if (!l) {
        o->host->reply_error(req, 404, "NOT_FOUND", "the station has no EVSE data");
        return;
    }
    o->host->reply_json(req, 200, oicp_location_json(o, l));
}

static void on_station_delete(pl_request *req, void *arg)
{
    struct oicp *o = arg;
    if (!need_enabled(o, req))
        return;
    struct reply *r = reply_new(o, req);
    if (r)
        oicp_location_delete(o, o->host->req_param(req, "id"), on_done, r);
}

static void on_stations(pl_request *req, void *arg)
{
    struct oicp *o = arg;
    json_t *items = json_array();
    for (struct oicp_location *l = o->locations; l; l = l->next)
        json_array_append_new(items, oicp_location_json(o, l));
    o->host->reply_json(req, 200, json_pack("{s:o}", "items", items));
}

static void on_sync(pl_request *req, void *arg)
{
    struct oicp *o = arg;
    if (!need_enabled(o, req))
        return;
    struct reply *r = reply_new(o, req);
    if (r)
        oicp_evse_sync(o, on_done, r);
}

static void on_evse_records(pl_request *req, void *arg)
{
    struct oicp *o = arg;
    json_t *records = oicp_evse_records(o);
    o->host->reply_json(req, 200,
                        json_pack("{s:s, s:s, s:o}", "OperatorID", o->operator_id ? o->operator_id : "",
                                  "OperatorName", o->operator_name, "EvseDataRecord", records));
}

/* ---------- status, sessions, outbox ---------- */

static void on_status_counts(pl_db_result *res, void *arg)
{
    struct reply *r = arg;
    struct oicp *o = r->o;
    const struct pl_host *h = o->host;
    size_t pending = oicp_evse_pending(o);
    size_t open = 0;
    for (struct oicp_session *s = o->sessions; s; s = s->next)
        open++;
    size_t evses = 0, stations = 0;
    for (struct oicp_location *l = o->locations; l; l = l->next, stations++)
        evses += l->nevses;
    json_t *outbox = json_object();
    if (h->db_ok(res))
        for (int i = 0; i < h->db_ntuples(res); i++)
            json_object_set_new(outbox, h->db_value(res, i, 0), json_integer(atoll(h->db_value(res, i, 1) ?: "0")));
    else
        json_object_set_new(outbox, "error", json_string(h->db_error(res)));
    json_t *out = json_pack("{s:b, s:s?, s:s?, s:{s:I, s:I}, s:I, s:I, s:o, s:o}", "enabled", o->enabled,
                            "operator_id", o->operator_id, "url", o->url, "evses", "stations", (json_int_t)stations,
                            "evses", (json_int_t)evses, "status_changes_waiting", (json_int_t)pending,
                            "open_sessions", (json_int_t)open, "outbox", outbox, "operations", oicp_hub_status(o));
    h->reply_json(r->req, 200, out);
    free(r);
}

static void on_status(pl_request *req, void *arg)
{
    struct oicp *o = arg;
    struct reply *r = reply_new(o, req);
    if (r && o->host->db_query(o->self, "SELECT status, count(*) FROM outbox WHERE queue = 'oicp' GROUP BY status",
                               0, NULL, on_status_counts, r) != PL_OK) {
        free(r);
        o->host->reply_error(req, 503, "DATABASE_UNAVAILABLE", "the database queue is full");
    }
}

static void on_rows(pl_db_result *res, void *arg)
{
    struct reply *r = arg;
    const struct pl_host *h = r->o->host;
    if (!h->db_ok(res))
        h->reply_error(r->req, 503, "DATABASE_UNAVAILABLE", "the database did not answer");
    else
        h->reply_json(r->req, 200, json_pack("{s:o}", "items", h->db_json(res)));
    free(r);
}

/* ?status= and ?limit= (1..500, default 100) */
static int list_params(struct oicp *o, pl_request *req, const char *const *statuses, const char **status,
                       char limit[16])
{
    const struct pl_host *h = o->host;
    *status = h->req_query(req, "status");
    if (*status) {
        int ok = 0;
        for (size_t i = 0; statuses[i] && !ok; i++)
            ok = strcmp(statuses[i], *status) == 0;
        if (!ok) {
            h->reply_error(req, 400, "INVALID_ENUM", "status: not a known status");
            return 0;
        }
    }
    const char *l = h->req_query(req, "limit");
    char *end = NULL;
    long n = l ? strtol(l, &end, 10) : 100;
    if (l && (*end || n < 1 || n > 500)) {
        h->reply_error(req, 400, "INVALID_PARAMETER", "limit: 1 to 500");
        return 0;
    }
    snprintf(limit, 16, "%ld", n);
    return 1;
}

static void query_list(struct oicp *o, pl_request *req, const char *sql, const char *status, const char *limit)
{
    struct reply *r = reply_new(o, req);
    const char *params[] = {status, limit};
    if (r && o->host->db_query(o->self, sql, 2, params, on_rows, r) != PL_OK) {
        free(r);
        o->host->reply_error(req, 503, "DATABASE_UNAVAILABLE", "the database queue is full");
    }
}

#define TSQ(x) "to_char(" x " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS " x

static void on_sessions(pl_request *req, void *arg)
{
    struct oicp *o = arg;
    static const char *const statuses[] = {"pending", "reserved", "authorized", "active", "ended",
                                           "failed", "cancelled", "expired", NULL};
    const char *status;
    char limit[16];
    if (!list_params(o, req, statuses, &status, limit))
        return;
    query_list(o, req,
               "SELECT id AS session_id, origin, provider_id, station_id, evse, evse_id, identification, id_token, "
               "cpo_partner_session_id, emp_partner_session_id, partner_product_id, status, reservation_id, "
               "transaction_id, detail, " TSQ("created_at") ", " TSQ("updated_at") ", " TSQ("ended_at")
               " FROM oicp_sessions WHERE ($1::text IS NULL OR status = $1) ORDER BY created_at DESC LIMIT $2::int",
               status, limit);
}

/* The core's rows with the session they belong to under its name here. */
static void on_outbox_rows(void *arg, json_t *rows)
{
    struct reply *r = arg;
    const struct pl_host *h = r->o->host;
    if (!rows) {
        h->reply_error(r->req, 503, "DATABASE_UNAVAILABLE", "the database did not answer");
    } else {
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row)
            json_object_set(row, "session_id", json_object_get(row, "key"));
        h->reply_json(r->req, 200, json_pack("{s:O}", "items", rows));
    }
    free(r);
}

static void on_outbox(pl_request *req, void *arg)
{
    struct oicp *o = arg;
    static const char *const statuses[] = {"pending", "sent", "failed", NULL};
    const char *status;
    char limit[16];
    if (!list_params(o, req, statuses, &status, limit))
        return;
    struct reply *r = reply_new(o, req);
    if (r)
        o->host->outbox->list("oicp", status, atoi(limit), on_outbox_rows, r);
}

static void on_retried(void *arg, json_t *row, const char *error)
{
    struct reply *r = arg;
    const struct pl_host *h = r->o->host;
    if (error)
        h->reply_error(r->req, 503, "DATABASE_UNAVAILABLE", "%s", error);
    else if (!row)
        h->reply_error(r->req, 404, "NOT_FOUND", "no failed outbox row with this id");
    else {
        json_t *out = json_copy(row);
        json_object_set(out, "session_id", json_object_get(row, "key"));
        h->reply_json(r->req, 200, out);
    }
    free(r);
}

static void on_outbox_retry(pl_request *req, void *arg)
{
    struct oicp *o = arg;
    const char *id = o->host->req_param(req, "id");
    char *end = NULL;
    long long n = strtoll(id, &end, 10);
    if (*end || n < 1) {
        o->host->reply_error(req, 400, "INVALID_PARAMETER", "id: an outbox row id");
        return;
    }
    struct reply *r = reply_new(o, req);
    if (r)
        o->host->outbox->retry("oicp", n, on_retried, r);
}

/* POST /ocpp/v1/hubject/operations/{operation}: the body sent as it is */
static void on_raw_answer(struct oicp *o, int http_status, json_t *resp, const char *error, void *arg)
{
    struct reply *r = arg;
    json_t *out = json_pack("{s:i, s:O?}", "http_status", http_status, "response", resp);
    if (error)
        json_object_set_new(out, "error", json_string(error));
    o->host->reply_json(r->req, http_status ? 200 : 502, out);
    free(r);
}

static void on_raw(pl_request *req, void *arg)
{
    struct oicp *o = arg;
    const struct pl_host *h = o->host;
    if (!need_enabled(o, req))
        return;
    const char *name = h->req_param(req, "operation");
    int op = -1;
    for (int i = 0; i < OICP_OP__COUNT && op < 0; i++)
        if (strcmp(oicp_op_name(i), name) == 0)
            op = i;
    if (op < 0) {
        h->reply_error(req, 404, "UNKNOWN_OPERATION", "%s is not an OICP operation of the CPO side", name);
        return;
    }
    json_t *body = h->req_json(req);
    if (!json_is_object(body)) {
        h->reply_error(req, 400, "INVALID_JSON", "the body must be a JSON object");
        return;
    }
    struct reply *r = reply_new(o, req);
    if (r && oicp_hub_call(o, op, json_incref(body), 0, on_raw_answer, r) != PL_OK) {
        free(r);
        h->reply_error(req, 502, "HUBJECT_UNREACHABLE", "the call to Hubject could not be made");
    }
}

/* ---------- registration ---------- */

int oicp_routes_register(struct oicp *o)
{
    const struct pl_host *h = o->host;
    static const struct {
        const char *path;
        pl_route_cb cb;
    } hub[] = {
        {"/charging/v21/providers/{providerID}/authorize-remote/start", on_remote_start},
        {"/charging/v21/providers/{providerID}/authorize-remote/stop", on_remote_stop},
        {"/reservation/v11/providers/{providerID}/reservation-start-request", on_reservation_start},
        {"/reservation/v11/providers/{providerID}/reservation-stop-request", on_reservation_stop},
    };
    for (size_t i = 0; i < sizeof hub / sizeof hub[0]; i++) {
        char pattern[300];
        snprintf(pattern, sizeof pattern, "%s%s", o->endpoint_prefix, hub[i].path);
        struct pl_http_route_opts ro = {.size = sizeof ro, .method = "POST", .pattern = pattern,
                                        .auth_scope = PL_AUTH_NONE,
                                        .flags = o->require_client_cert ? PL_ROUTE_CLIENT_CERT : 0};
        int rc = h->http_route_opts(o->self, &ro, hub[i].cb, o);
        if (rc != PL_OK) {
            h->log(o->self, PL_LOG_ERROR, "route %s: %d", pattern, rc);
            return rc;
        }
    }
    static const struct {
        const char *method, *pattern;
        int scope;
        pl_route_cb cb;
    } api[] = {
        {"GET", "/api/v1/hubject/status", PL_AUTH_READ, on_status},
        {"POST", "/api/v1/hubject/sync", PL_AUTH_OPERATOR, on_sync},
        {"GET", "/api/v1/hubject/stations", PL_AUTH_READ, on_stations},
        {"GET", "/api/v1/hubject/stations/{id}", PL_AUTH_READ, on_station_get},
        {"PUT", "/api/v1/hubject/stations/{id}", PL_AUTH_OPERATOR, on_station_put},
        {"DELETE", "/api/v1/hubject/stations/{id}", PL_AUTH_OPERATOR, on_station_delete},
        {"GET", "/api/v1/hubject/sessions", PL_AUTH_READ, on_sessions},
        {"POST", "/api/v1/hubject/remote-start", PL_AUTH_OPERATOR, on_api_remote_start},
        {"POST", "/api/v1/hubject/remote-stop", PL_AUTH_OPERATOR, on_api_remote_stop},
        {"POST", "/api/v1/hubject/reservations", PL_AUTH_OPERATOR, on_api_reservation_start},
        {"POST", "/api/v1/hubject/reservations/cancel", PL_AUTH_OPERATOR, on_api_reservation_stop},
        {"GET", "/ocpp/v1/hubject/evse-records", PL_AUTH_READ, on_evse_records},
        {"GET", "/ocpp/v1/hubject/outbox", PL_AUTH_READ, on_outbox},
        {"POST", "/ocpp/v1/hubject/outbox/{id}/retry", PL_AUTH_OPERATOR, on_outbox_retry},
        {"POST", "/ocpp/v1/hubject/operations/{operation}", PL_AUTH_ADMIN, on_raw},
    };
    for (size_t i = 0; i < sizeof api / sizeof api[0]; i++) {
        int rc = h->http_route(o->self, api[i].method, api[i].pattern, api[i].scope, api[i].cb, o);
        if (rc != PL_OK) {
            h->log(o->self, PL_LOG_ERROR, "route %s %s: %d", api[i].method, api[i].pattern, rc);
            return rc;
        }
    }
    return PL_OK;
}
