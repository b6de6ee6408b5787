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
 *   1.1  2026-11-30  pl_ocpp_client_opts.ca_file: wss:// clients verified against a
 *                    private CA (pipelet/ocpp.h).
 *   1.2  2026-12-03  pl_host.tokens: customers and ID tokens, the authorization chain
 *                    and remote authorizers (pipelet/tokens.h);
 *                    pl_station_api.authorize_token (the whole token: type, ISO 15118
 *                    hash data); transaction callbacks tell PL_TX_NOT_STORED from
 *                    PL_TX_UNKNOWN and authorization callbacks may get NULL ("no
 *                    decision": answer with a CALLERROR) (pipelet/station.h);
 *                    pl_host.model: the read API of the model (pipelet/model.h);
 *                    pl_host.http_dispatch: a request built in memory through the
 *                    router; pl_host.fd_watch*: file-descriptor watchers;
 *                    pl_host.config_declare and struct pl_config_key: a plugin declares
 *                    its keys, the host checks its section (unknown keys, types,
 *                    ranges; file:line), in --check-config too, and on SIGHUP before
 *                    anything changes.  Lifecycle rule made explicit: the host removes
 *                    everything a plugin registered (routes, OCPP handlers, the
 *                    certificate provider, timers, migrations not yet applied, bus
 *                    subscriptions, remote authorizers) when its init fails and after
 *                    its fini.  Nothing changed for 1.0 and 1.1 plugins.
 *                    pl_host.http_fetch_opts (struct pl_http_fetch_opts: outbound
 *                    HTTPS with a client certificate), pl_host.http_route_opts (struct
 *                    pl_http_route_opts, PL_ROUTE_CLIENT_CERT) and
 *                    pl_host.req_client_cert_subject: mutual TLS on the REST listener
 *                    ([http] tls_cert, tls_key, tls_client_ca).
 *                    pl_host.http_describe: a plugin gives its part of the OpenAPI
 *                    description (paths and components, in its own folder); the host
 *                    serves the assembled document at /api/v1/openapi.json and enforces
 *                    each described JSON request body before the handler runs.
 *                    pl_host.billing: tariffs, their assignments and what a session
 *                    costs (pipelet/billing.h).
 *                    pl_host.load: sites, version-neutral station power limits and the
 *                    load balancer (pipelet/load.h).
 *                    OCPP security profiles 2 and 3 (pipelet/ocpp.h): the client
 *                    certificate a station presented (pl_ocpp_handshake.client_cert*)
 *                    and the one a wss:// client presents (pl_ocpp_client_opts.client_cert,
 *                    client_key).
 *                    pl_host.req_remote_addr: the address a request came from.
 *                    Plug & Charge (pipelet/certs.h): asynchronous certificate providers
 *                    (ev_certificate_async, ocsp_status_async), contract checks before
 *                    the authorization chain (contract_status; the decision carries
 *                    certificate_status), sign_types; pl_id_token.certificate.
 *                    pl_host.outbox: the durable outbox (pipelet/outbox.h).
 *                    New operations, no struct changed: customer_group.* and a
 *                    customer's customer_group_id (pipelet/tokens.h); tariffs for a
 *                    customer_group_id, tariff_alt_text and a priced session's
 *                    personal_message (pipelet/billing.h).
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
#define PL_ABI_MINOR 2

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
typedef struct pl_fdwatch pl_fdwatch;

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
    /* init: declare and read config, register routes/handlers/subscriptions, allocate
     * state.  May fail (return < 0): the plugin is then unloaded; fini is NOT called,
     * so init frees the memory it allocated, but never has to undo a registration:
     * the host removes everything registered with this handle (see "Ownership of
     * registrations" below).  *state is handed to every later callback. */
    int (*init)(pl_plugin_handle *self, const struct pl_host *host, void **state);
    /* start: every plugin is initialised, listeners are bound, the database is
     * migrated.  May fail; a failing required plugin stops the daemon. May be NULL. */
    int (*start)(void *state);
    /* reload: SIGHUP; the whole file was re-read and checked (a broken file changes
     * nothing and reload is not called), so config_get & co. return the new values.
     * May be NULL. */
    int (*reload)(void *state);
    /* stop: begin draining (stop accepting, flush queues).  May be NULL. */
    void (*stop)(void *state);
    /* fini: release everything.  Must not fail.  May be NULL.  Afterwards the host
     * removes whatever registrations are left (and frees timers not freed). */
    void (*fini)(void *state);
};

/* Ownership of registrations (ABI 1.2 makes it a rule): everything a plugin registers
 * with its handle — HTTP routes, OCPP handlers, the certificate provider, timers,
 * migrations not yet applied, bus subscriptions, remote authorizers — belongs to the
 * plugin, and the host removes all of it when init fails and after fini, before the
 * shared object is closed.  No callback of an unloaded plugin is ever called. */

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

/* An outbound request (ABI 1.2, pl_host.http_fetch_opts).  Size-prefixed: set size to
 * sizeof(struct pl_http_fetch_opts) and zero what you do not use (designated
 * initializers do); the host reads only the first size bytes, so fields added later
 * count as unset for older plugins.  Borrowed for the call: everything is copied (the
 * files are read) before http_fetch_opts returns. */
struct pl_http_fetch_opts {
    uint32_t size;
    const char *method;         /* "GET", "POST" (NULL: POST), "PUT", "PATCH", "DELETE", "HEAD" */
    const char *url;            /* http:// or https:// */
    const char *const *headers; /* NULL or NULL-terminated "Name: value" strings */
    const void *body;           /* NULL or body_len bytes */
    size_t body_len;
    unsigned timeout_ms;        /* the whole exchange: connect, TLS, request, response */
    /* https only.  The server's certificate is verified against ca_file (PEM; NULL: the
     * system store) and must name the URL's host (DNS name or IP address). */
    const char *ca_file;
    /* https only: a client certificate, presented when the server asks for one (mutual
     * TLS, e.g. OICP towards Hubject).  PEM paths, both or neither; client_cert may hold
     * the chain (leaf first); the key must not be encrypted.  Contexts are built once
     * per distinct (ca_file, client_cert, client_key) and shared; a replaced file is
     * read at the next start of the daemon. */
    const char *client_cert;
    const char *client_key;
};

/* Route registration with options (ABI 1.2, pl_host.http_route_opts).  Size-prefixed
 * like pl_http_fetch_opts. */
struct pl_http_route_opts {
    uint32_t size;
    const char *method;   /* "GET", "POST", ... */
    const char *pattern;  /* as for http_route: "/api/v1/stations/{id}" */
    int auth_scope;       /* enum pl_auth_scope: the API-key scope the route needs */
    unsigned flags;       /* PL_ROUTE_* */
};
/* The request must come over TLS with a client certificate that verified against
 * [http] tls_client_ca; otherwise the router answers 403 CLIENT_CERT_REQUIRED before
 * the key check and the handler never runs.  The route's auth_scope still applies
 * (PL_AUTH_NONE: the certificate alone admits).  A request made with http_dispatch
 * carries no certificate and is refused likewise.  Which certificate it was is the
 * handler's business: req_client_cert_subject. */
#define PL_ROUTE_CLIENT_CERT 1u

/* Event bus.  Every event is an envelope object:
 *   {"id": uuid, "type": topic, "time": RFC 3339, "station": id|null, "data": {...}}
 * Patterns: exact topic, "prefix.*", or "*".  Delivery is synchronous. */
typedef void (*pl_bus_cb)(const char *topic, json_t *envelope /* borrowed */, void *arg);

/* In-process HTTP (ABI 1.2, pl_host.http_dispatch): a request built in memory that
 * runs through the router as if it had come from the listener.  Borrowed for the call:
 * everything is copied before http_dispatch returns. */
struct pl_http_local_req {
    uint32_t size;            /* sizeof(struct pl_http_local_req) */
    const char *method;       /* "GET", "POST", ... */
    const char *path;         /* "/api/v1/stations?online=true": path and query string,
                               * percent-encoded as on the wire */
    const char *body;         /* NULL or the body (JSON for POST/PUT/PATCH); need not be
                               * NUL-terminated */
    size_t body_len;
    int scope;                /* PL_AUTH_*: what the caller may do (the route's scope is
                               * checked against it: 403 as for a key) */
    const char *key_name;     /* reported by req_key_name (e.g. "mcp:alice"); may be NULL */
    const char *const *headers; /* NULL or NULL-terminated "Name: value" ("Prefer: ...") */
};

/* The handler's answer, borrowed for the callback.  headers: NULL-terminated
 * "Name: value" strings (Content-Type included); body NUL-terminated. */
struct pl_http_local_resp {
    uint32_t size;
    int status;
    const char *const *headers;
    const char *body;
    size_t body_len;
};
typedef void (*pl_http_local_done_cb)(const struct pl_http_local_resp *resp, void *arg);

/* File-descriptor watchers (ABI 1.2, pl_host.fd_watch). */
enum { PL_FD_READ = 1, PL_FD_WRITE = 2 };
/* events: what is ready now (PL_FD_READ | PL_FD_WRITE).  The callback may call
 * fd_watch_update or fd_watch_free on its own watcher. */
typedef void (*pl_fd_cb)(int fd, int events, void *arg);

/* PostgreSQL.  Results are borrowed for the callback; res is never NULL. */
typedef void (*pl_db_cb)(pl_db_result *res, void *arg);

/* A numbered migration of a plugin (or the core).  Applied once, in order, in a
 * transaction, recorded in pl_migrations(component, version). */
struct pl_migration {
    int version;       /* 1, 2, 3 ... */
    const char *name;
    const char *sql;   /* may hold several statements */
};

/* ABI 1.2: a plugin's configuration keys, declared with pl_host.config_declare. */
enum pl_config_type {
    PL_CONFIG_STRING = 1, /* any text */
    PL_CONFIG_INT = 2,    /* a decimal integer in [min, max] */
    PL_CONFIG_BOOL = 3,   /* yes/no/true/false/on/off/1/0 */
    PL_CONFIG_ENUM = 4,   /* one of words */
    PL_CONFIG_LIST = 5,   /* words separated by spaces or commas, each one of words
                           * (any word when words is NULL) */
};
/* flags */
#define PL_CONFIG_RESTART 1u /* read once at start: SIGHUP reports a change, applies nothing */

struct pl_config_key {
    const char *name;        /* the key in the plugin's [section] */
    int type;                /* enum pl_config_type */
    const char *def;         /* the default as written in the file; NULL: unset */
    long min, max;           /* PL_CONFIG_INT: the allowed range */
    const char *words;       /* PL_CONFIG_ENUM/LIST: the allowed words, space-separated */
    const char *description; /* one line for the operator */
    unsigned flags;          /* PL_CONFIG_RESTART */
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
     * Strings are borrowed and valid until the next reload (a value the reload did
     * not change keeps its pointer).  Declare the keys first (config_declare). */
    const char *(*config_get)(pl_plugin_handle *self, const char *key, const char *def);
    /* Integer in [min,max]; a malformed or out-of-range value is logged with file:line
     * and returns PL_EINVAL (init should then fail). */
    int (*config_int)(pl_plugin_handle *self, const char *key, long def, long min, long max,
                      long *out);
    /* yes/no/true/false/on/off/1/0 */
    int (*config_bool)(pl_plugin_handle *self, const char *key, int def, int *out);
    /* Any key of any section (e.g. "http", "port"); borrowed; NULL if absent.
     * Deprecated for reading another plugin's section: that plugin's keys are its own
     * (declared, checked and documented there); use it for the core's sections only. */
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

    /* --- ABI 1.2: customers, ID tokens and the authorization chain (pipelet/tokens.h) */
    const struct pl_tokens_api *tokens;

    /* --- ABI 1.2: the model's read API, in-process routes, file-descriptor watchers */
    /* Reads of stations, transactions, meter values and commands (pipelet/model.h). */
    const struct pl_model_api *model;
    /* Run req through the router (matching, 404/405, the scope check against
     * req->scope, the body limit, JSON parsing; no key, no rate limit) and hand the
     * handler's answer to cb instead of a socket — exactly once, perhaps before this
     * returns, perhaps much later (a command waiting for its station).  The handler
     * sees an ordinary pl_request (req_header reads req->headers; req_on_close never
     * fires).  A streaming route is refused: its reply_stream_begin fails and cb gets
     * 501 STREAMING_NOT_SUPPORTED.  Returns PL_OK (cb will run), or PL_EINVAL (no
     * method/path/cb) / PL_ENOMEM without calling cb.  Keep arg valid until cb ran. */
    int (*http_dispatch)(pl_plugin_handle *self, const struct pl_http_local_req *req,
                         pl_http_local_done_cb cb, void *arg);
    /* Watch fd (not owned: the caller closes it, after fd_watch_free) for events
     * (PL_FD_READ | PL_FD_WRITE, persistent: cb runs each time the fd is ready until
     * updated or freed).  NULL on a bad fd/events or out of memory. */
    pl_fdwatch *(*fd_watch)(pl_plugin_handle *self, int fd, int events, pl_fd_cb cb,
                            void *arg);
    /* Watch for other events from now on (0: pause). */
    int (*fd_watch_update)(pl_fdwatch *w, int events);
    void (*fd_watch_free)(pl_fdwatch *w); /* NULL-safe; safe inside its own callback */

    /* --- ABI 1.2: declare the keys of the plugin's [section].  Call it first in init,
     * once, and return its result unless PL_OK.  keys must stay valid while the plugin
     * is loaded (a static const array).  The host checks the section now (unknown
     * keys, types, ranges, words: one error line each, naming file:line, as for core
     * keys), again on SIGHUP before anything changes, and in `pipelet --check-config`.
     * Returns PL_OK; PL_EINVAL when the section has errors (logged); PL_EEXIST when
     * called twice; PL_ESTATE in check mode: --check-config calls init only to get the
     * declarations and the daemon is not running, so init must return at once, having
     * registered and allocated nothing. */
    int (*config_declare)(pl_plugin_handle *self, const struct pl_config_key *keys, size_t n);

    /* --- ABI 1.2: TLS (core/tls.c): client certificates out and in */
    /* http_fetch with options (struct pl_http_fetch_opts above): a client certificate
     * for mutual TLS.  Same contract as http_fetch (which is this with no client
     * certificate): PL_OK and cb runs exactly once, later, never from inside this call;
     * PL_EINVAL for a missing url/cb, a URL that is not http(s), a size too small to
     * hold url, or client_cert without client_key; PL_ERR when a certificate, key or CA
     * file cannot be loaded (logged with OpenSSL's reason) — cb is not called then. */
    int (*http_fetch_opts)(pl_plugin_handle *self, const struct pl_http_fetch_opts *o,
                           pl_http_done_cb cb, void *arg);
    /* http_route with options (struct pl_http_route_opts above), e.g. PL_ROUTE_CLIENT_CERT.
     * Returns as http_route (PL_EEXIST for a duplicate method+pattern, PL_EINVAL for an
     * unknown flag or a size too small to hold flags). */
    int (*http_route_opts)(pl_plugin_handle *self, const struct pl_http_route_opts *o,
                           pl_route_cb cb, void *arg);
    /* The subject of the client certificate the request came with, RFC 2253
     * ("CN=DE*ABC,O=Example CPO,C=DE"), when the [http] listener speaks TLS, has a
     * tls_client_ca, and the client presented a certificate that verified against it;
     * else NULL (on any route, flagged or not).  Borrowed: valid until the request is
     * answered.  Check it against who may call the route: verification says only that
     * the client CA issued it. */
    const char *(*req_client_cert_subject)(pl_request *req);

    /* --- ABI 1.2: the API description.  fragment (borrowed) is an OpenAPI 3.1 object with
     * "paths" (each operation attaches to this plugin's route of that method and pattern,
     * registered first) and "components" (schemas, parameters, responses joining the
     * document's; a name the core or an earlier plugin defined keeps its first
     * definition; "#/components/..." refs resolve against the whole document).  From then
     * on the router checks a described route's JSON body against its requestBody schema
     * and answers 400 MISSING_PARAMETER / INVALID_PARAMETER / INVALID_ENUM with "field" before the
     * handler runs.  Call it again to replace.  Returns PL_OK; PL_ENOENT when a described
     * path is not a route of this plugin (logged; the rest is attached); PL_EINVAL. */
    int (*http_describe)(pl_plugin_handle *self, json_t *fragment);

    /* --- ABI 1.2: tariffs and session cost (pipelet/billing.h) */
    const struct pl_billing_api *billing;

    /* --- ABI 1.2: sites, station power limits and the load balancer (pipelet/load.h) */
    const struct pl_load_api *load;

    /* --- ABI 1.2: the address the request came from ("192.0.2.7", "2001:db8::1"), for a
     * plugin's own address allowlist (e.g. OICP: only Hubject's addresses); NULL for a
     * request made with http_dispatch.  Borrowed: valid until the request is answered. */
    const char *(*req_remote_addr)(pl_request *req);

    /* --- ABI 1.2: the durable outbox (pipelet/outbox.h) */
    const struct pl_outbox_api *outbox;
};

/* A plugin's description kept as JSON text in its folder (embedded at build time, for
 * instance by scripts/text2c.sh) given to http_describe.  Nothing happens on a host older
 * than 1.2 (the routes work, undescribed); a text that is not JSON or describes a route the
 * plugin does not serve is logged, and the plugin keeps serving. */
static inline void pl_http_describe_text(const struct pl_host *h, pl_plugin_handle *self,
                                         const char *text, size_t len)
{
    if (!PL_HOST_HAS(h, http_describe) || !h->http_describe)
        return;
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, 0, &jerr);
    if (!doc) {
        h->log(self, PL_LOG_ERROR, "embedded API description is invalid: %s (line %d)",
               jerr.text, jerr.line);
        return;
    }
    if (h->http_describe(self, doc) != PL_OK)
        h->log(self, PL_LOG_WARN, "the API description names routes this plugin does not serve");
    json_decref(doc);
}

#ifdef __cplusplus
}
#endif
#endif
