/*
 * http_gate.c — the connection gate of the REST listener: a bufferevent filter under
 * evhttp that checks every request's framing before evhttp parses it, answers what it
 * refuses in JSON, and bounds how long a request may take to arrive and a connection
 * may idle.  http.c routes; this file only decides what evhttp gets to see.
 *
 * libevent 2.1 has no error callback: a request it cannot parse or will not read is
 * answered by evhttp_send_error with an HTML page, it reads a request with two
 * Content-Lengths by the first and one with Content-Length and Transfer-Encoding by the
 * latter, and its timeout is an inactivity timeout that a client sending a byte every
 * few seconds never trips.  So each connection's bytes pass through a bufferevent filter
 * (evhttp_set_bevcb) that frames requests as evhttp does and holds back every request
 * head, chunk-size line and trailer until it has checked it: evhttp only ever sees what
 * it will accept unambiguously.  What the gate refuses it answers itself, in JSON,
 * straight to the socket, and then closes the connection.  Its one timer bounds how long
 * a request may take to arrive and how long a keep-alive connection may idle.
 *
 * The output side needs help too (gate_pump): a filter moves what evhttp writes only
 * when the write is made with writing enabled (evhttp enables it after writing an
 * answer), and would report the write complete once moved rather than sent (evhttp
 * then frees a "Connection: close" connection with the answer still unsent). */
#include "http_gate.h"
#include "metrics.h"
#include "tls.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static struct http_gate_limits L;

void http_gate_configure(const struct http_gate_limits *lim)
{
    L = *lim;
}

const char *http_status_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}


#define CHUNK_LINE_LIMIT 64  /* a chunk-size line or the line after a chunk */
#define LINGER_MS 2000       /* after a refusal: time for the client to read it and close */

enum gate_state {
    GATE_HEAD,       /* holding a request head until its empty line */
    GATE_BODY,       /* passing the rest of a Content-Length body */
    GATE_CHUNK_SIZE, /* holding a chunk-size line */
    GATE_CHUNK_DATA, /* passing the rest of a chunk */
    GATE_CHUNK_END,  /* holding the line break after a chunk */
    GATE_TRAILER,    /* holding the line after the last chunk (no trailer fields) */
    GATE_REFUSED,    /* answered (or about to be): input is discarded until the close */
};

/* what the timer does when it fires: KICK runs gate_update; the others close */
enum gate_timer { TIMER_NONE, TIMER_KICK, TIMER_REQUEST, TIMER_IDLE, TIMER_REFUSAL, TIMER_LINGER };

struct http_gate {
    struct bufferevent *bev;  /* the filter evhttp reads from and writes to */
    struct bufferevent *sock; /* the socket under it */
    struct evbuffer *held;    /* received, not yet given to evhttp */
    struct evbuffer_cb_entry *out_cb, *answer_cb; /* socket output; evhttp's output */
    struct event *timer;
    enum gate_timer timer_kind;
    uint64_t timer_due;
    enum gate_state state;
    size_t scan;            /* GATE_HEAD: bytes of held already split into lines */
    size_t seek;            /* ... and where the search for the next line end resumes */
    uint64_t remaining;     /* GATE_BODY / GATE_CHUNK_DATA: bytes still to pass */
    uint64_t chunked_total; /* body bytes of the chunked request so far */
    /* complete requests given to evhttp, given to handle(), answered */
    unsigned passed, dispatched, answered;
    int started;            /* the next request's clock runs (set at accept) */
    int got_bytes;          /* ... and some of its bytes have arrived */
    uint64_t request_start, idle_start;
    int status;             /* the refusal */
    const char *code;
    char message[160];
    int refusal_sent, shut;
    uint64_t refusal_due;   /* the close, whatever the client does */
    struct evhttp_request *end_pending; /* a stream whose end waits for its bytes to go */
    struct http_gate *hnext;     /* registry, by bev */
};

#define GATE_SLOTS 256
static struct http_gate *gates[GATE_SLOTS];

static unsigned gate_slot(const struct bufferevent *bev)
{
    return (unsigned)(((uintptr_t)bev >> 4) % GATE_SLOTS);
}

static struct http_gate *gate_of(const struct bufferevent *bev)
{
    struct http_gate *g = bev ? gates[gate_slot(bev)] : NULL;
    while (g && g->bev != bev)
        g = g->hnext;
    return g;
}

struct http_gate *http_gate_of_request(struct evhttp_request *req)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    return conn ? gate_of(evhttp_connection_get_bufferevent(conn)) : NULL;
}

static void gate_arm(struct http_gate *g, enum gate_timer kind, uint64_t due)
{
    /* A pending kick is not replaced: it runs gate_update, which arms the right clock,
     * and gate_pump, which tells evhttp its answer went out.  Replacing it (a request
     * arriving in the loop turn between the answer leaving the socket and the kick)
     * left evhttp waiting for that news forever, in write mode with its read callback
     * unset, and the next request on the keep-alive connection unread until the
     * request timeout closed it. */
    if (g->timer_kind == TIMER_KICK && kind != TIMER_KICK)
        return;
    if (kind == g->timer_kind && due == g->timer_due)
        return;
    g->timer_kind = kind;
    g->timer_due = due;
    if (kind == TIMER_NONE) {
        evtimer_del(g->timer);
        return;
    }
    uint64_t now = core_now_ms(), ms = due > now ? due - now : 0;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(g->timer, &tv);
}

static void gate_refusal_progress(struct http_gate *g);
static void gate_pump(struct http_gate *g);

/* Which clock runs: none while a handler works, the request's while the client owes us
 * (the rest of) a request, else the idle one. */
static void gate_update(struct http_gate *g)
{
    if (g->state == GATE_REFUSED)
        gate_refusal_progress(g);
    else if (g->dispatched > g->answered)
        gate_arm(g, TIMER_NONE, 0);
    else if (g->started || g->passed > g->dispatched)
        gate_arm(g, TIMER_REQUEST, g->request_start + L.request_timeout_ms);
    else
        gate_arm(g, TIMER_IDLE, g->idle_start + L.idle_timeout_ms);
}

/* Refuse the request being read: stop passing bytes; the answer follows once evhttp
 * has answered everything before it (gate_refusal_progress). */
static void gate_refuse(struct http_gate *g, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void gate_refuse(struct http_gate *g, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->message, sizeof g->message, fmt, ap);
    va_end(ap);
    g->state = GATE_REFUSED;
    g->refusal_due = core_now_ms() + L.request_timeout_ms;
    g->status = status;
    g->code = code;
    evbuffer_drain(g->held, evbuffer_get_length(g->held));
    char name[128];
    snprintf(name, sizeof name, "pipelet_http_refused_total{code=\"%s\"}", code);
    metrics_add(name, 1);
    core_log(PL_LOG_DEBUG, "http", "request refused: %d %s: %s", status, code, g->message);
}

static void gate_write_refusal(struct http_gate *g)
{
    json_t *j = json_pack("{s:s, s:s}", "error", g->message, "code", g->code);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text)
        evbuffer_add_printf(bufferevent_get_output(g->sock),
                            "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                            g->status, http_status_reason(g->status), strlen(text), text);
    free(text);
    g->refusal_sent = 1;
}

/* A refusal is written once evhttp has nothing left to send (so it cannot interleave
 * with an answer), then the write side is shut and the client given LINGER_MS to read
 * it and close: closing at once with its body still arriving would reset the connection
 * and could destroy the answer before the client read it. */
static void gate_refusal_progress(struct http_gate *g)
{
    int quiet = g->answered == g->passed && g->dispatched == g->answered &&
                evbuffer_get_length(bufferevent_get_output(g->bev)) == 0 &&
                evbuffer_get_length(bufferevent_get_output(g->sock)) == 0;
    if (!g->refusal_sent && !quiet) { /* waiting for evhttp, at most request_timeout */
        gate_arm(g, TIMER_REFUSAL, g->refusal_due);
        return;
    }
    if (!g->refusal_sent) {
        gate_write_refusal(g);
        g->refusal_due = core_now_ms() + L.idle_timeout_ms; /* for the client to read it */
    }
    if (evbuffer_get_length(bufferevent_get_output(g->sock)) > 0) {
        gate_arm(g, TIMER_REFUSAL, g->refusal_due);
        return;
    }
    if (!g->shut) {
        g->shut = 1;
        SSL *ssl = bufferevent_openssl_get_ssl(g->sock);
        if (ssl) /* close_notify first: a TLS client takes a bare close for truncation */
            SSL_shutdown(ssl);
        shutdown(bufferevent_getfd(g->sock), SHUT_WR);
        g->refusal_due = core_now_ms() + LINGER_MS;
    }
    gate_arm(g, TIMER_LINGER, g->refusal_due);
}

/* Close through the path libevent takes for its own timeouts: evhttp frees the
 * connection (a request a handler still holds is detached and stays valid). */
static void gate_close(struct http_gate *g)
{
    bufferevent_event_cb eventcb = NULL;
    bufferevent_getcb(g->bev, NULL, NULL, &eventcb, NULL);
    if (eventcb) /* none: evhttp has already freed it, and our free is pending */
        bufferevent_trigger_event(g->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, 0);
}

static void gate_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct http_gate *g = arg;
    (void)fd;
    (void)what;
    enum gate_timer kind = g->timer_kind;
    g->timer_kind = TIMER_NONE;
    if (kind == TIMER_KICK) {
        if (g->end_pending && !evbuffer_get_length(bufferevent_get_output(g->sock))) {
            struct evhttp_request *req = g->end_pending;
            g->end_pending = NULL;
            evhttp_send_reply_end(req); /* may free the connection, and so the gate */
            return;
        }
        gate_update(g);
        gate_pump(g); /* last: it may end in evhttp freeing the connection */
        return;
    }
    core_log(PL_LOG_DEBUG, "http",
             "gate timer %d: state %d got_bytes %d started %d passed %u dispatched %u answered %u "
             "held %zu in %zu out %zu sock-out %zu enabled %d sock-enabled %d fd %d",
             (int)kind, (int)g->state, g->got_bytes, g->started, g->passed, g->dispatched, g->answered,
             evbuffer_get_length(g->held), evbuffer_get_length(bufferevent_get_input(g->bev)),
             evbuffer_get_length(bufferevent_get_output(g->bev)),
             evbuffer_get_length(bufferevent_get_output(g->sock)), (int)bufferevent_get_enabled(g->bev),
             (int)bufferevent_get_enabled(g->sock), (int)bufferevent_getfd(g->sock));
    if (kind == TIMER_REQUEST && g->got_bytes && g->state != GATE_REFUSED) {
        gate_refuse(g, 408, "REQUEST_TIMEOUT", "the request did not arrive within %u s",
                    (unsigned)(L.request_timeout_ms / 1000));
        gate_update(g);
        return;
    }
    gate_close(g);
}

static void gate_request_done(struct http_gate *g)
{
    g->passed++;
    g->state = GATE_HEAD;
    g->scan = g->seek = 0;
    g->chunked_total = 0;
    g->started = g->got_bytes = evbuffer_get_length(g->held) > 0; /* pipelined */
    g->request_start = core_now_ms();
}

/* ---------- the gate: checking a request head ---------- */

struct head {
    const char *method;
    char minor;              /* HTTP/1.minor */
    int lengths, encodings;  /* Content-Length and Transfer-Encoding headers seen */
    int chunked, odd_expect; /* Transfer-Encoding: chunked; an Expect other than 100-continue */
    uint64_t length;
};

static const char *const known_methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD",
                                            "OPTIONS"};

static int is_token(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && (!c || !strchr("!#$%&'*+-.^_`|~", c)))
            return 0;
    }
    return n > 0;
}

static int name_is(const char *s, size_t n, const char *name)
{
    return n == strlen(name) && strncasecmp(s, name, n) == 0;
}

/* The target as evhttp will parse it: origin-form, visible ASCII. */
static int target_ok(const char *t, size_t n)
{
    if (n == 0 || t[0] != '/')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (t[i] < 0x21 || t[i] > 0x7e)
            return 0;
    char *copy = strndup(t, n);
    struct evhttp_uri *uri = copy ? evhttp_uri_parse_with_flags(copy, EVHTTP_URI_NONCONFORMANT) : NULL;
    free(copy);
    if (uri)
        evhttp_uri_free(uri);
    return uri != NULL;
}

/* "METHOD SP target SP HTTP/1.x" and nothing else */
static int check_request_line(struct http_gate *g, const char *s, size_t n, struct head *h)
{
    const char *end = s + n, *sp1 = memchr(s, ' ', n);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) : NULL;
    if (!sp2 || !is_token(s, (size_t)(sp1 - s)) || memchr(sp2 + 1, ' ', (size_t)(end - sp2 - 1))) {
        gate_refuse(g, 400, "BAD_REQUEST", "malformed request line");
        return -1;
    }
    for (size_t i = 0; i < sizeof known_methods / sizeof known_methods[0] && !h->method; i++)
        if ((size_t)(sp1 - s) == strlen(known_methods[i]) && !memcmp(s, known_methods[i], (size_t)(sp1 - s)))
            h->method = known_methods[i];
    if (!h->method) {
        gate_refuse(g, 501, "NOT_IMPLEMENTED", "method %.*s is not implemented",
                    (int)(sp1 - s > 32 ? 32 : sp1 - s), s);
        return -1;
    }
    if (end - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) || (sp2[8] != '0' && sp2[8] != '1')) {
        gate_refuse(g, 400, "BAD_REQUEST", "unsupported HTTP version (HTTP/1.0 and 1.1 are)");
        return -1;
    }
    h->minor = sp2[8];
    if (!target_ok(sp1 + 1, (size_t)(sp2 - sp1 - 1))) {
        gate_refuse(g, 400, "BAD_REQUEST", "malformed request target");
        return -1;
    }
    return 0;
}

/* Header values are trimmed as evhttp trims them: leading spaces, trailing blanks. */
static int check_header(struct http_gate *g, const char *s, size_t n, struct head *h)
{
    const char *colon = memchr(s, ':', n);
    if (!colon || !is_token(s, (size_t)(colon - s))) {
        gate_refuse(g, 400, "INVALID_HEADER", s[0] == ' ' || s[0] == '\t'
                                                  ? "folded header lines are not accepted"
                                                  : "malformed header line");
        return -1;
    }
    size_t name_len = (size_t)(colon - s);
    const char *v = colon + 1, *end = s + n;
    for (const char *p = v; p < end; p++)
        if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f) {
            gate_refuse(g, 400, "INVALID_HEADER", "control character in header %.*s",
                        (int)(name_len > 64 ? 64 : name_len), s);
            return -1;
        }
    while (v < end && *v == ' ')
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vn = (size_t)(end - v);
    if (name_is(s, name_len, "Content-Length")) {
        h->lengths++;
        if (vn == 0 || vn > 18 || strspn(v, "0123456789") < vn) {
            gate_refuse(g, 400, "INVALID_HEADER", "malformed Content-Length");
            return -1;
        }
        h->length = strtoull(v, NULL, 10);
    } else if (name_is(s, name_len, "Transfer-Encoding")) {
        h->encodings++;
        if (!name_is(v, vn, "chunked")) {
            gate_refuse(g, 501, "NOT_IMPLEMENTED", "only Transfer-Encoding: chunked is supported");
            return -1;
        }
        h->chunked = 1;
    } else if (name_is(s, name_len, "Expect")) {
        h->odd_expect = !name_is(v, vn, "100-continue");
    }
    return 0;
}

/* How the body is framed must be unambiguous: a proxy in front may read it otherwise. */
static int check_framing(struct http_gate *g, const struct head *h)
{
    int body = h->chunked || h->length > 0;
    if (h->lengths > 1 || h->encodings > 1)
        gate_refuse(g, 400, "INVALID_HEADER", "more than one %s header",
                    h->lengths > 1 ? "Content-Length" : "Transfer-Encoding");
    else if (h->lengths && h->encodings)
        gate_refuse(g, 400, "INVALID_HEADER", "Content-Length together with Transfer-Encoding");
    else if (body && !strcmp(h->method, "HEAD")) /* evhttp would read the body as a request */
        gate_refuse(g, 400, "INVALID_HEADER", "a HEAD request cannot have a body");
    else if (body && h->minor == '1' && h->odd_expect)
        gate_refuse(g, 417, "EXPECTATION_FAILED", "only Expect: 100-continue is supported");
    else if (h->length > L.body_limit)
        gate_refuse(g, 413, "PAYLOAD_TOO_LARGE", "request body larger than %zu bytes", L.body_limit);
    return g->state == GATE_REFUSED ? -1 : 0;
}

/* The head: lines ending in LF or CRLF (as evhttp splits them), the last one empty. */
static int check_head(struct http_gate *g, const char *p, size_t n, struct head *h)
{
    const char *end = p + n;
    for (int first = 1; p < end; first = 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)(nl - p);
        if (len && p[len - 1] == '\r')
            len--;
        if (first ? check_request_line(g, p, len, h) : len && check_header(g, p, len, h))
            return -1;
        p = nl + 1;
    }
    return check_framing(g, h);
}

/* ---------- the gate: framing ---------- */

static int gate_head_done(struct http_gate *g, struct evbuffer *dst, size_t n)
{
    struct head h = {0};
    const char *p = (const char *)evbuffer_pullup(g->held, (ev_ssize_t)n);
    if (!p) {
        gate_refuse(g, 500, "INTERNAL_ERROR", "out of memory");
        return 0;
    }
    if (check_head(g, p, n, &h) != 0)
        return 0;
    evbuffer_remove_buffer(g->held, dst, n);
    g->remaining = h.length;
    if (h.chunked)
        g->state = GATE_CHUNK_SIZE;
    else if (h.length > 0)
        g->state = GATE_BODY;
    else
        gate_request_done(g);
    return 1;
}

/* Split held bytes into lines (continuing where the last call stopped) up to the empty
 * line that ends the head. */
static int gate_head(struct http_gate *g, struct evbuffer *dst)
{
    size_t len = evbuffer_get_length(g->held), eol_len = 0;
    while (g->scan < len && g->scan <= HTTP_GATE_HEAD_LIMIT) {
        struct evbuffer_ptr pos;
        evbuffer_ptr_set(g->held, &pos, g->seek > g->scan ? g->seek : g->scan, EVBUFFER_PTR_SET);
        struct evbuffer_ptr eol = evbuffer_search_eol(g->held, &pos, &eol_len, EVBUFFER_EOL_CRLF);
        if (eol.pos < 0) {
            g->seek = len - 1; /* from the last byte on: it may be the CR of a CRLF */
            break;
        }
        size_t line = (size_t)eol.pos - g->scan;
        g->scan = (size_t)eol.pos + eol_len;
        if (line == 0 && g->scan <= HTTP_GATE_HEAD_LIMIT)
            return gate_head_done(g, dst, g->scan);
    }
    if (g->scan > HTTP_GATE_HEAD_LIMIT || len > HTTP_GATE_HEAD_LIMIT)
        gate_refuse(g, 400, "HEADERS_TOO_LARGE", "request line and headers larger than %d bytes",
                    HTTP_GATE_HEAD_LIMIT);
    return 0;
}

static int gate_pass(struct http_gate *g, struct evbuffer *dst)
{
    size_t len = evbuffer_get_length(g->held);
    size_t n = g->remaining < len ? (size_t)g->remaining : len;
    evbuffer_remove_buffer(g->held, dst, n);
    g->remaining -= n;
    if (g->remaining == 0 && g->state == GATE_BODY)
        gate_request_done(g);
    else if (g->remaining == 0)
        g->state = GATE_CHUNK_END;
    return n > 0;
}

/* A chunk size: hex digits only (evhttp would read "5;ext" as an error and "0x5" as 5). */
static int chunk_size(struct http_gate *g, const char *s, size_t n, uint64_t *size)
{
    *size = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)s[i]) || n > 15) {
            gate_refuse(g, 400, "BAD_REQUEST", "malformed chunk size");
            return -1;
        }
        *size = *size * 16 + (uint64_t)(isdigit((unsigned char)s[i]) ? s[i] - '0'
                                                                     : (s[i] | 0x20) - 'a' + 10);
    }
    if (n == 0)
        gate_refuse(g, 400, "BAD_REQUEST", "malformed chunk size");
    else if (*size > L.body_limit - g->chunked_total)
        gate_refuse(g, 413, "PAYLOAD_TOO_LARGE", "request body larger than %zu bytes", L.body_limit);
    return g->state == GATE_REFUSED ? -1 : 0;
}

/* The lines of a chunked body: a size, the empty line after each chunk's data, and the
 * empty line after the last chunk (trailer fields would become request headers). */
static int gate_chunk_line(struct http_gate *g, struct evbuffer *dst)
{
    size_t eol_len = 0;
    struct evbuffer_ptr eol = evbuffer_search_eol(g->held, NULL, &eol_len, EVBUFFER_EOL_CRLF);
    size_t n = eol.pos < 0 ? evbuffer_get_length(g->held) : (size_t)eol.pos;
    char line[CHUNK_LINE_LIMIT + 1];
    uint64_t size = 0;
    if (n > CHUNK_LINE_LIMIT || (eol.pos >= 0 && g->state != GATE_CHUNK_SIZE && n > 0)) {
        gate_refuse(g, 400, "BAD_REQUEST", g->state == GATE_TRAILER
                                               ? "trailer fields are not accepted"
                                               : "malformed chunked body");
        return 0;
    }
    if (eol.pos < 0)
        return 0;
    evbuffer_copyout(g->held, line, n);
    if (g->state == GATE_CHUNK_SIZE && chunk_size(g, line, n, &size) != 0)
        return 0;
    evbuffer_remove_buffer(g->held, dst, n + eol_len);
    if (g->state == GATE_TRAILER) {
        gate_request_done(g);
    } else if (g->state == GATE_CHUNK_END) {
        g->state = GATE_CHUNK_SIZE;
    } else {
        g->chunked_total += size;
        g->remaining = size;
        g->state = size ? GATE_CHUNK_DATA : GATE_TRAILER;
    }
    return 1;
}

/* One framing step over the held bytes; 0 when it needs more (or refused). */
static int gate_step(struct http_gate *g, struct evbuffer *dst)
{
    switch (g->state) {
    case GATE_HEAD: return gate_head(g, dst);
    case GATE_BODY:
    case GATE_CHUNK_DATA: return gate_pass(g, dst);
    case GATE_CHUNK_SIZE:
    case GATE_CHUNK_END:
    case GATE_TRAILER: return gate_chunk_line(g, dst);
    default: return 0;
    }
}

/* The bufferevent input filter: src is what the socket read, dst what evhttp parses. */
static enum bufferevent_filter_result gate_input(struct evbuffer *src, struct evbuffer *dst,
                                                 ev_ssize_t limit, enum bufferevent_flush_mode mode,
                                                 void *arg)
{
    struct http_gate *g = arg;
    (void)limit;
    (void)mode;
    size_t before = evbuffer_get_length(dst);
    if (g->state == GATE_REFUSED) {
        evbuffer_drain(src, evbuffer_get_length(src));
        return BEV_NEED_MORE;
    }
    if (evbuffer_get_length(src) && g->state == GATE_HEAD && !g->got_bytes) {
        if (!g->started)
            g->request_start = core_now_ms();
        g->started = g->got_bytes = 1;
    }
    evbuffer_add_buffer(g->held, src);
    while (evbuffer_get_length(g->held) && gate_step(g, dst))
        ;
    gate_update(g);
    return evbuffer_get_length(dst) > before ? BEV_OK : BEV_NEED_MORE;
}

/* ---------- the gate: life cycle ---------- */

/* The output filter: what evhttp writes goes to the socket unchanged, but reported as
 * not done, so libevent does not call evhttp's write callback (gate_pump does, once the
 * socket has sent it all). */
static enum bufferevent_filter_result gate_output(struct evbuffer *src, struct evbuffer *dst,
                                                  ev_ssize_t limit,
                                                  enum bufferevent_flush_mode mode, void *arg)
{
    (void)limit;
    (void)mode;
    (void)arg;
    evbuffer_add_buffer(dst, src);
    return BEV_NEED_MORE;
}

/* Move evhttp's pending output to the socket; once the socket has sent everything, run
 * evhttp's write callback, as a socket bufferevent would.  Only while evhttp has writing
 * enabled: between answers its write callback would act on a stale continuation. */
static void gate_pump(struct http_gate *g)
{
    if (!(bufferevent_get_enabled(g->bev) & EV_WRITE))
        return;
    if (evbuffer_get_length(bufferevent_get_output(g->bev)))
        bufferevent_flush(g->bev, EV_WRITE, BEV_NORMAL);
    else if (!evbuffer_get_length(bufferevent_get_output(g->sock)))
        bufferevent_trigger(g->bev, EV_WRITE, 0);
}

/* Run gate_update from the loop rather than from inside a libevent callback. */
static void gate_kick(struct http_gate *g)
{
    gate_arm(g, TIMER_KICK, core_now_ms());
}

/* evhttp wrote (perhaps with writing still disabled): pump once it is done. */
static void gate_answer_written(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                                void *arg)
{
    (void)buf;
    if (info->n_added)
        gate_kick(arg);
}

/* The socket's output changed; once drained, the idle clock starts, evhttp learns its
 * answer was sent, and a waiting refusal may go out. */
static void gate_output_changed(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                                void *arg)
{
    struct http_gate *g = arg;
    if (!info->n_deleted || evbuffer_get_length(buf) > 0)
        return;
    g->idle_start = core_now_ms();
    gate_kick(g);
}

/* evhttp ends a stream that is not chunked (an HTTP/1.0 client) by closing the
 * connection at once when its own buffer is empty, which under the filter it always is:
 * the last events, still in the socket's buffer, would be lost.  So the end waits until
 * the socket has sent everything (gate_output_changed kicks the timer). */
int http_gate_end_stream(struct http_gate *g, struct evhttp_request *req)
{
    if (!g)
        return 0;
    if (evbuffer_get_length(bufferevent_get_output(g->bev))) /* to the socket, whether or not
                                                                evhttp enabled writing */
        bufferevent_flush(g->bev, EV_WRITE, BEV_NORMAL);
    if (!evbuffer_get_length(bufferevent_get_output(g->sock)))
        return 0;
    g->end_pending = req;
    return 1;
}

void http_gate_dispatched(struct http_gate *g)
{
    if (!g)
        return;
    g->dispatched++;
    gate_update(g);
}

/* Called before evhttp is given the answer: the update waits for the loop, by when the
 * answer is queued, so a pending refusal cannot be written ahead of it. */
void http_gate_answered(struct http_gate *g)
{
    if (!g)
        return;
    g->answered++;
    g->idle_start = core_now_ms();
    if (g->started) /* a pipelined request waited for us, not the other way round */
        g->request_start = g->idle_start;
    gate_kick(g);
}

/* free_context of the filter: runs when libevent finalizes it, after evhttp freed it. */
static void gate_free(void *arg)
{
    struct http_gate *g = arg;
    struct http_gate **pp = &gates[gate_slot(g->bev)];
    while (*pp && *pp != g)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = g->hnext;
    if (g->out_cb)
        evbuffer_remove_cb_entry(bufferevent_get_output(g->sock), g->out_cb);
    if (g->answer_cb)
        evbuffer_remove_cb_entry(bufferevent_get_output(g->bev), g->answer_cb);
    event_free(g->timer);
    evbuffer_free(g->held);
    free(g);
}

/* The socket side: a plain socket, or TLS (accepting once evhttp gives it the fd). */
static struct bufferevent *gate_socket(struct event_base *base, SSL_CTX *tls)
{
    if (!tls)
        return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    SSL *ssl = SSL_new(tls);
    /* frees ssl itself when it fails (BEV_OPT_CLOSE_ON_FREE) */
    return ssl ? bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                BEV_OPT_CLOSE_ON_FREE)
               : NULL;
}

/* evhttp_set_bevcb: every accepted connection gets a gate (on failure evhttp makes a
 * plain bufferevent and the connection goes unguarded; logged; http.c refuses such a
 * connection on a TLS listener). */
struct bufferevent *http_gate_new(struct event_base *base, void *arg)
{
    struct http_gate *g = calloc(1, sizeof *g);
    if (!g)
        goto fail;
    g->sock = gate_socket(base, arg);
    g->held = evbuffer_new();
    g->timer = evtimer_new(base, gate_on_timer, g);
    if (!g->sock || !g->held || !g->timer)
        goto fail;
    g->out_cb = evbuffer_add_cb(bufferevent_get_output(g->sock), gate_output_changed, g);
    g->bev = g->out_cb ? bufferevent_filter_new(g->sock, gate_input, gate_output,
                                                BEV_OPT_CLOSE_ON_FREE, gate_free, g)
                       : NULL;
    if (!g->bev)
        goto fail;
    g->answer_cb = evbuffer_add_cb(bufferevent_get_output(g->bev), gate_answer_written, g);
    if (!g->answer_cb) { /* gate_free would run at the filter's end, with g half-made */
        bufferevent_free(g->bev);
        return NULL;
    }
    g->started = 1; /* the first request's clock starts at the connection */
    g->request_start = g->idle_start = core_now_ms();
    g->hnext = gates[gate_slot(g->bev)];
    gates[gate_slot(g->bev)] = g;
    gate_update(g);
    return g->bev;
fail:
    core_log(PL_LOG_ERROR, "http", "out of memory: connection without its request checks");
    if (g && g->sock)
        bufferevent_free(g->sock);
    if (g && g->held)
        evbuffer_free(g->held);
    if (g && g->timer)
        event_free(g->timer);
    free(g);
    return NULL;
}

char *http_gate_client_subject(struct http_gate *g)
{
    return g ? tls_peer_subject(bufferevent_openssl_get_ssl(g->sock)) : NULL;
}

size_t http_gate_count(void)
{
    size_t n = 0;
    for (unsigned i = 0; i < GATE_SLOTS; i++)
        for (struct http_gate *g = gates[i]; g; g = g->hnext)
            n++;
    return n;
}
