include tests/unit/core.mk
include tests/unit/ws.mk
include tests/unit/http.mk
include tests/unit/db.mk
include tests/unit/ocpp.mk
include tests/unit/station.mk
include tests/unit/security.mk
include tests/unit/pricing.mk
include tests/unit/load.mk
include tests/plugins/local.mk

# The harness reports a skipped test as a bare "SKIP: name".  The tests that need
# PostgreSQL skip without PIPELET_TEST_PGURL; say so, and how to run them, after the
# summary (check-local waits for check-TESTS so the note is the last thing printed).
DB_TESTS = tests/unit/test_station
check-local: check-TESTS
	@for t in $(DB_TESTS); do \
	  if grep -q '^:test-result: SKIP' "$$t.trs" 2>/dev/null; then \
	    echo "SKIP: $$t needs PostgreSQL and PIPELET_TEST_PGURL is not set.  To run it:"; \
	    echo "  scripts/test (the whole suite with a throwaway cluster), or"; \
	    echo "  PIPELET_TEST_PGURL=\$$(scripts/pg-test-cluster start /tmp/pg-pipelet) make check"; \
	  fi; \
	done
