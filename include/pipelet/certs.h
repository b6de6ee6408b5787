/*
 * pipelet/certs.h — the certificate service: one interface in the core for every
 * certificate operation the OCPP versions need.  The core's default signs station
 * CSRs with the gateway's CA ([certificates] ca_cert / ca_key, or an ephemeral CA)
 * and answers the ISO 15118 operations "Failed"; a Plug & Charge plugin replaces any
 * of them with provide().  A provider's contract_status checks the contract of every
 * token presented with ISO 15118 certificate data before the authorization chain
 * (pipelet/tokens.h) decides; the decision then carries "certificate_status".
 */
#ifndef PIPELET_CERTS_H
#define PIPELET_CERTS_H

#include <pipelet/plugin.h>

/* ABI 1.2: answers that wait on the network (an OCSP responder, a contract certificate
 * service).  Called exactly once, now or later.  ok: 1 Accepted with result (base64: the
 * EXI response, the DER OCSP response; borrowed), 0 Failed with reason (a short
 * reasonCode for the station's statusInfo, e.g. "OCSPResponderUnreachable"). */
typedef void (*pl_cert_cb)(void *arg, int ok, const char *result, const char *reason);
/* certificate_status: OCPP 2.0.1 AuthorizeCertificateStatusEnumType: "Accepted",
 * "SignatureError", "CertificateExpired", "CertificateRevoked", "NoCertificateAvailable",
 * "CertChainError", "ContractCancelled"; detail says why (for the log), may be NULL. */
typedef void (*pl_contract_cb)(void *arg, const char *certificate_status, const char *detail);

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
    /* ---- ABI 1.2 (read when size covers them) ---- */
    /* Asynchronous forms of the two above; when set they are used instead. */
    void (*ev_certificate_async)(void *arg, const char *station_id, const char *schema_version,
                                 const char *action, const char *exi_request, pl_cert_cb cb,
                                 void *cb_arg);
    void (*ocsp_status_async)(void *arg, const char *station_id, json_t *ocsp_request_data,
                              pl_cert_cb cb, void *cb_arg);
    /* An ISO 15118 contract presented for authorization (2.0.1 Authorize, or the 1.6 Plug &
     * Charge DataTransfer): its iso15118CertificateHashData (an array, may be NULL) and/or
     * its certificate chain (PEM, may be NULL).  Anything but "Accepted" refuses the token
     * before the token table is asked; "Accepted" lets the eMAID be authorized like any
     * other token. */
    void (*contract_status)(void *arg, const char *station_id, const char *emaid, json_t *hash_data,
                            const char *certificate, pl_contract_cb cb, void *cb_arg);
    /* The certificate types sign_csr signs, space-separated ("V2GCertificate"); a CSR of
     * another type goes to the core's CA.  NULL: sign_csr signs every type. */
    const char *sign_types;
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
    /* ---- ABI 1.2 ---- */
    /* The provider's asynchronous form, or its synchronous one, or Failed ("NoPnCProvider",
     * "NoOCSPResponder"); cb exactly once. */
    void (*ev_certificate_async)(const char *station_id, const char *schema_version,
                                 const char *action, const char *exi_request, pl_cert_cb cb,
                                 void *arg);
    void (*ocsp_status_async)(const char *station_id, json_t *ocsp_request_data, pl_cert_cb cb,
                              void *arg);
};

#endif
