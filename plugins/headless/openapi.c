/*
 * openapi.c — serves the OpenAPI 3.1 document of /api/v1 and /ocpp/v1.  The document is
 * plugins/headless/openapi.json, embedded at build time (json2c.sh -> openapi_json.c).
 */
#include "headless.h"

void hl_openapi(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    hl->host->reply_header(req, "Cache-Control", "public, max-age=300");
    hl->host->reply_raw(req, 200, "application/json", hl_openapi_json,
                        (size_t)hl_openapi_json_len);
}
