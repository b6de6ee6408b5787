/*
 * security.c — a simulated station's OCPP security (security.h): the profile it connects
 * with, the key and CSR it makes when asked to (SignCertificate), the chain it installs
 * from CertificateSigned, a certificate made at creation from a CA it is given, and the
 * switch to a higher profile the way each version does it (1.6 ChangeConfiguration
 * SecurityProfile; 2.0.1 SetNetworkProfile, NetworkConfigurationPriority and a reboot).
 * A change is answered first and applied by reconnecting, as a charger does.
 */
#include "security.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H(st) (st)->sim->host

static char *bio_text(BIO *b)
{
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *out = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (out) {
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
    }
    return out;
}

static char *key_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) ? bio_text(b) : NULL;
    BIO_free(b);
    return out;
}

static void free_secret(char **p)
{
    if (*p)
        OPENSSL_cleanse(*p, strlen(*p));
    free(*p);
    *p = NULL;
}

static void subject(X509_NAME *n, const char *cn)
{
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Pipelet Simulator", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
}

/* ---------- a certificate from a CA the fleet was given ---------- */

struct sim_ca {
    char *cert_file, *key_file;
    X509 *cert;
    EVP_PKEY *key;
};

static struct sim_ca *ca_load(struct sim *s, const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    struct sim_ca *ca = s->client_ca;
    if (ca && !strcmp(ca->cert_file, cert_file) && !strcmp(ca->key_file, key_file))
        return ca; /* a fleet of 10,000 reads the files once */
    FILE *fc = fopen(cert_file, "r"), *fk = fopen(key_file, "r");
    X509 *cert = fc ? PEM_read_X509(fc, NULL, NULL, NULL) : NULL;
    EVP_PKEY *key = fk ? PEM_read_PrivateKey(fk, NULL, NULL, NULL) : NULL;
    if (fc)
        fclose(fc);
    if (fk)
        fclose(fk);
    if (!cert || !key || X509_check_private_key(cert, key) != 1) {
        snprintf(err, errlen, "client_ca_cert / client_ca_key: %s", !cert ? "not a PEM certificate"
                                                                  : !key ? "not a PEM private key (not encrypted)"
                                                                         : "the key is not the certificate's");
        X509_free(cert);
        EVP_PKEY_free(key);
        ERR_clear_error();
        return NULL;
    }
    sim_security_ca_free(s);
    ca = calloc(1, sizeof *ca);
    if (!ca || !(ca->cert_file = strdup(cert_file)) || !(ca->key_file = strdup(key_file))) {
        if (ca)
            free(ca->cert_file);
        free(ca);
        X509_free(cert);
        EVP_PKEY_free(key);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ca->cert = cert;
    ca->key = key;
    s->client_ca = ca;
    return ca;
}

void sim_security_ca_free(struct sim *s)
{
    struct sim_ca *ca = s->client_ca;
    if (!ca)
        return;
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    free(ca->cert_file);
    free(ca->key_file);
    free(ca);
    s->client_ca = NULL;
}

/* A P-256 key and a certificate for the station id (clientAuth, a year) signed by ca. */
static int issue(struct sim_station *st, struct sim_ca *ca)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    BIO *b = BIO_new(BIO_s_mem());
    int ok = k && x && b && X509_set_version(x, 2);
    if (ok) {
        unsigned char serial[16];
        ok = RAND_bytes(serial, sizeof serial) == 1;
        serial[0] &= 0x7f;
        BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
        ok = ok && bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
        BN_free(bn);
    }
    if (ok) {
        subject(X509_get_subject_name(x), st->id);
        X509_set_issuer_name(x, X509_get_subject_name(ca->cert));
        X509_gmtime_adj(X509_getm_notBefore(x), -300);
        X509_gmtime_adj(X509_getm_notAfter(x), 365L * 86400);
        X509_set_pubkey(x, k);
        X509V3_CTX v3;
        X509V3_set_ctx(&v3, ca->cert, x, NULL, NULL, 0);
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage, "clientAuth");
        if (e) {
            X509_add_ext(x, e, -1);
            X509_EXTENSION_free(e);
        }
        ok = X509_sign(x, ca->key, EVP_sha256()) > 0 && PEM_write_bio_X509(b, x);
    }
    if (ok) {
        free(st->client_cert);
        free_secret(&st->client_key);
        st->client_cert = bio_text(b);
        st->client_key = key_pem(k);
        ok = st->client_cert && st->client_key;
    }
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(k);
    ERR_clear_error();
    return ok ? 0 : -1;
}

int sim_security_init(struct sim_station *st, json_t *tpl, char *err, size_t errlen)
{
    json_t *p = json_object_get(tpl, "security_profile");
    st->profile = p ? (int)json_integer_value(p) : st->password ? 1 : 0;
    const char *tls_url = json_string_value(json_object_get(tpl, "csms_tls_url"));
    if (tls_url && !(st->tls_url = strdup(tls_url))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *cc = json_string_value(json_object_get(tpl, "client_ca_cert"));
    const char *ck = json_string_value(json_object_get(tpl, "client_ca_key"));
    if (cc && ck) {
        struct sim_ca *ca = ca_load(st->sim, cc, ck, err, errlen);
        if (!ca || issue(st, ca) != 0) {
            if (ca)
                snprintf(err, errlen, "cannot issue a certificate for %s", st->id);
            return -1;
        }
    }
    /* a station that starts on profile 2 or 3 connects to the wss:// URL */
    if (st->profile >= 2 && st->tls_url) {
        free(st->url);
        st->url = strdup(st->tls_url);
    }
    return 0;
}

void sim_security_free(struct sim_station *st)
{
    free(st->tls_url);
    free_secret(&st->pending_key);
    for (int i = 0; i < SIM_SLOTS; i++)
        free(st->slots[i].url);
}

const char *sim_security_client_cert(struct sim_station *st, const char **key)
{
    int use = st->profile == 3 && st->client_cert && st->client_key && !strncmp(st->url, "wss://", 6);
    *key = use ? st->client_key : NULL;
    return use ? st->client_cert : NULL;
}

/* ---------- SignCertificate / CertificateSigned ---------- */

json_t *sim_security_csr(struct sim_station *st)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509_REQ *req = X509_REQ_new();
    BIO *b = BIO_new(BIO_s_mem());
    json_t *out = NULL;
    if (k && req && b && X509_REQ_set_version(req, 0)) {
        subject(X509_REQ_get_subject_name(req), st->id);
        if (X509_REQ_set_pubkey(req, k) && X509_REQ_sign(req, k, EVP_sha256()) > 0 && PEM_write_bio_X509_REQ(b, req)) {
            char *csr = bio_text(b);
            free_secret(&st->pending_key);
            st->pending_key = key_pem(k);
            if (csr && st->pending_key) {
                out = json_pack("{s:s}", "csr", csr);
                if (st->v201)
                    json_object_set_new(out, "certificateType", json_string("ChargingStationCertificate"));
            }
            free(csr);
        }
    }
    BIO_free(b);
    X509_REQ_free(req);
    EVP_PKEY_free(k);
    ERR_clear_error();
    return out;
}

json_t *sim_security_certificate_signed(struct sim_station *st, json_t *p)
{
    const char *chain = json_string_value(json_object_get(p, "certificateChain"));
    BIO *b = chain ? BIO_new_mem_buf(chain, -1) : NULL;
    X509 *leaf = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO *kb = st->pending_key ? BIO_new_mem_buf(st->pending_key, -1) : NULL;
    EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    /* the chain must carry the key we made for our last CSR, and name us */
    char cn[128] = "";
    if (leaf)
        X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof cn);
    int ok = leaf && k && X509_check_private_key(leaf, k) == 1 && !strcmp(cn, st->id);
    X509_free(leaf);
    EVP_PKEY_free(k);
    BIO_free(b);
    BIO_free(kb);
    ERR_clear_error();
    if (!ok)
        return json_pack("{s:s}", "status", "Rejected");
    free(st->client_cert);
    free_secret(&st->client_key);
    st->client_cert = strdup(chain);
    st->client_key = st->pending_key;
    st->pending_key = NULL;
    if (st->profile == 3) /* rotation: the next connection shows the new certificate */
        st->reconnect_at = H(st)->now_ms() + 300;
    return json_pack("{s:s}", "status", "Accepted");
}

/* ---------- moving to a higher profile ---------- */

/* Whether this station can move to profile n: never down (both specifications forbid a
 * downgrade), TLS needs a wss:// URL, profile 3 a certificate. */
static const char *cannot_move(struct sim_station *st, int n, const char *url)
{
    if (n < 1 || n > 3 || n < st->profile)
        return "Rejected";
    if (n >= 2 && !(url && !strncmp(url, "wss://", 6)))
        return "Rejected";
    if (n == 3 && !st->client_cert)
        return "Rejected";
    return NULL;
}

static void move_to(struct sim_station *st, int n, const char *url)
{
    st->profile = n;
    if (url && strcmp(url, st->url) != 0) {
        char *u = strdup(url);
        if (u) {
            free(st->url);
            st->url = u;
        }
    }
}

json_t *sim_security_change_profile16(struct sim_station *st, const char *value)
{
    char *end;
    long n = value ? strtol(value, &end, 10) : -1;
    if (!value || *end)
        return json_pack("{s:s}", "status", "Rejected");
    const char *url = n >= 2 ? st->tls_url : st->url;
    const char *why = n == st->profile ? NULL : cannot_move(st, (int)n, url);
    if (why)
        return json_pack("{s:s}", "status", why);
    if (n != st->profile) {
        move_to(st, (int)n, url);
        st->reconnect_at = H(st)->now_ms() + 300; /* answer first, then reconnect */
    }
    return json_pack("{s:s}", "status", "Accepted");
}

json_t *sim_security_set_network_profile(struct sim_station *st, json_t *p)
{
    json_int_t slot = json_integer_value(json_object_get(p, "configurationSlot"));
    json_t *cd = json_object_get(p, "connectionData");
    const char *url = json_string_value(json_object_get(cd, "ocppCsmsUrl"));
    int n = (int)json_integer_value(json_object_get(cd, "securityProfile"));
    if (slot < 1 || slot > SIM_SLOTS || !url || cannot_move(st, n, n >= 2 ? url : "wss://"))
        return json_pack("{s:s}", "status", "Rejected");
    free(st->slots[slot - 1].url);
    st->slots[slot - 1].url = strdup(url);
    st->slots[slot - 1].profile = n;
    return json_pack("{s:s}", "status", "Accepted");
}

const char *sim_security_set_priority(struct sim_station *st, const char *value)
{
    long slot = value ? strtol(value, NULL, 10) : 0; /* the first of a list is the one used */
    if (slot < 1 || slot > SIM_SLOTS || !st->slots[slot - 1].url)
        return "Rejected";
    st->priority_slot = (int)slot;
    return "RebootRequired";
}

void sim_security_on_reboot(struct sim_station *st)
{
    int s = st->priority_slot;
    if (s >= 1 && s <= SIM_SLOTS && st->slots[s - 1].url && st->slots[s - 1].profile != st->profile)
        move_to(st, st->slots[s - 1].profile, st->slots[s - 1].url);
}

json_t *sim_security_json(struct sim_station *st)
{
    return json_pack("{s:i, s:b, s:s?}", "security_profile", st->profile, "client_certificate",
                     st->client_cert != NULL, "tls_url", st->tls_url);
}
