/*
 * http.c — the REST listener.  evhttp parses HTTP; we route ourselves (evhttp's own
 * callbacks cannot match "/stations/{id}"), so every answer — including 404, 405,
 * 401/403, 413, 415, 429 and malformed JSON — is a JSON body {"error","code"}.  A gate
 * in front of evhttp (http_gate.c) answers what evhttp would refuse in HTML, refuses
 * requests whose body length is ambiguous, and times out slow and idle connections.
 *
 * A pl_request outlives its client: when the connection closes before the handler
 * answers, evhttp detaches the request from the connection and leaves it to us; the
 * wrapper is marked closed, and the later answer goes to evhttp_send_reply*, which
 * frees a detached request instead of sending.
 */
#include "http.h"
#include "apikey.h"
#include "config.h"
#include "db.h"
#include "http_gate.h"
#include "jsonschema.h"
#include "openapi.h"
#include "keys.h"
#include "metrics.h"
#include "registry.h"
#include "tls.h"
#include "util.h"
#include "ws.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>

#define MAX_SEGS 16

struct route {
    char *method;
    char *pattern;
    char *segs[MAX_SEGS];
    int nsegs;
    int nliteral;
    int scope;
    unsigned flags; /* PL_ROUTE_* */
    pl_route_cb cb;
    void *arg;
    pl_plugin_handle *owner;
    int requests; /* unanswered requests naming it: a removed route lives until 0 */
    int removed;
    json_t *doc;         /* its OpenAPI operation (http_describe), or NULL */
    json_t *body_schema; /* borrowed from doc: the JSON request body's schema */
    int body_required;
    struct route *next;
};

struct close_cb {
    pl_request_close_cb cb;
    void *arg;
    struct close_cb *next;
};

struct local_ctx;

struct pl_request {
    struct evhttp_request *req;   /* ours until answered, even after the client left */
    struct evhttp_connection *conn;
    struct http_gate *gate;       /* the connection's gate, NULL once the client left */
    struct route *route;
    char *method;
    char *path;
    char *param_names[MAX_SEGS], *param_values[MAX_SEGS];
    size_t param_lens[MAX_SEGS]; /* decoded lengths: a %00 makes strlen shorter */
    int nparams;
    struct evkeyvalq query;
    char *body;
    size_t body_len;
    json_t *json;
    int scope;
    const char *key_name;
    char *client_subject;         /* the verified client certificate's subject, or NULL */
    struct close_cb *close_cbs;
    int replied, streaming, closed;
    int in_close_cbs, free_pending; /* see on_conn_close */
    uint64_t started_ms;
    struct local_ctx *local;      /* in-process (http_dispatch): answered to a callback */
};

static struct {
    struct evhttp *http, *https; /* https: the second listener, with [http] tls_port */
    int port, tls_port;
    size_t body_limit;
    double rate, burst;
    double authfail_rate, authfail_burst; /* failed authentications per client address */
    int public_health, health_strict;
    struct route *routes;
    uint64_t start_ms;
    SSL_CTX *tls; /* our reference to the listener's context; NULL: plain HTTP */
} H;

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    default: return "OTHER";
    }
}

/* ---------- request wrapper ---------- */

static void local_free(struct local_ctx *l);
static void local_answer(struct pl_request *r, int status, struct evbuffer *body);

static const char *local_header(struct local_ctx *l, const char *name);
static struct evkeyvalq *output_headers(struct pl_request *r);

static void route_free(struct route *r)
{
    json_decref(r->doc);
    for (int i = 0; i < MAX_SEGS; i++)
        free(r->segs[i]);
    free(r->method);
    free(r->pattern);
    free(r);
}

static void request_free(struct pl_request *r)
{
    if (r->in_close_cbs) { /* answered from a close callback: freed once they all ran */
        r->free_pending = 1;
        return;
    }
    local_free(r->local);
    if (r->route && --r->route->requests == 0 && r->route->removed)
        route_free(r->route);
    for (int i = 0; i < r->nparams; i++) {
        free(r->param_names[i]);
        free(r->param_values[i]);
    }
    evhttp_clear_headers(&r->query);
    while (r->close_cbs) {
        struct close_cb *c = r->close_cbs;
        r->close_cbs = c->next;
        free(c);
    }
    json_decref(r->json);
    free(r->body);
    free(r->method);
    free(r->path);
    free(r->client_subject);
    free(r);
}

static void on_conn_close(struct evhttp_connection *conn, void *arg)
{
    struct pl_request *r = arg;
    (void)conn;
    if (!r || r->closed)
        return;
    r->closed = 1;
    r->conn = NULL;
    r->gate = NULL; /* freed with the connection */
    /* a callback may answer (and so free) the request: it stays until the last one ran
     * (found by fuzz_http: a stream ended inside its close callback) */
    r->in_close_cbs = 1;
    for (struct close_cb *c = r->close_cbs; c; c = c->next)
        c->cb(r, c->arg);
    r->in_close_cbs = 0;
    if (r->free_pending)
        request_free(r);
}

static void finish_metrics(struct pl_request *r, int status)
{
    char name[400];
    snprintf(name, sizeof name,
             "pipelet_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"}",
             r->route ? r->route->pattern : "none", r->method, status);
    metrics_add(name, 1);
    metrics_observe("pipelet_http_request_duration_seconds",
                    (double)(core_now_ms() - r->started_ms) / 1000.0);
}

/* Detach from the connection so its close no longer points at a freed wrapper. */
static void detach_conn(struct pl_request *r)
{
    if (r->conn && !r->closed)
        evhttp_connection_set_closecb(r->conn, NULL, NULL);
    r->conn = NULL;
}

static void send_and_free(struct pl_request *r, int status, struct evbuffer *body)
{
    if (r->replied) {
        core_log(PL_LOG_ERROR, "http", "%s %s answered twice (ignored)", r->method, r->path);
        return;
    }
    r->replied = 1;
    finish_metrics(r, status);
    if (r->local) { /* in process: the answer goes to a callback, not a socket */
        local_answer(r, status, body);
        request_free(r);
        return;
    }
    http_gate_answered(r->gate);
    detach_conn(r);
    /* after a close evhttp_send_reply only frees the detached request */
    evhttp_send_reply(r->req, status, http_status_reason(status), body);
    request_free(r);
}

void http_reply_header(pl_request *r, const char *name, const char *value)
{
    if (r && (r->req || r->local) && !r->replied && !r->closed)
        evhttp_add_header(output_headers(r), name, value);
}

void http_reply_raw(pl_request *r, int status, const char *content_type, const void *data,
                    size_t len)
{
    if (!r)
        return;
    struct evbuffer *b = evbuffer_new();
    if (b && len)
        evbuffer_add(b, data, len);
    if ((r->req || r->local) && !r->replied && !r->closed && content_type && status != 204)
        evhttp_add_header(output_headers(r), "Content-Type", content_type);
    send_and_free(r, status, status == 204 ? NULL : b);
    if (b)
        evbuffer_free(b);
}

void http_reply_json(pl_request *r, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(body);
    if (!text) {
        http_reply_raw(r, status, "application/json", "null", 4);
        return;
    }
    http_reply_raw(r, status, "application/json", text, strlen(text));
    free(text);
}

static void reply_error_v(pl_request *r, int status, const char *code, const char *fmt,
                          va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    http_reply_json(r, status, json_pack("{s:s, s:s}", "error", msg, "code", code));
}

void http_reply_error(pl_request *r, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(r, status, code, fmt, ap);
    va_end(ap);
}

int http_reply_stream_begin(pl_request *r, int status, const char *content_type)
{
    if (!r || r->replied || r->streaming)
        return PL_ESTATE;
    if (r->local) { /* one answer to one callback: a stream has no end to wait for */
        http_reply_error(r, 501, "STREAMING_NOT_SUPPORTED",
                         "%s %s streams its answer, which an in-process request cannot take",
                         r->method, r->route ? r->route->pattern : r->path);
        return PL_ENOTSUP;
    }
    if (r->closed || !r->req) { /* the client is gone: the request is finished here */
        send_and_free(r, 499, NULL);
        return PL_ERR;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(h, "Content-Type", content_type ? content_type : "text/event-stream");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_add_header(h, "X-Accel-Buffering", "no");
    r->streaming = 1;
    finish_metrics(r, status);
    evhttp_send_reply_start(r->req, status, http_status_reason(status));
    return PL_OK;
}

int http_reply_stream_write(pl_request *r, const void *data, size_t len)
{
    if (!r || !r->streaming || r->closed || !r->req)
        return PL_ERR;
    struct evhttp_connection *conn = evhttp_request_get_connection(r->req);
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    struct bufferevent *sock = bev ? bufferevent_get_underlying(bev) : NULL; /* the gate's */
    size_t queued = bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
    if (sock)
        queued += evbuffer_get_length(bufferevent_get_output(sock));
    /* a reader that does not keep up is dropped rather than buffered without bound */
    if (queued > 8u * 1024 * 1024)
        return PL_EBUSY;
    struct evbuffer *b = evbuffer_new();
    if (!b)
        return PL_ENOMEM;
    evbuffer_add(b, data, len);
    evhttp_send_reply_chunk(r->req, b);
    evbuffer_free(b);
    return PL_OK;
}

void http_reply_stream_end(pl_request *r)
{
    if (!r)
        return;
    if (!r->streaming) {
        http_reply_error(r, 500, "INTERNAL_ERROR", "stream ended before it began");
        return;
    }
    r->replied = 1;
    http_gate_answered(r->gate);
    detach_conn(r);
    if (r->closed || !http_gate_end_stream(r->gate, r->req))
        evhttp_send_reply_end(r->req); /* frees a request whose client is gone */
    request_free(r);
}

const char *http_req_method(pl_request *r) { return r->method; }
const char *http_req_path(pl_request *r) { return r->path; }
int http_req_scope(pl_request *r) { return r->scope; }
const char *http_req_key_name(pl_request *r) { return r->key_name; }
const char *http_req_client_cert_subject(pl_request *r) { return r->client_subject; }

const char *http_req_remote_addr(pl_request *r)
{
    char *host = NULL;
    ev_uint16_t port = 0;
    if (!r->conn)
        return NULL; /* in-process (http_dispatch): no peer */
    evhttp_connection_get_peer(r->conn, &host, &port);
    return host;
}
json_t *http_req_json(pl_request *r) { return r->json; }

const char *http_req_param(pl_request *r, const char *name)
{
    for (int i = 0; i < r->nparams; i++)
        if (strcmp(r->param_names[i], name) == 0)
            return r->param_values[i];
    return NULL;
}

const char *http_req_query(pl_request *r, const char *name)
{
    return evhttp_find_header(&r->query, name);
}

const char *http_req_header(pl_request *r, const char *name)
{
    if (r->local)
        return local_header(r->local, name);
    if (!r->req || r->replied)
        return NULL;
    return evhttp_find_header(evhttp_request_get_input_headers(r->req), name);
}

const char *http_req_body(pl_request *r, size_t *len)
{
    if (len)
        *len = r->body_len;
    return r->body ? r->body : "";
}

void http_req_on_close(pl_request *r, pl_request_close_cb cb, void *arg)
{
    struct close_cb *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->cb = cb;
    c->arg = arg;
    c->next = r->close_cbs;
    r->close_cbs = c;
}

/* ---------- routing ---------- */

static int split_path(char *path, char **segs, int max)
{
    int n = 0;
    for (char *save = NULL, *s = strtok_r(path, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (n == max)
            return -1;
        segs[n++] = s;
    }
    return n;
}

int http_http_route(pl_plugin_handle *self, const char *method, const char *pattern,
                    int auth_scope, pl_route_cb cb, void *arg)
{
    struct pl_http_route_opts o = {.size = sizeof o, .method = method, .pattern = pattern,
                                   .auth_scope = auth_scope};
    return http_http_route_opts(self, &o, cb, arg);
}

int http_http_route_opts(pl_plugin_handle *self, const struct pl_http_route_opts *opts,
                         pl_route_cb cb, void *arg)
{
    struct pl_http_route_opts o = {0}; /* fields beyond the caller's size are unset */
    if (!opts || opts->size < offsetof(struct pl_http_route_opts, flags) + sizeof o.flags)
        return PL_EINVAL;
    memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
    const char *method = o.method, *pattern = o.pattern;
    if (!method || !pattern || pattern[0] != '/' || !cb || (o.flags & ~PL_ROUTE_CLIENT_CERT))
        return PL_EINVAL;
    for (struct route *x = H.routes; x; x = x->next)
        if (strcmp(x->method, method) == 0 && strcmp(x->pattern, pattern) == 0)
            return PL_EEXIST;
    struct route *r = calloc(1, sizeof *r);
    if (!r)
        return PL_ENOMEM;
    r->method = strdup(method);
    r->pattern = strdup(pattern);
    char *copy = strdup(pattern);
    if (!r->method || !r->pattern || !copy)
        goto fail;
    char *segs[MAX_SEGS];
    int n = split_path(copy, segs, MAX_SEGS);
    if (n < 0)
        goto fail;
    for (int i = 0; i < n; i++) {
        r->segs[i] = strdup(segs[i]);
        if (!r->segs[i])
            goto fail;
        if (segs[i][0] != '{')
            r->nliteral++;
    }
    r->nsegs = n;
    free(copy);
    r->scope = o.auth_scope;
    r->flags = o.flags;
    r->cb = cb;
    r->arg = arg;
    r->owner = self;
    r->next = H.routes;
    H.routes = r;
    return PL_OK;
fail:
    free(copy);
    route_free(r);
    return PL_ENOMEM;
}

/* Remove the routes of a plugin that failed its init or was unloaded: from now on
 * their paths answer 404.  A request already routed keeps its route until answered. */
int http_remove_owner(pl_plugin_handle *owner)
{
    int n = 0;
    for (struct route **pp = &H.routes; *pp;) {
        struct route *r = *pp;
        if (r->owner != owner) {
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        r->removed = 1;
        if (r->requests == 0)
            route_free(r);
        n++;
    }
    return n;
}

json_t *http_routes_json(void)
{
    json_t *a = json_array();
    for (struct route *r = H.routes; r; r = r->next)
        json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:s}", "method", r->method, "pattern",
                                           r->pattern, "scope", r->scope, "plugin",
                                           core_plugin_name(r->owner)));
    return a;
}

/* Does route r match the path segments?  Literal segments must be equal. */
static int route_matches(const struct route *r, char **segs, int n)
{
    if (r->nsegs != n)
        return 0;
    for (int i = 0; i < n; i++)
        if (r->segs[i][0] != '{' && strcmp(r->segs[i], segs[i]) != 0)
            return 0;
    return 1;
}

/* Prefer literal segments, earliest first: "/stations/compact" beats "/stations/{id}". */
static int better(const struct route *a, const struct route *b)
{
    if (!b)
        return 1;
    for (int i = 0; i < a->nsegs; i++) {
        int la = a->segs[i][0] != '{', lb = b->segs[i][0] != '{';
        if (la != lb)
            return la;
    }
    return 0;
}

static void error_direct(struct evhttp_request *req, int status, const char *code, const char *msg,
                         const char *extra_header, const char *extra_value)
{
    json_t *j = json_pack("{s:s, s:s}", "error", msg, "code", code);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, text, strlen(text));
    free(text);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    if (extra_header)
        evhttp_add_header(h, extra_header, extra_value);
    http_gate_answered(http_gate_of_request(req));
    evhttp_send_reply(req, status, http_status_reason(status), b);
    evbuffer_free(b);
    char name[200];
    snprintf(name, sizeof name, "pipelet_http_requests_total{route=\"none\",method=\"%s\",status=\"%d\"}",
             method_name(evhttp_request_get_command(req)), status);
    metrics_add(name, 1);
}

/* The address failures and unauthenticated requests are counted by: IPv6 clients by
 * their /64 (one host usually holds a whole /64), everything else by the address. */
static void client_id(struct evhttp_request *req, char *out, size_t outlen)
{
    char *host = NULL;
    ev_uint16_t port = 0;
    struct in6_addr a6;
    evhttp_connection_get_peer(evhttp_request_get_connection(req), &host, &port);
    if (host && inet_pton(AF_INET6, host, &a6) == 1 && !IN6_IS_ADDR_V4MAPPED(&a6)) {
        char text[INET6_ADDRSTRLEN];
        memset(a6.s6_addr + 8, 0, 8);
        inet_ntop(AF_INET6, &a6, text, sizeof text);
        snprintf(out, outlen, "%s/64", text);
    } else {
        snprintf(out, outlen, "%s", host ? host : "?");
    }
}

#define ALLOW_MAX 128 /* the Allow header of a 405 */

/* The best route for method and path, else NULL and the methods the path allows. */
static struct route *find_route(const char *method, char **segs, int n, char allow[ALLOW_MAX])
{
    struct route *best = NULL;
    allow[0] = '\0';
    for (struct route *r = H.routes; r; r = r->next) {
        if (!route_matches(r, segs, n))
            continue;
        if (strcmp(r->method, method) == 0) {
            if (better(r, best))
                best = r;
        } else if (strlen(allow) + strlen(r->method) + 3 < ALLOW_MAX && !strstr(allow, r->method)) {
            if (*allow)
                strcat(allow, ", ");
            strcat(allow, r->method);
        }
    }
    return best;
}

/* Route matching: the best route, or an answer (404/405) and NULL. */
static struct route *match_route(struct evhttp_request *req, const char *method, char **segs,
                                 int n)
{
    char allow[ALLOW_MAX];
    struct route *best = find_route(method, segs, n, allow);
    if (!best && *allow)
        error_direct(req, 405, "METHOD_NOT_ALLOWED", "method not allowed on this path", "Allow",
                     allow);
    else if (!best)
        error_direct(req, 404, "NOT_FOUND", "no such route", NULL, NULL);
    return best;
}

/* Path parameters, decoded (checked later, once the caller is known). */
static void decode_params(struct pl_request *r, char **segs, int n)
{
    for (int i = 0; i < n; i++) {
        if (r->route->segs[i][0] != '{')
            continue;
        size_t l = strlen(r->route->segs[i]), vlen = 0;
        char *name = strndup(r->route->segs[i] + 1, l >= 2 ? l - 2 : 0);
        char *value = evhttp_uridecode(segs[i], 0, &vlen);
        if (!name || !value) {
            free(name);
            free(value);
            continue;
        }
        r->param_names[r->nparams] = name;
        r->param_lens[r->nparams] = vlen;
        r->param_values[r->nparams++] = value;
    }
}

/* strcasestr without _GNU_SOURCE */
static const char *find_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return hay;
    return NULL;
}

static int utf8_ok(const char *s, size_t len)
{
    return util_utf8_valid((const unsigned char *)s, len);
}

/* Every parameter is UTF-8 without NUL before a handler (or the database behind it) sees
 * it: path parameters, query keys and values, and header values (ids come in headers). */
static int params_valid(struct pl_request *r)
{
    for (int i = 0; i < r->nparams; i++)
        if (strlen(r->param_values[i]) != r->param_lens[i] ||
            !utf8_ok(r->param_values[i], r->param_lens[i])) {
            http_reply_error(r, 400, "INVALID_PARAMETER",
                             "path parameter '%s' is not valid UTF-8 (or contains NUL)",
                             r->param_names[i]);
            return 0;
        }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->req);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    if (q && find_nocase(q, "%00")) { /* decoded, NUL would cut the value short unseen */
        http_reply_error(r, 400, "INVALID_PARAMETER", "query parameters must not contain NUL");
        return 0;
    }
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, &r->query, next) {
        if (!utf8_ok(kv->key, strlen(kv->key)) || !utf8_ok(kv->value, strlen(kv->value))) {
            int named = utf8_ok(kv->key, strlen(kv->key));
            http_reply_error(r, 400, "INVALID_PARAMETER", "query parameter '%s' is not valid UTF-8",
                             named ? kv->key : "?");
            return 0;
        }
    }
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(r->req), next) {
        if (!utf8_ok(kv->value, strlen(kv->value))) { /* names are tokens (the gate) */
            http_reply_error(r, 400, "INVALID_PARAMETER", "header '%s' is not valid UTF-8",
                             utf8_ok(kv->key, strlen(kv->key)) ? kv->key : "?");
            return 0;
        }
    }
    return 1;
}

/* A route flagged PL_ROUTE_CLIENT_CERT admits only requests that came with a verified
 * client certificate (an in-process request never has one): before the key, since for
 * such a route the certificate is the caller's identity. */
static int client_cert_ok(struct pl_request *r)
{
    if (!(r->route->flags & PL_ROUTE_CLIENT_CERT) || r->client_subject)
        return 1;
    http_reply_error(r, 403, "CLIENT_CERT_REQUIRED",
                     "%s %s needs a client certificate (TLS, verified against the gateway's "
                     "client CA)", r->method, r->route->pattern);
    return 0;
}

/* The API key: the X-API-Key header, else an "Authorization: Bearer <key>" header
 * (RFC 6750; the scheme is case-insensitive).  NULL when neither is there. */
static const char *request_key(struct pl_request *r)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(r->req);
    const char *key = evhttp_find_header(h, "X-API-Key");
    if (key)
        return key;
    const char *auth = evhttp_find_header(h, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return NULL;
    auth += 7;
    while (*auth == ' ')
        auth++;
    return *auth ? auth : NULL;
}

/* Key and scope (401/403).  Failed authentications drain a budget per client address;
 * while it is empty that address gets 429 for every request without a valid key (a
 * valid key still works: only guessing is slowed down). */
static int authorize(struct pl_request *r)
{
    int need = r->route->scope == PL_AUTH_CONFIG ? (H.public_health ? PL_AUTH_NONE : PL_AUTH_READ)
                                                 : r->route->scope;
    const char *key = request_key(r);
    int scope = PL_AUTH_NONE;
    const char *key_name = NULL;
    if (!key || !apikey_check(key, &scope, &key_name)) {
        scope = PL_AUTH_NONE; /* a wrong key on an open route is ignored, not refused */
        key_name = NULL;
    }
    if (need > PL_AUTH_NONE && !key_name) {
        char client[INET6_ADDRSTRLEN + 8];
        client_id(r->req, client, sizeof client);
        int wait = authfail_blocked(client, H.authfail_rate, H.authfail_burst);
        if (wait > 0) {
            char ra[16];
            snprintf(ra, sizeof ra, "%d", wait);
            http_reply_header(r, "Retry-After", ra);
            http_reply_error(r, 429, "RATE_LIMITED",
                             "too many failed authentications from this address; retry after %d s",
                             wait);
        } else if (key) {
            authfail_record(client, H.authfail_rate, H.authfail_burst);
            http_reply_header(r, "WWW-Authenticate", "Bearer realm=\"pipelet\", error=\"invalid_token\"");
            http_reply_error(r, 401, "UNAUTHORIZED", "invalid API key");
        } else {
            http_reply_header(r, "WWW-Authenticate", "Bearer realm=\"pipelet\"");
            http_reply_error(r, 401, "UNAUTHORIZED",
                             "missing API key (X-API-Key or Authorization: Bearer header)");
        }
        return 0;
    }
    if (key_name)
        keys_used(key_name);
    if (scope < need) {
        http_reply_error(r, 403, "FORBIDDEN", "this API key's scope does not allow %s %s",
                         r->method, r->route->pattern);
        return 0;
    }
    r->scope = scope;
    r->key_name = key_name;
    return 1;
}

/* rate limit: per key, else per client address */
static int rate_ok(struct pl_request *r)
{
    char bucket[128];
    if (r->key_name) {
        snprintf(bucket, sizeof bucket, "key:%s", r->key_name);
    } else {
        char client[INET6_ADDRSTRLEN + 8];
        client_id(r->req, client, sizeof client);
        snprintf(bucket, sizeof bucket, "ip:%s", client);
    }
    int wait = ratelimit_take(bucket, H.rate, H.burst);
    if (wait > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", wait);
        http_reply_header(r, "Retry-After", ra);
        http_reply_error(r, 429, "RATE_LIMITED", "rate limit exceeded; retry after %d s", wait);
        return 0;
    }
    return 1;
}

/* application/json or application/<anything>+json; a charset, if any, must be UTF-8. */
static int json_media_type(const char *ct)
{
    if (!ct)
        return 0;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n < 16 || strncasecmp(ct, "application/", 12) != 0)
        return 0;
    if (!(n == 16 && !strncasecmp(ct + 12, "json", 4)) && strncasecmp(ct + n - 5, "+json", 5) != 0)
        return 0;
    const char *cs = find_nocase(ct + n, "charset=");
    if (!cs)
        return 1;
    cs += 8;
    if (*cs == '"')
        cs++;
    return !strncasecmp(cs, "utf-8", 5) && strchr("\"; \t", cs[5]);
}

/* The body, within the limit; a non-blank body of POST/PUT/PATCH must be JSON and say so. */
static int read_body(struct pl_request *r)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
    size_t len = in ? evbuffer_get_length(in) : 0;
    if (len > H.body_limit) {
        http_reply_error(r, 413, "PAYLOAD_TOO_LARGE", "request body larger than %zu bytes",
                         H.body_limit);
        return 0;
    }
    r->body = malloc(len + 1);
    if (!r->body) {
        http_reply_error(r, 500, "INTERNAL_ERROR", "out of memory");
        return 0;
    }
    if (len)
        evbuffer_remove(in, r->body, len);
    r->body[len] = '\0';
    r->body_len = len;
    int has_body = 0;
    for (size_t i = 0; i < len && !has_body; i++)
        has_body = !strchr(" \n\r\t", r->body[i]);
    if (!has_body || (strcmp(r->method, "POST") && strcmp(r->method, "PUT") && strcmp(r->method, "PATCH")))
        return 1;
    /* a CSV upload (bulk token import) is read by its handler, not parsed as JSON */
    const char *ctype = http_req_header(r, "Content-Type");
    while (ctype && *ctype == ' ')
        ctype++;
    if (ctype && strncasecmp(ctype, "text/csv", 8) == 0)
        return 1;
    if (!json_media_type(ctype)) {
        http_reply_error(r, 415, "UNSUPPORTED_MEDIA_TYPE",
                         "request bodies are JSON (or text/csv where a route says so): send Content-Type: application/json");
        return 0;
    }
    json_error_t jerr;
    r->json = json_loadb(r->body, len, 0, &jerr);
    if (!r->json) {
        http_reply_error(r, 400, "INVALID_JSON", "malformed JSON body: %s (line %d, column %d)",
                         jerr.text, jerr.line, jerr.column);
        return 0;
    }
    return 1;
}

/* The body against the route's description (its OpenAPI requestBody): the schema the
 * document shows is the one enforced, so the two cannot drift.  A CSV body (read_body let
 * it through unparsed) is its handler's to read. */
static int body_valid(struct pl_request *r)
{
    const struct route *rt = r->route;
    if (!rt->body_schema)
        return 1;
    if (!r->json) {
        const char *ctype = http_req_header(r, "Content-Type");
        while (ctype && *ctype == ' ')
            ctype++;
        if (ctype && strncasecmp(ctype, "text/csv", 8) == 0)
            return 1; /* read_body let it through: its handler reads it */
        int blank = 1;
        for (size_t i = 0; i < r->body_len && blank; i++)
            blank = strchr(" \n\r\t", r->body[i]) != NULL;
        if (!blank || !rt->body_required)
            return 1;
        http_reply_error(r, 400, "MISSING_PARAMETER", "this route needs a JSON request body");
        return 0;
    }
    char err[320], field[128];
    enum jsonschema_fault f = jsonschema_validate(rt->body_schema, openapi_root(), r->json, err,
                                                  sizeof err, field, sizeof field);
    if (f == JSONSCHEMA_OK)
        return 1;
    json_t *e = json_pack("{s:s, s:s, s:s}", "error", err, "code",
                          f == JSONSCHEMA_MISSING ? "MISSING_PARAMETER"
                          : f == JSONSCHEMA_ENUM  ? "INVALID_ENUM"
                          : !field[0]             ? "INVALID_BODY" /* the body itself */
                                                  : "INVALID_PARAMETER",
                          "field", field);
    http_reply_json(r, 400, e);
    return 0;
}

/* A connection a TLS listener could not give its TLS layer (out of memory: evhttp made a
 * plain one) is never served. */
static int plain_on_tls_listener(struct evhttp_request *req, struct http_gate *g)
{
    if (!H.tls || g)
        return 0;
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    return !bev || !bufferevent_openssl_get_ssl(bev);
}

static void handle(struct evhttp_request *req, void *unused)
{
    (void)unused;
    struct http_gate *g = http_gate_of_request(req);
    http_gate_dispatched(g);
    if (plain_on_tls_listener(req, g)) {
        error_direct(req, 400, "TLS_REQUIRED", "this listener speaks HTTPS only", "Connection",
                     "close");
        return;
    }
    const char *method = method_name(evhttp_request_get_command(req));
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!raw_path || raw_path[0] != '/') {
        error_direct(req, 400, "BAD_REQUEST", "malformed request target", NULL, NULL);
        return;
    }
    char *path = strdup(raw_path), *split = strdup(raw_path);
    char *segs[MAX_SEGS + 1];
    int n = path && split ? split_path(split, segs, MAX_SEGS) : -1;
    struct route *best = NULL;
    if (n < 0)
        error_direct(req, 404, "NOT_FOUND", "no such route", NULL, NULL);
    else
        best = match_route(req, method, segs, n);
    struct pl_request *r = best ? calloc(1, sizeof *r) : NULL;
    if (!r) {
        if (best)
            error_direct(req, 500, "INTERNAL_ERROR", "out of memory", NULL, NULL);
        free(path);
        free(split);
        return;
    }
    TAILQ_INIT(&r->query);
    r->req = req;
    r->gate = g;
    r->route = best;
    best->requests++;
    r->method = strdup(method);
    r->path = path;
    r->started_ms = core_now_ms();
    r->client_subject = http_gate_client_subject(g);
    decode_params(r, segs, n);
    free(split);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    if (q && evhttp_parse_query_str(q, &r->query) != 0) {
        http_reply_error(r, 400, "INVALID_QUERY", "malformed query string");
        return;
    }
    if (!client_cert_ok(r) || !authorize(r) || !rate_ok(r) || !params_valid(r) || !read_body(r) ||
        !body_valid(r))
        return;
    r->conn = evhttp_request_get_connection(req);
    evhttp_connection_set_closecb(r->conn, on_conn_close, r);
    best->cb(r, best->arg);
}

/* ---------- in-process requests (pl_host.http_dispatch) ----------
 * MCP tools, OICP and the console run the very handlers of the REST routes: a request
 * built in memory goes through the same matching, scope check, parameter checks, body
 * limit and JSON parsing, and the answer that send_and_free would write to a socket goes
 * to the caller's callback.  What belongs to a connection does not apply: no API key
 * (the caller says which scope it acts with), no rate limit, no close. */

struct local_ctx {
    pl_http_local_done_cb cb;
    void *arg;
    struct evkeyvalq in_headers, out_headers;
    char *key_name;
};

static void local_free(struct local_ctx *l)
{
    if (!l)
        return;
    evhttp_clear_headers(&l->in_headers);
    evhttp_clear_headers(&l->out_headers);
    free(l->key_name);
    free(l);
}

static const char *local_header(struct local_ctx *l, const char *name)
{
    return evhttp_find_header(&l->in_headers, name);
}

static struct evkeyvalq *output_headers(struct pl_request *r)
{
    return r->local ? &r->local->out_headers : evhttp_request_get_output_headers(r->req);
}

/* Hand the answer to the callback: headers as "Name: value" lines, body NUL-terminated. */
static void local_answer(struct pl_request *r, int status, struct evbuffer *body)
{
    struct local_ctx *l = r->local;
    size_t nh = 0, i = 0;
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, &l->out_headers, next)
        nh++;
    char **lines = calloc(nh + 1, sizeof *lines);
    TAILQ_FOREACH(kv, &l->out_headers, next) {
        size_t len = strlen(kv->key) + strlen(kv->value) + 3;
        if (lines && (lines[i] = malloc(len)))
            snprintf(lines[i++], len, "%s: %s", kv->key, kv->value);
    }
    size_t len = body ? evbuffer_get_length(body) : 0;
    char *text = malloc(len + 1);
    if (text && len)
        evbuffer_copyout(body, text, len);
    if (text)
        text[len] = '\0';
    struct pl_http_local_resp resp = {sizeof resp, status, (const char *const *)lines,
                                      text ? text : "", text ? len : 0};
    static const char *const none[] = {NULL};
    if (!lines)
        resp.headers = none;
    l->cb(&resp, l->arg);
    for (size_t k = 0; lines && k < i; k++)
        free(lines[k]);
    free(lines);
    free(text);
}

/* "Name: value" lines into the request's headers; -1 for a malformed line. */
static int local_parse_headers(struct local_ctx *l, const char *const *headers)
{
    for (size_t i = 0; headers && headers[i]; i++) {
        const char *colon = strchr(headers[i], ':');
        if (!colon || colon == headers[i])
            return -1;
        char *name = strndup(headers[i], (size_t)(colon - headers[i]));
        const char *value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        int rc = name ? evhttp_add_header(&l->in_headers, name, value) : -1;
        free(name);
        if (rc != 0)
            return -1;
    }
    return 1;
}

/* The scope the caller acts with against the route's (403 as for a key). */
static int local_authorize(struct pl_request *r, int scope)
{
    int need = r->route->scope == PL_AUTH_CONFIG ? (H.public_health ? PL_AUTH_NONE : PL_AUTH_READ)
                                                 : r->route->scope;
    if (scope < need) {
        http_reply_error(r, 403, "FORBIDDEN", "this caller's scope does not allow %s %s",
                         r->method, r->route->pattern);
        return 0;
    }
    r->scope = scope;
    r->key_name = r->local->key_name;
    return 1;
}

/* What params_valid checks of a request from the wire, for one built in memory. */
static int local_params_valid(struct pl_request *r, const char *query)
{
    for (int i = 0; i < r->nparams; i++)
        if (strlen(r->param_values[i]) != r->param_lens[i] ||
            !utf8_ok(r->param_values[i], r->param_lens[i])) {
            http_reply_error(r, 400, "INVALID_PARAMETER",
                             "path parameter '%s' is not valid UTF-8 (or contains NUL)",
                             r->param_names[i]);
            return 0;
        }
    if (query && find_nocase(query, "%00")) {
        http_reply_error(r, 400, "INVALID_PARAMETER", "query parameters must not contain NUL");
        return 0;
    }
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, &r->query, next)
        if (!utf8_ok(kv->key, strlen(kv->key)) || !utf8_ok(kv->value, strlen(kv->value))) {
            http_reply_error(r, 400, "INVALID_PARAMETER", "query parameter '%s' is not valid UTF-8",
                             utf8_ok(kv->key, strlen(kv->key)) ? kv->key : "?");
            return 0;
        }
    TAILQ_FOREACH(kv, &r->local->in_headers, next)
        if (!utf8_ok(kv->value, strlen(kv->value))) {
            http_reply_error(r, 400, "INVALID_PARAMETER", "header '%s' is not valid UTF-8",
                             utf8_ok(kv->key, strlen(kv->key)) ? kv->key : "?");
            return 0;
        }
    return 1;
}

/* The body within the limit; a non-blank body of POST/PUT/PATCH is parsed as JSON. */
static int local_read_body(struct pl_request *r, const char *body, size_t len)
{
    if (!body)
        len = 0;
    if (len > H.body_limit) {
        http_reply_error(r, 413, "PAYLOAD_TOO_LARGE", "request body larger than %zu bytes",
                         H.body_limit);
        return 0;
    }
    r->body = malloc(len + 1);
    if (!r->body) {
        http_reply_error(r, 500, "INTERNAL_ERROR", "out of memory");
        return 0;
    }
    if (len)
        memcpy(r->body, body, len);
    r->body[len] = '\0';
    r->body_len = len;
    int has_body = 0;
    for (size_t i = 0; i < len && !has_body; i++)
        has_body = !strchr(" \n\r\t", r->body[i]);
    if (!has_body || (strcmp(r->method, "POST") && strcmp(r->method, "PUT") && strcmp(r->method, "PATCH")))
        return 1;
    json_error_t jerr;
    r->json = json_loadb(r->body, len, 0, &jerr);
    if (!r->json) {
        http_reply_error(r, 400, "INVALID_JSON", "malformed JSON body: %s (line %d, column %d)",
                         jerr.text, jerr.line, jerr.column);
        return 0;
    }
    return 1;
}

/* A pl_request answered to cb; NULL when out of memory. */
static struct pl_request *local_new(const struct pl_http_local_req *q, pl_http_local_done_cb cb,
                                    void *arg)
{
    struct pl_request *r = calloc(1, sizeof *r);
    struct local_ctx *l = calloc(1, sizeof *l);
    if (!r || !l) {
        free(r);
        free(l);
        return NULL;
    }
    TAILQ_INIT(&r->query);
    TAILQ_INIT(&l->in_headers);
    TAILQ_INIT(&l->out_headers);
    l->cb = cb;
    l->arg = arg;
    r->local = l;
    r->started_ms = core_now_ms();
    size_t plen = strcspn(q->path, "?");
    r->method = strdup(q->method);
    r->path = strndup(q->path, plen);
    l->key_name = q->key_name ? strdup(q->key_name) : NULL;
    if (!r->method || !r->path || (q->key_name && !l->key_name)) {
        request_free(r);
        return NULL;
    }
    return r;
}

/* Match the path (404/405 with Allow answered to the callback); 1 when a route matched. */
static int local_route(struct pl_request *r)
{
    char *split = strdup(r->path), *segs[MAX_SEGS + 1], allow[ALLOW_MAX] = "";
    int n = split ? split_path(split, segs, MAX_SEGS) : -1;
    r->route = n < 0 ? NULL : find_route(r->method, segs, n, allow);
    if (r->route) {
        r->route->requests++; /* as for a request from the wire: request_free counts down */
        decode_params(r, segs, n);
    }
    free(split);
    if (r->route)
        return 1;
    if (*allow) {
        http_reply_header(r, "Allow", allow);
        http_reply_error(r, 405, "METHOD_NOT_ALLOWED", "method not allowed on this path");
    } else {
        http_reply_error(r, 404, "NOT_FOUND", "no such route");
    }
    return 0;
}

int http_dispatch(pl_plugin_handle *self, const struct pl_http_local_req *req,
                  pl_http_local_done_cb cb, void *arg)
{
    (void)self;
    struct pl_http_local_req q = {0};
    if (!req || !cb)
        return PL_EINVAL;
    memcpy(&q, req, req->size < sizeof q ? req->size : sizeof q); /* older minors: shorter */
    if (!q.method || !q.path)
        return PL_EINVAL;
    struct pl_request *r = local_new(&q, cb, arg);
    if (!r)
        return PL_ENOMEM;
    if (r->path[0] != '/') {
        http_reply_error(r, 400, "BAD_REQUEST", "malformed request target");
        return PL_OK;
    }
    if (!local_route(r))
        return PL_OK;
    const char *query = q.path[strlen(r->path)] == '?' ? q.path + strlen(r->path) + 1 : NULL;
    if (query && evhttp_parse_query_str(query, &r->query) != 0) {
        http_reply_error(r, 400, "INVALID_QUERY", "malformed query string");
        return PL_OK;
    }
    if (local_parse_headers(r->local, q.headers) < 0) {
        http_reply_error(r, 400, "BAD_REQUEST", "headers must be \"Name: value\" lines");
        return PL_OK;
    }
    if (!client_cert_ok(r) || !local_authorize(r, q.scope) || !local_params_valid(r, query) ||
        !local_read_body(r, q.body, q.body_len) || !body_valid(r))
        return PL_OK;
    r->route->cb(r, r->route->arg);
    return PL_OK;
}

/* ---------- core routes ---------- */

static void add_ws_stats(json_t *o)
{
    struct ws_stats s;
    ws_get_stats(&s);
    json_object_set_new(o, "websocket",
                        json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "status", "ok",
                                  "connections", (json_int_t)(s.open_server + s.open_client),
                                  "server_connections", (json_int_t)s.open_server,
                                  "accepted_total", (json_int_t)s.accepted_total, "refused_total",
                                  (json_int_t)s.refused_total, "frames_in", (json_int_t)s.frames_in,
                                  "frames_out", (json_int_t)s.frames_out, "protocol_errors",
                                  (json_int_t)s.protocol_errors, "tls_handshake_failures",
                                  (json_int_t)s.tls_handshake_failures));
}

static void health(pl_request *r, void *arg)
{
    (void)arg;
    int ok = db_healthy();
    json_t *o = json_pack("{s:s, s:s, s:I, s:{s:s}, s:o, s:I}", "status", ok ? "ok" : "degraded",
                          "version", PACKAGE_VERSION, "uptime_s",
                          (json_int_t)((core_now_ms() - H.start_ms) / 1000), "gateway", "status",
                          "ok", "database", db_stats(), "stations_online",
                          (json_int_t)registry_online_count());
    add_ws_stats(o);
    http_reply_json(r, ok || !H.health_strict ? 200 : 503, o);
}

static void collect_gauges(void *arg)
{
    (void)arg;
    struct ws_stats s;
    ws_get_stats(&s);
    metrics_set("pipelet_up", 1);
    metrics_set("pipelet_websocket_connections{side=\"server\"}", (double)s.open_server);
    metrics_set("pipelet_websocket_connections{side=\"client\"}", (double)s.open_client);
    metrics_set("pipelet_websocket_frames_in", (double)s.frames_in);
    metrics_set("pipelet_websocket_frames_out", (double)s.frames_out);
    metrics_set("pipelet_websocket_protocol_errors", (double)s.protocol_errors);
    metrics_set("pipelet_websocket_tls_handshake_failures", (double)s.tls_handshake_failures);
    metrics_set("pipelet_stations_online", (double)registry_online_count());
    metrics_set("pipelet_message_log_bytes", (double)registry_message_log_bytes());
    json_t *d = db_stats();
    metrics_set("pipelet_db_up", db_healthy());
    metrics_set("pipelet_db_connections", (double)json_integer_value(json_object_get(d, "connections")));
    metrics_set("pipelet_db_queue_depth", (double)json_integer_value(json_object_get(d, "queued")));
    metrics_set("pipelet_db_queries", (double)json_integer_value(json_object_get(d, "queries_total")));
    metrics_set("pipelet_db_errors", (double)json_integer_value(json_object_get(d, "errors_total")));
    json_decref(d);
}

static void metrics_route(pl_request *r, void *arg)
{
    (void)arg;
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        http_reply_error(r, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    metrics_render(b);
    size_t len = evbuffer_get_length(b);
    http_reply_raw(r, 200, "text/plain; version=0.0.4", evbuffer_pullup(b, -1), len);
    evbuffer_free(b);
}

/* [http] TLS keys (tls.h, tls_server_config): with a certificate the listener speaks
 * HTTPS only. */
static int tls_listener(void)
{
    struct tls_server_opts o;
    int set = tls_server_config("http", &o);
    if (set <= 0)
        return set;
    SSL_CTX *ctx = tls_server_ctx_opts(&o);
    if (!ctx || SSL_CTX_up_ref(ctx) != 1)
        return -1;
    H.tls = ctx;
    return 0;
}

/* One evhttp listener on listen:port, TLS with tls (else plain), every request through
 * handle(); *bound gets the port (the kernel's choice for 0).  NULL after logging. */
static struct evhttp *listener(SSL_CTX *tls, const char *listen, long port, long body_limit, int *bound)
{
    struct evhttp *http = evhttp_new(core_base);
    if (!http)
        return NULL;
    /* The gate refuses (in JSON) before evhttp's own limits, which it counts more
     * strictly, could answer in HTML; the timeouts are the gate's (evhttp's would be
     * reset by every byte, and would cut server-sent event streams whose client is
     * silent). */
    evhttp_set_bevcb(http, http_gate_new, tls);
    evhttp_set_max_body_size(http, (ev_ssize_t)body_limit);
    evhttp_set_max_headers_size(http, HTTP_GATE_HEAD_LIMIT);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
                                         EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
    evhttp_set_default_content_type(http, "application/json");
    evhttp_set_gencb(http, handle, NULL);
    struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(http, listen, (ev_uint16_t)port);
    if (!sock) {
        core_log(PL_LOG_ERROR, "http", "cannot listen on %s:%ld", listen, port);
        evhttp_free(http);
        return NULL;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(sock);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                : ((struct sockaddr_in *)&ss)->sin_port);
    return http;
}

int http_init(void)
{
    long port, body_limit, rate, burst, fail_rate, fail_burst, request_timeout, idle_timeout;
    int ph, strict;
    char err[512];
    if (core_config_int("http", "port", 8080, 0, 65535, &port) ||
        core_config_int("http", "body_limit", 1048576, 1024, 1073741824, &body_limit) ||
        core_config_int("http", "rate_limit", 50, 0, 1000000, &rate) ||
        core_config_int("http", "rate_burst", 100, 1, 10000000, &burst) ||
        core_config_int("http", "auth_fail_rate", 6, 0, 1000000, &fail_rate) ||
        core_config_int("http", "auth_fail_burst", 10, 1, 1000000, &fail_burst) ||
        core_config_int("http", "request_timeout", 10, 1, 3600, &request_timeout) ||
        core_config_int("http", "idle_timeout", 60, 1, 86400, &idle_timeout) ||
        core_config_bool("http", "public_health", 1, &ph) ||
        core_config_bool("http", "health_strict", 0, &strict))
        return -1;
    if (apikey_load(err, sizeof err) != 0) {
        core_log(PL_LOG_ERROR, "http", "%s", err);
        return -1;
    }
    H.body_limit = (size_t)body_limit;
    H.rate = (double)rate;
    H.burst = (double)burst;
    H.authfail_rate = (double)fail_rate / 60.0; /* configured per minute */
    H.authfail_burst = (double)fail_burst;
    struct http_gate_limits gl = {(size_t)body_limit, (uint64_t)request_timeout * 1000,
                                  (uint64_t)idle_timeout * 1000};
    http_gate_configure(&gl);
    H.public_health = ph;
    H.health_strict = strict;
    H.start_ms = core_now_ms();
    const char *listen = core_config_get("http", "listen");
    if (!listen || !*listen)
        listen = "0.0.0.0";
    if (tls_listener() != 0)
        return -1;
    long tls_port = -1;
    if (core_config_get("http", "tls_port") && core_config_int("http", "tls_port", 0, 0, 65535, &tls_port))
        return -1;
    if (tls_port >= 0 && !H.tls) {
        core_log(PL_LOG_ERROR, "http", "%s: [http] tls_port needs tls_certificate and tls_private_key",
                 config_where("http", "tls_port"));
        return -1;
    }
    /* with tls_port, port stays plain HTTP and tls_port speaks HTTPS; without it a
     * configured certificate makes port HTTPS only */
    H.http = listener(tls_port >= 0 ? NULL : H.tls, listen, port, body_limit, &H.port);
    if (!H.http)
        return -1;
    if (tls_port >= 0 && !(H.https = listener(H.tls, listen, tls_port, body_limit, &H.tls_port)))
        return -1;
    char bound[16];
    snprintf(bound, sizeof bound, "%d", H.port);
    config_set("http", "port", bound);
    if (H.https) {
        snprintf(bound, sizeof bound, "%d", H.tls_port);
        config_set("http", "tls_port", bound);
    }
    metrics_add_collector(collect_gauges, NULL);
    http_http_route(NULL, "GET", "/health", PL_AUTH_CONFIG, health, NULL);
    http_http_route(NULL, "GET", "/api/v1/health", PL_AUTH_CONFIG, health, NULL);
    http_http_route(NULL, "GET", "/metrics", PL_AUTH_CONFIG, metrics_route, NULL);
    http_http_route(NULL, "GET", "/api/v1/metrics", PL_AUTH_CONFIG, metrics_route, NULL);
    const char *https = core_config_get("http", "tls_client_ca") ? "https, client certificates" : "https";
    core_log(PL_LOG_INFO, "http", "listening on %s:%d (%s)", listen, H.port, !H.tls || H.https ? "http" : https);
    if (H.https)
        core_log(PL_LOG_INFO, "http", "listening on %s:%d (%s)", listen, H.tls_port, https);
    return 0;
}

int http_port(void)
{
    return H.port;
}

void http_shutdown(void)
{
    if (H.http) {
        evhttp_free(H.http);
        H.http = NULL;
    }
    if (H.https) {
        evhttp_free(H.https);
        H.https = NULL;
    }
    if (H.tls) {
        SSL_CTX_free(H.tls);
        H.tls = NULL;
    }
    tls_shutdown(); /* http_shutdown is the last TLS user to stop (main.c) */
    while (H.routes) {
        struct route *r = H.routes;
        H.routes = r->next;
        r->removed = 1; /* a request answered later still names it */
        if (r->requests == 0)
            route_free(r);
    }
    apikey_free();
}

/* ---------- route descriptions (core/openapi.c) ---------- */

int http_route_describe(pl_plugin_handle *owner, const char *method, const char *pattern,
                        json_t *operation)
{
    for (struct route *r = H.routes; r; r = r->next) {
        if (r->removed || r->owner != owner || strcasecmp(r->method, method) != 0 ||
            strcmp(r->pattern, pattern) != 0)
            continue;
        json_decref(r->doc);
        r->doc = json_incref(operation);
        json_t *body = json_object_get(operation, "requestBody");
        r->body_schema = json_object_get(json_object_get(json_object_get(body, "content"),
                                                         "application/json"),
                                         "schema");
        r->body_required = json_is_true(json_object_get(body, "required"));
        return PL_OK;
    }
    return PL_ENOENT;
}

void http_routes_foreach(void (*cb)(const char *method, const char *pattern, int scope,
                                    pl_plugin_handle *owner, json_t *doc, void *arg),
                         void *arg)
{
    for (struct route *r = H.routes; r; r = r->next)
        if (!r->removed)
            cb(r->method, r->pattern, r->scope, r->owner, r->doc, arg);
}
