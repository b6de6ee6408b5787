/*
 * transactions.c — /api/v1/transactions: lists and details from the transactions and
 * meter_values tables, remote start (with the gateway's connector checks) and remote stop
 * by public id or by connector.  The public id is the core's numeric id; the station's own
 * id (station_tx_id) is what REMOTE_STOP carries.
 */
#include "headless.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Energy: the final or latest register reading, else the highest energy sample. */
#define TX_COLUMNS                                                                          \
    "t.id, t.station_id, t.station_tx_id, t.evse, t.connector, t.id_token, "                \
    "t.id_token_type, t.reservation_id, t.meter_start, t.meter_last, t.meter_stop, "        \
    TS("t.started_at") " AS started_at, " TS("t.stopped_at") " AS stopped_at, "             \
    "t.stop_reason, t.stop_id_token, t.charging_state, t.seq_no, t.cost::float8 AS cost, "  \
    TS("t.updated_at") " AS updated_at, (t.stopped_at IS NULL) AS active, "                 \
    "coalesce(t.meter_stop, t.meter_last, (SELECT max(mv.value) FROM meter_values mv "      \
    "WHERE mv.transaction_id = t.id AND mv.measurand = 'Energy.Active.Import.Register' "    \
    "AND coalesce(mv.unit, 'Wh') = 'Wh'), t.meter_start) - t.meter_start AS energy_wh"

#define METER_VALUES_MAX "10000"

static int busy(struct headless *hl, pl_request *req)
{
    hl->host->reply_header(req, "Retry-After", "1");
    hl->host->reply_error(req, 503, "DATABASE_BUSY", "database queue is full");
    return -1;
}

static int db_failed(struct headless *hl, pl_request *req, pl_db_result *res)
{
    if (hl->host->db_ok(res))
        return 0;
    hl->host->reply_error(req, 503, "DATABASE_ERROR", "database error: %s",
                          hl->host->db_error(res));
    return 1;
}

/* ---- GET /transactions ---- */
struct list_ctx {
    struct headless *hl;
    pl_request *req;
    long limit;
};

static void on_list(pl_db_result *res, void *arg)
{
    struct list_ctx *l = arg;
    struct headless *hl = l->hl;
    if (!db_failed(hl, l->req, res)) {
        json_t *rows = hl->host->db_json(res);
        json_t *next = json_null();
        if (json_array_size(rows) > (size_t)l->limit) {
            json_array_remove(rows, (size_t)l->limit);
            char id[32];
            snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT,
                     json_integer_value(
                         json_object_get(json_array_get(rows, (size_t)l->limit - 1), "id")));
            char *c = hl_cursor_encode(id);
            if (c)
                next = json_string(c);
            free(c);
        }
        hl->host->reply_json(l->req, 200,
                             json_pack("{s:o, s:o}", "items", rows, "next_cursor", next));
    }
    free(l);
}

static int all_digits(const char *s)
{
    if (!*s || strlen(s) > 19)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

void hl_tx_list(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const struct pl_host *h = hl->host;
    long limit;
    char *cursor = NULL;
    int active, has_active;
    const char *from, *to;
    const char *station = h->req_query(req, "station");
    const char *token = h->req_query(req, "id_token");
    if (hl_query_bool(hl, req, "active", &active, &has_active) < 0 ||
        hl_query_time(hl, req, "from", &from) < 0 || hl_query_time(hl, req, "to", &to) < 0 ||
        hl_page_params(hl, req, &limit, &cursor) < 0)
        return;
    if ((station && strlen(station) > HL_STATION_ID_MAX) || (token && strlen(token) > 255)) {
        h->reply_error(req, 400, "INVALID_PARAMETER", "station / id_token filter too long");
        goto out;
    }
    if (cursor && !all_digits(cursor)) {
        h->reply_error(req, 400, "INVALID_PARAMETER", "cursor is not a cursor this API returned");
        goto out;
    }
    struct hl_sql q = {0};
    char lim[24];
    hl_sql_add(&q, "SELECT " TX_COLUMNS " FROM transactions t WHERE true");
    if (has_active)
        hl_sql_add(&q, " AND t.stopped_at IS %s NULL", active ? "" : "NOT");
    if (station)
        hl_sql_add(&q, " AND t.station_id = $%d", hl_sql_param(&q, station));
    if (token)
        hl_sql_add(&q, " AND t.id_token = $%d", hl_sql_param(&q, token));
    if (from)
        hl_sql_add(&q, " AND t.started_at >= $%d::timestamptz", hl_sql_param(&q, from));
    if (to)
        hl_sql_add(&q, " AND t.started_at < $%d::timestamptz", hl_sql_param(&q, to));
    if (cursor)
        hl_sql_add(&q, " AND t.id < $%d::bigint", hl_sql_param(&q, cursor));
    snprintf(lim, sizeof lim, "%ld", limit + 1);
    hl_sql_add(&q, " ORDER BY t.id DESC LIMIT $%d::int", hl_sql_param(&q, lim));
    struct list_ctx *l = calloc(1, sizeof *l);
    if (!l || q.overflow) {
        free(l);
        h->reply_error(req, 500, "INTERNAL_ERROR", "could not build the query");
        goto out;
    }
    l->hl = hl;
    l->req = req;
    l->limit = limit;
    if (h->db_query(hl->self, q.text, q.n, q.params, on_list, l) < 0) {
        free(l);
        busy(hl, req);
    }
out:
    free(cursor);
}

/* ---- GET /transactions/{id} ---- */
struct one_ctx {
    struct headless *hl;
    pl_request *req;
    char id[24];
};

static void on_one(pl_db_result *res, void *arg)
{
    struct one_ctx *o = arg;
    struct headless *hl = o->hl;
    if (!db_failed(hl, o->req, res)) {
        json_t *rows = hl->host->db_json(res);
        json_t *row = json_array_get(rows, 0);
        if (!row)
            hl->host->reply_error(o->req, 404, "TRANSACTION_NOT_FOUND",
                                  "transaction %s not found", o->id);
        else
            hl->host->reply_json(o->req, 200, json_incref(row));
        json_decref(rows);
    }
    free(o);
}

void hl_tx_get(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    long id;
    if (hl_path_int(hl, req, "id", 1, 0x7fffffffffffffffL, &id) < 0)
        return;
    struct one_ctx *o = calloc(1, sizeof *o);
    if (!o) {
        hl->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    o->hl = hl;
    o->req = req;
    snprintf(o->id, sizeof o->id, "%ld", id);
    const char *params[1] = {o->id};
    const char *sql =
        "SELECT " TX_COLUMNS ", (SELECT coalesce(json_agg(json_build_object('timestamp', "
        TS("m.ts") ", 'measurand', m.measurand, 'value', m.value, 'unit', m.unit, 'phase', "
        "m.phase, 'context', m.context, 'location', m.location, 'evse', m.evse, 'connector', "
        "m.connector) ORDER BY m.ts, m.id), '[]'::json) FROM (SELECT * FROM meter_values "
        "WHERE transaction_id = t.id ORDER BY ts, id LIMIT " METER_VALUES_MAX ") m) AS "
        "meter_values FROM transactions t WHERE t.id = $1::bigint";
    if (hl->host->db_query(hl->self, sql, 1, params, on_one, o) < 0) {
        free(o);
        busy(hl, req);
    }
}

/* ---- POST /transactions (remote start) ---- */
void hl_tx_start(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const char *station, *token, *token_type;
    long connector = -1;
    int has_connector;
    json_t *body = hl_body(hl, req);
    if (!body)
        return;
    if (hl_body_str(hl, req, body, "station_id", HL_REQUIRED, HL_STATION_ID_MAX, &station) < 0 ||
        hl_body_int(hl, req, body, "connector", HL_OPTIONAL, 1, HL_CONNECTOR_MAX, &connector,
                    &has_connector) < 0 ||
        hl_body_str(hl, req, body, "id_token", HL_REQUIRED, 36, &token) < 0 ||
        hl_body_str(hl, req, body, "id_token_type", HL_OPTIONAL, 32, &token_type) < 0)
        goto out;
    json_t *profile = json_object_get(body, "charging_profile");
    if (profile && !json_is_null(profile) && !json_is_object(profile)) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "charging_profile must be an object (a charging profile of the "
                              "station's OCPP version)");
        goto out;
    }
    json_t *args = json_pack("{s:o, s:s}", "evse",
                             has_connector ? json_integer(connector) : json_null(), "id_token",
                             token);
    if (token_type)
        json_object_set_new(args, "id_token_type", json_string(token_type));
    if (profile && json_is_object(profile))
        json_object_set(args, "charging_profile", profile);
    struct hl_cmd *c = hl_cmd_new(hl, req, station, PL_OP_REMOTE_START, args);
    if (c) {
        if (has_connector)
            hl_cmd_set_connector(c, connector, HL_CHECK_CONNECTOR | HL_CHECK_CONNECTOR_FREE);
        hl_cmd_submit(c);
    }
out:
    json_decref(body);
}

/* ---- POST /transactions/{id}/stop ---- */
static void send_stop(struct headless *hl, pl_request *req, const char *station,
                      const char *station_tx_id, long connector)
{
    struct hl_cmd *c = hl_cmd_new(hl, req, station, PL_OP_REMOTE_STOP,
                                  json_pack("{s:s}", "transaction", station_tx_id));
    if (!c)
        return;
    if (connector > 0)
        hl_cmd_set_connector(c, connector, HL_CHECK_CONNECTOR);
    hl_cmd_submit(c);
}

static void on_stop_row(pl_db_result *res, void *arg)
{
    struct one_ctx *o = arg;
    struct headless *hl = o->hl;
    const struct pl_host *h = hl->host;
    if (db_failed(hl, o->req, res))
        goto out;
    if (h->db_ntuples(res) == 0) {
        h->reply_error(o->req, 404, "TRANSACTION_NOT_FOUND", "transaction %s not found", o->id);
        goto out;
    }
    const char *stopped = h->db_value(res, 0, 2);
    if (stopped && (!strcmp(stopped, "t") || !strcmp(stopped, "true"))) {
        h->reply_error(o->req, 409, "TRANSACTION_NOT_ACTIVE",
                       "transaction %s has already ended", o->id);
        goto out;
    }
    send_stop(hl, o->req, h->db_value(res, 0, 0), h->db_value(res, 0, 1), -1);
out:
    free(o);
}

void hl_tx_stop(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    long id;
    unsigned ms;
    if (hl_path_int(hl, req, "id", 1, 0x7fffffffffffffffL, &id) < 0 ||
        hl_timeout_ms(hl, req, &ms) < 0)
        return;
    struct one_ctx *o = calloc(1, sizeof *o);
    if (!o) {
        hl->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    o->hl = hl;
    o->req = req;
    snprintf(o->id, sizeof o->id, "%ld", id);
    const char *params[1] = {o->id};
    if (hl->host->db_query(hl->self,
                           "SELECT station_id, station_tx_id, (stopped_at IS NOT NULL) "
                           "FROM transactions WHERE id = $1::bigint",
                           1, params, on_stop_row, o) < 0) {
        free(o);
        busy(hl, req);
    }
}

/* ---- POST /stations/{id}/connectors/{c}/stop ---- */
struct conn_stop_ctx {
    struct headless *hl;
    pl_request *req;
    char *station;
    long connector;
};

static void on_conn_stop(pl_db_result *res, void *arg)
{
    struct conn_stop_ctx *s = arg;
    struct headless *hl = s->hl;
    const struct pl_host *h = hl->host;
    if (db_failed(hl, s->req, res))
        goto out;
    const char *exists = h->db_value(res, 0, 0);
    const char *tx = h->db_value(res, 0, 1);
    if (!exists && !hl->st->online(s->station)) {
        h->reply_error(s->req, 404, "STATION_NOT_FOUND", "station %s not found", s->station);
        goto out;
    }
    if (!tx) {
        pl_station *st = hl->st->find(s->station);
        json_t *snap = st ? hl->st->snapshot(st) : NULL;
        long known = 0;
        if (snap)
            hl_snapshot_evse_status(snap, s->connector, &known);
        json_decref(snap);
        if (known > 0 && s->connector > known)
            h->reply_error(s->req, 404, "CONNECTOR_NOT_FOUND",
                           "station %s has no connector %ld (it has %ld)", s->station,
                           s->connector, known);
        else
            h->reply_error(s->req, 409, "TRANSACTION_NOT_ACTIVE",
                           "no active transaction on connector %ld of station %s",
                           s->connector, s->station);
        goto out;
    }
    send_stop(hl, s->req, s->station, tx, s->connector);
out:
    free(s->station);
    free(s);
}

void hl_connector_stop(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const char *id;
    long c;
    unsigned ms;
    if (hl_path_station(hl, req, &id) < 0 ||
        hl_path_int(hl, req, "c", 1, HL_CONNECTOR_MAX, &c) < 0 || hl_timeout_ms(hl, req, &ms) < 0)
        return;
    struct conn_stop_ctx *s = calloc(1, sizeof *s);
    if (!s || !(s->station = strdup(id))) {
        free(s);
        hl->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    s->hl = hl;
    s->req = req;
    s->connector = c;
    char evse[24];
    snprintf(evse, sizeof evse, "%ld", c);
    const char *params[2] = {s->station, evse};
    if (hl->host->db_query(hl->self,
                           "SELECT (SELECT 1 FROM stations WHERE id = $1), (SELECT "
                           "station_tx_id FROM transactions WHERE station_id = $1 AND evse = "
                           "$2::int AND stopped_at IS NULL ORDER BY id DESC LIMIT 1)",
                           2, params, on_conn_stop, s) < 0) {
        free(s->station);
        free(s);
        busy(hl, req);
    }
}
