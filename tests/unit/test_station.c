/* test_station.c — the specification of the station registry (core/registry.c), the
 * model's persistence (core/model.c) and the command tracker (core/command.c),
 * against a real PostgreSQL (PIPELET_TEST_PGURL) and a real event loop, with a
 * fake protocol driver. */
#include <check.h>
#include <event2/event.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "tokens.h"
#include "command.h"
#include "config.h"
#include "core.h"
#include "db.h"
#include "model.h"
#include "registry.h"
#include "unit_loop.h"

extern const struct pl_migration core_migrations[];
extern const unsigned long core_migrations_count;

static const struct pl_station_api *api;
static PGconn *check_conn; /* a plain blocking connection for assertions */
static int db_ready;

/* ---- loop helpers ---- */
/* Run the loop until cond() holds (or 10 s pass: then the test fails). */
static int run_until(int (*cond)(void *), void *arg)
{
    return unit_run_until(cond, arg, 10000);
}

static int model_idle(void *arg)
{
    (void)arg;
    model_flush();
    return model_pending() == 0;
}

static void settle(void)
{
    ck_assert(run_until(model_idle, NULL));
}

/* The first value of a query on the check connection (static buffer). */
static const char *sql1(const char *q)
{
    static char buf[4096];
    PGresult *r = PQexec(check_conn, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "query failed: %s: %s\n", q, PQerrorMessage(check_conn));
        PQclear(r);
        return NULL;
    }
    const char *v = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : NULL;
    if (v)
        snprintf(buf, sizeof buf, "%s", v);
    PQclear(r);
    return v ? buf : NULL;
}

static void sql_exec(const char *q)
{
    PGresult *r = PQexec(check_conn, q);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", q,
                  PQerrorMessage(check_conn));
    PQclear(r);
}

/* ---- bus recorder ---- */
static json_t *events; /* every envelope seen */

static void on_event(const char *topic, json_t *env, void *arg)
{
    (void)topic;
    (void)arg;
    json_array_append(events, env);
}

static size_t count_events(const char *type, const char *station)
{
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(events, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "type")), type) == 0 &&
            (!station || strcmp(json_string_value(json_object_get(e, "station")), station) == 0))
            n++;
    }
    return n;
}

static json_t *last_event(const char *type, const char *station)
{
    json_t *found = NULL, *e;
    size_t i;
    json_array_foreach(events, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "type")), type) == 0 &&
            (!station || strcmp(json_string_value(json_object_get(e, "station")), station) == 0))
            found = e;
    }
    return found ? json_object_get(found, "data") : NULL;
}

/* ---- the fake driver ----
 * RESET / REMOTE_START: sent (PL_OK), answered later by the test.
 * UNLOCK: refused as invalid with a reason.  DISCONNECT: completes at once.
 * anything else: not supported. */
static pl_command *sent;

static int fake_execute(void *drv_arg, pl_station *st, pl_command *cmd)
{
    (void)drv_arg;
    (void)st;
    switch (api->command_op(cmd)) {
    case PL_OP_RESET:
    case PL_OP_REMOTE_START:
    case PL_OP_SEND_LOCAL_LIST:
        sent = cmd;
        return PL_OK;
    case PL_OP_UNLOCK:
        api->command_set_error(cmd, "connector %d does not exist", 9);
        return PL_EINVAL;
    case PL_OP_DISCONNECT:
        api->complete(cmd, PL_CMD_ACCEPTED, json_pack("{s:s}", "status", "Accepted"), NULL);
        return PL_OK;
    default:
        return PL_ENOTSUP;
    }
}

static const struct pl_driver fake_driver = {sizeof(struct pl_driver), "ocpp2.0.1",
                                             fake_execute};

static pl_station *attach(const char *id)
{
    return api->attach(NULL, id, &fake_driver, NULL,
                       json_pack("{s:s, s:s, s:i}", "remote_addr", "10.0.0.1", "subprotocol",
                                 "ocpp2.0.1", "security_profile", 1));
}

/* ---- command callback recorder ---- */
struct outcome {
    int calls;
    int status;
    char error[128];
};

static void on_done(pl_command *cmd, void *arg)
{
    struct outcome *o = arg;
    o->calls++;
    o->status = api->command_status(cmd);
    const char *e = api->command_error(cmd);
    snprintf(o->error, sizeof o->error, "%s", e ? e : "");
}

static int outcome_called(void *arg)
{
    return ((struct outcome *)arg)->calls > 0;
}

/* ======================================================================== */

START_TEST(attach_publishes_persists_and_detach_marks_offline)
{
    pl_station *st = attach("CS-A");
    ck_assert_ptr_nonnull(st);
    ck_assert_ptr_eq(api->find("CS-A"), st);
    ck_assert_int_eq(api->online("CS-A"), 1);
    ck_assert_str_eq(api->id(st), "CS-A");
    ck_assert_str_eq(api->protocol(st), "ocpp2.0.1");
    ck_assert_uint_eq(registry_online_count(), 1);
    json_t *ev = last_event("station.connected", "CS-A");
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "protocol")), "ocpp2.0.1");
    ck_assert_str_eq(json_string_value(json_object_get(ev, "remote_addr")), "10.0.0.1");
    settle();
    ck_assert_str_eq(sql1("SELECT online::text || node || remote_addr || protocol FROM stations "
                          "WHERE id = 'CS-A'"),
                     "truetestnode10.0.0.1ocpp2.0.1");

    api->detach(st);
    ck_assert_ptr_null(api->find("CS-A"));
    ck_assert_int_eq(api->online("CS-A"), 0);
    ck_assert_uint_eq(count_events("station.disconnected", "CS-A"), 1);
    settle();
    ck_assert_str_eq(sql1("SELECT online::text || (disconnected_at IS NOT NULL)::text FROM "
                          "stations WHERE id = 'CS-A'"),
                     "falsetrue");
}
END_TEST

START_TEST(a_new_connection_replaces_the_old_one_silently)
{
    pl_station *old = attach("CS-R");
    struct outcome o = {0};
    int rc;
    char err[128];
    pl_command *cmd = api->command(NULL, "CS-R", PL_OP_RESET, json_pack("{s:s}", "type", "Soft"),
                                   0, on_done, &o, &rc, err, sizeof err);
    ck_assert_ptr_nonnull(cmd);

    pl_station *st = attach("CS-R");
    ck_assert_ptr_nonnull(st);
    ck_assert_ptr_ne(st, old);
    ck_assert_ptr_eq(api->find("CS-R"), st);
    /* the old connection's pending command fails */
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.status, PL_CMD_FAILED);
    ck_assert_str_eq(o.error, "replaced by a new connection");
    ck_assert_uint_eq(count_events("station.connected", "CS-R"), 2);

    /* the old socket closes later: nothing changes for the new one */
    api->detach(old);
    ck_assert_ptr_eq(api->find("CS-R"), st);
    ck_assert_uint_eq(count_events("station.disconnected", "CS-R"), 0);
    settle();
    ck_assert_str_eq(sql1("SELECT online::text FROM stations WHERE id = 'CS-R'"), "true");
    api->detach(st);
    ck_assert_uint_eq(count_events("station.disconnected", "CS-R"), 1);
    settle();
}
END_TEST

START_TEST(snapshot_holds_boot_data_connectors_and_connection)
{
    pl_station *st = attach("CS-S");
    api->boot(st, json_pack("{s:s, s:s, s:s, s:s, s:s}", "vendor", "ACME", "model", "X1",
                            "firmware", "1.2", "serial", "S-1", "boot_status", "Accepted"));
    api->connector_status(st, 1, 2, "Occupied", NULL, NULL, NULL);
    api->connector_status(st, 1, 1, "Available", NULL, NULL, "2026-11-24T10:00:00Z");
    api->connector_status(st, 2, 1, "Faulted", "GroundFailure", "relay", NULL);
    api->connector_status(st, 0, 0, "Available", NULL, NULL, "not a time");
    api->connector_status(st, 1, 1, "Charging", NULL, NULL, "2026-11-24T10:05:00Z");

    json_t *s = api->snapshot(st);
    ck_assert_str_eq(json_string_value(json_object_get(s, "id")), "CS-S");
    ck_assert(json_is_true(json_object_get(s, "online")));
    ck_assert_str_eq(json_string_value(json_object_get(s, "vendor")), "ACME");
    ck_assert_str_eq(json_string_value(json_object_get(s, "firmware")), "1.2");
    ck_assert_str_eq(json_string_value(json_object_get(s, "boot_status")), "Accepted");
    ck_assert_ptr_nonnull(json_string_value(json_object_get(s, "connected_since")));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(s, "connection"), "remote_addr")),
        "10.0.0.1");
    json_t *evses = json_object_get(s, "evses");
    ck_assert_uint_eq(json_array_size(evses), 3); /* 0, 1, 2 in order */
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(evses, 0), "evse")), 0);
    json_t *e1 = json_object_get(json_array_get(evses, 1), "connectors");
    ck_assert_uint_eq(json_array_size(e1), 2);
    json_t *c11 = json_array_get(e1, 0);
    ck_assert_int_eq(json_integer_value(json_object_get(c11, "connector")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(c11, "status")), "Charging");
    ck_assert_str_eq(json_string_value(json_object_get(c11, "updated_at")), "2026-11-24T10:05:00Z");
    json_t *c21 = json_array_get(json_object_get(json_array_get(evses, 2), "connectors"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(c21, "error_code")), "GroundFailure");
    ck_assert_str_eq(json_string_value(json_object_get(c21, "info")), "relay");
    json_decref(s);

    json_t *all = api->list_online();
    ck_assert_uint_eq(json_array_size(all), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(all, 0), "id")), "CS-S");
    json_decref(all);

    json_t *ev = last_event("station.status", "CS-S");
    ck_assert_int_eq(json_integer_value(json_object_get(ev, "evse")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "status")), "Charging");
    ck_assert_str_eq(json_string_value(json_object_get(ev, "timestamp")), "2026-11-24T10:05:00Z");
    ck_assert_uint_eq(count_events("station.status", "CS-S"), 5);

    settle();
    ck_assert_str_eq(sql1("SELECT count(*) FROM connectors WHERE station_id = 'CS-S'"), "4");
    ck_assert_str_eq(sql1("SELECT status FROM connectors WHERE station_id = 'CS-S' AND evse = 1 "
                          "AND connector = 1"),
                     "Charging");
    ck_assert_str_eq(sql1("SELECT error_code FROM connectors WHERE station_id = 'CS-S' AND "
                          "evse = 2"),
                     "GroundFailure");
    ck_assert_str_eq(sql1("SELECT vendor || model || serial || firmware || boot_status FROM "
                          "stations WHERE id = 'CS-S'"),
                     "ACMEX1S-11.2Accepted");
    api->detach(st);
    settle();
}
END_TEST

/* ---- transactions ---- */
struct txr {
    int calls, ok;
    char id[32];
    json_t *row;
};

static void on_tx(void *arg, int ok, const char *tx_id, json_t *row)
{
    struct txr *t = arg;
    t->calls++;
    t->ok = ok;
    snprintf(t->id, sizeof t->id, "%s", tx_id ? tx_id : "");
    json_decref(t->row);
    t->row = json_incref(row);
}

static int tx_called(void *arg)
{
    return ((struct txr *)arg)->calls > 0;
}

static void tx_wait(struct txr *t)
{
    ck_assert(run_until(tx_called, t));
}

static void tx_reset(struct txr *t)
{
    json_decref(t->row);
    memset(t, 0, sizeof *t);
}

START_TEST(transaction_start_update_stop_and_idempotent_start)
{
    pl_station *st = attach("CS-T");
    struct txr t = {0};
    api->tx_start(st,
                  json_pack("{s:s, s:i, s:i, s:s, s:s, s:f, s:s}", "station_tx_id", "tx-abc",
                            "evse", 1, "connector", 1, "id_token", "TAG1", "id_token_type",
                            "ISO14443", "meter_start", 1000.0, "started_at",
                            "2026-11-24T10:00:00Z"),
                  on_tx, &t);
    tx_wait(&t);
    ck_assert_int_eq(t.ok, 1);
    char id[32];
    snprintf(id, sizeof id, "%s", t.id);
    ck_assert_int_gt(atoi(id), 0);
    ck_assert_str_eq(json_string_value(json_object_get(t.row, "station_tx_id")), "tx-abc");
    ck_assert_str_eq(json_string_value(json_object_get(t.row, "started_at")),
                     "2026-11-24T10:00:00.000Z");
    ck_assert_uint_eq(count_events("transaction.started", "CS-T"), 1);

    /* a 2.0.1 station resends Started: same transaction, no second event */
    tx_reset(&t);
    api->tx_start(st, json_pack("{s:s, s:i, s:i, s:s, s:f}", "station_tx_id", "tx-abc", "evse", 1,
                                "connector", 1, "id_token", "TAG1", "meter_start", 1000.0),
                  on_tx, &t);
    tx_wait(&t);
    ck_assert_int_eq(t.ok, 1);
    ck_assert_str_eq(t.id, id);
    ck_assert_uint_eq(count_events("transaction.started", "CS-T"), 1);

    tx_reset(&t);
    api->tx_update(st, "tx-abc", json_pack("{s:f, s:s, s:i}", "meter", 1500.0, "charging_state",
                                           "Charging", "seq_no", 2),
                   on_tx, &t);
    tx_wait(&t);
    ck_assert_int_eq(t.ok, 1);
    ck_assert(json_number_value(json_object_get(t.row, "meter_last")) == 1500.0);
    ck_assert_str_eq(json_string_value(json_object_get(last_event("transaction.updated", "CS-T"),
                                                       "charging_state")),
                     "Charging");

    tx_reset(&t);
    api->tx_stop(st, "tx-abc", json_pack("{s:f, s:s, s:s}", "meter_stop", 4000.0, "stopped_at",
                                         "2026-11-24T11:00:00Z", "reason", "EVDisconnected"),
                 on_tx, &t);
    tx_wait(&t);
    ck_assert_int_eq(t.ok, 1);
    ck_assert_str_eq(t.id, id);
    json_t *ended = last_event("transaction.ended", "CS-T");
    ck_assert_ptr_nonnull(ended);
    ck_assert(json_number_value(json_object_get(ended, "energy_wh")) == 3000.0);
    ck_assert_str_eq(json_string_value(json_object_get(ended, "stop_reason")), "EVDisconnected");

    /* a repeated stop is answered with the row, not announced again */
    tx_reset(&t);
    api->tx_stop(st, "tx-abc", json_pack("{s:f, s:s}", "meter_stop", 9999.0, "reason", "Other"),
                 on_tx, &t);
    tx_wait(&t);
    ck_assert_int_eq(t.ok, 1);
    ck_assert(json_number_value(json_object_get(t.row, "meter_stop")) == 4000.0);
    ck_assert_uint_eq(count_events("transaction.ended", "CS-T"), 1);

    /* unknown transactions */
    tx_reset(&t);
    api->tx_update(st, "nope", json_pack("{s:f}", "meter", 1.0), on_tx, &t);
    tx_wait(&t);
    ck_assert_int_eq(t.ok, PL_TX_UNKNOWN); /* definitive, unlike PL_TX_NOT_STORED */
    tx_reset(&t);
    api->tx_stop(st, "nope", json_pack("{s:f}", "meter_stop", 1.0), on_tx, &t);
    tx_wait(&t);
    ck_assert_int_eq(t.ok, PL_TX_UNKNOWN);
    tx_reset(&t);

    ck_assert_str_eq(sql1("SELECT meter_start || '/' || meter_stop || '/' || stop_reason || '/' "
                          "|| id_token FROM transactions WHERE station_tx_id = 'tx-abc'"),
                     "1000/4000/EVDisconnected/TAG1");
    api->detach(st);
    settle();
}
END_TEST

START_TEST(ocpp16_transactions_take_the_core_id)
{
    pl_station *st = attach("CS-16");
    struct txr t = {0};
    api->tx_start(st, json_pack("{s:i, s:i, s:s, s:i}", "evse", 2, "connector", 1, "id_token",
                                "TAG", "meter_start", 10),
                  on_tx, &t);
    tx_wait(&t);
    ck_assert_int_eq(t.ok, 1);
    ck_assert_str_eq(json_string_value(json_object_get(t.row, "station_tx_id")), t.id);
    char id[32];
    snprintf(id, sizeof id, "%s", t.id);
    tx_reset(&t);
    api->tx_stop(st, id, json_pack("{s:i, s:s}", "meter_stop", 70, "reason", "Local"), on_tx, &t);
    tx_wait(&t);
    ck_assert_int_eq(t.ok, 1);
    ck_assert(json_number_value(json_object_get(last_event("transaction.ended", "CS-16"),
                                                "energy_wh")) == 60.0);
    tx_reset(&t);
    api->detach(st);
    settle();
}
END_TEST

START_TEST(meter_values_are_batched_with_their_transaction)
{
    pl_station *st = attach("CS-M");
    struct txr t = {0};
    api->tx_start(st, json_pack("{s:s, s:i, s:i, s:s, s:i}", "station_tx_id", "mv-1", "evse", 1,
                                "connector", 1, "id_token", "TAG", "meter_start", 0),
                  on_tx, &t);
    /* queued before the transaction is even committed: still linked to it */
    api->meter_values(st, 1, 1, "mv-1",
                      json_pack("[{s:s, s:s, s:f, s:s}, {s:s, s:s, s:f, s:s, s:s}, {s:s, s:f}]",
                                "timestamp", "2026-11-24T10:00:00Z", "measurand",
                                "Energy.Active.Import.Register", "value", 2.5, "unit", "kWh",
                                "timestamp", "2026-11-24T10:00:00Z", "measurand", "Voltage",
                                "value", 230.0, "unit", "V", "phase", "L1", "timestamp",
                                "2026-11-24T09:59:00Z", "value", 2000.0));
    ck_assert_uint_eq(count_events("meter.values", "CS-M"), 1); /* published at once */
    ck_assert_uint_eq(json_array_size(json_object_get(last_event("meter.values", "CS-M"),
                                                      "samples")),
                      3);
    api->meter_values(st, 0, 0, NULL, json_pack("[{s:s, s:f}]", "measurand", "Frequency",
                                                "value", 50.0));
    tx_wait(&t);
    settle();
    char q[256];
    snprintf(q, sizeof q, "SELECT count(*) FROM meter_values WHERE transaction_id = %s", t.id);
    ck_assert_str_eq(sql1(q), "3");
    ck_assert_str_eq(sql1("SELECT count(*) FROM meter_values WHERE station_id = 'CS-M' AND "
                          "transaction_id IS NULL AND measurand = 'Frequency'"),
                     "1");
    /* the newest energy register reading, in Wh */
    ck_assert_str_eq(sql1("SELECT meter_last FROM transactions WHERE station_tx_id = 'mv-1'"),
                     "2500");
    tx_reset(&t);

    /* many samples: flushed in batches, all written */
    json_t *many = json_array();
    for (int i = 0; i < 1200; i++)
        json_array_append_new(many, json_pack("{s:s, s:i}", "measurand", "Power.Active.Import",
                                              "value", i));
    api->meter_values(st, 1, 1, "mv-1", many);
    settle();
    snprintf(q, sizeof q, "SELECT count(*) FROM meter_values WHERE transaction_id = "
                          "(SELECT id FROM transactions WHERE station_tx_id = 'mv-1')");
    ck_assert_str_eq(sql1(q), "1203");
    ck_assert_uint_eq(model_dropped_samples(), 0);
    api->detach(st);
    settle();
}
END_TEST

/* ---- authorization ---- */
struct authr {
    int calls;
    json_t *info;
};

static void on_auth(void *arg, json_t *info)
{
    struct authr *a = arg;
    a->calls++;
    json_decref(a->info);
    a->info = json_deep_copy(info);
}

static int auth_called(void *arg)
{
    return ((struct authr *)arg)->calls > 0;
}

static const char *authorize(pl_station *st, const char *token, struct authr *a)
{
    json_decref(a->info);
    memset(a, 0, sizeof *a);
    api->authorize(st, token, on_auth, a);
    ck_assert(run_until(auth_called, a));
    return json_string_value(json_object_get(a->info, "status"));
}

static int tokens_idle(void *arg)
{
    (void)arg;
    return !tokens_busy();
}

START_TEST(authorize_reports_token_status)
{
    sql_exec("INSERT INTO id_tokens(id_token, status, expiry, parent, group_id) VALUES "
             "('GOOD', 'Accepted', '2099-01-01T00:00:00Z', 'PARENT', 'GRP'), "
             "('BLOCKED', 'Blocked', NULL, NULL, NULL), "
             "('OLD', 'Accepted', '2000-01-01T00:00:00Z', NULL, NULL)");
    tokens_reload(); /* written with plain SQL: read now rather than at the next refresh */
    ck_assert(run_until(tokens_idle, NULL));
    pl_station *st = attach("CS-AUTH");
    struct authr a = {0};
    ck_assert_str_eq(authorize(st, "GOOD", &a), "Accepted");
    /* one group per token: the 1.6 parentIdTag is the 2.0.1 groupIdToken */
    ck_assert_str_eq(json_string_value(json_object_get(a.info, "parent")), "GRP");
    ck_assert_str_eq(json_string_value(json_object_get(a.info, "group")), "GRP");
    ck_assert_str_eq(json_string_value(json_object_get(a.info, "expiry")),
                     "2099-01-01T00:00:00Z");
    ck_assert_str_eq(authorize(st, "BLOCKED", &a), "Blocked");
    ck_assert_str_eq(authorize(st, "OLD", &a), "Expired");
    ck_assert_str_eq(authorize(st, "STRANGER", &a), "Invalid"); /* the default: reject */

    char err[256];
    ck_assert_int_eq(config_load_string("t.conf",
                                        "[core]\nnode_name = testnode\nmessage_log = 5\n"
                                        "auth_unknown = accept\n",
                                        err, sizeof err),
                     0);
    ck_assert_str_eq(authorize(st, "STRANGER", &a), "Accepted");
    ck_assert_int_eq(config_load_string("t.conf", "[core]\nnode_name = testnode\nmessage_log = 5\n",
                                        err, sizeof err),
                     0);
    json_decref(a.info);
    api->detach(st);
    settle();
}
END_TEST

START_TEST(records_and_documents_are_persisted)
{
    pl_station *st = attach("CS-D");
    api->record(st, "security_event", json_pack("{s:s}", "type", "FirmwareUpdated"));
    ck_assert_uint_eq(count_events("station.security_event", "CS-D"), 1);
    api->put_doc(st, "configuration", "HeartbeatInterval", json_string("300"));
    api->put_doc(st, "configuration", "HeartbeatInterval", json_string("60"));
    api->put_doc(st, "configuration", "Gone", json_string("x"));
    api->put_doc(st, "configuration", "Gone", NULL);
    settle();
    ck_assert_str_eq(sql1("SELECT data->>'type' FROM station_records WHERE station_id = 'CS-D' "
                          "AND kind = 'security_event'"),
                     "FirmwareUpdated");
    ck_assert_str_eq(sql1("SELECT value #>> '{}' FROM station_docs WHERE station_id = 'CS-D' AND "
                          "key = 'HeartbeatInterval'"),
                     "60");
    ck_assert_str_eq(sql1("SELECT count(*) FROM station_docs WHERE station_id = 'CS-D'"), "1");
    api->detach(st);
    settle();
}
END_TEST

/* ---- commands ---- */
START_TEST(command_accepted_and_rejected_complete_once)
{
    pl_station *st = attach("CS-C");
    struct outcome o = {0};
    int rc = 99;
    char err[128];
    pl_command *cmd = api->command(NULL, "CS-C", PL_OP_RESET, json_pack("{s:s}", "type", "Hard"),
                                   0, on_done, &o, &rc, err, sizeof err);
    ck_assert_ptr_nonnull(cmd);
    ck_assert_int_eq(rc, PL_OK);
    ck_assert_ptr_eq(sent, cmd);
    ck_assert_int_eq(api->command_status(cmd), PL_CMD_PENDING);
    ck_assert_int_eq(api->command_op(cmd), PL_OP_RESET);
    ck_assert_str_eq(json_string_value(json_object_get(api->command_args(cmd), "type")), "Hard");
    char id[40];
    snprintf(id, sizeof id, "%s", api->command_id(cmd));
    ck_assert_uint_eq(strlen(id), 36);
    json_t *j = api->command_json(id);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "pending");
    ck_assert_str_eq(json_string_value(json_object_get(j, "op")), "reset");
    json_decref(j);

    api->complete(cmd, PL_CMD_ACCEPTED, json_pack("{s:s}", "status", "Accepted"), NULL);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.status, PL_CMD_ACCEPTED);
    api->complete(cmd, PL_CMD_FAILED, NULL, "late"); /* ignored */
    ck_assert_int_eq(o.calls, 1);
    json_t *ev = last_event("command.completed", "CS-C");
    ck_assert_str_eq(json_string_value(json_object_get(ev, "id")), id);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "status")), "Accepted");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(ev, "result"), "status")), "Accepted");
    j = api->command_json(id);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "Accepted");
    ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "completed_at")));
    json_decref(j);

    struct outcome o2 = {0};
    cmd = api->command(NULL, "CS-C", PL_OP_REMOTE_START, json_pack("{s:s}", "id_token", "T"), 0,
                       on_done, &o2, &rc, err, sizeof err);
    ck_assert_ptr_nonnull(cmd);
    api->complete(cmd, PL_CMD_REJECTED, json_pack("{s:s}", "status", "Rejected"), NULL);
    ck_assert_int_eq(o2.status, PL_CMD_REJECTED);
    ck_assert_uint_eq(count_events("command.completed", "CS-C"), 2);

    json_t *list = api->command_list("CS-C", 10);
    ck_assert_uint_eq(json_array_size(list), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "op")),
                     "remote_start"); /* newest first */
    json_decref(list);
    list = api->command_list("CS-C", 1);
    ck_assert_uint_eq(json_array_size(list), 1);
    json_decref(list);

    settle();
    char q[200];
    snprintf(q, sizeof q, "SELECT status || op || (result->>'status') FROM commands WHERE id = '%s'",
             id);
    ck_assert_str_eq(sql1(q), "AcceptedresetAccepted");
    ck_assert_str_eq(sql1("SELECT count(*) FROM commands WHERE station_id = 'CS-C'"), "2");
    api->detach(st);
    settle();
}
END_TEST

START_TEST(command_times_out_and_late_answers_are_ignored)
{
    pl_station *st = attach("CS-TO");
    struct outcome o = {0};
    int rc;
    char err[128];
    pl_command *cmd = api->command(NULL, "CS-TO", PL_OP_RESET, NULL, 30, on_done, &o, &rc, err,
                                   sizeof err);
    ck_assert_ptr_nonnull(cmd);
    ck_assert(run_until(outcome_called, &o));
    ck_assert_int_eq(o.status, PL_CMD_TIMEOUT);
    ck_assert_str_eq(o.error, "station did not answer in time");
    api->complete(cmd, PL_CMD_ACCEPTED, json_object(), NULL);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(api->command_status(cmd), PL_CMD_TIMEOUT);
    api->detach(st);
    settle();
}
END_TEST

START_TEST(command_refusals_return_null_with_a_reason)
{
    int rc;
    char err[128];
    struct outcome o = {0};
    ck_assert_ptr_null(api->command(NULL, "NEVER-SEEN", PL_OP_RESET, NULL, 0, on_done, &o, &rc,
                                    err, sizeof err));
    ck_assert_int_eq(rc, PL_EOFFLINE);
    pl_station *st = attach("CS-NO");
    ck_assert_ptr_null(api->command(NULL, "CS-NO", PL_OP_DATA_TRANSFER,
                                    json_pack("{s:s}", "vendor_id", "x"), 0, on_done, &o, &rc,
                                    err, sizeof err));
    ck_assert_int_eq(rc, PL_ENOTSUP);
    ck_assert_str_eq(err, "operation not supported by this station");
    ck_assert_ptr_null(api->command(NULL, "CS-NO", PL_OP_UNLOCK, NULL, 0, on_done, &o, &rc, err,
                                    sizeof err));
    ck_assert_int_eq(rc, PL_EINVAL);
    ck_assert_str_eq(err, "connector 9 does not exist");
    ck_assert_ptr_null(api->command(NULL, "CS-NO", 0, NULL, 0, on_done, &o, &rc, err, sizeof err));
    ck_assert_int_eq(rc, PL_EINVAL);
    ck_assert_ptr_null(
        api->command(NULL, "CS-NO", PL_OP__COUNT, NULL, 0, on_done, &o, &rc, err, sizeof err));
    ck_assert_int_eq(rc, PL_EINVAL);
    ck_assert_int_eq(o.calls, 0);
    ck_assert_uint_eq(count_events("command.completed", "CS-NO"), 0);
    api->detach(st);
    settle();
}
END_TEST

START_TEST(command_completed_inside_execute_is_reported_after_return)
{
    pl_station *st = attach("CS-X");
    struct outcome o = {0};
    int rc;
    char err[128];
    pl_command *cmd = api->command(NULL, "CS-X", PL_OP_DISCONNECT, NULL, 0, on_done, &o, &rc, err,
                                   sizeof err);
    ck_assert_ptr_nonnull(cmd);
    ck_assert_int_eq(o.calls, 0); /* the caller holds the pointer before the callback */
    ck_assert(run_until(outcome_called, &o));
    ck_assert_int_eq(o.status, PL_CMD_ACCEPTED);
    ck_assert_uint_eq(count_events("command.completed", "CS-X"), 1);
    api->detach(st);
    settle();
}
END_TEST

START_TEST(detach_fails_pending_commands)
{
    pl_station *st = attach("CS-DET");
    struct outcome o = {0};
    int rc;
    char err[128];
    pl_command *cmd = api->command(NULL, "CS-DET", PL_OP_RESET, NULL, 0, on_done, &o, &rc, err,
                                   sizeof err);
    ck_assert_ptr_nonnull(cmd);
    api->detach(st);
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(o.status, PL_CMD_FAILED);
    ck_assert_str_eq(o.error, "station disconnected");
    api->complete(cmd, PL_CMD_ACCEPTED, NULL, NULL); /* the driver's late answer: ignored */
    ck_assert_int_eq(o.calls, 1);
    ck_assert_int_eq(api->command(NULL, "CS-DET", PL_OP_RESET, NULL, 0, NULL, NULL, &rc, err,
                                  sizeof err) == NULL, 1);
    ck_assert_int_eq(rc, PL_EOFFLINE);
    settle();
}
END_TEST

/* A list the station accepted is recorded by the core, whoever sent it: Full replaces,
 * Differential updates and removes (an entry without status), a rejected one changes
 * nothing. */
static void send_list(const char *station, json_t *args, int outcome)
{
    struct outcome o = {0};
    int rc;
    char err[128];
    pl_command *cmd = api->command(NULL, station, PL_OP_SEND_LOCAL_LIST, args, 0, on_done, &o, &rc, err, sizeof err);
    ck_assert_msg(cmd != NULL, "command refused: %s", err);
    api->complete(cmd, outcome, json_pack("{s:s}", "status", outcome == PL_CMD_ACCEPTED ? "Accepted" : "Failed"), NULL);
    settle();
}

START_TEST(accepted_local_lists_are_recorded_by_the_core)
{
    attach("CS-LL");
    send_list("CS-LL", json_pack("{s:i, s:s, s:[{s:s, s:s}, {s:s, s:s, s:s}, {s:s}]}", "version", 3, "update_type", "Full",
                                 "entries", "id_token", "A1", "status", "Accepted", "id_token", "B2", "status",
                                 "Blocked", "expiry", "2030-01-01T00:00:00Z", "id_token", "C3"),
              PL_CMD_ACCEPTED);
    ck_assert_str_eq(sql1("SELECT string_agg(key || '=' || (value->>'status'), ',' ORDER BY key) FROM station_docs "
                          "WHERE station_id = 'CS-LL' AND kind = 'local_list'"),
                     "A1=Accepted,B2=Blocked,C3=Accepted");
    ck_assert_str_eq(sql1("SELECT value->>'expiry' FROM station_docs WHERE station_id = 'CS-LL' AND key = 'B2'"),
                     "2030-01-01T00:00:00Z");
    ck_assert_str_eq(sql1("SELECT value->>'version' FROM station_docs WHERE station_id = 'CS-LL' AND "
                          "kind = 'local_list_version'"), "3");
    /* differential: C3 removed, B2 unblocked, D4 added */
    send_list("CS-LL", json_pack("{s:i, s:s, s:[{s:s}, {s:s, s:s}, {s:s, s:s}]}", "version", 4, "update_type",
                                 "Differential", "entries", "id_token", "C3", "id_token", "B2", "status", "Accepted",
                                 "id_token", "D4", "status", "Accepted"),
              PL_CMD_ACCEPTED);
    ck_assert_str_eq(sql1("SELECT string_agg(key || '=' || (value->>'status'), ',' ORDER BY key) FROM station_docs "
                          "WHERE station_id = 'CS-LL' AND kind = 'local_list'"),
                     "A1=Accepted,B2=Accepted,D4=Accepted");
    /* refused by the station: nothing changes */
    send_list("CS-LL", json_pack("{s:i, s:s, s:[]}", "version", 9, "update_type", "Full", "entries"), PL_CMD_REJECTED);
    ck_assert_str_eq(sql1("SELECT value->>'version' FROM station_docs WHERE station_id = 'CS-LL' AND "
                          "kind = 'local_list_version'"), "4");
    /* a full empty list empties it */
    send_list("CS-LL", json_pack("{s:i, s:s, s:[]}", "version", 10, "update_type", "Full", "entries"), PL_CMD_ACCEPTED);
    ck_assert_str_eq(sql1("SELECT count(*) FROM station_docs WHERE station_id = 'CS-LL' AND kind = 'local_list'"), "0");
    ck_assert_str_eq(sql1("SELECT value->>'version' FROM station_docs WHERE station_id = 'CS-LL' AND "
                          "kind = 'local_list_version'"), "10");
}
END_TEST

START_TEST(op_names_round_trip)
{
    ck_assert_str_eq(api->op_name(PL_OP_RAW_CALL), "raw_call");
    ck_assert_str_eq(api->op_name(PL_OP_GET_COMPOSITE_SCHEDULE), "get_composite_schedule");
    ck_assert_str_eq(api->op_name(PL_OP_DISCONNECT), "disconnect");
    ck_assert_ptr_null(api->op_name(0));
    ck_assert_ptr_null(api->op_name(PL_OP__COUNT));
    for (int op = 1; op < PL_OP__COUNT; op++)
        ck_assert_int_eq(api->op_from_name(api->op_name(op)), op);
    ck_assert_int_eq(api->op_from_name("fly"), -1);
    ck_assert_uint_eq(api->size, sizeof(struct pl_station_api));
}
END_TEST

/* ---- message log ---- */
static void log_frame(const char *st, const char *dir, const char *action, const char *frame)
{
    registry_log_message(st, dir, action, frame, strlen(frame));
}

START_TEST(message_log_filters_by_action_and_direction)
{
    log_frame("ML", "out", "Reset", "[2,\"m1\",\"Reset\",{\"type\":\"Soft\"}]");
    log_frame("ML", "in", NULL, "[2,\"h1\",\"Heartbeat\",{}]"); /* action from the frame */
    log_frame("ML", "out", NULL, "[3,\"h1\",{\"currentTime\":\"2026-11-24T10:00:00Z\"}]");
    log_frame("ML", "in", NULL, "[3,\"m1\",{\"status\":\"Accepted\"}]");

    json_t *all = api->messages("ML", NULL, NULL, 0);
    ck_assert_uint_eq(json_array_size(all), 4);
    json_t *first = json_array_get(all, 0); /* oldest first */
    ck_assert_str_eq(json_string_value(json_object_get(first, "dir")), "out");
    ck_assert(json_is_array(json_object_get(first, "frame")));
    ck_assert_ptr_nonnull(json_string_value(json_object_get(first, "time")));
    json_decref(all);

    json_t *reset = api->messages("ML", "Reset", NULL, 0); /* the CALL and its result */
    ck_assert_uint_eq(json_array_size(reset), 2);
    ck_assert_int_eq(
        json_integer_value(json_array_get(json_object_get(json_array_get(reset, 1), "frame"), 0)),
        3);
    json_decref(reset);

    json_t *in = api->messages("ML", NULL, "in", 0);
    ck_assert_uint_eq(json_array_size(in), 2);
    json_decref(in);
    json_t *hb_out = api->messages("ML", "Heartbeat", "out", 0);
    ck_assert_uint_eq(json_array_size(hb_out), 1);
    json_decref(hb_out);
    json_t *last = api->messages("ML", NULL, NULL, 1);
    ck_assert_uint_eq(json_array_size(last), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(last, 0), "dir")), "in");
    json_decref(last);

    /* bounded: [core] message_log = 5 keeps the newest five */
    for (int i = 0; i < 12; i++) {
        char f[64];
        snprintf(f, sizeof f, "[2,\"n%d\",\"Heartbeat\",{}]", i);
        log_frame("ML", "in", "Heartbeat", f);
    }
    all = api->messages("ML", NULL, NULL, 0);
    ck_assert_uint_eq(json_array_size(all), 5);
    ck_assert_str_eq(
        json_string_value(json_array_get(json_object_get(json_array_get(all, 0), "frame"), 1)),
        "n7");
    json_decref(all);

    /* a garbled frame is kept as text */
    log_frame("ML2", "in", NULL, "not json");
    all = api->messages("ML2", NULL, NULL, 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(all, 0), "frame")),
                     "not json");
    json_decref(all);
    all = api->messages("NOBODY", NULL, NULL, 0);
    ck_assert_uint_eq(json_array_size(all), 0);
    json_decref(all);
}
END_TEST

/* ---- group commit ---- */
static int group_status[4], group_seen;

static void group_cb(pl_db_result *r, void *arg)
{
    group_status[(intptr_t)arg] = db_ok(r) ? 1 : -1;
    group_seen++;
}

static int group_all_seen(void *arg)
{
    (void)arg;
    return group_seen >= 3;
}

START_TEST(a_failed_write_in_a_group_fails_alone)
{
    sql_exec("CREATE TABLE IF NOT EXISTS grp(k int PRIMARY KEY)");
    sql_exec("INSERT INTO grp VALUES (2)");
    const char *one[] = {"1"}, *two[] = {"2"}, *three[] = {"3"};
    const char *sql = "INSERT INTO grp VALUES ($1::int)";
    struct db_batch_item items[] = {
        {sql, 1, one, group_cb, (void *)(intptr_t)1},
        {sql, 1, two, group_cb, (void *)(intptr_t)2}, /* duplicate key: fails */
        {sql, 1, three, group_cb, (void *)(intptr_t)3},
    };
    group_seen = 0;
    ck_assert_int_eq(db_batch_as("core", items, 3), PL_OK);
    ck_assert(run_until(group_all_seen, NULL));
    ck_assert_int_eq(group_status[1], 1); /* sent again in a new group, committed */
    ck_assert_int_eq(group_status[2], -1);
    ck_assert_int_eq(group_status[3], 1);
    ck_assert_str_eq(sql1("SELECT string_agg(k::text, ',' ORDER BY k) FROM grp"), "1,2,3");

    /* writes of many stations through the model: one group, all committed, in order */
    for (int i = 0; i < 50; i++) {
        char id[16];
        snprintf(id, sizeof id, "GRP-%d", i);
        const char *p[1] = {id};
        model_write(id, "INSERT INTO stations(id) VALUES ($1) ON CONFLICT DO NOTHING", 1, p, NULL, NULL);
        model_write(id, "UPDATE stations SET vendor = 'second' WHERE id = $1", 1, p, NULL, NULL);
    }
    settle();
    ck_assert_str_eq(sql1("SELECT count(*) FROM stations WHERE id LIKE 'GRP-%' AND vendor = 'second'"), "50");
}
END_TEST

/* A statement that cannot be prepared (its Parse fails) fails its own write only; the
 * writes beside it, and the prepared statements they made, carry on. */
START_TEST(a_statement_that_cannot_be_prepared_fails_alone)
{
    sql_exec("CREATE TABLE IF NOT EXISTS grp2(k int PRIMARY KEY)");
    static const char good[] = "INSERT INTO grp2 VALUES ($1::int)";
    static const char bad[] = "INSERT INTO no_such_table VALUES ($1::int)";
    const char *one[] = {"1"}, *two[] = {"2"}, *three[] = {"3"};
    struct db_batch_item items[] = {
        {good, 1, one, group_cb, (void *)(intptr_t)1},
        {bad, 1, two, group_cb, (void *)(intptr_t)2},
        {good, 1, three, group_cb, (void *)(intptr_t)3},
    };
    group_seen = 0;
    ck_assert_int_eq(db_batch_as("core", items, 3), PL_OK);
    ck_assert(run_until(group_all_seen, NULL));
    ck_assert_int_eq(group_status[1], 1);
    ck_assert_int_eq(group_status[2], -1);
    ck_assert_int_eq(group_status[3], 1);
    /* again, on whichever connection: prepared there already, or prepared now */
    const char *four[] = {"4"}, *five[] = {"5"}, *six[] = {"6"};
    struct db_batch_item again[] = {
        {good, 1, four, group_cb, (void *)(intptr_t)1},
        {good, 1, five, group_cb, (void *)(intptr_t)2},
        {bad, 1, six, group_cb, (void *)(intptr_t)3},
    };
    group_seen = 0;
    ck_assert_int_eq(db_batch_as("core", again, 3), PL_OK);
    ck_assert(run_until(group_all_seen, NULL));
    ck_assert_int_eq(group_status[1], 1);
    ck_assert_int_eq(group_status[2], 1);
    ck_assert_int_eq(group_status[3], -1);
    ck_assert_str_eq(sql1("SELECT string_agg(k::text, ',' ORDER BY k) FROM grp2"), "1,3,4,5");
}
END_TEST

/* ======================================================================== */

/* conninfo of url with dbname replaced. */
static char *conninfo_with_db(const char *url, const char *db)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &err);
    if (!opts) {
        fprintf(stderr, "bad PIPELET_TEST_PGURL: %s\n", err ? err : "?");
        PQfreemem(err);
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *out = calloc(1, cap);
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        const char *v = strcmp(o->keyword, "dbname") == 0 ? db : o->val;
        if (!v)
            continue;
        len += (size_t)snprintf(out + len, cap - len, "%s='", o->keyword);
        for (const char *p = v; *p && len < cap - 4; p++) {
            if (*p == '\'' || *p == '\\')
                out[len++] = '\\';
            out[len++] = *p;
        }
        len += (size_t)snprintf(out + len, cap - len, "' ");
    }
    PQconninfoFree(opts);
    return out;
}

static char dbname[64];
static char *admin_url;

static int setup_db(void)
{
    admin_url = getenv("PIPELET_TEST_PGURL");
    if (!admin_url || !*admin_url) {
        fprintf(stderr, "PIPELET_TEST_PGURL is not set: skipping test_station\n");
        return 77;
    }
    snprintf(dbname, sizeof dbname, "test_station_%d", (int)getpid());
    PGconn *c = PQconnectdb(admin_url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect: %s\n", PQerrorMessage(c));
        PQfinish(c);
        return 1;
    }
    char q[128];
    snprintf(q, sizeof q, "CREATE DATABASE %s", dbname);
    PQclear(PQexec(c, q));
    PQfinish(c);

    char *ci = conninfo_with_db(admin_url, dbname);
    if (!ci)
        return 1;
    check_conn = PQconnectdb(ci);
    if (PQstatus(check_conn) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect to %s: %s\n", dbname, PQerrorMessage(check_conn));
        free(ci);
        return 1;
    }
    if (db_init(ci, 4, 10000, 10000) != 0 ||
        db_add_migrations("core", core_migrations, core_migrations_count) != 0 ||
        db_start(15000) != 0) {
        fprintf(stderr, "the pool did not start\n");
        free(ci);
        return 1;
    }
    free(ci);
    tokens_start();
    db_ready = 1;
    return 0;
}

static void drop_db(void)
{
    if (check_conn)
        PQfinish(check_conn);
    PGconn *c = PQconnectdb(admin_url);
    char q[128];
    snprintf(q, sizeof q, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
    PQclear(PQexec(c, q));
    PQfinish(c);
}

int main(void)
{
    char err[256];
    core_base = event_base_new();
    if (config_load_string("t.conf", "[core]\nnode_name = testnode\nmessage_log = 5\n", err,
                           sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int rc = setup_db();
    if (rc)
        return rc;
    api = station_api();
    events = json_array();
    bus_bus_subscribe(NULL, "*", on_event, NULL);

    Suite *s = suite_create("station");
    TCase *tc = tcase_create("station");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, attach_publishes_persists_and_detach_marks_offline);
    tcase_add_test(tc, a_new_connection_replaces_the_old_one_silently);
    tcase_add_test(tc, snapshot_holds_boot_data_connectors_and_connection);
    tcase_add_test(tc, transaction_start_update_stop_and_idempotent_start);
    tcase_add_test(tc, ocpp16_transactions_take_the_core_id);
    tcase_add_test(tc, meter_values_are_batched_with_their_transaction);
    tcase_add_test(tc, authorize_reports_token_status);
    tcase_add_test(tc, records_and_documents_are_persisted);
    tcase_add_test(tc, command_accepted_and_rejected_complete_once);
    tcase_add_test(tc, command_times_out_and_late_answers_are_ignored);
    tcase_add_test(tc, command_refusals_return_null_with_a_reason);
    tcase_add_test(tc, command_completed_inside_execute_is_reported_after_return);
    tcase_add_test(tc, detach_fails_pending_commands);
    tcase_add_test(tc, accepted_local_lists_are_recorded_by_the_core);
    tcase_add_test(tc, op_names_round_trip);
    tcase_add_test(tc, message_log_filters_by_action_and_direction);
    tcase_add_test(tc, a_failed_write_in_a_group_fails_alone);
    tcase_add_test(tc, a_statement_that_cannot_be_prepared_fails_alone);
    suite_add_tcase(s, tc);
    /* one process: the pool, the loop and the registry are shared by the tests */
    int failed = unit_run_suite(s) != EXIT_SUCCESS;

    /* shutting down with writes in flight and queued (the daemon's order: the registry,
     * then the pool) must neither leak nor touch freed chains: ASan watches */
    model_write("CS-END", "SELECT pg_sleep(0.05)", 0, NULL, NULL, NULL);
    model_write("CS-END", "SELECT 1", 0, NULL, NULL, NULL);
    registry_shutdown();
    if (model_write("CS-END", "SELECT 2", 0, NULL, NULL, NULL) != PL_EOFFLINE) {
        fprintf(stderr, "a write after shutdown was accepted\n");
        failed = 1;
    }
    db_shutdown();
    tokens_shutdown();
    json_decref(events);
    drop_db();
    config_free();
    event_base_free(core_base);
    return failed ? 1 : 0;
}
