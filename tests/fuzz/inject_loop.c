/* inject_loop.c — the peer end of a socketpair whose other end a server owns, on the
 * core loop: writing fuzz bytes, reading what comes back, bounded runs of the loop. */
#include <errno.h>
#include <event2/event.h>
#include <event2/util.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core.h"
#include "inject.h"

#define ANSWER_MAX (1u << 20)

int fuzz_pair_open(struct fuzz_pair *p)
{
    int sv[2];
    memset(p, 0, sizeof *p);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return -1;
    evutil_make_socket_nonblocking(sv[0]);
    evutil_make_socket_nonblocking(sv[1]);
    p->server = sv[0];
    p->peer = sv[1];
    p->drain = 1;
    return 0;
}

void fuzz_pair_connected(struct fuzz_pair *p, int peer, int (*alive)(void))
{
    memset(p, 0, sizeof *p);
    p->server = -1;
    p->peer = peer;
    p->alive = alive;
    p->drain = 1;
}

int fuzz_pair_server_gone(const struct fuzz_pair *p)
{
    if (p->alive)
        return !p->alive();
    /* nothing else opens descriptors while an input runs, so a closed number is ours */
    return fcntl(p->server, F_GETFD) == -1 && errno == EBADF;
}

static void keep(struct fuzz_pair *p, const uint8_t *b, size_t n)
{
    if (p->answer_len + n + 1 > p->answer_cap) {
        size_t cap = p->answer_cap ? p->answer_cap * 2 : 4096;
        while (cap < p->answer_len + n + 1)
            cap *= 2;
        if (cap > ANSWER_MAX + 1)
            return; /* enough kept for any check */
        uint8_t *a = realloc(p->answer, cap);
        if (!a)
            return;
        p->answer = a;
        p->answer_cap = cap;
    }
    memcpy(p->answer + p->answer_len, b, n);
    p->answer_len += n;
    p->answer[p->answer_len] = '\0';
}

static void drain(struct fuzz_pair *p)
{
    uint8_t buf[16384];
    ssize_t n;
    while (p->peer >= 0 && (n = read(p->peer, buf, sizeof buf)) > 0)
        keep(p, buf, (size_t)n);
}

static void turn(struct fuzz_pair *p)
{
    event_base_loop(core_base, EVLOOP_NONBLOCK);
    if (p->drain)
        drain(p);
}

size_t fuzz_pair_write(struct fuzz_pair *p, const uint8_t *data, size_t len)
{
    size_t off = 0;
    unsigned stalled = 0;
    while (off < len && stalled < 64) {
        ssize_t n = write(p->peer, data + off, len - off);
        if (n > 0) {
            off += (size_t)n;
            stalled = 0;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            break; /* the server closed: the rest is never read */
        } else {
            stalled++;
        }
        turn(p);
    }
    return off;
}

int fuzz_pair_run(struct fuzz_pair *p, unsigned turns)
{
    for (unsigned i = 0; i < turns; i++) {
        if (fuzz_pair_server_gone(p))
            return 1;
        turn(p);
    }
    return fuzz_pair_server_gone(p);
}

int fuzz_pair_finish(struct fuzz_pair *p, int half_close)
{
    if (half_close) {
        shutdown(p->peer, SHUT_WR);
        fuzz_pair_run(p, 64);
    }
    p->drain = 1;
    drain(p);
    close(p->peer);
    p->peer = -1;
    return fuzz_pair_run(p, 256);
}

void fuzz_pair_free(struct fuzz_pair *p)
{
    if (p->peer >= 0)
        close(p->peer);
    p->peer = -1;
    free(p->answer);
    p->answer = NULL;
    p->answer_len = p->answer_cap = 0;
}
