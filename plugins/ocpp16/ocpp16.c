/*
 * ocpp16.c — the OCPP 1.6 central system plugin: registers the "ocpp1.6" handler with
 * the core's OCPP-J layer, decides handshakes (security profile 1 and the unknown-station
 * policy), attaches every connected charge point to the registry with the 1.6 driver,
 * and closes a replaced connection when a charge point reconnects.
 */
#include "ocpp16.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int o16_authorize(void *arg, const struct pl_ocpp_handshake *hs)
{
    struct o16 *p = arg;
    int known;
    int status = creds_check(p->creds, hs, p->unknown_policy, &known);
    if (status)
        p->host->log(p->self, PL_LOG_WARN, "refusing station %s from %s: %s", hs->station_id,
                     hs->remote_addr, status == 404 ? "unknown station" : "bad credentials");
    return status;
}

static void link_conn(struct o16 *p, struct o16_conn *cx)
{
    cx->next = p->conns;
    if (p->conns)
        p->conns->prev = cx;
    p->conns = cx;
}

static void unlink_conn(struct o16 *p, struct o16_conn *cx)
{
    if (cx->prev)
        cx->prev->next = cx->next;
    else if (p->conns == cx)
        p->conns = cx->next;
    if (cx->next)
        cx->next->prev = cx->prev;
}

static void o16_on_open(void *arg, pl_ocpp_conn *c)
{
    struct o16 *p = arg;
    const char *id = p->ocpp->station_id(c);
    struct o16_conn *cx = calloc(1, sizeof *cx);
    if (!cx) {
        p->ocpp->close(c, 1011, "out of memory");
        return;
    }
    cx->p = p;
    cx->c = c;
    /* a station already in the database reconnecting need not boot again (tolerance:
     * many chargers only boot on power-up) */
    int known;
    struct pl_ocpp_handshake hs = {sizeof hs, id, "", "", "ocpp1.6", NULL, NULL, 0};
    creds_check(p->creds, &hs, CREDS_ACCEPT, &known);
    cx->known = known;
    cx->accepted = known || p->unknown_policy == CREDS_ACCEPT;
    p->ocpp->set_data(c, cx);
    if (p->st->find(id))
        for (struct o16_conn *o = p->conns; o; o = o->next)
            if (strcmp(p->ocpp->station_id(o->c), id) == 0) {
                p->host->log(p->self, PL_LOG_INFO, "station %s reconnected: closing the old connection", id);
                p->ocpp->close(o->c, 1000, "replaced by a new connection");
                break;
            }
    json_t *info = json_pack("{s:s, s:s, s:i}", "remote_addr", p->ocpp->remote_addr(c), "subprotocol",
                             "ocpp1.6", "security_profile", creds_has_password(p->creds, id) ? 1 : 0);
    cx->station = p->st->attach(p->self, id, &o16_driver, cx, info);
    if (!cx->station) {
        p->ocpp->set_data(c, NULL);
        free(cx);
        p->ocpp->close(c, 1011, "cannot register the station");
        return;
    }
    link_conn(p, cx);
    creds_remember(p->creds, id);
}

static void o16_on_close(void *arg, pl_ocpp_conn *c, int code, const char *reason)
{
    struct o16 *p = arg;
    struct o16_conn *cx = p->ocpp->data(c);
    (void)code;
    (void)reason;
    if (!cx)
        return;
    unlink_conn(p, cx);
    p->st->detach(cx->station); /* silent when this connection was replaced */
    p->ocpp->set_data(c, NULL);
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

static void refresh(void *arg)
{
    struct o16 *p = arg;
    creds_refresh(p->creds);
}

static int o16_init(pl_plugin_handle *self, const struct pl_host *host, void **state)
{
    struct o16 *p = calloc(1, sizeof *p);
    if (!p)
        return PL_ENOMEM;
    p->host = host;
    p->self = self;
    p->ocpp = host->ocpp;
    p->st = host->stations;
    const char *policy = host->config_get(self, "unknown_stations", "accept");
    p->unknown_policy = creds_policy_from(policy);
    if (p->unknown_policy < 0) {
        host->log(self, PL_LOG_ERROR, "[ocpp16] unknown_stations must be accept, pending or reject, not '%s'", policy);
        goto fail;
    }
    if (host->config_int(self, "heartbeat_interval", 300, 1, 86400, &p->heartbeat_interval) ||
        host->config_int(self, "boot_retry_interval", 60, 1, 86400, &p->boot_retry_interval) ||
        host->config_int(self, "call_timeout_ms", 0, 0, 3600000, &p->call_timeout_ms))
        goto fail;
    p->creds = creds_new(host, self);
    if (!p->creds || creds_register_routes(p->creds) != PL_OK ||
        host->ocpp->register_handler(self, &handler, p) != PL_OK) {
        host->log(self, PL_LOG_ERROR, "cannot register the ocpp1.6 handler");
        goto fail;
    }
    *state = p;
    return PL_OK;
fail:
    creds_free(p->creds);
    free(p);
    return PL_ERR;
}

static int o16_start(void *state)
{
    struct o16 *p = state;
    creds_refresh(p->creds);
    p->refresh = p->host->timer_new(p->self, refresh, p);
    if (p->refresh)
        p->host->timer_start(p->refresh, 30000, 1);
    return PL_OK;
}

static int o16_reload(void *state)
{
    refresh(state);
    return PL_OK;
}

static void o16_fini(void *state)
{
    struct o16 *p = state;
    p->host->timer_free(p->refresh);
    creds_free(p->creds);
    free(p);
}

PL_PLUGIN_DEFINE(.name = "ocpp16", .version = PACKAGE_VERSION,
                 .description = "OCPP-J 1.6 central system (28 core + 11 security whitepaper actions)",
                 .init = o16_init, .start = o16_start, .reload = o16_reload, .fini = o16_fini);
