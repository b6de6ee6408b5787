/*
 * oicp.h — shared state of the oicp plugin: Hubject roaming for the charge-point
 * operator (OICP 2.3, CPO side).
 *
 *   oicp.c      lifecycle, configuration, migrations, route registration
 *   hub.c       calls to Hubject: mutual TLS, the acknowledgement, metrics per operation
 *   evse.c      EVSE master data (per station), EvseIDs, data and status pushes
 *   sessions.c  roaming sessions: the open ones in memory, AuthorizeStart / AuthorizeStop
 *               for unknown tokens, transactions tied to sessions, notifications
 *   remote.c    the hub's calls: remote start/stop and reservations, identifications
 *   outbox.c    charging notifications and CDRs, through the core's durable outbox
 *   routes.c    /api/v1/hubject/... and /ocpp/v1/hubject/...
 *
 * The database is the truth for sessions, EVSE master data and the outbox; memory holds
 * the open sessions (for the authorization path, which must not wait for a query) and
 * the status changes not pushed yet.
 */
#ifndef OICP_H
#define OICP_H

#include <pipelet/pipelet.h>

/* openapi.json, embedded at build time (scripts/text2c.sh) */
extern const char oicp_openapi_json[];
extern const unsigned long oicp_openapi_json_len;

/* The operations, in the specification's names.  Paths are relative to [oicp] url. */
enum oicp_op {
    OICP_AUTHORIZE_START,
    OICP_AUTHORIZE_STOP,
    OICP_CDR,
    OICP_PUSH_EVSE_DATA,
    OICP_PUSH_EVSE_STATUS,
    OICP_PUSH_PRICING_PRODUCTS,
    OICP_PUSH_EVSE_PRICING,
    OICP_CHARGING_NOTIFICATION,
    OICP_OP__COUNT
};

/* The last answer of one operation, for /api/v1/hubject/status. */
struct oicp_op_state {
    char at[40];          /* RFC 3339 of the last call, "" before one */
    int http_status;      /* 0: no response */
    int result;           /* the acknowledgement's Result (1/0), -1 when none */
    char code[8];         /* StatusCode.Code */
    char detail[200];     /* the description or the transport error */
    unsigned long ok, failed;
};

/* A roaming session the gateway knows of, while open (status pending, reserved,
 * authorized or active).  Mirrors a row of oicp_sessions. */
struct oicp_session {
    struct oicp_session *next;
    char id[37];          /* Hubject's SessionID */
    char *station_id;
    int evse;
    char *evse_id;
    char *id_token;       /* what the station sees (idTag / idToken) */
    char *provider_id;
    char *status;         /* "pending" | "reserved" | "authorized" | "active" */
    long long transaction_id; /* the core's, 0 before the station started it */
    uint64_t expires_ms;  /* pending/authorized/reserved: when the hub's grant lapses */
    uint64_t progress_ms; /* last Progress notification */
    char started[40];     /* the transaction's start, RFC 3339, "" before */
    json_t *stop_ids;     /* AuthorizationStopIdentifications: tokens that may stop it */
};

/* EVSE master data of one station: its record (the OICP fields shared by its EVSEs) and
 * the EvseIDs of its EVSEs. */
struct oicp_location {
    struct oicp_location *next;
    char *station_id;
    json_t *data;         /* the stored record (new reference) */
    size_t nevses;
    int *evses;           /* EVSE numbers */
    char **evse_ids;      /* their EvseIDs */
};

struct oicp_status_change;

struct oicp {
    const struct pl_host *host;
    pl_plugin_handle *self;
    int enabled;          /* url and operator_id are set */
    /* settings */
    const char *url, *operator_id, *operator_name, *client_cert, *client_key, *ca_file;
    const char *endpoint_prefix;
    char **providers;     /* ProviderIDs whose remote calls are accepted; none: any */
    size_t nproviders;
    char **allow_from;    /* addresses the hub calls from; none: any */
    size_t nallow;
    int require_client_cert;
    const char *client_subject; /* the subject the hub's certificate must have; NULL: any */
    long timeout_ms, authorize_timeout_ms, remote_timeout_ms, status_delay_ms;
    long data_interval_s, progress_interval_s, retry_max_delay_s, reservation_minutes;
    int notifications, push_pricing;
    /* state */
    struct oicp_op_state ops[OICP_OP__COUNT];
    struct oicp_session *sessions;
    struct oicp_location *locations;
    int locations_loaded;
    pl_subscription *subs[7];
    /* status pushes: changes waiting (coalesced per EvseID), one push in flight */
    struct oicp_status_change *pending;
    int status_busy, status_full_due;
    unsigned status_backoff_ms;
    pl_timer *status_timer;
    pl_timer *data_timer;
    /* pricing (pricing.c): one push at a time, another due after it */
    int pricing_busy, pricing_due;
    pl_timer *pricing_timer;
    pl_timer *sweep_timer;
    int stopping;
};

/* ---- hub.c ---- */
const char *oicp_op_name(enum oicp_op op);
/* The path of op (with the operator id) into buf. */
const char *oicp_op_path(struct oicp *o, enum oicp_op op, char *buf, size_t len);
/* done: resp is the hub's JSON answer (borrowed, NULL on a transport error or a body that
 * is not JSON), http_status 0 without a response, error the transport error or NULL. */
typedef void (*oicp_hub_cb)(struct oicp *o, int http_status, json_t *resp, const char *error,
                            void *arg);
/* POST body (stolen) to op; timeout 0: [oicp] timeout_ms.  PL_OK or an error (cb not called). */
int oicp_hub_call(struct oicp *o, enum oicp_op op, json_t *body, unsigned timeout_ms,
                  oicp_hub_cb cb, void *arg);
/* The acknowledgement's Result (1/0, -1 when resp is none) and code ("" when none). */
int oicp_ack_result(json_t *resp, const char **code);
/* An eRoamingAcknowledgement (new). */
json_t *oicp_ack(int result, const char *code, const char *description);
json_t *oicp_hub_status(struct oicp *o); /* per operation: the last answer, counts */
/* What the caller of a push is told: {"acknowledged", "http_status", "code"?, "error"?,
 * "description"?} (new). */
json_t *oicp_push_outcome(int http_status, json_t *resp, const char *error);

/* ---- evse.c ---- */
int oicp_evse_start(struct oicp *o);
void oicp_evse_free(struct oicp *o);
struct oicp_location *oicp_location_find(struct oicp *o, const char *station_id);
/* The station and EVSE an EvseID names, or NULL. */
struct oicp_location *oicp_location_by_evse_id(struct oicp *o, const char *evse_id, int *evse);
const char *oicp_location_evse_id(struct oicp_location *l, int evse); /* NULL if none */
/* Validate and store a station's record, push it (insert/update); delete pushes a delete. */
typedef void (*oicp_done_cb)(void *arg, int status, json_t *body /* stolen */);
void oicp_location_put(struct oicp *o, const char *station_id, json_t *record, oicp_done_cb cb,
                       void *arg);
void oicp_location_delete(struct oicp *o, const char *station_id, oicp_done_cb cb, void *arg);
json_t *oicp_location_json(struct oicp *o, struct oicp_location *l); /* new */
/* The EVSE data records as they would be sent (new array). */
json_t *oicp_evse_records(struct oicp *o);
/* fullLoad of data and status (start, sync): cb gets {"data":{...},"status":{...}} */
void oicp_evse_sync(struct oicp *o, oicp_done_cb cb, void *arg);
/* The OICP status of an OCPP connector status. */
const char *oicp_evse_status(const char *ocpp_status);
void oicp_evse_on_event(const char *topic, json_t *env, void *arg);
size_t oicp_evse_pending(struct oicp *o); /* status changes not pushed yet */

/* ---- sessions.c ---- */
int oicp_sessions_start(struct oicp *o);
void oicp_sessions_free(struct oicp *o);
struct oicp_session *oicp_session_find(struct oicp *o, const char *id);
/* The four hub -> gateway operations; body borrowed, cb gets the acknowledgement. */
void oicp_remote_start(struct oicp *o, const char *provider_id, json_t *body, oicp_done_cb cb,
                       void *arg);
void oicp_remote_stop(struct oicp *o, const char *provider_id, json_t *body, oicp_done_cb cb,
                      void *arg);
void oicp_reservation_start(struct oicp *o, const char *provider_id, json_t *body,
                            oicp_done_cb cb, void *arg);
void oicp_reservation_stop(struct oicp *o, const char *provider_id, json_t *body,
                           oicp_done_cb cb, void *arg);
void oicp_sessions_on_event(const char *topic, json_t *env, void *arg);
void oicp_authorizer_ask(void *arg, const struct pl_id_token *tok, pl_authz_request *req);
/* The identification object of a session's token, as the hub knows it (new). */
json_t *oicp_identification_for_token(const char *token, const char *type);

/* The open sessions (sessions.c), for remote.c. */
struct oicp_session *oicp_session_on_evse(struct oicp *o, const char *station_id, int evse);
struct oicp_session *oicp_session_add(struct oicp *o, const char *id, const char *station_id, int evse,
                                      const char *evse_id, const char *token, const char *provider,
                                      const char *status);
void oicp_session_remove(struct oicp *o, struct oicp_session *gone);
/* pending, reserved, authorized, active stay open; any other status closes (frees) s */
void oicp_session_set_status(struct oicp *o, struct oicp_session *s, const char *status, const char *detail);

/* ---- remote.c ---- */
/* The specification's patterns (OICP 2.3 UID, EvcoID, SessionID), POSIX ERE. */
#define UID_RE "^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{14}|[0-9A-Fa-f]{20})$"
#define EVCO_RE "^([A-Za-z]{2}-?[A-Za-z0-9]{3}-?C[A-Za-z0-9]{8}-?[0-9A-Za-z|]|[A-Za-z]{2}[*|-]?[A-Za-z0-9]{3}[*|-]?[A-Za-z0-9]{6}[*|-]?[0-9X|])$"
#define UUID_RE "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
int oicp_matches(const char *re, const char *s); /* s is non-NULL and matches re */

/* ---- outbox.c ---- */
int oicp_outbox_start(struct oicp *o); /* registers the sender of queue "oicp" */
/* Queue a notification or CDR for session_id (durable; one per kind and session for
 * "start", "end" and "cdr"). */
void oicp_outbox_add(struct oicp *o, const char *kind, const char *session_id, json_t *body);
/* CDRs of ended roaming sessions not yet queued: all (0, NULL: the sessions' own
 * transactions), or one session's with its transaction (which the session's row may not
 * name yet: its update may still be on its way). */
void oicp_outbox_enqueue_cdrs(struct oicp *o, long long tx_id, const char *session_id);
void oicp_outbox_kick(struct oicp *o);

/* ---- pricing.c ---- */
int oicp_pricing_start(struct oicp *o);
void oicp_pricing_free(struct oicp *o);
/* fullLoads of the pricing products and the EVSE pricing; cb NULL: logged */
void oicp_pricing_push(struct oicp *o, oicp_done_cb cb, void *arg);
void oicp_pricing_on_event(const char *topic, json_t *env, void *arg);

/* ---- routes.c ---- */
int oicp_routes_register(struct oicp *o);

/* ---- small helpers (oicp.c) ---- */
int oicp_list_has(char **list, size_t n, const char *v);
char *oicp_strdup(const char *s); /* NULL-safe */
json_t *oicp_error(const char *code, const char *message); /* {"error", "code"} (new) */

#endif
