/*
 * pipelet/ocpp.h — the OCPP-J RPC layer shared by the OCPP plugins and the simulator.
 *
 * The core owns the WebSocket listener (path "/ocpp/{station_id}", any prefix: the
 * station id is the last path segment), negotiates the subprotocol against the
 * handlers plugins registered, and speaks OCPP-J framing:
 *   [2,"id","Action",{payload}]  CALL
 *   [3,"id",{payload}]           CALLRESULT
 *   [4,"id","Code","Desc",{}]    CALLERROR
 * It validates every payload in and out against the message definitions of the
 * negotiated version (generated from the official schemas), keeps at most one
 * outstanding CALL per direction with a bounded queue, applies timeouts, publishes
 * every frame on the bus as "ocpp.message" and records it in the station's message log.
 */
#ifndef PIPELET_OCPP_H
#define PIPELET_OCPP_H

#include <pipelet/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- message definitions (a compact, declarative JSON-schema subset) ---- */
enum pl_schema_type {
    PL_SCHEMA_ANY = 0,
    PL_SCHEMA_STRING,
    PL_SCHEMA_INTEGER,
    PL_SCHEMA_NUMBER,
    PL_SCHEMA_BOOLEAN,
    PL_SCHEMA_OBJECT,
    PL_SCHEMA_ARRAY,
};
enum pl_schema_format { PL_FORMAT_NONE = 0, PL_FORMAT_DATE_TIME, PL_FORMAT_URI };

struct pl_schema_prop;
struct pl_schema {
    uint8_t type;                       /* enum pl_schema_type */
    uint8_t format;                     /* enum pl_schema_format (strings) */
    uint8_t additional;                 /* objects: 1 if unknown properties are allowed */
    uint8_t has_min, has_max;           /* numbers */
    int32_t max_length;                 /* strings: -1 = unlimited */
    int32_t min_items, max_items;       /* arrays: max -1 = unlimited */
    double minimum, maximum;            /* numbers, when has_min/has_max */
    double multiple_of;                 /* numbers: 0 = none */
    const char *const *enums;           /* strings: NULL-terminated list, or NULL */
    const struct pl_schema_prop *props; /* objects */
    uint16_t nprops;
    const struct pl_schema *items;      /* arrays */
};
struct pl_schema_prop {
    const char *name;
    uint8_t required;
    const struct pl_schema *schema;
};

enum pl_ocpp_dir { PL_OCPP_FROM_STATION = 1, PL_OCPP_TO_STATION = 2, PL_OCPP_BOTH = 3 };

struct pl_ocpp_action {
    const char *name;                 /* "BootNotification" */
    uint8_t direction;                /* who sends the CALL: enum pl_ocpp_dir */
    const struct pl_schema *request;
    const struct pl_schema *response;
};

/* One OCPP version's message set. */
struct pl_ocpp_protocol {
    uint32_t size;
    const char *subprotocol;          /* "ocpp1.6", "ocpp2.0.1" */
    const struct pl_ocpp_action *actions;
    size_t nactions;
};

/* Validation outcome classes; pl_ocpp_api.error_code() maps them to the names of a
 * version ("FormationViolation" in 1.6, "FormatViolation" in 2.0.1, ...). */
enum pl_ocpp_violation {
    PL_VALID_OK = 0,
    PL_VALID_FORMAT,       /* not an object / malformed */
    PL_VALID_OCCURRENCE,   /* required field missing, array size */
    PL_VALID_PROPERTY,     /* unknown property, enum, length, range, date-time format */
    PL_VALID_TYPE,         /* wrong JSON type */
};

/* ---- connections ---- */
struct pl_ocpp_handshake {
    uint32_t size;
    const char *station_id;    /* last path segment, percent-decoded */
    const char *path;
    const char *remote_addr;   /* "ip:port" */
    const char *subprotocol;   /* the negotiated one */
    const char *basic_user;    /* from Authorization: Basic, or NULL */
    const char *basic_password;
    int tls;                   /* 1 over TLS */
    /* ABI 1.2 (read only when size covers them): the client certificate presented on
     * the TLS listener ([ocpp] tls_client_ca), for security profile 3 */
    int client_cert;           /* 0 none, 1 presented and verified, -1 presented, not verified */
    const char *client_cert_error;       /* why not verified (OpenSSL's words), or "" */
    const char *client_cert_cn;          /* subject commonName, or "" */
    const char *client_cert_fingerprint; /* SHA-256 of the DER, lowercase hex */
    int64_t client_cert_not_before, client_cert_not_after; /* Unix seconds */
};

enum pl_ocpp_result_kind {
    PL_OCPP_RESULT = 0,        /* CALLRESULT, payload valid */
    PL_OCPP_ERROR,             /* CALLERROR: error_code, error_description, payload=details */
    PL_OCPP_TIMEOUT,           /* no answer in time */
    PL_OCPP_CLOSED,            /* connection closed before an answer (or while queued) */
    PL_OCPP_INVALID,           /* CALLRESULT failed validation: error_description says why */
};
struct pl_ocpp_result {
    uint32_t size;
    int kind;                  /* enum pl_ocpp_result_kind */
    json_t *payload;           /* borrowed; may be NULL */
    const char *error_code;
    const char *error_description;
};
typedef void (*pl_ocpp_result_cb)(void *arg, pl_ocpp_conn *c, const struct pl_ocpp_result *r);

/* What a version handler (server side: the ocpp16/ocpp201 plugins) or a client
 * (the simulator) provides.  All callbacks get the `arg` given at registration. */
struct pl_ocpp_handler {
    uint32_t size;
    const char *subprotocol;
    /* Server only: decide before the 101 is sent.  Return 0 to accept, or an HTTP
     * status (401, 403, 404) to refuse.  Must be quick (no I/O). */
    int (*authorize)(void *arg, const struct pl_ocpp_handshake *hs);
    /* Connection established (after 101). */
    void (*on_open)(void *arg, pl_ocpp_conn *c);
    /* An incoming CALL.  The payload has passed validation (invalid ones were answered
     * with a CALLERROR by the core); unknown actions were answered NotImplemented.
     * Answer with reply() or reply_error(), now or later (e.g. after a DB commit). */
    void (*on_call)(void *arg, pl_ocpp_conn *c, const char *msg_id, const char *action,
                    json_t *payload /* borrowed */);
    /* Closed (either side, or connect failure on the client side: code 1006).  Pending
     * CALLs have already been completed with PL_OCPP_CLOSED.  The connection object
     * stays valid until every incoming CALL has been answered (answers are then
     * dropped), so an answer given later — after a database commit — is always safe;
     * data() is whatever the handler left (set it to NULL here). */
    void (*on_close)(void *arg, pl_ocpp_conn *c, int code, const char *reason);
};

struct pl_ocpp_client_opts {
    uint32_t size;
    const char *url;           /* ws://host:port/path or wss:// — the station id is appended
                                  as the last segment unless append_id == 0 */
    const char *station_id;
    const char *subprotocol;
    const char *password;      /* Basic auth (user = station id), or NULL */
    const char *source_addr;   /* bind to this local IPv4 address, or NULL */
    int append_id;
    int validate;              /* 1: validate in/out like the server (default for sims) */
    /* ABI 1.1 */
    const char *ca_file;       /* wss://: PEM CA certificates to verify the CSMS with, or
                                  NULL for the system store */
    /* ABI 1.2 */
    const char *client_cert;   /* wss://: our certificate (leaf, then intermediates), PEM
                                  text, for security profile 3; NULL: none */
    const char *client_key;    /* its private key, PEM text (not encrypted) */
};

struct pl_ocpp_api {
    uint32_t size;
    /* The message set for a subprotocol, or NULL. */
    const struct pl_ocpp_protocol *(*protocol)(const char *subprotocol);
    const struct pl_ocpp_action *(*action)(const struct pl_ocpp_protocol *p, const char *name);
    /* Validate; returns enum pl_ocpp_violation; err gets "path: reason". */
    int (*validate)(const struct pl_schema *s, json_t *value, char *err, size_t errlen);
    /* The CALLERROR code name of a violation in a version. */
    const char *(*error_code)(const struct pl_ocpp_protocol *p, int violation);

    /* Server side: register a version handler (one per subprotocol). */
    int (*register_handler)(pl_plugin_handle *self, const struct pl_ocpp_handler *h, void *arg);
    /* Client side: connect; on_open or on_close(1006) follows.  NULL on bad options. */
    pl_ocpp_conn *(*connect)(pl_plugin_handle *self, const struct pl_ocpp_client_opts *o,
                             const struct pl_ocpp_handler *h, void *arg);

    /* Answers to incoming CALLs.  payload / details stolen.  Validated; an invalid
     * reply is logged and replaced by an InternalError CALLERROR. */
    int (*reply)(pl_ocpp_conn *c, const char *msg_id, json_t *payload);
    int (*reply_error)(pl_ocpp_conn *c, const char *msg_id, const char *code,
                       const char *description, json_t *details);
    /* Send a CALL (payload stolen).  Validated first: PL_EINVAL with err filled.
     * Queued behind an outstanding CALL (PL_EBUSY when the queue is full).  cb is
     * called exactly once. timeout_ms 0 = the configured default. */
    int (*call)(pl_ocpp_conn *c, const char *action, json_t *payload, unsigned timeout_ms,
                pl_ocpp_result_cb cb, void *arg, char *err, size_t errlen);
    /* Send raw text as-is (fault injection in the simulator). */
    int (*send_raw)(pl_ocpp_conn *c, const char *text, size_t len);
    /* Start the close handshake (code 1000 normal). on_close follows. */
    void (*close)(pl_ocpp_conn *c, int code, const char *reason);
    /* Drop the TCP connection without a close frame (fault injection). */
    void (*abort)(pl_ocpp_conn *c);

    const char *(*station_id)(pl_ocpp_conn *c);
    const char *(*subprotocol)(pl_ocpp_conn *c);
    const char *(*remote_addr)(pl_ocpp_conn *c);
    void (*set_data)(pl_ocpp_conn *c, void *data);
    void *(*data)(pl_ocpp_conn *c);
    /* {"remote_addr","subprotocol","security_profile","connected_since","queue_depth",
     *  "messages_in","messages_out"} (new) */
    json_t *(*info)(pl_ocpp_conn *c);
    /* Suspend reading (1) / resume (0): simulates a hung peer. */
    void (*pause_reading)(pl_ocpp_conn *c, int paused);
};

#ifdef __cplusplus
}
#endif
#endif
