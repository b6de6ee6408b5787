# The pricing engine: hand-priced sessions, to the minor unit (pure, no loop, no database).
check_PROGRAMS += tests/unit/test_pricing
TESTS += tests/unit/test_pricing
tests_unit_test_pricing_SOURCES = tests/unit/test_pricing.c
tests_unit_test_pricing_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_pricing_LDADD = core/libpipeletcore.la $(CHECK_LIBS) $(JANSSON_LIBS)
