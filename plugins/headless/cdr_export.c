/*
 * cdr_export.c — GET /api/v1/cdrs/export: every charge detail record that matches, as
 * CSV (RFC 4180) or JSON lines, streamed a page at a time.  The next page is read only
 * once the previous one was accepted by the connection (the host refuses a write while
 * a slow reader has megabytes queued: the page is kept and offered again shortly), so an
 * export of a million records holds one page and the socket's buffer, not the million.
 */
#include "headless.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_PAGE 500
#define EXPORT_RETRY_MS 20 /* a slow reader: offer the page again after */

struct hl_export {
    struct hl_export *next;
    struct headless *hl;
    pl_request *req;
    pl_timer *timer;
    json_t *filters;   /* the cdr.list arguments but the page */
    char cursor[24];   /* the last id written */
    int csv;
    int gone;          /* the client went away */
    int reading;       /* a page is being read */
    char *page;        /* formatted, not yet accepted */
    size_t page_len;
    int last_page;     /* the page held is the last one */
};

static const char *const csv_columns[] = {
    "id", "transaction_id", "station_id", "station_tx_id", "evse", "connector", "id_token",
    "customer_id", "started_at", "stopped_at", "energy_wh", "charging_seconds", "parking_seconds",
    "tariff_id", "tariff_revision", "currency", "total_excl_vat", "total_incl_vat", "status", NULL};

static void export_free(struct hl_export *e)
{
    struct headless *hl = e->hl;
    for (struct hl_export **pp = &hl->exports; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    hl->host->timer_free(e->timer);
    hl->host->reply_stream_end(e->req);
    json_decref(e->filters);
    free(e->page);
    free(e);
}

/* One CSV field, quoted when it holds a separator, a quote or a line break. */
static void csv_field(FILE *f, json_t *v)
{
    char num[40];
    const char *s = json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = num;
    } else if (json_is_real(v)) {
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        s = num;
    }
    if (!s)
        return; /* null: an empty cell */
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_row(FILE *f, json_t *cdr)
{
    json_t *total = json_object_get(cdr, "total");
    for (int i = 0; csv_columns[i]; i++) {
        if (i)
            fputc(',', f);
        const char *k = csv_columns[i];
        json_t *v = !strcmp(k, "total_excl_vat")   ? json_object_get(total, "excl_vat")
                    : !strcmp(k, "total_incl_vat") ? json_object_get(total, "incl_vat")
                                                   : json_object_get(cdr, k);
        csv_field(f, v);
    }
    fputs("\r\n", f);
}

static void next_page(struct hl_export *e);

/* Offer the page held; 1 when the export is over (finished or the client gone). */
static int offer(struct hl_export *e)
{
    const struct pl_host *h = e->hl->host;
    if (e->gone)
        return 1;
    if (e->page_len) {
        int rc = h->reply_stream_write(e->req, e->page, e->page_len);
        if (rc == PL_EBUSY) { /* the reader is behind: the same page, a little later */
            h->timer_start(e->timer, EXPORT_RETRY_MS, 0);
            return 0;
        }
        if (rc != PL_OK)
            return 1;
    }
    free(e->page);
    e->page = NULL;
    e->page_len = 0;
    return e->last_page;
}

static void retry(void *arg)
{
    struct hl_export *e = arg;
    if (offer(e))
        export_free(e);
    else if (!e->page)
        next_page(e);
}

static void page_read(void *arg, int rc, json_t *result, const char *error)
{
    struct hl_export *e = arg;
    e->reading = 0;
    if (e->gone) {
        export_free(e);
        return;
    }
    if (rc != PL_OK) { /* the status line is out: all that is left is to end short */
        e->hl->host->log(e->hl->self, PL_LOG_WARN, "CDR export ended early: %s", error ? error : "");
        export_free(e);
        return;
    }
    json_t *items = json_object_get(result, "items"), *cdr;
    size_t i;
    FILE *f = open_memstream(&e->page, &e->page_len);
    if (!f) {
        export_free(e);
        return;
    }
    json_array_foreach(items, i, cdr) {
        if (e->csv) {
            csv_row(f, cdr);
        } else {
            char *line = json_dumps(cdr, JSON_COMPACT);
            if (line) {
                fputs(line, f);
                fputc('\n', f);
            }
            free(line);
        }
    }
    fclose(f);
    json_t *last = json_array_get(items, json_array_size(items) - 1);
    if (last)
        snprintf(e->cursor, sizeof e->cursor, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(last, "id")));
    e->last_page = json_array_size(items) < EXPORT_PAGE;
    if (offer(e))
        export_free(e);
    else if (!e->page)
        next_page(e);
}

static void next_page(struct hl_export *e)
{
    json_t *args = json_deep_copy(e->filters);
    json_object_set_new(args, "limit", json_integer(EXPORT_PAGE));
    if (e->cursor[0])
        json_object_set_new(args, "cursor", json_string(e->cursor));
    e->reading = 1;
    e->hl->billing->call("cdr.list", args, page_read, e); /* may answer before returning */
}

static void client_gone(pl_request *req, void *arg)
{
    struct hl_export *e = arg;
    (void)req;
    e->gone = 1;
    if (e->reading || e->page)
        return; /* the page being read, or the timer, ends it */
    export_free(e);
}

void hl_cdr_export(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    static const char *const formats[] = {"csv", "jsonl", NULL};
    const char *format = NULL;
    json_t *filters;
    if (!hl->billing) {
        hl->host->reply_error(req, 501, "NOT_SUPPORTED", "this gateway has no tariffs domain");
        return;
    }
    if (hl_query_enum(hl, req, "format", formats, &format) < 0 || !(filters = hl_cdr_filters(hl, req)))
        return;
    struct hl_export *e = calloc(1, sizeof *e);
    if (!e || !(e->timer = hl->host->timer_new(hl->self, retry, e))) {
        free(e);
        json_decref(filters);
        hl->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    e->hl = hl;
    e->req = req;
    e->csv = !format || !strcmp(format, "csv");
    e->filters = filters;
    hl->host->reply_header(req, "Content-Disposition", e->csv ? "attachment; filename=\"cdrs.csv\""
                                                               : "attachment; filename=\"cdrs.jsonl\"");
    if (hl->host->reply_stream_begin(req, 200, e->csv ? "text/csv; charset=utf-8" : "application/x-ndjson") != PL_OK) {
        hl->host->timer_free(e->timer);
        json_decref(e->filters);
        free(e);
        return;
    }
    e->next = hl->exports;
    hl->exports = e;
    hl->host->req_on_close(req, client_gone, e);
    if (e->csv) {
        FILE *f = open_memstream(&e->page, &e->page_len);
        for (int i = 0; f && csv_columns[i]; i++)
            fprintf(f, "%s%s", i ? "," : "", csv_columns[i]);
        if (f) {
            fputs("\r\n", f);
            fclose(f);
        }
        if (offer(e)) {
            export_free(e);
            return;
        }
        if (e->page)
            return; /* the timer offers the header again, then reads */
    }
    next_page(e);
}

void hl_exports_free(struct headless *hl)
{
    while (hl->exports) {
        hl->exports->gone = 1;
        export_free(hl->exports);
    }
}
