/*
 * follow.c — tools whose work outlasts their REST call, reported as progress
 * (notifications/progress, when the request carries a progressToken) and cancellable
 * (notifications/cancelled, or the client going away):
 *  - update_firmware with a progressToken: after the station accepted the update, each
 *    firmware status it reports (station.firmware_status) is a progress step; the
 *    result comes with the final status, or when follow_timeout ends the wait (the
 *    update goes on at the station: "complete": false says so);
 *  - sync_site_local_lists: the site's stations (GET /api/v1/sites/{id}), then for each
 *    one after the other its local-list sync route, waiting for the station's answer
 *    (command.completed); a progress step per station.
 * Both run on the same REST routes as everything else, with the caller's scope.
 */
#include "mcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATION_ANSWER_MS 120000 /* a local-list command is answered or times out by then */

/* ------------------------------------------------------------------ firmware ---- */

struct fw_follow {
    struct mcp_call *c;
    char station[64];
    int status;          /* the REST answer's */
    char *body;          /* and its body */
    size_t body_len;
    json_t *statuses;    /* what the station reported, in order */
    pl_subscription *sub;
    pl_timer *timer;
};

static int fw_final(const char *s)
{
    static const char *const finals[] = {"Installed", "DownloadFailed", "InstallationFailed",
                                         "InstallVerificationFailed", "InvalidSignature",
                                         "Idle", NULL};
    for (int i = 0; finals[i]; i++)
        if (strcmp(s, finals[i]) == 0)
            return 1;
    return 0;
}

static void fw_end(struct fw_follow *f, int timed_out)
{
    struct mcp_call *c = f->c;
    const struct pl_host *h = c->m->host;
    h->bus_unsubscribe(f->sub);
    h->timer_free(f->timer);
    c->op = NULL;
    c->op_cancel = NULL;
    if (c->cancelled) {
        call_drop(c);
    } else {
        size_t n = json_array_size(f->statuses);
        const char *last = n ? json_string_value(json_object_get(json_array_get(f->statuses, n - 1), "status")) : NULL;
        json_t *extra = json_pack("{s:s?, s:O, s:b}", "firmware_status", last, "firmware_statuses",
                                  f->statuses, "complete", !timed_out);
        json_t *res = tools_result(f->status, f->body, f->body_len, extra);
        if (last && strcmp(last, "Installed") != 0 && strcmp(last, "Idle") != 0 && !timed_out)
            json_object_set_new(res, "isError", json_true()); /* the update failed */
        call_result(c, res);
    }
    json_decref(f->statuses);
    free(f->body);
    free(f);
}

static void fw_event(const char *topic, json_t *env, void *arg)
{
    (void)topic;
    struct fw_follow *f = arg;
    const char *station = json_string_value(json_object_get(env, "station"));
    const char *status = json_string_value(json_object_get(json_object_get(env, "data"), "status"));
    if (!station || !status || strcmp(station, f->station) != 0)
        return;
    json_array_append_new(f->statuses, json_pack("{s:s, s:O?}", "status", status, "at",
                                                 json_object_get(env, "time")));
    /* the final status is told by the result itself: a progress notification written
     * just before it may reach a client that has already dropped the request's handler */
    if (fw_final(status))
        fw_end(f, 0);
    else
        call_progress(f->c, 0, status);
}

static void fw_timeout(void *arg)
{
    fw_end(arg, 1);
}

static void fw_cancel(struct mcp_call *c)
{
    fw_end(c->op, 0);
}

void follow_firmware(struct mcp_call *c, const char *station, int status, const char *body,
                     size_t len)
{
    const struct pl_host *h = c->m->host;
    struct fw_follow *f = calloc(1, sizeof *f);
    if (!f || !(f->body = malloc(len + 1))) {
        free(f);
        call_result(c, tools_result(status, body, len, NULL));
        return;
    }
    memcpy(f->body, body, len);
    f->body[len] = '\0';
    f->body_len = len;
    f->c = c;
    f->status = status;
    snprintf(f->station, sizeof f->station, "%s", station);
    f->statuses = json_array();
    f->sub = h->bus_subscribe(c->m->self, "station.firmware_status", fw_event, f);
    f->timer = h->timer_new(c->m->self, fw_timeout, f);
    if (!f->sub || !f->timer) {
        fw_end(f, 1);
        return;
    }
    c->op = f;
    c->op_cancel = fw_cancel;
    h->timer_start(f->timer, (uint64_t)c->m->follow_timeout_ms, 0);
    call_progress(c, 0, "accepted by the station; waiting for its firmware status");
}

/* ------------------------------------------------------- a site's local lists ---- */

struct site_sync {
    struct mcp_call *c;
    char site[24];
    json_t *update_type;   /* or NULL */
    json_t *stations;      /* the site's station ids */
    size_t next;           /* the station being synced */
    json_t *results;
    char command[40];      /* the command awaited, once its route answered */
    json_t *early;         /* command.completed of the current station seen before that */
    int busy;              /* a REST dispatch is in flight: its callback goes on */
    int waiting;           /* for the current station's command.completed */
    pl_subscription *sub;
    pl_timer *timer;
};

static void sync_step(void *arg);

static void sync_end(struct site_sync *s)
{
    struct mcp_call *c = s->c;
    const struct pl_host *h = c->m->host;
    h->bus_unsubscribe(s->sub);
    h->timer_free(s->timer);
    c->op = NULL;
    c->op_cancel = NULL;
    if (c->cancelled) {
        call_drop(c);
    } else {
        size_t i, ok = 0;
        json_t *r;
        json_array_foreach(s->results, i, r) {
            const char *st = json_string_value(json_object_get(r, "status"));
            ok += st && strcmp(st, "Accepted") == 0;
        }
        json_t *out = json_pack("{s:I, s:i, s:I, s:I, s:I, s:O}", "site_id",
                                (json_int_t)strtoll(s->site, NULL, 10), "http_status", 200, "stations",
                                (json_int_t)json_array_size(s->stations), "accepted", (json_int_t)ok,
                                "failed", (json_int_t)(json_array_size(s->results) - ok),
                                "results", s->results);
        char *text = json_dumps(out, JSON_COMPACT);
        call_result(c, json_pack("{s:[{s:s, s:s}], s:o, s:b}", "content", "type", "text", "text",
                                 text ? text : "{}", "structuredContent", out, "isError", 0));
        free(text);
    }
    json_decref(s->update_type);
    json_decref(s->stations);
    json_decref(s->results);
    json_decref(s->early);
    free(s);
}

/* The current station is done: record, report, go on (from the loop, not from inside a
 * callback that may run within http_dispatch). */
static void station_done(struct site_sync *s, json_t *result)
{
    const char *id = json_string_value(json_array_get(s->stations, s->next));
    json_object_set_new(result, "station_id", json_string(id ? id : ""));
    json_array_append_new(s->results, result);
    char msg[160];
    snprintf(msg, sizeof msg, "%s: %s", id ? id : "?",
             json_string_value(json_object_get(result, "status")) ?: "?");
    s->next++;
    s->waiting = 0;
    s->command[0] = '\0';
    json_decref(s->early);
    s->early = NULL;
    if (s->next < json_array_size(s->stations)) /* the last one is told by the result */
        call_progress(s->c, (double)json_array_size(s->stations), msg);
    s->c->m->host->timer_start(s->timer, 0, 0);
}

static json_t *command_result(json_t *cmd)
{
    json_t *r = json_pack("{s:O?}", "status", json_object_get(cmd, "status"));
    json_t *res = json_object_get(cmd, "result"), *err = json_object_get(cmd, "error");
    if (res)
        json_object_set(r, "result", res);
    if (err)
        json_object_set(r, "error", err);
    return r;
}

static void sync_command(const char *topic, json_t *env, void *arg)
{
    (void)topic;
    struct site_sync *s = arg;
    json_t *cmd = json_object_get(env, "data");
    const char *id = json_string_value(json_object_get(cmd, "id"));
    const char *station = json_string_value(json_object_get(cmd, "station"));
    const char *current = json_string_value(json_array_get(s->stations, s->next));
    if (!id || s->c->cancelled)
        return;
    if (s->waiting && strcmp(id, s->command) == 0) {
        station_done(s, command_result(cmd));
    } else if (s->busy && station && current && strcmp(station, current) == 0) {
        if (!s->early) /* answered before its route did: kept until the id is known */
            s->early = json_object();
        json_object_set(s->early, id, cmd);
    }
}

static void sync_posted(const struct pl_http_local_resp *resp, void *arg)
{
    struct site_sync *s = arg;
    s->busy = 0;
    if (s->c->cancelled) {
        sync_end(s);
        return;
    }
    json_t *body = json_loadb(resp->body, resp->body_len, 0, NULL);
    const char *cmd = json_string_value(json_object_get(body, "command_id"));
    if (resp->status == 202 && cmd && strlen(cmd) < sizeof s->command) {
        json_t *early = json_object_get(s->early, cmd);
        if (early) {
            station_done(s, command_result(early));
        } else {
            snprintf(s->command, sizeof s->command, "%s", cmd);
            s->waiting = 1;
            s->c->m->host->timer_start(s->timer, STATION_ANSWER_MS, 0);
        }
    } else { /* refused before reaching the station: offline, no such station... */
        json_t *r = json_pack("{s:s, s:i}", "status", "Failed", "http_status", resp->status);
        json_t *code = json_object_get(body, "code"), *err = json_object_get(body, "error");
        if (code)
            json_object_set(r, "code", code);
        if (err)
            json_object_set(r, "error", err);
        station_done(s, r);
    }
    json_decref(body);
}

/* The timer: the next station, or (while waiting) the station's answer never came. */
static void sync_step(void *arg)
{
    struct site_sync *s = arg;
    if (s->c->cancelled) {
        sync_end(s);
        return;
    }
    if (s->waiting) {
        station_done(s, json_pack("{s:s, s:s}", "status", "Timeout", "error",
                                  "the station's answer did not come"));
        return;
    }
    if (s->next >= json_array_size(s->stations)) {
        sync_end(s);
        return;
    }
    char path[256] = "/api/v1/stations/";
    tools_encode(path, sizeof path, json_string_value(json_array_get(s->stations, s->next)) ?: "");
    strncat(path, "/local-list/sync", sizeof path - strlen(path) - 1);
    json_t *b = json_pack("{s:O*}", "update_type", s->update_type); /* absent: the route's default */
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    s->busy = 1;
    if (tools_dispatch(s->c, "POST", path, body, sync_posted, s) != PL_OK) {
        s->busy = 0;
        station_done(s, json_pack("{s:s, s:s}", "status", "Failed", "error", "cannot run the route"));
    }
    free(body);
}

static void sync_cancel(struct mcp_call *c)
{
    struct site_sync *s = c->op;
    if (!s->busy) /* else the dispatch's callback ends it */
        sync_end(s);
}

static void site_read(const struct pl_http_local_resp *resp, void *arg)
{
    struct site_sync *s = arg;
    struct mcp_call *c = s->c;
    const struct pl_host *h = c->m->host;
    s->busy = 0;
    json_t *site = json_loadb(resp->body, resp->body_len, 0, NULL);
    json_t *stations = json_object_get(site, "stations");
    if (c->cancelled || resp->status != 200 || !json_is_array(stations)) {
        c->op = NULL;
        c->op_cancel = NULL;
        if (c->cancelled)
            call_drop(c);
        else
            call_result(c, tools_result(resp->status, resp->body, resp->body_len, NULL));
        json_decref(site);
        json_decref(s->update_type);
        free(s);
        return;
    }
    s->stations = json_incref(stations);
    json_decref(site);
    s->results = json_array();
    s->sub = h->bus_subscribe(c->m->self, "command.completed", sync_command, s);
    s->timer = h->timer_new(c->m->self, sync_step, s);
    if (!s->timer) {
        sync_end(s);
        return;
    }
    h->timer_start(s->timer, 0, 0);
}

void follow_site_sync(struct mcp_call *c, json_t *args)
{
    struct site_sync *s = calloc(1, sizeof *s);
    if (!s) {
        call_error(c, -32603, "out of memory");
        return;
    }
    s->c = c;
    snprintf(s->site, sizeof s->site, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(args, "id")));
    s->update_type = json_incref(json_object_get(args, "update_type"));
    c->op = s;
    c->op_cancel = sync_cancel;
    char path[64];
    snprintf(path, sizeof path, "/api/v1/sites/%s", s->site);
    s->busy = 1;
    if (tools_dispatch(c, "GET", path, NULL, site_read, s) != PL_OK) {
        c->op = NULL;
        c->op_cancel = NULL;
        json_decref(s->update_type);
        free(s);
        call_error(c, -32603, "cannot run the tool");
    }
}
