/*
 * openapi.c — this plugin's part of the API description: plugins/headless/openapi.json
 * (embedded at build time by scripts/text2c.sh), given to the host, which attaches each
 * operation to its route, enforces the JSON request bodies it describes and serves the
 * whole document at /api/v1/openapi.json.
 */
#include "headless.h"

void hl_describe(struct headless *hl)
{
    const struct pl_host *h = hl->host;
    if (!PL_HOST_HAS(h, http_describe) || !h->http_describe)
        return; /* an older host: the routes work, undescribed */
    json_error_t jerr;
    json_t *doc = json_loadb(hl_openapi_json, (size_t)hl_openapi_json_len, 0, &jerr);
    if (!doc) { /* a build bug: say so loudly, keep serving */
        h->log(hl->self, PL_LOG_ERROR, "embedded openapi.json is invalid: %s (line %d)", jerr.text,
               jerr.line);
        return;
    }
    if (h->http_describe(hl->self, doc) != PL_OK)
        h->log(hl->self, PL_LOG_WARN, "openapi.json describes routes this plugin does not serve");
    json_decref(doc);
}
