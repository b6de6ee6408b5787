plugin_LTLIBRARIES += plugins/oicp/oicp.la
plugins_oicp_oicp_la_SOURCES = plugins/oicp/oicp.c plugins/oicp/hub.c plugins/oicp/evse.c \
	plugins/oicp/sessions.c plugins/oicp/remote.c plugins/oicp/outbox.c plugins/oicp/pricing.c plugins/oicp/routes.c \
	plugins/oicp/oicp.h
plugins_oicp_oicp_la_CFLAGS = $(AM_CFLAGS)
plugins_oicp_oicp_la_LDFLAGS = $(PLUGIN_LINK_FLAGS)
plugins_oicp_oicp_la_LIBADD = $(PLUGIN_LINK_LIBS)
nodist_plugins_oicp_oicp_la_SOURCES = plugins/oicp/openapi_json.c
EXTRA_DIST += plugins/oicp/openapi.json
CLEANFILES += plugins/oicp/openapi_json.c
