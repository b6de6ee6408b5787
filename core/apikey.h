/*
 * apikey.h — API keys (X-API-Key): stored as SHA-256 digests with a scope, compared in
 * constant time; a token bucket per key (or per client address) for rate limits, and one
 * per client address that only failed authentications drain.
 */
#ifndef PIPELET_APIKEY_H
#define PIPELET_APIKEY_H

#include <stddef.h>

/* Load [keys] and PIPELET_API_KEY (replacing what was loaded).  -1 with err on a bad line. */
int apikey_load(char *err, size_t errlen);
/* Add a key in clear (tests); scope PL_AUTH_READ..PL_AUTH_ADMIN. */
int apikey_add(const char *name, int scope, const char *plaintext);
/* 1 and scope/name when the presented key is known. */
int apikey_check(const char *presented, int *scope, const char **name);
int apikey_scope_from_name(const char *s); /* -1 if unknown */
/* Keys of the api_keys table (keys.c): add one by its hex digest (replacing one of that
 * name), drop one (name) or all (NULL) of them.  Configured keys are never touched. */
int apikey_add_managed(const char *name, int scope, const char *digest_hex);
void apikey_drop_managed(const char *name);
int apikey_configured(const char *name);   /* 1 if [keys] or PIPELET_API_KEY has it */
#include <jansson.h>
json_t *apikey_list_configured(void);      /* new: [{"name","scope","source"}] */
/* Token bucket (rate per second; rate <= 0: unlimited): 0 allowed, else the seconds to
 * wait (>= 1). */
int ratelimit_take(const char *bucket_key, double rate, double burst);
/* Failed authentications per client: authfail_blocked answers 0 while the client has
 * failures left in its budget, else the seconds until it has one again; only
 * authfail_record (one failure) drains it.  rate <= 0: never blocked. */
#define AUTHFAIL_TABLE_MAX 20000 /* clients remembered; the least recently seen go first */
int authfail_blocked(const char *client, double rate, double burst);
void authfail_record(const char *client, double rate, double burst);
/* Buckets held in both tables (bounded; for tests and /metrics). */
size_t ratelimit_entries(void);
void apikey_free(void);

#endif
