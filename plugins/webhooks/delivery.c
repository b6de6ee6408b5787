/*
 * delivery.c — the delivery engine of the webhooks plugin.
 *
 * Every bus event that matches an enabled subscription is written to the
 * webhook_deliveries table (the outbox, outbox.c) before any attempt is made, so nothing
 * is lost across restarts or database outages.  A poller picks, for each (subscription,
 * station) pair, only the oldest pending delivery — which keeps deliveries in order
 * per subscription and station — and sends it with an HMAC-SHA256 signature.  A
 * failed attempt is rescheduled with exponential back-off and jitter until
 * max_attempts; a subscription failing disable_after times in a row is disabled.
 * At-least-once: a crash between a receiver's 2xx and our commit resends the same
 * event id, which receivers de-duplicate on.  Before each request the receiver's host
 * must pass the address policy (urlcheck.c), after resolution for a name (resolve.c).
 */
#include "webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

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

/* One signed request, from the policy check to the answer. */
struct wh_send {
    struct wh *w;
    char *url, *secret, *event_id, *event_type, *body;
    long long delivery_id;
    struct wh_url u;
    uint64_t started;
    pl_http_done_cb cb;
    void *arg;
};

static void send_free(struct wh_send *s)
{
    free(s->url);
    free(s->secret);
    free(s->event_id);
    free(s->event_type);
    free(s->body);
    free(s);
}

/* Answer without a response: the policy refused, or the request could not start. */
static void send_fail(struct wh_send *s, const char *error)
{
    struct pl_http_response r = {.size = sizeof r, .error = error, .body = "",
                                 .latency_ms = (double)(s->w->host->now_ms() - s->started)};
    s->cb(&r, s->arg);
    send_free(s);
}

static void send_now(struct wh_send *s)
{
    struct wh *w = s->w;
    char ts[24], sig[65], h_id[96], h_type[160], h_ts[64], h_sig[96], h_del[64], h_ua[64];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    wh_sign(s->secret, ts, s->body, strlen(s->body), sig);
    snprintf(h_id, sizeof h_id, "X-Pipelet-Event-Id: %s", s->event_id);
    snprintf(h_type, sizeof h_type, "X-Pipelet-Event-Type: %s", s->event_type);
    snprintf(h_ts, sizeof h_ts, "X-Pipelet-Timestamp: %s", ts);
    snprintf(h_sig, sizeof h_sig, "X-Pipelet-Signature: v1=%s", sig);
    snprintf(h_del, sizeof h_del, "X-Pipelet-Delivery-Id: %lld", s->delivery_id);
    snprintf(h_ua, sizeof h_ua, "User-Agent: pipelet-webhooks/%s", w->host->version);
    const char *headers[] = {"Content-Type: application/json", h_ua, h_id, h_type, h_ts,
                             h_sig, h_del, NULL};
    /* what is left of the attempt's time after the lookup */
    uint64_t spent = w->host->now_ms() - s->started;
    unsigned left = spent + 100 < (uint64_t)w->timeout_ms ? (unsigned)(w->timeout_ms - spent) : 100;
    if (w->host->http_fetch(w->self, "POST", s->url, headers, s->body, strlen(s->body), left,
                            w->ca_file, s->cb, s->arg) != PL_OK) {
        send_fail(s, "cannot start request");
        return;
    }
    send_free(s);
}

/* Every address of the name must be public: the connection may use any of them. */
static void on_resolved(void *arg, const struct addrinfo *ai, const char *error)
{
    struct wh_send *s = arg;
    char msg[400];
    if (!ai) {
        snprintf(msg, sizeof msg, "dns: %s: %s", s->u.host, error ? error : "no address");
        send_fail(s, msg);
        return;
    }
    for (; ai; ai = ai->ai_next) {
        const char *why = wh_addr_forbidden(ai->ai_addr);
        if (!why)
            continue;
        char addr[INET6_ADDRSTRLEN] = "?";
        const void *raw = ai->ai_family == AF_INET6
                              ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                              : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
        inet_ntop(ai->ai_family, raw, addr, sizeof addr);
        snprintf(msg, sizeof msg, WH_ERR_FORBIDDEN ": %s resolves to %s (%s); set [webhooks] "
                 "allow_private = yes to deliver there", s->u.host, addr, why);
        send_fail(s, msg);
        return;
    }
    send_now(s);
}

void wh_send(struct wh *w, const char *url, const char *secret, const char *event_id,
             const char *event_type, long long delivery_id, const char *body,
             pl_http_done_cb cb, void *arg)
{
    struct wh_send *s = calloc(1, sizeof *s);
    if (!s) {
        struct pl_http_response r = {.size = sizeof r, .error = "out of memory", .body = ""};
        cb(&r, arg);
        return;
    }
    *s = (struct wh_send){w, strdup(url ?: ""), strdup(secret ?: ""), strdup(event_id ?: ""),
                          strdup(event_type ?: ""), strdup(body ?: ""), delivery_id,
                          .started = w->host->now_ms(), .cb = cb, .arg = arg};
    if (!s->url || !s->secret || !s->event_id || !s->event_type || !s->body) {
        send_fail(s, "out of memory");
        return;
    }
    /* URLs stored before these checks existed are held to them too */
    const char *why = wh_url_parse(s->url, &s->u);
    char msg[400];
    if (why) {
        snprintf(msg, sizeof msg, "invalid url: %s", why);
        send_fail(s, msg);
        return;
    }
    if (w->allow_private) {
        send_now(s);
    } else if ((why = wh_url_host_forbidden(&s->u))) {
        snprintf(msg, sizeof msg, WH_ERR_FORBIDDEN ": %s (%s); set [webhooks] allow_private = yes "
                 "to deliver there", s->u.host, why);
        send_fail(s, msg);
    } else if (wh_url_is_literal(&s->u)) {
        send_now(s);
    } else if (wh_resolve(w, s->u.host, (unsigned)w->timeout_ms, on_resolved, s) != PL_OK) {
        send_fail(s, "dns: cannot start the lookup");
    }
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
        wh_send(w, h->db_value(res, i, 7), h->db_value(res, i, 8), f->event_id,
                h->db_value(res, i, 3), did, h->db_value(res, i, 5), on_delivered, f);
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
    struct wh *w = arg;
    /* until the first list arrives events cannot be routed: keep asking */
    if (!w->subs_loaded && !w->subs_loading)
        wh_reload_subs(w);
    wh_delivery_kick(w);
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
    if (!text) {
        free(t);
        return PL_ENOMEM;
    }
    wh_send(w, json_string_value(json_object_get(row, "url")),
            json_string_value(json_object_get(row, "secret")), t->event_id, "webhook.test", 0, text,
            on_test_done, t);
    free(text);
    return PL_OK;
}
