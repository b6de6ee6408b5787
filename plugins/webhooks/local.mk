plugin_LTLIBRARIES += plugins/webhooks/webhooks.la
plugins_webhooks_webhooks_la_SOURCES = plugins/webhooks/webhooks.c plugins/webhooks/delivery.c \
	plugins/webhooks/outbox.c plugins/webhooks/urlcheck.c plugins/webhooks/resolve.c \
	plugins/webhooks/webhooks.h
plugins_webhooks_webhooks_la_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
plugins_webhooks_webhooks_la_LDFLAGS = $(PLUGIN_LINK_FLAGS)
# -lanl: getaddrinfo_a (resolve.c); part of libc since glibc 2.34, a stub library kept since
plugins_webhooks_webhooks_la_LIBADD = $(PLUGIN_LINK_LIBS) $(OPENSSL_LIBS) -lanl
nodist_plugins_webhooks_webhooks_la_SOURCES = plugins/webhooks/openapi_json.c
EXTRA_DIST += plugins/webhooks/openapi.json
CLEANFILES += plugins/webhooks/openapi_json.c

# The description of this plugin's routes, compiled in.
plugins/webhooks/openapi_json.c: $(top_srcdir)/plugins/webhooks/openapi.json $(top_srcdir)/scripts/text2c.sh
	$(AM_V_GEN)$(MKDIR_P) plugins/webhooks && \
	$(SHELL) $(top_srcdir)/scripts/text2c.sh wh_openapi_json $(top_srcdir)/plugins/webhooks/openapi.json > $@.tmp && mv $@.tmp $@
