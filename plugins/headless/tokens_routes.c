/*
 * tokens_routes.c — /api/v1/tokens (CRUD, block / unblock, bulk import as JSON or CSV),
 * local-list sync, and the token checks of a remote start.  The core owns the domain
 * (pipelet/tokens.h): this file validates what a client sends, calls host->tokens and
 * maps the domain's answer to HTTP, in one place (hl_domain_call) that customers.c
 * uses too.
 */
#include "headless.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define Q_MAX 200 /* longest ?q= */

static const char *const token_statuses[] = {"Accepted", "Blocked", "Expired", "Invalid", NULL};
static const char *const token_types[] = {"ISO14443", "ISO15693", "KeyCode", "eMAID", "Central",
                                          "MacAddress", "Local", "NoAuthorization", NULL};

/* ------------------------------------------------------------------------
 * The domain call and its answer.
 * ---------------------------------------------------------------------- */
typedef void (*pl_domain_call_fn)(const char *op, json_t *args, pl_domain_cb cb, void *arg);

struct hl_domain_call {
    struct headless *hl;
    pl_request *req;
    char resource[24];
    int status;
    hl_domain_ok_fn ok;
    void *udata;
};

void *hl_domain_udata(struct hl_domain_call *dc)
{
    return dc->udata;
}

struct headless *hl_domain_hl(struct hl_domain_call *dc)
{
    return dc->hl;
}

int hl_tokens_available(struct headless *hl, pl_request *req)
{
    if (hl->tokens)
        return 0;
    hl->host->reply_error(req, 501, "NOT_SUPPORTED",
                          "this gateway has no customers and tokens domain (ABI 1.2 needed)");
    return -1;
}

/* The core names what it refused as "row N: field: why" or "field: why"; clients get
 * row and field as values too, so a form or a spreadsheet can point at the cell. */
static void add_row_and_field(json_t *body, const char *msg)
{
    const char *p = msg;
    if (strncmp(p, "row ", 4) == 0 && isdigit((unsigned char)p[4])) {
        char *end;
        long row = strtol(p + 4, &end, 10);
        if (*end != ':')
            return;
        json_object_set_new(body, "row", json_integer(row));
        p = end + 1;
        while (*p == ' ')
            p++;
    }
    size_t n = 0;
    while (p[n] && (islower((unsigned char)p[n]) || p[n] == '_'))
        n++;
    /* stations[2]: the element of an array */
    if (p[n] == '[') {
        size_t m = n + 1;
        while (isdigit((unsigned char)p[m]))
            m++;
        if (p[m] == ']')
            n = m + 1;
    }
    /* "invalid value: ..." (a database check) and "header: ..." (CSV) name no field */
    if (n && p[n] == ':' && strncmp(p, "invalid", n) != 0 && strncmp(p, "header", n) != 0)
        json_object_set_new(body, "field", json_stringn(p, n));
}

void hl_reply_domain_error(struct headless *hl, pl_request *req, int rc, const char *error,
                           const char *resource)
{
    const struct pl_host *h = hl->host;
    const char *msg = error && *error ? error : "refused";
    char code[48];
    switch (rc) {
    case PL_EINVAL:
    case PL_EEXIST: {
        json_t *b = json_pack("{s:s, s:s}", "error", msg, "code",
                              rc == PL_EINVAL ? "INVALID_PARAMETER" : "ALREADY_EXISTS");
        add_row_and_field(b, msg);
        h->reply_json(req, rc == PL_EINVAL ? 400 : 409, b);
        return;
    }
    case PL_ENOENT: {
        size_t i = 0;
        for (; resource[i] && i < sizeof code - 11; i++)
            code[i] = (char)toupper((unsigned char)resource[i]);
        snprintf(code + i, sizeof code - i, "_NOT_FOUND");
        h->reply_error(req, 404, code, "%s", msg);
        return;
    }
    case PL_EOFFLINE:
        h->reply_error(req, 409, "STATION_OFFLINE", "%s", msg);
        return;
    case PL_EBUSY:
        h->reply_header(req, "Retry-After", "1");
        h->reply_error(req, 503, "STATION_BUSY", "%s", msg);
        return;
    case PL_ENOTSUP:
        h->reply_error(req, 501, "NOT_SUPPORTED", "%s", msg);
        return;
    case PL_ERR:
        h->reply_error(req, 503, "DATABASE_ERROR", "%s", msg);
        return;
    default:
        h->reply_error(req, 500, "INTERNAL_ERROR", "%s", msg);
    }
}

static void on_domain(void *arg, int rc, json_t *result, const char *error)
{
    struct hl_domain_call *dc = arg;
    if (rc != PL_OK)
        hl_reply_domain_error(dc->hl, dc->req, rc, error, dc->resource);
    else if (dc->ok)
        dc->ok(dc, dc->req, result);
    else
        dc->hl->host->reply_json(dc->req, dc->status, json_incref(result));
    free(dc);
}

static void domain_call(struct headless *hl, pl_domain_call_fn call, pl_request *req, const char *op,
                        json_t *args, const char *resource, int status, hl_domain_ok_fn ok,
                        void *udata)
{
    struct hl_domain_call *dc = calloc(1, sizeof *dc);
    if (!dc) {
        json_decref(args);
        hl->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    dc->hl = hl;
    dc->req = req;
    snprintf(dc->resource, sizeof dc->resource, "%s", resource);
    dc->status = status;
    dc->ok = ok;
    dc->udata = udata;
    call(op, args, on_domain, dc); /* may answer before returning */
}

void hl_domain_call(struct headless *hl, pl_request *req, const char *op, json_t *args,
                    const char *resource, int status, hl_domain_ok_fn ok, void *udata)
{
    domain_call(hl, hl->tokens->call, req, op, args, resource, status, ok, udata);
}

void hl_domain_call_with(struct headless *hl, pl_domain_call_fn call, pl_request *req, const char *op,
                         json_t *args, const char *resource, int status, hl_domain_ok_fn ok, void *udata)
{
    domain_call(hl, call, req, op, args, resource, status, ok, udata);
}

void hl_billing_call(struct headless *hl, pl_request *req, const char *op, json_t *args,
                     const char *resource, int status, hl_domain_ok_fn ok, void *udata)
{
    domain_call(hl, hl->billing->call, req, op, args, resource, status, ok, udata);
}

int hl_path_id(struct headless *hl, pl_request *req, char *buf, size_t len)
{
    const char *s = hl->host->req_param(req, "id");
    size_t n = s ? strlen(s) : 0;
    int ok = n > 0 && n <= 18 && n < len && s[0] != '0';
    for (size_t i = 0; ok && i < n; i++)
        ok = isdigit((unsigned char)s[i]) != 0;
    if (!ok) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER", "id must be a positive integer");
        return -1;
    }
    memcpy(buf, s, n + 1);
    return 0;
}

int hl_domain_page_args(struct headless *hl, pl_request *req, json_t *args)
{
    long limit;
    char *cursor;
    if (hl_page_params(hl, req, &limit, &cursor) < 0)
        return -1;
    int ok = 1;
    for (const char *p = cursor; p && *p; p++)
        ok &= isdigit((unsigned char)*p) != 0;
    if (!ok || (cursor && strlen(cursor) > 18)) {
        free(cursor);
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "cursor is not a cursor this API returned");
        return -1;
    }
    json_object_set_new(args, "limit", json_integer(limit));
    if (cursor)
        json_object_set_new(args, "cursor", json_string(cursor));
    free(cursor);
    return 0;
}

void hl_reply_domain_page(struct headless *hl, pl_request *req, json_t *result)
{
    const char *last = json_string_value(json_object_get(result, "next_cursor"));
    char *c = last ? hl_cursor_encode(last) : NULL;
    json_t *items = json_object_get(result, "items");
    hl->host->reply_json(req, 200, json_pack("{s:O, s:s?}", "items", items ? items : json_null(),
                                             "next_cursor", c));
    free(c);
}

void hl_domain_page_ok(struct hl_domain_call *dc, pl_request *req, json_t *result)
{
    hl_reply_domain_page(dc->hl, req, result);
}

void hl_domain_created(struct hl_domain_call *dc, pl_request *req, json_t *result)
{
    char loc[96];
    snprintf(loc, sizeof loc, "%s%" JSON_INTEGER_FORMAT, (const char *)dc->udata,
             json_integer_value(json_object_get(result, "id")));
    dc->hl->host->reply_header(req, "Location", loc);
    dc->hl->host->reply_json(req, 201, json_incref(result));
}

/* ------------------------------------------------------------------------
 * /api/v1/tokens
 * ---------------------------------------------------------------------- */
void hl_token_create(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    json_t *body;
    if (hl_tokens_available(hl, req) < 0 || !(body = hl_body(hl, req)))
        return;
    hl_domain_call(hl, req, "token.create", body, "token", 201, hl_domain_created, "/api/v1/tokens/");
}

/* ?status, ?type, ?customer_id, ?q, ?active plus the page into token.list args; 400 and
 * NULL when one is invalid.  New reference. */
static json_t *token_filters(struct headless *hl, pl_request *req)
{
    const char *status, *type, *q = hl->host->req_query(req, "q");
    long customer;
    int active, has_active;
    if (hl_query_enum(hl, req, "status", token_statuses, &status) < 0 ||
        hl_query_enum(hl, req, "type", token_types, &type) < 0 ||
        hl_query_int(hl, req, "customer_id", HL_OPTIONAL, 1, 999999999999999999L, 0, &customer) < 0 ||
        hl_query_bool(hl, req, "active", &active, &has_active) < 0)
        return NULL;
    if (q && strlen(q) > Q_MAX) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER", "q must be at most %d characters", Q_MAX);
        return NULL;
    }
    json_t *args = json_pack("{s:s?, s:s?, s:s?}", "status", status, "type", type, "q",
                             q && *q ? q : NULL);
    if (customer)
        json_object_set_new(args, "customer_id", json_integer(customer));
    if (has_active)
        json_object_set_new(args, "active", json_boolean(active));
    if (hl_domain_page_args(hl, req, args) < 0) {
        json_decref(args);
        return NULL;
    }
    return args;
}

void hl_token_list(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    json_t *args;
    if (hl_tokens_available(hl, req) < 0 || !(args = token_filters(hl, req)))
        return;
    hl_domain_call(hl, req, "token.list", args, "token", 200, hl_domain_page_ok, NULL);
}

/* An operation on /tokens/{id} without a body. */
void hl_domain_by_id(pl_request *req, struct headless *hl, const char *op, const char *resource,
                     int with_body)
{
    char id[24];
    json_t *args;
    if (hl_tokens_available(hl, req) < 0 || hl_path_id(hl, req, id, sizeof id) < 0)
        return;
    if (!with_body)
        args = json_object();
    else if (!(args = hl_body(hl, req)))
        return;
    json_object_set_new(args, "id", json_string(id)); /* the path names it */
    hl_domain_call(hl, req, op, args, resource, 200, NULL, NULL);
}

static void token_by_id(pl_request *req, struct headless *hl, const char *op)
{
    hl_domain_by_id(req, hl, op, "token", 0);
}

void hl_token_get(pl_request *req, void *arg)
{
    token_by_id(req, arg, "token.get");
}

void hl_token_delete(pl_request *req, void *arg)
{
    token_by_id(req, arg, "token.delete");
}

void hl_token_block(pl_request *req, void *arg)
{
    token_by_id(req, arg, "token.block");
}

void hl_token_unblock(pl_request *req, void *arg)
{
    token_by_id(req, arg, "token.unblock");
}

void hl_token_update(pl_request *req, void *arg)
{
    hl_domain_by_id(req, arg, "token.update", "token", 1);
}

/* ------------------------------------------------------------------------
 * POST /api/v1/tokens/import: JSON {"tokens":[...]} or [...], or text/csv.
 * ---------------------------------------------------------------------- */
static const char *const csv_columns[] = {"id_token", "type", "status", "expiry", "group_id",
                                          "customer_id", "contract_id", "stations", NULL};

struct csv {
    const char *p, *end;
    char *cell;     /* the cell being read (unquoted) */
    size_t len, cap;
    long row;       /* 0: the header, then data rows from 1 */
    char err[200];
};

static int cell_put(struct csv *c, char ch)
{
    if (c->len + 1 >= c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        char *n = realloc(c->cell, cap);
        if (!n)
            return -1;
        c->cell = n;
        c->cap = cap;
    }
    c->cell[c->len++] = ch;
    c->cell[c->len] = '\0';
    return 0;
}

/* One record (RFC 4180: quoted cells may hold commas, "" and line breaks; CRLF or LF)
 * into a new array of strings; NULL at the end of the input or on error (c->err). */
static json_t *csv_record(struct csv *c)
{
    if (c->p >= c->end)
        return NULL;
    json_t *rec = json_array();
    for (;;) {
        c->len = 0;
        if (!c->cell && (cell_put(c, ' ') < 0))
            goto oom;
        c->len = 0;
        c->cell[0] = '\0';
        if (c->p < c->end && *c->p == '"') {
            for (c->p++;; c->p++) {
                if (c->p >= c->end) {
                    snprintf(c->err, sizeof c->err, "a quoted field is not closed");
                    goto fail;
                }
                if (*c->p == '"') {
                    if (c->p + 1 < c->end && c->p[1] == '"')
                        c->p++;
                    else
                        break;
                }
                if (cell_put(c, *c->p) < 0)
                    goto oom;
            }
            c->p++;
            if (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
                snprintf(c->err, sizeof c->err, "text after a closing quote");
                goto fail;
            }
        } else {
            for (; c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r'; c->p++) {
                if (*c->p == '"') {
                    snprintf(c->err, sizeof c->err, "a quote inside an unquoted field");
                    goto fail;
                }
                if (cell_put(c, *c->p) < 0)
                    goto oom;
            }
        }
        json_array_append_new(rec, json_stringn(c->cell, c->len));
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '\r')
            c->p++;
        if (c->p < c->end && *c->p == '\n')
            c->p++;
        return rec;
    }
oom:
    snprintf(c->err, sizeof c->err, "out of memory");
fail:
    json_decref(rec);
    return NULL;
}

/* A data cell into the token's field: empty cells are left out, customer_id is a
 * number, stations are separated by '|'. */
static int csv_cell(struct csv *c, json_t *tok, const char *col, const char *v)
{
    if (!*v)
        return 0;
    if (strcmp(col, "customer_id") == 0) {
        char *end;
        long long id = strtoll(v, &end, 10);
        if (*end || id <= 0 || !isdigit((unsigned char)*v)) {
            snprintf(c->err, sizeof c->err, "customer_id: must be a positive integer");
            return -1;
        }
        json_object_set_new(tok, col, json_integer(id));
    } else if (strcmp(col, "stations") == 0) {
        json_t *list = json_array();
        for (const char *s = v;; s++) {
            const char *bar = strchr(s, '|');
            size_t n = bar ? (size_t)(bar - s) : strlen(s);
            json_array_append_new(list, json_stringn(s, n));
            if (!bar)
                break;
            s = bar;
        }
        json_object_set_new(tok, col, list);
    } else {
        json_object_set_new(tok, col, json_string(v));
    }
    return 0;
}

/* The header: known column names, each once, id_token among them. */
static int csv_header(struct csv *c, json_t *head)
{
    size_t i, j;
    json_t *v;
    if (!head) {
        char why[160];
        snprintf(why, sizeof why, "%.150s", *c->err ? c->err : "a header row is required");
        snprintf(c->err, sizeof c->err, "header: %s", why);
        return -1;
    }
    int has_id = 0;
    json_array_foreach(head, i, v) {
        const char *name = json_string_value(v);
        int known = 0;
        for (j = 0; csv_columns[j]; j++)
            known |= strcmp(name, csv_columns[j]) == 0;
        if (!known) {
            snprintf(c->err, sizeof c->err,
                     "header: column \"%.40s\" is unknown (columns: id_token, type, status, expiry, "
                     "group_id, customer_id, contract_id, stations)", name);
            return -1;
        }
        for (j = 0; j < i; j++)
            if (strcmp(name, json_string_value(json_array_get(head, j))) == 0) {
                snprintf(c->err, sizeof c->err, "header: column %.40s appears twice", name);
                return -1;
            }
        has_id |= strcmp(name, "id_token") == 0;
    }
    if (!has_id) {
        snprintf(c->err, sizeof c->err, "header: an id_token column is required");
        return -1;
    }
    return 0;
}

/* One data record into a token appended to out: 0, 1 at the end of the data, -1 on an
 * error (c->err, without the row). */
static int csv_row(struct csv *c, json_t *head, json_t *rec, json_t *out)
{
    if (json_array_size(rec) == 1 && !*json_string_value(json_array_get(rec, 0))) {
        /* a blank line: allowed only at the end */
        while (c->p < c->end && (*c->p == '\n' || *c->p == '\r'))
            c->p++;
        if (c->p >= c->end)
            return 1;
        snprintf(c->err, sizeof c->err, "an empty line");
        return -1;
    }
    if (json_array_size(rec) != json_array_size(head)) {
        snprintf(c->err, sizeof c->err, "%zu fields where the header has %zu",
                 json_array_size(rec), json_array_size(head));
        return -1;
    }
    json_t *tok = json_object();
    json_array_append_new(out, tok);
    size_t i;
    json_t *v;
    json_array_foreach(rec, i, v) {
        if (csv_cell(c, tok, json_string_value(json_array_get(head, i)), json_string_value(v)) < 0)
            return -1;
    }
    return 0;
}

/* CSV text into an array of token objects; NULL with c->err ("row N: ...") on error.
 * Rows are counted from the first line after the header, as the core counts them. */
static json_t *csv_tokens(struct csv *c)
{
    if (c->end - c->p >= 3 && memcmp(c->p, "\xEF\xBB\xBF", 3) == 0)
        c->p += 3; /* a spreadsheet's byte order mark */
    json_t *head = csv_record(c);
    if (csv_header(c, head) < 0) {
        json_decref(head);
        return NULL;
    }
    json_t *out = json_array();
    int rc = 0;
    while (rc == 0) {
        json_t *rec = csv_record(c);
        c->row++;
        rc = rec ? csv_row(c, head, rec, out) : *c->err ? -1 : 1;
        json_decref(rec);
    }
    json_decref(head);
    if (rc < 0) {
        char why[160];
        snprintf(why, sizeof why, "%.150s", c->err);
        snprintf(c->err, sizeof c->err, "row %ld: %s", c->row, why);
        json_decref(out);
        return NULL;
    }
    return out;
}

static int is_csv(struct headless *hl, pl_request *req)
{
    const char *ct = hl->host->req_header(req, "Content-Type");
    while (ct && *ct == ' ')
        ct++;
    return ct && strncasecmp(ct, "text/csv", 8) == 0;
}

void hl_tokens_import(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const struct pl_host *h = hl->host;
    if (hl_tokens_available(hl, req) < 0)
        return;
    json_t *list;
    if (is_csv(hl, req)) {
        size_t len = 0;
        struct csv c = {0};
        c.p = h->req_body(req, &len);
        c.end = c.p + len;
        list = csv_tokens(&c);
        free(c.cell);
        if (!list) {
            hl_reply_domain_error(hl, req, PL_EINVAL, c.err, "token");
            return;
        }
    } else {
        json_t *b = h->req_json(req);
        list = json_is_array(b) ? json_incref(b) : json_incref(json_object_get(b, "tokens"));
        if (!b) {
            h->reply_error(req, 400, "MISSING_PARAMETER",
                           "tokens is required: {\"tokens\":[...]}, a JSON array, or text/csv");
            return;
        }
    }
    hl_domain_call(hl, req, "tokens.import", json_pack("{s:o?}", "tokens", list), "token", 201,
                   NULL, NULL);
}

/* ------------------------------------------------------------------------
 * POST /api/v1/stations/{id}/local-list/sync
 * ---------------------------------------------------------------------- */
struct sync_ctx {
    char station[HL_STATION_ID_MAX + 1];
    char update_type[16];
};

static void sync_ok(struct hl_domain_call *dc, pl_request *req, json_t *result)
{
    char loc[96];
    snprintf(loc, sizeof loc, "/api/v1/commands/%s",
             json_string_value(json_object_get(result, "command_id")));
    dc->hl->host->reply_header(req, "Location", loc);
    dc->hl->host->reply_json(req, 202, json_incref(result));
}

static void sync_station_checked(struct headless *hl, pl_request *req, void *arg, int exists)
{
    struct sync_ctx *s = arg;
    (void)exists;
    if (req)
        hl_domain_call(hl, req, "local_list.sync",
                       json_pack("{s:s, s:s?}", "station_id", s->station, "update_type",
                                 *s->update_type ? s->update_type : NULL),
                       "station", 202, sync_ok, NULL);
    free(s);
}

void hl_local_list_sync(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    static const char *const types[] = {"Full", "Differential", NULL};
    const char *id, *type;
    json_t *body;
    if (hl_tokens_available(hl, req) < 0 || hl_path_station(hl, req, &id) < 0 ||
        !(body = hl_body(hl, req)))
        return;
    int bad = hl_body_enum(hl, req, body, "update_type", HL_OPTIONAL, types, &type) < 0;
    struct sync_ctx *s = bad ? NULL : calloc(1, sizeof *s);
    if (!bad && !s)
        hl->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
    if (s) {
        snprintf(s->station, sizeof s->station, "%s", id);
        snprintf(s->update_type, sizeof s->update_type, "%s", type ? type : "");
        hl_station_require(hl, req, s->station, 1, sync_station_checked, s);
    }
    json_decref(body);
}

/* ------------------------------------------------------------------------
 * The token checks of a remote start.
 * ---------------------------------------------------------------------- */
struct start_check {
    struct headless *hl;
    char *station, *token, *group;
    int connector;
    hl_start_check_cb cb;
    void *arg;
};

static void check_end(struct start_check *sc, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void check_end(struct start_check *sc, int status, const char *code, const char *fmt, ...)
{
    char msg[300] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    sc->cb(sc->arg, status, code, fmt ? msg : NULL);
    free(sc->station);
    free(sc->token);
    free(sc->group);
    free(sc);
}

/* A reservation of the connector that is still open and held by another token (or
 * another group): its id, or 0. */
static long long foreign_reservation(struct start_check *sc, json_t *reservations)
{
    size_t i;
    json_t *r;
    json_array_foreach(reservations, i, r) {
        const char *holder = json_string_value(json_object_get(r, "id_token"));
        const char *parent = json_string_value(json_object_get(r, "parent"));
        const char *expiry = json_string_value(json_object_get(r, "expiry"));
        if (expiry && hl_seconds_since(expiry) != 0)
            continue; /* expired (or unreadable: the station decides) */
        if ((holder && strcmp(holder, sc->token) == 0) ||
            (parent && sc->group && strcmp(parent, sc->group) == 0))
            continue;
        return (long long)json_integer_value(json_object_get(r, "reservation_id"));
    }
    return 0;
}

static void on_station_state(pl_db_result *res, void *arg)
{
    struct start_check *sc = arg;
    const struct pl_host *h = sc->hl->host;
    if (!h->db_ok(res)) {
        check_end(sc, 503, "DATABASE_ERROR", "database error: %s", h->db_error(res));
        return;
    }
    json_t *rows = h->db_json(res);
    json_t *row = json_array_get(rows, 0);
    json_t *busy = json_object_get(row, "busy_evse");
    long long rid = foreign_reservation(sc, json_object_get(row, "reservations"));
    if (json_is_integer(busy))
        check_end(sc, 409, "CONCURRENT_TRANSACTION",
                  "token %s is already charging at connector %" JSON_INTEGER_FORMAT " of %s",
                  sc->token, json_integer_value(busy), sc->station);
    else if (rid)
        check_end(sc, 409, "CONNECTOR_RESERVED",
                  "connector %d of %s is reserved for another token (reservation %lld)",
                  sc->connector, sc->station, rid);
    else
        check_end(sc, 0, NULL, NULL);
    json_decref(rows);
}

/* The table decides across stations; a second connector of this station and the
 * station's reservations are read from the model tables.  Without a connector the
 * station picks one: a transaction of this token already running there may be the one
 * the remote start authorizes (2.0.1 answers with its transactionId), so only another
 * station counts then. */
static void check_station(struct start_check *sc)
{
    static const char SQL[] =
        "SELECT (SELECT x.evse FROM transactions x WHERE x.station_id = $1 AND x.id_token = $2 "
        "AND x.stopped_at IS NULL AND $3::int > 0 AND x.evse IS DISTINCT FROM $3::int "
        "AND NOT EXISTS (SELECT 1 FROM id_tokens t JOIN customers c ON c.id = t.customer_id "
        "WHERE t.id_token = $2 AND c.allow_concurrent) ORDER BY x.id LIMIT 1) AS busy_evse, "
        "(SELECT coalesce(json_agg(d.value ORDER BY d.key), '[]'::json) FROM station_docs d "
        "WHERE d.station_id = $1 AND d.kind = 'reservation' AND $3::int > 0 "
        "AND d.value->>'evse' = $3::text AND NOT EXISTS (SELECT 1 FROM transactions x "
        "WHERE x.station_id = $1 AND x.reservation_id::text = d.key)) AS reservations";
    char connector[16];
    snprintf(connector, sizeof connector, "%d", sc->connector);
    const char *p[3] = {sc->station, sc->token, connector};
    if (sc->hl->host->db_query(sc->hl->self, SQL, 3, p, on_station_state, sc) < 0)
        check_end(sc, 503, "DATABASE_ERROR", "database queue is full");
}

static void on_start_authorized(void *arg, json_t *info)
{
    struct start_check *sc = arg;
    const char *status = json_string_value(json_object_get(info, "status"));
    if (!info || !status) {
        check_end(sc, 503, "DATABASE_ERROR",
                  "no authorization decision: the token table is not loaded");
        return;
    }
    if (strcmp(status, "Accepted") == 0) {
        const char *g = json_string_value(json_object_get(info, "group"));
        if (!g)
            g = json_string_value(json_object_get(info, "parent"));
        sc->group = g ? strdup(g) : NULL;
        check_station(sc);
        return;
    }
    if (strcmp(status, "ConcurrentTx") == 0) {
        check_end(sc, 409, "CONCURRENT_TRANSACTION",
                  "token %s is already charging at another station", sc->token);
        return;
    }
    if (strcmp(status, "Expired") == 0) {
        check_end(sc, 409, "TOKEN_EXPIRED", "token %s has expired", sc->token);
        return;
    }
    json_t *known = sc->hl->tokens->lookup(sc->token, NULL);
    int unknown = !known && (strcmp(status, "Invalid") == 0 || strcmp(status, "Unknown") == 0);
    json_decref(known);
    if (unknown)
        check_end(sc, 409, "TOKEN_UNKNOWN", "token %s is unknown here and was refused",
                  sc->token);
    else
        check_end(sc, 409, "TOKEN_BLOCKED", "token %s may not charge here (%s)", sc->token,
                  status);
}

void hl_remote_start_refusal(struct headless *hl, const char *station_id, int connector,
                             const char *id_token, hl_start_check_cb cb, void *arg)
{
    if (!hl->tokens) { /* an older host decides nothing here: the station does */
        cb(arg, 0, NULL, NULL);
        return;
    }
    struct start_check *sc = calloc(1, sizeof *sc);
    if (!sc || !(sc->station = strdup(station_id)) || !(sc->token = strdup(id_token))) {
        if (sc)
            free(sc->station);
        free(sc);
        cb(arg, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    sc->hl = hl;
    sc->connector = connector;
    sc->cb = cb;
    sc->arg = arg;
    struct pl_id_token tok = {.size = sizeof tok, .value = sc->token, .station_id = sc->station,
                              .evse = connector > 0 ? connector : 0};
    hl->tokens->authorize(&tok, on_start_authorized, sc); /* may answer at once */
}
