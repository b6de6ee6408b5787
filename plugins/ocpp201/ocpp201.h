/*
 * ocpp201.h — shared state of the OCPP 2.0.1 CSMS plugin: the handler for CS->CSMS
 * messages (handlers.c), the neutral driver (driver.c) and station credentials.
 */
#ifndef OCPP201_H
#define OCPP201_H

#include <pipelet/pipelet.h>
#include "session.h"

struct o201 {
    const struct pl_host *host;
    pl_plugin_handle *self;
    const struct pl_ocpp_api *ocpp;
    const struct pl_station_api *st;
    const struct pl_ocpp_protocol *proto;
    struct ocpp_common com;      /* settings, credentials, live connections */
    long request_id;             /* for GetLog / UpdateFirmware / reports */
    /* CostUpdated (cost.c): when each transaction was last told, who does not take it */
    struct o201_cost_tx *cost_txs;
    struct o201_cost_mute *cost_muted;
    pl_subscription *cost_sub, *cost_end_sub, *cost_conn_sub;
};

/* The plugin's state behind a connection's struct ocpp_session. */
static inline struct o201 *O201(const struct ocpp_session *cx)
{
    return cx->plugin;
}

extern const struct ocpp_codec o201_codec; /* driver.c */
/* cost.c: the running cost told to stations (CostUpdated) */
void o201_cost_start(struct o201 *p);
void o201_cost_stop(struct o201 *p);
/* The tariff's personal message for this transaction not yet told to the station (new;
 * it is then told), or NULL. */
json_t *o201_cost_message(struct o201 *p, const char *station, const char *tx);

void o201_on_call(void *arg, pl_ocpp_conn *c, const char *msg_id, const char *action,
                  json_t *payload);
/* The neutral key of a device-model variable: "Component[.instance][@evse]/Variable[.instance]". */
void o201_variable_key(json_t *component, json_t *variable, char *out, size_t len);

#endif
