/*
 * ocpp201.c — the OCPP 2.0.1 CSMS plugin: registers the "ocpp2.0.1" handler with the
 * core's OCPP-J layer (same listener as 1.6: the negotiated subprotocol picks the
 * plugin).  Handshakes, one connection per station and attaching to the registry are
 * the shared session lifecycle (plugins/common/session.h); what is 2.0.1 here is the
 * 2.0.1 driver and the handlers of station messages.
 */
#include "ocpp201.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int o201_authorize(void *arg, const struct pl_ocpp_handshake *hs)
{
    struct o201 *p = arg;
    return ocpp_session_authorize(&p->com, hs);
}

static void o201_on_open(void *arg, pl_ocpp_conn *c)
{
    struct o201 *p = arg;
    struct o201_conn *cx = calloc(1, sizeof *cx);
    if (!cx) {
        p->ocpp->close(c, 1011, "out of memory");
        return;
    }
    cx->p = p;
    cx->c = c;
    cx->station = ocpp_session_open(&p->com, c, &o201_driver, cx, &cx->known, &cx->accepted);
    if (!cx->station)
        free(cx);
}

static void o201_on_close(void *arg, pl_ocpp_conn *c, int code, const char *reason)
{
    struct o201 *p = arg;
    struct o201_conn *cx = p->ocpp->data(c);
    (void)code;
    (void)reason;
    if (!cx)
        return;
    ocpp_session_close(&p->com, c, cx->station);
    free(cx);
}

static struct pl_ocpp_handler handler = {
    .size = sizeof(struct pl_ocpp_handler),
    .subprotocol = "ocpp2.0.1",
    .authorize = o201_authorize,
    .on_open = o201_on_open,
    .on_call = o201_on_call,
    .on_close = o201_on_close,
};

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
    if (ocpp_common_init(&p->com, host, self, "ocpp2.0.1", &handler, p) != PL_OK) {
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
    ocpp_common_fini(&p->com);
    free(p);
}

PL_PLUGIN_DEFINE(.name = "ocpp201", .version = PACKAGE_VERSION,
                 .description = "OCPP 2.0.1 CSMS (all 64 actions) on the version-neutral station model",
                 .init = o201_init, .start = o201_start, .reload = o201_reload, .fini = o201_fini);
