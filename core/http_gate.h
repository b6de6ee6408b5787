/*
 * http_gate.h — the connection gate under the REST listener's evhttp (http_gate.c):
 * request framing checks, JSON refusals, request and idle timeouts.  http.c installs
 * http_gate_new with evhttp_set_bevcb and tells the gate when it dispatches a request
 * and when the request is answered (the timers depend on who owes whom).
 */
#ifndef PIPELET_HTTP_GATE_H
#define PIPELET_HTTP_GATE_H

#include "core.h"

#include <event2/event.h>
#include <event2/http.h>

#define HTTP_GATE_HEAD_LIMIT 16384 /* request line, headers and trailer, bytes */

struct http_gate;

struct http_gate_limits {
    size_t body_limit;           /* Content-Length and chunked totals beyond: 413 */
    uint64_t request_timeout_ms; /* a request must arrive within this */
    uint64_t idle_timeout_ms;    /* a keep-alive connection may idle this long */
};

/* Set before the listener accepts (http_init). */
void http_gate_configure(const struct http_gate_limits *lim);
/* The evhttp_set_bevcb callback: a new connection's gate, or NULL (out of memory:
 * evhttp then reads the connection unguarded; logged).  arg: NULL for plain HTTP, or the
 * listener's SSL_CTX (the gate then filters the decrypted bytes of a TLS bufferevent;
 * without TLS there is no connection: a failure to make one closes it). */
struct bufferevent *http_gate_new(struct event_base *base, void *arg);
/* The gate of the connection a request came on; NULL when it has none (left). */
struct http_gate *http_gate_of_request(struct evhttp_request *req);
/* A request went to a handler / was answered (both NULL-safe). */
void http_gate_dispatched(struct http_gate *g);
void http_gate_answered(struct http_gate *g);
/* A stream's end: 1 when the gate will call evhttp_send_reply_end(req) once the socket
 * has sent what is queued (or drop it with the connection), 0 when the caller ends it now. */
int http_gate_end_stream(struct http_gate *g, struct evhttp_request *req);
/* Connections the gate guards now (tests, fuzzing: none may be left behind). */
size_t http_gate_count(void);
/* The subject of the verified client certificate of the gate's connection (RFC 2253),
 * or NULL (plain HTTP, none presented, g NULL).  New: the caller frees it. */
char *http_gate_client_subject(struct http_gate *g);
/* The reason phrase of an HTTP status ("Not Found"). */
const char *http_status_reason(int status);

#endif
