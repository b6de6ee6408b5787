/*
 * customers.c — /api/v1/customers and /api/v1/customer-groups: CRUD through the core's
 * domain (host->tokens), a customer's tokens, and its transactions (those whose id_token is one of its tokens,
 * read from the documented transactions and id_tokens tables).
 */
#include "headless.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Q_MAX 200

/* The columns of GET /api/v1/transactions (transactions.c), so a customer's sessions
 * read exactly like the others. */
#define TS(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define TX_COLUMNS                                                                          \
    "t.id, t.station_id, t.station_tx_id, t.evse, t.connector, t.id_token, "                \
    "t.id_token_type, t.reservation_id, t.meter_start, t.meter_last, t.meter_stop, "        \
    TS("t.started_at") " AS started_at, " TS("t.stopped_at") " AS stopped_at, "             \
    "t.stop_reason, t.stop_id_token, t.charging_state, t.seq_no, t.cost::float8 AS cost, "  \
    TS("t.updated_at") " AS updated_at, (t.stopped_at IS NULL) AS active, "                 \
    "coalesce(t.meter_stop, t.meter_last, (SELECT max(mv.value) FROM meter_values mv "      \
    "WHERE mv.transaction_id = t.id AND mv.measurand = 'Energy.Active.Import.Register' "    \
    "AND coalesce(mv.unit, 'Wh') = 'Wh'), t.meter_start) - t.meter_start AS energy_wh"

void hl_customer_create(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    json_t *body;
    if (hl_tokens_available(hl, req) < 0 || !(body = hl_body(hl, req)))
        return;
    hl_domain_call(hl, req, "customer.create", body, "customer", 201, hl_domain_created, "/api/v1/customers/");
}

void hl_customer_list(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    static const char *const statuses[] = {"active", "suspended", NULL};
    const char *status, *q = hl->host->req_query(req, "q");
    long group = 0;
    if (hl_tokens_available(hl, req) < 0 || hl_query_enum(hl, req, "status", statuses, &status) < 0 ||
        hl_query_int(hl, req, "customer_group_id", HL_OPTIONAL, 1, 0x7fffffffL, 0, &group) < 0)
        return;
    if (q && strlen(q) > Q_MAX) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER", "q must be at most %d characters", Q_MAX);
        return;
    }
    json_t *args = json_pack("{s:s?, s:s?}", "status", status, "q", q && *q ? q : NULL);
    if (group)
        json_object_set_new(args, "customer_group_id", json_integer(group));
    if (hl_domain_page_args(hl, req, args) < 0) {
        json_decref(args);
        return;
    }
    hl_domain_call(hl, req, "customer.list", args, "customer", 200, hl_domain_page_ok, NULL);
}

void hl_customer_get(pl_request *req, void *arg)
{
    hl_domain_by_id(req, arg, "customer.get", "customer", 0);
}

void hl_customer_delete(pl_request *req, void *arg)
{
    hl_domain_by_id(req, arg, "customer.delete", "customer", 0);
}

void hl_customer_update(pl_request *req, void *arg)
{
    hl_domain_by_id(req, arg, "customer.update", "customer", 1);
}

/* ------------------------------------------------------------------------
 * /api/v1/customer-groups: customers that share a tariff (pipelet/tokens.h).
 * ---------------------------------------------------------------------- */
void hl_customer_group_create(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    json_t *body;
    if (hl_tokens_available(hl, req) < 0 || !(body = hl_body(hl, req)))
        return;
    hl_domain_call(hl, req, "customer_group.create", body, "customer_group", 201, hl_domain_created,
                   "/api/v1/customer-groups/");
}

void hl_customer_group_list(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const char *q = hl->host->req_query(req, "q");
    if (hl_tokens_available(hl, req) < 0)
        return;
    if (q && strlen(q) > Q_MAX) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER", "q must be at most %d characters", Q_MAX);
        return;
    }
    json_t *args = json_pack("{s:s?}", "q", q && *q ? q : NULL);
    if (hl_domain_page_args(hl, req, args) < 0) {
        json_decref(args);
        return;
    }
    hl_domain_call(hl, req, "customer_group.list", args, "customer_group", 200, hl_domain_page_ok, NULL);
}

void hl_customer_group_get(pl_request *req, void *arg)
{
    hl_domain_by_id(req, arg, "customer_group.get", "customer_group", 0);
}

void hl_customer_group_delete(pl_request *req, void *arg)
{
    hl_domain_by_id(req, arg, "customer_group.delete", "customer_group", 0);
}

void hl_customer_group_update(pl_request *req, void *arg)
{
    hl_domain_by_id(req, arg, "customer_group.update", "customer_group", 1);
}

/* ------------------------------------------------------------------------
 * Sub-resources: the customer must exist (404), then its tokens or transactions.
 * ---------------------------------------------------------------------- */
struct sub_ctx {
    struct headless *hl;
    pl_request *req;
    char id[24];
    json_t *args;    /* tokens: the token.list arguments */
    long limit;      /* transactions: the page */
    char cursor[24];
};

static void sub_free(struct sub_ctx *s)
{
    json_decref(s->args);
    free(s);
}

/* Check the customer, then next(s); on a refusal answer and free s. */
static void sub_start(struct sub_ctx *s, pl_domain_cb next)
{
    s->hl->tokens->call("customer.get", json_pack("{s:s}", "id", s->id), next, s);
}

static int sub_refused(struct sub_ctx *s, int rc, const char *error)
{
    if (rc == PL_OK)
        return 0;
    hl_reply_domain_error(s->hl, s->req, rc, error, "customer");
    sub_free(s);
    return 1;
}

static struct sub_ctx *sub_new(struct headless *hl, pl_request *req)
{
    struct sub_ctx *s = calloc(1, sizeof *s);
    if (!s) {
        hl->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return NULL;
    }
    s->hl = hl;
    s->req = req;
    if (hl_path_id(hl, req, s->id, sizeof s->id) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

static void tokens_of_customer(void *arg, int rc, json_t *result, const char *error)
{
    struct sub_ctx *s = arg;
    (void)result;
    if (sub_refused(s, rc, error))
        return;
    json_t *args = s->args;
    s->args = NULL;
    hl_domain_call(s->hl, s->req, "token.list", args, "token", 200, hl_domain_page_ok, NULL);
    sub_free(s);
}

void hl_customer_tokens(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    struct sub_ctx *s;
    if (hl_tokens_available(hl, req) < 0 || !(s = sub_new(hl, req)))
        return;
    s->args = json_pack("{s:s}", "customer_id", s->id);
    if (hl_domain_page_args(hl, req, s->args) < 0) {
        sub_free(s);
        return;
    }
    sub_start(s, tokens_of_customer);
}

static void on_transactions(pl_db_result *res, void *arg)
{
    struct sub_ctx *s = arg;
    const struct pl_host *h = s->hl->host;
    if (!h->db_ok(res)) {
        h->reply_error(s->req, 503, "DATABASE_ERROR", "database error: %s", h->db_error(res));
        sub_free(s);
        return;
    }
    json_t *rows = h->db_json(res);
    char *next = NULL;
    if (json_array_size(rows) > (size_t)s->limit) { /* one more than a page: not the last */
        json_array_remove(rows, (size_t)s->limit);
        char last[32];
        snprintf(last, sizeof last, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(json_array_get(rows, (size_t)s->limit - 1), "id")));
        next = hl_cursor_encode(last);
    }
    h->reply_json(s->req, 200, json_pack("{s:o, s:s?}", "items", rows, "next_cursor", next));
    free(next);
    sub_free(s);
}

/* Newest first, as GET /transactions; the cursor is the last id of the page. */
static void transactions_of_customer(void *arg, int rc, json_t *result, const char *error)
{
    struct sub_ctx *s = arg;
    (void)result;
    if (sub_refused(s, rc, error))
        return;
    char lim[24];
    snprintf(lim, sizeof lim, "%ld", s->limit + 1);
    const char *p[3] = {s->id, *s->cursor ? s->cursor : NULL, lim};
    if (s->hl->host->db_query(s->hl->self,
                              "SELECT " TX_COLUMNS " FROM transactions t WHERE t.id_token IN "
                              "(SELECT i.id_token FROM id_tokens i WHERE i.customer_id = $1::bigint) "
                              "AND ($2::bigint IS NULL OR t.id < $2::bigint) "
                              "ORDER BY t.id DESC LIMIT $3::int",
                              3, p, on_transactions, s) < 0) {
        s->hl->host->reply_header(s->req, "Retry-After", "1");
        s->hl->host->reply_error(s->req, 503, "DATABASE_BUSY", "database queue is full");
        sub_free(s);
    }
}

void hl_customer_transactions(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    struct sub_ctx *s;
    if (hl_tokens_available(hl, req) < 0 || !(s = sub_new(hl, req)))
        return;
    json_t *page = json_object();
    if (hl_domain_page_args(hl, req, page) < 0) {
        json_decref(page);
        sub_free(s);
        return;
    }
    s->limit = (long)json_integer_value(json_object_get(page, "limit"));
    snprintf(s->cursor, sizeof s->cursor, "%s",
             json_string_value(json_object_get(page, "cursor")) ? json_string_value(json_object_get(page, "cursor")) : "");
    json_decref(page);
    sub_start(s, transactions_of_customer);
}
