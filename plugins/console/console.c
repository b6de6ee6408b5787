/*
 * console.c — the operations console: a single-page web application served by the
 * gateway itself at /console (no CDN, no build step: the three files in this folder are
 * compiled in by scripts/text2c.sh).  The page signs in with an API key (kept in the
 * browser session only) and uses nothing but the public REST API and its Server-Sent
 * Events (GET /api/v1/events), so it can do exactly what its key can do over REST.
 *
 * The files are served without a key: they hold no data.  Every answer carries a strict
 * Content-Security-Policy (scripts and styles from this origin only, no inline script),
 * so an injected station id or message cannot run in an operator's browser.
 */
#include <pipelet/pipelet.h>

#include <stdlib.h>
#include <string.h>

extern const char console_index_html[], console_app_js[], console_app_css[];
extern const unsigned long console_index_html_len, console_app_js_len, console_app_css_len;
extern const char console_openapi_json[];
extern const unsigned long console_openapi_json_len;

struct console {
    const struct pl_host *host;
    pl_plugin_handle *self;
};

static void headers(const struct pl_host *h, pl_request *req)
{
    h->reply_header(req, "Content-Security-Policy",
                    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    h->reply_header(req, "X-Content-Type-Options", "nosniff");
    h->reply_header(req, "Referrer-Policy", "no-referrer");
    h->reply_header(req, "Cache-Control", "no-cache");
}

static void serve(pl_request *req, void *arg)
{
    struct console *c = arg;
    const struct pl_host *h = c->host;
    const char *path = h->req_path(req);
    headers(h, req);
    if (strcmp(path, "/console/app.js") == 0)
        h->reply_raw(req, 200, "text/javascript; charset=utf-8", console_app_js, console_app_js_len);
    else if (strcmp(path, "/console/app.css") == 0)
        h->reply_raw(req, 200, "text/css; charset=utf-8", console_app_css, console_app_css_len);
    else
        h->reply_raw(req, 200, "text/html; charset=utf-8", console_index_html, console_index_html_len);
}

static int console_init(pl_plugin_handle *self, const struct pl_host *host, void **state)
{
    int declared = host->config_declare ? host->config_declare(self, NULL, 0) : PL_OK;
    if (declared != PL_OK)
        return declared;
    struct console *c = calloc(1, sizeof *c);
    if (!c)
        return PL_ENOMEM;
    c->host = host;
    c->self = self;
    static const char *const paths[] = {"/console", "/console/app.js", "/console/app.css"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        int rc = host->http_route(self, "GET", paths[i], PL_AUTH_NONE, serve, c);
        if (rc != PL_OK) {
            free(c);
            return rc;
        }
    }
    pl_http_describe_text(host, self, console_openapi_json, (size_t)console_openapi_json_len);
    *state = c;
    host->log(self, PL_LOG_INFO, "the operations console is at /console");
    return PL_OK;
}

static void console_fini(void *state)
{
    free(state);
}

PL_PLUGIN_DEFINE(.name = "console", .version = PACKAGE_VERSION,
                 .description = "The operations console in the browser (/console)", .init = console_init,
                 .fini = console_fini);
