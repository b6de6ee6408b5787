/*
 * load_ops.c — what changes sites and station limits (pl_host.load, pipelet/load.h):
 * validated here field by field (a refusal names the field), written to PostgreSQL, and
 * handed to the balancer (load.c) once committed.
 */
#include "load.h"
#include "command.h"
#include "core.h"
#include "db.h"
#include "domain.h"
#include "pricing.h" /* pl_tz_get */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define SITE_SELECT                                                                                 \
    "SELECT s.id, s.name, s.parent_id, s.limit_value AS limit, s.limit_unit AS unit, s.phases, "    \
    "s.voltage, s.margin_percent, s.min_current, s.station_max_current, s.schedule, s.time_zone, "  \
    "s.min_interval_s, s.settle_s, coalesce((SELECT json_agg(st.id ORDER BY st.id) FROM stations st " \
    "WHERE st.site_id = s.id), '[]') AS stations, " TS("s.created_at") " AS created_at, "            \
    TS("s.updated_at") " AS updated_at FROM sites s "
/* what load.c reads (load_site_changed) */
#define SITE_RETURNING                                                                              \
    "RETURNING id, name, parent_id, limit_value, limit_unit, phases, voltage, margin_percent, "     \
    "min_current, station_max_current, schedule, time_zone, min_interval_s, settle_s"

/* ------------------------------------------------------------------------
 * Validating a site.
 * ---------------------------------------------------------------------- */
static int number_in(json_t *v, double lo, double hi)
{
    return json_is_number(v) && json_number_value(v) >= lo && json_number_value(v) <= hi;
}

static int check_schedule(json_t *sch, char *err, size_t len)
{
    if (!json_is_array(sch) || json_array_size(sch) > 48) {
        snprintf(err, len, "schedule: an array of at most 48 windows");
        return -1;
    }
    size_t i;
    json_t *w;
    json_array_foreach(sch, i, w) {
        const char *keys[] = {"from", "to"};
        if (!json_is_object(w)) {
            snprintf(err, len, "schedule[%zu]: an object {\"from\",\"to\",\"limit\",\"days\"?}", i);
            return -1;
        }
        for (int k = 0; k < 2; k++) {
            const char *t = json_string_value(json_object_get(w, keys[k]));
            int h, m;
            char extra;
            if (!t || sscanf(t, "%2d:%2d%c", &h, &m, &extra) != 2 || strlen(t) != 5 || h < 0 || h > 24 ||
                m < 0 || m > 59 || (h == 24 && m)) {
                snprintf(err, len, "schedule[%zu].%s: a time of day \"HH:MM\"", i, keys[k]);
                return -1;
            }
        }
        if (!number_in(json_object_get(w, "limit"), 0, 1e7)) {
            snprintf(err, len, "schedule[%zu].limit: a number >= 0 in the site's unit", i);
            return -1;
        }
        json_t *days = json_object_get(w, "days"), *d;
        size_t j;
        if (days && !json_is_null(days)) {
            if (!json_is_array(days) || json_array_size(days) > 7) {
                snprintf(err, len, "schedule[%zu].days: an array of ISO weekdays 1 (Monday) to 7", i);
                return -1;
            }
            json_array_foreach(days, j, d) if (!json_is_integer(d) || json_integer_value(d) < 1 ||
                                               json_integer_value(d) > 7)
            {
                snprintf(err, len, "schedule[%zu].days[%zu]: an ISO weekday 1 (Monday) to 7", i, j);
                return -1;
            }
        }
    }
    return 0;
}

/* The site's fields in args as text parameters (NULL = SQL NULL), validated; unknown
 * fields are refused so a typo is not silently ignored. */
enum { F_NAME, F_PARENT, F_LIMIT, F_UNIT, F_PHASES, F_VOLTAGE, F_MARGIN, F_MIN, F_MAX, F_SCHEDULE,
       F_TZ, F_INTERVAL, F_SETTLE, F_N };
static const char *const field_names[F_N] = {"name", "parent_id", "limit", "unit", "phases", "voltage",
                                             "margin_percent", "min_current", "station_max_current",
                                             "schedule", "time_zone", "min_interval_s", "settle_s"};
static const char *const read_only[] = {"id", "stations", "created_at", "updated_at", NULL};

static int site_fields(json_t *site, char *p[F_N], char *err, size_t len)
{
    const char *key;
    json_t *v;
    for (int i = 0; i < F_N; i++)
        p[i] = NULL; /* the caller frees them, on an error too */
    json_object_foreach(site, key, v) {
        int known = 0;
        for (int i = 0; i < F_N && !known; i++)
            known = strcmp(key, field_names[i]) == 0;
        for (int i = 0; read_only[i] && !known; i++)
            known = strcmp(key, read_only[i]) == 0;
        if (!known) {
            snprintf(err, len, "%s: not a field of a site", key);
            return -1;
        }
    }
    for (int i = 0; i < F_N; i++) {
        v = json_object_get(site, field_names[i]);
        char buf[64];
        if (!v || json_is_null(v)) {
            if (i == F_NAME) {
                snprintf(err, len, "name: required, 1 to 200 characters");
                return -1;
            }
            continue;
        }
        int ok = 1;
        switch (i) {
        case F_NAME: {
            const char *s = json_string_value(v);
            ok = s && *s && strlen(s) <= 200 && util_utf8_valid((const unsigned char *)s, strlen(s));
            if (ok)
                p[i] = strdup(s);
            break;
        }
        case F_UNIT: {
            const char *s = json_string_value(v);
            ok = s && (strcmp(s, "A") == 0 || strcmp(s, "W") == 0);
            if (ok)
                p[i] = strdup(s);
            break;
        }
        case F_TZ: {
            const char *s = json_string_value(v);
            ok = s && strlen(s) < 64 && (strcmp(s, "UTC") == 0 || pl_tz_get(s) != NULL);
            if (ok)
                p[i] = strdup(s);
            break;
        }
        case F_SCHEDULE:
            if (check_schedule(v, err, len) != 0)
                return -1;
            p[i] = json_dumps(v, JSON_COMPACT);
            break;
        case F_PARENT:
        case F_PHASES:
        case F_INTERVAL:
        case F_SETTLE:
            ok = json_is_integer(v) &&
                 (i == F_PARENT ? json_integer_value(v) > 0
                  : i == F_PHASES ? (json_integer_value(v) == 1 || json_integer_value(v) == 3)
                                  : json_integer_value(v) >= 0 && json_integer_value(v) <= 3600);
            if (ok) {
                snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                p[i] = strdup(buf);
            }
            break;
        default: { /* numbers */
            double lo = 0, hi = 1e7;
            if (i == F_VOLTAGE)
                lo = 1, hi = 1000;
            else if (i == F_MARGIN)
                hi = 99;
            else if (i == F_MIN || i == F_MAX)
                hi = 1000;
            ok = number_in(v, lo, hi) && !(i == F_MAX && json_number_value(v) <= 0);
            if (ok) {
                snprintf(buf, sizeof buf, "%.10g", json_number_value(v));
                p[i] = strdup(buf);
            }
        }
        }
        if (!ok) {
            static const char *const what[F_N] = {
                "1 to 200 characters", "the id of another site", "a number >= 0 (null: not balanced)",
                "\"A\" (per phase) or \"W\"", "1 or 3", "volts, 1 to 1000", "a percentage, 0 to 99",
                "amperes, 0 to 1000", "amperes, more than 0 and at most 1000", "",
                "an IANA time zone (\"Europe/Berlin\") or \"UTC\"", "seconds, 0 to 3600", "seconds, 0 to 3600"};
            snprintf(err, len, "%s: %s", field_names[i], what[i]);
            return -1;
        }
    }
    return 0;
}

static void fields_free(char *p[F_N])
{
    for (int i = 0; i < F_N; i++)
        free(p[i]);
}

/* ------------------------------------------------------------------------
 * Sites.
 * ---------------------------------------------------------------------- */
static void answer_site(struct domain_op *o, const char *id);

static void on_site_written(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    json_t *row = op_landed_row(o, res, "site");
    if (!row)
        return;
    load_site_changed(row);
    char id[24];
    snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(row, "id")));
    json_decref(row);
    answer_site(o, id);
}

/* INSERT (id NULL) or UPDATE of every column from the merged fields. */
static void site_write(struct domain_op *o, json_t *site, const char *id)
{
    char *p[F_N + 1];
    char err[256];
    if (site_fields(site, p, err, sizeof err) != 0) {
        fields_free(p);
        op_finish(o, PL_EINVAL, NULL, "%s", err);
        return;
    }
    if (id && p[F_PARENT] && load_site_cycle(strtoll(id, NULL, 10), strtoll(p[F_PARENT], NULL, 10))) {
        fields_free(p);
        op_finish(o, PL_EINVAL, NULL, "parent_id: the site itself or a group inside it (groups nest at most 16 deep)");
        return;
    }
    p[F_N] = (char *)id;
    static const char *const insert =
        "INSERT INTO sites (name, parent_id, limit_value, limit_unit, phases, voltage, margin_percent, "
        "min_current, station_max_current, schedule, time_zone, min_interval_s, settle_s) VALUES ($1, $2, $3, "
        "coalesce($4, 'A'), coalesce($5::smallint, 3), coalesce($6::numeric, 230), coalesce($7::numeric, 0), "
        "coalesce($8::numeric, 6), coalesce($9::numeric, 32), coalesce($10::jsonb, '[]'), coalesce($11, 'UTC'), "
        "coalesce($12::int, 10), coalesce($13::int, 30)) " SITE_RETURNING;
    static const char *const update =
        "UPDATE sites SET name = $1, parent_id = $2, limit_value = $3, limit_unit = coalesce($4, 'A'), "
        "phases = coalesce($5::smallint, 3), voltage = coalesce($6::numeric, 230), margin_percent = "
        "coalesce($7::numeric, 0), min_current = coalesce($8::numeric, 6), station_max_current = "
        "coalesce($9::numeric, 32), schedule = coalesce($10::jsonb, '[]'), time_zone = coalesce($11, 'UTC'), "
        "min_interval_s = coalesce($12::int, 10), settle_s = coalesce($13::int, 30), updated_at = now() "
        "WHERE id = $14 " SITE_RETURNING;
    o->fk_error = "parent_id: no such site";
    op_query(o, id ? update : insert, id ? F_N + 1 : F_N, (const char *const *)p, on_site_written);
    fields_free(p);
}

static void site_create(struct domain_op *o)
{
    site_write(o, o->args, NULL);
}

static void on_site_read_for_update(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    json_t *row = op_landed_row(o, res, "site");
    if (!row)
        return;
    char id[24];
    snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(row, "id")));
    json_object_del(row, "stations");
    json_object_del(row, "created_at");
    json_object_del(row, "updated_at");
    json_object_del(row, "id");
    json_t *upd = json_deep_copy(o->args);
    json_object_del(upd, "id");
    json_object_update(row, upd); /* present fields replace, null clears */
    json_decref(upd);
    site_write(o, row, id);
    json_decref(row);
}

static void site_update(struct domain_op *o)
{
    op_by_id(o, SITE_SELECT "WHERE s.id = $1", on_site_read_for_update);
}

static void on_site(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    json_t *row = op_landed_row(o, res, "site");
    if (row)
        op_finish(o, PL_OK, row, NULL);
}

static void answer_site(struct domain_op *o, const char *id)
{
    const char *p[1] = {id};
    op_query(o, SITE_SELECT "WHERE s.id = $1", 1, p, on_site);
}

static void site_get(struct domain_op *o)
{
    op_by_id(o, SITE_SELECT "WHERE s.id = $1", on_site);
}

static void site_list(struct domain_op *o)
{
    char limit[24], cursor[24];
    if (op_list_args(o, limit, sizeof limit, cursor, sizeof cursor) != 0)
        return;
    const char *p[2] = {cursor[0] ? cursor : "0", limit};
    op_query(o, SITE_SELECT "WHERE s.id > $1::bigint ORDER BY s.id LIMIT $2::int", 2, p, op_listed);
}

static void on_site_deleted(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    json_t *row = op_landed_row(o, res, "site");
    if (!row)
        return;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(row, "stations"), i, v) load_station_moved(json_string_value(v), 0);
    json_array_foreach(json_object_get(row, "sites"), i, v) load_site_deleted(json_integer_value(v));
    json_object_del(row, "sites");
    op_finish(o, PL_OK, row, NULL);
}

static void site_delete(struct domain_op *o)
{
    /* groups inside go with it (ON DELETE CASCADE), their stations leave */
    op_by_id(o,
             "WITH RECURSIVE t(id) AS (SELECT id FROM sites WHERE id = $1 UNION ALL "
             "SELECT s.id FROM sites s JOIN t ON s.parent_id = t.id), "
             "st AS (SELECT id FROM stations WHERE site_id IN (SELECT id FROM t)), "
             "d AS (DELETE FROM sites WHERE id = $1 RETURNING id) "
             "SELECT d.id, true AS deleted, coalesce((SELECT json_agg(id) FROM st), '[]') AS stations, "
             "(SELECT json_agg(id) FROM t) AS sites FROM d",
             on_site_deleted);
}

static void on_station_added(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    json_t *row = op_landed_row(o, res, "site");
    if (!row)
        return;
    if (!json_integer_value(json_object_get(row, "site"))) {
        json_decref(row);
        op_finish(o, PL_ENOENT, NULL, "no such site");
        return;
    }
    if (!json_integer_value(json_object_get(row, "station"))) {
        json_decref(row);
        op_finish(o, PL_ENOENT, NULL, "station_id: no such station (it must have connected once)");
        return;
    }
    json_decref(row);
    long long site = op_arg_id(o, "id");
    load_station_moved(json_string_value(json_object_get(o->args, "station_id")), site);
    char id[24];
    snprintf(id, sizeof id, "%lld", site);
    answer_site(o, id);
}

static int station_arg(struct domain_op *o, const char **station)
{
    *station = json_string_value(json_object_get(o->args, "station_id"));
    if (!*station || !util_station_id_valid(*station, strlen(*station))) {
        op_finish(o, PL_EINVAL, NULL, "station_id: a station id (1 to 48 characters)");
        return -1;
    }
    return 0;
}

static void site_add_station(struct domain_op *o)
{
    char id[24];
    const char *station;
    if (op_take_id(o, id) != 0 || station_arg(o, &station) != 0)
        return;
    const char *p[2] = {id, station};
    op_query(o,
             "WITH s AS (SELECT id FROM sites WHERE id = $1::bigint), "
             "u AS (UPDATE stations SET site_id = $1::bigint WHERE id = $2 AND EXISTS (SELECT 1 FROM s) RETURNING id) "
             "SELECT (SELECT count(*) FROM s) AS site, (SELECT count(*) FROM u) AS station",
             2, p, on_station_added);
}

static void on_station_removed(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    json_t *row = op_landed_row(o, res, "station at this site");
    if (!row)
        return;
    json_decref(row);
    load_station_moved(json_string_value(json_object_get(o->args, "station_id")), 0);
    char id[24];
    snprintf(id, sizeof id, "%lld", op_arg_id(o, "id"));
    answer_site(o, id);
}

static void site_remove_station(struct domain_op *o)
{
    char id[24];
    const char *station;
    if (op_take_id(o, id) != 0 || station_arg(o, &station) != 0)
        return;
    const char *p[2] = {id, station};
    o->fk_error = "station_id: not at this site";
    op_query(o, "UPDATE stations SET site_id = NULL WHERE id = $2 AND site_id = $1::bigint RETURNING id", 2, p,
             on_station_removed);
}

static void on_site_exists(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    json_t *row = op_landed_row(o, res, "site");
    if (!row)
        return;
    load_site_changed(row); /* not in memory yet (the database came back late) */
    json_decref(row);
    json_t *live = load_site_live(op_arg_id(o, "id"));
    if (live)
        op_finish(o, PL_OK, live, NULL);
    else
        op_finish(o, PL_ERR, NULL, "the balancer does not know this site yet");
}

static void site_load(struct domain_op *o)
{
    long long id = op_arg_id(o, "id");
    json_t *live = id ? load_site_live(id) : NULL;
    if (live) {
        op_finish(o, PL_OK, live, NULL);
        return;
    }
    op_by_id(o,
             "SELECT id, name, parent_id, limit_value, limit_unit, phases, voltage, margin_percent, "
             "min_current, station_max_current, schedule, time_zone, min_interval_s, settle_s FROM sites "
             "WHERE id = $1",
             on_site_exists);
}

/* ------------------------------------------------------------------------
 * Station limits.
 * ---------------------------------------------------------------------- */
#define LIMIT_COLS                                                                                  \
    "station_id, evse, limit_value AS limit, limit_unit AS unit, " TS("until") " AS until, status, " \
    "command_id, " TS("set_at") " AS set_at, " TS("updated_at") " AS updated_at, "                   \
    "(until IS NOT NULL AND until <= now()) AS expired"

static int evse_arg(struct domain_op *o, int *evse, int def)
{
    json_t *e = json_object_get(o->args, "evse");
    if (!e || json_is_null(e)) {
        *evse = def;
        return 0;
    }
    if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 128) {
        op_finish(o, PL_EINVAL, NULL, "evse: 0 (the station) to 128");
        return -1;
    }
    *evse = (int)json_integer_value(e);
    return 0;
}

static void on_limit_status(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    json_t *row = op_landed_row(o, res, "station");
    if (row)
        op_finish(o, PL_OK, row, NULL);
}

static void limit_sent(void *arg, const char *status, const char *command_id, const char *error)
{
    struct domain_op *o = arg;
    const char *st = strcmp(status, "offline") == 0 ? "pending" : status;
    char evse[16];
    snprintf(evse, sizeof evse, "%d", (int)json_integer_value(json_object_get(o->args, "evse")));
    const char *p[5] = {json_string_value(json_object_get(o->args, "station_id")), evse, st, command_id,
                        error};
    op_query(o,
             "UPDATE station_limits SET status = $3, command_id = $4, updated_at = now() "
             "WHERE station_id = $1 AND evse = $2::int RETURNING " LIMIT_COLS ", $5::text AS error",
             5, p, on_limit_status);
}

static void on_limit_stored(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    json_t *row = op_landed_row(o, res, "station");
    if (!row)
        return;
    json_decref(row);
    json_t *a = o->args;
    load_limit_send(json_string_value(json_object_get(a, "station_id")),
                    (int)json_integer_value(json_object_get(a, "evse")),
                    json_number_value(json_object_get(a, "limit")),
                    json_string_value(json_object_get(a, "unit")),
                    json_string_value(json_object_get(a, "until")), limit_sent, o);
}

static void limit_set(struct domain_op *o)
{
    const char *station, *unit = json_string_value(json_object_get(o->args, "unit"));
    int evse;
    json_t *lim = json_object_get(o->args, "limit"), *until = json_object_get(o->args, "until");
    int64_t until_ms = 0;
    if (station_arg(o, &station) != 0 || evse_arg(o, &evse, 0) != 0)
        return;
    if (!number_in(lim, 0, 1e7)) {
        op_finish(o, PL_EINVAL, NULL, "limit: a number >= 0");
        return;
    }
    if (!unit || (strcmp(unit, "A") && strcmp(unit, "W"))) {
        op_finish(o, PL_EINVAL, NULL, "unit: \"A\" (per phase) or \"W\"");
        return;
    }
    if (until && !json_is_null(until) &&
        (!json_is_string(until) || util_parse_rfc3339(json_string_value(until), &until_ms) != 0)) {
        op_finish(o, PL_EINVAL, NULL, "until: an RFC 3339 time");
        return;
    }
    if (until_ms && until_ms <= core_wall_ms()) {
        op_finish(o, PL_EINVAL, NULL, "until: in the past");
        return;
    }
    char ev[16], lv[32], ut[40] = "";
    snprintf(ev, sizeof ev, "%d", evse);
    json_object_set_new(o->args, "evse", json_integer(evse));
    snprintf(lv, sizeof lv, "%.10g", json_number_value(lim));
    if (until_ms) {
        core_format_wall_ms(until_ms, ut, sizeof ut);
        json_object_set_new(o->args, "until", json_string(ut));
    } else {
        json_object_del(o->args, "until");
    }
    const char *p[5] = {station, ev, lv, unit, ut[0] ? ut : NULL};
    op_query(o,
             "INSERT INTO station_limits (station_id, evse, limit_value, limit_unit, until) "
             "SELECT $1, $2::int, $3::numeric, $4, $5::timestamptz WHERE EXISTS (SELECT 1 FROM stations WHERE id = $1) "
             "ON CONFLICT (station_id, evse) DO UPDATE SET limit_value = EXCLUDED.limit_value, limit_unit = "
             "EXCLUDED.limit_unit, until = EXCLUDED.until, status = 'pending', command_id = NULL, set_at = now(), "
             "updated_at = now() RETURNING station_id",
             5, p, on_limit_stored);
}

static void on_limits_cleared(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    if (!db_ok(res)) {
        op_finish_db(o, res);
        return;
    }
    int n = db_ntuples(res);
    if (n == 0) {
        op_finish(o, PL_ENOENT, NULL, "no limit set on this station%s", json_object_get(o->args, "evse") ? " and evse" : "");
        return;
    }
    const char *station = json_string_value(json_object_get(o->args, "station_id"));
    for (int i = 0; i < n; i++)
        load_limit_clear(station, atoi(db_value(res, i, 0)));
    op_finish(o, PL_OK, json_pack("{s:s, s:i}", "station_id", station, "cleared", n), NULL);
}

static void limit_clear(struct domain_op *o)
{
    const char *station;
    int evse;
    if (station_arg(o, &station) != 0 || evse_arg(o, &evse, -1) != 0)
        return;
    char ev[16];
    snprintf(ev, sizeof ev, "%d", evse);
    const char *p[2] = {station, ev};
    op_query(o, "DELETE FROM station_limits WHERE station_id = $1 AND ($2::int < 0 OR evse = $2::int) RETURNING evse",
             2, p, on_limits_cleared);
}

static void on_composite(pl_command *cmd, void *arg)
{
    struct domain_op *o = arg;
    json_t *out = o->state;
    o->state = NULL;
    if (station_api_command_status(cmd) == PL_CMD_ACCEPTED) {
        json_t *r = station_api_command_result(cmd);
        json_object_set(out, "composite", json_object_get(r, "schedule") ?: json_null());
    } else {
        const char *e = station_api_command_error(cmd);
        json_t *r = station_api_command_result(cmd);
        json_object_set_new(out, "composite_error",
                            json_string(e ? e : json_string_value(json_object_get(r, "status")) ?: "refused"));
    }
    op_finish(o, PL_OK, out, NULL);
}

static void on_limits_read(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    if (!db_ok(res)) {
        op_finish_db(o, res);
        return;
    }
    json_t *rows = db_json(res);
    json_t *first = json_array_get(rows, 0);
    if (!first || !json_is_true(json_object_get(first, "known"))) {
        json_decref(rows);
        op_finish(o, PL_ENOENT, NULL, "no such station");
        return;
    }
    json_t *limits = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) if (!json_is_null(json_object_get(r, "evse")))
    {
        json_object_del(r, "known");
        json_array_append(limits, r);
    }
    json_decref(rows);
    const char *station = json_string_value(json_object_get(o->args, "station_id"));
    int evse = (int)json_integer_value(json_object_get(o->args, "evse"));
    json_t *out = json_pack("{s:s, s:i, s:o, s:n}", "station_id", station, "evse", evse, "limits", limits,
                            "composite");
    json_t *dur = json_object_get(o->args, "duration");
    const char *unit = json_string_value(json_object_get(o->args, "unit"));
    json_t *args = json_pack("{s:i, s:I}", "evse", evse, "duration",
                             json_is_integer(dur) ? json_integer_value(dur) : (json_int_t)3600);
    if (unit)
        json_object_set_new(args, "unit", json_string(unit));
    int rc = 0;
    char err[160] = "";
    o->state = out;
    if (!station_api_command(NULL, station, PL_OP_GET_COMPOSITE_SCHEDULE, args, 30000, on_composite, o, &rc, err,
                             sizeof err)) {
        o->state = NULL;
        json_object_set_new(out, "composite_error",
                            json_string(rc == PL_EOFFLINE || rc == PL_ENOENT ? "the station is not connected" : err));
        op_finish(o, PL_OK, out, NULL);
    }
}

static void limit_get(struct domain_op *o)
{
    const char *station;
    int evse;
    if (station_arg(o, &station) != 0 || evse_arg(o, &evse, 0) != 0)
        return;
    json_t *dur = json_object_get(o->args, "duration");
    const char *unit = json_string_value(json_object_get(o->args, "unit"));
    if (dur && (!json_is_integer(dur) || json_integer_value(dur) < 1 || json_integer_value(dur) > 86400 * 7)) {
        op_finish(o, PL_EINVAL, NULL, "duration: seconds, 1 to 604800");
        return;
    }
    if (unit && strcmp(unit, "A") && strcmp(unit, "W")) {
        op_finish(o, PL_EINVAL, NULL, "unit: \"A\" or \"W\"");
        return;
    }
    json_object_set_new(o->args, "evse", json_integer(evse));
    const char *p[1] = {station};
    op_query(o,
             "SELECT EXISTS (SELECT 1 FROM stations WHERE id = $1) AS known, l.* FROM (SELECT 1) one "
             "LEFT JOIN (SELECT " LIMIT_COLS " FROM station_limits WHERE station_id = $1) l ON true ORDER BY l.evse",
             1, p, on_limits_read);
}

/* ------------------------------------------------------------------------
 * The table.
 * ---------------------------------------------------------------------- */
static const struct domain_table ops[] = {
    {"site.create", site_create},           {"site.get", site_get},
    {"site.update", site_update},           {"site.delete", site_delete},
    {"site.list", site_list},               {"site.add_station", site_add_station},
    {"site.remove_station", site_remove_station}, {"site.load", site_load},
    {"station.limit.set", limit_set},       {"station.limit.clear", limit_clear},
    {"station.limit.get", limit_get},
};

static void load_call(const char *op, json_t *args, pl_domain_cb cb, void *arg)
{
    domain_dispatch(ops, sizeof ops / sizeof ops[0], "no such site", op, args, cb, arg);
}

const struct pl_load_api *load_api(void)
{
    static const struct pl_load_api api = {
        .size = sizeof(struct pl_load_api),
        .call = load_call,
    };
    return &api;
}
