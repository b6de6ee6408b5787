/*
 * fdwatch.c — file-descriptor watchers for plugins (the stdio MCP transport, a pipe to a
 * helper process): a persistent libevent event on the one loop.  Freeing a watcher from
 * inside its own callback is allowed: the event is deleted at once and the memory is
 * released when the callback returns.
 */
#include "fdwatch.h"

#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>

struct pl_fdwatch {
    struct event *ev;
    int fd;
    pl_fd_cb cb;
    void *arg;
    int in_cb;   /* the callback is running */
    int freed;   /* fd_watch_free was called during it */
};

static short ev_flags(int events)
{
    return (short)(EV_PERSIST | ((events & PL_FD_READ) ? EV_READ : 0) |
                   ((events & PL_FD_WRITE) ? EV_WRITE : 0));
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
    struct pl_fdwatch *w = arg;
    int events = ((what & EV_READ) ? PL_FD_READ : 0) | ((what & EV_WRITE) ? PL_FD_WRITE : 0);
    w->in_cb = 1;
    w->cb((int)fd, events, w->arg);
    w->in_cb = 0;
    if (w->freed) {
        event_free(w->ev);
        free(w);
    }
}

/* Arm the event for events (0: leave it disarmed). */
static int arm(struct pl_fdwatch *w, int events)
{
    if (event_assign(w->ev, core_base, w->fd, ev_flags(events), on_ready, w) != 0)
        return PL_ERR;
    if (events && event_add(w->ev, NULL) != 0)
        return PL_ERR;
    return PL_OK;
}

pl_fdwatch *fdwatch_new(pl_plugin_handle *self, int fd, int events, pl_fd_cb cb, void *arg)
{
    (void)self;
    if (fd < 0 || !cb || (events & ~(PL_FD_READ | PL_FD_WRITE)) || fcntl(fd, F_GETFD) < 0)
        return NULL;
    struct pl_fdwatch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->fd = fd;
    w->cb = cb;
    w->arg = arg;
    w->ev = event_new(core_base, fd, ev_flags(events), on_ready, w);
    if (!w->ev || (events && event_add(w->ev, NULL) != 0)) {
        if (w->ev)
            event_free(w->ev);
        free(w);
        return NULL;
    }
    return w;
}

int fdwatch_update(pl_fdwatch *w, int events)
{
    if (!w || w->freed || (events & ~(PL_FD_READ | PL_FD_WRITE)))
        return PL_EINVAL;
    event_del(w->ev); /* event_assign needs an event that is not pending */
    return arm(w, events);
}

void fdwatch_free(pl_fdwatch *w)
{
    if (!w || w->freed)
        return;
    event_del(w->ev);
    if (w->in_cb) { /* on_ready frees it when the callback returns */
        w->freed = 1;
        return;
    }
    event_free(w->ev);
    free(w);
}
