/*
 * db.c — the non-blocking PostgreSQL pool.  libpq in non-blocking mode on the event
 * loop: connections are driven by PQconnectPoll and socket events (re-armed at every
 * step, since the socket can change while connecting), queries by PQsendQuery* /
 * PQflush / PQconsumeInput / PQisBusy / PQgetResult.  Queries wait in a bounded FIFO
 * until a connection is free and the migrations are done; a broken connection fails
 * its in-flight query (it may have run) and reconnects with back-off.
 * [database] url = none disables the pool: no connection is ever attempted, queries
 * fail with PL_ENOTSUP, and the database is not a reason to report "degraded".
 */
#include "db.h"
#include "core.h"
#include "metrics.h"

#include <event2/event.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_LOCK_KEY 7274411
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 10000

enum conn_state { C_DOWN, C_CONNECTING, C_IDLE, C_BUSY, C_BACKOFF };

struct db_query {
    char *component;
    char *sql;
    int nparams;
    char **params;
    pl_db_cb cb;
    void *arg;
    uint64_t deadline;
    struct db_query *next;
    /* a group (db_batch_as): its queries, sent in one transaction and one round trip */
    struct db_query **items;
    size_t nitems;
    int borrowed; /* a group's item: sql, params and component are the caller's */
    int sql_static; /* db_query_take: sql is the caller's (a static text) */
};

struct pl_db_result {
    PGresult *res;
    const char *error; /* when res is NULL or failed */
};

struct db_conn {
    int index;
    PGconn *pg;
    struct event *ev;
    struct event *retry;
    enum conn_state state;
    unsigned backoff_ms;
    struct db_query *q;   /* in flight */
    PGresult *result;     /* the result to hand over (the last, or the first error) */
    int flushing;
    /* a group in flight (pipeline mode): one result slot per statement and one for
     * an error at commit; slot = the statement whose results are being read */
    PGresult **slots;
    size_t nslots, slot;
    int *slot_stmt; /* per slot: the statement a Parse in it prepared, or -1 (an item) */
    int lost; /* was up and went down: its next connect is a reconnection */
    /* the statements this session prepared (group items, by their text's address): the
     * i-th is named "pl_<i>"; NULL where a Parse failed (its name was never made) */
    const char **stmts;
    size_t nstmts;
};

struct migration_set {
    char *component;
    const struct pl_migration *m;
    size_t n;
};

static struct {
    char *conninfo;
    int pool_size, queue_max;
    unsigned timeout_ms;
    struct db_conn *conns;
    struct db_query *head, *tail;
    size_t queued;
    int disabled; /* [database] url = none */
    int prepare;  /* [database] prepared_statements */
    int migrated, migrating, migration_failed, shutting_down;
    struct migration_set *sets;
    size_t nsets;
    struct event *sweeper;
    uint64_t reconnects, queries_total, errors_total;
    /* migration progress */
    struct db_conn *mconn;
    size_t mset, midx;
    json_t *applied;
} db;

static void conn_arm(struct db_conn *c, short what);
static void conn_on_event(evutil_socket_t fd, short what, void *arg);
static void dispatch(void);
static void migrate_begin(struct db_conn *c);
static void conn_lost(struct db_conn *c, const char *why_in);

/* ---------- results ---------- */

int db_ok(pl_db_result *r)
{
    if (!r || !r->res)
        return 0;
    ExecStatusType st = PQresultStatus(r->res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
}

const char *db_error(pl_db_result *r)
{
    if (db_ok(r))
        return "";
    if (r && r->res) {
        const char *m = PQresultErrorField(r->res, PG_DIAG_MESSAGE_PRIMARY);
        return m ? m : PQresultErrorMessage(r->res);
    }
    return r && r->error ? r->error : "database error";
}

const char *db_sqlstate(pl_db_result *r)
{
    if (db_ok(r) || !r || !r->res)
        return "";
    const char *s = PQresultErrorField(r->res, PG_DIAG_SQLSTATE);
    return s ? s : "";
}

int db_ntuples(pl_db_result *r) { return db_ok(r) ? PQntuples(r->res) : 0; }
int db_nfields(pl_db_result *r) { return db_ok(r) ? PQnfields(r->res) : 0; }

const char *db_fname(pl_db_result *r, int col)
{
    return db_ok(r) && col >= 0 && col < PQnfields(r->res) ? PQfname(r->res, col) : NULL;
}

const char *db_value(pl_db_result *r, int row, int col)
{
    if (!db_ok(r) || row < 0 || row >= PQntuples(r->res) || col < 0 || col >= PQnfields(r->res))
        return NULL;
    if (PQgetisnull(r->res, row, col))
        return NULL;
    return PQgetvalue(r->res, row, col);
}

long db_affected(pl_db_result *r)
{
    if (!db_ok(r))
        return 0;
    const char *n = PQcmdTuples(r->res);
    return n && *n ? strtol(n, NULL, 10) : 0;
}

static json_t *typed_value(PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    const char *v = PQgetvalue(res, row, col);
    switch (PQftype(res, col)) {
    case 16: /* bool */
        return json_boolean(v[0] == 't');
    case 20: case 21: case 23: /* int8, int2, int4 */
        return json_integer(strtoll(v, NULL, 10));
    case 700: case 701: case 1700: /* float4, float8, numeric */
        return json_real(strtod(v, NULL));
    case 114: case 3802: { /* json, jsonb */
        json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
        return j ? j : json_string(v);
    }
    default:
        return json_string(v);
    }
}

json_t *db_json(pl_db_result *r)
{
    json_t *rows = json_array();
    if (!db_ok(r))
        return rows;
    int n = PQntuples(r->res), nf = PQnfields(r->res);
    for (int i = 0; i < n; i++) {
        json_t *o = json_object();
        for (int f = 0; f < nf; f++)
            json_object_set_new(o, PQfname(r->res, f), typed_value(r->res, i, f));
        json_array_append_new(rows, o);
    }
    return rows;
}

/* "Not a reason to degrade": connected and migrated, or deliberately absent. */
int db_healthy(void)
{
    if (db.disabled)
        return 1;
    if (!db.migrated)
        return 0;
    for (int i = 0; i < db.pool_size; i++)
        if (db.conns[i].state == C_IDLE || db.conns[i].state == C_BUSY)
            return 1;
    return 0;
}

int db_migration_failed(void)
{
    return db.migration_failed;
}

json_t *db_stats(void)
{
    int up = 0, idle = 0, busy = 0;
    for (int i = 0; db.conns && i < db.pool_size; i++) {
        if (db.conns[i].state == C_IDLE)
            idle++, up++;
        else if (db.conns[i].state == C_BUSY)
            busy++, up++;
    }
    const char *status = db.disabled ? "disabled" : db_healthy() ? "ok" : "degraded";
    return json_pack("{s:s, s:i, s:i, s:i, s:i, s:I, s:b, s:I, s:I, s:I}", "status", status,
                     "pool_size", db.pool_size, "connections", up,
                     "idle", idle, "busy", busy, "queued", (json_int_t)db.queued, "migrated",
                     db.migrated, "reconnects", (json_int_t)db.reconnects, "queries_total",
                     (json_int_t)db.queries_total, "errors_total", (json_int_t)db.errors_total);
}

/* ---------- queries ---------- */

static void query_free(struct db_query *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->nitems; i++)
        query_free(q->items[i]);
    free(q->items);
    if (q->borrowed) {
        free(q);
        return;
    }
    for (int i = 0; i < q->nparams; i++)
        free(q->params[i]);
    free(q->params);
    if (!q->sql_static)
        free(q->sql);
    free(q->component);
    free(q);
}

static void query_finish(struct db_query *q, PGresult *res, const char *error)
{
    if (q->nitems) { /* a group that never ran: each of its queries hears why */
        for (size_t i = 0; i < q->nitems; i++) {
            query_finish(q->items[i], NULL, error ? error : "database error");
            q->items[i] = NULL;
        }
        q->nitems = 0;
        query_free(q);
        return;
    }
    struct pl_db_result r = {res, error};
    if (!db_ok(&r)) {
        db.errors_total++;
        if (!q->cb)
            core_log(PL_LOG_WARN, "db", "query of %s failed: %s", q->component, db_error(&r));
    }
    if (q->cb)
        q->cb(&r, q->arg);
    query_free(q);
}

static struct db_query *query_new(const char *component, const char *sql, int nparams,
                                  const char *const *params, pl_db_cb cb, void *arg)
{
    struct db_query *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->component = strdup(component ? component : "core");
    q->sql = strdup(sql);
    q->cb = cb;
    q->arg = arg;
    if (nparams > 0) {
        q->params = calloc((size_t)nparams, sizeof *q->params);
        if (!q->params)
            goto fail;
        q->nparams = nparams;
        for (int i = 0; i < nparams; i++)
            if (params[i] && !(q->params[i] = strdup(params[i])))
                goto fail;
    }
    if (!q->component || !q->sql)
        goto fail;
    return q;
fail:
    query_free(q);
    return NULL;
}

/* Queue q (built by the caller); PL_OK or why not (q is then freed). */
static int enqueue(struct db_query *q)
{
    int rc = db.shutting_down ? PL_ESTATE : db.disabled ? PL_ENOTSUP
             : db.queued >= (size_t)db.queue_max ? PL_EBUSY : PL_OK;
    if (rc != PL_OK) {
        if (rc == PL_EBUSY)
            core_log(PL_LOG_WARN, "db", "query queue full (%d): refusing a query of %s",
                     db.queue_max, q->component);
        query_free(q);
        return rc;
    }
    q->deadline = core_now_ms() + db.timeout_ms;
    if (db.tail)
        db.tail->next = q;
    else
        db.head = q;
    db.tail = q;
    db.queued++;
    db.queries_total += q->nitems ? q->nitems : 1;
    dispatch();
    return PL_OK;
}

int db_query_as(const char *component, const char *sql, int nparams, const char *const *params,
                pl_db_cb cb, void *arg)
{
    if (!sql || nparams < 0 || (nparams > 0 && !params))
        return PL_EINVAL;
    struct db_query *q = query_new(component, sql, nparams, params, cb, arg);
    return q ? enqueue(q) : PL_ENOMEM;
}

int db_query_take(const char *component, const char *sql, int nparams, char **params,
                  pl_db_cb cb, void *arg)
{
    struct db_query *q = calloc(1, sizeof *q);
    if (!q || !(q->component = strdup(component ? component : "core"))) {
        for (int i = 0; i < nparams; i++)
            free(params[i]);
        free(params);
        free(q);
        return PL_ENOMEM;
    }
    q->sql_static = 1;
    q->sql = (char *)sql;
    q->nparams = nparams;
    q->params = params;
    q->cb = cb;
    q->arg = arg;
    return enqueue(q);
}

int db_batch_as(const char *component, const struct db_batch_item *items, size_t n)
{
    if (!items || n == 0)
        return PL_EINVAL;
    /* refused before anything is built, and without a log line: the model retries a
     * refused group every 20 ms while the queue is full */
    if (db.shutting_down)
        return PL_ESTATE;
    if (db.disabled)
        return PL_ENOTSUP;
    if (db.queued >= (size_t)db.queue_max)
        return PL_EBUSY;
    struct db_query *g = query_new(component, "-- group", 0, NULL, NULL, NULL);
    if (!g || !(g->items = calloc(n, sizeof *g->items))) {
        query_free(g);
        return PL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        struct db_query *q = g->items[i] = calloc(1, sizeof *q);
        if (!q || !items[i].sql || items[i].nparams < 0) {
            g->nitems = i + (q != NULL);
            query_free(g);
            return q ? PL_EINVAL : PL_ENOMEM;
        }
        q->borrowed = 1;
        q->component = (char *)(component ? component : "core"); /* a literal or a plugin's name */
        q->sql = (char *)items[i].sql;
        q->nparams = items[i].nparams;
        q->params = (char **)items[i].params;
        q->cb = items[i].cb;
        q->arg = items[i].arg;
    }
    g->nitems = n;
    return enqueue(g);
}

int db_host_query(pl_plugin_handle *self, const char *sql, int nparams,
                  const char *const *params, pl_db_cb cb, void *arg)
{
    return db_query_as(core_plugin_name(self), sql, nparams, params, cb, arg);
}

/* The name of the statement sql in c's session; *parse: it is new, and the caller
 * sends its Parse first.  -1: out of memory (the statement is sent unprepared). */
static int stmt_index(struct db_conn *c, const char *sql, int *parse)
{
    *parse = 0;
    for (size_t i = 0; i < c->nstmts; i++)
        if (c->stmts[i] == sql)
            return (int)i;
    const char **grown = realloc(c->stmts, (c->nstmts + 1) * sizeof *grown);
    if (!grown)
        return -1;
    c->stmts = grown;
    c->stmts[c->nstmts] = sql;
    *parse = 1;
    return (int)c->nstmts++;
}

/* A group in pipeline mode: its statements and one sync, written at once.  What runs
 * between two syncs is one implicit transaction: one commit at the sync, and the
 * first failing statement aborts the rest and rolls everything back.  (An explicit
 * BEGIN would leave the session in an aborted transaction after an error.)  The
 * results come back in order; one extra slot catches an error at commit time. */
/* A group's statements are prepared: each connection parses and plans a statement
 * once, on its first use, and runs it by name after (parsed and planned on every run,
 * a write cost about 0.24 ms of the server's time, prepared 0.15 ms).  A Parse goes in
 * the same pipeline, just before the statement's first run. */
static int send_group(struct db_conn *c, struct db_query *g)
{
    c->nslots = 2 * g->nitems + 1; /* at most a Parse per item, and the commit's slot */
    c->slot = 0;
    if (!(c->slots = calloc(c->nslots, sizeof *c->slots)) ||
        !(c->slot_stmt = malloc(c->nslots * sizeof *c->slot_stmt)) || !PQenterPipelineMode(c->pg))
        return 0;
    size_t k = 0;
    int ok = 1;
    for (size_t i = 0; ok && i < g->nitems; i++) {
        struct db_query *q = g->items[i];
        const char *const *params = (const char *const *)q->params;
        int parse = 0, idx = db.prepare ? stmt_index(c, q->sql, &parse) : -1;
        char name[24];
        snprintf(name, sizeof name, "pl_%d", idx);
        if (idx >= 0 && parse) {
            c->slot_stmt[k++] = idx;
            ok = PQsendPrepare(c->pg, name, q->sql, q->nparams, NULL);
        }
        c->slot_stmt[k++] = -1;
        if (ok)
            ok = idx >= 0 ? PQsendQueryPrepared(c->pg, name, q->nparams, params, NULL, NULL, 0)
                          : PQsendQueryParams(c->pg, q->sql, q->nparams, NULL, params, NULL, NULL, 0);
    }
    c->slot_stmt[k++] = -1;
    c->nslots = k;
    return ok && PQpipelineSync(c->pg);
}

static void group_reset(struct db_conn *c)
{
    for (size_t i = 0; c->slots && i < c->nslots; i++)
        if (c->slots[i])
            PQclear(c->slots[i]);
    free(c->slots);
    free(c->slot_stmt);
    c->slot_stmt = NULL;
    c->slots = NULL;
    c->nslots = c->slot = 0;
    if (c->pg && PQpipelineStatus(c->pg) != PQ_PIPELINE_OFF)
        PQexitPipelineMode(c->pg);
}

/* Send q on c (which is idle and connected). */
static void conn_send(struct db_conn *c, struct db_query *q)
{
    c->q = q;
    c->state = C_BUSY;
    c->result = NULL;
    int ok = q->nitems ? send_group(c, q)
             : q->nparams > 0 ? PQsendQueryParams(c->pg, q->sql, q->nparams, NULL,
                                                  (const char *const *)q->params, NULL, NULL, 0)
                              : PQsendQuery(c->pg, q->sql);
    if (!ok) {
        char err[300];
        snprintf(err, sizeof err, "cannot send query: %s", PQerrorMessage(c->pg));
        c->q = NULL;
        c->state = C_IDLE;
        if (q->nitems) { /* the connection is in an unknown state: start it afresh */
            group_reset(c);
            query_finish(q, NULL, err);
            conn_lost(c, "pipeline could not be sent");
            return;
        }
        query_finish(q, NULL, err);
        if (PQstatus(c->pg) == CONNECTION_BAD) {
            conn_arm(c, EV_READ); /* the read handler notices and reconnects */
            event_active(c->ev, EV_READ, 0);
        }
        return;
    }
    int f = PQflush(c->pg);
    c->flushing = f == 1;
    conn_arm(c, EV_READ | (c->flushing ? EV_WRITE : 0));
}

static void dispatch(void)
{
    if (!db.migrated)
        return;
    for (int i = 0; i < db.pool_size && db.head; i++) {
        struct db_conn *c = &db.conns[i];
        if (c->state != C_IDLE)
            continue;
        struct db_query *q = db.head;
        db.head = q->next;
        if (!db.head)
            db.tail = NULL;
        q->next = NULL;
        db.queued--;
        conn_send(c, q);
    }
}

/* Fail queued queries whose wait exceeded the deadline (database down). */
static void sweep_deadlines(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    uint64_t now = core_now_ms();
    struct db_query **pp = &db.head, *expired = NULL, **etail = &expired;
    db.tail = NULL;
    while (*pp) {
        struct db_query *q = *pp;
        if (q->deadline <= now) {
            *pp = q->next;
            q->next = NULL;
            *etail = q;
            etail = &q->next;
            db.queued--;
        } else {
            db.tail = q;
            pp = &q->next;
        }
    }
    while (expired) {
        struct db_query *q = expired;
        expired = q->next;
        query_finish(q, NULL, "database unavailable (timed out waiting for a connection)");
    }
}

/* ---------- connections ---------- */

static void conn_arm(struct db_conn *c, short what)
{
    if (c->ev) {
        event_free(c->ev);
        c->ev = NULL;
    }
    int fd = c->pg ? PQsocket(c->pg) : -1;
    if (fd < 0)
        return;
    c->ev = event_new(core_base, fd, what | (c->state == C_CONNECTING ? 0 : EV_PERSIST),
                      conn_on_event, c);
    if (c->ev)
        event_add(c->ev, NULL);
}

static void conn_retry(evutil_socket_t fd, short what, void *arg);

static void conn_schedule_retry(struct db_conn *c)
{
    if (db.shutting_down)
        return;
    c->state = C_BACKOFF;
    if (!c->retry)
        c->retry = evtimer_new(core_base, conn_retry, c);
    struct timeval tv = {c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000};
    evtimer_add(c->retry, &tv);
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

static int any_connected(void)
{
    for (int i = 0; i < db.pool_size; i++)
        if (db.conns[i].state == C_IDLE || db.conns[i].state == C_BUSY)
            return 1;
    return 0;
}

/* The connection broke (or failed to connect): fail what ran on it, reconnect later. */
static void conn_lost(struct db_conn *c, const char *why_in)
{
    char why[300]; /* libpq's message dies with the connection: copy it first */
    snprintf(why, sizeof why, "%s", why_in ? why_in : "unknown error");
    for (size_t n = strlen(why); n > 0 && (why[n - 1] == '\n' || why[n - 1] == ' '); n--)
        why[n - 1] = '\0';
    int was_up = c->state == C_IDLE || c->state == C_BUSY;
    struct db_query *q = c->q;
    c->q = NULL;
    if (c->result) {
        PQclear(c->result);
        c->result = NULL;
    }
    group_reset(c);
    if (c->ev) {
        event_free(c->ev);
        c->ev = NULL;
    }
    if (c->pg) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    free(c->stmts); /* the next session prepares its own */
    c->stmts = NULL;
    c->nstmts = 0;
    if (was_up) {
        c->lost = 1;
        core_log(PL_LOG_WARN, "db", "connection %d lost: %s", c->index, why);
    } else { /* one warning per outage, not one per retry */
        core_log(c->backoff_ms == BACKOFF_MIN_MS && c->index == 0 ? PL_LOG_WARN : PL_LOG_DEBUG, "db",
                 "connection %d failed: %s (retrying in %u ms)", c->index, why, c->backoff_ms);
    }
    if (db.mconn == c) { /* migrations restart on another (or the next) connection */
        db.mconn = NULL;
        db.migrating = 0;
        for (int i = 0; i < db.pool_size && !db.migrating; i++)
            if (db.conns[i].state == C_IDLE)
                migrate_begin(&db.conns[i]);
    }
    if (!any_connected() && db.migrated) {
        db.migrated = 0; /* re-check after the database comes back */
        core_log(PL_LOG_WARN, "db", "database unavailable: serving degraded");
    }
    conn_schedule_retry(c);
    if (q) {
        char err[300];
        snprintf(err, sizeof err, "connection lost during the query: %s", why);
        query_finish(q, NULL, err);
    }
}

static void conn_start(struct db_conn *c)
{
    c->pg = PQconnectStart(db.conninfo);
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
        conn_lost(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
        return;
    }
    PQsetnonblocking(c->pg, 1);
    c->state = C_CONNECTING;
    conn_arm(c, EV_WRITE);
}

static void conn_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct db_conn *c = arg;
    if (c->state == C_BACKOFF)
        conn_start(c);
}

static void conn_connected(struct db_conn *c)
{
    if (c->lost) { /* the pool's first connects are not reconnections */
        c->lost = 0;
        db.reconnects++;
        metrics_add("pipelet_db_reconnects_total", 1);
    }
    c->backoff_ms = BACKOFF_MIN_MS;
    c->state = C_IDLE;
    conn_arm(c, EV_READ);
    core_log(PL_LOG_DEBUG, "db", "connection %d up", c->index);
    if (!db.migrated && !db.migrating && !db.migration_failed)
        migrate_begin(c);
    else
        dispatch();
}

static int status_ok(PGresult *r)
{
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
}

/* The whole group has answered.  Committed: each query gets its result.  Rolled back
 * because one statement failed: that one gets its error, the others were not applied
 * and go back to the head of the queue as a new group (a bad write never takes the
 * writes of other stations down with it). */
static void group_done(struct db_conn *c)
{
    struct db_query *g = c->q;
    c->q = NULL;
    c->state = C_IDLE;
    PGresult **slots = c->slots;
    int *slot_stmt = c->slot_stmt;
    size_t n = g->nitems, nslots = c->nslots;
    c->slots = NULL;
    c->slot_stmt = NULL;
    c->nslots = c->slot = 0;
    PQexitPipelineMode(c->pg);
    /* each item's result; a Parse that failed is its item's failure (the item comes
     * next), and a statement whose Parse did not run is prepared again next time */
    PGresult *stack[64] = {0}, **res = n <= 64 ? stack : calloc(n, sizeof *res);
    int committed = !slots[nslots - 1] && res;
    size_t bad = n;
    for (size_t k = 0, i = 0; res && k + 1 < nslots && i < n; k++) {
        PGresult *r = slots[k];
        int aborted = r && PQresultStatus(r) == PGRES_PIPELINE_ABORTED;
        if (slot_stmt[k] >= 0) {
            if (status_ok(r))
                continue;
            c->stmts[slot_stmt[k]] = NULL;
            committed = 0;
            if (bad == n && r && !aborted) {
                bad = i;
                res[i] = r; /* the item hears the Parse's error */
                k++;        /* and its own (aborted) slot is skipped */
                i++;
            }
            continue;
        }
        res[i] = r;
        if (!status_ok(r)) {
            committed = 0;
            if (bad == n && r && !aborted)
                bad = i;
        }
        i++;
    }
    struct db_query *again = NULL;
    if (!committed && bad < n) {
        again = calloc(1, sizeof *again);
        if (again && (again->items = calloc(n, sizeof *again->items)) &&
            (again->component = strdup(g->component)) && (again->sql = strdup(g->sql))) {
            for (size_t i = 0; i < n; i++)
                if (i != bad) {
                    again->items[again->nitems++] = g->items[i];
                    g->items[i] = NULL;
                }
            again->deadline = g->deadline;
        } else {
            query_free(again);
            again = NULL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct db_query *q = g->items[i];
        if (!q)
            continue;
        g->items[i] = NULL;
        if (res && (committed || i == bad))
            query_finish(q, res[i], NULL);
        else
            query_finish(q, NULL, res ? "transaction not committed" : "out of memory");
    }
    g->nitems = 0;
    query_free(g);
    for (size_t k = 0; k < nslots; k++)
        if (slots[k])
            PQclear(slots[k]);
    free(slots);
    free(slot_stmt);
    if (res != stack)
        free(res);
    if (again && again->nitems) {
        again->next = db.head;
        db.head = again;
        if (!db.tail)
            db.tail = again;
        db.queued++;
    } else {
        query_free(again);
    }
    if (c->state == C_IDLE && c->pg)
        dispatch();
}

/* Results of a group: each statement's results end with a NULL, the sync with a
 * PGRES_PIPELINE_SYNC result. */
static void group_read(struct db_conn *c)
{
    while (c->q && !PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            if (c->slot < c->nslots)
                c->slot++;
            continue;
        }
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            group_done(c);
            return;
        }
        if (c->slot < c->nslots && !c->slots[c->slot])
            c->slots[c->slot] = r;
        else
            PQclear(r);
    }
}

static void conn_read_results(struct db_conn *c)
{
    if (!PQconsumeInput(c->pg)) {
        conn_lost(c, PQerrorMessage(c->pg));
        return;
    }
    PGnotify *n;
    while ((n = PQnotifies(c->pg)))
        PQfreemem(n);
    if (!c->q) {
        if (PQstatus(c->pg) == CONNECTION_BAD)
            conn_lost(c, PQerrorMessage(c->pg));
        return;
    }
    if (c->q->nitems) {
        group_read(c);
        if (c->pg && PQstatus(c->pg) == CONNECTION_BAD)
            conn_lost(c, PQerrorMessage(c->pg));
        return;
    }
    while (!PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            struct db_query *q = c->q;
            PGresult *res = c->result;
            c->q = NULL;
            c->result = NULL;
            c->state = C_IDLE;
            query_finish(q, res, res ? NULL : "no result");
            if (res)
                PQclear(res);
            if (c->state == C_IDLE && c->pg) /* the callback may have used it */
                dispatch();
            return;
        }
        /* keep the first error, else the last result */
        ExecStatusType st = PQresultStatus(c->result ? c->result : r);
        int have_error = c->result && !(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ||
                                        st == PGRES_EMPTY_QUERY);
        if (have_error) {
            PQclear(r);
        } else {
            if (c->result)
                PQclear(c->result);
            c->result = r;
        }
    }
    if (PQstatus(c->pg) == CONNECTION_BAD)
        conn_lost(c, PQerrorMessage(c->pg));
}

static void conn_on_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    struct db_conn *c = arg;
    if (c->state == C_CONNECTING) {
        switch (PQconnectPoll(c->pg)) {
        case PGRES_POLLING_READING:
            conn_arm(c, EV_READ);
            return;
        case PGRES_POLLING_WRITING:
            conn_arm(c, EV_WRITE);
            return;
        case PGRES_POLLING_OK:
            conn_connected(c);
            return;
        default:
            conn_lost(c, PQerrorMessage(c->pg));
            return;
        }
    }
    if ((what & EV_WRITE) && c->flushing) {
        int f = PQflush(c->pg);
        if (f < 0) {
            conn_lost(c, PQerrorMessage(c->pg));
            return;
        }
        if (f == 0) {
            c->flushing = 0;
            conn_arm(c, EV_READ);
        }
    }
    if (what & EV_READ)
        conn_read_results(c);
}

/* ---------- migrations ---------- */

int db_add_migrations(const char *component, const struct pl_migration *m, size_t n)
{
    for (size_t i = 0; i < db.nsets; i++)
        if (strcmp(db.sets[i].component, component) == 0)
            return PL_EEXIST;
    for (size_t i = 1; i < n; i++)
        if (m[i].version <= m[i - 1].version) {
            core_log(PL_LOG_ERROR, "db", "migrations of %s are not in increasing order", component);
            return PL_EINVAL;
        }
    struct migration_set *s = realloc(db.sets, (db.nsets + 1) * sizeof *s);
    if (!s)
        return PL_ENOMEM;
    db.sets = s;
    db.sets[db.nsets].component = strdup(component);
    db.sets[db.nsets].m = m;
    db.sets[db.nsets].n = n;
    db.nsets++;
    return PL_OK;
}

int db_host_migrations(pl_plugin_handle *self, const struct pl_migration *m, size_t n)
{
    return db_add_migrations(core_plugin_name(self), m, n);
}

/* Forget a component's migrations before they run (its plugin failed init: they
 * point into a shared object about to be closed).  Not while migrating, when the
 * chain holds an index into the sets; returns the number of sets removed. */
int db_remove_migrations(const char *component)
{
    if (db.migrating)
        return 0;
    for (size_t i = 0; i < db.nsets; i++)
        if (strcmp(db.sets[i].component, component) == 0) {
            free(db.sets[i].component);
            memmove(&db.sets[i], &db.sets[i + 1], (db.nsets - i - 1) * sizeof db.sets[0]);
            if (--db.nsets == 0) {
                free(db.sets);
                db.sets = NULL;
            }
            return 1;
        }
    return 0;
}

/* Internal queries of the migration chain run on the migration connection directly. */
static void migrate_exec(const char *sql, pl_db_cb cb)
{
    struct db_query *q = query_new("core", sql, 0, NULL, cb, NULL);
    if (!q || !db.mconn) {
        query_free(q);
        return;
    }
    conn_send(db.mconn, q);
}

static void migrate_next(void);

static void migrate_done(pl_db_result *r, void *arg)
{
    (void)arg;
    (void)r;
    db.migrating = 0;
    db.mconn = NULL;
    json_decref(db.applied);
    db.applied = NULL;
    if (!db.migration_failed) {
        db.migrated = 1;
        core_log(PL_LOG_INFO, "db", "database ready (migrations applied)");
        dispatch();
    }
}

static void migrate_failed_rollback(pl_db_result *r, void *arg)
{
    (void)r;
    (void)arg;
    migrate_exec("SELECT pg_advisory_unlock(" PL__STR(DB_LOCK_KEY) ")", migrate_done);
}

static void migrate_step_done(pl_db_result *r, void *arg)
{
    (void)arg;
    struct migration_set *s = &db.sets[db.mset];
    const struct pl_migration *m = &s->m[db.midx];
    if (!db_ok(r)) {
        core_log(PL_LOG_ERROR, "db", "migration %s %d (%s) failed: %s", s->component, m->version,
                 m->name ? m->name : "", db_error(r));
        db.migration_failed = 1;
        migrate_exec("ROLLBACK", migrate_failed_rollback);
        return;
    }
    core_log(PL_LOG_INFO, "db", "applied migration %s %d (%s)", s->component, m->version,
             m->name ? m->name : "");
    db.midx++;
    migrate_next();
}

static void migrate_next(void)
{
    while (db.mset < db.nsets) {
        struct migration_set *s = &db.sets[db.mset];
        json_int_t have = json_integer_value(json_object_get(db.applied, s->component));
        while (db.midx < s->n && s->m[db.midx].version <= have)
            db.midx++;
        if (db.midx < s->n) {
            const struct pl_migration *m = &s->m[db.midx];
            char *comp = PQescapeLiteral(db.mconn->pg, s->component, strlen(s->component));
            char *name = PQescapeLiteral(db.mconn->pg, m->name ? m->name : "", strlen(m->name ? m->name : ""));
            size_t len = strlen(m->sql) + 256 + strlen(comp) + strlen(name);
            char *sql = malloc(len);
            if (!sql || !comp || !name) {
                free(sql);
                PQfreemem(comp);
                PQfreemem(name);
                db.migration_failed = 1;
                migrate_exec("SELECT pg_advisory_unlock(" PL__STR(DB_LOCK_KEY) ")", migrate_done);
                return;
            }
            snprintf(sql, len,
                     "BEGIN;\n%s\n;INSERT INTO pl_migrations (component, version, name) "
                     "VALUES (%s, %d, %s);\nCOMMIT;",
                     m->sql, comp, m->version, name);
            PQfreemem(comp);
            PQfreemem(name);
            migrate_exec(sql, migrate_step_done);
            free(sql);
            return;
        }
        db.mset++;
        db.midx = 0;
    }
    migrate_exec("SELECT pg_advisory_unlock(" PL__STR(DB_LOCK_KEY) ")", migrate_done);
}

static void migrate_got_applied(pl_db_result *r, void *arg)
{
    (void)arg;
    if (!db_ok(r)) {
        core_log(PL_LOG_ERROR, "db", "cannot read applied migrations: %s", db_error(r));
        db.migration_failed = 1;
        migrate_exec("SELECT pg_advisory_unlock(" PL__STR(DB_LOCK_KEY) ")", migrate_done);
        return;
    }
    json_decref(db.applied);
    db.applied = json_object();
    for (int i = 0; i < db_ntuples(r); i++)
        json_object_set_new(db.applied, db_value(r, i, 0), json_integer(strtol(db_value(r, i, 1), NULL, 10)));
    db.mset = 0;
    db.midx = 0;
    migrate_next();
}

static void migrate_begin(struct db_conn *c)
{
    db.migrating = 1;
    db.mconn = c;
    /* one node migrates at a time; the others wait on the lock */
    migrate_exec("SELECT pg_advisory_lock(" PL__STR(DB_LOCK_KEY) ");"
                 "CREATE TABLE IF NOT EXISTS pl_migrations (component text NOT NULL, "
                 "version int NOT NULL, name text NOT NULL DEFAULT '', applied_at timestamptz "
                 "NOT NULL DEFAULT now(), PRIMARY KEY (component, version));"
                 "SELECT component, max(version) FROM pl_migrations GROUP BY component",
                 migrate_got_applied);
}

/* ---------- lifecycle ---------- */

void db_set_prepared_statements(int on)
{
    db.prepare = on;
}

int db_init(const char *conninfo, int pool_size, int queue_max, unsigned query_timeout_ms)
{
    memset(&db, 0, sizeof db);
    db.conninfo = strdup(conninfo ? conninfo : "");
    db.pool_size = pool_size > 0 ? pool_size : 4;
    db.queue_max = queue_max > 0 ? queue_max : 10000;
    db.timeout_ms = query_timeout_ms ? query_timeout_ms : 30000;
    db.conns = calloc((size_t)db.pool_size, sizeof *db.conns);
    if (!db.conninfo || !db.conns)
        return -1;
    db.disabled = strcmp(db.conninfo, "none") == 0;
    db.prepare = 1;
    metrics_add("pipelet_db_reconnects_total", 0); /* a counter exists from the start */
    for (int i = 0; i < db.pool_size; i++) {
        db.conns[i].index = i;
        db.conns[i].backoff_ms = BACKOFF_MIN_MS;
    }
    return 0;
}

static void wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = 1;
}

int db_start(unsigned wait_ms)
{
    if (db.disabled) { /* e.g. a simulator-only daemon */
        core_log(PL_LOG_INFO, "db",
                 "database disabled ([database] url = none): nothing is persisted, and plugins "
                 "that need the database fail their queries");
        return 0;
    }
    if (!db.sweeper) {
        db.sweeper = event_new(core_base, -1, EV_PERSIST, sweep_deadlines, NULL);
        struct timeval tv = {0, 250000};
        event_add(db.sweeper, &tv);
    }
    for (int i = 0; i < db.pool_size; i++)
        if (db.conns[i].state == C_DOWN)
            conn_start(&db.conns[i]);
    int expired = 0;
    struct event *t = evtimer_new(core_base, wake, &expired);
    struct timeval tv = {wait_ms / 1000, (wait_ms % 1000) * 1000};
    evtimer_add(t, &tv);
    while (!db.migrated && !db.migration_failed && !expired)
        event_base_loop(core_base, EVLOOP_ONCE);
    event_free(t);
    return db.migrated ? 0 : -1;
}

int db_settle(unsigned wait_ms)
{
    if (!db.migrated)
        return -1;
    int expired = 0;
    struct event *t = evtimer_new(core_base, wake, &expired);
    struct timeval tv = {wait_ms / 1000, (wait_ms % 1000) * 1000};
    evtimer_add(t, &tv);
    for (;;) {
        int busy = db.queued > 0;
        for (int i = 0; i < db.pool_size; i++)
            busy |= db.conns[i].state == C_BUSY;
        if (!busy || expired || !db.migrated)
            break;
        event_base_loop(core_base, EVLOOP_ONCE);
    }
    event_free(t);
    return expired ? -1 : 0;
}

void db_shutdown(void)
{
    if (!db.conns)
        return;
    db.shutting_down = 1;
    while (db.head) {
        struct db_query *q = db.head;
        db.head = q->next;
        db.queued--;
        query_finish(q, NULL, "database pool shut down");
    }
    db.tail = NULL;
    for (int i = 0; i < db.pool_size; i++) {
        struct db_conn *c = &db.conns[i];
        struct db_query *q = c->q;
        c->q = NULL;
        if (c->result)
            PQclear(c->result);
        group_reset(c);
        if (c->ev)
            event_free(c->ev);
        if (c->retry)
            event_free(c->retry);
        if (c->pg)
            PQfinish(c->pg);
        free(c->stmts);
        if (q)
            query_finish(q, NULL, "database pool shut down");
    }
    if (db.sweeper)
        event_free(db.sweeper);
    for (size_t i = 0; i < db.nsets; i++)
        free(db.sets[i].component);
    free(db.sets);
    free(db.conns);
    free(db.conninfo);
    json_decref(db.applied);
    memset(&db, 0, sizeof db);
}
