plugin_LTLIBRARIES += plugins/console/console.la
plugins_console_console_la_SOURCES = plugins/console/console.c
plugins_console_console_la_CFLAGS = $(AM_CFLAGS)
plugins_console_console_la_LDFLAGS = $(PLUGIN_LINK_FLAGS)
plugins_console_console_la_LIBADD = $(PLUGIN_LINK_LIBS)
# the page, its script and its style, compiled in (no data files to install or lose)
nodist_plugins_console_console_la_SOURCES = plugins/console/openapi_json.c plugins/console/page_c.c
CONSOLE_FILES = plugins/console/index.html plugins/console/app.js plugins/console/app.css
EXTRA_DIST += plugins/console/openapi.json $(CONSOLE_FILES)
CLEANFILES += plugins/console/openapi_json.c plugins/console/page_c.c
plugins/console/page_c.c: $(addprefix $(top_srcdir)/,$(CONSOLE_FILES)) $(top_srcdir)/scripts/text2c.sh
	$(AM_V_GEN)$(MKDIR_P) plugins/console && \
	{ $(SHELL) $(top_srcdir)/scripts/text2c.sh console_index_html $(top_srcdir)/plugins/console/index.html && \
	  $(SHELL) $(top_srcdir)/scripts/text2c.sh console_app_js $(top_srcdir)/plugins/console/app.js && \
	  $(SHELL) $(top_srcdir)/scripts/text2c.sh console_app_css $(top_srcdir)/plugins/console/app.css; } > $@.tmp && mv $@.tmp $@
