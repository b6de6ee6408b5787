/*
 * pipelet/station.h — the version-neutral station model, the registry of connected
 * stations and the command tracker.
 *
 * Protocol plugins translate the wire into this model (the core persists it in
 * PostgreSQL and publishes events); everything above (REST, MCP, OICP, ...) drives
 * stations only through pl_station_api.command(), never through a protocol plugin.
 *
 * Neutral vocabulary
 *  connector status: "Available" "Preparing" "Charging" "SuspendedEV" "SuspendedEVSE"
 *                    "Finishing" "Reserved" "Unavailable" "Faulted" "Occupied"
 *  EVSE/connector:   1.6 connector N is evse N, connector 1 (connector 0 = the station);
 *                    2.0.1 uses its own evseId/connectorId.
 *  transactions:     the core's numeric id (bigint) is the public id; the station's own
 *                    id (1.6: same number; 2.0.1: transactionId string) is kept beside it.
 */
#ifndef PIPELET_STATION_H
#define PIPELET_STATION_H

#include <pipelet/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Neutral operations.  args / result JSON shapes (every result also carries
 * "status" as the station said it and "raw": the station's raw response):
 *  RAW_CALL               {"action":S,"payload":{}}            -> raw response
 *  RESET                  {"type":"Soft"|"Hard"}
 *  UNLOCK                 {"evse":N,"connector":N}
 *  CHANGE_AVAILABILITY    {"evse":N (0 = station),"available":bool}
 *  REMOTE_START           {"evse":N|null,"id_token":S,"id_token_type":S?,"charging_profile":{}?,
 *                          "remote_start_id":N?}
 *  REMOTE_STOP            {"transaction":S (the station's transaction id)}
 *  GET_CONFIGURATION      {"keys":[S]?}  -> {"keys":[{"key","value","readonly"}],"unknown":[S]}
 *  SET_CONFIGURATION      {"key":S,"value":S}  (2.0.1: key "Component[.instance]/Variable[.instance]")
 *  TRIGGER                {"message":S,"evse":N?}
 *  UPDATE_FIRMWARE        {"location":S,"retrieve_date":S?,"retries":N?,"retry_interval":N?,
 *                          "signature":S?,"signing_certificate":S?,"request_id":N?}
 *  GET_DIAGNOSTICS        {"location":S,"start_time":S?,"stop_time":S?,"retries":N?,
 *                          "retry_interval":N?,"log_type":S?,"request_id":N?} -> {"file_name"}
 *  SEND_LOCAL_LIST        {"version":N,"update_type":"Full"|"Differential",
 *                          "entries":[{"id_token":S,"status":S?,"expiry":S?,"parent":S?}]}
 *                         accepted -> the core records the list (station_docs "local_list")
 *  GET_LOCAL_LIST_VERSION {}  -> {"version":N}
 *  CLEAR_CACHE            {}
 *  RESERVE                {"reservation_id":N,"evse":N|0,"id_token":S,"expiry":S,"parent":S?}
 *  CANCEL_RESERVATION     {"reservation_id":N}
 *  SET_CHARGING_PROFILE   {"evse":N,"profile":{OCPP-shaped profile of the station's version}}
 *  CLEAR_CHARGING_PROFILE {"id":N?,"evse":N?,"purpose":S?,"stack_level":N?}
 *  GET_COMPOSITE_SCHEDULE {"evse":N,"duration":N,"unit":"W"|"A"?} -> {"schedule":{}}
 *  DATA_TRANSFER          {"vendor_id":S,"message_id":S?,"data":any} -> {"data"}
 *  DISCONNECT             {}  (closes the connection; completes ACCEPTED)
 */
enum pl_station_op {
    PL_OP_RAW_CALL = 1,
    PL_OP_RESET,
    PL_OP_UNLOCK,
    PL_OP_CHANGE_AVAILABILITY,
    PL_OP_REMOTE_START,
    PL_OP_REMOTE_STOP,
    PL_OP_GET_CONFIGURATION,
    PL_OP_SET_CONFIGURATION,
    PL_OP_TRIGGER,
    PL_OP_UPDATE_FIRMWARE,
    PL_OP_GET_DIAGNOSTICS,
    PL_OP_SEND_LOCAL_LIST,
    PL_OP_GET_LOCAL_LIST_VERSION,
    PL_OP_CLEAR_CACHE,
    PL_OP_RESERVE,
    PL_OP_CANCEL_RESERVATION,
    PL_OP_SET_CHARGING_PROFILE,
    PL_OP_CLEAR_CHARGING_PROFILE,
    PL_OP_GET_COMPOSITE_SCHEDULE,
    PL_OP_DATA_TRANSFER,
    PL_OP_DISCONNECT,
    PL_OP__COUNT /* not an op; grows */
};

/* Command outcomes. */
enum pl_command_status {
    PL_CMD_PENDING = 0,
    PL_CMD_ACCEPTED,   /* the station answered and accepted (or the op has no status) */
    PL_CMD_REJECTED,   /* the station answered with a refusal (Rejected, NotSupported, ...) */
    PL_CMD_FAILED,     /* CALLERROR, invalid response, closed connection */
    PL_CMD_TIMEOUT,    /* no answer in time */
};

typedef void (*pl_command_cb)(pl_command *cmd, void *arg);

/* A protocol driver: attached with each connected station. */
struct pl_driver {
    uint32_t size;
    const char *protocol;  /* "ocpp1.6" */
    /* Carry out cmd (read op/args with the accessors).  Return PL_OK once sent: the
     * driver later calls complete() exactly once.  Return PL_ENOTSUP / PL_EINVAL
     * (with complete() NOT called) to refuse at once; set a reason with
     * command_set_error() first. */
    int (*execute)(void *drv_arg, pl_station *st, pl_command *cmd);
};

/* Transaction start / stop callbacks fire after the row is committed. */
typedef void (*pl_tx_cb)(void *arg, int ok, const char *tx_id /* core id */, json_t *row);
/* Authorization: info {"status":"Accepted"|"Blocked"|"Expired"|"Invalid"|"ConcurrentTx",
 * "expiry":S?, "parent":S?, "group":S?} (borrowed). */
typedef void (*pl_auth_cb)(void *arg, json_t *info);
/* Meter values committed (ok = 1) or lost (ok = 0: queue full, database error). */
typedef void (*pl_meter_cb)(void *arg, int ok);

struct pl_station_api {
    uint32_t size;

    /* ---- registry (protocol plugins) ---- */
    /* A station connected.  conn_info: {"remote_addr","subprotocol","security_profile"}
     * (stolen).  Replaces an earlier attachment of the same id (whose driver is told
     * nothing: the protocol plugin closes the old socket itself).  Publishes
     * station.connected. */
    pl_station *(*attach)(pl_plugin_handle *self, const char *station_id,
                          const struct pl_driver *drv, void *drv_arg, json_t *conn_info);
    /* Publishes station.disconnected; pending commands complete FAILED. */
    void (*detach)(pl_station *st);
    pl_station *(*find)(const char *station_id);  /* connected stations only */
    const char *(*id)(pl_station *st);
    const char *(*protocol)(pl_station *st);
    /* The in-memory snapshot (new): {"id","protocol","online","connected_since","last_seen",
     *  "vendor","model","firmware","serial","boot_status",
     *  "evses":[{"evse","connectors":[{"connector","status","error_code","info","updated_at"}]}],
     *  "connection":{...}} */
    json_t *(*snapshot)(pl_station *st);
    /* Known in memory as connected? */
    int (*online)(const char *station_id);

    /* ---- the model (protocol plugins write, core persists and publishes) ---- */
    /* boot: {"vendor","model","serial","firmware","iccid","imsi","meter_type","meter_serial",
     *        "boot_status":"Accepted"|"Pending"|"Rejected"} (stolen) */
    void (*boot)(pl_station *st, json_t *boot);
    void (*seen)(pl_station *st);  /* heartbeat / any message */
    /* connector status; ts = the station's timestamp or NULL.  Publishes station.status. */
    void (*connector_status)(pl_station *st, int evse, int connector, const char *status,
                             const char *error_code, const char *info, const char *ts);
    /* tx: {"station_tx_id":S?,"evse","connector","id_token","id_token_type","meter_start" (Wh),
     *      "started_at","reservation_id"?} (stolen).  1.6 omits station_tx_id: the core's
     *      id is used.  Publishes transaction.started. */
    void (*tx_start)(pl_station *st, json_t *tx, pl_tx_cb cb, void *arg);
    /* Update by station_tx_id: {"meter"?:Wh, "evse"?, "connector"?, "id_token"?, "charging_state"?,
     *  "seq_no"?}. Publishes transaction.updated. */
    void (*tx_update)(pl_station *st, const char *station_tx_id, json_t *upd, pl_tx_cb cb,
                      void *arg);
    /* stop: {"meter_stop","stopped_at","reason","id_token"?} (stolen). transaction.ended. */
    void (*tx_stop)(pl_station *st, const char *station_tx_id, json_t *stop, pl_tx_cb cb,
                    void *arg);
    /* samples: [{"timestamp","measurand","value"(number),"unit","phase"?,"context"?,
     *            "location"?}] (stolen); station_tx_id may be NULL.  Batched writes;
     * publishes meter.values. */
    void (*meter_values)(pl_station *st, int evse, int connector, const char *station_tx_id,
                         json_t *samples);
    /* Look an id token up (id_tokens table; unknown -> per [core] auth_unknown). */
    void (*authorize)(pl_station *st, const char *id_token, pl_auth_cb cb, void *arg);
    /* Append-only records: kind = "security_event", "firmware_status", "diagnostics_status",
     * "log_status", "reservation_status", "event", ... ; data stolen.  Publishes
     * "station.<kind>". */
    void (*record)(pl_station *st, const char *kind, json_t *data);
    /* Per-station key/value documents the core persists (configuration, device model,
     * local list, certificates, ...).  kind + key unique per station; value stolen
     * (NULL deletes). */
    void (*put_doc)(pl_station *st, const char *kind, const char *key, json_t *value);

    /* ---- commands (REST, MCP, any plugin) ---- */
    /* Start a command.  Returns NULL with *rc = PL_ENOENT (unknown station),
     * PL_EOFFLINE, PL_ENOTSUP (driver lacks op), PL_EINVAL (bad args; err says why).
     * cb fires exactly once (may be NULL).  Publishes command.completed at the end. */
    pl_command *(*command)(pl_plugin_handle *self, const char *station_id, int op,
                           json_t *args /* stolen */, unsigned timeout_ms,
                           pl_command_cb cb, void *arg, int *rc, char *err, size_t errlen);
    const char *(*command_id)(pl_command *cmd);
    int (*command_op)(pl_command *cmd);
    json_t *(*command_args)(pl_command *cmd);      /* borrowed */
    int (*command_status)(pl_command *cmd);
    json_t *(*command_result)(pl_command *cmd);    /* borrowed, may be NULL */
    const char *(*command_error)(pl_command *cmd); /* may be NULL */
    void (*command_set_error)(pl_command *cmd, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
    /* The driver's answer (result stolen). */
    void (*complete)(pl_command *cmd, int status, json_t *result, const char *error);
    /* {"id","station","op","status","args","result","error","created_at","completed_at"}
     * of a command still remembered (new), or NULL. */
    json_t *(*command_json)(const char *command_id);
    /* Recent commands, newest first (new array); station may be NULL. */
    json_t *(*command_list)(const char *station_id, int limit);
    const char *(*op_name)(int op);      /* "reset", ... */
    int (*op_from_name)(const char *n);  /* -1 if unknown */

    /* ---- message log (the OCPP layer writes, /ocpp/v1 reads) ---- */
    /* Last messages of a station, oldest first (new array of
     * {"time","dir":"in"|"out","frame":[...]}) filtered by action/dir (NULL = all). */
    json_t *(*messages)(const char *station_id, const char *action, const char *dir, int limit);
    /* All connected stations (new array of snapshots). */
    json_t *(*list_online)(void);

    /* meter_values, and cb once every one of these samples is committed to the
     * database: acknowledge a station's MeterValues only then, so a crash loses
     * nothing a station was told was received.  cb may run before this returns. */
    void (*meter_values_durable)(pl_station *st, int evse, int connector,
                                 const char *station_tx_id, json_t *samples, pl_meter_cb cb,
                                 void *arg);
};

#ifdef __cplusplus
}
#endif
#endif
