/*
 * registry.h — connected stations in memory (id -> pl_station), their snapshots
 * (boot data, EVSE/connector status, connection info) and a bounded message log
 * per station.  Implements the registry part of struct pl_station_api.
 */
#ifndef PIPELET_REGISTRY_H
#define PIPELET_REGISTRY_H

#include <stddef.h>
#include "core.h"

/* Record one OCPP frame (raw JSON text) in the station's bounded log.
 * dir: "in" (station -> gateway) or "out".  action may be NULL (results/errors). */
void registry_log_message(const char *station_id, const char *dir, const char *action,
                          const char *frame, size_t len);
/* Counts for /health, /metrics, /system. */
size_t registry_online_count(void);
void registry_shutdown(void);

#endif
