/*
 * transactions.c — /api/v1/transactions: lists and details through the model's read API
 * (pl_host.model), remote start (with the gateway's connector checks) answered with the
 * transaction it started, and remote stop by id or by connector.  The public id is the
 * core's numeric id; the station's own id (station_tx_id) addresses a transaction too (with
 * ?station_id=) and is what REMOTE_STOP carries.
 */
#include "headless.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- GET /transactions ---- */
struct list_ctx {
    struct headless *hl;
    pl_request *req;
};

static void on_list(int rc, json_t *page, const char *error, void *arg)
{
    struct list_ctx *l = arg;
    if (!hl_read_failed(l->hl, l->req, rc, error, "TRANSACTION_NOT_FOUND")) {
        json_t *last = json_object_get(page, "next");
        char *c = json_is_string(last) ? hl_cursor_encode(json_string_value(last)) : NULL;
        l->hl->host->reply_json(l->req, 200,
                                json_pack("{s:O, s:o}", "items", json_object_get(page, "items"),
                                          "next_cursor", c ? json_string(c) : json_null()));
        free(c);
        json_decref(page);
    }
    free(l);
}

static int all_digits(const char *s)
{
    if (!*s || strlen(s) > 19)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* The query's filters; -1 after a 400. */
static int tx_filter(struct headless *hl, pl_request *req, struct pl_tx_filter *f,
                     long *limit, char **cursor)
{
    const struct pl_host *h = hl->host;
    int active, has_active;
    f->station = h->req_query(req, "station");
    f->id_token = h->req_query(req, "id_token");
    f->command_id = h->req_query(req, "command_id");
    if (hl_query_bool(hl, req, "active", &active, &has_active) < 0 ||
        hl_query_time(hl, req, "from", &f->from) < 0 || hl_query_time(hl, req, "to", &f->to) < 0 ||
        hl_page_params(hl, req, limit, cursor) < 0)
        return -1;
    if ((f->station && strlen(f->station) > HL_STATION_ID_MAX) ||
        (f->id_token && strlen(f->id_token) > 255)) {
        h->reply_error(req, 400, "INVALID_PARAMETER", "station / id_token filter too long");
        return -1;
    }
    if (f->command_id && !hl_is_uuid(f->command_id)) {
        h->reply_error(req, 400, "INVALID_PARAMETER",
                       "command_id must be the command id (a UUID) of a remote start");
        return -1;
    }
    if (*cursor && !all_digits(*cursor)) {
        h->reply_error(req, 400, "INVALID_PARAMETER", "cursor is not a cursor this API returned");
        return -1;
    }
    f->active = has_active ? active : PL_MODEL_ANY;
    f->cursor = *cursor;
    f->limit = (int)*limit;
    return 0;
}

void hl_tx_list(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    struct pl_tx_filter f = PL_TX_FILTER_INIT;
    long limit;
    char *cursor = NULL;
    if (tx_filter(hl, req, &f, &limit, &cursor) < 0)
        goto out;
    struct list_ctx *l = calloc(1, sizeof *l);
    if (!l) {
        hl->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        goto out;
    }
    l->hl = hl;
    l->req = req;
    if (hl->host->model->transactions(hl->self, &f, on_list, l) < 0) {
        free(l);
        hl_read_refused(hl, req);
    }
out:
    free(cursor);
}

/* ---- GET /transactions/{id} ---- */
struct one_ctx {
    struct headless *hl;
    pl_request *req;
    char name[400];  /* how the caller named it, for errors */
};

static struct one_ctx *one_new(struct headless *hl, pl_request *req, const struct hl_tx_ref *r)
{
    struct one_ctx *o = calloc(1, sizeof *o);
    if (!o) {
        hl->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return NULL;
    }
    o->hl = hl;
    o->req = req;
    if (r->station)
        snprintf(o->name, sizeof o->name, "%s of station %s", r->station_tx_id, r->station);
    else
        snprintf(o->name, sizeof o->name, "%ld", r->id);
    return o;
}

/* Read the transaction a path names; o is freed here when the read cannot start. */
static void tx_ref_read(struct headless *hl, pl_request *req, struct one_ctx *o,
                        const struct hl_tx_ref *r, unsigned flags, pl_model_cb cb)
{
    if (hl->host->model->transaction(hl->self, r->id, r->station, r->station_tx_id, flags, cb,
                                     o) < 0) {
        free(o);
        hl_read_refused(hl, req);
    }
}

static void on_one(int rc, json_t *tx, const char *error, void *arg)
{
    struct one_ctx *o = arg;
    if (!hl_read_failed(o->hl, o->req, rc, error, "TRANSACTION_NOT_FOUND"))
        o->hl->host->reply_json(o->req, 200, tx);
    free(o);
}

void hl_tx_get(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    struct hl_tx_ref r;
    struct one_ctx *o;
    if (hl_path_tx(hl, req, &r) < 0 || !(o = one_new(hl, req, &r)))
        return;
    tx_ref_read(hl, req, o, &r, PL_MODEL_TX_METER_VALUES, on_one);
}

/* ---- POST /transactions (remote start) and the transaction it starts ----
 * The answer waits, within ?timeout=, until the station accepted AND the transaction
 * started (201 with its ids), else it is a 202 whose Location lists the transaction once
 * it has started.  A watch (struct hl_start) exists from before the command is sent (a
 * 2.0.1 station may send TransactionEvent Started before its RequestStartTransaction
 * answer) until the transaction is linked, or HL_START_LINK_S after the answer.  The link
 * is recorded as the station record "remote_start" (so GET /transactions?command_id=
 * finds it after a restart, and the bus announces it as station.remote_start).
 * Until the command is released the hl_cmd owns the watch; after that, the watch owns
 * itself (its timer, the bus). */
struct hl_start {
    struct hl_start *next;
    struct headless *hl;
    pl_request *req;      /* the caller still waiting, or NULL */
    pl_timer *timer;
    char *station;
    char *id_token;
    char *station_tx_id;  /* the started transaction's, or the one a 2.0.1 answer named */
    long evse;            /* -1: any */
    long long tx_id;      /* the core's id once started, else 0 */
    uint64_t deadline_ms; /* when a waiting caller gets its 202 */
    int accepted;         /* released with ACCEPTED: the watch owns itself */
    json_t *result;       /* the command's result, for the answer */
    char command_id[40];
};

static int starts_supported(struct headless *hl)
{
    const struct pl_host *h = hl->host;
    return h->bus_subscribe && h->bus_unsubscribe && h->timer_new && h->now_ms &&
           hl->st->record;
}

/* 202: accepted, not started (yet); the Location lists it once it has. */
static void start_reply_later(struct hl_start *w)
{
    const struct pl_host *h = w->hl->host;
    char station[3 * HL_STATION_ID_MAX + 1], loc[sizeof station + 96];
    hl_url_encode(w->station, station, sizeof station);
    snprintf(loc, sizeof loc, "/api/v1/transactions?command_id=%s&station=%s", w->command_id,
             station);
    h->reply_header(w->req, "Location", loc);
    h->reply_json(w->req, 202,
                  json_pack("{s:s, s:s, s:O?, s:n, s:s?, s:s}", "command_id", w->command_id,
                            "status", "Accepted", "result", w->result, "transaction_id",
                            "station_tx_id", w->station_tx_id, "location", loc));
    w->req = NULL;
}

static void start_reply_started(struct hl_start *w)
{
    char loc[64];
    snprintf(loc, sizeof loc, "/api/v1/transactions/%lld", w->tx_id);
    w->hl->host->reply_header(w->req, "Location", loc);
    w->hl->host->reply_json(
        w->req, 201,
        json_pack("{s:s, s:s, s:O?, s:I, s:s?}", "command_id", w->command_id, "status",
                  "Accepted", "result", w->result, "transaction_id", (json_int_t)w->tx_id,
                  "station_tx_id", w->station_tx_id));
    w->req = NULL;
}

static void start_free(struct hl_start *w)
{
    struct headless *hl = w->hl;
    for (struct hl_start **pp = &hl->starts; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            hl->nstarts--;
            break;
        }
    if (w->req) /* exactly one answer per request, also at shutdown */
        start_reply_later(w);
    hl->host->timer_free(w->timer);
    free(w->station);
    free(w->id_token);
    free(w->station_tx_id);
    json_decref(w->result);
    free(w);
    if (!hl->starts) {
        hl->host->bus_unsubscribe(hl->start_sub);
        hl->start_sub = NULL;
    }
}

void hl_starts_free(struct headless *hl)
{
    while (hl->starts)
        start_free(hl->starts);
}

/* Accepted and started: record the link, answer a waiting caller, done. */
static void start_link(struct hl_start *w)
{
    struct headless *hl = w->hl;
    pl_station *st = hl->st->find(w->station);
    json_t *rec = json_pack("{s:s, s:I, s:s?, s:s}", "command_id", w->command_id,
                            "transaction_id", (json_int_t)w->tx_id, "station_tx_id",
                            w->station_tx_id, "id_token", w->id_token);
    if (w->evse >= 0)
        json_object_set_new(rec, "evse", json_integer(w->evse));
    if (st)
        hl->st->record(st, "remote_start", rec);
    else {
        hl->host->log(hl->self, PL_LOG_WARN,
                      "remote start %s: station %s left before transaction %lld was linked",
                      w->command_id, w->station, w->tx_id);
        json_decref(rec);
    }
    if (w->req)
        start_reply_started(w);
    start_free(w);
}

/* stx NULL keeps the station's id the watch already knows. */
static void start_found(struct hl_start *w, long long tx_id, const char *stx)
{
    w->tx_id = tx_id;
    if (stx) {
        free(w->station_tx_id);
        w->station_tx_id = strdup(stx);
    }
    if (w->accepted)
        start_link(w);
}

static int start_matches(const struct hl_start *w, const char *station, json_t *tx)
{
    if (w->tx_id || strcmp(w->station, station))
        return 0;
    const char *stx = json_string_value(json_object_get(tx, "station_tx_id"));
    if (w->station_tx_id) /* a 2.0.1 answer named the transaction */
        return stx && !strcmp(w->station_tx_id, stx);
    const char *token = json_string_value(json_object_get(tx, "id_token"));
    json_t *evse = json_object_get(tx, "evse");
    return token && !strcmp(token, w->id_token) &&
           (w->evse < 0 || json_integer_value(evse) == w->evse);
}

static long long row_id(json_t *row)
{
    json_t *id = json_object_get(row, "id");
    if (json_is_integer(id))
        return (long long)json_integer_value(id);
    return json_is_string(id) ? atoll(json_string_value(id)) : 0;
}

/* transaction.started: the oldest watch it matches gets it. */
static void on_tx_started(const char *topic, json_t *env, void *arg)
{
    struct headless *hl = arg;
    const char *station = json_string_value(json_object_get(env, "station"));
    json_t *tx = json_object_get(env, "data");
    long long id = row_id(tx);
    (void)topic;
    if (!station || id <= 0)
        return;
    for (struct hl_start *w = hl->starts; w; w = w->next)
        if (start_matches(w, station, tx)) {
            start_found(w, id, json_string_value(json_object_get(tx, "station_tx_id")));
            return;
        }
}

static void on_start_timer(void *arg)
{
    struct hl_start *w = arg;
    if (!w->req) { /* the link window is over */
        start_free(w);
        return;
    }
    start_reply_later(w);
    w->hl->host->timer_start(w->timer, HL_START_LINK_S * 1000ull, 0);
}

static void start_evict(struct headless *hl)
{
    /* Only a watch that owns itself may go: the others belong to a command in flight. */
    for (struct hl_start *w = hl->starts; w; w = w->next)
        if (w->accepted) {
            start_free(w);
            return;
        }
}

/* NULL when the host cannot watch (no bus or timers) or out of memory: the remote start
 * is then answered on acceptance, without its transaction. */
static struct hl_start *start_new(struct headless *hl, const char *station, long evse,
                                  const char *token, unsigned timeout_ms)
{
    if (!starts_supported(hl))
        return NULL;
    if (hl->nstarts >= HL_START_MAX)
        start_evict(hl);
    if (!hl->start_sub &&
        !(hl->start_sub = hl->host->bus_subscribe(hl->self, "transaction.started",
                                                   on_tx_started, hl)))
        return NULL;
    struct hl_start *w = calloc(1, sizeof *w);
    if (!w || !(w->station = strdup(station)) || !(w->id_token = strdup(token)) ||
        !(w->timer = hl->host->timer_new(hl->self, on_start_timer, w))) {
        if (w) {
            free(w->station);
            free(w->id_token);
        }
        free(w);
        if (!hl->starts) {
            hl->host->bus_unsubscribe(hl->start_sub);
            hl->start_sub = NULL;
        }
        return NULL;
    }
    w->hl = hl;
    w->evse = evse;
    w->deadline_ms = hl->host->now_ms() + timeout_ms;
    struct hl_start **pp = &hl->starts;
    while (*pp)
        pp = &(*pp)->next;
    *pp = w;
    hl->nstarts++;
    return w;
}

/* The station accepted and the caller waits: keep its request (answered by the watch). */
static void start_accepted(struct hl_cmd *c, pl_request *req, const char *command_id,
                           json_t *result)
{
    struct hl_start *w = hl_cmd_udata(c);
    (void)command_id;
    (void)result;
    w->req = req;
}

/* A 2.0.1 station that had started already names the transaction in its answer: it may
 * be in the table before the watch existed.  Found again by command id, since the watch
 * may be gone when the answer comes. */
struct start_lookup {
    struct headless *hl;
    char command_id[40];
};

static void on_start_lookup(int rc, json_t *tx, const char *error, void *arg)
{
    struct start_lookup *l = arg;
    struct headless *hl = l->hl;
    long long id = rc == PL_OK ? row_id(tx) : 0;
    (void)error;
    if (id > 0)
        for (struct hl_start *w = hl->starts; w; w = w->next)
            if (!w->tx_id && !strcmp(w->command_id, l->command_id)) {
                start_found(w, id, NULL);
                break;
            }
    json_decref(tx);
    free(l);
}

static void start_lookup(struct hl_start *w)
{
    struct start_lookup *l = calloc(1, sizeof *l);
    if (!l)
        return; /* the bus may still bring it */
    l->hl = w->hl;
    snprintf(l->command_id, sizeof l->command_id, "%s", w->command_id);
    if (w->hl->host->model->transaction(w->hl->self, 0, w->station, w->station_tx_id, 0,
                                        on_start_lookup, l) < 0)
        free(l);
}

static void start_released(void *udata, pl_command *cmd)
{
    struct hl_start *w = udata;
    struct headless *hl = w->hl;
    if (!cmd || hl->st->command_status(cmd) != PL_CMD_ACCEPTED) {
        start_free(w); /* commands.c answered the error; there is nothing to link */
        return;
    }
    w->accepted = 1;
    snprintf(w->command_id, sizeof w->command_id, "%s", hl->st->command_id(cmd));
    w->result = json_incref(hl->st->command_result(cmd));
    if (w->tx_id) { /* it started before the answer came */
        start_link(w);
        return;
    }
    uint64_t now = hl->host->now_ms();
    hl->host->timer_start(w->timer,
                          !w->req ? HL_START_LINK_S * 1000ull
                                  : w->deadline_ms > now ? w->deadline_ms - now : 0, 0);
    const char *stx = json_string_value(json_object_get(w->result, "transaction"));
    if (stx && *stx && (w->station_tx_id = strdup(stx)))
        start_lookup(w); /* last: with a synchronous database w may be gone after it */
}

static json_t *start_args(json_t *body, long connector, const char *token,
                          const char *token_type)
{
    json_t *profile = json_object_get(body, "charging_profile");
    json_t *args = json_pack("{s:o, s:s}", "evse",
                             connector > 0 ? json_integer(connector) : json_null(), "id_token",
                             token);
    if (token_type)
        json_object_set_new(args, "id_token_type", json_string(token_type));
    if (json_is_object(profile))
        json_object_set(args, "charging_profile", profile);
    return args;
}

/* The token is checked the way the station would check it (TOKEN_BLOCKED, ...): after
 * the station and connector checks, before anything is sent. */
static void on_token_checked(void *arg, int status, const char *code, const char *msg)
{
    hl_cmd_proceed(arg, status, code, msg);
}

static void start_token_check(struct hl_cmd *c)
{
    json_t *args = hl_cmd_args(c);
    json_t *conn = json_object_get(args, "evse");
    hl_remote_start_refusal(hl_cmd_hl(c), hl_cmd_station(c),
                            json_is_integer(conn) ? (int)json_integer_value(conn) : 0,
                            json_string_value(json_object_get(args, "id_token")), on_token_checked, c);
}

void hl_tx_start(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const char *station, *token, *token_type;
    long connector = -1;
    int has_connector;
    unsigned ms;
    json_t *body = hl_body(hl, req);
    if (!body)
        return;
    if (hl_body_str(hl, req, body, "station_id", HL_REQUIRED, HL_STATION_ID_MAX, &station) < 0 ||
        hl_body_int(hl, req, body, "connector", HL_OPTIONAL, 1, HL_CONNECTOR_MAX, &connector,
                    &has_connector) < 0 ||
        hl_body_str(hl, req, body, "id_token", HL_REQUIRED, 36, &token) < 0 ||
        hl_body_str(hl, req, body, "id_token_type", HL_OPTIONAL, 32, &token_type) < 0 ||
        hl_timeout_ms(hl, req, &ms) < 0)
        goto out;
    json_t *profile = json_object_get(body, "charging_profile");
    if (profile && !json_is_null(profile) && !json_is_object(profile)) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "charging_profile must be an object (a charging profile of the "
                              "station's OCPP version)");
        goto out;
    }
    json_t *args = start_args(body, has_connector ? connector : -1, token, token_type);
    struct hl_start *w = start_new(hl, station, has_connector ? connector : -1, token, ms);
    struct hl_cmd *c = hl_cmd_new(hl, req, station, PL_OP_REMOTE_START, args);
    if (!c) {
        if (w)
            start_free(w);
        goto out;
    }
    if (w) {
        hl_cmd_set_accept(c, start_accepted, w);
        hl_cmd_set_release(c, start_released);
    }
    if (has_connector)
        hl_cmd_set_connector(c, connector, HL_CHECK_CONNECTOR | HL_CHECK_CONNECTOR_FREE);
    hl_cmd_set_precheck(c, start_token_check);
    hl_cmd_submit(c);
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

static void on_stop_tx(int rc, json_t *tx, const char *error, void *arg)
{
    struct one_ctx *o = arg;
    struct headless *hl = o->hl;
    if (hl_read_failed(hl, o->req, rc, error, "TRANSACTION_NOT_FOUND"))
        goto out;
    if (!json_is_true(json_object_get(tx, "active")))
        hl->host->reply_error(o->req, 409, "TRANSACTION_NOT_ACTIVE",
                              "transaction %s has already ended", o->name);
    else
        send_stop(hl, o->req, json_string_value(json_object_get(tx, "station_id")),
                  json_string_value(json_object_get(tx, "station_tx_id")), -1);
    json_decref(tx);
out:
    free(o);
}

void hl_tx_stop(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    struct hl_tx_ref r;
    struct one_ctx *o;
    unsigned ms;
    if (hl_path_tx(hl, req, &r) < 0 || hl_timeout_ms(hl, req, &ms) < 0 ||
        !(o = one_new(hl, req, &r)))
        return;
    tx_ref_read(hl, req, o, &r, 0, on_stop_tx);
}

/* ---- POST /stations/{id}/connectors/{c}/stop ----
 * The connector's newest active transaction; without one, 404 for an unknown station or
 * connector, else 409. */
struct conn_stop_ctx {
    struct headless *hl;
    pl_request *req;
    char *station;
    long connector;
};

static void conn_stop_free(struct conn_stop_ctx *s)
{
    free(s->station);
    free(s);
}

/* No active transaction on the connector, and the station exists. */
static void conn_stop_none(struct conn_stop_ctx *s)
{
    struct headless *hl = s->hl;
    pl_station *st = hl->st->find(s->station);
    json_t *snap = st ? hl->st->snapshot(st) : NULL;
    long known = 0;
    if (snap)
        hl_snapshot_evse_status(snap, s->connector, &known);
    json_decref(snap);
    if (known > 0 && s->connector > known)
        hl->host->reply_error(s->req, 404, "CONNECTOR_NOT_FOUND",
                              "station %s has no connector %ld (it has %ld)", s->station,
                              s->connector, known);
    else
        hl->host->reply_error(s->req, 409, "TRANSACTION_NOT_ACTIVE",
                              "no active transaction on connector %ld of station %s",
                              s->connector, s->station);
}

static void on_conn_station(int rc, json_t *view, const char *error, void *arg)
{
    struct conn_stop_ctx *s = arg;
    if (!hl_read_failed(s->hl, s->req, rc, error, "STATION_NOT_FOUND"))
        conn_stop_none(s);
    json_decref(view);
    conn_stop_free(s);
}

static void on_conn_tx(int rc, json_t *page, const char *error, void *arg)
{
    struct conn_stop_ctx *s = arg;
    struct headless *hl = s->hl;
    if (hl_read_failed(hl, s->req, rc, error, "TRANSACTION_NOT_FOUND"))
        goto out;
    json_t *tx = json_array_get(json_object_get(page, "items"), 0);
    if (tx) {
        send_stop(hl, s->req, s->station, json_string_value(json_object_get(tx, "station_tx_id")),
                  s->connector);
    } else if (hl->st->online(s->station)) {
        conn_stop_none(s);
    } else { /* offline: does it exist at all? */
        json_decref(page);
        if (hl->host->model->station(hl->self, s->station, on_conn_station, s) < 0) {
            hl_read_refused(hl, s->req);
            conn_stop_free(s);
        }
        return;
    }
    json_decref(page);
out:
    conn_stop_free(s);
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
    struct pl_tx_filter f = PL_TX_FILTER_INIT;
    f.station = id;
    f.evse = (int)c;
    f.active = 1;
    f.limit = 1;
    if (hl->host->model->transactions(hl->self, &f, on_conn_tx, s) < 0) {
        conn_stop_free(s);
        hl_read_refused(hl, req);
    }
}
