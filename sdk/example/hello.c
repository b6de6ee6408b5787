/*
 * hello.c — the example pipelet plugin: one HTTP route and one event-bus subscriber.
 * Build it out of tree with the Makefile beside it (pkg-config pipelet-plugin).
 *
 *   GET /hello/v1/greeting?name=Ada  ->  {"greeting":"Hello, Ada!","stations_seen":N}
 *
 * It counts station.connected events, to show how state, config (declared keys, SIGHUP)
 * and ownership work.
 */
#include <pipelet/pipelet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every key of [hello], declared first thing in init: the host then reports unknown keys
 * and bad values with file:line (at start, in --check-config and on SIGHUP). */
static const struct pl_config_key hello_keys[] = {
    {"greeting", PL_CONFIG_STRING, "Hello", 0, 0, NULL, "the word before the name", 0},
    {"max_name", PL_CONFIG_INT, "64", 1, 200, NULL, "longest ?name= accepted, bytes", 0},
};

struct hello {
    const struct pl_host *host; /* borrowed for the plugin's lifetime */
    pl_plugin_handle *self;
    pl_subscription *sub;       /* ours: released in fini */
    long stations_seen;
    const char *greeting;       /* borrowed from the config until the next reload */
    long max_name;
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
    if (name && (!*name || strlen(name) > (size_t)h->max_name)) {
        h->host->reply_error(req, 400, "INVALID_PARAMETER", "name must be 1 to %ld bytes", h->max_name);
        return;
    }
    char text[256];
    snprintf(text, sizeof text, "%s, %s!", h->greeting, name ? name : "world");
    /* reply_json steals the reference: no json_decref here */
    h->host->reply_json(req, 200, json_pack("{s:s, s:i}", "greeting", text, "stations_seen",
                                            (json_int_t)h->stations_seen));
}

/* At init and on SIGHUP (the host has checked the whole file before either). */
static int read_config(struct hello *h)
{
    h->greeting = h->host->config_get(h->self, "greeting", "Hello");
    return h->host->config_int(h->self, "max_name", 64, 1, 200, &h->max_name);
}

/* What GET /hello/v1/greeting takes and answers, in OpenAPI 3.1 (a bigger plugin keeps
 * this in a .json file of its own folder and embeds it at build time). */
static const char hello_description[] =
    "{\"tags\": [{\"name\": \"Hello\", \"description\": \"The SDK's example plugin\"}],"
    " \"paths\": {\"/hello/v1/greeting\": {\"get\": {"
    "  \"summary\": \"A greeting\", \"tags\": [\"Hello\"],"
    "  \"parameters\": [{\"name\": \"name\", \"in\": \"query\", \"schema\": {\"type\": \"string\"}}],"
    "  \"responses\": {\"200\": {\"description\": \"The greeting\", \"content\": {\"application/json\":"
    "   {\"schema\": {\"type\": \"object\", \"properties\": {\"greeting\": {\"type\": \"string\"},"
    "    \"stations_seen\": {\"type\": \"integer\"}}}}}},"
    "   \"400\": {\"$ref\": \"#/components/responses/BadRequest\"}}}}}}";

static int hello_init(pl_plugin_handle *self, const struct pl_host *host, void **state)
{
    /* First: in `pipelet --check-config` this answers PL_ESTATE and init stops here */
    int rc = host->config_declare(self, hello_keys, sizeof hello_keys / sizeof hello_keys[0]);
    if (rc != PL_OK)
        return rc; /* the host has logged each error with file:line */
    struct hello *h = calloc(1, sizeof *h);
    if (!h)
        return PL_ENOMEM;
    h->host = host;
    h->self = self;
    if (read_config(h) != PL_OK)
        goto fail;
    /* Registrations are the plugin's: when init fails after some of them, the host
     * removes them all (ABI 1.2), so the failure path frees only our own memory. */
    if (host->http_route(self, "GET", "/hello/v1/greeting", PL_AUTH_NONE, get_greeting, h) != PL_OK)
        goto fail;
    /* The route's description joins /api/v1/openapi.json (ABI 1.2; an older host skips
     * it); the router then enforces any JSON body it describes. */
    pl_http_describe_text(host, self, hello_description, sizeof hello_description - 1);
    h->sub = host->bus_subscribe(self, "station.connected", on_station_connected, h);
    if (!h->sub)
        goto fail; /* the route above is removed by the host, never called with freed h */
    host->log(self, PL_LOG_INFO, "hello plugin ready (greeting '%s')", h->greeting);
    *state = h;
    return PL_OK;
fail:
    free(h);
    return PL_ERR;
}

static int hello_reload(void *state)
{
    return read_config(state);
}

static void hello_fini(void *state)
{
    struct hello *h = state;
    h->host->bus_unsubscribe(h->sub); /* the host would also remove it after fini */
    free(h);
}

PL_PLUGIN_DEFINE(.name = "hello", .version = "1.0.0",
                 .description = "Example plugin: a greeting route and a bus subscriber",
                 .init = hello_init, .reload = hello_reload, .fini = hello_fini);
