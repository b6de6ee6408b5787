/*
 * era.c — which MCP era serves a POST to /mcp, and the 2026-07-28 revision's validation
 * ladder (see mcp.h).
 */
#include "mcp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Body-primary, as the specification and the official SDK's classifyInboundRequest:
 * a message whose params._meta carries the protocol-version key claims 2026-07-28
 * serving; initialize and everything else without that claim is legacy traffic.  The
 * MCP-Protocol-Version, Mcp-Method and Mcp-Name headers never pick the era, they only
 * cross-check the body.  The rungs run in the SDK entry's order, so a request failing
 * several gets the same answer from both: era classification (-32020 header/body
 * mismatch, -32602 malformed envelope), supported revision (-32022), then the standard
 * headers every 2026-07-28 request must carry (-32020).  Every refusal is HTTP 400. */

/* The three standard headers, without the optional whitespace around a field value
 * (RFC 9110 §5.5); NULL when absent. */
struct std_headers {
    char *version, *method, *name;
};

static char *header_value(const struct pl_host *host, pl_request *req, const char *name)
{
    const char *v = host->req_header(req, name);
    if (!v)
        return NULL;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    return strndup(v, n);
}

/* Revision names are dates: every one from 2026-07-28 on is of the stateless era. */
static int is_modern(const char *version)
{
    return version && strcmp(version, MCP_MODERN_VERSION) >= 0;
}

__attribute__((format(printf, 4, 5))) static void refuse(struct mcp_verdict *v, int code,
                                                         json_t *data, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    v->error = json_pack("{s:i, s:s, s:o}", "code", code, "message", msg, "data", data);
}

/* HEADER_MISMATCH, shaped as the SDK's crossCheckMismatch: data.mismatch names the
 * header value and what the body says. */
__attribute__((format(printf, 3, 4))) static void mismatch(struct mcp_verdict *v,
                                                           const char *header,
                                                           const char *fmt, ...)
{
    char body[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    refuse(v, HEADER_MISMATCH,
           json_pack("{s:{s:s, s:s}}", "mismatch", "header", header, "body", body),
           "Bad Request: the request headers and body disagree: %s", body);
}

static void bad_envelope(struct mcp_verdict *v, const char *key, const char *problem)
{
    refuse(v, -32602, json_pack("{s:{s:s, s:s}}", "envelope", "key", key, "problem", problem),
           "Invalid _meta envelope for protocol revision " MCP_MODERN_VERSION ": %s: %s", key,
           problem);
}

/* The first fault of a claimed envelope, or NULL (its key in *key): the protocol version
 * and the client capabilities are required, clientInfo is optional but then names the
 * client.  Capabilities are not checked deeper: no tool here depends on them. */
static const char *envelope_fault(json_t *meta, const char **key)
{
    json_t *version = json_object_get(meta, META_VERSION);
    json_t *caps = json_object_get(meta, META_CAPABILITIES);
    json_t *info = json_object_get(meta, META_CLIENT_INFO);
    *key = version ? META_CAPABILITIES : META_VERSION;
    if (!version || !caps)
        return "missing";
    *key = META_VERSION;
    if (!json_is_string(version))
        return "expected a protocol version string";
    *key = META_CAPABILITIES;
    if (!json_is_object(caps))
        return "expected an object";
    *key = META_CLIENT_INFO;
    if (info && !(json_is_string(json_object_get(info, "name")) &&
                  json_is_string(json_object_get(info, "version"))))
        return "expected an object with string name and version";
    return NULL;
}

/* A 2026-07-28 MCP-Protocol-Version header on a request without the envelope: the
 * request lacks required params, it is not served legacy behind the client's back. */
static void missing_envelope(struct mcp_verdict *v, json_t *meta, const char *header)
{
    json_t *missing = json_array();
    if (!json_is_object(meta))
        json_array_append_new(missing, json_string("_meta"));
    else {
        json_array_append_new(missing, json_string(META_VERSION));
        if (!json_object_get(meta, META_CAPABILITIES))
            json_array_append_new(missing, json_string(META_CAPABILITIES));
    }
    refuse(v, -32602, json_pack("{s:{s:o}}", "envelope", "missing", missing),
           "Invalid params: the MCP-Protocol-Version header names protocol revision %s, but "
           "the request is missing the required per-request envelope key(s): %s%s",
           header, json_is_object(meta) ? META_VERSION : "_meta",
           json_array_size(missing) > 1 ? ", " META_CAPABILITIES : "");
}

/* A request's era (the SDK's classifyRequestBody): the revision it claims, or NULL for
 * legacy traffic and for a refusal (v->error). */
static const char *classify_request(const char *method, json_t *meta,
                                    const struct std_headers *h, struct mcp_verdict *v)
{
    json_t *claim = json_object_get(meta, META_VERSION);
    const char *key = NULL, *fault = claim ? envelope_fault(meta, &key) : NULL;
    const char *claimed = fault ? NULL : json_string_value(claim);
    if (strcmp(method, "initialize") == 0 && !is_modern(claimed)) { /* the legacy handshake */
        if (is_modern(h->version))
            mismatch(v, h->version, "an initialize request (legacy handshake) was sent with "
                                    "a modern MCP-Protocol-Version header");
        return NULL;
    }
    if (!claim) {
        if (is_modern(h->version))
            missing_envelope(v, meta, h->version);
        return NULL;
    }
    if (fault)
        bad_envelope(v, key, fault);
    else if (h->version && strcmp(h->version, claimed) != 0)
        mismatch(v, h->version,
                 "the body envelope names protocol version %s but the MCP-Protocol-Version "
                 "header names %s", claimed, h->version);
    else if (h->method && strcmp(h->method, method) != 0)
        mismatch(v, h->method, "the body names method %s but the Mcp-Method header names %s",
                 method, h->method);
    return v->error ? NULL : claimed;
}

/* A notification's era (the SDK's classifyNotificationBody): a notification carries no
 * envelope of its own, so without a body claim a 2026-07-28 header decides. */
static const char *classify_notification(const char *method, json_t *meta,
                                         const struct std_headers *h, struct mcp_verdict *v)
{
    json_t *claim = json_object_get(meta, META_VERSION);
    const char *claimed = json_string_value(claim);
    if (claim && !claimed) {
        bad_envelope(v, META_VERSION, "expected a protocol version string");
        return NULL;
    }
    if (!claimed && !is_modern(h->version))
        return NULL; /* legacy: a session's notification */
    const char *version = claimed ? claimed : h->version;
    if (claimed && h->version && strcmp(h->version, claimed) != 0)
        mismatch(v, h->version,
                 "the notification envelope names protocol version %s but the "
                 "MCP-Protocol-Version header names %s", claimed, h->version);
    else if (is_modern(version) && h->method && strcmp(h->method, method) != 0)
        mismatch(v, h->method,
                 "the notification body names method %s but the Mcp-Method header names %s",
                 method, h->method);
    return v->error ? NULL : version;
}

/* Which params field Mcp-Name mirrors for a method (the SDK's MCP_NAME_HEADER_SOURCE). */
static const char *name_field(const char *method)
{
    static const char *const rows[][2] = {
        {"tools/call", "name"},   {"prompts/get", "name"},    {"resources/read", "uri"},
        {"tasks/get", "taskId"}, {"tasks/update", "taskId"}, {"tasks/cancel", "taskId"}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (strcmp(method, rows[i][0]) == 0)
            return rows[i][1];
    return NULL;
}

static int base64_digit(char c)
{
    const char *digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(digits, c) : NULL;
    return p ? (int)(p - digits) : -1;
}

/* Canonical Base64 (padded to a multiple of 4) into out; its length, or -1. */
static long base64_decode(const char *s, size_t n, unsigned char *out)
{
    size_t pad = (n >= 1 && s[n - 1] == '=') + (n >= 2 && s[n - 2] == '=');
    if (n % 4)
        return -1;
    unsigned bits = 0, held = 0;
    long len = 0;
    for (size_t i = 0; i < n - pad; i++) {
        int d = base64_digit(s[i]);
        if (d < 0)
            return -1;
        bits = ((bits << 6) | (unsigned)d) & 0x3fff, held += 6;
        if (held >= 8)
            held -= 8, out[len++] = (unsigned char)(bits >> held);
    }
    return len;
}

/* The text a header value carries: itself, or the UTF-8 inside the =?base64?...?=
 * sentinel clients use for values that are no plain ASCII field value; NULL when it is
 * no UTF-8 text or the sentinel no canonical Base64 (json_string* check the UTF-8). */
static json_t *header_text(const char *value)
{
    size_t n = strlen(value);
    if (n < 11 || strncmp(value, "=?base64?", 9) != 0 || strcmp(value + n - 2, "?=") != 0)
        return json_string(value);
    unsigned char *buf = malloc(n);
    long len = buf ? base64_decode(value + 9, n - 11, buf) : -1;
    json_t *text = len < 0 ? NULL : json_stringn((const char *)buf, (size_t)len);
    free(buf);
    return text;
}

/* The SDK's validateStandardRequestHeaders: a 2026-07-28 request names its revision and
 * method in headers, and the tool (prompt, resource...) it is about in Mcp-Name, so an
 * intermediary can route it without reading the body. */
static void check_standard_headers(const char *method, json_t *params, const char *claimed,
                                   const struct std_headers *h, struct mcp_verdict *v)
{
    const char *field = name_field(method);
    json_t *body = field ? json_object_get(params, field) : NULL;
    if (!h->version) {
        mismatch(v, "(missing)", "the body envelope names protocol version %s but the required "
                                 "MCP-Protocol-Version header is absent", claimed);
        return;
    }
    if (!h->method) {
        mismatch(v, "(missing)", "the body names method %s but the required Mcp-Method header "
                                 "is absent", method);
        return;
    }
    if (!json_is_string(body)) /* nothing to mirror: the method's own checks answer */
        return;
    if (!h->name) {
        mismatch(v, "(missing)", "the body carries params.%s=\"%s\" but the required Mcp-Name "
                                 "header is absent", field, json_string_value(body));
        return;
    }
    json_t *named = header_text(h->name);
    if (!named)
        mismatch(v, h->name, "the Mcp-Name header carries no valid text (an invalid Base64 "
                             "sentinel, or not UTF-8)");
    else if (!json_equal(named, body))
        mismatch(v, h->name, "the body carries params.%s=\"%s\" but the Mcp-Name header names "
                             "\"%s\"", field, json_string_value(body), json_string_value(named));
    json_decref(named);
}

static struct mcp_verdict run_ladder(json_t *msg, const struct std_headers *h)
{
    struct mcp_verdict v = {MCP_LEGACY, NULL};
    const char *method = json_string_value(json_object_get(msg, "method"));
    const char *jsonrpc = json_string_value(json_object_get(msg, "jsonrpc"));
    if (!method || !jsonrpc || strcmp(jsonrpc, "2.0") != 0)
        return v; /* no JSON-RPC request: legacy answers it as it always did */
    json_t *params = json_object_get(msg, "params");
    json_t *meta = json_object_get(params, "_meta");
    int request = json_object_get(msg, "id") != NULL;
    const char *version = request ? classify_request(method, meta, h, &v)
                                  : classify_notification(method, meta, h, &v);
    if (!version)
        return v;
    if (strcmp(version, MCP_MODERN_VERSION) != 0) /* a future revision, or a legacy one in _meta */
        refuse(&v, UNSUPPORTED_PROTOCOL_VERSION,
               json_pack("{s:[s], s:s}", "supported", MCP_MODERN_VERSION, "requested", version),
               "Unsupported protocol version: %s", version);
    else if (request)
        check_standard_headers(method, params, version, h, &v);
    if (!v.error)
        v.era = MCP_MODERN;
    return v;
}

struct mcp_verdict mcp_classify(const struct pl_host *host, pl_request *req, json_t *msg)
{
    struct std_headers h = {header_value(host, req, "MCP-Protocol-Version"),
                            header_value(host, req, "Mcp-Method"),
                            header_value(host, req, "Mcp-Name")};
    struct mcp_verdict v = run_ladder(msg, &h);
    free(h.version);
    free(h.method);
    free(h.name);
    return v;
}
