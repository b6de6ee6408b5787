/*
 * apikey.h — API keys (X-API-Key): stored as SHA-256 digests with a scope, compared in
 * constant time; a token bucket per key (or per client address) for rate limits.
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
/* Token bucket: 0 allowed, else the seconds to wait (>= 1). */
int ratelimit_take(const char *bucket_key, double rate, double burst);
void apikey_free(void);

#endif
