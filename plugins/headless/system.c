/*
 * system.c — /api/v1/system (what this gateway runs: version, ABI, plugins, listeners,
 * database, stations online), /api/v1/system/routes, and the /api/v1 aliases of the
 * core's /health and /metrics.
 */
#include "headless.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *config_string(struct headless *hl, const char *section, const char *key)
{
    const char *v = hl->host->config_global(section, key);
    return v ? json_string(v) : json_null();
}

/* "ocpp16, headless webhooks" -> ["ocpp16","headless","webhooks"] (new). */
static json_t *plugin_names(const char *list)
{
    json_t *a = json_array();
    const char *p = list;
    while (p && *p) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(p, ", \t");
        if (n > 0 && n < 128)
            json_array_append_new(a, json_pack("{s:s%}", "name", p, n));
        p += n;
    }
    return a;
}

static long stations_online(struct headless *hl)
{
    json_t *online = hl->st->list_online();
    long n = (long)json_array_size(online);
    json_decref(online);
    return n;
}

void hl_system(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const struct pl_host *h = hl->host;
    char now[40];
    long online = stations_online(hl);
    json_t *body = json_pack(
        "{s:s, s:s, s:{s:i, s:i}, s:{s:i, s:i}, s:o, s:s, s:{s:o, s:o}, s:{s:o, s:o, s:o, s:I},"
        " s:{s:b, s:o, s:o}, s:I}",
        "version", h->version ? h->version : "unknown", "time", h->now_rfc3339(now, sizeof now),
        "abi", "major", (int)h->abi_major, "minor", (int)h->abi_minor, "headless_abi", "major",
        PL_ABI_MAJOR, "minor", PL_ABI_MINOR, "plugins",
        plugin_names(h->config_global("plugins", "load")), "plugins_source",
        "configured list ([plugins] load); the plugin ABI does not expose the loaded set",
        "http", "listen", config_string(hl, "http", "listen"), "port",
        config_string(hl, "http", "port"), "websocket", "listen",
        config_string(hl, "ocpp", "listen"), "port", config_string(hl, "ocpp", "port"),
        "path_prefix", config_string(hl, "ocpp", "path_prefix"), "stations_online",
        (json_int_t)online, "database", "healthy", h->db_healthy ? h->db_healthy() : 0,
        "pool_size", config_string(hl, "database", "pool_size"), "queue_max",
        config_string(hl, "database", "queue_max"), "stations_online", (json_int_t)online);
    /* who is asking: a console shows only what the caller's key may do */
    static const char *const scopes[] = {"none", "read", "operator", "admin"};
    int scope = h->req_scope ? h->req_scope(req) : PL_AUTH_READ;
    const char *key = h->req_key_name ? h->req_key_name(req) : NULL;
    json_object_set_new(body, "caller",
                        json_pack("{s:s?, s:s}", "key", key, "scope",
                                  scope >= 0 && scope <= 3 ? scopes[scope] : "read"));
    h->reply_json(req, 200, body);
}

void hl_health(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const struct pl_host *h = hl->host;
    int db = h->db_healthy ? h->db_healthy() : 0;
    h->reply_json(req, db ? 200 : 503,
                  json_pack("{s:s, s:s, s:s, s:I}", "status", db ? "ok" : "degraded", "version",
                            h->version ? h->version : "unknown", "database", db ? "up" : "down",
                            "stations_online", (json_int_t)stations_online(hl)));
}

/* /api/v1/metrics: the core renders the Prometheus text at /metrics; the ABI gives no
 * access to it, so fetch it over loopback with the caller's own key. */
struct metrics_ctx {
    struct headless *hl;
    pl_request *req;
};

static void on_metrics(const struct pl_http_response *resp, void *arg)
{
    struct metrics_ctx *m = arg;
    const struct pl_host *h = m->hl->host;
    if (resp->status == 200)
        h->reply_raw(m->req, 200, "text/plain; version=0.0.4", resp->body, resp->body_len);
    else if (resp->status)
        h->reply_error(m->req, resp->status, "METRICS_UNAVAILABLE",
                       "the core's /metrics answered %d", resp->status);
    else
        h->reply_error(m->req, 502, "METRICS_UNAVAILABLE", "the core's /metrics: %s",
                       resp->error ? resp->error : "no answer");
    free(m);
}

void hl_metrics(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const struct pl_host *h = hl->host;
    const char *listen = h->config_global("http", "listen");
    const char *port = h->config_global("http", "port");
    char url[256], keyhdr[300];
    if (!listen || !*listen || !strcmp(listen, "0.0.0.0") || !strcmp(listen, "*"))
        listen = "127.0.0.1";
    if (!strcmp(listen, "::"))
        listen = "[::1]";
    snprintf(url, sizeof url, "http://%s:%s/metrics", listen, port ? port : "8080");
    const char *key = h->req_header(req, "X-API-Key");
    const char *headers[2] = {NULL, NULL};
    if (key && strlen(key) < 256) {
        snprintf(keyhdr, sizeof keyhdr, "X-API-Key: %s", key);
        headers[0] = keyhdr;
    }
    struct metrics_ctx *m = calloc(1, sizeof *m);
    if (!m) {
        h->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    m->hl = hl;
    m->req = req;
    if (h->http_fetch(hl->self, "GET", url, headers, NULL, 0, 5000, NULL, on_metrics, m) < 0) {
        free(m);
        h->reply_error(req, 502, "METRICS_UNAVAILABLE", "could not reach the core's /metrics");
    }
}
