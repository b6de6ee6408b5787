/*
 * apikey.c — API keys and rate limits.  Only SHA-256 digests are kept; a presented key
 * is hashed and compared against every digest in constant time (no early exit that
 * would tell an attacker how close a guess was).  Token buckets for the request rate per
 * key or address and for failed authentications per address, in bounded tables.
 */
#include "apikey.h"
#include "config.h"
#include "core.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

struct apikey {
    char *name;
    int scope;
    int managed; /* from the api_keys table (keys.c), not the configuration */
    unsigned char digest[32];
    struct apikey *next;
};
static struct apikey *keys;

int apikey_scope_from_name(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "read") == 0)
        return PL_AUTH_READ;
    if (strcmp(s, "operator") == 0)
        return PL_AUTH_OPERATOR;
    if (strcmp(s, "admin") == 0)
        return PL_AUTH_ADMIN;
    return -1;
}

static int hex_to_bytes(const char *hex, unsigned char *out, size_t n)
{
    if (strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (!isxdigit((unsigned char)hex[2 * i]) || !isxdigit((unsigned char)hex[2 * i + 1]) ||
            sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

static int add_digest(const char *name, int scope, const unsigned char digest[32])
{
    struct apikey *k = calloc(1, sizeof *k);
    if (!k || !(k->name = strdup(name))) {
        free(k);
        return -1;
    }
    k->scope = scope;
    memcpy(k->digest, digest, 32);
    k->next = keys;
    keys = k;
    return 0;
}

/* Managed keys (keys.c): replaced as a whole from the table, or one by one. */
void apikey_drop_managed(const char *name)
{
    for (struct apikey **pp = &keys; *pp;) {
        struct apikey *k = *pp;
        if (k->managed && (!name || strcmp(k->name, name) == 0)) {
            *pp = k->next;
            free(k->name);
            free(k);
        } else {
            pp = &k->next;
        }
    }
}

int apikey_add_managed(const char *name, int scope, const char *digest_hex)
{
    unsigned char d[32];
    if (!name || scope < 0 || !digest_hex || hex_to_bytes(digest_hex, d, 32) != 0)
        return -1;
    apikey_drop_managed(name);
    if (add_digest(name, scope, d) != 0)
        return -1;
    keys->managed = 1;
    return 0;
}

int apikey_configured(const char *name)
{
    for (struct apikey *k = keys; k; k = k->next)
        if (!k->managed && strcmp(k->name, name) == 0)
            return 1;
    return 0;
}

json_t *apikey_list_configured(void)
{
    json_t *out = json_array();
    static const char *const scopes[] = {"none", "read", "operator", "admin"};
    for (struct apikey *k = keys; k; k = k->next)
        if (!k->managed)
            json_array_append_new(out, json_pack("{s:s, s:s, s:s}", "name", k->name, "scope",
                                                 k->scope >= 0 && k->scope <= 3 ? scopes[k->scope] : "?",
                                                 "source", "configuration"));
    return out;
}

int apikey_add(const char *name, int scope, const char *plaintext)
{
    char hex[65];
    unsigned char d[32];
    util_sha256_hex(plaintext, strlen(plaintext), hex);
    hex_to_bytes(hex, d, 32);
    return add_digest(name, scope, d);
}

struct load_ctx {
    char *err;
    size_t errlen;
    int bad;
};

static void load_key(const char *key, const char *value, const char *where, void *arg)
{
    struct load_ctx *c = arg;
    if (c->bad)
        return;
    char scope[32], digest[128];
    unsigned char d[32];
    if (sscanf(value, "%31s sha256:%127s", scope, digest) != 2 ||
        apikey_scope_from_name(scope) < 0 || hex_to_bytes(digest, d, 32) != 0) {
        snprintf(c->err, c->errlen,
                 "%s: [keys] %s: expected 'read|operator|admin sha256:<64 hex digits>'", where, key);
        c->bad = 1;
        return;
    }
    add_digest(key, apikey_scope_from_name(scope), d);
}

int apikey_load(char *err, size_t errlen)
{
    apikey_free();
    struct load_ctx c = {err, errlen, 0};
    config_foreach("keys", load_key, &c);
    if (c.bad)
        return -1;
    const char *env = getenv("PIPELET_API_KEY");
    if (env && *env)
        apikey_add("env", PL_AUTH_ADMIN, env);
    return 0;
}

int apikey_check(const char *presented, int *scope, const char **name)
{
    if (!presented || !*presented || strlen(presented) > 512)
        return 0;
    char hex[65];
    unsigned char d[32];
    util_sha256_hex(presented, strlen(presented), hex);
    hex_to_bytes(hex, d, 32);
    struct apikey *found = NULL;
    for (struct apikey *k = keys; k; k = k->next) /* no early exit */
        if (util_ct_equal(k->digest, d, 32) && !found)
            found = k;
    if (!found)
        return 0;
    *scope = found->scope;
    *name = found->name;
    return 1;
}

/* ---------- token buckets ----------
 * Two tables: requests per key or address, and failed authentications per address.  Each
 * is a hash of buckets plus a least-recently-used list.  A full table evicts its least
 * recently used bucket (idle the longest, so refilled or nearly), which keeps memory
 * bounded without switching the limit off for new addresses. */
struct bucket {
    char *key;
    double tokens;
    uint64_t last_ms;
    struct bucket *hnext;     /* hash chain */
    TAILQ_ENTRY(bucket) lru;  /* most recently used first */
};
TAILQ_HEAD(bucket_lru, bucket);

#define TABLE_SLOTS 4096
struct bucket_table {
    struct bucket *slots[TABLE_SLOTS];
    struct bucket_lru lru;
    size_t n, max;
};
static struct bucket_table rate_table = {.lru = TAILQ_HEAD_INITIALIZER(rate_table.lru),
                                         .max = 100000};
static struct bucket_table authfail_table = {
    .lru = TAILQ_HEAD_INITIALIZER(authfail_table.lru), .max = AUTHFAIL_TABLE_MAX};

static unsigned bhash(const char *s)
{
    unsigned h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h % TABLE_SLOTS;
}

static void table_remove(struct bucket_table *t, struct bucket *b)
{
    struct bucket **pp = &t->slots[bhash(b->key)];
    while (*pp != b)
        pp = &(*pp)->hnext;
    *pp = b->hnext;
    TAILQ_REMOVE(&t->lru, b, lru);
    t->n--;
    free(b->key);
    free(b);
}

static void table_clear(struct bucket_table *t)
{
    while (!TAILQ_EMPTY(&t->lru))
        table_remove(t, TAILQ_FIRST(&t->lru));
}

/* Refill by the time passed since the last use and mark the bucket most recently used. */
static void bucket_touch(struct bucket_table *t, struct bucket *b, double rate, double burst)
{
    uint64_t now = core_now_ms();
    b->tokens += (double)(now - b->last_ms) * rate / 1000.0;
    if (b->tokens > burst)
        b->tokens = burst;
    b->last_ms = now;
    TAILQ_REMOVE(&t->lru, b, lru);
    TAILQ_INSERT_HEAD(&t->lru, b, lru);
}

/* The bucket of key, refilled; NULL if there is none. */
static struct bucket *table_find(struct bucket_table *t, const char *key, double rate,
                                 double burst)
{
    for (struct bucket *b = t->slots[bhash(key)]; b; b = b->hnext)
        if (strcmp(b->key, key) == 0) {
            bucket_touch(t, b, rate, burst);
            return b;
        }
    return NULL;
}

/* The bucket of key, refilled, created full when new; NULL only when out of memory. */
static struct bucket *table_get(struct bucket_table *t, const char *key, double rate,
                                double burst)
{
    struct bucket *b = table_find(t, key, rate, burst);
    if (b)
        return b;
    if (t->n >= t->max)
        table_remove(t, TAILQ_LAST(&t->lru, bucket_lru));
    b = calloc(1, sizeof *b);
    if (!b || !(b->key = strdup(key))) {
        free(b);
        return NULL;
    }
    unsigned h = bhash(key);
    b->tokens = burst;
    b->last_ms = core_now_ms();
    b->hnext = t->slots[h];
    t->slots[h] = b;
    TAILQ_INSERT_HEAD(&t->lru, b, lru);
    t->n++;
    return b;
}

/* Seconds until the bucket holds one token again (>= 1). */
static int bucket_wait(const struct bucket *b, double rate)
{
    int wait = (int)((1 - b->tokens) / rate + 0.999);
    return wait < 1 ? 1 : wait;
}

int ratelimit_take(const char *bucket_key, double rate, double burst)
{
    if (rate <= 0)
        return 0;
    struct bucket *b = table_get(&rate_table, bucket_key, rate, burst);
    if (!b) /* out of memory: serve rather than refuse everyone */
        return 0;
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return 0;
    }
    return bucket_wait(b, rate);
}

int authfail_blocked(const char *client, double rate, double burst)
{
    if (rate <= 0)
        return 0;
    struct bucket *b = table_find(&authfail_table, client, rate, burst);
    return b && b->tokens < 1 ? bucket_wait(b, rate) : 0;
}

void authfail_record(const char *client, double rate, double burst)
{
    if (rate <= 0)
        return;
    struct bucket *b = table_get(&authfail_table, client, rate, burst);
    if (b)
        b->tokens = b->tokens >= 1 ? b->tokens - 1 : 0;
}

size_t ratelimit_entries(void)
{
    return rate_table.n + authfail_table.n;
}

void apikey_free(void)
{
    while (keys) {
        struct apikey *k = keys;
        keys = k->next;
        free(k->name);
        free(k);
    }
    table_clear(&rate_table);
    table_clear(&authfail_table);
}
