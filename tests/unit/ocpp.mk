# The OCPP-J RPC layer: our server and client on a real loop.
check_PROGRAMS += tests/unit/test_rpc
TESTS += tests/unit/test_rpc
tests_unit_test_rpc_SOURCES = tests/unit/test_rpc.c tests/unit/unit_loop.h
tests_unit_test_rpc_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_test_rpc_LDADD = core/libpipeletcore.la $(CHECK_LIBS) $(LIBEVENT_LIBS) $(JANSSON_LIBS)
