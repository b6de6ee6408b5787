/* httpclient.h — outbound HTTP(S) requests for plugins (pl_host.http_fetch). */
#ifndef PIPELET_HTTPCLIENT_H
#define PIPELET_HTTPCLIENT_H

#include "core.h"

int httpclient_http_fetch(pl_plugin_handle *self, const char *method, const char *url,
                          const char *const *headers, const void *body, size_t body_len,
                          unsigned timeout_ms, const char *ca_file, pl_http_done_cb cb,
                          void *arg);
/* pl_host.http_fetch_opts: the same with a client certificate (struct pl_http_fetch_opts). */
int httpclient_http_fetch_opts(pl_plugin_handle *self, const struct pl_http_fetch_opts *o,
                               pl_http_done_cb cb, void *arg);
/* Fail every request in flight (their callbacks run now). */
void httpclient_shutdown(void);

#endif
