check_PROGRAMS += tests/unit/test_security
TESTS += tests/unit/test_security
tests_unit_test_security_SOURCES = tests/unit/test_security.c
tests_unit_test_security_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_security_LDADD = core/libpipeletcore.la $(CHECK_LIBS)
