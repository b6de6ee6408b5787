/*
 * httpclient.c — outbound HTTP(S) on evhttp connections: non-blocking DNS (evdns),
 * TLS through bufferevent_openssl with peer and host name verification and an optional
 * client certificate (contexts shared through tls.c), a deadline per request,
 * responses capped at 1 MiB.  One connection per request: webhook receivers are many
 * and mostly idle, so keeping pools warm buys little.
 */
#include "httpclient.h"
#include "tls.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RESPONSE (1024 * 1024)

struct fetch {
    struct evhttp_connection *conn;
    struct evhttp_request *req;
    struct event *timer;
    int tls;
    const char *start_error; /* set when the request could not start: reported by the timer */
    pl_http_done_cb cb;
    void *arg;
    uint64_t started;
    int done;
    struct fetch *next, *prev;
};

static struct fetch *inflight;
static int shutting_down; /* the loop has stopped: free at once, not on a later turn */

static void fetch_unlink(struct fetch *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else if (inflight == f)
        inflight = f->next;
    if (f->next)
        f->next->prev = f->prev;
    f->next = f->prev = NULL;
}

static void free_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct fetch *f = arg;
    if (f->conn)
        evhttp_connection_free(f->conn);
    free(f);
}

/* Report once; the connection is freed on the next loop turn (never inside its own callback). */
static void finish(struct fetch *f, int status, const char *error, const char *body, size_t len)
{
    if (f->done)
        return;
    f->done = 1;
    fetch_unlink(f);
    if (f->timer) {
        event_free(f->timer);
        f->timer = NULL;
    }
    struct pl_http_response r = {sizeof r, status, error, body ? body : "", len,
                                 (double)(core_now_ms() - f->started)};
    f->cb(&r, f->arg);
    if (shutting_down)
        free_later(-1, 0, f);
    else
        event_base_once(core_base, -1, EV_TIMEOUT, free_later, f, NULL);
}

/* Why no response came.  bufferevent_openssl keeps the OpenSSL errors of its connection
 * (the thread's queue is empty by now), and the SSL its verification result: "tls:
 * certificate verify failed: unable to get local issuer certificate" tells the operator
 * which file to fix. */
static void failure_reason(struct fetch *f, char *out, size_t outlen)
{
    struct bufferevent *bev = f->tls ? evhttp_connection_get_bufferevent(f->conn) : NULL;
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    unsigned long e = bev ? bufferevent_get_openssl_error(bev) : 0;
    if (verify != X509_V_OK)
        snprintf(out, outlen, "tls: certificate verify failed: %s",
                 X509_verify_cert_error_string(verify));
    else if (e && ERR_reason_error_string(e))
        snprintf(out, outlen, "tls: %s", ERR_reason_error_string(e));
    else
        snprintf(out, outlen, "connect: connection refused or reset");
    while (bev && bufferevent_get_openssl_error(bev))
        ;
    ERR_clear_error();
}

static void on_done(struct evhttp_request *req, void *arg)
{
    struct fetch *f = arg;
    if (f->done)
        return;
    if (!req || evhttp_request_get_response_code(req) == 0) {
        char why[300];
        failure_reason(f, why, sizeof why);
        finish(f, 0, why, NULL, 0);
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len > MAX_RESPONSE)
        len = MAX_RESPONSE;
    char *body = malloc(len + 1);
    if (body) {
        evbuffer_copyout(in, body, len);
        body[len] = '\0';
    }
    finish(f, evhttp_request_get_response_code(req), NULL, body, body ? len : 0);
    free(body);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct fetch *f = arg;
    if (f->req)
        evhttp_cancel_request(f->req);
    f->req = NULL;
    finish(f, 0, f->start_error ? f->start_error : "timeout", NULL, 0);
}

static enum evhttp_cmd_type method_of(const char *m)
{
    if (!strcmp(m, "GET")) return EVHTTP_REQ_GET;
    if (!strcmp(m, "PUT")) return EVHTTP_REQ_PUT;
    if (!strcmp(m, "PATCH")) return EVHTTP_REQ_PATCH;
    if (!strcmp(m, "DELETE")) return EVHTTP_REQ_DELETE;
    if (!strcmp(m, "HEAD")) return EVHTTP_REQ_HEAD;
    return EVHTTP_REQ_POST;
}

/* "Name: value" strings onto the request (malformed ones skipped). */
static void add_headers(struct evkeyvalq *h, const char *const *headers)
{
    for (size_t i = 0; headers && headers[i]; i++) {
        const char *colon = strchr(headers[i], ':');
        if (!colon)
            continue;
        char name[128];
        size_t nl = (size_t)(colon - headers[i]);
        if (nl >= sizeof name)
            continue;
        memcpy(name, headers[i], nl);
        name[nl] = '\0';
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        evhttp_add_header(h, name, v);
    }
}

/* Path and query of the URL as the request target ("/" when empty); new. */
static char *request_target(const struct evhttp_uri *uri)
{
    const char *path = evhttp_uri_get_path(uri), *query = evhttp_uri_get_query(uri);
    if (!path || !*path)
        path = "/";
    size_t n = strlen(path) + (query ? strlen(query) + 1 : 0) + 1;
    char *target = malloc(n);
    if (target)
        snprintf(target, n, "%s%s%s", path, query ? "?" : "", query ? query : "");
    return target;
}

/* The TLS bufferevent of an https request; NULL when a file cannot be loaded (logged). */
static struct bufferevent *tls_bufferevent(const struct pl_http_fetch_opts *o, const char *host)
{
    SSL *ssl = tls_client_ssl(tls_client_ctx(o->ca_file, o->client_cert, o->client_key), host);
    if (!ssl)
        return NULL;
    /* frees ssl itself when it fails (BEV_OPT_CLOSE_ON_FREE) */
    return bufferevent_openssl_socket_new(core_base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                          BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
}

/* The connection, the request with its headers and body, and the deadline. */
static int fetch_prepare(struct fetch *f, const struct pl_http_fetch_opts *o, const char *host,
                         int port)
{
    struct bufferevent *bev = NULL;
    if (f->tls && !(bev = tls_bufferevent(o, host)))
        return PL_ERR;
    f->conn = evhttp_connection_base_bufferevent_new(core_base, core_dns, bev, host,
                                                     (ev_uint16_t)port);
    if (!f->conn) {
        if (bev)
            bufferevent_free(bev);
        return PL_ENOMEM;
    }
    evhttp_connection_set_timeout(f->conn, (int)(o->timeout_ms / 1000 + 1));
    evhttp_connection_set_retries(f->conn, 0);
    f->timer = evtimer_new(core_base, on_timeout, f);
    f->req = f->timer ? evhttp_request_new(on_done, f) : NULL;
    if (!f->req)
        return PL_ENOMEM;
    struct evkeyvalq *h = evhttp_request_get_output_headers(f->req);
    evhttp_add_header(h, "Host", host);
    evhttp_add_header(h, "Connection", "close");
    add_headers(h, o->headers);
    if (o->body && o->body_len)
        evbuffer_add(evhttp_request_get_output_buffer(f->req), o->body, o->body_len);
    return PL_OK;
}

static void fetch_free_unstarted(struct fetch *f)
{
    if (!f)
        return;
    if (f->req)
        evhttp_request_free(f->req);
    if (f->timer)
        event_free(f->timer);
    if (f->conn)
        evhttp_connection_free(f->conn);
    free(f);
}

int httpclient_http_fetch_opts(pl_plugin_handle *self, const struct pl_http_fetch_opts *opts,
                               pl_http_done_cb cb, void *arg)
{
    (void)self;
    /* fields beyond the caller's size are unset (zero) */
    struct pl_http_fetch_opts o = {0};
    if (!opts || !cb || opts->size < offsetof(struct pl_http_fetch_opts, url) + sizeof o.url)
        return PL_EINVAL;
    memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
    if (!o.url || (!o.client_cert != !o.client_key))
        return PL_EINVAL;
    struct evhttp_uri *uri = evhttp_uri_parse(o.url);
    const char *scheme = uri ? evhttp_uri_get_scheme(uri) : NULL;
    const char *host = uri ? evhttp_uri_get_host(uri) : NULL;
    int tls = scheme && !strcasecmp(scheme, "https");
    if (!scheme || (!tls && strcasecmp(scheme, "http")) || !host || !*host) {
        if (uri)
            evhttp_uri_free(uri);
        return PL_EINVAL;
    }
    int port = evhttp_uri_get_port(uri);
    struct fetch *f = calloc(1, sizeof *f);
    char *target = request_target(uri);
    int rc = f && target ? PL_OK : PL_ENOMEM;
    if (rc == PL_OK) {
        f->cb = cb;
        f->arg = arg;
        f->tls = tls;
        f->started = core_now_ms();
        rc = fetch_prepare(f, &o, host, port < 0 ? (tls ? 443 : 80) : port);
    }
    if (rc != PL_OK) {
        fetch_free_unstarted(f);
        free(target);
        evhttp_uri_free(uri);
        return rc;
    }
    struct timeval tv = {o.timeout_ms / 1000, (o.timeout_ms % 1000) * 1000};
    f->next = inflight;
    if (inflight)
        inflight->prev = f;
    inflight = f;
    if (evhttp_make_request(f->conn, f->req, method_of(o.method ? o.method : "POST"), target)) {
        /* evhttp freed the request; report from the loop, never from inside this call */
        f->req = NULL;
        f->start_error = "connect: cannot start the request";
        tv.tv_sec = tv.tv_usec = 0;
    }
    evtimer_add(f->timer, &tv);
    free(target);
    evhttp_uri_free(uri);
    return PL_OK;
}

int httpclient_http_fetch(pl_plugin_handle *self, const char *method, const char *url,
                          const char *const *headers, const void *body, size_t body_len,
                          unsigned timeout_ms, const char *ca_file, pl_http_done_cb cb, void *arg)
{
    struct pl_http_fetch_opts o = {.size = sizeof o, .method = method, .url = url,
                                   .headers = headers, .body = body, .body_len = body_len,
                                   .timeout_ms = timeout_ms, .ca_file = ca_file};
    return httpclient_http_fetch_opts(self, &o, cb, arg);
}

void httpclient_shutdown(void)
{
    shutting_down = 1;
    while (inflight) {
        struct fetch *f = inflight;
        if (f->req)
            evhttp_cancel_request(f->req);
        f->req = NULL;
        finish(f, 0, "shutting down", NULL, 0);
    }
}
