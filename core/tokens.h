/*
 * tokens.h — the core's authorization domain (see pipelet/tokens.h for the contract):
 * tokens.c keeps the token table in memory and decides; tokens_ops.c changes
 * customers and tokens (and local lists) through the database and tells tokens.c.
 */
#ifndef PIPELET_CORE_TOKENS_H
#define PIPELET_CORE_TOKENS_H

#include <pipelet/tokens.h>

const struct pl_tokens_api *tokens_api(void);
/* After the pool started (connected or not): load the table, refresh it periodically. */
void tokens_start(void);
void tokens_shutdown(void);
/* Read what changed now (SIGHUP; tests); tokens_busy() while a read is on its way. */
void tokens_reload(void);
int tokens_busy(void);
/* Remove every remote authorizer registered by owner; returns how many. */
int tokens_remove_owner(pl_plugin_handle *owner);

/* ---- between tokens.c and tokens_ops.c ---- */
/* A token row as the ops answer it (db_json of TOKEN_COLS): applied to the table. */
void tokens_apply_row(json_t *row);
void tokens_forget(long long id);
/* A customer's state, as far as decisions go. */
void tokens_apply_customer(long long id, const char *status, int allow_concurrent, int priority);
/* The charging priority of a token's customer (0..100; 0 for a token without one). */
int tokens_charging_priority(const char *value);
void tokens_forget_customer(long long id);
int tokens_loaded(void);
/* The table's tokens valid at a station (new array of local-list entries
 * {"id_token","status","expiry","parent"}), sorted by id_token. */
json_t *tokens_local_list(const char *station_id);
/* Stations (at most a few, most recent first) a token was presented at (borrowed strings). */
size_t tokens_seen_at(const char *value, const char **out, size_t max);

#define TOKEN_TS(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define TOKEN_COLS                                                                           \
    "t.id, t.id_token, t.token_type AS type, t.status, " TOKEN_TS("t.expiry") " AS expiry, " \
    "t.group_id, t.customer_id, t.contract_id, to_json(t.stations) AS stations, t.active, "  \
    TOKEN_TS("t.created_at") " AS created_at, " TOKEN_TS("t.updated_at") " AS updated_at"

#endif
