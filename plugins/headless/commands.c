/*
 * commands.c — "send a command for this request and answer it": the one place that maps
 * station checks and command outcomes to HTTP (sync wait with ?timeout=, or 202 with
 * Prefer: respond-async), plus GET /api/v1/commands and /commands/{id}.
 */
#include "headless.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hl_cmd {
    struct headless *hl;
    pl_request *req;       /* NULL once answered (async) */
    char *station;
    int op;
    json_t *args;          /* owned until sent */
    json_t *sent;          /* a reference to the args as sent (for custom answers) */
    unsigned timeout_ms;
    int async;
    long connector;
    unsigned checks;
    hl_accept_fn accept;
    hl_release_fn release; /* called once: with the finished command, or NULL */
    hl_precheck_fn precheck; /* last check before sending (the remote start's token) */
    void *udata;
    /* the callback may run inside command() (a driver answering at once): then the
     * submitter, not the callback, frees the context */
    int in_send;
    int done;
};

const char *hl_outcome_name(int status)
{
    switch (status) {
    case PL_CMD_PENDING: return "pending";
    case PL_CMD_ACCEPTED: return "Accepted";
    case PL_CMD_REJECTED: return "Rejected";
    case PL_CMD_FAILED: return "Failed";
    case PL_CMD_TIMEOUT: return "Timeout";
    default: return "unknown";
    }
}

int hl_timeout_ms(struct headless *hl, pl_request *req, unsigned *ms)
{
    long s;
    if (hl_query_int(hl, req, "timeout", HL_OPTIONAL, 1, HL_TIMEOUT_MAX_S, HL_TIMEOUT_DEFAULT_S,
                     &s) < 0)
        return -1;
    *ms = (unsigned)s * 1000u;
    return 0;
}

static int wants_async(struct headless *hl, pl_request *req)
{
    const char *p = hl->host->req_header(req, "Prefer");
    return p && strstr(p, "respond-async") != NULL;
}

struct hl_cmd *hl_cmd_new(struct headless *hl, pl_request *req, const char *station, int op,
                          json_t *args)
{
    unsigned ms;
    if (hl_timeout_ms(hl, req, &ms) < 0) {
        json_decref(args);
        return NULL;
    }
    struct hl_cmd *c = calloc(1, sizeof *c);
    if (!c || !(c->station = strdup(station))) {
        free(c);
        json_decref(args);
        hl->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return NULL;
    }
    c->hl = hl;
    c->req = req;
    c->op = op;
    c->args = args ? args : json_object();
    c->timeout_ms = ms;
    c->async = wants_async(hl, req);
    c->connector = -1;
    return c;
}

void hl_cmd_set_connector(struct hl_cmd *c, long connector, unsigned checks)
{
    c->connector = connector;
    c->checks |= checks;
}

void hl_cmd_set_accept(struct hl_cmd *c, hl_accept_fn fn, void *udata)
{
    c->accept = fn;
    c->udata = udata;
}

void hl_cmd_set_release(struct hl_cmd *c, hl_release_fn fn)
{
    c->release = fn;
}

void *hl_cmd_udata(struct hl_cmd *c)
{
    return c->udata;
}

const char *hl_cmd_station(struct hl_cmd *c)
{
    return c->station;
}

json_t *hl_cmd_args(struct hl_cmd *c)
{
    return c->sent ? c->sent : c->args;
}

/* The owner of udata learns the outcome exactly once: cmd is NULL when nothing was sent
 * (a check failed, the driver refused) or the command is already gone. */
static void cmd_release(struct hl_cmd *c, pl_command *cmd)
{
    hl_release_fn fn = c->release;
    c->release = NULL;
    if (fn)
        fn(c->udata, cmd);
}

static void cmd_free(struct hl_cmd *c)
{
    cmd_release(c, NULL);
    json_decref(c->args);
    json_decref(c->sent);
    free(c->station);
    free(c);
}

void hl_reply_command_rc(struct headless *hl, pl_request *req, const char *station, int rc,
                         const char *err)
{
    const struct pl_host *h = hl->host;
    switch (rc) {
    case PL_ENOENT:
        h->reply_error(req, 404, "STATION_NOT_FOUND", "station %s not found", station);
        break;
    case PL_EOFFLINE:
        h->reply_error(req, 409, "STATION_OFFLINE", "station %s is not connected", station);
        break;
    case PL_EINVAL:
        h->reply_error(req, 400, "VALIDATION_ERROR", "%s",
                       err && *err ? err : "invalid command arguments");
        break;
    case PL_ENOTSUP:
        h->reply_error(req, 501, "NOT_SUPPORTED", "%s",
                       err && *err ? err : "the station's protocol does not support this");
        break;
    case PL_EBUSY:
        h->reply_header(req, "Retry-After", "1");
        h->reply_error(req, 503, "STATION_BUSY", "%s",
                       err && *err ? err : "the station's command queue is full");
        break;
    case PL_ESTATE:
        h->reply_error(req, 409, "INVALID_STATE", "%s",
                       err && *err ? err : "refused in the station's current state");
        break;
    default:
        h->reply_error(req, 500, "INTERNAL_ERROR", "%s",
                       err && *err ? err : "the command could not be started");
    }
}

/* Answer a finished command (sync mode). */
static void answer(struct hl_cmd *c, pl_command *cmd)
{
    const struct pl_host *h = c->hl->host;
    const struct pl_station_api *st = c->hl->st;
    pl_request *req = c->req;
    const char *id = st->command_id(cmd);
    int status = st->command_status(cmd);
    json_t *result = st->command_result(cmd);
    const char *err = st->command_error(cmd);

    if (status == PL_CMD_ACCEPTED || (status == PL_CMD_REJECTED && (c->checks & HL_RAW_ANSWER))) {
        if (c->accept) {
            c->accept(c, req, id, result);
            return;
        }
        json_t *b = json_pack("{s:s, s:s, s:O?}", "command_id", id, "status",
                              hl_outcome_name(status), "result", result);
        h->reply_json(req, 200, b);
        return;
    }
    json_t *b;
    int http;
    switch (status) {
    case PL_CMD_REJECTED: {
        json_t *s = result ? json_object_get(result, "status") : NULL;
        http = 409;
        b = json_pack("{s:s, s:s, s:s, s:O?}", "error", "", "code", "REJECTED_BY_STATION",
                      "command_id", id, "result", result);
        char msg[256];
        snprintf(msg, sizeof msg, "the station rejected the command (%s)",
                 json_is_string(s) ? json_string_value(s) : "Rejected");
        json_object_set_new(b, "error", json_string(msg));
        break;
    }
    case PL_CMD_TIMEOUT:
        http = 504;
        b = json_pack("{s:s, s:s, s:s}", "error", "the station did not answer in time", "code",
                      "STATION_TIMEOUT", "command_id", id);
        break;
    default:
        http = 502;
        b = json_pack("{s:s, s:s, s:s, s:O?}", "error",
                      err && *err ? err : "the station failed to carry out the command",
                      "code", "STATION_ERROR", "command_id", id, "result", result);
        break;
    }
    h->reply_json(req, http, b);
}

static void on_done(pl_command *cmd, void *arg)
{
    struct hl_cmd *c = arg;
    if (c->req) {
        answer(c, cmd);
        c->req = NULL;
    }
    cmd_release(c, cmd); /* cmd is valid only during this callback */
    c->done = 1;
    if (!c->in_send)
        cmd_free(c);
}

static void send_now(struct hl_cmd *c)
{
    struct headless *hl = c->hl;
    char err[256] = "";
    int rc = PL_OK;
    json_t *args = c->args;
    c->args = NULL;
    c->sent = json_incref(args);
    c->in_send = 1;
    pl_command *cmd = hl->st->command(hl->self, c->station, c->op, args, c->timeout_ms, on_done,
                                      c, &rc, err, sizeof err);
    c->in_send = 0;
    if (!cmd && !c->done) {
        hl_reply_command_rc(hl, c->req, c->station, rc, err);
        cmd_free(c);
        return;
    }
    if (c->done) { /* completed inside command(): already answered */
        cmd_free(c);
        return;
    }
    if (c->async) {
        const char *id = hl->st->command_id(cmd);
        char loc[128];
        snprintf(loc, sizeof loc, "/api/v1/commands/%s", id);
        hl->host->reply_header(c->req, "Location", loc);
        hl->host->reply_json(c->req, 202, json_pack("{s:s, s:s}", "command_id", id, "status",
                                                    "pending"));
        c->req = NULL; /* the outcome goes to the bus and /commands/{id} */
    }
}

/* ---- answers of the read API ---- */
void hl_read_refused(struct headless *hl, pl_request *req)
{
    hl->host->reply_header(req, "Retry-After", "1");
    hl->host->reply_error(req, 503, "DATABASE_BUSY", "database queue is full");
}

int hl_read_failed(struct headless *hl, pl_request *req, int rc, const char *error,
                   const char *notfound_code)
{
    const struct pl_host *h = hl->host;
    switch (rc) {
    case PL_OK:
        return 0;
    case PL_ENOENT:
        h->reply_error(req, 404, notfound_code, "%s", error);
        break;
    case PL_EINVAL:
        h->reply_error(req, 400, "INVALID_PARAMETER", "%s", error);
        break;
    default:
        h->reply_error(req, 503, "DATABASE_ERROR", "database error: %s", error);
    }
    return 1;
}

/* ---- station checks ---- */
struct require_ctx {
    struct headless *hl;
    pl_request *req;
    char *station;
    int need_online;
    hl_station_next_fn next;
    void *arg;
};

static void on_station_view(int rc, json_t *view, const char *error, void *arg)
{
    struct require_ctx *r = arg;
    if (hl_read_failed(r->hl, r->req, rc, error, "STATION_NOT_FOUND")) {
        /* lets the caller free its state; -1: the table could not be read */
        r->next(r->hl, NULL, r->arg, rc == PL_ENOENT ? 0 : -1);
    } else if (r->need_online && !r->hl->st->online(r->station)) {
        r->hl->host->reply_error(r->req, 409, "STATION_OFFLINE", "station %s is not connected",
                                 r->station);
        r->next(r->hl, NULL, r->arg, 1);
    } else {
        r->next(r->hl, r->req, r->arg, 1);
    }
    json_decref(view);
    free(r->station);
    free(r);
}

/* next(req == NULL) means "already answered: just clean up". */
void hl_station_require(struct headless *hl, pl_request *req, const char *station,
                        int need_online, hl_station_next_fn next, void *arg)
{
    if (hl->st->online(station)) {
        next(hl, req, arg, 1);
        return;
    }
    struct require_ctx *r = calloc(1, sizeof *r);
    if (!r || !(r->station = strdup(station))) {
        free(r);
        hl->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        next(hl, NULL, arg, -1);
        return;
    }
    r->hl = hl;
    r->req = req;
    r->need_online = need_online;
    r->next = next;
    r->arg = arg;
    if (hl->host->model->station(hl->self, station, on_station_view, r) < 0) {
        hl_read_refused(hl, req);
        next(hl, NULL, arg, -1);
        free(r->station);
        free(r);
    }
}

/* ---- connector checks ---- */
static int occupied(const char *s)
{
    static const char *const busy[] = {"Charging", "SuspendedEV", "SuspendedEVSE", "Finishing",
                                       "Occupied", NULL};
    for (int i = 0; busy[i]; i++)
        if (!strcmp(s, busy[i]))
            return 1;
    return 0;
}

/* The checks passed: the command's own check, if any, then send. */
static void checked(struct hl_cmd *c)
{
    if (c->precheck)
        c->precheck(c);
    else
        send_now(c);
}

struct headless *hl_cmd_hl(struct hl_cmd *c)
{
    return c->hl;
}

void hl_cmd_set_precheck(struct hl_cmd *c, hl_precheck_fn fn)
{
    c->precheck = fn;
}

void hl_cmd_proceed(struct hl_cmd *c, int status, const char *code, const char *msg)
{
    if (!status) {
        send_now(c);
        return;
    }
    if (c->req)
        c->hl->host->reply_error(c->req, status, code ? code : "INTERNAL_ERROR", "%s",
                                 msg ? msg : "refused");
    cmd_free(c);
}

static void on_active_tx(int rc, json_t *page, const char *error, void *arg)
{
    struct hl_cmd *c = arg;
    const struct pl_host *h = c->hl->host;
    json_t *tx = json_array_get(json_object_get(page, "items"), 0);
    if (hl_read_failed(c->hl, c->req, rc, error, "TRANSACTION_NOT_FOUND")) {
        cmd_free(c);
    } else if (tx) {
        h->reply_error(c->req, 409, "CONNECTOR_OCCUPIED",
                       "connector %ld has an active transaction (%" JSON_INTEGER_FORMAT ")",
                       c->connector, json_integer_value(json_object_get(tx, "id")));
        cmd_free(c);
    } else if (!c->hl->st->online(c->station)) {
        h->reply_error(c->req, 409, "STATION_OFFLINE", "station %s is not connected",
                       c->station);
        cmd_free(c);
    } else {
        checked(c);
    }
    json_decref(page);
}

static void after_station(struct headless *hl, pl_request *req, void *arg, int exists)
{
    struct hl_cmd *c = arg;
    if (!req) {
        cmd_free(c);
        return;
    }
    if (c->connector >= 0 && (c->checks & (HL_CHECK_CONNECTOR | HL_CHECK_CONNECTOR_FREE))) {
        pl_station *s = hl->st->find(c->station);
        json_t *snap = s ? hl->st->snapshot(s) : NULL;
        long known = 0;
        const char *status = snap ? hl_snapshot_evse_status(snap, c->connector, &known) : NULL;
        /* Unknown when the station has reported no connector yet: let the station decide. */
        if (snap && known > 0 && c->connector > known) {
            hl->host->reply_error(req, 404, "CONNECTOR_NOT_FOUND",
                                  "station %s has no connector %ld (it has %ld)", c->station,
                                  c->connector, known);
            json_decref(snap);
            cmd_free(c);
            return;
        }
        if ((c->checks & HL_CHECK_CONNECTOR_FREE) && status) {
            const char *code = NULL;
            if (!strcmp(status, "Faulted"))
                code = "CONNECTOR_FAULTED";
            else if (!strcmp(status, "Unavailable"))
                code = "CONNECTOR_UNAVAILABLE";
            else if (occupied(status))
                code = "CONNECTOR_OCCUPIED";
            if (code) {
                hl->host->reply_error(req, 409, code, "connector %ld is %s", c->connector,
                                      status);
                json_decref(snap);
                cmd_free(c);
                return;
            }
        }
        json_decref(snap);
        if (c->checks & HL_CHECK_CONNECTOR_FREE) { /* no transaction running on it */
            struct pl_tx_filter f = PL_TX_FILTER_INIT;
            f.station = c->station;
            f.evse = (int)c->connector;
            f.active = 1;
            f.limit = 1;
            if (hl->host->model->transactions(hl->self, &f, on_active_tx, c) < 0) {
                hl_read_refused(hl, req);
                cmd_free(c);
            }
            return;
        }
    }
    checked(c);
}

void hl_cmd_submit(struct hl_cmd *c)
{
    hl_station_require(c->hl, c->req, c->station, 1, after_station, c);
}

/* ---- GET /api/v1/commands/{id}, GET /api/v1/commands ---- */
struct cmd_get_ctx {
    struct headless *hl;
    pl_request *req;
};

static void on_command(int rc, json_t *cmd, const char *error, void *arg)
{
    struct cmd_get_ctx *g = arg;
    if (!hl_read_failed(g->hl, g->req, rc, error, "COMMAND_NOT_FOUND"))
        g->hl->host->reply_json(g->req, 200, cmd);
    free(g);
}

void hl_command_get(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const char *id = hl->host->req_param(req, "id");
    if (!hl_is_uuid(id)) {
        hl->host->reply_error(req, 404, "COMMAND_NOT_FOUND", "command %s not found",
                              id ? id : "");
        return;
    }
    /* in memory while the tracker remembers it, else from the commands' history */
    struct cmd_get_ctx *g = calloc(1, sizeof *g);
    if (!g) {
        hl->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    g->hl = hl;
    g->req = req;
    if (hl->host->model->command(hl->self, id, on_command, g) < 0) {
        hl_read_refused(hl, req);
        free(g);
    }
}

static void on_command_list(int rc, json_t *page, const char *error, void *arg)
{
    struct cmd_get_ctx *g = arg;
    if (!hl_read_failed(g->hl, g->req, rc, error, "STATION_NOT_FOUND")) {
        g->hl->host->reply_json(g->req, 200, json_pack("{s:O, s:n}", "items",
                                                       json_object_get(page, "items"),
                                                       "next_cursor"));
        json_decref(page);
    }
}

void hl_command_list(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    long limit;
    const char *station = hl->host->req_query(req, "station");
    if (hl_query_int(hl, req, "limit", HL_OPTIONAL, 1, HL_LIMIT_MAX, HL_LIMIT_DEFAULT, &limit) <
        0)
        return;
    if (station && (!*station || strlen(station) > HL_STATION_ID_MAX)) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "station must be a station id of 1 to %d characters",
                              HL_STATION_ID_MAX);
        return;
    }
    /* commands() answers from memory before it returns: the context can live here */
    struct cmd_get_ctx g = {hl, req};
    if (hl->host->model->commands(hl->self, station, (int)limit, on_command_list, &g) < 0)
        hl->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
}
