/*
 * tls.c — the TLS contexts of the process.  Building a context reads and parses
 * certificate files (the system store: milliseconds and most of a megabyte), so each
 * distinct configuration gets one, shared: an SSL takes its own reference to its
 * context, and the cache holds one more until tls_shutdown.  The cache is bounded —
 * its keys come from configuration and plugins, and a plugin passing a new path per
 * request would otherwise grow it without end.
 */
#include "tls.h"
#include "config.h"
#include "core.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TLS_CACHE_MAX 32

enum tls_kind { TLS_CLIENT, TLS_SERVER };

struct tls_entry {
    enum tls_kind kind;
    char *ca_file, *cert_file, *key_file; /* NULL: not set (client ca_file: the system store) */
    /* servers only: the protocol floor, cipher lists and how client certificates are checked */
    int min_version, defer_verify;
    char *ciphers, *ciphersuites;
    SSL_CTX *ctx;
    struct tls_entry *next;
};

static struct tls_entry *cache;
static size_t cached;

static int same_path(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

static const struct tls_server_opts no_server_opts;

static struct tls_entry *cache_find(enum tls_kind kind, const char *ca, const char *cert,
                                    const char *key, const struct tls_server_opts *so)
{
    for (struct tls_entry *e = cache; e; e = e->next)
        if (e->kind == kind && same_path(e->ca_file, ca) && same_path(e->cert_file, cert) &&
            same_path(e->key_file, key) && e->min_version == so->min_version &&
            e->defer_verify == so->defer_verify && same_path(e->ciphers, so->ciphers) &&
            same_path(e->ciphersuites, so->ciphersuites))
            return e;
    return NULL;
}

/* Log what went wrong with OpenSSL's reason, and clear its error queue (it is shared
 * by everything on this thread: a stale entry would be blamed on the next failure). */
static void log_failure(const char *what, const char *path)
{
    unsigned long e = ERR_peek_last_error();
    char reason[256];
    ERR_error_string_n(e, reason, sizeof reason);
    core_log(PL_LOG_ERROR, "tls", "cannot load %s %s: %s", what, path ? path : "",
             e ? reason : "unknown error");
    ERR_clear_error();
}

/* An encrypted key would make OpenSSL prompt on the terminal: refuse it instead. */
static int no_password(char *buf, int size, int rwflag, void *arg)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)arg;
    return 0;
}

/* Certificate (chain) and matching private key, both PEM. */
static int load_identity(SSL_CTX *ctx, const char *cert, const char *key)
{
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        log_failure("certificate", cert);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        log_failure("private key (PEM, not encrypted)", key);
        return -1;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        log_failure("private key matching the certificate", key);
        return -1;
    }
    return 0;
}

static SSL_CTX *build_client(const char *ca, const char *cert, const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_default_passwd_cb(ctx, no_password);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (ca ? SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1
           : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        log_failure("CA certificates from", ca ? ca : "the system store");
        goto fail;
    }
    if (cert && load_identity(ctx, cert, key) != 0)
        goto fail;
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

/* Deferred verification: the chain is checked as usual, but a failure does not end
 * the handshake; the owner reads the outcome (tls_peer_cert) once it knows who the peer
 * claims to be, so the refusal can name the station and the reason (expired, unknown
 * CA) in the log and the metrics instead of a bare handshake failure. */
static int verify_later(int preverify_ok, X509_STORE_CTX *x)
{
    (void)preverify_ok;
    (void)x;
    return 1;
}

static SSL_CTX *build_server(const char *cert, const char *key, const char *client_ca,
                             const struct tls_server_opts *so)
{
    static const unsigned char sid_ctx[] = "pipelet-server";
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, so->min_version ? so->min_version : TLS1_2_VERSION);
    SSL_CTX_set_default_passwd_cb(ctx, no_password);
    /* bufferevent_openssl does not survive a renegotiation started by the client */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    /* An idle connection gives its read and write buffers back (34 KB of the ~40 KB a
     * TLS connection costs): thousands of stations are idle nearly all the time. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (so->ciphers && SSL_CTX_set_cipher_list(ctx, so->ciphers) != 1) {
        log_failure("TLS 1.2 cipher list", so->ciphers);
        goto fail;
    }
    if (so->ciphersuites && SSL_CTX_set_ciphersuites(ctx, so->ciphersuites) != 1) {
        log_failure("TLS 1.3 cipher suites", so->ciphersuites);
        goto fail;
    }
    if (load_identity(ctx, cert, key) != 0)
        goto fail;
    if (client_ca) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca);
        if (!names || SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            log_failure("client CA certificates from", client_ca);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names); /* the CAs we name in the request */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, so->defer_verify ? verify_later : NULL);
        /* resumed sessions keep the verified certificate; without an id context
         * OpenSSL refuses to resume them */
        SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static void entry_free(struct tls_entry *e)
{
    SSL_CTX_free(e->ctx);
    free(e->ca_file);
    free(e->cert_file);
    free(e->key_file);
    free(e->ciphers);
    free(e->ciphersuites);
    free(e);
}

static SSL_CTX *cache_add(enum tls_kind kind, const char *ca, const char *cert, const char *key,
                          const struct tls_server_opts *so, SSL_CTX *ctx)
{
    struct tls_entry *e = calloc(1, sizeof *e);
    if (e)
        e->ctx = ctx;
    if (!e || (ca && !(e->ca_file = strdup(ca))) || (cert && !(e->cert_file = strdup(cert))) ||
        (key && !(e->key_file = strdup(key))) || (so->ciphers && !(e->ciphers = strdup(so->ciphers))) ||
        (so->ciphersuites && !(e->ciphersuites = strdup(so->ciphersuites)))) {
        if (e)
            entry_free(e);
        else
            SSL_CTX_free(ctx);
        return NULL;
    }
    e->min_version = so->min_version;
    e->defer_verify = so->defer_verify;
    e->kind = kind;
    e->ctx = ctx;
    e->next = cache;
    cache = e;
    cached++;
    return ctx;
}

static SSL_CTX *context(enum tls_kind kind, const char *ca, const char *cert, const char *key,
                        const struct tls_server_opts *so)
{
    struct tls_entry *e = cache_find(kind, ca, cert, key, so);
    if (e)
        return e->ctx;
    if (cached >= TLS_CACHE_MAX) {
        core_log(PL_LOG_ERROR, "tls", "more than %d distinct TLS configurations: refused",
                 TLS_CACHE_MAX);
        return NULL;
    }
    SSL_CTX *ctx = kind == TLS_CLIENT ? build_client(ca, cert, key) : build_server(cert, key, ca, so);
    return ctx ? cache_add(kind, ca, cert, key, so, ctx) : NULL;
}

SSL_CTX *tls_client_ctx(const char *ca_file, const char *cert_file, const char *key_file)
{
    cert_file = nonempty(cert_file);
    key_file = nonempty(key_file);
    if (!cert_file != !key_file) {
        core_log(PL_LOG_ERROR, "tls", "a client certificate needs both its certificate and "
                                      "its key file");
        return NULL;
    }
    return context(TLS_CLIENT, nonempty(ca_file), cert_file, key_file, &no_server_opts);
}

SSL_CTX *tls_server_ctx_opts(const struct tls_server_opts *o)
{
    if (!nonempty(o->cert_file) || !nonempty(o->key_file)) {
        core_log(PL_LOG_ERROR, "tls", "a TLS server needs a certificate and a key file");
        return NULL;
    }
    struct tls_server_opts so = *o;
    so.ciphers = nonempty(o->ciphers);
    so.ciphersuites = nonempty(o->ciphersuites);
    so.defer_verify = nonempty(o->client_ca) && o->defer_verify;
    return context(TLS_SERVER, nonempty(o->client_ca), o->cert_file, o->key_file, &so);
}

SSL_CTX *tls_server_ctx(const char *cert_file, const char *key_file, const char *client_ca)
{
    struct tls_server_opts o = {.cert_file = cert_file, .key_file = key_file, .client_ca = client_ca};
    return tls_server_ctx_opts(&o);
}

/* The first of two spellings that is set: tls_certificate / tls_cert (the REST
 * listener's key before the OCPP listener got its TLS keys; both are accepted). */
static const char *either(const char *section, const char *name, const char *alias, const char **used)
{
    const char *v = nonempty(core_config_get(section, name));
    *used = name;
    if (!v && alias && (v = nonempty(core_config_get(section, alias))))
        *used = alias;
    return v;
}

int tls_server_config(const char *section, struct tls_server_opts *o)
{
    const char *cert_key, *key_key, *ca_key;
    memset(o, 0, sizeof *o);
    o->cert_file = either(section, "tls_certificate", "tls_cert", &cert_key);
    o->key_file = either(section, "tls_private_key", "tls_key", &key_key);
    o->client_ca = either(section, "tls_client_ca", NULL, &ca_key);
    o->ciphers = nonempty(core_config_get(section, "tls_ciphers"));
    o->ciphersuites = nonempty(core_config_get(section, "tls_ciphersuites"));
    const char *minv = nonempty(core_config_get(section, "tls_min_version"));
    if (!o->cert_file != !o->key_file || (o->client_ca && !o->cert_file)) {
        const char *set = o->cert_file ? cert_key : o->key_file ? key_key : ca_key;
        int alias = strcmp(set, "tls_cert") == 0 || strcmp(set, "tls_key") == 0; /* answer in its spelling */
        core_log(PL_LOG_ERROR, "tls", "%s: [%s] %s needs %s", config_where(section, set), section, set,
                 o->cert_file ? (alias ? "tls_key" : "tls_private_key") : (alias ? "tls_cert" : "tls_certificate"));
        return -1;
    }
    if (minv && strcmp(minv, "1.2") != 0 && strcmp(minv, "1.3") != 0) {
        core_log(PL_LOG_ERROR, "tls", "%s: [%s] tls_min_version: '%s' is not 1.2 or 1.3",
                 config_where(section, "tls_min_version"), section, minv);
        return -1;
    }
    o->min_version = minv && strcmp(minv, "1.3") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
    return o->cert_file ? 1 : 0;
}

static int64_t asn1_unix(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

/* The certificate the peer presented (a new reference: X509_free it), or NULL. */
static X509 *peer_certificate(SSL *ssl)
{
    if (!ssl)
        return NULL;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    return SSL_get1_peer_certificate(ssl);
#else
    return SSL_get_peer_certificate(ssl);
#endif
}

int tls_peer_cert(SSL *ssl, struct tls_peer *out)
{
    memset(out, 0, sizeof *out);
    X509 *peer = peer_certificate(ssl);
    if (!peer)
        return 0;
    out->present = 1;
    long v = SSL_get_verify_result(ssl);
    out->verified = v == X509_V_OK;
    snprintf(out->error, sizeof out->error, "%s", v == X509_V_OK ? "" : X509_verify_cert_error_string(v));
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, out->cn, sizeof out->cn);
    out->not_before = asn1_unix(X509_get0_notBefore(peer));
    out->not_after = asn1_unix(X509_get0_notAfter(peer));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (X509_digest(peer, EVP_sha256(), md, &mdlen) == 1)
        for (unsigned i = 0; i < mdlen && i < 32; i++)
            snprintf(out->fingerprint + 2 * i, 3, "%02x", md[i]);
    const ASN1_INTEGER *serial = X509_get0_serialNumber(peer);
    BIGNUM *bn = serial ? ASN1_INTEGER_to_BN(serial, NULL) : NULL;
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    snprintf(out->serial, sizeof out->serial, "%s", hex ? hex : "");
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(peer);
    return 1;
}

SSL *tls_client_ssl(SSL_CTX *ctx, const char *host)
{
    SSL *ssl = ctx ? SSL_new(ctx) : NULL; /* holds its own reference to ctx */
    if (!ssl || !host)
        return ssl;
    char bare[256];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        snprintf(bare, sizeof bare, "%.*s", (int)(n - 2), host + 1);
    else
        snprintf(bare, sizeof bare, "%s", host);
    unsigned char addr[16];
    int is_ip = inet_pton(AF_INET, bare, addr) == 1 || inet_pton(AF_INET6, bare, addr) == 1;
    /* the certificate must name the host we asked for: its IP address or its DNS name
     * (server name indication is for names only, RFC 6066) */
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), bare) == 1
                   : SSL_set_tlsext_host_name(ssl, bare) == 1 && SSL_set1_host(ssl, bare) == 1;
    if (!ok) {
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

int tls_use_identity_pem(SSL *ssl, const char *cert_pem, const char *key_pem)
{
    BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
    X509 *leaf = cb ? PEM_read_bio_X509(cb, NULL, no_password, NULL) : NULL;
    EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, no_password, NULL) : NULL;
    int ok = leaf && key && SSL_use_certificate(ssl, leaf) == 1 && SSL_use_PrivateKey(ssl, key) == 1 &&
             SSL_check_private_key(ssl) == 1;
    /* the rest of the file is the chain up to (not including) the root */
    X509 *extra;
    while (ok && (extra = PEM_read_bio_X509(cb, NULL, no_password, NULL)))
        if (SSL_add1_chain_cert(ssl, extra) != 1)
            ok = 0;
        else
            X509_free(extra);
    if (!ok) {
        unsigned long e = ERR_peek_last_error();
        char reason[256];
        ERR_error_string_n(e, reason, sizeof reason);
        core_log(PL_LOG_ERROR, "tls", "cannot use the client certificate: %s",
                 !leaf ? "no PEM certificate" : !key ? "no PEM private key (not encrypted)" : reason);
    }
    ERR_clear_error(); /* the chain loop ends on a "no start line" */
    X509_free(leaf);
    EVP_PKEY_free(key);
    BIO_free(cb);
    BIO_free(kb);
    return ok ? 0 : -1;
}

char *tls_peer_subject(SSL *ssl)
{
    X509 *peer = peer_certificate(ssl);
    if (!peer)
        return NULL;
    char *out = NULL;
    BIO *b = SSL_get_verify_result(ssl) == X509_V_OK ? BIO_new(BIO_s_mem()) : NULL;
    if (b && X509_NAME_print_ex(b, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) >= 0) {
        char *data;
        long len = BIO_get_mem_data(b, &data);
        out = len >= 0 ? strndup(data, (size_t)len) : NULL;
    }
    BIO_free(b);
    X509_free(peer);
    return out;
}

size_t tls_context_count(void)
{
    return cached;
}

void tls_shutdown(void)
{
    while (cache) {
        struct tls_entry *e = cache;
        cache = e->next;
        entry_free(e);
    }
    cached = 0;
}
