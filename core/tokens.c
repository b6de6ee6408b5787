/*
 * tokens.c — the token table in memory, and the authorization chain (table, remote
 * authorizers, auth_unknown).  A station's Authorize must not wait on PostgreSQL per
 * message at 10,000 stations, and must not change its answer while the database is
 * away: the table is loaded once, kept exact by the operations that change it
 * (tokens_ops.c) and refreshed by updated_at for changes made with plain SQL.
 */
#include "tokens.h"
#include "certs.h"
#include "bus.h"
#include "core.h"
#include "db.h"
#include "metrics.h"
#include "registry.h"
#include "util.h"

#include <event2/event.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEEN_MAX 4          /* stations remembered per token, for ClearCache on a block */
#define AUTHORIZERS_MAX 16

struct token {
    struct token *next_type; /* same value, another type */
    long long id, customer_id;
    char *value, *expiry, *group, *contract;
    char type[16], status[12];
    char idkey[24];          /* the by_id key */
    int64_t expiry_ms;       /* 0: none */
    char **stations;         /* NULL: valid everywhere */
    size_t nstations;
    int active;
    char *seen[SEEN_MAX];    /* where it was presented lately */
};

struct customer {
    long long id;
    char key[24];
    int suspended, allow_concurrent;
    int priority;            /* charging priority, 0..100 */
};

/* Active transactions per token value: the stations they run at. */
struct active_tx {
    char *value;
    char **stations;
    size_t n;
};

static struct hashmap *by_value;   /* value -> struct token (chain of types) */
static struct hashmap *by_id;      /* id text -> struct token */
static struct hashmap *customers;  /* id text -> struct customer */
static struct hashmap *active;     /* value -> struct active_tx */
static int loaded, loading;
static char refreshed_upto[40];         /* the newest updated_at seen (server clock) */
static struct event *refresh_timer;
static pl_subscription *tx_sub;

static struct {
    pl_plugin_handle *owner;
    struct pl_authorizer a;
    char *name;
} authorizers[AUTHORIZERS_MAX];
static int nauthorizers;

/* ------------------------------------------------------------------------
 * The table.
 * ---------------------------------------------------------------------- */
static void token_free(struct token *t)
{
    if (!t)
        return;
    free(t->value);
    free(t->expiry);
    free(t->group);
    free(t->contract);
    for (size_t i = 0; i < t->nstations; i++)
        free(t->stations[i]);
    free(t->stations);
    for (int i = 0; i < SEEN_MAX; i++)
        free(t->seen[i]);
    free(t);
}

static struct token *find(const char *value, const char *type)
{
    struct token *t = hashmap_get(by_value, value);
    if (!type)
        return t; /* 1.6 has no type: the first (types are kept in a stable order) */
    for (; t; t = t->next_type)
        if (strcmp(t->type, type) == 0)
            return t;
    return NULL;
}

static char *dup_or_null(json_t *v)
{
    const char *s = json_string_value(v);
    return s ? strdup(s) : NULL;
}

/* Unlink the token with this id from its value's chain and from by_id; returns it. */
static struct token *unlink_any(long long id)
{
    char key[24];
    snprintf(key, sizeof key, "%lld", id);
    struct token *t = hashmap_del(by_id, key);
    if (!t)
        return NULL;
    struct token *head = hashmap_get(by_value, t->value), *prev = NULL;
    for (struct token *x = head; x && x != t; x = x->next_type)
        prev = x;
    if (prev)
        prev->next_type = t->next_type;
    else if (t->next_type)
        hashmap_put(by_value, t->next_type->value, t->next_type);
    else
        hashmap_del(by_value, t->value);
    t->next_type = NULL;
    return t;
}

void tokens_apply_row(json_t *row)
{
    const char *value = json_string_value(json_object_get(row, "id_token"));
    const char *type = json_string_value(json_object_get(row, "type"));
    long long id = (long long)json_integer_value(json_object_get(row, "id"));
    if (!value || !type || !id || (!by_value && !(by_value = hashmap_new())) ||
        (!by_id && !(by_id = hashmap_new())))
        return;
    struct token *old = unlink_any(id);
    struct token *t = calloc(1, sizeof *t);
    if (!t || !(t->value = strdup(value))) {
        token_free(t);
        token_free(old);
        return;
    }
    if (old) /* where it was presented stays known across an update */
        for (int i = 0; i < SEEN_MAX; i++) {
            t->seen[i] = old->seen[i];
            old->seen[i] = NULL;
        }
    token_free(old);
    t->id = id;
    snprintf(t->idkey, sizeof t->idkey, "%lld", id);
    if (hashmap_put(by_id, t->idkey, t) != 0) {
        token_free(t);
        return;
    }
    t->customer_id = (long long)json_integer_value(json_object_get(row, "customer_id"));
    snprintf(t->type, sizeof t->type, "%s", type);
    const char *status = json_string_value(json_object_get(row, "status"));
    snprintf(t->status, sizeof t->status, "%s", status ? status : "Invalid");
    t->expiry = dup_or_null(json_object_get(row, "expiry"));
    if (t->expiry && util_parse_rfc3339(t->expiry, &t->expiry_ms) != 0)
        t->expiry_ms = 0;
    t->group = dup_or_null(json_object_get(row, "group_id"));
    t->contract = dup_or_null(json_object_get(row, "contract_id"));
    t->active = json_is_true(json_object_get(row, "active"));
    json_t *st = json_object_get(row, "stations");
    if (json_is_array(st) && (t->stations = calloc(json_array_size(st) + 1, sizeof *t->stations))) {
        size_t i;
        json_t *v;
        json_array_foreach(st, i, v) if (json_is_string(v))
            t->stations[t->nstations++] = strdup(json_string_value(v));
    }
    /* keep the types of one value in a stable order: the lowest id answers 1.6 */
    struct token *head = hashmap_get(by_value, t->value);
    if (!head || head->id > t->id) {
        t->next_type = head;
        hashmap_put(by_value, t->value, t);
        return;
    }
    while (head->next_type && head->next_type->id < t->id)
        head = head->next_type;
    t->next_type = head->next_type;
    head->next_type = t;
}

void tokens_forget(long long id)
{
    token_free(unlink_any(id));
}

void tokens_apply_customer(long long id, const char *status, int allow_concurrent, int priority)
{
    if (!customers && !(customers = hashmap_new()))
        return;
    char key[24];
    snprintf(key, sizeof key, "%lld", id);
    struct customer *c = hashmap_get(customers, key);
    if (!c) {
        if (!(c = calloc(1, sizeof *c)))
            return;
        c->id = id;
        snprintf(c->key, sizeof c->key, "%s", key);
        if (hashmap_put(customers, c->key, c) != 0) {
            free(c);
            return;
        }
    }
    c->suspended = status && strcmp(status, "suspended") == 0;
    c->allow_concurrent = allow_concurrent;
    c->priority = priority;
}

int tokens_charging_priority(const char *value)
{
    struct token *t = value && by_value ? hashmap_get(by_value, value) : NULL;
    char key[24];
    if (!t || t->customer_id <= 0 || !customers)
        return 0;
    snprintf(key, sizeof key, "%lld", t->customer_id);
    struct customer *c = hashmap_get(customers, key);
    return c ? c->priority : 0;
}

void tokens_forget_customer(long long id)
{
    char key[24];
    snprintf(key, sizeof key, "%lld", id);
    free(hashmap_del(customers, key));
}

static struct customer *customer_of(const struct token *t)
{
    char key[24];
    if (!t->customer_id)
        return NULL;
    snprintf(key, sizeof key, "%lld", t->customer_id);
    return hashmap_get(customers, key);
}

int tokens_loaded(void)
{
    return loaded;
}

/* ---- active transactions (ConcurrentTx) ---- */
static void active_add(const char *value, const char *station)
{
    if (!value || !*value || !station || (!active && !(active = hashmap_new())))
        return;
    struct active_tx *a = hashmap_get(active, value);
    if (!a) {
        if (!(a = calloc(1, sizeof *a)) || !(a->value = strdup(value)) ||
            hashmap_put(active, a->value, a) != 0) {
            if (a)
                free(a->value);
            free(a);
            return;
        }
    }
    char **v = realloc(a->stations, (a->n + 1) * sizeof *v);
    if (!v)
        return;
    a->stations = v;
    if ((a->stations[a->n] = strdup(station)))
        a->n++;
}

static void active_free(struct active_tx *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->stations[i]);
    free(a->stations);
    free(a->value);
    free(a);
}

static void active_remove(const char *value, const char *station)
{
    struct active_tx *a = value ? hashmap_get(active, value) : NULL;
    if (!a || !station)
        return;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->stations[i], station) == 0) {
            free(a->stations[i]);
            a->stations[i] = a->stations[--a->n];
            break;
        }
    if (a->n == 0) {
        hashmap_del(active, value);
        active_free(a);
    }
}

/* Charging at a station other than this one? */
static int active_elsewhere(const char *value, const char *station)
{
    struct active_tx *a = hashmap_get(active, value);
    for (size_t i = 0; a && i < a->n; i++)
        if (!station || strcmp(a->stations[i], station) != 0)
            return 1;
    return 0;
}

static void on_tx_event(const char *topic, json_t *env, void *arg)
{
    (void)arg;
    json_t *data = json_object_get(env, "data");
    const char *value = json_string_value(json_object_get(data, "id_token"));
    const char *station = json_string_value(json_object_get(env, "station"));
    if (strcmp(topic, "transaction.started") == 0)
        active_add(value, station);
    else if (strcmp(topic, "transaction.ended") == 0)
        active_remove(value, station);
}

/* ------------------------------------------------------------------------
 * Loading and refreshing.
 * ---------------------------------------------------------------------- */
static void schedule_refresh(unsigned ms);

static void loaded_tokens(pl_db_result *res, void *arg)
{
    (void)arg;
    loading = 0;
    if (!db_ok(res)) {
        core_log(loaded ? PL_LOG_DEBUG : PL_LOG_WARN, "tokens", "token table not %s: %s",
                 loaded ? "refreshed" : "loaded yet", db_error(res));
        schedule_refresh(loaded ? 30000 : 2000);
        return;
    }
    /* one result set: a row per customer (kind c), token (kind t) or active tx (kind a) */
    json_t *rows = db_json(res);
    size_t i, ntok = 0;
    json_t *r;
    json_array_foreach(rows, i, r) {
        const char *kind = json_string_value(json_object_get(r, "kind"));
        json_t *d = json_object_get(r, "d");
        if (!kind)
            continue;
        if (kind[0] == 'c')
            tokens_apply_customer((long long)json_integer_value(json_object_get(d, "id")),
                                  json_string_value(json_object_get(d, "status")),
                                  json_is_true(json_object_get(d, "allow_concurrent")),
                                  (int)json_integer_value(json_object_get(d, "charging_priority")));
        else if (kind[0] == 't') {
            tokens_apply_row(d);
            json_t *u = json_object_get(d, "updated_at");
            if (json_is_string(u) && strcmp(json_string_value(u), refreshed_upto) > 0)
                snprintf(refreshed_upto, sizeof refreshed_upto, "%s", json_string_value(u));
            ntok++;
        } else if (kind[0] == 'a' && !loaded)
            active_add(json_string_value(json_object_get(d, "id_token")),
                       json_string_value(json_object_get(d, "station_id")));
    }
    json_decref(rows);
    if (!loaded)
        core_log(PL_LOG_INFO, "tokens", "token table loaded (%zu tokens)", ntok);
    loaded = 1;
    metrics_set("pipelet_tokens", (double)hashmap_count(by_value));
    long secs;
    core_config_int("core", "token_refresh", 30, 1, 86400, &secs);
    schedule_refresh((unsigned)secs * 1000);
}

/* The first load takes everything; a refresh only what changed since (the server's
 * clock, second resolution: >= re-reads the last second, harmless). */
static void load(void)
{
    if (loading)
        return;
    static const char SQL[] =
        "SELECT 'c' AS kind, json_build_object('id', id, 'status', status, 'allow_concurrent', "
        "allow_concurrent, 'charging_priority', charging_priority) AS d FROM customers WHERE $1::text IS NULL OR updated_at >= $1::timestamptz "
        "UNION ALL SELECT 't', to_json(x) FROM (SELECT " TOKEN_COLS " FROM id_tokens t "
        "WHERE $1::text IS NULL OR t.updated_at >= $1::timestamptz) x "
        "UNION ALL SELECT 'a', json_build_object('id_token', id_token, 'station_id', station_id) "
        "FROM transactions WHERE $1::text IS NULL AND stopped_at IS NULL AND id_token IS NOT NULL";
    const char *p[1] = {loaded && *refreshed_upto ? refreshed_upto : NULL};
    loading = 1;
    if (db_query_as("core", SQL, 1, p, loaded_tokens, NULL) != PL_OK) {
        loading = 0;
        schedule_refresh(2000);
    }
}

static void refresh_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    load();
}

static void schedule_refresh(unsigned ms)
{
    if (!refresh_timer && !(refresh_timer = evtimer_new(core_base, refresh_cb, NULL)))
        return;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(refresh_timer, &tv);
}

void tokens_reload(void)
{
    load();
}

int tokens_busy(void)
{
    return loading;
}

void tokens_start(void)
{
    if (!tx_sub)
        tx_sub = bus_bus_subscribe(NULL, "transaction.*", on_tx_event, NULL);
    load();
}

/* ------------------------------------------------------------------------
 * Deciding.
 * ---------------------------------------------------------------------- */
static void remember_seen(struct token *t, const char *station)
{
    if (!station)
        return;
    for (int i = 0; i < SEEN_MAX; i++)
        if (t->seen[i] && strcmp(t->seen[i], station) == 0)
            return;
    free(t->seen[SEEN_MAX - 1]);
    memmove(&t->seen[1], &t->seen[0], (SEEN_MAX - 1) * sizeof t->seen[0]);
    t->seen[0] = strdup(station);
}

size_t tokens_seen_at(const char *value, const char **out, size_t max)
{
    size_t n = 0;
    for (struct token *t = value ? hashmap_get(by_value, value) : NULL; t; t = t->next_type)
        for (int i = 0; i < SEEN_MAX && n < max; i++)
            if (t->seen[i])
                out[n++] = t->seen[i];
    return n;
}

static int allowed_at(const struct token *t, const char *station)
{
    if (!t->stations || !station)
        return 1;
    for (size_t i = 0; i < t->nstations; i++)
        if (strcmp(t->stations[i], station) == 0)
            return 1;
    return 0;
}

/* The table's answer for a known token, with the reason; NULL if it does not know it. */
static json_t *decide(const struct pl_id_token *tok, const char **reason)
{
    struct token *t = find(tok->value, tok->type);
    if (!t)
        return NULL;
    remember_seen(t, tok->station_id);
    const char *status = t->status;
    struct customer *c = customer_of(t);
    *reason = "table";
    if (!t->active) {
        status = "Invalid";
        *reason = "deactivated";
    } else if (strcmp(status, "Accepted") != 0) {
        *reason = "status";
    } else if (c && c->suspended) {
        status = "Blocked";
        *reason = "customer_suspended";
    } else if (t->expiry_ms && t->expiry_ms <= core_wall_ms()) {
        status = "Expired";
        *reason = "expired";
    } else if (!allowed_at(t, tok->station_id)) {
        status = "Invalid";
        *reason = "not_at_this_station";
    } else if (active_elsewhere(t->value, tok->station_id) && !(c && c->allow_concurrent)) {
        status = "ConcurrentTx";
        *reason = "concurrent";
    }
    return json_pack("{s:s, s:s?, s:s?, s:s?}", "status", status, "expiry", t->expiry, "parent",
                     t->group, "group", t->group);
}

static int unknown_accepted(void)
{
    const char *policy = core_config_get("core", "auth_unknown");
    return policy && strcmp(policy, "accept") == 0; /* built-in default: reject */
}

static void publish(const struct pl_id_token *tok, json_t *info, const char *reason)
{
    const char *status = info ? json_string_value(json_object_get(info, "status")) : NULL;
    char name[160];
    snprintf(name, sizeof name, "pipelet_authorizations_total{status=\"%s\",reason=\"%s\"}",
             status ? status : "none", reason);
    metrics_add(name, 1);
    bus_emit("authorization.decided", tok->station_id,
             json_pack("{s:s, s:s?, s:s?, s:s?, s:s}", "id_token", tok->value, "type", tok->type,
                       "station_id", tok->station_id, "status", status, "reason", reason));
}

/* ---- the remote chain ---- */
struct chain {
    char *value, *type, *station;
    int evse;
    json_t *hash_data;
    pl_auth_cb cb;
    void *arg;
    int next;                  /* the authorizer to ask next */
    struct pl_authz_request *asking;
    struct event *deadline;
};

struct pl_authz_request {
    struct chain *ch; /* NULL once the chain moved on (deadline): the answer only frees */
    int idx;
};

static void chain_ask_next(struct chain *ch);

static struct pl_id_token chain_token(struct chain *ch)
{
    return (struct pl_id_token){sizeof(struct pl_id_token), ch->value, ch->type, ch->station,
                                ch->evse, ch->hash_data, NULL};
}

static void chain_end(struct chain *ch, json_t *info, const char *reason)
{
    struct pl_id_token tok = chain_token(ch);
    publish(&tok, info, reason);
    ch->cb(ch->arg, info);
    json_decref(info);
    if (ch->asking)
        ch->asking->ch = NULL;
    if (ch->deadline)
        event_free(ch->deadline);
    json_decref(ch->hash_data);
    free(ch->value);
    free(ch->type);
    free(ch->station);
    free(ch);
}

/* Nobody remote decided: the policy, or no decision if the table was never loaded. */
static void chain_fallback(struct chain *ch, const char *why)
{
    if (!loaded) {
        chain_end(ch, NULL, "unavailable");
        return;
    }
    int accept = unknown_accepted();
    char reason[64];
    snprintf(reason, sizeof reason, "%s", why);
    chain_end(ch, json_pack("{s:s}", "status", accept ? "Accepted" : "Invalid"), reason);
}

static void chain_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct chain *ch = arg;
    core_log(PL_LOG_WARN, "tokens", "remote authorization of a token at %s timed out",
             ch->station ? ch->station : "-");
    chain_fallback(ch, "remote_timeout");
}

static void chain_ask_next(struct chain *ch)
{
    while (ch->next < nauthorizers) {
        int i = ch->next++;
        struct pl_authz_request *req = calloc(1, sizeof *req);
        if (!req)
            break;
        req->ch = ch;
        req->idx = i;
        ch->asking = req;
        struct pl_id_token tok = chain_token(ch);
        authorizers[i].a.ask(authorizers[i].a.arg, &tok, req); /* may answer right away */
        return;
    }
    chain_fallback(ch, "unknown");
}

static void authz_answer(pl_authz_request *req, int verdict, json_t *info)
{
    if (!req) {
        json_decref(info);
        return;
    }
    struct chain *ch = req->ch;
    int idx = req->idx;
    free(req);
    if (!ch) { /* too late */
        json_decref(info);
        return;
    }
    ch->asking = NULL;
    if (verdict == PL_AUTHZ_ACCEPT || verdict == PL_AUTHZ_REJECT) {
        const char *status = json_string_value(json_object_get(info, "status"));
        if (!status || (verdict == PL_AUTHZ_ACCEPT) != (strcmp(status, "Accepted") == 0)) {
            json_decref(info); /* the verdict rules; info only adds detail */
            info = json_pack("{s:s}", "status", verdict == PL_AUTHZ_ACCEPT ? "Accepted" : "Invalid");
        }
        char reason[96];
        snprintf(reason, sizeof reason, "remote:%s", authorizers[idx].name);
        chain_end(ch, info, reason);
        return;
    }
    json_decref(info);
    chain_ask_next(ch);
}

static void authorize_token(const struct pl_id_token *tok, pl_auth_cb cb, void *arg)
{
    if (!tok || !tok->value || !*tok->value) {
        json_t *info = json_pack("{s:s}", "status", "Invalid");
        cb(arg, info);
        json_decref(info);
        return;
    }
    const char *reason = NULL;
    json_t *info = decide(tok, &reason);
    if (info) {
        publish(tok, info, reason);
        cb(arg, info);
        json_decref(info);
        return;
    }
    struct chain *ch = calloc(1, sizeof *ch);
    if (!ch || !(ch->value = strdup(tok->value))) {
        free(ch);
        cb(arg, NULL);
        return;
    }
    ch->type = tok->type ? strdup(tok->type) : NULL;
    ch->station = tok->station_id ? strdup(tok->station_id) : NULL;
    ch->evse = tok->evse;
    ch->hash_data = json_incref(tok->hash_data);
    ch->cb = cb;
    ch->arg = arg;
    if (nauthorizers) {
        long ms;
        core_config_int("core", "auth_remote_timeout", 5000, 100, 60000, &ms);
        ch->deadline = evtimer_new(core_base, chain_timeout, ch);
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        if (ch->deadline)
            evtimer_add(ch->deadline, &tv);
    }
    chain_ask_next(ch);
}

/* ---- ISO 15118 contracts: checked before the token decides ---- */

/* A token presented with contract certificate data, while its contract is checked. */
struct contract_check {
    char *value, *type, *station;
    int evse;
    json_t *hash_data;
    pl_auth_cb cb;
    void *arg;
};

static void contract_check_free(struct contract_check *k)
{
    free(k->value);
    free(k->type);
    free(k->station);
    json_decref(k->hash_data);
    free(k);
}

static struct pl_id_token contract_token(struct contract_check *k)
{
    return (struct pl_id_token){sizeof(struct pl_id_token), k->value, k->type, k->station, k->evse,
                                k->hash_data, NULL};
}

/* The token's decision, with the contract's status beside it. */
static void on_decided_after_contract(void *arg, json_t *info)
{
    struct contract_check *k = arg;
    json_t *out = info ? json_copy(info) : NULL;
    if (out)
        json_object_set_new(out, "certificate_status", json_string("Accepted"));
    k->cb(k->arg, out);
    json_decref(out);
    contract_check_free(k);
}

static void on_contract_status(void *arg, const char *status, const char *detail)
{
    struct contract_check *k = arg;
    if (status && strcmp(status, "Accepted") == 0) {
        struct pl_id_token tok = contract_token(k);
        authorize_token(&tok, on_decided_after_contract, k);
        return;
    }
    struct pl_id_token tok = contract_token(k);
    json_t *info = json_pack("{s:s, s:s}", "status", "Invalid", "certificate_status",
                             status ? status : "NoCertificateAvailable");
    char reason[96];
    snprintf(reason, sizeof reason, "certificate:%s", status ? status : "NoCertificateAvailable");
    core_log(PL_LOG_INFO, "tokens", "contract of %s at %s refused: %s%s%s", k->value,
             k->station ? k->station : "-", status ? status : "?", detail ? ": " : "", detail ? detail : "");
    publish(&tok, info, reason);
    k->cb(k->arg, info);
    json_decref(info);
    contract_check_free(k);
}

static void authorize(const struct pl_id_token *tok, pl_auth_cb cb, void *arg)
{
    if (!cb)
        return;
    const char *cert = tok && tok->size >= offsetof(struct pl_id_token, certificate) + sizeof tok->certificate
                           ? tok->certificate
                           : NULL;
    if (!tok || !tok->value || !*tok->value || !(json_array_size(tok->hash_data) || (cert && *cert)) ||
        !certs_checks_contracts()) {
        authorize_token(tok, cb, arg);
        return;
    }
    struct contract_check *k = calloc(1, sizeof *k);
    if (!k || !(k->value = strdup(tok->value))) {
        free(k);
        cb(arg, NULL);
        return;
    }
    k->type = tok->type ? strdup(tok->type) : NULL;
    k->station = tok->station_id ? strdup(tok->station_id) : NULL;
    k->evse = tok->evse;
    k->hash_data = json_incref(tok->hash_data);
    k->cb = cb;
    k->arg = arg;
    certs_contract_status(k->station, k->value, k->hash_data, cert, on_contract_status, k);
}

static int add_authorizer(pl_plugin_handle *self, const struct pl_authorizer *a)
{
    if (!a || a->size < sizeof(struct pl_authorizer) || !a->ask || !a->name)
        return PL_EINVAL;
    if (nauthorizers >= AUTHORIZERS_MAX)
        return PL_EBUSY;
    authorizers[nauthorizers].owner = self;
    authorizers[nauthorizers].a = *a;
    authorizers[nauthorizers].name = strdup(a->name);
    authorizers[nauthorizers].a.name = authorizers[nauthorizers].name;
    nauthorizers++;
    return PL_OK;
}

/* Remove the authorizers of a plugin going away.  Chains hold authorizer indexes, so
 * this happens only while none is asking (init failed; fini runs after shutdown). */
int tokens_remove_owner(pl_plugin_handle *owner)
{
    int n = 0;
    for (int i = 0; i < nauthorizers;)
        if (authorizers[i].owner == owner) {
            free(authorizers[i].name);
            memmove(&authorizers[i], &authorizers[i + 1], (size_t)(nauthorizers - i - 1) * sizeof authorizers[0]);
            nauthorizers--;
            n++;
        } else {
            i++;
        }
    return n;
}

static json_t *lookup(const char *value, const char *type)
{
    struct token *t = value ? find(value, type) : NULL;
    if (!t)
        return NULL;
    return json_pack("{s:I, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:b}", "id", (json_int_t)t->id,
                     "id_token", t->value, "type", t->type, "status", t->status, "expiry",
                     t->expiry, "group_id", t->group, "contract_id", t->contract, "active",
                     t->active);
}

/* ---- local lists ---- */
struct list_ctx {
    const char *station;
    json_t *out;
};

static void collect_entry(void *val, void *arg)
{
    struct list_ctx *c = arg;
    for (struct token *t = val; t; t = t->next_type) {
        if (!t->active || !allowed_at(t, c->station) ||
            strcmp(t->type, "NoAuthorization") == 0)
            continue;
        struct customer *cu = customer_of(t);
        /* s*: no expiry / parent is left out, as the recorded list (station_docs) has it,
         * so a Differential sync compares equal entries as equal */
        json_array_append_new(c->out, json_pack("{s:s, s:s, s:s*, s:s*}", "id_token", t->value,
                                                "status", cu && cu->suspended ? "Blocked" : t->status,
                                                "expiry", t->expiry, "parent", t->group));
        break; /* one entry per value: a local list has no types in 1.6 */
    }
}

static int by_id_token(const void *a, const void *b)
{
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "id_token")),
                  json_string_value(json_object_get(*(json_t *const *)b, "id_token")));
}

json_t *tokens_local_list(const char *station_id)
{
    struct list_ctx c = {station_id, json_array()};
    hashmap_foreach(by_value, collect_entry, &c);
    size_t n = json_array_size(c.out);
    json_t **v = n ? malloc(n * sizeof *v) : NULL;
    if (v) {
        for (size_t i = 0; i < n; i++)
            v[i] = json_incref(json_array_get(c.out, i));
        qsort(v, n, sizeof *v, by_id_token);
        json_array_clear(c.out);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(c.out, v[i]);
        free(v);
    }
    return c.out;
}

/* ------------------------------------------------------------------------ */
void tokens_ops_call(const char *op, json_t *args, pl_domain_cb cb, void *arg); /* tokens_ops.c */

const struct pl_tokens_api *tokens_api(void)
{
    static const struct pl_tokens_api api = {
        .size = sizeof(struct pl_tokens_api),
        .authorize = authorize,
        .add_authorizer = add_authorizer,
        .authz_answer = authz_answer,
        .call = tokens_ops_call,
        .lookup = lookup,
    };
    return &api;
}

static void free_token_chain(void *val, void *arg)
{
    (void)arg;
    for (struct token *t = val, *next; t; t = next) {
        next = t->next_type;
        token_free(t);
    }
}

static void free_plain(void *val, void *arg)
{
    (void)arg;
    free(val);
}

static void free_active(void *val, void *arg)
{
    (void)arg;
    active_free(val);
}

void tokens_shutdown(void)
{
    bus_bus_unsubscribe(tx_sub);
    tx_sub = NULL;
    if (refresh_timer)
        event_free(refresh_timer);
    refresh_timer = NULL;
    hashmap_foreach(by_value, free_token_chain, NULL);
    hashmap_free(by_value);
    hashmap_free(by_id);
    by_id = NULL;
    hashmap_foreach(customers, free_plain, NULL);
    hashmap_free(customers);
    hashmap_foreach(active, free_active, NULL);
    hashmap_free(active);
    by_value = customers = active = NULL;
    for (int i = 0; i < nauthorizers; i++)
        free(authorizers[i].name);
    nauthorizers = 0;
    loaded = loading = 0;
}
