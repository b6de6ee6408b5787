/* test_ws.c — the specification of the WebSocket connection layer (core/ws.c): our
 * server and our client on one real event loop over loopback TCP.  Frame-level rules
 * are in test_frames.c; interoperability with an independent peer (npm ws) in
 * tests/integration/websocket.test.mjs. */
#include <check.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "unit_loop.h"
#include "ws.h"

/* ---- one side of a connection, as its callbacks saw it ---- */
struct side {
    ws_conn *c;
    int opened, closed, code;
    char reason[128];
    size_t nmsg;      /* messages received */
    int bad_order;    /* a message arrived that was not the next expected one */
    int echo;         /* send every message back */
    int last_is_text;
    char last[64];    /* the start of the last message */
};

static struct side srv, cli;
static int refuse_status;        /* the server's answer to upgrades: 0 accepts */
static struct ws_limits srv_lim; /* zero fields take the defaults */
static ws_listener *listener;

/* Message i: its length cycles through sizes around the frame length encodings, and
 * its bytes are a pattern derived from i, so order and integrity are both checked. */
static const size_t sizes[] = {1, 125, 126, 65535, 65536, 300000};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static char *make_msg(size_t i, size_t *len)
{
    *len = sizes[i % NSIZES];
    char *m = malloc(*len + 1);
    for (size_t j = 0; j < *len; j++)
        m[j] = (char)('a' + (i + j) % 26);
    m[*len] = '\0';
    return m;
}

static int msg_is(size_t i, const char *data, size_t len)
{
    size_t want;
    char *m = make_msg(i, &want);
    int ok = len == want && memcmp(m, data, len) == 0;
    free(m);
    return ok;
}

/* ---- callbacks ---- */
static int on_upgrade(void *arg, const struct ws_upgrade_req *req, const char **proto, void **conn_arg)
{
    (void)arg;
    if (refuse_status)
        return refuse_status;
    for (size_t i = 0; i < req->nprotocols; i++)
        if (strcmp(req->protocols[i], "ocpp1.6") == 0)
            *proto = req->protocols[i];
    *conn_arg = &srv;
    return 0;
}

static void on_open(ws_conn *c, void *arg)
{
    struct side *s = arg;
    s->c = c;
    s->opened = 1;
}

static void on_message(ws_conn *c, void *arg, int is_text, const char *data, size_t len)
{
    struct side *s = arg;
    if (len > 0 && data[0] >= 'a' && data[0] <= 'z' && !msg_is(s->nmsg, data, len))
        s->bad_order = 1;
    s->nmsg++;
    s->last_is_text = is_text;
    snprintf(s->last, sizeof s->last, "%.*s", (int)(len < 63 ? len : 63), data);
    if (s->echo)
        is_text ? ws_send_text(c, data, len) : ws_send_binary(c, data, len);
}

static void on_close(ws_conn *c, void *arg, int code, const char *reason)
{
    (void)c;
    struct side *s = arg;
    s->closed = 1;
    s->code = code;
    snprintf(s->reason, sizeof s->reason, "%s", reason ? reason : "");
    s->c = NULL;
}

static const struct ws_callbacks srv_cb = {on_upgrade, on_open, on_message, on_close};
static const struct ws_callbacks cli_cb = {NULL, on_open, on_message, on_close};

/* ---- the loop ---- */
static int run_until(const int *flag, unsigned ms)
{
    return unit_run_until_flag(flag, ms);
}

static size_t want_msgs;
static int got_all;
static void run_until_client_has(size_t n)
{
    want_msgs = n;
    for (uint64_t deadline = core_now_ms() + 20000; cli.nmsg < n && core_now_ms() < deadline;)
        event_base_loop(core_base, EVLOOP_ONCE);
    got_all = cli.nmsg >= want_msgs;
}

static void setup(void)
{
    core_base = event_base_new();
    core_dns = evdns_base_new(core_base, 0);
    memset(&srv, 0, sizeof srv);
    memset(&cli, 0, sizeof cli);
    memset(&srv_lim, 0, sizeof srv_lim);
    refuse_status = 0;
    listener = NULL;
}

static void teardown_loop(void)
{
    if (cli.c)
        ws_abort(cli.c);
    if (srv.c)
        ws_abort(srv.c);
    if (listener)
        ws_listener_free(listener);
    evdns_base_free(core_dns, 0);
    event_base_free(core_base);
    core_base = NULL;
    core_dns = NULL;
}

/* Listen, connect our client, and wait for both ends to open. */
static void connect_pair(const char *subprotocol)
{
    listener = ws_listen("127.0.0.1", 0, &srv_lim, &srv_cb, NULL);
    ck_assert_ptr_nonnull(listener);
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ocpp/CP1", ws_listener_port(listener));
    ck_assert_ptr_nonnull(ws_connect(url, subprotocol, NULL, NULL, NULL, NULL, &cli_cb, &cli));
    ck_assert(run_until(&cli.opened, 5000));
    ck_assert(run_until(&srv.opened, 5000));
}

/* ---- the specification ---- */

START_TEST(handshake_negotiates_the_subprotocol)
{
    connect_pair("ocpp1.6");
    ck_assert_str_eq(ws_subprotocol(cli.c), "ocpp1.6");
    ck_assert_str_eq(ws_subprotocol(srv.c), "ocpp1.6");
    ck_assert_str_eq(ws_path(srv.c), "/ocpp/CP1");
    ck_assert(ws_is_client(cli.c) && !ws_is_client(srv.c));
}
END_TEST

START_TEST(refused_upgrade_reaches_the_client_as_1006_with_the_status)
{
    refuse_status = 403;
    listener = ws_listen("127.0.0.1", 0, &srv_lim, &srv_cb, NULL);
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ocpp/CP1", ws_listener_port(listener));
    ck_assert_ptr_nonnull(ws_connect(url, "ocpp1.6", NULL, NULL, NULL, NULL, &cli_cb, &cli));
    ck_assert(run_until(&cli.closed, 5000));
    ck_assert_int_eq(cli.code, 1006);
    ck_assert_ptr_nonnull(strstr(cli.reason, "403"));
    ck_assert(!cli.opened && !srv.opened);
}
END_TEST

START_TEST(connect_failure_is_reported_through_on_close)
{
    /* a listener that is gone: its port refuses connections */
    ws_listener *l = ws_listen("127.0.0.1", 0, &srv_lim, &srv_cb, NULL);
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/x", ws_listener_port(l));
    ws_listener_free(l);
    ck_assert_ptr_nonnull(ws_connect(url, NULL, NULL, NULL, NULL, NULL, &cli_cb, &cli));
    ck_assert(run_until(&cli.closed, 5000));
    ck_assert_int_eq(cli.code, 1006);
    ck_assert(!cli.opened);
    /* and a URL that is not ws:// is refused at once */
    ck_assert_ptr_null(ws_connect("http://127.0.0.1:1/x", NULL, NULL, NULL, NULL, NULL, &cli_cb, &cli));
}
END_TEST

/* A burst larger than the kernel takes at once (the server does not read meanwhile):
 * the first frames go straight to the socket, the rest queue behind them.  Every
 * message must arrive whole and in order, and come back the same way. */
START_TEST(messages_of_every_size_arrive_whole_and_in_order_both_ways)
{
    srv_lim.max_output = 256u << 20; /* no back-pressure in this test: see the next one */
    struct ws_limits cli_lim = {0, 256u << 20, 0, 10};
    listener = ws_listen("127.0.0.1", 0, &srv_lim, &srv_cb, NULL);
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ocpp/CP1", ws_listener_port(listener));
    ck_assert_ptr_nonnull(ws_connect(url, "ocpp1.6", NULL, NULL, NULL, &cli_lim, &cli_cb, &cli));
    ck_assert(run_until(&cli.opened, 5000));
    ck_assert(run_until(&srv.opened, 5000));
    ws_pause_reading(srv.c, 1);
    size_t n = 0;
    while (ws_output_pending(cli.c) == 0 && n < 1000) { /* ~70 MB at most */
        size_t len;
        char *m = make_msg(n++, &len);
        ck_assert_int_eq(ws_send_text(cli.c, m, len), 0);
        free(m);
    }
    ck_assert_uint_gt(ws_output_pending(cli.c), 0); /* the queued path is taken */
    for (size_t stop = n + NSIZES; n < stop; n++) {  /* and more frames behind it */
        size_t len;
        char *m = make_msg(n, &len);
        ck_assert_int_eq(ws_send_text(cli.c, m, len), 0);
        free(m);
    }
    srv.echo = 1;
    ws_pause_reading(srv.c, 0);
    run_until_client_has(n);
    ck_assert(got_all);
    ck_assert_uint_eq(srv.nmsg, n);
    ck_assert(!srv.bad_order && !cli.bad_order);
    ck_assert_uint_eq(ws_output_pending(cli.c), 0);
    ck_assert_uint_eq(ws_output_pending(srv.c), 0);
    ck_assert(!srv.closed && !cli.closed);
}
END_TEST

START_TEST(binary_and_empty_messages)
{
    connect_pair(NULL);
    srv.echo = 1;
    const unsigned char bin[4] = {0, 0xff, 0x80, 1};
    ck_assert_int_eq(ws_send_binary(cli.c, bin, sizeof bin), 0);
    run_until_client_has(1);
    ck_assert(got_all && !cli.last_is_text);
    ck_assert_int_eq(ws_send_text(cli.c, "", 0), 0);
    run_until_client_has(2);
    ck_assert(got_all && cli.last_is_text && cli.last[0] == '\0');
}
END_TEST

/* A reader that stops reading makes its peer's output grow; past max_output the peer
 * stops reading too, and both resume, losing nothing, once the reader drains. */
START_TEST(back_pressure_pauses_reading_and_loses_nothing)
{
    srv_lim.max_output = 256 * 1024;
    connect_pair("ocpp1.6");
    ws_pause_reading(cli.c, 1);
    char *big = malloc(65536);
    memset(big, 'z', 65536);
    /* toward a client that does not read, until the kernel's socket buffers (autotuned:
     * several MB on loopback) are full and our own output queue grows past the limit */
    int sent = 0;
    while (sent < 1024 && ws_output_pending(srv.c) <= srv_lim.max_output) {
        ck_assert_int_eq(ws_send_text(srv.c, big, 65536), 0);
        sent++;
    }
    free(big);
    ck_assert_uint_gt(ws_output_pending(srv.c), srv_lim.max_output);
    /* the server no longer reads: a message from the client waits in the socket */
    ck_assert_int_eq(ws_send_text(cli.c, "hello", 5), 0);
    int never = 0;
    run_until(&never, 300);
    ck_assert_uint_eq(srv.nmsg, 0);
    /* the client reads again: every message arrives, then the server reads "hello" */
    ws_pause_reading(cli.c, 0);
    run_until_client_has(sent);
    ck_assert(got_all);
    for (uint64_t d = core_now_ms() + 5000; srv.nmsg < 1 && core_now_ms() < d;)
        event_base_loop(core_base, EVLOOP_ONCE);
    ck_assert_uint_eq(srv.nmsg, 1);
    ck_assert_str_eq(srv.last, "hello");
    ck_assert(!srv.closed && !cli.closed);
}
END_TEST

START_TEST(client_close_handshake_carries_code_and_reason)
{
    connect_pair("ocpp1.6");
    ws_close(cli.c, 4001, "going away for a test");
    ck_assert(run_until(&srv.closed, 5000));
    ck_assert(run_until(&cli.closed, 5000));
    ck_assert_int_eq(srv.code, 4001);
    ck_assert_str_eq(srv.reason, "going away for a test");
    ck_assert_int_eq(cli.code, 4001);
}
END_TEST

START_TEST(server_close_handshake)
{
    connect_pair("ocpp1.6");
    ws_close(srv.c, 1000, "bye");
    ck_assert(run_until(&cli.closed, 5000));
    ck_assert(run_until(&srv.closed, 5000));
    ck_assert_int_eq(cli.code, 1000);
    ck_assert_str_eq(cli.reason, "bye");
    ck_assert_int_eq(srv.code, 1000);
}
END_TEST

START_TEST(oversized_message_closes_with_1009)
{
    srv_lim.max_message = 1000;
    connect_pair("ocpp1.6");
    char big[2000];
    memset(big, 'a', sizeof big);
    ck_assert_int_eq(ws_send_text(cli.c, big, sizeof big), 0);
    ck_assert(run_until(&srv.closed, 5000));
    ck_assert(run_until(&cli.closed, 5000));
    ck_assert_int_eq(srv.code, 1009);
    ck_assert_int_eq(cli.code, 1009);
    ck_assert_uint_eq(srv.nmsg, 0);
}
END_TEST

START_TEST(invalid_utf8_text_closes_with_1007)
{
    connect_pair("ocpp1.6");
    ck_assert_int_eq(ws_send_text(cli.c, "\xc3\x28", 2), 0);
    ck_assert(run_until(&srv.closed, 5000));
    ck_assert_int_eq(srv.code, 1007);
    ck_assert(run_until(&cli.closed, 5000));
    ck_assert_int_eq(cli.code, 1007);
}
END_TEST

START_TEST(vanishing_peer_is_1006)
{
    connect_pair("ocpp1.6");
    ws_conn *c = cli.c;
    ws_abort(c);
    ck_assert(cli.closed && cli.code == 1006); /* reported at once, then freed */
    ck_assert(run_until(&srv.closed, 5000));
    ck_assert_int_eq(srv.code, 1006);
}
END_TEST

START_TEST(send_after_close_started_is_refused)
{
    connect_pair("ocpp1.6");
    ws_close(srv.c, 1000, "done");
    ck_assert_int_eq(ws_send_text(srv.c, "late", 4), -1);
    ck_assert(run_until(&srv.closed, 5000));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ws");
    TCase *tc = tcase_create("connections");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown_loop);
    tcase_add_test(tc, handshake_negotiates_the_subprotocol);
    tcase_add_test(tc, refused_upgrade_reaches_the_client_as_1006_with_the_status);
    tcase_add_test(tc, connect_failure_is_reported_through_on_close);
    tcase_add_test(tc, messages_of_every_size_arrive_whole_and_in_order_both_ways);
    tcase_add_test(tc, binary_and_empty_messages);
    tcase_add_test(tc, back_pressure_pauses_reading_and_loses_nothing);
    tcase_add_test(tc, client_close_handshake_carries_code_and_reason);
    tcase_add_test(tc, server_close_handshake);
    tcase_add_test(tc, oversized_message_closes_with_1009);
    tcase_add_test(tc, invalid_utf8_text_closes_with_1007);
    tcase_add_test(tc, vanishing_peer_is_1006);
    tcase_add_test(tc, send_after_close_started_is_refused);
    suite_add_tcase(s, tc);
    return unit_run_suite(s);
}
