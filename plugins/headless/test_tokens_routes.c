/*
 * test_tokens_routes.c — the token side of the headless plugin against a mock host and a
 * mock token domain: which 409 a remote start gets for each decision of the token table,
 * a concurrent session at the same station and the station's reservations, and what a
 * CSV import hands to the domain.  Reads as the contract of hl_remote_start_refusal.
 */
#include "headless.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- mock host */
struct pl_request {
    const char *content_type, *body;
    int status;
    json_t *reply;
};
struct pl_db_result {
    int ok;
    json_t *rows;
};

static struct {
    const char *status;     /* the table's decision; NULL = no decision */
    const char *group;
    int known;              /* lookup() finds the token */
    int db_refuses;         /* db_query() answers PL_EBUSY */
    int db_fails;           /* the query fails */
    json_t *row;            /* {"busy_evse", "reservations"} */
    char params[3][64];     /* what the query was given */
    json_t *call_args;      /* what tokens->call was given */
    char call_op[32];
} m;

static void h_log(pl_plugin_handle *s, int l, const char *fmt, ...) { (void)s; (void)l; (void)fmt; }
static const char *h_header(pl_request *r, const char *n) { return strcmp(n, "Content-Type") ? NULL : r->content_type; }
static const char *h_body(pl_request *r, size_t *len) { *len = strlen(r->body); return r->body; }
static json_t *h_json(pl_request *r) { (void)r; return NULL; }
static void h_reply_json(pl_request *r, int status, json_t *body)
{
    r->status = status;
    json_decref(r->reply);
    r->reply = body;
}
static void h_reply_header(pl_request *r, const char *n, const char *v) { (void)r; (void)n; (void)v; }
static void h_reply_error(pl_request *r, int status, const char *code, const char *fmt, ...)
{
    h_reply_json(r, status, json_pack("{s:s, s:s}", "error", fmt, "code", code));
}
static int h_db_query(pl_plugin_handle *self, const char *sql, int n, const char *const *p,
                      pl_db_cb cb, void *arg)
{
    (void)self;
    (void)sql;
    if (m.db_refuses)
        return PL_EBUSY;
    for (int i = 0; i < n && i < 3; i++)
        snprintf(m.params[i], sizeof m.params[i], "%s", p[i] ? p[i] : "");
    struct pl_db_result res = {!m.db_fails, json_pack("[o]", m.row ? json_incref(m.row) : json_object())};
    cb(&res, arg);
    json_decref(res.rows);
    return PL_OK;
}
static int h_db_ok(pl_db_result *r) { return r->ok; }
static const char *h_db_error(pl_db_result *r) { (void)r; return "boom"; }
static json_t *h_db_json(pl_db_result *r) { return json_incref(r->rows); }

static void t_authorize(const struct pl_id_token *tok, pl_auth_cb cb, void *arg)
{
    ck_assert_str_eq(tok->station_id, "CP1"); /* decided for the station it starts at */
    json_t *info = m.status ? json_pack("{s:s, s:s?}", "status", m.status, "group", m.group) : NULL;
    cb(arg, info);
    json_decref(info);
}
static json_t *t_lookup(const char *v, const char *t)
{
    (void)t;
    return m.known ? json_pack("{s:s}", "id_token", v) : NULL;
}
static void t_call(const char *op, json_t *args, pl_domain_cb cb, void *arg)
{
    snprintf(m.call_op, sizeof m.call_op, "%s", op);
    json_decref(m.call_args);
    m.call_args = args;
    json_t *res = json_pack("{s:i}", "imported", (int)json_array_size(json_object_get(args, "tokens")));
    cb(arg, PL_OK, res, NULL);
    json_decref(res);
}

static const struct pl_tokens_api tokens = {
    .size = sizeof tokens, .authorize = t_authorize, .call = t_call, .lookup = t_lookup,
};
static struct pl_host host = {
    .size = sizeof host, .log = h_log, .req_header = h_header, .req_body = h_body,
    .req_json = h_json, .reply_json = h_reply_json, .reply_header = h_reply_header,
    .reply_error = h_reply_error, .db_query = h_db_query, .db_ok = h_db_ok,
    .db_error = h_db_error, .db_json = h_db_json,
};
static struct headless hl = {.host = &host, .tokens = &tokens};

static void reset(void)
{
    json_decref(m.row);
    json_decref(m.call_args);
    memset(&m, 0, sizeof m);
    m.status = "Accepted";
}

/* ---------------------------------------------------------------- the check */
static struct {
    int calls, status;
    char code[40], msg[300];
} got;

static void on_check(void *arg, int status, const char *code, const char *msg)
{
    (void)arg;
    got.calls++;
    got.status = status;
    snprintf(got.code, sizeof got.code, "%s", code ? code : "");
    snprintf(got.msg, sizeof got.msg, "%s", msg ? msg : "");
}

static void check(int connector, const char *token)
{
    memset(&got, 0, sizeof got);
    hl_remote_start_refusal(&hl, "CP1", connector, token, on_check, NULL);
    ck_assert_int_eq(got.calls, 1); /* exactly once */
}

START_TEST(the_table_decides_the_token)
{
    static const struct {
        const char *status;
        int known;
        const char *code;
    } cases[] = {
        {"Blocked", 1, "TOKEN_BLOCKED"},
        {"Expired", 1, "TOKEN_EXPIRED"},
        {"Invalid", 0, "TOKEN_UNKNOWN"},  /* not in the table: auth_unknown = reject */
        {"Invalid", 1, "TOKEN_BLOCKED"},  /* deactivated, or not valid at this station */
        {"Unknown", 0, "TOKEN_UNKNOWN"},  /* a remote authorizer's 2.0.1 word */
        {"NoCredit", 1, "TOKEN_BLOCKED"},
        {"ConcurrentTx", 1, "CONCURRENT_TRANSACTION"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reset();
        m.status = cases[i].status;
        m.known = cases[i].known;
        check(1, "RFID-1");
        ck_assert_int_eq(got.status, 409);
        ck_assert_str_eq(got.code, cases[i].code);
        ck_assert_msg(strstr(got.msg, "RFID-1") != NULL, "%s names the token", got.msg);
    }
    reset();
    check(1, "RFID-1");
    ck_assert_int_eq(got.status, 0);
    ck_assert_str_eq(m.params[0], "CP1");
    ck_assert_str_eq(m.params[1], "RFID-1");
    ck_assert_str_eq(m.params[2], "1");
    reset();
}
END_TEST

START_TEST(no_decision_is_not_a_yes)
{
    reset();
    m.status = NULL; /* the table was never loaded */
    check(1, "RFID-1");
    ck_assert_int_eq(got.status, 503);
    ck_assert_str_eq(got.code, "DATABASE_ERROR");
    reset();
    m.db_refuses = 1;
    check(1, "RFID-1");
    ck_assert_int_eq(got.status, 503);
    reset();
    m.db_fails = 1;
    check(1, "RFID-1");
    ck_assert_int_eq(got.status, 503);
    ck_assert_str_eq(got.code, "DATABASE_ERROR");
    reset();
}
END_TEST

START_TEST(another_connector_of_the_station)
{
    reset();
    m.row = json_pack("{s:i, s:[]}", "busy_evse", 2, "reservations");
    check(1, "RFID-1");
    ck_assert_int_eq(got.status, 409);
    ck_assert_str_eq(got.code, "CONCURRENT_TRANSACTION");
    ck_assert_msg(strstr(got.msg, "connector 2") != NULL, "%s", got.msg);
    reset();
}
END_TEST

START_TEST(reservations)
{
    static const struct {
        const char *holder, *parent, *expiry, *group;
        int status;
    } cases[] = {
        {"SOMEONE", NULL, "2999-01-01T00:00:00Z", NULL, 409},  /* another token's */
        {"RFID-1", NULL, "2999-01-01T00:00:00Z", NULL, 0},     /* ours */
        {"SOMEONE", "FLEET", "2999-01-01T00:00:00Z", "FLEET", 0}, /* our group's */
        {"SOMEONE", "FLEET", "2999-01-01T00:00:00Z", "OTHER", 409},
        {"SOMEONE", NULL, "2001-01-01T00:00:00Z", NULL, 0},    /* expired */
        {"SOMEONE", NULL, "2999-01-01T01:00:00+01:00", NULL, 409},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reset();
        m.group = cases[i].group;
        m.row = json_pack("{s:n, s:[{s:i, s:i, s:s, s:s?, s:s}]}", "busy_evse", "reservations",
                          "reservation_id", 77, "evse", 1, "id_token", cases[i].holder, "parent",
                          cases[i].parent, "expiry", cases[i].expiry);
        check(1, "RFID-1");
        ck_assert_msg(got.status == cases[i].status, "case %zu: %d %s", i, got.status, got.msg);
        if (got.status)
            ck_assert_str_eq(got.code, "CONNECTOR_RESERVED");
    }
    reset();
}
END_TEST

START_TEST(without_a_tokens_domain_the_station_decides)
{
    struct headless old = {.host = &host, .tokens = NULL};
    memset(&got, 0, sizeof got);
    hl_remote_start_refusal(&old, "CP1", 1, "RFID-1", on_check, NULL);
    ck_assert_int_eq(got.calls, 1);
    ck_assert_int_eq(got.status, 0);
}
END_TEST

/* ---------------------------------------------------------------- CSV import */
static int import_csv(const char *text)
{
    struct pl_request r = {"text/csv; charset=utf-8", text, 0, NULL};
    hl_tokens_import(&r, &hl);
    json_decref(r.reply);
    return r.status;
}

START_TEST(csv_cells_become_token_fields)
{
    reset();
    ck_assert_int_eq(import_csv("\xEF\xBB\xBFstations,id_token,customer_id,group_id\r\n"
                                "\"CP-1|CP-2\",A,12,\"a \"\"b\"\", c\"\r\n"
                                ",B,,\n"
                                "\"\",\"C\nD\",7,g"),
                     201);
    ck_assert_str_eq(m.call_op, "tokens.import");
    char *text = json_dumps(json_object_get(m.call_args, "tokens"), JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_str_eq(text, "[{\"customer_id\":12,\"group_id\":\"a \\\"b\\\", c\",\"id_token\":\"A\","
                           "\"stations\":[\"CP-1\",\"CP-2\"]},{\"id_token\":\"B\"},"
                           "{\"customer_id\":7,\"group_id\":\"g\",\"id_token\":\"C\\nD\"}]");
    free(text);
    reset();
}
END_TEST

START_TEST(csv_refusals_name_the_row)
{
    static const struct {
        const char *text, *error;
    } cases[] = {
        {"id_token\nA\n\n\n", NULL}, /* blank lines at the end are fine */
        {"id_token,x\nA,1\n", "header: column \"x\" is unknown"},
        {"id_token\nA\n\nB\n", "row 2: an empty line"},
        {"id_token,type\nA,\"K\"x\n", "row 1: text after a closing quote"},
        {"id_token,customer_id\nA,1\nB,-3\n", "row 2: customer_id: must be a positive integer"},
        {"id_token,type\nA\n", "row 1: 1 fields where the header has 2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reset();
        struct pl_request r = {"text/csv", cases[i].text, 0, NULL};
        hl_tokens_import(&r, &hl);
        if (!cases[i].error) {
            ck_assert_int_eq(r.status, 201);
        } else {
            ck_assert_int_eq(r.status, 400);
            ck_assert_msg(strncmp(json_string_value(json_object_get(r.reply, "error")), cases[i].error,
                                  strlen(cases[i].error)) == 0,
                          "%s", json_string_value(json_object_get(r.reply, "error")));
            ck_assert_str_eq(m.call_op, ""); /* nothing reached the domain */
        }
        json_decref(r.reply);
    }
    reset();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("headless tokens");
    TCase *tc = tcase_create("tokens");
    tcase_add_test(tc, the_table_decides_the_token);
    tcase_add_test(tc, no_decision_is_not_a_yes);
    tcase_add_test(tc, another_connector_of_the_station);
    tcase_add_test(tc, reservations);
    tcase_add_test(tc, without_a_tokens_domain_the_station_decides);
    tcase_add_test(tc, csv_cells_become_token_fields);
    tcase_add_test(tc, csv_refusals_name_the_row);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
