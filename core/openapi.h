/*
 * openapi.h — the API description, assembled at run time from what is registered: the
 * core's own part (core/openapi.json: the document's frame, the shared responses and
 * schemas, the core's routes) and each plugin's fragment (pl_host.http_describe), whose
 * operations attach to the plugin's routes and whose components join the document's.
 * Served at /api/v1/openapi.json; /api/v1/system/routes lists every route and whether
 * it is described.  The router enforces each described JSON request body (core/http.c).
 */
#ifndef PIPELET_CORE_OPENAPI_H
#define PIPELET_CORE_OPENAPI_H

#include "core.h"

/* Registers the two routes and describes the core's own routes (after keys_init). */
int openapi_init(void);
void openapi_shutdown(void);
/* pl_host.http_describe: fragment {"paths": {...}, "components": {...}} (borrowed). */
int openapi_describe(pl_plugin_handle *self, json_t *fragment);
/* A plugin going away: its components leave the document (its routes went with http). */
void openapi_remove_owner(pl_plugin_handle *owner);
/* {"components": ...}, what a $ref in a described schema resolves against (borrowed). */
json_t *openapi_root(void);
/* The whole document (new). */
json_t *openapi_document(void);

#endif
