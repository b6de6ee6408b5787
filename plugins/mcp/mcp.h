/*
 * mcp.h — the mcp plugin: the gateway as a Model Context Protocol server, its tools
 * mapped onto the REST routes.  Transports: Streamable HTTP at /mcp (both eras), the
 * 2024-11-05 HTTP+SSE transport at /mcp/sse, and stdio through pipelet-mcp (bridge.c).
 *
 *  mcp.c        lifecycle, the /mcp routes, the JSON-RPC dispatcher
 *  era.c        which era serves a POST, and the 2026-07-28 validation ladder
 *  call.c       one request being answered: JSON, an SSE stream, or a session's stream;
 *               notifications, progress, cancellation
 *  sessions.c   legacy sessions (bounded, idle timeout), their GET streams, /mcp/sse
 *  tools.c      the catalog; tools/list, tools/call through the REST routes
 *  follow.c     long operations that report progress (firmware, a site's local lists)
 *  resources.c  station state as resources, subscriptions and their notifications
 */
#ifndef PIPELET_MCP_H
#define PIPELET_MCP_H

#include <pipelet/plugin.h>
#include <stddef.h>

/* openapi.json, embedded at build time (scripts/text2c.sh) */
extern const char mcp_openapi_json[];
extern const unsigned long mcp_openapi_json_len;

/* The 2026-07-28 revision: its name, the reserved _meta keys and the error codes its
 * ladder answers with (the official SDK's PROTOCOL_VERSION_META_KEY & co.). */
#define MCP_MODERN_VERSION "2026-07-28"
#define META_VERSION "io.modelcontextprotocol/protocolVersion"
#define META_CAPABILITIES "io.modelcontextprotocol/clientCapabilities"
#define META_CLIENT_INFO "io.modelcontextprotocol/clientInfo"
#define META_SERVER_INFO "io.modelcontextprotocol/serverInfo"
#define META_SUBSCRIPTION_ID "io.modelcontextprotocol/subscriptionId"
#define HEADER_MISMATCH -32020
#define UNSUPPORTED_PROTOCOL_VERSION -32022
#define RESOURCE_NOT_FOUND -32002

#define KEEPALIVE_MS 15000 /* a comment on every open stream, so proxies keep them */

/* Which era serves a request: results differ (2026-07-28 results carry resultType and
 * the server's identity). */
enum mcp_era { MCP_LEGACY, MCP_MODERN };

/* era.c: the era of one POST, or its refusal (error: the JSON-RPC error, new; answered
 * on HTTP 400).  Legacy traffic (initialize, sessions, no _meta claim) is MCP_LEGACY. */
struct mcp_verdict {
    enum mcp_era era;
    json_t *error;
};
struct mcp_verdict mcp_classify(const struct pl_host *host, pl_request *req, json_t *msg);

/* ---- sessions (sessions.c) ---- */

enum session_kind { SESSION_FREE, SESSION_STREAMABLE, SESSION_SSE };

/* A legacy-era session: Streamable HTTP (initialize gave it; its optional GET /mcp
 * stream carries resource notifications) or HTTP+SSE (GET /mcp/sse made it; its stream
 * carries every answer).  Slots are a fixed array: max_sessions bounds them. */
struct session {
    struct mcp *m;
    enum session_kind kind;
    char id[37];
    uint64_t last_ms;        /* the last request, or the last keep-alive written */
    pl_request *stream;      /* the open SSE stream, or NULL */
    char **subs;             /* resources/subscribe URIs */
    size_t nsubs;
};

struct mcp_call;
struct listener;

struct mcp {
    pl_plugin_handle *self;
    const struct pl_host *host;
    json_t *schemas;             /* tool name -> parsed inputSchema */
    struct session *sessions;
    long max_sessions, idle_ms;
    long follow_timeout_ms;      /* how long a long operation is followed */
    struct mcp_call *calls;      /* requests in flight, for notifications/cancelled */
    struct listener *listeners;  /* 2026-07-28 subscriptions/listen streams */
    pl_subscription *station_sub, *tx_sub;
    pl_timer *keepalive;
};

/* mcp.c: Origin and Host checks (403 answered on refusal), the methods of both eras. */
int mcp_check_origin(struct mcp *m, pl_request *req);
struct mcp_call;
void mcp_dispatch(struct mcp_call *c, const char *method, json_t *params);

struct session *session_find(struct mcp *m, const char *id);
struct session *session_new(struct mcp *m, enum session_kind kind);
void session_end(struct mcp *m, struct session *s);
/* One JSON-RPC message on the session's stream; -1 when it has none (or it is gone). */
int session_send(struct mcp *m, struct session *s, json_t *msg);
void sessions_keepalive(struct mcp *m);
void sessions_close_all(struct mcp *m);
/* GET /mcp with a session: its notification stream.  GET /mcp/sse, POST /mcp/messages:
 * the 2024-11-05 transport. */
void session_open_stream(struct mcp *m, pl_request *req, struct session *s);
void on_sse_open(pl_request *req, void *arg);
void on_sse_message(pl_request *req, void *arg);

/* ---- one request being answered (call.c) ---- */

enum mcp_sink { SINK_HTTP, SINK_SESSION };

struct mcp_call {
    struct mcp *m;
    enum mcp_era era;
    json_t *id;              /* the request's id */
    json_t *progress_token;  /* params._meta.progressToken, or NULL */
    enum mcp_sink sink;
    pl_request *req;         /* SINK_HTTP: the POST */
    int accepts_sse;         /* SINK_HTTP: its Accept lists text/event-stream */
    int streaming;           /* SINK_HTTP: answered as an SSE stream (begun) */
    char session[37];        /* the session (SINK_SESSION: where everything goes) */
    char owner[200];         /* whose notifications/cancelled reach it */
    int scope;               /* the caller's key scope */
    char key_name[160];      /* "mcp:<key>", the REST routes' caller */
    int cancelled;           /* cancelled or gone: its answer is dropped */
    double progress;         /* the last progress sent (it only increases) */
    /* a long operation (follow.c): told when the call is cancelled */
    void *op;
    void (*op_cancel)(struct mcp_call *c);
    struct mcp_call *next;
};

/* A call for the JSON-RPC request msg arriving on req (SINK_HTTP) or, with session s of
 * the HTTP+SSE transport, answered on its stream (req only read here). */
struct mcp_call *call_new(struct mcp *m, pl_request *req, json_t *msg, enum mcp_era era,
                          struct session *sse);
/* The answer (result stolen): written where it goes, then the call is freed. */
void call_result(struct mcp_call *c, json_t *result);
void call_error(struct mcp_call *c, int code, const char *msg);
void call_error_data(struct mcp_call *c, int code, const char *msg, json_t *data /* stolen */);
/* No answer (cancelled): an SSE stream ends without one; freed. */
void call_drop(struct mcp_call *c);
/* A notification about this request (params stolen), before its answer: the POST's
 * answer turns into an SSE stream.  -1 when it cannot be delivered. */
int call_notify(struct mcp_call *c, const char *method, json_t *params);
/* notifications/progress when the request asked for it (progressToken); progress
 * increases by at least 1 each time. */
void call_progress(struct mcp_call *c, double total, const char *message);
/* A notification msg arriving on req in session (NULL: stateless): when it is
 * notifications/cancelled {requestId}, that request of the same session (or API key) is
 * cancelled. */
void call_cancel(struct mcp *m, pl_request *req, const char *session, json_t *msg);
/* A comment on every streaming answer (a long operation, a listen stream). */
void calls_keepalive(struct mcp *m);
/* The 2026-07-28 result stamp (resultType, serverInfo) and the cache hints. */
void stamp_modern(struct mcp *m, json_t *result);
void cacheable(json_t *result, long ttl_ms);
/* Write one JSON-RPC message as an SSE event on a stream; PL_OK or PL_ERR. */
int sse_write(const struct pl_host *h, pl_request *stream, json_t *msg);

/* ---- tools (tools.c) ---- */

enum tool_kind { TOOL_ROUTE, TOOL_FIRMWARE, TOOL_SITE_SYNC };

/* One tool: the REST route it runs and what a model needs to know about it. */
struct mcp_tool {
    const char *name;
    const char *description;
    const char *method;
    const char *path;        /* template: {arg} holes filled from the arguments */
    int scope;               /* minimum PL_AUTH_* (the route's own scope) */
    int read_only, destructive, idempotent;
    const char *input_schema; /* JSON Schema text */
    enum tool_kind kind;     /* TOOL_FIRMWARE: followed with progress (follow.c) */
};

extern const struct mcp_tool mcp_tools[];
extern const size_t mcp_tools_count;
const struct mcp_tool *mcp_tool_find(const char *name);
int tools_load_schemas(struct mcp *m);
void do_tools_list(struct mcp_call *c, json_t *params);
void do_tools_call(struct mcp_call *c, json_t *params);
/* Run a REST route in-process for the call's caller; cb gets the answer. */
int tools_dispatch(struct mcp_call *c, const char *method, const char *path, const char *body,
                   void (*cb)(const struct pl_http_local_resp *, void *), void *arg);
/* The REST answer as a tool result (new): structuredContent, text, isError. */
json_t *tools_result(int status, const char *body, size_t len, json_t *extra /* stolen */);
void tools_encode(char *out, size_t cap, const char *s);

/* ---- long operations (follow.c) ---- */

/* update_firmware with a progressToken: the station's firmware statuses as progress,
 * answered at the final one (or after follow_timeout). rest: the REST answer. */
void follow_firmware(struct mcp_call *c, const char *station, int status, const char *body,
                     size_t len);
/* sync_site_local_lists: every station of the site, one after the other, with progress. */
void follow_site_sync(struct mcp_call *c, json_t *args);

/* ---- resources (resources.c) ---- */

void do_resources_list(struct mcp_call *c, json_t *params);
void do_resource_templates(struct mcp_call *c);
void do_resources_read(struct mcp_call *c, json_t *params);
void do_resources_subscribe(struct mcp_call *c, json_t *params, int subscribe);
void do_subscriptions_listen(struct mcp_call *c, json_t *params);
int resources_start(struct mcp *m);
void resources_stop(struct mcp *m);

#endif
