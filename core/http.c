/*
 * http.c — the REST listener.  evhttp parses HTTP; we route ourselves (evhttp's own
 * callbacks cannot match "/stations/{id}"), so every answer — including 404, 405,
 * 401/403, 413, 415, 429 and malformed JSON — is a JSON body {"error","code"}.  A gate
 * in front of evhttp (below) answers what evhttp would refuse in HTML, refuses requests
 * whose body length is ambiguous, and times out slow and idle connections.
 *
 * A pl_request outlives its client: when the connection closes before the handler
 * answers, evhttp detaches the request from the connection and leaves it to us; the
 * wrapper is marked closed, and the later answer goes to evhttp_send_reply*, which
 * frees a detached request instead of sending.
 */
#include "http.h"
#include "apikey.h"
#include "config.h"
#include "db.h"
#include "keys.h"
#include "metrics.h"
#include "registry.h"
#include "util.h"
#include "ws.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>

#define MAX_SEGS 16

struct route {
    char *method;
    char *pattern;
    char *segs[MAX_SEGS];
    int nsegs;
    int nliteral;
    int scope;
    pl_route_cb cb;
    void *arg;
    pl_plugin_handle *owner;
    int requests; /* unanswered requests naming it: a removed route lives until 0 */
    int removed;
    struct route *next;
};

struct close_cb {
    pl_request_close_cb cb;
    void *arg;
    struct close_cb *next;
};

struct gate;
struct local_ctx;

struct pl_request {
    struct evhttp_request *req;   /* ours until answered, even after the client left */
    struct evhttp_connection *conn;
    struct gate *gate;            /* the connection's gate, NULL once the client left */
    struct route *route;
    char *method;
    char *path;
    char *param_names[MAX_SEGS], *param_values[MAX_SEGS];
    size_t param_lens[MAX_SEGS]; /* decoded lengths: a %00 makes strlen shorter */
    int nparams;
    struct evkeyvalq query;
    char *body;
    size_t body_len;
    json_t *json;
    int scope;
    const char *key_name;
    struct close_cb *close_cbs;
    int replied, streaming, closed;
    uint64_t started_ms;
    struct local_ctx *local;      /* in-process (http_dispatch): answered to a callback */
};

static struct {
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    int port;
    size_t body_limit;
    double rate, burst;
    double authfail_rate, authfail_burst; /* failed authentications per client address */
    uint64_t request_timeout_ms, idle_timeout_ms;
    int public_health, health_strict;
    struct route *routes;
    uint64_t start_ms;
} H;

static const char *status_reason(int status)
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

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    default: return "OTHER";
    }
}

/* ---------- the connection gate ----------
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

#define HEAD_LIMIT 16384     /* request line, headers and trailer, bytes */
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

struct gate {
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
    struct gate *hnext;     /* registry, by bev */
};

#define GATE_SLOTS 256
static struct gate *gates[GATE_SLOTS];

static unsigned gate_slot(const struct bufferevent *bev)
{
    return (unsigned)(((uintptr_t)bev >> 4) % GATE_SLOTS);
}

static struct gate *gate_of(const struct bufferevent *bev)
{
    struct gate *g = bev ? gates[gate_slot(bev)] : NULL;
    while (g && g->bev != bev)
        g = g->hnext;
    return g;
}

static struct gate *gate_of_request(struct evhttp_request *req)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    return conn ? gate_of(evhttp_connection_get_bufferevent(conn)) : NULL;
}

static void gate_arm(struct gate *g, enum gate_timer kind, uint64_t due)
{
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

static void gate_refusal_progress(struct gate *g);
static void gate_pump(struct gate *g);

/* Which clock runs: none while a handler works, the request's while the client owes us
 * (the rest of) a request, else the idle one. */
static void gate_update(struct gate *g)
{
    if (g->state == GATE_REFUSED)
        gate_refusal_progress(g);
    else if (g->dispatched > g->answered)
        gate_arm(g, TIMER_NONE, 0);
    else if (g->started || g->passed > g->dispatched)
        gate_arm(g, TIMER_REQUEST, g->request_start + H.request_timeout_ms);
    else
        gate_arm(g, TIMER_IDLE, g->idle_start + H.idle_timeout_ms);
}

/* Refuse the request being read: stop passing bytes; the answer follows once evhttp
 * has answered everything before it (gate_refusal_progress). */
static void gate_refuse(struct gate *g, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void gate_refuse(struct gate *g, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->message, sizeof g->message, fmt, ap);
    va_end(ap);
    g->state = GATE_REFUSED;
    g->refusal_due = core_now_ms() + H.request_timeout_ms;
    g->status = status;
    g->code = code;
    evbuffer_drain(g->held, evbuffer_get_length(g->held));
    char name[128];
    snprintf(name, sizeof name, "pipelet_http_refused_total{code=\"%s\"}", code);
    metrics_add(name, 1);
    core_log(PL_LOG_DEBUG, "http", "request refused: %d %s: %s", status, code, g->message);
}

static void gate_write_refusal(struct gate *g)
{
    json_t *j = json_pack("{s:s, s:s}", "error", g->message, "code", g->code);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text)
        evbuffer_add_printf(bufferevent_get_output(g->sock),
                            "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                            g->status, status_reason(g->status), strlen(text), text);
    free(text);
    g->refusal_sent = 1;
}

/* A refusal is written once evhttp has nothing left to send (so it cannot interleave
 * with an answer), then the write side is shut and the client given LINGER_MS to read
 * it and close: closing at once with its body still arriving would reset the connection
 * and could destroy the answer before the client read it. */
static void gate_refusal_progress(struct gate *g)
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
        g->refusal_due = core_now_ms() + H.idle_timeout_ms; /* for the client to read it */
    }
    if (evbuffer_get_length(bufferevent_get_output(g->sock)) > 0) {
        gate_arm(g, TIMER_REFUSAL, g->refusal_due);
        return;
    }
    if (!g->shut) {
        g->shut = 1;
        shutdown(bufferevent_getfd(g->sock), SHUT_WR);
        g->refusal_due = core_now_ms() + LINGER_MS;
    }
    gate_arm(g, TIMER_LINGER, g->refusal_due);
}

/* Close through the path libevent takes for its own timeouts: evhttp frees the
 * connection (a request a handler still holds is detached and stays valid). */
static void gate_close(struct gate *g)
{
    bufferevent_event_cb eventcb = NULL;
    bufferevent_getcb(g->bev, NULL, NULL, &eventcb, NULL);
    if (eventcb) /* none: evhttp has already freed it, and our free is pending */
        bufferevent_trigger_event(g->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, 0);
}

static void gate_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct gate *g = arg;
    (void)fd;
    (void)what;
    enum gate_timer kind = g->timer_kind;
    g->timer_kind = TIMER_NONE;
    if (kind == TIMER_KICK) {
        gate_update(g);
        gate_pump(g); /* last: it may end in evhttp freeing the connection */
        return;
    }
    if (kind == TIMER_REQUEST && g->got_bytes && g->state != GATE_REFUSED) {
        gate_refuse(g, 408, "REQUEST_TIMEOUT", "the request did not arrive within %u s",
                    (unsigned)(H.request_timeout_ms / 1000));
        gate_update(g);
        return;
    }
    gate_close(g);
}

static void gate_request_done(struct gate *g)
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
static int check_request_line(struct gate *g, const char *s, size_t n, struct head *h)
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
static int check_header(struct gate *g, const char *s, size_t n, struct head *h)
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
static int check_framing(struct gate *g, const struct head *h)
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
    else if (h->length > H.body_limit)
        gate_refuse(g, 413, "PAYLOAD_TOO_LARGE", "request body larger than %zu bytes", H.body_limit);
    return g->state == GATE_REFUSED ? -1 : 0;
}

/* The head: lines ending in LF or CRLF (as evhttp splits them), the last one empty. */
static int check_head(struct gate *g, const char *p, size_t n, struct head *h)
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

static int gate_head_done(struct gate *g, struct evbuffer *dst, size_t n)
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
static int gate_head(struct gate *g, struct evbuffer *dst)
{
    size_t len = evbuffer_get_length(g->held), eol_len = 0;
    while (g->scan < len && g->scan <= HEAD_LIMIT) {
        struct evbuffer_ptr pos;
        evbuffer_ptr_set(g->held, &pos, g->seek > g->scan ? g->seek : g->scan, EVBUFFER_PTR_SET);
        struct evbuffer_ptr eol = evbuffer_search_eol(g->held, &pos, &eol_len, EVBUFFER_EOL_CRLF);
        if (eol.pos < 0) {
            g->seek = len - 1; /* from the last byte on: it may be the CR of a CRLF */
            break;
        }
        size_t line = (size_t)eol.pos - g->scan;
        g->scan = (size_t)eol.pos + eol_len;
        if (line == 0 && g->scan <= HEAD_LIMIT)
            return gate_head_done(g, dst, g->scan);
    }
    if (g->scan > HEAD_LIMIT || len > HEAD_LIMIT)
        gate_refuse(g, 400, "HEADERS_TOO_LARGE", "request line and headers larger than %d bytes",
                    HEAD_LIMIT);
    return 0;
}

static int gate_pass(struct gate *g, struct evbuffer *dst)
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
static int chunk_size(struct gate *g, const char *s, size_t n, uint64_t *size)
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
    else if (*size > H.body_limit - g->chunked_total)
        gate_refuse(g, 413, "PAYLOAD_TOO_LARGE", "request body larger than %zu bytes", H.body_limit);
    return g->state == GATE_REFUSED ? -1 : 0;
}

/* The lines of a chunked body: a size, the empty line after each chunk's data, and the
 * empty line after the last chunk (trailer fields would become request headers). */
static int gate_chunk_line(struct gate *g, struct evbuffer *dst)
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
static int gate_step(struct gate *g, struct evbuffer *dst)
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
    struct gate *g = arg;
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
static void gate_pump(struct gate *g)
{
    if (!(bufferevent_get_enabled(g->bev) & EV_WRITE))
        return;
    if (evbuffer_get_length(bufferevent_get_output(g->bev)))
        bufferevent_flush(g->bev, EV_WRITE, BEV_NORMAL);
    else if (!evbuffer_get_length(bufferevent_get_output(g->sock)))
        bufferevent_trigger(g->bev, EV_WRITE, 0);
}

/* Run gate_update from the loop rather than from inside a libevent callback. */
static void gate_kick(struct gate *g)
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
    struct gate *g = arg;
    if (!info->n_deleted || evbuffer_get_length(buf) > 0)
        return;
    g->idle_start = core_now_ms();
    gate_kick(g);
}

static void gate_dispatched(struct gate *g)
{
    if (!g)
        return;
    g->dispatched++;
    gate_update(g);
}

/* Called before evhttp is given the answer: the update waits for the loop, by when the
 * answer is queued, so a pending refusal cannot be written ahead of it. */
static void gate_answered(struct gate *g)
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
    struct gate *g = arg;
    struct gate **pp = &gates[gate_slot(g->bev)];
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

/* evhttp_set_bevcb: every accepted connection gets a gate (on failure evhttp makes a
 * plain bufferevent and the connection goes unguarded; logged). */
static struct bufferevent *gate_new(struct event_base *base, void *arg)
{
    (void)arg;
    struct gate *g = calloc(1, sizeof *g);
    if (!g)
        goto fail;
    g->sock = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
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

/* ---------- request wrapper ---------- */

static void local_free(struct local_ctx *l);
static void local_answer(struct pl_request *r, int status, struct evbuffer *body);

static const char *local_header(struct local_ctx *l, const char *name);
static struct evkeyvalq *output_headers(struct pl_request *r);

static void route_free(struct route *r)
{
    for (int i = 0; i < MAX_SEGS; i++)
        free(r->segs[i]);
    free(r->method);
    free(r->pattern);
    free(r);
}

static void request_free(struct pl_request *r)
{
    local_free(r->local);
    if (r->route && --r->route->requests == 0 && r->route->removed)
        route_free(r->route);
    for (int i = 0; i < r->nparams; i++) {
        free(r->param_names[i]);
        free(r->param_values[i]);
    }
    evhttp_clear_headers(&r->query);
    while (r->close_cbs) {
        struct close_cb *c = r->close_cbs;
        r->close_cbs = c->next;
        free(c);
    }
    json_decref(r->json);
    free(r->body);
    free(r->method);
    free(r->path);
    free(r);
}

static void on_conn_close(struct evhttp_connection *conn, void *arg)
{
    struct pl_request *r = arg;
    (void)conn;
    if (!r || r->closed)
        return;
    r->closed = 1;
    r->conn = NULL;
    r->gate = NULL; /* freed with the connection */
    for (struct close_cb *c = r->close_cbs; c; c = c->next)
        c->cb(r, c->arg);
}

static void finish_metrics(struct pl_request *r, int status)
{
    char name[400];
    snprintf(name, sizeof name,
             "pipelet_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"}",
             r->route ? r->route->pattern : "none", r->method, status);
    metrics_add(name, 1);
    metrics_observe("pipelet_http_request_duration_seconds",
                    (double)(core_now_ms() - r->started_ms) / 1000.0);
}

/* Detach from the connection so its close no longer points at a freed wrapper. */
static void detach_conn(struct pl_request *r)
{
    if (r->conn && !r->closed)
        evhttp_connection_set_closecb(r->conn, NULL, NULL);
    r->conn = NULL;
}

static void send_and_free(struct pl_request *r, int status, struct evbuffer *body)
{
    if (r->replied) {
        core_log(PL_LOG_ERROR, "http", "%s %s answered twice (ignored)", r->method, r->path);
        return;
    }
    r->replied = 1;
    finish_metrics(r, status);
    if (r->local) { /* in process: the answer goes to a callback, not a socket */
        local_answer(r, status, body);
        request_free(r);
        return;
    }
    gate_answered(r->gate);
    detach_conn(r);
    /* after a close evhttp_send_reply only frees the detached request */
    evhttp_send_reply(r->req, status, status_reason(status), body);
    request_free(r);
}

void http_reply_header(pl_request *r, const char *name, const char *value)
{
    if (r && (r->req || r->local) && !r->replied && !r->closed)
        evhttp_add_header(output_headers(r), name, value);
}

void http_reply_raw(pl_request *r, int status, const char *content_type, const void *data,
                    size_t len)
{
    if (!r)
        return;
    struct evbuffer *b = evbuffer_new();
    if (b && len)
        evbuffer_add(b, data, len);
    if ((r->req || r->local) && !r->replied && !r->closed && content_type && status != 204)
        evhttp_add_header(output_headers(r), "Content-Type", content_type);
    send_and_free(r, status, status == 204 ? NULL : b);
    if (b)
        evbuffer_free(b);
}

void http_reply_json(pl_request *r, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(body);
    if (!text) {
        http_reply_raw(r, status, "application/json", "null", 4);
        return;
    }
    http_reply_raw(r, status, "application/json", text, strlen(text));
    free(text);
}

static void reply_error_v(pl_request *r, int status, const char *code, const char *fmt,
                          va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    http_reply_json(r, status, json_pack("{s:s, s:s}", "error", msg, "code", code));
}

void http_reply_error(pl_request *r, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(r, status, code, fmt, ap);
    va_end(ap);
}

int http_reply_stream_begin(pl_request *r, int status, const char *content_type)
{
    if (!r || r->replied || r->streaming)
        return PL_ESTATE;
    if (r->local) { /* one answer to one callback: a stream has no end to wait for */
        http_reply_error(r, 501, "STREAMING_NOT_SUPPORTED",
                         "%s %s streams its answer, which an in-process request cannot take",
                         r->method, r->route ? r->route->pattern : r->path);
        return PL_ENOTSUP;
    }
    if (r->closed || !r->req) { /* the client is gone: the request is finished here */
        send_and_free(r, 499, NULL);
        return PL_ERR;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(h, "Content-Type", content_type ? content_type : "text/event-stream");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_add_header(h, "X-Accel-Buffering", "no");
    r->streaming = 1;
    finish_metrics(r, status);
    evhttp_send_reply_start(r->req, status, status_reason(status));
    return PL_OK;
}

int http_reply_stream_write(pl_request *r, const void *data, size_t len)
{
    if (!r || !r->streaming || r->closed || !r->req)
        return PL_ERR;
    struct evhttp_connection *conn = evhttp_request_get_connection(r->req);
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    struct bufferevent *sock = bev ? bufferevent_get_underlying(bev) : NULL; /* the gate's */
    size_t queued = bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
    if (sock)
        queued += evbuffer_get_length(bufferevent_get_output(sock));
    /* a reader that does not keep up is dropped rather than buffered without bound */
    if (queued > 8u * 1024 * 1024)
        return PL_EBUSY;
    struct evbuffer *b = evbuffer_new();
    if (!b)
        return PL_ENOMEM;
    evbuffer_add(b, data, len);
    evhttp_send_reply_chunk(r->req, b);
    evbuffer_free(b);
    return PL_OK;
}

void http_reply_stream_end(pl_request *r)
{
    if (!r)
        return;
    if (!r->streaming) {
        http_reply_error(r, 500, "INTERNAL_ERROR", "stream ended before it began");
        return;
    }
    r->replied = 1;
    gate_answered(r->gate);
    detach_conn(r);
    evhttp_send_reply_end(r->req); /* frees a request whose client is gone */
    request_free(r);
}

const char *http_req_method(pl_request *r) { return r->method; }
const char *http_req_path(pl_request *r) { return r->path; }
int http_req_scope(pl_request *r) { return r->scope; }
const char *http_req_key_name(pl_request *r) { return r->key_name; }
json_t *http_req_json(pl_request *r) { return r->json; }

const char *http_req_param(pl_request *r, const char *name)
{
    for (int i = 0; i < r->nparams; i++)
        if (strcmp(r->param_names[i], name) == 0)
            return r->param_values[i];
    return NULL;
}

const char *http_req_query(pl_request *r, const char *name)
{
    return evhttp_find_header(&r->query, name);
}

const char *http_req_header(pl_request *r, const char *name)
{
    if (r->local)
        return local_header(r->local, name);
    if (!r->req || r->replied)
        return NULL;
    return evhttp_find_header(evhttp_request_get_input_headers(r->req), name);
}

const char *http_req_body(pl_request *r, size_t *len)
{
    if (len)
        *len = r->body_len;
    return r->body ? r->body : "";
}

void http_req_on_close(pl_request *r, pl_request_close_cb cb, void *arg)
{
    struct close_cb *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->cb = cb;
    c->arg = arg;
    c->next = r->close_cbs;
    r->close_cbs = c;
}

/* ---------- routing ---------- */

static int split_path(char *path, char **segs, int max)
{
    int n = 0;
    for (char *save = NULL, *s = strtok_r(path, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (n == max)
            return -1;
        segs[n++] = s;
    }
    return n;
}

int http_http_route(pl_plugin_handle *self, const char *method, const char *pattern,
                    int auth_scope, pl_route_cb cb, void *arg)
{
    if (!method || !pattern || pattern[0] != '/' || !cb)
        return PL_EINVAL;
    for (struct route *x = H.routes; x; x = x->next)
        if (strcmp(x->method, method) == 0 && strcmp(x->pattern, pattern) == 0)
            return PL_EEXIST;
    struct route *r = calloc(1, sizeof *r);
    if (!r)
        return PL_ENOMEM;
    r->method = strdup(method);
    r->pattern = strdup(pattern);
    char *copy = strdup(pattern);
    if (!r->method || !r->pattern || !copy)
        goto fail;
    char *segs[MAX_SEGS];
    int n = split_path(copy, segs, MAX_SEGS);
    if (n < 0)
        goto fail;
    for (int i = 0; i < n; i++) {
        r->segs[i] = strdup(segs[i]);
        if (!r->segs[i])
            goto fail;
        if (segs[i][0] != '{')
            r->nliteral++;
    }
    r->nsegs = n;
    free(copy);
    r->scope = auth_scope;
    r->cb = cb;
    r->arg = arg;
    r->owner = self;
    r->next = H.routes;
    H.routes = r;
    return PL_OK;
fail:
    free(copy);
    route_free(r);
    return PL_ENOMEM;
}

/* Remove the routes of a plugin that failed its init or was unloaded: from now on
 * their paths answer 404.  A request already routed keeps its route until answered. */
int http_remove_owner(pl_plugin_handle *owner)
{
    int n = 0;
    for (struct route **pp = &H.routes; *pp;) {
        struct route *r = *pp;
        if (r->owner != owner) {
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        r->removed = 1;
        if (r->requests == 0)
            route_free(r);
        n++;
    }
    return n;
}

json_t *http_routes_json(void)
{
    json_t *a = json_array();
    for (struct route *r = H.routes; r; r = r->next)
        json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:s}", "method", r->method, "pattern",
                                           r->pattern, "scope", r->scope, "plugin",
                                           core_plugin_name(r->owner)));
    return a;
}

/* Does route r match the path segments?  Literal segments must be equal. */
static int route_matches(const struct route *r, char **segs, int n)
{
    if (r->nsegs != n)
        return 0;
    for (int i = 0; i < n; i++)
        if (r->segs[i][0] != '{' && strcmp(r->segs[i], segs[i]) != 0)
            return 0;
    return 1;
}

/* Prefer literal segments, earliest first: "/stations/compact" beats "/stations/{id}". */
static int better(const struct route *a, const struct route *b)
{
    if (!b)
        return 1;
    for (int i = 0; i < a->nsegs; i++) {
        int la = a->segs[i][0] != '{', lb = b->segs[i][0] != '{';
        if (la != lb)
            return la;
    }
    return 0;
}

static void error_direct(struct evhttp_request *req, int status, const char *code, const char *msg,
                         const char *extra_header, const char *extra_value)
{
    json_t *j = json_pack("{s:s, s:s}", "error", msg, "code", code);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, text, strlen(text));
    free(text);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    if (extra_header)
        evhttp_add_header(h, extra_header, extra_value);
    gate_answered(gate_of_request(req));
    evhttp_send_reply(req, status, status_reason(status), b);
    evbuffer_free(b);
    char name[200];
    snprintf(name, sizeof name, "pipelet_http_requests_total{route=\"none\",method=\"%s\",status=\"%d\"}",
             method_name(evhttp_request_get_command(req)), status);
    metrics_add(name, 1);
}

/* The address failures and unauthenticated requests are counted by: IPv6 clients by
 * their /64 (one host usually holds a whole /64), everything else by the address. */
static void client_id(struct evhttp_request *req, char *out, size_t outlen)
{
    char *host = NULL;
    ev_uint16_t port = 0;
    struct in6_addr a6;
    evhttp_connection_get_peer(evhttp_request_get_connection(req), &host, &port);
    if (host && inet_pton(AF_INET6, host, &a6) == 1 && !IN6_IS_ADDR_V4MAPPED(&a6)) {
        char text[INET6_ADDRSTRLEN];
        memset(a6.s6_addr + 8, 0, 8);
        inet_ntop(AF_INET6, &a6, text, sizeof text);
        snprintf(out, outlen, "%s/64", text);
    } else {
        snprintf(out, outlen, "%s", host ? host : "?");
    }
}

#define ALLOW_MAX 128 /* the Allow header of a 405 */

/* The best route for method and path, else NULL and the methods the path allows. */
static struct route *find_route(const char *method, char **segs, int n, char allow[ALLOW_MAX])
{
    struct route *best = NULL;
    allow[0] = '\0';
    for (struct route *r = H.routes; r; r = r->next) {
        if (!route_matches(r, segs, n))
            continue;
        if (strcmp(r->method, method) == 0) {
            if (better(r, best))
                best = r;
        } else if (strlen(allow) + strlen(r->method) + 3 < ALLOW_MAX && !strstr(allow, r->method)) {
            if (*allow)
                strcat(allow, ", ");
            strcat(allow, r->method);
        }
    }
    return best;
}

/* Route matching: the best route, or an answer (404/405) and NULL. */
static struct route *match_route(struct evhttp_request *req, const char *method, char **segs,
                                 int n)
{
    char allow[ALLOW_MAX];
    struct route *best = find_route(method, segs, n, allow);
    if (!best && *allow)
        error_direct(req, 405, "METHOD_NOT_ALLOWED", "method not allowed on this path", "Allow",
                     allow);
    else if (!best)
        error_direct(req, 404, "NOT_FOUND", "no such route", NULL, NULL);
    return best;
}

/* Path parameters, decoded (checked later, once the caller is known). */
static void decode_params(struct pl_request *r, char **segs, int n)
{
    for (int i = 0; i < n; i++) {
        if (r->route->segs[i][0] != '{')
            continue;
        size_t l = strlen(r->route->segs[i]), vlen = 0;
        char *name = strndup(r->route->segs[i] + 1, l >= 2 ? l - 2 : 0);
        char *value = evhttp_uridecode(segs[i], 0, &vlen);
        if (!name || !value) {
            free(name);
            free(value);
            continue;
        }
        r->param_names[r->nparams] = name;
        r->param_lens[r->nparams] = vlen;
        r->param_values[r->nparams++] = value;
    }
}

/* strcasestr without _GNU_SOURCE */
static const char *find_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return hay;
    return NULL;
}

static int utf8_ok(const char *s, size_t len)
{
    return util_utf8_valid((const unsigned char *)s, len);
}

/* Every parameter is UTF-8 without NUL before a handler (or the database behind it) sees
 * it: path parameters, query keys and values, and header values (ids come in headers). */
static int params_valid(struct pl_request *r)
{
    for (int i = 0; i < r->nparams; i++)
        if (strlen(r->param_values[i]) != r->param_lens[i] ||
            !utf8_ok(r->param_values[i], r->param_lens[i])) {
            http_reply_error(r, 400, "INVALID_PARAMETER",
                             "path parameter '%s' is not valid UTF-8 (or contains NUL)",
                             r->param_names[i]);
            return 0;
        }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->req);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    if (q && find_nocase(q, "%00")) { /* decoded, NUL would cut the value short unseen */
        http_reply_error(r, 400, "INVALID_PARAMETER", "query parameters must not contain NUL");
        return 0;
    }
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, &r->query, next) {
        if (!utf8_ok(kv->key, strlen(kv->key)) || !utf8_ok(kv->value, strlen(kv->value))) {
            int named = utf8_ok(kv->key, strlen(kv->key));
            http_reply_error(r, 400, "INVALID_PARAMETER", "query parameter '%s' is not valid UTF-8",
                             named ? kv->key : "?");
            return 0;
        }
    }
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(r->req), next) {
        if (!utf8_ok(kv->value, strlen(kv->value))) { /* names are tokens (the gate) */
            http_reply_error(r, 400, "INVALID_PARAMETER", "header '%s' is not valid UTF-8",
                             utf8_ok(kv->key, strlen(kv->key)) ? kv->key : "?");
            return 0;
        }
    }
    return 1;
}

/* Key and scope (401/403).  Failed authentications drain a budget per client address;
 * while it is empty that address gets 429 for every request without a valid key (a
 * valid key still works: only guessing is slowed down). */
static int authorize(struct pl_request *r)
{
    int need = r->route->scope == PL_AUTH_CONFIG ? (H.public_health ? PL_AUTH_NONE : PL_AUTH_READ)
                                                 : r->route->scope;
    const char *key = evhttp_find_header(evhttp_request_get_input_headers(r->req), "X-API-Key");
    int scope = PL_AUTH_NONE;
    const char *key_name = NULL;
    if (!key || !apikey_check(key, &scope, &key_name)) {
        scope = PL_AUTH_NONE; /* a wrong key on an open route is ignored, not refused */
        key_name = NULL;
    }
    if (need > PL_AUTH_NONE && !key_name) {
        char client[INET6_ADDRSTRLEN + 8];
        client_id(r->req, client, sizeof client);
        int wait = authfail_blocked(client, H.authfail_rate, H.authfail_burst);
        if (wait > 0) {
            char ra[16];
            snprintf(ra, sizeof ra, "%d", wait);
            http_reply_header(r, "Retry-After", ra);
            http_reply_error(r, 429, "RATE_LIMITED",
                             "too many failed authentications from this address; retry after %d s",
                             wait);
        } else if (key) {
            authfail_record(client, H.authfail_rate, H.authfail_burst);
            http_reply_error(r, 401, "UNAUTHORIZED", "invalid API key");
        } else {
            http_reply_error(r, 401, "UNAUTHORIZED", "missing X-API-Key header");
        }
        return 0;
    }
    if (key_name)
        keys_used(key_name);
    if (scope < need) {
        http_reply_error(r, 403, "FORBIDDEN", "this API key's scope does not allow %s %s",
                         r->method, r->route->pattern);
        return 0;
    }
    r->scope = scope;
    r->key_name = key_name;
    return 1;
}

/* rate limit: per key, else per client address */
static int rate_ok(struct pl_request *r)
{
    char bucket[128];
    if (r->key_name) {
        snprintf(bucket, sizeof bucket, "key:%s", r->key_name);
    } else {
        char client[INET6_ADDRSTRLEN + 8];
        client_id(r->req, client, sizeof client);
        snprintf(bucket, sizeof bucket, "ip:%s", client);
    }
    int wait = ratelimit_take(bucket, H.rate, H.burst);
    if (wait > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", wait);
        http_reply_header(r, "Retry-After", ra);
        http_reply_error(r, 429, "RATE_LIMITED", "rate limit exceeded; retry after %d s", wait);
        return 0;
    }
    return 1;
}

/* application/json or application/<anything>+json; a charset, if any, must be UTF-8. */
static int json_media_type(const char *ct)
{
    if (!ct)
        return 0;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n < 16 || strncasecmp(ct, "application/", 12) != 0)
        return 0;
    if (!(n == 16 && !strncasecmp(ct + 12, "json", 4)) && strncasecmp(ct + n - 5, "+json", 5) != 0)
        return 0;
    const char *cs = find_nocase(ct + n, "charset=");
    if (!cs)
        return 1;
    cs += 8;
    if (*cs == '"')
        cs++;
    return !strncasecmp(cs, "utf-8", 5) && strchr("\"; \t", cs[5]);
}

/* The body, within the limit; a non-blank body of POST/PUT/PATCH must be JSON and say so. */
static int read_body(struct pl_request *r)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
    size_t len = in ? evbuffer_get_length(in) : 0;
    if (len > H.body_limit) {
        http_reply_error(r, 413, "PAYLOAD_TOO_LARGE", "request body larger than %zu bytes",
                         H.body_limit);
        return 0;
    }
    r->body = malloc(len + 1);
    if (!r->body) {
        http_reply_error(r, 500, "INTERNAL_ERROR", "out of memory");
        return 0;
    }
    if (len)
        evbuffer_remove(in, r->body, len);
    r->body[len] = '\0';
    r->body_len = len;
    int has_body = 0;
    for (size_t i = 0; i < len && !has_body; i++)
        has_body = !strchr(" \n\r\t", r->body[i]);
    if (!has_body || (strcmp(r->method, "POST") && strcmp(r->method, "PUT") && strcmp(r->method, "PATCH")))
        return 1;
    /* a CSV upload (bulk token import) is read by its handler, not parsed as JSON */
    const char *ctype = http_req_header(r, "Content-Type");
    while (ctype && *ctype == ' ')
        ctype++;
    if (ctype && strncasecmp(ctype, "text/csv", 8) == 0)
        return 1;
    if (!json_media_type(ctype)) {
        http_reply_error(r, 415, "UNSUPPORTED_MEDIA_TYPE",
                         "request bodies are JSON (or text/csv where a route says so): send Content-Type: application/json");
        return 0;
    }
    json_error_t jerr;
    r->json = json_loadb(r->body, len, 0, &jerr);
    if (!r->json) {
        http_reply_error(r, 400, "INVALID_JSON", "malformed JSON body: %s (line %d, column %d)",
                         jerr.text, jerr.line, jerr.column);
        return 0;
    }
    return 1;
}

static void handle(struct evhttp_request *req, void *unused)
{
    (void)unused;
    struct gate *g = gate_of_request(req);
    gate_dispatched(g);
    const char *method = method_name(evhttp_request_get_command(req));
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!raw_path || raw_path[0] != '/') {
        error_direct(req, 400, "BAD_REQUEST", "malformed request target", NULL, NULL);
        return;
    }
    char *path = strdup(raw_path), *split = strdup(raw_path);
    char *segs[MAX_SEGS + 1];
    int n = path && split ? split_path(split, segs, MAX_SEGS) : -1;
    struct route *best = NULL;
    if (n < 0)
        error_direct(req, 404, "NOT_FOUND", "no such route", NULL, NULL);
    else
        best = match_route(req, method, segs, n);
    struct pl_request *r = best ? calloc(1, sizeof *r) : NULL;
    if (!r) {
        if (best)
            error_direct(req, 500, "INTERNAL_ERROR", "out of memory", NULL, NULL);
        free(path);
        free(split);
        return;
    }
    TAILQ_INIT(&r->query);
    r->req = req;
    r->gate = g;
    r->route = best;
    best->requests++;
    r->method = strdup(method);
    r->path = path;
    r->started_ms = core_now_ms();
    decode_params(r, segs, n);
    free(split);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    if (q && evhttp_parse_query_str(q, &r->query) != 0) {
        http_reply_error(r, 400, "INVALID_QUERY", "malformed query string");
        return;
    }
    if (!authorize(r) || !rate_ok(r) || !params_valid(r) || !read_body(r))
        return;
    r->conn = evhttp_request_get_connection(req);
    evhttp_connection_set_closecb(r->conn, on_conn_close, r);
    best->cb(r, best->arg);
}

/* ---------- in-process requests (pl_host.http_dispatch) ----------
 * MCP tools, OICP and the console run the very handlers of the REST routes: a request
 * built in memory goes through the same matching, scope check, parameter checks, body
 * limit and JSON parsing, and the answer that send_and_free would write to a socket goes
 * to the caller's callback.  What belongs to a connection does not apply: no API key
 * (the caller says which scope it acts with), no rate limit, no close. */

struct local_ctx {
    pl_http_local_done_cb cb;
    void *arg;
    struct evkeyvalq in_headers, out_headers;
    char *key_name;
};

static void local_free(struct local_ctx *l)
{
    if (!l)
        return;
    evhttp_clear_headers(&l->in_headers);
    evhttp_clear_headers(&l->out_headers);
    free(l->key_name);
    free(l);
}

static const char *local_header(struct local_ctx *l, const char *name)
{
    return evhttp_find_header(&l->in_headers, name);
}

static struct evkeyvalq *output_headers(struct pl_request *r)
{
    return r->local ? &r->local->out_headers : evhttp_request_get_output_headers(r->req);
}

/* Hand the answer to the callback: headers as "Name: value" lines, body NUL-terminated. */
static void local_answer(struct pl_request *r, int status, struct evbuffer *body)
{
    struct local_ctx *l = r->local;
    size_t nh = 0, i = 0;
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, &l->out_headers, next)
        nh++;
    char **lines = calloc(nh + 1, sizeof *lines);
    TAILQ_FOREACH(kv, &l->out_headers, next) {
        size_t len = strlen(kv->key) + strlen(kv->value) + 3;
        if (lines && (lines[i] = malloc(len)))
            snprintf(lines[i++], len, "%s: %s", kv->key, kv->value);
    }
    size_t len = body ? evbuffer_get_length(body) : 0;
    char *text = malloc(len + 1);
    if (text && len)
        evbuffer_copyout(body, text, len);
    if (text)
        text[len] = '\0';
    struct pl_http_local_resp resp = {sizeof resp, status, (const char *const *)lines,
                                      text ? text : "", text ? len : 0};
    static const char *const none[] = {NULL};
    if (!lines)
        resp.headers = none;
    l->cb(&resp, l->arg);
    for (size_t k = 0; lines && k < i; k++)
        free(lines[k]);
    free(lines);
    free(text);
}

/* "Name: value" lines into the request's headers; -1 for a malformed line. */
static int local_parse_headers(struct local_ctx *l, const char *const *headers)
{
    for (size_t i = 0; headers && headers[i]; i++) {
        const char *colon = strchr(headers[i], ':');
        if (!colon || colon == headers[i])
            return -1;
        char *name = strndup(headers[i], (size_t)(colon - headers[i]));
        const char *value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        int rc = name ? evhttp_add_header(&l->in_headers, name, value) : -1;
        free(name);
        if (rc != 0)
            return -1;
    }
    return 1;
}

/* The scope the caller acts with against the route's (403 as for a key). */
static int local_authorize(struct pl_request *r, int scope)
{
    int need = r->route->scope == PL_AUTH_CONFIG ? (H.public_health ? PL_AUTH_NONE : PL_AUTH_READ)
                                                 : r->route->scope;
    if (scope < need) {
        http_reply_error(r, 403, "FORBIDDEN", "this caller's scope does not allow %s %s",
                         r->method, r->route->pattern);
        return 0;
    }
    r->scope = scope;
    r->key_name = r->local->key_name;
    return 1;
}

/* What params_valid checks of a request from the wire, for one built in memory. */
static int local_params_valid(struct pl_request *r, const char *query)
{
    for (int i = 0; i < r->nparams; i++)
        if (strlen(r->param_values[i]) != r->param_lens[i] ||
            !utf8_ok(r->param_values[i], r->param_lens[i])) {
            http_reply_error(r, 400, "INVALID_PARAMETER",
                             "path parameter '%s' is not valid UTF-8 (or contains NUL)",
                             r->param_names[i]);
            return 0;
        }
    if (query && find_nocase(query, "%00")) {
        http_reply_error(r, 400, "INVALID_PARAMETER", "query parameters must not contain NUL");
        return 0;
    }
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, &r->query, next)
        if (!utf8_ok(kv->key, strlen(kv->key)) || !utf8_ok(kv->value, strlen(kv->value))) {
            http_reply_error(r, 400, "INVALID_PARAMETER", "query parameter '%s' is not valid UTF-8",
                             utf8_ok(kv->key, strlen(kv->key)) ? kv->key : "?");
            return 0;
        }
    TAILQ_FOREACH(kv, &r->local->in_headers, next)
        if (!utf8_ok(kv->value, strlen(kv->value))) {
            http_reply_error(r, 400, "INVALID_PARAMETER", "header '%s' is not valid UTF-8",
                             utf8_ok(kv->key, strlen(kv->key)) ? kv->key : "?");
            return 0;
        }
    return 1;
}

/* The body within the limit; a non-blank body of POST/PUT/PATCH is parsed as JSON. */
static int local_read_body(struct pl_request *r, const char *body, size_t len)
{
    if (!body)
        len = 0;
    if (len > H.body_limit) {
        http_reply_error(r, 413, "PAYLOAD_TOO_LARGE", "request body larger than %zu bytes",
                         H.body_limit);
        return 0;
    }
    r->body = malloc(len + 1);
    if (!r->body) {
        http_reply_error(r, 500, "INTERNAL_ERROR", "out of memory");
        return 0;
    }
    if (len)
        memcpy(r->body, body, len);
    r->body[len] = '\0';
    r->body_len = len;
    int has_body = 0;
    for (size_t i = 0; i < len && !has_body; i++)
        has_body = !strchr(" \n\r\t", r->body[i]);
    if (!has_body || (strcmp(r->method, "POST") && strcmp(r->method, "PUT") && strcmp(r->method, "PATCH")))
        return 1;
    json_error_t jerr;
    r->json = json_loadb(r->body, len, 0, &jerr);
    if (!r->json) {
        http_reply_error(r, 400, "INVALID_JSON", "malformed JSON body: %s (line %d, column %d)",
                         jerr.text, jerr.line, jerr.column);
        return 0;
    }
    return 1;
}

/* A pl_request answered to cb; NULL when out of memory. */
static struct pl_request *local_new(const struct pl_http_local_req *q, pl_http_local_done_cb cb,
                                    void *arg)
{
    struct pl_request *r = calloc(1, sizeof *r);
    struct local_ctx *l = calloc(1, sizeof *l);
    if (!r || !l) {
        free(r);
        free(l);
        return NULL;
    }
    TAILQ_INIT(&r->query);
    TAILQ_INIT(&l->in_headers);
    TAILQ_INIT(&l->out_headers);
    l->cb = cb;
    l->arg = arg;
    r->local = l;
    r->started_ms = core_now_ms();
    size_t plen = strcspn(q->path, "?");
    r->method = strdup(q->method);
    r->path = strndup(q->path, plen);
    l->key_name = q->key_name ? strdup(q->key_name) : NULL;
    if (!r->method || !r->path || (q->key_name && !l->key_name)) {
        request_free(r);
        return NULL;
    }
    return r;
}

/* Match the path (404/405 with Allow answered to the callback); 1 when a route matched. */
static int local_route(struct pl_request *r)
{
    char *split = strdup(r->path), *segs[MAX_SEGS + 1], allow[ALLOW_MAX] = "";
    int n = split ? split_path(split, segs, MAX_SEGS) : -1;
    r->route = n < 0 ? NULL : find_route(r->method, segs, n, allow);
    if (r->route) {
        r->route->requests++; /* as for a request from the wire: request_free counts down */
        decode_params(r, segs, n);
    }
    free(split);
    if (r->route)
        return 1;
    if (*allow) {
        http_reply_header(r, "Allow", allow);
        http_reply_error(r, 405, "METHOD_NOT_ALLOWED", "method not allowed on this path");
    } else {
        http_reply_error(r, 404, "NOT_FOUND", "no such route");
    }
    return 0;
}

int http_dispatch(pl_plugin_handle *self, const struct pl_http_local_req *req,
                  pl_http_local_done_cb cb, void *arg)
{
    (void)self;
    struct pl_http_local_req q = {0};
    if (!req || !cb)
        return PL_EINVAL;
    memcpy(&q, req, req->size < sizeof q ? req->size : sizeof q); /* older minors: shorter */
    if (!q.method || !q.path)
        return PL_EINVAL;
    struct pl_request *r = local_new(&q, cb, arg);
    if (!r)
        return PL_ENOMEM;
    if (r->path[0] != '/') {
        http_reply_error(r, 400, "BAD_REQUEST", "malformed request target");
        return PL_OK;
    }
    if (!local_route(r))
        return PL_OK;
    const char *query = q.path[strlen(r->path)] == '?' ? q.path + strlen(r->path) + 1 : NULL;
    if (query && evhttp_parse_query_str(query, &r->query) != 0) {
        http_reply_error(r, 400, "INVALID_QUERY", "malformed query string");
        return PL_OK;
    }
    if (local_parse_headers(r->local, q.headers) < 0) {
        http_reply_error(r, 400, "BAD_REQUEST", "headers must be \"Name: value\" lines");
        return PL_OK;
    }
    if (!local_authorize(r, q.scope) || !local_params_valid(r, query) ||
        !local_read_body(r, q.body, q.body_len))
        return PL_OK;
    r->route->cb(r, r->route->arg);
    return PL_OK;
}

/* ---------- core routes ---------- */

static void add_ws_stats(json_t *o)
{
    struct ws_stats s;
    ws_get_stats(&s);
    json_object_set_new(o, "websocket",
                        json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "status", "ok",
                                  "connections", (json_int_t)(s.open_server + s.open_client),
                                  "server_connections", (json_int_t)s.open_server,
                                  "accepted_total", (json_int_t)s.accepted_total, "refused_total",
                                  (json_int_t)s.refused_total, "frames_in", (json_int_t)s.frames_in,
                                  "frames_out", (json_int_t)s.frames_out, "protocol_errors",
                                  (json_int_t)s.protocol_errors));
}

static void health(pl_request *r, void *arg)
{
    (void)arg;
    int ok = db_healthy();
    json_t *o = json_pack("{s:s, s:s, s:I, s:{s:s}, s:o, s:I}", "status", ok ? "ok" : "degraded",
                          "version", PACKAGE_VERSION, "uptime_s",
                          (json_int_t)((core_now_ms() - H.start_ms) / 1000), "gateway", "status",
                          "ok", "database", db_stats(), "stations_online",
                          (json_int_t)registry_online_count());
    add_ws_stats(o);
    http_reply_json(r, ok || !H.health_strict ? 200 : 503, o);
}

static void collect_gauges(void *arg)
{
    (void)arg;
    struct ws_stats s;
    ws_get_stats(&s);
    metrics_set("pipelet_up", 1);
    metrics_set("pipelet_websocket_connections{side=\"server\"}", (double)s.open_server);
    metrics_set("pipelet_websocket_connections{side=\"client\"}", (double)s.open_client);
    metrics_set("pipelet_websocket_frames_in", (double)s.frames_in);
    metrics_set("pipelet_websocket_frames_out", (double)s.frames_out);
    metrics_set("pipelet_websocket_protocol_errors", (double)s.protocol_errors);
    metrics_set("pipelet_stations_online", (double)registry_online_count());
    json_t *d = db_stats();
    metrics_set("pipelet_db_up", db_healthy());
    metrics_set("pipelet_db_connections", (double)json_integer_value(json_object_get(d, "connections")));
    metrics_set("pipelet_db_queue_depth", (double)json_integer_value(json_object_get(d, "queued")));
    metrics_set("pipelet_db_queries", (double)json_integer_value(json_object_get(d, "queries_total")));
    metrics_set("pipelet_db_errors", (double)json_integer_value(json_object_get(d, "errors_total")));
    json_decref(d);
}

static void metrics_route(pl_request *r, void *arg)
{
    (void)arg;
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        http_reply_error(r, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    metrics_render(b);
    size_t len = evbuffer_get_length(b);
    http_reply_raw(r, 200, "text/plain; version=0.0.4", evbuffer_pullup(b, -1), len);
    evbuffer_free(b);
}

int http_init(void)
{
    long port, body_limit, rate, burst, fail_rate, fail_burst, request_timeout, idle_timeout;
    int ph, strict;
    char err[512];
    if (core_config_int("http", "port", 8080, 0, 65535, &port) ||
        core_config_int("http", "body_limit", 1048576, 1024, 1073741824, &body_limit) ||
        core_config_int("http", "rate_limit", 50, 0, 1000000, &rate) ||
        core_config_int("http", "rate_burst", 100, 1, 10000000, &burst) ||
        core_config_int("http", "auth_fail_rate", 6, 0, 1000000, &fail_rate) ||
        core_config_int("http", "auth_fail_burst", 10, 1, 1000000, &fail_burst) ||
        core_config_int("http", "request_timeout", 10, 1, 3600, &request_timeout) ||
        core_config_int("http", "idle_timeout", 60, 1, 86400, &idle_timeout) ||
        core_config_bool("http", "public_health", 1, &ph) ||
        core_config_bool("http", "health_strict", 0, &strict))
        return -1;
    if (apikey_load(err, sizeof err) != 0) {
        core_log(PL_LOG_ERROR, "http", "%s", err);
        return -1;
    }
    H.body_limit = (size_t)body_limit;
    H.rate = (double)rate;
    H.burst = (double)burst;
    H.authfail_rate = (double)fail_rate / 60.0; /* configured per minute */
    H.authfail_burst = (double)fail_burst;
    H.request_timeout_ms = (uint64_t)request_timeout * 1000;
    H.idle_timeout_ms = (uint64_t)idle_timeout * 1000;
    H.public_health = ph;
    H.health_strict = strict;
    H.start_ms = core_now_ms();
    const char *listen = core_config_get("http", "listen");
    if (!listen || !*listen)
        listen = "0.0.0.0";
    H.http = evhttp_new(core_base);
    if (!H.http)
        return -1;
    /* The gate refuses (in JSON) before evhttp's own limits, which it counts more
     * strictly, could answer in HTML; the timeouts are the gate's (evhttp's would be
     * reset by every byte, and would cut server-sent event streams whose client is
     * silent). */
    evhttp_set_bevcb(H.http, gate_new, NULL);
    evhttp_set_max_body_size(H.http, (ev_ssize_t)body_limit);
    evhttp_set_max_headers_size(H.http, HEAD_LIMIT);
    evhttp_set_allowed_methods(H.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                           EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
                                           EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
    evhttp_set_default_content_type(H.http, "application/json");
    evhttp_set_gencb(H.http, handle, NULL);
    H.sock = evhttp_bind_socket_with_handle(H.http, listen, (ev_uint16_t)port);
    if (!H.sock) {
        core_log(PL_LOG_ERROR, "http", "cannot listen on %s:%ld", listen, port);
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(H.sock);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        H.port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                : ((struct sockaddr_in *)&ss)->sin_port);
    char bound[16];
    snprintf(bound, sizeof bound, "%d", H.port);
    config_set("http", "port", bound);
    metrics_add_collector(collect_gauges, NULL);
    http_http_route(NULL, "GET", "/health", PL_AUTH_CONFIG, health, NULL);
    http_http_route(NULL, "GET", "/api/v1/health", PL_AUTH_CONFIG, health, NULL);
    http_http_route(NULL, "GET", "/metrics", PL_AUTH_CONFIG, metrics_route, NULL);
    http_http_route(NULL, "GET", "/api/v1/metrics", PL_AUTH_CONFIG, metrics_route, NULL);
    core_log(PL_LOG_INFO, "http", "listening on %s:%d", listen, H.port);
    return 0;
}

int http_port(void)
{
    return H.port;
}

void http_shutdown(void)
{
    if (H.http) {
        evhttp_free(H.http);
        H.http = NULL;
    }
    while (H.routes) {
        struct route *r = H.routes;
        H.routes = r->next;
        r->removed = 1; /* a request answered later still names it */
        if (r->requests == 0)
            route_free(r);
    }
    apikey_free();
}
