/*
 * http.c — the REST listener.  evhttp parses HTTP; we route ourselves (evhttp's own
 * callbacks cannot match "/stations/{id}"), so every answer — including 404, 405,
 * 401/403, 413, 429 and malformed JSON — is a JSON body {"error","code"}.
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
#include "metrics.h"
#include "registry.h"
#include "util.h"
#include "ws.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    pl_route_cb cb;
    void *arg;
    pl_plugin_handle *owner;
    int requests; /* unanswered requests naming it: a removed route lives until 0 */
    int removed;
    struct route *next;
};

struct close_cb {
    pl_request_close_cb cb;
    void *arg;
    struct close_cb *next;
};

struct pl_request {
    struct evhttp_request *req;   /* ours until answered, even after the client left */
    struct evhttp_connection *conn;
    struct route *route;
    char *method;
    char *path;
    char *param_names[MAX_SEGS], *param_values[MAX_SEGS];
    int nparams;
    struct evkeyvalq query;
    char *body;
    size_t body_len;
    json_t *json;
    int scope;
    const char *key_name;
    struct close_cb *close_cbs;
    int replied, streaming, closed;
    uint64_t started_ms;
};

static struct {
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    int port;
    size_t body_limit;
    double rate, burst;
    int public_health, health_strict;
    struct route *routes;
    uint64_t start_ms;
} H;

static const char *status_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

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

static void route_free(struct route *r)
{
    for (int i = 0; i < MAX_SEGS; i++)
        free(r->segs[i]);
    free(r->method);
    free(r->pattern);
    free(r);
}

static void request_free(struct pl_request *r)
{
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
    for (struct close_cb *c = r->close_cbs; c; c = c->next)
        c->cb(r, c->arg);
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
    detach_conn(r);
    /* after a close evhttp_send_reply only frees the detached request */
    evhttp_send_reply(r->req, status, status_reason(status), body);
    request_free(r);
}

void http_reply_header(pl_request *r, const char *name, const char *value)
{
    if (r && r->req && !r->replied && !r->closed)
        evhttp_add_header(evhttp_request_get_output_headers(r->req), name, value);
}

void http_reply_raw(pl_request *r, int status, const char *content_type, const void *data,
                    size_t len)
{
    if (!r)
        return;
    struct evbuffer *b = evbuffer_new();
    if (b && len)
        evbuffer_add(b, data, len);
    if (r->req && !r->replied && !r->closed && content_type && status != 204)
        evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
                          content_type);
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
    evhttp_send_reply_start(r->req, status, status_reason(status));
    return PL_OK;
}

int http_reply_stream_write(pl_request *r, const void *data, size_t len)
{
    if (!r || !r->streaming || r->closed || !r->req)
        return PL_ERR;
    struct evhttp_connection *conn = evhttp_request_get_connection(r->req);
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    /* a reader that does not keep up is dropped rather than buffered without bound */
    if (bev && evbuffer_get_length(bufferevent_get_output(bev)) > 8u * 1024 * 1024)
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
    detach_conn(r);
    evhttp_send_reply_end(r->req); /* frees a request whose client is gone */
    request_free(r);
}

const char *http_req_method(pl_request *r) { return r->method; }
const char *http_req_path(pl_request *r) { return r->path; }
int http_req_scope(pl_request *r) { return r->scope; }
const char *http_req_key_name(pl_request *r) { return r->key_name; }
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
    if (!method || !pattern || pattern[0] != '/' || !cb)
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
    r->scope = auth_scope;
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
    evhttp_send_reply(req, status, status_reason(status), b);
    evbuffer_free(b);
    char name[200];
    snprintf(name, sizeof name, "pipelet_http_requests_total{route=\"none\",method=\"%s\",status=\"%d\"}",
             method_name(evhttp_request_get_command(req)), status);
    metrics_add(name, 1);
}

static void handle(struct evhttp_request *req, void *unused)
{
    (void)unused;
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
    if (n < 0) {
        free(path);
        free(split);
        error_direct(req, 404, "NOT_FOUND", "no such route", NULL, NULL);
        return;
    }
    struct route *best = NULL;
    char allow[128] = "";
    for (struct route *r = H.routes; r; r = r->next) {
        if (!route_matches(r, segs, n))
            continue;
        if (strcmp(r->method, method) == 0) {
            if (better(r, best))
                best = r;
        } else if (strlen(allow) + strlen(r->method) + 3 < sizeof allow && !strstr(allow, r->method)) {
            if (*allow)
                strcat(allow, ", ");
            strcat(allow, r->method);
        }
    }
    if (!best) {
        free(path);
        free(split);
        if (*allow)
            error_direct(req, 405, "METHOD_NOT_ALLOWED", "method not allowed on this path", "Allow",
                         allow);
        else
            error_direct(req, 404, "NOT_FOUND", "no such route", NULL, NULL);
        return;
    }

    struct pl_request *r = calloc(1, sizeof *r);
    if (!r) {
        free(path);
        free(split);
        error_direct(req, 500, "INTERNAL_ERROR", "out of memory", NULL, NULL);
        return;
    }
    TAILQ_INIT(&r->query);
    r->req = req;
    r->route = best;
    best->requests++;
    r->method = strdup(method);
    r->path = path;
    r->started_ms = core_now_ms();
    for (int i = 0; i < n; i++) {
        if (best->segs[i][0] != '{')
            continue;
        size_t l = strlen(best->segs[i]);
        char *name = strndup(best->segs[i] + 1, l >= 2 ? l - 2 : 0);
        char *value = evhttp_uridecode(segs[i], 0, NULL);
        if (!name || !value) {
            free(name);
            free(value);
            continue;
        }
        r->param_names[r->nparams] = name;
        r->param_values[r->nparams++] = value;
    }
    free(split);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    if (q && evhttp_parse_query_str(q, &r->query) != 0) {
        http_reply_error(r, 400, "INVALID_QUERY", "malformed query string");
        return;
    }

    /* auth */
    int need = best->scope == PL_AUTH_CONFIG ? (H.public_health ? PL_AUTH_NONE : PL_AUTH_READ)
                                             : best->scope;
    const char *key = evhttp_find_header(evhttp_request_get_input_headers(req), "X-API-Key");
    int scope = PL_AUTH_NONE;
    const char *key_name = NULL;
    if (key && !apikey_check(key, &scope, &key_name)) {
        if (need > PL_AUTH_NONE) {
            http_reply_error(r, 401, "UNAUTHORIZED", "invalid API key");
            return;
        }
        scope = PL_AUTH_NONE;
    }
    if (need > PL_AUTH_NONE && !key_name) {
        http_reply_error(r, 401, "UNAUTHORIZED", "missing X-API-Key header");
        return;
    }
    if (scope < need) {
        http_reply_error(r, 403, "FORBIDDEN", "this API key's scope does not allow %s %s", method,
                         best->pattern);
        return;
    }
    r->scope = scope;
    r->key_name = key_name;

    /* rate limit: per key, else per client address */
    char bucket[128];
    if (key_name) {
        snprintf(bucket, sizeof bucket, "key:%s", key_name);
    } else {
        char *host = NULL;
        ev_uint16_t port = 0;
        evhttp_connection_get_peer(evhttp_request_get_connection(req), &host, &port);
        snprintf(bucket, sizeof bucket, "ip:%s", host ? host : "?");
    }
    int wait = ratelimit_take(bucket, H.rate, H.burst);
    if (wait > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", wait);
        http_reply_header(r, "Retry-After", ra);
        http_reply_error(r, 429, "RATE_LIMITED", "rate limit exceeded; retry after %d s", wait);
        return;
    }

    /* body */
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = in ? evbuffer_get_length(in) : 0;
    if (len > H.body_limit) {
        http_reply_error(r, 413, "PAYLOAD_TOO_LARGE", "request body larger than %zu bytes",
                         H.body_limit);
        return;
    }
    r->body = malloc(len + 1);
    if (!r->body) {
        http_reply_error(r, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    if (len)
        evbuffer_remove(in, r->body, len);
    r->body[len] = '\0';
    r->body_len = len;
    int has_body = 0;
    for (size_t i = 0; i < len; i++)
        if (r->body[i] != ' ' && r->body[i] != '\n' && r->body[i] != '\r' && r->body[i] != '\t') {
            has_body = 1;
            break;
        }
    if (has_body && (!strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH"))) {
        json_error_t jerr;
        r->json = json_loadb(r->body, len, 0, &jerr);
        if (!r->json) {
            http_reply_error(r, 400, "INVALID_JSON", "malformed JSON body: %s (line %d, column %d)",
                             jerr.text, jerr.line, jerr.column);
            return;
        }
    }
    r->conn = evhttp_request_get_connection(req);
    evhttp_connection_set_closecb(r->conn, on_conn_close, r);
    best->cb(r, best->arg);
}

/* ---------- core routes ---------- */

static void add_ws_stats(json_t *o)
{
    struct ws_stats s;
    ws_get_stats(&s);
    json_object_set_new(o, "websocket",
                        json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "status", "ok",
                                  "connections", (json_int_t)(s.open_server + s.open_client),
                                  "server_connections", (json_int_t)s.open_server,
                                  "accepted_total", (json_int_t)s.accepted_total, "refused_total",
                                  (json_int_t)s.refused_total, "frames_in", (json_int_t)s.frames_in,
                                  "frames_out", (json_int_t)s.frames_out, "protocol_errors",
                                  (json_int_t)s.protocol_errors));
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
    metrics_set("pipelet_stations_online", (double)registry_online_count());
    json_t *d = db_stats();
    metrics_set("pipelet_db_up", db_healthy());
    metrics_set("pipelet_db_connections", (double)json_integer_value(json_object_get(d, "connections")));
    metrics_set("pipelet_db_queue_depth", (double)json_integer_value(json_object_get(d, "queued")));
    metrics_set("pipelet_db_reconnects", (double)json_integer_value(json_object_get(d, "reconnects")));
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

int http_init(void)
{
    long port, body_limit, rate, burst;
    int ph, strict;
    char err[512];
    if (core_config_int("http", "port", 8080, 0, 65535, &port) ||
        core_config_int("http", "body_limit", 1048576, 1024, 1073741824, &body_limit) ||
        core_config_int("http", "rate_limit", 50, 0, 1000000, &rate) ||
        core_config_int("http", "rate_burst", 100, 1, 10000000, &burst) ||
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
    H.public_health = ph;
    H.health_strict = strict;
    H.start_ms = core_now_ms();
    const char *listen = core_config_get("http", "listen");
    if (!listen || !*listen)
        listen = "0.0.0.0";
    H.http = evhttp_new(core_base);
    if (!H.http)
        return -1;
    /* evhttp's own 413 (plain HTML) only past 4x the limit; below that we answer JSON */
    evhttp_set_max_body_size(H.http, (ev_ssize_t)body_limit * 4);
    evhttp_set_max_headers_size(H.http, 16384);
    evhttp_set_timeout(H.http, 60);
    evhttp_set_allowed_methods(H.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                           EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
                                           EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
    evhttp_set_default_content_type(H.http, "application/json");
    evhttp_set_gencb(H.http, handle, NULL);
    H.sock = evhttp_bind_socket_with_handle(H.http, listen, (ev_uint16_t)port);
    if (!H.sock) {
        core_log(PL_LOG_ERROR, "http", "cannot listen on %s:%ld", listen, port);
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(H.sock);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        H.port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                : ((struct sockaddr_in *)&ss)->sin_port);
    char bound[16];
    snprintf(bound, sizeof bound, "%d", H.port);
    config_set("http", "port", bound);
    metrics_add_collector(collect_gauges, NULL);
    http_http_route(NULL, "GET", "/health", PL_AUTH_CONFIG, health, NULL);
    http_http_route(NULL, "GET", "/api/v1/health", PL_AUTH_CONFIG, health, NULL);
    http_http_route(NULL, "GET", "/metrics", PL_AUTH_CONFIG, metrics_route, NULL);
    http_http_route(NULL, "GET", "/api/v1/metrics", PL_AUTH_CONFIG, metrics_route, NULL);
    core_log(PL_LOG_INFO, "http", "listening on %s:%d", listen, H.port);
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
    while (H.routes) {
        struct route *r = H.routes;
        H.routes = r->next;
        r->removed = 1; /* a request answered later still names it */
        if (r->requests == 0)
            route_free(r);
    }
    apikey_free();
}
