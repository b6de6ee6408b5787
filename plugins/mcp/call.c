/*
 * call.c — one JSON-RPC request being answered, wherever its answer goes:
 *  - Streamable HTTP: the POST's answer is a JSON body, or, once the server has something
 *    to say before the answer (progress), an SSE stream of those notifications ending
 *    with the answer (when the client's Accept allows one; else they are dropped);
 *  - the 2024-11-05 HTTP+SSE transport: the POST was acknowledged with 202 and
 *    everything goes on the session's stream.
 * Calls in flight are listed so that notifications/cancelled (or the client going away)
 * reaches them: the answer of a cancelled request is not sent, as the specification
 * asks, and a long operation is told to stop.
 */
#include "mcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-07-28 results say what they are (resultType; this server never asks for input)
 * and who answered (serverInfo in _meta), as that revision's encode contract does for
 * every result. */
void stamp_modern(struct mcp *m, json_t *result)
{
    json_object_set_new(result, "resultType", json_string("complete"));
    json_t *meta = json_object_get(result, "_meta");
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new(result, "_meta", meta);
    }
    json_object_set_new(meta, META_SERVER_INFO,
                        json_pack("{s:s, s:s}", "name", "pipelet", "version", m->host->version));
}

/* A cacheable 2026-07-28 result says for how long, and for whom: "private", since what
 * /mcp answers depends on the caller's key. */
void cacheable(json_t *result, long ttl_ms)
{
    json_object_set_new(result, "ttlMs", json_integer(ttl_ms));
    json_object_set_new(result, "cacheScope", json_string("private"));
}

int sse_write(const struct pl_host *h, pl_request *stream, json_t *msg)
{
    char *data = json_dumps(msg, JSON_COMPACT); /* one line: strings keep \n escaped */
    if (!data)
        return PL_ERR;
    size_t cap = strlen(data) + 32;
    char *frame = malloc(cap);
    int rc = PL_ERR;
    if (frame) {
        int n = snprintf(frame, cap, "event: message\ndata: %s\n\n", data);
        rc = h->reply_stream_write(stream, frame, (size_t)n);
    }
    free(frame);
    free(data);
    return rc;
}

static void call_free(struct mcp_call *c)
{
    for (struct mcp_call **pp = &c->m->calls; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    json_decref(c->id);
    json_decref(c->progress_token);
    free(c);
}

/* Whose notifications/cancelled reach a request: its session's, else (stateless) its
 * API key's. */
static void owner_of(const struct pl_host *h, pl_request *req, const char *session, char *out,
                     size_t cap)
{
    if (session && *session)
        snprintf(out, cap, "s:%s", session);
    else
        snprintf(out, cap, "k:mcp:%s", h->req_key_name(req) ? h->req_key_name(req) : "anonymous");
}

/* The POST's connection closed before its answer: nobody is left to read it. */
static void on_gone(pl_request *req, void *arg)
{
    (void)req;
    struct mcp_call *c = arg;
    c->cancelled = 1;
    if (c->op_cancel)
        c->op_cancel(c); /* the operation stops, then drops the call */
}

struct mcp_call *call_new(struct mcp *m, pl_request *req, json_t *msg, enum mcp_era era,
                          struct session *sse)
{
    struct mcp_call *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    const struct pl_host *h = m->host;
    c->m = m;
    c->era = era;
    c->id = json_incref(json_object_get(msg, "id"));
    json_t *token = json_object_get(json_object_get(json_object_get(msg, "params"), "_meta"),
                                    "progressToken");
    if (json_is_string(token) || json_is_integer(token))
        c->progress_token = json_incref(token);
    c->scope = h->req_scope(req);
    snprintf(c->key_name, sizeof c->key_name, "mcp:%s",
             h->req_key_name(req) ? h->req_key_name(req) : "anonymous");
    const char *sid = sse ? sse->id : era == MCP_LEGACY ? h->req_header(req, "Mcp-Session-Id") : NULL;
    if (sid && strlen(sid) < sizeof c->session)
        snprintf(c->session, sizeof c->session, "%s", sid);
    owner_of(h, req, c->session, c->owner, sizeof c->owner);
    if (sse) {
        c->sink = SINK_SESSION;
    } else {
        c->sink = SINK_HTTP;
        c->req = req;
        const char *accept = h->req_header(req, "Accept");
        c->accepts_sse = accept && strstr(accept, "text/event-stream") != NULL;
        h->req_on_close(req, on_gone, c);
    }
    c->next = m->calls;
    m->calls = c;
    return c;
}

/* The message (stolen) where the call's messages go; PL_OK or PL_ERR. */
static int deliver(struct mcp_call *c, json_t *msg)
{
    int rc = PL_ERR;
    if (c->sink == SINK_SESSION) {
        struct session *s = session_find(c->m, c->session);
        rc = s && session_send(c->m, s, msg) == 0 ? PL_OK : PL_ERR;
    } else if (c->req && c->streaming) {
        rc = sse_write(c->m->host, c->req, msg);
    }
    json_decref(msg);
    return rc;
}

/* The answer (stolen), then the call is gone. */
static void answer(struct mcp_call *c, json_t *msg, int http_status)
{
    const struct pl_host *h = c->m->host;
    if (c->cancelled) {
        json_decref(msg);
        call_drop(c);
        return;
    }
    if (c->sink == SINK_HTTP && c->req && !c->streaming) {
        h->reply_json(c->req, http_status, msg);
    } else {
        deliver(c, msg);
        if (c->sink == SINK_HTTP && c->req)
            h->reply_stream_end(c->req);
    }
    call_free(c);
}

void call_result(struct mcp_call *c, json_t *result)
{
    if (c->era == MCP_MODERN)
        stamp_modern(c->m, result);
    answer(c, json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", c->id ? c->id : json_null(),
                        "result", result),
           200);
}

void call_error_data(struct mcp_call *c, int code, const char *msg, json_t *data)
{
    json_t *err = json_pack("{s:i, s:s}", "code", code, "message", msg);
    if (data)
        json_object_set_new(err, "data", data);
    answer(c, json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", c->id ? c->id : json_null(),
                        "error", err),
           200);
}

void call_error(struct mcp_call *c, int code, const char *msg)
{
    call_error_data(c, code, msg, NULL);
}

void call_drop(struct mcp_call *c)
{
    const struct pl_host *h = c->m->host;
    if (c->sink == SINK_HTTP && c->req) {
        if (c->streaming) {
            h->reply_stream_end(c->req);
        } else if (c->accepts_sse && h->reply_stream_begin(c->req, 200, "text/event-stream") == PL_OK) {
            h->reply_stream_end(c->req); /* a stream that ends without an answer */
        } else if (!c->accepts_sse) {
            h->reply_json(c->req, 200,
                          json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
                                    c->id ? c->id : json_null(), "error", "code", -32800,
                                    "message", "request cancelled"));
        }
    }
    call_free(c);
}

int call_notify(struct mcp_call *c, const char *method, json_t *params)
{
    json_t *msg = json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", method, "params", params);
    if (c->cancelled || !msg) {
        json_decref(msg);
        return -1;
    }
    if (c->sink == SINK_HTTP && c->req && !c->streaming) {
        if (!c->accepts_sse) { /* a JSON-only client hears the answer alone */
            json_decref(msg);
            return -1;
        }
        if (c->m->host->reply_stream_begin(c->req, 200, "text/event-stream") != PL_OK) {
            c->req = NULL; /* finished by the host: nothing more can be written */
            c->cancelled = 1;
            json_decref(msg);
            return -1;
        }
        c->streaming = 1;
    }
    if (deliver(c, msg) != PL_OK) {
        c->cancelled = 1; /* gone; its close callback (if any) follows */
        return -1;
    }
    return 0;
}

void call_progress(struct mcp_call *c, double total, const char *message)
{
    if (!c->progress_token)
        return;
    c->progress += 1;
    json_t *p = json_pack("{s:O, s:f}", "progressToken", c->progress_token, "progress", c->progress);
    if (total > 0)
        json_object_set_new(p, "total", json_real(total));
    if (message)
        json_object_set_new(p, "message", json_string(message));
    call_notify(c, "notifications/progress", p);
}

void call_cancel(struct mcp *m, pl_request *req, const char *session, json_t *msg)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    if (!method || strcmp(method, "notifications/cancelled") != 0)
        return;
    json_t *request_id = json_object_get(json_object_get(msg, "params"), "requestId");
    char owner[200];
    owner_of(m->host, req, session, owner, sizeof owner);
    for (struct mcp_call *c = m->calls; c; c = c->next)
        if (!c->cancelled && strcmp(c->owner, owner) == 0 && json_equal(c->id, request_id)) {
            c->cancelled = 1;
            m->host->log(m->self, PL_LOG_INFO, "request cancelled by its client");
            if (c->op_cancel)
                c->op_cancel(c); /* may free c: nothing else is looked at */
            return;
        }
}

void calls_keepalive(struct mcp *m)
{
    struct mcp_call *next;
    for (struct mcp_call *c = m->calls; c; c = next) {
        next = c->next;
        if (c->sink != SINK_HTTP || !c->req || !c->streaming || c->cancelled)
            continue;
        if (m->host->reply_stream_write(c->req, ": keep-alive\n\n", 14) != PL_OK) {
            c->cancelled = 1;
            if (c->op_cancel)
                c->op_cancel(c); /* frees c only */
        }
    }
}
