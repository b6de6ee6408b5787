/*
 * httpclient.c — outbound HTTP(S) on evhttp connections: non-blocking DNS (evdns),
 * TLS through bufferevent_openssl with peer and host name verification, a deadline
 * per request, responses capped at 1 MiB.  One connection per request: webhook
 * receivers are many and mostly idle, so keeping pools warm buys little.
 */
#include "httpclient.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RESPONSE (1024 * 1024)

struct fetch {
    struct evhttp_connection *conn;
    struct evhttp_request *req;
    struct event *timer;
    SSL_CTX *ctx;
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
    if (f->ctx)
        SSL_CTX_free(f->ctx);
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

static void on_done(struct evhttp_request *req, void *arg)
{
    struct fetch *f = arg;
    if (f->done)
        return;
    if (!req || evhttp_request_get_response_code(req) == 0) {
        const char *why = "connect: connection refused or reset";
        unsigned long e = ERR_peek_last_error();
        char buf[256];
        if (f->ctx && e) {
            snprintf(buf, sizeof buf, "tls: %s", ERR_reason_error_string(e));
            why = buf;
            ERR_clear_error();
            finish(f, 0, why, NULL, 0);
            return;
        }
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
    finish(f, 0, "timeout", NULL, 0);
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

int httpclient_http_fetch(pl_plugin_handle *self, const char *method, const char *url,
                          const char *const *headers, const void *body, size_t body_len,
                          unsigned timeout_ms, const char *ca_file, pl_http_done_cb cb, void *arg)
{
    (void)self;
    if (!url || !cb)
        return PL_EINVAL;
    struct evhttp_uri *uri = evhttp_uri_parse(url);
    if (!uri)
        return PL_EINVAL;
    const char *scheme = evhttp_uri_get_scheme(uri), *host = evhttp_uri_get_host(uri);
    int tls = scheme && !strcasecmp(scheme, "https");
    if (!scheme || (!tls && strcasecmp(scheme, "http")) || !host || !*host) {
        evhttp_uri_free(uri);
        return PL_EINVAL;
    }
    int port = evhttp_uri_get_port(uri);
    if (port < 0)
        port = tls ? 443 : 80;
    struct fetch *f = calloc(1, sizeof *f);
    if (!f) {
        evhttp_uri_free(uri);
        return PL_ENOMEM;
    }
    f->cb = cb;
    f->arg = arg;
    f->started = core_now_ms();
    struct bufferevent *bev = NULL;
    if (tls) {
        f->ctx = SSL_CTX_new(TLS_client_method());
        SSL *ssl = f->ctx ? SSL_new(f->ctx) : NULL;
        if (!ssl)
            goto fail;
        SSL_CTX_set_verify(f->ctx, SSL_VERIFY_PEER, NULL);
        if (ca_file ? SSL_CTX_load_verify_locations(f->ctx, ca_file, NULL) != 1
                    : SSL_CTX_set_default_verify_paths(f->ctx) != 1) {
            SSL_free(ssl);
            goto fail;
        }
        SSL_set_tlsext_host_name(ssl, host);
        SSL_set1_host(ssl, host);
        SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
        bev = bufferevent_openssl_socket_new(core_base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (!bev)
            goto fail;
    }
    f->conn = evhttp_connection_base_bufferevent_new(core_base, core_dns, bev, host,
                                                     (ev_uint16_t)port);
    if (!f->conn)
        goto fail;
    evhttp_connection_set_timeout(f->conn, (int)(timeout_ms / 1000 + 1));
    evhttp_connection_set_retries(f->conn, 0);
    f->req = evhttp_request_new(on_done, f);
    if (!f->req)
        goto fail;
    struct evkeyvalq *h = evhttp_request_get_output_headers(f->req);
    char hostport[300];
    snprintf(hostport, sizeof hostport, "%s", host);
    evhttp_add_header(h, "Host", hostport);
    evhttp_add_header(h, "Connection", "close");
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
    if (body && body_len)
        evbuffer_add(evhttp_request_get_output_buffer(f->req), body, body_len);
    const char *path = evhttp_uri_get_path(uri), *query = evhttp_uri_get_query(uri);
    char *target = malloc(strlen(path && *path ? path : "/") + (query ? strlen(query) + 2 : 1));
    if (!target)
        goto fail_req;
    sprintf(target, "%s%s%s", path && *path ? path : "/", query ? "?" : "", query ? query : "");
    f->timer = evtimer_new(core_base, on_timeout, f);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(f->timer, &tv);
    f->next = inflight;
    if (inflight)
        inflight->prev = f;
    inflight = f;
    if (evhttp_make_request(f->conn, f->req, method_of(method ? method : "POST"), target) != 0) {
        free(target);
        f->req = NULL; /* evhttp freed it */
        finish(f, 0, "connect: cannot start the request", NULL, 0);
        evhttp_uri_free(uri);
        return PL_OK;
    }
    free(target);
    evhttp_uri_free(uri);
    return PL_OK;
fail_req:
    evhttp_request_free(f->req);
fail:
    if (f->conn)
        evhttp_connection_free(f->conn);
    else if (bev)
        bufferevent_free(bev);
    if (f->ctx)
        SSL_CTX_free(f->ctx);
    free(f);
    evhttp_uri_free(uri);
    return PL_ERR;
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
