/*
 * ocpp201.c — the OCPP 2.0.1 CSMS plugin: registers the "ocpp2.0.1" handler with the
 * core's OCPP-J layer (same listener as 1.6: the negotiated subprotocol picks the
 * plugin), decides handshakes (security profile 1, unknown-station policy), and
 * attaches each connected station to the registry with the 2.0.1 driver.
 */
#include "ocpp201.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void refresh_creds(void *arg)
{
    struct o201 *p = arg;
    creds_refresh(p->creds);
}

/* ---- handler ---- */

static int o201_authorize(void *arg, const struct pl_ocpp_handshake *hs)
{
    struct o201 *p = arg;
    int known;
    int status = creds_check(p->creds, hs, p->unknown_policy, &known);
    if (status)
        p->host->log(p->self, PL_LOG_WARN, "refusing station %s from %s: %s", hs->station_id,
                     hs->remote_addr, status == 404 ? "unknown station" : "bad credentials");
    return status;
}

static void o201_on_open(void *arg, pl_ocpp_conn *c)
{
    struct o201 *p = arg;
    struct o201_conn *cx = calloc(1, sizeof *cx);
    if (!cx) {
        p->ocpp->close(c, 1011, "out of memory");
        return;
    }
    const char *id = p->ocpp->station_id(c);
    struct pl_ocpp_handshake hs = {sizeof hs, id, "", "", "ocpp2.0.1", NULL, NULL, 0};
    int known;
    creds_check(p->creds, &hs, CREDS_ACCEPT, &known);
    cx->p = p;
    cx->c = c;
    cx->known = known;
    /* a known station reconnecting need not boot again; an unknown one under the
     * pending policy must (and is told Pending) */
    cx->accepted = cx->known || p->unknown_policy == CREDS_ACCEPT;
    p->ocpp->set_data(c, cx);
    /* a second connection with the same id replaces the first: the registry detaches the
     * old one; close its socket so the charger does not keep two sessions */
    if (p->st->find(id)) {
        for (struct o201_conn *o = p->conns; o; o = o->next)
            if (o->station && strcmp(p->ocpp->station_id(o->c), id) == 0) {
                p->host->log(p->self, PL_LOG_INFO, "station %s reconnected: closing the old connection", id);
                /* its station object stays valid, marked replaced by the registry
                 * when we attach below; its on_close detaches it silently */
                p->ocpp->close(o->c, 1000, "replaced by a new connection");
                break;
            }
    }
    json_t *info = json_pack("{s:s, s:s, s:i}", "remote_addr", p->ocpp->remote_addr(c),
                             "subprotocol", "ocpp2.0.1", "security_profile",
                             creds_has_password(p->creds, id) ? 1 : 0);
    cx->station = p->st->attach(p->self, id, &o201_driver, cx, info);
    if (!cx->station) {
        p->ocpp->set_data(c, NULL);
        free(cx);
        p->ocpp->close(c, 1011, "cannot register the station");
        return;
    }
    cx->next = p->conns;
    if (p->conns)
        p->conns->prev = cx;
    p->conns = cx;
    creds_remember(p->creds, id);
}

static void o201_on_close(void *arg, pl_ocpp_conn *c, int code, const char *reason)
{
    struct o201 *p = arg;
    struct o201_conn *cx = p->ocpp->data(c);
    (void)code;
    (void)reason;
    if (!cx)
        return;
    /* a replaced station is detached silently by the registry */
    if (cx->station)
        p->st->detach(cx->station);
    if (cx->prev)
        cx->prev->next = cx->next;
    else if (p->conns == cx)
        p->conns = cx->next;
    if (cx->next)
        cx->next->prev = cx->prev;
    p->ocpp->set_data(c, NULL);
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
    p->ocpp = host->ocpp;
    p->st = host->stations;
    if (!p->ocpp || !p->st || !(p->proto = p->ocpp->protocol("ocpp2.0.1"))) {
        host->log(self, PL_LOG_ERROR, "the core has no OCPP 2.0.1 message definitions");
        goto fail;
    }
    const char *policy = host->config_get(self, "unknown_stations", "accept");
    p->unknown_policy = creds_policy_from(policy);
    if (p->unknown_policy < 0) {
        host->log(self, PL_LOG_ERROR, "[ocpp201] unknown_stations must be accept, pending or reject, not '%s'",
                  policy);
        goto fail;
    }
    if (host->config_int(self, "heartbeat_interval", 300, 1, 86400, &p->heartbeat_interval) ||
        host->config_int(self, "boot_retry_interval", 60, 1, 86400, &p->boot_retry_interval) ||
        host->config_int(self, "call_timeout_ms", 0, 0, 3600000, &p->call_timeout_ms))
        goto fail;
    p->creds = creds_new(host, self);
    if (!p->creds || creds_register_routes(p->creds) != PL_OK ||
        p->ocpp->register_handler(self, &handler, p) != PL_OK) {
        host->log(self, PL_LOG_ERROR, "cannot register the ocpp2.0.1 handler");
        goto fail;
    }
    *state = p;
    return PL_OK;
fail:
    creds_free(p->creds);
    free(p);
    return PL_ERR;
}

static int o201_start(void *state)
{
    struct o201 *p = state;
    refresh_creds(p);
    p->creds_timer = p->host->timer_new(p->self, refresh_creds, p);
    if (p->creds_timer)
        p->host->timer_start(p->creds_timer, 30000, 1);
    return PL_OK;
}

static int o201_reload(void *state)
{
    refresh_creds(state);
    return PL_OK;
}

static void o201_fini(void *state)
{
    struct o201 *p = state;
    p->host->timer_free(p->creds_timer);
    creds_free(p->creds);
    free(p);
}

PL_PLUGIN_DEFINE(.name = "ocpp201", .version = PACKAGE_VERSION,
                 .description = "OCPP 2.0.1 CSMS (all 64 actions) on the version-neutral station model",
                 .init = o201_init, .start = o201_start, .reload = o201_reload, .fini = o201_fini);
