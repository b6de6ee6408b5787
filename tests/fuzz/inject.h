/* inject.h — what the fuzz targets share: a way in for a socket (handed to the router's
 * evhttp or to a WebSocket listener as if their listener had accepted it, so a
 * socketpair carries the fuzz bytes through the real read path), and running the loop
 * against the other end of that pair with a bounded number of turns per input. */
#ifndef PIPELET_FUZZ_INJECT_H
#define PIPELET_FUZZ_INJECT_H

#include <stddef.h>
#include <stdint.h>

#include "ws.h"

/* inject_http.c: after http_init, the router also listens on a unix socket; connect to
 * it (a non-blocking client fd, or -1); connections the router holds. */
int fuzz_http_listen(void);
int fuzz_http_connect(void);
int fuzz_http_connections(void);
/* inject_ws.c: the listener ws_listen made last (ocppj's is static in ocppj.c), and
 * fd given to a listener as an accepted connection. */
ws_listener *fuzz_ws_last_listener(void);
void fuzz_ws_accept(ws_listener *l, int fd);

/* inject_loop.c: a socketpair whose server end went to a server; the harness is the
 * peer.  Both ends non-blocking.  What the server answers is read as the loop runs
 * (unless drain is 0: a peer that does not read) and kept, up to a bound, for the
 * target's checks. */
struct fuzz_pair {
    int server, peer;  /* server -1: the server accepted its end itself */
    int (*alive)(void); /* then: whether it still holds its connection */
    int drain;
    uint8_t *answer; /* what the server wrote, NUL-terminated */
    size_t answer_len, answer_cap;
};
int fuzz_pair_open(struct fuzz_pair *p); /* 0 or -1 */
/* A peer connected to a listener instead; alive says whether the server still holds
 * the connection. */
void fuzz_pair_connected(struct fuzz_pair *p, int peer, int (*alive)(void));
/* The server end is gone: its owner freed the connection, which closes the fd (or
 * alive() says so). */
int fuzz_pair_server_gone(const struct fuzz_pair *p);
/* Write all of data, running the loop while the socket is full (bounded: a server that
 * stops reading ends the write early).  Returns the bytes written. */
size_t fuzz_pair_write(struct fuzz_pair *p, const uint8_t *data, size_t len);
/* Run the loop up to turns times without blocking; stops early once the server end is
 * gone.  Returns 1 when it is gone. */
int fuzz_pair_run(struct fuzz_pair *p, unsigned turns);
/* The end of an input: optionally half-close first and let the server answer, then
 * drain and close the peer end and run the loop until the server end is gone (bounded).
 * Returns 1 when it is gone. */
int fuzz_pair_finish(struct fuzz_pair *p, int half_close);
void fuzz_pair_free(struct fuzz_pair *p); /* the kept answer */

#endif
