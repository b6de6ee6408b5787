/*
 * model_read.c — the read API of the model (pipelet/model.h): the one place that knows
 * how the core's tables are queried and how a table row and the registry's in-memory
 * snapshot (the truth about "online") merge into a station view.  REST, MCP, OICP and
 * the console all answer from here.
 */
#include "model_read.h"
#include "command.h"
#include "db.h"
#include "registry.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Columns of a station row (never password_hash) plus its connectors as JSON. */
#define STATION_COLUMNS                                                                     \
    "s.id, s.protocol, s.vendor, s.model, s.serial, s.firmware, s.iccid, s.imsi, "          \
    "s.meter_type, s.meter_serial, s.boot_status, s.node, s.remote_addr, "                  \
    TS("s.connected_at") " AS connected_at, " TS("s.disconnected_at") " AS disconnected_at, " \
    TS("s.last_seen") " AS last_seen, " TS("s.created_at") " AS created_at, "               \
    "(SELECT coalesce(json_agg(json_build_object('evse', c.evse, 'connector', c.connector, " \
    "'status', c.status, 'error_code', c.error_code, 'info', c.info, 'updated_at', "        \
    TS("c.updated_at") ") ORDER BY c.evse, c.connector), '[]'::json) FROM connectors c "    \
    "WHERE c.station_id = s.id) AS connector_rows"

/* Energy: the final or latest register reading, else the highest energy sample. */
#define TX_COLUMNS                                                                          \
    "t.id, t.station_id, t.station_tx_id, t.evse, t.connector, t.id_token, "                \
    "t.id_token_type, t.reservation_id, t.meter_start, t.meter_last, t.meter_stop, "        \
    TS("t.started_at") " AS started_at, " TS("t.stopped_at") " AS stopped_at, "             \
    "t.stop_reason, t.stop_id_token, t.charging_state, t.seq_no, t.cost::float8 AS cost, "  \
    TS("t.updated_at") " AS updated_at, (t.stopped_at IS NULL) AS active, "                 \
    "coalesce(t.meter_stop, t.meter_last, (SELECT max(mv.value) FROM meter_values mv "      \
    "WHERE mv.transaction_id = t.id AND mv.measurand = 'Energy.Active.Import.Register' "    \
    "AND coalesce(mv.unit, 'Wh') = 'Wh'), t.meter_start) - t.meter_start AS energy_wh"

#define METER_VALUE_OBJECT                                                                  \
    "json_build_object('timestamp', " TS("m.ts") ", 'measurand', m.measurand, 'value', "    \
    "m.value, 'unit', m.unit, 'phase', m.phase, 'context', m.context, 'location', "         \
    "m.location, 'evse', m.evse, 'connector', m.connector)"

#define ID_MAX 255      /* station ids, tokens, filters */
#define TX_METER_MAX "10000"

static const char *const status_name_list[] = {
    "Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing",
    "Reserved", "Unavailable", "Faulted", "Occupied", "Offline", "Unknown", NULL};

static const char *const *status_names(void)
{
    return status_name_list;
}

/* ---- answering ---- */

/* Answer an argument error through the callback (the call then returns PL_OK). */
static int invalid(pl_model_cb cb, void *arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int invalid(pl_model_cb cb, void *arg, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cb(PL_EINVAL, NULL, msg, arg);
    return PL_OK;
}

/* 1 when a database answer failed (and the callback was told). */
static int db_failed(pl_db_result *res, pl_model_cb cb, void *arg)
{
    if (db_ok(res))
        return 0;
    cb(PL_ERR, NULL, db_error(res), arg);
    return 1;
}

/* ---- a small SQL text with numbered parameters ---- */
struct sql {
    char text[3072];
    const char *params[16];
    int n;
    int overflow;
};

static void sql_add(struct sql *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sql_add(struct sql *q, const char *fmt, ...)
{
    size_t used = strlen(q->text);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(q->text + used, sizeof q->text - used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof q->text - used)
        q->overflow = 1;
}

static int sql_param(struct sql *q, const char *value)
{
    if (q->n >= (int)(sizeof q->params / sizeof q->params[0])) {
        q->overflow = 1;
        return q->n;
    }
    q->params[q->n++] = value;
    return q->n;
}

/* Queue q for a context that owns copies of its parameters; on a refusal the context
 * is freed by the caller (the callback will not run). */
static int sql_run(pl_plugin_handle *self, struct sql *q, pl_db_cb cb, void *ctx)
{
    if (q->overflow)
        return PL_ENOMEM;
    return db_query_as(core_plugin_name(self), q->text, q->n, q->params, cb, ctx);
}

/* ---- checks of arguments ---- */
static int too_long(const char *s, size_t max)
{
    return s && strlen(s) > max;
}

static int all_digits(const char *s, size_t max)
{
    if (!s || !*s || strlen(s) > max)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

static int is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

static int is_status_name(const char *s)
{
    for (int i = 0; status_name_list[i]; i++)
        if (!strcmp(s, status_name_list[i]))
            return 1;
    return 0;
}

/* A copy of the caller's strings that lives as long as the read (NULL stays NULL). */
static char *dup_or_null(const char *s, int *oom)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *oom = 1;
    return d;
}

/* ======================================================== station views */

static int status_rank(const char *s)
{
    /* Which connector status speaks for an EVSE with several connectors. */
    static const char *const order[] = {"Faulted", "Charging", "SuspendedEVSE", "SuspendedEV",
                                        "Finishing", "Preparing", "Occupied", "Reserved",
                                        "Unavailable", "Available", NULL};
    for (int i = 0; order[i]; i++)
        if (s && !strcmp(s, order[i]))
            return i;
    return 100;
}

/* The flat connector rows of the database in the snapshot's shape (new). */
static json_t *evses_from_rows(json_t *rows)
{
    json_t *evses = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        json_int_t id = json_integer_value(json_object_get(r, "evse"));
        json_t *e = NULL;
        size_t k;
        json_t *x;
        json_array_foreach(evses, k, x)
            if (json_integer_value(json_object_get(x, "evse")) == id)
                e = x;
        if (!e) {
            e = json_pack("{s:I, s:[]}", "evse", id, "connectors");
            json_array_append_new(evses, e);
        }
        json_t *c = json_deep_copy(r);
        json_object_del(c, "evse");
        json_array_append_new(json_object_get(e, "connectors"), c);
    }
    return evses;
}

/* A station's overall status: Offline, else Available when any connector can take a car,
 * else the most telling connector status (evse 0 speaks only when alone). */
static const char *station_status(int online, json_t *evses)
{
    if (!online)
        return "Offline";
    const char *best = NULL, *station_level = NULL;
    int any_available = 0;
    size_t i, j;
    json_t *e, *c;
    json_array_foreach(evses, i, e) {
        json_int_t id = json_integer_value(json_object_get(e, "evse"));
        json_array_foreach(json_object_get(e, "connectors"), j, c) {
            const char *s = json_string_value(json_object_get(c, "status"));
            if (!s)
                continue;
            if (id == 0) {
                station_level = s;
                continue;
            }
            if (!strcmp(s, "Available"))
                any_available = 1;
            if (!best || status_rank(s) < status_rank(best))
                best = s;
        }
    }
    if (station_level && (!strcmp(station_level, "Faulted") ||
                          !strcmp(station_level, "Unavailable")))
        return station_level;
    if (any_available)
        return "Available";
    if (best)
        return best;
    return station_level ? station_level : "Unknown";
}

static long count_connectors(json_t *evses)
{
    long n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(evses, i, e)
        if (json_integer_value(json_object_get(e, "evse")) > 0)
            n += (long)json_array_size(json_object_get(e, "connectors"));
    return n;
}

static void set_if(json_t *dst, const char *key, json_t *src)
{
    json_t *v = json_object_get(src, key);
    if (v && !json_is_null(v))
        json_object_set(dst, key, v);
}

/* The public view of a station from its table row (may be NULL) and its snapshot
 * (may be NULL, when offline).  New. */
static json_t *station_view(json_t *row, json_t *snap)
{
    json_t *v = row ? json_deep_copy(row) : json_object();
    json_t *rows = json_object_get(v, "connector_rows");
    json_t *evses = rows ? evses_from_rows(rows) : json_array();
    json_object_del(v, "connector_rows");
    json_object_set_new(v, "connected_since", json_null());
    if (snap) {
        static const char *const keys[] = {"id", "protocol", "vendor", "model", "firmware",
                                           "serial", "boot_status", "last_seen",
                                           "connected_since", NULL};
        for (int i = 0; keys[i]; i++)
            set_if(v, keys[i], snap);
        json_t *se = json_object_get(snap, "evses");
        if (json_is_array(se) && json_array_size(se)) {
            json_decref(evses);
            evses = json_incref(se);
        }
        json_t *conn = json_object_get(snap, "connection");
        if (conn)
            json_object_set(v, "connection", conn);
        if (json_is_string(json_object_get(conn, "remote_addr")))
            json_object_set(v, "remote_addr", json_object_get(conn, "remote_addr"));
    }
    json_object_set_new(v, "online", json_boolean(snap != NULL));
    json_object_set_new(v, "status", json_string(station_status(snap != NULL, evses)));
    json_object_set_new(v, "connector_count", json_integer(count_connectors(evses)));
    json_object_set_new(v, "evses", evses);
    return v;
}

static json_t *snapshot_of(const char *id)
{
    pl_station *s = id ? station_api_find(id) : NULL;
    return s ? station_api_snapshot(s) : NULL;
}

/* The station's status, or (online) one of its connectors'. */
static int has_status(json_t *view, const char *status)
{
    if (!strcmp(json_string_value(json_object_get(view, "status")), status))
        return 1;
    if (!json_is_true(json_object_get(view, "online")))
        return 0;
    size_t i, j;
    json_t *e, *c;
    json_array_foreach(json_object_get(view, "evses"), i, e)
        json_array_foreach(json_object_get(e, "connectors"), j, c) {
            const char *s = json_string_value(json_object_get(c, "status"));
            if (s && !strcmp(s, status))
                return 1;
        }
    return 0;
}

/* ======================================================== stations */

struct stations_read {
    pl_model_cb cb;
    void *arg;
    int limit;
    int online;
    char *status;
    char *protocol, *vendor, *search, *cursor; /* the query's parameters */
    char lim[24];
};

static void stations_read_free(struct stations_read *r)
{
    free(r->status);
    free(r->protocol);
    free(r->vendor);
    free(r->search);
    free(r->cursor);
    free(r);
}

static int keep_view(const struct stations_read *r, json_t *v)
{
    if (r->online != PL_MODEL_ANY && r->online != json_is_true(json_object_get(v, "online")))
        return 0;
    return !r->status || has_status(v, r->status);
}

static void on_stations(pl_db_result *res, void *arg)
{
    struct stations_read *r = arg;
    if (db_failed(res, r->cb, r->arg))
        goto out;
    json_t *rows = db_json(res);
    json_t *items = json_array();
    size_t n = json_array_size(rows);
    int more = n > (size_t)r->limit;
    if (more)
        n = (size_t)r->limit;
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_array_get(rows, i);
        json_t *snap = snapshot_of(json_string_value(json_object_get(row, "id")));
        json_t *v = station_view(row, snap);
        json_decref(snap);
        if (keep_view(r, v))
            json_array_append(items, v);
        json_decref(v);
    }
    json_t *next = more ? json_incref(json_object_get(json_array_get(rows, n - 1), "id"))
                        : json_null();
    json_decref(rows);
    r->cb(PL_OK, json_pack("{s:o, s:o}", "items", items, "next", next), "", r->arg);
out:
    stations_read_free(r);
}

/* "%" and "_" are literal in a search: escape them for ILIKE. */
static char *like_pattern(const char *s)
{
    char *p = malloc(2 * strlen(s) + 3), *o = p;
    if (!p)
        return NULL;
    *o++ = '%';
    for (; *s; s++) {
        if (*s == '%' || *s == '_' || *s == '\\')
            *o++ = '\\';
        *o++ = *s;
    }
    *o++ = '%';
    *o = '\0';
    return p;
}

static void stations_where(struct sql *q, struct stations_read *r)
{
    if (r->protocol)
        sql_add(q, " AND s.protocol = $%d", sql_param(q, r->protocol));
    if (r->vendor)
        sql_add(q, " AND lower(s.vendor) = lower($%d)", sql_param(q, r->vendor));
    if (r->search) {
        int p = sql_param(q, r->search);
        sql_add(q, " AND (s.id ILIKE $%d OR s.vendor ILIKE $%d OR s.model ILIKE $%d OR "
                   "s.serial ILIKE $%d)", p, p, p, p);
    }
    if (r->cursor)
        sql_add(q, " AND s.id > $%d", sql_param(q, r->cursor));
    sql_add(q, " ORDER BY s.id LIMIT $%d::int", sql_param(q, r->lim));
}

static int stations_check(const struct pl_station_filter *f, pl_model_cb cb, void *arg)
{
    if (f->limit < 1 || f->limit > PL_MODEL_STATIONS_MAX)
        return invalid(cb, arg, "limit must be an integer between 1 and %d",
                       PL_MODEL_STATIONS_MAX);
    if (f->online < PL_MODEL_ANY || f->online > 1)
        return invalid(cb, arg, "online must be -1 (any), 0 or 1");
    if (f->status && !is_status_name(f->status))
        return invalid(cb, arg, "status %s is not a status name", f->status);
    if (too_long(f->protocol, 64) || too_long(f->vendor, ID_MAX) ||
        too_long(f->search, ID_MAX) || too_long(f->cursor, 1024))
        return invalid(cb, arg, "protocol/vendor/search/cursor filter too long");
    return 1;
}

static int read_stations(pl_plugin_handle *self, const struct pl_station_filter *filter,
                         pl_model_cb cb, void *arg)
{
    struct pl_station_filter f = PL_STATION_FILTER_INIT;
    if (!cb)
        return PL_EINVAL;
    if (filter) /* a filter of an older minor is shorter: the rest keeps its defaults */
        memcpy(&f, filter, filter->size < sizeof f ? filter->size : sizeof f);
    if (stations_check(&f, cb, arg) != 1)
        return PL_OK;
    struct stations_read *r = calloc(1, sizeof *r);
    int oom = !r;
    if (r) {
        r->cb = cb;
        r->arg = arg;
        r->limit = f.limit;
        r->online = f.online;
        r->status = dup_or_null(f.status, &oom);
        r->protocol = dup_or_null(f.protocol, &oom);
        r->vendor = dup_or_null(f.vendor, &oom);
        r->cursor = dup_or_null(f.cursor, &oom);
        if (f.search && !(r->search = like_pattern(f.search)))
            oom = 1;
        snprintf(r->lim, sizeof r->lim, "%d", f.limit + 1); /* one more: is there a next? */
    }
    struct sql q = {0};
    int rc = PL_ENOMEM;
    if (!oom) {
        sql_add(&q, "SELECT " STATION_COLUMNS " FROM stations s WHERE true");
        stations_where(&q, r);
        rc = sql_run(self, &q, on_stations, r);
    }
    if (rc < 0 && r)
        stations_read_free(r);
    return rc;
}

/* ======================================================== one station */

struct station_read {
    pl_model_cb cb;
    void *arg;
    char *id;
};

static void on_station(pl_db_result *res, void *arg)
{
    struct station_read *r = arg;
    if (db_failed(res, r->cb, r->arg))
        goto out;
    json_t *rows = db_json(res);
    json_t *row = json_array_get(rows, 0);
    json_t *snap = snapshot_of(r->id);
    if (!row && !snap) {
        char msg[ID_MAX + 32];
        snprintf(msg, sizeof msg, "station %s not found", r->id);
        r->cb(PL_ENOENT, NULL, msg, r->arg);
    } else {
        json_t *v = station_view(row, snap);
        json_t *active = row ? json_object_get(row, "active_transactions") : NULL;
        json_object_set_new(v, "active_transactions", active ? json_incref(active) : json_array());
        r->cb(PL_OK, v, "", r->arg);
    }
    json_decref(snap);
    json_decref(rows);
out:
    free(r->id);
    free(r);
}

static const char station_sql[] =
    "SELECT " STATION_COLUMNS ", (SELECT coalesce(json_agg(json_build_object("
    "'id', t.id, 'station_tx_id', t.station_tx_id, 'evse', t.evse, 'connector', "
    "t.connector, 'id_token', t.id_token, 'started_at', " TS("t.started_at") ", "
    "'meter_start', t.meter_start, 'meter_last', t.meter_last, 'energy_wh', "
    "coalesce(t.meter_last, (SELECT max(mv.value) FROM meter_values mv WHERE "
    "mv.transaction_id = t.id AND mv.measurand = 'Energy.Active.Import.Register' AND "
    "coalesce(mv.unit, 'Wh') = 'Wh'), t.meter_start) - t.meter_start, 'charging_state', "
    "t.charging_state) ORDER BY t.id), '[]'::json) FROM transactions t WHERE "
    "t.station_id = s.id AND t.stopped_at IS NULL) AS active_transactions "
    "FROM stations s WHERE s.id = $1";

static int read_station(pl_plugin_handle *self, const char *id, pl_model_cb cb, void *arg)
{
    if (!cb)
        return PL_EINVAL;
    if (!id || !*id || strlen(id) > ID_MAX)
        return invalid(cb, arg, "station id must be 1 to %d characters", ID_MAX);
    struct station_read *r = calloc(1, sizeof *r);
    if (!r || !(r->id = strdup(id))) {
        free(r);
        return PL_ENOMEM;
    }
    r->cb = cb;
    r->arg = arg;
    const char *params[1] = {r->id};
    int rc = db_query_as(core_plugin_name(self), station_sql, 1, params, on_station, r);
    if (rc < 0) {
        free(r->id);
        free(r);
    }
    return rc;
}

/* ======================================================== transactions */

struct tx_read {
    pl_model_cb cb;
    void *arg;
    int limit;
    char *name;         /* one transaction: how the caller named it, for errors */
    char *p[10];        /* copies of the query's parameters */
    int np;
    char buf[3][24];    /* numbers as parameters */
};

static void tx_read_free(struct tx_read *r)
{
    for (int i = 0; i < r->np; i++)
        free(r->p[i]);
    free(r->name);
    free(r);
}

/* A copy owned by the read (NULL for NULL). */
static const char *keep(struct tx_read *r, const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d || r->np >= (int)(sizeof r->p / sizeof r->p[0])) {
        free(d);
        *oom = 1;
        return NULL;
    }
    return r->p[r->np++] = d;
}

static void on_transactions(pl_db_result *res, void *arg)
{
    struct tx_read *r = arg;
    if (!db_failed(res, r->cb, r->arg)) {
        json_t *rows = db_json(res);
        json_t *next = json_null();
        if (json_array_size(rows) > (size_t)r->limit) {
            json_array_remove(rows, (size_t)r->limit);
            char id[32];
            snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT,
                     json_integer_value(
                         json_object_get(json_array_get(rows, (size_t)r->limit - 1), "id")));
            next = json_string(id);
        }
        r->cb(PL_OK, json_pack("{s:o, s:o}", "items", rows, "next", next), "", r->arg);
    }
    tx_read_free(r);
}

static int tx_filter_check(const struct pl_tx_filter *f, pl_model_cb cb, void *arg)
{
    if (f->limit < 1 || f->limit > PL_MODEL_PAGE_MAX)
        return invalid(cb, arg, "limit must be an integer between 1 and %d", PL_MODEL_PAGE_MAX);
    if (f->active < PL_MODEL_ANY || f->active > 1)
        return invalid(cb, arg, "active must be -1 (any), 0 or 1");
    if (f->evse < PL_MODEL_ANY)
        return invalid(cb, arg, "evse must be -1 (any) or a non-negative integer");
    if (too_long(f->station, ID_MAX) || too_long(f->id_token, ID_MAX))
        return invalid(cb, arg, "station / id_token filter too long");
    if (f->command_id && !is_uuid(f->command_id))
        return invalid(cb, arg, "command_id must be the command id (a UUID) of a remote start");
    if (f->customer && !all_digits(f->customer, 18))
        return invalid(cb, arg, "customer must be a customer id (a positive integer)");
    if (f->cursor && !all_digits(f->cursor, 19))
        return invalid(cb, arg, "cursor is not a cursor this API returned");
    if ((f->from && util_parse_rfc3339(f->from, NULL) != 0) ||
        (f->to && util_parse_rfc3339(f->to, NULL) != 0))
        return invalid(cb, arg, "from / to must be RFC 3339 date-times");
    return 1;
}

static void tx_where(struct sql *q, struct tx_read *r, const struct pl_tx_filter *f, int *oom)
{
    if (f->active != PL_MODEL_ANY)
        sql_add(q, " AND t.stopped_at IS %s NULL", f->active ? "" : "NOT");
    int station_no = f->station ? sql_param(q, keep(r, f->station, oom)) : 0;
    if (f->station)
        sql_add(q, " AND t.station_id = $%d", station_no);
    if (f->evse != PL_MODEL_ANY) {
        snprintf(r->buf[0], sizeof r->buf[0], "%d", f->evse);
        sql_add(q, " AND t.evse = $%d::int", sql_param(q, r->buf[0]));
    }
    if (f->command_id) { /* the link a remote start recorded when its transaction started */
        sql_add(q, " AND t.id IN (SELECT (r.data->>'transaction_id')::bigint FROM "
                   "station_records r WHERE r.kind = 'remote_start' AND "
                   "r.data->>'command_id' = $%d", sql_param(q, keep(r, f->command_id, oom)));
        if (f->station) /* lets the index on (station_id, kind) find the record */
            sql_add(q, " AND r.station_id = $%d", station_no);
        sql_add(q, ")");
    }
    if (f->id_token)
        sql_add(q, " AND t.id_token = $%d", sql_param(q, keep(r, f->id_token, oom)));
    if (f->customer)
        sql_add(q, " AND t.id_token IN (SELECT i.id_token FROM id_tokens i WHERE "
                   "i.customer_id = $%d::bigint)", sql_param(q, keep(r, f->customer, oom)));
    if (f->from)
        sql_add(q, " AND t.started_at >= $%d::timestamptz", sql_param(q, keep(r, f->from, oom)));
    if (f->to)
        sql_add(q, " AND t.started_at < $%d::timestamptz", sql_param(q, keep(r, f->to, oom)));
    if (f->cursor)
        sql_add(q, " AND t.id < $%d::bigint", sql_param(q, keep(r, f->cursor, oom)));
    snprintf(r->buf[1], sizeof r->buf[1], "%d", f->limit + 1); /* one more: is there a next? */
    sql_add(q, " ORDER BY t.id DESC LIMIT $%d::int", sql_param(q, r->buf[1]));
}

static int read_transactions(pl_plugin_handle *self, const struct pl_tx_filter *filter,
                             pl_model_cb cb, void *arg)
{
    struct pl_tx_filter f = PL_TX_FILTER_INIT;
    if (!cb)
        return PL_EINVAL;
    if (filter)
        memcpy(&f, filter, filter->size < sizeof f ? filter->size : sizeof f);
    if (tx_filter_check(&f, cb, arg) != 1)
        return PL_OK;
    struct tx_read *r = calloc(1, sizeof *r);
    if (!r)
        return PL_ENOMEM;
    r->cb = cb;
    r->arg = arg;
    r->limit = f.limit;
    struct sql q = {0};
    int oom = 0;
    sql_add(&q, "SELECT " TX_COLUMNS " FROM transactions t WHERE true");
    tx_where(&q, r, &f, &oom);
    int rc = oom ? PL_ENOMEM : sql_run(self, &q, on_transactions, r);
    if (rc < 0)
        tx_read_free(r);
    return rc;
}

/* ======================================================== one transaction */

static void on_transaction(pl_db_result *res, void *arg)
{
    struct tx_read *r = arg;
    if (!db_failed(res, r->cb, r->arg)) {
        json_t *rows = db_json(res);
        json_t *row = json_array_get(rows, 0);
        if (row) {
            r->cb(PL_OK, json_incref(row), "", r->arg);
        } else {
            char msg[600];
            snprintf(msg, sizeof msg, "transaction %s not found", r->name);
            r->cb(PL_ENOENT, NULL, msg, r->arg);
        }
        json_decref(rows);
    }
    tx_read_free(r);
}

static int tx_ref_check(long long id, const char *station, const char *stx, pl_model_cb cb,
                        void *arg)
{
    if (!station && id <= 0)
        return invalid(cb, arg, "a transaction is named by the core's id (> 0) or by "
                                "station_id and station_tx_id");
    if (station && (!*station || !stx || !*stx || too_long(station, ID_MAX) ||
                    too_long(stx, ID_MAX)))
        return invalid(cb, arg, "station_id and station_tx_id must be 1 to %d characters",
                       ID_MAX);
    return 1;
}

static int read_transaction(pl_plugin_handle *self, long long id, const char *station,
                            const char *stx, unsigned flags, pl_model_cb cb, void *arg)
{
    if (!cb)
        return PL_EINVAL;
    if (tx_ref_check(id, station, stx, cb, arg) != 1)
        return PL_OK;
    struct tx_read *r = calloc(1, sizeof *r);
    char name[600];
    if (station)
        snprintf(name, sizeof name, "%s of station %s", stx, station);
    else
        snprintf(name, sizeof name, "%lld", id);
    if (!r || !(r->name = strdup(name))) {
        free(r);
        return PL_ENOMEM;
    }
    r->cb = cb;
    r->arg = arg;
    struct sql q = {0};
    int oom = 0;
    sql_add(&q, "SELECT " TX_COLUMNS);
    if (flags & PL_MODEL_TX_METER_VALUES)
        sql_add(&q, "%s", ", (SELECT coalesce(json_agg(" METER_VALUE_OBJECT " ORDER BY m.ts, "
                          "m.id), '[]'::json) FROM (SELECT * FROM meter_values WHERE "
                          "transaction_id = t.id ORDER BY ts, id LIMIT " TX_METER_MAX
                          ") m) AS meter_values");
    sql_add(&q, " FROM transactions t");
    if (station) {
        sql_add(&q, " WHERE t.station_id = $%d", sql_param(&q, keep(r, station, &oom)));
        sql_add(&q, " AND t.station_tx_id = $%d", sql_param(&q, keep(r, stx, &oom)));
    } else {
        snprintf(r->buf[0], sizeof r->buf[0], "%lld", id);
        sql_add(&q, " WHERE t.id = $%d::bigint", sql_param(&q, r->buf[0]));
    }
    int rc = oom ? PL_ENOMEM : sql_run(self, &q, on_transaction, r);
    if (rc < 0)
        tx_read_free(r);
    return rc;
}

/* ======================================================== meter values */

static void on_meter_values(pl_db_result *res, void *arg)
{
    struct tx_read *r = arg;
    if (!db_failed(res, r->cb, r->arg)) {
        json_t *rows = db_json(res);
        json_t *row = json_array_get(rows, 0);
        if (json_is_true(json_object_get(row, "found"))) {
            json_t *values = json_object_get(row, "meter_values");
            r->cb(PL_OK, json_is_array(values) ? json_incref(values) : json_array(), "", r->arg);
        } else {
            char msg[600];
            snprintf(msg, sizeof msg, "transaction %s not found", r->name);
            r->cb(PL_ENOENT, NULL, msg, r->arg);
        }
        json_decref(rows);
    }
    tx_read_free(r);
}

static int read_meter_values(pl_plugin_handle *self, long long tx_id, const char *measurand,
                             int limit, pl_model_cb cb, void *arg)
{
    if (!cb)
        return PL_EINVAL;
    if (tx_id <= 0)
        return invalid(cb, arg, "the transaction is named by the core's id (> 0)");
    if (limit < 1 || limit > PL_MODEL_PAGE_MAX)
        return invalid(cb, arg, "limit must be an integer between 1 and %d", PL_MODEL_PAGE_MAX);
    if (measurand && (!*measurand || too_long(measurand, 64)))
        return invalid(cb, arg, "measurand must be 1 to 64 characters");
    struct tx_read *r = calloc(1, sizeof *r);
    if (!r || !(r->name = malloc(24))) {
        free(r);
        return PL_ENOMEM;
    }
    snprintf(r->name, 24, "%lld", tx_id);
    r->cb = cb;
    r->arg = arg;
    snprintf(r->buf[0], sizeof r->buf[0], "%lld", tx_id);
    snprintf(r->buf[1], sizeof r->buf[1], "%d", limit);
    struct sql q = {0};
    int oom = 0;
    int txp = sql_param(&q, r->buf[0]);
    sql_add(&q, "SELECT EXISTS (SELECT 1 FROM transactions WHERE id = $%d::bigint) AS found, "
                "(SELECT coalesce(json_agg(" METER_VALUE_OBJECT " ORDER BY m.ts, m.id), "
                "'[]'::json) FROM (SELECT * FROM meter_values WHERE transaction_id = $%d::bigint",
            txp, txp);
    if (measurand)
        sql_add(&q, " AND measurand = $%d", sql_param(&q, keep(r, measurand, &oom)));
    sql_add(&q, " ORDER BY ts, id LIMIT $%d::int) m) AS meter_values", sql_param(&q, r->buf[1]));
    int rc = oom ? PL_ENOMEM : sql_run(self, &q, on_meter_values, r);
    if (rc < 0)
        tx_read_free(r);
    return rc;
}

/* ======================================================== commands */

struct command_read {
    pl_model_cb cb;
    void *arg;
    char id[40];
};

static void on_command_row(pl_db_result *res, void *arg)
{
    struct command_read *r = arg;
    if (!db_failed(res, r->cb, r->arg)) {
        json_t *rows = db_json(res);
        json_t *row = json_array_get(rows, 0);
        if (row) {
            r->cb(PL_OK, json_incref(row), "", r->arg);
        } else {
            char msg[80];
            snprintf(msg, sizeof msg, "command %s not found", r->id);
            r->cb(PL_ENOENT, NULL, msg, r->arg);
        }
        json_decref(rows);
    }
    free(r);
}

static int read_command(pl_plugin_handle *self, const char *id, pl_model_cb cb, void *arg)
{
    if (!cb)
        return PL_EINVAL;
    if (!is_uuid(id)) { /* every command id is a UUID: anything else names none */
        char msg[ID_MAX + 32];
        snprintf(msg, sizeof msg, "command %.255s not found", id ? id : "");
        cb(PL_ENOENT, NULL, msg, arg);
        return PL_OK;
    }
    json_t *j = station_api_command_json(id);
    if (j) {
        cb(PL_OK, j, "", arg);
        return PL_OK;
    }
    /* Forgotten by the tracker: the commands table keeps the history. */
    struct command_read *r = calloc(1, sizeof *r);
    if (!r)
        return PL_ENOMEM;
    r->cb = cb;
    r->arg = arg;
    snprintf(r->id, sizeof r->id, "%s", id);
    const char *params[1] = {r->id};
    int rc = db_query_as(core_plugin_name(self),
                         "SELECT id::text AS id, station_id AS station, op, status, args, "
                         "result, error, " TS("created_at") " AS created_at, "
                         TS("completed_at") " AS completed_at FROM commands WHERE id = $1::uuid",
                         1, params, on_command_row, r);
    if (rc < 0)
        free(r);
    return rc;
}

static int read_commands(pl_plugin_handle *self, const char *station, int limit, pl_model_cb cb,
                         void *arg)
{
    (void)self;
    if (!cb)
        return PL_EINVAL;
    if (limit < 1 || limit > PL_MODEL_PAGE_MAX)
        return invalid(cb, arg, "limit must be an integer between 1 and %d", PL_MODEL_PAGE_MAX);
    if (station && (!*station || too_long(station, ID_MAX)))
        return invalid(cb, arg, "station must be a station id of 1 to %d characters", ID_MAX);
    json_t *items = station_api_command_list(station, limit);
    cb(PL_OK, json_pack("{s:o, s:n}", "items", items ? items : json_array(), "next"), "", arg);
    return PL_OK;
}

const struct pl_model_api *model_read_api(void)
{
    static const struct pl_model_api api = {
        .size = sizeof api,
        .status_names = status_names,
        .stations = read_stations,
        .station = read_station,
        .transactions = read_transactions,
        .transaction = read_transaction,
        .meter_values = read_meter_values,
        .command = read_command,
        .commands = read_commands,
    };
    return &api;
}
