/* test_http.c — the specification of the HTTP router (core/http.c): path parameters and
 * the most specific route, 404/405 with Allow, API key scopes (401/403), JSON bodies and
 * errors (400/413/415), per-key rate limits and failed-authentication limits (429 with
 * Retry-After), UTF-8 parameters, streamed replies; and of its connection gate: requests
 * libevent would answer with HTML or read ambiguously (duplicate Content-Length, unknown
 * methods, oversized heads and bodies) answered with JSON, slow and idle clients timed
 * out; routes that need a client certificate refuse requests without one.  A real
 * listener, libevent's HTTP client and raw sockets on one loop. */
#include <check.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "apikey.h"
#include "config.h"
#include "core.h"
#include "http.h"
#include "unit_loop.h"

static int port;

/* ---- handlers under test ---- */
static void h_station(pl_request *req, void *arg)
{
    (void)arg;
    const char *q = http_req_query(req, "q");
    http_reply_json(req, 200, json_pack("{s:s, s:s, s:s?, s:s?}", "route", "station", "id",
                                        http_req_param(req, "id"), "q", q, "key",
                                        http_req_key_name(req)));
}

static void h_compact(pl_request *req, void *arg)
{
    (void)arg;
    http_reply_json(req, 200, json_pack("{s:s}", "route", "compact"));
}

static int resets; /* h_reset calls: a refused request never reaches its handler */

static void h_reset(pl_request *req, void *arg)
{
    (void)arg;
    resets++;
    json_t *body = http_req_json(req);
    http_reply_json(req, 202, json_pack("{s:s, s:O?}", "id", http_req_param(req, "id"), "body", body));
}

static void h_conflict(pl_request *req, void *arg)
{
    (void)arg;
    http_reply_error(req, 409, "BUSY_ELSEWHERE", "station %s is busy", "X");
}

static void h_stream(pl_request *req, void *arg)
{
    (void)arg;
    ck_assert_int_eq(http_reply_stream_begin(req, 200, "text/event-stream"), PL_OK);
    http_reply_stream_write(req, "data: 1\n\n", 9);
    http_reply_stream_write(req, "data: 2\n\n", 9);
    http_reply_stream_end(req);
}

/* ---- a client: libevent's, so headers can be read ---- */
struct answer {
    int done, status;
    char body[4096];
    char allow[128], retry_after[16], content_type[64], www_authenticate[128];
};

static void on_answer(struct evhttp_request *req, void *arg)
{
    struct answer *a = arg;
    a->done = 1;
    if (!req)
        return;
    a->status = evhttp_request_get_response_code(req);
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(b);
    if (n >= sizeof a->body)
        n = sizeof a->body - 1;
    evbuffer_remove(b, a->body, n);
    a->body[n] = '\0';
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *v;
    if ((v = evhttp_find_header(h, "Allow")))
        snprintf(a->allow, sizeof a->allow, "%s", v);
    if ((v = evhttp_find_header(h, "Retry-After")))
        snprintf(a->retry_after, sizeof a->retry_after, "%s", v);
    if ((v = evhttp_find_header(h, "Content-Type")))
        snprintf(a->content_type, sizeof a->content_type, "%s", v);
    if ((v = evhttp_find_header(h, "WWW-Authenticate")))
        snprintf(a->www_authenticate, sizeof a->www_authenticate, "%s", v);
}

static struct answer call_typed(const char *method, const char *target, const char *key,
                                const char *body, const char *content_type)
{
    static const struct {
        const char *name;
        enum evhttp_cmd_type cmd;
    } methods[] = {{"GET", EVHTTP_REQ_GET}, {"POST", EVHTTP_REQ_POST}, {"PUT", EVHTTP_REQ_PUT},
                   {"DELETE", EVHTTP_REQ_DELETE}};
    enum evhttp_cmd_type cmd = EVHTTP_REQ_GET;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (!strcmp(methods[i].name, method))
            cmd = methods[i].cmd;
    struct answer a;
    memset(&a, 0, sizeof a);
    struct evhttp_connection *conn = evhttp_connection_base_new(core_base, core_dns, "127.0.0.1", (ev_uint16_t)port);
    struct evhttp_request *req = evhttp_request_new(on_answer, &a);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", "127.0.0.1");
    if (key && strchr(key, ' ')) /* "Bearer k", "Basic k": an Authorization header */
        evhttp_add_header(h, "Authorization", key);
    else if (key)
        evhttp_add_header(h, "X-API-Key", key);
    if (content_type)
        evhttp_add_header(h, "Content-Type", content_type);
    if (body) {
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    }
    evhttp_make_request(conn, req, cmd, target);
    for (uint64_t deadline = core_now_ms() + 5000; !a.done && core_now_ms() < deadline;)
        event_base_loop(core_base, EVLOOP_ONCE);
    evhttp_connection_free(conn);
    ck_assert_msg(a.done, "no answer to %s %s", method, target);
    return a;
}

static struct answer call(const char *method, const char *target, const char *key, const char *body)
{
    return call_typed(method, target, key, body, body ? "application/json" : NULL);
}

static json_t *json_of(const struct answer *a)
{
    json_t *j = json_loads(a->body, 0, NULL);
    ck_assert_msg(j != NULL, "not JSON: %s", a->body);
    return j;
}

/* every error is {"error": "...", "code": "..."} */
static void assert_error(const struct answer *a, int status, const char *code)
{
    ck_assert_int_eq(a->status, status);
    json_t *j = json_of(a);
    ck_assert_str_eq(json_string_value(json_object_get(j, "code")), code);
    ck_assert(json_string_length(json_object_get(j, "error")) > 0);
    json_decref(j);
}

/* ---- the specification ---- */

START_TEST(path_parameters_are_decoded_and_literal_segments_win)
{
    struct answer a = call("GET", "/t/stations/CP%2F7?q=a%20b", "read-key-000001", NULL);
    ck_assert_int_eq(a.status, 200);
    json_t *j = json_of(&a);
    ck_assert_str_eq(json_string_value(json_object_get(j, "route")), "station");
    ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "CP/7");
    ck_assert_str_eq(json_string_value(json_object_get(j, "q")), "a b");
    ck_assert_str_eq(json_string_value(json_object_get(j, "key")), "reader");
    json_decref(j);
    a = call("GET", "/t/stations/compact", "read-key-000001", NULL);
    j = json_of(&a);
    ck_assert_str_eq(json_string_value(json_object_get(j, "route")), "compact");
    json_decref(j);
    ck_assert_ptr_nonnull(strstr(a.content_type, "application/json"));
}
END_TEST

START_TEST(unknown_paths_are_404_and_wrong_methods_405_with_allow)
{
    struct answer a = call("GET", "/t/nothing/here", "read-key-000001", NULL);
    assert_error(&a, 404, "NOT_FOUND");
    a = call("DELETE", "/t/stations/CP1", "op-key-00000001", NULL);
    assert_error(&a, 405, "METHOD_NOT_ALLOWED");
    ck_assert_str_eq(a.allow, "GET");
}
END_TEST

START_TEST(keys_and_scopes)
{
    struct answer a = call("GET", "/t/stations/CP1", NULL, NULL);
    assert_error(&a, 401, "UNAUTHORIZED");
    a = call("GET", "/t/stations/CP1", "not-a-key", NULL);
    assert_error(&a, 401, "UNAUTHORIZED");
    a = call("POST", "/t/stations/CP1/reset", "read-key-000001", "{}");
    assert_error(&a, 403, "FORBIDDEN");
    a = call("POST", "/t/stations/CP1/reset", "op-key-00000001", "{\"type\":\"Hard\"}");
    ck_assert_int_eq(a.status, 202);
    /* an open route needs no key, and a wrong one there is ignored, not refused */
    a = call("GET", "/t/open", NULL, NULL);
    ck_assert_int_eq(a.status, 200);
    a = call("GET", "/t/open", "not-a-key", NULL);
    ck_assert_int_eq(a.status, 200);
}
END_TEST

/* RFC 6750: the key as a Bearer token (scheme case-insensitive); a 401 says which scheme */
START_TEST(bearer_keys_and_www_authenticate)
{
    struct answer a = call("GET", "/t/stations/CP1", NULL, NULL);
    assert_error(&a, 401, "UNAUTHORIZED");
    ck_assert_str_eq(a.www_authenticate, "Bearer realm=\"pipelet\"");
    a = call("GET", "/t/stations/CP1", "Bearer read-key-000001", NULL);
    ck_assert_int_eq(a.status, 200);
    json_t *j = json_of(&a);
    ck_assert_str_eq(json_string_value(json_object_get(j, "key")), "reader");
    json_decref(j);
    a = call("GET", "/t/stations/CP1", "bearer   read-key-000001", NULL);
    ck_assert_int_eq(a.status, 200);
    a = call("POST", "/t/stations/CP1/reset", "Bearer read-key-000001", "{}");
    assert_error(&a, 403, "FORBIDDEN");
    a = call("POST", "/t/stations/CP1/reset", "Bearer op-key-00000001", "{\"type\":\"Hard\"}");
    ck_assert_int_eq(a.status, 202);
    a = call("GET", "/t/stations/CP1", "Bearer not-a-key", NULL);
    assert_error(&a, 401, "UNAUTHORIZED");
    ck_assert_ptr_nonnull(strstr(a.www_authenticate, "invalid_token"));
    a = call("GET", "/t/stations/CP1", "Basic read-key-000001", NULL);
    assert_error(&a, 401, "UNAUTHORIZED");
    a = call("GET", "/t/stations/CP1", "Bearer ", NULL);
    assert_error(&a, 401, "UNAUTHORIZED");
}
END_TEST

START_TEST(json_bodies_malformed_json_and_size_limit)
{
    struct answer a = call("POST", "/t/stations/CP1/reset", "op-key-00000001", "{\"type\":\"Soft\",\"n\":[1,2]}");
    ck_assert_int_eq(a.status, 202);
    json_t *j = json_of(&a);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "body"), "type")), "Soft");
    json_decref(j);
    a = call("POST", "/t/stations/CP1/reset", "op-key-00000001", "{\"type\":");
    assert_error(&a, 400, "INVALID_JSON");
    char big[3000];
    memset(big, ' ', sizeof big - 1);
    big[0] = '{';
    big[sizeof big - 2] = '}';
    big[sizeof big - 1] = '\0';
    a = call("POST", "/t/stations/CP1/reset", "op-key-00000001", big);
    assert_error(&a, 413, "PAYLOAD_TOO_LARGE");
}
END_TEST

START_TEST(handler_errors_keep_the_shape)
{
    struct answer a = call("GET", "/t/conflict", "read-key-000001", NULL);
    assert_error(&a, 409, "BUSY_ELSEWHERE");
    json_t *j = json_of(&a);
    ck_assert_str_eq(json_string_value(json_object_get(j, "error")), "station X is busy");
    json_decref(j);
}
END_TEST

START_TEST(rate_limit_per_key_with_retry_after)
{
    int limited = 0;
    struct answer a;
    for (int i = 0; i < 30 && !limited; i++) {
        a = call("GET", "/t/stations/CP1", "burst-key-00001", NULL);
        if (a.status == 429)
            limited = 1;
        else
            ck_assert_int_eq(a.status, 200);
    }
    ck_assert_msg(limited, "30 requests at once never hit a burst of 20");
    assert_error(&a, 429, "RATE_LIMITED");
    ck_assert_int_ge(atoi(a.retry_after), 1);
    /* buckets are per key: another key is not limited */
    a = call("GET", "/t/stations/CP1", "read-key-000001", NULL);
    ck_assert_int_eq(a.status, 200);
}
END_TEST

START_TEST(streamed_replies)
{
    struct answer a = call("GET", "/t/stream", "read-key-000001", NULL);
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq(a.content_type, "text/event-stream");
    ck_assert_str_eq(a.body, "data: 1\n\ndata: 2\n\n");
}
END_TEST

/* ---- a raw client, for what libevent's client would never send ---- */
struct raw {
    int fd;
    const char *out;
    size_t out_len, sent;
    unsigned drip_ms; /* > 0: one byte every drip_ms */
    uint64_t started, next_drip;
    char in[16384];
    size_t in_len;
    int closed;         /* the server closed the connection (EOF or reset) */
    unsigned closed_ms; /* ... that long after the first byte was sent */
};

static void raw_send(struct raw *c, uint64_t now)
{
    if (c->sent == c->out_len || (c->drip_ms && now < c->next_drip))
        return;
    size_t n = c->drip_ms ? 1 : c->out_len - c->sent;
    ssize_t w = send(c->fd, c->out + c->sent, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w > 0) {
        c->sent += (size_t)w;
        c->next_drip = now + c->drip_ms;
    } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        c->sent = c->out_len; /* refused mid-way: the answer may still be readable */
    }
}

/* unit_run_until condition: send what is due, read what came; done once closed */
static int raw_poll(void *arg)
{
    struct raw *c = arg;
    uint64_t now = core_now_ms();
    raw_send(c, now);
    for (;;) {
        size_t room = sizeof c->in - 1 - c->in_len;
        char sink[4096];
        ssize_t r = room ? recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT)
                         : recv(c->fd, sink, sizeof sink, MSG_DONTWAIT);
        if (r > 0) {
            if (room)
                c->in_len += (size_t)r;
            c->in[c->in_len] = '\0';
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            c->closed = 1;
            c->closed_ms = (unsigned)(now - c->started);
        }
        return c->closed;
    }
}

/* Send data (a byte every drip_ms if > 0) and read until the server closes or ms pass. */
static struct raw *raw_exchange(const char *data, size_t len, unsigned drip_ms, unsigned ms)
{
    static struct raw c;
    memset(&c, 0, sizeof c);
    c.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(c.fd, (struct sockaddr *)&sa, sizeof sa), 0);
    c.out = data;
    c.out_len = len;
    c.drip_ms = drip_ms;
    c.started = core_now_ms();
    unit_run_until(raw_poll, &c, ms);
    close(c.fd);
    return &c;
}

static struct raw *raw_text(const char *text)
{
    return raw_exchange(text, strlen(text), 0, 5000);
}

/* The first answer on the connection: its status, and its body as the JSON error shape. */
static void assert_raw_error(const struct raw *c, int status, const char *code)
{
    int got = 0;
    ck_assert_msg(sscanf(c->in, "HTTP/1.%*d %d", &got) == 1, "no HTTP answer: '%s'", c->in);
    ck_assert_msg(got == status, "status %d, wanted %d: %s", got, status, c->in);
    ck_assert_msg(strstr(c->in, "Content-Type: application/json"), "not JSON: %s", c->in);
    const char *body = strstr(c->in, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    json_t *j = json_loads(body + 4, JSON_DISABLE_EOF_CHECK, NULL);
    ck_assert_msg(j != NULL, "body not JSON: %s", body + 4);
    ck_assert_str_eq(json_string_value(json_object_get(j, "code")), code);
    ck_assert(json_string_length(json_object_get(j, "error")) > 0);
    json_decref(j);
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

#define RESET_HEAD                                                                                 \
    "POST /t/stations/CP1/reset HTTP/1.1\r\nHost: t\r\nX-API-Key: op-key-00000001\r\n"           \
    "Content-Type: application/json\r\n"

START_TEST(ambiguous_body_lengths_are_refused_before_the_handler)
{
    resets = 0;
    struct raw *c = raw_text(RESET_HEAD "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}");
    assert_raw_error(c, 400, "INVALID_HEADER");
    ck_assert(c->closed);
    c = raw_text(RESET_HEAD "Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}");
    assert_raw_error(c, 400, "INVALID_HEADER");
    c = raw_text(RESET_HEAD "Content-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
    assert_raw_error(c, 400, "INVALID_HEADER");
    c = raw_text(RESET_HEAD "Transfer-Encoding: chunked\r\nContent-Length: 7\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
    assert_raw_error(c, 400, "INVALID_HEADER");
    ck_assert_int_eq(resets, 0);
    /* one length, chunked alone, and requests pipelined on one connection still work */
    c = raw_text(RESET_HEAD "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n" RESET_HEAD
                            "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
    ck_assert_msg(count_of(c->in, "HTTP/1.1 202") == 2, "%s", c->in);
    ck_assert_int_eq(resets, 2);
}
END_TEST

START_TEST(what_libevent_would_answer_in_html_is_json)
{
    struct raw *c = raw_text("BREW /t/open HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_raw_error(c, 501, "NOT_IMPLEMENTED");
    c = raw_text("TRACE /t/open HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_raw_error(c, 501, "NOT_IMPLEMENTED");
    c = raw_text("GARBAGE\r\n\r\n");
    assert_raw_error(c, 400, "BAD_REQUEST");
    c = raw_text("GET /t/open HTTP/1.1\r\nHost: t\r\nno colon here\r\n\r\n");
    assert_raw_error(c, 400, "INVALID_HEADER");
    c = raw_text(RESET_HEAD "Content-Length: 2x\r\n\r\n{}");
    assert_raw_error(c, 400, "INVALID_HEADER");
    c = raw_text(RESET_HEAD "Content-Length: 2\r\nExpect: coffee\r\n\r\n{}");
    assert_raw_error(c, 417, "EXPECTATION_FAILED");

    static char big[40000];
    int n = snprintf(big, sizeof big, "GET /t/open HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(big + n, 'a', 20000);
    strcpy(big + n + 20000, "\r\n\r\n");
    c = raw_text(big);
    assert_raw_error(c, 400, "HEADERS_TOO_LARGE");

    /* far above the 2048-byte limit: refused from the head, before the body is read */
    static char body[200000];
    n = snprintf(body, sizeof body, RESET_HEAD "Content-Length: 100000\r\n\r\n");
    memset(body + n, ' ', 100000);
    c = raw_exchange(body, (size_t)n + 100000, 0, 5000);
    assert_raw_error(c, 413, "PAYLOAD_TOO_LARGE");
    n = snprintf(body, sizeof body, RESET_HEAD "Transfer-Encoding: chunked\r\n\r\n4000\r\n");
    memset(body + n, ' ', 0x4000);
    c = raw_exchange(body, (size_t)n + 0x4000, 0, 5000);
    assert_raw_error(c, 413, "PAYLOAD_TOO_LARGE");
    /* chunks that add up to more than the limit */
    n = snprintf(body, sizeof body, RESET_HEAD "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 4; i++) {
        n += snprintf(body + n, sizeof body - (size_t)n, "400\r\n");
        memset(body + n, ' ', 0x400);
        n += 0x400;
        n += snprintf(body + n, sizeof body - (size_t)n, "\r\n");
    }
    c = raw_exchange(body, (size_t)n, 0, 5000);
    assert_raw_error(c, 413, "PAYLOAD_TOO_LARGE");
}
END_TEST

START_TEST(slow_requests_time_out)
{
    /* one byte every 200 ms: the head would take ~10 s; request_timeout is 2 s */
    static char slow[200];
    snprintf(slow, sizeof slow, "GET /t/open HTTP/1.1\r\nHost: t\r\nX-Pad: %040d\r\n\r\n", 0);
    struct raw *c = raw_exchange(slow, strlen(slow), 200, 8000);
    ck_assert_msg(c->closed, "a dribbling client was not timed out");
    ck_assert_uint_ge(c->closed_ms, 1500);
    ck_assert_uint_le(c->closed_ms, 3500);
    assert_raw_error(c, 408, "REQUEST_TIMEOUT");
    /* a connection that never sends anything is closed too, without an answer */
    c = raw_exchange("", 0, 0, 8000);
    ck_assert(c->closed);
    ck_assert_uint_le(c->closed_ms, 3500);
    ck_assert_uint_eq(c->in_len, 0);
}
END_TEST

/* A client that sends its next request the moment an answer arrives, on the same
 * keep-alive connection: the request can reach the gate before the gate has told evhttp
 * that the answer went out (both land in one loop turn).  Each request must still be
 * answered at once; it once waited for the request timeout and was closed. */
START_TEST(next_request_right_behind_an_answer_is_read)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    static const char get[] = "GET /t/open HTTP/1.1\r\nHost: t\r\n\r\n";
    static char in[131072]; /* 200 small answers */
    size_t in_len = 0;
    in[0] = '\0';
    for (int i = 1; i <= 200; i++) {
        ck_assert_int_eq(send(fd, get, sizeof get - 1, MSG_NOSIGNAL), (ssize_t)(sizeof get - 1));
        uint64_t deadline = core_now_ms() + 1500;
        while (count_of(in, "HTTP/1.1 ") < i) { /* 200, or 429 past the rate limit */
            ck_assert_msg(core_now_ms() < deadline, "request %d was not answered", i);
            event_base_loop(core_base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
            ssize_t r = recv(fd, in + in_len, sizeof in - 1 - in_len, MSG_DONTWAIT);
            ck_assert_msg(r != 0, "request %d: the connection was closed", i);
            if (r > 0)
                in[in_len += (size_t)r] = '\0';
        }
    }
    close(fd);
}
END_TEST

START_TEST(idle_keep_alive_connections_time_out)
{
    struct raw *c = raw_exchange("GET /t/open HTTP/1.1\r\nHost: t\r\n\r\n", 33, 0, 10000);
    ck_assert_msg(c->closed, "an idle keep-alive connection was never closed");
    ck_assert_int_eq(count_of(c->in, "HTTP/1.1 200"), 1);
    /* idle_timeout is 3 s */
    ck_assert_uint_ge(c->closed_ms, 2500);
    ck_assert_uint_le(c->closed_ms, 4500);
}
END_TEST

START_TEST(parameters_must_be_utf8)
{
    struct answer a = call("GET", "/t/stations/%ff%fe", "read-key-000001", NULL);
    assert_error(&a, 400, "INVALID_PARAMETER");
    a = call("GET", "/t/stations/CP1?q=%c3%28", "read-key-000001", NULL);
    assert_error(&a, 400, "INVALID_PARAMETER");
    a = call("GET", "/t/stations/CP1%00x", "read-key-000001", NULL);
    assert_error(&a, 400, "INVALID_PARAMETER");
    struct raw *c = raw_text("GET /t/stations/CP1 HTTP/1.1\r\nHost: t\r\n"
                             "X-API-Key: read-key-000001\r\nX-Station: \xff\xfe\r\n\r\n");
    assert_raw_error(c, 400, "INVALID_PARAMETER");
    a = call("GET", "/t/stations/%C3%A9t%C3%A9?q=%E2%82%AC", "read-key-000001", NULL);
    ck_assert_int_eq(a.status, 200);
    json_t *j = json_of(&a);
    ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "\xc3\xa9t\xc3\xa9");
    ck_assert_str_eq(json_string_value(json_object_get(j, "q")), "\xe2\x82\xac");
    json_decref(j);
}
END_TEST

START_TEST(json_bodies_need_a_json_content_type)
{
    const char *k = "op-key-00000001", *t = "/t/stations/CP1/reset";
    resets = 0;
    struct answer a = call_typed("POST", t, k, "{}", "text/plain");
    assert_error(&a, 415, "UNSUPPORTED_MEDIA_TYPE");
    a = call_typed("POST", t, k, "{}", NULL);
    assert_error(&a, 415, "UNSUPPORTED_MEDIA_TYPE");
    a = call_typed("POST", t, k, "{}", "application/json; charset=latin1");
    assert_error(&a, 415, "UNSUPPORTED_MEDIA_TYPE");
    a = call_typed("POST", t, k, "{}", "application/jsonx");
    assert_error(&a, 415, "UNSUPPORTED_MEDIA_TYPE");
    ck_assert_int_eq(resets, 0);
    a = call_typed("POST", t, k, "{}", "application/json; charset=utf-8");
    ck_assert_int_eq(a.status, 202);
    a = call_typed("POST", t, k, "{}", "Application/JSON;charset=\"UTF-8\"");
    ck_assert_int_eq(a.status, 202);
    a = call_typed("POST", t, k, "{}", "application/merge-patch+json");
    ck_assert_int_eq(a.status, 202);
    a = call_typed("POST", t, k, NULL, NULL); /* no body: no type needed */
    ck_assert_int_eq(a.status, 202);
}
END_TEST

START_TEST(failed_authentications_are_limited_per_address)
{
    /* auth_fail_burst is 3; earlier tests may have spent some of it */
    int unauthorized = 0;
    struct answer a;
    for (int i = 0; i < 5; i++) {
        a = call("GET", "/t/stations/CP1", "guess-0001", NULL);
        if (a.status != 401)
            break;
        unauthorized++;
    }
    ck_assert_int_le(unauthorized, 3);
    assert_error(&a, 429, "RATE_LIMITED");
    ck_assert_int_ge(atoi(a.retry_after), 1);
    a = call("GET", "/t/stations/CP1", NULL, NULL);
    assert_error(&a, 429, "RATE_LIMITED");
    /* a right key is never blocked, and open routes ignore a wrong one */
    a = call("GET", "/t/stations/CP1", "read-key-000001", NULL);
    ck_assert_int_eq(a.status, 200);
    a = call("GET", "/t/open", "guess-0002", NULL);
    ck_assert_int_eq(a.status, 200);
}
END_TEST

START_TEST(failure_table_is_bounded_and_keeps_active_clients)
{
    size_t before = ratelimit_entries();
    for (int i = 0; i < 10; i++)
        authfail_record("192.0.2.66", 1, 10);
    ck_assert_int_ge(authfail_blocked("192.0.2.66", 1, 10), 1);
    char addr[64];
    for (int i = 0; i < AUTHFAIL_TABLE_MAX + 5000; i++) {
        snprintf(addr, sizeof addr, "2001:db8:%x::", i);
        authfail_record(addr, 1, 10);
        if (i % 1000 == 0) /* still failing: stays known, so stays blocked */
            authfail_record("192.0.2.66", 1, 10);
    }
    ck_assert_uint_le(ratelimit_entries(), before + AUTHFAIL_TABLE_MAX);
    ck_assert_int_ge(authfail_blocked("192.0.2.66", 1, 10), 1);
}
END_TEST

/* PL_ROUTE_CLIENT_CERT on a plain listener: no request can carry a certificate, so the
 * route refuses every one, before the key check (the handler never runs); the other
 * routes are untouched and see no subject.  (Over TLS: tests/unit/test_tls.c.) */
static int cert_calls;

static void h_cert(pl_request *req, void *arg)
{
    (void)arg;
    cert_calls++;
    http_reply_json(req, 200, json_pack("{s:s?}", "subject", http_req_client_cert_subject(req)));
}

static void on_local(const struct pl_http_local_resp *resp, void *arg)
{
    *(int *)arg = resp->status;
}

START_TEST(client_certificate_routes_refuse_requests_without_one)
{
    struct answer a = call("GET", "/t/cert", "op-key-00000001", NULL);
    assert_error(&a, 403, "CLIENT_CERT_REQUIRED");
    a = call("GET", "/t/cert", NULL, NULL); /* no key either: still the certificate's 403 */
    assert_error(&a, 403, "CLIENT_CERT_REQUIRED");
    int status = 0;
    struct pl_http_local_req q = {.size = sizeof q, .method = "GET", .path = "/t/cert",
                                  .scope = PL_AUTH_ADMIN};
    ck_assert_int_eq(http_dispatch(NULL, &q, on_local, &status), PL_OK);
    ck_assert_int_eq(status, 403); /* in process: no certificate either */
    ck_assert_int_eq(cert_calls, 0);
    a = call("GET", "/t/nocert", "read-key-000001", NULL);
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq(a.body, "{\"subject\":null}");
    ck_assert_int_eq(cert_calls, 1);
}
END_TEST

START_TEST(route_options_are_checked)
{
    struct pl_http_route_opts o = {.size = sizeof o, .method = "GET", .pattern = "/t/opts",
                                   .auth_scope = PL_AUTH_READ, .flags = 0x80};
    ck_assert_int_eq(http_http_route_opts(NULL, &o, h_cert, NULL), PL_EINVAL); /* unknown flag */
    o.flags = PL_ROUTE_CLIENT_CERT;
    o.size = (uint32_t)offsetof(struct pl_http_route_opts, flags); /* flags cut off */
    ck_assert_int_eq(http_http_route_opts(NULL, &o, h_cert, NULL), PL_EINVAL);
    ck_assert_int_eq(http_http_route_opts(NULL, NULL, h_cert, NULL), PL_EINVAL);
    o.size = sizeof o;
    o.pattern = "/t/cert"; /* taken */
    ck_assert_int_eq(http_http_route_opts(NULL, &o, h_cert, NULL), PL_EEXIST);
}
END_TEST

int main(void)
{
    core_base = event_base_new();
    core_dns = evdns_base_new(core_base, 0);
    char err[256];
    if (config_load_string("test_http.conf",
                           "[http]\nlisten = 127.0.0.1\nport = 0\nbody_limit = 2048\n"
                           "rate_limit = 1\nrate_burst = 20\nrequest_timeout = 2\n"
                           "idle_timeout = 3\nauth_fail_burst = 3\nauth_fail_rate = 1\n",
                           err, sizeof err) != 0) {
        fprintf(stderr, "config: %s\n", err);
        return EXIT_FAILURE;
    }
    if (http_init() != 0) {
        fprintf(stderr, "http_init failed\n");
        return EXIT_FAILURE;
    }
    /* after http_init, which loads the configured keys afresh */
    apikey_add("reader", PL_AUTH_READ, "read-key-000001");
    apikey_add("ops", PL_AUTH_OPERATOR, "op-key-00000001");
    apikey_add("burst", PL_AUTH_READ, "burst-key-00001");
    port = http_port();
    http_http_route(NULL, "GET", "/t/stations/{id}", PL_AUTH_READ, h_station, NULL);
    http_http_route(NULL, "GET", "/t/stations/compact", PL_AUTH_READ, h_compact, NULL);
    http_http_route(NULL, "POST", "/t/stations/{id}/reset", PL_AUTH_OPERATOR, h_reset, NULL);
    http_http_route(NULL, "GET", "/t/open", PL_AUTH_NONE, h_compact, NULL);
    http_http_route(NULL, "GET", "/t/conflict", PL_AUTH_READ, h_conflict, NULL);
    http_http_route(NULL, "GET", "/t/stream", PL_AUTH_READ, h_stream, NULL);
    struct pl_http_route_opts cert = {.size = sizeof cert, .method = "GET", .pattern = "/t/cert",
                                      .auth_scope = PL_AUTH_NONE, .flags = PL_ROUTE_CLIENT_CERT};
    http_http_route_opts(NULL, &cert, h_cert, NULL);
    http_http_route(NULL, "GET", "/t/nocert", PL_AUTH_READ, h_cert, NULL);

    Suite *s = suite_create("http");
    TCase *tc = tcase_create("router");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, path_parameters_are_decoded_and_literal_segments_win);
    tcase_add_test(tc, unknown_paths_are_404_and_wrong_methods_405_with_allow);
    tcase_add_test(tc, keys_and_scopes);
    tcase_add_test(tc, bearer_keys_and_www_authenticate);
    tcase_add_test(tc, failed_authentications_are_limited_per_address);
    tcase_add_test(tc, failure_table_is_bounded_and_keeps_active_clients);
    tcase_add_test(tc, json_bodies_malformed_json_and_size_limit);
    tcase_add_test(tc, handler_errors_keep_the_shape);
    tcase_add_test(tc, rate_limit_per_key_with_retry_after);
    tcase_add_test(tc, streamed_replies);
    tcase_add_test(tc, ambiguous_body_lengths_are_refused_before_the_handler);
    tcase_add_test(tc, what_libevent_would_answer_in_html_is_json);
    tcase_add_test(tc, slow_requests_time_out);
    tcase_add_test(tc, idle_keep_alive_connections_time_out);
    tcase_add_test(tc, next_request_right_behind_an_answer_is_read);
    tcase_add_test(tc, parameters_must_be_utf8);
    tcase_add_test(tc, json_bodies_need_a_json_content_type);
    tcase_add_test(tc, client_certificate_routes_refuse_requests_without_one);
    tcase_add_test(tc, route_options_are_checked);
    suite_add_tcase(s, tc);
    int rc = unit_run_suite(s);
    http_shutdown();
    apikey_free();
    config_free();
    evdns_base_free(core_dns, 0);
    event_base_free(core_base);
    return rc;
}
