/*
 * host.c — assembles struct pl_host from the core modules, and implements the
 * small services that belong to no other module: plugin logging and config
 * access, timers (each remembers its plugin, so an unloaded plugin leaves none).
 */
#include "host.h"
#include "bus.h"
#include "plugin_loader.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "openapi.h"
#include "httpclient.h"
#include "metrics.h"
#include "ocppj.h"
#include "registry.h"
#include "command.h"
#include "certs.h"
#include "tokens.h"
#include "billing.h"
#include "load.h"
#include "outbox.h"
#include "model_read.h"
#include "fdwatch.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pl_timer {
    struct event *ev;
    pl_timer_cb cb;
    void *arg;
    int repeat;
    pl_plugin_handle *owner;
    struct pl_timer *prev, *next; /* every live timer */
};

static struct pl_timer *timers;

static void host_log(pl_plugin_handle *self, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void host_log(pl_plugin_handle *self, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    core_vlog(level, core_plugin_name(self), fmt, ap);
    va_end(ap);
}

static const char *host_config_get(pl_plugin_handle *self, const char *key, const char *def)
{
    loader_config_read(self, key);
    const char *v = core_config_get(core_plugin_name(self), key);
    return v ? v : def;
}

static int host_config_int(pl_plugin_handle *self, const char *key, long def, long min,
                           long max, long *out)
{
    loader_config_read(self, key);
    return core_config_int(core_plugin_name(self), key, def, min, max, out);
}

static int host_config_bool(pl_plugin_handle *self, const char *key, int def, int *out)
{
    loader_config_read(self, key);
    return core_config_bool(core_plugin_name(self), key, def, out);
}

static void timer_fire(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct pl_timer *t = arg;
    t->cb(t->arg); /* may free t: touch nothing after */
}

static pl_timer *host_timer_new(pl_plugin_handle *self, pl_timer_cb cb, void *arg)
{
    struct pl_timer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->cb = cb;
    t->arg = arg;
    t->owner = self;
    t->next = timers;
    if (timers)
        timers->prev = t;
    timers = t;
    return t;
}

static void host_timer_start(pl_timer *t, uint64_t ms, int repeat)
{
    if (!t)
        return;
    if (t->ev && t->repeat != repeat) {
        event_free(t->ev);
        t->ev = NULL;
    }
    if (!t->ev) {
        if (!core_base) /* --check-config: no loop, nothing ever fires */
            return;
        t->ev = event_new(core_base, -1, repeat ? EV_PERSIST : 0, timer_fire, t);
        if (!t->ev)
            return;
    }
    t->repeat = repeat;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    event_add(t->ev, &tv);
}

static void host_timer_stop(pl_timer *t)
{
    if (t && t->ev)
        event_del(t->ev);
}

static void host_timer_free(pl_timer *t)
{
    if (!t)
        return;
    if (t->ev)
        event_free(t->ev);
    if (t->prev)
        t->prev->next = t->next;
    else
        timers = t->next;
    if (t->next)
        t->next->prev = t->prev;
    free(t);
}

int host_timers_free_owner(pl_plugin_handle *owner)
{
    int n = 0;
    for (struct pl_timer *t = timers, *next; t; t = next) {
        next = t->next;
        if (t->owner == owner) {
            host_timer_free(t);
            n++;
        }
    }
    return n;
}

static const struct pl_host host = {
    .size = sizeof(struct pl_host),
    .abi_major = PL_ABI_MAJOR,
    .abi_minor = PL_ABI_MINOR,
    .version = PACKAGE_VERSION,
    .log = host_log,
    .config_get = host_config_get,
    .config_int = host_config_int,
    .config_bool = host_config_bool,
    .config_global = core_config_get,
    .timer_new = host_timer_new,
    .timer_start = host_timer_start,
    .timer_stop = host_timer_stop,
    .timer_free = host_timer_free,
    .now_ms = core_now_ms,
    .now_rfc3339 = core_now_rfc3339,
    .http_route = http_http_route,
    .req_method = http_req_method,
    .req_path = http_req_path,
    .req_param = http_req_param,
    .req_query = http_req_query,
    .req_header = http_req_header,
    .req_body = http_req_body,
    .req_json = http_req_json,
    .req_scope = http_req_scope,
    .req_key_name = http_req_key_name,
    .req_on_close = http_req_on_close,
    .reply_header = http_reply_header,
    .reply_json = http_reply_json,
    .reply_error = http_reply_error,
    .reply_raw = http_reply_raw,
    .reply_stream_begin = http_reply_stream_begin,
    .reply_stream_write = http_reply_stream_write,
    .reply_stream_end = http_reply_stream_end,
    .http_fetch = httpclient_http_fetch,
    .bus_subscribe = bus_bus_subscribe,
    .bus_unsubscribe = bus_bus_unsubscribe,
    .bus_publish = bus_bus_publish,
    .db_migrations = db_host_migrations,
    .db_query = db_host_query,
    .db_ok = db_ok,
    .db_error = db_error,
    .db_sqlstate = db_sqlstate,
    .db_ntuples = db_ntuples,
    .db_nfields = db_nfields,
    .db_fname = db_fname,
    .db_value = db_value,
    .db_affected = db_affected,
    .db_json = db_json,
    .db_healthy = db_healthy,
    .metric_add = metrics_add,
    .metric_set = metrics_set,
    .metric_observe = metrics_observe,
    .ocpp = NULL,     /* filled in host_table(): the tables live in their modules */
    .stations = NULL,
    .uuid = core_uuid,
};

const struct pl_host *host_table(void)
{
    static struct pl_host h;
    if (!h.size) {
        h = host;
        h.ocpp = ocppj_api();
        h.stations = station_api();
        h.certs = certs_api();
        h.tokens = tokens_api();
        /* ABI 1.2: the read API, in-process routes, fd watchers, key declarations */
        h.model = model_read_api();
        h.http_dispatch = http_dispatch;
        h.fd_watch = fdwatch_new;
        h.fd_watch_update = fdwatch_update;
        h.fd_watch_free = fdwatch_free;
        h.config_declare = loader_config_declare;
        h.http_fetch_opts = httpclient_http_fetch_opts;
        h.http_route_opts = http_http_route_opts;
        h.req_client_cert_subject = http_req_client_cert_subject;
        h.http_describe = openapi_describe;
        h.billing = billing_api();
        h.load = load_api();
        h.req_remote_addr = http_req_remote_addr;
        h.outbox = outbox_api();
    }
    return &h;
}
