# The daemon: a convenience library (so unit tests link the very same objects) + main.
noinst_LTLIBRARIES += core/libpipeletcore.la
core_libpipeletcore_la_SOURCES = \
	core/core.h \
	core/log.c \
	core/util.c core/util.h \
	core/config.c core/config.h \
	core/bus.c core/bus.h \
	core/metrics.c core/metrics.h \
	core/db.c core/db.h \
	core/http.c core/http.h \
	core/http_gate.c core/http_gate.h \
	core/jsonschema.c core/jsonschema.h \
	core/openapi.c core/openapi.h \
	core/apikey.c core/apikey.h \
	core/keys.c core/keys.h \
	core/httpclient.c core/httpclient.h \
	core/tls.c core/tls.h \
	core/ws_frame.c core/ws_frame.h \
	core/ws.c core/ws.h \
	core/ocpp_schema.c core/ocpp_schema.h \
	core/ocpp16_messages.c core/ocpp201_messages.c \
	core/ocppj.c core/ocppj.h \
	core/hashmap.c core/hashmap.h \
	core/registry.c core/registry.h \
	core/model.c core/model.h \
	core/model_read.c core/model_read.h \
	core/fdwatch.c core/fdwatch.h \
	core/tokens.c core/tokens_ops.c core/tokens.h core/domain.c core/domain.h \
	core/billing.c core/billing.h \
	core/load.c core/load_ops.c core/load.h core/load_alloc.c core/load_alloc.h \
	core/pricing.c core/pricing_json.c core/pricing.h \
	core/command.c core/command.h \
	core/plugin_loader.c core/plugin_loader.h \
	core/host.c core/host.h \
	core/certs.c core/certs.h core/certsign.c core/certsign.h core/memtrim.c core/memtrim.h \
	core/outbox.c core/outbox.h \
	core/sql_core.c
nodist_core_libpipeletcore_la_SOURCES = core/openapi_json.c
core_libpipeletcore_la_CFLAGS = $(AM_CFLAGS) $(LIBPQ_CFLAGS) $(OPENSSL_CFLAGS)
core_libpipeletcore_la_LIBADD = $(LIBEVENT_LIBS) $(JANSSON_LIBS) $(LIBPQ_LIBS) $(OPENSSL_LIBS)

sbin_PROGRAMS += pipelet
pipelet_SOURCES = core/main.c
pipelet_CFLAGS = $(AM_CFLAGS)
pipelet_LDADD = core/libpipeletcore.la

# The core's SQL migrations are compiled in (core/sql_core.c is generated from core/sql/*.sql).
CORE_SQL = core/sql/001_station_model.sql core/sql/002_customers_tokens.sql \
	core/sql/003_tariffs_cdrs.sql core/sql/004_sites.sql \
	core/sql/005_station_security.sql core/sql/006_load_management.sql \
	core/sql/007_charging_priority.sql core/sql/008_outbox.sql \
	core/sql/009_signed_meter_values.sql core/sql/010_customer_groups.sql \
	core/sql/011_meter_values_indexes.sql
EXTRA_DIST += $(CORE_SQL) scripts/sql2c.sh core/openapi.json scripts/text2c.sh
core/sql_core.c: $(CORE_SQL) $(top_srcdir)/scripts/sql2c.sh
	$(AM_V_GEN)$(SHELL) $(top_srcdir)/scripts/sql2c.sh core_migrations $(addprefix $(top_srcdir)/,$(CORE_SQL)) > $@.tmp && mv $@.tmp $@
BUILT_SOURCES = core/sql_core.c core/openapi_json.c
CLEANFILES += core/sql_core.c core/openapi_json.c

# The core's part of the API description (core/openapi.c), compiled in.
core/openapi_json.c: $(top_srcdir)/core/openapi.json $(top_srcdir)/scripts/text2c.sh
	$(AM_V_GEN)$(MKDIR_P) core && \
	$(SHELL) $(top_srcdir)/scripts/text2c.sh core_openapi_json $(top_srcdir)/core/openapi.json > $@.tmp && mv $@.tmp $@
