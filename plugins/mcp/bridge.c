/*
 * bridge.c — pipelet-mcp: the stdio transport of MCP for a pipelet daemon.  Reads
 * newline-delimited JSON-RPC messages on stdin, POSTs each one to $PIPELET_URL/mcp
 * with X-API-Key: $PIPELET_API_KEY, and writes each JSON-RPC answer as one line on
 * stdout.  The Mcp-Session-Id the daemon hands out is sent back on every later message
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

/* The whole answer (HTTP/1.0: the server closes), NUL-terminated; NULL on failure. */
static char *exchange(const struct bridge *b, const char *msg, size_t len)
{
    int fd = dial(b);
    if (fd < 0)
        return NULL;
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
    char *buf = NULL;
    size_t got = 0, cap = 0;
    if (hn > 0 && (size_t)hn < sizeof head && send_all(fd, head, (size_t)hn) == 0 &&
        send_all(fd, msg, len) == 0) {
        for (;;) {
            if (got + 4097 > cap && !(buf = realloc(buf, cap = cap * 2 + 8192)))
                break;
            ssize_t n = read(fd, buf + got, 4096);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
    }
    close(fd);
    if (buf)
        buf[got] = '\0';
    return buf;
}

/* Keep the session id, print a JSON-RPC body as one line; anything else to stderr. */
static void handle_answer(struct bridge *b, const char *resp)
{
    const char *body = strstr(resp, "\r\n\r\n");
    if (!body) {
        fprintf(stderr, "pipelet-mcp: malformed HTTP answer\n");
        return;
    }
    for (const char *l = strstr(resp, "\r\n"); l && l < body; l = strstr(l + 2, "\r\n"))
        if (strncasecmp(l + 2, "Mcp-Session-Id:", 15) == 0)
            sscanf(l + 17, "%127[^\r\n ]", b->session);
    body += 4;
    json_t *msg = json_loads(body, 0, NULL);
    if (!json_object_get(msg, "jsonrpc")) {
        if (*body || strncmp(resp + 9, "20", 2) != 0)
            fprintf(stderr, "pipelet-mcp: HTTP %.3s: %s\n", resp + 9, body);
        json_decref(msg);
        return;
    }
    json_dumpf(msg, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    fflush(stdout);
    json_decref(msg);
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
        char *resp = exchange(&b, line, (size_t)n);
        if (!resp || strlen(resp) < 12)
            fprintf(stderr, "pipelet-mcp: no answer from %s:%s%s\n", b.host, b.port, b.path);
        else
            handle_answer(&b, resp);
        free(resp);
    }
    free(line);
    return 0;
}
