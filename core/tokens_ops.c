/*
 * tokens_ops.c — what changes customers and ID tokens: create, update, delete, list,
 * block / unblock (pushed to the stations that may still accept the token offline),
 * bulk import (one statement: all or nothing) and local-list sync.  Every change is
 * applied to the in-memory table (tokens.c) once PostgreSQL committed it, and
 * published ("customer.*", "token.*").  Arguments are validated here, field by field,
 * so a refusal names the field (and for an import the row).
 */
#include "tokens.h"
#include "domain.h"
#include "bus.h"
#include "command.h"
#include "core.h"
#include "db.h"
#include "registry.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT_MAX 100000

/* ------------------------------------------------------------------------
 * Validation.
 * ---------------------------------------------------------------------- */
struct field {
    const char *name;
    char kind;        /* s string, i positive integer, b boolean, o object, a array of strings, t time */
    int max;          /* strings: longest length */
    const char *const *words; /* strings: the allowed values */
};

static const char *const token_types[] = {"ISO14443", "ISO15693", "KeyCode", "eMAID", "Central",
                                          "MacAddress", "Local", "NoAuthorization", NULL};
static const char *const token_statuses[] = {"Accepted", "Blocked", "Expired", "Invalid", NULL};
static const char *const customer_statuses[] = {"active", "suspended", NULL};

static const struct field token_fields[] = {
    {"id_token", 's', 36, NULL},   {"type", 's', 16, token_types},
    {"status", 's', 12, token_statuses}, {"expiry", 't', 40, NULL},
    {"group_id", 's', 36, NULL},   {"customer_id", 'i', 0, NULL},
    {"contract_id", 's', 64, NULL}, {"stations", 'a', 48, NULL},
    {NULL, 0, 0, NULL},
};
static const struct field customer_fields[] = {
    {"name", 's', 200, NULL},       {"email", 's', 254, NULL},
    {"phone", 's', 32, NULL},       {"external_ref", 's', 128, NULL},
    {"language", 's', 8, NULL},     {"status", 's', 12, customer_statuses},
    {"allow_concurrent", 'b', 0, NULL}, {"metadata", 'o', 0, NULL},
    {"charging_priority", 'p', 0, NULL}, {"customer_group_id", 'i', 0, NULL},
    {NULL, 0, 0, NULL},
};
static const struct field customer_group_fields[] = {
    {"name", 's', 200, NULL}, {"description", 's', 1000, NULL},
    {NULL, 0, 0, NULL},
};
/* answered by the server, ignored when a client sends them back */
static const char *const read_only[] = {"id", "created_at", "updated_at", "active", NULL};

static int in_list(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(s, *words) == 0)
            return 1;
    return 0;
}

static int check_string(const char *s, const struct field *f, char *err, size_t len)
{
    size_t n = strlen(s);
    if (n == 0 || (int)n > f->max || !util_utf8_valid((const unsigned char *)s, n)) {
        snprintf(err, len, "%s: 1 to %d characters of UTF-8", f->name, f->max);
        return -1;
    }
    if (f->words && !in_list(s, f->words)) {
        char all[200] = "";
        for (const char *const *w = f->words; *w; w++)
            snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", w == f->words ? "" : ", ", *w);
        snprintf(err, len, "%s: one of %s", f->name, all);
        return -1;
    }
    return 0;
}

static int check_value(json_t *v, const struct field *f, char *err, size_t len)
{
    if (json_is_null(v))
        return 0; /* clears an optional field; required ones are checked by the caller */
    switch (f->kind) {
    case 's':
        if (!json_is_string(v))
            break;
        return check_string(json_string_value(v), f, err, len);
    case 't':
        if (!json_is_string(v) || util_parse_rfc3339(json_string_value(v), NULL) != 0)
            break;
        return 0;
    case 'i':
        if (!json_is_integer(v) || json_integer_value(v) <= 0)
            break;
        return 0;
    case 'b':
        if (!json_is_boolean(v))
            break;
        return 0;
    case 'p':
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100) {
            snprintf(err, len, "%s: an integer 0 to 100", f->name);
            return -1;
        }
        return 0;
    case 'o':
        if (!json_is_object(v))
            break;
        return 0;
    case 'a': {
        if (!json_is_array(v) || json_array_size(v) > 1000)
            break;
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if (!json_is_string(x) ||
                                          !util_station_id_valid(json_string_value(x), strlen(json_string_value(x))))
        {
            snprintf(err, len, "%s[%zu]: not a station id", f->name, i);
            return -1;
        }
        return 0;
    }
    }
    static const char *const kinds[] = {"s", "a string", "t", "an RFC 3339 time", "i",
                                        "a positive integer", "b", "a boolean", "o", "an object",
                                        "a", "an array of station ids", NULL};
    const char *what = "valid";
    for (int k = 0; kinds[k]; k += 2)
        if (kinds[k][0] == f->kind)
            what = kinds[k + 1];
    snprintf(err, len, "%s: must be %s", f->name, what);
    return -1;
}

/* Every key known and valid; required ones present (not null). */
static int check_fields(json_t *obj, const struct field *fields, const char *const *required,
                        char *err, size_t len)
{
    if (!json_is_object(obj)) {
        snprintf(err, len, "a JSON object is required");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        const struct field *f = fields;
        while (f->name && strcmp(f->name, key) != 0)
            f++;
        if (!f->name) {
            if (in_list(key, read_only))
                continue;
            snprintf(err, len, "%s: unknown field", key);
            return -1;
        }
        if (check_value(v, f, err, len) != 0)
            return -1;
    }
    for (; required && *required; required++) {
        json_t *r = json_object_get(obj, *required);
        if (!r || json_is_null(r)) {
            snprintf(err, len, "%s: required", *required);
            return -1;
        }
    }
    return 0;
}

/* The args without "id", as JSON text for the SQL ($n::jsonb). */
static char *fields_text(json_t *args)
{
    json_t *copy = json_copy(args);
    json_object_del(copy, "id");
    for (const char *const *r = read_only; *r; r++)
        json_object_del(copy, *r);
    char *text = json_dumps(copy, JSON_COMPACT);
    json_decref(copy);
    return text;
}

/* An update of the fields present ($1 the id, $2 the fields as JSON); required may not
 * be set to null. */
static void update_fields(struct domain_op *o, const struct field *fields, const char *required,
                          const char *sql, pl_db_cb cb)
{
    char err[200], id[24];
    if (op_take_id(o, id) != 0)
        return;
    if (check_fields(o->args, fields, NULL, err, sizeof err) != 0) {
        op_finish(o, PL_EINVAL, NULL, "%s", err);
        return;
    }
    json_t *v = json_object_get(o->args, required);
    if (v && json_is_null(v)) {
        op_finish(o, PL_EINVAL, NULL, "%s: required", required);
        return;
    }
    char *text = fields_text(o->args);
    const char *p[2] = {id, text};
    op_query(o, sql, 2, p, cb);
    free(text);
}


/* ------------------------------------------------------------------------
 * Tokens.
 * ---------------------------------------------------------------------- */
#define TOKEN_VALUES(j)                                                                        \
    j "->>'id_token', coalesce(" j "->>'type', 'ISO14443'), coalesce(" j "->>'status', 'Accepted'), " \
    "(" j "->>'expiry')::timestamptz, " j "->>'group_id', " j "->>'group_id', (" j "->>'customer_id')::bigint, " \
    j "->>'contract_id', CASE WHEN jsonb_typeof(" j "->'stations') = 'array' THEN "            \
    "ARRAY(SELECT jsonb_array_elements_text(" j "->'stations')) END"

static const char SQL_TOKEN_CREATE[] =
    "INSERT INTO id_tokens AS t (id_token, token_type, status, expiry, group_id, parent, "
    "customer_id, contract_id, stations) SELECT " TOKEN_VALUES("j") " FROM (SELECT $1::jsonb AS j) a "
    "RETURNING " TOKEN_COLS;

/* only the fields present change; null clears an optional one */
#define SET(col, key, expr) col " = CASE WHEN $2::jsonb ? '" key "' THEN " expr " ELSE " col " END"
static const char SQL_TOKEN_UPDATE[] =
    "UPDATE id_tokens AS t SET "
    SET("id_token", "id_token", "$2::jsonb->>'id_token'") ", "
    SET("token_type", "type", "$2::jsonb->>'type'") ", "
    SET("status", "status", "$2::jsonb->>'status'") ", "
    SET("expiry", "expiry", "($2::jsonb->>'expiry')::timestamptz") ", "
    SET("group_id", "group_id", "$2::jsonb->>'group_id'") ", "
    SET("parent", "group_id", "$2::jsonb->>'group_id'") ", "
    SET("customer_id", "customer_id", "($2::jsonb->>'customer_id')::bigint") ", "
    SET("contract_id", "contract_id", "$2::jsonb->>'contract_id'") ", "
    SET("stations", "stations", "CASE WHEN jsonb_typeof($2::jsonb->'stations') = 'array' THEN "
                                "ARRAY(SELECT jsonb_array_elements_text($2::jsonb->'stations')) END")
    " WHERE t.id = $1::bigint RETURNING " TOKEN_COLS;

static void token_changed(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    json_t *row = op_landed_row(o, res, "token");
    if (!row)
        return;
    tokens_apply_row(row);
    const char *topic = strcmp(o->name, "token.create") == 0 ? "token.created" : "token.updated";
    bus_emit(topic, NULL, json_incref(row));
    op_finish(o, PL_OK, row, NULL);
}

static void token_create(struct domain_op *o)
{
    char err[200];
    static const char *const req[] = {"id_token", NULL};
    if (check_fields(o->args, token_fields, req, err, sizeof err) != 0) {
        op_finish(o, PL_EINVAL, NULL, "%s", err);
        return;
    }
    char *text = fields_text(o->args);
    const char *p[1] = {text};
    op_query(o, SQL_TOKEN_CREATE, 1, p, token_changed);
    free(text);
}

static void token_update(struct domain_op *o)
{
    update_fields(o, token_fields, "id_token", SQL_TOKEN_UPDATE, token_changed);
}

static void token_got(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    if (!db_ok(res)) {
        op_finish_db(o, res);
        return;
    }
    json_t *row = op_first_row(res);
    if (!row)
        op_finish(o, PL_ENOENT, NULL, "no such token");
    else
        op_finish(o, PL_OK, row, NULL);
}

static void token_get(struct domain_op *o)
{
    op_by_id(o, "SELECT " TOKEN_COLS " FROM id_tokens t WHERE t.id = $1::bigint", token_got);
}

/* A token with transactions is deactivated (its sessions keep their history). */
static const char SQL_TOKEN_DELETE[] =
    "WITH used AS (SELECT EXISTS (SELECT 1 FROM transactions x JOIN id_tokens t "
    "ON x.id_token = t.id_token WHERE t.id = $1::bigint) AS u), "
    "d AS (DELETE FROM id_tokens t WHERE t.id = $1::bigint AND NOT (SELECT u FROM used) RETURNING t.id), "
    "a AS (UPDATE id_tokens t SET active = false WHERE t.id = $1::bigint AND (SELECT u FROM used) "
    "RETURNING " TOKEN_COLS ") "
    "SELECT (SELECT count(*) FROM d)::int AS deleted, (SELECT to_json(a) FROM a) AS deactivated";

static void token_deleted(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    if (!db_ok(res)) {
        op_finish_db(o, res);
        return;
    }
    json_t *row = op_first_row(res);
    json_t *deact = json_object_get(row, "deactivated");
    long long id = op_arg_id(o, "id");
    if (json_integer_value(json_object_get(row, "deleted")) > 0) {
        tokens_forget(id);
        bus_emit("token.deleted", NULL, json_pack("{s:I}", "id", (json_int_t)id));
        op_finish(o, PL_OK, json_pack("{s:I, s:b, s:b}", "id", (json_int_t)id, "deleted", 1, "deactivated", 0), NULL);
    } else if (json_is_object(deact)) {
        tokens_apply_row(deact);
        bus_emit("token.updated", NULL, json_incref(deact));
        op_finish(o, PL_OK, json_pack("{s:I, s:b, s:b}", "id", (json_int_t)id, "deleted", 0, "deactivated", 1), NULL);
    } else {
        op_finish(o, PL_ENOENT, NULL, "no such token");
    }
    json_decref(row);
}

static void token_delete(struct domain_op *o)
{
    op_by_id(o, SQL_TOKEN_DELETE, token_deleted);
}

/* ---- lists with cursors: the cursor is the last id of the page ---- */
static void token_list(struct domain_op *o)
{
    char limit[16], cursor[24], cust[24] = "", act[8] = "";
    if (op_list_args(o, limit, sizeof limit, cursor, sizeof cursor) != 0)
        return;
    json_t *c = json_object_get(o->args, "customer_id");
    if (c) {
        long long v = json_is_integer(c) ? json_integer_value(c) : json_string_value(c) ? strtoll(json_string_value(c), NULL, 10) : 0;
        if (v <= 0) {
            op_finish(o, PL_EINVAL, NULL, "customer_id: must be a positive integer");
            return;
        }
        snprintf(cust, sizeof cust, "%lld", v);
    }
    json_t *a = json_object_get(o->args, "active");
    if (a)
        snprintf(act, sizeof act, "%s", json_is_true(a) || (json_string_value(a) && strcmp(json_string_value(a), "true") == 0) ? "true" : "false");
    const char *p[7] = {op_opt_str(o, "status"), op_opt_str(o, "type"), *cust ? cust : NULL,
                        op_opt_str(o, "q"), *act ? act : NULL, *cursor ? cursor : NULL, limit};
    op_query(o,
          "SELECT " TOKEN_COLS " FROM id_tokens t WHERE ($1::text IS NULL OR t.status = $1) "
          "AND ($2::text IS NULL OR t.token_type = $2) AND ($3::bigint IS NULL OR t.customer_id = $3) "
          "AND ($4::text IS NULL OR strpos(lower(t.id_token), lower($4)) > 0 "
          "OR strpos(lower(coalesce(t.contract_id, '')), lower($4)) > 0) "
          "AND ($5::boolean IS NULL OR t.active = $5) AND ($6::bigint IS NULL OR t.id > $6) "
          "ORDER BY t.id LIMIT $7::int",
          7, p, op_listed);
}

/* ---- block / unblock: stations that may still accept the token offline hear of it ---- */
struct propagation {
    json_t *local_list, *clear_cache, *unreachable;
};

static void send_differential(const char *station, int version, json_t *token, struct propagation *pr)
{
    json_t *entry = json_pack("{s:s, s:s, s:s?, s:s?}", "id_token",
                              json_string_value(json_object_get(token, "id_token")), "status",
                              json_string_value(json_object_get(token, "status")), "expiry",
                              json_string_value(json_object_get(token, "expiry")), "parent",
                              json_string_value(json_object_get(token, "group_id")));
    json_t *args = json_pack("{s:i, s:s, s:[o]}", "version", version + 1, "update_type",
                             "Differential", "entries", entry);
    int rc;
    char err[200];
    if (station_api_command(NULL, station, PL_OP_SEND_LOCAL_LIST, args, 0, NULL, NULL, &rc, err,
                            sizeof err))
        json_array_append_new(pr->local_list, json_string(station));
    else
        json_array_append_new(pr->unreachable, json_string(station));
}

static void block_propagate(struct domain_op *o, json_t *token, json_t *lists)
{
    struct propagation pr = {json_array(), json_array(), json_array()};
    size_t i;
    json_t *l;
    json_array_foreach(lists, i, l) {
        const char *st = json_string_value(json_object_get(l, "station_id"));
        if (st)
            send_differential(st, (int)json_integer_value(json_object_get(l, "version")), token, &pr);
    }
    /* stations without a local list that saw the token may hold it in their cache */
    const char *seen[16];
    size_t n = tokens_seen_at(json_string_value(json_object_get(token, "id_token")), seen, 16);
    for (size_t k = 0; k < n; k++) {
        int op_listed = 0;
        json_array_foreach(lists, i, l) op_listed |= strcmp(json_string_value(json_object_get(l, "station_id")), seen[k]) == 0;
        if (op_listed)
            continue;
        int rc;
        char err[200];
        if (station_api_command(NULL, seen[k], PL_OP_CLEAR_CACHE, json_object(), 0, NULL, NULL,
                                &rc, err, sizeof err))
            json_array_append_new(pr.clear_cache, json_string(seen[k]));
        else
            json_array_append_new(pr.unreachable, json_string(seen[k]));
    }
    json_object_set_new(token, "propagation",
                        json_pack("{s:o, s:o, s:o}", "local_list", pr.local_list, "clear_cache",
                                  pr.clear_cache, "unreachable", pr.unreachable));
    (void)o;
}

static const char SQL_TOKEN_STATUS[] =
    "WITH u AS (UPDATE id_tokens AS t SET status = $2 WHERE t.id = $1::bigint RETURNING " TOKEN_COLS ") "
    "SELECT to_json(u) AS token, (SELECT coalesce(json_agg(json_build_object('station_id', d.station_id, "
    "'version', coalesce((v.value->>'version')::int, 0))), '[]') FROM station_docs d "
    "LEFT JOIN station_docs v ON v.station_id = d.station_id AND v.kind = 'local_list_version' "
    "AND v.key = 'version' WHERE d.kind = 'local_list' AND d.key = u.id_token) AS lists FROM u";

static void status_changed(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    if (!db_ok(res)) {
        op_finish_db(o, res);
        return;
    }
    json_t *row = op_first_row(res);
    json_t *token = json_incref(json_object_get(row, "token"));
    if (!token) {
        json_decref(row);
        op_finish(o, PL_ENOENT, NULL, "no such token");
        return;
    }
    tokens_apply_row(token);
    block_propagate(o, token, json_object_get(row, "lists"));
    json_decref(row);
    bus_emit(strcmp(o->name, "token.block") == 0 ? "token.blocked" : "token.unblocked", NULL,
             json_incref(token));
    op_finish(o, PL_OK, token, NULL);
}

static void token_set_status(struct domain_op *o, const char *status)
{
    char id[24];
    if (op_take_id(o, id) != 0)
        return;
    const char *p[2] = {id, status};
    op_query(o, SQL_TOKEN_STATUS, 2, p, status_changed);
}

static void token_block(struct domain_op *o) { token_set_status(o, "Blocked"); }
static void token_unblock(struct domain_op *o) { token_set_status(o, "Accepted"); }

/* ---- bulk import: every row checked first (a refusal names row and field), then one
 * statement, so nothing is imported unless everything is ---- */
static void imported(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    if (!db_ok(res)) {
        op_finish_db(o, res);
        return;
    }
    json_t *rows = db_json(res);
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) tokens_apply_row(r);
    bus_emit("tokens.imported", NULL, json_pack("{s:i}", "imported", (int)json_array_size(rows)));
    op_finish(o, PL_OK, json_pack("{s:i}", "imported", (int)json_array_size(rows)), NULL);
    json_decref(rows);
}

static void tokens_import(struct domain_op *o)
{
    json_t *list = json_object_get(o->args, "tokens");
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > IMPORT_MAX) {
        op_finish(o, PL_EINVAL, NULL, "tokens: an array of 1 to %d tokens", IMPORT_MAX);
        return;
    }
    static const char *const req[] = {"id_token", NULL};
    json_t *seen = json_object();
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t) {
        char err[200], key[80];
        if (check_fields(t, token_fields, req, err, sizeof err) != 0) {
            json_decref(seen);
            op_finish(o, PL_EINVAL, NULL, "row %zu: %s", i + 1, err);
            return;
        }
        const char *type = json_string_value(json_object_get(t, "type"));
        const char *value = json_string_value(json_object_get(t, "id_token"));
        snprintf(key, sizeof key, "%s/%s", type ? type : "ISO14443", value);
        json_t *other = json_object_get(seen, key);
        json_t *known = tokens_api()->lookup(value, type ? type : "ISO14443");
        json_decref(known);
        if (other || known) {
            long long first = (long long)json_integer_value(other); /* before seen goes */
            json_decref(seen);
            if (other)
                op_finish(o, PL_EINVAL, NULL, "row %zu: id_token: the same as row %lld", i + 1, first);
            else
                op_finish(o, PL_EEXIST, NULL, "row %zu: id_token: %s already exists", i + 1, value);
            return;
        }
        json_object_set_new(seen, key, json_integer((json_int_t)(i + 1)));
    }
    json_decref(seen);
    char *text = json_dumps(list, JSON_COMPACT);
    const char *p[1] = {text};
    op_query(o,
          "INSERT INTO id_tokens AS t (id_token, token_type, status, expiry, group_id, parent, "
          "customer_id, contract_id, stations) SELECT " TOKEN_VALUES("e.j")
          " FROM jsonb_array_elements($1::jsonb) AS e(j) RETURNING " TOKEN_COLS,
          1, p, imported);
    free(text);
}

/* ------------------------------------------------------------------------
 * Customers.
 * ---------------------------------------------------------------------- */
#define CUSTOMER_COLS                                                                         \
    "c.id, c.name, c.email, c.phone, c.external_ref, c.language, c.status, c.allow_concurrent, " \
    "c.charging_priority, c.customer_group_id, c.metadata, " TOKEN_TS("c.created_at") " AS created_at, " TOKEN_TS("c.updated_at") " AS updated_at"

static void customer_changed(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    json_t *row = op_landed_row(o, res, "customer");
    if (!row)
        return;
    tokens_apply_customer((long long)json_integer_value(json_object_get(row, "id")),
                          json_string_value(json_object_get(row, "status")),
                          json_is_true(json_object_get(row, "allow_concurrent")),
                          (int)json_integer_value(json_object_get(row, "charging_priority")));
    if (strcmp(o->name, "customer.get") != 0)
        bus_emit(strcmp(o->name, "customer.create") == 0 ? "customer.created" : "customer.updated",
                 NULL, json_incref(row));
    op_finish(o, PL_OK, row, NULL);
}

#define CSET(col) col " = CASE WHEN $2::jsonb ? '" col "' THEN $2::jsonb->>'" col "' ELSE " col " END"
static const char SQL_CUSTOMER_UPDATE[] =
    "UPDATE customers AS c SET " CSET("name") ", " CSET("email") ", " CSET("phone") ", "
    CSET("external_ref") ", " CSET("language") ", "
    "status = CASE WHEN $2::jsonb ? 'status' THEN $2::jsonb->>'status' ELSE status END, "
    "allow_concurrent = CASE WHEN $2::jsonb ? 'allow_concurrent' THEN ($2::jsonb->>'allow_concurrent')::boolean "
    "ELSE allow_concurrent END, "
    "charging_priority = CASE WHEN $2::jsonb ? 'charging_priority' THEN "
    "coalesce(($2::jsonb->>'charging_priority')::smallint, 0) ELSE charging_priority END, "
    "customer_group_id = CASE WHEN $2::jsonb ? 'customer_group_id' THEN "
    "($2::jsonb->>'customer_group_id')::bigint ELSE customer_group_id END, "
    "metadata = CASE WHEN $2::jsonb ? 'metadata' THEN coalesce($2::jsonb->'metadata', '{}'::jsonb) ELSE metadata END "
    "WHERE c.id = $1::bigint RETURNING " CUSTOMER_COLS;

static void customer_create(struct domain_op *o)
{
    char err[200];
    static const char *const req[] = {"name", NULL};
    if (check_fields(o->args, customer_fields, req, err, sizeof err) != 0) {
        op_finish(o, PL_EINVAL, NULL, "%s", err);
        return;
    }
    char *text = fields_text(o->args);
    const char *p[1] = {text};
    o->fk_error = "customer_group_id: no such customer group";
    op_query(o,
          "INSERT INTO customers AS c (name, email, phone, external_ref, language, status, "
          "allow_concurrent, charging_priority, customer_group_id, metadata) SELECT j->>'name', "
          "j->>'email', j->>'phone', j->>'external_ref', j->>'language', coalesce(j->>'status', 'active'), "
          "coalesce((j->>'allow_concurrent')::boolean, false), coalesce((j->>'charging_priority')::smallint, 0), "
          "(j->>'customer_group_id')::bigint, coalesce(j->'metadata', '{}'::jsonb) "
          "FROM (SELECT $1::jsonb AS j) a RETURNING " CUSTOMER_COLS,
          1, p, customer_changed);
    free(text);
}

static void customer_update(struct domain_op *o)
{
    o->fk_error = "customer_group_id: no such customer group";
    update_fields(o, customer_fields, "name", SQL_CUSTOMER_UPDATE, customer_changed);
}

static void customer_get(struct domain_op *o)
{
    op_by_id(o, "SELECT " CUSTOMER_COLS " FROM customers c WHERE c.id = $1::bigint", customer_changed);
}

static void customer_deleted(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    if (!db_ok(res)) {
        op_finish_db(o, res);
        return;
    }
    if (db_ntuples(res) < 1) {
        op_finish(o, PL_ENOENT, NULL, "no such customer");
        return;
    }
    long long id = op_arg_id(o, "id");
    tokens_forget_customer(id);
    bus_emit("customer.deleted", NULL, json_pack("{s:I}", "id", (json_int_t)id));
    op_finish(o, PL_OK, json_pack("{s:I, s:b}", "id", (json_int_t)id, "deleted", 1), NULL);
}

static void customer_delete(struct domain_op *o)
{
    op_by_id(o, "DELETE FROM customers WHERE id = $1::bigint RETURNING id", customer_deleted);
}

static void customer_list(struct domain_op *o)
{
    char limit[16], cursor[24];
    if (op_list_args(o, limit, sizeof limit, cursor, sizeof cursor) != 0)
        return;
    long long group = op_arg_id(o, "customer_group_id");
    char g[24];
    snprintf(g, sizeof g, "%lld", group);
    const char *p[5] = {op_opt_str(o, "status"), op_opt_str(o, "q"), *cursor ? cursor : NULL, limit,
                        group ? g : NULL};
    op_query(o,
          "SELECT " CUSTOMER_COLS " FROM customers c WHERE ($1::text IS NULL OR c.status = $1) "
          "AND ($5::bigint IS NULL OR c.customer_group_id = $5) "
          "AND ($2::text IS NULL OR strpos(lower(c.name), lower($2)) > 0 "
          "OR strpos(lower(coalesce(c.email, '')), lower($2)) > 0 "
          "OR strpos(lower(coalesce(c.external_ref, '')), lower($2)) > 0) "
          "AND ($3::bigint IS NULL OR c.id > $3) ORDER BY c.id LIMIT $4::int",
          5, p, op_listed);
}

/* ------------------------------------------------------------------------
 * Customer groups: a name that customers share, so that a tariff can be assigned to all
 * of them at once (billing.c resolves a member's group after the customer itself).
 * ---------------------------------------------------------------------- */
#define GROUP_COLS                                                                         \
    "g.id, g.name, g.description, (SELECT count(*) FROM customers m WHERE m.customer_group_id = g.id) " \
    "AS customers, " TOKEN_TS("g.created_at") " AS created_at, " TOKEN_TS("g.updated_at") " AS updated_at"

static void group_changed(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    if (!db_ok(res) && db_sqlstate(res) && strcmp(db_sqlstate(res), "23505") == 0) {
        op_finish(o, PL_EEXIST, NULL, "name: a customer group of that name exists");
        return;
    }
    json_t *row = op_landed_row(o, res, "customer group");
    if (!row)
        return;
    if (strcmp(o->name, "customer_group.get") != 0)
        bus_emit(strcmp(o->name, "customer_group.create") == 0 ? "customer_group.created"
                                                                  : "customer_group.updated",
                 NULL, json_incref(row));
    op_finish(o, PL_OK, row, NULL);
}

static void group_create(struct domain_op *o)
{
    char err[200];
    static const char *const req[] = {"name", NULL};
    if (check_fields(o->args, customer_group_fields, req, err, sizeof err) != 0) {
        op_finish(o, PL_EINVAL, NULL, "%s", err);
        return;
    }
    char *text = fields_text(o->args);
    const char *p[1] = {text};
    op_query(o,
          "WITH g AS (INSERT INTO customer_groups (name, description) SELECT j->>'name', "
          "j->>'description' FROM (SELECT $1::jsonb AS j) a RETURNING *) SELECT " GROUP_COLS " FROM g",
          1, p, group_changed);
    free(text);
}

static void group_update(struct domain_op *o)
{
    update_fields(o, customer_group_fields, "name",
                  "WITH g AS (UPDATE customer_groups SET "
                  "name = coalesce($2::jsonb->>'name', name), "
                  "description = CASE WHEN $2::jsonb ? 'description' THEN $2::jsonb->>'description' "
                  "ELSE description END, updated_at = now() WHERE id = $1::bigint RETURNING *) "
                  "SELECT " GROUP_COLS " FROM g",
                  group_changed);
}

static void group_get(struct domain_op *o)
{
    op_by_id(o, "SELECT " GROUP_COLS " FROM customer_groups g WHERE g.id = $1::bigint", group_changed);
}

static void group_deleted(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    if (!db_ok(res)) {
        op_finish_db(o, res);
        return;
    }
    if (db_ntuples(res) < 1) {
        op_finish(o, PL_ENOENT, NULL, "no such customer group");
        return;
    }
    long long id = op_arg_id(o, "id");
    bus_emit("customer_group.deleted", NULL, json_pack("{s:I}", "id", (json_int_t)id));
    op_finish(o, PL_OK, json_pack("{s:I, s:b}", "id", (json_int_t)id, "deleted", 1), NULL);
}

/* Its members stay, without a group; its tariff assignments go with it. */
static void group_delete(struct domain_op *o)
{
    op_by_id(o, "DELETE FROM customer_groups WHERE id = $1::bigint RETURNING id", group_deleted);
}

static void group_list(struct domain_op *o)
{
    char limit[16], cursor[24];
    if (op_list_args(o, limit, sizeof limit, cursor, sizeof cursor) != 0)
        return;
    const char *p[3] = {op_opt_str(o, "q"), *cursor ? cursor : NULL, limit};
    op_query(o,
          "SELECT " GROUP_COLS " FROM customer_groups g WHERE ($1::text IS NULL "
          "OR strpos(lower(g.name), lower($1)) > 0) "
          "AND ($2::bigint IS NULL OR g.id > $2) ORDER BY g.id LIMIT $3::int",
          3, p, op_listed);
}

/* ------------------------------------------------------------------------
 * Local-list sync: the station's list from the table, Full or Differential against
 * what the core recorded the station accepted.
 * ---------------------------------------------------------------------- */
static json_t *differential(json_t *want, json_t *have)
{
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(want, i, e) {
        json_t *h = json_object_get(have, json_string_value(json_object_get(e, "id_token")));
        json_t *cmp = json_copy(e);
        json_object_del(cmp, "id_token");
        if (!h || !json_equal(h, cmp))
            json_array_append(out, e);
        json_decref(cmp);
    }
    const char *key;
    json_t *v;
    json_t *wanted = json_object();
    json_array_foreach(want, i, e) json_object_set_new(wanted, json_string_value(json_object_get(e, "id_token")), json_true());
    json_object_foreach(have, key, v) if (!json_object_get(wanted, key))
        json_array_append_new(out, json_pack("{s:s}", "id_token", key)); /* no status: remove */
    json_decref(wanted);
    return out;
}

static void list_read(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    if (!db_ok(res)) {
        op_finish_db(o, res);
        return;
    }
    const char *station = json_string_value(json_object_get(o->args, "station_id"));
    const char *type = op_opt_str(o, "update_type");
    json_t *rows = db_json(res), *have = json_object();
    int version = 0;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        const char *kind = json_string_value(json_object_get(r, "kind"));
        json_t *value = json_object_get(r, "value");
        if (kind && strcmp(kind, "local_list_version") == 0)
            version = (int)json_integer_value(json_object_get(value, "version"));
        else if (kind)
            json_object_set(have, json_string_value(json_object_get(r, "key")), value);
    }
    json_decref(rows);
    json_t *want = tokens_local_list(station);
    if (!type)
        type = version > 0 ? "Differential" : "Full";
    json_t *entries = strcmp(type, "Full") == 0 ? json_incref(want) : differential(want, have);
    json_decref(want);
    json_decref(have);
    json_t *args = json_pack("{s:i, s:s, s:O}", "version", version + 1, "update_type", type,
                             "entries", entries);
    int rc;
    char err[200];
    pl_command *cmd = station_api_command(NULL, station, PL_OP_SEND_LOCAL_LIST, args, 0, NULL,
                                          NULL, &rc, err, sizeof err);
    if (!cmd) {
        json_decref(entries);
        op_finish(o, rc, NULL, "%s", err);
        return;
    }
    op_finish(o, PL_OK,
           json_pack("{s:s, s:s, s:i, s:s, s:o}", "station_id", station, "command_id",
                     station_api_command_id(cmd), "version", version + 1, "update_type", type,
                     "entries", entries),
           NULL);
}

static void local_list_sync(struct domain_op *o)
{
    const char *station = op_opt_str(o, "station_id");
    const char *type = op_opt_str(o, "update_type");
    if (!station || !util_station_id_valid(station, strlen(station))) {
        op_finish(o, PL_EINVAL, NULL, "station_id: required");
        return;
    }
    if (type && strcmp(type, "Full") != 0 && strcmp(type, "Differential") != 0) {
        op_finish(o, PL_EINVAL, NULL, "update_type: Full or Differential");
        return;
    }
    if (!tokens_loaded()) {
        op_finish(o, PL_ERR, NULL, "the token table is not loaded yet (database unavailable)");
        return;
    }
    if (!station_api_find(station)) {
        op_finish(o, PL_EOFFLINE, NULL, "station %s is not connected", station);
        return;
    }
    const char *p[1] = {station};
    op_query(o,
          "SELECT kind, key, value FROM station_docs WHERE station_id = $1 "
          "AND kind IN ('local_list', 'local_list_version')",
          1, p, list_read);
}

/* ------------------------------------------------------------------------ */
static const struct domain_table ops[] = {
    {"customer.create", customer_create}, {"customer.get", customer_get},
    {"customer.update", customer_update}, {"customer.delete", customer_delete},
    {"customer.list", customer_list},     {"customer_group.create", group_create},
    {"customer_group.get", group_get},    {"customer_group.update", group_update},
    {"customer_group.delete", group_delete}, {"customer_group.list", group_list},
    {"token.create", token_create},
    {"token.get", token_get},             {"token.update", token_update},
    {"token.delete", token_delete},       {"token.list", token_list},
    {"token.block", token_block},         {"token.unblock", token_unblock},
    {"tokens.import", tokens_import},     {"local_list.sync", local_list_sync},
};

void tokens_ops_call(const char *op, json_t *args, pl_domain_cb cb, void *arg);

void tokens_ops_call(const char *op, json_t *args, pl_domain_cb cb, void *arg)
{
    domain_dispatch(ops, sizeof ops / sizeof ops[0], "customer_id: no such customer", op, args, cb,
                    arg);
}
