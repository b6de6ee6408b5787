/*
 * model.c — persists the version-neutral station model (boot data, connector
 * status, transactions, meter values, records, documents) through the non-blocking
 * pool and publishes the matching bus events.
 *
 * Ordering: the pool runs queries on several connections, so two writes of one
 * station queued back to back could commit in either order.  Every write of a
 * station therefore goes through that station's write chain: at most one query of
 * a station is in flight, the next is sent when the previous one has completed.
 * Different stations still run in parallel.  Meter values are batched across
 * stations into one INSERT; a sample joins a batch only once every write its
 * station had queued before it (e.g. the transaction it belongs to) has completed,
 * so its transaction id resolves.
 */
#include "model.h"
#include "billing.h"
#include "core.h"
#include "bus.h"
#include "db.h"
#include "metrics.h"
#include "registry.h"
#include "tokens.h"
#include "util.h"

#include <event2/event.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN_MAX 10000          /* writes queued per station before we drop */
#define METER_FLUSH_MS 200
#define METER_FLUSH_COUNT 500
#define METER_PENDING_MAX 100000
#define METER_BATCH_MAX 5000     /* samples per INSERT statement */
#define SEEN_WRITE_MS 30000      /* at most one last_seen write per station per 30 s */

#define TS(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define TX_COLS                                                                              \
    "id, station_id, station_tx_id, evse, connector, id_token, id_token_type, "             \
    "reservation_id, meter_start, meter_last, meter_stop, " TS("started_at") " AS started_at, " \
    TS("stopped_at") " AS stopped_at, stop_reason, stop_id_token, charging_state, seq_no, " \
    "cost, " TS("updated_at") " AS updated_at"

/* ------------------------------------------------------------------------
 * Per-station write chains.
 * ---------------------------------------------------------------------- */
struct wop {
    struct wop *next;
    const char *sql; /* a static statement text: not copied (see model_write) */
    int n;
    char **params;   /* one block: the pointers, then the strings */
    model_done_cb done;
    void *arg;
    uint64_t seq; /* global, increasing: meter barriers compare against it */
    int cancelled; /* a reserved place given up (write_reserve): popped, never sent */
};

struct sample;

struct write_group;

struct wchain {
    char *id;
    struct wop *head, *tail;
    struct wchain *ready_next;   /* on the ready list: its head waits for the next group */
    struct write_group *group;   /* the group its head is in, while in flight */
    int ready;
    /* meter samples of a transaction whose row may still be on its way: they join the
     * batch queue as the writes they arrived behind complete (sample.barrier) */
    struct sample *blocked_head, *blocked_tail;
    size_t len;
    int inflight;
    int orphan; /* the model shut down while its head was in flight: freed when it lands */
};

static struct hashmap *chains;
static uint64_t write_seq;
static size_t writes_pending;
static unsigned long writes_dropped;

static void chain_pump(struct wchain *ch);
static void chain_done(pl_db_result *res, void *arg);
static int model_closed; /* model_shutdown ran: answers still landing only clean up */
static void release_blocked(struct wchain *ch, uint64_t done_seq);
static void free_blocked(struct wchain *ch);

static void wop_free(struct wop *op)
{
    free(op->params);
    free(op);
}

static void chain_free(struct wchain *ch)
{
    free_blocked(ch);
    while (ch->head) {
        struct wop *op = ch->head;
        ch->head = op->next;
        wop_free(op);
        if (!model_closed)
            writes_pending--;
    }
    free(ch->id);
    free(ch);
}

static void log_write_error(struct wop *op, pl_db_result *res)
{
    core_log(PL_LOG_WARN, "station", "model write failed station=%s: %s",
             op->n ? op->params[0] ? op->params[0] : "-" : "-",
             res ? db_error(res) : "not queued");
}

/* Pop the head after it completed (or could not be sent) and tell its owner. */
static void chain_pop(struct wchain *ch, pl_db_result *res)
{
    struct wop *op = ch->head;
    ch->head = op->next;
    if (!ch->head)
        ch->tail = NULL;
    ch->len--;
    writes_pending--;
    uint64_t seq = op->seq;
    if (op->done)
        op->done(op->arg, res); /* may queue more writes on this chain */
    else if (!op->cancelled && (!res || !db_ok(res)))
        log_write_error(op, res);
    wop_free(op);
    release_blocked(ch, seq); /* samples that waited for this write may go now */
}

/* ------------------------------------------------------------------------
 * Group commit.  A chain whose head can go is put on the ready list; the heads of many
 * stations go to PostgreSQL together, as one transaction in one round trip
 * (db_batch_as): one commit acknowledges the writes of a whole group.  Up to
 * GROUPS_INFLIGHT groups are in flight; what becomes ready meanwhile gathers into the
 * next group, so a group closes when a connection is free or it is full, never on a
 * timer, and the busier the gateway, the bigger (and cheaper per write) the groups.
 * Each station still has at most one write in flight: its order holds.
 * ---------------------------------------------------------------------- */
#define GROUP_MAX 1000
#define GROUPS_INFLIGHT 2 /* of the pool's connections: the rest serve reads and meter batches */

struct write_group {
    size_t remaining;
};

static struct wchain *ready_head, *ready_tail;
static size_t ready_len;
static int groups_inflight;
static int group_flushing;
static struct event *group_retry;

static void group_flush(void);

static void group_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    group_flush();
}

static void ready_push(struct wchain *ch)
{
    ch->ready = 1;
    ch->ready_next = NULL;
    if (ready_tail)
        ready_tail->ready_next = ch;
    else
        ready_head = ch;
    ready_tail = ch;
    ready_len++;
}

static struct wchain *ready_pop(void)
{
    struct wchain *ch = ready_head;
    if (!ch)
        return NULL;
    ready_head = ch->ready_next;
    if (!ready_head)
        ready_tail = NULL;
    ch->ready_next = NULL;
    ch->ready = 0;
    ready_len--;
    return ch;
}

/* A group could not be queued: its chains go back to the front of the ready list, in
 * order, and are tried again shortly (the pool's queue was full). */
static void group_requeue(struct wchain **chs, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        chs[i]->ready = 1;
        chs[i]->inflight = 0;
        chs[i]->ready_next = ready_head;
        ready_head = chs[i];
        if (!ready_tail)
            ready_tail = chs[i];
        ready_len++;
    }
    if (!group_retry)
        group_retry = event_new(core_base, -1, 0, group_retry_cb, NULL);
    struct timeval tv = {0, 20 * 1000};
    if (group_retry)
        event_add(group_retry, &tv);
}

static void group_flush(void)
{
    if (group_flushing || model_closed)
        return;
    if (group_retry && event_pending(group_retry, EV_TIMEOUT, NULL))
        return;
    group_flushing = 1;
    static struct db_batch_item items[GROUP_MAX];
    static struct wchain *chs[GROUP_MAX];
    while (ready_head && groups_inflight < GROUPS_INFLIGHT) {
        struct write_group *g = calloc(1, sizeof *g);
        if (!g)
            break;
        size_t n = 0;
        while (n < GROUP_MAX && ready_head) {
            struct wchain *ch = ready_pop();
            struct wop *op = ch->head;
            ch->inflight = 1;
            ch->group = g;
            chs[n] = ch;
            items[n++] = (struct db_batch_item){op->sql, op->n, (const char *const *)op->params,
                                                chain_done, ch};
        }
        g->remaining = n;
        groups_inflight++;
        int rc = db_batch_as("core", items, n);
        if (rc == PL_OK) {
            /* writes / groups is the commits saved: the figure to watch under load */
            metrics_add("pipelet_model_write_groups_total", 1);
            metrics_add("pipelet_model_grouped_writes_total", (double)n);
            continue;
        }
        /* not queued: nothing of it ran */
        groups_inflight--;
        for (size_t i = 0; i < n; i++)
            chs[i]->group = NULL;
        free(g);
        if (rc == PL_EBUSY) {
            group_requeue(chs, n);
            break;
        }
        for (size_t i = 0; i < n; i++) { /* refused for good: their owners hear it */
            chs[i]->inflight = 0;
            chain_pop(chs[i], NULL);
            chain_pump(chs[i]);
        }
    }
    group_flushing = 0;
}

/* One write of a group landed: the group ends with its last one. */
static void group_write_landed(struct wchain *ch)
{
    struct write_group *g = ch->group;
    ch->group = NULL;
    if (g && --g->remaining == 0) {
        free(g);
        groups_inflight--;
    }
}

/* Queue the head for the next group unless one is in flight or already queued, or it is
 * a reserved place whose statement is not known yet (write_reserve). */
static void chain_pump(struct wchain *ch)
{
    while (ch->head && !ch->inflight && ch->head->cancelled)
        chain_pop(ch, NULL);
    if (ch->head && !ch->head->sql && !ch->inflight)
        ; /* waits for write_fill; keeps the chain, and what is behind it, in place */
    else if (ch->head && !ch->inflight && !ch->ready)
        ready_push(ch);
    else if (!ch->head && !ch->inflight && !ch->ready) {
        hashmap_del(chains, ch->id);
        chain_free(ch);
        return;
    }
    group_flush();
}

static void chain_done(pl_db_result *res, void *arg)
{
    struct wchain *ch = arg;
    ch->inflight = 0;
    group_write_landed(ch);
    if (ch->orphan) { /* its owner still hears how the write ended, nothing more is sent */
        struct wop *op = ch->head;
        if (op && op->done)
            op->done(op->arg, res);
        chain_free(ch);
        return;
    }
    chain_pop(ch, res);
    chain_pump(ch);
    group_flush(); /* a slot is free: what gathered meanwhile goes now */
}

/* The station's chain, created on first use; NULL when it is full or out of memory. */
static struct wchain *chain_get(const char *station_id, int *rc)
{
    *rc = PL_ENOMEM;
    if (!chains && !(chains = hashmap_new()))
        return NULL;
    struct wchain *ch = hashmap_get(chains, station_id);
    if (!ch) {
        ch = calloc(1, sizeof *ch);
        if (!ch || !(ch->id = strdup(station_id)) || hashmap_put(chains, ch->id, ch)) {
            if (ch)
                free(ch->id);
            free(ch);
            return NULL;
        }
    }
    if (ch->len >= CHAIN_MAX) {
        if (writes_dropped++ % 1000 == 0)
            core_log(PL_LOG_ERROR, "station",
                     "write queue of station=%s is full (%d): dropping writes (%lu so far)",
                     station_id, CHAIN_MAX, writes_dropped);
        *rc = PL_EBUSY;
        return NULL;
    }
    *rc = PL_OK;
    return ch;
}

/* The statement and a copy of its parameters, in one allocation: a boot storm of
 * 10,000 stations queues some 40,000 writes at once, and an allocation per parameter
 * (and a copy of the statement text) left the heap fragmented long after they were
 * written.  On failure op holds none of them. */
static int wop_set(struct wop *op, const char *sql, int nparams, const char *const *params)
{
    size_t n = nparams > 0 ? (size_t)nparams : 0, bytes = (n ? n : 1) * sizeof *op->params;
    for (size_t i = 0; i < n; i++)
        if (params[i])
            bytes += strlen(params[i]) + 1;
    char **block = malloc(bytes);
    if (!block)
        return PL_ENOMEM;
    char *text = (char *)(block + (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        block[i] = NULL;
        if (params[i]) {
            size_t len = strlen(params[i]) + 1;
            memcpy(text, params[i], len);
            block[i] = text;
            text += len;
        }
    }
    op->sql = sql;
    op->params = block;
    op->n = nparams;
    return PL_OK;
}

static void chain_append(struct wchain *ch, struct wop *op)
{
    op->seq = ++write_seq;
    if (ch->tail)
        ch->tail->next = op;
    else
        ch->head = op;
    ch->tail = op;
    ch->len++;
    writes_pending++;
}

int model_write(const char *station_id, const char *sql, int nparams,
                const char *const *params, model_done_cb done, void *arg)
{
    if (model_closed)
        return PL_EOFFLINE;
    int rc;
    struct wchain *ch = chain_get(station_id, &rc);
    if (!ch)
        return rc;
    struct wop *op = calloc(1, sizeof *op);
    if (!op)
        return PL_ENOMEM;
    if (wop_set(op, sql, nparams, params) != PL_OK) {
        free(op);
        return PL_ENOMEM;
    }
    op->done = done;
    op->arg = arg;
    chain_append(ch, op);
    chain_pump(ch);
    return PL_OK;
}

/* A place in the station's chain for a write whose statement is known only later: a
 * stop is priced (a read) before it is written.  What the station sends after it waits
 * for it as for any earlier write — above all the stop's own meter values: batched
 * beside the stop's group instead, their meter_last update and the stop's took the
 * same transaction rows in opposite orders and PostgreSQL broke the deadlock after
 * deadlock_timeout (a second), failing one side (measured at 10,000 stations: a
 * StopTransaction a few seconds, and the Heartbeats queued behind it, a second late).
 * NULL when the chain is full or out of memory: the write then simply queues late. */
static struct wop *write_reserve(const char *station_id)
{
    int rc;
    struct wchain *ch = model_closed ? NULL : chain_get(station_id, &rc);
    struct wop *op = ch ? calloc(1, sizeof *op) : NULL;
    if (!op) {
        if (ch && !ch->head) { /* just created for nothing */
            hashmap_del(chains, ch->id);
            chain_free(ch);
        }
        return NULL;
    }
    chain_append(ch, op);
    return op;
}

/* The reserved write's statement: it goes when the writes before it have.  Anything
 * but PL_OK: it will not run (the caller tells its owner). */
static int write_fill(const char *station_id, struct wop *op, const char *sql, int nparams,
                      const char *const *params, model_done_cb done, void *arg)
{
    /* the model shut down meanwhile: the chain, and op with it, are gone */
    struct wchain *ch = model_closed || !chains ? NULL : hashmap_get(chains, station_id);
    if (!ch)
        return PL_EOFFLINE;
    int rc = wop_set(op, sql, nparams, params);
    if (rc == PL_OK) {
        op->done = done;
        op->arg = arg;
    } else {
        op->cancelled = 1;
    }
    chain_pump(ch);
    return rc;
}

/* The reserved write will not be made (the stop could not be priced): its place goes,
 * and what waited behind it moves on. */
static void write_cancel(const char *station_id, struct wop *op)
{
    struct wchain *ch = model_closed || !chains ? NULL : hashmap_get(chains, station_id);
    if (!ch)
        return;
    op->cancelled = 1;
    chain_pump(ch);
}

/* ------------------------------------------------------------------------
 * Small helpers.
 * ---------------------------------------------------------------------- */
/* A JSON number (or numeric string) as text for a parameter; NULL if absent. */
static const char *num_param(json_t *v, char *buf, size_t len, int integer)
{
    if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        integer ? snprintf(buf, len, "%lld", (long long)json_real_value(v))
                : snprintf(buf, len, "%.17g", json_real_value(v));
    else if (json_is_string(v) && *json_string_value(v)) {
        char *end;
        double d = strtod(json_string_value(v), &end);
        if (*end)
            return NULL;
        integer ? snprintf(buf, len, "%lld", (long long)d) : snprintf(buf, len, "%.17g", d);
    } else
        return NULL;
    return buf;
}

static const char *str_param(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s;
}

/* A station's timestamp if it parses, else NULL (the SQL then uses now()). */
static const char *ts_param(const char *ts)
{
    return ts && util_parse_rfc3339(ts, NULL) == 0 ? ts : NULL;
}

static char *strndup_bounded(const char *s, size_t max)
{
    return s ? strndup(s, max) : NULL;
}

static int col_index(pl_db_result *res, const char *name)
{
    for (int i = 0; i < db_nfields(res); i++)
        if (strcmp(db_fname(res, i), name) == 0)
            return i;
    return -1;
}

/* ------------------------------------------------------------------------
 * Boot, seen, connector status.
 * ---------------------------------------------------------------------- */
static const char SQL_BOOT[] =
    "INSERT INTO stations(id, vendor, model, serial, firmware, iccid, imsi, meter_type, "
    "meter_serial, boot_status, last_seen) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now()) ON CONFLICT (id) DO UPDATE SET "
    "vendor = excluded.vendor, model = excluded.model, serial = excluded.serial, "
    "firmware = excluded.firmware, iccid = excluded.iccid, imsi = excluded.imsi, "
    "meter_type = excluded.meter_type, meter_serial = excluded.meter_serial, "
    "boot_status = excluded.boot_status, last_seen = excluded.last_seen";

void station_api_boot(pl_station *st, json_t *boot)
{
    if (!st || !json_is_object(boot)) {
        json_decref(boot);
        return;
    }
    char *text = json_dumps(boot, JSON_COMPACT);
    if (text) {
        free(st->boot);
        st->boot = text;
    }
    core_now_rfc3339(st->last_seen, sizeof st->last_seen);
    st->last_seen_written_ms = core_now_ms();
    static const char *const keys[] = {"vendor",     "model",        "serial",     "firmware",
                                       "iccid",      "imsi",         "meter_type", "meter_serial",
                                       "boot_status"};
    const char *p[10] = {st->id};
    for (int i = 0; i < 9; i++)
        p[i + 1] = str_param(boot, keys[i]);
    model_write(st->id, SQL_BOOT, 10, p, NULL, NULL); /* copies its parameters */
    bus_emit("station.boot", st->id, boot);            /* takes our reference */
}

void station_api_seen(pl_station *st)
{
    if (!st)
        return;
    core_now_rfc3339(st->last_seen, sizeof st->last_seen);
    uint64_t now = core_now_ms();
    if (now - st->last_seen_written_ms < SEEN_WRITE_MS)
        return;
    st->last_seen_written_ms = now;
    const char *p[2] = {st->id, st->last_seen};
    model_write(st->id, "UPDATE stations SET last_seen = $2::timestamptz WHERE id = $1", 2, p,
                NULL, NULL);
}

static const char SQL_CONNECTOR[] =
    "WITH s AS (INSERT INTO stations(id) VALUES ($1) ON CONFLICT DO NOTHING) "
    "INSERT INTO connectors(station_id, evse, connector, status, error_code, info, updated_at) "
    "VALUES ($1, $2::int, $3::int, $4, $5, $6, coalesce($7::timestamptz, now())) "
    "ON CONFLICT (station_id, evse, connector) DO UPDATE SET status = excluded.status, "
    "error_code = excluded.error_code, info = excluded.info, updated_at = excluded.updated_at";

/* The connector entry in st->conns (sorted by evse, connector), created if needed. */
static struct registry_connector *connector_slot(struct pl_station *st, int evse, int connector)
{
    size_t i = 0;
    for (; i < st->nconns; i++) {
        struct registry_connector *c = &st->conns[i];
        if (c->evse == evse && c->connector == connector)
            return c;
        if (c->evse > evse || (c->evse == evse && c->connector > connector))
            break;
    }
    if (st->nconns >= REGISTRY_MAX_CONNECTORS)
        return NULL;
    struct registry_connector *v = realloc(st->conns, (st->nconns + 1) * sizeof *v);
    if (!v)
        return NULL;
    st->conns = v;
    memmove(&v[i + 1], &v[i], (st->nconns - i) * sizeof *v);
    st->nconns++;
    memset(&v[i], 0, sizeof v[i]);
    v[i].evse = evse;
    v[i].connector = connector;
    return &v[i];
}

void station_api_connector_status(pl_station *st, int evse, int connector, const char *status,
                                  const char *error_code, const char *info, const char *ts)
{
    if (!st || !status || evse < 0 || connector < 0)
        return;
    ts = ts_param(ts);
    char now[40];
    const char *when = ts ? ts : core_now_rfc3339(now, sizeof now);
    struct registry_connector *c = connector_slot(st, evse, connector);
    if (c) {
        free(c->status);
        free(c->error_code);
        free(c->info);
        c->status = strndup_bounded(status, 32);
        c->error_code = strndup_bounded(error_code, 64);
        c->info = strndup_bounded(info, 512);
        snprintf(c->updated_at, sizeof c->updated_at, "%s", when);
    }
    char e[16], n[16];
    snprintf(e, sizeof e, "%d", evse);
    snprintf(n, sizeof n, "%d", connector);
    const char *p[7] = {st->id, e, n, status, error_code, info, ts};
    model_write(st->id, SQL_CONNECTOR, 7, p, NULL, NULL);
    bus_emit("station.status", st->id,
             json_pack("{s:i, s:i, s:s, s:s?, s:s?, s:s}", "evse", evse, "connector", connector,
                       "status", status, "error_code", error_code, "info", info, "timestamp",
                       when));
}

/* ------------------------------------------------------------------------
 * Transactions.
 * ---------------------------------------------------------------------- */
enum tx_kind { TX_START, TX_UPDATE, TX_STOP };

struct tx_ctx {
    enum tx_kind kind;
    pl_tx_cb cb;
    void *arg;
    char *station_id;
    char *station_tx_id;
    char *stop[6];  /* a stop's parameters, kept while its record is priced */
    char *stop_signed; /* the stop message's own signed meter values (JSON array text) */
    json_t *cdr;    /* a stop's charge detail record, written with it */
    struct wop *reserved; /* a stop's place in its station's chain while it is priced */
};

/* A StartTransaction the station sends again (same connector, token and start time:
 * its answer was lost) gets the transaction it already has (fresh = false), never a
 * second one.  A start on a connector that still has another active transaction of the
 * station closes that one (reason "Other", at the new start): a connector carries one
 * session, and the station evidently ended the earlier one without a stop we saw. */
static const char SQL_TX_START[] =
    "WITH s AS (INSERT INTO stations(id) VALUES ($1) ON CONFLICT DO NOTHING), "
    "dup AS (SELECT " TX_COLS ", false AS fresh FROM transactions WHERE $2::text IS NULL "
    "AND station_id = $1 AND evse = $3::int AND connector = $4::int AND stopped_at IS NULL "
    "AND id_token IS NOT DISTINCT FROM $5 AND meter_start IS NOT DISTINCT FROM $8::float8 "
    "AND started_at = coalesce($9::timestamptz, started_at) ORDER BY id DESC LIMIT 1), "
    "sup AS (UPDATE transactions SET stopped_at = coalesce($9::timestamptz, now()), "
    "stop_reason = 'Other', meter_stop = coalesce(meter_last, meter_start), updated_at = now() "
    "WHERE NOT EXISTS (SELECT 1 FROM dup) AND station_id = $1 AND evse = $3::int "
    "AND connector = $4::int AND stopped_at IS NULL AND station_tx_id IS DISTINCT FROM $2 "
    "RETURNING id), "
    "n AS (SELECT nextval('transactions_id_seq') AS id WHERE NOT EXISTS (SELECT 1 FROM dup)), "
    "ins AS (INSERT INTO transactions(id, station_id, station_tx_id, evse, connector, id_token, "
    "id_token_type, reservation_id, meter_start, meter_last, started_at, seq_no) "
    "SELECT n.id, $1, coalesce($2, n.id::text), $3::int, $4::int, $5, $6, $7::int, "
    "$8::float8, $8::float8, coalesce($9::timestamptz, now()), $10::int FROM n "
    "ON CONFLICT (station_id, station_tx_id) DO UPDATE SET updated_at = now() "
    "RETURNING " TX_COLS ", (xmax = 0) AS fresh) "
    "SELECT * FROM ins UNION ALL SELECT * FROM dup";

static const char SQL_TX_UPDATE[] =
    "UPDATE transactions SET meter_last = coalesce($3::float8, meter_last), "
    "evse = coalesce($4::int, evse), connector = coalesce($5::int, connector), "
    "id_token = coalesce($6, id_token), charging_state = coalesce($7, charging_state), "
    "seq_no = coalesce($8::int, seq_no), updated_at = now() "
    "WHERE station_id = $1 AND station_tx_id = $2 RETURNING " TX_COLS ", true AS fresh";

/* A repeated stop answers with the row as it is (fresh = false).  The session's charge
 * detail record ($7, priced by billing.c from what was committed before the stop) is
 * inserted by the same statement, so a session never ends without its record and a
 * record never exists for a session that did not end; the transaction keeps its total. */
static const char SQL_TX_STOP[] =
    "WITH u AS (UPDATE transactions SET "
    "meter_stop = coalesce($3::float8, meter_last, meter_start), "
    "meter_last = coalesce($3::float8, meter_last), "
    "stopped_at = coalesce($4::timestamptz, now()), stop_reason = $5, stop_id_token = $6, "
    "cost = CASE WHEN $7::jsonb->>'status' = 'priced' THEN ($7::jsonb->'total'->>'incl_vat')::numeric "
    "ELSE cost END, "
    "updated_at = now() WHERE station_id = $1 AND station_tx_id = $2 AND stopped_at IS NULL "
    "RETURNING " TX_COLS ", true AS fresh), "
    "c AS (INSERT INTO cdrs (transaction_id, station_id, station_tx_id, evse, connector, id_token, "
    "customer_id, started_at, stopped_at, energy_wh, charging_seconds, parking_seconds, tariff_id, "
    "tariff_revision, tariff, currency, components, periods, total_excl_vat, total_incl_vat, status, "
    "signed_meter_values) "
    "SELECT u.id, u.station_id, u.station_tx_id, u.evse, u.connector, u.id_token, "
    "(j->>'customer_id')::bigint, u.started_at::timestamptz, u.stopped_at::timestamptz, "
    "(j->>'energy_wh')::bigint, (j->>'charging_seconds')::bigint, (j->>'parking_seconds')::bigint, "
    "(j->>'tariff_id')::bigint, (j->>'tariff_revision')::int, j->'tariff', j->>'currency', "
    "coalesce(j->'components', '[]'), coalesce(j->'periods', '[]'), "
    "(j->'total'->>'excl_vat')::numeric, (j->'total'->>'incl_vat')::numeric, j->>'status', "
    /* the signed values of the session: those its samples carried, then the stop's own
     * (the stop's samples are queued after the stop, and may or may not be written
     * before it: each signed reading once) */
    "(SELECT jsonb_agg(d.e ORDER BY d.n) FROM (SELECT DISTINCT ON (z.e->'signed', z.e->>'context') z.e, z.n "
    "FROM (SELECT jsonb_build_object('timestamp', " TS("mv.ts") ", 'measurand', mv.measurand, 'context', "
    "mv.context, 'signed', mv.signed) AS e, mv.id AS n FROM meter_values mv WHERE mv.transaction_id = u.id "
    "AND mv.signed IS NOT NULL UNION ALL SELECT a.e, 9000000000000000000 + a.n FROM "
    "jsonb_array_elements(coalesce($8::jsonb, '[]'::jsonb)) WITH ORDINALITY AS a(e, n)) z "
    "ORDER BY z.e->'signed', z.e->>'context', z.n) d) "
    "FROM u, (SELECT $7::jsonb AS j) x WHERE x.j IS NOT NULL "
    "ON CONFLICT (transaction_id) DO NOTHING RETURNING id, signed_meter_values) "
    "SELECT u.*, (SELECT id FROM c) AS cdr_id, (SELECT signed_meter_values FROM c) AS cdr_signed FROM u "
    "UNION ALL SELECT " TX_COLS ", false, NULL::bigint, NULL::jsonb "
    "FROM transactions WHERE station_id = $1 AND station_tx_id = $2 AND NOT EXISTS (SELECT 1 FROM u)";

static void tx_done(void *arg, pl_db_result *res)
{
    struct tx_ctx *t = arg;
    static const char *const topics[] = {"transaction.started", "transaction.updated",
                                         "transaction.ended"};
    if (!res || !db_ok(res) || db_ntuples(res) < 1) {
        if (!res || !db_ok(res))
            core_log(PL_LOG_WARN, "station", "%s station=%s tx=%s failed: %s",
                     topics[t->kind], t->station_id, t->station_tx_id ? t->station_tx_id : "-",
                     res ? db_error(res) : "not queued");
        else
            core_log(PL_LOG_INFO, "station", "%s station=%s: unknown transaction %s",
                     topics[t->kind], t->station_id, t->station_tx_id ? t->station_tx_id : "-");
        if (t->cb)
            t->cb(t->arg, res && db_ok(res) ? PL_TX_UNKNOWN : PL_TX_NOT_STORED, NULL, NULL);
        goto out;
    }
    int fcol = col_index(res, "fresh");
    const char *fv = fcol >= 0 ? db_value(res, 0, fcol) : NULL;
    int fresh = fv && (fv[0] == 't' || fv[0] == '1');
    json_t *rows = db_json(res);
    json_t *row = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    if (!row)
        row = json_object();
    json_object_del(row, "fresh");
    json_int_t cdr_id = json_integer_value(json_object_get(row, "cdr_id"));
    json_object_del(row, "cdr_id");
    json_t *cdr_signed = json_incref(json_object_get(row, "cdr_signed"));
    json_object_del(row, "cdr_signed");
    char id[32];
    int icol = col_index(res, "id");
    snprintf(id, sizeof id, "%s", icol >= 0 && db_value(res, 0, icol) ? db_value(res, 0, icol) : "");
    if (t->kind == TX_STOP) {
        json_t *a = json_object_get(row, "meter_start"), *b = json_object_get(row, "meter_stop");
        if (json_is_number(a) && json_is_number(b))
            json_object_set_new(row, "energy_wh",
                                json_real(json_number_value(b) - json_number_value(a)));
    }
    if (t->cb)
        t->cb(t->arg, PL_TX_STORED, id, row);
    /* A resent Started or a repeated stop is answered but not announced twice. */
    if (fresh)
        bus_emit(topics[t->kind], t->station_id, json_incref(row));
    if (fresh && cdr_id && t->cdr) {
        json_object_set_new(t->cdr, "id", json_integer(cdr_id));
        json_object_set(t->cdr, "transaction_id", json_object_get(row, "id"));
        json_object_set(t->cdr, "started_at", json_object_get(row, "started_at"));
        json_object_set(t->cdr, "stopped_at", json_object_get(row, "stopped_at"));
        json_object_set(t->cdr, "signed_meter_values", cdr_signed ? cdr_signed : json_null());
        bus_emit("cdr.created", t->station_id, json_incref(t->cdr));
    }
    json_decref(row);
    json_decref(cdr_signed);
out:
    free(t->station_id);
    free(t->station_tx_id);
    for (size_t i = 0; i < sizeof t->stop / sizeof t->stop[0]; i++)
        free(t->stop[i]);
    free(t->stop_signed);
    json_decref(t->cdr);
    free(t);
}

static struct tx_ctx *tx_ctx_new(enum tx_kind kind, pl_station *st, const char *station_tx_id,
                                 pl_tx_cb cb, void *arg)
{
    struct tx_ctx *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->kind = kind;
    t->cb = cb;
    t->arg = arg;
    t->station_id = strdup(st->id);
    t->station_tx_id = station_tx_id ? strdup(station_tx_id) : NULL;
    return t;
}

static void tx_write(struct tx_ctx *t, const char *sql, int n, const char *const *p)
{
    if (!t) {
        return;
    }
    if (model_write(t->station_id, sql, n, p, tx_done, t) != PL_OK)
        tx_done(t, NULL);
}

void station_api_tx_start(pl_station *st, json_t *tx, pl_tx_cb cb, void *arg)
{
    if (!st || !json_is_object(tx)) {
        json_decref(tx);
        if (cb)
            cb(arg, PL_TX_NOT_STORED, NULL, NULL);
        return;
    }
    char b[5][40];
    const char *stx = str_param(tx, "station_tx_id");
    const char *p[10] = {
        st->id,
        stx && *stx ? stx : NULL,
        num_param(json_object_get(tx, "evse"), b[0], sizeof b[0], 1),
        num_param(json_object_get(tx, "connector"), b[1], sizeof b[1], 1),
        str_param(tx, "id_token"),
        str_param(tx, "id_token_type"),
        num_param(json_object_get(tx, "reservation_id"), b[2], sizeof b[2], 1),
        num_param(json_object_get(tx, "meter_start"), b[3], sizeof b[3], 0),
        ts_param(str_param(tx, "started_at")),
        num_param(json_object_get(tx, "seq_no"), b[4], sizeof b[4], 1),
    };
    struct tx_ctx *t = tx_ctx_new(TX_START, st, p[1], cb, arg);
    if (!t && cb)
        cb(arg, PL_TX_NOT_STORED, NULL, NULL);
    tx_write(t, SQL_TX_START, 10, p);
    json_decref(tx);
}

void station_api_tx_update(pl_station *st, const char *station_tx_id, json_t *upd,
                           pl_tx_cb cb, void *arg)
{
    if (!st || !station_tx_id) {
        json_decref(upd);
        if (cb)
            cb(arg, PL_TX_NOT_STORED, NULL, NULL);
        return;
    }
    char b[4][40];
    const char *p[8] = {
        st->id,
        station_tx_id,
        num_param(json_object_get(upd, "meter"), b[0], sizeof b[0], 0),
        num_param(json_object_get(upd, "evse"), b[1], sizeof b[1], 1),
        num_param(json_object_get(upd, "connector"), b[2], sizeof b[2], 1),
        str_param(upd, "id_token"),
        str_param(upd, "charging_state"),
        num_param(json_object_get(upd, "seq_no"), b[3], sizeof b[3], 1),
    };
    struct tx_ctx *t = tx_ctx_new(TX_UPDATE, st, station_tx_id, cb, arg);
    if (!t && cb)
        cb(arg, PL_TX_NOT_STORED, NULL, NULL);
    tx_write(t, SQL_TX_UPDATE, 8, p);
    json_decref(upd);
}

/* The record priced (or there is nothing to record): write the stop with it.  A
 * database that could not be read does not get a stop without its record: the station
 * hears "not stored" and sends the stop again. */
static void stop_cdr_ready(void *arg, int ok, json_t *cdr)
{
    struct tx_ctx *t = arg;
    struct wop *reserved = t->reserved;
    t->reserved = NULL;
    if (!ok) {
        if (reserved)
            write_cancel(t->station_id, reserved);
        tx_done(t, NULL);
        return;
    }
    char *text = cdr ? json_dumps(cdr, JSON_COMPACT) : NULL;
    t->cdr = json_incref(cdr);
    const char *p[8] = {t->stop[0], t->stop[1], t->stop[2], t->stop[3], t->stop[4], t->stop[5], text,
                        t->stop_signed};
    if (!reserved)
        tx_write(t, SQL_TX_STOP, 8, p);
    else if (write_fill(t->station_id, reserved, SQL_TX_STOP, 8, p, tx_done, t) != PL_OK)
        tx_done(t, NULL);
    free(text);
}

void station_api_tx_stop(pl_station *st, const char *station_tx_id, json_t *stop, pl_tx_cb cb,
                         void *arg)
{
    if (!st || !station_tx_id) {
        json_decref(stop);
        if (cb)
            cb(arg, PL_TX_NOT_STORED, NULL, NULL);
        return;
    }
    char b[40], now[40];
    const char *at = ts_param(str_param(stop, "stopped_at"));
    if (!at) { /* one instant for the price and the stop alike */
        at = core_now_rfc3339(now, sizeof now);
    }
    const char *p[6] = {
        st->id,
        station_tx_id,
        num_param(json_object_get(stop, "meter_stop"), b, sizeof b, 0),
        at,
        str_param(stop, "reason"),
        str_param(stop, "id_token"),
    };
    struct tx_ctx *t = tx_ctx_new(TX_STOP, st, station_tx_id, cb, arg);
    if (!t) {
        if (cb)
            cb(arg, PL_TX_NOT_STORED, NULL, NULL);
        json_decref(stop);
        return;
    }
    for (int i = 0; i < 6; i++)
        t->stop[i] = p[i] ? strdup(p[i]) : NULL;
    json_t *signed_values = json_object_get(stop, "signed_meter_values");
    if (json_array_size(signed_values))
        t->stop_signed = json_dumps(signed_values, JSON_COMPACT);
    json_decref(stop);
    t->reserved = write_reserve(st->id); /* before the read: see write_reserve */
    billing_price_stop(t->stop[0], t->stop[1], t->stop[3], t->stop[2], stop_cdr_ready, t);
}

/* ------------------------------------------------------------------------
 * Meter values: a bounded in-memory queue flushed as one INSERT.
 * ---------------------------------------------------------------------- */
/* Someone waiting for samples to be committed (a MeterValues.conf held back until the
 * values are durable). */
struct meter_waiter {
    pl_meter_cb cb;
    void *arg;
    size_t remaining;
    int ok;
};

static void waiter_done(struct meter_waiter *w, int ok)
{
    if (!w)
        return;
    if (!ok)
        w->ok = 0;
    if (--w->remaining == 0) {
        w->cb(w->arg, w->ok);
        free(w);
    }
}

struct sample {
    struct sample *next;
    struct meter_waiter *waiter;
    uint64_t barrier; /* the station's last queued write when the sample arrived */
    char *row;        /* JSON text {"station_id","station_tx_id","evse","connector","ts",...} */
    size_t row_len;   /* serialised once on arrival: a batch is then one buffer, not
                         thousands of JSON objects (which showed as malloc churn) */
};

static struct sample *sq_head, *sq_tail; /* ready for the next batch */
static size_t sq_len;
static size_t sq_waited;   /* ready samples whose MeterValues.conf waits for them */
static size_t blocked_len; /* samples waiting on their station's chain */
/* Batches in flight at once: a station has one MeterValues outstanding (OCPP-J), so
 * its samples are never in two batches that could commit out of order; meter_last
 * only ever grows (an energy register does), so it needs no order either. */
#define METER_BATCHES_INFLIGHT 2

struct meter_batch {
    size_t n;
    struct meter_waiter *waiters[];
};

static int batch_inflight;  /* batches */
static size_t batch_len;    /* samples in them */
static unsigned long samples_dropped;
static struct event *flush_timer;

static const char SQL_METER[] =
    "WITH x AS (SELECT * FROM json_to_recordset($1::json) AS x(station_id text, "
    "station_tx_id text, evse int, connector int, ts timestamptz, measurand text, "
    "value float8, unit text, phase text, context text, location text, signed jsonb)), "
    "ins AS (INSERT INTO meter_values(station_id, transaction_id, evse, connector, ts, "
    "measurand, value, unit, phase, context, location, signed) "
    /* a sample of a transaction is on the transaction's EVSE and connector, whatever
     * the message carrying it said (2.0.1 Updated events and 1.6 transactionData
     * often name none) */
    "SELECT x.station_id, t.id, coalesce(t.evse, x.evse), coalesce(t.connector, x.connector), "
    "x.ts, coalesce(x.measurand, 'Energy.Active.Import.Register'), x.value, x.unit, x.phase, "
    "x.context, x.location, x.signed FROM x LEFT JOIN transactions t ON t.station_id = x.station_id "
    "AND t.station_tx_id = x.station_tx_id RETURNING 1), "
    "last AS (SELECT DISTINCT ON (station_id, station_tx_id) station_id, station_tx_id, "
    "CASE WHEN unit = 'kWh' THEN value * 1000 ELSE value END AS wh FROM x "
    "WHERE station_tx_id IS NOT NULL AND phase IS NULL "
    "AND coalesce(measurand, 'Energy.Active.Import.Register') = 'Energy.Active.Import.Register' "
    "ORDER BY station_id, station_tx_id, ts DESC), "
    "upd AS (UPDATE transactions t SET meter_last = greatest(t.meter_last, last.wh), "
    "updated_at = now() FROM last "
    "WHERE t.station_id = last.station_id AND t.station_tx_id = last.station_tx_id "
    "AND t.stopped_at IS NULL RETURNING t.id) "
    "SELECT (SELECT count(*) FROM ins) AS inserted, (SELECT count(*) FROM upd) AS updated, "
    "(SELECT json_agg(id) FROM upd) AS transactions";

static void meter_flush_now(void);
static void meter_kick(void);

static void flush_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    meter_flush_now();
}

static void arm_flush(void)
{
    if (model_closed)
        return;
    if (!flush_timer && !(flush_timer = event_new(core_base, -1, 0, flush_timer_cb, NULL)))
        return;
    if (event_pending(flush_timer, EV_TIMEOUT, NULL))
        return;
    struct timeval tv = {0, METER_FLUSH_MS * 1000};
    event_add(flush_timer, &tv);
}

static void sample_free(struct sample *s)
{
    free(s->row);
    free(s);
}

static void meter_done(pl_db_result *res, void *arg)
{
    struct meter_batch *b = arg;
    if (!db_ok(res))
        core_log(PL_LOG_WARN, "station", "meter values batch of %zu samples failed: %s", b->n,
                 db_error(res));
    if (!model_closed) { /* shutdown reset the counters already */
        batch_inflight--;
        batch_len -= b->n;
    }
    for (size_t i = 0; i < b->n; i++)
        waiter_done(b->waiters[i], db_ok(res));
    free(b);
    if (db_ok(res) && db_ntuples(res) == 1 && !model_closed) {
        /* the sessions whose register moved: their running cost follows (billing.c) */
        int col = col_index(res, "transactions");
        const char *ids = col >= 0 ? db_value(res, 0, col) : NULL;
        json_t *list = ids && *ids ? json_loads(ids, 0, NULL) : NULL;
        billing_readings_committed(list);
        json_decref(list);
    }
    /* what arrived meanwhile is the next batch (group commit); a station waiting for
     * its answer must not wait for the timer on top */
    meter_kick();
}

static void sample_ready(struct sample *s)
{
    s->next = NULL;
    if (sq_tail)
        sq_tail->next = s;
    else
        sq_head = s;
    sq_tail = s;
    sq_len++;
    if (s->waiter)
        sq_waited++;
}

/* After samples became ready: someone waits -> now (or when the batch in flight is
 * done); a full batch -> now; otherwise the timer gathers a bigger batch. */
static void meter_kick(void)
{
    if (!sq_len || batch_inflight >= METER_BATCHES_INFLIGHT || model_closed)
        return;
    if (sq_waited || sq_len >= METER_FLUSH_COUNT)
        meter_flush_now();
    else
        arm_flush();
}

static void release_blocked(struct wchain *ch, uint64_t done_seq)
{
    int released = 0;
    while (ch->blocked_head && ch->blocked_head->barrier <= done_seq) {
        struct sample *s = ch->blocked_head;
        ch->blocked_head = s->next;
        if (!ch->blocked_head)
            ch->blocked_tail = NULL;
        blocked_len--;
        sample_ready(s);
        released = 1;
    }
    if (released)
        meter_kick();
}

static void free_blocked(struct wchain *ch)
{
    while (ch->blocked_head) {
        struct sample *s = ch->blocked_head;
        ch->blocked_head = s->next;
        blocked_len--;
        sample_free(s);
    }
    ch->blocked_tail = NULL;
}

static void meter_flush_now(void)
{
    if (batch_inflight >= METER_BATCHES_INFLIGHT || !sq_head)
        return;
    /* the batch is the JSON array of the first ready samples' rows, in one buffer */
    size_t cap = 2, n = 0;
    for (struct sample *s = sq_head; s && n < METER_BATCH_MAX; s = s->next, n++)
        cap += s->row_len + 1;
    char *text = malloc(cap + 1);
    struct meter_batch *b = text ? malloc(sizeof *b + n * sizeof b->waiters[0]) : NULL;
    if (!b) {
        free(text);
        return;
    }
    b->n = n;
    size_t len = 0;
    text[len++] = '[';
    for (size_t i = 0; i < n; i++) {
        struct sample *s = sq_head;
        sq_head = s->next;
        if (i)
            text[len++] = ',';
        memcpy(text + len, s->row, s->row_len);
        len += s->row_len;
        b->waiters[i] = s->waiter;
        if (s->waiter)
            sq_waited--;
        sample_free(s);
        sq_len--;
    }
    if (!sq_head)
        sq_tail = NULL;
    text[len++] = ']';
    text[len] = '\0';
    char **p = malloc(sizeof *p);
    if (p)
        p[0] = text;
    else
        free(text);
    batch_inflight++;
    batch_len += n;
    if (!p || db_query_take("core", SQL_METER, 1, p, meter_done, b) != PL_OK) {
        batch_inflight--;
        batch_len -= n;
        samples_dropped += n;
        for (size_t i = 0; i < n; i++)
            waiter_done(b->waiters[i], 0);
        free(b);
        core_log(PL_LOG_WARN, "station", "meter values batch of %zu samples not queued", n);
    }
    if (sq_len && batch_inflight < METER_BATCHES_INFLIGHT)
        meter_kick();
}

/* A sample's row for the batch, as JSON text written directly (jansson's pack and dump
 * per sample showed in the profile): {"station_id","station_tx_id"?,"evse","connector",
 * "ts","measurand"?,"value","unit"?,"phase"?,"context"?,"location"?,"signed"?}.  NULL when the
 * value is not a number or the row would not fit. */
static char *sample_row(pl_station *st, int evse, int connector, const char *station_tx_id,
                        json_t *smp, size_t *out_len)
{
    json_t *v = json_object_get(smp, "value");
    double value;
    if (json_is_number(v))
        value = json_number_value(v);
    else if (json_is_string(v)) {
        char *end;
        value = strtod(json_string_value(v), &end);
        if (end == json_string_value(v) || *end)
            return NULL;
    } else
        return NULL;
    if (value != value || value > 1e300 || value < -1e300) /* NaN or infinite: not JSON */
        return NULL;
    /* a signed value (signedMeterData and its public key: kilobytes) rides along as JSON */
    json_t *sig = json_object_get(smp, "signed");
    char *sig_text = json_is_object(sig) ? json_dumps(sig, JSON_COMPACT) : NULL;
    /* built on the stack and copied out at its size: a 1 KiB allocation per sample is a
     * large-bin request for glibc, which consolidates its fast bins on every one */
    char stack[1024], now[40];
    size_t cap = sig_text ? sizeof stack + strlen(sig_text) + 16 : sizeof stack;
    char *buf = sig_text ? malloc(cap) : stack;
    if (!buf) {
        free(sig_text);
        return NULL;
    }
    const char *ts = ts_param(str_param(smp, "timestamp"));
    size_t n = 0;
    static const char *const opt[] = {"measurand", "unit", "phase", "context", "location"};
    int bad = 0;
#define LIT(text)                                                                            \
    do {                                                                                     \
        size_t l_ = strlen(text);                                                            \
        if (n + l_ >= cap) bad = 1; else { memcpy(buf + n, text, l_); n += l_; }             \
    } while (0)
    LIT("{\"station_id\":");
    bad |= util_json_quote(buf, cap, &n, st->id);
    if (station_tx_id) {
        LIT(",\"station_tx_id\":");
        bad |= util_json_quote(buf, cap, &n, station_tx_id);
    }
    char nums[96];
    snprintf(nums, sizeof nums, ",\"evse\":%d,\"connector\":%d,\"value\":%.17g,\"ts\":", evse,
             connector, value);
    LIT(nums);
    bad |= util_json_quote(buf, cap, &n, ts ? ts : core_now_rfc3339(now, sizeof now));
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++) {
        const char *x = str_param(smp, opt[i]);
        if (!x)
            continue;
        LIT(",\"");
        LIT(opt[i]);
        LIT("\":");
        bad |= util_json_quote(buf, cap, &n, x);
    }
    if (sig_text) {
        LIT(",\"signed\":");
        LIT(sig_text);
    }
    LIT("}");
#undef LIT
    free(sig_text);
    char *row = bad ? NULL : malloc(n + 1);
    if (row) {
        memcpy(row, buf, n);
        row[n] = '\0';
        *out_len = n;
    }
    if (buf != stack)
        free(buf);
    return row;
}

void station_api_meter_values(pl_station *st, int evse, int connector,
                              const char *station_tx_id, json_t *samples)
{
    station_api_meter_values_durable(st, evse, connector, station_tx_id, samples, NULL, NULL);
}

void station_api_meter_values_durable(pl_station *st, int evse, int connector,
                                      const char *station_tx_id, json_t *samples,
                                      pl_meter_cb cb, void *arg)
{
    struct meter_waiter *w = NULL;
    if (cb && (w = calloc(1, sizeof *w))) {
        w->cb = cb;
        w->arg = arg;
        w->ok = 1;
        w->remaining = 1; /* released below, after every sample took its share */
    } else if (cb) {
        cb(arg, 0);
        cb = NULL;
    }
    if (!st || !json_is_array(samples) || model_closed) {
        json_decref(samples);
        waiter_done(w, 0);
        return;
    }
    /* a transaction's samples go in after its row: when writes of the station are
     * still queued (its StartTransaction, say), they wait for the last of them */
    struct wchain *ch = station_tx_id ? hashmap_get(chains, st->id) : NULL;
    uint64_t barrier = ch && ch->tail ? ch->tail->seq : 0;
    size_t i;
    json_t *smp;
    json_array_foreach(samples, i, smp) {
        if (sq_len + blocked_len >= METER_PENDING_MAX) {
            if (samples_dropped++ % 1000 == 0)
                core_log(PL_LOG_ERROR, "station",
                         "meter value queue full (%d): dropping samples (%lu so far)",
                         METER_PENDING_MAX, samples_dropped);
            if (w)
                w->ok = 0;
            continue;
        }
        size_t row_len = 0;
        char *text = sample_row(st, evse, connector, station_tx_id, smp, &row_len);
        struct sample *s = text ? calloc(1, sizeof *s) : NULL;
        if (!s) {
            free(text);
            continue;
        }
        s->row = text;
        s->row_len = row_len;
        s->barrier = barrier;
        s->waiter = w;
        if (w)
            w->remaining++;
        if (barrier) {
            if (ch->blocked_tail)
                ch->blocked_tail->next = s;
            else
                ch->blocked_head = s;
            ch->blocked_tail = s;
            blocked_len++;
        } else {
            sample_ready(s);
        }
    }
    if (bus_has_subscribers("meter.values")) /* the busiest topic: no event nobody reads */
        bus_emit("meter.values", st->id,
                 json_pack("{s:i, s:i, s:s?, s:o}", "evse", evse, "connector", connector,
                           "station_tx_id", station_tx_id, "samples", samples));
    else
        json_decref(samples);
    waiter_done(w, 1);
    meter_kick();
}

void model_flush(void)
{
    meter_flush_now();
}

size_t model_pending(void)
{
    return writes_pending + sq_len + blocked_len + batch_len;
}

unsigned long model_dropped_samples(void)
{
    return samples_dropped;
}

/* ------------------------------------------------------------------------
 * Authorization, records, documents.
 * ---------------------------------------------------------------------- */
/* Authorization is the token domain's (tokens.c): a station's token goes through the
 * table in memory, the remote authorizers and auth_unknown, and fails closed. */
void station_api_authorize(pl_station *st, const char *id_token, pl_auth_cb cb, void *arg)
{
    struct pl_id_token tok = {sizeof tok, id_token, NULL, st ? st->id : NULL, 0, NULL, NULL};
    tokens_api()->authorize(&tok, cb, arg);
}

void station_api_authorize_token(pl_station *st, const struct pl_id_token *tok, pl_auth_cb cb,
                                 void *arg)
{
    /* the fields of 1.2 as first released; certificate came later (read when present) */
    if (!tok || tok->size < offsetof(struct pl_id_token, certificate)) {
        if (cb)
            cb(arg, NULL);
        return;
    }
    struct pl_id_token t = {0};
    memcpy(&t, tok, tok->size < sizeof t ? tok->size : sizeof t);
    t.size = sizeof t;
    t.station_id = st ? st->id : tok->station_id;
    tokens_api()->authorize(&t, cb, arg);
}

static int kind_ok(const char *kind)
{
    size_t n = kind ? strlen(kind) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((kind[i] >= 'a' && kind[i] <= 'z') || (kind[i] >= '0' && kind[i] <= '9') ||
              kind[i] == '_'))
            return 0;
    return 1;
}

void station_api_record(pl_station *st, const char *kind, json_t *data)
{
    if (!st || !kind_ok(kind)) {
        json_decref(data);
        return;
    }
    if (!data)
        data = json_object();
    char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text) {
        const char *p[3] = {st->id, kind, text};
        model_write(st->id,
                    "INSERT INTO station_records(station_id, kind, data) VALUES ($1, $2, $3::jsonb)",
                    3, p, NULL, NULL);
        free(text);
    }
    char topic[80];
    snprintf(topic, sizeof topic, "station.%s", kind);
    bus_emit(topic, st->id, data);
}

static const char SQL_LOCAL_LIST[] =
    "WITH raw AS (SELECT x.value AS v, x.ordinality AS n FROM json_array_elements($2::json) "
    "WITH ORDINALITY x), "
    /* the last entry of a token wins */
    "e AS (SELECT DISTINCT ON (v->>'id_token') v->>'id_token' AS id_token, v->>'status' AS status, "
    "v->>'expiry' AS expiry, v->>'parent' AS parent FROM raw WHERE v->>'id_token' IS NOT NULL "
    "ORDER BY v->>'id_token', n DESC), "
    "gone AS (DELETE FROM station_docs d WHERE d.station_id = $1 AND d.kind = 'local_list' AND ("
    "($3 = 'Full' AND NOT EXISTS (SELECT 1 FROM e WHERE e.id_token = d.key)) OR "
    "($3 <> 'Full' AND EXISTS (SELECT 1 FROM e WHERE e.id_token = d.key AND e.status IS NULL)))), "
    "kept AS (INSERT INTO station_docs(station_id, kind, key, value, updated_at) "
    "SELECT $1, 'local_list', e.id_token, jsonb_strip_nulls(jsonb_build_object('status', "
    "coalesce(e.status, 'Accepted'), 'expiry', e.expiry, 'parent', e.parent)), now() FROM e "
    "WHERE $3 = 'Full' OR e.status IS NOT NULL "
    "ON CONFLICT (station_id, kind, key) DO UPDATE SET value = excluded.value, updated_at = now()) "
    "INSERT INTO station_docs(station_id, kind, key, value, updated_at) "
    "VALUES ($1, 'local_list_version', 'version', jsonb_build_object('version', $4::int), now()) "
    "ON CONFLICT (station_id, kind, key) DO UPDATE SET value = excluded.value, updated_at = now()";

void model_local_list_sent(const char *station_id, json_t *args)
{
    json_t *entries = json_object_get(args, "entries");
    const char *type = json_string_value(json_object_get(args, "update_type"));
    json_t *version = json_object_get(args, "version");
    if (!station_id || !type || !json_is_integer(version))
        return;
    char *text = json_is_array(entries) ? json_dumps(entries, JSON_COMPACT) : NULL;
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)json_integer_value(version));
    const char *p[4] = {station_id, text ? text : "[]", type, v};
    model_write(station_id, SQL_LOCAL_LIST, 4, p, NULL, NULL);
    free(text);
}

void station_api_put_doc(pl_station *st, const char *kind, const char *key, json_t *value)
{
    if (!st || !kind || !key) {
        json_decref(value);
        return;
    }
    if (!value) {
        const char *p[3] = {st->id, kind, key};
        model_write(st->id, "DELETE FROM station_docs WHERE station_id = $1 AND kind = $2 AND key = $3",
                    3, p, NULL, NULL);
        return;
    }
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(value);
    if (!text)
        return;
    const char *p[4] = {st->id, kind, key, text};
    model_write(st->id,
                "INSERT INTO station_docs(station_id, kind, key, value, updated_at) "
                "VALUES ($1, $2, $3, $4::jsonb, now()) ON CONFLICT (station_id, kind, key) "
                "DO UPDATE SET value = excluded.value, updated_at = now()",
                4, p, NULL, NULL);
    free(text);
}

/* ------------------------------------------------------------------------ */
/* At shutdown: a chain with a query in flight stays until the pool answers it (the pool
 * shuts down after the registry and fails what is in flight); the rest goes now. */
static void free_chain(void *val, void *arg)
{
    (void)arg;
    struct wchain *ch = val;
    if (!ch->inflight || !ch->head) {
        chain_free(ch);
        return;
    }
    struct wop *op = ch->head->next;
    while (op) {
        struct wop *next = op->next;
        wop_free(op);
        op = next;
    }
    ch->head->next = NULL;
    ch->tail = ch->head;
    free_blocked(ch);
    ch->orphan = 1;
}

void model_shutdown(void)
{
    /* Queued writes are lost (a drain before shutdown gives them their chance); a
     * write or a meter batch in flight is answered by the pool's shutdown, which comes
     * after ours, and only cleans up then. */
    model_closed = 1;
    ready_head = ready_tail = NULL; /* the chains on it are freed below */
    ready_len = 0;
    if (group_retry)
        event_free(group_retry);
    group_retry = NULL;
    hashmap_foreach(chains, free_chain, NULL);
    hashmap_free(chains);
    chains = NULL;
    writes_pending = 0;
    while (sq_head) {
        struct sample *s = sq_head;
        sq_head = s->next;
        sample_free(s);
    }
    sq_tail = NULL;
    sq_len = 0;
    sq_waited = 0;
    blocked_len = 0;
    batch_inflight = 0;
    batch_len = 0;
    if (flush_timer)
        event_free(flush_timer);
    flush_timer = NULL;
}
