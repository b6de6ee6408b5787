/* test_model_read.c — the specification of the model's read API (core/model_read.c,
 * pipelet/model.h): station views merged with the registry, filters and cursor pages of
 * stations and transactions, one transaction by either id, meter values, commands, and
 * the callback contract (exactly once; errors named; refusals without a callback).
 * Against a real PostgreSQL (PIPELET_TEST_PGURL) and a real event loop. */
#include <check.h>
#include <event2/event.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command.h"
#include "config.h"
#include "core.h"
#include "db.h"
#include "model.h"
#include "model_read.h"
#include "registry.h"
#include "tokens.h"
#include "unit_loop.h"

extern const struct pl_migration core_migrations[];
extern const unsigned long core_migrations_count;

static const struct pl_model_api *m;
static const struct pl_station_api *api;
static PGconn *check_conn;
static char dbname[64];
static char *admin_url;

/* ---- one answer of the read API ---- */
struct answer {
    int calls, rc;
    json_t *data;
    char error[256];
};

static void on_answer(int rc, json_t *data, const char *error, void *arg)
{
    struct answer *a = arg;
    a->calls++;
    a->rc = rc;
    json_decref(a->data);
    a->data = data;
    snprintf(a->error, sizeof a->error, "%s", error ? error : "(null)");
}

/* Wait for the answer (started with rc PL_OK); it came exactly once. */
static void wait_answer(struct answer *a, int rc)
{
    ck_assert_int_eq(rc, PL_OK);
    ck_assert(unit_run_until_flag(&a->calls, 10000));
    unit_run_for(20); /* a second call would show up now */
    ck_assert_int_eq(a->calls, 1);
}

static void answer_clear(struct answer *a)
{
    json_decref(a->data);
    memset(a, 0, sizeof *a);
}

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static json_t *items(struct answer *a)
{
    return json_object_get(a->data, "items");
}

static void sql_exec(const char *q)
{
    PGresult *r = PQexec(check_conn, q);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s: %s", q, PQerrorMessage(check_conn));
    PQclear(r);
}

static int fake_execute(void *drv_arg, pl_station *st, pl_command *cmd)
{
    (void)drv_arg;
    (void)st;
    api->complete(cmd, PL_CMD_ACCEPTED, json_pack("{s:s}", "status", "Accepted"), NULL);
    return PL_OK;
}
static const struct pl_driver fake_driver = {sizeof(struct pl_driver), "ocpp1.6", fake_execute};

static int model_idle(void *arg)
{
    (void)arg;
    model_flush();
    return model_pending() == 0;
}

/* Three stations in the table (CS-A offline Acme, CS-B offline Zeta, CS-C online through
 * the registry with a Charging connector), transactions of two customers, samples. */
static void seed(void)
{
    sql_exec("INSERT INTO stations (id, protocol, vendor, model, serial) VALUES "
             "('CS-A', 'ocpp1.6', 'Acme', 'A1', 'SER-100'), "
             "('CS-B', 'ocpp2.0.1', 'Zeta', 'Z_9', 'SER-200'), "
             "('CS-C', 'ocpp1.6', 'Acme', 'A2', 'SER-300')");
    sql_exec("INSERT INTO connectors (station_id, evse, connector, status) VALUES "
             "('CS-A', 1, 1, 'Available'), ('CS-A', 2, 1, 'Faulted')");
    sql_exec("INSERT INTO customers (id, name) VALUES (41, 'Alice'), (42, 'Bob')");
    sql_exec("INSERT INTO id_tokens (id_token, customer_id) VALUES ('TAG-AL', 41), "
             "('TAG-BO', 42)");
    sql_exec("INSERT INTO transactions (id, station_id, station_tx_id, evse, connector, "
             "id_token, meter_start, started_at, stopped_at, meter_stop) VALUES "
             "(101, 'CS-A', 'a-1', 1, 1, 'TAG-AL', 1000, '2026-11-01T10:00:00Z', "
             "'2026-11-01T11:00:00Z', 5000), "
             "(102, 'CS-A', 'a-2', 2, 1, 'TAG-BO', 0, '2026-11-02T10:00:00Z', NULL, NULL), "
             "(103, 'CS-B', '7', 1, 1, 'TAG-AL', 10, '2026-11-03T10:00:00Z', NULL, NULL)");
    sql_exec("INSERT INTO meter_values (station_id, transaction_id, ts, measurand, value, unit) "
             "VALUES ('CS-A', 102, '2026-11-02T10:01:00Z', 'Energy.Active.Import.Register', 100, "
             "'Wh'), ('CS-A', 102, '2026-11-02T10:02:00Z', 'Power.Active.Import', 7000, 'W'), "
             "('CS-A', 102, '2026-11-02T10:03:00Z', 'Energy.Active.Import.Register', 250, 'Wh')");
    sql_exec("INSERT INTO station_records (station_id, kind, data) VALUES ('CS-B', "
             "'remote_start', '{\"command_id\": \"0f0e0d0c-0000-4000-8000-000000000001\", "
             "\"transaction_id\": 103}')");
    sql_exec("INSERT INTO commands (id, station_id, op, status, created_at) VALUES "
             "('0f0e0d0c-0000-4000-8000-0000000000aa', 'CS-A', 'reset', 'Accepted', "
             "'2026-11-01T09:00:00Z')");
    pl_station *st = api->attach(NULL, "CS-C", &fake_driver, NULL,
                                 json_pack("{s:s}", "remote_addr", "10.0.0.3"));
    api->connector_status(st, 1, 1, "Charging", NULL, NULL, NULL);
    api->connector_status(st, 2, 1, "Available", NULL, NULL, NULL);
    ck_assert(unit_run_until(model_idle, NULL, 10000));
}

/* ======================================================================== */

START_TEST(stations_merge_the_registry_and_page_by_id)
{
    struct pl_station_filter f = PL_STATION_FILTER_INIT;
    struct answer a = {0};
    f.limit = 2;
    wait_answer(&a, m->stations(NULL, &f, on_answer, &a));
    ck_assert_int_eq(a.rc, PL_OK);
    ck_assert_uint_eq(json_array_size(items(&a)), 2);
    json_t *s0 = json_array_get(items(&a), 0);
    ck_assert_str_eq(str(s0, "id"), "CS-A");
    ck_assert(json_is_false(json_object_get(s0, "online")));
    ck_assert_str_eq(str(s0, "status"), "Offline");
    ck_assert_int_eq(json_integer_value(json_object_get(s0, "connector_count")), 2);
    ck_assert_ptr_null(json_object_get(s0, "connector_rows")); /* table detail stays inside */
    ck_assert_str_eq(str(a.data, "next"), "CS-B");

    f.cursor = "CS-B"; /* the next page: the online one, its status from memory */
    answer_clear(&a);
    wait_answer(&a, m->stations(NULL, &f, on_answer, &a));
    ck_assert_uint_eq(json_array_size(items(&a)), 1);
    json_t *c = json_array_get(items(&a), 0);
    ck_assert_str_eq(str(c, "id"), "CS-C");
    ck_assert(json_is_true(json_object_get(c, "online")));
    ck_assert_str_eq(str(c, "status"), "Available");
    ck_assert_str_eq(str(c, "remote_addr"), "10.0.0.3");
    ck_assert(json_is_null(json_object_get(a.data, "next")));
    answer_clear(&a);
}
END_TEST

START_TEST(station_filters_online_status_protocol_vendor_search)
{
    struct { int online; const char *status, *protocol, *vendor, *search, *ids; } cases[] = {
        {1, NULL, NULL, NULL, NULL, "CS-C"},
        {0, NULL, NULL, NULL, NULL, "CS-A CS-B"},
        {PL_MODEL_ANY, "Charging", NULL, NULL, NULL, "CS-C"},  /* a connector of an online one */
        {PL_MODEL_ANY, "Offline", NULL, NULL, NULL, "CS-A CS-B"},
        {PL_MODEL_ANY, "Faulted", NULL, NULL, NULL, ""},       /* offline: connectors are stale */
        {PL_MODEL_ANY, NULL, "ocpp2.0.1", NULL, NULL, "CS-B"},
        {PL_MODEL_ANY, NULL, NULL, "acme", NULL, "CS-A CS-C"},
        {PL_MODEL_ANY, NULL, NULL, NULL, "ser-3", "CS-C"},     /* serial, any case */
        {PL_MODEL_ANY, NULL, NULL, NULL, "z_", "CS-B"},        /* "_" is no wildcard */
        {PL_MODEL_ANY, NULL, NULL, NULL, "%", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pl_station_filter f = PL_STATION_FILTER_INIT;
        struct answer a = {0};
        f.online = cases[i].online;
        f.status = cases[i].status;
        f.protocol = cases[i].protocol;
        f.vendor = cases[i].vendor;
        f.search = cases[i].search;
        wait_answer(&a, m->stations(NULL, &f, on_answer, &a));
        ck_assert_int_eq(a.rc, PL_OK);
        char ids[128] = "";
        size_t k;
        json_t *v;
        json_array_foreach(items(&a), k, v)
            snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%s", k ? " " : "",
                     str(v, "id"));
        ck_assert_msg(!strcmp(ids, cases[i].ids), "case %zu: got '%s', want '%s'", i, ids,
                      cases[i].ids);
        answer_clear(&a);
    }
}
END_TEST

START_TEST(invalid_filters_are_answered_with_einval)
{
    struct pl_station_filter f = PL_STATION_FILTER_INIT;
    struct answer a = {0};
    f.status = "Sleeping";
    ck_assert_int_eq(m->stations(NULL, &f, on_answer, &a), PL_OK);
    ck_assert_int_eq(a.calls, 1); /* before returning: nothing to wait for */
    ck_assert_int_eq(a.rc, PL_EINVAL);
    ck_assert_ptr_null(a.data);
    ck_assert_ptr_nonnull(strstr(a.error, "Sleeping"));
    answer_clear(&a);

    struct pl_tx_filter t = PL_TX_FILTER_INIT;
    t.limit = PL_MODEL_PAGE_MAX + 1;
    ck_assert_int_eq(m->transactions(NULL, &t, on_answer, &a), PL_OK);
    ck_assert_int_eq(a.rc, PL_EINVAL);
    answer_clear(&a);
    t = (struct pl_tx_filter)PL_TX_FILTER_INIT;
    t.from = "yesterday";
    ck_assert_int_eq(m->transactions(NULL, &t, on_answer, &a), PL_OK);
    ck_assert_int_eq(a.rc, PL_EINVAL);
    answer_clear(&a);
    t = (struct pl_tx_filter)PL_TX_FILTER_INIT;
    t.customer = "41; DROP TABLE customers";
    ck_assert_int_eq(m->transactions(NULL, &t, on_answer, &a), PL_OK);
    ck_assert_int_eq(a.rc, PL_EINVAL);
    answer_clear(&a);
    ck_assert_int_eq(m->meter_values(NULL, 102, NULL, 0, on_answer, &a), PL_OK);
    ck_assert_int_eq(a.rc, PL_EINVAL);
    answer_clear(&a);
    ck_assert_int_eq(m->stations(NULL, &f, NULL, NULL), PL_EINVAL); /* no callback: refused */
}
END_TEST

START_TEST(a_filter_of_an_older_minor_keeps_the_defaults_of_newer_fields)
{
    /* size covers online only: status, protocol... are unset even if garbage follows */
    struct pl_station_filter f = PL_STATION_FILTER_INIT;
    f.size = (uint32_t)(offsetof(struct pl_station_filter, online) + sizeof f.online);
    f.online = 1;
    f.status = "not read";
    struct answer a = {0};
    wait_answer(&a, m->stations(NULL, &f, on_answer, &a));
    ck_assert_int_eq(a.rc, PL_OK);
    ck_assert_uint_eq(json_array_size(items(&a)), 1);
    answer_clear(&a);
}
END_TEST

START_TEST(one_station_with_connectors_and_active_transactions)
{
    struct answer a = {0};
    wait_answer(&a, m->station(NULL, "CS-A", on_answer, &a));
    ck_assert_int_eq(a.rc, PL_OK);
    json_t *evses = json_object_get(a.data, "evses");
    ck_assert_uint_eq(json_array_size(evses), 2);
    ck_assert_str_eq(str(json_array_get(json_object_get(json_array_get(evses, 1), "connectors"), 0),
                         "status"),
                     "Faulted");
    json_t *active = json_object_get(a.data, "active_transactions");
    ck_assert_uint_eq(json_array_size(active), 1); /* 101 ended, 102 runs */
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(active, 0), "id")), 102);
    ck_assert(json_number_value(json_object_get(json_array_get(active, 0), "energy_wh")) == 250);
    answer_clear(&a);

    wait_answer(&a, m->station(NULL, "CS-NONE", on_answer, &a));
    ck_assert_int_eq(a.rc, PL_ENOENT);
    ck_assert_str_eq(a.error, "station CS-NONE not found");
    answer_clear(&a);
}
END_TEST

/* The ids of a transaction page, space separated. */
static void tx_ids(struct answer *a, char *out, size_t len)
{
    size_t k;
    json_t *v;
    out[0] = '\0';
    json_array_foreach(items(a), k, v)
        snprintf(out + strlen(out), len - strlen(out), "%s%" JSON_INTEGER_FORMAT, k ? " " : "",
                 json_integer_value(json_object_get(v, "id")));
}

START_TEST(transaction_filters_and_pages_newest_first)
{
    struct { const char *station; int active, evse; const char *token, *customer, *command,
             *from, *to, *ids; } cases[] = {
        {NULL, PL_MODEL_ANY, PL_MODEL_ANY, NULL, NULL, NULL, NULL, NULL, "103 102 101"},
        {"CS-A", PL_MODEL_ANY, PL_MODEL_ANY, NULL, NULL, NULL, NULL, NULL, "102 101"},
        {NULL, 1, PL_MODEL_ANY, NULL, NULL, NULL, NULL, NULL, "103 102"},
        {NULL, 0, PL_MODEL_ANY, NULL, NULL, NULL, NULL, NULL, "101"},
        {"CS-A", 1, 2, NULL, NULL, NULL, NULL, NULL, "102"},
        {NULL, PL_MODEL_ANY, PL_MODEL_ANY, "TAG-BO", NULL, NULL, NULL, NULL, "102"},
        {NULL, PL_MODEL_ANY, PL_MODEL_ANY, NULL, "41", NULL, NULL, NULL, "103 101"},
        {NULL, PL_MODEL_ANY, PL_MODEL_ANY, NULL, "43", NULL, NULL, NULL, ""},
        {NULL, PL_MODEL_ANY, PL_MODEL_ANY, NULL, NULL, "0f0e0d0c-0000-4000-8000-000000000001",
         NULL, NULL, "103"},
        {NULL, PL_MODEL_ANY, PL_MODEL_ANY, NULL, NULL, NULL, "2026-11-02T00:00:00Z",
         "2026-11-03T00:00:00Z", "102"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pl_tx_filter f = PL_TX_FILTER_INIT;
        struct answer a = {0};
        f.station = cases[i].station;
        f.active = cases[i].active;
        f.evse = cases[i].evse;
        f.id_token = cases[i].token;
        f.customer = cases[i].customer;
        f.command_id = cases[i].command;
        f.from = cases[i].from;
        f.to = cases[i].to;
        wait_answer(&a, m->transactions(NULL, &f, on_answer, &a));
        ck_assert_int_eq(a.rc, PL_OK);
        char ids[128];
        tx_ids(&a, ids, sizeof ids);
        ck_assert_msg(!strcmp(ids, cases[i].ids), "case %zu: got '%s', want '%s'", i, ids,
                      cases[i].ids);
        answer_clear(&a);
    }

    struct pl_tx_filter f = PL_TX_FILTER_INIT;
    struct answer a = {0};
    char ids[128], next[32];
    f.limit = 2;
    wait_answer(&a, m->transactions(NULL, &f, on_answer, &a));
    tx_ids(&a, ids, sizeof ids);
    ck_assert_str_eq(ids, "103 102");
    snprintf(next, sizeof next, "%s", str(a.data, "next"));
    ck_assert_str_eq(next, "102");
    answer_clear(&a);
    f.cursor = next;
    wait_answer(&a, m->transactions(NULL, &f, on_answer, &a));
    tx_ids(&a, ids, sizeof ids);
    ck_assert_str_eq(ids, "101");
    ck_assert(json_is_null(json_object_get(a.data, "next")));
    answer_clear(&a);
}
END_TEST

START_TEST(one_transaction_by_core_id_or_by_station_id)
{
    struct answer a = {0};
    wait_answer(&a, m->transaction(NULL, 101, NULL, NULL, 0, on_answer, &a));
    ck_assert_int_eq(a.rc, PL_OK);
    ck_assert_str_eq(str(a.data, "station_tx_id"), "a-1");
    ck_assert(json_is_false(json_object_get(a.data, "active")));
    ck_assert(json_number_value(json_object_get(a.data, "energy_wh")) == 4000);
    ck_assert_str_eq(str(a.data, "stopped_at"), "2026-11-01T11:00:00.000Z");
    ck_assert_ptr_null(json_object_get(a.data, "meter_values"));
    answer_clear(&a);

    /* "7" is the station's own id: not the core's 7 */
    wait_answer(&a, m->transaction(NULL, 0, "CS-B", "7", PL_MODEL_TX_METER_VALUES, on_answer, &a));
    ck_assert_int_eq(a.rc, PL_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(a.data, "id")), 103);
    ck_assert_uint_eq(json_array_size(json_object_get(a.data, "meter_values")), 0);
    answer_clear(&a);

    wait_answer(&a, m->transaction(NULL, 102, NULL, NULL, PL_MODEL_TX_METER_VALUES, on_answer, &a));
    ck_assert_uint_eq(json_array_size(json_object_get(a.data, "meter_values")), 3);
    answer_clear(&a);

    wait_answer(&a, m->transaction(NULL, 0, "CS-B", "8", 0, on_answer, &a));
    ck_assert_int_eq(a.rc, PL_ENOENT);
    ck_assert_str_eq(a.error, "transaction 8 of station CS-B not found");
    answer_clear(&a);
    wait_answer(&a, m->transaction(NULL, 999, NULL, NULL, 0, on_answer, &a));
    ck_assert_str_eq(a.error, "transaction 999 not found");
    answer_clear(&a);
}
END_TEST

START_TEST(meter_values_by_measurand_with_a_limit)
{
    struct answer a = {0};
    wait_answer(&a, m->meter_values(NULL, 102, "Energy.Active.Import.Register", 10, on_answer, &a));
    ck_assert_int_eq(a.rc, PL_OK);
    ck_assert_uint_eq(json_array_size(a.data), 2);
    ck_assert_str_eq(str(json_array_get(a.data, 0), "timestamp"), "2026-11-02T10:01:00.000Z");
    ck_assert(json_number_value(json_object_get(json_array_get(a.data, 1), "value")) == 250);
    answer_clear(&a);

    wait_answer(&a, m->meter_values(NULL, 102, NULL, 2, on_answer, &a)); /* oldest first */
    ck_assert_uint_eq(json_array_size(a.data), 2);
    ck_assert_str_eq(str(json_array_get(a.data, 1), "measurand"), "Power.Active.Import");
    answer_clear(&a);

    wait_answer(&a, m->meter_values(NULL, 101, NULL, 10, on_answer, &a)); /* none: [] */
    ck_assert_int_eq(a.rc, PL_OK);
    ck_assert_uint_eq(json_array_size(a.data), 0);
    answer_clear(&a);
    wait_answer(&a, m->meter_values(NULL, 999, NULL, 10, on_answer, &a));
    ck_assert_int_eq(a.rc, PL_ENOENT);
    answer_clear(&a);
}
END_TEST

START_TEST(commands_from_memory_then_from_history)
{
    struct answer a = {0};
    int rc = PL_OK;
    char err[128];
    pl_command *cmd = api->command(NULL, "CS-C", PL_OP_RESET, json_object(), 5000, NULL, NULL,
                                   &rc, err, sizeof err);
    ck_assert_ptr_nonnull(cmd);
    char id[40];
    snprintf(id, sizeof id, "%s", api->command_id(cmd));

    ck_assert_int_eq(m->command(NULL, id, on_answer, &a), PL_OK); /* in memory: at once */
    ck_assert_int_eq(a.calls, 1);
    ck_assert_str_eq(str(a.data, "station"), "CS-C");
    answer_clear(&a);

    wait_answer(&a, m->command(NULL, "0f0e0d0c-0000-4000-8000-0000000000aa", on_answer, &a));
    ck_assert_int_eq(a.rc, PL_OK);
    ck_assert_str_eq(str(a.data, "op"), "reset");
    ck_assert_str_eq(str(a.data, "created_at"), "2026-11-01T09:00:00.000Z");
    answer_clear(&a);

    wait_answer(&a, m->command(NULL, "0f0e0d0c-0000-4000-8000-0000000000bb", on_answer, &a));
    ck_assert_int_eq(a.rc, PL_ENOENT);
    answer_clear(&a);
    ck_assert_int_eq(m->command(NULL, "not-a-uuid", on_answer, &a), PL_OK);
    ck_assert_int_eq(a.rc, PL_ENOENT);
    answer_clear(&a);

    ck_assert_int_eq(m->commands(NULL, "CS-C", 10, on_answer, &a), PL_OK);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_uint_eq(json_array_size(items(&a)), 1);
    ck_assert_str_eq(str(json_array_get(items(&a), 0), "id"), id);
    ck_assert(json_is_null(json_object_get(a.data, "next")));
    answer_clear(&a);
}
END_TEST

START_TEST(status_names_list_what_the_filter_accepts)
{
    const char *const *names = m->status_names();
    int n = 0, charging = 0;
    for (; names[n]; n++)
        charging |= !strcmp(names[n], "Charging");
    ck_assert_int_eq(n, 12);
    ck_assert(charging);
}
END_TEST

START_TEST(a_read_that_cannot_start_never_calls_back)
{
    /* db_shutdown refuses new queries: the read says so and never calls back */
    struct answer a = {0};
    db_shutdown();
    ck_assert_int_lt(m->station(NULL, "CS-A", on_answer, &a), 0);
    struct pl_tx_filter f = PL_TX_FILTER_INIT;
    ck_assert_int_lt(m->transactions(NULL, &f, on_answer, &a), 0);
    unit_run_for(20);
    ck_assert_int_eq(a.calls, 0);
}
END_TEST

/* ======================================================================== */

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

static int setup_db(void)
{
    admin_url = getenv("PIPELET_TEST_PGURL");
    if (!admin_url || !*admin_url) {
        fprintf(stderr, "PIPELET_TEST_PGURL is not set: skipping test_model_read\n");
        return 77;
    }
    snprintf(dbname, sizeof dbname, "test_model_read_%d", (int)getpid());
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
    int ok = PQstatus(check_conn) == CONNECTION_OK && db_init(ci, 2, 1000, 10000) == 0 &&
             db_add_migrations("core", core_migrations, core_migrations_count) == 0 &&
             db_start(15000) == 0;
    free(ci);
    if (!ok) {
        fprintf(stderr, "the database did not start: %s\n", PQerrorMessage(check_conn));
        return 1;
    }
    return 0;
}

static void drop_db(void)
{
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
    if (config_load_string("t.conf", "[core]\nnode_name = testnode\n", err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int rc = setup_db();
    if (rc)
        return rc;
    m = model_read_api();
    api = station_api();
    Suite *s = suite_create("model_read");
    TCase *tc = tcase_create("model_read");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, seed, NULL);
    tcase_add_test(tc, stations_merge_the_registry_and_page_by_id);
    tcase_add_test(tc, station_filters_online_status_protocol_vendor_search);
    tcase_add_test(tc, invalid_filters_are_answered_with_einval);
    tcase_add_test(tc, a_filter_of_an_older_minor_keeps_the_defaults_of_newer_fields);
    tcase_add_test(tc, one_station_with_connectors_and_active_transactions);
    tcase_add_test(tc, transaction_filters_and_pages_newest_first);
    tcase_add_test(tc, one_transaction_by_core_id_or_by_station_id);
    tcase_add_test(tc, meter_values_by_measurand_with_a_limit);
    tcase_add_test(tc, commands_from_memory_then_from_history);
    tcase_add_test(tc, status_names_list_what_the_filter_accepts);
    tcase_add_test(tc, a_read_that_cannot_start_never_calls_back); /* last: stops the pool */
    suite_add_tcase(s, tc);
    int failed = unit_run_suite(s) != EXIT_SUCCESS;
    registry_shutdown();
    db_shutdown();
    drop_db();
    config_free();
    event_base_free(core_base);
    return failed ? 1 : 0;
}
