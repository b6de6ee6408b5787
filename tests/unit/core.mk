check_PROGRAMS += tests/unit/test_core
TESTS += tests/unit/test_core tests/check-layering.sh
tests_unit_test_core_SOURCES = tests/unit/test_core.c
tests_unit_test_core_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_core_LDADD = core/libpipeletcore.la $(CHECK_LIBS)
EXTRA_DIST += tests/check-layering.sh tests/integration tests/fuzz tests/sdk
