# The HTTP router: a real listener and libevent's HTTP client on one loop.
check_PROGRAMS += tests/unit/test_http
TESTS += tests/unit/test_http
tests_unit_test_http_SOURCES = tests/unit/test_http.c tests/unit/unit_loop.h
tests_unit_test_http_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_test_http_LDADD = core/libpipeletcore.la $(CHECK_LIBS) $(LIBEVENT_LIBS) $(JANSSON_LIBS)
# In-process requests through the router (http_dispatch) and fd watchers.
check_PROGRAMS += tests/unit/test_dispatch
TESTS += tests/unit/test_dispatch
tests_unit_test_dispatch_SOURCES = tests/unit/test_dispatch.c tests/unit/unit_loop.h
tests_unit_test_dispatch_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_test_dispatch_LDADD = core/libpipeletcore.la $(CHECK_LIBS) $(LIBEVENT_LIBS) $(JANSSON_LIBS)
# TLS: outbound HTTPS with a client certificate against openssl s_server, the REST
# listener over TLS with client-certificate routes (needs the openssl tool).
check_PROGRAMS += tests/unit/test_tls
TESTS += tests/unit/test_tls
tests_unit_test_tls_SOURCES = tests/unit/test_tls.c tests/unit/unit_loop.h
tests_unit_test_tls_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_tls_LDADD = core/libpipeletcore.la $(CHECK_LIBS) $(LIBEVENT_LIBS) $(JANSSON_LIBS) $(OPENSSL_LIBS)
