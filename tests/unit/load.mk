# How a site's current is shared (load_alloc.c): hand-worked cases (pure, no loop, no database).
check_PROGRAMS += tests/unit/test_load_alloc
TESTS += tests/unit/test_load_alloc
tests_unit_test_load_alloc_SOURCES = tests/unit/test_load_alloc.c
tests_unit_test_load_alloc_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_load_alloc_LDADD = core/libpipeletcore.la $(CHECK_LIBS)
