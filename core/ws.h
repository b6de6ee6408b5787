/*
 * ws.h — RFC 6455 WebSocket server and client on libevent bufferevents.
 * The server owns its own evconnlistener (evhttp cannot hand a socket over after an
 * upgrade), parses the HTTP/1.1 upgrade itself and lets the owner decide (auth,
 * subprotocol) before the 101 goes out.  Text and binary messages, fragmentation,
 * ping/pong keep-alive, close handshake and codes, masking rules, UTF-8 validation,
 * a maximum message size and back-pressure (reading stops while too much output is
 * queued for a slow reader).
 */
#ifndef PIPELET_WS_H
#define PIPELET_WS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ws_conn ws_conn;
typedef struct ws_listener ws_listener;
struct tls_peer;          /* tls.h */
struct ssl_ctx_st;        /* OpenSSL's SSL_CTX */

struct ws_upgrade_req {
    const char *path;            /* request target without query, percent-decoded */
    const char *query;           /* raw query or NULL */
    const char *remote_addr;     /* "ip:port" */
    const char *authorization;   /* Authorization header value or NULL */
    const char *const *protocols;/* Sec-WebSocket-Protocol tokens, in client order */
    size_t nprotocols;
    int tls;                     /* 1 on a TLS listener */
    const struct tls_peer *peer; /* the client's certificate (tls.h), NULL when none */
};

struct ws_callbacks {
    /* Server only.  Return 0 to accept (optionally setting *subprotocol to one of
     * req->protocols, echoed in the 101, and *conn_arg), or an HTTP status (400, 401,
     * 403, 404, 503) to refuse: the core answers that status and closes. */
    int (*on_upgrade)(void *listener_arg, const struct ws_upgrade_req *req,
                      const char **subprotocol, void **conn_arg);
    void (*on_open)(ws_conn *c, void *conn_arg);
    /* One complete (reassembled, UTF-8 checked for text) message.  data is NUL-terminated. */
    void (*on_message)(ws_conn *c, void *conn_arg, int is_text, const char *data, size_t len);
    /* Called once; the connection is freed right after.  Client connect failures
     * arrive here too (code 1006, no on_open). */
    void (*on_close)(ws_conn *c, void *conn_arg, int code, const char *reason);
};

struct ws_limits {
    size_t max_message;          /* default 1 MiB; larger -> close 1009 */
    size_t max_output;           /* back-pressure high-water mark, default 4 MiB */
    unsigned ping_interval_s;    /* 0 = no pings; missing pong after 2 intervals -> close */
    unsigned handshake_timeout_s;/* default 10 */
};

/* Listen on addr:port ("0.0.0.0", 9000).  NULL on failure (logged). */
ws_listener *ws_listen(const char *addr, int port, const struct ws_limits *lim,
                       const struct ws_callbacks *cb, void *listener_arg);
/* The same over TLS with ctx (tls_server_ctx_opts; the listener takes a reference):
 * the TLS handshake runs first, then the upgrade, which sees tls = 1 and the peer's
 * certificate. */
ws_listener *ws_listen_tls(const char *addr, int port, struct ssl_ctx_st *ctx, const struct ws_limits *lim,
                           const struct ws_callbacks *cb, void *listener_arg);
void ws_listener_free(ws_listener *l);
int ws_listener_port(ws_listener *l);   /* the bound port (useful with port 0) */

/* Client: url "ws://host:port/path" (wss:// with TLS, the server's certificate verified
 * against tls->ca_file, or the system store when NULL, and matched to the host; with
 * tls->cert_pem and key_pem we present that certificate).
 * authorization: full header value or NULL.  source_addr: local IPv4 to bind or NULL.
 * Returns NULL on a bad URL or unusable CA file. */
struct ws_client_tls {
    const char *ca_file;           /* NULL: the system store */
    const char *cert_pem, *key_pem;/* a client certificate (chain) and key, PEM text, or NULL */
};
ws_conn *ws_connect(const char *url, const char *subprotocol, const char *authorization,
                    const char *source_addr, const struct ws_client_tls *tls, const struct ws_limits *lim,
                    const struct ws_callbacks *cb, void *conn_arg);
void ws_client_tls_free(void); /* at exit: the shared TLS client contexts */

int ws_send_text(ws_conn *c, const char *data, size_t len);   /* 0 or -1 (closing) */
int ws_send_binary(ws_conn *c, const void *data, size_t len);
void ws_close(ws_conn *c, int code, const char *reason);      /* close handshake */
void ws_abort(ws_conn *c);                                     /* drop TCP; on_close(1006) */
void ws_pause_reading(ws_conn *c, int paused);
void ws_set_arg(ws_conn *c, void *conn_arg);

const char *ws_remote_addr(ws_conn *c);
const char *ws_subprotocol(ws_conn *c);  /* negotiated, or "" */
const char *ws_path(ws_conn *c);
size_t ws_output_pending(ws_conn *c);
int ws_is_client(ws_conn *c);

/* Counters for /health and /metrics. */
struct ws_stats {
    uint64_t open_server, open_client, accepted_total, refused_total, closed_total;
    uint64_t frames_in, frames_out, bytes_in, bytes_out, protocol_errors;
    uint64_t tls_handshake_failures;
};
void ws_get_stats(struct ws_stats *out);

#endif
