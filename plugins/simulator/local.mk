plugin_LTLIBRARIES += plugins/simulator/simulator.la
plugins_simulator_simulator_la_SOURCES = plugins/simulator/simulator.c plugins/simulator/station.c \
	plugins/simulator/guard.c plugins/simulator/security.c plugins/simulator/security.h \
	plugins/simulator/simulator.h
plugins_simulator_simulator_la_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
plugins_simulator_simulator_la_LDFLAGS = $(PLUGIN_LINK_FLAGS)
plugins_simulator_simulator_la_LIBADD = $(PLUGIN_LINK_LIBS) $(OPENSSL_LIBS) -lm
nodist_plugins_simulator_simulator_la_SOURCES = plugins/simulator/openapi_json.c
EXTRA_DIST += plugins/simulator/openapi.json
CLEANFILES += plugins/simulator/openapi_json.c
