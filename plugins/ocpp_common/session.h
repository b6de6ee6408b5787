/*
 * session.h — the connection lifecycle every OCPP protocol plugin shares, so that a
 * protocol plugin is its message handlers and its driver, nothing else:
 *   - the settings of [ocpp16] / [ocpp201] / ...: unknown_stations, heartbeat_interval,
 *     boot_retry_interval, call_timeout_ms;
 *   - the handshake decision (security profile 1 credentials, unknown-station policy)
 *     and the credential cache with its refresh;
 *   - one live connection per station id: a charger that reconnects replaces its old
 *     connection, which is closed (looked up in a map, not a scan: a reconnect storm
 *     of 10,000 stations must not cost 10,000 x 10,000 comparisons);
 *   - attaching to the station registry with the plugin's driver, and detaching;
 *   - the per-connection state every protocol keeps (struct ocpp_session).
 */
#ifndef PL_COMMON_SESSION_H
#define PL_COMMON_SESSION_H

#include <pipelet/pipelet.h>
#include "creds.h"

struct live_entry;
struct ocpp_codec; /* execute.h */

/* A station's connection, as every protocol plugin keeps it (the pl_ocpp_conn's data). */
struct ocpp_common;
struct ocpp_session {
    void *plugin;        /* the protocol plugin's state, as given to ocpp_common_init */
    struct ocpp_common *common;
    pl_ocpp_conn *c;
    pl_station *station;
    int accepted;        /* BootNotification accepted (or a known station reconnecting) */
    int known;           /* the station was known before it connected */
};

/* A protocol plugin's handler of station CALLs; data(c) is its struct ocpp_session. */
typedef void (*ocpp_call_handler)(void *plugin, pl_ocpp_conn *c, const char *msg_id, const char *action,
                                  json_t *payload);

struct ocpp_common {
    const struct pl_host *host;
    pl_plugin_handle *self;
    const struct pl_ocpp_api *ocpp;
    const struct pl_station_api *st;
    const char *subprotocol;            /* "ocpp1.6", "ocpp2.0.1" */
    long heartbeat_interval, boot_retry_interval, call_timeout_ms;
    int unknown_policy;                 /* enum creds_policy */
    struct creds *creds;
    /* private */
    void *plugin;
    const struct ocpp_codec *codec;     /* the version's CALLs (execute.h) */
    struct pl_driver driver;            /* runs commands through codec */
    ocpp_call_handler on_call;
    struct pl_ocpp_handler handler;
    pl_timer *creds_timer;
    struct live_entry **live;           /* station id -> its live connection */
    size_t live_buckets, live_count;
};

/* Reads the shared settings, loads credentials, registers the password routes and the
 * subprotocol's handler: handshakes, opening and closing connections are done here,
 * station CALLs go to on_call(plugin, ...), commands through the version's codec
 * (execute.h). */
int ocpp_common_init(struct ocpp_common *k, const struct pl_host *host, pl_plugin_handle *self,
                     const char *subprotocol, const struct ocpp_codec *codec, ocpp_call_handler on_call,
                     void *plugin);
void ocpp_common_start(struct ocpp_common *k);  /* credential refresh every 30 s */
void ocpp_common_reload(struct ocpp_common *k); /* SIGHUP: refresh now */
void ocpp_common_fini(struct ocpp_common *k);

/* Answers every protocol gives the same way (payload stolen). */
void ocpp_session_reply(struct ocpp_session *cx, const char *msg_id, json_t *payload);
void ocpp_session_reply_empty(struct ocpp_session *cx, const char *msg_id);
/* A message whose content is kept as a station record of kind, answered with {}. */
void ocpp_session_record(struct ocpp_session *cx, const char *msg_id, json_t *payload, const char *kind);

#endif
