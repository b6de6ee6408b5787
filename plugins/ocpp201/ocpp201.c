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
#include <openssl/crypto.h>
#include <openssl/evp.h>

/* ---- station credentials (security profile 1), cached: authorize must not do I/O ---- */

static void creds_free(struct o201_cred *c)
{
    while (c) {
        struct o201_cred *n = c->next;
        free(c->id);
        free(c->hash);
        free(c);
        c = n;
    }
}

static const struct o201_cred *cred_find(struct o201 *p, const char *id)
{
    for (const struct o201_cred *c = p->creds; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

static void on_creds(pl_db_result *res, void *arg)
{
    struct o201 *p = arg;
    const struct pl_host *h = p->host;
    if (!h->db_ok(res))
        return; /* keep the previous cache; the database may be restarting */
    struct o201_cred *list = NULL;
    for (int i = 0; i < h->db_ntuples(res); i++) {
        struct o201_cred *c = calloc(1, sizeof *c);
        if (!c)
            break;
        c->id = strdup(h->db_value(res, i, 0));
        const char *hash = h->db_value(res, i, 1);
        c->hash = hash ? strdup(hash) : NULL;
        c->next = list;
        list = c;
    }
    creds_free(p->creds);
    p->creds = list;
    p->creds_loaded = 1;
}

static void refresh_creds(void *arg)
{
    struct o201 *p = arg;
    p->host->db_query(p->self, "SELECT id, password_hash FROM stations", 0, NULL, on_creds, p);
}

static int hex_decode(const char *hex, unsigned char *out, size_t max)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > max)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return (int)(n / 2);
}

/* "pbkdf2-sha256$iter$salthex$hashhex" (the core's format for stations.password_hash) */
int o201_password_ok(const char *password, const char *stored)
{
    char buf[300];
    unsigned char salt[64], want[64], got[64];
    if (!password || !stored || strlen(stored) >= sizeof buf || strncmp(stored, "pbkdf2-sha256$", 14))
        return 0;
    strcpy(buf, stored + 14);
    char *salt_s = strchr(buf, '$'), *hash_s;
    if (!salt_s || !(hash_s = strchr(salt_s + 1, '$')))
        return 0;
    *salt_s++ = '\0';
    *hash_s++ = '\0';
    long iter = strtol(buf, NULL, 10);
    int sl = hex_decode(salt_s, salt, sizeof salt), wl = hex_decode(hash_s, want, sizeof want);
    if (iter < 1 || iter > 10000000 || sl <= 0 || wl <= 0)
        return 0;
    if (!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sl, (int)iter, EVP_sha256(), wl, got))
        return 0;
    return CRYPTO_memcmp(got, want, (size_t)wl) == 0;
}

/* ---- handler ---- */

static int o201_authorize(void *arg, const struct pl_ocpp_handshake *hs)
{
    struct o201 *p = arg;
    const struct o201_cred *c = cred_find(p, hs->station_id);
    if (!c) {
        if (p->unknown_policy == O201_REJECT) {
            p->host->log(p->self, PL_LOG_WARN, "refusing unknown station %s from %s",
                         hs->station_id, hs->remote_addr);
            return 404;
        }
        return 0;
    }
    if (c->hash) {
        if (!hs->basic_user || strcmp(hs->basic_user, hs->station_id) != 0 ||
            !o201_password_ok(hs->basic_password, c->hash)) {
            p->host->log(p->self, PL_LOG_WARN, "station %s from %s: bad credentials",
                         hs->station_id, hs->remote_addr);
            return 401;
        }
    }
    return 0;
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
    const struct o201_cred *cred = cred_find(p, id);
    cx->p = p;
    cx->c = c;
    cx->known = cred != NULL;
    /* a known station reconnecting need not boot again; an unknown one under the
     * pending policy must (and is told Pending) */
    cx->accepted = cx->known || p->unknown_policy == O201_ACCEPT;
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
                             cred && cred->hash ? 1 : 0);
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
    if (!cred) { /* remember it: the registry upserted the stations row */
        struct o201_cred *n = calloc(1, sizeof *n);
        if (n && (n->id = strdup(id))) {
            n->next = p->creds;
            p->creds = n;
        } else {
            free(n);
        }
    }
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
    if (strcmp(policy, "accept") == 0)
        p->unknown_policy = O201_ACCEPT;
    else if (strcmp(policy, "pending") == 0)
        p->unknown_policy = O201_PENDING;
    else if (strcmp(policy, "reject") == 0)
        p->unknown_policy = O201_REJECT;
    else {
        host->log(self, PL_LOG_ERROR, "[ocpp201] unknown_stations must be accept, pending or reject, not '%s'",
                  policy);
        goto fail;
    }
    if (host->config_int(self, "heartbeat_interval", 300, 1, 86400, &p->heartbeat_interval) ||
        host->config_int(self, "boot_retry_interval", 60, 1, 86400, &p->boot_retry_interval) ||
        host->config_int(self, "call_timeout_ms", 0, 0, 3600000, &p->call_timeout_ms))
        goto fail;
    if (p->ocpp->register_handler(self, &handler, p) != PL_OK) {
        host->log(self, PL_LOG_ERROR, "cannot register the ocpp2.0.1 handler");
        goto fail;
    }
    *state = p;
    return PL_OK;
fail:
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
