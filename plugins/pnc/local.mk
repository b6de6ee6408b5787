plugin_LTLIBRARIES += plugins/pnc/pnc.la
plugins_pnc_pnc_la_SOURCES = plugins/pnc/pnc.c plugins/pnc/sign.c plugins/pnc/status.c \
	plugins/pnc/contract.c plugins/pnc/renew.c plugins/pnc/routes.c plugins/pnc/ocsp.c plugins/pnc/ocsp.h plugins/pnc/pnc.h
plugins_pnc_pnc_la_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
plugins_pnc_pnc_la_LDFLAGS = $(PLUGIN_LINK_FLAGS)
plugins_pnc_pnc_la_LIBADD = $(PLUGIN_LINK_LIBS) $(OPENSSL_LIBS)
nodist_plugins_pnc_pnc_la_SOURCES = plugins/pnc/openapi_json.c
EXTRA_DIST += plugins/pnc/openapi.json
CLEANFILES += plugins/pnc/openapi_json.c
