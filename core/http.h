/*
 * http.h — the HTTP server: one evhttp listener (HTTPS when [http] tls_cert is set)
 * behind a per-connection gate (request framing checks, JSON refusals, request and idle
 * timeouts), a router with {param} segments, per-route auth scopes and client-certificate
 * requirements, JSON bodies and errors, rate limits, streaming replies; the core routes
 * /health and /metrics.  The request functions implement pl_host fields.
 */
#ifndef PIPELET_HTTP_H
#define PIPELET_HTTP_H

#include "core.h"

int http_init(void);      /* reads [http], binds; registers the core routes */
int http_port(void);      /* the bound port */
void http_shutdown(void);
/* [{"method","pattern","scope","plugin"}] (new) */
json_t *http_routes_json(void);

int http_http_route(pl_plugin_handle *self, const char *method, const char *pattern,
                    int auth_scope, pl_route_cb cb, void *arg);
int http_http_route_opts(pl_plugin_handle *self, const struct pl_http_route_opts *o,
                         pl_route_cb cb, void *arg);
/* Attach an OpenAPI operation (borrowed; a reference is kept) to owner's route method +
 * pattern; its requestBody's JSON schema is then enforced.  PL_ENOENT: no such route. */
int http_route_describe(pl_plugin_handle *owner, const char *method, const char *pattern,
                        json_t *operation);
/* Every registered route, with its operation or NULL. */
void http_routes_foreach(void (*cb)(const char *method, const char *pattern, int scope,
                                    pl_plugin_handle *owner, json_t *doc, void *arg),
                         void *arg);
/* Remove every route registered by owner (a plugin going away); returns how many. */
int http_remove_owner(pl_plugin_handle *owner);
const char *http_req_method(pl_request *req);
const char *http_req_path(pl_request *req);
const char *http_req_param(pl_request *req, const char *name);
const char *http_req_query(pl_request *req, const char *name);
const char *http_req_header(pl_request *req, const char *name);
const char *http_req_body(pl_request *req, size_t *len);
json_t *http_req_json(pl_request *req);
int http_req_scope(pl_request *req);
const char *http_req_key_name(pl_request *req);
const char *http_req_client_cert_subject(pl_request *req);
const char *http_req_remote_addr(pl_request *req);
void http_req_on_close(pl_request *req, pl_request_close_cb cb, void *arg);
void http_reply_header(pl_request *req, const char *name, const char *value);
void http_reply_json(pl_request *req, int status, json_t *body);
void http_reply_error(pl_request *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void http_reply_raw(pl_request *req, int status, const char *content_type, const void *data,
                    size_t len);
int http_reply_stream_begin(pl_request *req, int status, const char *content_type);
int http_reply_stream_write(pl_request *req, const void *data, size_t len);
void http_reply_stream_end(pl_request *req);
/* pl_host.http_dispatch: a request built in memory through the router (see plugin.h). */
int http_dispatch(pl_plugin_handle *self, const struct pl_http_local_req *req,
                  pl_http_local_done_cb cb, void *arg);

#endif
