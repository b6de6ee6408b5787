# The WebSocket connection layer: our server and client on a real loop over loopback.
check_PROGRAMS += tests/unit/test_ws
TESTS += tests/unit/test_ws
tests_unit_test_ws_SOURCES = tests/unit/test_ws.c tests/unit/unit_loop.h
tests_unit_test_ws_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_test_ws_LDADD = core/libpipeletcore.la $(CHECK_LIBS) $(LIBEVENT_LIBS)
