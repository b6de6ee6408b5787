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
