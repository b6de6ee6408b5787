/*
 * util.c — small helpers shared by core modules: the loop globals, time, UUIDs,
 * hashing and encodings (OpenSSL), UTF-8 and RFC 3339 checks.
 */
#include "core.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>

struct event_base *core_base;
struct evdns_base *core_dns;

uint64_t core_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The date and time up to the seconds change once a second but are asked for several
 * times per OCPP message: cache that prefix and write only the milliseconds. */
static void format_rfc3339(int64_t sec, long msec, char *buf, size_t len)
{
    static int64_t cached_sec = INT64_MIN;
    static char prefix[64]; /* "YYYY-MM-DDTHH:MM:SS" (room for any year gcc can imagine) */
    if (sec != cached_sec) {
        struct tm tm;
        time_t t = (time_t)sec;
        gmtime_r(&t, &tm);
        snprintf(prefix, sizeof prefix, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_sec = sec;
    }
    size_t n = strlen(prefix);
    if (len < n + 6) { /* ".mmmZ" and the terminator */
        if (len)
            buf[0] = '\0';
        return;
    }
    memcpy(buf, prefix, n);
    buf[n] = '.';
    buf[n + 1] = (char)('0' + msec / 100);
    buf[n + 2] = (char)('0' + msec / 10 % 10);
    buf[n + 3] = (char)('0' + msec % 10);
    buf[n + 4] = 'Z';
    buf[n + 5] = '\0';
}

const char *core_now_rfc3339(char *buf, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    format_rfc3339(ts.tv_sec, ts.tv_nsec / 1000000L, buf, len);
    return buf;
}

int64_t core_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000L;
}

const char *core_format_wall_ms(int64_t ms, char *buf, size_t len)
{
    int64_t sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    format_rfc3339(sec, (long)(ms - sec * 1000), buf, len);
    return buf;
}

/* Random bytes for identifiers (UUIDs), drawn from the CSPRNG a block at a time: one
 * RAND_bytes per message cost a tenth of the simulator's CPU under load. */
static int random_pooled(unsigned char *out, size_t n)
{
    static unsigned char pool[1024];
    static size_t avail;
    while (n) {
        if (avail == 0) {
            if (util_random(pool, sizeof pool) != 0)
                return -1;
            avail = sizeof pool;
        }
        size_t take = n < avail ? n : avail;
        memcpy(out, pool + sizeof pool - avail, take);
        OPENSSL_cleanse(pool + sizeof pool - avail, take);
        avail -= take;
        out += take;
        n -= take;
    }
    return 0;
}

const char *core_uuid(char buf[37])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char b[16];
    if (random_pooled(b, sizeof b) != 0) {
        /* CSPRNG failure is near impossible; fall back to time so ids stay unique-ish */
        uint64_t t = core_now_ms();
        memcpy(b, &t, sizeof t);
        memcpy(b + 8, &t, sizeof t);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char *o = buf;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = digits[b[i] >> 4];
        *o++ = digits[b[i] & 15];
    }
    *o = '\0';
    return buf;
}

static void to_hex(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int from_hex(const char *in, unsigned char *out, size_t outlen)
{
    size_t n = strlen(in);
    if (n % 2 || n / 2 > outlen)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(in + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return (int)(n / 2);
}

void util_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    to_hex(md, sizeof md, out);
}

void util_sha1(const void *data, size_t len, unsigned char out[20])
{
    SHA1(data, len, out);
}

int util_base64_encode(const unsigned char *in, size_t len, char *out, size_t outlen)
{
    size_t need = 4 * ((len + 2) / 3) + 1;
    if (outlen < need)
        return -1;
    return EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

int util_base64_decode(const char *in, unsigned char *out, size_t outlen)
{
    size_t n = strlen(in);
    if (n % 4 != 0 || (n / 4) * 3 > outlen + 2)
        return -1;
    unsigned char *tmp = malloc(n / 4 * 3 + 1);
    if (!tmp)
        return -1;
    int r = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)n);
    if (r < 0) {
        free(tmp);
        return -1;
    }
    /* EVP_DecodeBlock counts padding bytes as data: trim them */
    if (n >= 1 && in[n - 1] == '=')
        r--;
    if (n >= 2 && in[n - 2] == '=')
        r--;
    if ((size_t)r > outlen) {
        free(tmp);
        return -1;
    }
    memcpy(out, tmp, (size_t)r);
    free(tmp);
    return r;
}

int util_ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

int util_random(void *buf, size_t len)
{
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

#define PBKDF2_ITER 10000

int util_password_hash(const char *password, char *out, size_t outlen)
{
    unsigned char salt[16], dk[32];
    char salthex[33], dkhex[65];
    if (util_random(salt, sizeof salt) != 0)
        return -1;
    if (!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof salt, PBKDF2_ITER,
                           EVP_sha256(), sizeof dk, dk))
        return -1;
    to_hex(salt, sizeof salt, salthex);
    to_hex(dk, sizeof dk, dkhex);
    int n = snprintf(out, outlen, "pbkdf2-sha256$%d$%s$%s", PBKDF2_ITER, salthex, dkhex);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

int util_password_verify(const char *password, const char *stored)
{
    char buf[256];
    unsigned char salt[64], want[64], got[64];
    if (!stored || strncmp(stored, "pbkdf2-sha256$", 14) != 0 || strlen(stored) >= sizeof buf)
        return 0;
    strcpy(buf, stored + 14);
    char *iter_s = buf, *salt_s = strchr(iter_s, '$'), *hash_s;
    if (!salt_s)
        return 0;
    *salt_s++ = '\0';
    hash_s = strchr(salt_s, '$');
    if (!hash_s)
        return 0;
    *hash_s++ = '\0';
    long iter = strtol(iter_s, NULL, 10);
    int saltlen = from_hex(salt_s, salt, sizeof salt);
    int wantlen = from_hex(hash_s, want, sizeof want);
    if (iter <= 0 || iter > 10000000 || saltlen <= 0 || wantlen <= 0)
        return 0;
    if (!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, saltlen, (int)iter,
                           EVP_sha256(), wantlen, got))
        return 0;
    return util_ct_equal(got, want, (size_t)wantlen);
}

int util_utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + n >= len)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

/* Days from civil date (Howard Hinnant's algorithm): no timegm/TZ dependence. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int util_parse_rfc3339(const char *s, int64_t *ms)
{
    int Y, M, D, h, m, sec, frac_ms = 0;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!s || strlen(s) < 19)
        return -1;
    if (digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 || sec > 60)
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        int n = 0, scale = 100;
        p++;
        while (isdigit((unsigned char)*p)) {
            if (n < 3)
                frac_ms += (*p - '0') * scale;
            scale /= 10;
            n++;
            p++;
        }
        if (n == 0)
            return -1;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 ||
            om > 59)
            return -1;
        offset_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    if (ms) {
        int64_t days = days_from_civil(Y, (unsigned)M, (unsigned)D);
        int64_t secs = days * 86400 + h * 3600 + m * 60 + sec - offset_min * 60;
        *ms = secs * 1000 + frac_ms;
    }
    return 0;
}

int util_percent_decode(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r == '%') {
            if (!isxdigit((unsigned char)r[1]) || !isxdigit((unsigned char)r[2]))
                return -1;
            if (r[1] == '0' && r[2] == '0')
                return -1; /* a NUL would cut the string: "a%00b" must not become "a" */
            char hex[3] = {r[1], r[2], 0};
            *w++ = (char)strtol(hex, NULL, 16);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return 0;
}

/* The character set of OCPP 2.0.1's identifierString (part 2, primitive datatypes):
 * letters, digits and * - _ = : + | @ .  Everything else (/, %, space, controls, NUL,
 * any byte above 0x7e) is ambiguous in a URL path, a log line or a database key. */
int util_station_id_valid(const char *id, size_t len)
{
    static const char extra[] = "*-_=:+|@.";
    if (!id || len == 0 || len > UTIL_STATION_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (c == '\0' || !strchr(extra, c)))
            return 0;
    }
    return 1;
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

/* The same words the REST layer asks an admin key for (plugins/headless/config_routes.c):
 * 1.6 AuthorizationKey, 2.0.1 SecurityCtrlr.BasicAuthPassword, SetNetworkProfile's
 * basicAuthPassword, vendor keys named like passwords. */
int util_secret_name(const char *name)
{
    static const char *const words[] = {"AuthorizationKey", "Password", "BasicAuth", NULL};
    for (int i = 0; name && words[i]; i++)
        if (contains_nocase(name, words[i]))
            return 1;
    return 0;
}

static const char REDACTED[] = "***";

static void redact_member(json_t *o, const char *member)
{
    json_t *v = json_object_get(o, member);
    if (v && !json_is_null(v))
        json_object_set_new(o, member, json_string(REDACTED));
}

/* {"key": secret, "value": v} (ChangeConfiguration, GetConfiguration's keys, the neutral
 * configuration operations) and {"variable": {"name": secret}, "attributeValue" |
 * "variableAttribute": [{"value"}]} (Set/GetVariables, NotifyReport). */
static void redact_object(json_t *o)
{
    if (util_secret_name(json_string_value(json_object_get(o, "key"))))
        redact_member(o, "value");
    json_t *var = json_object_get(o, "variable");
    if (util_secret_name(json_string_value(json_object_get(var, "name")))) {
        redact_member(o, "attributeValue");
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(o, "variableAttribute"), i, a)
            redact_member(a, "value");
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (json_is_string(v) && util_secret_name(k))
            json_string_set(v, REDACTED); /* in place: the object is being iterated */
        else
            util_redact_secrets(v);
    }
}

void util_redact_secrets(json_t *j)
{
    size_t i;
    json_t *v;
    if (json_is_object(j))
        redact_object(j);
    else if (json_is_array(j))
        json_array_foreach(j, i, v)
            util_redact_secrets(v);
}

/* Append s as a JSON string (quoted, escaped) to buf at *len; 0, or -1 if cap is too
 * small.  For text built by hand on the hot path, where jansson's object and dump
 * machinery cost more than the message itself. */
int util_json_quote(char *buf, size_t cap, size_t *len, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = *len;
    if (n + 2 > cap)
        return -1;
    buf[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (n + 7 > cap)
            return -1;
        if (*p == '"' || *p == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)*p;
        } else if (*p < 0x20) {
            memcpy(buf + n, "\\u00", 4);
            buf[n + 4] = hex[*p >> 4];
            buf[n + 5] = hex[*p & 15];
            n += 6;
        } else {
            buf[n++] = (char)*p;
        }
    }
    if (n + 2 > cap)
        return -1;
    buf[n++] = '"';
    buf[n] = '\0';
    *len = n;
    return 0;
}
