/*
 * bridge.c — pipelet-mcp: the stdio transport of MCP for a pipelet daemon.  Reads
 * newline-delimited JSON-RPC messages on stdin, POSTs each one to $PIPELET_URL/mcp
 * with X-API-Key: $PIPELET_API_KEY, and writes each JSON-RPC answer as one line on
 * stdout; an answer that comes as an SSE stream (progress, then the result) is written
 * message by message as it arrives.  The Mcp-Session-Id the daemon hands out is sent back on every later message
 * (legacy era); a 2026-07-28 request gets the standard headers HTTP needs and stdio has
 * not, taken from its body.
 * Logs go to stderr (stdout belongs to the protocol).  Plain blocking sockets and
 * HTTP/1.0 (one connection per message, never chunked): a bridge for one agent needs
 * no event loop, and plugins/ may not use libevent (tests/check-layering.sh).
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct bridge {
    char host[256], port[8], path[512], session[128];
    const char *key;
};

/* PIPELET_URL: http://host[:port][/prefix]; /mcp is appended. */
static int parse_url(struct bridge *b, const char *url)
{
    if (strncmp(url, "http://", 7) != 0)
        return -1;
    const char *h = url + 7, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    const char *colon = memchr(h, ':', hl);
    size_t nl = colon ? (size_t)(colon - h) : hl;
    if (nl == 0 || nl >= sizeof b->host)
        return -1;
    snprintf(b->host, sizeof b->host, "%.*s", (int)nl, h);
    snprintf(b->port, sizeof b->port, "%.*s", colon ? (int)(hl - nl - 1) : 2,
             colon ? colon + 1 : "80");
    const char *p = slash ? slash : "";
    size_t pl = strlen(p);
    while (pl && p[pl - 1] == '/')
        pl--;
    snprintf(b->path, sizeof b->path, "%.*s/mcp", (int)pl, p);
    return 0;
}

static int dial(const struct bridge *b)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai, *a;
    if (getaddrinfo(b->host, b->port, &hints, &ai) != 0)
        return -1;
    int fd = -1;
    for (a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    return fd;
}

/* Plain header text: printable ASCII without surrounding spaces (so no CR/LF either). */
static int plain_header_text(const char *s)
{
    size_t n = strlen(s);
    if (!n || s[0] == ' ' || s[n - 1] == ' ')
        return 0;
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            return 0;
    return 1;
}

/* The =?base64?...?= sentinel 2026-07-28 uses for a value no plain header carries. */
static void base64_sentinel(const char *s, char *out, size_t cap)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s), o = (size_t)snprintf(out, cap, "=?base64?");
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n && o + 6 < cap; i += 3) {
        unsigned v = (unsigned)u[i] << 16 | (i + 1 < n ? (unsigned)u[i + 1] << 8 : 0) |
                     (i + 2 < n ? u[i + 2] : 0);
        out[o++] = digits[v >> 18 & 63];
        out[o++] = digits[v >> 12 & 63];
        out[o++] = i + 1 < n ? digits[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? digits[v & 63] : '=';
    }
    snprintf(out + o, cap - o, "?=");
}

/* The params field Mcp-Name mirrors for a method, or NULL. */
static const char *name_field(const char *method)
{
    if (!strcmp(method, "tools/call") || !strcmp(method, "prompts/get"))
        return "name";
    return strcmp(method, "resources/read") ? NULL : "uri";
}

/* A request with the 2026-07-28 _meta envelope names its revision and method in headers
 * (MCP-Protocol-Version, Mcp-Method) and, for tools/call, prompts/get and resources/read,
 * what it is about (Mcp-Name), as the HTTP client transport sets them.  Appended to out;
 * a version or method that is no plain header text is left out: the daemon says so. */
static void modern_headers(const char *msg, size_t len, char *out, size_t cap)
{
    json_t *m = json_loadb(msg, len, 0, NULL);
    json_t *params = json_object_get(m, "params");
    const char *version = json_string_value(
        json_object_get(json_object_get(params, "_meta"), "io.modelcontextprotocol/protocolVersion"));
    const char *method = json_string_value(json_object_get(m, "method"));
    out[0] = '\0';
    if (version && method && json_object_get(m, "id") && plain_header_text(version) &&
        plain_header_text(method)) {
        const char *field = name_field(method);
        const char *name = field ? json_string_value(json_object_get(params, field)) : NULL;
        char value[1024];
        if (name && plain_header_text(name) && strncmp(name, "=?base64?", 9) != 0)
            snprintf(value, sizeof value, "%s", name);
        else if (name)
            base64_sentinel(name, value, sizeof value);
        int n = snprintf(out, cap, "MCP-Protocol-Version: %s\r\nMcp-Method: %s\r\n%s%s%s",
                         version, method, name ? "Mcp-Name: " : "", name ? value : "",
                         name ? "\r\n" : "");
        if (n < 0 || (size_t)n >= cap) /* never a header cut in half */
            out[0] = '\0';
    }
    json_decref(m);
}

static int send_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n <= 0)
            return -1;
        p += n, len -= (size_t)n;
    }
    return 0;
}

/* One JSON-RPC message as one line on stdout; anything else is not the protocol's. */
static void print_message(const char *text, size_t len)
{
    json_t *msg = json_loadb(text, len, 0, NULL);
    if (json_object_get(msg, "jsonrpc")) {
        json_dumpf(msg, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        fflush(stdout);
    }
    json_decref(msg);
}

/* An answer being read: its head, then a JSON body or an SSE stream whose events are
 * printed as they arrive (progress before the result). */
struct answer {
    char *buf;
    size_t got, cap;
    size_t body;   /* offset of the body, once the head is in (0 before) */
    size_t done;   /* SSE: what was printed */
    int sse, status;
};

/* The complete SSE events from a->done on: each event's data lines joined, printed. */
static void sse_events(struct answer *a)
{
    for (;;) {
        char *start = a->buf + a->done, *end = strstr(start, "\n\n");
        if (!end)
            return;
        char *data = NULL;
        size_t dn = 0;
        for (char *l = start; l < end;) {
            char *nl = memchr(l, '\n', (size_t)(end - l));
            size_t ll = nl ? (size_t)(nl - l) : (size_t)(end - l);
            if (ll >= 6 && strncmp(l, "data: ", 6) == 0) {
                char *grown = realloc(data, dn + ll);
                if (grown) {
                    data = grown;
                    memcpy(data + dn, l + 6, ll - 6);
                    dn += ll - 6;
                }
            }
            l += ll + 1;
        }
        if (data)
            print_message(data, dn);
        free(data);
        a->done = (size_t)(end + 2 - a->buf);
    }
}

/* The head is in: keep the session id, note the status and whether a stream follows. */
static void read_head(struct bridge *b, struct answer *a, const char *end)
{
    a->status = atoi(a->buf + 9);
    for (const char *l = strstr(a->buf, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, "Mcp-Session-Id:", 15) == 0)
            sscanf(l + 17, "%127[^\r\n ]", b->session);
        if (strncasecmp(l + 2, "Content-Type:", 13) == 0 && strstr(l + 2, "text/event-stream") &&
            strstr(l + 2, "text/event-stream") < strstr(l + 2, "\r\n"))
            a->sse = 1;
    }
    a->body = a->done = (size_t)(end + 4 - a->buf);
}

/* POST one message and print what comes back (HTTP/1.0: the server closes the
 * connection at the end of the answer).  0, or -1 when nothing came. */
static int exchange(struct bridge *b, const char *msg, size_t len)
{
    int fd = dial(b);
    if (fd < 0)
        return -1;
    char modern[1536], head[3072];
    modern_headers(msg, len, modern, sizeof modern);
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.0\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                      "Accept: application/json, text/event-stream\r\nContent-Length: %zu\r\n"
                      "%s%s%s%s%s%s%s\r\n",
                      b->path, b->host, b->port, len, b->key ? "X-API-Key: " : "",
                      b->key ? b->key : "", b->key ? "\r\n" : "",
                      b->session[0] ? "Mcp-Session-Id: " : "", b->session,
                      b->session[0] ? "\r\n" : "", modern);
    struct answer a = {0};
    if (hn > 0 && (size_t)hn < sizeof head && send_all(fd, head, (size_t)hn) == 0 &&
        send_all(fd, msg, len) == 0) {
        for (;;) {
            if (a.got + 4097 > a.cap) {
                char *grown = realloc(a.buf, a.cap = a.cap * 2 + 8192);
                if (!grown)
                    break;
                a.buf = grown;
            }
            ssize_t n = read(fd, a.buf + a.got, 4096);
            if (n <= 0)
                break;
            a.got += (size_t)n;
            a.buf[a.got] = '\0';
            char *end = a.body ? NULL : strstr(a.buf, "\r\n\r\n");
            if (end)
                read_head(b, &a, end);
            if (a.sse)
                sse_events(&a);
        }
    }
    close(fd);
    if (!a.buf || a.got < 12 || !a.body) {
        free(a.buf);
        return -1;
    }
    if (!a.sse) {
        const char *body = a.buf + a.body;
        json_t *m = json_loads(body, 0, NULL);
        if (json_object_get(m, "jsonrpc"))
            print_message(body, strlen(body));
        else if (*body || a.status / 100 != 2)
            fprintf(stderr, "pipelet-mcp: HTTP %d: %s\n", a.status, body);
        json_decref(m);
    }
    free(a.buf);
    return 0;
}

int main(void)
{
    struct bridge b = {0};
    const char *url = getenv("PIPELET_URL");
    b.key = getenv("PIPELET_API_KEY");
    if (!url || parse_url(&b, url) < 0) {
        fprintf(stderr, "pipelet-mcp: set PIPELET_URL to http://host[:port] of the daemon\n");
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (!n)
            continue;
        if (exchange(&b, line, (size_t)n) < 0)
            fprintf(stderr, "pipelet-mcp: no answer from %s:%s%s\n", b.host, b.port, b.path);
    }
    free(line);
    return 0;
}
