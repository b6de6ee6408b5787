/* test_plugins.c — the specification of the plugin lifecycle (ABI 1.2), through the
 * real loader and real plugins (tests/plugins, sdk/example): a plugin that fails its
 * init leaves no registration behind, declared config keys are checked (at init, in
 * --check-config, on SIGHUP), and a SIGHUP reload is all-or-nothing.  Runs in the build
 * tree (make check), where the test plugins are built. */
#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "certs.h"
#include "outbox.h"
#include "config.h"
#include "core.h"
#include "db.h"
#include "host.h"
#include "http.h"
#include "ocppj.h"
#include "plugin_loader.h"
#include "unit_loop.h"

static char logpath[64], confpath[64];

/* Everything the daemon logs goes to a file the test reads. */
static void setup(void)
{
    snprintf(logpath, sizeof logpath, "/tmp/pipelet-test-plugins-%d.log", (int)getpid());
    snprintf(confpath, sizeof confpath, "/tmp/pipelet-test-plugins-%d.conf", (int)getpid());
    unlink(logpath);
    ck_assert_int_eq(core_log_open(logpath, PL_LOG_DEBUG), 0);
    core_base = event_base_new();
}

static void teardown(void)
{
    loader_fini_all();
    http_shutdown();
    config_free();
    core_log_open(NULL, PL_LOG_INFO);
    event_base_free(core_base);
    core_base = NULL;
    unlink(logpath);
    unlink(confpath);
}

static char *log_text(void)
{
    static char buf[65536];
    FILE *fp = fopen(logpath, "r");
    size_t n = fp ? fread(buf, 1, sizeof buf - 1, fp) : 0;
    if (fp)
        fclose(fp);
    buf[n] = '\0';
    return buf;
}

static void write_conf(const char *text)
{
    FILE *fp = fopen(confpath, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
}

static void load_conf(const char *text)
{
    char err[512];
    write_conf(text);
    ck_assert_msg(config_load(confpath, NULL, 0, err, sizeof err) == 0, "%s", err);
}

static int routes_under(const char *prefix)
{
    json_t *routes = http_routes_json();
    size_t i;
    json_t *r;
    int n = 0;
    json_array_foreach(routes, i, r)
        n += strncmp(json_string_value(json_object_get(r, "pattern")), prefix, strlen(prefix)) == 0;
    json_decref(routes);
    return n;
}

static int no_auth(void *arg, const struct pl_ocpp_handshake *hs) { (void)arg, (void)hs; return 0; }

/* Registering what lc_initfail registered must work again: nothing of it is left. */
static void no_deliver(void *arg, const struct pl_outbox_item *item, pl_outbox_delivery *d)
{
    (void)arg;
    (void)item;
    (void)d;
}

static void assert_all_released(void)
{
    ck_assert_int_eq(routes_under("/lc/"), 0);
    ck_assert(!bus_has_subscribers("station.connected"));
    static const struct pl_ocpp_handler h16 = {sizeof h16, "ocpp1.6", no_auth, NULL, NULL, NULL};
    ck_assert_int_eq(ocppj_api()->register_handler(NULL, &h16, NULL), PL_OK);
    ck_assert_int_eq(ocppj_remove_owner(NULL), 1);
    static const struct pl_cert_provider p = {.size = sizeof p};
    ck_assert_int_eq(certs_api()->provide(NULL, &p, NULL), PL_OK);
    ck_assert_int_eq(certs_remove_owner(NULL), 1);
    static const struct pl_migration m[] = {{1, "x", "SELECT 1"}};
    ck_assert_int_eq(db_add_migrations("lc_initfail", m, 1), PL_OK); /* not PL_EEXIST */
    ck_assert_int_eq(db_remove_migrations("lc_initfail"), 1);
    struct pl_outbox_sender sender = {.size = sizeof sender, .queue = "lc_initfail", .deliver = no_deliver};
    ck_assert_int_eq(outbox_api()->register_sender(NULL, &sender), PL_OK); /* not PL_EEXIST */
    ck_assert_int_eq(outbox_remove_owner(NULL), 1);
}

START_TEST(a_failed_init_leaves_nothing_registered)
{
    load_conf("[plugins]\ndir = tests/plugins\nload = lc_initfail\n");
    ck_assert_int_eq(loader_load_all(host_table()), 0); /* not required: the daemon goes on */
    const char *log = log_text();
    ck_assert_ptr_nonnull(strstr(log, "registered one of each; now failing"));
    ck_assert_ptr_nonnull(strstr(log, "plugin lc_initfail failed its init: removed 1 HTTP route(s), 1 OCPP "
                                      "handler(s), 1 certificate provider(s), 1 timer(s), 1 migration set(s), "
                                      "1 bus subscription(s), 1 remote authorizer(s), 1 outbox sender(s)"));
    assert_all_released();
    /* its 20 ms timer was armed: had it survived, its callback (abort) would run now */
    int never = 0;
    unit_run_until(unit_flag_set, &never, 100);
}
END_TEST

/* The SDK example registers its route, then subscribes: when the subscription fails,
 * init frees its state and fails.  The route must not stay behind with freed state. */
static pl_subscription *failing_subscribe(pl_plugin_handle *self, const char *pattern, pl_bus_cb cb,
                                          void *arg)
{
    (void)self, (void)pattern, (void)cb, (void)arg;
    return NULL;
}

START_TEST(the_sdk_example_failing_after_its_route_leaves_no_route)
{
    load_conf("[plugins]\ndir = sdk/example\nload = hello\n[hello]\ngreeting = Hi\n");
    struct pl_host host = *host_table();
    host.bus_subscribe = failing_subscribe;
    ck_assert_int_eq(loader_load_all(&host), 0);
    ck_assert_ptr_nonnull(strstr(log_text(), "plugin hello failed its init: removed 1 HTTP route(s)"));
    ck_assert_int_eq(routes_under("/hello/"), 0);
    /* and with a working bus it loads, serves its route, and fini leaves nothing */
    ck_assert_int_eq(loader_load_all(host_table()), 0);
    ck_assert_int_eq(routes_under("/hello/"), 1);
    loader_fini_all();
    ck_assert_int_eq(routes_under("/hello/"), 0);
}
END_TEST

START_TEST(fini_is_followed_by_removing_what_the_plugin_left)
{
    load_conf("[plugins]\ndir = tests/plugins\nload = lc_config\n");
    ck_assert_int_eq(loader_load_all(host_table()), 0);
    ck_assert_int_eq(routes_under("/lc/v1/config"), 1);
    ck_assert(bus_has_subscribers("station.connected"));
    loader_fini_all(); /* lc_config's fini frees its state only */
    ck_assert_ptr_nonnull(strstr(log_text(), "plugin lc_config after fini: removed 1 HTTP route(s), 0 OCPP "
                                             "handler(s), 0 certificate provider(s), 1 timer(s), 0 migration "
                                             "set(s), 1 bus subscription(s), 0 remote authorizer(s), 0 outbox "
                                             "sender(s)"));
    ck_assert_int_eq(routes_under("/lc/"), 0);
    ck_assert(!bus_has_subscribers("station.connected"));
    ck_assert_int_eq(host_timers_free_owner(NULL), 0);
}
END_TEST

/* Each bad value in a declared section is one error naming file:line, like core keys. */
START_TEST(declared_keys_are_checked_with_file_and_line)
{
    load_conf("[plugins]\ndir = tests/plugins\nload = lc_config\n"
              "[lc_config]\n"
              "colour = red\n"          /* line 5: a typo */
              "count = 101\n"           /* 6 */
              "enabled = maybe\n"       /* 7 */
              "mode = medium\n"         /* 8 */
              "colours = red, pink\n"   /* 9 */
              "port = http\n");         /* 10 */
    ck_assert_int_eq(loader_load_all(host_table()), 0);
    const char *log = log_text();
    char want[256];
    const char *const lines[] = {
        "%s:5: unknown key 'colour' in [lc_config]",
        "%s:6: [lc_config] count: 101 is outside 0..100",
        "%s:7: [lc_config] enabled: 'maybe' is not a boolean (yes/no)",
        "%s:8: [lc_config] mode: 'medium' is not one of fast, slow",
        "%s:9: [lc_config] colours: 'pink' is not one of red, green, blue",
        "%s:10: [lc_config] port: 'http' is not an integer",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        snprintf(want, sizeof want, lines[i], confpath);
        ck_assert_msg(strstr(log, want) != NULL, "missing '%s' in:\n%s", want, log);
    }
    ck_assert_ptr_nonnull(strstr(log, "plugin lc_config ("));
    ck_assert_int_eq(routes_under("/lc/"), 0); /* refused: init stopped at the declaration */
    /* required, the same file stops the daemon */
    load_conf("[plugins]\ndir = tests/plugins\nload = lc_config\nrequired = lc_config\n[lc_config]\ncolour = red\n");
    ck_assert_int_eq(loader_load_all(host_table()), -1);
}
END_TEST

START_TEST(check_config_reads_declarations_without_starting_plugins)
{
    load_conf("[plugins]\ndir = tests/plugins:sdk/example\nload = lc_config lc_initfail hello abi_old\n"
              "[lc_config]\ncount = 5\n[hello]\nmax_name = 10\n");
    ck_assert_int_eq(loader_check_all(), 0);
    /* check mode: init stopped at config_declare, nothing registered, nothing logged by it */
    ck_assert_int_eq(routes_under("/"), 0);
    const char *log = log_text();
    ck_assert_ptr_null(strstr(log, "now failing"));
    ck_assert_ptr_null(strstr(log, "removed"));
    ck_assert_ptr_nonnull(strstr(log, "plugin abi_old (ABI 1.0) declares no config keys"));
    load_conf("[plugins]\ndir = tests/plugins:sdk/example\nload = hello lc_initfail\n"
              "[hello]\nmax_name = 500\n[lc_initfail]\nanything = 1\n");
    ck_assert_int_eq(loader_check_all(), -1); /* not required, yet the file is wrong */
    log = log_text();
    ck_assert_ptr_nonnull(strstr(log, ":5: [hello] max_name: 500 is outside 1..200"));
    ck_assert_ptr_nonnull(strstr(log, ":7: unknown key 'anything' in [lc_initfail]"));
    ck_assert_int_eq(routes_under("/"), 0);
}
END_TEST

START_TEST(a_reload_is_checked_whole_then_applied)
{
    char err[256];
    load_conf("[core]\nlog_level = debug\nauth_unknown = accept\n[lc_config]\ngreeting = one\ncount = 1\n");
    config_set("http", "port", "43210"); /* an effective value found at run time */
    const char *greeting = core_config_get("lc_config", "greeting");
    const char *count = core_config_get("lc_config", "count");

    /* broken: an unknown core key and a core value out of range -> abort, nothing changes */
    write_conf("[core]\nlog_level = debug\nauth_unknown = accept\nauth_remote_timeout = 5\n"
               "[lc_config]\ngreeting = two\n");
    ck_assert_int_eq(config_stage_reload(err, sizeof err), 0);
    ck_assert_int_eq(config_check_core(), 1);
    config_abort();
    ck_assert_ptr_eq(core_config_get("lc_config", "greeting"), greeting);
    ck_assert_str_eq(greeting, "one");
    ck_assert_ptr_nonnull(strstr(log_text(), ":4: [core] auth_remote_timeout: 5 is outside 100..60000"));

    /* a syntax error: staging itself fails, with file:line */
    write_conf("[core\n");
    ck_assert_int_eq(config_stage_reload(err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, ":1: malformed section header"));
    ck_assert_str_eq(core_config_get("lc_config", "greeting"), "one");

    /* good: changed values change, unchanged ones keep their pointer, runtime ones stay */
    write_conf("[core]\nlog_level = debug\nauth_unknown = reject\n[lc_config]\ngreeting = two\ncount = 1\n");
    ck_assert_int_eq(config_stage_reload(err, sizeof err), 0);
    ck_assert_int_eq(config_check_core(), 0);
    ck_assert(config_changed("lc_config", "greeting"));
    ck_assert(!config_changed("lc_config", "count"));
    ck_assert_str_eq(config_previous("core", "auth_unknown"), "accept");
    config_commit();
    ck_assert_str_eq(core_config_get("lc_config", "greeting"), "two");
    ck_assert_str_eq(core_config_get("core", "auth_unknown"), "reject");
    ck_assert_ptr_eq(core_config_get("lc_config", "count"), count);
    ck_assert_str_eq(greeting, "one"); /* a plugin still holding the old value reads it safely */
    ck_assert_str_eq(core_config_get("http", "port"), "43210");
}
END_TEST

START_TEST(a_reload_reports_what_needs_a_restart)
{
    load_conf("[http]\nport = 8080\n[plugins]\ndir = tests/plugins\nload = lc_config\n[lc_config]\nport = 7\n");
    ck_assert_int_eq(loader_load_all(host_table()), 0);
    ck_assert_int_eq(loader_start_all(), 0);
    write_conf("[http]\nport = 8081\n[plugins]\ndir = tests/plugins\nload = lc_config\n[lc_config]\nport = 8\n"
               "greeting = new\n");
    loader_reload_all();
    const char *log = log_text();
    ck_assert_ptr_nonnull(strstr(log, ":2: [http] port changed to '8081': takes effect after a restart"));
    ck_assert_ptr_nonnull(strstr(log, ":7: [lc_config] port changed to '8': takes effect after a restart"));
    ck_assert_ptr_nonnull(strstr(log, "SIGHUP: configuration re-read; 2 change(s) take effect after a restart"));
    ck_assert_str_eq(core_config_get("lc_config", "greeting"), "new");
    /* a plugin's section is checked against its declarations before anything changes */
    write_conf("[http]\nport = 8081\n[plugins]\ndir = tests/plugins\nload = lc_config\n[lc_config]\nmode = slowest\n");
    loader_reload_all();
    log = log_text();
    ck_assert_ptr_nonnull(strstr(log, ":7: [lc_config] mode: 'slowest' is not one of fast, slow"));
    ck_assert_ptr_nonnull(strstr(log, "SIGHUP: 1 error(s) in the configuration (above): nothing changed"));
    ck_assert_str_eq(core_config_get("lc_config", "greeting"), "new");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plugins");
    TCase *tc = tcase_create("lifecycle");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_failed_init_leaves_nothing_registered);
    tcase_add_test(tc, the_sdk_example_failing_after_its_route_leaves_no_route);
    tcase_add_test(tc, fini_is_followed_by_removing_what_the_plugin_left);
    tcase_add_test(tc, declared_keys_are_checked_with_file_and_line);
    tcase_add_test(tc, check_config_reads_declarations_without_starting_plugins);
    tcase_add_test(tc, a_reload_is_checked_whole_then_applied);
    tcase_add_test(tc, a_reload_reports_what_needs_a_restart);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
