/* lifecycle.c — test plugins for the lifecycle and ownership rules of ABI 1.2, built
 * from one source with -D switches:
 *   LC_INITFAIL  (lc_initfail): registers one of everything the host can remove — an
 *                HTTP route, an OCPP handler, the certificate provider, an armed timer,
 *                a migration, a bus subscription, a remote authorizer, an outbox sender — then fails its
 *                init, freeing only its own memory.  If the host left any of them, the
 *                daemon would call into a closed shared object (or leak, under LSan).
 *   LC_CONFIG    (lc_config): declares one key of each type; GET /lc/v1/config shows the
 *                values read at init and re-read by reload (SIGHUP); its fini leaves a
 *                timer and a subscription for the host to remove. */
#include <pipelet/pipelet.h>
#include <stdlib.h>
#include <string.h>

#if defined(LC_INITFAIL)

static void never(void *arg) { (void)arg; abort(); }
static void never_route(pl_request *req, void *arg) { (void)req; never(arg); }
static void never_bus(const char *t, json_t *e, void *arg) { (void)t; (void)e; never(arg); }
static int never_authorize(void *arg, const struct pl_ocpp_handshake *hs) { (void)hs; never(arg); return 500; }
static void never_ask(void *arg, const struct pl_id_token *tok, pl_authz_request *req)
{
    (void)tok;
    (void)req;
    never(arg);
}
static char *never_sign(void *arg, const char *id, const char *csr, const char *type, char *err, size_t len)
{
    (void)id, (void)csr, (void)type, (void)err, (void)len;
    never(arg);
    return NULL;
}

static void never_deliver(void *arg, const struct pl_outbox_item *item, pl_outbox_delivery *d)
{
    (void)item;
    (void)d;
    never(arg);
}

static const struct pl_ocpp_handler handler = {sizeof handler, "ocpp1.6", never_authorize, NULL, NULL, NULL};
static const struct pl_cert_provider provider = {.size = sizeof provider, .sign_csr = never_sign};
static const struct pl_migration migrations[] = {
    {1, "marker", "CREATE TABLE lc_initfail_marker (id int)"},
};

static int lc_init(pl_plugin_handle *self, const struct pl_host *host, void **state)
{
    int rc = host->config_declare(self, NULL, 0); /* no keys: any key in [lc_initfail] is an error */
    if (rc != PL_OK)
        return rc;
    char *mine = malloc(64); /* the plugin's own memory: init frees it on failure */
    if (!mine)
        return PL_ENOMEM;
    struct pl_authorizer authorizer = {sizeof authorizer, "lc_initfail", never_ask, mine};
    struct pl_outbox_sender sender = {.size = sizeof sender, .queue = "lc_initfail", .deliver = never_deliver, .arg = mine};
    pl_timer *t = host->timer_new(self, never, mine);
    host->timer_start(t, 20, 1);
    int registered = host->http_route(self, "GET", "/lc/v1/initfail", PL_AUTH_NONE, never_route, mine) == PL_OK &&
                     host->ocpp->register_handler(self, &handler, mine) == PL_OK &&
                     host->certs->provide(self, &provider, mine) == PL_OK && t &&
                     host->db_migrations(self, migrations, 1) == PL_OK &&
                     host->bus_subscribe(self, "*", never_bus, mine) != NULL &&
                     host->tokens->add_authorizer(self, &authorizer) == PL_OK &&
                     host->outbox->register_sender(self, &sender) == PL_OK;
    host->log(self, PL_LOG_INFO, "registered %s; now failing", registered ? "one of each" : "NOT everything");
    (void)state;
    free(mine);
    return PL_ERR;
}

PL_PLUGIN_DEFINE(.name = "lc_initfail", .version = "0.0.1",
                 .description = "registers one of everything, then fails init", .init = lc_init);

#elif defined(LC_CONFIG)

static const struct pl_config_key keys[] = {
    {"greeting", PL_CONFIG_STRING, "hello", 0, 0, NULL, "a string, re-read on SIGHUP", 0},
    {"count", PL_CONFIG_INT, "1", 0, 100, NULL, "an integer in 0..100", 0},
    {"enabled", PL_CONFIG_BOOL, "yes", 0, 0, NULL, "a boolean", 0},
    {"mode", PL_CONFIG_ENUM, "fast", 0, 0, "fast slow", "fast or slow", 0},
    {"colours", PL_CONFIG_LIST, "red", 0, 0, "red green blue", "some of red, green, blue", 0},
    {"port", PL_CONFIG_INT, "7", 1, 65535, NULL, "read once at start", PL_CONFIG_RESTART},
};

struct lc {
    const struct pl_host *host;
    pl_plugin_handle *self;
    const char *greeting, *mode, *colours;
    long count, port;
    int enabled, reloads;
};

static int read_config(struct lc *c)
{
    const struct pl_host *h = c->host;
    c->greeting = h->config_get(c->self, "greeting", "hello");
    c->mode = h->config_get(c->self, "mode", "fast");
    c->colours = h->config_get(c->self, "colours", "red");
    return h->config_int(c->self, "count", 1, 0, 100, &c->count) ||
           h->config_bool(c->self, "enabled", 1, &c->enabled);
}

static void get_config(pl_request *req, void *arg)
{
    struct lc *c = arg;
    c->host->reply_json(req, 200, json_pack("{s:s, s:I, s:b, s:s, s:s, s:I, s:i}", "greeting", c->greeting,
                                            "count", (json_int_t)c->count, "enabled", c->enabled, "mode",
                                            c->mode, "colours", c->colours, "port", (json_int_t)c->port,
                                            "reloads", c->reloads));
}

static void tick(void *arg) { (void)arg; }
static void on_event(const char *t, json_t *e, void *arg) { (void)t, (void)e, (void)arg; }

static int lc_init(pl_plugin_handle *self, const struct pl_host *host, void **state)
{
    int rc = host->config_declare(self, keys, sizeof keys / sizeof keys[0]);
    if (rc != PL_OK)
        return rc;
    struct lc *c = calloc(1, sizeof *c);
    if (!c)
        return PL_ENOMEM;
    c->host = host;
    c->self = self;
    if (read_config(c) || host->config_int(self, "port", 7, 1, 65535, &c->port) ||
        host->http_route(self, "GET", "/lc/v1/config", PL_AUTH_NONE, get_config, c) != PL_OK) {
        free(c);
        return PL_EINVAL;
    }
    /* left for the host to remove after fini (the ownership rule) */
    host->timer_start(host->timer_new(self, tick, c), 3600000, 1);
    host->bus_subscribe(self, "station.*", on_event, c);
    *state = c;
    return PL_OK;
}

static int lc_reload(void *state)
{
    struct lc *c = state;
    c->reloads++;
    return read_config(c) ? PL_EINVAL : PL_OK;
}

static void lc_fini(void *state) { free(state); }

PL_PLUGIN_DEFINE(.name = "lc_config", .version = "0.0.1",
                 .description = "declares one key of each type; reload re-reads them",
                 .init = lc_init, .reload = lc_reload, .fini = lc_fini);

#else
#error "build with -DLC_INITFAIL or -DLC_CONFIG"
#endif
