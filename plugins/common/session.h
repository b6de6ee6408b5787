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
 *   - attaching to the station registry with the plugin's driver, and detaching.
 */
#ifndef PL_COMMON_SESSION_H
#define PL_COMMON_SESSION_H

#include <pipelet/pipelet.h>
#include "creds.h"

struct live_entry;

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
    pl_timer *creds_timer;
    struct live_entry **live;           /* station id -> its live connection */
    size_t live_buckets, live_count;
};

/* Reads the shared settings, loads credentials and registers the password routes,
 * then the plugin's OCPP handler (whose arg is passed back to its callbacks). */
int ocpp_common_init(struct ocpp_common *k, const struct pl_host *host, pl_plugin_handle *self,
                     const char *subprotocol, const struct pl_ocpp_handler *handler, void *handler_arg);
void ocpp_common_start(struct ocpp_common *k);  /* credential refresh every 30 s */
void ocpp_common_reload(struct ocpp_common *k); /* SIGHUP: refresh now */
void ocpp_common_fini(struct ocpp_common *k);

/* pl_ocpp_handler.authorize: 0 to accept the handshake, or an HTTP status. */
int ocpp_session_authorize(struct ocpp_common *k, const struct pl_ocpp_handshake *hs);

/* pl_ocpp_handler.on_open: the connection's data becomes cx; a previous connection of
 * the same station is closed; the station is attached with driver/cx.  *known: the
 * station was known before; *accepted: it need not boot first (known, or the policy
 * accepts anyone).  NULL when it could not be attached (the connection is closed). */
pl_station *ocpp_session_open(struct ocpp_common *k, pl_ocpp_conn *c, const struct pl_driver *driver,
                              void *cx, int *known, int *accepted);

/* pl_ocpp_handler.on_close: detach (silently when replaced) and forget. */
void ocpp_session_close(struct ocpp_common *k, pl_ocpp_conn *c, pl_station *station);

#endif
