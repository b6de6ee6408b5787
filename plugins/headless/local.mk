# The headless plugin: REST gateway /api/v1 + OCPP server API /ocpp/v1.
plugin_LTLIBRARIES += plugins/headless/headless.la
HEADLESS_SRC = \
	plugins/headless/headless.c \
	plugins/headless/params.c \
	plugins/headless/commands.c \
	plugins/headless/stations.c \
	plugins/headless/transactions.c \
	plugins/headless/config_routes.c \
	plugins/headless/customers.c \
	plugins/headless/tokens_routes.c \
	plugins/headless/billing_routes.c \
	plugins/headless/load_routes.c \
	plugins/headless/events.c \
	plugins/headless/security_routes.c \
	plugins/headless/cdr_export.c \
	plugins/headless/ocpp_api.c \
	plugins/headless/system.c \
	plugins/headless/openapi.c
plugins_headless_headless_la_SOURCES = plugins/headless/headless.h $(HEADLESS_SRC)
nodist_plugins_headless_headless_la_SOURCES = plugins/headless/openapi_json.c
plugins_headless_headless_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/headless
plugins_headless_headless_la_LDFLAGS = $(PLUGIN_LINK_FLAGS)
plugins_headless_headless_la_LIBADD = $(PLUGIN_LINK_LIBS)
EXTRA_DIST += plugins/headless/README.md plugins/headless/openapi.json
CLEANFILES += plugins/headless/openapi_json.c

# The plugin against a mock host (Check): validation, outcome mapping, async, restore.
check_PROGRAMS += plugins/headless/test_headless
TESTS += plugins/headless/test_headless
plugins_headless_test_headless_SOURCES = plugins/headless/test_headless.c \
	plugins/headless/headless.h $(HEADLESS_SRC)
nodist_plugins_headless_test_headless_SOURCES = plugins/headless/openapi_json.c
plugins_headless_test_headless_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/headless
plugins_headless_test_headless_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
plugins_headless_test_headless_LDADD = $(JANSSON_LIBS) $(CHECK_LIBS)

# The token routes against a mock host and token domain (Check): remote start refusals,
# reservations, CSV import.
check_PROGRAMS += plugins/headless/test_tokens_routes
TESTS += plugins/headless/test_tokens_routes
plugins_headless_test_tokens_routes_SOURCES = plugins/headless/test_tokens_routes.c \
	plugins/headless/headless.h $(HEADLESS_SRC)
nodist_plugins_headless_test_tokens_routes_SOURCES = plugins/headless/openapi_json.c
plugins_headless_test_tokens_routes_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/headless
plugins_headless_test_tokens_routes_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
plugins_headless_test_tokens_routes_LDADD = $(JANSSON_LIBS) $(CHECK_LIBS)
