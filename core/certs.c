/*
 * certs.c — the certificate service behind pl_cert_api: station CSRs signed with the
 * gateway's CA, ISO 15118 operations answered Failed, unless a plugin provides better.
 */
#include "certs.h"
#include "bus.h"
#include "certsign.h"
#include "db.h"
#include "hashmap.h"
#include "metrics.h"

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct certsign *ca;
static long warning_days = 30, check_interval_s = 3600;
static struct event *expiry_timer;
static struct hashmap *warned; /* "fingerprint/bucket" -> (void *)1: said once per threshold */
static const struct pl_cert_provider *provider;
static void *provider_arg;
static pl_plugin_handle *provider_owner;

int certs_init(void)
{
    long days = 365;
    if (core_config_int("certificates", "days", 365, 1, 3650, &days) ||
        core_config_int("certificates", "expiry_warning_days", 30, 1, 3650, &warning_days) ||
        core_config_int("certificates", "expiry_check_interval", 3600, 1, 86400 * 7, &check_interval_s))
        return -1;
    const char *cert = core_config_get("certificates", "ca_cert");
    const char *key = core_config_get("certificates", "ca_key");
    char err[256];
    ca = certsign_new(cert && *cert ? cert : NULL, key && *key ? key : NULL, (int)days, err, sizeof err);
    if (!ca) {
        core_log(PL_LOG_ERROR, "certs", "[certificates] certificate authority: %s", err);
        return -1;
    }
    if (certsign_is_ephemeral(ca))
        core_log(PL_LOG_WARN, "certs",
                 "no [certificates] ca_cert/ca_key: station certificates are signed by an ephemeral CA");
    return 0;
}

/* ---- expiring station certificates ---- */

/* The certificate each station connects with now (the one seen last, not retired) that
 * ends within the warning window: certificate.expiring once per certificate and
 * threshold (30, 7 and 1 days, then expired), and the gauges at every check. */
static void on_expiring(pl_db_result *res, void *arg)
{
    (void)arg;
    if (!db_ok(res))
        return; /* the next check tries again */
    int expiring = 0, expired = 0;
    for (int i = 0; i < db_ntuples(res); i++) {
        const char *station = db_value(res, i, 0), *fp = db_value(res, i, 1);
        const char *not_after = db_value(res, i, 2);
        long days = strtol(db_value(res, i, 3), NULL, 10);
        int gone = days < 0 || strcmp(db_value(res, i, 4), "t") == 0;
        gone ? expired++ : expiring++;
        int bucket = gone ? 0 : days < 1 ? 1 : days < 7 ? 7 : 30;
        char key[96];
        snprintf(key, sizeof key, "%.64s/%d", fp, bucket);
        if (!warned || hashmap_get(warned, key) || hashmap_put(warned, key, (void *)1) != PL_OK)
            continue;
        core_log(gone ? PL_LOG_WARN : PL_LOG_INFO, "certs", "station=%s client certificate %s %s", station,
                 gone ? "expired at" : "expires at", not_after);
        bus_emit("certificate.expiring", station,
                 json_pack("{s:s, s:s, s:s, s:I, s:b}", "station_id", station, "fingerprint_sha256", fp,
                           "not_after", not_after, "days_left", (json_int_t)(days < 0 ? 0 : days), "expired", gone));
    }
    metrics_set("pipelet_station_certificates_expiring", expiring);
    metrics_set("pipelet_station_certificates_expired", expired);
}

static void check_expiry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    char days[16];
    snprintf(days, sizeof days, "%ld", warning_days);
    const char *p[] = {days};
    db_query_as("core",
                "SELECT station_id, fingerprint, to_char(not_after AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), floor(extract(epoch FROM not_after - now()) / 86400)::bigint, "
                "not_after <= now() FROM station_certificates k WHERE retired_at IS NULL "
                "AND not_after < now() + make_interval(days => $1::int) AND last_seen = (SELECT max(last_seen) "
                "FROM station_certificates c WHERE c.station_id = k.station_id AND c.retired_at IS NULL)",
                1, p, on_expiring, NULL);
    struct timeval tv = {check_interval_s, 0};
    evtimer_add(expiry_timer, &tv);
}

void certs_start(void)
{
    if (!warned)
        warned = hashmap_new();
    if (!expiry_timer && !(expiry_timer = evtimer_new(core_base, check_expiry, NULL)))
        return;
    struct timeval tv = {1, 0}; /* soon after start: the database is up by then, or the next turn */
    evtimer_add(expiry_timer, &tv);
}

void certs_shutdown(void)
{
    if (expiry_timer) {
        event_free(expiry_timer);
        expiry_timer = NULL;
    }
    if (warned) {
        hashmap_free(warned);
        warned = NULL;
    }
    certsign_free(ca);
    ca = NULL;
    provider = NULL;
}

static int provides_type(const char *type);

static char *sign_csr(const char *station_id, const char *csr_pem, const char *type, char *err,
                      size_t errlen)
{
    if (provider && provider->sign_csr && provides_type(type))
        return provider->sign_csr(provider_arg, station_id, csr_pem, type, err, errlen);
    if (!ca) {
        snprintf(err, errlen, "no certificate authority");
        return NULL;
    }
    return certsign_sign(ca, csr_pem, NULL, err, errlen);
}

static int ev_certificate(const char *station_id, const char *schema_version, const char *action,
                          const char *exi_request, char **exi_response)
{
    if (provider && provider->ev_certificate)
        return provider->ev_certificate(provider_arg, station_id, schema_version, action,
                                        exi_request, exi_response);
    *exi_response = NULL;
    return 0; /* no contract certificate pool without a Plug & Charge provider */
}

static int ocsp_status(const char *station_id, json_t *req, char **result)
{
    if (provider && provider->ocsp_status)
        return provider->ocsp_status(provider_arg, station_id, req, result);
    *result = NULL;
    return 0;
}

/* A provider member of ABI 1.2, present when the provider's struct is that new. */
#define PROVIDES(member)                                                                  \
    (provider && provider->size >= offsetof(struct pl_cert_provider, member) +           \
                                       sizeof provider->member && provider->member)

static void ev_certificate_async(const char *station_id, const char *schema_version, const char *action,
                                 const char *exi_request, pl_cert_cb cb, void *arg)
{
    if (PROVIDES(ev_certificate_async)) {
        provider->ev_certificate_async(provider_arg, station_id, schema_version, action, exi_request, cb, arg);
        return;
    }
    char *exi = NULL;
    int ok = ev_certificate(station_id, schema_version, action, exi_request, &exi);
    cb(arg, ok, ok ? exi : NULL, ok ? NULL : "NoPnCProvider");
    free(exi);
}

static void ocsp_status_async(const char *station_id, json_t *req, pl_cert_cb cb, void *arg)
{
    if (PROVIDES(ocsp_status_async)) {
        provider->ocsp_status_async(provider_arg, station_id, req, cb, arg);
        return;
    }
    char *result = NULL;
    int ok = ocsp_status(station_id, req, &result);
    cb(arg, ok, ok ? result : NULL, ok ? NULL : "NoOCSPResponder");
    free(result);
}

/* Whether the provider signs CSRs of this type (sign_types), or the core's CA does. */
static int provides_type(const char *type)
{
    if (!PROVIDES(sign_types))
        return 1;
    size_t n = type ? strlen(type) : 0;
    for (const char *p = provider->sign_types; n && (p = strstr(p, type)); p += n)
        if ((p == provider->sign_types || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

int certs_checks_contracts(void)
{
    return PROVIDES(contract_status);
}

void certs_contract_status(const char *station_id, const char *emaid, json_t *hash_data,
                           const char *certificate, pl_contract_cb cb, void *arg)
{
    if (!PROVIDES(contract_status)) {
        cb(arg, "Accepted", NULL); /* nobody checks contracts: the token decides alone */
        return;
    }
    provider->contract_status(provider_arg, station_id, emaid, hash_data, certificate, cb, arg);
}

static int provide(pl_plugin_handle *self, const struct pl_cert_provider *p, void *arg)
{
    if (!p)
        return PL_EINVAL;
    if (provider && provider_owner != self)
        return PL_EEXIST;
    provider = p;
    provider_arg = arg;
    provider_owner = self;
    core_log(PL_LOG_INFO, "certs", "certificate service provided by %s", core_plugin_name(self));
    return PL_OK;
}

/* The provider's plugin is going away: the core's defaults answer again. */
int certs_remove_owner(pl_plugin_handle *owner)
{
    if (!provider || provider_owner != owner)
        return 0;
    provider = NULL;
    provider_arg = NULL;
    provider_owner = NULL;
    return 1;
}

static const struct pl_cert_api api = {sizeof(struct pl_cert_api), sign_csr, ev_certificate,
                                       ocsp_status, provide, ev_certificate_async, ocsp_status_async};

const struct pl_cert_api *certs_api(void)
{
    return &api;
}
