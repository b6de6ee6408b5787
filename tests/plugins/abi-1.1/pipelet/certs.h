/*
 * pipelet/certs.h — the certificate service: one interface in the core for every
 * certificate operation the OCPP versions need.  The core's default signs station
 * CSRs with the gateway's CA ([certificates] ca_cert / ca_key, or an ephemeral CA)
 * and answers the ISO 15118 operations "Failed"; a Plug & Charge plugin replaces any
 * of them with provide().
 */
#ifndef PIPELET_CERTS_H
#define PIPELET_CERTS_H

#include <pipelet/plugin.h>

/* What a provider implements; NULL members keep the core's default. */
struct pl_cert_provider {
    uint32_t size;
    /* Sign a station's CSR (PEM): the PEM chain (malloc'd, the caller frees) or NULL + err. */
    char *(*sign_csr)(void *arg, const char *station_id, const char *csr_pem,
                      const char *certificate_type, char *err, size_t errlen);
    /* ISO 15118 EV contract certificate (Get15118EVCertificate): returns 1 Accepted with
     * *exi_response (malloc'd base64 EXI), 0 Failed. */
    int (*ev_certificate)(void *arg, const char *station_id, const char *schema_version,
                          const char *action, const char *exi_request, char **exi_response);
    /* OCSP status (GetCertificateStatus): 1 Accepted with *ocsp_result (malloc'd), 0 Failed. */
    int (*ocsp_status)(void *arg, const char *station_id, json_t *ocsp_request_data,
                       char **ocsp_result);
};

struct pl_cert_api {
    uint32_t size;
    char *(*sign_csr)(const char *station_id, const char *csr_pem, const char *certificate_type,
                      char *err, size_t errlen);
    int (*ev_certificate)(const char *station_id, const char *schema_version, const char *action,
                          const char *exi_request, char **exi_response);
    int (*ocsp_status)(const char *station_id, json_t *ocsp_request_data, char **ocsp_result);
    /* Replace the defaults (one provider; PL_EEXIST if another plugin provides already). */
    int (*provide)(pl_plugin_handle *self, const struct pl_cert_provider *p, void *arg);
};

#endif
