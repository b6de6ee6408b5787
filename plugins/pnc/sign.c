/*
 * sign.c — SECC certificates (ISO 15118-2 Annex F): a station's V2G CSR is signed by
 * the CPO sub-CA configured for the plugin and sent back with the chain up to (not
 * including) the V2G root, which the EV already trusts.
 */
#include "pnc.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ssl_err(char *err, size_t len, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[200] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, len, "%s%s%s", what, *buf ? ": " : "", buf);
    ERR_clear_error();
}

static char *pem_of(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (b && PEM_write_bio_X509(b, x)) {
        char *data;
        long n = BIO_get_mem_data(b, &data);
        if ((out = malloc((size_t)n + 1))) {
            memcpy(out, data, (size_t)n);
            out[n] = '\0';
        }
    }
    BIO_free(b);
    return out;
}

int pnc_sign_load(struct pnc *p)
{
    const struct pl_host *h = p->host;
    const char *cert = h->config_get(p->self, "cpo_certificate", NULL);
    const char *key = h->config_get(p->self, "cpo_private_key", NULL);
    const char *chain = h->config_get(p->self, "cpo_chain", NULL);
    if (!cert && !key)
        return PL_OK; /* V2G CSRs stay the core's CA's */
    if (!cert || !key) {
        h->log(p->self, PL_LOG_ERROR, "[pnc] cpo_certificate and cpo_private_key go together");
        return PL_EINVAL;
    }
    FILE *f = fopen(cert, "r");
    p->cpo_cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    f = fopen(key, "r");
    p->cpo_key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (!p->cpo_cert || !p->cpo_key || X509_check_private_key(p->cpo_cert, p->cpo_key) != 1) {
        char err[300];
        ssl_err(err, sizeof err, "");
        h->log(p->self, PL_LOG_ERROR, "[pnc] cpo_certificate %s / cpo_private_key %s: %s", cert, key,
               !p->cpo_cert ? "no certificate" : !p->cpo_key ? "no key" : "the key does not match");
        return PL_EINVAL;
    }
    p->cpo_chain = sk_X509_new_null();
    f = chain ? fopen(chain, "r") : NULL;
    if (chain && !f) {
        h->log(p->self, PL_LOG_ERROR, "[pnc] cpo_chain %s cannot be read", chain);
        return PL_EINVAL;
    }
    for (X509 *x; f && (x = PEM_read_X509(f, NULL, NULL, NULL));)
        sk_X509_push(p->cpo_chain, x);
    if (f)
        fclose(f);
    ERR_clear_error();
    /* what goes with every SECC certificate: the sub-CA, then the chain above it */
    size_t len = 0;
    char *parts[8];
    size_t n = 0;
    parts[n++] = pem_of(p->cpo_cert);
    for (int i = 0; i < sk_X509_num(p->cpo_chain) && n < 8; i++)
        parts[n++] = pem_of(sk_X509_value(p->cpo_chain, i));
    for (size_t i = 0; i < n; i++)
        len += parts[i] ? strlen(parts[i]) : 0;
    p->cpo_chain_pem = calloc(1, len + 1);
    for (size_t i = 0; i < n; i++) {
        if (p->cpo_chain_pem && parts[i])
            strcat(p->cpo_chain_pem, parts[i]);
        free(parts[i]);
    }
    return p->cpo_chain_pem ? PL_OK : PL_ENOMEM;
}

void pnc_sign_free(struct pnc *p)
{
    X509_free(p->cpo_cert);
    EVP_PKEY_free(p->cpo_key);
    sk_X509_pop_free(p->cpo_chain, X509_free);
    free(p->cpo_chain_pem);
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    int ok = e && X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok;
}

char *pnc_sign_csr(void *arg, const char *station_id, const char *csr_pem, const char *type, char *err,
                   size_t errlen)
{
    struct pnc *p = arg;
    (void)type; /* sign_types: only V2GCertificate comes here */
    if (!p->cpo_cert) {
        snprintf(err, errlen, "no CPO sub-CA configured ([pnc] cpo_certificate)");
        return NULL;
    }
    BIO *b = BIO_new_mem_buf(csr_pem ? csr_pem : "", -1);
    X509_REQ *req = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    EVP_PKEY *pub = req ? X509_REQ_get0_pubkey(req) : NULL;
    if (!req || !pub || X509_REQ_verify(req, pub) != 1) {
        ssl_err(err, errlen, !req ? "the CSR is not PEM" : "the CSR's signature does not verify");
        X509_REQ_free(req);
        return NULL;
    }
    /* ISO 15118-2: an SECC certificate's key is EC (secp256r1) */
    if (EVP_PKEY_base_id(pub) != EVP_PKEY_EC) {
        snprintf(err, errlen, "the CSR's key is not an EC key");
        X509_REQ_free(req);
        return NULL;
    }
    X509 *x = X509_new();
    ASN1_INTEGER *serial = ASN1_INTEGER_new();
    BIGNUM *bn = BN_new();
    int ok = x && serial && bn && BN_rand(bn, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
             BN_to_ASN1_INTEGER(bn, serial) && X509_set_version(x, 2) && X509_set_serialNumber(x, serial) &&
             X509_set_subject_name(x, X509_REQ_get_subject_name(req)) &&
             X509_set_issuer_name(x, X509_get_subject_name(p->cpo_cert)) && X509_set_pubkey(x, pub) &&
             X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
             X509_gmtime_adj(X509_getm_notAfter(x), p->secc_days * 86400L) &&
             add_ext(x, p->cpo_cert, NID_basic_constraints, "critical,CA:FALSE") &&
             add_ext(x, p->cpo_cert, NID_key_usage, "critical,digitalSignature,keyAgreement") &&
             add_ext(x, p->cpo_cert, NID_subject_key_identifier, "hash") &&
             add_ext(x, p->cpo_cert, NID_authority_key_identifier, "keyid");
    if (ok && p->secc_ocsp_url) {
        char aia[600];
        snprintf(aia, sizeof aia, "OCSP;URI:%s", p->secc_ocsp_url);
        ok = add_ext(x, p->cpo_cert, NID_info_access, aia);
    }
    ok = ok && X509_sign(x, p->cpo_key, EVP_sha256()) > 0;
    char *out = NULL;
    if (ok) {
        char *leaf = pem_of(x);
        size_t n = (leaf ? strlen(leaf) : 0) + strlen(p->cpo_chain_pem) + 1;
        if (leaf && (out = malloc(n)))
            snprintf(out, n, "%s%s", leaf, p->cpo_chain_pem);
        free(leaf);
        p->host->log(p->self, PL_LOG_INFO, "station %s: V2G (SECC) certificate signed for %ld days", station_id,
                     p->secc_days);
        json_t *cert = pnc_cert_json(x);
        pnc_renew_record(p, station_id, cert);
        p->host->bus_publish(p->self, "pnc.secc.signed", station_id,
                             json_pack("{s:s, s:o}", "station_id", station_id, "certificate", cert));
    } else {
        ssl_err(err, errlen, "signing failed");
    }
    BN_free(bn);
    ASN1_INTEGER_free(serial);
    X509_free(x);
    X509_REQ_free(req);
    return out;
}
