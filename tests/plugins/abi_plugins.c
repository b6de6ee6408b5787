/* abi_plugins.c — test plugins that the loader must refuse (or accept), built from one
 * source with -D switches: a future minor, another major, no descriptor, a duplicate
 * name, one whose init fails, and old minors (accepted).  abi_old and abi_v11 are built
 * against frozen copies of the 1.0 and 1.1 headers (tests/plugins/abi-1.0, abi-1.1), so
 * PL_ABI_MINOR and every struct are those of the release: they prove that what was built
 * then still loads and serves in this daemon.  Each accepted one answers
 * GET /abi/v1/<name> with the ABI it was built for and the one the host reports. */
#include <pipelet/plugin.h>
#include <stdio.h>

#if defined(ABI_NO_DESCRIPTOR)
__attribute__((visibility("default"))) int not_a_plugin = 1;
#else
static const struct pl_host *host_of_plugin;

static void get_abi(pl_request *req, void *arg)
{
    (void)arg;
    const struct pl_host *h = host_of_plugin;
    char built[16], host[16];
    snprintf(built, sizeof built, "%d.%d", PL_ABI_MAJOR, PL_ABI_MINOR);
    snprintf(host, sizeof host, "%u.%u", h->abi_major, h->abi_minor);
    h->reply_json(req, 200, json_pack("{s:s, s:s, s:s}", "name", PLUGIN_NAME, "built_for", built,
                                      "host", host));
}

static int ok_init(pl_plugin_handle *self, const struct pl_host *host, void **state)
{
    (void)state;
    host_of_plugin = host;
    host->log(self, PL_LOG_INFO, "test plugin initialised");
    int rc = host->http_route(self, "GET", "/abi/v1/" PLUGIN_NAME, PL_AUTH_NONE, get_abi, NULL);
#ifdef ABI_INIT_FAILS
    (void)rc;
    return PL_ERR; /* after registering: the host removes the route */
#else
    return rc;
#endif
}

__attribute__((visibility("default"))) const struct pl_plugin pipelet_plugin = {
#if defined(ABI_FUTURE_MINOR)
    .abi_major = PL_ABI_MAJOR, .abi_minor = PL_ABI_MINOR + 1,
#elif defined(ABI_OTHER_MAJOR)
    .abi_major = PL_ABI_MAJOR + 1, .abi_minor = 0,
#else
    .abi_major = PL_ABI_MAJOR, .abi_minor = PL_ABI_MINOR,
#endif
    .struct_size = sizeof(struct pl_plugin),
    .build_signature = PL_BUILD_SIGNATURE,
    .name = PLUGIN_NAME,
    .version = "0.0.1",
    .description = "loader test plugin",
    .init = ok_init,
};
#endif
