/* test_dispatch.c — the specification of in-process requests (pl_host.http_dispatch in
 * core/http.c): the router's matching, 404/405 with Allow, the scope check against the
 * caller's scope, path and query parameters, the body limit and JSON parsing, headers in
 * and out, and the answer handed to a callback exactly once — at once, from a timer, or
 * never twice — with streaming routes refused; and of file-descriptor watchers
 * (pl_host.fd_watch*, core/fdwatch.c) on a pipe. */
#include <check.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "core.h"
#include "host.h"
#include "http.h"
#include "unit_loop.h"

static const struct pl_host *host;

/* ---- handlers ---- */
static void h_station(pl_request *req, void *arg)
{
    (void)arg;
    http_reply_header(req, "X-Seen", "yes");
    http_reply_json(req, 200, json_pack("{s:s, s:s?, s:s?, s:s?, s:i}", "id",
                                        http_req_param(req, "id"), "q", http_req_query(req, "q"),
                                        "key", http_req_key_name(req), "prefer",
                                        http_req_header(req, "Prefer"), "scope",
                                        http_req_scope(req)));
}

static void h_echo(pl_request *req, void *arg)
{
    (void)arg;
    json_t *body = http_req_json(req);
    http_reply_json(req, 201, json_pack("{s:O?}", "body", body));
}

/* Answers 202 from a timer, as a command waiting for its station does. */
static void later_fire(void *arg)
{
    pl_request *req = arg;
    http_reply_json(req, 202, json_pack("{s:s}", "status", "pending"));
}

static pl_timer *later_timer;

static void h_later(pl_request *req, void *arg)
{
    (void)arg;
    later_timer = host->timer_new(NULL, later_fire, req);
    host->timer_start(later_timer, 50, 0);
}

static int stream_begin_rc;

static void h_stream(pl_request *req, void *arg)
{
    (void)arg;
    stream_begin_rc = http_reply_stream_begin(req, 200, "text/event-stream");
    if (stream_begin_rc == PL_OK) { /* not in process: never reached in these tests */
        http_reply_stream_write(req, "data: 1\n\n", 9);
        http_reply_stream_end(req);
    }
}

/* ---- the caller ---- */
struct answer {
    int calls, status;
    char body[2048];
    char headers[512];
};

static void on_done(const struct pl_http_local_resp *resp, void *arg)
{
    struct answer *a = arg;
    a->calls++;
    a->status = resp->status;
    ck_assert_uint_eq(strlen(resp->body), resp->body_len);
    snprintf(a->body, sizeof a->body, "%s", resp->body);
    a->headers[0] = '\0';
    for (size_t i = 0; resp->headers[i]; i++)
        snprintf(a->headers + strlen(a->headers), sizeof a->headers - strlen(a->headers), "%s\n",
                 resp->headers[i]);
}

static int dispatch(struct answer *a, const char *method, const char *path, int scope,
                    const char *body, const char *const *headers)
{
    struct pl_http_local_req req = {sizeof req, method, path, body, body ? strlen(body) : 0,
                                    scope, "mcp:alice", headers};
    memset(a, 0, sizeof *a);
    return host->http_dispatch(NULL, &req, on_done, a);
}

static json_t *json_of(const struct answer *a)
{
    json_t *j = json_loads(a->body, 0, NULL);
    ck_assert_msg(j != NULL, "not JSON: %s", a->body);
    return j;
}

static void assert_error(const struct answer *a, int status, const char *code)
{
    ck_assert_int_eq(a->calls, 1);
    ck_assert_int_eq(a->status, status);
    json_t *j = json_of(a);
    ck_assert_str_eq(json_string_value(json_object_get(j, "code")), code);
    ck_assert(json_string_length(json_object_get(j, "error")) > 0);
    json_decref(j);
}

/* ---- the specification ---- */

START_TEST(a_sync_handler_answers_before_dispatch_returns)
{
    struct answer a;
    static const char *const hdrs[] = {"Prefer: respond-async", NULL};
    ck_assert_int_eq(dispatch(&a, "GET", "/d/stations/CP%2F7?q=a%20b", PL_AUTH_READ, NULL, hdrs),
                     PL_OK);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.status, 200);
    json_t *j = json_of(&a);
    ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "CP/7"); /* decoded */
    ck_assert_str_eq(json_string_value(json_object_get(j, "q")), "a b");
    ck_assert_str_eq(json_string_value(json_object_get(j, "key")), "mcp:alice");
    ck_assert_str_eq(json_string_value(json_object_get(j, "prefer")), "respond-async");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "scope")), PL_AUTH_READ);
    json_decref(j);
    ck_assert_ptr_nonnull(strstr(a.headers, "X-Seen: yes\n"));
    ck_assert_ptr_nonnull(strstr(a.headers, "Content-Type: application/json\n"));
    unit_run_for(20);
    ck_assert_int_eq(a.calls, 1);
}
END_TEST

START_TEST(an_async_handler_answers_once_later)
{
    struct answer a;
    ck_assert_int_eq(dispatch(&a, "GET", "/d/later", PL_AUTH_READ, NULL, NULL), PL_OK);
    ck_assert_int_eq(a.calls, 0); /* not yet: the timer answers */
    ck_assert(unit_run_until_flag(&a.calls, 2000));
    ck_assert_int_eq(a.status, 202);
    ck_assert_str_eq(a.body, "{\"status\":\"pending\"}");
    unit_run_for(100);
    ck_assert_int_eq(a.calls, 1);
    host->timer_free(later_timer);
}
END_TEST

START_TEST(unknown_paths_404_wrong_methods_405_with_allow)
{
    struct answer a;
    dispatch(&a, "GET", "/d/nothing", PL_AUTH_ADMIN, NULL, NULL);
    assert_error(&a, 404, "NOT_FOUND");
    dispatch(&a, "DELETE", "/d/stations/CP1", PL_AUTH_ADMIN, NULL, NULL);
    assert_error(&a, 405, "METHOD_NOT_ALLOWED");
    ck_assert_ptr_nonnull(strstr(a.headers, "Allow: GET\n"));
    dispatch(&a, "GET", "no-slash", PL_AUTH_ADMIN, NULL, NULL);
    assert_error(&a, 400, "BAD_REQUEST");
}
END_TEST

START_TEST(the_callers_scope_is_checked_against_the_route)
{
    struct answer a;
    dispatch(&a, "POST", "/d/echo", PL_AUTH_READ, "{}", NULL);
    assert_error(&a, 403, "FORBIDDEN");
    dispatch(&a, "GET", "/d/stations/CP1", PL_AUTH_NONE, NULL, NULL);
    assert_error(&a, 403, "FORBIDDEN");
    dispatch(&a, "POST", "/d/echo", PL_AUTH_OPERATOR, "{\"a\":1}", NULL);
    ck_assert_int_eq(a.status, 201);
    ck_assert_str_eq(a.body, "{\"body\":{\"a\":1}}");
}
END_TEST

START_TEST(bodies_are_limited_and_parsed)
{
    struct answer a;
    dispatch(&a, "POST", "/d/echo", PL_AUTH_ADMIN, "{\"a\":", NULL);
    assert_error(&a, 400, "INVALID_JSON");
    char big[3000];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    dispatch(&a, "POST", "/d/echo", PL_AUTH_ADMIN, big, NULL);
    assert_error(&a, 413, "PAYLOAD_TOO_LARGE");
    dispatch(&a, "POST", "/d/echo", PL_AUTH_ADMIN, NULL, NULL); /* no body: no JSON */
    ck_assert_int_eq(a.status, 201);
    ck_assert_str_eq(a.body, "{\"body\":null}");
}
END_TEST

START_TEST(parameters_and_headers_are_checked_as_from_the_wire)
{
    struct answer a;
    dispatch(&a, "GET", "/d/stations/CP%FF", PL_AUTH_ADMIN, NULL, NULL);
    assert_error(&a, 400, "INVALID_PARAMETER");
    dispatch(&a, "GET", "/d/stations/CP1?q=a%00b", PL_AUTH_ADMIN, NULL, NULL);
    assert_error(&a, 400, "INVALID_PARAMETER");
    static const char *const bad[] = {"no colon here", NULL};
    dispatch(&a, "GET", "/d/stations/CP1", PL_AUTH_ADMIN, NULL, bad);
    assert_error(&a, 400, "BAD_REQUEST");
}
END_TEST

START_TEST(streaming_routes_are_refused_with_501)
{
    struct answer a;
    stream_begin_rc = 0;
    dispatch(&a, "GET", "/d/stream", PL_AUTH_READ, NULL, NULL);
    ck_assert_int_eq(stream_begin_rc, PL_ENOTSUP);
    assert_error(&a, 501, "STREAMING_NOT_SUPPORTED");
}
END_TEST

START_TEST(bad_arguments_are_refused_without_a_callback)
{
    struct answer a = {0};
    struct pl_http_local_req req = {sizeof req, NULL, "/d/echo", NULL, 0, PL_AUTH_ADMIN, NULL,
                                    NULL};
    ck_assert_int_eq(host->http_dispatch(NULL, &req, on_done, &a), PL_EINVAL);
    req.method = "GET";
    ck_assert_int_eq(host->http_dispatch(NULL, &req, NULL, NULL), PL_EINVAL);
    ck_assert_int_eq(host->http_dispatch(NULL, NULL, on_done, &a), PL_EINVAL);
    ck_assert_int_eq(a.calls, 0);
}
END_TEST

/* ---- file-descriptor watchers ---- */
struct watched {
    int calls, events;
    char got[64];
    pl_fdwatch *self_free; /* freed inside its own callback when set */
};

static void on_fd(int fd, int events, void *arg)
{
    struct watched *w = arg;
    w->calls++;
    w->events = events;
    if (events & PL_FD_READ) {
        ssize_t n = read(fd, w->got + strlen(w->got), sizeof w->got - strlen(w->got) - 1);
        if (n > 0)
            w->got[strlen(w->got) + (size_t)n] = '\0';
    }
    if (w->self_free) {
        host->fd_watch_free(w->self_free);
        w->self_free = NULL;
    }
}

START_TEST(a_pipe_is_read_when_it_has_data)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    struct watched w = {0};
    pl_fdwatch *fw = host->fd_watch(NULL, p[0], PL_FD_READ, on_fd, &w);
    ck_assert_ptr_nonnull(fw);
    unit_run_for(20);
    ck_assert_int_eq(w.calls, 0); /* nothing to read */
    ck_assert_int_eq(write(p[1], "hello", 5), 5);
    ck_assert(unit_run_until_flag(&w.calls, 2000));
    ck_assert_int_eq(w.events, PL_FD_READ);
    ck_assert_str_eq(w.got, "hello");
    ck_assert_int_eq(write(p[1], " again", 6), 6); /* persistent: fires again */
    int before = w.calls;
    unit_run_for(50);
    ck_assert_int_gt(w.calls, before);
    ck_assert_str_eq(w.got, "hello again");

    ck_assert_int_eq(host->fd_watch_update(fw, 0), PL_OK); /* paused */
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    before = w.calls;
    unit_run_for(50);
    ck_assert_int_eq(w.calls, before);
    ck_assert_int_eq(host->fd_watch_update(fw, PL_FD_READ), PL_OK); /* resumed: the x */
    unit_run_for(50);
    ck_assert_str_eq(w.got, "hello againx");
    host->fd_watch_free(fw);
    close(p[0]);
    close(p[1]);
}
END_TEST

START_TEST(a_watcher_may_free_itself_and_writes_are_watched_too)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    struct watched w = {0};
    pl_fdwatch *fw = host->fd_watch(NULL, p[1], PL_FD_WRITE, on_fd, &w);
    ck_assert_ptr_nonnull(fw);
    w.self_free = fw; /* ASan sees a use after free if the loop touched it afterwards */
    ck_assert(unit_run_until_flag(&w.calls, 2000));
    ck_assert_int_eq(w.events, PL_FD_WRITE);
    unit_run_for(50);
    ck_assert_int_eq(w.calls, 1); /* freed: no more calls although still writable */
    close(p[0]);
    close(p[1]);

    ck_assert_ptr_null(host->fd_watch(NULL, -1, PL_FD_READ, on_fd, &w));
    ck_assert_ptr_null(host->fd_watch(NULL, p[0], PL_FD_READ, on_fd, &w)); /* closed fd */
    ck_assert_ptr_null(host->fd_watch(NULL, 0, 8, on_fd, &w));
    host->fd_watch_free(NULL);
}
END_TEST

int main(void)
{
    core_base = event_base_new();
    char err[256];
    if (config_load_string("test_dispatch.conf",
                           "[http]\nlisten = 127.0.0.1\nport = 0\nbody_limit = 2048\n", err,
                           sizeof err) != 0 ||
        http_init() != 0) {
        fprintf(stderr, "setup: %s\n", err);
        return EXIT_FAILURE;
    }
    host = host_table();
    http_http_route(NULL, "GET", "/d/stations/{id}", PL_AUTH_READ, h_station, NULL);
    http_http_route(NULL, "POST", "/d/echo", PL_AUTH_OPERATOR, h_echo, NULL);
    http_http_route(NULL, "GET", "/d/later", PL_AUTH_READ, h_later, NULL);
    http_http_route(NULL, "GET", "/d/stream", PL_AUTH_READ, h_stream, NULL);

    Suite *s = suite_create("dispatch");
    TCase *tc = tcase_create("dispatch");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, a_sync_handler_answers_before_dispatch_returns);
    tcase_add_test(tc, an_async_handler_answers_once_later);
    tcase_add_test(tc, unknown_paths_404_wrong_methods_405_with_allow);
    tcase_add_test(tc, the_callers_scope_is_checked_against_the_route);
    tcase_add_test(tc, bodies_are_limited_and_parsed);
    tcase_add_test(tc, parameters_and_headers_are_checked_as_from_the_wire);
    tcase_add_test(tc, streaming_routes_are_refused_with_501);
    tcase_add_test(tc, bad_arguments_are_refused_without_a_callback);
    tcase_add_test(tc, a_pipe_is_read_when_it_has_data);
    tcase_add_test(tc, a_watcher_may_free_itself_and_writes_are_watched_too);
    suite_add_tcase(s, tc);
    int rc = unit_run_suite(s);
    http_shutdown();
    config_free();
    event_base_free(core_base);
    return rc;
}
