/*
 * memtrim.c — a TLS handshake allocates and frees some 50 KB of temporaries (certificate
 * parsing, key exchange, transcripts) between the long-lived objects of the connections
 * around it.  After a reconnect storm of thousands of stations, glibc keeps that freed
 * memory in the middle of the heap, resident: measured at 10,000 TLS stations, half of
 * the daemon's RSS was free heap.  Every few seconds, if many connections were opened or
 * closed since the last look, malloc_trim hands the free pages back (madvise); an idle or
 * steady gateway is never trimmed.
 */
#include "memtrim.h"
#include "core.h"
#include "ws.h"

#include <event2/event.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define CHECK_S 5
#define CHURN_MIN 256 /* connections opened or closed since the last trim */

static struct event *timer;
static uint64_t last_churn;

static void check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    struct ws_stats s;
    ws_get_stats(&s);
    uint64_t churn = s.accepted_total + s.closed_total + s.refused_total + s.tls_handshake_failures;
    if (churn - last_churn >= CHURN_MIN) {
        last_churn = churn;
#ifdef __GLIBC__
        malloc_trim(0);
#endif
    }
}

void memtrim_start(void)
{
    if (timer)
        return;
    timer = event_new(core_base, -1, EV_PERSIST, check, NULL);
    struct timeval tv = {CHECK_S, 0};
    if (timer)
        event_add(timer, &tv);
}

void memtrim_shutdown(void)
{
    if (timer)
        event_free(timer);
    timer = NULL;
}
