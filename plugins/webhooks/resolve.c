/*
 * resolve.c — host names to addresses without blocking the loop, so a delivery's
 * receiver can be checked against the address policy before any connection.
 *
 * The host table offers no resolver, so lookups go to glibc's getaddrinfo_a: its
 * helper threads run getaddrinfo, and a plugin timer polls them while any is out.
 * No notification is asked for, so no foreign thread ever calls into this plugin
 * (which may be unloaded) and the plugin itself runs only on the loop.
 */
#define _GNU_SOURCE
#include "webhooks.h"

#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define POLL_MS 5

struct wh_lookup {
    struct gaicb gcb;           /* glibc writes the answer here: kept until it is done */
    struct addrinfo hints;
    char *host;
    wh_resolved_cb cb;          /* NULL once answered (timeout, shutdown): only freed later */
    void *arg;
    uint64_t deadline;
    struct wh_lookup *next;
};

static void lookup_free(struct wh_lookup *l)
{
    if (l->gcb.ar_result)
        freeaddrinfo(l->gcb.ar_result);
    free(l->host);
    free(l);
}

/* Answer once; the lookup itself lives on until glibc is done with it. */
static void lookup_answer(struct wh_lookup *l, const struct addrinfo *ai, const char *error)
{
    wh_resolved_cb cb = l->cb;
    l->cb = NULL;
    if (cb)
        cb(l->arg, ai, error);
}

static void on_poll(void *arg)
{
    struct wh *w = arg;
    uint64_t now = w->host->now_ms();
    struct wh_lookup **pp = &w->lookups;
    while (*pp) {
        struct wh_lookup *l = *pp;
        int rc = gai_error(&l->gcb);
        if (rc == EAI_INPROGRESS) {
            if (l->cb && now >= l->deadline)
                lookup_answer(l, NULL, "timeout");
            pp = &l->next;
            continue;
        }
        *pp = l->next; /* unlinked first: the answer may start new lookups (at the head) */
        lookup_answer(l, rc == 0 ? l->gcb.ar_result : NULL, rc == 0 ? NULL : gai_strerror(rc));
        lookup_free(l);
    }
    if (!w->lookups)
        w->host->timer_stop(w->lookup_poll);
}

int wh_resolve(struct wh *w, const char *host, unsigned timeout_ms, wh_resolved_cb cb, void *arg)
{
    if (!w->lookup_poll && !(w->lookup_poll = w->host->timer_new(w->self, on_poll, w)))
        return PL_ENOMEM;
    struct wh_lookup *l = calloc(1, sizeof *l);
    if (!l || !(l->host = strdup(host))) {
        free(l);
        return PL_ENOMEM;
    }
    l->hints.ai_family = AF_UNSPEC;
    l->hints.ai_socktype = SOCK_STREAM;
    l->gcb.ar_name = l->host;
    l->gcb.ar_request = &l->hints;
    l->cb = cb;
    l->arg = arg;
    l->deadline = w->host->now_ms() + timeout_ms;
    struct gaicb *list[] = {&l->gcb};
    if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0) {
        free(l->host);
        free(l);
        return PL_ERR;
    }
    if (!w->lookups)
        w->host->timer_start(w->lookup_poll, POLL_MS, 1);
    l->next = w->lookups;
    w->lookups = l;
    return PL_OK;
}

/* Answer every lookup ("shutting down"), then wait for glibc to let go of them: the
 * plugin may be unloaded next.  The wait is the resolver's own timeout at most. */
void wh_resolve_shutdown(struct wh *w)
{
    for (struct wh_lookup *l = w->lookups; l; l = l->next)
        lookup_answer(l, NULL, "shutting down");
    while (w->lookups) {
        struct wh_lookup *l = w->lookups;
        w->lookups = l->next;
        if (gai_cancel(&l->gcb) == EAI_NOTCANCELED) {
            const struct gaicb *list[] = {&l->gcb};
            while (gai_error(&l->gcb) == EAI_INPROGRESS)
                gai_suspend(list, 1, NULL);
        }
        lookup_free(l);
    }
    w->host->timer_free(w->lookup_poll);
    w->lookup_poll = NULL;
}
