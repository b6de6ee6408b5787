/*
 * ocpp16.h — shared state of the OCPP 1.6 central system plugin: CP->CS handlers
 * (handlers.c), the neutral driver (driver.c), lifecycle and handshakes (ocpp16.c).
 */
#ifndef OCPP16_H
#define OCPP16_H

#include <pipelet/pipelet.h>
#include "creds.h"

struct o16 {
    const struct pl_host *host;
    pl_plugin_handle *self;
    const struct pl_ocpp_api *ocpp;
    const struct pl_station_api *st;
    long heartbeat_interval, boot_retry_interval, call_timeout_ms;
    int unknown_policy;
    struct creds *creds;
    pl_timer *refresh;
    struct o16_conn *conns;
};

struct o16_conn {
    struct o16 *p;
    pl_ocpp_conn *c;
    pl_station *station;
    int accepted;   /* BootNotification accepted (or a known station reconnecting) */
    int known;
    struct o16_conn *next, *prev;
};

extern const struct pl_driver o16_driver;
void o16_on_call(void *arg, pl_ocpp_conn *c, const char *msg_id, const char *action,
                 json_t *payload);

#endif
