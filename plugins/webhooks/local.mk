plugin_LTLIBRARIES += plugins/webhooks/webhooks.la
plugins_webhooks_webhooks_la_SOURCES = plugins/webhooks/webhooks.c plugins/webhooks/delivery.c \
	plugins/webhooks/webhooks.h
plugins_webhooks_webhooks_la_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
plugins_webhooks_webhooks_la_LDFLAGS = $(PLUGIN_LINK_FLAGS)
plugins_webhooks_webhooks_la_LIBADD = $(PLUGIN_LINK_LIBS) $(OPENSSL_LIBS)
