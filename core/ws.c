/*
 * ws.c — RFC 6455 WebSocket server and client on bufferevents.
 *
 * I/O: the bufferevent connects, carries the handshake, TLS and whatever output the
 * kernel does not take at once.  On the hot path of a plain connection we go around
 * it: frames are written straight to the socket while nothing is queued, and an open
 * connection is read by our own event into the same input buffer.  Together that took
 * two epoll_ctl calls, an ioctl and a loop turn off every message.
 *
 * The server owns its evconnlistener and parses the HTTP/1.1 upgrade itself, so the
 * owner decides (auth, subprotocol) before the 101 goes out.  Both sides share the
 * framing code: reassembly of fragments with interleaved control frames, UTF-8 checks
 * of text messages, a maximum message size, ping/pong keep-alive, the close handshake,
 * and back-pressure: while more than max_output bytes wait for a slow reader, we stop
 * reading from it.  A connection is freed only outside its own callbacks.
 */
#include "ws.h"
#include "core.h"
#include "tls.h"
#include "util.h"
#include "ws_frame.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define MAX_HANDSHAKE 8192
#define MAX_PROTOCOLS 16
#define CLOSE_TIMEOUT_S 5

enum ws_state { WS_HANDSHAKE, WS_OPEN, WS_CLOSING, WS_DEAD };

struct ws_listener {
    struct evconnlistener *l;
    SSL_CTX *tls;                  /* our reference; NULL: plain */
    struct ws_limits lim;
    const struct ws_callbacks *cb;
    void *arg;
};

struct ws_conn {
    struct bufferevent *bev;
    const struct ws_callbacks *cb;
    void *arg;
    struct ws_listener *listener;  /* server side */
    struct ws_limits lim;
    enum ws_state state;
    int client;
    char remote[80];         /* "ip:port" or "host:port", for logs (truncated if longer) */
    char *path;
    char subprotocol[64];
    char *want_accept;             /* client: expected Sec-WebSocket-Accept */
    char *request;                 /* client: the upgrade request, sent once connected */
    struct evbuffer *msg;          /* reassembly of a fragmented message */
    int msg_opcode;                /* 0 when no message is in progress */
    struct event *timer;           /* handshake / ping / close deadlines */
    int awaiting_pong;
    int close_sent, close_after_flush, user_paused, bp_paused;
    int busy;                      /* callback depth: defer the free */
    int teardown_pending;
    int close_code;
    char close_reason[128];
    int opened;                    /* on_open was called */
    int plain;                     /* a plain socket bufferevent: frames may be written directly */
    struct event *rev;             /* plain sockets once open: our own reader (see on_readable) */
    uint32_t rng;
};

static struct ws_stats stats;

void ws_get_stats(struct ws_stats *out)
{
    *out = stats;
}

static const struct ws_limits default_limits = {1024 * 1024, 4 * 1024 * 1024, 0, 10};

static void apply_defaults(struct ws_limits *l, const struct ws_limits *given)
{
    *l = default_limits;
    if (given) {
        if (given->max_message)
            l->max_message = given->max_message;
        if (given->max_output)
            l->max_output = given->max_output;
        l->ping_interval_s = given->ping_interval_s;
        if (given->handshake_timeout_s)
            l->handshake_timeout_s = given->handshake_timeout_s;
    }
}

/* ---------- reading on and off ---------- */

/* Reading goes through the bufferevent during the handshake and for TLS, through our
 * own event once a plain connection is open; either way into the same input buffer. */
static void set_reading(struct ws_conn *c, int on)
{
    if (c->rev) {
        if (on)
            event_add(c->rev, NULL);
        else
            event_del(c->rev);
    } else if (c->bev) {
        if (on)
            bufferevent_enable(c->bev, EV_READ);
        else
            bufferevent_disable(c->bev, EV_READ);
    }
}

static void on_readable(evutil_socket_t fd, short what, void *arg);

/* Once a plain connection is open, read it with our own event instead of the
 * bufferevent's: the bufferevent asks the kernel how much is readable (an ioctl) before
 * every read, which showed as 6-8 % of CPU with thousands of busy stations. */
static void take_over_reading(struct ws_conn *c)
{
    if (!c->plain || c->rev)
        return;
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    if (fd < 0 || !(c->rev = event_new(core_base, fd, EV_READ | EV_PERSIST, on_readable, c)))
        return; /* the bufferevent keeps reading: slower, still correct */
    bufferevent_disable(c->bev, EV_READ);
    /* bufferevents freeze the end of their input buffer against outside writers */
    evbuffer_unfreeze(bufferevent_get_input(c->bev), 0);
    event_add(c->rev, NULL);
}

/* ---------- teardown ---------- */

static void conn_free(struct ws_conn *c)
{
    if (c->timer)
        event_free(c->timer);
    if (c->rev)
        event_free(c->rev);
    if (c->bev)
        bufferevent_free(c->bev);
    if (c->msg)
        evbuffer_free(c->msg);
    free(c->path);
    free(c->want_accept);
    free(c->request);
    free(c);
}

/* Report the close once, then free (now, or when the outermost callback returns). */
static void teardown(struct ws_conn *c, int code, const char *reason)
{
    if (c->state == WS_DEAD) {
        return;
    }
    int was_open = c->opened;
    c->state = WS_DEAD;
    c->close_code = code;
    if (reason != c->close_reason) /* callers may pass the reason the peer gave us */
        snprintf(c->close_reason, sizeof c->close_reason, "%s", reason ? reason : "");
    if (c->bev)
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    if (c->rev)
        event_del(c->rev);
    if (c->timer)
        event_del(c->timer);
    if (was_open || c->client) {
        if (c->client)
            stats.open_client -= was_open ? 1 : 0;
        else
            stats.open_server--;
        stats.closed_total++;
    }
    if ((was_open || c->client) && c->cb && c->cb->on_close) {
        c->busy++;
        c->cb->on_close(c, c->arg, code, c->close_reason);
        c->busy--;
    }
    if (c->busy == 0)
        conn_free(c);
    else
        c->teardown_pending = 1;
}

/* Call after a user callback: frees the connection if it died meanwhile.  Returns 1
 * when the connection is gone. */
static int after_callback(struct ws_conn *c)
{
    c->busy--;
    if (c->busy == 0 && c->teardown_pending) {
        conn_free(c);
        return 1;
    }
    return c->state == WS_DEAD;
}

/* ---------- sending ---------- */

static uint32_t next_rand(struct ws_conn *c)
{
    /* xorshift seeded from the CSPRNG: mask keys need to be unpredictable to
     * intermediaries, not secret; one RAND_bytes per connection is enough */
    uint32_t x = c->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c->rng = x ? x : 0x9e3779b9u;
    return c->rng;
}

static void check_backpressure(struct ws_conn *c)
{
    size_t out = evbuffer_get_length(bufferevent_get_output(c->bev));
    if (out > c->lim.max_output && !c->bp_paused) {
        c->bp_paused = 1;
        set_reading(c, 0);
    }
}

/* Hand a frame to the kernel now when nothing is queued before it.  Going through the
 * bufferevent instead costs two epoll_ctl calls and a loop turn per message (it arms
 * EV_WRITE, then disarms it once drained): at tens of thousands of OCPP messages a
 * second that was a tenth of our CPU.  Returns the bytes written; what is left goes to
 * the output buffer as before, so ordering and back-pressure are unchanged.  Errors are
 * left to the bufferevent to find and report. */
static size_t write_now(struct ws_conn *c, const uint8_t *hdr, size_t hl, const void *data, size_t len)
{
    if (!c->plain || c->state == WS_HANDSHAKE ||
        evbuffer_get_length(bufferevent_get_output(c->bev)) != 0)
        return 0;
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    if (fd < 0)
        return 0;
    struct iovec iov[2] = {{(void *)hdr, hl}, {(void *)data, len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    return n > 0 ? (size_t)n : 0;
}

/* Queue whatever write_now did not write: the rest of the header, then of the payload. */
static int queue_rest(struct evbuffer *out, const uint8_t *hdr, size_t hl, const void *data, size_t len,
                      size_t written)
{
    if (written < hl && evbuffer_add(out, hdr + written, hl - written) != 0)
        return -1;
    size_t skip = written > hl ? written - hl : 0;
    if (skip < len && evbuffer_add(out, (const uint8_t *)data + skip, len - skip) != 0)
        return -1;
    return 0;
}

static int send_frame(struct ws_conn *c, int opcode, const void *data, size_t len)
{
    if (!c || !c->bev || c->state == WS_DEAD || c->state == WS_HANDSHAKE)
        return -1;
    if (c->close_sent && opcode != WS_OP_CLOSE)
        return -1;
    uint8_t hdr[14];
    size_t hl;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    const void *payload = data;
    uint8_t stackbuf[2048], *masked = NULL;
    if (c->client) {
        /* clients mask: a copy, on the stack for the usual small OCPP frame */
        uint32_t m = next_rand(c);
        uint8_t mask[4];
        memcpy(mask, &m, 4);
        hl = ws_frame_encode_header(hdr, 1, opcode, len, mask);
        if (len) {
            masked = len <= sizeof stackbuf ? stackbuf : malloc(len);
            if (!masked)
                return -1;
            memcpy(masked, data, len);
            ws_frame_unmask(masked, len, mask, 0);
            payload = masked;
        }
    } else {
        hl = ws_frame_encode_header(hdr, 1, opcode, len, NULL);
    }
    size_t written = write_now(c, hdr, hl, payload, len);
    int rc = queue_rest(out, hdr, hl, payload, len, written);
    if (masked && masked != stackbuf)
        free(masked);
    if (rc != 0)
        return -1;
    stats.frames_out++;
    stats.bytes_out += len;
    check_backpressure(c);
    return 0;
}

int ws_send_text(ws_conn *c, const char *data, size_t len)
{
    return send_frame(c, WS_OP_TEXT, data, len);
}

int ws_send_binary(ws_conn *c, const void *data, size_t len)
{
    return send_frame(c, WS_OP_BINARY, data, len);
}

static void arm_timer(struct ws_conn *c, unsigned seconds);

static void send_close(struct ws_conn *c, int code, const char *reason)
{
    if (c->close_sent)
        return;
    uint8_t payload[125];
    size_t n = 0;
    if (code) {
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)code;
        n = 2;
        size_t rl = reason ? strlen(reason) : 0;
        if (rl > 123)
            rl = 123;
        memcpy(payload + 2, reason, rl);
        n += rl;
    }
    send_frame(c, WS_OP_CLOSE, payload, n);
    c->close_sent = 1;
}

void ws_close(ws_conn *c, int code, const char *reason)
{
    if (!c || c->state == WS_DEAD || c->state == WS_CLOSING)
        return;
    if (c->state == WS_HANDSHAKE) {
        teardown(c, 1006, reason);
        return;
    }
    c->state = WS_CLOSING;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason ? reason : "");
    send_close(c, ws_close_code_valid(code) ? code : 1000, reason);
    arm_timer(c, CLOSE_TIMEOUT_S);
}

void ws_abort(ws_conn *c)
{
    if (c)
        teardown(c, 1006, "aborted");
}

void ws_pause_reading(ws_conn *c, int paused)
{
    if (!c || !c->bev || c->state == WS_DEAD)
        return;
    c->user_paused = paused;
    if (paused)
        set_reading(c, 0);
    else if (!c->bp_paused)
        set_reading(c, 1);
}

void ws_set_arg(ws_conn *c, void *arg) { c->arg = arg; }
const char *ws_remote_addr(ws_conn *c) { return c->remote; }
const char *ws_subprotocol(ws_conn *c) { return c->subprotocol; }
const char *ws_path(ws_conn *c) { return c->path ? c->path : ""; }
int ws_is_client(ws_conn *c) { return c->client; }

size_t ws_output_pending(ws_conn *c)
{
    return c && c->bev ? evbuffer_get_length(bufferevent_get_output(c->bev)) : 0;
}

/* ---------- timers ---------- */

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct ws_conn *c = arg;
    if (c->state == WS_HANDSHAKE) {
        teardown(c, 1006, "handshake timeout");
    } else if (c->state == WS_CLOSING) {
        teardown(c, c->close_code ? c->close_code : 1006, "close handshake timeout");
    } else if (c->state == WS_OPEN && c->lim.ping_interval_s) {
        if (c->awaiting_pong) {
            teardown(c, 1006, "no pong: peer unresponsive");
            return;
        }
        c->awaiting_pong = 1;
        send_frame(c, WS_OP_PING, "pl", 2);
        arm_timer(c, c->lim.ping_interval_s);
    }
}

static void arm_timer(struct ws_conn *c, unsigned seconds)
{
    if (!c->timer)
        c->timer = evtimer_new(core_base, on_timer, c);
    if (!c->timer)
        return;
    struct timeval tv = {seconds, 0};
    evtimer_add(c->timer, &tv);
}

/* ---------- frames in ---------- */

static void protocol_error(struct ws_conn *c, int code, const char *why)
{
    stats.protocol_errors++;
    core_log(PL_LOG_DEBUG, "ws", "%s: closing %d: %s", c->remote, code, why);
    if (c->state == WS_OPEN) {
        send_close(c, code, why);
        c->state = WS_CLOSING;
        c->close_after_flush = 1;
        c->close_code = code;
        snprintf(c->close_reason, sizeof c->close_reason, "%s", why);
        set_reading(c, 0);
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
            teardown(c, code, why);
        else
            arm_timer(c, CLOSE_TIMEOUT_S);
    } else {
        teardown(c, code, why);
    }
}

/* A complete message: returns 1 if the connection died in the callback. */
static int deliver(struct ws_conn *c, int opcode, struct evbuffer *buf)
{
    size_t len = evbuffer_get_length(buf);
    evbuffer_add(buf, "", 1); /* NUL-terminate for the callback */
    char *data = (char *)evbuffer_pullup(buf, -1);
    if (opcode == WS_OP_TEXT && !util_utf8_valid((const unsigned char *)data, len)) {
        evbuffer_drain(buf, evbuffer_get_length(buf));
        protocol_error(c, 1007, "invalid UTF-8 in a text message");
        return c->state == WS_DEAD;
    }
    if (c->state == WS_OPEN && c->cb->on_message) {
        c->busy++;
        c->cb->on_message(c, c->arg, opcode == WS_OP_TEXT, data, len);
        if (after_callback(c))
            return 1;
    }
    evbuffer_drain(buf, evbuffer_get_length(buf));
    return 0;
}

static void handle_close_frame(struct ws_conn *c, const uint8_t *p, size_t n)
{
    int code = 1005;
    char reason[128] = "";
    if (n == 1) {
        protocol_error(c, 1002, "close frame with a 1-byte payload");
        return;
    }
    if (n >= 2) {
        code = (p[0] << 8) | p[1];
        if (!ws_close_code_valid(code)) {
            protocol_error(c, 1002, "invalid close code");
            return;
        }
        if (!util_utf8_valid(p + 2, n - 2)) {
            protocol_error(c, 1007, "invalid UTF-8 in the close reason");
            return;
        }
        snprintf(reason, sizeof reason, "%.*s", (int)(n - 2), (const char *)p + 2);
    }
    if (!c->close_sent)
        send_close(c, code == 1005 ? 1000 : code, reason);
    c->state = WS_CLOSING;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    /* the server closes TCP first (RFC 6455 7.1.1); a client waits for it, bounded */
    if (!c->client) {
        c->close_after_flush = 1;
        set_reading(c, 0);
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
            teardown(c, code, reason);
    } else {
        arm_timer(c, CLOSE_TIMEOUT_S);
    }
}

/* Parse as many whole frames as the input holds. */
static void read_frames(struct ws_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (c->state == WS_OPEN || (c->state == WS_CLOSING && !c->close_after_flush)) {
        size_t avail = evbuffer_get_length(in);
        if (avail < 2)
            return;
        size_t peek = avail < 14 ? avail : 14;
        const uint8_t *hb = evbuffer_pullup(in, (ev_ssize_t)peek);
        struct ws_frame_header h;
        int hl = ws_frame_parse_header(hb, peek, !c->client, c->lim.max_message, &h);
        if (hl < 0) {
            protocol_error(c, -hl, hl == -1009 ? "message too big" : "protocol error");
            return;
        }
        if (hl == 0 || avail < (size_t)hl + h.payload_len)
            return; /* wait for the rest */
        evbuffer_drain(in, (size_t)hl);
        stats.frames_in++;
        stats.bytes_in += h.payload_len;
        size_t plen = (size_t)h.payload_len;
        if (h.opcode >= 0x8) { /* control frame: at most 125 bytes */
            uint8_t p[126];
            evbuffer_remove(in, p, plen);
            if (h.masked)
                ws_frame_unmask(p, plen, h.mask, 0);
            if (h.opcode == WS_OP_PING) {
                send_frame(c, WS_OP_PONG, p, plen);
            } else if (h.opcode == WS_OP_PONG) {
                c->awaiting_pong = 0;
            } else {
                handle_close_frame(c, p, plen);
                return;
            }
            continue;
        }
        if (h.opcode == WS_OP_CONT && !c->msg_opcode) {
            protocol_error(c, 1002, "continuation without a message");
            return;
        }
        if (h.opcode != WS_OP_CONT && c->msg_opcode) {
            protocol_error(c, 1002, "new message before the previous one ended");
            return;
        }
        if (!c->msg && !(c->msg = evbuffer_new())) {
            protocol_error(c, 1011, "out of memory");
            return;
        }
        if (evbuffer_get_length(c->msg) + plen > c->lim.max_message) {
            protocol_error(c, 1009, "message too big");
            return;
        }
        if (h.opcode != WS_OP_CONT)
            c->msg_opcode = h.opcode;
        if (h.masked && plen) {
            struct evbuffer_iovec v;
            if (evbuffer_reserve_space(c->msg, (ev_ssize_t)plen, &v, 1) < 1) {
                protocol_error(c, 1011, "out of memory");
                return;
            }
            evbuffer_remove(in, v.iov_base, plen);
            ws_frame_unmask(v.iov_base, plen, h.mask, 0);
            v.iov_len = plen;
            evbuffer_commit_space(c->msg, &v, 1);
        } else if (plen) {
            evbuffer_remove_buffer(in, c->msg, plen);
        }
        if (h.fin) {
            int op = c->msg_opcode;
            c->msg_opcode = 0;
            if (deliver(c, op, c->msg))
                return;
            /* idle connections are the common case at scale: hold no message buffer */
            evbuffer_free(c->msg);
            c->msg = NULL;
        }
    }
}

/* ---------- handshakes ---------- */

static char *header_value(char *headers, const char *name)
{
    /* headers: "Name: value\r\n..." (NUL-terminated); returns a pointer into it */
    size_t nl = strlen(name);
    for (char *line = headers; line && *line;) {
        char *end = strstr(line, "\r\n");
        if (end == line)
            break;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            char *v = line + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            return v;
        }
        line = end ? end + 2 : NULL;
    }
    return NULL;
}

/* Copy a header value (up to CRLF) into out. */
static int header_copy(char *headers, const char *name, char *out, size_t outlen)
{
    char *v = header_value(headers, name);
    if (!v)
        return 0;
    char *end = strstr(v, "\r\n");
    size_t n = end ? (size_t)(end - v) : strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, v, n);
    out[n] = '\0';
    return 1;
}

static int token_in_list(const char *list, const char *token)
{
    size_t tl = strlen(token);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        const char *s = p;
        while (*p && *p != ',')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tl && strncasecmp(s, token, tl) == 0)
            return 1;
    }
    return 0;
}

static void accept_key(const char *key, char out[64])
{
    char buf[128];
    unsigned char sha[20];
    snprintf(buf, sizeof buf, "%s%s", key, WS_GUID);
    util_sha1(buf, strlen(buf), sha);
    util_base64_encode(sha, 20, out, 64);
}

static void refuse(struct ws_conn *c, int status, const char *extra)
{
    const char *reason = status == 400 ? "Bad Request" : status == 401 ? "Unauthorized"
                       : status == 403 ? "Forbidden" : status == 404 ? "Not Found"
                       : status == 426 ? "Upgrade Required" : status == 431 ? "Request Header Fields Too Large"
                       : status == 503 ? "Service Unavailable" : "Refused";
    evbuffer_add_printf(bufferevent_get_output(c->bev),
                        "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Length: 0\r\n%s\r\n",
                        status, reason, extra ? extra : "");
    stats.refused_total++;
    c->state = WS_CLOSING;
    c->close_after_flush = 1;
    bufferevent_disable(c->bev, EV_READ);
}

/* Both sides, once the upgrade succeeded: open, keep-alive, tell the owner, and parse
 * whatever arrived right behind the handshake. */
static void handshake_done(struct ws_conn *c)
{
    c->state = WS_OPEN;
    c->opened = 1;
    take_over_reading(c);
    if (c->timer)
        event_del(c->timer);
    if (c->lim.ping_interval_s)
        arm_timer(c, c->lim.ping_interval_s);
    if (c->cb->on_open) {
        c->busy++;
        c->cb->on_open(c, c->arg);
        if (after_callback(c))
            return;
    }
    read_frames(c);
}

static void server_handshake(struct ws_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0) {
        if (evbuffer_get_length(in) > MAX_HANDSHAKE)
            refuse(c, 431, NULL);
        return;
    }
    size_t n = (size_t)end.pos + 4;
    if (n > MAX_HANDSHAKE) {
        refuse(c, 431, NULL);
        return;
    }
    char *req = malloc(n + 1);
    if (!req) {
        teardown(c, 1006, "out of memory");
        return;
    }
    evbuffer_remove(in, req, n);
    req[n] = '\0';
    char method[16], target[2048], version[16];
    char *headers = strstr(req, "\r\n");
    if (!headers || sscanf(req, "%15s %2047s %15s", method, target, version) != 3 ||
        strcmp(method, "GET") != 0 || strcmp(version, "HTTP/1.1") != 0) {
        free(req);
        refuse(c, 400, NULL);
        return;
    }
    headers += 2;
    char upgrade[64] = "", connection[256] = "", version_h[16] = "", key[64] = "", proto[512] = "";
    char auth[1024] = "";
    header_copy(headers, "Upgrade", upgrade, sizeof upgrade);
    header_copy(headers, "Connection", connection, sizeof connection);
    header_copy(headers, "Sec-WebSocket-Version", version_h, sizeof version_h);
    header_copy(headers, "Sec-WebSocket-Key", key, sizeof key);
    header_copy(headers, "Sec-WebSocket-Protocol", proto, sizeof proto);
    int has_auth = header_copy(headers, "Authorization", auth, sizeof auth);
    unsigned char keybytes[32];
    if (!token_in_list(upgrade, "websocket") || !token_in_list(connection, "Upgrade")) {
        free(req);
        refuse(c, 400, NULL);
        return;
    }
    if (strcmp(version_h, "13") != 0) {
        free(req);
        refuse(c, 426, "Sec-WebSocket-Version: 13\r\n");
        return;
    }
    if (util_base64_decode(key, keybytes, sizeof keybytes) != 16) {
        free(req);
        refuse(c, 400, NULL);
        return;
    }
    /* path and query */
    char *q = strchr(target, '?');
    if (q)
        *q++ = '\0';
    if (util_percent_decode(target) != 0 || target[0] != '/') {
        free(req);
        refuse(c, 400, NULL);
        return;
    }
    c->path = strdup(target);
    /* subprotocols: comma-separated, possibly in several headers (we read the first) */
    char *protos[MAX_PROTOCOLS];
    size_t np = 0;
    for (char *save = NULL, *t = strtok_r(proto, ", \t", &save); t && np < MAX_PROTOCOLS;
         t = strtok_r(NULL, ", \t", &save))
        protos[np++] = t;
    struct ws_upgrade_req ur = {c->path, q, c->remote, has_auth ? auth : NULL,
                                (const char *const *)protos, np, 0, NULL};
    struct tls_peer peer;
    if (c->listener->tls) {
        ur.tls = 1;
        if (tls_peer_cert(bufferevent_openssl_get_ssl(c->bev), &peer))
            ur.peer = &peer;
    }
    const char *chosen = NULL;
    void *conn_arg = NULL;
    int status = c->listener->cb->on_upgrade
                     ? c->listener->cb->on_upgrade(c->listener->arg, &ur, &chosen, &conn_arg)
                     : 0;
    if (status != 0) {
        free(req);
        refuse(c, status, status == 401 ? "WWW-Authenticate: Basic realm=\"pipelet\"\r\n" : NULL);
        return;
    }
    c->arg = conn_arg;
    if (chosen)
        snprintf(c->subprotocol, sizeof c->subprotocol, "%s", chosen);
    char acc[64];
    accept_key(key, acc);
    evbuffer_add_printf(bufferevent_get_output(c->bev),
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                        acc, chosen ? "Sec-WebSocket-Protocol: " : "", chosen ? chosen : "",
                        chosen ? "\r\n" : "");
    free(req);
    stats.open_server++;
    stats.accepted_total++;
    handshake_done(c);
}

static void client_handshake(struct ws_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0) {
        if (evbuffer_get_length(in) > MAX_HANDSHAKE)
            teardown(c, 1006, "handshake response too large");
        return;
    }
    size_t n = (size_t)end.pos + 4;
    char *resp = malloc(n + 1);
    if (!resp) {
        teardown(c, 1006, "out of memory");
        return;
    }
    evbuffer_remove(in, resp, n);
    resp[n] = '\0';
    int status = 0;
    char *headers = strstr(resp, "\r\n");
    if (sscanf(resp, "HTTP/1.1 %d", &status) != 1 || status != 101 || !headers) {
        char why[64];
        snprintf(why, sizeof why, "handshake refused: HTTP %d", status);
        free(resp);
        teardown(c, 1006, why);
        return;
    }
    headers += 2;
    char acc[128] = "", proto[64] = "";
    header_copy(headers, "Sec-WebSocket-Accept", acc, sizeof acc);
    header_copy(headers, "Sec-WebSocket-Protocol", proto, sizeof proto);
    free(resp);
    if (strcmp(acc, c->want_accept) != 0) {
        teardown(c, 1006, "bad Sec-WebSocket-Accept");
        return;
    }
    if (c->subprotocol[0] && strcmp(proto, c->subprotocol) != 0) {
        teardown(c, 1006, "the server did not accept the subprotocol");
        return;
    }
    stats.open_client++;
    handshake_done(c);
}

/* ---------- bufferevent callbacks ---------- */

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    struct ws_conn *c = arg;
    c->busy++;
    if (c->state == WS_HANDSHAKE)
        c->client ? client_handshake(c) : server_handshake(c);
    else
        read_frames(c);
    after_callback(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct ws_conn *c = arg;
    size_t out = evbuffer_get_length(bufferevent_get_output(bev));
    if (c->close_after_flush && out == 0) {
        teardown(c, c->close_code ? c->close_code : 1000, c->close_reason);
        return;
    }
    if (c->bp_paused && out <= c->lim.max_output / 2) {
        c->bp_paused = 0;
        if (!c->user_paused && c->state == WS_OPEN)
            set_reading(c, 1);
    }
}

/* The peer closed, the socket failed, or the connect did: report it once. */
static void connection_lost(struct ws_conn *c, short what)
{
    int code = c->state == WS_CLOSING && c->close_sent ? (c->close_code ? c->close_code : 1000)
                                                      : 1006;
    const char *why = what & BEV_EVENT_EOF ? "connection closed by the peer"
                                           : "connection error";
    if (c->client && c->state == WS_HANDSHAKE && (what & BEV_EVENT_ERROR)) {
        int dns = bufferevent_socket_get_dns_error(c->bev);
        why = dns ? evutil_gai_strerror(dns) : "connect failed";
    }
    SSL *ssl = !c->plain ? bufferevent_openssl_get_ssl(c->bev) : NULL;
    if (!c->client && ssl && c->state == WS_HANDSHAKE && !SSL_is_init_finished(ssl)) {
        /* a client that does not speak our TLS (version, ciphers, a certificate the
         * CA list refuses outright): counted and logged, it never reaches the owner.
         * Only before the upgrade: OpenSSL 3 leaves an established connection that ends
         * without close_notify "not finished" too (an unexpected EOF), and a station
         * that loses its network is not a failed handshake. */
        unsigned long e = bufferevent_get_openssl_error(c->bev);
        char reason[160] = "closed during the TLS handshake";
        if (e)
            ERR_error_string_n(e, reason, sizeof reason);
        stats.tls_handshake_failures++;
        core_log(PL_LOG_INFO, "ws", "TLS handshake with %s failed: %s", c->remote, reason);
        while (bufferevent_get_openssl_error(c->bev))
            ;
    }
    teardown(c, code, code == 1006 ? why : c->close_reason);
}

#define READ_CHUNK 8192 /* OCPP frames are small; larger ones take a few reads */

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct ws_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    /* Between messages the input is empty (the usual case): read into one buffer of the
     * loop's and lend it to the input, so a read allocates nothing.  A chunk allocated
     * per read (8 KiB) was a large request for glibc, which consolidates its fast bins
     * on each: malloc then took a third of the gateway's time once 10,000 stations had
     * come and gone and left the heap in pieces.  What a read leaves unparsed (part of
     * a frame) is copied into the input's own memory before the buffer is reused. */
    static char loan[READ_CHUNK];
    int lent = evbuffer_get_length(in) == 0;
    struct evbuffer_iovec v = {loan, sizeof loan};
    if (!lent && evbuffer_reserve_space(in, READ_CHUNK, &v, 1) < 1) {
        teardown(c, 1011, "out of memory");
        return;
    }
    ssize_t n = recv(fd, v.iov_base, v.iov_len, 0);
    if (n > 0) {
        v.iov_len = (size_t)n;
        if (!lent)
            evbuffer_commit_space(in, &v, 1);
        else if (evbuffer_add_reference(in, loan, (size_t)n, NULL, NULL) != 0) {
            teardown(c, 1011, "out of memory");
            return;
        }
        c->busy++;
        read_frames(c);
        size_t left = lent ? evbuffer_get_length(in) : 0;
        if (left) { /* still in the loan: append a copy, then drop the lent bytes */
            const unsigned char *rest = evbuffer_pullup(in, (ev_ssize_t)left);
            if (!rest || evbuffer_add(in, rest, left) != 0)
                teardown(c, 1011, "out of memory");
            evbuffer_drain(in, left);
        }
        after_callback(c);
    } else if (n == 0) {
        connection_lost(c, BEV_EVENT_EOF);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        connection_lost(c, BEV_EVENT_ERROR);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct ws_conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        if (!c->client)
            return; /* server side: the TLS handshake is done; the upgrade comes next */
        int one = 1;
        evutil_socket_t fd = bufferevent_getfd(c->bev);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET) {
            char ip[INET_ADDRSTRLEN];
            struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip);
            snprintf(c->remote, sizeof c->remote, "%s:%d", ip, ntohs(sin->sin_port));
        }
        evbuffer_add(bufferevent_get_output(c->bev), c->request, strlen(c->request));
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        connection_lost(c, what);
}

/* ---------- server ---------- */

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    (void)l;
    (void)salen;
    struct ws_listener *wl = arg;
    struct ws_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->listener = wl;
    c->cb = wl->cb;
    c->lim = wl->lim;
    util_random(&c->rng, sizeof c->rng);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (sa->sa_family == AF_INET) {
        char ip[INET_ADDRSTRLEN];
        struct sockaddr_in *sin = (struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip);
        snprintf(c->remote, sizeof c->remote, "%s:%d", ip, ntohs(sin->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        char ip[INET6_ADDRSTRLEN];
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof ip);
        snprintf(c->remote, sizeof c->remote, "[%s]:%d", ip, ntohs(sin6->sin6_port));
    }
    if (wl->tls) {
        SSL *ssl = SSL_new(wl->tls);
        c->bev = ssl ? bufferevent_openssl_socket_new(core_base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                      BEV_OPT_CLOSE_ON_FREE)
                     : NULL;
        if (!c->bev)
            SSL_free(ssl);
        else /* a station that drops the TCP connection without close_notify is common */
            bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    } else {
        c->bev = bufferevent_socket_new(core_base, fd, BEV_OPT_CLOSE_ON_FREE);
        c->plain = 1;
    }
    if (!c->bev) {
        close(fd);
        free(c);
        return;
    }
    /* cap what one read may pull in; frames are parsed as they complete */
    bufferevent_setwatermark(c->bev, EV_READ, 0, c->lim.max_message + 16 + MAX_HANDSHAKE);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    arm_timer(c, c->lim.handshake_timeout_s);
}

ws_listener *ws_listen(const char *addr, int port, const struct ws_limits *lim,
                       const struct ws_callbacks *cb, void *listener_arg)
{
    return ws_listen_tls(addr, port, NULL, lim, cb, listener_arg);
}

ws_listener *ws_listen_tls(const char *addr, int port, SSL_CTX *tls, const struct ws_limits *lim,
                           const struct ws_callbacks *cb, void *listener_arg)
{
    struct ws_listener *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    if (tls && SSL_CTX_up_ref(tls) != 1) {
        free(l);
        return NULL;
    }
    l->tls = tls;
    apply_defaults(&l->lim, lim);
    l->cb = cb;
    l->arg = listener_arg;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr && *addr ? addr : "0.0.0.0", &sin.sin_addr) != 1) {
        core_log(PL_LOG_ERROR, "ws", "invalid listen address '%s'", addr);
        SSL_CTX_free(l->tls);
        free(l);
        return NULL;
    }
    l->l = evconnlistener_new_bind(core_base, on_accept, l,
                                   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                                   4096, (struct sockaddr *)&sin, sizeof sin);
    if (!l->l) {
        core_log(PL_LOG_ERROR, "ws", "cannot listen on %s:%d: %s", addr, port, strerror(errno));
        SSL_CTX_free(l->tls);
        free(l);
        return NULL;
    }
    return l;
}

int ws_listener_port(ws_listener *l)
{
    struct sockaddr_in sin;
    socklen_t sl = sizeof sin;
    if (!l || getsockname(evconnlistener_get_fd(l->l), (struct sockaddr *)&sin, &sl) != 0)
        return -1;
    return ntohs(sin.sin_port);
}

void ws_listener_free(ws_listener *l)
{
    if (!l)
        return;
    evconnlistener_free(l->l);
    SSL_CTX_free(l->tls); /* connections still open hold their own references */
    free(l);
}

/* ---------- client ---------- */

/* The client contexts are tls.c's, shared with outbound HTTPS and the REST listener;
 * at exit (ocppj_shutdown) its cache lets go of them (open connections keep theirs). */
void ws_client_tls_free(void)
{
    tls_shutdown();
}

ws_conn *ws_connect(const char *url, const char *subprotocol, const char *authorization,
                    const char *source_addr, const struct ws_client_tls *tlso, const struct ws_limits *lim,
                    const struct ws_callbacks *cb, void *conn_arg)
{
    int tls;
    if (!strncmp(url, "ws://", 5))
        tls = 0;
    else if (!strncmp(url, "wss://", 6))
        tls = 1;
    else
        return NULL;
    const char *hp = url + (tls ? 6 : 5);
    const char *slash = strchr(hp, '/');
    char host[256];
    size_t hl = slash ? (size_t)(slash - hp) : strlen(hp);
    if (hl == 0 || hl >= sizeof host)
        return NULL;
    memcpy(host, hp, hl);
    host[hl] = '\0';
    int port = tls ? 443 : 80;
    char *colon = strrchr(host, ':');
    if (colon && !strchr(host, ']')) {
        port = atoi(colon + 1);
        *colon = '\0';
    }
    if (port <= 0 || port > 65535)
        return NULL;
    const char *path = slash ? slash : "/";

    struct ws_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->client = 1;
    c->cb = cb;
    c->arg = conn_arg;
    apply_defaults(&c->lim, lim);
    util_random(&c->rng, sizeof c->rng);
    snprintf(c->remote, sizeof c->remote, "%.60s:%d", host, port);
    c->path = strdup(path);
    if (subprotocol)
        snprintf(c->subprotocol, sizeof c->subprotocol, "%s", subprotocol);
    unsigned char kb[16];
    char key[32], acc[64];
    util_random(kb, sizeof kb);
    util_base64_encode(kb, sizeof kb, key, sizeof key);
    accept_key(key, acc);
    c->want_accept = strdup(acc);
    size_t rl = strlen(path) + strlen(host) + 512 + (authorization ? strlen(authorization) : 0);
    c->request = malloc(rl);
    if (!c->path || !c->want_accept || !c->request)
        goto fail;
    snprintf(c->request, rl,
             "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s%s%s%s%s\r\n",
             path, host, port, key, subprotocol ? "Sec-WebSocket-Protocol: " : "",
             subprotocol ? subprotocol : "", subprotocol ? "\r\n" : "",
             authorization ? "Authorization: " : "", authorization ? authorization : "",
             authorization ? "\r\n" : "");

    evutil_socket_t fd = -1;
    if (source_addr) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || inet_pton(AF_INET, source_addr, &src.sin_addr) != 1 ||
            bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
            if (fd >= 0)
                close(fd);
            goto fail;
        }
    }
    if (tls) {
        /* one context per CA file, shared by the whole fleet; verified against host;
         * a client certificate is the connection's own */
        SSL *ssl = tls_client_ssl(tls_client_ctx(tlso ? tlso->ca_file : NULL, NULL, NULL), host);
        if (ssl && tlso && tlso->cert_pem && tlso->key_pem &&
            tls_use_identity_pem(ssl, tlso->cert_pem, tlso->key_pem) != 0) {
            SSL_free(ssl);
            ssl = NULL;
        }
        if (!ssl) {
            if (fd >= 0)
                close(fd);
            goto fail;
        }
        c->bev = bufferevent_openssl_socket_new(core_base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                BEV_OPT_CLOSE_ON_FREE);
    } else {
        c->bev = bufferevent_socket_new(core_base, fd, BEV_OPT_CLOSE_ON_FREE);
        c->plain = 1;
    }
    if (!c->bev) {
        if (fd >= 0)
            close(fd);
        goto fail;
    }
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    arm_timer(c, c->lim.handshake_timeout_s);
    if (bufferevent_socket_connect_hostname(c->bev, core_dns, AF_INET, host, port) != 0) {
        /* reported through on_close on the next turn, never from inside ws_connect */
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
        struct timeval now = {0, 0};
        evtimer_add(c->timer, &now);
    }
    return c;
fail:
    conn_free(c);
    return NULL;
}
