/*
 * oicp.c — the oicp plugin: Hubject roaming for the charge-point operator (OICP 2.3,
 * CPO side).  Lifecycle, configuration and the tables; the work is in the other files
 * (see oicp.h).  Without [oicp] url and operator_id the plugin loads, serves its routes
 * (which say roaming is off) and calls nobody.
 */
#include "oicp.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct pl_migration migrations[] = {
    {1, "roaming",
     "CREATE TABLE oicp_locations (\n"
     "  station_id text PRIMARY KEY,\n"
     "  data jsonb NOT NULL,\n"
     "  created_at timestamptz NOT NULL DEFAULT now(),\n"
     "  updated_at timestamptz NOT NULL DEFAULT now());\n"
     "CREATE SEQUENCE oicp_reservation_ids START 700000000;\n"
     "CREATE TABLE oicp_sessions (\n"
     "  id uuid PRIMARY KEY,\n"
     "  origin text NOT NULL CHECK (origin IN ('remote','reservation','authorize')),\n"
     "  provider_id text,\n"
     "  station_id text NOT NULL,\n"
     "  evse int NOT NULL,\n"
     "  evse_id text NOT NULL,\n"
     "  identification jsonb NOT NULL,\n"
     "  id_token text NOT NULL,\n"
     "  cpo_partner_session_id text,\n"
     "  emp_partner_session_id text,\n"
     "  partner_product_id text,\n"
     "  status text NOT NULL CHECK (status IN ('pending','reserved','authorized','active','ended',\n"
     "    'failed','cancelled','expired')),\n"
     "  reservation_id int,\n"
     "  expires_at timestamptz,\n"
     "  transaction_id bigint,\n"
     "  detail text,\n"
     "  created_at timestamptz NOT NULL DEFAULT now(),\n"
     "  updated_at timestamptz NOT NULL DEFAULT now(),\n"
     "  ended_at timestamptz);\n"
     "CREATE INDEX oicp_sessions_open ON oicp_sessions (station_id)\n"
     "  WHERE status IN ('pending','reserved','authorized','active');\n"
     "CREATE INDEX oicp_sessions_tx ON oicp_sessions (transaction_id) WHERE transaction_id IS NOT NULL;\n"
     "CREATE INDEX oicp_sessions_created ON oicp_sessions (created_at DESC);\n"
},
};

static const struct pl_config_key keys[] = {
    {"url", PL_CONFIG_STRING, NULL, 0, 0, NULL,
     "Hubject's OICP base URL (https://service-qa.hubject.com/api/oicp); unset: roaming off", PL_CONFIG_RESTART},
    {"operator_id", PL_CONFIG_STRING, NULL, 0, 0, NULL, "the operator's OperatorID, e.g. DE*ABC", PL_CONFIG_RESTART},
    {"operator_name", PL_CONFIG_STRING, NULL, 0, 0, NULL, "the name pushed with the EVSE data (default: operator_id)",
     PL_CONFIG_RESTART},
    {"client_cert", PL_CONFIG_STRING, NULL, 0, 0, NULL, "the Hubject-signed client certificate (PEM chain)",
     PL_CONFIG_RESTART},
    {"client_key", PL_CONFIG_STRING, NULL, 0, 0, NULL, "its private key (PEM, not encrypted)", PL_CONFIG_RESTART},
    {"ca_file", PL_CONFIG_STRING, NULL, 0, 0, NULL, "the CAs Hubject's server certificate must chain to",
     PL_CONFIG_RESTART},
    {"providers", PL_CONFIG_LIST, NULL, 0, 0, NULL,
     "ProviderIDs whose remote start/stop and reservations are accepted (empty: any)", PL_CONFIG_RESTART},
    {"endpoint_prefix", PL_CONFIG_STRING, "/api/oicp", 0, 0, NULL,
     "where the operator's OICP endpoint is served on the HTTP listener", PL_CONFIG_RESTART},
    {"require_client_cert", PL_CONFIG_BOOL, "no", 0, 0, NULL,
     "the endpoint needs a client certificate verified against [http] tls_client_ca", PL_CONFIG_RESTART},
    {"client_subject", PL_CONFIG_STRING, NULL, 0, 0, NULL,
     "the subject (RFC 2253) the hub's client certificate must have; unset: any verified one", PL_CONFIG_RESTART},
    {"allow_from", PL_CONFIG_LIST, NULL, 0, 0, NULL, "addresses the hub calls from (empty: any)", PL_CONFIG_RESTART},
    {"timeout_ms", PL_CONFIG_INT, "10000", 100, 120000, NULL, "a push, notification or CDR call's timeout",
     PL_CONFIG_RESTART},
    {"authorize_timeout_ms", PL_CONFIG_INT, "3000", 100, 60000, NULL,
     "AuthorizeStart's timeout (keep it under [core] auth_remote_timeout)", PL_CONFIG_RESTART},
    {"remote_timeout_ms", PL_CONFIG_INT, "20000", 1000, 120000, NULL,
     "how long a station has to answer a remote start/stop or reservation from the hub", PL_CONFIG_RESTART},
    {"status_delay_ms", PL_CONFIG_INT, "1000", 0, 600000, NULL, "status changes are coalesced this long",
     PL_CONFIG_RESTART},
    {"data_interval_s", PL_CONFIG_INT, "86400", 0, 2592000, NULL, "a full EVSE data push every (0: start and sync only)",
     PL_CONFIG_RESTART},
    {"notifications", PL_CONFIG_BOOL, "yes", 0, 0, NULL, "send ChargingNotifications (Start, End, Error)",
     PL_CONFIG_RESTART},
    {"push_pricing", PL_CONFIG_BOOL, "no", 0, 0, NULL,
     "push the tariffs as pricing products and each EVSE's products (Hubject's dynamic pricing service)",
     PL_CONFIG_RESTART},
    {"progress_interval_s", PL_CONFIG_INT, "0", 0, 86400, NULL,
     "a Progress notification per session at most this often, on meter values (0: none)", PL_CONFIG_RESTART},
    {"retry_max_delay_s", PL_CONFIG_INT, "600", 5, 86400, NULL, "the longest wait between two tries of a CDR",
     PL_CONFIG_RESTART},
    {"reservation_minutes", PL_CONFIG_INT, "15", 1, 1440, NULL, "a reservation's length when the hub gives none",
     PL_CONFIG_RESTART},
};

int oicp_list_has(char **list, size_t n, const char *v)
{
    for (size_t i = 0; v && i < n; i++)
        if (strcmp(list[i], v) == 0)
            return 1;
    return 0;
}

char *oicp_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

json_t *oicp_error(const char *code, const char *message)
{
    return json_pack("{s:s, s:s}", "error", message, "code", code);
}

static void list_free(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* words separated by spaces or commas */
static int list_read(struct oicp *o, const char *key, char ***out, size_t *n)
{
    const char *v = o->host->config_get(o->self, key, NULL);
    *out = NULL;
    *n = 0;
    if (!v)
        return PL_OK;
    char *copy = strdup(v), *save = NULL;
    char **list = calloc(strlen(v) / 2 + 2, sizeof *list);
    if (!copy || !list) {
        free(copy);
        free(list);
        return PL_ENOMEM;
    }
    for (char *w = strtok_r(copy, " ,\t", &save); w; w = strtok_r(NULL, " ,\t", &save))
        list[(*n)++] = strdup(w);
    free(copy);
    *out = list;
    return PL_OK;
}

static int valid_operator_id(const char *s)
{
    regex_t r;
    if (regcomp(&r, "^(([A-Za-z]{2}\\*?[A-Za-z0-9]{3})|(\\+?[0-9]{1,3}\\*[0-9]{3}))$", REG_EXTENDED | REG_NOSUB))
        return 0;
    int ok = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

static void state_free(struct oicp *o)
{
    list_free(o->providers, o->nproviders);
    list_free(o->allow_from, o->nallow);
    free(o);
}

/* The description's OICP endpoint paths are written under /api/oicp; served elsewhere,
 * they are moved with it. */
static void describe(struct oicp *o)
{
    const struct pl_host *h = o->host;
    if (!PL_HOST_HAS(h, http_describe) || !h->http_describe)
        return;
    json_t *doc = json_loadb(oicp_openapi_json, oicp_openapi_json_len, 0, NULL);
    json_t *paths = json_object_get(doc, "paths");
    if (!doc || !paths) {
        h->log(o->self, PL_LOG_ERROR, "the embedded API description is invalid");
        json_decref(doc);
        return;
    }
    json_t *moved = json_object();
    const char *path;
    json_t *item;
    size_t plen = strlen("/api/oicp/");
    json_object_foreach(paths, path, item) {
        char buf[400];
        if (strncmp(path, "/api/oicp/", plen) == 0)
            snprintf(buf, sizeof buf, "%s/%s", o->endpoint_prefix, path + plen);
        else
            snprintf(buf, sizeof buf, "%s", path);
        json_object_set(moved, buf, item);
    }
    json_object_set_new(doc, "paths", moved);
    if (h->http_describe(o->self, doc) != PL_OK)
        h->log(o->self, PL_LOG_WARN, "the API description names routes this plugin does not serve");
    json_decref(doc);
}

static int oicp_init(pl_plugin_handle *self, const struct pl_host *host, void **state)
{
    if (!PL_HOST_HAS(host, outbox) || !host->outbox || !host->tokens || !host->http_route_opts)
        return PL_ENOTSUP; /* needs ABI 1.2 with the request's address and the outbox */
    int rc = host->config_declare(self, keys, sizeof keys / sizeof keys[0]);
    if (rc != PL_OK)
        return rc;
    struct oicp *o = calloc(1, sizeof *o);
    if (!o)
        return PL_ENOMEM;
    o->host = host;
    o->self = self;
    o->url = host->config_get(self, "url", NULL);
    o->operator_id = host->config_get(self, "operator_id", NULL);
    o->operator_name = host->config_get(self, "operator_name", NULL);
    o->client_cert = host->config_get(self, "client_cert", NULL);
    o->client_key = host->config_get(self, "client_key", NULL);
    o->ca_file = host->config_get(self, "ca_file", NULL);
    o->client_subject = host->config_get(self, "client_subject", NULL);
    o->endpoint_prefix = host->config_get(self, "endpoint_prefix", "/api/oicp");
    if (host->config_bool(self, "require_client_cert", 0, &o->require_client_cert) ||
        host->config_bool(self, "notifications", 1, &o->notifications) ||
        host->config_bool(self, "push_pricing", 0, &o->push_pricing) ||
        host->config_int(self, "timeout_ms", 10000, 100, 120000, &o->timeout_ms) ||
        host->config_int(self, "authorize_timeout_ms", 3000, 100, 60000, &o->authorize_timeout_ms) ||
        host->config_int(self, "remote_timeout_ms", 20000, 1000, 120000, &o->remote_timeout_ms) ||
        host->config_int(self, "status_delay_ms", 1000, 0, 600000, &o->status_delay_ms) ||
        host->config_int(self, "data_interval_s", 86400, 0, 2592000, &o->data_interval_s) ||
        host->config_int(self, "progress_interval_s", 0, 0, 86400, &o->progress_interval_s) ||
        host->config_int(self, "retry_max_delay_s", 600, 5, 86400, &o->retry_max_delay_s) ||
        host->config_int(self, "reservation_minutes", 15, 1, 1440, &o->reservation_minutes) ||
        list_read(o, "providers", &o->providers, &o->nproviders) ||
        list_read(o, "allow_from", &o->allow_from, &o->nallow))
        goto fail;
    if (o->endpoint_prefix[0] != '/' || o->endpoint_prefix[strlen(o->endpoint_prefix) - 1] == '/') {
        host->log(self, PL_LOG_ERROR, "[oicp] endpoint_prefix must start with / and not end with one");
        goto fail;
    }
    if (o->operator_id && !valid_operator_id(o->operator_id)) {
        host->log(self, PL_LOG_ERROR, "[oicp] operator_id '%s' is not an OICP OperatorID (DE*ABC)", o->operator_id);
        goto fail;
    }
    if (!o->client_cert != !o->client_key) {
        host->log(self, PL_LOG_ERROR, "[oicp] client_cert and client_key go together");
        goto fail;
    }
    if (o->url && strncmp(o->url, "https://", 8) != 0 && strncmp(o->url, "http://", 7) != 0) {
        host->log(self, PL_LOG_ERROR, "[oicp] url must be https://...");
        goto fail;
    }
    o->enabled = o->url && o->operator_id;
    if (!o->operator_name)
        o->operator_name = o->operator_id ? o->operator_id : "";
    if (host->db_migrations(self, migrations, sizeof migrations / sizeof migrations[0]) != PL_OK ||
        oicp_routes_register(o) != PL_OK)
        goto fail;
    describe(o);
    if (o->enabled) {
        if (strncmp(o->url, "http://", 7) == 0)
            host->log(self, PL_LOG_WARN, "[oicp] url is plain http: Hubject is reached over https only");
        if (!o->client_cert)
            host->log(self, PL_LOG_WARN, "[oicp] client_cert is not set: Hubject refuses calls without one");
        struct pl_authorizer a = {.size = sizeof a, .name = "hubject", .ask = oicp_authorizer_ask, .arg = o};
        static const char *const topics[] = {"station.status", "station.disconnected", "transaction.started",
                                             "transaction.ended", "meter.values"};
        if (host->tokens->add_authorizer(self, &a) != PL_OK)
            goto fail;
        o->subs[0] = host->bus_subscribe(self, "station.*", oicp_evse_on_event, o);
        for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
            if (!(o->subs[1 + i] = host->bus_subscribe(self, topics[i], oicp_sessions_on_event, o)))
                goto fail;
        if (!o->subs[0])
            goto fail;
        if (o->push_pricing && !(o->subs[6] = host->bus_subscribe(self, "tariff.*", oicp_pricing_on_event, o)))
            goto fail;
    } else {
        host->log(self, PL_LOG_INFO, "roaming is off: set [oicp] url and operator_id to reach Hubject");
    }
    *state = o;
    return PL_OK;
fail:
    state_free(o);
    return PL_EINVAL;
}

static int oicp_start(void *state)
{
    struct oicp *o = state;
    if (!o->enabled)
        return PL_OK;
    if (oicp_outbox_start(o) != PL_OK || oicp_pricing_start(o) != PL_OK || oicp_evse_start(o) != PL_OK ||
        oicp_sessions_start(o) != PL_OK)
        return PL_ENOMEM;
    o->host->log(o->self, PL_LOG_INFO, "roaming as %s through %s%s", o->operator_id, o->url,
                 o->client_cert ? " (client certificate)" : "");
    return PL_OK;
}

static void oicp_stop(void *state)
{
    struct oicp *o = state;
    o->stopping = 1;
}

static void oicp_fini(void *state)
{
    struct oicp *o = state;
    for (size_t i = 0; i < sizeof o->subs / sizeof o->subs[0]; i++)
        o->host->bus_unsubscribe(o->subs[i]);
    oicp_pricing_free(o);
    oicp_evse_free(o);
    oicp_sessions_free(o);
    state_free(o);
}

PL_PLUGIN_DEFINE(.name = "oicp", .version = "1.0",
                 .description = "Hubject roaming for the charge-point operator (OICP 2.3, CPO side)",
                 .init = oicp_init, .start = oicp_start, .stop = oicp_stop, .fini = oicp_fini);
