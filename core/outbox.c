/*
 * outbox.c — the durable outbox behind pl_outbox_api (pipelet/outbox.h).
 *
 * Rows live in the table outbox (008_outbox.sql).  Each queue with a sender is polled
 * every second (and at once after a kick): the due pending rows that are not in flight
 * and have no earlier pending row of their key are handed to the sender, at most
 * max_inflight at a time; the sender's verdict is written back with the next attempt's
 * time.  A row whose INSERT failed (the database away, the pool full) is kept in memory
 * and written again every 2 s, up to OUTBOX_HELD rows in all; past that, new rows are
 * refused (cb ok = 0), logged and counted.
 */
#include "outbox.h"
#include "db.h"
#include "metrics.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_S 1
#define OUTBOX_HELD 10000
#define REWRITE_MS 2000

struct sender {
    struct sender *next;
    pl_plugin_handle *owner;
    struct pl_outbox_sender s;
    char *queue;
    int polling, kick;
    long long *inflight;
    size_t ninflight;
};

struct pl_outbox_delivery {
    struct pl_outbox_delivery *next;
    struct sender *snd;        /* NULL once the sender is gone: done() only frees */
    long long id;
    int attempts;
    int answered;              /* done() came; the row's update may be in flight */
};

struct held {
    struct held *next;
    char *queue, *kind, *key, *dedupe, *body;
    int rank;
    pl_outbox_queued_cb cb;
    void *arg;
};

static struct sender *senders;
static struct pl_outbox_delivery *deliveries;
static struct held *held_head, **held_tail = &held_head;
static size_t nheld;
static struct event *tick, *rewrite;

/* ---------- queuing ---------- */

static void held_free(struct held *h)
{
    free(h->queue);
    free(h->kind);
    free(h->key);
    free(h->dedupe);
    free(h->body);
    free(h);
}

static void write_held(struct held *h);

static void on_inserted(pl_db_result *res, void *arg)
{
    struct held *h = arg;
    if (res && db_ok(res)) {
        const char *id = db_ntuples(res) ? db_value(res, 0, 0) : NULL;
        if (h->cb)
            h->cb(h->arg, 1, id ? atoll(id) : 0);
        outbox_kick(h->queue);
        held_free(h);
        return;
    }
    /* kept, in order, and written again shortly */
    core_log(PL_LOG_WARN, "outbox", "queuing a %s row of %s failed (%s); trying again", h->kind, h->queue,
             res ? db_error(res) : "the pool is full");
    *held_tail = h;
    held_tail = &h->next;
    nheld++;
    metrics_set("pipelet_outbox_held", (double)nheld);
    if (rewrite && !evtimer_pending(rewrite, NULL)) {
        struct timeval tv = {REWRITE_MS / 1000, (REWRITE_MS % 1000) * 1000};
        evtimer_add(rewrite, &tv);
    }
}

static void write_held(struct held *h)
{
    char rank[16];
    snprintf(rank, sizeof rank, "%d", h->rank);
    const char *p[] = {h->queue, h->kind, h->key, rank, h->dedupe, h->body};
    if (db_query_as("core",
                    "INSERT INTO outbox (queue, kind, key, rank, dedupe, body) "
                    "VALUES ($1, $2, $3, $4::int, $5, $6::jsonb) "
                    "ON CONFLICT (queue, dedupe) WHERE dedupe IS NOT NULL DO NOTHING RETURNING id",
                    6, p, on_inserted, h) != PL_OK)
        on_inserted(NULL, h);
}

static void on_rewrite(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    struct held *list = held_head;
    held_head = NULL;
    held_tail = &held_head;
    nheld = 0;
    while (list) {
        struct held *n = list->next;
        list->next = NULL;
        write_held(list);
        list = n;
    }
    metrics_set("pipelet_outbox_held", (double)nheld);
}

static void enqueue(pl_plugin_handle *self, const char *queue, const char *kind, const char *key, int rank,
                    const char *dedupe, json_t *body, pl_outbox_queued_cb cb, void *arg)
{
    (void)self;
    struct held *h = nheld < OUTBOX_HELD ? calloc(1, sizeof *h) : NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!h || !text || !queue || !kind || !(h->queue = strdup(queue)) || !(h->kind = strdup(kind)) ||
        !(h->key = strdup(key ? key : "")) || (dedupe && !(h->dedupe = strdup(dedupe)))) {
        if (h)
            held_free(h);
        free(text);
        metrics_add("pipelet_outbox_refused_total", 1);
        core_log(PL_LOG_ERROR, "outbox", "a %s row of %s refused: %s", kind ? kind : "?", queue ? queue : "?",
                 nheld >= OUTBOX_HELD ? "too many rows wait for the database" : "out of memory");
        if (cb)
            cb(arg, 0, 0);
        return;
    }
    h->body = text;
    h->rank = rank;
    h->cb = cb;
    h->arg = arg;
    write_held(h);
}

/* ---------- delivering ---------- */

static struct sender *sender_of(const char *queue)
{
    for (struct sender *s = senders; queue && s; s = s->next)
        if (strcmp(s->queue, queue) == 0)
            return s;
    return NULL;
}

static void inflight_del(struct sender *s, long long id)
{
    for (size_t i = 0; s && i < s->ninflight; i++)
        if (s->inflight[i] == id) {
            s->inflight[i] = s->inflight[--s->ninflight];
            return;
        }
}

static void delivery_unlink(struct pl_outbox_delivery *d)
{
    for (struct pl_outbox_delivery **pp = &deliveries; *pp; pp = &(*pp)->next)
        if (*pp == d) {
            *pp = d->next;
            return;
        }
}

static void poll_queue(struct sender *s);

static void on_recorded(pl_db_result *res, void *arg)
{
    (void)res; /* a failed update leaves the row pending: it is delivered again, at least once */
    struct pl_outbox_delivery *d = arg;
    delivery_unlink(d);
    if (d->snd) {
        inflight_del(d->snd, d->id);
        poll_queue(d->snd); /* the next row of its key may go now */
    }
    free(d);
}

static void done(pl_outbox_delivery *d, int verdict, int http_status, const char *code, const char *error)
{
    if (!d || d->answered)
        return;
    d->answered = 1;
    if (!d->snd) { /* its sender is gone */
        delivery_unlink(d);
        free(d);
        return;
    }
    struct sender *s = d->snd;
    const char *status = verdict == PL_OUTBOX_DELIVERED ? "sent"
                         : verdict == PL_OUTBOX_FAILED || (s->s.max_attempts && (unsigned)d->attempts + 1 >= s->s.max_attempts)
                             ? "failed"
                             : "pending";
    unsigned long delay = s->s.base_delay_ms;
    for (int i = 0; i < d->attempts && delay < s->s.max_delay_ms; i++)
        delay *= 2;
    if (delay > s->s.max_delay_ms)
        delay = s->s.max_delay_ms;
    char id[32], st[16], ms[32];
    snprintf(id, sizeof id, "%lld", d->id);
    snprintf(st, sizeof st, "%d", http_status);
    snprintf(ms, sizeof ms, "%lu", delay);
    const char *p[] = {id, status, http_status ? st : NULL, code && *code ? code : NULL, error, ms};
    char m[160];
    snprintf(m, sizeof m, "pipelet_outbox_deliveries_total{queue=\"%s\",result=\"%s\"}", s->queue, status);
    metrics_add(m, 1);
    if (db_query_as("core",
                    "UPDATE outbox SET status = $2, attempts = attempts + 1, last_status = $3::int, last_code = $4, "
                    "last_error = $5, next_attempt_at = now() + make_interval(secs => $6::bigint / 1000.0), "
                    "completed_at = CASE WHEN $2 <> 'pending' THEN now() END WHERE id = $1::bigint",
                    6, p, on_recorded, d) != PL_OK)
        on_recorded(NULL, d);
}

static void on_due(pl_db_result *res, void *arg)
{
    struct sender *s = arg;
    s->polling = 0;
    if (!res || !db_ok(res))
        return; /* the next tick tries again */
    for (int i = 0; i < db_ntuples(res); i++) {
        if (s->ninflight >= s->s.max_inflight)
            break;
        long long *grown = realloc(s->inflight, (s->ninflight + 1) * sizeof *grown);
        struct pl_outbox_delivery *d = calloc(1, sizeof *d);
        json_t *body = json_loads(db_value(res, i, 3) ? db_value(res, i, 3) : "null", 0, NULL);
        if (grown)
            s->inflight = grown;
        if (!grown || !d || !body) {
            free(d);
            json_decref(body);
            break;
        }
        d->snd = s;
        d->id = atoll(db_value(res, i, 0));
        d->attempts = atoi(db_value(res, i, 4));
        d->next = deliveries;
        deliveries = d;
        s->inflight[s->ninflight++] = d->id;
        struct pl_outbox_item item = {sizeof item, d->id, db_value(res, i, 1), db_value(res, i, 2), body, d->attempts};
        s->s.deliver(s->s.arg, &item, d); /* may answer at once */
        json_decref(body);
    }
    if (s->kick) {
        s->kick = 0;
        poll_queue(s);
    }
}

static void poll_queue(struct sender *s)
{
    if (s->polling) {
        s->kick = 1;
        return;
    }
    if (s->ninflight >= s->s.max_inflight)
        return;
    size_t cap = 3 + s->ninflight * 21;
    char *ids = malloc(cap), *p = ids;
    if (!ids)
        return;
    p += snprintf(p, cap, "{");
    for (size_t i = 0; i < s->ninflight; i++)
        p += snprintf(p, cap - (size_t)(p - ids), "%s%lld", i ? "," : "", s->inflight[i]);
    snprintf(p, cap - (size_t)(p - ids), "}");
    char limit[16];
    snprintf(limit, sizeof limit, "%u", s->s.max_inflight - (unsigned)s->ninflight);
    const char *params[] = {s->queue, ids, limit};
    s->polling = 1;
    /* a row goes when it is due and no earlier row of its key is still pending */
    if (db_query_as("core",
                    "SELECT o.id, o.kind, o.key, o.body, o.attempts FROM outbox o "
                    "WHERE o.queue = $1 AND o.status = 'pending' AND o.next_attempt_at <= now() "
                    "AND NOT (o.id = ANY($2::bigint[])) AND NOT EXISTS (SELECT 1 FROM outbox e "
                    "WHERE e.queue = o.queue AND e.key = o.key AND e.status = 'pending' "
                    "AND (e.rank, e.id) < (o.rank, o.id)) ORDER BY o.id LIMIT $3::int",
                    3, params, on_due, s) != PL_OK)
        s->polling = 0;
    free(ids);
}

void outbox_kick(const char *queue)
{
    struct sender *s = sender_of(queue);
    if (s)
        poll_queue(s);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    for (struct sender *s = senders; s; s = s->next)
        poll_queue(s);
}

static int register_sender(pl_plugin_handle *self, const struct pl_outbox_sender *in)
{
    if (!in || in->size < sizeof *in || !in->queue || !*in->queue || !in->deliver)
        return PL_EINVAL;
    if (sender_of(in->queue))
        return PL_EEXIST;
    struct sender *s = calloc(1, sizeof *s);
    if (!s || !(s->queue = strdup(in->queue))) {
        free(s);
        return PL_ENOMEM;
    }
    s->owner = self;
    s->s = *in;
    s->s.queue = s->queue;
    if (!s->s.max_inflight)
        s->s.max_inflight = 20;
    if (!s->s.base_delay_ms)
        s->s.base_delay_ms = 5000;
    if (!s->s.max_delay_ms)
        s->s.max_delay_ms = 600000;
    s->next = senders;
    senders = s;
    return PL_OK;
}

static void sender_free(struct sender *s)
{
    for (struct pl_outbox_delivery *d = deliveries; d; d = d->next)
        if (d->snd == s)
            d->snd = NULL; /* its answer, if it ever comes, only frees */
    free(s->inflight);
    free(s->queue);
    free(s);
}

int outbox_remove_owner(pl_plugin_handle *owner)
{
    int n = 0;
    for (struct sender **pp = &senders; *pp;) {
        if ((*pp)->owner == owner) {
            struct sender *gone = *pp;
            *pp = gone->next;
            sender_free(gone);
            n++;
        } else {
            pp = &(*pp)->next;
        }
    }
    return n;
}

/* ---------- reading ---------- */

struct list_ctx {
    void (*cb)(void *arg, json_t *rows);
    void (*retry_cb)(void *arg, json_t *row, const char *error);
    void *arg;
};

#define ROW_COLS                                                                                 \
    "id, kind, key, status, attempts, last_status, last_code, last_error, body, "                \
    "to_char(next_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS next_attempt_at, " \
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS created_at, "   \
    "to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS completed_at"

static void on_listed(pl_db_result *res, void *arg)
{
    struct list_ctx *c = arg;
    json_t *rows = res && db_ok(res) ? db_json(res) : NULL;
    c->cb(c->arg, rows);
    json_decref(rows);
    free(c);
}

static void list(const char *queue, const char *status, int limit, void (*cb)(void *arg, json_t *rows), void *arg)
{
    struct list_ctx *c = calloc(1, sizeof *c);
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit < 1 ? 1 : limit > 500 ? 500 : limit);
    const char *p[] = {queue, status, lim};
    if (!c) {
        cb(arg, NULL);
        return;
    }
    c->cb = cb;
    c->arg = arg;
    if (db_query_as("core",
                    "SELECT " ROW_COLS " FROM outbox WHERE queue = $1 AND ($2::text IS NULL OR status = $2) "
                    "ORDER BY id DESC LIMIT $3::int",
                    3, p, on_listed, c) != PL_OK)
        on_listed(NULL, c);
}

static void on_retried(pl_db_result *res, void *arg)
{
    struct list_ctx *c = arg;
    json_t *rows = res && db_ok(res) ? db_json(res) : NULL;
    c->retry_cb(c->arg, json_array_get(rows, 0), res && db_ok(res) ? NULL : "the database did not answer");
    json_decref(rows);
    free(c);
}

static void retry(const char *queue, long long id, void (*cb)(void *arg, json_t *row, const char *error), void *arg)
{
    struct list_ctx *c = calloc(1, sizeof *c);
    char ids[32];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *p[] = {queue, ids};
    if (!c) {
        cb(arg, NULL, "out of memory");
        return;
    }
    c->retry_cb = cb;
    c->arg = arg;
    if (db_query_as("core",
                    "UPDATE outbox SET status = 'pending', next_attempt_at = now(), completed_at = NULL "
                    "WHERE queue = $1 AND id = $2::bigint AND status = 'failed' RETURNING " ROW_COLS,
                    2, p, on_retried, c) != PL_OK)
        on_retried(NULL, c);
    outbox_kick(queue);
}

/* ---------- lifecycle ---------- */

static const struct pl_outbox_api api = {sizeof api, register_sender, enqueue, done, outbox_kick, list, retry};

const struct pl_outbox_api *outbox_api(void)
{
    return &api;
}

void outbox_start(void)
{
    if (!tick && (tick = event_new(core_base, -1, EV_PERSIST, on_tick, NULL))) {
        struct timeval tv = {POLL_S, 0};
        evtimer_add(tick, &tv);
    }
    if (!rewrite)
        rewrite = evtimer_new(core_base, on_rewrite, NULL);
}

void outbox_shutdown(void)
{
    if (tick)
        event_free(tick);
    if (rewrite)
        event_free(rewrite);
    tick = rewrite = NULL;
    while (held_head) {
        struct held *n = held_head->next;
        if (held_head->cb)
            held_head->cb(held_head->arg, 0, 0);
        held_free(held_head);
        held_head = n;
    }
    held_tail = &held_head;
    nheld = 0;
    while (deliveries) {
        struct pl_outbox_delivery *n = deliveries->next;
        free(deliveries);
        deliveries = n;
    }
    while (senders) {
        struct sender *n = senders->next;
        free(senders->inflight);
        free(senders->queue);
        free(senders);
        senders = n;
    }
}
