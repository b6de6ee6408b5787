/*
 * delivery.c — the outbox and the delivery engine of the webhooks plugin.
 *
 * Every bus event that matches an enabled subscription is written to the
 * webhook_deliveries table (the outbox) before any attempt is made, so nothing is
 * lost across restarts or database outages.  A poller picks, for each (subscription,
 * station) pair, only the oldest pending delivery — which keeps deliveries in order
 * per subscription and station — and sends it with an HMAC-SHA256 signature.  A
 * failed attempt is rescheduled with exponential back-off and jitter until
 * max_attempts; a subscription failing disable_after times in a row is disabled.
 * At-least-once: a crash between a receiver's 2xx and our commit resends the same
 * event id, which receivers de-duplicate on.
 */
#include "webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define POLL_INTERVAL_MS 500

struct wh_inflight {
    struct wh *w;
    long long delivery_id;
    char webhook_id[37];
    char event_id[37];
    int attempts;               /* before this one */
    int orphaned;               /* the plugin is going away: drop the answer */
    struct wh_inflight *next;
};

void wh_sign(const char *secret, const char *timestamp, const char *body, size_t len,
             char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = sizeof md;
    size_t tl = strlen(timestamp);
    unsigned char *msg = malloc(tl + 1 + len);
    if (!msg) {
        out[0] = '\0';
        return;
    }
    memcpy(msg, timestamp, tl);
    msg[tl] = '.';
    memcpy(msg + tl + 1, body, len);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, tl + 1 + len, md, &mdlen);
    free(msg);
    for (unsigned i = 0; i < mdlen; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

/* ---------- outbox ---------- */

static int sub_matches(const struct wh_sub *s, const char *topic, const char *station)
{
    int ev = 0;
    for (size_t i = 0; i < s->nevents && !ev; i++)
        ev = wh_topic_match(s->events[i], topic);
    if (!ev)
        return 0;
    if (s->nstations == 0)
        return 1;
    for (size_t i = 0; station && i < s->nstations; i++)
        if (strcmp(s->stations[i], station) == 0)
            return 1;
    return 0;
}

static void outbox_flush(struct wh *w);

static void on_outbox_written(pl_db_result *res, void *arg)
{
    struct wh *w = arg;
    w->outbox_writing = 0;
    if (!w->host->db_ok(res)) {
        w->host->log(w->self, PL_LOG_ERROR, "outbox write failed: %s", w->host->db_error(res));
        w->host->metric_add("pipelet_webhook_outbox_errors_total", 1);
    } else {
        wh_delivery_kick(w);
    }
    outbox_flush(w);
}

/* Write every pending row in one INSERT.  Only one is in flight at a time: with a pool
 * of connections, separate INSERTs could commit out of order and the delivery ids —
 * which order deliveries per subscription and station — would not follow the events. */
static void outbox_flush(struct wh *w)
{
    if (w->outbox_writing || !w->outbox_pending || json_array_size(w->outbox_pending) == 0)
        return;
    char *rows = json_dumps(w->outbox_pending, JSON_COMPACT);
    if (!rows)
        return;
    const char *params[] = {rows};
    if (w->host->db_query(w->self,
                          "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, "
                          "station_id, body) SELECT x.webhook_id::uuid, x.event_id::uuid, "
                          "x.event_type, x.station_id, x.body FROM ROWS FROM (jsonb_to_recordset($1::jsonb) "
                          "AS (webhook_id text, event_id text, event_type text, station_id text, "
                          "body text)) WITH ORDINALITY AS x(webhook_id, event_id, event_type, "
                          "station_id, body, n) ORDER BY x.n",
                          1, params, on_outbox_written, w) == PL_OK) {
        w->outbox_writing = 1;
        json_array_clear(w->outbox_pending);
    } else {
        w->host->log(w->self, PL_LOG_ERROR, "outbox queue full: %zu events wait",
                     json_array_size(w->outbox_pending));
    }
    free(rows);
}

void wh_outbox_free(struct wh *w)
{
    json_decref(w->outbox_pending);
    w->outbox_pending = NULL;
}

void wh_outbox_on_event(const char *topic, json_t *env, void *arg)
{
    struct wh *w = arg;
    const char *station = json_string_value(json_object_get(env, "station"));
    json_t *body = NULL;
    char *body_text = NULL;
    for (struct wh_sub *s = w->subs; s; s = s->next) {
        if (!sub_matches(s, topic, station))
            continue;
        if (!body_text) {
            /* the delivered envelope: id, type, created_at, station, data */
            body = json_pack("{s:O, s:s, s:O, s:O, s:O}", "id", json_object_get(env, "id"), "type",
                             topic, "created_at", json_object_get(env, "time"), "station",
                             json_object_get(env, "station"), "data", json_object_get(env, "data"));
            body_text = body ? json_dumps(body, JSON_COMPACT) : NULL;
            if (!body_text)
                break;
        }
        if (!w->outbox_pending)
            w->outbox_pending = json_array();
        if (json_array_size(w->outbox_pending) >= 100000) {
            w->host->log(w->self, PL_LOG_ERROR, "outbox backlog full: event %s (%s) not recorded",
                         json_string_value(json_object_get(env, "id")), topic);
            w->host->metric_add("pipelet_webhook_outbox_errors_total", 1);
            break;
        }
        json_array_append_new(w->outbox_pending,
                              json_pack("{s:s, s:O, s:s, s:s, s:s}", "webhook_id", s->id, "event_id",
                                        json_object_get(env, "id"), "event_type", topic,
                                        "station_id", station ? station : "", "body", body_text));
    }
    free(body_text);
    json_decref(body);
    outbox_flush(w);
}

/* ---------- sending ---------- */

static long inflight_for(struct wh *w, const char *webhook_id)
{
    long n = 0;
    for (struct wh_inflight *f = w->inflight_list; f; f = f->next)
        if (strcmp(f->webhook_id, webhook_id) == 0)
            n++;
    return n;
}

static int is_inflight(struct wh *w, long long delivery_id)
{
    for (struct wh_inflight *f = w->inflight_list; f; f = f->next)
        if (f->delivery_id == delivery_id)
            return 1;
    return 0;
}

static int settled_during_poll(struct wh *w, long long did)
{
    for (size_t i = 0; i < w->nsettled; i++)
        if (w->settled[i] == did)
            return 1;
    return 0;
}

static void inflight_remove(struct wh *w, struct wh_inflight *f)
{
    for (struct wh_inflight **pp = &w->inflight_list; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    w->inflight--;
    if (w->polling) {
        /* the outstanding poll may have read this delivery before its attempt was
         * recorded; without this it could be attempted once more than max_attempts,
         * or delivered twice */
        if (w->nsettled == w->settled_cap) {
            size_t cap = w->settled_cap ? w->settled_cap * 2 : 16;
            long long *grown = realloc(w->settled, cap * sizeof *grown);
            if (grown) {
                w->settled = grown;
                w->settled_cap = cap;
            }
        }
        if (w->nsettled < w->settled_cap)
            w->settled[w->nsettled++] = f->delivery_id;
    }
    free(f);
}

static int send_signed(struct wh *w, const char *url, const char *secret, const char *event_id,
                       const char *event_type, long long delivery_id, const char *body,
                       pl_http_done_cb cb, void *arg)
{
    char ts[24], sig[65], h_id[96], h_type[160], h_ts[64], h_sig[96], h_del[64], h_ua[64];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    wh_sign(secret, ts, body, strlen(body), sig);
    snprintf(h_id, sizeof h_id, "X-Pipelet-Event-Id: %s", event_id);
    snprintf(h_type, sizeof h_type, "X-Pipelet-Event-Type: %s", event_type);
    snprintf(h_ts, sizeof h_ts, "X-Pipelet-Timestamp: %s", ts);
    snprintf(h_sig, sizeof h_sig, "X-Pipelet-Signature: v1=%s", sig);
    snprintf(h_del, sizeof h_del, "X-Pipelet-Delivery-Id: %lld", delivery_id);
    snprintf(h_ua, sizeof h_ua, "User-Agent: pipelet-webhooks/%s", w->host->version);
    const char *headers[] = {"Content-Type: application/json", h_ua, h_id, h_type, h_ts,
                             h_sig, h_del, NULL};
    return w->host->http_fetch(w->self, "POST", url, headers, body, strlen(body),
                               (unsigned)w->timeout_ms, w->ca_file, cb, arg);
}

static void on_attempt_recorded(pl_db_result *res, void *arg)
{
    struct wh_inflight *f = arg;
    struct wh *w = f->w;
    const struct pl_host *h = w->host;
    if (f->orphaned) {
        free(f);
        return;
    }
    if (!h->db_ok(res)) {
        /* the row stays pending: it will be attempted again (same event id) */
        h->log(w->self, PL_LOG_WARN, "recording delivery %lld failed: %s", f->delivery_id,
               h->db_error(res));
    } else if (h->db_ntuples(res) > 0 && h->db_value(res, 0, 0) &&
               strcmp(h->db_value(res, 0, 0), "f") == 0) {
        h->log(w->self, PL_LOG_WARN, "webhook %s disabled after %ld consecutive failures",
               f->webhook_id, w->disable_after);
        wh_reload_subs(w);
    }
    inflight_remove(w, f);
    wh_delivery_kick(w);
}

static void on_delivered(const struct pl_http_response *resp, void *arg)
{
    struct wh_inflight *f = arg;
    struct wh *w = f->w;
    const struct pl_host *h = w->host;
    if (f->orphaned) {
        free(f);
        return;
    }
    int ok = resp->status >= 200 && resp->status < 300;
    int attempt = f->attempts + 1;
    /* exponential back-off with jitter in [50%, 100%] of the step */
    double step = (double)w->base_delay_ms;
    for (int i = 1; i < attempt && step < (double)w->max_delay_ms; i++)
        step *= 2;
    if (step > (double)w->max_delay_ms)
        step = (double)w->max_delay_ms;
    unsigned r = 0;
    RAND_bytes((unsigned char *)&r, sizeof r);
    long long delay = (long long)(step * (0.5 + 0.5 * (r / (double)UINT32_MAX)));
    char did[24], code[16], lat[32], delay_s[24], max_s[16], dis_s[16];
    char err[200] = "";
    snprintf(did, sizeof did, "%lld", f->delivery_id);
    snprintf(code, sizeof code, "%d", resp->status);
    snprintf(lat, sizeof lat, "%.3f", resp->latency_ms);
    snprintf(delay_s, sizeof delay_s, "%lld", delay);
    snprintf(max_s, sizeof max_s, "%ld", w->max_attempts);
    snprintf(dis_s, sizeof dis_s, "%ld", w->disable_after);
    if (!ok)
        snprintf(err, sizeof err, "%s", resp->error ? resp->error : "non-2xx response");
    const char *params[] = {did, ok ? "true" : "false", resp->status ? code : NULL, ok ? NULL : err,
                            lat, delay_s, max_s, dis_s};
    h->metric_add(ok ? "pipelet_webhook_deliveries_total{result=\"delivered\"}"
                     : "pipelet_webhook_deliveries_total{result=\"failed_attempt\"}",
                  1);
    h->metric_observe("pipelet_webhook_delivery_seconds", resp->latency_ms / 1000.0);
    /* one statement: delivery state, attempt log and the subscription's failure streak
     * change together */
    if (h->db_query(w->self,
                    "WITH d AS (UPDATE webhook_deliveries SET attempts = attempts + 1, "
                    "  status = CASE WHEN $2::boolean THEN 'delivered' "
                    "    WHEN attempts + 1 >= $7::int THEN 'failed' ELSE 'pending' END, "
                    "  next_attempt_at = now() + ($6::bigint * interval '1 millisecond'), "
                    "  last_status = $3::int, last_error = $4, last_latency_ms = $5::float8, "
                    "  completed_at = CASE WHEN $2::boolean OR attempts + 1 >= $7::int "
                    "    THEN now() END "
                    "  WHERE id = $1::bigint RETURNING id, webhook_id, attempts), "
                    "a AS (INSERT INTO webhook_attempts (delivery_id, webhook_id, attempt, "
                    "  status_code, error, latency_ms) SELECT id, webhook_id, attempts, $3::int, "
                    "  $4, $5::float8 FROM d), "
                    "w AS (UPDATE webhooks SET consecutive_failures = CASE WHEN $2::boolean "
                    "  THEN 0 ELSE consecutive_failures + 1 END, "
                    "  enabled = enabled AND ($2::boolean OR consecutive_failures + 1 < $8::int), "
                    "  disabled_reason = CASE WHEN NOT $2::boolean AND consecutive_failures + 1 "
                    "    >= $8::int THEN format('disabled after %s consecutive failed deliveries; "
                    "last: %s', consecutive_failures + 1, coalesce($4, 'HTTP ' || $3)) "
                    "    ELSE disabled_reason END "
                    "  WHERE id = (SELECT webhook_id FROM d) RETURNING enabled) "
                    "SELECT (SELECT enabled FROM w) AS enabled",
                    8, params, on_attempt_recorded, f) != PL_OK) {
        h->log(w->self, PL_LOG_WARN, "database queue full; delivery %lld will be retried",
               f->delivery_id);
        inflight_remove(w, f);
    }
}

static void on_due(pl_db_result *res, void *arg)
{
    struct wh *w = arg;
    const struct pl_host *h = w->host;
    w->polling = 0;
    if (!h->db_ok(res)) {
        h->log(w->self, PL_LOG_DEBUG, "poll failed: %s", h->db_error(res));
        w->nsettled = 0;
        return;
    }
    int n = h->db_ntuples(res);
    for (int i = 0; i < n && !w->stopping; i++) {
        long long did = strtoll(h->db_value(res, i, 0), NULL, 10);
        const char *webhook_id = h->db_value(res, i, 1);
        if (is_inflight(w, did) || settled_during_poll(w, did) || inflight_for(w, webhook_id) >= w->per_receiver)
            continue;
        struct wh_inflight *f = calloc(1, sizeof *f);
        if (!f)
            break;
        f->w = w;
        f->delivery_id = did;
        snprintf(f->webhook_id, sizeof f->webhook_id, "%s", webhook_id);
        snprintf(f->event_id, sizeof f->event_id, "%s", h->db_value(res, i, 2));
        f->attempts = atoi(h->db_value(res, i, 6));
        f->next = w->inflight_list;
        w->inflight_list = f;
        w->inflight++;
        if (send_signed(w, h->db_value(res, i, 7), h->db_value(res, i, 8), f->event_id,
                        h->db_value(res, i, 3), did, h->db_value(res, i, 5), on_delivered,
                        f) != PL_OK) {
            struct pl_http_response fail = {.size = sizeof fail, .error = "cannot start request"};
            on_delivered(&fail, f);
        }
    }
    w->nsettled = 0; /* later polls start after those records committed */
    if (w->kick) {
        w->kick = 0;
        wh_delivery_kick(w);
    }
}

void wh_delivery_kick(struct wh *w)
{
    if (w->stopping)
        return;
    if (w->polling) {
        w->kick = 1;
        return;
    }
    char batch[16];
    snprintf(batch, sizeof batch, "%ld", w->batch);
    const char *params[] = {batch};
    /* only the head of each (subscription, station) queue: order per pair holds */
    if (w->host->db_query(w->self,
                          "SELECT d.id, d.webhook_id::text, d.event_id::text, d.event_type, "
                          "d.station_id, d.body, d.attempts, wh.url, wh.secret "
                          "FROM webhook_deliveries d JOIN webhooks wh ON wh.id = d.webhook_id "
                          "WHERE d.status = 'pending' AND wh.enabled AND d.next_attempt_at <= now() "
                          "AND d.id = (SELECT min(d2.id) FROM webhook_deliveries d2 "
                          "  WHERE d2.webhook_id = d.webhook_id AND d2.station_id = d.station_id "
                          "  AND d2.status = 'pending') "
                          "ORDER BY d.id LIMIT $1::int",
                          1, params, on_due, w) == PL_OK)
        w->polling = 1;
}

static void on_tick(void *arg)
{
    wh_delivery_kick(arg);
}

int wh_delivery_start(struct wh *w)
{
    w->tick = w->host->timer_new(w->self, on_tick, w);
    if (!w->tick)
        return PL_ENOMEM;
    w->host->timer_start(w->tick, POLL_INTERVAL_MS, 1);
    wh_delivery_kick(w);
    return PL_OK;
}

void wh_delivery_stop(struct wh *w)
{
    w->stopping = 1;
    w->host->timer_free(w->tick);
    w->tick = NULL;
    /* answers still on their way are dropped; the rows stay pending and are resent
     * after a restart, with the same event ids */
    while (w->inflight_list) {
        struct wh_inflight *f = w->inflight_list;
        w->inflight_list = f->next;
        f->orphaned = 1;
    }
    free(w->settled);
    w->settled = NULL;
    w->nsettled = w->settled_cap = 0;
}

/* ---------- test event ---------- */

struct wh_test {
    wh_test_cb cb;
    void *arg;
    char event_id[37];
};

static void on_test_done(const struct pl_http_response *resp, void *arg)
{
    struct wh_test *t = arg;
    t->cb(t->arg, resp, t->event_id);
    free(t);
}

int wh_send_test(struct wh *w, json_t *row, wh_test_cb cb, void *arg)
{
    struct wh_test *t = calloc(1, sizeof *t);
    if (!t)
        return PL_ENOMEM;
    t->cb = cb;
    t->arg = arg;
    char ts[40];
    w->host->uuid(t->event_id);
    json_t *body = json_pack("{s:s, s:s, s:s, s:n, s:{s:s}}", "id", t->event_id, "type",
                             "webhook.test", "created_at", w->host->now_rfc3339(ts, sizeof ts),
                             "station", "data", "webhook",
                             json_string_value(json_object_get(row, "id")));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    int rc = text ? send_signed(w, json_string_value(json_object_get(row, "url")),
                                json_string_value(json_object_get(row, "secret")), t->event_id,
                                "webhook.test", 0, text, on_test_done, t)
                  : PL_ENOMEM;
    free(text);
    if (rc != PL_OK)
        free(t);
    return rc;
}
