/*
 * session.c — the connection lifecycle shared by the OCPP protocol plugins (session.h).
 */
#include "session.h"
#include "execute.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- station id -> live connection ---- */

struct live_entry {
    struct live_entry *next;
    pl_ocpp_conn *c;
    char id[]; /* copied: the map may outlive a connection's own strings by a callback */
};

static uint32_t hash_id(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static struct live_entry **live_slot(struct ocpp_common *k, const char *id)
{
    struct live_entry **pp = &k->live[hash_id(id) & (k->live_buckets - 1)];
    while (*pp && strcmp((*pp)->id, id) != 0)
        pp = &(*pp)->next;
    return pp;
}

static void live_grow(struct ocpp_common *k)
{
    size_t nb = k->live_buckets ? k->live_buckets * 2 : 64;
    struct live_entry **b = calloc(nb, sizeof *b);
    if (!b)
        return; /* still correct, only slower */
    for (size_t i = 0; i < k->live_buckets; i++)
        for (struct live_entry *e = k->live[i], *next; e; e = next) {
            next = e->next;
            struct live_entry **head = &b[hash_id(e->id) & (nb - 1)];
            e->next = *head;
            *head = e;
        }
    free(k->live);
    k->live = b;
    k->live_buckets = nb;
}

static pl_ocpp_conn *live_get(struct ocpp_common *k, const char *id)
{
    if (!k->live)
        return NULL;
    struct live_entry *e = *live_slot(k, id);
    return e ? e->c : NULL;
}

static int live_put(struct ocpp_common *k, const char *id, pl_ocpp_conn *c)
{
    if (k->live_count >= k->live_buckets)
        live_grow(k);
    if (!k->live)
        return PL_ENOMEM;
    struct live_entry **pp = live_slot(k, id);
    if (*pp) {
        (*pp)->c = c;
        return PL_OK;
    }
    size_t n = strlen(id) + 1;
    struct live_entry *e = malloc(sizeof *e + n);
    if (!e)
        return PL_ENOMEM;
    e->next = NULL;
    e->c = c;
    memcpy(e->id, id, n);
    *pp = e;
    k->live_count++;
    return PL_OK;
}

/* Forget id only while it still maps to c: a replaced connection closing late must
 * not remove its successor. */
static void live_del_if(struct ocpp_common *k, const char *id, pl_ocpp_conn *c)
{
    if (!k->live)
        return;
    struct live_entry **pp = live_slot(k, id);
    if (!*pp || (*pp)->c != c)
        return;
    struct live_entry *e = *pp;
    *pp = e->next;
    free(e);
    k->live_count--;
}

/* ---- the handler ---- */

static int on_authorize(void *arg, const struct pl_ocpp_handshake *hs)
{
    struct ocpp_common *k = arg;
    int known;
    const char *why;
    int status = creds_check(k->creds, hs, k->unknown_policy, &known, &why);
    if (status)
        k->host->log(k->self, PL_LOG_WARN, "refusing station %s from %s: %s (HTTP %d%s)", hs->station_id,
                     hs->remote_addr, why, status, hs->tls ? ", over TLS" : "");
    return status;
}

static void on_certificate_saved(pl_db_result *res, void *arg)
{
    struct ocpp_common *k = arg;
    if (!k->host->db_ok(res))
        k->host->log(k->self, PL_LOG_WARN, "cannot record a station's client certificate: %s",
                     k->host->db_error(res));
}

/* The client certificate a profile-3 station connected with, kept in
 * station_certificates: the operator's inventory, what expires when, and what a
 * rotation can retire.  The station row may not be written yet (attach writes it on
 * the pool too): the same statement makes sure it exists. */
static void record_certificate(struct ocpp_common *k, const char *id, json_t *info)
{
    json_t *cert = json_object_get(info, "client_certificate");
    if (!cert)
        return;
    const char *params[] = {id, json_string_value(json_object_get(cert, "fingerprint_sha256")),
                            json_string_value(json_object_get(cert, "not_before")),
                            json_string_value(json_object_get(cert, "not_after"))};
    k->host->db_query(k->self,
                      "WITH s AS (INSERT INTO stations (id) VALUES ($1) ON CONFLICT (id) DO NOTHING) "
                      "INSERT INTO station_certificates (station_id, fingerprint, subject_cn, not_before, not_after) "
                      "VALUES ($1, $2, $1, $3, $4) ON CONFLICT (station_id, fingerprint) "
                      "DO UPDATE SET last_seen = now()",
                      4, params, on_certificate_saved, k);
}

/* The connection's data becomes its session; a previous connection of the same station
 * is closed; the station is attached with the plugin's driver. */
static void on_open(void *arg, pl_ocpp_conn *c)
{
    struct ocpp_common *k = arg;
    struct ocpp_session *cx = calloc(1, sizeof *cx);
    if (!cx) {
        k->ocpp->close(c, 1011, "out of memory");
        return;
    }
    cx->plugin = k->plugin;
    cx->common = k;
    cx->c = c;
    const char *id = k->ocpp->station_id(c);
    /* a known station reconnecting need not boot again (many chargers boot only on
     * power-up); an unknown one under the pending policy must, and is told Pending */
    cx->known = creds_known(k->creds, id);
    cx->accepted = cx->known || k->unknown_policy == CREDS_ACCEPT;
    k->ocpp->set_data(c, cx);
    /* a second connection with the same id replaces the first: the registry detaches the
     * old one when we attach; close its socket so the charger keeps one session */
    pl_ocpp_conn *old = live_get(k, id);
    if (old && old != c) {
        k->host->log(k->self, PL_LOG_INFO, "station %s reconnected: closing the old connection", id);
        k->ocpp->close(old, 1000, "replaced by a new connection");
    }
    json_t *info = k->ocpp->info(c); /* remote address, subprotocol, TLS, certificate */
    if (info) {
        json_object_del(info, "queue_depth");
        json_object_del(info, "messages_in");
        json_object_del(info, "messages_out");
        json_object_del(info, "connected_since");
        /* the profile the station is held to (the handshake enforced it) */
        int profile = creds_profile(k->creds, id);
        json_object_set_new(info, "security_profile", json_integer(profile > 0 ? profile : 0));
        record_certificate(k, id, info);
    }
    cx->station = k->st->attach(k->self, id, &k->driver, cx, info);
    if (!cx->station || live_put(k, id, c) != PL_OK) {
        if (cx->station)
            k->st->detach(cx->station);
        k->ocpp->set_data(c, NULL);
        free(cx);
        k->ocpp->close(c, 1011, "cannot register the station");
        return;
    }
    creds_remember(k->creds, id);
}

static void on_call(void *arg, pl_ocpp_conn *c, const char *msg_id, const char *action, json_t *payload)
{
    struct ocpp_common *k = arg;
    k->on_call(k->plugin, c, msg_id, action, payload);
}

/* Detach (silently when replaced) and forget. */
static void on_close(void *arg, pl_ocpp_conn *c, int code, const char *reason)
{
    struct ocpp_common *k = arg;
    struct ocpp_session *cx = k->ocpp->data(c);
    (void)code;
    (void)reason;
    if (!cx)
        return;
    live_del_if(k, k->ocpp->station_id(c), c);
    k->st->detach(cx->station);
    k->ocpp->set_data(c, NULL);
    free(cx);
}

void ocpp_session_reply(struct ocpp_session *cx, const char *msg_id, json_t *payload)
{
    cx->common->ocpp->reply(cx->c, msg_id, payload);
}

void ocpp_session_reply_empty(struct ocpp_session *cx, const char *msg_id)
{
    ocpp_session_reply(cx, msg_id, json_object());
}

void ocpp_session_record(struct ocpp_session *cx, const char *msg_id, json_t *payload, const char *kind)
{
    cx->common->st->record(cx->station, kind, json_deep_copy(payload));
    ocpp_session_reply_empty(cx, msg_id);
}

/* ---- lifecycle ---- */

static void refresh_creds(void *arg)
{
    struct ocpp_common *k = arg;
    creds_refresh(k->creds);
}

int ocpp_common_init(struct ocpp_common *k, const struct pl_host *host, pl_plugin_handle *self,
                     const char *subprotocol, const struct ocpp_codec *codec,
                     ocpp_call_handler call_handler, void *plugin)
{
    memset(k, 0, sizeof *k);
    k->host = host;
    k->self = self;
    k->ocpp = host->ocpp;
    k->st = host->stations;
    k->subprotocol = subprotocol;
    k->plugin = plugin;
    k->codec = codec;
    k->driver = (struct pl_driver){.size = sizeof k->driver, .protocol = subprotocol,
                                   .execute = ocpp_driver_execute};
    k->on_call = call_handler;
    k->handler = (struct pl_ocpp_handler){sizeof k->handler, subprotocol, on_authorize, on_open, on_call, on_close};
    /* the settings every OCPP plugin shares ([ocpp16], [ocpp201]) */
    static const struct pl_config_key keys[] = {
        {"unknown_stations", PL_CONFIG_STRING, "reject", 0, 0, NULL,
         "stations not registered: accept | pending | reject (checked at init)", PL_CONFIG_RESTART},
        {"heartbeat_interval", PL_CONFIG_INT, "300", 1, 86400, NULL, "interval sent in BootNotification, s",
         PL_CONFIG_RESTART},
        {"boot_retry_interval", PL_CONFIG_INT, "60", 1, 86400, NULL, "retry interval of a Pending boot, s",
         PL_CONFIG_RESTART},
        {"call_timeout_ms", PL_CONFIG_INT, "0", 0, 3600000, NULL, "CALL timeout (0: [ocpp] call_timeout)",
         PL_CONFIG_RESTART},
        {"data_transfer_vendors", PL_CONFIG_LIST, NULL, 0, 0, NULL, "vendorIds whose DataTransfer is Accepted", 0},
    };
    int rc = host->config_declare(self, keys, sizeof keys / sizeof keys[0]);
    if (rc != PL_OK)
        return rc;
    if (!k->ocpp || !k->st) {
        host->log(self, PL_LOG_ERROR, "the core offers no OCPP layer or station registry");
        return PL_ERR;
    }
    k->unknown_policy = creds_policy_config(host, self); /* reject when unset */
    if (k->unknown_policy < 0)
        return PL_EINVAL;
    if (host->config_int(self, "heartbeat_interval", 300, 1, 86400, &k->heartbeat_interval) ||
        host->config_int(self, "boot_retry_interval", 60, 1, 86400, &k->boot_retry_interval) ||
        host->config_int(self, "call_timeout_ms", 0, 0, 3600000, &k->call_timeout_ms))
        return PL_EINVAL;
    k->creds = creds_new(host, self);
    if (!k->creds || creds_register_routes(k->creds) != PL_OK ||
        k->ocpp->register_handler(self, &k->handler, k) != PL_OK) {
        host->log(self, PL_LOG_ERROR, "cannot register the %s handler", subprotocol);
        ocpp_common_fini(k);
        return PL_ERR;
    }
    return PL_OK;
}

void ocpp_common_start(struct ocpp_common *k)
{
    refresh_creds(k);
    k->creds_timer = k->host->timer_new(k->self, refresh_creds, k);
    if (k->creds_timer)
        k->host->timer_start(k->creds_timer, 30000, 1);
}

void ocpp_common_reload(struct ocpp_common *k)
{
    refresh_creds(k);
}

void ocpp_common_fini(struct ocpp_common *k)
{
    if (k->creds_timer)
        k->host->timer_free(k->creds_timer);
    k->creds_timer = NULL;
    creds_free(k->creds);
    k->creds = NULL;
    for (size_t i = 0; i < k->live_buckets; i++)
        for (struct live_entry *e = k->live[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(k->live);
    k->live = NULL;
    k->live_buckets = k->live_count = 0;
}
