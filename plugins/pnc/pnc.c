/*
 * pnc.c — the pnc plugin: ISO 15118 Plug & Charge on the central-system side (OCPP
 * 2.0.1 use cases A02/A03, C07, M01-M06, and 1.6 through the OCA application note).
 * It gives the core's certificate service (pipelet/certs.h) what the core lacks: V2G
 * CSRs signed by the CPO sub-CA, OCSP for GetCertificateStatus and for contracts
 * presented with an Authorize, contract certificates from a provider.  The protocol
 * plugins carry the messages; see pnc.h for the files.
 */
#include "pnc.h"

#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

static const struct pl_config_key keys[] = {
    {"cpo_certificate", PL_CONFIG_STRING, NULL, 0, 0, NULL,
     "the CPO sub-CA (PEM) that signs stations' V2G (SECC) certificates", PL_CONFIG_RESTART},
    {"cpo_private_key", PL_CONFIG_STRING, NULL, 0, 0, NULL, "its private key (PEM, not encrypted)", PL_CONFIG_RESTART},
    {"cpo_chain", PL_CONFIG_STRING, NULL, 0, 0, NULL,
     "the sub-CAs above it up to, not including, the V2G root (PEM), sent with every SECC certificate",
     PL_CONFIG_RESTART},
    {"secc_days", PL_CONFIG_INT, "365", 1, 3650, NULL, "validity of a signed SECC certificate, days", PL_CONFIG_RESTART},
    {"secc_renew_days", PL_CONFIG_INT, "30", 0, 3650, NULL,
     "SECC certificates ending within this many days are reported and renewed (TriggerMessage); 0: never",
     PL_CONFIG_RESTART},
    {"secc_check_s", PL_CONFIG_INT, "3600", 1, 86400, NULL, "how often SECC certificates are checked, s",
     PL_CONFIG_RESTART},
    {"secc_ocsp_url", PL_CONFIG_STRING, NULL, 0, 0, NULL, "the OCSP responder named in SECC certificates",
     PL_CONFIG_RESTART},
    {"trust", PL_CONFIG_STRING, NULL, 0, 0, NULL,
     "V2G and MO root certificates (PEM bundle): OCSP answers and contract chains must chain to them",
     PL_CONFIG_RESTART},
    {"ocsp_responders", PL_CONFIG_LIST, NULL, 0, 0, NULL,
     "URL prefixes of the OCSP responders stations may name (the certificates' AIA); empty: any",
     PL_CONFIG_RESTART},
    {"ocsp_timeout_ms", PL_CONFIG_INT, "3000", 100, 60000, NULL, "an OCSP responder's time to answer",
     PL_CONFIG_RESTART},
    {"ocsp_cache_s", PL_CONFIG_INT, "3600", 0, 604800, NULL,
     "how long an OCSP answer without nextUpdate is kept", PL_CONFIG_RESTART},
    {"ocsp_failure", PL_CONFIG_ENUM, "reject", 0, 0, "reject accept",
     "a contract whose responder cannot be asked: refused (NoCertificateAvailable) or accepted", PL_CONFIG_RESTART},
    {"provider_url", PL_CONFIG_STRING, NULL, 0, 0, NULL,
     "the contract certificate provider (Get15118EVCertificate); unset: Failed, NoContractProvider",
     PL_CONFIG_RESTART},
    {"provider_client_cert", PL_CONFIG_STRING, NULL, 0, 0, NULL, "client certificate towards the provider (PEM)",
     PL_CONFIG_RESTART},
    {"provider_client_key", PL_CONFIG_STRING, NULL, 0, 0, NULL, "its key", PL_CONFIG_RESTART},
    {"provider_ca_file", PL_CONFIG_STRING, NULL, 0, 0, NULL, "the CAs the provider's server chains to",
     PL_CONFIG_RESTART},
    {"provider_timeout_ms", PL_CONFIG_INT, "10000", 100, 60000, NULL, "the provider's time to answer",
     PL_CONFIG_RESTART},
};

static void state_free(struct pnc *p)
{
    pnc_renew_free(p);
    pnc_sign_free(p);
    pnc_status_free(p);
    free(p);
}

static int pnc_init(pl_plugin_handle *self, const struct pl_host *host, void **state)
{
    if (!host->certs || host->certs->size < sizeof(struct pl_cert_api) || !host->http_fetch_opts)
        return PL_ENOTSUP;
    int rc = host->config_declare(self, keys, sizeof keys / sizeof keys[0]);
    if (rc != PL_OK)
        return rc;
    struct pnc *p = calloc(1, sizeof *p);
    if (!p)
        return PL_ENOMEM;
    p->host = host;
    p->self = self;
    p->secc_ocsp_url = host->config_get(self, "secc_ocsp_url", NULL);
    p->ocsp_failure = host->config_get(self, "ocsp_failure", "reject");
    p->ocsp_responders = host->config_get(self, "ocsp_responders", NULL);
    p->provider_url = host->config_get(self, "provider_url", NULL);
    p->provider_cert = host->config_get(self, "provider_client_cert", NULL);
    p->provider_key = host->config_get(self, "provider_client_key", NULL);
    p->provider_ca = host->config_get(self, "provider_ca_file", NULL);
    if (host->config_int(self, "secc_days", 365, 1, 3650, &p->secc_days) ||
        host->config_int(self, "ocsp_timeout_ms", 3000, 100, 60000, &p->ocsp_timeout_ms) ||
        host->config_int(self, "ocsp_cache_s", 3600, 0, 604800, &p->ocsp_default_cache_s) ||
        host->config_int(self, "provider_timeout_ms", 10000, 100, 60000, &p->provider_timeout_ms) ||
        host->config_int(self, "secc_renew_days", 30, 0, 3650, &p->secc_renew_days) ||
        host->config_int(self, "secc_check_s", 3600, 1, 86400, &p->secc_check_s) ||
        pnc_sign_load(p) != PL_OK || pnc_status_load(p) != PL_OK)
        goto fail;
    if (!p->provider_cert != !p->provider_key) {
        host->log(self, PL_LOG_ERROR, "[pnc] provider_client_cert and provider_client_key go together");
        goto fail;
    }
    /* what is configured is provided; the rest stays the core's (a V2G CSR without a CPO
     * sub-CA goes to the core's CA, contracts without trust anchors are not checked) */
    p->provider = (struct pl_cert_provider){.size = sizeof p->provider};
    if (p->cpo_cert) {
        p->provider.sign_csr = pnc_sign_csr;
        p->provider.sign_types = "V2GCertificate";
    }
    if (sk_X509_num(p->roots)) {
        p->provider.ocsp_status_async = pnc_ocsp_status_async;
        p->provider.contract_status = pnc_contract_status;
    }
    if (p->provider_url)
        p->provider.ev_certificate_async = pnc_ev_certificate_async;
    int any = p->cpo_cert || sk_X509_num(p->roots) || p->provider_url;
    if ((any && host->certs->provide(self, &p->provider, p) != PL_OK) || pnc_routes_register(p) != PL_OK ||
        pnc_renew_start(p) != PL_OK)
        goto fail;
    pl_http_describe_text(host, self, pnc_openapi_json, pnc_openapi_json_len);
    if (any)
        host->log(self, PL_LOG_INFO, "Plug & Charge: V2G CSRs %s, %d trust anchors (OCSP%s), contract provider %s",
                  p->cpo_cert ? "signed by the CPO sub-CA" : "signed by the core's CA (no [pnc] cpo_certificate)",
                  sk_X509_num(p->roots), sk_X509_num(p->roots) ? "" : " off: no [pnc] trust",
                  p->provider_url ? p->provider_url : "none");
    else
        host->log(self, PL_LOG_INFO, "Plug & Charge is off: set [pnc] cpo_certificate, trust or provider_url");
    *state = p;
    return PL_OK;
fail:
    ERR_clear_error();
    state_free(p);
    return PL_EINVAL;
}

static void pnc_fini(void *state)
{
    state_free(state);
}

PL_PLUGIN_DEFINE(.name = "pnc", .version = "1.0",
                 .description = "ISO 15118 Plug & Charge: SECC certificates, OCSP, contract certificates",
                 .init = pnc_init, .fini = pnc_fini);
