/*
 * config_routes.c — configuration keys and the local authorization list of a station:
 * live reads when the station is online, the core's stored documents (station_docs)
 * otherwise; writes go through SET_CONFIGURATION / SEND_LOCAL_LIST / CLEAR_CACHE.
 * After an accepted SEND_LOCAL_LIST the core records the list the station holds as
 * documents (kind "local_list", key = id token; kind "local_list_version", key
 * "version"), whichever plugin sent it; this file reads them back.
 */
#include "headless.h"

#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#define CONFIG_KEYS_MAX 100
#define CONFIG_KEY_MAX 500
#define CONFIG_VALUE_MAX 2500
#define LOCAL_LIST_MAX 10000

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

/* Keys whose values are credentials: changing them needs an admin key. */
static int sensitive_key(const char *key)
{
    static const char *const words[] = {"AuthorizationKey", "Password", "BasicAuth", NULL};
    for (int i = 0; words[i]; i++)
        if (contains_nocase(key, words[i]))
            return 1;
    return 0;
}

int hl_config_key_sensitive(const char *key)
{
    return sensitive_key(key);
}

/* ---- GET /stations/{id}/configuration ---- */
struct cfg_get {
    struct headless *hl;
    pl_request *req;
    char *station;
    json_t *keys; /* requested keys or NULL for all */
};

static void cfg_get_free(struct cfg_get *g)
{
    json_decref(g->keys);
    free(g->station);
    free(g);
}

static int query_stored(struct cfg_get *g);

static void live_accepted(struct hl_cmd *c, pl_request *req, const char *cmd_id, json_t *result)
{
    struct headless *hl = hl_cmd_udata(c);
    json_t *keys = json_object_get(result, "keys");
    json_t *unknown = json_object_get(result, "unknown");
    if (json_array_size(keys) == 0 && !json_object_get(hl_cmd_args(c), "keys")) {
        /* A protocol that answers "all keys" with a report sent later (2.0.1 GetBaseReport
         * -> NotifyReport) gives no keys here: serve what the core has stored. */
        struct cfg_get *g = calloc(1, sizeof *g);
        if (g && (g->station = strdup(hl_cmd_station(c)))) {
            g->hl = hl;
            g->req = req;
            if (query_stored(g) == 0)
                return;
            cfg_get_free(g);
        } else {
            free(g);
        }
    }
    hl->host->reply_json(req, 200,
                         json_pack("{s:s, s:s, s:o, s:o}", "source", "station", "command_id",
                                   cmd_id, "keys", keys ? json_incref(keys) : json_array(),
                                   "unknown", unknown ? json_incref(unknown) : json_array()));
}

/* A stored document as {"key","value","readonly"}: the 1.6 shape {"value","readonly"} or
 * a 2.0.1 reportData {"variableAttribute":[{"type","value","mutability"}], ...}. */
json_t *hl_config_stored_entry(const char *key, json_t *v)
{
    json_t *e = json_pack("{s:s}", "key", key);
    json_t *attrs = json_object_get(v, "variableAttribute");
    if (json_is_array(attrs)) {
        json_t *pick = json_array_get(attrs, 0), *a;
        size_t i;
        json_array_foreach(attrs, i, a) {
            const char *t = json_string_value(json_object_get(a, "type"));
            if (t && !strcmp(t, "Actual"))
                pick = a;
        }
        const char *mut = json_string_value(json_object_get(pick, "mutability"));
        json_t *val = json_object_get(pick, "value");
        json_object_set(e, "value", val ? val : json_null());
        json_object_set_new(e, "readonly", json_boolean(mut && !strcmp(mut, "ReadOnly")));
    } else if (json_is_object(v)) {
        json_t *val = json_object_get(v, "value");
        json_object_set(e, "value", val ? val : json_null());
        json_object_set_new(e, "readonly", json_boolean(json_is_true(json_object_get(v, "readonly"))));
    } else {
        json_object_set(e, "value", v);
        json_object_set_new(e, "readonly", json_false());
    }
    return e;
}

static void on_stored_config(pl_db_result *res, void *arg)
{
    struct cfg_get *g = arg;
    const struct pl_host *h = g->hl->host;
    if (!h->db_ok(res)) {
        h->reply_error(g->req, 503, "DATABASE_ERROR", "database error: %s", h->db_error(res));
        cfg_get_free(g);
        return;
    }
    json_t *rows = h->db_json(res);
    json_t *keys = json_array(), *unknown = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        const char *key = json_string_value(json_object_get(r, "key"));
        json_t *v = json_object_get(r, "value");
        if (!key)
            continue;
        if (g->keys) {
            int wanted = 0;
            size_t k;
            json_t *w;
            json_array_foreach(g->keys, k, w)
                if (!strcmp(json_string_value(w), key))
                    wanted = 1;
            if (!wanted)
                continue;
        }
        json_array_append_new(keys, hl_config_stored_entry(key, v));
    }
    if (g->keys) { /* requested but never stored */
        size_t k;
        json_t *w;
        json_array_foreach(g->keys, k, w) {
            int found = 0;
            size_t j;
            json_t *e;
            json_array_foreach(keys, j, e)
                if (!strcmp(json_string_value(json_object_get(e, "key")), json_string_value(w)))
                    found = 1;
            if (!found)
                json_array_append(unknown, w);
        }
    }
    h->reply_json(g->req, 200,
                  json_pack("{s:s, s:o, s:o}", "source", "stored", "keys", keys, "unknown",
                            unknown));
    json_decref(rows);
    cfg_get_free(g);
}

static void cfg_after_station(struct headless *hl, pl_request *req, void *arg, int exists)
{
    struct cfg_get *g = arg;
    if (!req) {
        cfg_get_free(g);
        return;
    }
    if (hl->st->online(g->station)) {
        json_t *args = json_object();
        if (g->keys)
            json_object_set(args, "keys", g->keys);
        struct hl_cmd *c = hl_cmd_new(hl, req, g->station, PL_OP_GET_CONFIGURATION, args);
        if (c) {
            hl_cmd_set_accept(c, live_accepted, hl);
            hl_cmd_submit(c);
        }
        cfg_get_free(g);
        return;
    }
    if (query_stored(g) < 0) {
        hl->host->reply_header(req, "Retry-After", "1");
        hl->host->reply_error(req, 503, "DATABASE_BUSY", "database queue is full");
        cfg_get_free(g);
    }
}

/* The stored keys: kind "configuration" (1.6 style) or "variable" (2.0.1 device model). */
static int query_stored(struct cfg_get *g)
{
    const char *params[1] = {g->station};
    return g->hl->host->db_query(g->hl->self,
                                 "SELECT key, value FROM station_docs WHERE station_id = $1 AND "
                                 "kind IN ('configuration', 'variable') ORDER BY key LIMIT 10000",
                                 1, params, on_stored_config, g) < 0 ? -1 : 0;
}

/* ?keys=a,b,c -> ["a","b","c"] (new), NULL when absent; -1 after a 400. */
static int parse_keys(struct headless *hl, pl_request *req, json_t **out)
{
    const char *s = hl->host->req_query(req, "keys");
    *out = NULL;
    if (!s)
        return 0;
    json_t *keys = json_array();
    const char *p = s;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len > CONFIG_KEY_MAX || json_array_size(keys) >= CONFIG_KEYS_MAX) {
            hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                                  "keys must be a comma-separated list of up to %d keys of 1 "
                                  "to %d characters",
                                  CONFIG_KEYS_MAX, CONFIG_KEY_MAX);
            json_decref(keys);
            return -1;
        }
        json_array_append_new(keys, json_stringn(p, len));
        p += len;
        if (*p == ',')
            p++;
    }
    *out = keys;
    return 0;
}

void hl_config_get(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const char *id;
    unsigned ms;
    json_t *keys;
    if (hl_path_station(hl, req, &id) < 0 || hl_timeout_ms(hl, req, &ms) < 0 ||
        parse_keys(hl, req, &keys) < 0)
        return;
    struct cfg_get *g = calloc(1, sizeof *g);
    if (!g || !(g->station = strdup(id))) {
        free(g);
        json_decref(keys);
        hl->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    g->hl = hl;
    g->req = req;
    g->keys = keys;
    hl_station_require(hl, req, id, 0, cfg_after_station, g);
}

/* ---- PUT /stations/{id}/configuration/{key} ---- */
static void set_accepted(struct hl_cmd *c, pl_request *req, const char *cmd_id, json_t *result)
{
    struct headless *hl = hl_cmd_udata(c);
    json_t *args = hl_cmd_args(c);
    json_t *status = json_object_get(result, "status");
    hl->host->reply_json(req, 200,
                         json_pack("{s:s, s:s, s:O?, s:O?, s:b, s:O?}", "command_id", cmd_id,
                                   "status", "Accepted", "key", json_object_get(args, "key"),
                                   "value", json_object_get(args, "value"), "reboot_required",
                                   json_is_string(status) &&
                                       !strcmp(json_string_value(status), "RebootRequired"),
                                   "result", result));
}

/* value as a string: OCPP configuration values are strings; numbers and booleans are
 * accepted and written the way a station expects them. */
static int value_string(struct headless *hl, pl_request *req, json_t *v, char *buf, size_t len)
{
    if (!v || json_is_null(v)) {
        hl->host->reply_error(req, 400, "MISSING_PARAMETER", "value is required");
        return -1;
    }
    if (json_is_string(v)) {
        if (json_string_length(v) > CONFIG_VALUE_MAX) {
            hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                                  "value must be at most %d characters", CONFIG_VALUE_MAX);
            return -1;
        }
        snprintf(buf, len, "%s", json_string_value(v));
    } else if (json_is_boolean(v)) {
        snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
    } else if (json_is_integer(v)) {
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        snprintf(buf, len, "%g", json_real_value(v));
    } else {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "value must be a string, a number or a boolean");
        return -1;
    }
    return 0;
}

void hl_config_put(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const char *id;
    const char *key = hl->host->req_param(req, "key");
    char value[CONFIG_VALUE_MAX + 1];
    json_t *body;
    if (hl_path_station(hl, req, &id) < 0)
        return;
    if (!key || !*key || strlen(key) > CONFIG_KEY_MAX) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "key must be 1 to %d characters", CONFIG_KEY_MAX);
        return;
    }
    if (sensitive_key(key) && hl->host->req_scope(req) < PL_AUTH_ADMIN) {
        hl->host->reply_error(req, 403, "FORBIDDEN",
                              "changing %s needs an admin key (it holds a credential)", key);
        return;
    }
    if (!(body = hl_body(hl, req)))
        return;
    if (value_string(hl, req, json_object_get(body, "value"), value, sizeof value) == 0) {
        struct hl_cmd *c = hl_cmd_new(hl, req, id, PL_OP_SET_CONFIGURATION,
                                      json_pack("{s:s, s:s}", "key", key, "value", value));
        if (c) {
            hl_cmd_set_accept(c, set_accepted, hl);
            hl_cmd_submit(c);
        }
    }
    json_decref(body);
}

/* ---- GET /stations/{id}/local-list ---- */
struct ll_get {
    struct headless *hl;
    pl_request *req;
    char *station;
};

static void on_local_list(pl_db_result *res, void *arg)
{
    struct ll_get *g = arg;
    const struct pl_host *h = g->hl->host;
    if (!h->db_ok(res)) {
        h->reply_error(g->req, 503, "DATABASE_ERROR", "database error: %s", h->db_error(res));
    } else {
        json_t *rows = h->db_json(res);
        json_t *entries = json_array(), *version = json_null(), *updated = json_null();
        size_t i;
        json_t *r;
        json_array_foreach(rows, i, r) {
            const char *kind = json_string_value(json_object_get(r, "kind"));
            json_t *v = json_object_get(r, "value");
            if (kind && !strcmp(kind, "local_list_version")) {
                json_decref(version);
                version = json_incref(json_is_object(v) ? json_object_get(v, "version") : v);
                json_decref(updated);
                updated = json_incref(json_object_get(r, "updated_at"));
                continue;
            }
            json_t *e = json_is_object(v) ? json_deep_copy(v) : json_object();
            json_object_set(e, "id_token", json_object_get(r, "key"));
            json_array_append_new(entries, e);
        }
        if (!version)
            version = json_null();
        h->reply_json(g->req, 200,
                      json_pack("{s:s, s:o, s:o, s:o}", "station", g->station, "version",
                                version, "updated_at", updated ? updated : json_null(),
                                "entries", entries));
        json_decref(rows);
    }
    free(g->station);
    free(g);
}

static void ll_after_station(struct headless *hl, pl_request *req, void *arg, int exists)
{
    struct ll_get *g = arg;
    if (!req) {
        free(g->station);
        free(g);
        return;
    }
    const char *params[1] = {g->station};
    if (hl->host->db_query(
            hl->self,
            "SELECT kind, key, value, to_char(updated_at AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS updated_at FROM station_docs WHERE "
            "station_id = $1 AND kind IN ('local_list', 'local_list_version') ORDER BY key "
            "LIMIT 10001",
            1, params, on_local_list, g) < 0) {
        hl->host->reply_header(req, "Retry-After", "1");
        hl->host->reply_error(req, 503, "DATABASE_BUSY", "database queue is full");
        free(g->station);
        free(g);
    }
}

void hl_local_list_get(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const char *id;
    if (hl_path_station(hl, req, &id) < 0)
        return;
    struct ll_get *g = calloc(1, sizeof *g);
    if (!g || !(g->station = strdup(id))) {
        free(g);
        hl->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    g->hl = hl;
    g->req = req;
    hl_station_require(hl, req, id, 0, ll_after_station, g);
}

/* ---- PUT /stations/{id}/local-list ---- */
static void ll_accepted(struct hl_cmd *c, pl_request *req, const char *cmd_id, json_t *result)
{
    /* the core recorded the list the station accepted (model_local_list_sent) */
    struct headless *hl = hl_cmd_udata(c);
    json_t *args = hl_cmd_args(c);
    json_t *entries = json_object_get(args, "entries");
    hl->host->reply_json(req, 200,
                         json_pack("{s:s, s:s, s:O?, s:I, s:O?}", "command_id", cmd_id, "status",
                                   "Accepted", "version", json_object_get(args, "version"),
                                   "entries", (json_int_t)json_array_size(entries), "result",
                                   result));
}

void hl_local_list_put(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    static const char *const types[] = {"Full", "Differential", NULL};
    static const char *const statuses[] = {"Accepted", "Blocked", "Expired", "Invalid",
                                           "ConcurrentTx", NULL};
    const char *id, *type;
    long version;
    json_t *body, *args = NULL;
    if (hl_path_station(hl, req, &id) < 0 || !(body = hl_body(hl, req)))
        return;
    if (hl_body_int(hl, req, body, "version", HL_REQUIRED, 1, 2147483647L, &version, NULL) < 0 ||
        hl_body_enum(hl, req, body, "update_type", HL_REQUIRED, types, &type) < 0)
        goto out;
    json_t *entries = json_object_get(body, "entries");
    if (!entries || json_is_null(entries)) {
        entries = NULL;
    } else if (!json_is_array(entries) || json_array_size(entries) > LOCAL_LIST_MAX) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "entries must be an array of at most %d entries", LOCAL_LIST_MAX);
        goto out;
    }
    json_t *out_entries = json_array();
    args = json_pack("{s:I, s:s, s:o}", "version", (json_int_t)version, "update_type", type,
                     "entries", out_entries);
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e) {
        char name[64];
        const char *tok, *status, *expiry, *parent;
        if (!json_is_object(e)) {
            hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                                  "entries[%zu] must be an object", i);
            goto out;
        }
        /* Name the entry in errors: "entries[3].id_token is required". */
        snprintf(name, sizeof name, "entries[%zu].id_token", i);
        json_t *wrapped = json_pack("{s:O?}", name, json_object_get(e, "id_token"));
        int bad = hl_body_str(hl, req, wrapped, name, HL_REQUIRED, 36, &tok) < 0;
        json_t *tokv = bad ? NULL : json_string(tok);
        json_decref(wrapped);
        if (bad)
            goto out;
        snprintf(name, sizeof name, "entries[%zu].status", i);
        wrapped = json_pack("{s:O?}", name, json_object_get(e, "status"));
        bad = hl_body_enum(hl, req, wrapped, name, HL_OPTIONAL, statuses, &status) < 0;
        json_t *statusv = (!bad && status) ? json_string(status) : NULL;
        json_decref(wrapped);
        snprintf(name, sizeof name, "entries[%zu].expiry", i);
        wrapped = json_pack("{s:O?}", name, json_object_get(e, "expiry"));
        bad = bad || hl_body_time(hl, req, wrapped, name, HL_OPTIONAL, &expiry) < 0;
        json_t *expiryv = (!bad && expiry) ? json_string(expiry) : NULL;
        json_decref(wrapped);
        snprintf(name, sizeof name, "entries[%zu].parent", i);
        wrapped = json_pack("{s:O?}", name, json_object_get(e, "parent"));
        bad = bad || hl_body_str(hl, req, wrapped, name, HL_OPTIONAL, 36, &parent) < 0;
        json_t *parentv = (!bad && parent) ? json_string(parent) : NULL;
        json_decref(wrapped);
        if (bad) {
            json_decref(tokv);
            json_decref(statusv);
            json_decref(expiryv);
            json_decref(parentv);
            goto out;
        }
        if (!statusv && !strcmp(type, "Full"))
            statusv = json_string("Accepted"); /* a full list names who may charge */
        json_t *o = json_pack("{s:o}", "id_token", tokv);
        if (statusv)
            json_object_set_new(o, "status", statusv);
        if (expiryv)
            json_object_set_new(o, "expiry", expiryv);
        if (parentv)
            json_object_set_new(o, "parent", parentv);
        json_array_append_new(out_entries, o);
    }
    struct hl_cmd *c = hl_cmd_new(hl, req, id, PL_OP_SEND_LOCAL_LIST, json_deep_copy(args));
    if (c) {
        hl_cmd_set_accept(c, ll_accepted, hl);
        hl_cmd_submit(c);
    }
out:
    json_decref(args);
    json_decref(body);
}

/* ---- POST /stations/{id}/clear-cache ---- */
void hl_clear_cache(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const char *id;
    if (hl_path_station(hl, req, &id) < 0)
        return;
    struct hl_cmd *c = hl_cmd_new(hl, req, id, PL_OP_CLEAR_CACHE, json_object());
    if (c)
        hl_cmd_submit(c);
}
