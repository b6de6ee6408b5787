/*
 * test_headless.c — the headless plugin against a mock host (no daemon, no sockets): how
 * requests are validated, how station checks and command outcomes become HTTP answers,
 * sync/async answering, and the restore sequence.  Reads as the gateway's contract.
 */
#include "headless.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- mock host */
struct pl_request {
    json_t *params, *query, *headers, *body;
    int scope;
    int replied, status;
    json_t *reply;
    char headers_out[512];
};
struct pl_command {
    char id[40];
    int op, status;
    json_t *args, *result;
    const char *error;
    pl_command_cb cb;
    void *arg;
};
struct pl_db_result {
    int ok, ntuples;
};

static struct {
    int outcome;        /* what the next command completes with */
    int deferred;       /* 1: complete later with complete_pending() */
    int rc;             /* != 0: command() refuses with this rc */
    int station_in_db;  /* the read API knows the station */
    int active_tx;      /* the read API finds an active transaction on the connector */
    const char *connector2_status;
    int ncommands;
    pl_command *last, *pending[8], *all[256];
    int npending, nall;
    json_t *config_keys;
} mock;

struct route { const char *method, *pattern; int scope; pl_route_cb cb; void *arg; };
static struct route routes[128];
static int nroutes;

static void h_log(pl_plugin_handle *s, int l, const char *fmt, ...) { (void)s; (void)l; (void)fmt; }
static const char *h_config_global(const char *s, const char *k)
{
    return (!strcmp(s, "plugins") && !strcmp(k, "load")) ? "ocpp16, headless" : NULL;
}
static int h_route(pl_plugin_handle *self, const char *m, const char *p, int scope, pl_route_cb cb,
                   void *arg)
{
    (void)self;
    ck_assert_int_lt(nroutes, (int)(sizeof routes / sizeof routes[0]));
    routes[nroutes++] = (struct route){m, p, scope, cb, arg};
    return PL_OK;
}
static const char *h_param(pl_request *r, const char *n) { return json_string_value(json_object_get(r->params, n)); }
static const char *h_query(pl_request *r, const char *n) { return json_string_value(json_object_get(r->query, n)); }
static const char *h_header(pl_request *r, const char *n) { return json_string_value(json_object_get(r->headers, n)); }
static const char *h_body(pl_request *r, size_t *len) { (void)r; *len = 0; return ""; }
static json_t *h_json(pl_request *r) { return r->body; }
static int h_scope(pl_request *r) { return r->scope; }
static void h_reply_header(pl_request *r, const char *n, const char *v)
{
    size_t used = strlen(r->headers_out);
    snprintf(r->headers_out + used, sizeof r->headers_out - used, "%s: %s\n", n, v);
}
static void h_reply_json(pl_request *r, int status, json_t *body)
{
    ck_assert_msg(!r->replied, "answered twice");
    ck_assert_ptr_nonnull(body);
    r->replied = 1;
    r->status = status;
    r->reply = body;
}
static void h_reply_error(pl_request *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    h_reply_json(r, status, json_pack("{s:s, s:s}", "error", msg, "code", code));
}
static void h_reply_raw(pl_request *r, int status, const char *ct, const void *d, size_t len)
{
    (void)ct;
    h_reply_json(r, status, json_loadb(d, len, 0, NULL));
}
static uint64_t h_now_ms(void) { return 0; }
static const char *h_now(char *b, size_t l) { snprintf(b, l, "2026-11-24T19:00:00.000Z"); return b; }
static const char *h_uuid(char b[37]) { strcpy(b, "0123abcd-0000-4000-8000-000000000000"); return b; }
static int h_db_healthy(void) { return 1; }
static int h_db_query(pl_plugin_handle *s, const char *sql, int n, const char *const *p, pl_db_cb cb,
                      void *arg)
{
    (void)s; (void)n; (void)p;
    struct pl_db_result res = {1, 0};
    if (strstr(sql, "FROM stations WHERE id"))
        res.ntuples = mock.station_in_db;
    else if (strstr(sql, "stopped_at IS NULL LIMIT 1"))
        res.ntuples = mock.active_tx;
    cb(&res, arg); /* a synchronous "database" is enough for the checks under test */
    return PL_OK;
}
static int h_db_ok(pl_db_result *r) { return r->ok; }
static const char *h_db_error(pl_db_result *r) { (void)r; return ""; }
static int h_db_ntuples(pl_db_result *r) { return r->ntuples; }
static const char *h_db_value(pl_db_result *r, int row, int col) { (void)r; (void)row; (void)col; return "7"; }
static json_t *h_db_json(pl_db_result *r) { (void)r; return json_array(); }

static int st_online(const char *id) { return !strcmp(id, "CP1"); }
static pl_station *st_find(const char *id) { return st_online(id) ? (pl_station *)&mock : NULL; }
static const char *st_protocol(pl_station *s) { (void)s; return "ocpp1.6"; }
static json_t *st_snapshot(pl_station *s)
{
    (void)s;
    return json_pack("{s:s, s:s, s:[{s:i, s:[{s:i, s:s}]}, {s:i, s:[{s:i, s:s}]}]}", "id", "CP1",
                     "protocol", "ocpp1.6", "evses", "evse", 1, "connectors", "connector", 1,
                     "status", "Available", "evse", 2, "connectors", "connector", 1, "status",
                     mock.connector2_status ? mock.connector2_status : "Available");
}
static void finish(pl_command *c, int status)
{
    c->status = status;
    json_decref(c->result);
    c->result = json_pack("{s:s}", "status", status == PL_CMD_ACCEPTED ? "Accepted" : "Rejected");
    if (c->op == PL_OP_GET_CONFIGURATION && mock.config_keys)
        json_object_set(c->result, "keys", mock.config_keys);
    if (c->op == PL_OP_SET_CONFIGURATION &&
        !strcmp(json_string_value(json_object_get(c->args, "key")), "Reboot"))
        json_object_set_new(c->result, "status", json_string("RebootRequired"));
    c->error = status == PL_CMD_FAILED ? "station answered CALLERROR InternalError: boom" : NULL;
    c->cb(c, c->arg);
}
static pl_command *st_command(pl_plugin_handle *self, const char *sid, int op, json_t *args,
                              unsigned ms, pl_command_cb cb, void *arg, int *rc, char *err,
                              size_t errlen)
{
    (void)self; (void)sid; (void)ms;
    if (mock.rc) {
        *rc = mock.rc;
        snprintf(err, errlen, "profile: missing chargingProfileId");
        json_decref(args);
        return NULL;
    }
    pl_command *c = calloc(1, sizeof *c);
    snprintf(c->id, sizeof c->id, "c0000000-0000-4000-8000-%012d", ++mock.ncommands);
    c->op = op;
    c->args = args;
    c->cb = cb;
    c->arg = arg;
    mock.last = c;
    if (mock.nall < 256)
        mock.all[mock.nall++] = c;
    if (mock.deferred && mock.npending < 8)
        mock.pending[mock.npending++] = c;
    else
        finish(c, mock.outcome);
    return c;
}
/* Complete the commands pending now (not the ones their completion sends). */
static void complete_pending(int status)
{
    for (int n = mock.npending; n > 0 && mock.npending; n--) {
        pl_command *c = mock.pending[0];
        memmove(mock.pending, mock.pending + 1, --mock.npending * sizeof *mock.pending);
        finish(c, status);
    }
}
static const char *st_cmd_id(pl_command *c) { return c->id; }
static int st_cmd_status(pl_command *c) { return c->status; }
static json_t *st_cmd_result(pl_command *c) { return c->result; }
static const char *st_cmd_error(pl_command *c) { return c->error; }
static json_t *st_cmd_json(const char *id) { (void)id; return NULL; }
static json_t *st_cmd_list(const char *s, int l) { (void)s; (void)l; return json_array(); }
static json_t *st_messages(const char *s, const char *a, const char *d, int l)
{
    (void)s; (void)a; (void)d; (void)l;
    return json_array();
}
static json_t *st_list_online(void) { return json_pack("[o]", st_snapshot(NULL)); }
static void st_put_doc(pl_station *s, const char *k, const char *key, json_t *v)
{
    (void)s; (void)k; (void)key;
    json_decref(v);
}

/* The model's read API: a station exists when mock.station_in_db; the connector's active
 * transaction (id 7) when mock.active_tx; nothing else is stored. */
static int m_station(pl_plugin_handle *s, const char *id, pl_model_cb cb, void *arg)
{
    (void)s;
    if (mock.station_in_db)
        cb(PL_OK, json_pack("{s:s, s:b}", "id", id, "online", st_online(id)), "", arg);
    else
        cb(PL_ENOENT, NULL, "station not found", arg);
    return PL_OK;
}
static int m_transactions(pl_plugin_handle *s, const struct pl_tx_filter *f, pl_model_cb cb,
                          void *arg)
{
    (void)s; (void)f;
    json_t *items = mock.active_tx ? json_pack("[{s:i, s:s}]", "id", 7, "station_tx_id", "7")
                                   : json_array();
    cb(PL_OK, json_pack("{s:o, s:n}", "items", items, "next"), "", arg);
    return PL_OK;
}
static const char *const *m_status_names(void)
{
    static const char *const names[] = {"Available", "Charging", "Offline", NULL};
    return names;
}
static const struct pl_model_api model = {.size = sizeof model, .status_names = m_status_names,
                                          .station = m_station,
                                          .transactions = m_transactions};

static const struct pl_station_api stations = {
    .size = sizeof stations, .find = st_find, .online = st_online, .protocol = st_protocol,
    .snapshot = st_snapshot, .command = st_command, .command_id = st_cmd_id,
    .command_status = st_cmd_status, .command_result = st_cmd_result,
    .command_error = st_cmd_error, .command_json = st_cmd_json, .command_list = st_cmd_list,
    .messages = st_messages, .list_online = st_list_online, .put_doc = st_put_doc};
static const struct pl_host host = {
    .size = sizeof host, .abi_major = 1, .abi_minor = 0, .version = "0.1.0", .log = h_log,
    .config_global = h_config_global, .now_ms = h_now_ms, .now_rfc3339 = h_now,
    .http_route = h_route, .req_param = h_param, .req_query = h_query, .req_header = h_header,
    .req_body = h_body, .req_json = h_json, .req_scope = h_scope,
    .reply_header = h_reply_header, .reply_json = h_reply_json, .reply_error = h_reply_error,
    .reply_raw = h_reply_raw, .db_query = h_db_query, .db_ok = h_db_ok, .db_error = h_db_error,
    .db_ntuples = h_db_ntuples, .db_value = h_db_value, .db_json = h_db_json,
    .db_healthy = h_db_healthy, .stations = &stations, .uuid = h_uuid, .model = &model};

extern const struct pl_plugin pipelet_plugin;
static void *state;
static pl_request *reqs[256];
static int nreqs;

static void setup(void)
{
    memset(&mock, 0, sizeof mock);
    mock.outcome = PL_CMD_ACCEPTED;
    mock.station_in_db = 1;
    nroutes = 0;
    ck_assert_int_eq(pipelet_plugin.init(NULL, &host, &state), PL_OK);
}

static void teardown(void)
{
    pipelet_plugin.fini(state);
    for (int i = 0; i < nreqs; i++) {
        pl_request *r = reqs[i];
        json_decref(r->params);
        json_decref(r->query);
        json_decref(r->headers);
        json_decref(r->body);
        json_decref(r->reply);
        free(r);
    }
    nreqs = 0;
    for (int i = 0; i < mock.nall; i++) {
        json_decref(mock.all[i]->args);
        json_decref(mock.all[i]->result);
        free(mock.all[i]);
    }
    json_decref(mock.config_keys);
}

/* Call a route: params/query/headers as JSON objects, body as JSON text (or NULL). */
static pl_request *call(const char *method, const char *pattern, const char *params,
                        const char *query, const char *body, const char *headers)
{
    for (int i = 0; i < nroutes; i++) {
        if (strcmp(routes[i].method, method) || strcmp(routes[i].pattern, pattern))
            continue;
        pl_request *r = calloc(1, sizeof *r);
        r->params = json_loads(params ? params : "{}", 0, NULL);
        r->query = json_loads(query ? query : "{}", 0, NULL);
        r->headers = json_loads(headers ? headers : "{}", 0, NULL);
        r->body = body ? json_loads(body, JSON_DECODE_ANY, NULL) : NULL;
        r->scope = PL_AUTH_ADMIN;
        reqs[nreqs++] = r;
        routes[i].cb(r, routes[i].arg);
        return r;
    }
    ck_abort_msg("no route %s %s", method, pattern);
    return NULL;
}

static const char *code(pl_request *r) { return json_string_value(json_object_get(r->reply, "code")); }
static const char *error(pl_request *r) { return json_string_value(json_object_get(r->reply, "error")); }

#define CP1 "{\"id\":\"CP1\"}"
#define RESET "/api/v1/stations/{id}/reset"

/* ---------------------------------------------------------------- the contract */
START_TEST(every_route_is_registered_once)
{
    size_t n;
    const struct hl_route *r = hl_routes(&n);
    ck_assert_int_eq(nroutes, (int)n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            ck_assert_msg(strcmp(r[i].method, r[j].method) || strcmp(r[i].pattern, r[j].pattern),
                          "duplicate %s %s", r[i].method, r[i].pattern);
    /* commands need an operator key, reads a read key; a POST that only computes (a
     * tariff quote) is a read */
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(r[i].pattern);
        int quote = len > 6 && !strcmp(r[i].pattern + len - 6, "/quote");
        if ((!strcmp(r[i].method, "POST") && !quote) || !strcmp(r[i].method, "PUT") ||
            !strcmp(r[i].method, "DELETE"))
            ck_assert_int_ge(r[i].scope, PL_AUTH_OPERATOR);
    }
}
END_TEST

START_TEST(validation_names_the_field)
{
    pl_request *r = call("POST", RESET, CP1, NULL, "{\"type\":\"Medium\"}", NULL);
    ck_assert_int_eq(r->status, 400);
    ck_assert_str_eq(code(r), "INVALID_ENUM");
    ck_assert_str_eq(error(r), "type must be one of: Soft, Hard");

    r = call("POST", "/api/v1/transactions", NULL, NULL,
             "{\"station_id\":\"CP1\",\"connector\":\"one\",\"id_token\":\"T\"}", NULL);
    ck_assert_str_eq(code(r), "INVALID_PARAMETER");
    ck_assert_str_eq(error(r), "connector must be a positive integer");

    r = call("POST", "/api/v1/transactions", NULL, NULL, "{\"connector\":1}", NULL);
    ck_assert_str_eq(code(r), "MISSING_PARAMETER");
    ck_assert_str_eq(error(r), "station_id is required");

    r = call("POST", RESET, CP1, NULL, "[1,2]", NULL);
    ck_assert_str_eq(code(r), "INVALID_BODY");

    r = call("POST", RESET, CP1, "{\"timeout\":\"301\"}", NULL, NULL);
    ck_assert_str_eq(error(r), "timeout must be an integer between 1 and 300");

    r = call("POST", "/api/v1/stations/{id}/connectors/{c}/unlock", "{\"id\":\"CP1\",\"c\":\"0\"}",
             NULL, NULL, NULL);
    ck_assert_str_eq(error(r), "connector must be a positive integer");

    r = call("POST", "/api/v1/stations/{id}/firmware", CP1, NULL,
             "{\"location\":\"https://x/f\",\"retrieve_date\":\"tomorrow\"}", NULL);
    ck_assert_str_eq(code(r), "INVALID_PARAMETER");
    ck_assert_ptr_nonnull(strstr(error(r), "retrieve_date must be an RFC 3339"));

    r = call("PUT", "/api/v1/stations/{id}/local-list", CP1, NULL,
             "{\"version\":1,\"update_type\":\"Full\",\"entries\":[{\"id_token\":\"A\"},{}]}", NULL);
    ck_assert_str_eq(error(r), "entries[1].id_token is required");
    ck_assert_int_eq(mock.ncommands, 0);
}
END_TEST

START_TEST(outcomes_map_to_http)
{
    static const struct { int outcome; int http; const char *code; } cases[] = {
        {PL_CMD_ACCEPTED, 200, NULL},
        {PL_CMD_REJECTED, 409, "REJECTED_BY_STATION"},
        {PL_CMD_FAILED, 502, "STATION_ERROR"},
        {PL_CMD_TIMEOUT, 504, "STATION_TIMEOUT"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mock.outcome = cases[i].outcome;
        pl_request *r = call("POST", RESET, CP1, NULL, "{\"type\":\"Hard\"}", NULL);
        ck_assert_int_eq(r->status, cases[i].http);
        ck_assert_ptr_nonnull(json_object_get(r->reply, "command_id"));
        if (cases[i].code)
            ck_assert_str_eq(code(r), cases[i].code);
        else
            ck_assert_str_eq(json_string_value(json_object_get(r->reply, "status")), "Accepted");
    }
    /* a refusal carries the station's payload */
    mock.outcome = PL_CMD_REJECTED;
    pl_request *r = call("POST", RESET, CP1, NULL, NULL, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r->reply, "result"), "status")),
                     "Rejected");
    /* a CALLERROR names itself */
    mock.outcome = PL_CMD_FAILED;
    r = call("POST", RESET, CP1, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(strstr(error(r), "InternalError"));
}
END_TEST

START_TEST(refusals_at_send_map_to_http)
{
    static const struct { int rc; int http; const char *code; } cases[] = {
        {PL_EINVAL, 400, "VALIDATION_ERROR"}, {PL_EOFFLINE, 409, "STATION_OFFLINE"},
        {PL_ENOENT, 404, "STATION_NOT_FOUND"}, {PL_ENOTSUP, 501, "NOT_SUPPORTED"},
        {PL_EBUSY, 503, "STATION_BUSY"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mock.rc = cases[i].rc;
        pl_request *r = call("POST", RESET, CP1, NULL, NULL, NULL);
        ck_assert_int_eq(r->status, cases[i].http);
        ck_assert_str_eq(code(r), cases[i].code);
    }
    mock.rc = PL_EINVAL;
    pl_request *r = call("PUT", "/api/v1/stations/{id}/charging-profiles", CP1, NULL,
                         "{\"connector\":1,\"profile\":{}}", NULL);
    ck_assert_str_eq(error(r), "profile: missing chargingProfileId");
}
END_TEST

START_TEST(unknown_and_offline_stations)
{
    mock.station_in_db = 0;
    pl_request *r = call("POST", RESET, "{\"id\":\"CP9\"}", NULL, NULL, NULL);
    ck_assert_int_eq(r->status, 404);
    ck_assert_str_eq(code(r), "STATION_NOT_FOUND");
    mock.station_in_db = 1;
    r = call("POST", RESET, "{\"id\":\"CP9\"}", NULL, NULL, NULL);
    ck_assert_int_eq(r->status, 409);
    ck_assert_str_eq(code(r), "STATION_OFFLINE");
    ck_assert_int_eq(mock.ncommands, 0);
}
END_TEST

START_TEST(connector_checks_before_sending)
{
    const char *start = "{\"station_id\":\"CP1\",\"connector\":%d,\"id_token\":\"T\"}";
    char body[128];
    snprintf(body, sizeof body, start, 3);
    pl_request *r = call("POST", "/api/v1/transactions", NULL, NULL, body, NULL);
    ck_assert_int_eq(r->status, 404);
    ck_assert_str_eq(code(r), "CONNECTOR_NOT_FOUND");
    static const struct { const char *status, *code; } busy[] = {
        {"Faulted", "CONNECTOR_FAULTED"}, {"Unavailable", "CONNECTOR_UNAVAILABLE"},
        {"Charging", "CONNECTOR_OCCUPIED"}, {"SuspendedEV", "CONNECTOR_OCCUPIED"},
        {"SuspendedEVSE", "CONNECTOR_OCCUPIED"}, {"Finishing", "CONNECTOR_OCCUPIED"},
        {"Occupied", "CONNECTOR_OCCUPIED"}};
    snprintf(body, sizeof body, start, 2);
    for (size_t i = 0; i < sizeof busy / sizeof busy[0]; i++) {
        mock.connector2_status = busy[i].status;
        r = call("POST", "/api/v1/transactions", NULL, NULL, body, NULL);
        ck_assert_int_eq(r->status, 409);
        ck_assert_str_eq(code(r), busy[i].code);
    }
    mock.connector2_status = "Available";
    mock.active_tx = 1; /* the status lags, the database knows */
    r = call("POST", "/api/v1/transactions", NULL, NULL, body, NULL);
    ck_assert_str_eq(code(r), "CONNECTOR_OCCUPIED");
    ck_assert_int_eq(mock.ncommands, 0);
    mock.active_tx = 0;
    r = call("POST", "/api/v1/transactions", NULL, NULL, body, NULL);
    ck_assert_int_eq(r->status, 200);
    ck_assert_int_eq(mock.last->op, PL_OP_REMOTE_START);
    ck_assert_int_eq(json_integer_value(json_object_get(mock.last->args, "evse")), 2);
}
END_TEST

START_TEST(async_answers_202_and_never_twice)
{
    mock.deferred = 1;
    pl_request *r = call("POST", RESET, CP1, NULL, NULL, "{\"Prefer\":\"respond-async\"}");
    ck_assert_int_eq(r->status, 202);
    ck_assert_str_eq(json_string_value(json_object_get(r->reply, "status")), "pending");
    ck_assert_ptr_nonnull(strstr(r->headers_out, "Location: /api/v1/commands/c0000000-"));
    complete_pending(PL_CMD_ACCEPTED); /* h_reply_json asserts a single answer */

    pl_request *sync = call("POST", RESET, CP1, NULL, NULL, NULL);
    ck_assert_int_eq(sync->replied, 0); /* waits for the station */
    complete_pending(PL_CMD_ACCEPTED);
    ck_assert_int_eq(sync->status, 200);
}
END_TEST

START_TEST(restore_sorts_every_key_into_one_list)
{
    mock.config_keys = json_loads("[{\"key\":\"RO\",\"value\":\"1\",\"readonly\":true}]", 0, NULL);
    mock.deferred = 1;
    pl_request *r = call("POST", "/ocpp/v1/stations/{id}/configuration/restore", CP1, NULL,
                         "{\"keys\":[{\"key\":\"A\",\"value\":\"1\"},{\"key\":\"RO\",\"value\":\"2\"},"
                         "{\"key\":\"Reboot\",\"value\":true},{\"key\":\"B\",\"value\":3}]}",
                         NULL);
    complete_pending(PL_CMD_ACCEPTED); /* GET_CONFIGURATION */
    complete_pending(PL_CMD_ACCEPTED); /* A */
    complete_pending(PL_CMD_ACCEPTED); /* Reboot */
    complete_pending(PL_CMD_REJECTED); /* B */
    ck_assert_int_eq(r->status, 200);
    char *s = json_dumps(r->reply, JSON_COMPACT);
    ck_assert_str_eq(s, "{\"station\":\"CP1\",\"applied\":[\"A\",\"Reboot\"],"
                        "\"reboot_required\":[\"Reboot\"],\"readonly\":[\"RO\"],"
                        "\"rejected\":[{\"key\":\"B\",\"status\":\"Rejected\"}],\"failed\":[]}");
    free(s);
    ck_assert_str_eq(json_string_value(json_object_get(mock.last->args, "value")), "3");
}
END_TEST

START_TEST(credentials_need_an_admin_key)
{
    pl_request *r = calloc(1, sizeof *r);
    r->params = json_pack("{s:s, s:s}", "id", "CP1", "key", "AuthorizationKey");
    r->query = json_object();
    r->headers = json_object();
    r->body = json_pack("{s:s}", "value", "secret");
    r->scope = PL_AUTH_OPERATOR;
    reqs[nreqs++] = r;
    hl_config_put(r, state);
    ck_assert_int_eq(r->status, 403);
    ck_assert_int_eq(mock.ncommands, 0);
}
END_TEST

START_TEST(system_and_openapi)
{
    pl_request *r = call("GET", "/api/v1/system", NULL, NULL, NULL, NULL);
    ck_assert_int_eq(r->status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r->reply, "abi"), "major")), 1);
    ck_assert_int_eq(json_array_size(json_object_get(r->reply, "plugins")), 2);
    /* the plugin's part of the API description covers its whole route table */
    json_t *doc = json_loadb(headless_openapi_json, (size_t)headless_openapi_json_len, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    json_t *paths = json_object_get(doc, "paths");
    size_t n;
    const struct hl_route *rt = hl_routes(&n);
    for (size_t i = 0; i < n; i++) {
        if (rt[i].optional) /* the core serves and describes it */
            continue;
        char m[8];
        size_t k;
        for (k = 0; rt[i].method[k] && k < sizeof m - 1; k++)
            m[k] = (char)(rt[i].method[k] | 0x20);
        m[k] = '\0';
        ck_assert_msg(json_object_get(json_object_get(paths, rt[i].pattern), m),
                      "%s %s missing from openapi.json", rt[i].method, rt[i].pattern);
    }
    json_decref(doc);
}
END_TEST

START_TEST(cursors_and_times)
{
    char *c = hl_cursor_encode("CP-0001/ä");
    ck_assert_ptr_null(strpbrk(c, "+/="));
    free(c);
    ck_assert(hl_is_rfc3339("2026-11-24T19:00:00Z"));
    ck_assert(hl_is_rfc3339("2026-11-24T19:00:00.123+01:00"));
    ck_assert(!hl_is_rfc3339("2026-11-24 19:00"));
    ck_assert(!hl_is_rfc3339("yesterday"));
    pl_request *r = call("GET", "/api/v1/stations", NULL, "{\"cursor\":\"!!\"}", NULL, NULL);
    ck_assert_str_eq(code(r), "INVALID_PARAMETER");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("headless");
    TCase *t = tcase_create("contract");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, every_route_is_registered_once);
    tcase_add_test(t, validation_names_the_field);
    tcase_add_test(t, outcomes_map_to_http);
    tcase_add_test(t, refusals_at_send_map_to_http);
    tcase_add_test(t, unknown_and_offline_stations);
    tcase_add_test(t, connector_checks_before_sending);
    tcase_add_test(t, async_answers_202_and_never_twice);
    tcase_add_test(t, restore_sorts_every_key_into_one_list);
    tcase_add_test(t, credentials_need_an_admin_key);
    tcase_add_test(t, system_and_openapi);
    tcase_add_test(t, cursors_and_times);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
