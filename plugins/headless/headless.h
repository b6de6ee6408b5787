/*
 * headless.h — internals shared by the files of the headless plugin: the REST gateway
 * /api/v1 and the OCPP server API /ocpp/v1.  Nothing here knows an OCPP version: commands
 * go through pl_station_api.command() with the neutral ops, reads of stations,
 * transactions and commands through the model's read API (pl_host.model).
 */
#ifndef HEADLESS_H
#define HEADLESS_H

#include <stddef.h>
#include <pipelet/pipelet.h>

/* Limits of what a client may ask for. */
#define HL_TIMEOUT_DEFAULT_S 30
#define HL_TIMEOUT_MAX_S 300
#define HL_LIMIT_DEFAULT 50
#define HL_LIMIT_MAX 500
#define HL_STATION_ID_MAX 255
#define HL_CONNECTOR_MAX 1000
#define HL_STATION_TX_ID_MAX 64 /* 2.0.1 transactionId is at most 36; some send more */
/* After a remote start was accepted, how long its transaction is still linked to it when
 * it starts (an EV plugged in late); and how many such watches are kept at most. */
#define HL_START_LINK_S 600
#define HL_START_MAX 1000

struct hl_start;
struct hl_export;

struct headless {
    pl_plugin_handle *self;
    const struct pl_host *host;
    const struct pl_station_api *st;
    /* remote starts waiting for their transaction (transactions.c), oldest first */
    struct hl_start *starts;
    size_t nstarts;
    pl_subscription *start_sub; /* transaction.started, while starts is not empty */
    const struct pl_tokens_api *tokens; /* NULL on a host older than ABI 1.2 */
    const struct pl_billing_api *billing; /* NULL on a host without the tariffs domain */
    const struct pl_load_api *load;       /* NULL on a host without load management */
    struct hl_export *exports;            /* CDR exports streaming (cdr_export.c) */
};

/* One entry of the route table (headless.c).  The table is also what
 * GET /api/v1/system/routes lists and what the OpenAPI test compares against. */
struct hl_route {
    const char *method;
    const char *pattern;
    int scope;
    pl_route_cb cb;
    int optional; /* another component may own it: PL_EEXIST is not an error */
};
const struct hl_route *hl_routes(size_t *n);

/* ---- route handlers (arg is the struct headless *) ---- */
/* stations.c */
void hl_stations_list(pl_request *req, void *arg);
void hl_stations_compact(pl_request *req, void *arg);
void hl_station_get(pl_request *req, void *arg);
void hl_station_liveness(pl_request *req, void *arg);
void hl_station_reset(pl_request *req, void *arg);
void hl_station_disconnect(pl_request *req, void *arg);
void hl_station_availability(pl_request *req, void *arg);
void hl_connector_unlock(pl_request *req, void *arg);
void hl_station_trigger(pl_request *req, void *arg);
/* security_routes.c: a connected station moved to a higher security profile */
void hl_station_security_profile(pl_request *req, void *arg);
void hl_station_data_transfer(pl_request *req, void *arg);
void hl_station_firmware(pl_request *req, void *arg);
void hl_station_diagnostics(pl_request *req, void *arg);
void hl_reservation_create(pl_request *req, void *arg);
void hl_reservation_cancel(pl_request *req, void *arg);
void hl_profile_set(pl_request *req, void *arg);
void hl_profile_clear(pl_request *req, void *arg);
void hl_composite_schedule(pl_request *req, void *arg);
/* transactions.c */
void hl_tx_list(pl_request *req, void *arg);
void hl_tx_get(pl_request *req, void *arg);
void hl_tx_start(pl_request *req, void *arg);
void hl_tx_stop(pl_request *req, void *arg);
void hl_connector_stop(pl_request *req, void *arg);
/* Answer the callers still waiting for a remote start and free every watch (fini). */
void hl_starts_free(struct headless *hl);
/* config_routes.c */
void hl_config_get(pl_request *req, void *arg);
void hl_config_put(pl_request *req, void *arg);
void hl_local_list_get(pl_request *req, void *arg);
void hl_local_list_put(pl_request *req, void *arg);
void hl_clear_cache(pl_request *req, void *arg);
/* customers.c */
void hl_customer_create(pl_request *req, void *arg);
void hl_customer_list(pl_request *req, void *arg);
void hl_customer_get(pl_request *req, void *arg);
void hl_customer_update(pl_request *req, void *arg);
void hl_customer_delete(pl_request *req, void *arg);
void hl_customer_tokens(pl_request *req, void *arg);
void hl_customer_transactions(pl_request *req, void *arg);
void hl_customer_group_create(pl_request *req, void *arg);
void hl_customer_group_list(pl_request *req, void *arg);
void hl_customer_group_get(pl_request *req, void *arg);
void hl_customer_group_update(pl_request *req, void *arg);
void hl_customer_group_delete(pl_request *req, void *arg);
/* tokens_routes.c */
void hl_token_create(pl_request *req, void *arg);
void hl_token_list(pl_request *req, void *arg);
void hl_token_get(pl_request *req, void *arg);
void hl_token_update(pl_request *req, void *arg);
void hl_token_delete(pl_request *req, void *arg);
void hl_token_block(pl_request *req, void *arg);
void hl_token_unblock(pl_request *req, void *arg);
void hl_tokens_import(pl_request *req, void *arg);
void hl_local_list_sync(pl_request *req, void *arg);
/* commands.c */
void hl_command_get(pl_request *req, void *arg);
void hl_command_list(pl_request *req, void *arg);
/* system.c */
void hl_system(pl_request *req, void *arg);
void hl_health(pl_request *req, void *arg);
void hl_metrics(pl_request *req, void *arg);
/* openapi.c: give the host this plugin's part of the API description */
void hl_describe(struct headless *hl);
/* ocpp_api.c */
void hl_ocpp_stations(pl_request *req, void *arg);
void hl_ocpp_call(pl_request *req, void *arg);
void hl_ocpp_messages(pl_request *req, void *arg);
void hl_ocpp_config_dump(pl_request *req, void *arg);
void hl_ocpp_config_restore(pl_request *req, void *arg);

/* ---- openapi_json.c (generated from openapi.json by scripts/text2c.sh) ---- */
extern const char headless_openapi_json[];
extern const unsigned long headless_openapi_json_len;

/* ---- params.c: validation of path/query/body values.  Every getter returns 0 when
 * the value is valid (or absent and optional: *present = 0), else replies 400
 * {"error","code"} itself and returns -1; the handler then just returns. ---- */
enum { HL_OPTIONAL = 0, HL_REQUIRED = 1 };
/* The request body as an object: NULL body -> an empty object (new reference). */
json_t *hl_body(struct headless *hl, pl_request *req);
int hl_path_station(struct headless *hl, pl_request *req, const char **out);
int hl_path_int(struct headless *hl, pl_request *req, const char *name, long min, long max,
                long *out);
int hl_query_int(struct headless *hl, pl_request *req, const char *name, int required,
                 long min, long max, long def, long *out);
int hl_query_bool(struct headless *hl, pl_request *req, const char *name, int *out,
                  int *present);
int hl_query_enum(struct headless *hl, pl_request *req, const char *name,
                  const char *const *allowed, const char **out);
int hl_query_time(struct headless *hl, pl_request *req, const char *name, const char **out);
int hl_body_int(struct headless *hl, pl_request *req, json_t *body, const char *name,
                int required, long min, long max, long *out, int *present);
int hl_body_str(struct headless *hl, pl_request *req, json_t *body, const char *name,
                int required, size_t maxlen, const char **out);
int hl_body_enum(struct headless *hl, pl_request *req, json_t *body, const char *name,
                 int required, const char *const *allowed, const char **out);
int hl_body_bool(struct headless *hl, pl_request *req, json_t *body, const char *name,
                 int required, int *out, int *present);
int hl_body_time(struct headless *hl, pl_request *req, json_t *body, const char *name,
                 int required, const char **out);
/* A transaction as a path names it: {id} is the core's id (a positive integer), or, with
 * ?station_id=, the station's own transaction id (any text, integers included). */
struct hl_tx_ref {
    long id;                   /* the core's id, or 0 */
    const char *station;       /* borrowed from the request; NULL with id */
    const char *station_tx_id; /* borrowed; NULL with id */
};
int hl_path_tx(struct headless *hl, pl_request *req, struct hl_tx_ref *out);
/* 1 when s is a UUID (8-4-4-4-12 hex digits). */
int hl_is_uuid(const char *s);
/* Percent-encode s for a query value into out (always NUL-terminated); -1 if too long. */
int hl_url_encode(const char *s, char *out, size_t outlen);
/* 1 when s is an RFC 3339 date-time ("2026-11-24T19:00:00Z", offsets, fractions). */
int hl_is_rfc3339(const char *s);
/* Cursor pagination: ?limit= and ?cursor= (base64 of the last id).  *cursor is a
 * new malloc'd decoded string or NULL. */
int hl_page_params(struct headless *hl, pl_request *req, long *limit, char **cursor);
char *hl_cursor_encode(const char *last_id); /* new malloc'd */
/* Seconds since an RFC 3339 time, or -1 when it does not parse. */
long hl_seconds_since(const char *rfc3339);
/* A small growable SQL text with numbered parameters ($1, $2, ...). */
struct hl_sql {
    char text[2048];
    const char *params[16];
    int n;
    int overflow;
};
void hl_sql_add(struct hl_sql *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a parameter and returns its number (for "$%d"). */
int hl_sql_param(struct hl_sql *q, const char *value);

/* ---- commands.c: send a neutral command on behalf of a request and answer it ---- */
struct hl_cmd;
/* Custom answer on ACCEPTED (result borrowed).  Must reply, now or later: the request
 * stays valid until answered (a remote start waits for its transaction). */
typedef void (*hl_accept_fn)(struct hl_cmd *c, pl_request *req, const char *command_id,
                             json_t *result);
/* Called exactly once per hl_cmd, after any answer: cmd is the finished command (valid
 * during the call only; any status, also after a 202), or NULL when nothing was sent. */
typedef void (*hl_release_fn)(void *udata, pl_command *cmd);
/* Connector checks made before sending (station online, connector known/free). */
enum {
    HL_CHECK_CONNECTOR = 1,      /* c->connector must be a known connector (404) */
    HL_CHECK_CONNECTOR_FREE = 2, /* ... and not faulted/unavailable/occupied (409) */
    HL_RAW_ANSWER = 4,           /* /ocpp/v1: any station answer is a 200 */
};
/* Begin: reads ?timeout= and Prefer; replies 400 and returns NULL on a bad timeout.
 * args stolen (also on failure). */
struct hl_cmd *hl_cmd_new(struct headless *hl, pl_request *req, const char *station, int op,
                          json_t *args);
void hl_cmd_set_connector(struct hl_cmd *c, long connector, unsigned checks);
void hl_cmd_set_accept(struct hl_cmd *c, hl_accept_fn fn, void *udata);
/* Uses the udata given to hl_cmd_set_accept. */
void hl_cmd_set_release(struct hl_cmd *c, hl_release_fn fn);
void *hl_cmd_udata(struct hl_cmd *c);
json_t *hl_cmd_args(struct hl_cmd *c); /* borrowed */
const char *hl_cmd_station(struct hl_cmd *c);
struct headless *hl_cmd_hl(struct hl_cmd *c);
/* A last check once the station and connector passed theirs; it must call
 * hl_cmd_proceed exactly once, now or later: status 0 sends, else the request is
 * answered with status and code and c is freed. */
typedef void (*hl_precheck_fn)(struct hl_cmd *c);
void hl_cmd_set_precheck(struct hl_cmd *c, hl_precheck_fn fn);
void hl_cmd_proceed(struct hl_cmd *c, int status, const char *code, const char *msg);
/* Check the station (404/409), the connector, then send; answers the request in every
 * case and frees c. */
void hl_cmd_submit(struct hl_cmd *c);
/* Map a PL_E* from pl_station_api.command() to an HTTP error. */
void hl_reply_command_rc(struct headless *hl, pl_request *req, const char *station, int rc,
                         const char *err);
/* Answer 404 STATION_NOT_FOUND or 409 STATION_OFFLINE for a station that is not online,
 * after looking it up in the stations table; or call next() when online / exists. */
typedef void (*hl_station_next_fn)(struct headless *hl, pl_request *req, void *arg,
                                   int exists_in_db);
void hl_station_require(struct headless *hl, pl_request *req, const char *station,
                        int need_online, hl_station_next_fn next, void *arg);
/* Answers of the model's read API (pipelet/model.h) as HTTP: a read that could not be
 * started is 503 DATABASE_BUSY with Retry-After; hl_read_failed answers an error (404
 * with notfound_code, 400, 503 DATABASE_ERROR) and returns 1, or returns 0 on PL_OK. */
void hl_read_refused(struct headless *hl, pl_request *req);
int hl_read_failed(struct headless *hl, pl_request *req, int rc, const char *error,
                   const char *notfound_code);
/* The timeout a request asked for, in ms (after hl_cmd_new-like parsing). */
int hl_timeout_ms(struct headless *hl, pl_request *req, unsigned *ms);
const char *hl_outcome_name(int status);

/* ---- billing_routes.c: tariffs, assignments, session cost (host->billing) ---- */
void hl_tariff_create(pl_request *req, void *arg);
void hl_tariff_list(pl_request *req, void *arg);
void hl_tariff_get(pl_request *req, void *arg);
void hl_tariff_update(pl_request *req, void *arg);
void hl_tariff_delete(pl_request *req, void *arg);
void hl_tariff_assign(pl_request *req, void *arg);
void hl_tariff_assignments(pl_request *req, void *arg);
void hl_tariff_unassign(pl_request *req, void *arg);
void hl_station_tariff(pl_request *req, void *arg);
void hl_tx_cost(pl_request *req, void *arg);
void hl_cdr_list(pl_request *req, void *arg);
void hl_cdr_get(pl_request *req, void *arg);
/* The CDR filters of a request (station_id, customer_id, id_token, transaction_id, from,
 * to) as cdr.list arguments (new), or NULL after a 400. */
json_t *hl_cdr_filters(struct headless *hl, pl_request *req);
/* cdr_export.c */
void hl_cdr_export(pl_request *req, void *arg);
void hl_exports_free(struct headless *hl);
void hl_tariff_quote(pl_request *req, void *arg);
/* load_routes.c: sites, their stations and load, station limits (host->load) */
void hl_site_create(pl_request *req, void *arg);
void hl_site_list(pl_request *req, void *arg);
void hl_site_get(pl_request *req, void *arg);
void hl_site_update(pl_request *req, void *arg);
void hl_site_delete(pl_request *req, void *arg);
void hl_site_station_add(pl_request *req, void *arg);
void hl_site_station_remove(pl_request *req, void *arg);
void hl_site_load(pl_request *req, void *arg);
void hl_site_load_stream(pl_request *req, void *arg);
void hl_station_limit_set(pl_request *req, void *arg);
void hl_station_limit_clear(pl_request *req, void *arg);
void hl_station_limit_get(pl_request *req, void *arg);
/* events.c: the event bus as Server-Sent Events */
void hl_events_stream(pl_request *req, void *arg);
void hl_customer_statement(pl_request *req, void *arg);

/* ---- tokens_routes.c: the customers and tokens domain (host->tokens) ---- */
struct hl_domain_call;
/* Answer a domain result; result borrowed (NULL unless rc == PL_OK).  Must reply. */
typedef void (*hl_domain_ok_fn)(struct hl_domain_call *dc, pl_request *req, json_t *result);
/* Run host->tokens->call(op, args) for a request and answer it: PL_OK -> ok(), or by
 * default `status` with the result; PL_EINVAL 400 INVALID_PARAMETER (the core's message
 * names the field, and for an import the row: both are also given as "field" and
 * "row"), PL_ENOENT 404 <RESOURCE>_NOT_FOUND ("customer" -> CUSTOMER_NOT_FOUND), PL_EEXIST 409 ALREADY_EXISTS, PL_EOFFLINE
 * 409 STATION_OFFLINE, PL_ERR 503 DATABASE_ERROR.  args stolen. */
/* A domain op on the {id} of the path (get, delete; with_body: the body's fields too, an
 * update) answered 200, or 404 <RESOURCE>_NOT_FOUND. */
void hl_domain_by_id(pl_request *req, struct headless *hl, const char *op, const char *resource,
                     int with_body);
void hl_domain_call(struct headless *hl, pl_request *req, const char *op, json_t *args,
                    const char *resource, int status, hl_domain_ok_fn ok, void *udata);
/* The same for the tariffs domain (host->billing; check hl_billing_available first). */
void hl_billing_call(struct headless *hl, pl_request *req, const char *op, json_t *args,
                     const char *resource, int status, hl_domain_ok_fn ok, void *udata);
/* The same for any core domain's call function (host->load->call, ...). */
typedef void (*pl_domain_call_fn)(const char *op, json_t *args, pl_domain_cb cb, void *arg);
void hl_domain_call_with(struct headless *hl, pl_domain_call_fn call, pl_request *req, const char *op,
                         json_t *args, const char *resource, int status, hl_domain_ok_fn ok, void *udata);
void *hl_domain_udata(struct hl_domain_call *dc);
/* ok callbacks every domain shares: a list page (hl_reply_domain_page), and 201 with
 * Location: <udata, the collection's path with its trailing slash><id>. */
void hl_domain_page_ok(struct hl_domain_call *dc, pl_request *req, json_t *result);
void hl_domain_created(struct hl_domain_call *dc, pl_request *req, json_t *result);
/* The same mapping for a domain error answered by hand (resource as above). */
void hl_reply_domain_error(struct headless *hl, pl_request *req, int rc, const char *error,
                           const char *resource);
struct headless *hl_domain_hl(struct hl_domain_call *dc);
/* 501 NOT_SUPPORTED and -1 when the host has no tokens domain, else 0. */
int hl_tokens_available(struct headless *hl, pl_request *req);
/* {id} of the path as a positive integer into buf (decimal text); 400 and -1 if not. */
int hl_path_id(struct headless *hl, pl_request *req, char *buf, size_t len);
/* A core list answer {"items","next_cursor":"<last id>"} with the cursor made opaque
 * (hl_cursor_encode), as the other lists of this API.  Replies 200. */
void hl_reply_domain_page(struct headless *hl, pl_request *req, json_t *result);
/* ?limit= and ?cursor= into a core list's arguments; 400 and -1 when invalid. */
int hl_domain_page_args(struct headless *hl, pl_request *req, json_t *args);

/* Remote start checks against the token table and the station's reservations, for
 * POST /api/v1/transactions.  cb runs exactly once, possibly before this returns:
 * status 0 = allowed; 409 with code TOKEN_BLOCKED, TOKEN_EXPIRED, TOKEN_UNKNOWN
 * (unknown and [core] auth_unknown = reject, or refused by a remote authorizer),
 * CONCURRENT_TRANSACTION (charging at another station or connector, and its customer
 * may not charge twice) or CONNECTOR_RESERVED (an open reservation of the connector for
 * another token); 503 DATABASE_ERROR when no decision could be made (500
 * INTERNAL_ERROR: out of memory).  msg is the message to answer with (borrowed for the
 * call).  station_id and id_token are copied;
 * connector <= 0 skips the reservation check (the station picks the connector). */
typedef void (*hl_start_check_cb)(void *arg, int status, const char *code, const char *msg);
void hl_remote_start_refusal(struct headless *hl, const char *station_id, int connector,
                             const char *id_token, hl_start_check_cb cb, void *arg);

/* config_routes.c: 1 for keys holding credentials (changing them needs an admin key). */
int hl_config_key_sensitive(const char *key);
/* A stored configuration document (kind "configuration" or "variable") as
 * {"key","value","readonly"} (new). */
json_t *hl_config_stored_entry(const char *key, json_t *value);

/* ---- stations.c helpers shared with transactions.c ---- */
/* Status of (evse) in a snapshot: the "worst" connector status, or NULL when the
 * snapshot does not know the evse.  *known_max gets the highest evse id known. */
const char *hl_snapshot_evse_status(json_t *snap, long evse, long *known_max);

#endif
