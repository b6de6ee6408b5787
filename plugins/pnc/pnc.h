/*
 * pnc.h — shared state of the pnc plugin: ISO 15118 Plug & Charge on the central-system
 * side, for OCPP 2.0.1 and 1.6 (the OCA application note's DataTransfer).
 *
 *   pnc.c       lifecycle, configuration, the certificate provider it gives the core
 *   sign.c      station (SECC) certificates: V2G CSRs signed by the CPO sub-CA chain
 *   status.c    OCSP: GetCertificateStatus and contract checks of Authorize, non-blocking,
 *               answers cached until their nextUpdate
 *   contract.c  contract certificates (Get15118EVCertificate) from a contract provider
 *   renew.c     SECC certificates near their end: reported, renewed by TriggerMessage
 *   routes.c    /ocpp/v1/stations/{id}/installed-certificates and /ocpp/v1/pnc/...
 *   ocsp.c      OCSP requests and responses (RFC 6960), without I/O
 */
#ifndef PNC_H
#define PNC_H

#include <pipelet/pipelet.h>
#include <openssl/x509.h>

/* the OCA application note "Using ISO 15118 Plug & Charge with OCPP 1.6" */
#define PNC_VENDOR_ID "org.openchargealliance.iso15118pnc"

extern const char pnc_openapi_json[];
extern const unsigned long pnc_openapi_json_len;

struct pnc_ocsp_entry;
struct pnc_asked;

struct pnc {
    const struct pl_host *host;
    pl_plugin_handle *self;
    /* the CPO sub-CA that signs SECC certificates, and the chain sent with them */
    X509 *cpo_cert;
    EVP_PKEY *cpo_key;
    STACK_OF(X509) *cpo_chain;  /* sub-CAs above cpo_cert, up to (not including) the V2G root */
    char *cpo_chain_pem;        /* cpo_cert then cpo_chain, PEM */
    long secc_days;
    const char *secc_ocsp_url;  /* AIA OCSP of the SECC certificates; NULL: none */
    /* trust: V2G root(s) and MO root(s); OCSP answers and contract chains verify against it */
    X509_STORE *trust;
    STACK_OF(X509) *roots;      /* the same, for the status route */
    /* OCSP */
    long ocsp_timeout_ms, ocsp_default_cache_s;
    const char *ocsp_responders; /* URL prefixes a station may name (space-separated); NULL: any */
    struct pnc_ocsp_entry *cache;
    size_t ncache;
    unsigned long ocsp_asked, ocsp_cached, ocsp_failed;
    /* contract certificates */
    const char *provider_url, *provider_cert, *provider_key, *provider_ca;
    long provider_timeout_ms;
    char provider_last[200];    /* the provider's last answer, for the status route */
    char provider_last_at[40];
    int provider_ok;
    const char *ocsp_failure;   /* "reject" | "accept": a contract whose responder cannot answer */
    struct pl_cert_provider provider; /* what is configured, given to the core */
    /* SECC renewal (renew.c) */
    long secc_renew_days, secc_check_s;
    struct pnc_asked *asked;    /* stations asked to renew, and when */
};

/* sign.c */
int pnc_sign_load(struct pnc *p);
void pnc_sign_free(struct pnc *p);
char *pnc_sign_csr(void *arg, const char *station_id, const char *csr_pem, const char *type, char *err,
                   size_t errlen);

/* status.c */
int pnc_status_load(struct pnc *p);
void pnc_status_free(struct pnc *p);
void pnc_ocsp_status_async(void *arg, const char *station_id, json_t *req, pl_cert_cb cb, void *cb_arg);
void pnc_contract_status(void *arg, const char *station_id, const char *emaid, json_t *hash_data,
                         const char *certificate, pl_contract_cb cb, void *cb_arg);
json_t *pnc_status_json(struct pnc *p); /* trust anchors and the OCSP cache */
json_t *pnc_cert_json(X509 *x);         /* subject, issuer, serial, not_before, not_after */

/* contract.c */
void pnc_ev_certificate_async(void *arg, const char *station_id, const char *schema_version,
                              const char *action, const char *exi_request, pl_cert_cb cb, void *cb_arg);

/* renew.c */
int pnc_renew_start(struct pnc *p);
void pnc_renew_free(struct pnc *p);
void pnc_renew_record(struct pnc *p, const char *station_id, json_t *cert /* borrowed */);

/* routes.c */
int pnc_routes_register(struct pnc *p);
/* The command that carries 2.0.1 action (payload stolen) to st: natively (PL_OP_RAW_CALL)
 * for 2.0.1, and for 1.6 when native16 (the security whitepaper's own messages; payload
 * already 1.6-shaped), else inside the Plug & Charge DataTransfer (PL_OP_DATA_TRANSFER). */
json_t *pnc_station_args(struct pnc *p, pl_station *st, const char *action, json_t *payload, int native16,
                         int *op);

#endif
