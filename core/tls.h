/*
 * tls.h — the TLS contexts of the process (tls.c).  One SSL_CTX per distinct
 * configuration, built on first use and shared by every connection that asks for the
 * same one: outbound HTTPS (httpclient.c), wss:// clients (ws.c) and the REST
 * listener (http.c).  Certificate files are read when their context is built; a
 * replaced file takes effect at the next start.
 */
#ifndef PIPELET_TLS_H
#define PIPELET_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

/* A client context: the peer is verified against ca_file (NULL: the system store);
 * with cert_file and key_file (PEM; both or neither) we present that certificate (a
 * chain file: leaf first) when the server asks for one.  Borrowed: valid until
 * tls_shutdown; an SSL made from it holds its own reference, so connections outlive
 * the cache.  NULL when a file cannot be loaded (logged, with OpenSSL's reason). */
SSL_CTX *tls_client_ctx(const char *ca_file, const char *cert_file, const char *key_file);

/* A server context: cert_file (chain, leaf first) and key_file (PEM).  With client_ca,
 * clients are asked for a certificate and one that is presented must verify against
 * client_ca (the handshake fails otherwise); a client without one is let in, and
 * tls_peer_subject tells the two apart.  Borrowed, as above. */
SSL_CTX *tls_server_ctx(const char *cert_file, const char *key_file, const char *client_ca);

/* A server context with every option a listener has.  min_version 0 is TLS 1.2;
 * ciphers (TLS 1.2, OpenSSL's list syntax) and ciphersuites (TLS 1.3) NULL or empty
 * keep OpenSSL's defaults.  defer_verify (with client_ca): a client certificate that
 * fails verification does not end the handshake; the owner must then check
 * tls_peer_cert's verified and refuse (the OCPP listener does, per station). */
struct tls_server_opts {
    const char *cert_file, *key_file, *client_ca;
    int min_version;
    const char *ciphers, *ciphersuites;
    int defer_verify;
};
SSL_CTX *tls_server_ctx_opts(const struct tls_server_opts *o);

/* A listener's TLS keys in [section], the same for [http] and [ocpp]: tls_certificate
 * (alias tls_cert), tls_private_key (alias tls_key), tls_client_ca, tls_min_version
 * (1.2 or 1.3), tls_ciphers, tls_ciphersuites.  1 when TLS is configured, 0 when not,
 * -1 after logging an inconsistent set (by file and line).  Strings are borrowed from
 * the configuration. */
int tls_server_config(const char *section, struct tls_server_opts *o);

/* What a peer's certificate says, for the owner's decision and its logs. */
struct tls_peer {
    int present;           /* a certificate was presented */
    int verified;          /* it chains to the client CA and is within its validity */
    char error[96];        /* why not, in OpenSSL's words ("certificate has expired") */
    char cn[128];          /* the subject's commonName */
    char fingerprint[65];  /* SHA-256 of the DER, lowercase hex */
    char serial[80];       /* hex */
    int64_t not_before, not_after; /* Unix seconds */
};
/* Fill out for ssl's peer: 1 when a certificate was presented, else 0 (out zeroed). */
int tls_peer_cert(SSL *ssl, struct tls_peer *out);

/* A client connection's SSL for host (a DNS name, an IPv4 or an IPv6 address, with or
 * without [brackets]): SNI for names, and the certificate must name host.  New: hand
 * it to bufferevent_openssl_*_new with BEV_OPT_CLOSE_ON_FREE (or SSL_free it). */
SSL *tls_client_ssl(SSL_CTX *ctx, const char *host);

/* Present this identity on ssl (a client connection made from a context without one):
 * cert_pem is the leaf followed by any intermediates, key_pem its key, both PEM text.
 * Per connection, so a fleet of stations with a certificate each shares one context.
 * 0, or -1 (logged). */
int tls_use_identity_pem(SSL *ssl, const char *cert_pem, const char *key_pem);

/* The subject (RFC 2253, "CN=cpo,O=Example") of the peer's certificate when one was
 * presented and verified; else NULL.  New: the caller frees it. */
char *tls_peer_subject(SSL *ssl);

/* Contexts in the cache (tests). */
size_t tls_context_count(void);

/* Drop the cache's references (at exit; idempotent).  Connections still open keep
 * their contexts until they are freed; a later tls_*_ctx builds a new one. */
void tls_shutdown(void);

#endif
