/*
 * ocpp_api.c — /ocpp/v1, the lower layer with full protocol fidelity: raw CALLs of the
 * station's own protocol (validated against its message set before sending), the message
 * log, configuration dump/restore and the list of connections.  Still version-neutral:
 * the message set is looked up by the station's subprotocol at request time.
 */
#include "headless.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESTORE_KEYS_MAX 1000

/* ---- GET /ocpp/v1/stations ---- */
void hl_ocpp_stations(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    json_t *online = hl->st->list_online();
    json_t *items = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(online, i, s) {
        json_t *o = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}", "id",
                              json_object_get(s, "id"), "protocol",
                              json_object_get(s, "protocol"), "vendor",
                              json_object_get(s, "vendor"), "model", json_object_get(s, "model"),
                              "firmware", json_object_get(s, "firmware"), "connected_since",
                              json_object_get(s, "connected_since"), "last_seen",
                              json_object_get(s, "last_seen"));
        json_t *conn = json_object_get(s, "connection");
        if (json_is_object(conn))
            json_object_update_missing(o, conn); /* remote_addr, subprotocol, queue_depth... */
        json_object_set(o, "connection", conn ? conn : json_null());
        json_array_append_new(items, o);
    }
    json_decref(online);
    hl->host->reply_json(req, 200, json_pack("{s:I, s:o}", "count",
                                             (json_int_t)json_array_size(items), "items", items));
}

/* ---- POST /ocpp/v1/stations/{id}/calls/{action} ---- */
static void raw_accepted(struct hl_cmd *c, pl_request *req, const char *cmd_id, json_t *result)
{
    struct headless *hl = hl_cmd_udata(c);
    json_t *raw = json_object_get(result, "raw");
    json_t *status = json_object_get(raw ? raw : result, "status");
    hl->host->reply_json(req, 200,
                         json_pack("{s:s, s:O?, s:O?, s:O?}", "command_id", cmd_id, "action",
                                   json_object_get(hl_cmd_args(c), "action"), "status",
                                   json_is_string(status) ? status : NULL, "response",
                                   raw ? raw : result));
}

static int action_name_ok(const char *a)
{
    size_t n = a ? strlen(a) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)a[i]))
            return 0;
    return 1;
}

/* Does a payload set a credential?  The words of hl_config_key_sensitive (the check of
 * PUT /api/v1/.../configuration/{key}) wherever a version carries a key or a value:
 * ChangeConfiguration {"key"}, SetVariables {"variable":{"name"}}, members named like
 * basicAuthPassword (SetNetworkProfile). */
static int sensitive(const char *name)
{
    return name && hl_config_key_sensitive(name);
}

static int holds_credential(json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_array(j)) {
        json_array_foreach(j, i, v)
            if (holds_credential(v))
                return 1;
        return 0;
    }
    if (!json_is_object(j))
        return 0;
    if (sensitive(json_string_value(json_object_get(j, "key"))) ||
        sensitive(json_string_value(json_object_get(json_object_get(j, "variable"), "name"))))
        return 1;
    json_object_foreach(j, k, v)
        if ((!json_is_null(v) && sensitive(k)) || holds_credential(v))
            return 1;
    return 0;
}

/* SetNetworkProfile needs an admin key even without a password: its csmsUrl would send
 * the station, and its Basic credentials, to whichever server it names. */
static int needs_admin(const char *action, json_t *payload)
{
    return !strcmp(action, "SetNetworkProfile") || holds_credential(payload);
}

void hl_ocpp_call(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const struct pl_host *h = hl->host;
    const char *id;
    const char *action = h->req_param(req, "action");
    json_t *payload;
    if (hl_path_station(hl, req, &id) < 0)
        return;
    if (!action_name_ok(action)) {
        h->reply_error(req, 400, "INVALID_PARAMETER",
                       "action must be an OCPP action name (letters and digits)");
        return;
    }
    if (!(payload = hl_body(hl, req)))
        return;
    if (h->req_scope(req) < PL_AUTH_ADMIN && needs_admin(action, payload)) {
        h->reply_error(req, 403, "FORBIDDEN", "%s needs an admin key here: it sets a station credential or where the "
                       "station connects", action);
        goto out;
    }
    /* Validate against the station's own protocol now, so the client gets every reason in
     * a 400 rather than a generic failure; offline stations fall through to 404/409. */
    pl_station *st = hl->st->find(id);
    if (st && PL_HOST_HAS(h, ocpp) && h->ocpp) {
        const char *proto = hl->st->protocol(st);
        const struct pl_ocpp_protocol *p = proto ? h->ocpp->protocol(proto) : NULL;
        if (p) {
            const struct pl_ocpp_action *a = h->ocpp->action(p, action);
            char err[512] = "";
            if (!a) {
                h->reply_error(req, 400, "UNKNOWN_ACTION", "%s is not an action of %s", action,
                               proto);
                goto out;
            }
            if (a->direction == PL_OCPP_FROM_STATION) {
                h->reply_error(req, 400, "UNKNOWN_ACTION",
                               "%s is sent by the station, not by the central system", action);
                goto out;
            }
            if (a->request && h->ocpp->validate(a->request, payload, err, sizeof err) != 0) {
                h->reply_error(req, 400, "VALIDATION_ERROR", "%s: %s", action,
                               *err ? err : "invalid payload");
                goto out;
            }
        }
    }
    struct hl_cmd *c = hl_cmd_new(hl, req, id, PL_OP_RAW_CALL,
                                  json_pack("{s:s, s:O}", "action", action, "payload", payload));
    if (c) {
        hl_cmd_set_accept(c, raw_accepted, hl);
        hl_cmd_set_connector(c, -1, HL_RAW_ANSWER);
        hl_cmd_submit(c);
    }
out:
    json_decref(payload);
}

/* ---- GET /ocpp/v1/stations/{id}/messages ---- */
struct msg_ctx {
    char *action;
    const char *dir;
    long limit;
};

static void messages_after_station(struct headless *hl, pl_request *req, void *arg, int exists)
{
    struct msg_ctx *m = arg;
    if (req) {
        const char *id = hl->host->req_param(req, "id");
        json_t *items = hl->st->messages(id, m->action, m->dir, (int)m->limit);
        hl->host->reply_json(req, 200, json_pack("{s:s, s:o}", "station", id, "items",
                                                 items ? items : json_array()));
    }
    free(m->action);
    free(m);
}

void hl_ocpp_messages(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    static const char *const dirs[] = {"in", "out", NULL};
    const char *id, *dir;
    long limit;
    const char *action = hl->host->req_query(req, "action");
    if (hl_path_station(hl, req, &id) < 0 || hl_query_enum(hl, req, "dir", dirs, &dir) < 0 ||
        hl_query_int(hl, req, "limit", HL_OPTIONAL, 1, 1000, 100, &limit) < 0)
        return;
    if (action && !action_name_ok(action)) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "action must be an OCPP action name (letters and digits)");
        return;
    }
    struct msg_ctx *m = calloc(1, sizeof *m);
    if (!m || (action && !(m->action = strdup(action)))) {
        free(m);
        hl->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    m->dir = dir; /* static storage */
    m->limit = limit;
    hl_station_require(hl, req, id, 0, messages_after_station, m);
}

/* ---- GET /ocpp/v1/stations/{id}/configuration/dump ---- */
struct dump_ctx {
    struct headless *hl;
    pl_request *req;
    char *station;
    char command_id[40];
};

static void on_dump_stored(pl_db_result *res, void *arg)
{
    struct dump_ctx *d = arg;
    const struct pl_host *h = d->hl->host;
    if (!h->db_ok(res)) {
        h->reply_error(d->req, 503, "DATABASE_ERROR", "database error: %s", h->db_error(res));
    } else {
        json_t *rows = h->db_json(res), *keys = json_array(), *r;
        size_t i;
        json_array_foreach(rows, i, r) {
            const char *k = json_string_value(json_object_get(r, "key"));
            if (k)
                json_array_append_new(keys, hl_config_stored_entry(k, json_object_get(r, "value")));
        }
        h->reply_json(d->req, 200,
                      json_pack("{s:s, s:s, s:s, s:I, s:o, s:[]}", "station", d->station,
                                "source", "stored", "command_id", d->command_id, "count",
                                (json_int_t)json_array_size(keys), "keys", keys, "unknown"));
        json_decref(rows);
    }
    free(d->station);
    free(d);
}

static void dump_accepted(struct hl_cmd *c, pl_request *req, const char *cmd_id, json_t *result)
{
    struct headless *hl = hl_cmd_udata(c);
    json_t *keys = json_object_get(result, "keys");
    json_t *unknown = json_object_get(result, "unknown");
    if (json_array_size(keys) == 0) {
        /* "All keys" answered by a later report (2.0.1 GetBaseReport -> NotifyReport):
         * the stored device model is the dump. */
        struct dump_ctx *d = calloc(1, sizeof *d);
        if (d && (d->station = strdup(hl_cmd_station(c)))) {
            d->hl = hl;
            d->req = req;
            snprintf(d->command_id, sizeof d->command_id, "%s", cmd_id);
            const char *params[1] = {d->station};
            if (hl->host->db_query(hl->self,
                                   "SELECT key, value FROM station_docs WHERE station_id = $1 "
                                   "AND kind IN ('configuration', 'variable') ORDER BY key "
                                   "LIMIT 10000",
                                   1, params, on_dump_stored, d) == 0)
                return;
            free(d->station);
        }
        free(d);
    }
    hl->host->reply_json(req, 200,
                         json_pack("{s:s, s:s, s:s, s:I, s:o, s:o}", "station", hl_cmd_station(c),
                                   "source", "station", "command_id", cmd_id, "count",
                                   (json_int_t)json_array_size(keys), "keys",
                                   keys ? json_incref(keys) : json_array(), "unknown",
                                   unknown ? json_incref(unknown) : json_array()));
}

void hl_ocpp_config_dump(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const char *id;
    if (hl_path_station(hl, req, &id) < 0)
        return;
    struct hl_cmd *c = hl_cmd_new(hl, req, id, PL_OP_GET_CONFIGURATION, json_object());
    if (!c)
        return;
    hl_cmd_set_accept(c, dump_accepted, hl);
    hl_cmd_submit(c);
}

/* ---- POST /ocpp/v1/stations/{id}/configuration/restore ----
 * Read the station's keys once (to know the read-only ones, which are reported, not
 * sent), then SET_CONFIGURATION key by key, in order, waiting for each answer. */
struct restore {
    struct headless *hl;
    pl_request *req;
    char *station;
    json_t *keys;     /* [{"key","value"}] with string values */
    json_t *readonly; /* object: key -> true */
    size_t next, current;
    unsigned timeout_ms;
    int in_send, sync_done;
    json_t *applied, *reboot, *ro, *rejected, *failed;
};

static void restore_free(struct restore *r)
{
    json_decref(r->keys);
    json_decref(r->readonly);
    json_decref(r->applied);
    json_decref(r->reboot);
    json_decref(r->ro);
    json_decref(r->rejected);
    json_decref(r->failed);
    free(r->station);
    free(r);
}

static void restore_finish(struct restore *r)
{
    json_t *b = json_pack("{s:s, s:O, s:O, s:O, s:O, s:O}", "station", r->station, "applied",
                          r->applied, "reboot_required", r->reboot, "readonly", r->ro,
                          "rejected", r->rejected, "failed", r->failed);
    r->hl->host->reply_json(r->req, 200, b);
    restore_free(r);
}

static const char *rc_text(int rc)
{
    switch (rc) {
    case PL_EOFFLINE: return "STATION_OFFLINE";
    case PL_ENOENT: return "STATION_NOT_FOUND";
    case PL_EINVAL: return "VALIDATION_ERROR";
    case PL_ENOTSUP: return "NOT_SUPPORTED";
    case PL_EBUSY: return "STATION_BUSY";
    default: return "INTERNAL_ERROR";
    }
}

static void restore_step(struct restore *r);

static void on_set(pl_command *cmd, void *arg)
{
    struct restore *r = arg;
    const struct pl_station_api *st = r->hl->st;
    json_t *item = json_array_get(r->keys, r->current);
    json_t *key = json_object_get(item, "key");
    int status = st->command_status(cmd);
    json_t *result = st->command_result(cmd);
    json_t *ss = json_object_get(result, "status");
    if (status == PL_CMD_ACCEPTED) {
        json_array_append(r->applied, key);
        if (json_is_string(ss) && !strcmp(json_string_value(ss), "RebootRequired"))
            json_array_append(r->reboot, key);
    } else if (status == PL_CMD_REJECTED) {
        json_array_append_new(r->rejected,
                              json_pack("{s:O, s:O?}", "key", key, "status",
                                        json_is_string(ss) ? ss : NULL));
    } else {
        const char *err = st->command_error(cmd);
        json_array_append_new(
            r->failed, json_pack("{s:O, s:s, s:s}", "key", key, "code",
                                 status == PL_CMD_TIMEOUT ? "STATION_TIMEOUT" : "STATION_ERROR",
                                 "error", err ? err : hl_outcome_name(status)));
    }
    r->sync_done = 1;
    if (!r->in_send)
        restore_step(r);
}

static void restore_step(struct restore *r)
{
    struct headless *hl = r->hl;
    while (r->next < json_array_size(r->keys)) {
        r->current = r->next++;
        json_t *item = json_array_get(r->keys, r->current);
        json_t *key = json_object_get(item, "key");
        if (json_object_get(r->readonly, json_string_value(key))) {
            json_array_append(r->ro, key);
            continue;
        }
        char err[256] = "";
        int rc = PL_OK;
        r->in_send = 1;
        r->sync_done = 0;
        pl_command *cmd = hl->st->command(hl->self, r->station, PL_OP_SET_CONFIGURATION,
                                          json_deep_copy(item), r->timeout_ms, on_set, r, &rc,
                                          err, sizeof err);
        r->in_send = 0;
        if (r->sync_done)
            continue;
        if (!cmd) {
            json_array_append_new(r->failed, json_pack("{s:O, s:s, s:s}", "key", key, "code",
                                                       rc_text(rc), "error",
                                                       *err ? err : rc_text(rc)));
            continue;
        }
        return; /* on_set continues */
    }
    restore_finish(r);
}

static void on_restore_keys(pl_command *cmd, void *arg)
{
    struct restore *r = arg;
    const struct pl_station_api *st = r->hl->st;
    json_t *result = st->command_result(cmd);
    size_t i;
    json_t *k;
    /* Without the list (the read failed) every key is simply attempted. */
    json_array_foreach(json_object_get(result, "keys"), i, k)
        if (json_is_true(json_object_get(k, "readonly")) &&
            json_is_string(json_object_get(k, "key")))
            json_object_set_new(r->readonly, json_string_value(json_object_get(k, "key")),
                                json_true());
    r->sync_done = 1;
    if (!r->in_send)
        restore_step(r);
}

static void restore_after_station(struct headless *hl, pl_request *req, void *arg, int exists)
{
    struct restore *r = arg;
    if (!req) {
        restore_free(r);
        return;
    }
    char err[256] = "";
    int rc = PL_OK;
    r->in_send = 1;
    r->sync_done = 0;
    pl_command *cmd = hl->st->command(hl->self, r->station, PL_OP_GET_CONFIGURATION,
                                      json_object(), r->timeout_ms, on_restore_keys, r, &rc, err,
                                      sizeof err);
    r->in_send = 0;
    if (r->sync_done) {
        restore_step(r);
        return;
    }
    if (!cmd) {
        hl_reply_command_rc(hl, req, r->station, rc, err);
        restore_free(r);
    }
}

void hl_ocpp_config_restore(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const struct pl_host *h = hl->host;
    const char *id;
    unsigned ms;
    json_t *body;
    if (hl_path_station(hl, req, &id) < 0 || hl_timeout_ms(hl, req, &ms) < 0 ||
        !(body = hl_body(hl, req)))
        return;
    json_t *keys = json_object_get(body, "keys");
    struct restore *r = NULL;
    if (!keys || json_is_null(keys)) {
        h->reply_error(req, 400, "MISSING_PARAMETER", "keys is required");
        goto out;
    }
    if (!json_is_array(keys) || json_array_size(keys) > RESTORE_KEYS_MAX) {
        h->reply_error(req, 400, "INVALID_PARAMETER",
                       "keys must be an array of at most %d {\"key\",\"value\"} objects",
                       RESTORE_KEYS_MAX);
        goto out;
    }
    json_t *clean = json_array();
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        json_t *key = json_object_get(k, "key"), *value = json_object_get(k, "value");
        char vbuf[64];
        const char *v = NULL;
        if (!json_is_string(key) || !json_string_length(key) || json_string_length(key) > 500) {
            h->reply_error(req, 400, "INVALID_PARAMETER",
                           "keys[%zu].key must be a string of 1 to 500 characters", i);
            json_decref(clean);
            goto out;
        }
        if (json_is_string(value) && json_string_length(value) <= 2500)
            v = json_string_value(value);
        else if (json_is_boolean(value))
            v = json_is_true(value) ? "true" : "false";
        else if (json_is_integer(value)) {
            snprintf(vbuf, sizeof vbuf, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
            v = vbuf;
        }
        if (!v) {
            h->reply_error(req, 400, !value || json_is_null(value) ? "MISSING_PARAMETER"
                                                                   : "INVALID_PARAMETER",
                           "keys[%zu].value must be a string, an integer or a boolean", i);
            json_decref(clean);
            goto out;
        }
        if (hl_config_key_sensitive(json_string_value(key)) &&
            h->req_scope(req) < PL_AUTH_ADMIN) {
            h->reply_error(req, 403, "FORBIDDEN",
                           "restoring %s needs an admin key (it holds a credential)",
                           json_string_value(key));
            json_decref(clean);
            goto out;
        }
        json_array_append_new(clean, json_pack("{s:O, s:s}", "key", key, "value", v));
    }
    r = calloc(1, sizeof *r);
    if (!r || !(r->station = strdup(id))) {
        free(r);
        json_decref(clean);
        h->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        goto out;
    }
    r->hl = hl;
    r->req = req;
    r->keys = clean;
    r->timeout_ms = ms;
    r->readonly = json_object();
    r->applied = json_array();
    r->reboot = json_array();
    r->ro = json_array();
    r->rejected = json_array();
    r->failed = json_array();
    hl_station_require(hl, req, id, 1, restore_after_station, r);
out:
    json_decref(body);
}
