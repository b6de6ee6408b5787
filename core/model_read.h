/*
 * model_read.h — the read API of the station model (pipelet/model.h, pl_host.model):
 * stations merged with the registry's snapshots, transactions, meter values, commands.
 */
#ifndef PIPELET_MODEL_READ_H
#define PIPELET_MODEL_READ_H

#include "core.h"
#include <pipelet/model.h>

/* The filled table (static; size = sizeof). */
const struct pl_model_api *model_read_api(void);

#endif
