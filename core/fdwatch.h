/* fdwatch.h — file-descriptor watchers for plugins (pl_host.fd_watch*): a libevent
 * event behind an opaque handle, so no libevent type reaches the plugin ABI. */
#ifndef PIPELET_FDWATCH_H
#define PIPELET_FDWATCH_H

#include "core.h"

pl_fdwatch *fdwatch_new(pl_plugin_handle *self, int fd, int events, pl_fd_cb cb, void *arg);
int fdwatch_update(pl_fdwatch *w, int events);
void fdwatch_free(pl_fdwatch *w);

#endif
