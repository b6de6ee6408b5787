/*
 * ocpp16.c — the OCPP 1.6 central system plugin: registers the "ocpp1.6" handler with
 * the core's OCPP-J layer.  Handshakes, one connection per charge point and attaching
 * to the registry are the shared session lifecycle (plugins/common/session.h); what is
 * 1.6 here is the 1.6 driver and the handlers of charge point messages.
 */
#include "ocpp16.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int o16_authorize(void *arg, const struct pl_ocpp_handshake *hs)
{
    struct o16 *p = arg;
    return ocpp_session_authorize(&p->com, hs);
}

static void o16_on_open(void *arg, pl_ocpp_conn *c)
{
    struct o16 *p = arg;
    struct o16_conn *cx = calloc(1, sizeof *cx);
    if (!cx) {
        p->ocpp->close(c, 1011, "out of memory");
        return;
    }
    cx->p = p;
    cx->c = c;
    cx->station = ocpp_session_open(&p->com, c, &o16_driver, cx, &cx->known, &cx->accepted);
    if (!cx->station)
        free(cx);
}

static void o16_on_close(void *arg, pl_ocpp_conn *c, int code, const char *reason)
{
    struct o16 *p = arg;
    struct o16_conn *cx = p->ocpp->data(c);
    (void)code;
    (void)reason;
    if (!cx)
        return;
    ocpp_session_close(&p->com, c, cx->station);
    free(cx);
}

static struct pl_ocpp_handler handler = {
    .size = sizeof(struct pl_ocpp_handler),
    .subprotocol = "ocpp1.6",
    .authorize = o16_authorize,
    .on_open = o16_on_open,
    .on_call = o16_on_call,
    .on_close = o16_on_close,
};

static int o16_init(pl_plugin_handle *self, const struct pl_host *host, void **state)
{
    struct o16 *p = calloc(1, sizeof *p);
    if (!p)
        return PL_ENOMEM;
    p->host = host;
    p->self = self;
    if (ocpp_common_init(&p->com, host, self, "ocpp1.6", &handler, p) != PL_OK) {
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
