/* domain.c — see domain.h. */
#include "domain.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void domain_dispatch(const struct domain_table *t, size_t n, const char *fk_error, const char *op,
                     json_t *args, pl_domain_cb cb, void *arg)
{
    for (size_t i = 0; op && i < n; i++) {
        if (strcmp(t[i].name, op) != 0)
            continue;
        struct domain_op *o = calloc(1, sizeof *o);
        if (!o) {
            json_decref(args);
            if (cb)
                cb(arg, PL_ENOMEM, NULL, "out of memory");
            return;
        }
        o->args = args ? args : json_object();
        o->cb = cb;
        o->arg = arg;
        o->name = t[i].name;
        o->fk_error = fk_error ? fk_error : "a record it refers to does not exist";
        t[i].fn(o);
        return;
    }
    json_decref(args);
    if (cb)
        cb(arg, PL_ENOTSUP, NULL, "unknown operation");
}

void op_finish(struct domain_op *o, int rc, json_t *result, const char *fmt, ...)
{
    char err[512] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, sizeof err, fmt, ap);
        va_end(ap);
    }
    if (o->cb)
        o->cb(o->arg, rc, rc == PL_OK ? result : NULL, rc == PL_OK ? NULL : err);
    json_decref(result);
    json_decref(o->args);
    free(o);
}

void op_finish_db(struct domain_op *o, pl_db_result *res)
{
    const char *state = db_sqlstate(res);
    if (strcmp(state, "23505") == 0)
        op_finish(o, PL_EEXIST, NULL, "already exists: %s", db_error(res));
    else if (strcmp(state, "23503") == 0)
        op_finish(o, PL_EINVAL, NULL, "%s", o->fk_error);
    else if (strncmp(state, "22", 2) == 0 || strcmp(state, "23514") == 0)
        op_finish(o, PL_EINVAL, NULL, "invalid value: %s", db_error(res));
    else
        op_finish(o, PL_ERR, NULL, "database unavailable: %s", db_error(res));
}

int op_query(struct domain_op *o, const char *sql, int n, const char *const *p, pl_db_cb cb)
{
    int rc = db_query_as("core", sql, n, p, cb, o);
    if (rc != PL_OK)
        op_finish(o, PL_ERR, NULL, "database unavailable (%s)",
                  rc == PL_EBUSY ? "queue full" : "not queued");
    return rc;
}

long long op_arg_id(struct domain_op *o, const char *key)
{
    json_t *id = json_object_get(o->args, key);
    if (json_is_integer(id) && json_integer_value(id) > 0)
        return (long long)json_integer_value(id);
    const char *s = json_string_value(id);
    char *end;
    long long v = s ? strtoll(s, &end, 10) : 0;
    return s && *s && !*end && v > 0 ? v : 0;
}

json_t *op_first_row(pl_db_result *res)
{
    json_t *rows = db_json(res);
    json_t *row = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return row;
}

json_t *op_landed_row(struct domain_op *o, pl_db_result *res, const char *what)
{
    if (!db_ok(res)) {
        op_finish_db(o, res);
        return NULL;
    }
    json_t *row = op_first_row(res);
    if (!row)
        op_finish(o, PL_ENOENT, NULL, "no such %s", what);
    return row;
}

int op_take_id(struct domain_op *o, char id[24])
{
    long long v = op_arg_id(o, "id");
    if (!v) {
        op_finish(o, PL_EINVAL, NULL, "id: must be a positive integer");
        return -1;
    }
    snprintf(id, 24, "%lld", v);
    return 0;
}

void op_by_id(struct domain_op *o, const char *sql, pl_db_cb cb)
{
    char id[24];
    if (op_take_id(o, id) != 0)
        return;
    const char *p[1] = {id};
    op_query(o, sql, 1, p, cb);
}

int op_list_args(struct domain_op *o, char *limit, size_t len, char *cursor, size_t clen)
{
    json_t *l = json_object_get(o->args, "limit");
    long long n = json_is_integer(l) ? json_integer_value(l) : 50;
    if (n < 1 || n > DOMAIN_LIST_MAX) {
        op_finish(o, PL_EINVAL, NULL, "limit: 1 to %d", DOMAIN_LIST_MAX);
        return -1;
    }
    snprintf(limit, len, "%lld", n);
    const char *cs = json_string_value(json_object_get(o->args, "cursor"));
    char *end;
    if (cs && *cs) {
        long long v = strtoll(cs, &end, 10);
        if (*end || v < 0) {
            op_finish(o, PL_EINVAL, NULL, "cursor: not a cursor this API returned");
            return -1;
        }
        snprintf(cursor, clen, "%lld", v);
    } else {
        cursor[0] = '\0';
    }
    return 0;
}

void op_page(struct domain_op *o, json_t *rows)
{
    json_t *l = json_object_get(o->args, "limit");
    size_t limit = json_is_integer(l) ? (size_t)json_integer_value(l) : 50;
    json_t *last = json_array_get(rows, json_array_size(rows) - 1);
    char next[24] = "";
    if (json_array_size(rows) == limit && last)
        snprintf(next, sizeof next, "%lld", (long long)json_integer_value(json_object_get(last, "id")));
    op_finish(o, PL_OK, json_pack("{s:o, s:s?}", "items", rows, "next_cursor", *next ? next : NULL), NULL);
}

void op_listed(pl_db_result *res, void *arg)
{
    struct domain_op *o = arg;
    if (!db_ok(res)) {
        op_finish_db(o, res);
        return;
    }
    op_page(o, db_json(res));
}

const char *op_opt_str(struct domain_op *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o->args, key));
    return s && *s ? s : NULL;
}
