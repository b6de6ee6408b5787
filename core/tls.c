/*
 * tls.c — the TLS contexts of the process.  Building a context reads and parses
 * certificate files (the system store: milliseconds and most of a megabyte), so each
 * distinct configuration gets one, shared: an SSL takes its own reference to its
 * context, and the cache holds one more until tls_shutdown.  The cache is bounded —
 * its keys come from configuration and plugins, and a plugin passing a new path per
 * request would otherwise grow it without end.
 */
#include "tls.h"
#include "core.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLS_CACHE_MAX 32

enum tls_kind { TLS_CLIENT, TLS_SERVER };

struct tls_entry {
    enum tls_kind kind;
    char *ca_file, *cert_file, *key_file; /* NULL: not set (client ca_file: the system store) */
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

static struct tls_entry *cache_find(enum tls_kind kind, const char *ca, const char *cert,
                                    const char *key)
{
    for (struct tls_entry *e = cache; e; e = e->next)
        if (e->kind == kind && same_path(e->ca_file, ca) && same_path(e->cert_file, cert) &&
            same_path(e->key_file, key))
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

static SSL_CTX *build_server(const char *cert, const char *key, const char *client_ca)
{
    static const unsigned char sid_ctx[] = "pipelet-http";
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_default_passwd_cb(ctx, no_password);
    /* bufferevent_openssl does not survive a renegotiation started by the client */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
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
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        /* resumed sessions keep the verified certificate; without an id context
         * OpenSSL refuses to resume them */
        SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static SSL_CTX *cache_add(enum tls_kind kind, const char *ca, const char *cert, const char *key,
                          SSL_CTX *ctx)
{
    struct tls_entry *e = calloc(1, sizeof *e);
    if (!e || (ca && !(e->ca_file = strdup(ca))) || (cert && !(e->cert_file = strdup(cert))) ||
        (key && !(e->key_file = strdup(key)))) {
        if (e) {
            free(e->ca_file);
            free(e->cert_file);
            free(e->key_file);
        }
        free(e);
        SSL_CTX_free(ctx);
        return NULL;
    }
    e->kind = kind;
    e->ctx = ctx;
    e->next = cache;
    cache = e;
    cached++;
    return ctx;
}

static SSL_CTX *context(enum tls_kind kind, const char *ca, const char *cert, const char *key)
{
    struct tls_entry *e = cache_find(kind, ca, cert, key);
    if (e)
        return e->ctx;
    if (cached >= TLS_CACHE_MAX) {
        core_log(PL_LOG_ERROR, "tls", "more than %d distinct TLS configurations: refused",
                 TLS_CACHE_MAX);
        return NULL;
    }
    SSL_CTX *ctx = kind == TLS_CLIENT ? build_client(ca, cert, key) : build_server(cert, key, ca);
    return ctx ? cache_add(kind, ca, cert, key, ctx) : NULL;
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
    return context(TLS_CLIENT, nonempty(ca_file), cert_file, key_file);
}

SSL_CTX *tls_server_ctx(const char *cert_file, const char *key_file, const char *client_ca)
{
    if (!nonempty(cert_file) || !nonempty(key_file)) {
        core_log(PL_LOG_ERROR, "tls", "a TLS server needs a certificate and a key file");
        return NULL;
    }
    return context(TLS_SERVER, nonempty(client_ca), cert_file, key_file);
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

char *tls_peer_subject(SSL *ssl)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    X509 *peer = ssl ? SSL_get1_peer_certificate(ssl) : NULL;
#else
    X509 *peer = ssl ? SSL_get_peer_certificate(ssl) : NULL;
#endif
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
        SSL_CTX_free(e->ctx);
        free(e->ca_file);
        free(e->cert_file);
        free(e->key_file);
        free(e);
    }
    cached = 0;
}
