# The station registry, model persistence and command tracker (needs PIPELET_TEST_PGURL).
check_PROGRAMS += tests/unit/test_station
TESTS += tests/unit/test_station
tests_unit_test_station_SOURCES = tests/unit/test_station.c tests/unit/unit_loop.h
tests_unit_test_station_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBPQ_CFLAGS)
tests_unit_test_station_LDADD = core/libpipeletcore.la $(CHECK_LIBS) $(LIBPQ_LIBS) \
	$(LIBEVENT_LIBS) $(JANSSON_LIBS)
# The model's read API (needs PIPELET_TEST_PGURL).
check_PROGRAMS += tests/unit/test_model_read
TESTS += tests/unit/test_model_read
tests_unit_test_model_read_SOURCES = tests/unit/test_model_read.c tests/unit/unit_loop.h
tests_unit_test_model_read_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBPQ_CFLAGS)
tests_unit_test_model_read_LDADD = core/libpipeletcore.la $(CHECK_LIBS) $(LIBPQ_LIBS) \
	$(LIBEVENT_LIBS) $(JANSSON_LIBS)
