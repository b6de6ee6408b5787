plugin_LTLIBRARIES += plugins/mcp/mcp.la
plugins_mcp_mcp_la_SOURCES = plugins/mcp/mcp.c plugins/mcp/era.c plugins/mcp/call.c \
	plugins/mcp/sessions.c plugins/mcp/tools.c plugins/mcp/follow.c plugins/mcp/resources.c \
	plugins/mcp/mcp.h
plugins_mcp_mcp_la_LDFLAGS = $(PLUGIN_LINK_FLAGS)
plugins_mcp_mcp_la_LIBADD = $(PLUGIN_LINK_LIBS)
nodist_plugins_mcp_mcp_la_SOURCES = plugins/mcp/openapi_json.c
EXTRA_DIST += plugins/mcp/openapi.json
CLEANFILES += plugins/mcp/openapi_json.c

bin_PROGRAMS += pipelet-mcp
pipelet_mcp_SOURCES = plugins/mcp/bridge.c
pipelet_mcp_LDADD = $(JANSSON_LIBS)
