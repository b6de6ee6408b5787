/*
 * params.c — validation of what a client sends (path, query, body) with one clear 400
 * per problem, cursor pagination helpers and a tiny SQL builder.  Every getter answers
 * the request itself on error so handlers read as a list of checks.
 */
#include "headless.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

json_t *hl_body(struct headless *hl, pl_request *req)
{
    json_t *b = hl->host->req_json(req);
    if (!b) {
        size_t len = 0;
        const char *raw = hl->host->req_body(req, &len);
        /* A body that is not JSON at all is answered by the core; whitespace is "none". */
        for (size_t i = 0; raw && i < len; i++)
            if (!isspace((unsigned char)raw[i])) {
                hl->host->reply_error(req, 400, "INVALID_JSON", "body must be a JSON object");
                return NULL;
            }
        return json_object();
    }
    if (!json_is_object(b)) {
        hl->host->reply_error(req, 400, "INVALID_BODY", "body must be a JSON object");
        return NULL;
    }
    return json_incref(b);
}

/* Strict decimal integer: optional '-', digits only, no spaces, within [min,max]. */
static int parse_long(const char *s, long *out)
{
    if (!s || !*s)
        return -1;
    const char *p = s;
    if (*p == '-')
        p++;
    if (!*p)
        return -1;
    for (; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    errno = 0;
    long v = strtol(s, NULL, 10);
    if (errno)
        return -1;
    *out = v;
    return 0;
}

static void reply_range(struct headless *hl, pl_request *req, const char *name, long min,
                        long max)
{
    if (min == 1 && max >= HL_CONNECTOR_MAX)
        hl->host->reply_error(req, 400, "INVALID_PARAMETER", "%s must be a positive integer",
                              name);
    else if (min == 0 && max >= HL_CONNECTOR_MAX)
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "%s must be a non-negative integer", name);
    else
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "%s must be an integer between %ld and %ld", name, min, max);
}

int hl_path_station(struct headless *hl, pl_request *req, const char **out)
{
    const char *id = hl->host->req_param(req, "id");
    if (!id || !*id) {
        hl->host->reply_error(req, 400, "MISSING_PARAMETER", "station id is required");
        return -1;
    }
    if (strlen(id) > HL_STATION_ID_MAX) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "station id must be at most %d characters", HL_STATION_ID_MAX);
        return -1;
    }
    *out = id;
    return 0;
}

int hl_path_int(struct headless *hl, pl_request *req, const char *name, long min, long max,
                long *out)
{
    const char *s = hl->host->req_param(req, name);
    /* Path parameters have short names in the patterns; errors use the field's name. */
    const char *shown = !strcmp(name, "c") ? "connector" : !strcmp(name, "rid") ? "reservation_id" : name;
    long v;
    if (parse_long(s, &v) < 0 || v < min || v > max) {
        reply_range(hl, req, shown, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int hl_path_tx(struct headless *hl, pl_request *req, struct hl_tx_ref *out)
{
    const char *id = hl->host->req_param(req, "id");
    const char *station = hl->host->req_query(req, "station_id");
    memset(out, 0, sizeof *out);
    if (!station) {
        /* Without a station an integer can only be the core's id: a station's own id
         * that looks like one would be ambiguous, so it needs ?station_id=. */
        long v;
        if (parse_long(id, &v) == 0 && v >= 1) {
            out->id = v;
            return 0;
        }
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "id must be a positive integer (the gateway's transaction id), "
                              "or the station's own transaction id with ?station_id=");
        return -1;
    }
    if (!*station || strlen(station) > HL_STATION_ID_MAX) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "station_id must be a station id of 1 to %d characters",
                              HL_STATION_ID_MAX);
        return -1;
    }
    if (!id || !*id || strlen(id) > HL_STATION_TX_ID_MAX) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "id must be the station's transaction id (1 to %d characters)",
                              HL_STATION_TX_ID_MAX);
        return -1;
    }
    out->station = station;
    out->station_tx_id = id;
    return 0;
}

int hl_is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

int hl_url_encode(const char *s, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        int plain = isalnum(ch) || strchr("-._~", ch);
        if (o + (plain ? 1 : 3) >= outlen) {
            out[o] = '\0';
            return -1;
        }
        if (plain) {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
    return 0;
}

int hl_query_int(struct headless *hl, pl_request *req, const char *name, int required,
                 long min, long max, long def, long *out)
{
    const char *s = hl->host->req_query(req, name);
    if (!s) {
        if (required) {
            hl->host->reply_error(req, 400, "MISSING_PARAMETER", "%s is required", name);
            return -1;
        }
        *out = def;
        return 0;
    }
    long v;
    if (parse_long(s, &v) < 0 || v < min || v > max) {
        reply_range(hl, req, name, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int hl_query_bool(struct headless *hl, pl_request *req, const char *name, int *out,
                  int *present)
{
    const char *s = hl->host->req_query(req, name);
    *present = 0;
    if (!s)
        return 0;
    if (!strcmp(s, "true") || !strcmp(s, "1"))
        *out = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "0"))
        *out = 0;
    else {
        hl->host->reply_error(req, 400, "INVALID_ENUM", "%s must be one of: true, false",
                              name);
        return -1;
    }
    *present = 1;
    return 0;
}

static void reply_enum(struct headless *hl, pl_request *req, const char *name,
                       const char *const *allowed)
{
    char list[512];
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; allowed[i] && used < sizeof list; i++) {
        int n = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", allowed[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    hl->host->reply_error(req, 400, "INVALID_ENUM", "%s must be one of: %s", name, list);
}

static int in_enum(const char *s, const char *const *allowed)
{
    for (size_t i = 0; allowed[i]; i++)
        if (!strcmp(s, allowed[i]))
            return 1;
    return 0;
}

int hl_query_enum(struct headless *hl, pl_request *req, const char *name,
                  const char *const *allowed, const char **out)
{
    const char *s = hl->host->req_query(req, name);
    *out = NULL;
    if (!s)
        return 0;
    if (!in_enum(s, allowed)) {
        reply_enum(hl, req, name, allowed);
        return -1;
    }
    *out = s;
    return 0;
}

int hl_query_time(struct headless *hl, pl_request *req, const char *name, const char **out)
{
    const char *s = hl->host->req_query(req, name);
    *out = NULL;
    if (!s)
        return 0;
    if (!hl_is_rfc3339(s)) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "%s must be an RFC 3339 date-time (e.g. 2026-11-24T19:00:00Z)",
                              name);
        return -1;
    }
    *out = s;
    return 0;
}

static int missing(struct headless *hl, pl_request *req, const char *name)
{
    hl->host->reply_error(req, 400, "MISSING_PARAMETER", "%s is required", name);
    return -1;
}

int hl_body_int(struct headless *hl, pl_request *req, json_t *body, const char *name,
                int required, long min, long max, long *out, int *present)
{
    json_t *v = json_object_get(body, name);
    if (present)
        *present = 0;
    if (!v || json_is_null(v)) {
        if (required)
            return missing(hl, req, name);
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        reply_range(hl, req, name, min, max);
        return -1;
    }
    *out = (long)json_integer_value(v);
    if (present)
        *present = 1;
    return 0;
}

int hl_body_str(struct headless *hl, pl_request *req, json_t *body, const char *name,
                int required, size_t maxlen, const char **out)
{
    json_t *v = json_object_get(body, name);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return missing(hl, req, name);
        return 0;
    }
    if (!json_is_string(v) || (required && !json_string_length(v))) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER", "%s must be a non-empty string",
                              name);
        return -1;
    }
    if (json_string_length(v) > maxlen) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "%s must be at most %zu characters", name, maxlen);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int hl_body_enum(struct headless *hl, pl_request *req, json_t *body, const char *name,
                 int required, const char *const *allowed, const char **out)
{
    json_t *v = json_object_get(body, name);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return missing(hl, req, name);
        return 0;
    }
    if (!json_is_string(v) || !in_enum(json_string_value(v), allowed)) {
        reply_enum(hl, req, name, allowed);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int hl_body_bool(struct headless *hl, pl_request *req, json_t *body, const char *name,
                 int required, int *out, int *present)
{
    json_t *v = json_object_get(body, name);
    if (present)
        *present = 0;
    if (!v || json_is_null(v)) {
        if (required)
            return missing(hl, req, name);
        return 0;
    }
    if (!json_is_boolean(v)) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER", "%s must be a boolean", name);
        return -1;
    }
    *out = json_is_true(v);
    if (present)
        *present = 1;
    return 0;
}

int hl_body_time(struct headless *hl, pl_request *req, json_t *body, const char *name,
                 int required, const char **out)
{
    if (hl_body_str(hl, req, body, name, required, 64, out) < 0)
        return -1;
    if (*out && !hl_is_rfc3339(*out)) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "%s must be an RFC 3339 date-time (e.g. 2026-11-24T19:00:00Z)",
                              name);
        return -1;
    }
    return 0;
}

static int digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

int hl_is_rfc3339(const char *s)
{
    /* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
    if (!s || strlen(s) < 20 || strlen(s) > 40)
        return 0;
    if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
        return 0;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return 0;
    if (!digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' ||
        !digits(s + 17, 2))
        return 0;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return 0;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if ((*p == 'Z' || *p == 'z') && !p[1])
        return 1;
    if ((*p == '+' || *p == '-') && digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2) &&
        !p[6])
        return 1;
    return 0;
}

long hl_seconds_since(const char *s)
{
    if (!hl_is_rfc3339(s))
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = atoi(s) - 1900;
    tm.tm_mon = atoi(s + 5) - 1;
    tm.tm_mday = atoi(s + 8);
    tm.tm_hour = atoi(s + 11);
    tm.tm_min = atoi(s + 14);
    tm.tm_sec = atoi(s + 17);
    time_t t = timegm(&tm);
    const char *p = s + 19;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            ;
    if (*p == '+' || *p == '-') {
        long off = atol(p + 1) * 3600 + atol(p + 4) * 60;
        t -= (*p == '+') ? off : -off;
    }
    long d = (long)(time(NULL) - t);
    return d < 0 ? 0 : d;
}

/* ---- cursors: base64 (URL-safe alphabet, no padding) of the last id ---- */
static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *hl_cursor_encode(const char *id)
{
    size_t n = strlen(id);
    char *out = malloc(n * 4 / 3 + 5);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)id[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)id[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)id[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = b64[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = b64[v & 63];
    }
    out[o] = '\0';
    return out;
}

static int b64_val(char c)
{
    const char *p = strchr(b64, c);
    if (c == '+')
        return 62; /* the standard alphabet decodes too */
    if (c == '/')
        return 63;
    return (p && c) ? (int)(p - b64) : -1;
}

static char *cursor_decode(const char *s)
{
    size_t n = strlen(s);
    while (n && s[n - 1] == '=')
        n--;
    if (n % 4 == 1 || n > 1024)
        return NULL;
    char *out = malloc(n * 3 / 4 + 2);
    if (!out)
        return NULL;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val(s[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    if (o == 0 || memchr(out, '\0', o)) {
        free(out);
        return NULL;
    }
    return out;
}

int hl_page_params(struct headless *hl, pl_request *req, long *limit, char **cursor)
{
    *cursor = NULL;
    if (hl_query_int(hl, req, "limit", HL_OPTIONAL, 1, HL_LIMIT_MAX, HL_LIMIT_DEFAULT, limit) <
        0)
        return -1;
    const char *c = hl->host->req_query(req, "cursor");
    if (c && *c) {
        *cursor = cursor_decode(c);
        if (!*cursor) {
            hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                                  "cursor is not a cursor this API returned");
            return -1;
        }
    }
    return 0;
}

/* ---- SQL builder ---- */
void hl_sql_add(struct hl_sql *q, const char *fmt, ...)
{
    size_t used = strlen(q->text);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(q->text + used, sizeof q->text - used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof q->text - used)
        q->overflow = 1;
}

int hl_sql_param(struct hl_sql *q, const char *value)
{
    if (q->n >= (int)(sizeof q->params / sizeof q->params[0])) {
        q->overflow = 1;
        return q->n;
    }
    q->params[q->n++] = value;
    return q->n;
}
