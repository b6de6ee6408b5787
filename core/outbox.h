/* outbox.h — the core's durable outbox (pipelet/outbox.h). */
#ifndef PIPELET_OUTBOX_CORE_H
#define PIPELET_OUTBOX_CORE_H

#include "core.h"
#include <pipelet/outbox.h>

const struct pl_outbox_api *outbox_api(void);
void outbox_start(void);     /* the poll timer; the database is migrated */
void outbox_shutdown(void);  /* after the plugins' fini */
void outbox_kick(const char *queue);
/* Remove the senders owner registered; returns how many. */
int outbox_remove_owner(pl_plugin_handle *owner);

#endif
