/*
 * db.h — the non-blocking PostgreSQL pool (libpq in non-blocking mode on the loop).
 * Queries queue (bounded) until a connection is free; migrations (core's and each
 * plugin's) run on the first connection after every (re)connect, and no other query
 * is sent before they are done.  A database that is down at start or restarts is
 * retried with back-off; queries queued meanwhile wait (up to a deadline, then fail
 * with an error result).
 */
#ifndef PIPELET_DB_H
#define PIPELET_DB_H

#include <pipelet/plugin.h>

/* conninfo: a libpq URL/keyword string; "" = libpq environment (PGHOST, ...). */
int db_init(const char *conninfo, int pool_size, int queue_max, unsigned query_timeout_ms);
/* [database] prepared_statements (after db_init; default on): group items run as
 * prepared statements.  Off behind a pooler that cannot keep them (PgBouncer in
 * transaction mode before 1.21). */
void db_set_prepared_statements(int on);
/* Try to connect and migrate before serving, waiting up to wait_ms (the loop runs
 * meanwhile).  Returns 0 when migrated, -1 if the database is not reachable yet
 * (the daemon starts degraded and keeps retrying). */
int db_start(unsigned wait_ms);
/* Run the loop until no query is queued or in flight (at most wait_ms): what was
 * asked for at start (credentials, the token table) has arrived before "ready". */
int db_settle(unsigned wait_ms);
void db_shutdown(void);  /* close all connections; pending queries fail */

/* component: "core" or a plugin name. */
int db_add_migrations(const char *component, const struct pl_migration *m, size_t n);
/* Remove a component's migrations not yet applied (a plugin going away); 1 if removed. */
int db_remove_migrations(const char *component);
int db_query_as(const char *component, const char *sql, int nparams,
                const char *const *params, pl_db_cb cb, void *arg);
/* db_query_as without copies: sql is a static text, and params (an array from malloc
 * of strings from malloc) are the pool's from the call on, whatever it returns.  For a
 * parameter of a megabyte: the meter values' batch. */
int db_query_take(const char *component, const char *sql, int nparams, char **params,
                  pl_db_cb cb, void *arg);

/* Group commit: the queries run in one transaction, sent in one round trip (libpq
 * pipeline mode), so many writes cost one commit.  Each query's callback gets its own
 * result.  If a statement fails, the transaction is rolled back: that query's
 * callback gets its error and the others are sent again as a new group.  The group
 * counts as one entry of the bounded queue.
 * Nothing is copied: an item's sql is a statement text that lives as long as the
 * program (a literal or a static array: each connection prepares it once, on first
 * use, and runs it by name after), and its params stay valid until its callback has
 * run.  The model's write queue, the one caller, holds both. */
struct db_batch_item {
    const char *sql;
    int nparams;
    const char *const *params;
    pl_db_cb cb;
    void *arg;
};
int db_batch_as(const char *component, const struct db_batch_item *items, size_t n);

/* The pl_host functions (same signatures). */
int db_host_migrations(pl_plugin_handle *self, const struct pl_migration *m, size_t n);
int db_host_query(pl_plugin_handle *self, const char *sql, int nparams,
                  const char *const *params, pl_db_cb cb, void *arg);
int db_ok(pl_db_result *res);
const char *db_error(pl_db_result *res);
const char *db_sqlstate(pl_db_result *res);
int db_ntuples(pl_db_result *res);
int db_nfields(pl_db_result *res);
const char *db_fname(pl_db_result *res, int col);
const char *db_value(pl_db_result *res, int row, int col);
long db_affected(pl_db_result *res);
json_t *db_json(pl_db_result *res);
int db_healthy(void);

/* {"status":"ok"|"degraded","connections":N,"idle":N,"queued":N,"migrated":bool,...} (new) */
json_t *db_stats(void);
/* 1 when a migration failed (the daemon must stop). */
int db_migration_failed(void);

#endif
