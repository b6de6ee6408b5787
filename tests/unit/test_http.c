/* test_http.c — the specification of the HTTP router (core/http.c): path parameters and
 * the most specific route, 404/405 with Allow, API key scopes (401/403), JSON bodies and
 * errors (400/413), per-key rate limits (429 with Retry-After), streamed replies.  A
 * real listener and a real HTTP client (libevent's) on one loop. */
#include <check.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void h_reset(pl_request *req, void *arg)
{
    (void)arg;
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
    char allow[128], retry_after[16], content_type[64];
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
}

static struct answer call(const char *method, const char *target, const char *key, const char *body)
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
    if (key)
        evhttp_add_header(h, "X-API-Key", key);
    if (body) {
        evhttp_add_header(h, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    }
    evhttp_make_request(conn, req, cmd, target);
    for (uint64_t deadline = core_now_ms() + 5000; !a.done && core_now_ms() < deadline;)
        event_base_loop(core_base, EVLOOP_ONCE);
    evhttp_connection_free(conn);
    ck_assert_msg(a.done, "no answer to %s %s", method, target);
    return a;
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

int main(void)
{
    core_base = event_base_new();
    core_dns = evdns_base_new(core_base, 0);
    char err[256];
    if (config_load_string("test_http.conf",
                           "[http]\nlisten = 127.0.0.1\nport = 0\nbody_limit = 2048\n"
                           "rate_limit = 1\nrate_burst = 20\n",
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

    Suite *s = suite_create("http");
    TCase *tc = tcase_create("router");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, path_parameters_are_decoded_and_literal_segments_win);
    tcase_add_test(tc, unknown_paths_are_404_and_wrong_methods_405_with_allow);
    tcase_add_test(tc, keys_and_scopes);
    tcase_add_test(tc, json_bodies_malformed_json_and_size_limit);
    tcase_add_test(tc, handler_errors_keep_the_shape);
    tcase_add_test(tc, rate_limit_per_key_with_retry_after);
    tcase_add_test(tc, streamed_replies);
    suite_add_tcase(s, tc);
    int rc = unit_run_suite(s);
    http_shutdown();
    apikey_free();
    config_free();
    evdns_base_free(core_dns, 0);
    event_base_free(core_base);
    return rc;
}
