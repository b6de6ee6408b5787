# Code shared by the OCPP plugins, linked statically into each (plugins share no
# symbols at run time).
noinst_LTLIBRARIES += plugins/common/libplcommon.la
plugins_common_libplcommon_la_SOURCES = plugins/common/answer.c plugins/common/answer.h \
	plugins/common/creds.c plugins/common/creds.h \
	plugins/common/outcome.c plugins/common/outcome.h \
	plugins/common/session.c plugins/common/session.h \
	plugins/common/signcert.c plugins/common/signcert.h
plugins_common_libplcommon_la_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
