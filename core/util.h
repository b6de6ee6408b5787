/* util.h — small shared helpers: hex/base64/SHA-256, constant-time compare, strings. */
#ifndef PIPELET_UTIL_H
#define PIPELET_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* Lowercase hex SHA-256 of data into out (65 bytes). */
void util_sha256_hex(const void *data, size_t len, char out[65]);
void util_sha1(const void *data, size_t len, unsigned char out[20]);
/* Base64 (standard alphabet, padded).  Returns length written, or -1 if out too small. */
int util_base64_encode(const unsigned char *in, size_t len, char *out, size_t outlen);
/* Decode; returns decoded length or -1. */
int util_base64_decode(const char *in, unsigned char *out, size_t outlen);
/* Constant-time equality of two equal-length buffers (1 = equal). */
int util_ct_equal(const void *a, const void *b, size_t len);
/* Random bytes from OpenSSL's CSPRNG (0 on success). */
int util_random(void *buf, size_t len);
/* Password hashes for station Basic auth: "pbkdf2-sha256$iter$salthex$hashhex". */
int util_password_hash(const char *password, char *out, size_t outlen);
int util_password_verify(const char *password, const char *stored); /* 1 = match */
/* Valid UTF-8 (RFC 3629, no overlongs or surrogates)? */
int util_utf8_valid(const unsigned char *s, size_t len);
/* Parse RFC 3339 date-time (returns 0 if valid); epoch ms into *ms if non-NULL. */
int util_parse_rfc3339(const char *s, int64_t *ms);
/* Percent-decode in place; -1 on a bad escape. */
int util_percent_decode(char *s);

/* The station id rule, the same at the handshake, in the REST paths and for passwords:
 * 1 to 48 characters (1.6 chargeBoxIdentity is CiString48, 2.0.1's identity 48 too),
 * each a letter, a digit or one of * - _ = : + | @ . (2.0.1 identifierString).  So no
 * '/', '%', space, control character, NUL or non-ASCII byte.  1 = valid. */
#define UTIL_STATION_ID_MAX 48
int util_station_id_valid(const char *id, size_t len);
/* 1 when a configuration key or JSON member name holds a credential: it contains
 * AuthorizationKey, Password or BasicAuth (any case). */
int util_secret_name(const char *name);
/* Replace in place every credential value of j with "***": members named like secrets,
 * "value" beside a secret "key", attribute values of a secret "variable".  Works on
 * OCPP frames and payloads of both versions and on neutral command args and results.
 * What is shown, stored or published; never what is sent to the station. */
void util_redact_secrets(json_t *j);

/* Append s as a quoted, escaped JSON string to buf (NUL-terminated); -1 if it does not fit. */
int util_json_quote(char *buf, size_t cap, size_t *len, const char *s);

#endif
