/*
 * ocpp16.c — the OCPP 1.6 central system plugin's descriptor.  The "ocpp1.6" handler,
 * handshakes, one connection per charge point and attaching to the registry are the
 * shared session lifecycle (plugins/ocpp_common/session.h); what is 1.6 is the driver
 * (driver.c) and the handlers of charge point messages (handlers.c).
 */
#include "ocpp16.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int o16_init(pl_plugin_handle *self, const struct pl_host *host, void **state)
{
    struct o16 *p = calloc(1, sizeof *p);
    if (!p)
        return PL_ENOMEM;
    p->host = host;
    p->self = self;
    if (ocpp_common_init(&p->com, host, self, "ocpp1.6", &o16_codec, o16_on_call, p) != PL_OK) {
        free(p);
        return PL_ERR;
    }
    p->ocpp = p->com.ocpp;
    p->st = p->com.st;
    *state = p;
    return PL_OK;
}

static int o16_start(void *state)
{
    struct o16 *p = state;
    ocpp_common_start(&p->com);
    return PL_OK;
}

static int o16_reload(void *state)
{
    struct o16 *p = state;
    ocpp_common_reload(&p->com);
    return PL_OK;
}

static void o16_fini(void *state)
{
    struct o16 *p = state;
    ocpp_common_fini(&p->com);
    free(p);
}

PL_PLUGIN_DEFINE(.name = "ocpp16", .version = PACKAGE_VERSION,
                 .description = "OCPP-J 1.6 central system (28 core + 11 security whitepaper actions)",
                 .init = o16_init, .start = o16_start, .reload = o16_reload, .fini = o16_fini);
