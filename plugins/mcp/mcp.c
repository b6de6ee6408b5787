/*
 * mcp.c — the mcp plugin: its lifecycle, the Streamable HTTP transport at /mcp and the
 * JSON-RPC methods of MCP, in both eras the specification lets one endpoint serve:
 *  - legacy (2025-11-25 and older): initialize, Mcp-Session-Id sessions (sessions.c),
 *    ping, tools, resources with resources/subscribe, notifications on GET /mcp;
 *  - 2026-07-28 (stateless): every request carries the protocol version and the client's
 *    capabilities in params._meta; server/discover, tools, resources,
 *    subscriptions/listen, no session.
 * The body picks the era (era.c); legacy traffic takes exactly the path it took before
 * that revision existed.  The routes are registered with scope READ so the core
 * authenticates the key (X-API-Key or Authorization: Bearer; without one, 401 with
 * WWW-Authenticate: Bearer); the caller's scope and key name are then handed to every
 * tool call, which runs the REST route in-process (tools.c).  Long tools report progress
 * and can be cancelled (call.c, follow.c).
 */
#include "mcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* legacy revisions, negotiated by initialize (newest first) */
static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26",
                                       "2024-11-05"};

#define DISCOVER_TTL_MS 300000

#define INSTRUCTIONS                                                                         \
    "Tools of an EV-charging gateway: stations, configuration, customers, ID tokens, "       \
    "charging sessions, tariffs and load management. Station state is readable as "         \
    "resources (pipelet://stations/{id}) that can be subscribed to."

static int version_supported(const char *v)
{
    for (size_t i = 0; v && i < sizeof versions / sizeof versions[0]; i++)
        if (strcmp(v, versions[i]) == 0)
            return 1;
    return 0;
}

/* A 2026-07-28 refusal before a call exists: the JSON-RPC error (stolen) on an HTTP
 * error status.  The request's own id is echoed (the SDK's entry answers id null)
 * because the official client hands a 400 to the waiting request only when the ids
 * match; with null it sees a bare HTTP error. */
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

static json_t *capabilities(void)
{
    return json_pack("{s:{s:b}, s:{s:b, s:b}}", "tools", "listChanged", 0, "resources",
                     "subscribe", 1, "listChanged", 0);
}

/* initialize's result: the client's protocolVersion when supported, else the newest. */
static json_t *server_info(struct mcp *m, json_t *init_params)
{
    const char *asked = json_string_value(json_object_get(init_params, "protocolVersion"));
    return json_pack("{s:s, s:o, s:{s:s, s:s}, s:s}", "protocolVersion",
                     version_supported(asked) ? asked : versions[0], "capabilities", capabilities(),
                     "serverInfo", "name", "pipelet", "version", m->host->version, "instructions",
                     INSTRUCTIONS);
}

/* 2026-07-28's DiscoverResult: the revisions served statelessly (the legacy ones are
 * initialize's business), the capabilities, the instructions; the server's name rides
 * in _meta like on every result of that revision. */
static void do_discover(struct mcp_call *c)
{
    json_t *res = json_pack("{s:[s], s:o, s:s}", "supportedVersions", MCP_MODERN_VERSION,
                            "capabilities", capabilities(), "instructions", INSTRUCTIONS);
    cacheable(res, DISCOVER_TTL_MS);
    call_result(c, res);
}

/* The methods both eras share, and each era's own.  Unknown ones: -32601 (in-band for
 * legacy; 2026-07-28 gives an unknown method HTTP 404, see serve_modern). */
void mcp_dispatch(struct mcp_call *c, const char *method, json_t *params)
{
    int modern = c->era == MCP_MODERN;
    if (!strcmp(method, "tools/list"))
        do_tools_list(c, params);
    else if (!strcmp(method, "tools/call"))
        do_tools_call(c, params);
    else if (!strcmp(method, "resources/list"))
        do_resources_list(c, params);
    else if (!strcmp(method, "resources/templates/list"))
        do_resource_templates(c);
    else if (!strcmp(method, "resources/read"))
        do_resources_read(c, params);
    else if (!modern && !strcmp(method, "ping"))
        call_result(c, json_object());
    else if (!modern && !strcmp(method, "initialize")) /* again, on an HTTP+SSE session */
        call_result(c, server_info(c->m, params));
    else if (!modern && !strcmp(method, "resources/subscribe"))
        do_resources_subscribe(c, params, 1);
    else if (!modern && !strcmp(method, "resources/unsubscribe"))
        do_resources_subscribe(c, params, 0);
    else if (modern && !strcmp(method, "server/discover"))
        do_discover(c);
    else if (modern && !strcmp(method, "subscriptions/listen"))
        do_subscriptions_listen(c, params);
    else
        call_error(c, -32601, "method not found");
}

static int modern_method_known(const char *method)
{
    static const char *const known[] = {"tools/list", "tools/call", "resources/list",
                                        "resources/templates/list", "resources/read",
                                        "server/discover", "subscriptions/listen", NULL};
    for (int i = 0; known[i]; i++)
        if (!strcmp(method, known[i]))
            return 1;
    return 0;
}

/* ---- transport ---- */

int mcp_check_origin(struct mcp *m, pl_request *req)
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
static int check_session(struct mcp *m, pl_request *req, int initializing, struct session **out)
{
    const char *v = m->host->req_header(req, "MCP-Protocol-Version");
    if (v && !initializing && !version_supported(v)) {
        m->host->reply_error(req, 400, "UNSUPPORTED_PROTOCOL_VERSION",
                             "unsupported MCP-Protocol-Version %s", v);
        return -1;
    }
    const char *sid = m->host->req_header(req, "Mcp-Session-Id");
    struct session *s = sid && !initializing ? session_find(m, sid) : NULL;
    if (sid && !initializing && (!s || s->kind != SESSION_STREAMABLE)) {
        m->host->reply_error(req, 404, "SESSION_NOT_FOUND", "no such MCP session");
        return -1;
    }
    if (s)
        s->last_ms = m->host->now_ms();
    if (out)
        *out = s;
    return 0;
}

static void do_initialize(struct mcp *m, pl_request *req, json_t *msg)
{
    struct session *s = session_new(m, SESSION_STREAMABLE);
    if (!s) {
        m->host->reply_error(req, 503, "TOO_MANY_SESSIONS", "all %ld MCP sessions are in use",
                             m->max_sessions);
        return;
    }
    m->host->reply_header(req, "Mcp-Session-Id", s->id);
    struct mcp_call *c = call_new(m, req, msg, MCP_LEGACY, NULL);
    if (!c) {
        m->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    call_result(c, server_info(m, json_object_get(msg, "params")));
}

/* A notification: acted on when it cancels a request, then acknowledged. */
static void notification(struct mcp *m, pl_request *req, json_t *msg, struct session *s)
{
    call_cancel(m, req, s ? s->id : NULL, msg);
    m->host->reply_raw(req, 202, "application/json", "", 0);
}

static void serve_legacy(struct mcp *m, pl_request *req, json_t *msg)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *id = json_object_get(msg, "id");
    int init = method && strcmp(method, "initialize") == 0;
    struct session *s = NULL;
    if (check_session(m, req, init, &s) < 0)
        return;
    if (!json_is_object(msg) || !method ||
        strcmp(json_string_value(json_object_get(msg, "jsonrpc")) ?: "", "2.0") != 0) {
        m->host->reply_json(req, 200, json_pack("{s:s, s:n, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
                                                "error", "code", -32600, "message",
                                                "not a JSON-RPC 2.0 request"));
        return;
    }
    if (!id) { /* a notification (notifications/initialized, cancelled): nothing to say */
        notification(m, req, msg, s);
        return;
    }
    if (init) {
        do_initialize(m, req, msg);
        return;
    }
    struct mcp_call *c = call_new(m, req, msg, MCP_LEGACY, NULL);
    if (!c) {
        m->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    mcp_dispatch(c, method, json_object_get(msg, "params"));
}

/* 2026-07-28: every request stands alone (no initialize, no session; an Mcp-Session-Id
 * is ignored).  The revision has no ping or initialize; what is not served here
 * (prompts, completion...) answers -32601 on HTTP 404, the status that revision gives an
 * unknown method. */
static void serve_modern(struct mcp *m, pl_request *req, json_t *msg)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *id = json_object_get(msg, "id");
    if (!id) {
        notification(m, req, msg, NULL);
        return;
    }
    if (!modern_method_known(method)) {
        rpc_refuse(m, req, id, 404, json_pack("{s:i, s:s}", "code", -32601, "message", "method not found"));
        return;
    }
    struct mcp_call *c = call_new(m, req, msg, MCP_MODERN, NULL);
    if (!c) {
        m->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    mcp_dispatch(c, method, json_object_get(msg, "params"));
}

static void on_post(pl_request *req, void *arg)
{
    struct mcp *m = arg;
    if (mcp_check_origin(m, req) < 0)
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

/* GET /mcp: a legacy session's stream of server notifications (resource updates).
 * Without a session there is none to offer: 405, as the specification allows. */
static void on_get(pl_request *req, void *arg)
{
    struct mcp *m = arg;
    if (mcp_check_origin(m, req) < 0)
        return;
    if (!m->host->req_header(req, "Mcp-Session-Id")) {
        m->host->reply_error(req, 405, "METHOD_NOT_ALLOWED",
                             "a notification stream belongs to a session (Mcp-Session-Id)");
        return;
    }
    const char *accept = m->host->req_header(req, "Accept");
    if (!accept || !strstr(accept, "text/event-stream")) {
        m->host->reply_error(req, 406, "NOT_ACCEPTABLE", "GET /mcp answers text/event-stream");
        return;
    }
    struct session *s = NULL;
    if (check_session(m, req, 0, &s) < 0)
        return;
    session_open_stream(m, req, s);
}

static void on_delete(pl_request *req, void *arg)
{
    struct mcp *m = arg;
    struct session *s = NULL;
    if (mcp_check_origin(m, req) < 0 || check_session(m, req, 0, &s) < 0)
        return;
    if (!s) {
        m->host->reply_error(req, 404, "SESSION_NOT_FOUND", "no such MCP session");
        return;
    }
    session_end(m, s);
    m->host->reply_raw(req, 204, "application/json", "", 0);
}

/* ---- lifecycle ---- */

static void on_keepalive(void *arg)
{
    struct mcp *m = arg;
    sessions_keepalive(m);
    calls_keepalive(m);
}

static void mcp_free(struct mcp *m)
{
    m->host->timer_free(m->keepalive);
    json_decref(m->schemas);
    free(m->sessions);
    free(m);
}

static int mcp_init(pl_plugin_handle *self, const struct pl_host *host, void **state)
{
    if (!PL_HOST_HAS(host, http_dispatch) || !PL_HOST_HAS(host, config_declare))
        return PL_ENOTSUP;
    static const struct pl_config_key keys[] = {
        {"max_sessions", PL_CONFIG_INT, "64", 1, 100000, NULL,
         "legacy-era sessions at once (Streamable HTTP and /mcp/sse)", PL_CONFIG_RESTART},
        {"session_idle_timeout", PL_CONFIG_INT, "3600", 1, 604800, NULL,
         "a session without an open stream is closed after, s", PL_CONFIG_RESTART},
        {"follow_timeout", PL_CONFIG_INT, "1800", 1, 86400, NULL,
         "how long a long tool (a firmware update) is followed, s", PL_CONFIG_RESTART},
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
    long idle_s = 0, follow_s = 0;
    m->self = self, m->host = host;
    if (host->config_int(self, "max_sessions", 64, 1, 100000, &m->max_sessions) < 0 ||
        host->config_int(self, "session_idle_timeout", 3600, 1, 86400 * 7, &idle_s) < 0 ||
        host->config_int(self, "follow_timeout", 1800, 1, 86400, &follow_s) < 0 ||
        tools_load_schemas(m) < 0) {
        mcp_free(m);
        return PL_EINVAL;
    }
    m->idle_ms = idle_s * 1000;
    m->follow_timeout_ms = follow_s * 1000;
    m->sessions = calloc((size_t)m->max_sessions, sizeof *m->sessions);
    m->keepalive = host->timer_new(self, on_keepalive, m);
    if (!m->sessions || !m->keepalive) {
        mcp_free(m);
        return PL_ENOMEM;
    }
    for (long i = 0; i < m->max_sessions; i++)
        m->sessions[i].m = m;
    if (host->http_route(self, "POST", "/mcp", PL_AUTH_READ, on_post, m) < 0 ||
        host->http_route(self, "GET", "/mcp", PL_AUTH_READ, on_get, m) < 0 ||
        host->http_route(self, "DELETE", "/mcp", PL_AUTH_READ, on_delete, m) < 0 ||
        host->http_route(self, "GET", "/mcp/sse", PL_AUTH_READ, on_sse_open, m) < 0 ||
        host->http_route(self, "POST", "/mcp/messages", PL_AUTH_READ, on_sse_message, m) < 0 ||
        resources_start(m) < 0) {
        resources_stop(m);
        mcp_free(m);
        return PL_ERR;
    }
    host->timer_start(m->keepalive, KEEPALIVE_MS, 1);
    pl_http_describe_text(host, self, mcp_openapi_json, (size_t)mcp_openapi_json_len);
    *state = m;
    return PL_OK;
}

/* Stopping: listen streams end with their result, long operations and sessions end. */
static void mcp_fini(void *state)
{
    struct mcp *m = state;
    resources_stop(m);
    while (m->calls) {
        struct mcp_call *c = m->calls;
        c->cancelled = 1;
        if (c->op_cancel)
            c->op_cancel(c);
        else /* a REST dispatch in flight: its answer will find no call */
            break;
    }
    sessions_close_all(m);
    mcp_free(m);
}

PL_PLUGIN_DEFINE(.name = "mcp", .version = "0.2",
                 .description = "the gateway as MCP tools and resources for AI agents "
                                "(Streamable HTTP /mcp, HTTP+SSE /mcp/sse)",
                 .init = mcp_init, .fini = mcp_fini);
