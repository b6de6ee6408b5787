/*
 * domain.h — what every domain operation of the core (customers and tokens, tariffs)
 * does the same way: an operation carries its arguments and its caller's callback, runs
 * one or more queries, and finishes exactly once with a domain code (PL_OK, PL_EINVAL
 * naming the field, PL_ENOENT, PL_EEXIST, PL_ERR for the database) — the contract of
 * pl_domain_cb in pipelet/tokens.h.
 */
#ifndef PIPELET_CORE_DOMAIN_H
#define PIPELET_CORE_DOMAIN_H

#include <jansson.h>
#include <pipelet/tokens.h>

#include "db.h"

struct domain_op {
    json_t *args;          /* owned */
    pl_domain_cb cb;
    void *arg;
    const char *name;      /* "customer.create", ... (static) */
    const char *fk_error;  /* the message for a missing referenced row (23503) */
    void *state;           /* the operation's own, freed by it before finishing */
};

struct domain_table {
    const char *name;
    void (*fn)(struct domain_op *o);
};

/* Find op in table and run it; an unknown op answers PL_ENOTSUP.  args stolen.
 * fk_error (static) is what a missing referenced row is called ("customer_id: no such
 * customer"). */
void domain_dispatch(const struct domain_table *t, size_t n, const char *fk_error, const char *op,
                     json_t *args, pl_domain_cb cb, void *arg);

/* Answer the caller once and free the operation; result is stolen. */
void op_finish(struct domain_op *o, int rc, json_t *result, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A database failure as a domain code: unique values, missing references, checks. */
void op_finish_db(struct domain_op *o, pl_db_result *res);
/* Queue a query with cb(res, o); when it cannot be queued the op is finished (PL_ERR). */
int op_query(struct domain_op *o, const char *sql, int n, const char *const *p, pl_db_cb cb);

/* The "id" argument (integer or decimal text), or 0. */
long long op_arg_id(struct domain_op *o, const char *key);
/* The first row of a result as an object (new), or NULL. */
json_t *op_first_row(pl_db_result *res);
/* The row a statement answered, or NULL with the op finished (database error, or
 * "no such <what>"). */
json_t *op_landed_row(struct domain_op *o, pl_db_result *res, const char *what);
/* The "id" argument as text for a query, or -1 with the op finished. */
int op_take_id(struct domain_op *o, char id[24]);
/* A query whose one parameter is the id. */
void op_by_id(struct domain_op *o, const char *sql, pl_db_cb cb);


/* Paging: "limit" (1 to DOMAIN_LIST_MAX, 50 by default) and "cursor" (the last id of the
 * page before) as query text ("" for no cursor), or -1 with the op finished. */
#define DOMAIN_LIST_MAX 500
int op_list_args(struct domain_op *o, char *limit, size_t len, char *cursor, size_t clen);
/* Finish with {"items": rows, "next_cursor"} (rows stolen): a full page has a next one. */
void op_page(struct domain_op *o, json_t *rows);
/* A db callback for a list query: op_page of its rows. */
void op_listed(pl_db_result *res, void *arg);
/* A non-empty string argument, or NULL. */
const char *op_opt_str(struct domain_op *o, const char *key);

#endif
