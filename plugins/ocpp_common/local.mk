# Code shared by the OCPP plugins, linked statically into each (plugins share no
# symbols at run time).
noinst_LTLIBRARIES += plugins/ocpp_common/libplocppcommon.la
plugins_ocpp_common_libplocppcommon_la_SOURCES = plugins/ocpp_common/answer.c plugins/ocpp_common/answer.h \
	plugins/ocpp_common/creds.c plugins/ocpp_common/creds.h \
	plugins/ocpp_common/execute.c plugins/ocpp_common/execute.h \
	plugins/ocpp_common/outcome.c plugins/ocpp_common/outcome.h \
	plugins/ocpp_common/pnc.c plugins/ocpp_common/pnc.h \
	plugins/ocpp_common/session.c plugins/ocpp_common/session.h \
	plugins/ocpp_common/signcert.c plugins/ocpp_common/signcert.h
plugins_ocpp_common_libplocppcommon_la_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
nodist_plugins_ocpp_common_libplocppcommon_la_SOURCES = plugins/ocpp_common/openapi_json.c
EXTRA_DIST += plugins/ocpp_common/openapi.json
CLEANFILES += plugins/ocpp_common/openapi_json.c
