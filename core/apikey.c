/*
 * apikey.c — API keys and rate limits.  Only SHA-256 digests are kept; a presented key
 * is hashed and compared against every digest in constant time (no early exit that
 * would tell an attacker how close a guess was).
 */
#include "apikey.h"
#include "config.h"
#include "core.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct apikey {
    char *name;
    int scope;
    unsigned char digest[32];
    struct apikey *next;
};
static struct apikey *keys;

struct bucket {
    char *key;
    double tokens;
    uint64_t last_ms;
    struct bucket *next;
};
#define NBUCKETS 1024
static struct bucket *buckets[NBUCKETS];
static size_t nbuckets;

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

static unsigned bhash(const char *s)
{
    unsigned h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h % NBUCKETS;
}

int ratelimit_take(const char *bucket_key, double rate, double burst)
{
    if (rate <= 0)
        return 0;
    unsigned h = bhash(bucket_key);
    struct bucket *b;
    for (b = buckets[h]; b; b = b->next)
        if (strcmp(b->key, bucket_key) == 0)
            break;
    uint64_t now = core_now_ms();
    if (!b) {
        if (nbuckets > 100000) /* bounded: many addresses cannot grow memory forever */
            return 0;
        b = calloc(1, sizeof *b);
        if (!b || !(b->key = strdup(bucket_key))) {
            free(b);
            return 0;
        }
        b->tokens = burst;
        b->last_ms = now;
        b->next = buckets[h];
        buckets[h] = b;
        nbuckets++;
    }
    b->tokens += (double)(now - b->last_ms) * rate / 1000.0;
    if (b->tokens > burst)
        b->tokens = burst;
    b->last_ms = now;
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return 0;
    }
    int wait = (int)((1 - b->tokens) / rate + 0.999);
    return wait < 1 ? 1 : wait;
}

void apikey_free(void)
{
    while (keys) {
        struct apikey *k = keys;
        keys = k->next;
        free(k->name);
        free(k);
    }
    for (size_t i = 0; i < NBUCKETS; i++)
        while (buckets[i]) {
            struct bucket *b = buckets[i];
            buckets[i] = b->next;
            free(b->key);
            free(b);
        }
    nbuckets = 0;
}
