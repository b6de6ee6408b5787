/*
 * outbox.c — bus events into the webhook_deliveries table (the outbox).
 *
 * An event that matches a subscription waits in memory, in publish order, until an
 * INSERT holding it has committed; a failed INSERT (PostgreSQL down, a query timeout,
 * a full queue) is sent again with back-off, so an outage loses nothing.  One INSERT
 * is in flight at a time: with a pool of connections separate INSERTs could commit out
 * of order, and the delivery ids order deliveries per subscription and station.  The
 * wait is bounded by [webhooks] pending_max events: past it new events are dropped,
 * counted (pipelet_webhook_events_dropped_total) and logged.
 */
#include "webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MAX 500          /* events per INSERT */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000

struct wh_event {
    struct wh_event *next;
    char id[37];
    char *topic;
    char *station;              /* "" when the event has none */
    char *body;                 /* the delivered envelope, as sent */
    int routed;                 /* subs is known (the subscription list had arrived) */
    size_t nsubs;
    char (*subs)[37];           /* the subscriptions it goes to */
};

static void outbox_flush(struct wh *w);

static void event_free(struct wh_event *e)
{
    free(e->topic);
    free(e->station);
    free(e->body);
    free(e->subs);
    free(e);
}

static void publish_gauge(struct wh *w)
{
    w->host->metric_set("pipelet_webhook_events_pending", (double)w->ob_count);
}

/* Fill e->subs from the subscription list; 0 when no subscription wants it. */
static size_t event_route(struct wh *w, struct wh_event *e)
{
    size_t n = 0;
    for (struct wh_sub *s = w->subs; s; s = s->next)
        n += wh_sub_matches(s, e->topic, *e->station ? e->station : NULL);
    e->routed = 1;
    e->nsubs = 0;
    if (n == 0 || !(e->subs = calloc(n, sizeof *e->subs)))
        return 0;
    for (struct wh_sub *s = w->subs; s; s = s->next)
        if (wh_sub_matches(s, e->topic, *e->station ? e->station : NULL))
            memcpy(e->subs[e->nsubs++], s->id, 37);
    return e->nsubs;
}

static struct wh_event *event_new(const char *topic, json_t *env)
{
    struct wh_event *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    const char *station = json_string_value(json_object_get(env, "station"));
    snprintf(e->id, sizeof e->id, "%s", json_string_value(json_object_get(env, "id")) ?: "");
    /* the delivered envelope: id, type, created_at, station, data */
    json_t *body = json_pack("{s:O, s:s, s:O, s:O, s:O}", "id", json_object_get(env, "id"), "type",
                             topic, "created_at", json_object_get(env, "time"), "station",
                             json_object_get(env, "station"), "data", json_object_get(env, "data"));
    e->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    e->topic = strdup(topic);
    e->station = strdup(station ? station : "");
    if (!e->body || !e->topic || !e->station) {
        event_free(e);
        return NULL;
    }
    return e;
}

static void drop(struct wh *w, const char *id, const char *topic)
{
    w->host->metric_add("pipelet_webhook_events_dropped_total", 1);
    if (w->ob_dropped++ == 0)
        w->host->log(w->self, PL_LOG_ERROR,
                     "webhook events dropped: %zu events wait for the outbox ([webhooks] "
                     "pending_max = %ld); first dropped: %s (%s)",
                     w->ob_count, w->pending_max, id, topic);
}

void wh_outbox_on_event(const char *topic, json_t *env, void *arg)
{
    struct wh *w = arg;
    const char *station = json_string_value(json_object_get(env, "station"));
    if (w->subs_loaded) {
        /* cheap test first: most events go to no subscription */
        struct wh_sub *s = w->subs;
        while (s && !wh_sub_matches(s, topic, station))
            s = s->next;
        if (!s)
            return;
    }
    if (w->ob_count >= (size_t)w->pending_max) {
        drop(w, json_string_value(json_object_get(env, "id")) ?: "?", topic);
        return;
    }
    struct wh_event *e = event_new(topic, env);
    if (!e) {
        drop(w, json_string_value(json_object_get(env, "id")) ?: "?", topic);
        return;
    }
    /* before the first subscription list arrived (the database was down at start) the
     * event is kept unrouted, and routed when the list arrives */
    if (w->subs_loaded && event_route(w, e) == 0) {
        event_free(e);
        return;
    }
    *w->ob_tail = e;
    w->ob_tail = &e->next;
    w->ob_count++;
    publish_gauge(w);
    outbox_flush(w);
}

/* Unlink and free the first n events. */
static void pop_events(struct wh *w, size_t n)
{
    while (n-- && w->ob_head) {
        struct wh_event *e = w->ob_head;
        w->ob_head = e->next;
        event_free(e);
        w->ob_count--;
    }
    if (!w->ob_head)
        w->ob_tail = &w->ob_head;
    publish_gauge(w);
}

void wh_outbox_routes_known(struct wh *w)
{
    for (struct wh_event **pp = &w->ob_head; *pp;) {
        struct wh_event *e = *pp;
        if (e->routed || event_route(w, e) > 0) {
            pp = &e->next;
            continue;
        }
        *pp = e->next;
        event_free(e);
        w->ob_count--;
    }
    w->ob_tail = &w->ob_head;
    while (*w->ob_tail)
        w->ob_tail = &(*w->ob_tail)->next;
    publish_gauge(w);
    outbox_flush(w);
}

static void on_retry(void *arg)
{
    struct wh *w = arg;
    w->ob_waiting = 0;
    outbox_flush(w);
}

static void retry_later(struct wh *w, const char *why)
{
    if (w->ob_failures++ == 0)
        w->host->log(w->self, PL_LOG_WARN,
                     "outbox write failed (%s): %zu events wait in memory and are written again",
                     why, w->ob_count);
    else
        w->host->log(w->self, PL_LOG_DEBUG, "outbox write failed again (%s): %zu events wait", why,
                     w->ob_count);
    w->host->metric_add("pipelet_webhook_outbox_errors_total", 1);
    w->ob_backoff_ms = w->ob_backoff_ms ? w->ob_backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (w->ob_backoff_ms > BACKOFF_MAX_MS)
        w->ob_backoff_ms = BACKOFF_MAX_MS;
    w->ob_waiting = 1;
    w->host->timer_start(w->ob_retry, w->ob_backoff_ms, 0);
}

static void written(struct wh *w)
{
    pop_events(w, w->ob_writing);
    if (w->ob_failures)
        w->host->log(w->self, PL_LOG_INFO, "outbox written again after %lu failed attempts",
                     w->ob_failures);
    w->ob_failures = 0;
    w->ob_backoff_ms = 0;
    w->ob_chunk = w->ob_chunk * 2 > CHUNK_MAX ? CHUNK_MAX : w->ob_chunk * 2;
    if (w->ob_dropped && w->ob_count < (size_t)w->pending_max) {
        w->host->log(w->self, PL_LOG_WARN,
                     "outbox backlog below pending_max again: %lu events were dropped", w->ob_dropped);
        w->ob_dropped = 0;
    }
    wh_delivery_kick(w);
}

/* A data or integrity error is the rows' fault, not the database's: halve the INSERT
 * until the bad event stands alone, then drop it, so one event cannot block the rest. */
static void refused(struct wh *w, const char *error)
{
    if (w->ob_writing > 1) {
        w->ob_chunk = w->ob_writing / 2;
        return;
    }
    w->host->log(w->self, PL_LOG_ERROR, "outbox refused event %s (%s): dropped: %s", w->ob_head->id,
                 w->ob_head->topic, error);
    w->host->metric_add("pipelet_webhook_events_dropped_total", 1);
    pop_events(w, 1);
}

static void on_outbox_written(pl_db_result *res, void *arg)
{
    struct wh *w = arg;
    const struct pl_host *h = w->host;
    const char *state = h->db_sqlstate(res);
    w->ob_busy = 0;
    if (h->db_ok(res))
        written(w);
    else if (state && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0))
        refused(w, h->db_error(res));
    else
        retry_later(w, h->db_error(res));
    w->ob_writing = 0;
    outbox_flush(w);
}

/* The rows of the first n events, as the INSERT's JSON parameter (new string). */
static char *rows_of(struct wh *w, size_t n)
{
    json_t *rows = json_array();
    size_t k = 0;
    for (struct wh_event *e = w->ob_head; e && k < n; e = e->next, k++)
        for (size_t i = 0; i < e->nsubs; i++)
            json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s, s:s}", "webhook_id",
                                                  e->subs[i], "event_id", e->id, "event_type",
                                                  e->topic, "station_id", e->station, "body", e->body));
    char *text = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    return text;
}

static void outbox_flush(struct wh *w)
{
    if (w->ob_busy || w->ob_waiting)
        return;
    size_t n = 0;
    for (struct wh_event *e = w->ob_head; e && e->routed && n < w->ob_chunk; e = e->next)
        n++;
    if (n == 0)
        return;
    char *rows = rows_of(w, n);
    if (!rows) {
        retry_later(w, "out of memory");
        return;
    }
    const char *params[] = {rows};
    /* rows of subscriptions deleted meanwhile are skipped (the join), not an error */
    int rc = w->host->db_query(
        w->self,
        "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, station_id, body) "
        "SELECT x.webhook_id::uuid, x.event_id::uuid, x.event_type, x.station_id, x.body "
        "FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (webhook_id text, event_id text, "
        "event_type text, station_id text, body text)) WITH ORDINALITY "
        "AS x(webhook_id, event_id, event_type, station_id, body, n) "
        "JOIN webhooks wh ON wh.id = x.webhook_id::uuid ORDER BY x.n",
        1, params, on_outbox_written, w);
    free(rows);
    if (rc != PL_OK) {
        retry_later(w, "database queue full");
        return;
    }
    w->ob_busy = 1;
    w->ob_writing = n;
}

int wh_outbox_start(struct wh *w)
{
    w->ob_tail = &w->ob_head;
    w->ob_chunk = CHUNK_MAX;
    w->ob_retry = w->host->timer_new(w->self, on_retry, w);
    if (!w->ob_retry)
        return PL_ENOMEM;
    /* both exist from the start, so a dashboard sees 0 rather than nothing */
    w->host->metric_add("pipelet_webhook_events_dropped_total", 0);
    publish_gauge(w);
    return PL_OK;
}

void wh_outbox_free(struct wh *w)
{
    if (w->ob_count)
        w->host->log(w->self, PL_LOG_WARN,
                     "%zu webhook events were not yet in the outbox at shutdown: lost", w->ob_count);
    pop_events(w, w->ob_count);
    w->host->timer_free(w->ob_retry);
    w->ob_retry = NULL;
}
