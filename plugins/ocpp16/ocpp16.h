/*
 * ocpp16.h — shared state of the OCPP 1.6 central system plugin: CP->CS handlers
 * (handlers.c), the neutral driver (driver.c) and the plugin descriptor (ocpp16.c); the
 * connection lifecycle is plugins/ocpp_common/session.c.
 */
#ifndef OCPP16_H
#define OCPP16_H

#include <pipelet/pipelet.h>
#include "session.h"

struct o16 {
    const struct pl_host *host;
    pl_plugin_handle *self;
    const struct pl_ocpp_api *ocpp;
    const struct pl_station_api *st;
    struct ocpp_common com; /* settings, credentials, live connections */
};

/* The plugin's state behind a connection's struct ocpp_session. */
static inline struct o16 *O16(const struct ocpp_session *cx)
{
    return cx->plugin;
}

extern const struct ocpp_codec o16_codec; /* driver.c */
void o16_on_call(void *arg, pl_ocpp_conn *c, const char *msg_id, const char *action,
                 json_t *payload);

#endif
