/* bare_responder.c — the benchmark's physical floor: the least a CSMS can do on this
 * machine with libevent.  It accepts WebSocket upgrades (subprotocol ocpp1.6 or
 * ocpp2.0.1) and answers every OCPP CALL with a CALLRESULT at once: BootNotification
 * gets {"status":"Accepted",...}, every other action the Heartbeat answer
 * {"currentTime":...}.  No JSON parsing beyond the message id, no validation, no state,
 * no database: what pipelet does on top of this is what its figures pay for.
 * Usage: bare_responder PORT   (0 = any; prints "ready PORT" when listening)
 * Build: cc -O2 bench/bare_responder.c -o bare_responder -levent -lcrypto */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_HANDSHAKE 8192
#define MAX_FRAME 65536 /* a larger frame closes the connection: no OCPP test sends one */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum { OP_TEXT = 1, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

/* The only per-connection state: where the WebSocket is in its life. */
struct conn {
    int open;    /* the upgrade went out */
    int closing; /* our close frame is queued: free once it is flushed */
};

/* ---------- handshake ---------- */

/* Copies the value of header `name` from the request head into out; "" if absent. */
static void header_value(const char *head, const char *name, char *out, size_t outsz)
{
    size_t nl = strlen(name);
    out[0] = '\0';
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p, "\r\n")) {
        p += 2;
        if (strncasecmp(p, name, nl) != 0 || p[nl] != ':')
            continue;
        const char *v = p + nl + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t n = strcspn(v, "\r\n");
        if (n >= outsz)
            n = outsz - 1;
        memcpy(out, v, n);
        out[n] = '\0';
        return;
    }
}

/* The first OCPP subprotocol the client offers, or NULL. */
static const char *pick_subprotocol(const char *offered)
{
    static const char *const ours[] = {"ocpp1.6", "ocpp2.0.1"};
    char list[256];
    snprintf(list, sizeof list, "%s", offered);
    char *save = NULL;
    for (char *t = strtok_r(list, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
        for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
            if (!strcmp(t, ours[i]))
                return ours[i];
    return NULL;
}

static void accept_key(const char *key, char out[64])
{
    char cat[128];
    unsigned char sha[SHA_DIGEST_LENGTH];
    int n = snprintf(cat, sizeof cat, "%s%s", key, WS_GUID);
    SHA1((const unsigned char *)cat, (size_t)n, sha);
    EVP_EncodeBlock((unsigned char *)out, sha, SHA_DIGEST_LENGTH);
}

/* Returns 0 when more bytes are needed or the upgrade went out, -1 to drop the peer. */
static int handshake(struct bufferevent *bev, struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0)
        return evbuffer_get_length(in) > MAX_HANDSHAKE ? -1 : 0;
    size_t n = (size_t)end.pos + 4;
    if (n > MAX_HANDSHAKE)
        return -1;
    char head[MAX_HANDSHAKE + 1], key[64], offered[256], acc[64];
    evbuffer_remove(in, head, n);
    head[n] = '\0';
    header_value(head, "Sec-WebSocket-Key", key, sizeof key);
    header_value(head, "Sec-WebSocket-Protocol", offered, sizeof offered);
    if (!key[0])
        return -1;
    accept_key(key, acc);
    const char *proto = pick_subprotocol(offered);
    evbuffer_add_printf(bufferevent_get_output(bev),
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                        acc, proto ? "Sec-WebSocket-Protocol: " : "", proto ? proto : "", proto ? "\r\n" : "");
    c->open = 1;
    return 0;
}

/* ---------- frames ---------- */

static void send_frame(struct bufferevent *bev, int opcode, const char *data, size_t len)
{
    unsigned char h[4] = {(unsigned char)(0x80 | opcode)};
    size_t hl = 2;
    if (len < 126) {
        h[1] = (unsigned char)len;
    } else { /* our answers stay far below 64 KiB */
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        hl = 4;
    }
    struct evbuffer *out = bufferevent_get_output(bev);
    evbuffer_add(out, h, hl);
    evbuffer_add(out, data, len);
}

/* ISO 8601 UTC, formatted once per second: every answer carries it. */
static const char *now_iso(void)
{
    static char buf[32];
    static time_t last = -1;
    time_t t = time(NULL);
    if (t != last) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        last = t;
    }
    return buf;
}

/* Finds the quoted string starting at *p (after optional blanks); returns its start and
 * length and moves *p past the closing quote.  No escapes: OCPP ids and action names
 * have none. */
static const char *quoted(const char **p, const char *end, size_t *len)
{
    const char *s = *p;
    while (s < end && (*s == ' ' || *s == ','))
        s++;
    if (s >= end || *s != '"')
        return NULL;
    const char *q = memchr(s + 1, '"', (size_t)(end - s - 1));
    if (!q)
        return NULL;
    *len = (size_t)(q - s - 1);
    *p = q + 1;
    return s + 1;
}

/* [2,"id","Action",{...}] -> [3,"id",{...}]; anything else is ignored. */
static void answer_call(struct bufferevent *bev, const char *msg, size_t len)
{
    const char *p = msg, *end = msg + len;
    while (p < end && (*p == '[' || *p == ' '))
        p++;
    if (p >= end || *p != '2')
        return;
    p++;
    size_t idlen, actlen;
    const char *id = quoted(&p, end, &idlen);
    const char *action = id ? quoted(&p, end, &actlen) : NULL;
    if (!action || idlen > 64)
        return;
    char out[256];
    int n;
    if (actlen == 16 && !memcmp(action, "BootNotification", 16))
        n = snprintf(out, sizeof out, "[3,\"%.*s\",{\"status\":\"Accepted\",\"currentTime\":\"%s\",\"interval\":300}]",
                     (int)idlen, id, now_iso());
    else
        n = snprintf(out, sizeof out, "[3,\"%.*s\",{\"currentTime\":\"%s\"}]", (int)idlen, id, now_iso());
    send_frame(bev, OP_TEXT, out, (size_t)n);
}

/* Handles one complete frame if the input holds one.  Returns 1 if it consumed a frame,
 * 0 if more bytes are needed, -1 when the connection ends (protocol error or close). */
static int one_frame(struct bufferevent *bev)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t have = evbuffer_get_length(in);
    unsigned char h[14];
    if (have < 2)
        return 0;
    evbuffer_copyout(in, h, have < sizeof h ? have : sizeof h);
    int fin = h[0] & 0x80, opcode = h[0] & 0x0f, masked = h[1] & 0x80;
    size_t len = h[1] & 0x7f, hl = 2;
    if (len == 126) {
        hl = 4;
        len = have >= 4 ? ((size_t)h[2] << 8) | h[3] : 0;
    } else if (len == 127) {
        return -1; /* 64-bit lengths exceed MAX_FRAME anyway */
    }
    if (!fin || !masked || len > MAX_FRAME)
        return -1; /* fragmented, unmasked or oversized: not what a station sends here */
    if (have < hl + 4 + len)
        return 0;
    unsigned char *f = evbuffer_pullup(in, (ev_ssize_t)(hl + 4 + len));
    unsigned char *mask = f + hl, *data = f + hl + 4;
    for (size_t i = 0; i < len; i++)
        data[i] ^= mask[i & 3];
    int rc = 1;
    if (opcode == OP_TEXT)
        answer_call(bev, (const char *)data, len);
    else if (opcode == OP_PING)
        send_frame(bev, OP_PONG, (const char *)data, len);
    else if (opcode == OP_CLOSE) {
        send_frame(bev, OP_CLOSE, (const char *)data, len < 2 ? len : 2); /* echo the code */
        rc = -1;
    }
    evbuffer_drain(in, hl + 4 + len);
    return rc;
}

/* ---------- connections ---------- */

static void drop(struct bufferevent *bev, struct conn *c)
{
    bufferevent_free(bev);
    free(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (c->closing)
        return;
    if (!c->open) {
        if (handshake(bev, c) < 0) {
            drop(bev, c);
            return;
        }
        if (!c->open)
            return; /* the request head is not complete yet */
    }
    int rc;
    while ((rc = one_frame(bev)) > 0)
        ;
    if (rc < 0) {
        c->closing = 1; /* read nothing more; on_write frees once the output is out */
        bufferevent_disable(bev, EV_READ);
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            drop(bev, c);
    }
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (c->closing)
        drop(bev, c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        drop(bev, arg);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    (void)l;
    (void)sa;
    (void)salen;
    struct event_base *base = arg;
    struct conn *c = calloc(1, sizeof *c);
    struct bufferevent *bev = c ? bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (!bev) {
        free(c);
        evutil_closesocket(fd);
        return;
    }
    int one = 1; /* answers are small and must leave at once, as pipelet's do */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bufferevent_setcb(bev, on_read, on_write, on_event, c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    struct evconnlistener *l =
        base ? evconnlistener_new_bind(base, on_accept, base, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
                                       (struct sockaddr *)&sin, sizeof sin)
             : NULL;
    if (!l) {
        perror("bare_responder: listen");
        return 1;
    }
    struct sockaddr_in bound;
    socklen_t bl = sizeof bound;
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&bound, &bl);
    printf("ready %d\n", ntohs(bound.sin_port));
    fflush(stdout);
    struct event *term = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *intr = evsignal_new(base, SIGINT, on_signal, base);
    event_add(term, NULL);
    event_add(intr, NULL);
    event_base_dispatch(base);
    event_free(term);
    event_free(intr);
    evconnlistener_free(l);
    event_base_free(base);
    return 0;
}
