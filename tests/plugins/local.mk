# Loader test plugins (never installed): -rpath forces libtool to build shared modules.
TESTPLUGIN_FLAGS = -module -avoid-version -shared -rpath /nowhere $(SAN_LDFLAGS)
check_LTLIBRARIES += tests/plugins/abi_future.la tests/plugins/abi_major.la \
	tests/plugins/abi_nodesc.la tests/plugins/abi_old.la tests/plugins/abi_v11.la \
	tests/plugins/abi_dup.la tests/plugins/abi_initfail.la tests/plugins/lc_initfail.la \
	tests/plugins/lc_config.la sdk/example/hello.la
tests_plugins_abi_future_la_SOURCES = tests/plugins/abi_plugins.c
tests_plugins_abi_future_la_CFLAGS = $(AM_CFLAGS) -DABI_FUTURE_MINOR -DPLUGIN_NAME='"abi_future"'
tests_plugins_abi_future_la_LDFLAGS = $(TESTPLUGIN_FLAGS)
tests_plugins_abi_major_la_SOURCES = tests/plugins/abi_plugins.c
tests_plugins_abi_major_la_CFLAGS = $(AM_CFLAGS) -DABI_OTHER_MAJOR -DPLUGIN_NAME='"abi_major"'
tests_plugins_abi_major_la_LDFLAGS = $(TESTPLUGIN_FLAGS)
tests_plugins_abi_nodesc_la_SOURCES = tests/plugins/abi_plugins.c
tests_plugins_abi_nodesc_la_CFLAGS = $(AM_CFLAGS) -DABI_NO_DESCRIPTOR -DPLUGIN_NAME='"abi_nodesc"'
tests_plugins_abi_nodesc_la_LDFLAGS = $(TESTPLUGIN_FLAGS)
# Built against the frozen headers of the 1.0 and 1.1 releases (copied from git, never
# edited): their -I comes before the tree's include/.
tests_plugins_abi_old_la_SOURCES = tests/plugins/abi_plugins.c
tests_plugins_abi_old_la_CPPFLAGS = -I$(top_srcdir)/tests/plugins/abi-1.0 $(AM_CPPFLAGS)
tests_plugins_abi_old_la_CFLAGS = $(AM_CFLAGS) -DPLUGIN_NAME='"abi_old"'
tests_plugins_abi_old_la_LDFLAGS = $(TESTPLUGIN_FLAGS)
tests_plugins_abi_v11_la_SOURCES = tests/plugins/abi_plugins.c
tests_plugins_abi_v11_la_CPPFLAGS = -I$(top_srcdir)/tests/plugins/abi-1.1 $(AM_CPPFLAGS)
tests_plugins_abi_v11_la_CFLAGS = $(AM_CFLAGS) -DPLUGIN_NAME='"abi_v11"'
tests_plugins_abi_v11_la_LDFLAGS = $(TESTPLUGIN_FLAGS)
tests_plugins_abi_dup_la_SOURCES = tests/plugins/abi_plugins.c
tests_plugins_abi_dup_la_CFLAGS = $(AM_CFLAGS) -DPLUGIN_NAME='"abi_old"'
tests_plugins_abi_dup_la_LDFLAGS = $(TESTPLUGIN_FLAGS)
tests_plugins_abi_initfail_la_SOURCES = tests/plugins/abi_plugins.c
tests_plugins_abi_initfail_la_CFLAGS = $(AM_CFLAGS) -DABI_INIT_FAILS -DPLUGIN_NAME='"abi_initfail"'
tests_plugins_abi_initfail_la_LDFLAGS = $(TESTPLUGIN_FLAGS)
# Lifecycle and ownership (ABI 1.2): a plugin that registers everything then fails, and
# one that declares a key of each type and re-reads them on SIGHUP.
tests_plugins_lc_initfail_la_SOURCES = tests/plugins/lifecycle.c
tests_plugins_lc_initfail_la_CFLAGS = $(AM_CFLAGS) -DLC_INITFAIL
tests_plugins_lc_initfail_la_LDFLAGS = $(TESTPLUGIN_FLAGS)
tests_plugins_lc_config_la_SOURCES = tests/plugins/lifecycle.c
tests_plugins_lc_config_la_CFLAGS = $(AM_CFLAGS) -DLC_CONFIG
tests_plugins_lc_config_la_LDFLAGS = $(TESTPLUGIN_FLAGS)
sdk_example_hello_la_SOURCES = sdk/example/hello.c
sdk_example_hello_la_LDFLAGS = $(TESTPLUGIN_FLAGS)
sdk_example_hello_la_LIBADD = $(JANSSON_LIBS)
EXTRA_DIST += sdk/example/Makefile sdk/GUIDE.md tests/plugins/abi-1.0 tests/plugins/abi-1.1

# The plugin lifecycle through the real loader: what a failed init leaves (nothing),
# config declarations, SIGHUP staging.  Runs in the build tree, where the .la are.
check_PROGRAMS += tests/unit/test_plugins
TESTS += tests/unit/test_plugins
tests_unit_test_plugins_SOURCES = tests/unit/test_plugins.c
tests_unit_test_plugins_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_plugins_LDADD = core/libpipeletcore.la $(CHECK_LIBS)
