/* test_tls.c — the specification of the process's TLS (core/tls.c) as its users see it:
 * outbound HTTPS with a client certificate (core/httpclient.c) against an independent
 * server (`openssl s_server -Verify 1`, which answers only clients with a certificate of
 * its client CA), and the REST listener over TLS (core/http.c, [http] tls_*) with a route
 * that needs a client certificate.  A throw-away PKI is made with the openssl tool:
 * a server CA and a server certificate for 127.0.0.1, a client CA and a client
 * certificate, and a rogue CA with a client certificate of its own. */
#include <check.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apikey.h"
#include "config.h"
#include "core.h"
#include "http.h"
#include "httpclient.h"
#include "tls.h"
#include "unit_loop.h"

static char dir[64];          /* the PKI */
static pid_t s_server_pid;
static int s_server_port;     /* openssl s_server -Verify 1 */
static int port;              /* our listener, HTTPS */

static const char *path(const char *name)
{
    static char buf[8][160];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

/* ---- the PKI ---- */
static const char *const pki_script =
    "set -e; cd \"$1\"\n"
    "key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out \"$1\" 2>/dev/null; }\n"
    "ca() { key $1.key; openssl req -x509 -new -key $1.key -out $1.pem -days 2 -subj \"/CN=$2\"; }\n"
    "leaf() { key $1.key; openssl req -new -key $1.key -out $1.csr -subj \"$3\";\n"
    "  printf '%s\\n' \"$4\" > $1.ext;\n"
    "  openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial -days 2 \\\n"
    "    -out $1.pem -extfile $1.ext 2>/dev/null; }\n"
    "ca ca 'Test Server CA'; ca cca 'Test Client CA'; ca rogue 'Rogue CA'\n"
    "leaf server ca /CN=127.0.0.1 'subjectAltName=IP:127.0.0.1,DNS:localhost'\n"
    "leaf client cca '/O=Example CPO/CN=DE*ABC' 'extendedKeyUsage=clientAuth'\n"
    "leaf intruder rogue '/O=Example CPO/CN=DE*ABC' 'extendedKeyUsage=clientAuth'\n";

static int make_pki(void)
{
    snprintf(dir, sizeof dir, "/tmp/pipelet-tls-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    FILE *sh = popen("sh -s", "w");
    if (!sh)
        return -1;
    fprintf(sh, "set -- '%s'\n%s", dir, pki_script);
    return pclose(sh) == 0 ? 0 : -1;
}

/* openssl s_server on a port of its choosing, read from the "ACCEPT host:port" line of
 * its output (a file: it writes a line per connection, and nobody reads a pipe). */
static int start_s_server(void)
{
    const char *out = path("s_server.out");
    s_server_pid = fork();
    if (s_server_pid == 0) {
        if (!freopen(out, "w", stdout) || !freopen("/dev/null", "w", stderr))
            _exit(127);
        execlp("openssl", "openssl", "s_server", "-accept", "127.0.0.1:0", "-cert",
               path("server.pem"), "-key", path("server.key"), "-Verify", "1", "-CAfile",
               path("cca.pem"), "-www", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500 && s_server_port <= 0 && s_server_pid > 0; i++) {
        FILE *f = fopen(out, "r");
        char line[256];
        while (f && fgets(line, sizeof line, f))
            if (strncmp(line, "ACCEPT", 6) == 0 && strrchr(line, ':'))
                s_server_port = atoi(strrchr(line, ':') + 1);
        if (f)
            fclose(f);
        if (s_server_port <= 0)
            usleep(10000);
    }
    return s_server_port > 0 ? 0 : -1;
}

/* ---- a fetch, waited for ---- */
struct result {
    int done, status;
    char error[256];
    char body[8192];
};

static void on_fetched(const struct pl_http_response *r, void *arg)
{
    struct result *res = arg;
    res->done++;
    res->status = r->status;
    snprintf(res->error, sizeof res->error, "%s", r->error ? r->error : "");
    snprintf(res->body, sizeof res->body, "%s", r->body);
}

static struct result fetch(const char *url, const char *ca, const char *cert, const char *key,
                           const char *const *headers, const char *body)
{
    struct result res;
    memset(&res, 0, sizeof res);
    struct pl_http_fetch_opts o = {.size = sizeof o, .method = body ? "POST" : "GET",
                                   .url = url, .headers = headers, .body = body,
                                   .body_len = body ? strlen(body) : 0, .timeout_ms = 5000,
                                   .ca_file = ca, .client_cert = cert, .client_key = key};
    ck_assert_int_eq(httpclient_http_fetch_opts(NULL, &o, on_fetched, &res), PL_OK);
    ck_assert_msg(unit_run_until_flag(&res.done, 8000), "no answer from %s", url);
    ck_assert_int_eq(res.done, 1);
    return res;
}

static const char *s_server_url(void)
{
    static char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", s_server_port);
    return url;
}

static const char *our_url(const char *scheme, const char *target)
{
    static char url[128];
    snprintf(url, sizeof url, "%s://127.0.0.1:%d%s", scheme, port, target);
    return url;
}

static json_t *json_body(const struct result *r)
{
    json_t *j = json_loads(r->body, 0, NULL);
    ck_assert_msg(j != NULL, "not JSON: %s", r->body);
    return j;
}

/* ---- handlers on our listener ---- */
static void h_whoami(pl_request *req, void *arg)
{
    (void)arg;
    http_reply_json(req, 200, json_pack("{s:s?}", "subject", http_req_client_cert_subject(req)));
}

/* ---- outbound ---- */

START_TEST(outbound_presents_the_client_certificate)
{
    struct result r = fetch(s_server_url(), path("ca.pem"), path("client.pem"),
                            path("client.key"), NULL, NULL);
    ck_assert_msg(r.status == 200, "status %d, error %s", r.status, r.error);
    /* s_server's page shows the certificate it was given */
    ck_assert_msg(strstr(r.body, "CN=DE*ABC") || strstr(r.body, "CN = DE*ABC"), "%s", r.body);
}
END_TEST

START_TEST(outbound_without_a_client_certificate_is_refused_by_that_server)
{
    struct result r = fetch(s_server_url(), path("ca.pem"), NULL, NULL, NULL, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.error, "tls:") == r.error && strstr(r.error, "certificate required"),
                  "error: %s", r.error);
}
END_TEST

START_TEST(outbound_verifies_the_server_against_the_ca_file)
{
    /* the right client certificate, the wrong CA for the server */
    struct result r = fetch(s_server_url(), path("cca.pem"), path("client.pem"),
                            path("client.key"), NULL, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.error, "tls: certificate verify failed") == r.error, "error: %s",
                  r.error);
}
END_TEST

START_TEST(unloadable_files_and_bad_options_fail_at_once)
{
    struct result res = {0};
    struct pl_http_fetch_opts o = {.size = sizeof o, .url = s_server_url(), .timeout_ms = 1000,
                                   .ca_file = path("ca.pem"), .client_cert = path("client.pem"),
                                   .client_key = path("missing.key")};
    ck_assert_int_eq(httpclient_http_fetch_opts(NULL, &o, on_fetched, &res), PL_ERR);
    o.client_key = path("server.key"); /* a key that is not the certificate's */
    ck_assert_int_eq(httpclient_http_fetch_opts(NULL, &o, on_fetched, &res), PL_ERR);
    o.client_key = NULL; /* a certificate without its key */
    ck_assert_int_eq(httpclient_http_fetch_opts(NULL, &o, on_fetched, &res), PL_EINVAL);
    o.client_key = path("client.key");
    o.size = 4; /* not even the url */
    ck_assert_int_eq(httpclient_http_fetch_opts(NULL, &o, on_fetched, &res), PL_EINVAL);
    unit_run_for(50);
    ck_assert_int_eq(res.done, 0); /* no callback for what failed at once */
}
END_TEST

/* A plugin built when the struct ended at ca_file reads as one without a client
 * certificate, whatever lies beyond its size. */
START_TEST(fields_beyond_the_callers_size_are_unset)
{
    struct pl_http_fetch_opts older = {
        .size = (uint32_t)offsetof(struct pl_http_fetch_opts, client_cert), .method = "GET",
        .url = s_server_url(), .timeout_ms = 5000, .ca_file = path("ca.pem"),
        .client_cert = "/garbage", .client_key = "/garbage"};
    struct result res = {0};
    ck_assert_int_eq(httpclient_http_fetch_opts(NULL, &older, on_fetched, &res), PL_OK);
    ck_assert(unit_run_until_flag(&res.done, 8000));
    ck_assert_int_eq(res.status, 0); /* no certificate: s_server refuses the handshake */
}
END_TEST

START_TEST(contexts_are_shared_per_configuration)
{
    SSL_CTX *a = tls_client_ctx(path("ca.pem"), NULL, NULL);
    ck_assert_ptr_nonnull(a);
    size_t n = tls_context_count();
    ck_assert_ptr_eq(tls_client_ctx(path("ca.pem"), NULL, NULL), a);
    ck_assert_ptr_eq(tls_client_ctx(path("ca.pem"), "", ""), a); /* empty is unset */
    SSL_CTX *b = tls_client_ctx(path("ca.pem"), path("client.pem"), path("client.key"));
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    size_t m = tls_context_count();
    ck_assert_uint_le(m, n + 1);
    /* requests reuse the context of their configuration */
    fetch(s_server_url(), path("ca.pem"), path("client.pem"), path("client.key"), NULL, NULL);
    fetch(s_server_url(), path("ca.pem"), path("client.pem"), path("client.key"), NULL, NULL);
    ck_assert_uint_eq(tls_context_count(), m);
    ck_assert_ptr_null(tls_client_ctx(path("missing.pem"), NULL, NULL));
    ck_assert_uint_eq(tls_context_count(), m); /* failures are not cached */
}
END_TEST

/* ---- inbound: the REST listener over TLS ---- */

START_TEST(a_client_certificate_route_answers_403_without_one)
{
    struct result r = fetch(our_url("https", "/t/hubject"), path("ca.pem"), NULL, NULL, NULL,
                            NULL);
    ck_assert_int_eq(r.status, 403);
    json_t *j = json_body(&r);
    ck_assert_str_eq(json_string_value(json_object_get(j, "code")), "CLIENT_CERT_REQUIRED");
    ck_assert(json_string_length(json_object_get(j, "error")) > 0);
    json_decref(j);
}
END_TEST

START_TEST(a_client_certificate_route_answers_with_one_and_sees_its_subject)
{
    struct result r = fetch(our_url("https", "/t/hubject"), path("ca.pem"), path("client.pem"),
                            path("client.key"), NULL, NULL);
    ck_assert_msg(r.status == 200, "status %d %s %s", r.status, r.error, r.body);
    json_t *j = json_body(&r);
    ck_assert_str_eq(json_string_value(json_object_get(j, "subject")), "CN=DE*ABC,O=Example CPO");
    json_decref(j);
}
END_TEST

START_TEST(other_routes_take_clients_without_certificates)
{
    struct result r = fetch(our_url("https", "/t/open"), path("ca.pem"), NULL, NULL, NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    json_t *j = json_body(&r);
    ck_assert(json_is_null(json_object_get(j, "subject")));
    json_decref(j);
    r = fetch(our_url("https", "/t/open"), path("ca.pem"), path("client.pem"), path("client.key"),
              NULL, NULL);
    ck_assert_int_eq(r.status, 200);
}
END_TEST

START_TEST(a_certificate_of_another_ca_fails_the_handshake)
{
    struct result r = fetch(our_url("https", "/t/open"), path("ca.pem"), path("intruder.pem"),
                            path("intruder.key"), NULL, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strncmp(r.error, "tls:", 4) == 0, "error: %s", r.error); /* unknown ca */
}
END_TEST

START_TEST(plain_http_to_the_tls_port_gets_no_answer)
{
    struct result r = fetch(our_url("http", "/t/open"), NULL, NULL, NULL, NULL, NULL);
    ck_assert_int_eq(r.status, 0);
}
END_TEST

START_TEST(the_gate_still_checks_requests_over_tls)
{
    /* evhttp adds a Content-Length to the body: with this header the framing is ambiguous */
    static const char *const te[] = {"Transfer-Encoding: chunked",
                                     "Content-Type: application/json", NULL};
    struct result r = fetch(our_url("https", "/t/open"), path("ca.pem"), NULL, NULL, te, "{}");
    ck_assert_int_eq(r.status, 400);
    json_t *j = json_body(&r);
    ck_assert_str_eq(json_string_value(json_object_get(j, "code")), "INVALID_HEADER");
    json_decref(j);
}
END_TEST

static int start_listener(void)
{
    char conf[1024], err[256];
    snprintf(conf, sizeof conf,
             "[http]\nlisten = 127.0.0.1\nport = 0\nrate_limit = 1000\nrate_burst = 1000\n"
             "tls_cert = %s\ntls_key = %s\ntls_client_ca = %s\n",
             path("server.pem"), path("server.key"), path("cca.pem"));
    if (config_load_string("test_tls.conf", conf, err, sizeof err) != 0) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    if (http_init() != 0)
        return -1;
    port = http_port();
    struct pl_http_route_opts o = {.size = sizeof o, .method = "GET", .pattern = "/t/hubject",
                                   .auth_scope = PL_AUTH_NONE, .flags = PL_ROUTE_CLIENT_CERT};
    if (http_http_route_opts(NULL, &o, h_whoami, NULL) != PL_OK)
        return -1;
    if (http_http_route(NULL, "GET", "/t/open", PL_AUTH_NONE, h_whoami, NULL) != PL_OK)
        return -1;
    return http_http_route(NULL, "POST", "/t/open", PL_AUTH_NONE, h_whoami, NULL);
}

static void cleanup(void)
{
    if (s_server_pid > 0) {
        kill(s_server_pid, SIGTERM);
        waitpid(s_server_pid, NULL, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (dir[0] && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    core_base = event_base_new();
    core_dns = evdns_base_new(core_base, 0);
    if (make_pki() != 0 || start_s_server() != 0 || start_listener() != 0) {
        fprintf(stderr, "set-up failed (the openssl tool is needed)\n");
        cleanup();
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("tls");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, outbound_presents_the_client_certificate);
    tcase_add_test(tc, outbound_without_a_client_certificate_is_refused_by_that_server);
    tcase_add_test(tc, outbound_verifies_the_server_against_the_ca_file);
    tcase_add_test(tc, unloadable_files_and_bad_options_fail_at_once);
    tcase_add_test(tc, fields_beyond_the_callers_size_are_unset);
    tcase_add_test(tc, contexts_are_shared_per_configuration);
    tcase_add_test(tc, a_client_certificate_route_answers_403_without_one);
    tcase_add_test(tc, a_client_certificate_route_answers_with_one_and_sees_its_subject);
    tcase_add_test(tc, other_routes_take_clients_without_certificates);
    tcase_add_test(tc, a_certificate_of_another_ca_fails_the_handshake);
    tcase_add_test(tc, plain_http_to_the_tls_port_gets_no_answer);
    tcase_add_test(tc, the_gate_still_checks_requests_over_tls);
    suite_add_tcase(s, tc);
    int rc = unit_run_suite(s);
    httpclient_shutdown();
    http_shutdown();
    apikey_free();
    config_free();
    evdns_base_free(core_dns, 0);
    event_base_free(core_base);
    cleanup();
    return rc;
}
