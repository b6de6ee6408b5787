/*
 * certsign.c — CSR signing with OpenSSL 3 (see certsign.h).
 */
#include "certsign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct certsign {
    X509 *ca;
    EVP_PKEY *key;
    int days;
    int ephemeral;
};

static void ssl_err(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    snprintf(err, errlen, "%s: %s", what, e ? ERR_reason_error_string(e) : "unknown error");
    ERR_clear_error();
}

static int random_serial(X509 *x)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return -1;
    b[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(b, sizeof b, NULL);
    int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? 0 : -1;
}

static int ephemeral_ca(struct certsign *cs, char *err, size_t errlen)
{
    cs->key = EVP_EC_gen("P-256");
    cs->ca = X509_new();
    if (!cs->key || !cs->ca) {
        ssl_err(err, errlen, "cannot generate a CA key");
        return -1;
    }
    X509_set_version(cs->ca, 2);
    random_serial(cs->ca);
    X509_gmtime_adj(X509_getm_notBefore(cs->ca), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cs->ca), 3650L * 86400);
    X509_set_pubkey(cs->ca, cs->key);
    X509_NAME *n = X509_get_subject_name(cs->ca);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"pipelet", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"pipelet ephemeral CA", -1, -1, 0);
    X509_set_issuer_name(cs->ca, n);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, cs->ca, cs->ca, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    if (ext) {
        X509_add_ext(cs->ca, ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (!X509_sign(cs->ca, cs->key, EVP_sha256())) {
        ssl_err(err, errlen, "cannot self-sign the CA");
        return -1;
    }
    cs->ephemeral = 1;
    return 0;
}

struct certsign *certsign_new(const char *ca_cert, const char *ca_key, int days, char *err,
                              size_t errlen)
{
    struct certsign *cs = calloc(1, sizeof *cs);
    if (!cs)
        return NULL;
    cs->days = days > 0 ? days : 365;
    if (ca_cert && ca_key) {
        FILE *f = fopen(ca_cert, "r");
        cs->ca = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
        if (f)
            fclose(f);
        f = fopen(ca_key, "r");
        cs->key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
        if (f)
            fclose(f);
        if (!cs->ca || !cs->key) {
            ssl_err(err, errlen, !cs->ca ? "cannot read ca_cert" : "cannot read ca_key");
            certsign_free(cs);
            return NULL;
        }
        if (X509_check_private_key(cs->ca, cs->key) != 1) {
            ssl_err(err, errlen, "ca_key does not match ca_cert");
            certsign_free(cs);
            return NULL;
        }
    } else if (ephemeral_ca(cs, err, errlen) != 0) {
        certsign_free(cs);
        return NULL;
    }
    return cs;
}

void certsign_free(struct certsign *cs)
{
    if (!cs)
        return;
    X509_free(cs->ca);
    EVP_PKEY_free(cs->key);
    free(cs);
}

int certsign_is_ephemeral(struct certsign *cs)
{
    return cs->ephemeral;
}

static char *pem_of(X509 *a, X509 *b)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio || !PEM_write_bio_X509(bio, a) || (b && !PEM_write_bio_X509(bio, b))) {
        BIO_free(bio);
        return NULL;
    }
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *out = malloc((size_t)n + 1);
    if (out) {
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
    }
    BIO_free(bio);
    return out;
}

char *certsign_sign(struct certsign *cs, const char *csr_pem, const char *expected_cn, char *err,
                    size_t errlen)
{
    BIO *in = BIO_new_mem_buf(csr_pem, -1);
    X509_REQ *req = in ? PEM_read_bio_X509_REQ(in, NULL, NULL, NULL) : NULL;
    BIO_free(in);
    X509 *x = NULL;
    char *out = NULL;
    EVP_PKEY *pub = NULL;
    if (!req) {
        ssl_err(err, errlen, "not a PEM certificate signing request");
        return NULL;
    }
    pub = X509_REQ_get_pubkey(req);
    if (!pub || X509_REQ_verify(req, pub) != 1) {
        ssl_err(err, errlen, "the CSR signature does not verify");
        goto done;
    }
    if (expected_cn) {
        char cn[256] = "";
        X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn, sizeof cn);
        if (strcmp(cn, expected_cn) != 0) {
            snprintf(err, errlen, "CSR common name '%s' is not the station id '%s'", cn, expected_cn);
            goto done;
        }
    }
    x = X509_new();
    if (!x || !X509_set_version(x, 2) || random_serial(x) != 0) {
        ssl_err(err, errlen, "cannot create the certificate");
        goto done;
    }
    X509_set_subject_name(x, X509_REQ_get_subject_name(req));
    X509_set_issuer_name(x, X509_get_subject_name(cs->ca));
    X509_gmtime_adj(X509_getm_notBefore(x), -300);
    X509_gmtime_adj(X509_getm_notAfter(x), (long)cs->days * 86400);
    X509_set_pubkey(x, pub);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, cs->ca, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:FALSE");
    if (ext) {
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_ext_key_usage, "clientAuth");
    if (ext) {
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (!X509_sign(x, cs->key, EVP_sha256())) {
        ssl_err(err, errlen, "cannot sign");
        goto done;
    }
    out = pem_of(x, cs->ca);
    if (!out)
        snprintf(err, errlen, "out of memory");
done:
    EVP_PKEY_free(pub);
    X509_free(x);
    X509_REQ_free(req);
    return out;
}
