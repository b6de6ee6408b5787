/* host.h — the services table handed to plugins (struct pl_host), and timers. */
#ifndef PIPELET_HOST_H
#define PIPELET_HOST_H

#include "core.h"

const struct pl_host *host_table(void);
/* Free the timers a plugin left (it failed init or was unloaded); returns how many. */
int host_timers_free_owner(pl_plugin_handle *owner);

#endif
