/*
 * keys.c — API keys managed through /api/v1/keys (admin): created with a secret shown
 * once and stored as its SHA-256 digest in the api_keys table, listed without secrets,
 * revoked (a revoked key gets 401 on its very next request: the key set in memory
 * changes when the revocation is committed).  [keys] and PIPELET_API_KEY keep working
 * beside them and cannot be changed here.  last_used_at is written at most once a
 * minute per key, off the request's path.
 */
#include "keys.h"
#include "apikey.h"
#include "core.h"
#include "db.h"
#include "http.h"
#include "registry.h"
#include "util.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USED_WRITE_MS 60000
#define NAME_MAX_LEN 64

static struct hashmap *last_written; /* managed key name -> uint64_t* last write */
static struct event *refresh;
static int loaded;

#define KEY_COLS                                                                              \
    "name, scope, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS " \
    "created_at, to_char(last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS "  \
    "last_used_at, to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS "  \
    "revoked_at"

/* ---- the key set in memory ---- */
static void loaded_keys(pl_db_result *res, void *arg)
{
    (void)arg;
    if (!db_ok(res)) {
        struct timeval tv = {loaded ? 30 : 2, 0};
        if (refresh)
            evtimer_add(refresh, &tv);
        return;
    }
    apikey_drop_managed(NULL);
    for (int i = 0; i < db_ntuples(res); i++)
        apikey_add_managed(db_value(res, i, 0), apikey_scope_from_name(db_value(res, i, 1)),
                           db_value(res, i, 2));
    loaded = 1;
    struct timeval tv = {30, 0}; /* keys changed by another node or by SQL */
    if (refresh)
        evtimer_add(refresh, &tv);
}

static void load(void)
{
    if (db_query_as("core", "SELECT name, scope, key_hash FROM api_keys WHERE revoked_at IS NULL",
                    0, NULL, loaded_keys, NULL) != PL_OK && refresh) {
        struct timeval tv = {2, 0};
        evtimer_add(refresh, &tv);
    }
}

static void on_refresh(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    load();
}

void keys_used(const char *name)
{
    if (!name || apikey_configured(name))
        return;
    if (!last_written && !(last_written = hashmap_new()))
        return;
    uint64_t now = core_now_ms();
    uint64_t *t = hashmap_get(last_written, name);
    if (t && now - *t < USED_WRITE_MS)
        return;
    if (!t) {
        size_t n = strlen(name);
        char *block = malloc(sizeof(uint64_t) + n + 1); /* the time, then the key's name */
        if (!block)
            return;
        t = (uint64_t *)block;
        memcpy(block + sizeof(uint64_t), name, n + 1);
        if (hashmap_put(last_written, block + sizeof(uint64_t), block) != 0) {
            free(block);
            return;
        }
    }
    *t = now;
    const char *p[1] = {name};
    db_query_as("core", "UPDATE api_keys SET last_used_at = now() WHERE name = $1", 1, p, NULL, NULL);
}

/* ---- routes ---- */
struct key_op {
    pl_request *req;
    char name[NAME_MAX_LEN + 1];
    char scope[16];
    char secret[64];
};

static int name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > NAME_MAX_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
            return 0;
    return 1;
}

static void created(pl_db_result *res, void *arg)
{
    struct key_op *o = arg;
    if (!db_ok(res)) {
        if (strcmp(db_sqlstate(res), "23505") == 0)
            http_reply_error(o->req, 409, "ALREADY_EXISTS", "a key named %s exists (revoked keys keep their name)", o->name);
        else
            http_reply_error(o->req, 503, "DATABASE_ERROR", "database error: %s", db_error(res));
        free(o);
        return;
    }
    char hex[65];
    util_sha256_hex(o->secret, strlen(o->secret), hex);
    apikey_add_managed(o->name, apikey_scope_from_name(o->scope), hex);
    json_t *rows = db_json(res);
    json_t *key = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    json_object_set_new(key, "key", json_string(o->secret)); /* shown this once */
    json_object_set_new(key, "source", json_string("table"));
    http_reply_json(o->req, 201, key);
    memset(o->secret, 0, sizeof o->secret);
    free(o);
}

static void key_create(pl_request *req, void *arg)
{
    (void)arg;
    json_t *body = http_req_json(req);
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *scope = json_string_value(json_object_get(body, "scope"));
    if (!name_ok(name)) {
        http_reply_error(req, 400, "INVALID_PARAMETER",
                         "name: 1 to %d characters of A-Z a-z 0-9 - _ .", NAME_MAX_LEN);
        return;
    }
    if (apikey_scope_from_name(scope) < 0) {
        http_reply_error(req, 400, "INVALID_PARAMETER", "scope: one of read, operator, admin");
        return;
    }
    if (apikey_configured(name)) {
        http_reply_error(req, 409, "ALREADY_EXISTS", "a key named %s is in the configuration", name);
        return;
    }
    struct key_op *o = calloc(1, sizeof *o);
    if (!o) {
        http_reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    o->req = req;
    snprintf(o->name, sizeof o->name, "%s", name);
    snprintf(o->scope, sizeof o->scope, "%s", scope);
    unsigned char rnd[24];
    util_random(rnd, sizeof rnd);
    char hex[65];
    util_sha256_hex((const char *)rnd, sizeof rnd, hex); /* 64 hex digits of randomness */
    snprintf(o->secret, sizeof o->secret, "plk_%.48s", hex);
    char digest[65];
    util_sha256_hex(o->secret, strlen(o->secret), digest);
    const char *p[3] = {o->name, o->scope, digest};
    if (db_query_as("core",
                    "INSERT INTO api_keys(name, scope, key_hash) VALUES ($1, $2, $3) RETURNING " KEY_COLS,
                    3, p, created, o) != PL_OK) {
        http_reply_error(req, 503, "DATABASE_BUSY", "database queue is full");
        free(o);
    }
}

static void listed(pl_db_result *res, void *arg)
{
    pl_request *req = arg;
    if (!db_ok(res)) {
        http_reply_error(req, 503, "DATABASE_ERROR", "database error: %s", db_error(res));
        return;
    }
    json_t *items = apikey_list_configured();
    json_t *rows = db_json(res);
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        json_object_set_new(r, "source", json_string("table"));
        json_array_append(items, r);
    }
    json_decref(rows);
    http_reply_json(req, 200, json_pack("{s:o}", "items", items));
}

static void key_list(pl_request *req, void *arg)
{
    (void)arg;
    if (db_query_as("core", "SELECT " KEY_COLS " FROM api_keys ORDER BY name", 0, NULL, listed, req) != PL_OK)
        http_reply_error(req, 503, "DATABASE_BUSY", "database queue is full");
}

static void revoked(pl_db_result *res, void *arg)
{
    struct key_op *o = arg;
    if (!db_ok(res))
        http_reply_error(o->req, 503, "DATABASE_ERROR", "database error: %s", db_error(res));
    else if (db_ntuples(res) < 1)
        http_reply_error(o->req, 404, "KEY_NOT_FOUND", "no key named %s", o->name);
    else {
        apikey_drop_managed(o->name); /* 401 from the next request on */
        json_t *rows = db_json(res);
        json_t *key = json_incref(json_array_get(rows, 0));
        json_decref(rows);
        json_object_set_new(key, "source", json_string("table"));
        http_reply_json(o->req, 200, key);
    }
    free(o);
}

static void key_revoke(pl_request *req, void *arg)
{
    (void)arg;
    const char *name = http_req_param(req, "name");
    if (!name_ok(name)) {
        http_reply_error(req, 404, "KEY_NOT_FOUND", "no key named %s", name ? name : "");
        return;
    }
    if (apikey_configured(name)) {
        http_reply_error(req, 409, "KEY_IN_CONFIGURATION",
                         "%s is a configured key: remove it from [keys] (or PIPELET_API_KEY)", name);
        return;
    }
    struct key_op *o = calloc(1, sizeof *o);
    if (!o) {
        http_reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    o->req = req;
    snprintf(o->name, sizeof o->name, "%s", name);
    const char *p[1] = {o->name};
    if (db_query_as("core",
                    "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE name = $1 "
                    "RETURNING " KEY_COLS,
                    1, p, revoked, o) != PL_OK) {
        http_reply_error(req, 503, "DATABASE_BUSY", "database queue is full");
        free(o);
    }
}

void keys_init(void)
{
    http_http_route(NULL, "POST", "/api/v1/keys", PL_AUTH_ADMIN, key_create, NULL);
    http_http_route(NULL, "GET", "/api/v1/keys", PL_AUTH_ADMIN, key_list, NULL);
    http_http_route(NULL, "DELETE", "/api/v1/keys/{name}", PL_AUTH_ADMIN, key_revoke, NULL);
}

void keys_start(void)
{
    if (!refresh)
        refresh = evtimer_new(core_base, on_refresh, NULL);
    load();
}

static void free_block(void *val, void *arg)
{
    (void)arg;
    free(val);
}

void keys_shutdown(void)
{
    if (refresh)
        event_free(refresh);
    refresh = NULL;
    hashmap_foreach(last_written, free_block, NULL);
    hashmap_free(last_written);
    last_written = NULL;
}
