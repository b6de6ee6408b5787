/* ocsp.h — OCSP for ISO 15118 Plug & Charge (RFC 6960), without I/O.
 * OCPP 2.0.1 names a certificate by OCSPRequestDataType:
 *   {"hashAlgorithm": "SHA256"|"SHA384"|"SHA512", "issuerNameHash": hex, "issuerKeyHash": hex,
 *    "serialNumber": hex, "responderURL": "http://..."}
 * which is an OCSP CertID plus where to ask.
 *
 * The caller does the HTTP POST (Content-Type: application/ocsp-request) of the request DER to
 * responderURL and hands the response body to pnc_ocsp_check.  The functions keep no state and
 * leave OpenSSL's error queue as they found it. */
#ifndef PNC_OCSP_H
#define PNC_OCSP_H

#include <jansson.h>
#include <openssl/x509.h>
#include <stddef.h>

enum pnc_ocsp_status { PNC_OCSP_GOOD = 0, PNC_OCSP_REVOKED = 1, PNC_OCSP_UNKNOWN = 2, PNC_OCSP_ERROR = 3 };

struct pnc_ocsp_result {
    int status;              /* enum pnc_ocsp_status */
    long long this_update;   /* unix seconds, 0 if absent */
    long long next_update;   /* unix seconds, 0 if absent (then: do not cache beyond a default) */
    long long revoked_at;    /* unix seconds when REVOKED, else 0 */
    char reason[160];        /* why ERROR (or details), human-readable */
};

/* DER of an OCSPRequest (no nonce, unsigned) with the one CertID described by req_data.
 * malloc'd (release with free()); *len set.  NULL and err filled when a field is missing or
 * not hex, or the algorithm is not one of the three.  Hex may be upper or lower case;
 * serialNumber may have an odd number of digits and no leading zeros ("a0b" is 0x0A0B);
 * issuerNameHash and issuerKeyHash must be exactly as long as hashAlgorithm's digest. */
unsigned char *pnc_ocsp_request_der(json_t *req_data, size_t *len, char *err, size_t errlen);

/* Check a DER OCSPResponse for the certificate req_data names:
 *  - responseStatus must be successful (else ERROR, reason names the status, e.g. "unauthorized");
 *  - it must be a basic response; when trust is not NULL its signature must verify
 *    (OCSP_basic_verify with trust as the store and the certs in the response as untrusted
 *    intermediates; a delegated responder signing certificate is fine when it chains to trust);
 *    a failure is ERROR with OpenSSL's reason.  The signer's chain must end at a self-signed
 *    certificate in trust (unless the caller set X509_V_FLAG_PARTIAL_CHAIN on it), so the CA
 *    certificates between the root and the responder go into trust when the response does
 *    not carry them.  A response that carries no certificates at all has its signer looked up
 *    in trust;
 *  - it must hold a SingleResponse whose CertID equals req_data's (same hash algorithm, name
 *    hash, key hash, serial) — else ERROR "no status for this certificate";
 *  - the times: thisUpdate/nextUpdate into the result; a nextUpdate in the past (allow 300 s of
 *    clock skew) is ERROR "stale response"; a thisUpdate more than 300 s ahead of now is ERROR
 *    "response not yet valid".
 * trust NULL skips the signature check (anyone could then forge the answer).
 * Returns out->status (GOOD/REVOKED/UNKNOWN/ERROR). */
int pnc_ocsp_check(const unsigned char *der, size_t len, json_t *req_data, X509_STORE *trust,
                   long long now, struct pnc_ocsp_result *out);

/* The OCSPRequestDataType of cert issued by issuer (both parsed), hashes with alg
 * ("SHA256" default when NULL), responderURL from cert's Authority Information Access OCSP
 * entry ("" when none). New object, NULL on error (also when issuer did not issue cert, or
 * the serial is negative). Hex lowercase, serial without leading zeros. */
json_t *pnc_ocsp_hash_data(X509 *cert, X509 *issuer, const char *alg);

/* An ASN.1 time (a certificate's or an answer's) as unix seconds: 1, or 0 when malformed. */
int pnc_time_unix(const ASN1_TIME *t, long long *secs);

#endif
