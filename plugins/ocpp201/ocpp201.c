/*
 * ocpp201.c — the OCPP 2.0.1 CSMS plugin's descriptor.  The "ocpp2.0.1" handler (same
 * listener as 1.6: the negotiated subprotocol picks the plugin), handshakes, one
 * connection per station and attaching to the registry are the shared session
 * lifecycle (plugins/ocpp_common/session.h); what is 2.0.1 is the driver (driver.c) and the
 * handlers of station messages (handlers.c).
 */
#include "ocpp201.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int o201_init(pl_plugin_handle *self, const struct pl_host *host, void **state)
{
    struct o201 *p = calloc(1, sizeof *p);
    if (!p)
        return PL_ENOMEM;
    p->host = host;
    p->self = self;
    if (!host->ocpp || !(p->proto = host->ocpp->protocol("ocpp2.0.1"))) {
        host->log(self, PL_LOG_ERROR, "the core has no OCPP 2.0.1 message definitions");
        free(p);
        return PL_ERR;
    }
    if (ocpp_common_init(&p->com, host, self, "ocpp2.0.1", &o201_codec, o201_on_call, p) != PL_OK) {
        free(p);
        return PL_ERR;
    }
    p->ocpp = p->com.ocpp;
    p->st = p->com.st;
    *state = p;
    return PL_OK;
}

static int o201_start(void *state)
{
    struct o201 *p = state;
    ocpp_common_start(&p->com);
    o201_cost_start(p);
    return PL_OK;
}

static int o201_reload(void *state)
{
    struct o201 *p = state;
    ocpp_common_reload(&p->com);
    return PL_OK;
}

static void o201_fini(void *state)
{
    struct o201 *p = state;
    o201_cost_stop(p);
    ocpp_common_fini(&p->com);
    free(p);
}

PL_PLUGIN_DEFINE(.name = "ocpp201", .version = PACKAGE_VERSION,
                 .description = "OCPP 2.0.1 CSMS (all 64 actions) on the version-neutral station model",
                 .init = o201_init, .start = o201_start, .reload = o201_reload, .fini = o201_fini);
