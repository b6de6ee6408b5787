/* abi_plugins.c — test plugins that the loader must refuse (or accept), built from one
 * source with -D switches: a future minor, another major, no descriptor, a duplicate
 * name, an old minor (accepted), and one whose init fails. */
#include <pipelet/plugin.h>

#if defined(ABI_NO_DESCRIPTOR)
__attribute__((visibility("default"))) int not_a_plugin = 1;
#else
static int ok_init(pl_plugin_handle *self, const struct pl_host *host, void **state)
{
    (void)self;
    (void)state;
    host->log(self, PL_LOG_INFO, "test plugin initialised");
#ifdef ABI_INIT_FAILS
    return PL_ERR;
#else
    return PL_OK;
#endif
}

__attribute__((visibility("default"))) const struct pl_plugin pipelet_plugin = {
#if defined(ABI_FUTURE_MINOR)
    .abi_major = PL_ABI_MAJOR, .abi_minor = PL_ABI_MINOR + 1,
#elif defined(ABI_OTHER_MAJOR)
    .abi_major = PL_ABI_MAJOR + 1, .abi_minor = 0,
#else
    .abi_major = PL_ABI_MAJOR, .abi_minor = 0,
#endif
    .struct_size = sizeof(struct pl_plugin),
    .build_signature = PL_BUILD_SIGNATURE,
    .name = PLUGIN_NAME,
    .version = "0.0.1",
    .description = "loader test plugin",
    .init = ok_init,
};
#endif
