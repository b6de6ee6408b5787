plugin_LTLIBRARIES += plugins/ocpp16/ocpp16.la
plugins_ocpp16_ocpp16_la_SOURCES = plugins/ocpp16/ocpp16.c plugins/ocpp16/handlers.c \
	plugins/ocpp16/driver.c plugins/ocpp16/ocpp16.h
plugins_ocpp16_ocpp16_la_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) -I$(top_srcdir)/plugins/ocpp_common
plugins_ocpp16_ocpp16_la_LDFLAGS = $(PLUGIN_LINK_FLAGS)
plugins_ocpp16_ocpp16_la_LIBADD = plugins/ocpp_common/libplocppcommon.la $(PLUGIN_LINK_LIBS) $(OPENSSL_LIBS)
EXTRA_DIST += docs/ocpp16.md
