/*
 * openapi.c — this plugin's part of the API description: plugins/headless/openapi.json
 * (embedded at build time by scripts/text2c.sh), given to the host, which attaches each
 * operation to its route, enforces the JSON request bodies it describes and serves the
 * whole document at /api/v1/openapi.json.
 */
#include "headless.h"

void hl_describe(struct headless *hl)
{
    pl_http_describe_text(hl->host, hl->self, headless_openapi_json, (size_t)headless_openapi_json_len);
}
