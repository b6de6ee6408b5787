include tests/unit/core.mk
include tests/unit/ws.mk
include tests/unit/http.mk
include tests/unit/db.mk
include tests/unit/ocpp.mk
include tests/unit/station.mk
include tests/unit/security.mk
include tests/plugins/local.mk
