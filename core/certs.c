/*
 * certs.c — the certificate service behind pl_cert_api: station CSRs signed with the
 * gateway's CA, ISO 15118 operations answered Failed, unless a plugin provides better.
 */
#include "certs.h"
#include "certsign.h"

#include <stdlib.h>
#include <string.h>

static struct certsign *ca;
static const struct pl_cert_provider *provider;
static void *provider_arg;
static pl_plugin_handle *provider_owner;

int certs_init(void)
{
    long days = 365;
    if (core_config_int("certificates", "days", 365, 1, 3650, &days))
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

void certs_shutdown(void)
{
    certsign_free(ca);
    ca = NULL;
    provider = NULL;
}

static char *sign_csr(const char *station_id, const char *csr_pem, const char *type, char *err,
                      size_t errlen)
{
    if (provider && provider->sign_csr)
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
                                       ocsp_status, provide};

const struct pl_cert_api *certs_api(void)
{
    return &api;
}
