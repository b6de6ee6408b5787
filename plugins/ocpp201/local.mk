plugin_LTLIBRARIES += plugins/ocpp201/ocpp201.la
plugins_ocpp201_ocpp201_la_SOURCES = plugins/ocpp201/ocpp201.c plugins/ocpp201/handlers.c \
	plugins/ocpp201/driver.c plugins/ocpp201/cost.c plugins/ocpp201/ocpp201.h
plugins_ocpp201_ocpp201_la_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) -I$(top_srcdir)/plugins/ocpp_common
plugins_ocpp201_ocpp201_la_LDFLAGS = $(PLUGIN_LINK_FLAGS)
plugins_ocpp201_ocpp201_la_LIBADD = plugins/ocpp_common/libplocppcommon.la $(PLUGIN_LINK_LIBS) $(OPENSSL_LIBS)
EXTRA_DIST += docs/ocpp201.md
