/*
 * ocsp.c — OCSP (RFC 6960) for ISO 15118 Plug & Charge: the request for an OCPP
 * OCSPRequestDataType, the check of the responder's answer, and the OCSPRequestDataType of a
 * certificate.  No I/O: the caller POSTs the request and hands back the response body.
 *
 * The gateway only has the four CertID values a station sent, never the issuer certificate,
 * so the CertID is encoded from those values rather than hashed by OCSP_cert_id_new.
 */
#include "ocsp.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

/* Clock skew tolerated between the responder and us, in seconds. */
#define OCSP_SKEW 300
/* RFC 5280 caps serials at 20 octets (OCPP: string[0..40]); a little slack for CAs that do
 * not follow it, but a bound all the same: the value comes from a station. */
#define MAX_SERIAL_DIGITS 64

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* ---- messages ---------------------------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Marks the result as ERROR with a reason; PNC_OCSP_ERROR so callers can return it. */
static int fail(struct pnc_ocsp_result *out, const char *fmt, ...) PRINTF_LIKE(2, 3);
static int fail(struct pnc_ocsp_result *out, const char *fmt, ...)
{
    va_list ap;

    out->status = PNC_OCSP_ERROR;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
    return PNC_OCSP_ERROR;
}

/* ERROR with the newest OpenSSL error after what: that one names the failure (for a chain
 * it is "certificate verify error" with "Verify error:<X509 reason>" as its data). */
static int fail_openssl(struct pnc_ocsp_result *out, const char *what)
{
    const char *data = NULL;
    int flags = 0;
    unsigned long e = ERR_peek_last_error_all(NULL, NULL, NULL, &data, &flags);
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
    char code[64];

    if (e == 0)
        return fail(out, "%s", what);
    if (r == NULL) { /* no text loaded for it: the numeric form still identifies it */
        ERR_error_string_n(e, code, sizeof code);
        r = code;
    }
    if ((flags & ERR_TXT_STRING) && data != NULL && *data != '\0')
        return fail(out, "%s: %s (%s)", what, r, data);
    return fail(out, "%s: %s", what, r);
}

/* ---- hex --------------------------------------------------------------------------- */

static int is_hex(const char *s)
{
    return s[strspn(s, "0123456789abcdefABCDEF")] == '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return c - 'A' + 10; /* callers checked is_hex */
}

/* Hex digits (checked by is_hex) -> bytes, right-aligned: an odd count gets a leading zero
 * nibble, so "a0b" is 0x0A 0x0B.  Returns the byte count; out has room for (digits+1)/2. */
static size_t hex_decode(const char *hex, unsigned char *out)
{
    size_t digits = strlen(hex), bytes = (digits + 1) / 2, odd = digits & 1;

    memset(out, 0, bytes);
    for (size_t i = 0; i < digits; i++) {
        size_t nibble = i + odd; /* position in the right-aligned output */
        int v = hex_value(hex[i]);

        out[nibble / 2] |= (unsigned char)(nibble & 1 ? v : v << 4);
    }
    return bytes;
}

/* bytes -> lowercase hex; out has room for 2n+1. */
static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- hash algorithms --------------------------------------------------------------- */

/* The three OCPP HashAlgorithmEnumType values (exact spelling, as the schema has them). */
struct hash_alg {
    const char *name;
    int nid;
    size_t size;
    const EVP_MD *(*md)(void);
};

static const struct hash_alg HASH_ALGS[] = {
    { "SHA256", NID_sha256, 32, EVP_sha256 },
    { "SHA384", NID_sha384, 48, EVP_sha384 },
    { "SHA512", NID_sha512, 64, EVP_sha512 },
};

static const struct hash_alg *hash_alg_named(const char *name)
{
    for (size_t i = 0; i < sizeof HASH_ALGS / sizeof HASH_ALGS[0]; i++)
        if (strcmp(HASH_ALGS[i].name, name) == 0)
            return &HASH_ALGS[i];
    return NULL;
}

/* ---- CertID from OCSPRequestDataType ----------------------------------------------- */

/* The CertID's values, decoded from req_data. */
struct certid_parts {
    const struct hash_alg *alg;
    unsigned char name_hash[EVP_MAX_MD_SIZE];
    unsigned char key_hash[EVP_MAX_MD_SIZE];
    unsigned char serial[(MAX_SERIAL_DIGITS + 1) / 2];
    size_t serial_len;
};

/* A non-empty hex string member of req_data, or NULL with err saying which. */
static const char *hex_member(json_t *req_data, const char *key, char *err, size_t errlen)
{
    const char *s = json_string_value(json_object_get(req_data, key));

    if (s == NULL || *s == '\0') {
        set_err(err, errlen, "%s missing, empty or not a string", key);
        return NULL;
    }
    if (!is_hex(s)) {
        set_err(err, errlen, "%s is not hex", key);
        return NULL;
    }
    return s;
}

/* A hash member: hex of exactly the digest's length (anything else cannot match a CertID a
 * responder computes, so it is the caller's mistake and better reported as such). */
static int hash_member(json_t *req_data, const char *key, const struct hash_alg *alg,
                       unsigned char *out, char *err, size_t errlen)
{
    const char *hex = hex_member(req_data, key, err, errlen);

    if (hex == NULL)
        return 0;
    if (strlen(hex) != 2 * alg->size) {
        set_err(err, errlen, "%s has %zu hex digits, %s needs %zu", key, strlen(hex), alg->name,
                2 * alg->size);
        return 0;
    }
    hex_decode(hex, out);
    return 1;
}

static int serial_member(json_t *req_data, struct certid_parts *p, char *err, size_t errlen)
{
    const char *hex = hex_member(req_data, "serialNumber", err, errlen);

    if (hex == NULL)
        return 0;
    hex += strspn(hex, "0"); /* leading zeros carry nothing and do not count against the cap */
    if (strlen(hex) > MAX_SERIAL_DIGITS) {
        set_err(err, errlen, "serialNumber longer than %d hex digits", MAX_SERIAL_DIGITS);
        return 0;
    }
    p->serial_len = hex_decode(hex, p->serial); /* "" (the serial 0) gives no bytes */
    return 1;
}

static int parts_from_json(json_t *req_data, struct certid_parts *p, char *err, size_t errlen)
{
    const char *alg;

    if (!json_is_object(req_data)) {
        set_err(err, errlen, "OCSPRequestData is not an object");
        return 0;
    }
    alg = json_string_value(json_object_get(req_data, "hashAlgorithm"));
    if (alg == NULL) {
        set_err(err, errlen, "hashAlgorithm missing or not a string");
        return 0;
    }
    p->alg = hash_alg_named(alg);
    if (p->alg == NULL) {
        set_err(err, errlen, "hashAlgorithm \"%.20s\" is not SHA256, SHA384 or SHA512", alg);
        return 0;
    }
    return hash_member(req_data, "issuerNameHash", p->alg, p->name_hash, err, errlen) &&
           hash_member(req_data, "issuerKeyHash", p->alg, p->key_hash, err, errlen) &&
           serial_member(req_data, p, err, errlen);
}

/* SEQUENCE { hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber } (RFC 6960 4.1.1),
 * the members encoded by OpenSSL and parsed back as an OCSP_CERTID: OpenSSL 3 has no public
 * way to set a CertID's fields, only OCSP_cert_id_new, which wants the issuer to hash. */
static OCSP_CERTID *certid_decode_members(const X509_ALGOR *alg, const ASN1_OCTET_STRING *nh,
                                          const ASN1_OCTET_STRING *kh, const ASN1_INTEGER *sn)
{
    int la = i2d_X509_ALGOR(alg, NULL), ln = i2d_ASN1_OCTET_STRING(nh, NULL);
    int lk = i2d_ASN1_OCTET_STRING(kh, NULL), ls = i2d_ASN1_INTEGER(sn, NULL);
    int body, total;
    unsigned char *der, *p;
    const unsigned char *q;
    OCSP_CERTID *cid;

    if (la <= 0 || ln <= 0 || lk <= 0 || ls <= 0)
        return NULL;
    body = la + ln + lk + ls; /* small: hashes of at most 64 bytes, a bounded serial */
    total = ASN1_object_size(1, body, V_ASN1_SEQUENCE);
    if (total <= 0 || (der = OPENSSL_malloc((size_t)total)) == NULL)
        return NULL;
    p = der;
    ASN1_put_object(&p, 1, body, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
    i2d_X509_ALGOR(alg, &p);
    i2d_ASN1_OCTET_STRING(nh, &p);
    i2d_ASN1_OCTET_STRING(kh, &p);
    i2d_ASN1_INTEGER(sn, &p);
    q = der;
    cid = d2i_OCSP_CERTID(NULL, &q, total);
    OPENSSL_free(der);
    return cid;
}

static OCSP_CERTID *certid_new(const struct certid_parts *p)
{
    X509_ALGOR *alg = X509_ALGOR_new();
    ASN1_OCTET_STRING *nh = ASN1_OCTET_STRING_new(), *kh = ASN1_OCTET_STRING_new();
    BIGNUM *bn = BN_bin2bn(p->serial, (int)p->serial_len, NULL);
    ASN1_INTEGER *sn = bn != NULL ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    OCSP_CERTID *cid = NULL;

    /* parameters NULL, as RFC 6960's example and OpenSSL's own CertIDs have them */
    if (alg != NULL && nh != NULL && kh != NULL && sn != NULL &&
        X509_ALGOR_set0(alg, OBJ_nid2obj(p->alg->nid), V_ASN1_NULL, NULL) &&
        ASN1_OCTET_STRING_set(nh, p->name_hash, (int)p->alg->size) &&
        ASN1_OCTET_STRING_set(kh, p->key_hash, (int)p->alg->size))
        cid = certid_decode_members(alg, nh, kh, sn);
    X509_ALGOR_free(alg);
    ASN1_OCTET_STRING_free(nh);
    ASN1_OCTET_STRING_free(kh);
    ASN1_INTEGER_free(sn);
    BN_free(bn);
    return cid;
}

/* The CertID req_data describes, or NULL with err set. */
static OCSP_CERTID *certid_from_json(json_t *req_data, char *err, size_t errlen)
{
    struct certid_parts parts;
    OCSP_CERTID *cid;

    if (!parts_from_json(req_data, &parts, err, errlen))
        return NULL;
    cid = certid_new(&parts);
    if (cid == NULL)
        set_err(err, errlen, "cannot encode the CertID");
    return cid;
}

/* ---- request ----------------------------------------------------------------------- */

/* i2d into a malloc'd buffer: the API promises free(), not OPENSSL_free(). */
static unsigned char *request_to_der(const OCSP_REQUEST *req, size_t *len)
{
    int n = i2d_OCSP_REQUEST(req, NULL);
    unsigned char *der, *p;

    if (n <= 0 || (der = malloc((size_t)n)) == NULL)
        return NULL;
    p = der;
    if (i2d_OCSP_REQUEST(req, &p) != n) {
        free(der);
        return NULL;
    }
    *len = (size_t)n;
    return der;
}

unsigned char *pnc_ocsp_request_der(json_t *req_data, size_t *len, char *err, size_t errlen)
{
    OCSP_REQUEST *req = NULL;
    OCSP_CERTID *cid;
    unsigned char *der = NULL;

    set_err(err, errlen, "%s", "");
    if (len == NULL) {
        set_err(err, errlen, "no length to fill");
        return NULL;
    }
    *len = 0;
    ERR_set_mark(); /* whatever OpenSSL queues here is ours to drop, not the caller's to see */
    cid = certid_from_json(req_data, err, errlen);
    if (cid == NULL)
        goto done;
    req = OCSP_REQUEST_new();
    if (req == NULL || OCSP_request_add0_id(req, cid) == NULL) {
        OCSP_CERTID_free(cid); /* add0 takes it only when it succeeds */
        set_err(err, errlen, "out of memory");
        goto done;
    }
    der = request_to_der(req, len);
    if (der == NULL)
        set_err(err, errlen, "cannot encode the OCSPRequest");
done:
    OCSP_REQUEST_free(req);
    ERR_pop_to_mark();
    return der;
}

/* ---- response ---------------------------------------------------------------------- */

/* Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian); timegm is not C11. */
static long long days_from_civil(long long y, int m, int d)
{
    long long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* An ASN.1 time -> unix seconds; 0 when malformed.  t must not be NULL: ASN1_TIME_to_tm
 * would take NULL for "now". */
int pnc_time_unix(const ASN1_TIME *t, long long *secs)
{
    struct tm tm;

    if (!ASN1_TIME_to_tm(t, &tm))
        return 0;
    *secs = days_from_civil(tm.tm_year + 1900LL, tm.tm_mon + 1, tm.tm_mday) * 86400 +
            tm.tm_hour * 3600LL + tm.tm_min * 60LL + tm.tm_sec;
    return 1;
}

/* One whole DER OCSPResponse: trailing bytes mean the body is not what we think it is. */
static OCSP_RESPONSE *response_parse(const unsigned char *der, size_t len,
                                     struct pnc_ocsp_result *out)
{
    const unsigned char *p = der;
    OCSP_RESPONSE *resp;

    if (der == NULL || len == 0) {
        fail(out, "empty response");
        return NULL;
    }
    if (len > LONG_MAX) {
        fail(out, "response too large");
        return NULL;
    }
    resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
    if (resp == NULL) {
        fail_openssl(out, "not a DER OCSPResponse");
        return NULL;
    }
    if (p != der + len) {
        fail(out, "%zu trailing byte(s) after the OCSPResponse", (size_t)(der + len - p));
        OCSP_RESPONSE_free(resp);
        return NULL;
    }
    return resp;
}

/* The basic response inside a successful OCSPResponse, or NULL with the result set. */
static OCSP_BASICRESP *response_basic(OCSP_RESPONSE *resp, struct pnc_ocsp_result *out)
{
    int st = OCSP_response_status(resp);
    OCSP_BASICRESP *bs;

    if (st != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        fail(out, "responder answered %s", OCSP_response_status_str(st));
        return NULL;
    }
    bs = OCSP_response_get1_basic(resp);
    if (bs == NULL)
        fail_openssl(out, "not a basic OCSP response");
    return bs;
}

/* The signature and the signer's authority, by OCSP_basic_verify with flags 0: the signer
 * is found in the response's certificates, its signature checked, its certificate chained
 * (response certificates as untrusted, trust as the store, purpose OCSP helper) to a
 * self-signed anchor in trust, and then it must be the issuer of the certificates the
 * response speaks for, or a certificate with id-kp-OCSPSigning issued by that issuer
 * (RFC 6960 4.2.2.2).  No OCSP_TRUSTOTHER: it would take a signer found in `certs` without
 * any chain.  A response without certificates (responders may leave them out) gets trust's
 * certificates as `certs`, only so that the signer can be found: it is still chained. */
static int signature_ok(OCSP_BASICRESP *bs, X509_STORE *trust, struct pnc_ocsp_result *out)
{
    const STACK_OF(X509) *carried = OCSP_resp_get0_certs(bs);
    STACK_OF(X509) *known = NULL;
    int ok;

    if (sk_X509_num(carried) <= 0)
        known = X509_STORE_get1_all_certs(trust);
    ok = OCSP_basic_verify(bs, known, trust, 0) > 0;
    sk_X509_pop_free(known, X509_free);
    if (!ok && ERR_GET_LIB(ERR_peek_last_error()) == ERR_LIB_OCSP &&
        ERR_GET_REASON(ERR_peek_last_error()) == OCSP_R_ROOT_CA_NOT_TRUSTED)
        /* OpenSSL's words for a signer that chains to trust but is neither the issuer of the
         * certificate nor its delegated responder (nor explicitly trusted for OCSP signing) */
        fail_openssl(out, "response signer not authorised for this issuer");
    else if (!ok)
        fail_openssl(out, "response signature not trusted");
    return ok;
}

/* thisUpdate/nextUpdate into out, then whether they hold at now. */
static int times_ok(const ASN1_GENERALIZEDTIME *thisupd, const ASN1_GENERALIZEDTIME *nextupd,
                    long long now, struct pnc_ocsp_result *out)
{
    if (thisupd == NULL || !pnc_time_unix(thisupd, &out->this_update)) {
        fail(out, "bad thisUpdate");
        return 0;
    }
    if (nextupd != NULL && !pnc_time_unix(nextupd, &out->next_update)) {
        fail(out, "bad nextUpdate");
        return 0;
    }
    if (nextupd != NULL && out->next_update < now - OCSP_SKEW) {
        fail(out, "stale response");
        return 0;
    }
    /* a status from the future means one of the clocks is wrong: nothing to rely on */
    if (out->this_update > now + OCSP_SKEW) {
        fail(out, "response not yet valid");
        return 0;
    }
    return 1;
}

/* The SingleResponse for cid: its status and times into out. */
static void read_status(OCSP_BASICRESP *bs, OCSP_CERTID *cid, long long now,
                        struct pnc_ocsp_result *out)
{
    ASN1_GENERALIZEDTIME *revtime = NULL, *thisupd = NULL, *nextupd = NULL;
    int idx = OCSP_resp_find(bs, cid, -1), reason = -1, st;

    if (idx < 0) {
        fail(out, "no status for this certificate");
        return;
    }
    st = OCSP_single_get0_status(OCSP_resp_get0(bs, idx), &reason, &revtime, &thisupd, &nextupd);
    if (!times_ok(thisupd, nextupd, now, out))
        return;
    switch (st) {
    case V_OCSP_CERTSTATUS_GOOD:
        out->status = PNC_OCSP_GOOD;
        return;
    case V_OCSP_CERTSTATUS_REVOKED:
        if (revtime == NULL || !pnc_time_unix(revtime, &out->revoked_at)) {
            fail(out, "bad revocationTime");
            return;
        }
        out->status = PNC_OCSP_REVOKED;
        snprintf(out->reason, sizeof out->reason, "revoked%s%s", reason >= 0 ? ": " : "",
                 reason >= 0 ? OCSP_crl_reason_str(reason) : "");
        return;
    case V_OCSP_CERTSTATUS_UNKNOWN:
        out->status = PNC_OCSP_UNKNOWN;
        snprintf(out->reason, sizeof out->reason, "the responder does not know this certificate");
        return;
    default:
        fail(out, "unreadable certStatus");
        return;
    }
}

static void check_response(const unsigned char *der, size_t len, json_t *req_data,
                           X509_STORE *trust, long long now, struct pnc_ocsp_result *out)
{
    OCSP_CERTID *cid;
    OCSP_RESPONSE *resp = NULL;
    OCSP_BASICRESP *bs = NULL;

    cid = certid_from_json(req_data, out->reason, sizeof out->reason);
    if (cid == NULL) {
        out->status = PNC_OCSP_ERROR; /* reason set */
        return;
    }
    resp = response_parse(der, len, out);
    if (resp != NULL)
        bs = response_basic(resp, out);
    if (bs != NULL && (trust == NULL || signature_ok(bs, trust, out)))
        read_status(bs, cid, now, out);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    OCSP_CERTID_free(cid);
}

int pnc_ocsp_check(const unsigned char *der, size_t len, json_t *req_data, X509_STORE *trust,
                   long long now, struct pnc_ocsp_result *out)
{
    if (out == NULL)
        return PNC_OCSP_ERROR;
    memset(out, 0, sizeof *out);
    out->status = PNC_OCSP_ERROR; /* until a SingleResponse says otherwise */
    ERR_set_mark();
    check_response(der, len, req_data, trust, now, out);
    ERR_pop_to_mark();
    return out->status;
}

/* ---- OCSPRequestDataType of a certificate ------------------------------------------ */

/* issuerNameHash: hash of the DER of the issuer's subject, as a responder computes it from
 * its CA certificate (RFC 6960 4.1.1). */
static int name_hash_hex(X509 *issuer, const struct hash_alg *alg, char *hex)
{
    const unsigned char *der;
    size_t len;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n;

    if (!X509_NAME_get0_der(X509_get_subject_name(issuer), &der, &len) ||
        !EVP_Digest(der, len, md, &n, alg->md(), NULL))
        return 0;
    hex_encode(md, n, hex);
    return 1;
}

/* issuerKeyHash: hash of the subjectPublicKey BIT STRING's value (no tag, length or
 * unused-bits octet). */
static int key_hash_hex(X509 *issuer, const struct hash_alg *alg, char *hex)
{
    const ASN1_BIT_STRING *key = X509_get0_pubkey_bitstr(issuer);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n;

    if (key == NULL || !EVP_Digest(ASN1_STRING_get0_data(key), (size_t)ASN1_STRING_length(key),
                                   md, &n, alg->md(), NULL))
        return 0;
    hex_encode(md, n, hex);
    return 1;
}

/* The serial as OCPP wants it: lowercase hex of its value without leading zeros, malloc'd.
 * OpenSSL keeps an INTEGER's magnitude with the sign in its type; a negative serial (not
 * allowed by RFC 5280) has no such spelling, so NULL. */
static char *serial_hex(X509 *cert)
{
    const ASN1_INTEGER *sn = X509_get0_serialNumber(cert);
    size_t n = (size_t)ASN1_STRING_length(sn);
    char *hex, *start;

    if (ASN1_STRING_type(sn) == V_ASN1_NEG_INTEGER || (hex = malloc(2 * n + 2)) == NULL)
        return NULL;
    strcpy(hex, "0"); /* the serial 0 may come without content octets */
    if (n > 0)
        hex_encode(ASN1_STRING_get0_data(sn), n, hex);
    start = hex + strspn(hex, "0");
    if (*start == '\0') /* all zeros: keep one */
        start--;
    memmove(hex, start, strlen(start) + 1);
    return hex;
}

static json_t *hash_data_object(X509 *cert, const struct hash_alg *alg, const char *name_hex,
                                const char *key_hex, const char *serial)
{
    STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
    const char *url = sk_OPENSSL_STRING_num(urls) > 0 ? sk_OPENSSL_STRING_value(urls, 0) : "";
    json_t *obj = json_pack("{s:s, s:s, s:s, s:s, s:s}", "hashAlgorithm", alg->name,
                            "issuerNameHash", name_hex, "issuerKeyHash", key_hex,
                            "serialNumber", serial, "responderURL", url);

    X509_email_free(urls);
    return obj;
}

json_t *pnc_ocsp_hash_data(X509 *cert, X509 *issuer, const char *alg)
{
    const struct hash_alg *h = hash_alg_named(alg != NULL ? alg : "SHA256");
    char name_hex[2 * EVP_MAX_MD_SIZE + 1], key_hex[2 * EVP_MAX_MD_SIZE + 1], *serial = NULL;
    json_t *obj = NULL;

    if (h == NULL || cert == NULL || issuer == NULL)
        return NULL;
    ERR_set_mark();
    /* a wrong issuer would give hashes no responder knows: refuse it rather than ask */
    if (X509_check_issued(issuer, cert) == X509_V_OK && name_hash_hex(issuer, h, name_hex) &&
        key_hash_hex(issuer, h, key_hex) && (serial = serial_hex(cert)) != NULL)
        obj = hash_data_object(cert, h, name_hex, key_hex, serial);
    free(serial);
    ERR_pop_to_mark();
    return obj;
}
