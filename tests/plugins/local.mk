# Loader test plugins (never installed): -rpath forces libtool to build shared modules.
TESTPLUGIN_FLAGS = -module -avoid-version -shared -rpath /nowhere $(SAN_LDFLAGS)
check_LTLIBRARIES += tests/plugins/abi_future.la tests/plugins/abi_major.la \
	tests/plugins/abi_nodesc.la tests/plugins/abi_old.la tests/plugins/abi_dup.la \
	tests/plugins/abi_initfail.la sdk/example/hello.la
tests_plugins_abi_future_la_SOURCES = tests/plugins/abi_plugins.c
tests_plugins_abi_future_la_CFLAGS = $(AM_CFLAGS) -DABI_FUTURE_MINOR -DPLUGIN_NAME='"abi_future"'
tests_plugins_abi_future_la_LDFLAGS = $(TESTPLUGIN_FLAGS)
tests_plugins_abi_major_la_SOURCES = tests/plugins/abi_plugins.c
tests_plugins_abi_major_la_CFLAGS = $(AM_CFLAGS) -DABI_OTHER_MAJOR -DPLUGIN_NAME='"abi_major"'
tests_plugins_abi_major_la_LDFLAGS = $(TESTPLUGIN_FLAGS)
tests_plugins_abi_nodesc_la_SOURCES = tests/plugins/abi_plugins.c
tests_plugins_abi_nodesc_la_CFLAGS = $(AM_CFLAGS) -DABI_NO_DESCRIPTOR -DPLUGIN_NAME='"abi_nodesc"'
tests_plugins_abi_nodesc_la_LDFLAGS = $(TESTPLUGIN_FLAGS)
tests_plugins_abi_old_la_SOURCES = tests/plugins/abi_plugins.c
tests_plugins_abi_old_la_CFLAGS = $(AM_CFLAGS) -DPLUGIN_NAME='"abi_old"'
tests_plugins_abi_old_la_LDFLAGS = $(TESTPLUGIN_FLAGS)
tests_plugins_abi_dup_la_SOURCES = tests/plugins/abi_plugins.c
tests_plugins_abi_dup_la_CFLAGS = $(AM_CFLAGS) -DPLUGIN_NAME='"abi_old"'
tests_plugins_abi_dup_la_LDFLAGS = $(TESTPLUGIN_FLAGS)
tests_plugins_abi_initfail_la_SOURCES = tests/plugins/abi_plugins.c
tests_plugins_abi_initfail_la_CFLAGS = $(AM_CFLAGS) -DABI_INIT_FAILS -DPLUGIN_NAME='"abi_initfail"'
tests_plugins_abi_initfail_la_LDFLAGS = $(TESTPLUGIN_FLAGS)
sdk_example_hello_la_SOURCES = sdk/example/hello.c
sdk_example_hello_la_LDFLAGS = $(TESTPLUGIN_FLAGS)
sdk_example_hello_la_LIBADD = $(JANSSON_LIBS)
EXTRA_DIST += sdk/example/Makefile sdk/GUIDE.md
