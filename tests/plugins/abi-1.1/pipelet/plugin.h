/*
 * pipelet/plugin.h — the plugin contract of the pipelet daemon.
 *
 * A plugin is a shared object exporting exactly one symbol, `pipelet_plugin`, a
 * `const struct pl_plugin` built with PL_PLUGIN_DEFINE().  The daemon checks the
 * fixed prefix of that descriptor (ABI major, minor, struct size, build signature)
 * before it reads anything else, then calls the lifecycle callbacks, handing the
 * plugin a table of host services (`struct pl_host`).  The daemon exports no other
 * symbols: everything a plugin may use is reached through that table.
 *
 * Rules that hold for every call in this file:
 *  - Everything runs on the single event-loop thread.  No callback may block.
 *  - Ownership: what the host passes into a callback is BORROWED for the duration of
 *    the callback; `json_t *` arguments marked "stolen" become the callee's; results
 *    marked "new" are the caller's to release (json_decref / the matching _free).
 *  - Return codes are PL_OK (0) or a negative PL_E* value.
 *
 * ABI changelog (append only; a minor bump only adds at the end of structs):
 *   1.0  2026-11-24  first release: lifecycle, config, log, timers, HTTP routes and
 *                    streaming replies, outbound HTTP, event bus, PostgreSQL,
 *                    metrics, OCPP-J RPC (pipelet/ocpp.h), station registry and
 *                    command tracker (pipelet/station.h), certificate service
 *                    (pipelet/certs.h).
 */
#ifndef PIPELET_PLUGIN_H
#define PIPELET_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PL_ABI_MAJOR 1
#define PL_ABI_MINOR 1

/* The build signature: things that must match between host and plugin even when
 * the ABI numbers do (pointer and long size, sanitizer instrumentation). */
#if defined(__SANITIZE_ADDRESS__)
#define PL__SAN "asan"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PL__SAN "asan"
#endif
#endif
#ifndef PL__SAN
#define PL__SAN "plain"
#endif
#define PL__STR2(x) #x
#define PL__STR(x) PL__STR2(x)
#define PL_BUILD_SIGNATURE \
    "ptr" PL__STR(__SIZEOF_POINTER__) "-long" PL__STR(__SIZEOF_LONG__) "-" PL__SAN

/* Return codes. */
enum {
    PL_OK = 0,
    PL_ERR = -1,       /* generic failure, see the log */
    PL_ENOTSUP = -2,   /* the host or driver does not know this kind/operation */
    PL_EINVAL = -3,    /* invalid argument */
    PL_ENOENT = -4,    /* no such thing */
    PL_EEXIST = -5,    /* already exists */
    PL_EBUSY = -6,     /* queue full / resource busy */
    PL_ENOMEM = -7,
    PL_ESTATE = -8,    /* refused by a state machine */
    PL_EOFFLINE = -9,  /* station not connected */
    PL_ETIMEDOUT = -10,
};

enum pl_log_level { PL_LOG_ERROR = 0, PL_LOG_WARN = 1, PL_LOG_INFO = 2, PL_LOG_DEBUG = 3 };

/* Opaque handles: never dereferenced by plugins. */
typedef struct pl_plugin_handle pl_plugin_handle; /* the plugin itself ("self") */
typedef struct pl_timer pl_timer;
typedef struct pl_request pl_request;
typedef struct pl_subscription pl_subscription;
typedef struct pl_db_result pl_db_result;
typedef struct pl_station pl_station;
typedef struct pl_command pl_command;
typedef struct pl_ocpp_conn pl_ocpp_conn;

struct pl_host;

/* ------------------------------------------------------------------------
 * The descriptor.  The first four fields are fixed forever.
 * ---------------------------------------------------------------------- */
struct pl_plugin {
    uint16_t abi_major;          /* PL_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor;          /* PL_ABI_MINOR the plugin was built with */
    uint32_t struct_size;        /* sizeof(struct pl_plugin) at build time */
    const char *build_signature; /* PL_BUILD_SIGNATURE at build time */
    /* ---- end of the fixed prefix ---- */
    const char *name;            /* unique, [a-z0-9_]+, also its config section */
    const char *version;
    const char *description;
    /* init: read config, register routes/handlers/subscriptions, allocate state.
     * May fail (return < 0): the plugin is then unloaded (fini is NOT called, so
     * init frees what it allocated).  *state is handed to every later callback. */
    int (*init)(pl_plugin_handle *self, const struct pl_host *host, void **state);
    /* start: every plugin is initialised, listeners are bound, the database is
     * migrated.  May fail; a failing required plugin stops the daemon. May be NULL. */
    int (*start)(void *state);
    /* reload: SIGHUP; the plugin's config section has been re-read. May be NULL. */
    int (*reload)(void *state);
    /* stop: begin draining (stop accepting, flush queues).  May be NULL. */
    void (*stop)(void *state);
    /* fini: release everything.  Must not fail.  May be NULL. */
    void (*fini)(void *state);
};

#define PL_PLUGIN_SYMBOL "pipelet_plugin"

/* Define the one exported symbol.  Usage:
 *   PL_PLUGIN_DEFINE(.name = "hello", .version = "1.0", .init = hello_init, ...);  */
#define PL_PLUGIN_DEFINE(...)                                                   \
    __attribute__((visibility("default"))) const struct pl_plugin pipelet_plugin = { \
        .abi_major = PL_ABI_MAJOR, .abi_minor = PL_ABI_MINOR,                   \
        .struct_size = sizeof(struct pl_plugin),                                \
        .build_signature = PL_BUILD_SIGNATURE, __VA_ARGS__ }

/* ------------------------------------------------------------------------
 * Service types.
 * ---------------------------------------------------------------------- */
typedef void (*pl_timer_cb)(void *arg);

/* Route auth policy: the minimum API-key scope a route needs. */
enum pl_auth_scope {
    PL_AUTH_NONE = 0,     /* no key needed */
    PL_AUTH_READ = 1,     /* read-only keys and above */
    PL_AUTH_OPERATOR = 2, /* may send commands */
    PL_AUTH_ADMIN = 3,    /* may manage the system (webhooks, keys, ...) */
    PL_AUTH_CONFIG = -1,  /* NONE or READ depending on [http] public_health; for /health, /metrics */
};

/* A route handler.  The core has already: matched method and path, checked the
 * key and its scope (401/403), applied the rate limit (429), read the body within
 * the size limit (413) and parsed a JSON body (400 INVALID_JSON) if one was sent.
 * The handler must eventually answer exactly once with pl_host.reply_* (now or
 * later, e.g. when a command completes).  If the client goes away first the
 * request stays valid until the handler answers; the answer is then discarded. */
typedef void (*pl_route_cb)(pl_request *req, void *arg);
typedef void (*pl_request_close_cb)(pl_request *req, void *arg);

/* Outbound HTTP(S) response, borrowed for the callback. */
struct pl_http_response {
    uint32_t size;
    int status;               /* HTTP status, or 0 when no response (see error) */
    const char *error;        /* NULL on a response; else "timeout", "connect: ...", "tls: ..." */
    const char *body;         /* NUL-terminated (body[body_len] == '\0'); at most 1 MiB, truncated beyond */
    size_t body_len;
    double latency_ms;
};
typedef void (*pl_http_done_cb)(const struct pl_http_response *resp, void *arg);

/* Event bus.  Every event is an envelope object:
 *   {"id": uuid, "type": topic, "time": RFC 3339, "station": id|null, "data": {...}}
 * Patterns: exact topic, "prefix.*", or "*".  Delivery is synchronous. */
typedef void (*pl_bus_cb)(const char *topic, json_t *envelope /* borrowed */, void *arg);

/* PostgreSQL.  Results are borrowed for the callback; res is never NULL. */
typedef void (*pl_db_cb)(pl_db_result *res, void *arg);

/* A numbered migration of a plugin (or the core).  Applied once, in order, in a
 * transaction, recorded in pl_migrations(component, version). */
struct pl_migration {
    int version;       /* 1, 2, 3 ... */
    const char *name;
    const char *sql;   /* may hold several statements */
};

/* ------------------------------------------------------------------------
 * The host services table.  Starts with its size; grows only at the end within a
 * major.  Test PL_HOST_HAS(host, field) before using a field newer than 1.0.
 * ---------------------------------------------------------------------- */
#define PL_HOST_HAS(host, field) \
    (offsetof(struct pl_host, field) + sizeof((host)->field) <= (host)->size)

struct pl_host {
    uint32_t size;
    uint16_t abi_major;
    uint16_t abi_minor;
    const char *version;          /* the daemon's version string */

    /* --- logging: one structured line per call, prefixed with the plugin name */
    void (*log)(pl_plugin_handle *self, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /* --- configuration: the plugin's own INI section ([name]), already parsed.
     * Strings are borrowed and valid until the next reload. */
    const char *(*config_get)(pl_plugin_handle *self, const char *key, const char *def);
    /* Integer in [min,max]; a malformed or out-of-range value is logged with file:line
     * and returns PL_EINVAL (init should then fail). */
    int (*config_int)(pl_plugin_handle *self, const char *key, long def, long min, long max,
                      long *out);
    /* yes/no/true/false/on/off/1/0 */
    int (*config_bool)(pl_plugin_handle *self, const char *key, int def, int *out);
    /* Any key of any section (e.g. "http", "port"); borrowed; NULL if absent. */
    const char *(*config_global)(const char *section, const char *key);

    /* --- timers */
    pl_timer *(*timer_new)(pl_plugin_handle *self, pl_timer_cb cb, void *arg);
    /* Arm (or re-arm) the timer; repeat != 0 makes it periodic. */
    void (*timer_start)(pl_timer *t, uint64_t ms, int repeat);
    void (*timer_stop)(pl_timer *t);
    void (*timer_free)(pl_timer *t); /* NULL-safe; stops first */
    /* Monotonic milliseconds, and wall-clock time as RFC 3339 UTC ("...Z"), into buf. */
    uint64_t (*now_ms)(void);
    const char *(*now_rfc3339)(char *buf, size_t len);

    /* --- HTTP server (the [http] listener) */
    /* pattern: "/api/v1/stations/{id}/connectors/{c}/unlock"; method "GET", "POST", ...
     * Returns PL_EEXIST for a duplicate method+pattern. */
    int (*http_route)(pl_plugin_handle *self, const char *method, const char *pattern,
                      int auth_scope, pl_route_cb cb, void *arg);
    const char *(*req_method)(pl_request *req);
    const char *(*req_path)(pl_request *req);               /* without query */
    const char *(*req_param)(pl_request *req, const char *name);  /* path {param}, decoded */
    const char *(*req_query)(pl_request *req, const char *name);  /* decoded; NULL if absent */
    const char *(*req_header)(pl_request *req, const char *name);
    const char *(*req_body)(pl_request *req, size_t *len);  /* NUL-terminated, may be "" */
    json_t *(*req_json)(pl_request *req);                   /* borrowed; NULL when no body */
    int (*req_scope)(pl_request *req);                      /* scope of the caller's key */
    const char *(*req_key_name)(pl_request *req);           /* name of the caller's key or NULL */
    void (*req_on_close)(pl_request *req, pl_request_close_cb cb, void *arg);
    /* answers (exactly one per request, or one stream) */
    void (*reply_header)(pl_request *req, const char *name, const char *value);
    void (*reply_json)(pl_request *req, int status, json_t *body /* stolen */);
    void (*reply_error)(pl_request *req, int status, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
    void (*reply_raw)(pl_request *req, int status, const char *content_type,
                      const void *data, size_t len);
    /* Chunked streaming (SSE): begin, write* (PL_ERR once the client is gone), end.
     * If begin fails the request is finished (do not call end). */
    int (*reply_stream_begin)(pl_request *req, int status, const char *content_type);
    int (*reply_stream_write)(pl_request *req, const void *data, size_t len);
    void (*reply_stream_end)(pl_request *req);

    /* --- outbound HTTP(S), non-blocking DNS; https verified against the system CA
     * store or ca_file.  headers: NULL-terminated array of "Name: value". */
    int (*http_fetch)(pl_plugin_handle *self, const char *method, const char *url,
                      const char *const *headers, const void *body, size_t body_len,
                      unsigned timeout_ms, const char *ca_file, pl_http_done_cb cb, void *arg);

    /* --- event bus */
    pl_subscription *(*bus_subscribe)(pl_plugin_handle *self, const char *pattern,
                                      pl_bus_cb cb, void *arg);
    void (*bus_unsubscribe)(pl_subscription *sub); /* NULL-safe; safe inside a callback */
    /* Publish: builds the envelope around data (stolen). station_id may be NULL. */
    void (*bus_publish)(pl_plugin_handle *self, const char *topic, const char *station_id,
                        json_t *data);

    /* --- PostgreSQL (non-blocking pool).  Registered in init, applied before start. */
    int (*db_migrations)(pl_plugin_handle *self, const struct pl_migration *m, size_t n);
    /* Queue a query.  With nparams == 0 the SQL may hold several statements (run in one
     * implicit transaction).  cb may be NULL (fire and forget; errors are logged).
     * Returns PL_EBUSY when the pool's queue is full. */
    int (*db_query)(pl_plugin_handle *self, const char *sql, int nparams,
                    const char *const *params, pl_db_cb cb, void *arg);
    int (*db_ok)(pl_db_result *res);                   /* 1 when the query succeeded */
    const char *(*db_error)(pl_db_result *res);        /* message, "" when ok */
    const char *(*db_sqlstate)(pl_db_result *res);     /* e.g. "23505", "" when ok */
    int (*db_ntuples)(pl_db_result *res);
    int (*db_nfields)(pl_db_result *res);
    const char *(*db_fname)(pl_db_result *res, int col);
    const char *(*db_value)(pl_db_result *res, int row, int col); /* NULL for SQL NULL */
    long (*db_affected)(pl_db_result *res);
    /* Rows as a JSON array of objects (new); int/float/bool/json columns typed. */
    json_t *(*db_json)(pl_db_result *res);
    int (*db_healthy)(void);                           /* 1 when connected */

    /* --- metrics (Prometheus text at /metrics).  name may carry labels:
     * "pipelet_ocpp_messages_total{action=\"Heartbeat\",dir=\"in\"}" */
    void (*metric_add)(const char *name, double v);    /* counter */
    void (*metric_set)(const char *name, double v);    /* gauge */
    void (*metric_observe)(const char *name, double v); /* histogram (seconds) */

    /* --- OCPP-J RPC and message validation: see pipelet/ocpp.h */
    const struct pl_ocpp_api *ocpp;
    /* --- station registry, model and commands: see pipelet/station.h */
    const struct pl_station_api *stations;

    /* Generate a random UUID v4 into buf (37 bytes). */
    const char *(*uuid)(char buf[37]);

    /* --- certificates (pipelet/certs.h): CSR signing, ISO 15118 contract certificates,
     * OCSP; replaceable by a Plug & Charge plugin */
    const struct pl_cert_api *certs;
};

#ifdef __cplusplus
}
#endif
#endif
