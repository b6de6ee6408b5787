/*
 * registry.h — connected stations in memory (id -> pl_station), their snapshots
 * (boot data, EVSE/connector status, connection info) and a bounded message log
 * per station.  Implements the registry part of struct pl_station_api.
 */
#ifndef PIPELET_REGISTRY_H
#define PIPELET_REGISTRY_H

#include <stddef.h>
#include "core.h"
#include "hashmap.h"

/* Record one OCPP frame (raw JSON text) in the station's bounded log.
 * dir: "in" (station -> gateway) or "out".  action may be NULL (results/errors). */
void registry_log_message(const char *station_id, const char *dir, const char *action,
                          const char *frame, size_t len);
/* The same, for a caller that logs many frames of one station (a connection): *ref
 * remembers the station's ring between calls, saving a lookup per frame.  Start it
 * zeroed; it stays safe when rings are evicted or freed. */
struct registry_log_ref {
    void *ring;
    unsigned long gen;
};
void registry_log_message_ref(struct registry_log_ref *ref, const char *station_id, const char *dir,
                              const char *action, const char *frame, size_t len);
/* Counts for /health, /metrics, /system. */
size_t registry_online_count(void);
/* What the message log holds, in bytes (bounded by [core] message_log_memory). */
size_t registry_message_log_bytes(void);
void registry_shutdown(void);

/* The filled struct pl_station_api (static; size = sizeof). */
const struct pl_station_api *station_api(void);

/* ---- the registry part of struct pl_station_api ---- */
pl_station *station_api_attach(pl_plugin_handle *self, const char *station_id,
                               const struct pl_driver *drv, void *drv_arg, json_t *conn_info);
void station_api_detach(pl_station *st);
pl_station *station_api_find(const char *station_id);
const char *station_api_id(pl_station *st);
const char *station_api_protocol(pl_station *st);
json_t *station_api_snapshot(pl_station *st);
int station_api_online(const char *station_id);
json_t *station_api_messages(const char *station_id, const char *action, const char *dir,
                             int limit);
json_t *station_api_list_online(void);


/* ---- the station object (core internal: model.c and command.c read it) ---- */
#define REGISTRY_MAX_CONNECTORS 128 /* per station; a peer cannot grow it further */

struct registry_connector {
    int evse, connector;
    char *status, *error_code, *info;
    char updated_at[40];
};

struct pl_station {
    char *id;
    char *protocol;
    const struct pl_driver *drv;
    void *drv_arg;
    pl_plugin_handle *owner;
    /* Kept as compact JSON text, parsed only for snapshots: at 10,000 stations a
     * jansson object per station cost ~1.5 KB each, text costs ~200 bytes. */
    char *conn_info;               /* {"remote_addr","subprotocol","security_profile"} */
    char *boot;                    /* the last boot notification, or NULL */
    struct registry_connector *conns;
    size_t nconns;
    char connected_since[40];
    char last_seen[40];
    uint64_t last_seen_written_ms; /* coalesces last_seen writes (model.c) */
    int replaced;                  /* a newer connection took the id over */
    struct pl_command *pending;    /* commands not yet completed (command.c) */
    struct pl_station *prev, *next; /* every live station object, replaced ones too */
};

/* The node name written to stations.node ([core] node_name or the host name). */
const char *registry_node_name(void);

#endif
