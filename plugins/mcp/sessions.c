/*
 * sessions.c — legacy-era sessions and their streams.
 *  - Streamable HTTP: initialize makes a session (Mcp-Session-Id); GET /mcp with it opens
 *    the session's stream, where resource notifications go.
 *  - HTTP+SSE (2024-11-05, for clients that speak only it): GET /mcp/sse makes a session
 *    and holds its stream open; its first event names the endpoint the client POSTs its
 *    messages to (/mcp/messages?sessionId=...), each acknowledged with 202, every answer
 *    and notification going on the stream.  The session lives as long as the stream.
 * Slots are bounded (max_sessions); a session without an open stream ends after
 * session_idle_timeout without a request; an open stream is kept alive by a comment
 * every KEEPALIVE_MS, and one that cannot be written to ends.
 */
#include "mcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void subs_free(struct session *s)
{
    for (size_t i = 0; i < s->nsubs; i++)
        free(s->subs[i]);
    free(s->subs);
    s->subs = NULL;
    s->nsubs = 0;
}

void session_end(struct mcp *m, struct session *s)
{
    pl_request *stream = s->stream;
    s->stream = NULL;
    subs_free(s);
    s->kind = SESSION_FREE;
    s->last_ms = 0;
    s->id[0] = '\0';
    if (stream)
        m->host->reply_stream_end(stream);
}

/* A session without a stream, idle for longer than idle_ms, ends. */
static void expire(struct mcp *m, struct session *s, uint64_t now)
{
    if (s->kind != SESSION_FREE && !s->stream && now - s->last_ms > (uint64_t)m->idle_ms)
        session_end(m, s);
}

struct session *session_find(struct mcp *m, const char *id)
{
    uint64_t now = m->host->now_ms();
    for (long i = 0; i < m->max_sessions; i++) {
        struct session *s = &m->sessions[i];
        expire(m, s, now);
        if (s->kind != SESSION_FREE && id && strcmp(s->id, id) == 0)
            return s;
    }
    return NULL;
}

struct session *session_new(struct mcp *m, enum session_kind kind)
{
    session_find(m, NULL); /* expire idle sessions first */
    for (long i = 0; i < m->max_sessions; i++) {
        struct session *s = &m->sessions[i];
        if (s->kind == SESSION_FREE) {
            m->host->uuid(s->id);
            s->kind = kind;
            s->last_ms = m->host->now_ms();
            return s;
        }
    }
    return NULL;
}

/* Ends a stream that failed or closed: an HTTP+SSE session ends with it. */
static void stream_lost(struct mcp *m, struct session *s)
{
    pl_request *stream = s->stream;
    s->stream = NULL;
    if (stream)
        m->host->reply_stream_end(stream);
    if (s->kind == SESSION_SSE)
        session_end(m, s);
}

int session_send(struct mcp *m, struct session *s, json_t *msg)
{
    if (!s->stream)
        return -1;
    if (sse_write(m->host, s->stream, msg) != PL_OK) {
        stream_lost(m, s);
        return -1;
    }
    return 0;
}

void sessions_keepalive(struct mcp *m)
{
    uint64_t now = m->host->now_ms();
    for (long i = 0; i < m->max_sessions; i++) {
        struct session *s = &m->sessions[i];
        expire(m, s, now);
        if (!s->stream)
            continue;
        if (m->host->reply_stream_write(s->stream, ": keep-alive\n\n", 14) != PL_OK)
            stream_lost(m, s);
        else
            s->last_ms = now;
    }
}

void sessions_close_all(struct mcp *m)
{
    for (long i = 0; m->sessions && i < m->max_sessions; i++)
        if (m->sessions[i].kind != SESSION_FREE)
            session_end(m, &m->sessions[i]);
}

/* The stream's connection closed.  A slot may hold another session by now: only the
 * stream it still holds is its own. */
static void on_gone(pl_request *req, void *arg)
{
    struct session *s = arg;
    if (s->stream == req)
        stream_lost(s->m, s);
}

void session_open_stream(struct mcp *m, pl_request *req, struct session *s)
{
    if (s->stream) { /* one stream a session: a new GET replaces the old one */
        pl_request *old = s->stream;
        s->stream = NULL;
        m->host->reply_stream_end(old);
    }
    if (m->host->reply_stream_begin(req, 200, "text/event-stream") != PL_OK)
        return;
    s->stream = req;
    s->last_ms = m->host->now_ms();
    m->host->req_on_close(req, on_gone, s);
    m->host->reply_stream_write(req, ": connected\n\n", 13);
}

/* GET /mcp/sse: a session of the 2024-11-05 transport. */
void on_sse_open(pl_request *req, void *arg)
{
    struct mcp *m = arg;
    if (mcp_check_origin(m, req) < 0)
        return;
    struct session *s = session_new(m, SESSION_SSE);
    if (!s) {
        m->host->reply_error(req, 503, "TOO_MANY_SESSIONS", "all %ld MCP sessions are in use",
                             m->max_sessions);
        return;
    }
    if (m->host->reply_stream_begin(req, 200, "text/event-stream") != PL_OK) {
        session_end(m, s);
        return;
    }
    s->stream = req;
    m->host->req_on_close(req, on_gone, s);
    char ev[128];
    int n = snprintf(ev, sizeof ev, "event: endpoint\ndata: /mcp/messages?sessionId=%s\n\n", s->id);
    if (m->host->reply_stream_write(req, ev, (size_t)n) != PL_OK)
        stream_lost(m, s);
}

/* POST /mcp/messages?sessionId=: one JSON-RPC message of an HTTP+SSE session, accepted
 * with 202; what it asks is answered on the session's stream. */
void on_sse_message(pl_request *req, void *arg)
{
    struct mcp *m = arg;
    const struct pl_host *h = m->host;
    if (mcp_check_origin(m, req) < 0)
        return;
    const char *sid = h->req_query(req, "sessionId");
    struct session *s = sid ? session_find(m, sid) : NULL;
    if (!s || s->kind != SESSION_SSE || !s->stream) {
        h->reply_error(req, 404, "SESSION_NOT_FOUND", "no such MCP session (GET /mcp/sse first)");
        return;
    }
    json_t *msg = h->req_json(req);
    const char *method = json_string_value(json_object_get(msg, "method"));
    if (!json_is_object(msg) ||
        strcmp(json_string_value(json_object_get(msg, "jsonrpc")) ?: "", "2.0") != 0) {
        h->reply_error(req, 400, "INVALID_MESSAGE", "not a JSON-RPC 2.0 message");
        return;
    }
    s->last_ms = h->now_ms();
    json_t *id = json_object_get(msg, "id");
    if (!method || !id) { /* a notification, or the client's answer to nothing we asked */
        call_cancel(m, req, s->id, msg);
        h->reply_raw(req, 202, "text/plain", "Accepted", 8);
        return;
    }
    json_incref(msg); /* the request is answered (and freed) before the method runs */
    struct mcp_call *c = call_new(m, req, msg, MCP_LEGACY, s);
    h->reply_raw(req, 202, "text/plain", "Accepted", 8);
    if (c)
        mcp_dispatch(c, method, json_object_get(msg, "params"));
    json_decref(msg);
}
