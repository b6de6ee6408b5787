/*
 * resources.c — station state as MCP resources: pipelet://stations/{id}, the JSON of
 * GET /api/v1/stations/{id} (read through that route, with the caller's scope), listed a
 * page of stations at a time, and their change notifications:
 *  - legacy era: resources/subscribe in a session; notifications/resources/updated goes
 *    on the session's stream (GET /mcp, or the /mcp/sse stream);
 *  - 2026-07-28: subscriptions/listen answers with an SSE stream that acknowledges the
 *    filter, then carries notifications/resources/updated stamped with the listen
 *    request's id as subscriptionId; it ends when the client goes (or, gracefully with
 *    its result, when the gateway stops).
 * A station's resource changes with every station.* event (connection, boot, connector
 * status, firmware...) and when a session starts or ends there.
 */
#include "mcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URI_PREFIX "pipelet://stations/"
#define SUBS_MAX 1000 /* URIs a session or a listen stream may watch */

struct listener {
    struct mcp_call *c;
    char **uris;
    size_t nuris;
    struct listener *next;
};

/* The station id of a resource URI (percent-decoded), or -1. */
static int uri_station(const char *uri, char *out, size_t cap)
{
    size_t pl = strlen(URI_PREFIX), n = 0;
    if (!uri || strncmp(uri, URI_PREFIX, pl) != 0)
        return -1;
    for (const char *p = uri + pl; *p; p++) {
        char ch = *p;
        if (ch == '%') {
            unsigned v;
            if (!p[1] || !p[2] || sscanf(p + 1, "%2x", &v) != 1)
                return -1;
            ch = (char)v;
            p += 2;
        }
        if (ch == '/' || ch == '\0' || ch == '?' || ch == '#' || n + 1 >= cap)
            return -1;
        out[n++] = ch;
    }
    out[n] = '\0';
    return n ? 0 : -1;
}

static void station_uri(const char *station, char *out, size_t cap)
{
    snprintf(out, cap, "%s", URI_PREFIX);
    tools_encode(out, cap, station);
}

/* ---------------------------------------------------------------- reading ---- */

static void listed(const struct pl_http_local_resp *resp, void *arg)
{
    struct mcp_call *c = arg;
    json_t *page = json_loadb(resp->body, resp->body_len, 0, NULL);
    json_t *items = json_object_get(page, "items");
    if (resp->status != 200 || !json_is_array(items)) { /* (a cancelled call drops its answer) */
        json_decref(page);
        if (resp->status == 400)
            call_error(c, -32602, "invalid cursor");
        else
            call_error(c, -32603, "the station list could not be read");
        return;
    }
    json_t *out = json_array(), *st;
    size_t i;
    json_array_foreach(items, i, st) {
        const char *id = json_string_value(json_object_get(st, "id"));
        if (!id)
            continue;
        char uri[512], desc[256];
        station_uri(id, uri, sizeof uri);
        const char *vendor = json_string_value(json_object_get(st, "vendor"));
        const char *model = json_string_value(json_object_get(st, "model"));
        const char *proto = json_string_value(json_object_get(st, "protocol"));
        snprintf(desc, sizeof desc, "%s%s%s%s%s, %s", vendor ? vendor : "", vendor ? " " : "",
                 model ? model : "", model || vendor ? ", " : "", proto ? proto : "OCPP",
                 json_is_true(json_object_get(st, "online")) ? "online" : "offline");
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:s}", "uri", uri, "name", id,
                                             "title", id, "description", desc, "mimeType",
                                             "application/json"));
    }
    json_t *res = json_pack("{s:o}", "resources", out);
    const char *next = json_string_value(json_object_get(page, "next_cursor"));
    if (next)
        json_object_set_new(res, "nextCursor", json_string(next));
    json_decref(page);
    if (c->era == MCP_MODERN)
        cacheable(res, 0); /* station state changes: nothing to reuse */
    call_result(c, res);
}

void do_resources_list(struct mcp_call *c, json_t *params)
{
    const char *cursor = json_string_value(json_object_get(params, "cursor"));
    char path[256] = "/api/v1/stations?limit=50";
    if (cursor) {
        if (strlen(cursor) > 128) {
            call_error(c, -32602, "invalid cursor");
            return;
        }
        strcat(path, "&cursor=");
        tools_encode(path, sizeof path, cursor);
    }
    if (tools_dispatch(c, "GET", path, NULL, listed, c) != PL_OK)
        call_error(c, -32603, "the station list could not be read");
}

void do_resource_templates(struct mcp_call *c)
{
    json_t *res = json_pack(
        "{s:[{s:s, s:s, s:s, s:s, s:s}]}", "resourceTemplates", "uriTemplate",
        URI_PREFIX "{id}", "name", "station", "title", "A charging station",
        "description",
        "A station's state: identity, protocol, connection, connectors and their status, "
        "as GET /api/v1/stations/{id} answers it. Subscribe to hear when it changes.",
        "mimeType", "application/json");
    if (c->era == MCP_MODERN)
        cacheable(res, 300000);
    call_result(c, res);
}

struct read_ctx {
    struct mcp_call *c;
    char uri[512];
};

static void read_done(const struct pl_http_local_resp *resp, void *arg)
{
    struct read_ctx *r = arg;
    struct mcp_call *c = r->c;
    if (resp->status == 200) { /* (a cancelled call drops its answer) */
        json_t *res = json_pack("{s:[{s:s, s:s, s:s#}]}", "contents", "uri", r->uri, "mimeType",
                                "application/json", "text", resp->body, (int)resp->body_len);
        if (c->era == MCP_MODERN)
            cacheable(res, 0);
        call_result(c, res);
    } else if (resp->status == 404) {
        call_error_data(c, RESOURCE_NOT_FOUND, "Resource not found", json_pack("{s:s}", "uri", r->uri));
    } else {
        char msg[160];
        snprintf(msg, sizeof msg, "the station could not be read (HTTP %d)", resp->status);
        call_error(c, -32603, msg);
    }
    free(r);
}

void do_resources_read(struct mcp_call *c, json_t *params)
{
    const char *uri = json_string_value(json_object_get(params, "uri"));
    char station[128];
    if (!uri) {
        call_error(c, -32602, "uri: required");
        return;
    }
    if (strlen(uri) >= 512 || uri_station(uri, station, sizeof station) < 0) {
        call_error_data(c, RESOURCE_NOT_FOUND, "Resource not found", json_pack("{s:s}", "uri", uri));
        return;
    }
    struct read_ctx *r = calloc(1, sizeof *r);
    if (!r) {
        call_error(c, -32603, "out of memory");
        return;
    }
    r->c = c;
    snprintf(r->uri, sizeof r->uri, "%s", uri);
    char path[512] = "/api/v1/stations/";
    tools_encode(path, sizeof path, station);
    if (tools_dispatch(c, "GET", path, NULL, read_done, r) != PL_OK) {
        free(r);
        call_error(c, -32603, "the station could not be read");
    }
}

/* ---------------------------------------------------------- subscriptions ---- */

static int has(char **list, size_t n, const char *uri)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], uri) == 0)
            return 1;
    return 0;
}

void do_resources_subscribe(struct mcp_call *c, json_t *params, int subscribe)
{
    const char *uri = json_string_value(json_object_get(params, "uri"));
    struct session *s = c->session[0] ? session_find(c->m, c->session) : NULL;
    char station[128];
    if (!s) {
        call_error(c, -32600, "resource subscriptions belong to a session: initialize first");
        return;
    }
    if (!uri || strlen(uri) >= 512 || uri_station(uri, station, sizeof station) < 0) {
        call_error_data(c, RESOURCE_NOT_FOUND, "Resource not found",
                        json_pack("{s:s?}", "uri", uri));
        return;
    }
    if (subscribe && !has(s->subs, s->nsubs, uri)) {
        char **grown = s->nsubs < SUBS_MAX ? realloc(s->subs, (s->nsubs + 1) * sizeof *grown) : NULL;
        char *copy = grown ? strdup(uri) : NULL;
        if (grown)
            s->subs = grown;
        if (!copy) {
            call_error(c, -32603, "too many subscriptions in this session");
            return;
        }
        s->subs[s->nsubs++] = copy;
    } else if (!subscribe) {
        for (size_t i = 0; i < s->nsubs; i++)
            if (strcmp(s->subs[i], uri) == 0) {
                free(s->subs[i]);
                s->subs[i] = s->subs[--s->nsubs];
                break;
            }
    }
    call_result(c, json_object());
}

static void listener_free(struct mcp *m, struct listener *l)
{
    for (struct listener **pp = &m->listeners; *pp; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    for (size_t i = 0; i < l->nuris; i++)
        free(l->uris[i]);
    free(l->uris);
    free(l);
}

/* Cancelled, or its client went away: the stream ends without a result. */
static void listener_cancel(struct mcp_call *c)
{
    struct listener *l = c->op;
    c->op = NULL;
    c->op_cancel = NULL;
    listener_free(c->m, l);
    call_drop(c);
}

void do_subscriptions_listen(struct mcp_call *c, json_t *params)
{
    json_t *filter = json_object_get(params, "notifications");
    json_t *wanted = json_object_get(filter, "resourceSubscriptions");
    if (!json_is_object(filter) || (wanted && !json_is_array(wanted))) {
        call_error(c, -32602, "notifications: an object (resourceSubscriptions: [URIs])");
        return;
    }
    if (c->sink != SINK_HTTP || !c->accepts_sse) {
        call_error(c, -32600, "subscriptions/listen answers with an SSE stream: "
                              "Accept must list text/event-stream");
        return;
    }
    struct listener *l = calloc(1, sizeof *l);
    if (!l) {
        call_error(c, -32603, "out of memory");
        return;
    }
    l->c = c;
    json_t *accepted = json_array(), *u;
    size_t i;
    json_array_foreach(wanted, i, u) {
        const char *uri = json_string_value(u);
        char station[128];
        char **grown;
        if (!uri || strlen(uri) >= 512 || uri_station(uri, station, sizeof station) < 0 ||
            has(l->uris, l->nuris, uri) || l->nuris >= SUBS_MAX ||
            !(grown = realloc(l->uris, (l->nuris + 1) * sizeof *grown)))
            continue; /* not a resource here: not acknowledged */
        l->uris = grown;
        l->uris[l->nuris++] = strdup(uri);
        json_array_append_new(accepted, json_string(uri));
    }
    l->next = c->m->listeners;
    c->m->listeners = l;
    c->op = l;
    c->op_cancel = listener_cancel;
    /* the acknowledgement opens the stream: what will be delivered, under this id */
    json_t *ack = json_pack("{s:{s:o}, s:{s:O}}", "notifications", "resourceSubscriptions",
                            accepted, "_meta", META_SUBSCRIPTION_ID, c->id);
    if (call_notify(c, "notifications/subscriptions/acknowledged", ack) < 0)
        listener_cancel(c);
}

/* ---------------------------------------------------------- notifications ---- */

static void notify_station(struct mcp *m, const char *station)
{
    char uri[512];
    station_uri(station, uri, sizeof uri);
    for (long i = 0; i < m->max_sessions; i++) {
        struct session *s = &m->sessions[i];
        if (s->kind == SESSION_FREE || !s->stream || !has(s->subs, s->nsubs, uri))
            continue;
        json_t *msg = json_pack("{s:s, s:s, s:{s:s}}", "jsonrpc", "2.0", "method",
                                "notifications/resources/updated", "params", "uri", uri);
        session_send(m, s, msg);
        json_decref(msg);
    }
    struct listener *next;
    for (struct listener *l = m->listeners; l; l = next) {
        next = l->next;
        if (!has(l->uris, l->nuris, uri))
            continue;
        json_t *p = json_pack("{s:s, s:{s:O}}", "uri", uri, "_meta", META_SUBSCRIPTION_ID, l->c->id);
        if (call_notify(l->c, "notifications/resources/updated", p) < 0)
            listener_cancel(l->c); /* gone or too slow */
    }
}

static void on_event(const char *topic, json_t *env, void *arg)
{
    struct mcp *m = arg;
    const char *station = json_string_value(json_object_get(env, "station"));
    if (!station)
        return;
    if (strncmp(topic, "transaction.", 12) == 0 && strcmp(topic, "transaction.started") != 0 &&
        strcmp(topic, "transaction.ended") != 0)
        return; /* cost and meter updates do not change the station's state */
    notify_station(m, station);
}

int resources_start(struct mcp *m)
{
    if (!m->host->bus_subscribe)
        return 0;
    m->station_sub = m->host->bus_subscribe(m->self, "station.*", on_event, m);
    m->tx_sub = m->host->bus_subscribe(m->self, "transaction.*", on_event, m);
    return m->station_sub && m->tx_sub ? 0 : -1;
}

/* The gateway stops: each listen stream ends gracefully, with its (empty) result. */
void resources_stop(struct mcp *m)
{
    m->host->bus_unsubscribe(m->station_sub);
    m->host->bus_unsubscribe(m->tx_sub);
    m->station_sub = m->tx_sub = NULL;
    while (m->listeners) {
        struct listener *l = m->listeners;
        struct mcp_call *c = l->c;
        c->op = NULL;
        c->op_cancel = NULL;
        listener_free(m, l);
        call_result(c, json_pack("{s:{s:O}}", "_meta", META_SUBSCRIPTION_ID, c->id));
    }
}
