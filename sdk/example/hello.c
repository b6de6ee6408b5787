/*
 * hello.c — the example pipelet plugin: one HTTP route and one event-bus subscriber.
 * Build it out of tree with the Makefile beside it (pkg-config pipelet-plugin).
 *
 *   GET /hello/v1/greeting?name=Ada  ->  {"greeting":"Hello, Ada!","stations_seen":N}
 *
 * It counts station.connected events, to show how state, config and ownership work.
 */
#include <pipelet/pipelet.h>
#include <stdio.h>
#include <stdlib.h>

struct hello {
    const struct pl_host *host; /* borrowed for the plugin's lifetime */
    pl_plugin_handle *self;
    pl_subscription *sub;       /* ours: released in fini */
    long stations_seen;
    const char *greeting;       /* borrowed from the config until the next reload */
};

static void on_station_connected(const char *topic, json_t *envelope, void *arg)
{
    struct hello *h = arg;
    (void)topic;
    (void)envelope; /* borrowed: json_incref it to keep it */
    h->stations_seen++;
}

static void get_greeting(pl_request *req, void *arg)
{
    struct hello *h = arg;
    const char *name = h->host->req_query(req, "name");
    if (name && !*name) {
        h->host->reply_error(req, 400, "INVALID_PARAMETER", "name must not be empty");
        return;
    }
    char text[256];
    snprintf(text, sizeof text, "%s, %s!", h->greeting, name ? name : "world");
    /* reply_json steals the reference: no json_decref here */
    h->host->reply_json(req, 200, json_pack("{s:s, s:i}", "greeting", text, "stations_seen",
                                            (json_int_t)h->stations_seen));
}

static int hello_init(pl_plugin_handle *self, const struct pl_host *host, void **state)
{
    struct hello *h = calloc(1, sizeof *h);
    if (!h)
        return PL_ENOMEM;
    h->host = host;
    h->self = self;
    h->greeting = host->config_get(self, "greeting", "Hello");
    /* registration may fail: free what we allocated, the host will not call fini */
    if (host->http_route(self, "GET", "/hello/v1/greeting", PL_AUTH_NONE, get_greeting, h) != PL_OK)
        goto fail;
    h->sub = host->bus_subscribe(self, "station.connected", on_station_connected, h);
    if (!h->sub)
        goto fail;
    host->log(self, PL_LOG_INFO, "hello plugin ready (greeting '%s')", h->greeting);
    *state = h;
    return PL_OK;
fail:
    free(h);
    return PL_ERR;
}

static int hello_reload(void *state)
{
    struct hello *h = state;
    h->greeting = h->host->config_get(h->self, "greeting", "Hello");
    return PL_OK;
}

static void hello_fini(void *state)
{
    struct hello *h = state;
    h->host->bus_unsubscribe(h->sub);
    free(h);
}

PL_PLUGIN_DEFINE(.name = "hello", .version = "1.0.0",
                 .description = "Example plugin: a greeting route and a bus subscriber",
                 .init = hello_init, .reload = hello_reload, .fini = hello_fini);
