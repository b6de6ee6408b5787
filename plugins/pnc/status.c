/*
 * status.c — certificate status by OCSP, for GetCertificateStatus and for the contract
 * presented with an Authorize.
 *
 * A certificate is named by OCPP's OCSPRequestDataType (hashes, serial, responderURL);
 * the request goes to that responder over the event loop (http_fetch), the answer is
 * checked against the trust anchors ([pnc] trust: V2G and MO roots) and cached until its
 * nextUpdate ([pnc] ocsp_cache_s when it has none), so a busy station asking about the
 * same contract costs one request per validity period.
 *
 * A contract is accepted when every certificate of it that was named (hash data, or the
 * chain an Authorize carried) is good.  A revoked one refuses it (CertificateRevoked);
 * one its responder does not know refuses it as ContractCancelled; a chain that does not
 * verify, or a responder's answer for an issuer the anchors do not vouch for, is CertChainError (SignatureError when a signature is wrong), an expired leaf
 * CertificateExpired.  When a responder cannot be asked, [pnc] ocsp_failure decides:
 * reject (NoCertificateAvailable, the default) or accept.
 */
#include "pnc.h"
#include "ocsp.h"

#include <ctype.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHE_MAX 4096

struct pnc_ocsp_entry {
    char key[300];          /* algorithm/name hash/key hash/serial, lower case */
    int status;             /* enum pnc_ocsp_status (never ERROR) */
    long long until;        /* unix seconds */
    char *der_b64;          /* the responder's answer, for GetCertificateStatus */
};

static long long now_s(void)
{
    return (long long)time(NULL);
}

static void cache_key(json_t *req, char *out, size_t len)
{
    snprintf(out, len, "%s/%s/%s/%s", json_string_value(json_object_get(req, "hashAlgorithm")) ?: "",
             json_string_value(json_object_get(req, "issuerNameHash")) ?: "",
             json_string_value(json_object_get(req, "issuerKeyHash")) ?: "",
             json_string_value(json_object_get(req, "serialNumber")) ?: "");
    for (char *c = out; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    /* a serial written with leading zeros is the same serial */
    char *serial = strrchr(out, '/');
    if (serial)
        for (char *s = serial + 1; s[0] == '0' && s[1];)
            memmove(s, s + 1, strlen(s));
}

static struct pnc_ocsp_entry *cache_find(struct pnc *p, const char *key)
{
    for (size_t i = 0; i < p->ncache; i++)
        if (strcmp(p->cache[i].key, key) == 0)
            return &p->cache[i];
    return NULL;
}

static void cache_put(struct pnc *p, const char *key, int status, long long until, const char *der_b64)
{
    struct pnc_ocsp_entry *e = cache_find(p, key);
    if (!e) {
        /* drop the entries past their time first; a full cache forgets its oldest slot */
        long long now = now_s();
        for (size_t i = 0; i < p->ncache;)
            if (p->cache[i].until <= now) {
                free(p->cache[i].der_b64);
                p->cache[i] = p->cache[--p->ncache];
            } else {
                i++;
            }
        if (p->ncache == CACHE_MAX) {
            free(p->cache[0].der_b64);
            memmove(p->cache, p->cache + 1, (CACHE_MAX - 1) * sizeof *p->cache);
            p->ncache--;
        }
        e = &p->cache[p->ncache++];
        memset(e, 0, sizeof *e);
        snprintf(e->key, sizeof e->key, "%s", key);
    }
    free(e->der_b64);
    e->status = status;
    e->until = until;
    e->der_b64 = der_b64 ? strdup(der_b64) : NULL;
}

static char *base64(const unsigned char *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

/* ---------- one question to one responder ---------- */

typedef void (*ask_done)(struct pnc *p, int status, const char *der_b64, const char *reason, void *arg);

struct ask {
    struct pnc *p;
    json_t *req;
    char key[300];
    ask_done done;
    void *arg;
};

static void on_responder(const struct pl_http_response *resp, void *arg)
{
    struct ask *a = arg;
    struct pnc *p = a->p;
    struct pnc_ocsp_result r = {.status = PNC_OCSP_ERROR};
    char *b64 = NULL;
    if (resp->status == 200 && resp->body_len) {
        pnc_ocsp_check((const unsigned char *)resp->body, resp->body_len, a->req, p->trust, now_s(), &r);
        if (r.status != PNC_OCSP_ERROR) {
            b64 = base64((const unsigned char *)resp->body, resp->body_len);
            long long until = r.next_update ? r.next_update : now_s() + p->ocsp_default_cache_s;
            cache_put(p, a->key, r.status, until, b64);
        }
    } else {
        snprintf(r.reason, sizeof r.reason, "%s", resp->error ? resp->error : "the responder answered HTTP error");
    }
    static const char *const names[] = {"good", "revoked", "unknown", "error"};
    char m[96];
    snprintf(m, sizeof m, "pipelet_pnc_ocsp_requests_total{result=\"%s\"}", names[r.status & 3]);
    p->host->metric_add(m, 1);
    if (r.status == PNC_OCSP_ERROR) {
        p->ocsp_failed++;
        p->host->log(p->self, PL_LOG_WARN, "OCSP %s: %s", json_string_value(json_object_get(a->req, "responderURL")) ?: "?",
                     r.reason);
    }
    a->done(p, r.status, b64, r.reason, a->arg);
    free(b64);
    json_decref(a->req);
    free(a);
}

/* Whether url starts with one of [pnc] ocsp_responders (space- or comma-separated), or
 * the list is empty. */
static int responder_allowed(struct pnc *p, const char *url)
{
    const char *list = p->ocsp_responders;
    if (!list || !*list)
        return 1;
    for (const char *w = list; *w;) {
        while (*w == ' ' || *w == ',' || *w == '\t')
            w++;
        size_t n = strcspn(w, " ,\t");
        if (n && strncmp(url, w, n) == 0)
            return 1;
        w += n;
    }
    return 0;
}

/* The status of one certificate: from the cache, else from its responder. */
static void ask(struct pnc *p, json_t *req, ask_done done, void *arg)
{
    char key[300];
    cache_key(req, key, sizeof key);
    struct pnc_ocsp_entry *e = cache_find(p, key);
    if (e && e->until > now_s()) {
        p->ocsp_cached++;
        done(p, e->status, e->der_b64, NULL, arg);
        return;
    }
    const char *url = json_string_value(json_object_get(req, "responderURL"));
    if (url && !responder_allowed(p, url)) {
        /* the URL comes from the station (its EV's certificate): it does not make the
         * gateway call just anything */
        p->host->log(p->self, PL_LOG_WARN, "OCSP responder %s is not in [pnc] ocsp_responders", url);
        done(p, PNC_OCSP_ERROR, NULL, "responder not allowed", arg);
        return;
    }
    char err[200] = "";
    size_t len = 0;
    unsigned char *der = url && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
                             ? pnc_ocsp_request_der(req, &len, err, sizeof err)
                             : NULL;
    if (!der) {
        done(p, PNC_OCSP_ERROR, NULL, *err ? err : "no http(s) responderURL", arg);
        return;
    }
    struct ask *a = calloc(1, sizeof *a);
    if (!a) {
        free(der);
        done(p, PNC_OCSP_ERROR, NULL, "out of memory", arg);
        return;
    }
    *a = (struct ask){.p = p, .req = json_incref(req), .done = done, .arg = arg};
    snprintf(a->key, sizeof a->key, "%s", key);
    static const char *const headers[] = {"Content-Type: application/ocsp-request",
                                          "Accept: application/ocsp-response", NULL};
    struct pl_http_fetch_opts o = {.size = sizeof o, .method = "POST", .url = url, .headers = headers,
                                   .body = der, .body_len = len, .timeout_ms = (unsigned)p->ocsp_timeout_ms};
    p->ocsp_asked++;
    int rc = p->host->http_fetch_opts(p->self, &o, on_responder, a);
    free(der);
    if (rc != PL_OK) {
        json_decref(a->req);
        free(a);
        done(p, PNC_OCSP_ERROR, NULL, "the request could not be made", arg);
    }
}

/* ---------- GetCertificateStatus ---------- */

struct status_call {
    pl_cert_cb cb;
    void *arg;
};

static void on_status(struct pnc *p, int status, const char *der_b64, const char *reason, void *arg)
{
    (void)p;
    struct status_call *s = arg;
    if (status == PNC_OCSP_ERROR || !der_b64)
        s->cb(s->arg, 0, NULL, reason && strstr(reason, "connect") ? "OCSPUnreachable" : "OCSPFailed");
    else
        s->cb(s->arg, 1, der_b64, NULL);
    free(s);
}

void pnc_ocsp_status_async(void *arg, const char *station_id, json_t *req, pl_cert_cb cb, void *cb_arg)
{
    struct pnc *p = arg;
    (void)station_id;
    struct status_call *s = calloc(1, sizeof *s);
    if (!s) {
        cb(cb_arg, 0, NULL, "OutOfMemory");
        return;
    }
    *s = (struct status_call){.cb = cb, .arg = cb_arg};
    ask(p, req, on_status, s);
}

/* ---------- contracts ---------- */

struct contract {
    struct pnc *p;
    char *station, *emaid;
    pl_contract_cb cb;
    void *arg;
    json_t *pending;      /* OCSPRequestData still to ask */
    size_t next;
    int revoked, unknown, failed, foreign;
    char detail[200];
};

static void contract_end(struct contract *k, const char *status, const char *detail)
{
    struct pnc *p = k->p;
    p->host->bus_publish(p->self, strcmp(status, "Accepted") == 0 ? "pnc.contract.accepted" : "pnc.contract.refused",
                         k->station,
                         json_pack("{s:s, s:s?, s:s, s:s?}", "emaid", k->emaid, "station_id", k->station,
                                   "certificate_status", status, "detail", detail));
    k->cb(k->arg, status, detail);
    free(k->station);
    free(k->emaid);
    json_decref(k->pending);
    free(k);
}

static void contract_next(struct contract *k);

static void on_contract_cert(struct pnc *p, int status, const char *der_b64, const char *reason, void *arg)
{
    (void)p;
    (void)der_b64;
    struct contract *k = arg;
    if (status == PNC_OCSP_REVOKED)
        k->revoked = 1;
    else if (status == PNC_OCSP_UNKNOWN)
        k->unknown = 1;
    else if (status == PNC_OCSP_ERROR && reason && strstr(reason, "not authorised for this issuer"))
        /* the responder answered, but for an issuer none of our anchors vouches for */
        k->foreign = 1;
    else if (status == PNC_OCSP_ERROR) {
        k->failed = 1;
        snprintf(k->detail, sizeof k->detail, "%s", reason ? reason : "OCSP failed");
    }
    contract_next(k);
}

static void contract_next(struct contract *k)
{
    if (!k->revoked && k->next < json_array_size(k->pending)) {
        ask(k->p, json_array_get(k->pending, k->next++), on_contract_cert, k);
        return;
    }
    if (k->revoked)
        contract_end(k, "CertificateRevoked", "a certificate of the contract is revoked");
    else if (k->foreign)
        contract_end(k, "CertChainError", "the contract's issuer does not chain to the trust anchors");
    else if (k->unknown)
        contract_end(k, "ContractCancelled", "the responder does not know the contract");
    else if (k->failed && strcmp(k->p->ocsp_failure, "accept") != 0)
        contract_end(k, "NoCertificateAvailable", k->detail);
    else
        contract_end(k, "Accepted", k->failed ? k->detail : NULL);
}

/* A chain an Authorize carried: verified against the trust anchors, then its leaf and
 * intermediates named for OCSP.  NULL and *status set when it is refused already. */
static json_t *chain_requests(struct pnc *p, const char *pem, const char **status, char *detail, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    STACK_OF(X509) *chain = sk_X509_new_null();
    for (X509 *x; b && chain && (x = PEM_read_bio_X509(b, NULL, NULL, NULL));)
        sk_X509_push(chain, x);
    BIO_free(b);
    ERR_clear_error();
    json_t *out = NULL;
    X509 *leaf = sk_X509_num(chain) ? sk_X509_value(chain, 0) : NULL;
    if (!leaf) {
        *status = "NoCertificateAvailable";
        snprintf(detail, len, "the certificate is not PEM");
        goto done;
    }
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok = ctx && X509_STORE_CTX_init(ctx, p->trust, leaf, chain) && X509_verify_cert(ctx) == 1;
    int e = ctx ? X509_STORE_CTX_get_error(ctx) : X509_V_ERR_UNSPECIFIED;
    STACK_OF(X509) *verified = ok ? X509_STORE_CTX_get1_chain(ctx) : NULL;
    X509_STORE_CTX_free(ctx);
    if (!ok) {
        *status = e == X509_V_ERR_CERT_HAS_EXPIRED                ? "CertificateExpired"
                  : e == X509_V_ERR_CERT_SIGNATURE_FAILURE        ? "SignatureError"
                  : e == X509_V_ERR_CERT_NOT_YET_VALID            ? "CertificateExpired"
                                                                  : "CertChainError";
        snprintf(detail, len, "%s", X509_verify_cert_error_string(e));
        goto done;
    }
    /* every certificate but the root, each with its issuer */
    out = json_array();
    for (int i = 0; i + 1 < sk_X509_num(verified); i++) {
        json_t *r = pnc_ocsp_hash_data(sk_X509_value(verified, i), sk_X509_value(verified, i + 1), "SHA256");
        if (r && *json_string_value(json_object_get(r, "responderURL")))
            json_array_append_new(out, r);
        else
            json_decref(r);
    }
    sk_X509_pop_free(verified, X509_free);
done:
    sk_X509_pop_free(chain, X509_free);
    return out;
}

void pnc_contract_status(void *arg, const char *station_id, const char *emaid, json_t *hash_data,
                         const char *certificate, pl_contract_cb cb, void *cb_arg)
{
    struct pnc *p = arg;
    struct contract *k = calloc(1, sizeof *k);
    if (!k) {
        cb(cb_arg, "NoCertificateAvailable", "out of memory");
        return;
    }
    *k = (struct contract){.p = p, .station = station_id ? strdup(station_id) : NULL,
                           .emaid = strdup(emaid ? emaid : ""), .cb = cb, .arg = cb_arg};
    k->pending = json_array();
    if (certificate && *certificate) {
        const char *status = NULL;
        char detail[200] = "";
        json_t *reqs = chain_requests(p, certificate, &status, detail, sizeof detail);
        if (!reqs) {
            contract_end(k, status, detail);
            return;
        }
        json_array_extend(k->pending, reqs);
        json_decref(reqs);
    }
    size_t i;
    json_t *r;
    json_array_foreach(hash_data, i, r)
        json_array_append(k->pending, r);
    if (!json_array_size(k->pending)) {
        contract_end(k, "NoCertificateAvailable", "nothing to check");
        return;
    }
    contract_next(k);
}

/* ---------- trust anchors, and what the status route shows ---------- */

static long long asn1_unix(const ASN1_TIME *t)
{
    long long secs = 0;
    return t && pnc_time_unix(t, &secs) ? secs : 0;
}

static void rfc3339(long long t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *pnc_cert_json(X509 *x)
{
    char subject[256], issuer[256], nb[32], na[32];
    X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof subject);
    X509_NAME_oneline(X509_get_issuer_name(x), issuer, sizeof issuer);
    rfc3339(asn1_unix(X509_get0_notBefore(x)), nb, sizeof nb);
    rfc3339(asn1_unix(X509_get0_notAfter(x)), na, sizeof na);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    json_t *out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "subject", subject, "issuer", issuer, "serial",
                            hex ? hex : "", "not_before", nb, "not_after", na, "expired",
                            asn1_unix(X509_get0_notAfter(x)) < now_s());
    OPENSSL_free(hex);
    BN_free(bn);
    return out;
}

int pnc_status_load(struct pnc *p)
{
    const struct pl_host *h = p->host;
    const char *trust = h->config_get(p->self, "trust", NULL);
    p->trust = X509_STORE_new();
    p->roots = sk_X509_new_null();
    if (!p->trust || !p->roots)
        return PL_ENOMEM;
    FILE *f = trust ? fopen(trust, "r") : NULL;
    if (trust && !f) {
        h->log(p->self, PL_LOG_ERROR, "[pnc] trust %s cannot be read", trust);
        return PL_EINVAL;
    }
    for (X509 *x; f && (x = PEM_read_X509(f, NULL, NULL, NULL));) {
        X509_STORE_add_cert(p->trust, x);
        sk_X509_push(p->roots, x);
    }
    if (f)
        fclose(f);
    ERR_clear_error();
    if (trust && !sk_X509_num(p->roots)) {
        h->log(p->self, PL_LOG_ERROR, "[pnc] trust %s holds no certificate", trust);
        return PL_EINVAL;
    }
    p->cache = calloc(CACHE_MAX, sizeof *p->cache);
    return p->cache ? PL_OK : PL_ENOMEM;
}

void pnc_status_free(struct pnc *p)
{
    for (size_t i = 0; i < p->ncache; i++)
        free(p->cache[i].der_b64);
    free(p->cache);
    X509_STORE_free(p->trust);
    sk_X509_pop_free(p->roots, X509_free);
}

json_t *pnc_status_json(struct pnc *p)
{
    json_t *roots = json_array(), *chain = json_array(), *cache = json_array();
    for (int i = 0; i < sk_X509_num(p->roots); i++)
        json_array_append_new(roots, pnc_cert_json(sk_X509_value(p->roots, i)));
    if (p->cpo_cert)
        json_array_append_new(chain, pnc_cert_json(p->cpo_cert));
    for (int i = 0; p->cpo_chain && i < sk_X509_num(p->cpo_chain); i++)
        json_array_append_new(chain, pnc_cert_json(sk_X509_value(p->cpo_chain, i)));
    static const char *const names[] = {"good", "revoked", "unknown", "error"};
    long long now = now_s();
    for (size_t i = 0; i < p->ncache; i++) {
        if (p->cache[i].until <= now)
            continue;
        char until[32];
        rfc3339(p->cache[i].until, until, sizeof until);
        json_array_append_new(cache, json_pack("{s:s, s:s, s:s}", "certificate", p->cache[i].key, "status",
                                               names[p->cache[i].status & 3], "until", until));
    }
    return json_pack("{s:o, s:o, s:{s:o, s:I, s:I, s:I}}", "trust_anchors", roots, "cpo_chain", chain, "ocsp",
                     "cache", cache, "asked", (json_int_t)p->ocsp_asked, "answered_from_cache",
                     (json_int_t)p->ocsp_cached, "failed", (json_int_t)p->ocsp_failed);
}
