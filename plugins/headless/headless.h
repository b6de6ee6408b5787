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

struct headless {
    pl_plugin_handle *self;
    const struct pl_host *host;
    const struct pl_station_api *st;
    /* remote starts waiting for their transaction (transactions.c), oldest first */
    struct hl_start *starts;
    size_t nstarts;
    pl_subscription *start_sub; /* transaction.started, while starts is not empty */
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
/* commands.c */
void hl_command_get(pl_request *req, void *arg);
void hl_command_list(pl_request *req, void *arg);
/* system.c */
void hl_system(pl_request *req, void *arg);
void hl_system_routes(pl_request *req, void *arg);
void hl_health(pl_request *req, void *arg);
void hl_metrics(pl_request *req, void *arg);
/* openapi.c */
void hl_openapi(pl_request *req, void *arg);
/* ocpp_api.c */
void hl_ocpp_stations(pl_request *req, void *arg);
void hl_ocpp_call(pl_request *req, void *arg);
void hl_ocpp_messages(pl_request *req, void *arg);
void hl_ocpp_config_dump(pl_request *req, void *arg);
void hl_ocpp_config_restore(pl_request *req, void *arg);

/* ---- openapi_json.c (generated from openapi.json by json2c.sh) ---- */
extern const char hl_openapi_json[];
extern const unsigned long hl_openapi_json_len;

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
