/* test_rpc.c — the specification of the OCPP-J RPC layer (core/ocppj.c) between our
 * own server and client on one loop: one outstanding CALL per direction with a bounded
 * queue, answers in order, deadlines, CALLERRORs, validation of what we send and what
 * we are answered, and pending calls completed when the connection goes.  Interop
 * with an independent peer is in the integration tests (ocpp-rpc, strict mode). */
#include <check.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core.h"
#include "ocppj.h"
#include "unit_loop.h"

static const struct pl_ocpp_api *api;
static int port;

/* ---- the server side: records CALLs, answers only when a test says so ---- */
#define MAXCALLS 32
struct seen_call {
    pl_ocpp_conn *c;
    char id[64], action[64];
    json_t *payload;
    int answered; /* once every CALL on a closed connection is answered, it is freed */
};
static struct seen_call srv_calls[MAXCALLS], cli_calls[MAXCALLS];
static int nsrv_calls, ncli_calls;
static pl_ocpp_conn *srv_conn, *cli_conn;
static int srv_open, cli_open, srv_closed, cli_closed;

static void record(struct seen_call *v, int *n, pl_ocpp_conn *c, const char *id, const char *action, json_t *p)
{
    if (*n >= MAXCALLS)
        return;
    v[*n].c = c;
    snprintf(v[*n].id, sizeof v[*n].id, "%s", id);
    snprintf(v[*n].action, sizeof v[*n].action, "%s", action);
    v[*n].payload = json_deep_copy(p);
    v[*n].answered = 0;
    (*n)++;
}

static int answer(struct seen_call *sc, json_t *payload)
{
    sc->answered = 1;
    return api->reply(sc->c, sc->id, payload);
}

static int answer_error(struct seen_call *sc, const char *code, const char *why)
{
    sc->answered = 1;
    return api->reply_error(sc->c, sc->id, code, why, NULL);
}

static int srv_authorize(void *arg, const struct pl_ocpp_handshake *hs)
{
    (void)arg;
    return strcmp(hs->station_id, "RPC-1") == 0 ? 0 : 404;
}
static void srv_on_open(void *arg, pl_ocpp_conn *c)
{
    (void)arg;
    srv_conn = c;
    srv_open = 1;
}
static void srv_on_call(void *arg, pl_ocpp_conn *c, const char *id, const char *action, json_t *p)
{
    (void)arg;
    record(srv_calls, &nsrv_calls, c, id, action, p);
}
static void srv_on_close(void *arg, pl_ocpp_conn *c, int code, const char *reason)
{
    (void)arg;
    (void)code;
    (void)reason;
    if (c == srv_conn)
        srv_conn = NULL;
    srv_closed = 1;
}
static const struct pl_ocpp_handler srv_handler = {sizeof srv_handler, "ocpp1.6", srv_authorize, srv_on_open,
                                                   srv_on_call, srv_on_close};

static void cli_on_open(void *arg, pl_ocpp_conn *c)
{
    (void)arg;
    cli_conn = c;
    cli_open = 1;
}
static void cli_on_call(void *arg, pl_ocpp_conn *c, const char *id, const char *action, json_t *p)
{
    (void)arg;
    record(cli_calls, &ncli_calls, c, id, action, p);
}
static void cli_on_close(void *arg, pl_ocpp_conn *c, int code, const char *reason)
{
    (void)arg;
    (void)c;
    (void)code;
    (void)reason;
    cli_conn = NULL;
    cli_closed = 1;
}
static const struct pl_ocpp_handler cli_handler = {sizeof cli_handler, "ocpp1.6", NULL, cli_on_open, cli_on_call,
                                                   cli_on_close};

/* ---- results of our CALLs, in the order they completed ---- */
struct outcome {
    int kind, tag;
    char code[64];
    json_t *payload;
};
static struct outcome results[MAXCALLS];
static int nresults;

static void on_result(void *arg, pl_ocpp_conn *c, const struct pl_ocpp_result *r)
{
    (void)c;
    if (nresults >= MAXCALLS)
        return;
    results[nresults].kind = r->kind;
    results[nresults].tag = (int)(intptr_t)arg;
    snprintf(results[nresults].code, sizeof results[nresults].code, "%s", r->error_code ? r->error_code : "");
    results[nresults].payload = r->payload ? json_deep_copy(r->payload) : NULL;
    nresults++;
}

/* ---- the loop ---- */
struct int_at_least {
    const int *v;
    int want;
};

static int reached(void *arg)
{
    const struct int_at_least *w = arg;
    return *w->v >= w->want;
}

static int run_until_int(const int *v, int want, unsigned ms)
{
    struct int_at_least w = {v, want};
    return unit_run_until(reached, &w, ms);
}

static void run_for(unsigned ms)
{
    unit_run_for(ms);
}

static void reset_records(void)
{
    for (int i = 0; i < nsrv_calls; i++)
        json_decref(srv_calls[i].payload);
    for (int i = 0; i < ncli_calls; i++)
        json_decref(cli_calls[i].payload);
    for (int i = 0; i < nresults; i++)
        json_decref(results[i].payload);
    nsrv_calls = ncli_calls = nresults = 0;
}

static void connect_pair(void)
{
    reset_records();
    srv_open = cli_open = srv_closed = cli_closed = 0;
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ocpp", port);
    struct pl_ocpp_client_opts o = {sizeof o, url, "RPC-1", "ocpp1.6", NULL, NULL, 1, 1, NULL, NULL, NULL};
    ck_assert_ptr_nonnull(api->connect(NULL, &o, &cli_handler, NULL));
    ck_assert(run_until_int(&cli_open, 1, 5000));
    ck_assert(run_until_int(&srv_open, 1, 5000));
}

static void disconnect_pair(void)
{
    if (cli_conn)
        api->close(cli_conn, 1000, "test over");
    run_until_int(&cli_closed, 1, 5000);
    run_until_int(&srv_closed, 1, 5000);
    /* CALLs the test left unanswered keep their connection alive: answer them */
    for (int i = 0; i < nsrv_calls; i++)
        if (!srv_calls[i].answered)
            answer_error(&srv_calls[i], "GenericError", "test over");
    for (int i = 0; i < ncli_calls; i++)
        if (!cli_calls[i].answered)
            answer_error(&cli_calls[i], "GenericError", "test over");
    reset_records();
}

static int call(pl_ocpp_conn *c, const char *action, json_t *payload, unsigned timeout_ms, int tag, char *err)
{
    return api->call(c, action, payload, timeout_ms, on_result, (void *)(intptr_t)tag, err, 200);
}

/* ---- the specification ---- */

START_TEST(one_outstanding_call_at_a_time_answered_in_order)
{
    char err[200];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(call(cli_conn, "Heartbeat", json_object(), 0, i, err), PL_OK);
    ck_assert(run_until_int(&nsrv_calls, 1, 5000));
    run_for(100);
    ck_assert_int_eq(nsrv_calls, 1); /* the other two wait in the client's queue */
    for (int i = 0; i < 3; i++) {
        ck_assert(run_until_int(&nsrv_calls, i + 1, 5000));
        ck_assert_str_eq(srv_calls[i].action, "Heartbeat");
        char ts[40];
        char when[48];
        snprintf(when, sizeof when, "%s", core_now_rfc3339(ts, sizeof ts));
        ck_assert_int_eq(answer(&srv_calls[i], json_pack("{s:s}", "currentTime", when)), PL_OK);
        ck_assert(run_until_int(&nresults, i + 1, 5000));
        ck_assert_int_eq(results[i].kind, PL_OCPP_RESULT);
        ck_assert_int_eq(results[i].tag, i);
        ck_assert_str_eq(json_string_value(json_object_get(results[i].payload, "currentTime")), when);
    }
    for (int i = 1; i < 3; i++) /* message ids are unique on the connection */
        ck_assert_str_ne(srv_calls[i].id, srv_calls[i - 1].id);
}
END_TEST

START_TEST(the_queue_is_bounded)
{
    char err[200];
    int busy = 0;
    for (int i = 0; i < 6; i++) { /* queue_max = 3 in this test's configuration */
        int rc = call(cli_conn, "Heartbeat", json_object(), 0, i, err);
        if (rc == PL_EBUSY)
            busy++;
        else
            ck_assert_int_eq(rc, PL_OK);
    }
    ck_assert_int_ge(busy, 1);
    ck_assert_ptr_nonnull(strstr(err, "queue"));
}
END_TEST

START_TEST(what_we_send_is_validated_first)
{
    char err[200] = "";
    ck_assert_int_eq(call(cli_conn, "BootNotification", json_pack("{s:s}", "chargePointModel", "M"), 0, 0, err),
                     PL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "chargePointVendor"));
    ck_assert_int_eq(call(cli_conn, "NoSuchAction", json_object(), 0, 0, err), PL_EINVAL);
    /* a central-system action is not something a charge point sends */
    ck_assert_int_eq(call(cli_conn, "Reset", json_pack("{s:s}", "type", "Soft"), 0, 0, err), PL_EINVAL);
    run_for(100);
    ck_assert_int_eq(nsrv_calls, 0);
    ck_assert_int_eq(nresults, 0); /* refused calls never call back */
}
END_TEST

START_TEST(no_answer_times_out_and_the_queue_moves_on)
{
    char err[200];
    ck_assert_int_eq(call(cli_conn, "Heartbeat", json_object(), 200, 1, err), PL_OK);
    ck_assert_int_eq(call(cli_conn, "Heartbeat", json_object(), 0, 2, err), PL_OK);
    ck_assert(run_until_int(&nresults, 1, 5000));
    ck_assert_int_eq(results[0].kind, PL_OCPP_TIMEOUT);
    ck_assert_int_eq(results[0].tag, 1);
    /* the second CALL goes out after the first timed out; a late answer to the first
     * is ignored */
    ck_assert(run_until_int(&nsrv_calls, 2, 5000));
    answer(&srv_calls[0], json_pack("{s:s}", "currentTime", "2026-01-01T00:00:00Z"));
    answer(&srv_calls[1], json_pack("{s:s}", "currentTime", "2026-01-01T00:00:01Z"));
    ck_assert(run_until_int(&nresults, 2, 5000));
    ck_assert_int_eq(results[1].kind, PL_OCPP_RESULT);
    ck_assert_int_eq(results[1].tag, 2);
    ck_assert_str_eq(json_string_value(json_object_get(results[1].payload, "currentTime")), "2026-01-01T00:00:01Z");
    run_for(50);
    ck_assert_int_eq(nresults, 2);
}
END_TEST

START_TEST(callerrors_reach_the_caller)
{
    char err[200];
    ck_assert_int_eq(call(cli_conn, "DataTransfer", json_pack("{s:s}", "vendorId", "acme"), 0, 7, err), PL_OK);
    ck_assert(run_until_int(&nsrv_calls, 1, 5000));
    answer_error(&srv_calls[0], "NotSupported", "not here");
    ck_assert(run_until_int(&nresults, 1, 5000));
    ck_assert_int_eq(results[0].kind, PL_OCPP_ERROR);
    ck_assert_str_eq(results[0].code, "NotSupported");
}
END_TEST

START_TEST(an_invalid_answer_becomes_internal_error)
{
    char err[200];
    ck_assert_int_eq(call(cli_conn, "Heartbeat", json_object(), 0, 1, err), PL_OK);
    ck_assert(run_until_int(&nsrv_calls, 1, 5000));
    /* currentTime is required: the server's reply is refused and replaced */
    answer(&srv_calls[0], json_object());
    ck_assert(run_until_int(&nresults, 1, 5000));
    ck_assert_int_eq(results[0].kind, PL_OCPP_ERROR);
    ck_assert_str_eq(results[0].code, "InternalError");
}
END_TEST

START_TEST(central_system_calls_reach_the_station)
{
    char err[200];
    ck_assert_int_eq(call(srv_conn, "Reset", json_pack("{s:s}", "type", "Soft"), 0, 3, err), PL_OK);
    ck_assert(run_until_int(&ncli_calls, 1, 5000));
    ck_assert_str_eq(cli_calls[0].action, "Reset");
    ck_assert_str_eq(json_string_value(json_object_get(cli_calls[0].payload, "type")), "Soft");
    answer(&cli_calls[0], json_pack("{s:s}", "status", "Accepted"));
    ck_assert(run_until_int(&nresults, 1, 5000));
    ck_assert_int_eq(results[0].kind, PL_OCPP_RESULT);
    ck_assert_str_eq(json_string_value(json_object_get(results[0].payload, "status")), "Accepted");
}
END_TEST

START_TEST(closing_completes_every_pending_call)
{
    char err[200];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(call(cli_conn, "Heartbeat", json_object(), 0, i, err), PL_OK);
    ck_assert(run_until_int(&nsrv_calls, 1, 5000));
    api->close(srv_conn, 1000, "going away");
    ck_assert(run_until_int(&nresults, 3, 5000));
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(results[i].kind, PL_OCPP_CLOSED);
    ck_assert(run_until_int(&cli_closed, 1, 5000));
    /* a late answer on a connection that is gone is dropped, and frees it */
    ck_assert_int_eq(answer(&srv_calls[0], json_pack("{s:s}", "currentTime", "2026-01-01T00:00:00Z")), PL_EOFFLINE);
}
END_TEST

START_TEST(unknown_stations_are_refused_at_the_handshake)
{
    disconnect_pair();
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ocpp", port);
    struct pl_ocpp_client_opts o = {sizeof o, url, "STRANGER", "ocpp1.6", NULL, NULL, 1, 1, NULL, NULL, NULL};
    cli_closed = srv_open = 0;
    ck_assert_ptr_nonnull(api->connect(NULL, &o, &cli_handler, NULL));
    ck_assert(run_until_int(&cli_closed, 1, 5000));
    ck_assert_int_eq(srv_open, 0);
    connect_pair(); /* for the fixture's teardown */
}
END_TEST

int main(void)
{
    core_base = event_base_new();
    core_dns = evdns_base_new(core_base, 0);
    char err[256];
    if (config_load_string("test_rpc.conf",
                           "[core]\nlog_level = error\n[ocpp]\nlisten = 127.0.0.1\nport = 0\nping_interval = 0\n"
                           "queue_max = 3\n",
                           err, sizeof err) != 0) {
        fprintf(stderr, "config: %s\n", err);
        return EXIT_FAILURE;
    }
    if (ocppj_init() != 0) {
        fprintf(stderr, "ocppj_init failed\n");
        return EXIT_FAILURE;
    }
    port = ocppj_port();
    api = ocppj_api();
    int rc = api->register_handler(NULL, &srv_handler, NULL);
    if (rc != PL_OK) {
        fprintf(stderr, "register_handler: %d\n", rc);
        return EXIT_FAILURE;
    }

    Suite *s = suite_create("rpc");
    TCase *tc = tcase_create("ocpp-j");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, connect_pair, disconnect_pair);
    tcase_add_test(tc, one_outstanding_call_at_a_time_answered_in_order);
    tcase_add_test(tc, the_queue_is_bounded);
    tcase_add_test(tc, what_we_send_is_validated_first);
    tcase_add_test(tc, no_answer_times_out_and_the_queue_moves_on);
    tcase_add_test(tc, callerrors_reach_the_caller);
    tcase_add_test(tc, an_invalid_answer_becomes_internal_error);
    tcase_add_test(tc, central_system_calls_reach_the_station);
    tcase_add_test(tc, closing_completes_every_pending_call);
    tcase_add_test(tc, unknown_stations_are_refused_at_the_handshake);
    suite_add_tcase(s, tc);
    int rc_suite = unit_run_suite(s);
    ocppj_shutdown();
    run_for(200);
    ocppj_shutdown();
    config_free();
    evdns_base_free(core_dns, 0);
    event_base_free(core_base);
    return rc_suite;
}
