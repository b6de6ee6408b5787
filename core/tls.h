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

/* A client connection's SSL for host (a DNS name, an IPv4 or an IPv6 address, with or
 * without [brackets]): SNI for names, and the certificate must name host.  New: hand
 * it to bufferevent_openssl_*_new with BEV_OPT_CLOSE_ON_FREE (or SSL_free it). */
SSL *tls_client_ssl(SSL_CTX *ctx, const char *host);

/* The subject (RFC 2253, "CN=cpo,O=Example") of the peer's certificate when one was
 * presented and verified; else NULL.  New: the caller frees it. */
char *tls_peer_subject(SSL *ssl);

/* Contexts in the cache (tests). */
size_t tls_context_count(void);

/* Drop the cache's references (at exit; idempotent).  Connections still open keep
 * their contexts until they are freed; a later tls_*_ctx builds a new one. */
void tls_shutdown(void);

#endif
