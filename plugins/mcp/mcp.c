/*
 * mcp.c — the mcp plugin: Streamable HTTP transport at /mcp and the JSON-RPC methods
 * of MCP, in both eras the specification lets one endpoint serve:
 *  - legacy (2025-11-25 and older): initialize, Mcp-Session-Id sessions, ping,
 *    tools/list, tools/call;
 *  - 2026-07-28 (stateless): every request carries the protocol version and the client's
 *    capabilities in params._meta; server/discover, tools/list, tools/call, no session.
 * The body picks the era (the 2026-07-28 ladder below); legacy traffic takes exactly
 * the path it took before that revision existed.  The route is registered with scope
 * READ so the core authenticates the key (X-API-Key or Authorization: Bearer; without
 * one, 401 with WWW-Authenticate: Bearer); the caller's scope and key name are then
 * handed to every tool call, which runs the REST route in-process.
 */
#include "mcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_SIZE 50

/* legacy revisions, negotiated by initialize (newest first) */
static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26",
                                       "2024-11-05"};

/* How long a 2026-07-28 client may reuse tools/list and server/discover: the catalog is
 * compiled in, only a key's scope could change what it lists, and every call is still
 * authorized on its own. */
#define CACHE_TTL_MS 300000

#define INSTRUCTIONS                                                                         \
    "Tools of an EV-charging gateway: stations, configuration, customers, ID tokens and "    \
    "charging sessions."


struct session {
    char id[37];
    uint64_t last_ms; /* 0: free slot */
};

struct mcp {
    pl_plugin_handle *self;
    const struct pl_host *host;
    json_t *schemas;          /* tool name -> parsed inputSchema */
    struct session *sessions;
    long max_sessions, idle_ms;
};

/* A tools/call waiting for its REST route. */
struct call {
    struct mcp *m;
    pl_request *req;
    json_t *id;
    enum mcp_era era;
};

static int version_supported(const char *v)
{
    for (size_t i = 0; v && i < sizeof versions / sizeof versions[0]; i++)
        if (strcmp(v, versions[i]) == 0)
            return 1;
    return 0;
}

/* ---- sessions: bounded, expired after idle_ms without a request ---- */

static struct session *session_find(struct mcp *m, const char *id)
{
    uint64_t now = m->host->now_ms();
    for (long i = 0; i < m->max_sessions; i++) {
        struct session *s = &m->sessions[i];
        if (s->last_ms && now - s->last_ms > (uint64_t)m->idle_ms)
            s->last_ms = 0;
        if (s->last_ms && id && strcmp(s->id, id) == 0)
            return s;
    }
    return NULL;
}

static struct session *session_new(struct mcp *m)
{
    session_find(m, NULL); /* expire idle sessions first */
    for (long i = 0; i < m->max_sessions; i++) {
        struct session *s = &m->sessions[i];
        if (!s->last_ms) {
            m->host->uuid(s->id);
            s->last_ms = m->host->now_ms();
            return s;
        }
    }
    return NULL;
}

/* ---- JSON-RPC answers ---- */

/* 2026-07-28 results say what they are (resultType; this server never asks for input)
 * and who answered (serverInfo in _meta), as that revision's encode contract does for
 * every result. */
static void stamp_modern(struct mcp *m, json_t *result)
{
    json_object_set_new(result, "resultType", json_string("complete"));
    json_object_set_new(result, "_meta",
                        json_pack("{s:{s:s, s:s}}", META_SERVER_INFO, "name", "pipelet",
                                  "version", m->host->version));
}

/* A cacheable 2026-07-28 result (tools/list, server/discover) says for how long, and for
 * whom: "private", since what /mcp answers depends on the caller's key. */
static void cacheable(json_t *result)
{
    json_object_set_new(result, "ttlMs", json_integer(CACHE_TTL_MS));
    json_object_set_new(result, "cacheScope", json_string("private"));
}

static void rpc_result(struct mcp *m, pl_request *req, json_t *id, enum mcp_era era,
                       json_t *result)
{
    if (era == MCP_MODERN)
        stamp_modern(m, result);
    m->host->reply_json(req, 200, json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id",
                                            id ? id : json_null(), "result", result));
}

static void rpc_error(struct mcp *m, pl_request *req, json_t *id, int code, const char *msg)
{
    m->host->reply_json(req, 200,
                        json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
                                  id ? id : json_null(), "error", "code", code, "message",
                                  msg));
}

/* A 2026-07-28 refusal: the JSON-RPC error (stolen) on an HTTP error status.  The
 * request's own id is echoed (the SDK's entry answers id null) because the official
 * client hands a 400 to the waiting request only when the ids match; with null it
 * sees a bare HTTP error. */
static void rpc_refuse(struct mcp *m, pl_request *req, json_t *id, int status, json_t *error)
{
    m->host->reply_json(req, status, json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id",
                                               id ? id : json_null(), "error", error));
}

/* ---- Origin and Host (DNS-rebinding protection) ---- */

/* Whether word is one of the space- or comma-separated words of list. */
static int in_list(const char *list, const char *word)
{
    size_t n = strlen(word);
    if (!n)
        return 0;
    for (const char *p = strstr(list, word); p; p = strstr(p + 1, word))
        if ((p == list || p[-1] == ' ' || p[-1] == ',') &&
            (p[n] == '\0' || p[n] == ' ' || p[n] == ','))
            return 1;
    return 0;
}

/* Origin: absent (non-browser clients), the listener's own Host, or configured. */
static int origin_allowed(struct mcp *m, pl_request *req)
{
    const char *origin = m->host->req_header(req, "Origin");
    if (!origin)
        return 1;
    const char *host = m->host->req_header(req, "Host");
    const char *hp = strstr(origin, "://");
    if (host && hp && strcmp(hp + 3, host) == 0)
        return 1;
    return in_list(m->host->config_get(m->self, "allowed_origins", ""), origin);
}

/* Host: any when allowed_hosts is empty; else the Host header (with its port, or its
 * name alone) must be listed, so a rebound DNS name cannot reach the server. */
static int host_allowed(struct mcp *m, pl_request *req)
{
    const char *list = m->host->config_get(m->self, "allowed_hosts", "");
    if (!*list)
        return 1;
    const char *host = m->host->req_header(req, "Host");
    if (!host)
        return 0;
    if (in_list(list, host))
        return 1;
    char name[256];
    const char *colon = strrchr(host, ':');
    if (!colon || strchr(colon, ']')) /* no port (or the colon is inside [v6]) */
        return 0;
    snprintf(name, sizeof name, "%.*s", (int)(colon - host), host);
    return in_list(list, name);
}

/* ---- methods ---- */

static json_t *server_info(struct mcp *m, const char *version)
{
    return json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s}, s:s}", "protocolVersion", version,
                     "capabilities", "tools", "listChanged", 0, "serverInfo", "name",
                     "pipelet", "version", m->host->version, "instructions", INSTRUCTIONS);
}

static void do_initialize(struct mcp *m, pl_request *req, json_t *id, json_t *params)
{
    const char *asked = json_string_value(json_object_get(params, "protocolVersion"));
    struct session *s = session_new(m);
    if (!s) {
        m->host->reply_error(req, 503, "TOO_MANY_SESSIONS", "all %ld MCP sessions are in use",
                             m->max_sessions);
        return;
    }
    m->host->reply_header(req, "Mcp-Session-Id", s->id);
    rpc_result(m, req, id, MCP_LEGACY,
               server_info(m, version_supported(asked) ? asked : versions[0]));
}

/* 2026-07-28's DiscoverResult: the revisions served statelessly (the legacy ones are
 * initialize's business), the capabilities, the instructions; the server's name rides
 * in _meta like on every result of that revision. */
static void do_discover(struct mcp *m, pl_request *req, json_t *id)
{
    json_t *res = json_pack("{s:[s], s:{s:{s:b}}, s:s}", "supportedVersions", MCP_MODERN_VERSION,
                            "capabilities", "tools", "listChanged", 0, "instructions",
                            INSTRUCTIONS);
    cacheable(res);
    rpc_result(m, req, id, MCP_MODERN, res);
}

static json_t *tool_json(struct mcp *m, const struct mcp_tool *t)
{
    return json_pack("{s:s, s:s, s:O, s:{s:s}, s:{s:b, s:b, s:b, s:b}}", "name", t->name,
                     "description", t->description, "inputSchema",
                     json_object_get(m->schemas, t->name), "outputSchema", "type", "object",
                     "annotations", "readOnlyHint", t->read_only, "destructiveHint",
                     t->destructive, "idempotentHint", t->idempotent, "openWorldHint", 0);
}

/* Only the tools the caller's scope may run are listed; the cursor is an offset. */
static void do_tools_list(struct mcp *m, pl_request *req, json_t *id, json_t *params,
                          enum mcp_era era)
{
    const char *cursor = json_string_value(json_object_get(params, "cursor"));
    char *end = NULL;
    long from = cursor ? strtol(cursor, &end, 10) : 0;
    if (cursor && (*end || from < 0)) {
        rpc_error(m, req, id, -32602, "invalid cursor");
        return;
    }
    int scope = m->host->req_scope(req);
    json_t *tools = json_array();
    long seen = 0;
    size_t i;
    for (i = 0; i < mcp_tools_count && json_array_size(tools) < PAGE_SIZE; i++) {
        if (mcp_tools[i].scope > scope || seen++ < from)
            continue;
        json_array_append_new(tools, tool_json(m, &mcp_tools[i]));
    }
    json_t *res = json_pack("{s:o}", "tools", tools);
    if (i < mcp_tools_count) {
        char next[24];
        snprintf(next, sizeof next, "%ld", from + PAGE_SIZE);
        json_object_set_new(res, "nextCursor", json_string(next));
    }
    if (era == MCP_MODERN)
        cacheable(res);
    rpc_result(m, req, id, era, res);
}

/* Does v have the JSON Schema type ty (a name, or an array of names)? */
static int type_ok(json_t *ty, json_t *v)
{
    if (json_is_array(ty)) {
        size_t i;
        json_t *t;
        json_array_foreach(ty, i, t) if (type_ok(t, v)) return 1;
        return 0;
    }
    const char *t = json_string_value(ty);
    if (!t)
        return 1; /* no type: anything */
    if (!strcmp(t, "string"))
        return json_is_string(v);
    if (!strcmp(t, "integer"))
        return json_is_integer(v);
    if (!strcmp(t, "number"))
        return json_is_number(v);
    if (!strcmp(t, "boolean"))
        return json_is_boolean(v);
    if (!strcmp(t, "null"))
        return json_is_null(v);
    if (!strcmp(t, "array"))
        return json_is_array(v);
    if (!strcmp(t, "object"))
        return json_is_object(v);
    return 1;
}

/* Arguments against the tool's schema: required present, declared types match. */
static const char *check_args(json_t *schema, json_t *args)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(schema, "required"), i, v)
        if (!json_object_get(args, json_string_value(v)))
            return "missing required argument";
    const char *k;
    json_object_foreach(args, k, v) {
        json_t *p = json_object_get(json_object_get(schema, "properties"), k);
        if (!p)
            return "unknown argument";
        if (!type_ok(json_object_get(p, "type"), v))
            return "argument of the wrong type";
    }
    return NULL;
}

static void append_encoded(char *out, size_t cap, const char *s)
{
    size_t n = strlen(out);
    for (; *s && n + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c))
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, cap - n, "%%%02X", c);
    }
    out[n] = '\0';
}

static void scalar_text(json_t *v, char *buf, size_t cap)
{
    if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        snprintf(buf, cap, "%s", json_is_true(v) ? "true" : "false");
}

/* Fill the path template; the arguments used there are removed from rest. */
static void build_path(const struct mcp_tool *t, json_t *rest, char *out, size_t cap)
{
    out[0] = '\0';
    for (const char *p = t->path; *p && strlen(out) + 2 < cap;) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        if (!close) {
            size_t n = strlen(out);
            out[n] = *p++;
            out[n + 1] = '\0';
            continue;
        }
        char name[64], val[256];
        snprintf(name, sizeof name, "%.*s", (int)(close - p - 1), p + 1);
        scalar_text(json_object_get(rest, name), val, sizeof val);
        append_encoded(out, cap, val);
        json_object_del(rest, name);
        p = close + 1;
    }
    if (strcmp(t->method, "GET") != 0)
        return;
    const char *k;
    json_t *v;
    char sep = '?', val[256];
    json_object_foreach(rest, k, v) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%c%s=", sep, k);
        scalar_text(v, val, sizeof val);
        append_encoded(out, cap, val);
        sep = '&';
    }
}

/* The REST answer as a tool result: an error status becomes isError with its code. */
static void call_done(const struct pl_http_local_resp *resp, void *arg)
{
    struct call *c = arg;
    json_t *body = json_loadb(resp->body, resp->body_len, 0, NULL);
    json_t *structured = json_is_object(body) ? json_incref(body)
                                              : json_pack("{s:O}", "result",
                                                          body ? body : json_null());
    json_object_set_new(structured, "http_status", json_integer(resp->status));
    json_t *res = json_pack("{s:[{s:s, s:s#}], s:o, s:b}", "content", "type", "text", "text",
                            resp->body, (int)resp->body_len, "structuredContent", structured,
                            "isError", resp->status >= 400);
    rpc_result(c->m, c->req, c->id, c->era, res);
    json_decref(body);
    json_decref(c->id);
    free(c);
}

static void do_tools_call(struct mcp *m, pl_request *req, json_t *id, json_t *params,
                          enum mcp_era era)
{
    const char *name = json_string_value(json_object_get(params, "name"));
    const struct mcp_tool *t = name ? mcp_tool_find(name) : NULL;
    json_t *args = json_object_get(params, "arguments");
    if (!t) {
        rpc_error(m, req, id, -32602, "unknown tool");
        return;
    }
    if (args && !json_is_object(args)) {
        rpc_error(m, req, id, -32602, "arguments must be an object");
        return;
    }
    if (t->scope > m->host->req_scope(req)) { /* the REST route's own answer, not run */
        char text[256];
        snprintf(text, sizeof text, "this API key's scope does not allow the tool %s", t->name);
        json_t *err = json_pack("{s:s, s:s, s:i}", "error", text, "code", "FORBIDDEN",
                                "http_status", 403);
        char *body = json_dumps(err, JSON_COMPACT);
        rpc_result(m, req, id, era,
                   json_pack("{s:[{s:s, s:s}], s:o, s:b}", "content", "type", "text", "text",
                             body, "structuredContent", err, "isError", 1));
        free(body);
        return;
    }
    json_t *rest = args ? json_deep_copy(args) : json_object();
    const char *bad = check_args(json_object_get(m->schemas, t->name), rest);
    if (bad) {
        json_decref(rest);
        rpc_error(m, req, id, -32602, bad);
        return;
    }
    char path[1024];
    build_path(t, rest, path, sizeof path);
    char *body = strcmp(t->method, "GET") ? json_dumps(rest, JSON_COMPACT) : NULL;
    json_decref(rest);
    struct call *c = calloc(1, sizeof *c);
    c->m = m, c->req = req, c->id = json_incref(id), c->era = era;
    char key[160];
    snprintf(key, sizeof key, "mcp:%s", m->host->req_key_name(req) ? m->host->req_key_name(req)
                                                                 : "anonymous");
    struct pl_http_local_req lr = {.size = sizeof lr, .method = t->method, .path = path,
                                   .body = body, .body_len = body ? strlen(body) : 0,
                                   .scope = m->host->req_scope(req), .key_name = key};
    if (m->host->http_dispatch(m->self, &lr, call_done, c) != PL_OK) {
        json_decref(c->id);
        free(c);
        rpc_error(m, req, id, -32603, "cannot run the tool");
    }
    free(body);
}

/* ---- transport ---- */

static int check_origin(struct mcp *m, pl_request *req)
{
    if (!origin_allowed(m, req)) {
        m->host->reply_error(req, 403, "FORBIDDEN_ORIGIN", "this Origin may not use /mcp");
        return -1;
    }
    if (!host_allowed(m, req)) {
        m->host->reply_error(req, 403, "FORBIDDEN_HOST", "this Host may not use /mcp");
        return -1;
    }
    return 0;
}

/* Legacy era: the negotiated version header and the session, if the client names one. */
static int check_session(struct mcp *m, pl_request *req, int initializing)
{
    const char *v = m->host->req_header(req, "MCP-Protocol-Version");
    if (v && !initializing && !version_supported(v)) {
        m->host->reply_error(req, 400, "UNSUPPORTED_PROTOCOL_VERSION",
                             "unsupported MCP-Protocol-Version %s", v);
        return -1;
    }
    const char *sid = m->host->req_header(req, "Mcp-Session-Id");
    struct session *s = sid && !initializing ? session_find(m, sid) : NULL;
    if (sid && !initializing && !s) {
        m->host->reply_error(req, 404, "SESSION_NOT_FOUND", "no such MCP session");
        return -1;
    }
    if (s)
        s->last_ms = m->host->now_ms();
    return 0;
}

static void serve_legacy(struct mcp *m, pl_request *req, json_t *msg)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *id = json_object_get(msg, "id");
    json_t *params = json_object_get(msg, "params");
    int init = method && strcmp(method, "initialize") == 0;
    if (check_session(m, req, init) < 0)
        return;
    if (!json_is_object(msg) || !method ||
        strcmp(json_string_value(json_object_get(msg, "jsonrpc")) ?: "", "2.0") != 0) {
        rpc_error(m, req, NULL, -32600, "not a JSON-RPC 2.0 request");
        return;
    }
    if (!id) { /* a notification (notifications/initialized, cancelled): nothing to say */
        m->host->reply_raw(req, 202, "application/json", "", 0);
        return;
    }
    if (init)
        do_initialize(m, req, id, params);
    else if (strcmp(method, "ping") == 0)
        rpc_result(m, req, id, MCP_LEGACY, json_object());
    else if (strcmp(method, "tools/list") == 0)
        do_tools_list(m, req, id, params, MCP_LEGACY);
    else if (strcmp(method, "tools/call") == 0)
        do_tools_call(m, req, id, params, MCP_LEGACY);
    else
        rpc_error(m, req, id, -32601, "method not found");
}

/* 2026-07-28: every request stands alone (no initialize, no session; an Mcp-Session-Id
 * is ignored).  The revision has no ping or initialize; what is not served here
 * (prompts, resources, completion, subscriptions/listen) answers -32601 on HTTP 404,
 * the status that revision gives an unknown method. */
static void serve_modern(struct mcp *m, pl_request *req, json_t *msg)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *id = json_object_get(msg, "id");
    json_t *params = json_object_get(msg, "params");
    if (!id) /* a notification (cancelled): nothing runs long enough to cancel */
        m->host->reply_raw(req, 202, "application/json", "", 0);
    else if (strcmp(method, "server/discover") == 0)
        do_discover(m, req, id);
    else if (strcmp(method, "tools/list") == 0)
        do_tools_list(m, req, id, params, MCP_MODERN);
    else if (strcmp(method, "tools/call") == 0)
        do_tools_call(m, req, id, params, MCP_MODERN);
    else
        rpc_refuse(m, req, id, 404,
                   json_pack("{s:i, s:s}", "code", -32601, "message", "method not found"));
}

static void on_post(pl_request *req, void *arg)
{
    struct mcp *m = arg;
    if (check_origin(m, req) < 0)
        return;
    json_t *msg = m->host->req_json(req);
    struct mcp_verdict v = mcp_classify(m->host, req, msg);
    if (v.error)
        rpc_refuse(m, req, json_object_get(msg, "id"), 400, v.error);
    else if (v.era == MCP_MODERN)
        serve_modern(m, req, msg);
    else
        serve_legacy(m, req, msg);
}

/* No server-initiated stream is offered: the spec's answer is 405. */
static void on_get(pl_request *req, void *arg)
{
    struct mcp *m = arg;
    m->host->reply_error(req, 405, "METHOD_NOT_ALLOWED", "no SSE stream is offered at /mcp");
}

static void on_delete(pl_request *req, void *arg)
{
    struct mcp *m = arg;
    if (check_origin(m, req) < 0 || check_session(m, req, 0) < 0)
        return;
    struct session *s = session_find(m, m->host->req_header(req, "Mcp-Session-Id"));
    if (!s) {
        m->host->reply_error(req, 404, "SESSION_NOT_FOUND", "no such MCP session");
        return;
    }
    s->last_ms = 0;
    m->host->reply_raw(req, 204, "application/json", "", 0);
}

/* ---- lifecycle ---- */

static void mcp_free(struct mcp *m)
{
    json_decref(m->schemas);
    free(m->sessions);
    free(m);
}

static int load_schemas(struct mcp *m)
{
    m->schemas = json_object();
    for (size_t i = 0; i < mcp_tools_count; i++) {
        json_error_t err;
        json_t *s = json_loads(mcp_tools[i].input_schema, 0, &err);
        if (!s) {
            m->host->log(m->self, PL_LOG_ERROR, "tool %s: bad schema: %s", mcp_tools[i].name,
                         err.text);
            return -1;
        }
        json_object_set_new(m->schemas, mcp_tools[i].name, s);
    }
    return 0;
}

static int mcp_init(pl_plugin_handle *self, const struct pl_host *host, void **state)
{
    if (!PL_HOST_HAS(host, http_dispatch) || !PL_HOST_HAS(host, config_declare))
        return PL_ENOTSUP;
    static const struct pl_config_key keys[] = {
        {"max_sessions", PL_CONFIG_INT, "64", 1, 100000, NULL, "legacy-era sessions at once", PL_CONFIG_RESTART},
        {"session_idle_timeout", PL_CONFIG_INT, "3600", 1, 604800, NULL, "idle session closed after, s",
         PL_CONFIG_RESTART},
        {"allowed_origins", PL_CONFIG_STRING, "", 0, 0, NULL,
         "Origins besides the listener's own, space-separated", PL_CONFIG_RESTART},
        {"allowed_hosts", PL_CONFIG_STRING, "", 0, 0, NULL,
         "Host headers /mcp answers (name or name:port), space-separated; empty: any",
         PL_CONFIG_RESTART},
    };
    int rc = host->config_declare(self, keys, sizeof keys / sizeof keys[0]);
    if (rc != PL_OK)
        return rc; /* PL_ESTATE in --check-config: nothing registered */
    struct mcp *m = calloc(1, sizeof *m);
    if (!m)
        return PL_ENOMEM;
    long idle_s = 0;
    m->self = self, m->host = host;
    if (host->config_int(self, "max_sessions", 64, 1, 100000, &m->max_sessions) < 0 ||
        host->config_int(self, "session_idle_timeout", 3600, 1, 86400 * 7, &idle_s) < 0 ||
        load_schemas(m) < 0) {
        mcp_free(m);
        return PL_EINVAL;
    }
    m->idle_ms = idle_s * 1000;
    m->sessions = calloc((size_t)m->max_sessions, sizeof *m->sessions);
    if (host->http_route(self, "POST", "/mcp", PL_AUTH_READ, on_post, m) < 0 ||
        host->http_route(self, "GET", "/mcp", PL_AUTH_READ, on_get, m) < 0 ||
        host->http_route(self, "DELETE", "/mcp", PL_AUTH_READ, on_delete, m) < 0) {
        mcp_free(m);
        return PL_ERR;
    }
    pl_http_describe_text(host, self, mcp_openapi_json, (size_t)mcp_openapi_json_len);
    *state = m;
    return PL_OK;
}

static void mcp_fini(void *state)
{
    mcp_free(state);
}

PL_PLUGIN_DEFINE(.name = "mcp", .version = "0.1",
                 .description = "the gateway as MCP tools for AI agents (Streamable HTTP /mcp)",
                 .init = mcp_init, .fini = mcp_fini);
