/*
 * load_routes.c — /api/v1/sites, the stations of a site, its live load (JSON and SSE),
 * and the version-neutral station limit: the core's load domain (host->load,
 * pipelet/load.h) over REST, answered through the same domain mapping as customers,
 * tokens and tariffs.
 */
#include "headless.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_MIN_MS 250
#define STREAM_MAX_MS 60000

static int load_available(struct headless *hl, pl_request *req)
{
    if (hl->load)
        return 0;
    hl->host->reply_error(req, 501, "NOT_SUPPORTED", "this gateway has no load management (ABI 1.2 with load needed)");
    return -1;
}

static void load_call(struct headless *hl, pl_request *req, const char *op, json_t *args, const char *resource,
                      int status, hl_domain_ok_fn ok, void *udata)
{
    hl_domain_call_with(hl, hl->load->call, req, op, args, resource, status, ok, udata);
}

void hl_site_create(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    json_t *body;
    if (load_available(hl, req) < 0 || !(body = hl_body(hl, req)))
        return;
    load_call(hl, req, "site.create", body, "site", 201, hl_domain_created, "/api/v1/sites/");
}

void hl_site_list(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    if (load_available(hl, req) < 0)
        return;
    json_t *args = json_object();
    if (hl_domain_page_args(hl, req, args) < 0) {
        json_decref(args);
        return;
    }
    load_call(hl, req, "site.list", args, "site", 200, hl_domain_page_ok, NULL);
}

static void site_by_id(pl_request *req, struct headless *hl, const char *op, json_t *body)
{
    char id[24];
    if (load_available(hl, req) < 0 || hl_path_id(hl, req, id, sizeof id) < 0) {
        json_decref(body);
        return;
    }
    json_t *args = body ? body : json_object();
    json_object_set_new(args, "id", json_string(id)); /* the path names the site */
    load_call(hl, req, op, args, "site", 200, NULL, NULL);
}

void hl_site_get(pl_request *req, void *arg)
{
    site_by_id(req, arg, "site.get", NULL);
}

void hl_site_delete(pl_request *req, void *arg)
{
    site_by_id(req, arg, "site.delete", NULL);
}

void hl_site_load(pl_request *req, void *arg)
{
    site_by_id(req, arg, "site.load", NULL);
}

void hl_site_update(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    json_t *body;
    if (load_available(hl, req) < 0 || !(body = hl_body(hl, req)))
        return;
    site_by_id(req, hl, "site.update", body);
}

/* PUT / DELETE /api/v1/sites/{id}/stations/{station_id}: a 404 names what is missing */
static void station_membership_err(struct headless *hl, pl_request *req, int rc, const char *error)
{
    int station = rc == PL_ENOENT && error && strncmp(error, "station_id:", 11) == 0;
    hl_reply_domain_error(hl, req, rc, error, station ? "station" : "site");
}

struct member_call {
    struct headless *hl;
    pl_request *req;
};

static void on_member(void *arg, int rc, json_t *result, const char *error)
{
    struct member_call *m = arg;
    if (rc == PL_OK)
        m->hl->host->reply_json(m->req, 200, json_incref(result));
    else
        station_membership_err(m->hl, m->req, rc, error);
    free(m);
}

static void membership(pl_request *req, struct headless *hl, const char *op)
{
    char id[24];
    const char *station = hl->host->req_param(req, "station_id");
    if (load_available(hl, req) < 0 || hl_path_id(hl, req, id, sizeof id) < 0)
        return;
    struct member_call *m = calloc(1, sizeof *m);
    if (!m) {
        hl->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    m->hl = hl;
    m->req = req;
    hl->load->call(op, json_pack("{s:s, s:s?}", "id", id, "station_id", station), on_member, m);
}

void hl_site_station_add(pl_request *req, void *arg)
{
    membership(req, arg, "site.add_station");
}

void hl_site_station_remove(pl_request *req, void *arg)
{
    membership(req, arg, "site.remove_station");
}

/* ------------------------------------------------------------------------
 * The live load as a stream: the picture every interval_ms (1 s by default) and at
 * once after the balancer decided for this site.
 * ---------------------------------------------------------------------- */
struct load_stream {
    struct headless *hl;
    pl_request *req;
    char id[24];
    pl_timer *timer;
    pl_subscription *sub;
    int asking, gone;
};

/* Ends the reply too: the request is only freed by its end, a closed client's included. */
static void stream_close(struct load_stream *s)
{
    s->hl->host->timer_free(s->timer);
    s->hl->host->bus_unsubscribe(s->sub);
    s->hl->host->reply_stream_end(s->req);
    free(s);
}

static void on_picture(void *arg, int rc, json_t *result, const char *error)
{
    struct load_stream *s = arg;
    s->asking = 0;
    if (s->gone) {
        stream_close(s);
        return;
    }
    char *text = rc == PL_OK ? json_dumps(result, JSON_COMPACT)
                             : json_dumps(json_pack("{s:s, s:s}", "error", error ? error : "unavailable", "code",
                                                    rc == PL_ENOENT ? "SITE_NOT_FOUND" : "DATABASE_ERROR"),
                                          JSON_COMPACT);
    int ok = 0;
    if (text) {
        char head[32];
        snprintf(head, sizeof head, "event: %s\ndata: ", rc == PL_OK ? "load" : "error");
        ok = s->hl->host->reply_stream_write(s->req, head, strlen(head)) == PL_OK &&
             s->hl->host->reply_stream_write(s->req, text, strlen(text)) == PL_OK &&
             s->hl->host->reply_stream_write(s->req, "\n\n", 2) == PL_OK;
        free(text);
    }
    if (!ok || rc == PL_ENOENT)
        stream_close(s);
}

static void ask(struct load_stream *s)
{
    if (s->asking || s->gone)
        return;
    s->asking = 1;
    s->hl->load->call("site.load", json_pack("{s:s}", "id", s->id), on_picture, s);
}

static void on_tick(void *arg)
{
    ask(arg);
}

static void on_decided(const char *topic, json_t *env, void *arg)
{
    (void)topic;
    struct load_stream *s = arg;
    json_t *site = json_object_get(json_object_get(env, "data"), "site_id");
    if (json_integer_value(site) == strtoll(s->id, NULL, 10))
        ask(s);
}

static void on_gone(pl_request *req, void *arg)
{
    (void)req;
    struct load_stream *s = arg;
    s->gone = 1;
    if (!s->asking)
        stream_close(s); /* else the answer being read closes it */
}

void hl_site_load_stream(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const struct pl_host *h = hl->host;
    char id[24];
    long interval = 1000;
    const char *iv = h->req_query(req, "interval_ms");
    if (load_available(hl, req) < 0 || hl_path_id(hl, req, id, sizeof id) < 0)
        return;
    if (iv) {
        char *end;
        interval = strtol(iv, &end, 10);
        if (*end || interval < STREAM_MIN_MS || interval > STREAM_MAX_MS) {
            h->reply_error(req, 400, "INVALID_PARAMETER", "interval_ms must be %d to %d", STREAM_MIN_MS,
                           STREAM_MAX_MS);
            return;
        }
    }
    struct load_stream *s = calloc(1, sizeof *s);
    if (!s || !(s->timer = h->timer_new(hl->self, on_tick, s))) {
        free(s);
        h->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    s->hl = hl;
    s->req = req;
    snprintf(s->id, sizeof s->id, "%s", id);
    if (h->reply_stream_begin(req, 200, "text/event-stream") != PL_OK) { /* the request is finished */
        h->timer_free(s->timer);
        free(s);
        return;
    }
    h->req_on_close(req, on_gone, s);
    s->sub = h->bus_subscribe(hl->self, "load.rebalanced", on_decided, s);
    h->timer_start(s->timer, (uint64_t)interval, 1);
    ask(s);
}

/* ------------------------------------------------------------------------
 * /api/v1/stations/{id}/limit
 * ---------------------------------------------------------------------- */
static void limit_set_ok(struct hl_domain_call *dc, pl_request *req, json_t *result)
{
    struct headless *hl = hl_domain_hl(dc);
    const char *status = json_string_value(json_object_get(result, "status"));
    const char *error = json_string_value(json_object_get(result, "error"));
    if (status && (strcmp(status, "rejected") == 0 || strcmp(status, "failed") == 0)) {
        json_t *b = json_pack("{s:s, s:s, s:O}", "error",
                              strcmp(status, "rejected") == 0 ? "the station rejected the charging profile"
                                                              : error ? error : "the station did not take the profile",
                              "code", strcmp(status, "rejected") == 0 ? "REJECTED_BY_STATION" : "STATION_ERROR",
                              "limit", result);
        hl->host->reply_json(req, strcmp(status, "rejected") == 0 ? 409 : 502, b);
        return;
    }
    json_t *out = json_incref(result);
    json_object_del(out, "error");
    /* pending: the station is offline; it gets the limit when it connects */
    hl->host->reply_json(req, status && strcmp(status, "pending") == 0 ? 202 : 200, out);
}

/* resource: what a 404 names (STATION_NOT_FOUND; LIMIT_NOT_FOUND for a clear with
 * nothing set) */
static void station_limit(pl_request *req, struct headless *hl, const char *op, json_t *args,
                          const char *resource, hl_domain_ok_fn ok)
{
    const char *station = hl->host->req_param(req, "id");
    if (load_available(hl, req) < 0) {
        json_decref(args);
        return;
    }
    json_object_set_new(args, "station_id", json_string(station ? station : ""));
    load_call(hl, req, op, args, resource, 200, ok, NULL);
}

void hl_station_limit_set(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    json_t *body = hl_body(hl, req);
    if (!body)
        return;
    json_object_del(body, "station_id");
    station_limit(req, hl, "station.limit.set", body, "station", limit_set_ok);
}

static int query_int(struct headless *hl, pl_request *req, const char *name, long lo, long hi, json_t *args)
{
    const char *v = hl->host->req_query(req, name);
    if (!v)
        return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER", "%s must be an integer %ld to %ld", name, lo, hi);
        return -1;
    }
    json_object_set_new(args, name, json_integer(n));
    return 0;
}

void hl_station_limit_clear(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    json_t *args = json_object();
    if (query_int(hl, req, "evse", 0, 128, args) < 0) {
        json_decref(args);
        return;
    }
    station_limit(req, hl, "station.limit.clear", args, "limit", NULL);
}

void hl_station_limit_get(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    static const char *const units[] = {"A", "W", NULL};
    const char *unit;
    json_t *args = json_object();
    if (query_int(hl, req, "evse", 0, 128, args) < 0 || query_int(hl, req, "duration", 1, 604800, args) < 0 ||
        hl_query_enum(hl, req, "unit", units, &unit) < 0) {
        json_decref(args);
        return;
    }
    if (unit)
        json_object_set_new(args, "unit", json_string(unit));
    station_limit(req, hl, "station.limit.get", args, "station", NULL);
}
