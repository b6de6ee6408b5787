/* fuzz_http.c — libFuzzer target for the HTTP request path: raw bytes from a client
 * through the connection gate, evhttp's parser and the router (path parameters, query
 * strings, API keys and scopes, JSON bodies, error answers, streamed and late answers).
 * The bytes arrive on a unix socket the router's evhttp accepts like a TCP client.  The first byte shapes the delivery: bit 7 writes in chunks of
 * 1 + (bits 0-5) bytes, bit 6 half-closes after the last byte (else the client waits,
 * then closes).  Beyond memory errors, it checks the gate's promise: the server never
 * answers with libevent's HTML error pages, every connection is freed once its client
 * has gone, and every late answer and stream ends. */
#define _GNU_SOURCE
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apikey.h"
#include "config.h"
#include "core.h"
#include "db.h"
#include "http.h"
#include "inject.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
/* Whether one of the answers' heads says text/html.  The answers are walked head by
 * head (Content-Length skips a body), because a body may quote anything the request
 * sent, a header line included; a chunked answer (a stream) ends the walk. */
static int html_head(const unsigned char *a, size_t len)
{
    size_t off = 0;
    while (off < len) {
        const unsigned char *end = memmem(a + off, len - off, "\r\n\r\n", 4);
        size_t head_len = end ? (size_t)(end - (a + off)) + 4 : len - off;
        const unsigned char *head = a + off;
        if (memmem(head, head_len, "\r\nContent-Type: text/html", 25))
            return 1;
        if (!end || memmem(head, head_len, "\r\nTransfer-Encoding: chunked", 28))
            return 0;
        const unsigned char *cl = memmem(head, head_len, "\r\nContent-Length: ", 18);
        size_t body = cl ? strtoul((const char *)cl + 18, NULL, 10) : 0;
        off += head_len + body;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned late_pending, streams_open;

/* GET /t/stations/{id}: the parameter, query values and a header, echoed */
static void h_station(pl_request *req, void *arg)
{
    (void)arg;
    http_reply_json(req, 200,
                    json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?}", "id", http_req_param(req, "id"), "q",
                              http_req_query(req, "q"), "limit", http_req_query(req, "limit"),
                              "key", http_req_key_name(req), "ua", http_req_header(req, "User-Agent")));
}

static void h_plain(pl_request *req, void *arg)
{
    (void)arg;
    http_reply_json(req, 200, json_pack("{s:s}", "path", http_req_path(req)));
}

/* POST/PUT/PATCH with a JSON body: a shape check like the REST handlers make */
static void h_body(pl_request *req, void *arg)
{
    (void)arg;
    json_t *body = http_req_json(req);
    if (body && !json_is_object(body)) {
        http_reply_error(req, 400, "INVALID_BODY", "the body must be a JSON object");
        return;
    }
    json_t *type = json_object_get(body, "type");
    if (type && !json_is_string(type)) {
        http_reply_error(req, 400, "INVALID_FIELD", "type must be a string");
        return;
    }
    http_reply_json(req, 202, json_pack("{s:s?, s:s?, s:O?}", "id", http_req_param(req, "id"), "cid",
                                        http_req_param(req, "cid"), "body", body));
}

static void h_csv(pl_request *req, void *arg)
{
    (void)arg;
    size_t len;
    const char *body = http_req_body(req, &len);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += body[i] == '\n';
    http_reply_json(req, 200, json_pack("{s:I}", "lines", (json_int_t)lines));
}

static void h_delete(pl_request *req, void *arg)
{
    (void)arg;
    http_reply_raw(req, 204, NULL, NULL, 0);
}

static void h_conflict(pl_request *req, void *arg)
{
    (void)arg;
    http_reply_header(req, "X-Reason", "busy");
    http_reply_error(req, 409, "BUSY_ELSEWHERE", "station %s is busy", http_req_path(req));
}

/* answered on a later loop turn, whether or not the client is still there */
static void late_answer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    late_pending--;
    http_reply_json(arg, 200, json_pack("{s:b}", "late", 1));
}

static void h_late(pl_request *req, void *arg)
{
    (void)arg;
    struct timeval now = {0, 0};
    if (event_base_once(core_base, -1, EV_TIMEOUT, late_answer, req, &now) == 0)
        late_pending++;
    else
        http_reply_error(req, 500, "INTERNAL_ERROR", "no timer");
}

/* a stream that ends inside its close callback, as the contract allows (this freed the
 * request under the loop calling the callbacks until core/http.c deferred the free) */
static void stream_closed(pl_request *req, void *arg)
{
    (void)arg;
    streams_open--;
    http_reply_stream_end(req);
}

static void h_events(pl_request *req, void *arg)
{
    (void)arg;
    if (http_reply_stream_begin(req, 200, "text/event-stream") != PL_OK)
        return;
    streams_open++;
    http_req_on_close(req, stream_closed, NULL);
    http_reply_stream_write(req, "data: hello\n\n", 13);
}

/* a stream that ends at once */
static void h_stream(pl_request *req, void *arg)
{
    (void)arg;
    if (http_reply_stream_begin(req, 200, "text/event-stream") != PL_OK)
        return;
    http_reply_stream_write(req, "data: 1\n\n", 9);
    http_reply_stream_end(req);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    /* logging costs time: only when asked for (FUZZ_LOG=1 shows every line) */
    core_log_open(getenv("FUZZ_LOG") ? "-" : "/dev/null", getenv("FUZZ_LOG") ? PL_LOG_DEBUG : PL_LOG_ERROR);
    core_base = event_base_new();
    char err[256];
    /* no rate limits: they would turn most inputs into 429 after a few runs */
    if (config_load_string("fuzz_http.conf",
                           "[http]\nlisten = 127.0.0.1\nport = 0\nbody_limit = 4096\n"
                           "rate_limit = 0\nauth_fail_rate = 0\n",
                           err, sizeof err) != 0 ||
        db_init("none", 1, 8, 1000) != 0 || http_init() != 0 || fuzz_http_listen() != 0) {
        fprintf(stderr, "fuzz_http: cannot start: %s\n", err);
        exit(1);
    }
    apikey_add("reader", PL_AUTH_READ, "read-key-000001");
    apikey_add("ops", PL_AUTH_OPERATOR, "op-key-00000001");
    apikey_add("admin", PL_AUTH_ADMIN, "admin-key-00001");
    static const struct {
        const char *method, *pattern;
        int scope;
        pl_route_cb cb;
    } routes[] = {
        {"GET", "/t/stations/{id}", PL_AUTH_READ, h_station},
        {"GET", "/t/stations/compact", PL_AUTH_READ, h_plain},
        {"POST", "/t/stations/{id}/reset", PL_AUTH_OPERATOR, h_body},
        {"PUT", "/t/stations/{id}/connectors/{cid}", PL_AUTH_OPERATOR, h_body},
        {"PATCH", "/t/stations/{id}", PL_AUTH_ADMIN, h_body},
        {"DELETE", "/t/stations/{id}", PL_AUTH_ADMIN, h_delete},
        {"POST", "/t/import", PL_AUTH_OPERATOR, h_csv},
        {"GET", "/t/open", PL_AUTH_NONE, h_plain},
        {"HEAD", "/t/open", PL_AUTH_NONE, h_plain},
        {"GET", "/t/conflict", PL_AUTH_READ, h_conflict},
        {"GET", "/t/late/{id}", PL_AUTH_NONE, h_late},
        {"GET", "/t/events", PL_AUTH_READ, h_events},
        {"GET", "/t/stream", PL_AUTH_NONE, h_stream},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        http_http_route(NULL, routes[i].method, routes[i].pattern, routes[i].scope, routes[i].cb, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    int fd = fuzz_http_connect();
    if (fd < 0)
        return 0;
    struct fuzz_pair p;
    fuzz_pair_connected(&p, fd, fuzz_http_connections);
    for (unsigned i = 0; i < 16 && !fuzz_http_connections(); i++)
        event_base_loop(core_base, EVLOOP_NONBLOCK); /* accepted */
    size_t chunk = mode & 0x80 ? 1 + (mode & 0x3f) : size;
    for (size_t off = 0; off < size && !fuzz_pair_server_gone(&p); off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (fuzz_pair_write(&p, data + off, n) < n)
            break;
        fuzz_pair_run(&p, 2);
    }
    fuzz_pair_run(&p, 16);
    int gone = fuzz_pair_finish(&p, mode & 0x40);
    for (unsigned i = 0; i < 64 && (late_pending || streams_open); i++)
        event_base_loop(core_base, EVLOOP_NONBLOCK);
    if (getenv("FUZZ_LOG"))
        fprintf(stderr, "fuzz_http: answer (%zu bytes):\n%.*s\n", p.answer_len, (int)p.answer_len,
                p.answer ? (const char *)p.answer : "");
    if (p.answer && html_head(p.answer, p.answer_len)) {
        fprintf(stderr, "fuzz_http: an HTML answer passed the gate:\n%s\n", (const char *)p.answer);
        abort();
    }
    if (!gone || late_pending || streams_open) {
        fprintf(stderr, "fuzz_http: left behind: connection %s, %u late answers, %u streams\n",
                gone ? "freed" : "still open", late_pending, streams_open);
        abort();
    }
    fuzz_pair_free(&p);
    return 0;
}
