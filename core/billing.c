/*
 * billing.c — the tariffs domain (pipelet/billing.h): tariffs and their revisions,
 * assignments, which tariff applies where and when, and what a session costs, priced
 * by the pricing engine (pricing.c) from the meter values the session stored.
 *
 * Every definition is read by pl_tariff_from_json before it is stored, so a stored
 * tariff always prices; a definition change adds a revision in the same statement that
 * changes the tariff.  "Which tariff" is one query (RESOLVE below) used both by
 * tariff.resolve and by transaction.cost, so the API's answer and a session's price
 * cannot disagree.
 */
#include "billing.h"
#include "bus.h"
#include "core.h"
#include "domain.h"
#include "hashmap.h"
#include "pricing.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#define TS(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* the latest revision of t (or, with an instant, the one in force then) */
#define TARIFF_COLS                                                                           \
    "t.id, t.name, t.currency, " TS("t.valid_from") " AS valid_from, " TS("t.valid_to")       \
    " AS valid_to, r.revision, r.definition, " TS("t.created_at") " AS created_at, "           \
    TS("t.updated_at") " AS updated_at, " TS("t.deleted_at") " AS deleted_at"
#define LATEST_REVISION                                                                       \
    " JOIN LATERAL (SELECT revision, definition FROM tariff_revisions WHERE tariff_id = t.id " \
    "ORDER BY revision DESC LIMIT 1) r ON true "

#define ASSIGNMENT_COLS                                                                       \
    "a.id, a.tariff_id, a.station_id, a.site_id, a.customer_id, a.customer_group_id, "          \
    "a.is_default AS \"default\", "                                                           \
    TS("a.assigned_at") " AS assigned_at, " TS("a.ended_at") " AS ended_at, "                  \
    "(a.ended_at IS NULL) AS active"

/* Whether any tariff is assigned (running costs are priced only then), see below. */
static enum { ASSIGN_UNKNOWN, ASSIGN_ASKING, ASSIGN_NONE, ASSIGN_SOME } assignments;

/* What a tariff body may hold: its own fields and its definition's (pricing_json.c). */
static const char *const meta_keys[] = {"name", "valid_from", "valid_to", NULL};
static const char *const definition_keys[] = {"currency", "time_zone", "elements", "min_price",
                                              "max_price", "tariff_alt_text", NULL};
/* answered by the server, ignored when a client sends them back */
static const char *const read_only[] = {"id", "revision", "created_at", "updated_at",
                                        "deleted_at", NULL};

static int in_list(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(s, *words) == 0)
            return 1;
    return 0;
}

/* The stored row as the API answers it: the definition's fields beside the tariff's. */
static json_t *tariff_json(json_t *row)
{
    json_t *def = json_object_get(row, "definition");
    json_t *out = json_deep_copy(row);
    json_object_del(out, "definition");
    const char *k;
    json_t *v;
    json_object_foreach(def, k, v) {
        if (in_list(k, definition_keys) && strcmp(k, "currency") != 0)
            json_object_set(out, k, v);
    }
    return out;
}

/* Validate a body's keys and its meta fields; split the definition out.  0, or -1 with
 * the op finished. */
static int split_body(struct domain_op *o, json_t **def_out, int creating)
{
    const char *k;
    json_t *v;
    json_t *def = json_object();
    json_object_foreach(o->args, k, v) {
        if (in_list(k, definition_keys)) {
            if (!creating || !json_is_null(v)) /* null on a change removes; on a create, absent */
                json_object_set(def, k, v);
        } else if (!in_list(k, meta_keys) && !in_list(k, read_only)) {
            json_decref(def);
            op_finish(o, PL_EINVAL, NULL, "%s: unknown field", k);
            return -1;
        }
    }
    json_t *name = json_object_get(o->args, "name");
    if ((creating || name) &&
        (!json_is_string(name) || json_string_length(name) < 1 || json_string_length(name) > 200)) {
        json_decref(def);
        op_finish(o, PL_EINVAL, NULL, "name: 1 to 200 characters");
        return -1;
    }
    for (int i = 1; meta_keys[i]; i++) {
        json_t *t = json_object_get(o->args, meta_keys[i]);
        if (t && !json_is_null(t) &&
            (!json_is_string(t) || util_parse_rfc3339(json_string_value(t), NULL) != 0)) {
            json_decref(def);
            op_finish(o, PL_EINVAL, NULL, "%s: an RFC 3339 time, or null", meta_keys[i]);
            return -1;
        }
    }
    *def_out = def;
    return 0;
}

/* The definition priced once before it is stored: what cannot price is refused here. */
static int definition_ok(struct domain_op *o, json_t *def)
{
    struct pl_tariff t;
    char err[256];
    if (pl_tariff_from_json(def, &t, err, sizeof err) != 0) {
        op_finish(o, PL_EINVAL, NULL, "%s", err);
        return 0;
    }
    return 1;
}

static const char *meta_text(struct domain_op *o, const char *key)
{
    return json_string_value(json_object_get(o->args, key));
}

/* ------------------------------------------------------------------------
 * Tariffs.
 * ---------------------------------------------------------------------- */
static void tariff_answered(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    json_t *row = op_landed_row(o, res, "tariff");
    if (!row)
        return;
    json_t *t = tariff_json(row);
    json_decref(row);
    if (strcmp(o->name, "tariff.get") != 0)
        bus_emit(strcmp(o->name, "tariff.create") == 0   ? "tariff.created"
                 : strcmp(o->name, "tariff.delete") == 0 ? "tariff.deleted"
                                                         : "tariff.updated",
                 NULL, json_incref(t));
    op_finish(o, PL_OK, t, NULL);
}

static void tariff_create(struct domain_op *o)
{
    json_t *def;
    if (split_body(o, &def, 1) != 0)
        return;
    if (!definition_ok(o, def)) {
        json_decref(def);
        return;
    }
    char *text = json_dumps(def, JSON_COMPACT);
    const char *p[5] = {meta_text(o, "name"), json_string_value(json_object_get(def, "currency")),
                        meta_text(o, "valid_from"), meta_text(o, "valid_to"), text};
    op_query(o,
             "WITH t AS (INSERT INTO tariffs (name, currency, valid_from, valid_to) "
             "VALUES ($1, $2, $3::timestamptz, $4::timestamptz) RETURNING *), "
             "r AS (INSERT INTO tariff_revisions (tariff_id, revision, definition) "
             "SELECT id, 1, $5::jsonb FROM t RETURNING revision, definition) "
             "SELECT " TARIFF_COLS " FROM t, r",
             5, p, tariff_answered);
    free(text);
    json_decref(def);
}

static void tariff_get(struct domain_op *o)
{
    op_by_id(o, "SELECT " TARIFF_COLS " FROM tariffs t" LATEST_REVISION "WHERE t.id = $1::bigint",
             tariff_answered);
}

/* An update reads the definition in force, merges the change into it, prices it once,
 * then writes the tariff and (when the definition changed) its next revision together.
 * Two updates at once: the second one's revision collides and it answers 409. */
static void tariff_update_read(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    json_t *def = o->state; /* the change's definition part, ours from here on */
    o->state = NULL;
    json_t *row = op_landed_row(o, res, "tariff");
    if (!row) {
        json_decref(def);
        return;
    }
    if (!json_is_null(json_object_get(row, "deleted_at"))) {
        json_decref(def);
        json_decref(row);
        op_finish(o, PL_ENOENT, NULL, "no such tariff (it was deleted)");
        return;
    }
    int changed = json_object_size(def) > 0;
    json_t *merged = json_deep_copy(json_object_get(row, "definition"));
    const char *k;
    json_t *v;
    json_object_foreach(def, k, v) {
        if (json_is_null(v))
            json_object_del(merged, k); /* an optional part removed (min_price, time_zone) */
        else
            json_object_set(merged, k, v);
    }
    json_decref(def);
    if (changed && !definition_ok(o, merged)) {
        json_decref(merged);
        json_decref(row);
        return;
    }
    char id[24], rev[24];
    snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(row, "id")));
    snprintf(rev, sizeof rev, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(row, "revision")) + 1);
    json_decref(row);
    char *text = changed ? json_dumps(merged, JSON_COMPACT) : NULL;
    json_t *a = o->args;
    const char *p[8] = {id,
                        meta_text(o, "name"),
                        json_object_get(a, "valid_from") ? "1" : NULL,
                        meta_text(o, "valid_from"),
                        json_object_get(a, "valid_to") ? "1" : NULL,
                        meta_text(o, "valid_to"),
                        text,
                        rev};
    op_query(o,
             "WITH t AS (UPDATE tariffs SET name = coalesce($2, name), "
             "valid_from = CASE WHEN $3::text IS NULL THEN valid_from ELSE $4::timestamptz END, "
             "valid_to = CASE WHEN $5::text IS NULL THEN valid_to ELSE $6::timestamptz END, "
             "currency = coalesce($7::jsonb->>'currency', currency), updated_at = now() "
             "WHERE id = $1::bigint AND deleted_at IS NULL RETURNING *), "
             "n AS (INSERT INTO tariff_revisions (tariff_id, revision, definition) "
             "SELECT id, $8::int, $7::jsonb FROM t WHERE $7::jsonb IS NOT NULL "
             "RETURNING tariff_id, revision, definition) "
             "SELECT " TARIFF_COLS " FROM t JOIN LATERAL (SELECT revision, definition FROM n "
             "UNION ALL SELECT revision, definition FROM tariff_revisions "
             "WHERE tariff_id = t.id AND NOT EXISTS (SELECT 1 FROM n) "
             "ORDER BY revision DESC LIMIT 1) r ON true",
             8, p, tariff_answered);
    free(text);
    json_decref(merged);
}

static void tariff_update(struct domain_op *o)
{
    json_t *def;
    if (split_body(o, &def, 0) != 0)
        return;
    json_t *name = json_object_get(o->args, "name");
    if (name && json_is_null(name)) {
        json_decref(def);
        op_finish(o, PL_EINVAL, NULL, "name: required");
        return;
    }
    o->state = def;
    char id[24];
    if (op_take_id(o, id) != 0) {
        json_decref(def);
        return;
    }
    const char *p[1] = {id};
    if (op_query(o, "SELECT " TARIFF_COLS " FROM tariffs t" LATEST_REVISION "WHERE t.id = $1::bigint",
                 1, p, tariff_update_read) != PL_OK)
        json_decref(def);
}

/* Deleted, not removed: the CDRs and past sessions still name it. Its assignments end. */
static void tariff_delete(struct domain_op *o)
{
    op_by_id(o,
             "WITH t AS (UPDATE tariffs SET deleted_at = now(), updated_at = now() "
             "WHERE id = $1::bigint AND deleted_at IS NULL RETURNING *), "
             "e AS (UPDATE tariff_assignments SET ended_at = now() "
             "WHERE tariff_id IN (SELECT id FROM t) AND ended_at IS NULL RETURNING 1) "
             "SELECT " TARIFF_COLS " FROM t" LATEST_REVISION,
             tariff_answered);
}

static void tariffs_listed(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    if (!db_ok(res)) {
        op_finish_db(o, res);
        return;
    }
    json_t *rows = db_json(res), *out = json_array(), *r;
    size_t i;
    json_array_foreach(rows, i, r) json_array_append_new(out, tariff_json(r));
    json_decref(rows);
    op_page(o, out);
}

static void tariff_list(struct domain_op *o)
{
    char limit[16], cursor[24];
    if (op_list_args(o, limit, sizeof limit, cursor, sizeof cursor) != 0)
        return;
    const char *p[3] = {json_is_true(json_object_get(o->args, "include_deleted")) ? "t" : "f",
                        *cursor ? cursor : NULL, limit};
    op_query(o,
             "SELECT " TARIFF_COLS " FROM tariffs t" LATEST_REVISION
             "WHERE (t.deleted_at IS NULL OR $1::boolean) AND ($2::bigint IS NULL OR t.id > $2) "
             "ORDER BY t.id LIMIT $3::int",
             3, p, tariffs_listed);
}

/* ------------------------------------------------------------------------
 * Assignments.
 * ---------------------------------------------------------------------- */
static void assignment_answered(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    json_t *row = op_landed_row(o, res, strcmp(o->name, "tariff.assign") == 0 ? "tariff"
                                                                                : "active assignment");
    if (!row)
        return;
    if (strcmp(o->name, "tariff.assign") == 0)
        assignments = ASSIGN_SOME; /* running costs are priced from now on */
    bus_emit(strcmp(o->name, "tariff.assign") == 0 ? "tariff.assigned" : "tariff.unassigned", NULL,
             json_incref(row));
    op_finish(o, PL_OK, row, NULL);
}

static void tariff_assign(struct domain_op *o)
{
    long long tariff = op_arg_id(o, "tariff_id");
    if (!tariff) {
        op_finish(o, PL_EINVAL, NULL, "tariff_id: must be a positive integer");
        return;
    }
    const char *station = op_opt_str(o, "station_id");
    long long site = op_arg_id(o, "site_id"), customer = op_arg_id(o, "customer_id"),
              group = op_arg_id(o, "customer_group_id");
    int dflt = json_is_true(json_object_get(o->args, "default"));
    if ((station != NULL) + (site != 0) + (customer != 0) + (group != 0) + dflt != 1) {
        op_finish(o, PL_EINVAL, NULL,
                  "target: exactly one of station_id, site_id, customer_id, customer_group_id "
                  "or default: true");
        return;
    }
    if (station && !util_station_id_valid(station, strlen(station))) {
        op_finish(o, PL_EINVAL, NULL, "station_id: not a station id");
        return;
    }
    o->fk_error = station    ? "station_id: no such station"
                  : site     ? "site_id: no such site"
                  : customer ? "customer_id: no such customer"
                             : "customer_group_id: no such customer group";
    char t[24], s[24], c[24], g[24];
    snprintf(t, sizeof t, "%lld", tariff);
    snprintf(s, sizeof s, "%lld", site);
    snprintf(c, sizeof c, "%lld", customer);
    snprintf(g, sizeof g, "%lld", group);
    const char *p[6] = {t, station, site ? s : NULL, customer ? c : NULL, dflt ? "t" : "f",
                        group ? g : NULL};
    /* the assignment it replaces (same target, still active) ends as this one starts; the
     * insert reads "old" so that the update runs first */
    op_query(o,
             "WITH tf AS (SELECT id FROM tariffs WHERE id = $1::bigint AND deleted_at IS NULL), "
             "old AS (UPDATE tariff_assignments SET ended_at = now() WHERE ended_at IS NULL "
             "AND EXISTS (SELECT 1 FROM tf) AND (station_id = $2 OR site_id = $3::bigint "
             "OR customer_id = $4::bigint OR customer_group_id = $6::bigint "
             "OR (is_default AND $5::boolean)) RETURNING id), "
             "a AS (INSERT INTO tariff_assignments (tariff_id, station_id, site_id, customer_id, "
             "customer_group_id, is_default) SELECT tf.id, $2, $3::bigint, $4::bigint, $6::bigint, "
             "$5::boolean FROM tf WHERE (SELECT count(*) FROM old) >= 0 RETURNING *) "
             "SELECT " ASSIGNMENT_COLS " FROM a",
             6, p, assignment_answered);
}

static void tariff_unassign(struct domain_op *o)
{
    op_by_id(o,
             "UPDATE tariff_assignments a SET ended_at = now() WHERE a.id = $1::bigint "
             "AND a.ended_at IS NULL RETURNING " ASSIGNMENT_COLS,
             assignment_answered);
}

static void tariff_assignments(struct domain_op *o)
{
    char limit[16], cursor[24], t[24] = "", s[24] = "", c[24] = "", g[24] = "";
    if (op_list_args(o, limit, sizeof limit, cursor, sizeof cursor) != 0)
        return;
    long long tariff = op_arg_id(o, "tariff_id"), site = op_arg_id(o, "site_id"),
              customer = op_arg_id(o, "customer_id"), group = op_arg_id(o, "customer_group_id");
    if (group)
        snprintf(g, sizeof g, "%lld", group);
    if (tariff)
        snprintf(t, sizeof t, "%lld", tariff);
    if (site)
        snprintf(s, sizeof s, "%lld", site);
    if (customer)
        snprintf(c, sizeof c, "%lld", customer);
    json_t *active = json_object_get(o->args, "active");
    const char *p[8] = {*t ? t : NULL, op_opt_str(o, "station_id"), *s ? s : NULL,
                        *c ? c : NULL, json_is_boolean(active) ? (json_is_true(active) ? "t" : "f") : NULL,
                        *cursor ? cursor : NULL, limit, *g ? g : NULL};
    op_query(o,
             "SELECT " ASSIGNMENT_COLS " FROM tariff_assignments a "
             "WHERE ($1::bigint IS NULL OR a.tariff_id = $1) AND ($2::text IS NULL OR a.station_id = $2) "
             "AND ($3::bigint IS NULL OR a.site_id = $3) AND ($4::bigint IS NULL OR a.customer_id = $4) "
             "AND ($5::boolean IS NULL OR (a.ended_at IS NULL) = $5) "
             "AND ($8::bigint IS NULL OR a.customer_group_id = $8) "
             "AND ($6::bigint IS NULL OR a.id > $6) ORDER BY a.id LIMIT $7::int",
             8, p, op_listed);
}

/* ------------------------------------------------------------------------
 * Which tariff: $1 station, $2 customer (or NULL), $3 the instant.  The most specific
 * valid assignment: the customer's, its customer group's, the station's, its site's (a
 * group before the site that holds it), the default; the revision in force at the
 * instant.  A customer's group is the one it is in now (membership has no history).
 * ---------------------------------------------------------------------- */
static const char SQL_RESOLVE[] =
    "WITH RECURSIVE chain(id, depth) AS ("
    "SELECT site_id, 0 FROM stations WHERE id = $1 AND site_id IS NOT NULL "
    "UNION ALL SELECT s.parent_id, c.depth + 1 FROM sites s JOIN chain c ON s.id = c.id "
    "WHERE s.parent_id IS NOT NULL AND c.depth < 16) "
    "SELECT " TARIFF_COLS ", row_to_json(x) AS assignment, "
    "CASE WHEN a.customer_id IS NOT NULL THEN 'customer' "
    "WHEN a.customer_group_id IS NOT NULL THEN 'customer_group' WHEN a.station_id IS NOT NULL THEN 'station' "
    "WHEN a.site_id IS NOT NULL THEN 'site' ELSE 'default' END AS level, "
    TS("$3::timestamptz") " AS at "
    "FROM tariff_assignments a JOIN tariffs t ON t.id = a.tariff_id "
    "JOIN LATERAL (SELECT revision, definition FROM tariff_revisions WHERE tariff_id = t.id "
    "AND created_at <= $3::timestamptz ORDER BY revision DESC LIMIT 1) r ON true "
    "JOIN LATERAL (SELECT " ASSIGNMENT_COLS ") x ON true "
    "WHERE a.assigned_at <= $3::timestamptz AND (a.ended_at IS NULL OR a.ended_at > $3::timestamptz) "
    "AND (t.deleted_at IS NULL OR t.deleted_at > $3::timestamptz) "
    "AND (t.valid_from IS NULL OR t.valid_from <= $3::timestamptz) "
    "AND (t.valid_to IS NULL OR t.valid_to > $3::timestamptz) "
    "AND (a.customer_id = $2::bigint OR a.station_id = $1 OR a.is_default "
    "OR a.customer_group_id = (SELECT customer_group_id FROM customers WHERE id = $2::bigint) "
    "OR a.site_id IN (SELECT id FROM chain)) "
    "ORDER BY CASE WHEN a.customer_id IS NOT NULL THEN 0 WHEN a.customer_group_id IS NOT NULL THEN 1 "
    "WHEN a.station_id IS NOT NULL THEN 2 "
    "WHEN a.site_id IS NOT NULL THEN 3 + (SELECT min(depth) FROM chain WHERE chain.id = a.site_id) "
    "ELSE 100 END, a.assigned_at DESC, a.id DESC LIMIT 1";

static json_t *resolved_json(json_t *row)
{
    json_t *assignment = json_incref(json_object_get(row, "assignment"));
    json_t *level = json_incref(json_object_get(row, "level"));
    json_t *at = json_incref(json_object_get(row, "at"));
    json_object_del(row, "assignment");
    json_object_del(row, "level");
    json_object_del(row, "at");
    return json_pack("{s:o, s:o, s:o, s:o}", "tariff", tariff_json(row), "assignment", assignment,
                     "level", level, "at", at);
}

static void resolved(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    json_t *row = op_landed_row(o, res, "tariff applies there and then");
    if (!row)
        return;
    json_t *out = resolved_json(row);
    json_decref(row);
    op_finish(o, PL_OK, out, NULL);
}

static void tariff_resolve(struct domain_op *o)
{
    const char *station = op_opt_str(o, "station_id"), *at = op_opt_str(o, "at");
    if (!station || !util_station_id_valid(station, strlen(station))) {
        op_finish(o, PL_EINVAL, NULL, "station_id: required, a station id");
        return;
    }
    if (at && util_parse_rfc3339(at, NULL) != 0) {
        op_finish(o, PL_EINVAL, NULL, "at: an RFC 3339 time");
        return;
    }
    long long customer = op_arg_id(o, "customer_id");
    char c[24];
    snprintf(c, sizeof c, "%lld", customer);
    const char *p[3] = {station, customer ? c : NULL, at ? at : "now"};
    op_query(o, SQL_RESOLVE, 3, p, resolved);
}

/* ------------------------------------------------------------------------
 * What a session costs: its readings (the start register, every energy register and
 * power reading stored for it, the stop register) priced with the tariff in force at
 * its start for its token's customer.  Without a tariff, or with fewer than two
 * readings to price between, the answer says so instead of inventing a price.
 * ---------------------------------------------------------------------- */

/* Energy registers in Wh and power in W whatever unit the station reported them in;
 * only whole-session readings (no phase), in time order.  $1 the gateway's id, or $2
 * station and $3 its transaction id; $4 / $5 the stop time and register of a stop being
 * written (NULL when reading a stored session). */
static const char SQL_COST_READ[] =
    "SELECT t.id, t.station_id, t.station_tx_id, t.evse, t.connector, t.id_token, "
    TS("t.started_at") " AS started_at, " TS("coalesce(t.stopped_at, $4::timestamptz)")
    " AS stopped_at, (t.stopped_at IS NOT NULL) AS ended, "
    "tok.customer_id, tok.language AS customer_language, "
    "coalesce((SELECT json_agg(json_build_array(r.at, r.kind, r.value) ORDER BY r.at, r.ord) FROM ("
    "SELECT extract(epoch FROM t.started_at) AS at, 'E' AS kind, t.meter_start AS value, 0 AS ord "
    "WHERE t.meter_start IS NOT NULL "
    "UNION ALL SELECT extract(epoch FROM mv.ts), "
    "CASE WHEN mv.measurand = 'Power.Active.Import' THEN 'P' ELSE 'E' END, "
    "mv.value * CASE WHEN mv.unit IN ('kWh', 'kW') THEN 1000 ELSE 1 END, 1 FROM meter_values mv "
    "WHERE mv.transaction_id = t.id AND mv.phase IS NULL AND mv.measurand IN "
    "('Energy.Active.Import.Register', 'Power.Active.Import') AND mv.ts >= t.started_at "
    "AND (coalesce(t.stopped_at, $4::timestamptz) IS NULL OR mv.ts <= coalesce(t.stopped_at, $4::timestamptz)) "
    "UNION ALL SELECT extract(epoch FROM coalesce(t.stopped_at, $4::timestamptz)), 'E', "
    "coalesce(t.meter_stop, $5::float8), 2 WHERE coalesce(t.stopped_at, $4::timestamptz) IS NOT NULL "
    "AND coalesce(t.meter_stop, $5::float8) IS NOT NULL) r), '[]') AS readings, "
    "t.started_at::text AS started_exact "
    "FROM transactions t "
    /* the token's customer (one lookup for its id and its language) */
    "LEFT JOIN LATERAL (SELECT k.customer_id, c.language FROM id_tokens k "
    "LEFT JOIN customers c ON c.id = k.customer_id WHERE k.id_token = t.id_token "
    "ORDER BY (k.token_type = t.id_token_type) DESC, k.id LIMIT 1) tok ON true "
    "WHERE t.id = $1::bigint OR (t.station_id = $2 AND t.station_tx_id = $3)";

/* The tariff's text for the session's customer (OCPP 2.0.1 personal message): the
 * tariff_alt_text in the customer's language (its first two letters: "de-CH" reads
 * "de"), else the first one; NULL when the tariff has none. */
static json_t *personal_message(json_t *tariff, const char *language)
{
    json_t *alts = json_object_get(tariff, "tariff_alt_text"), *d, *pick = json_array_get(alts, 0);
    size_t i;
    json_array_foreach(alts, i, d) {
        const char *l = json_string_value(json_object_get(d, "language"));
        if (language && l && strncasecmp(language, l, 2) == 0) {
            pick = d;
            break;
        }
    }
    if (!pick)
        return NULL;
    return json_pack("{s:s, s:O, s:O}", "format", "UTF8", "language", json_object_get(pick, "language"),
                     "content", json_object_get(pick, "text"));
}

/* The session (a row of SQL_COST_READ) priced with the resolution (NULL: no tariff) as
 * the cost answer (new), or NULL with err when a stored tariff does not price. */
static json_t *price_session(json_t *tx, json_t *resolution, char *err, size_t errlen)
{
    json_t *out = json_pack("{s:O, s:O, s:O, s:b}", "transaction_id", json_object_get(tx, "id"),
                            "station_id", json_object_get(tx, "station_id"), "started_at",
                            json_object_get(tx, "started_at"), "active",
                            !json_is_true(json_object_get(tx, "ended")));
    json_object_set(out, "stopped_at", json_object_get(tx, "stopped_at"));
    if (!resolution) {
        json_object_set_new(out, "status", json_string("no_tariff"));
        return out;
    }
    json_t *tariff = json_object_get(resolution, "tariff");
    json_object_set(out, "tariff_id", json_object_get(tariff, "id"));
    json_object_set(out, "tariff_revision", json_object_get(tariff, "revision"));
    json_object_set(out, "level", json_object_get(resolution, "level"));
    json_object_set(out, "currency", json_object_get(tariff, "currency"));
    json_object_set(out, "tariff", tariff); /* as it was: a record keeps this snapshot */
    json_t *msg = personal_message(tariff, json_string_value(json_object_get(tx, "customer_language")));
    if (msg)
        json_object_set_new(out, "personal_message", msg);

    struct pl_tariff t;
    json_t *def = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(tariff, k, v) if (in_list(k, definition_keys)) json_object_set(def, k, v);
    int ok = pl_tariff_from_json(def, &t, err, errlen) == 0;
    json_decref(def);
    if (!ok) { /* stored definitions were checked: only a hand-edited row gets here */
        json_decref(out);
        return NULL;
    }
    json_t *readings = json_object_get(tx, "readings");
    size_t n = json_array_size(readings), i, m = 0;
    struct pl_meter_sample *s = calloc(n + 1, sizeof *s);
    struct pl_meter_point *pts = calloc(n + 1, sizeof *pts);
    json_t *r;
    json_array_foreach(readings, i, r) {
        /* [epoch seconds, "E" | "P", value in Wh or W] */
        double at = json_number_value(json_array_get(r, 0)), val = json_number_value(json_array_get(r, 2));
        const char *kind = json_string_value(json_array_get(r, 1));
        if (!s || !kind || !isfinite(val) || val < 0)
            continue;
        struct pl_meter_sample x = {.t = (time_t)floor(at)};
        if (kind[0] == 'E')
            x.wh = (int64_t)llround(val), x.has_wh = 1;
        else
            x.w = (int64_t)llround(val), x.has_w = 1;
        s[m++] = x;
    }
    size_t np = s && pts ? pl_meter_points_build(s, m, pts) : 0;
    struct pl_price_result pr;
    const char *why = NULL;
    if (np < 2 || pl_price_session(&t, pts, np, &pr, &why) != 0) {
        json_object_set_new(out, "status", json_string("missing_meter_values"));
        if (why)
            json_object_set_new(out, "detail", json_string(why));
    } else {
        json_t *priced = pl_price_result_json(&t, &pr);
        pl_price_result_free(&pr);
        json_object_update(out, priced);
        json_decref(priced);
        json_object_set_new(out, "status", json_string("priced"));
    }
    free(s);
    free(pts);
    return out;
}

/* Read a session and the tariff in force at its start, then price it: done(arg, tx,
 * cost) with both borrowed — tx NULL for no such session, cost NULL with err for a
 * database error or a tariff that does not price. */
typedef void (*priced_fn)(void *arg, json_t *tx, json_t *cost, const char *err);
struct pricing {
    priced_fn done;
    void *arg;
    json_t *tx;
};

static void pricing_resolved(pl_db_result *res, void *arg)
{
    struct pricing *pc = arg;
    char err[256] = "";
    json_t *cost = NULL;
    if (!res || !db_ok(res)) {
        snprintf(err, sizeof err, "database unavailable: %s", res ? db_error(res) : "not queued");
    } else {
        json_t *row = op_first_row(res);
        json_t *resolution = row ? resolved_json(row) : NULL;
        json_decref(row);
        cost = price_session(pc->tx, resolution, err, sizeof err);
        json_decref(resolution);
    }
    pc->done(pc->arg, pc->tx, cost, err);
    json_decref(cost);
    json_decref(pc->tx);
    free(pc);
}

static void pricing_read(pl_db_result *res, void *arg)
{
    struct pricing *pc = arg;
    if (!res || !db_ok(res)) {
        char err[256];
        snprintf(err, sizeof err, "database unavailable: %s", res ? db_error(res) : "not queued");
        pc->done(pc->arg, NULL, NULL, err);
        free(pc);
        return;
    }
    pc->tx = op_first_row(res);
    if (!pc->tx) {
        pc->done(pc->arg, NULL, NULL, NULL);
        free(pc);
        return;
    }
    char cust[24];
    json_t *cid = json_object_get(pc->tx, "customer_id");
    snprintf(cust, sizeof cust, "%" JSON_INTEGER_FORMAT, json_integer_value(cid));
    char started[64];
    snprintf(started, sizeof started, "%s",
             json_string_value(json_object_get(pc->tx, "started_exact")) ? json_string_value(json_object_get(pc->tx, "started_exact")) : "");
    json_object_del(pc->tx, "started_exact");
    const char *p[3] = {json_string_value(json_object_get(pc->tx, "station_id")),
                        json_is_integer(cid) ? cust : NULL, started};
    if (db_query_as("core", SQL_RESOLVE, 3, p, pricing_resolved, pc) != PL_OK)
        pricing_resolved(NULL, pc);
}

static void price(const char *const params[5], priced_fn done, void *arg)
{
    struct pricing *pc = calloc(1, sizeof *pc);
    if (!pc) {
        done(arg, NULL, NULL, "out of memory");
        return;
    }
    pc->done = done;
    pc->arg = arg;
    if (db_query_as("core", SQL_COST_READ, 5, params, pricing_read, pc) != PL_OK)
        pricing_read(NULL, pc);
}

static void cost_priced(void *arg, json_t *tx, json_t *cost, const char *err)
{
    struct domain_op *o = arg;
    if (cost)
        op_finish(o, PL_OK, json_incref(cost), NULL);
    else if (!tx && !err)
        op_finish(o, PL_ENOENT, NULL, "no such transaction");
    else
        op_finish(o, PL_ERR, NULL, "%s", err ? err : "cannot price");
}

/* by the gateway's id, or by the station's own (station_id, station_tx_id) */
static void transaction_cost(struct domain_op *o)
{
    long long id = op_arg_id(o, "id");
    const char *station = op_opt_str(o, "station_id"), *stx = op_opt_str(o, "station_tx_id");
    if (!id && !(station && stx)) {
        op_finish(o, PL_EINVAL, NULL, "id: a transaction id, or station_id and station_tx_id");
        return;
    }
    char t[24];
    snprintf(t, sizeof t, "%lld", id);
    const char *p[5] = {id ? t : NULL, id ? NULL : station, id ? NULL : stx, NULL, NULL};
    price(p, cost_priced, o);
}

/* ------------------------------------------------------------------------
 * The charge detail record of a session being stopped (billing.h).
 * ---------------------------------------------------------------------- */
struct stop_pricing {
    billing_cdr_cb cb;
    void *arg;
};

static void stop_priced(void *arg, json_t *tx, json_t *cost, const char *err)
{
    struct stop_pricing *sp = arg;
    if (!tx && !err) { /* not a session the model knows: the stop says so */
        sp->cb(sp->arg, 1, NULL);
    } else if (tx && json_is_true(json_object_get(tx, "ended"))) {
        sp->cb(sp->arg, 1, NULL); /* a repeated stop: its record exists */
    } else if (!cost) {
        core_log(PL_LOG_WARN, "billing", "cannot price the stop of %s: %s",
                 tx ? json_string_value(json_object_get(tx, "station_id")) : "?", err ? err : "");
        sp->cb(sp->arg, 0, NULL);
    } else {
        json_t *cdr = json_deep_copy(cost);
        const char *copy[] = {"evse", "connector", "id_token", "customer_id", "station_tx_id", NULL};
        for (int i = 0; copy[i]; i++)
            json_object_set(cdr, copy[i], json_object_get(tx, copy[i]));
        json_object_del(cdr, "active");
        json_object_del(cdr, "level");
        sp->cb(sp->arg, 1, cdr);
        json_decref(cdr);
    }
    free(sp);
}

void billing_price_stop(const char *station_id, const char *station_tx_id, const char *stopped_at,
                        const char *meter_stop, billing_cdr_cb cb, void *arg)
{
    struct stop_pricing *sp = calloc(1, sizeof *sp);
    if (!sp) {
        cb(arg, 0, NULL);
        return;
    }
    sp->cb = cb;
    sp->arg = arg;
    const char *p[5] = {NULL, station_id, station_tx_id, stopped_at ? stopped_at : "now", meter_stop};
    price(p, stop_priced, sp);
}

/* ------------------------------------------------------------------------
 * A quote: a hypothetical session priced with a tariff's current revision.  The session
 * is start and stop with either the energy charged (drawn evenly from start until
 * charging_until, by default the stop; parked after) or the register readings.
 * ---------------------------------------------------------------------- */
static int quote_time(struct domain_op *o, const char *key, int required, double *out)
{
    const char *v = op_opt_str(o, key);
    int64_t ms;
    if (!v && !required)
        return 0;
    if (!v || util_parse_rfc3339(v, &ms) != 0) {
        op_finish(o, PL_EINVAL, NULL, "%s: %san RFC 3339 time", key, required ? "required, " : "");
        return -1;
    }
    *out = (double)ms / 1000.0;
    return 1;
}

/* The hypothetical session as SQL_COST_READ would give it, or NULL with the op finished. */
static json_t *quote_session(struct domain_op *o)
{
    double start = 0, stop = 0, until = 0;
    int has_until;
    if (quote_time(o, "start", 1, &start) < 0 || quote_time(o, "stop", 1, &stop) < 0 ||
        (has_until = quote_time(o, "charging_until", 0, &until)) < 0)
        return NULL;
    if (stop <= start) {
        op_finish(o, PL_EINVAL, NULL, "stop: after start");
        return NULL;
    }
    json_t *readings = json_array();
    json_t *given = json_object_get(o->args, "readings"), *energy = json_object_get(o->args, "energy_wh");
    if (json_is_array(given)) {
        size_t i;
        json_t *r;
        double last = start;
        json_array_foreach(given, i, r) {
            const char *t = json_string_value(json_object_get(r, "at"));
            json_t *wh = json_object_get(r, "energy_wh"), *w = json_object_get(r, "power_w");
            int64_t ms;
            if (!t || util_parse_rfc3339(t, &ms) != 0 || (double)ms / 1000.0 < last ||
                (double)ms / 1000.0 > stop || (!json_is_number(wh) && !json_is_number(w))) {
                json_decref(readings);
                op_finish(o, PL_EINVAL, NULL,
                          "readings[%zu]: {\"at\" (in order, between start and stop), \"energy_wh\" and/or \"power_w\"}", i);
                return NULL;
            }
            last = (double)ms / 1000.0;
            if (json_is_number(wh))
                json_array_append_new(readings, json_pack("[f, s, f]", last, "E", json_number_value(wh)));
            if (json_is_number(w))
                json_array_append_new(readings, json_pack("[f, s, f]", last, "P", json_number_value(w)));
        }
    } else if (json_is_number(energy) && json_number_value(energy) >= 0) {
        if (has_until && (until <= start || until > stop)) {
            json_decref(readings);
            op_finish(o, PL_EINVAL, NULL, "charging_until: between start and stop");
            return NULL;
        }
        double end = has_until ? until : stop;
        json_array_append_new(readings, json_pack("[f, s, f]", start, "E", 0.0));
        json_array_append_new(readings, json_pack("[f, s, f]", end, "E", json_number_value(energy)));
        if (end < stop)
            json_array_append_new(readings, json_pack("[f, s, f]", stop, "E", json_number_value(energy)));
    } else {
        json_decref(readings);
        op_finish(o, PL_EINVAL, NULL, "energy_wh: required (a number of Wh), or readings");
        return NULL;
    }
    return json_pack("{s:n, s:n, s:s, s:s, s:b, s:o}", "id", "station_id", "started_at",
                     op_opt_str(o, "start"), "stopped_at", op_opt_str(o, "stop"), "ended", 1,
                     "readings", readings);
}

static void quote_read(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    json_t *row = op_landed_row(o, res, "tariff");
    if (!row)
        return;
    if (!json_is_null(json_object_get(row, "deleted_at"))) {
        json_decref(row);
        op_finish(o, PL_ENOENT, NULL, "no such tariff (it was deleted)");
        return;
    }
    json_t *session = quote_session(o);
    if (!session) {
        json_decref(row);
        return;
    }
    json_t *resolution = json_pack("{s:o, s:s}", "tariff", tariff_json(row), "level", "quote");
    json_decref(row);
    char err[256] = "";
    json_t *cost = price_session(session, resolution, err, sizeof err);
    json_decref(session);
    json_decref(resolution);
    if (!cost) {
        op_finish(o, PL_ERR, NULL, "%s", err);
        return;
    }
    const char *drop[] = {"transaction_id", "station_id", "active", "level", NULL};
    for (int i = 0; drop[i]; i++)
        json_object_del(cost, drop[i]);
    op_finish(o, PL_OK, cost, NULL);
}

static void tariff_quote(struct domain_op *o)
{
    op_by_id(o, "SELECT " TARIFF_COLS " FROM tariffs t" LATEST_REVISION "WHERE t.id = $1::bigint",
             quote_read);
}

/* ------------------------------------------------------------------------
 * The running cost of active sessions, priced again when their readings are committed
 * (not by a timer scanning every session).  Nothing is priced while no tariff is
 * assigned at all: the gateway without tariffs pays nothing for this.
 * ---------------------------------------------------------------------- */
#define ASSIGNMENTS_RECHECK_MS 60000 /* assignments made with plain SQL are seen within */

static struct hashmap *running;  /* gateway id (text) -> struct run, one pricing each */
static uint64_t assignments_checked_ms;

struct run {
    char id[24];
    int again; /* readings committed while it was being priced */
};

static void run_price(struct run *r);

static void cost_stored(pl_db_result *res, void *arg)
{
    json_t *event = arg;
    if (res && db_ok(res) && db_ntuples(res) == 1) /* it changed: say so */
        bus_emit("transaction.cost_updated", json_string_value(json_object_get(event, "station_id")),
                 json_incref(event));
    json_decref(event);
}

static void run_priced(void *arg, json_t *tx, json_t *cost, const char *err)
{
    struct run *r = arg;
    (void)err;
    const char *status = json_string_value(json_object_get(cost, "status"));
    if (tx && cost && status && !strcmp(status, "priced") && !json_is_true(json_object_get(tx, "ended"))) {
        json_t *total = json_object_get(cost, "total");
        json_t *event = json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "transaction_id",
                                  json_object_get(tx, "id"), "station_id",
                                  json_object_get(tx, "station_id"), "station_tx_id",
                                  json_object_get(tx, "station_tx_id"), "currency",
                                  json_object_get(cost, "currency"), "total", total, "energy_wh",
                                  json_object_get(cost, "energy_wh"), "tariff_id",
                                  json_object_get(cost, "tariff_id"), "tariff_revision",
                                  json_object_get(cost, "tariff_revision"));
        json_t *msg = json_object_get(cost, "personal_message");
        if (event && msg)
            json_object_set(event, "personal_message", msg);
        const char *p[2] = {r->id, json_string_value(json_object_get(total, "incl_vat"))};
        if (!event || db_query_as("core",
                                  "UPDATE transactions SET cost = $2::numeric, updated_at = now() "
                                  "WHERE id = $1::bigint AND stopped_at IS NULL "
                                  "AND cost IS DISTINCT FROM $2::numeric RETURNING id",
                                  2, p, cost_stored, event) != PL_OK)
            json_decref(event);
    }
    if (r->again && running) {
        r->again = 0;
        run_price(r);
        return;
    }
    if (running)
        hashmap_del(running, r->id);
    free(r);
}

static void run_price(struct run *r)
{
    const char *p[5] = {r->id, NULL, NULL, NULL, NULL};
    price(p, run_priced, r);
}

static void assignments_known(pl_db_result *res, void *arg)
{
    (void)arg;
    const char *v = res && db_ok(res) && db_ntuples(res) == 1 ? db_value(res, 0, 0) : NULL;
    assignments = !v ? ASSIGN_UNKNOWN : (v[0] == 't' ? ASSIGN_SOME : ASSIGN_NONE);
    assignments_checked_ms = core_now_ms();
}

void billing_readings_committed(json_t *ids)
{
    if (!json_array_size(ids))
        return;
    if (assignments == ASSIGN_NONE && core_now_ms() - assignments_checked_ms > ASSIGNMENTS_RECHECK_MS)
        assignments = ASSIGN_UNKNOWN;
    if (assignments == ASSIGN_UNKNOWN) {
        assignments = ASSIGN_ASKING;
        if (db_query_as("core", "SELECT EXISTS (SELECT 1 FROM tariff_assignments WHERE ended_at IS NULL)",
                        0, NULL, assignments_known, NULL) != PL_OK)
            assignments = ASSIGN_UNKNOWN;
        return; /* these readings are priced with the next ones, or on a read of the cost */
    }
    if (assignments != ASSIGN_SOME || (!running && !(running = hashmap_new())))
        return;
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        char id[24];
        snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        struct run *r = hashmap_get(running, id);
        if (r) {
            r->again = 1;
            continue;
        }
        if (!(r = calloc(1, sizeof *r)))
            continue;
        memcpy(r->id, id, sizeof r->id);
        if (hashmap_put(running, r->id, r) != PL_OK) {
            free(r);
            continue;
        }
        run_price(r);
    }
}

static void run_free(void *val, void *arg)
{
    (void)arg;
    free(val);
}

void billing_shutdown(void)
{
    if (!running)
        return;
    hashmap_foreach(running, run_free, NULL);
    hashmap_free(running);
    running = NULL;
}

/* ------------------------------------------------------------------------
 * Charge detail records: written with the stop (model.c), read here.
 * ---------------------------------------------------------------------- */
#define CDR_COLS                                                                              \
    "c.id, c.transaction_id, c.station_id, c.station_tx_id, c.evse, c.connector, c.id_token, " \
    "c.customer_id, " TS("c.started_at") " AS started_at, " TS("c.stopped_at") " AS stopped_at, " \
    "c.energy_wh, c.charging_seconds, c.parking_seconds, c.tariff_id, c.tariff_revision, "     \
    "c.tariff, c.currency, c.components, c.periods, "                                          \
    "json_build_object('excl_vat', c.total_excl_vat::text, 'incl_vat', c.total_incl_vat::text) " \
    "AS total, c.signed_meter_values, c.status, " TS("c.created_at") " AS created_at"

/* "from" and "to" (RFC 3339, each optional), or -1 with the op finished. */
static int time_window(struct domain_op *o, const char **from, const char **to)
{
    *from = op_opt_str(o, "from");
    *to = op_opt_str(o, "to");
    const char *bad = *from && util_parse_rfc3339(*from, NULL) ? "from"
                      : *to && util_parse_rfc3339(*to, NULL) ? "to"
                                                              : NULL;
    if (bad)
        op_finish(o, PL_EINVAL, NULL, "%s: an RFC 3339 time", bad);
    return bad ? -1 : 0;
}

static void cdr_answered(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    json_t *row = op_landed_row(o, res, "charge detail record");
    if (row)
        op_finish(o, PL_OK, row, NULL);
}

static void cdr_get(struct domain_op *o)
{
    op_by_id(o, "SELECT " CDR_COLS " FROM cdrs c WHERE c.id = $1::bigint", cdr_answered);
}

static void cdr_list(struct domain_op *o)
{
    char limit[16], cursor[24], cust[24] = "", tx[24] = "";
    if (op_list_args(o, limit, sizeof limit, cursor, sizeof cursor) != 0)
        return;
    long long c = op_arg_id(o, "customer_id"), t = op_arg_id(o, "transaction_id");
    if (c)
        snprintf(cust, sizeof cust, "%lld", c);
    if (t)
        snprintf(tx, sizeof tx, "%lld", t);
    const char *from, *to;
    if (time_window(o, &from, &to) != 0)
        return;
    const char *p[8] = {op_opt_str(o, "station_id"), *cust ? cust : NULL, *tx ? tx : NULL, from, to,
                        *cursor ? cursor : NULL, limit, op_opt_str(o, "id_token")};
    op_query(o,
             "SELECT " CDR_COLS " FROM cdrs c WHERE ($1::text IS NULL OR c.station_id = $1) "
             "AND ($2::bigint IS NULL OR c.customer_id = $2) AND ($3::bigint IS NULL OR c.transaction_id = $3) "
             "AND ($4::timestamptz IS NULL OR c.stopped_at >= $4) AND ($5::timestamptz IS NULL OR c.stopped_at < $5) "
             "AND ($8::text IS NULL OR c.id_token = $8) "
             "AND ($6::bigint IS NULL OR c.id > $6) ORDER BY c.id LIMIT $7::int",
             8, p, op_listed);
}

/* A customer's statement: its sessions' records stopped in [from, to), and the totals
 * per currency (sums of the records' exact amounts). */
static void statement_read(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    json_t *row = op_landed_row(o, res, "customer");
    if (row)
        op_finish(o, PL_OK, row, NULL);
}

static void customer_statement(struct domain_op *o)
{
    long long c = op_arg_id(o, "customer_id");
    const char *from, *to;
    if (!c) {
        op_finish(o, PL_EINVAL, NULL, "customer_id: a positive integer");
        return;
    }
    if (time_window(o, &from, &to) != 0)
        return;
    char id[24];
    snprintf(id, sizeof id, "%lld", c);
    const char *p[3] = {id, from, to};
    op_query(o,
             "WITH x AS (SELECT " CDR_COLS ", c.total_excl_vat AS ex, c.total_incl_vat AS inc FROM cdrs c "
             "WHERE c.customer_id = $1::bigint AND ($2::timestamptz IS NULL OR c.stopped_at >= $2) "
             "AND ($3::timestamptz IS NULL OR c.stopped_at < $3)) "
             "SELECT k.id AS customer_id, k.name, $2::text AS \"from\", $3::text AS \"to\", "
             "coalesce((SELECT json_agg(json_build_object('currency', currency, 'sessions', n, "
             "'energy_wh', wh, 'excl_vat', ex::text, 'incl_vat', inc::text) ORDER BY currency) FROM "
             "(SELECT currency, count(*) AS n, sum(energy_wh) AS wh, sum(ex) AS ex, sum(inc) AS inc "
             "FROM x WHERE status = 'priced' GROUP BY currency) t), '[]') AS totals, "
             "(SELECT count(*) FROM x WHERE status <> 'priced') AS unpriced_sessions, "
             "coalesce((SELECT json_agg(json_build_object('cdr_id', id, 'transaction_id', transaction_id, "
             "'station_id', station_id, 'id_token', id_token, 'started_at', started_at, 'stopped_at', "
             "stopped_at, 'energy_wh', energy_wh, 'currency', currency, 'total', total, 'status', status) "
             "ORDER BY id) FROM x), '[]') AS sessions "
             "FROM customers k WHERE k.id = $1::bigint",
             3, p, statement_read);
}

/* ------------------------------------------------------------------------ */
static const struct domain_table ops[] = {
    {"tariff.create", tariff_create},       {"tariff.get", tariff_get},
    {"tariff.update", tariff_update},       {"tariff.delete", tariff_delete},
    {"tariff.list", tariff_list},           {"tariff.assign", tariff_assign},
    {"tariff.unassign", tariff_unassign},   {"tariff.assignments", tariff_assignments},
    {"tariff.resolve", tariff_resolve},     {"transaction.cost", transaction_cost},
    {"cdr.get", cdr_get},                   {"cdr.list", cdr_list},
    {"tariff.quote", tariff_quote},         {"customer.statement", customer_statement},
};

static void billing_call(const char *op, json_t *args, pl_domain_cb cb, void *arg)
{
    domain_dispatch(ops, sizeof ops / sizeof ops[0], NULL, op, args, cb, arg);
}

const struct pl_billing_api *billing_api(void)
{
    static const struct pl_billing_api api = {
        .size = sizeof(struct pl_billing_api),
        .call = billing_call,
    };
    return &api;
}
