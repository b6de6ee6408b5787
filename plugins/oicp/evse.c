/*
 * evse.c — the operator's EVSEs as Hubject sees them.
 *
 * A station takes part in roaming once its EVSE master data is stored (PUT
 * /api/v1/hubject/stations/{id}: address, coordinates, plugs, power, ... — the OICP
 * EvseDataRecord fields its EVSEs share).  Each of its EVSEs gets an EvseID, by default
 * "<OperatorID>*E<station id, letters and digits>*<evse>", or the one the record names.
 *
 * Pushes: the data (PushEvseData) fullLoad at start, on POST /sync and every
 * data_interval_s, insert/update/delete when a record changes; the status
 * (PushEvseStatus) fullLoad at start and on sync, then every change, coalesced per
 * EvseID for status_delay_ms into one update, retried with back-off until Hubject
 * acknowledges it (a newer status of the same EVSE replaces a waiting one).
 */
#include "oicp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_BACKOFF_MAX_MS 60000

struct oicp_status_change {
    struct oicp_status_change *next;
    char *evse_id;
    char status[16];
};

/* ---------- EvseIDs and records ---------- */

static void location_free(struct oicp_location *l)
{
    if (!l)
        return;
    free(l->station_id);
    json_decref(l->data);
    for (size_t i = 0; i < l->nevses; i++)
        free(l->evse_ids[i]);
    free(l->evses);
    free(l->evse_ids);
    free(l);
}

static char *default_evse_id(struct oicp *o, const char *station_id, int evse)
{
    char tail[16], clean[40];
    snprintf(tail, sizeof tail, "*%d", evse);
    /* EvseID: <OperatorID>*E followed by at most 30 of [A-Za-z0-9*] */
    size_t room = 30 - strlen(tail), n = 0;
    for (const char *p = station_id; *p && n < room; p++)
        if (isalnum((unsigned char)*p))
            clean[n++] = (char)toupper((unsigned char)*p);
    clean[n] = '\0';
    char buf[80];
    snprintf(buf, sizeof buf, "%s*E%s%s", o->operator_id, n ? clean : "X", tail);
    return strdup(buf);
}

/* evses: the station's EVSE numbers (a JSON array, borrowed); an empty one means [1] */
static struct oicp_location *location_new(struct oicp *o, const char *station_id, json_t *data,
                                          json_t *known_evses)
{
    struct oicp_location *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->station_id = strdup(station_id);
    l->data = json_incref(data);
    json_t *evses = json_object_get(data, "evses");
    if (!json_array_size(evses))
        evses = known_evses;
    size_t n = json_array_size(evses) ? json_array_size(evses) : 1;
    l->evses = calloc(n, sizeof *l->evses);
    l->evse_ids = calloc(n, sizeof *l->evse_ids);
    if (!l->station_id || !l->evses || !l->evse_ids) {
        location_free(l);
        return NULL;
    }
    json_t *ids = json_object_get(data, "evse_ids");
    for (size_t i = 0; i < n; i++) {
        int evse = json_array_size(evses) ? (int)json_integer_value(json_array_get(evses, i)) : 1;
        char key[16];
        snprintf(key, sizeof key, "%d", evse);
        const char *given = json_string_value(json_object_get(ids, key));
        l->evses[l->nevses] = evse;
        l->evse_ids[l->nevses] = given ? strdup(given) : default_evse_id(o, station_id, evse);
        if (l->evse_ids[l->nevses])
            l->nevses++;
    }
    return l;
}

struct oicp_location *oicp_location_find(struct oicp *o, const char *station_id)
{
    for (struct oicp_location *l = o->locations; station_id && l; l = l->next)
        if (strcmp(l->station_id, station_id) == 0)
            return l;
    return NULL;
}

struct oicp_location *oicp_location_by_evse_id(struct oicp *o, const char *evse_id, int *evse)
{
    for (struct oicp_location *l = o->locations; evse_id && l; l = l->next)
        for (size_t i = 0; i < l->nevses; i++)
            if (strcmp(l->evse_ids[i], evse_id) == 0) {
                if (evse)
                    *evse = l->evses[i];
                return l;
            }
    return NULL;
}

const char *oicp_location_evse_id(struct oicp_location *l, int evse)
{
    for (size_t i = 0; l && i < l->nevses; i++)
        if (l->evses[i] == evse)
            return l->evse_ids[i];
    return NULL;
}

/* The defaults of the required EvseDataRecord fields an operator rarely changes. */
static void set_default(json_t *r, const char *key, json_t *v)
{
    if (!json_object_get(r, key))
        json_object_set(r, key, v);
    json_decref(v);
}

static json_t *evse_record(struct oicp *o, struct oicp_location *l, size_t i)
{
    json_t *r = json_deep_copy(l->data);
    json_object_del(r, "evses");
    json_object_del(r, "evse_ids");
    json_object_set_new(r, "EvseID", json_string(l->evse_ids[i]));
    if (strlen(l->station_id) <= 50)
        set_default(r, "ChargingStationId", json_string(l->station_id));
    set_default(r, "ChargingStationNames", json_pack("[{s:s, s:s}]", "lang", "en", "value", l->station_id));
    set_default(r, "RenewableEnergy", json_false());
    set_default(r, "CalibrationLawDataAvailability", json_string("Not Available"));
    set_default(r, "AuthenticationModes", json_pack("[s, s]", "NFC RFID Classic", "REMOTE"));
    set_default(r, "PaymentOptions", json_pack("[s]", "Contract"));
    set_default(r, "ValueAddedServices", json_pack("[s]", "None"));
    set_default(r, "Accessibility", json_string("Free publicly accessible"));
    set_default(r, "IsOpen24Hours", json_true());
    set_default(r, "IsHubjectCompatible", json_true());
    set_default(r, "DynamicInfoAvailable", json_string("auto"));
    return r;
}

json_t *oicp_location_json(struct oicp *o, struct oicp_location *l)
{
    json_t *evses = json_array();
    for (size_t i = 0; i < l->nevses; i++)
        json_array_append_new(evses, json_pack("{s:i, s:s, s:o}", "evse", l->evses[i], "evse_id",
                                               l->evse_ids[i], "record", evse_record(o, l, i)));
    return json_pack("{s:s, s:O, s:o}", "station_id", l->station_id, "data", l->data, "evses", evses);
}

json_t *oicp_evse_records(struct oicp *o)
{
    json_t *out = json_array();
    for (struct oicp_location *l = o->locations; l; l = l->next)
        for (size_t i = 0; i < l->nevses; i++)
            json_array_append_new(out, evse_record(o, l, i));
    return out;
}

static json_t *data_push_body(struct oicp *o, const char *action, json_t *records /* stolen */)
{
    return json_pack("{s:s, s:{s:s, s:s, s:o}}", "ActionType", action, "OperatorEvseData",
                     "OperatorID", o->operator_id, "OperatorName", o->operator_name,
                     "EvseDataRecord", records);
}

/* ---------- answers to the caller of a push ---------- */

struct push_ctx {
    oicp_done_cb cb;
    void *arg;
    json_t *extra; /* merged into the answer */
};

static void on_push_answer(struct oicp *o, int http_status, json_t *resp, const char *error, void *arg)
{
    (void)o;
    struct push_ctx *c = arg;
    json_t *out = oicp_push_outcome(http_status, resp, error);
    if (c->extra)
        json_object_update(out, c->extra);
    json_decref(c->extra);
    if (c->cb)
        c->cb(c->arg, 200, out);
    else
        json_decref(out);
    free(c);
}

static void push(struct oicp *o, enum oicp_op op, json_t *body, json_t *extra, oicp_done_cb cb, void *arg)
{
    struct push_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        json_decref(body);
        json_decref(extra);
        if (cb)
            cb(arg, 500, oicp_error("INTERNAL", "out of memory"));
        return;
    }
    *c = (struct push_ctx){.cb = cb, .arg = arg, .extra = extra};
    int rc = oicp_hub_call(o, op, body, 0, on_push_answer, c);
    if (rc != PL_OK) {
        json_decref(extra);
        free(c);
        if (cb)
            cb(arg, 502, oicp_error("HUBJECT_UNREACHABLE", "the call to Hubject could not be made"));
    }
}

/* ---------- status ---------- */

const char *oicp_evse_status(const char *s)
{
    if (!s)
        return "Unknown";
    if (strcmp(s, "Available") == 0)
        return "Available";
    if (strcmp(s, "Reserved") == 0)
        return "Reserved";
    if (strcmp(s, "Unavailable") == 0 || strcmp(s, "Faulted") == 0)
        return "OutOfService";
    if (strcmp(s, "Preparing") == 0 || strcmp(s, "Charging") == 0 || strcmp(s, "SuspendedEV") == 0 ||
        strcmp(s, "SuspendedEVSE") == 0 || strcmp(s, "Finishing") == 0 || strcmp(s, "Occupied") == 0)
        return "Occupied";
    return "Unknown";
}

static void status_arm(struct oicp *o, unsigned ms)
{
    if (!o->status_busy)
        o->host->timer_start(o->status_timer, ms, 0);
}

static void status_queue(struct oicp *o, const char *evse_id, const char *status)
{
    for (struct oicp_status_change *c = o->pending; c; c = c->next)
        if (strcmp(c->evse_id, evse_id) == 0) {
            snprintf(c->status, sizeof c->status, "%s", status);
            return;
        }
    struct oicp_status_change *c = calloc(1, sizeof *c);
    if (!c || !(c->evse_id = strdup(evse_id))) {
        free(c);
        return;
    }
    snprintf(c->status, sizeof c->status, "%s", status);
    c->next = o->pending;
    o->pending = c;
    status_arm(o, (unsigned)o->status_delay_ms);
}

size_t oicp_evse_pending(struct oicp *o)
{
    size_t n = 0;
    for (struct oicp_status_change *c = o->pending; c; c = c->next)
        n++;
    return n;
}

static void changes_free(struct oicp_status_change *c)
{
    while (c) {
        struct oicp_status_change *n = c->next;
        free(c->evse_id);
        free(c);
        c = n;
    }
}

struct status_push {
    struct oicp_status_change *sent; /* put back when the push fails */
    int full;
    oicp_done_cb cb;
    void *arg;
};

static void on_status_answer(struct oicp *o, int http_status, json_t *resp, const char *error, void *arg)
{
    struct status_push *p = arg;
    o->status_busy = 0;
    int ok = oicp_ack_result(resp, NULL) == 1;
    if (ok) {
        o->status_backoff_ms = 0;
        if (p->full)
            o->status_full_due = 0;
        changes_free(p->sent);
    } else {
        /* back in the queue, unless a newer status of that EVSE arrived meanwhile */
        for (struct oicp_status_change *c = p->sent, *n; c; c = n) {
            n = c->next;
            int newer = 0;
            for (struct oicp_status_change *q = o->pending; q && !newer; q = q->next)
                newer = strcmp(q->evse_id, c->evse_id) == 0;
            if (newer) {
                free(c->evse_id);
                free(c);
            } else {
                c->next = o->pending;
                o->pending = c;
            }
        }
        o->status_backoff_ms = o->status_backoff_ms ? o->status_backoff_ms * 2 : 1000;
        if (o->status_backoff_ms > STATUS_BACKOFF_MAX_MS)
            o->status_backoff_ms = STATUS_BACKOFF_MAX_MS;
    }
    if (p->cb)
        p->cb(p->arg, 200, oicp_push_outcome(http_status, resp, error));
    free(p);
    if (!o->stopping && (o->pending || o->status_full_due))
        status_arm(o, ok ? (unsigned)o->status_delay_ms : o->status_backoff_ms);
}

static void status_send(struct oicp *o, const char *action, json_t *records, struct status_push *p)
{
    size_t n = json_array_size(records);
    json_t *body = json_pack("{s:s, s:{s:s, s:s, s:o}}", "ActionType", action, "OperatorEvseStatus",
                             "OperatorID", o->operator_id, "OperatorName", o->operator_name,
                             "EvseStatusRecord", records);
    o->status_busy = 1;
    o->host->log(o->self, PL_LOG_DEBUG, "PushEvseStatus %s: %zu EVSEs", action, n);
    if (oicp_hub_call(o, OICP_PUSH_EVSE_STATUS, body, 0, on_status_answer, p) != PL_OK)
        on_status_answer(o, 0, NULL, "the call could not be made", p);
}

static void status_full(struct oicp *o, oicp_done_cb cb, void *arg);

/* fullLoad: every located EVSE with its status from the model (offline: Unknown). */
static void on_status_timer(void *arg)
{
    struct oicp *o = arg;
    if (o->status_busy || o->stopping)
        return;
    if (o->status_full_due) {
        status_full(o, NULL, NULL);
        return;
    }
    if (!o->pending)
        return;
    struct status_push *p = calloc(1, sizeof *p);
    if (!p)
        return;
    json_t *records = json_array();
    for (struct oicp_status_change *c = o->pending; c; c = c->next)
        json_array_append_new(records, json_pack("{s:s, s:s}", "EvseID", c->evse_id, "EvseStatus", c->status));
    p->sent = o->pending;
    o->pending = NULL;
    status_send(o, "update", records, p);
}

struct full_ctx {
    struct oicp *o;
    struct status_push *p;
};

static void on_full_rows(pl_db_result *res, void *arg)
{
    struct full_ctx *f = arg;
    struct oicp *o = f->o;
    const struct pl_host *h = o->host;
    if (!h->db_ok(res)) {
        h->log(o->self, PL_LOG_WARN, "EVSE status fullLoad: reading the model failed: %s", h->db_error(res));
        o->status_busy = 0;
        o->status_full_due = 1;
        if (f->p->cb)
            f->p->cb(f->p->arg, 503, oicp_error("DATABASE_UNAVAILABLE", "the database did not answer"));
        free(f->p);
        free(f);
        status_arm(o, 5000);
        return;
    }
    /* rows: station_id, evse, status, online -> the EVSE's status: occupied wins, then
     * reserved, available, out of service */
    json_t *rows = h->db_json(res);
    json_t *records = json_array();
    static const char *const rank[] = {"Occupied", "Reserved", "Available", "OutOfService", "Unknown"};
    /* each EVSE's best rank, "station/evse" -> index into rank (station ids hold no '/'):
     * one pass over the rows, not one per EVSE */
    json_t *best = json_object();
    size_t k;
    json_t *row;
    json_array_foreach(rows, k, row) {
        char key[96];
        snprintf(key, sizeof key, "%s/%lld", json_string_value(json_object_get(row, "station_id")) ?: "",
                 (long long)json_integer_value(json_object_get(row, "evse")));
        const char *st = oicp_evse_status(json_string_value(json_object_get(row, "status")));
        json_int_t was = json_object_get(best, key) ? json_integer_value(json_object_get(best, key)) : 4;
        for (json_int_t r = 0; r < was; r++)
            if (strcmp(rank[r], st) == 0) {
                json_object_set_new(best, key, json_integer(r));
                break;
            }
    }
    for (struct oicp_location *l = o->locations; l; l = l->next) {
        int online = h->stations->online(l->station_id);
        for (size_t i = 0; i < l->nevses; i++) {
            char key[96];
            snprintf(key, sizeof key, "%s/%d", l->station_id, l->evses[i]);
            json_t *b = json_object_get(best, key);
            json_array_append_new(records, json_pack("{s:s, s:s}", "EvseID", l->evse_ids[i], "EvseStatus",
                                                     online && b ? rank[json_integer_value(b)] : "Unknown"));
        }
    }
    json_decref(best);
    json_decref(rows);
    /* changes queued before this snapshot are in it */
    changes_free(o->pending);
    o->pending = NULL;
    f->p->full = 1;
    status_send(o, "fullLoad", records, f->p);
    free(f);
}

static void status_full(struct oicp *o, oicp_done_cb cb, void *arg)
{
    const struct pl_host *h = o->host;
    struct full_ctx *f = calloc(1, sizeof *f);
    struct status_push *p = calloc(1, sizeof *p);
    if (!f || !p) {
        free(f);
        free(p);
        if (cb)
            cb(arg, 500, oicp_error("INTERNAL", "out of memory"));
        return;
    }
    *p = (struct status_push){.cb = cb, .arg = arg};
    *f = (struct full_ctx){.o = o, .p = p};
    o->status_busy = 1;
    if (h->db_query(o->self,
                    "SELECT c.station_id, c.evse, c.status FROM connectors c "
                    "JOIN oicp_locations l ON l.station_id = c.station_id WHERE c.evse > 0",
                    0, NULL, on_full_rows, f) != PL_OK) {
        o->status_busy = 0;
        o->status_full_due = 1;
        free(f);
        free(p);
        if (cb)
            cb(arg, 503, oicp_error("DATABASE_UNAVAILABLE", "the database queue is full"));
        status_arm(o, 5000);
    }
}

void oicp_evse_on_event(const char *topic, json_t *env, void *arg)
{
    struct oicp *o = arg;
    const char *station = json_string_value(json_object_get(env, "station"));
    struct oicp_location *l = oicp_location_find(o, station);
    if (!l || !o->enabled)
        return;
    json_t *data = json_object_get(env, "data");
    if (strcmp(topic, "station.status") == 0) {
        const char *evse_id = oicp_location_evse_id(l, (int)json_integer_value(json_object_get(data, "evse")));
        if (evse_id)
            status_queue(o, evse_id, oicp_evse_status(json_string_value(json_object_get(data, "status"))));
    } else if (strcmp(topic, "station.disconnected") == 0) {
        for (size_t i = 0; i < l->nevses; i++)
            status_queue(o, l->evse_ids[i], "Unknown");
    }
}

/* ---------- data ---------- */

struct sync_ctx {
    struct oicp *o;
    oicp_done_cb cb;
    void *arg;
    json_t *out;
};

static void sync_end(struct sync_ctx *s, int status)
{
    if (s->cb)
        s->cb(s->arg, status, s->out);
    else
        json_decref(s->out);
    free(s);
}

static void on_sync_pricing(void *arg, int status, json_t *body)
{
    struct sync_ctx *s = arg;
    json_object_set_new(s->out, "pricing", body);
    (void)status;
    sync_end(s, 200);
}

static void on_sync_status(void *arg, int status, json_t *body)
{
    struct sync_ctx *s = arg;
    json_object_set_new(s->out, "status", body);
    if (status == 200 && s->o->push_pricing) {
        oicp_pricing_push(s->o, on_sync_pricing, s);
        return;
    }
    sync_end(s, status);
}

static void on_sync_data(void *arg, int status, json_t *body)
{
    struct sync_ctx *s = arg;
    json_object_set_new(s->out, "data", body);
    (void)status;
    if (s->o->status_busy) {
        /* a status push is in flight: the fullLoad follows it */
        s->o->status_full_due = 1;
        on_sync_status(s, 200, json_pack("{s:s}", "queued", "after the push in flight"));
        return;
    }
    status_full(s->o, on_sync_status, s);
}

static void log_sync(void *arg, int status, json_t *body)
{
    struct oicp *o = arg;
    char *text = json_dumps(body, JSON_COMPACT);
    o->host->log(o->self, status == 200 ? PL_LOG_INFO : PL_LOG_WARN, "EVSE fullLoad: %s", text ? text : "?");
    free(text);
    json_decref(body);
}

void oicp_evse_sync(struct oicp *o, oicp_done_cb cb, void *arg)
{
    struct sync_ctx *s = calloc(1, sizeof *s);
    if (!s) {
        if (cb)
            cb(arg, 500, oicp_error("INTERNAL", "out of memory"));
        return;
    }
    *s = (struct sync_ctx){.o = o, .cb = cb ? cb : log_sync, .arg = cb ? arg : o};
    json_t *records = oicp_evse_records(o);
    s->out = json_pack("{s:I}", "evses", (json_int_t)json_array_size(records));
    if (!o->locations_loaded || json_array_size(records) == 0) {
        /* a fullLoad replaces everything Hubject holds for the operator: never send an
         * empty one because the data could not be read */
        json_decref(records);
        json_object_set_new(s->out, "data", json_pack("{s:s}", "skipped",
                                                      o->locations_loaded ? "no EVSE records" : "EVSE data not loaded"));
        json_object_set_new(s->out, "status", json_pack("{s:s}", "skipped", "no EVSE records"));
        s->cb(s->arg, o->locations_loaded ? 200 : 503, s->out);
        free(s);
        return;
    }
    push(o, OICP_PUSH_EVSE_DATA, data_push_body(o, "fullLoad", records), NULL, on_sync_data, s);
}

/* ---------- the stored records ---------- */

struct put_ctx {
    struct oicp *o;
    char *station_id;
    json_t *data;
    int existed;
    oicp_done_cb cb;
    void *arg;
};

static void put_ctx_free(struct put_ctx *p)
{
    free(p->station_id);
    json_decref(p->data);
    free(p);
}

static void location_replace(struct oicp *o, struct oicp_location *nl)
{
    struct oicp_location **pp = &o->locations;
    while (*pp && strcmp((*pp)->station_id, nl->station_id) != 0)
        pp = &(*pp)->next;
    if (*pp) {
        struct oicp_location *old = *pp;
        nl->next = old->next;
        *pp = nl;
        location_free(old);
    } else {
        nl->next = o->locations;
        o->locations = nl;
    }
}

static void on_put_done(void *arg, int status, json_t *body)
{
    struct put_ctx *p = arg;
    struct oicp_location *l = oicp_location_find(p->o, p->station_id);
    json_t *out = l ? oicp_location_json(p->o, l) : json_object();
    json_object_set_new(out, "push", body);
    p->cb(p->arg, status == 200 ? (p->existed ? 200 : 201) : status, out);
    put_ctx_free(p);
}

static void on_put_stored(pl_db_result *res, void *arg)
{
    struct put_ctx *p = arg;
    struct oicp *o = p->o;
    const struct pl_host *h = o->host;
    if (!h->db_ok(res) || h->db_ntuples(res) != 1) {
        h->log(o->self, PL_LOG_WARN, "storing EVSE data of %s failed: %s", p->station_id, h->db_error(res));
        p->cb(p->arg, 503, oicp_error("DATABASE_UNAVAILABLE", "the database did not answer"));
        put_ctx_free(p);
        return;
    }
    const char *existed = h->db_value(res, 0, 0);
    p->existed = existed && *existed == 't';
    json_t *known = json_loads(h->db_value(res, 0, 1) ?: "[]", 0, NULL);
    struct oicp_location *nl = location_new(o, p->station_id, p->data, known);
    json_decref(known);
    if (!nl) {
        p->cb(p->arg, 500, oicp_error("INTERNAL", "out of memory"));
        put_ctx_free(p);
        return;
    }
    /* EVSEs the station no longer has are deleted at Hubject first */
    struct oicp_location *old = oicp_location_find(o, p->station_id);
    json_t *gone = json_array();
    for (size_t i = 0; old && i < old->nevses; i++) {
        int kept = 0;
        for (size_t j = 0; j < nl->nevses && !kept; j++)
            kept = strcmp(nl->evse_ids[j], old->evse_ids[i]) == 0;
        if (!kept)
            json_array_append_new(gone, json_pack("{s:s}", "EvseID", old->evse_ids[i]));
    }
    location_replace(o, nl);
    if (json_array_size(gone)) {
        /* a delete names the records by EvseID; the full record is not needed */
        json_t *recs = json_array();
        size_t k;
        json_t *g;
        json_array_foreach(gone, k, g) {
            json_t *r = evse_record(o, nl, 0);
            json_object_set(r, "EvseID", json_object_get(g, "EvseID"));
            json_array_append_new(recs, r);
        }
        push(o, OICP_PUSH_EVSE_DATA, data_push_body(o, "delete", recs), NULL, NULL, NULL);
    }
    json_decref(gone);
    json_t *records = json_array();
    for (size_t i = 0; i < nl->nevses; i++)
        json_array_append_new(records, evse_record(o, nl, i));
    push(o, OICP_PUSH_EVSE_DATA, data_push_body(o, p->existed ? "update" : "insert", records), NULL,
         on_put_done, p);
    oicp_pricing_on_event("oicp.location", NULL, o); /* its EVSEs' products */
}

void oicp_location_put(struct oicp *o, const char *station_id, json_t *record, oicp_done_cb cb, void *arg)
{
    const struct pl_host *h = o->host;
    struct put_ctx *p = calloc(1, sizeof *p);
    char *text = json_dumps(record, JSON_COMPACT);
    if (!p || !text || !(p->station_id = strdup(station_id))) {
        free(p);
        free(text);
        cb(arg, 500, oicp_error("INTERNAL", "out of memory"));
        return;
    }
    p->o = o;
    p->data = json_incref(record);
    p->cb = cb;
    p->arg = arg;
    const char *params[] = {station_id, text};
    /* the EVSEs the model knows for the station come back with the write */
    int rc = h->db_query(o->self,
                         "WITH prev AS (SELECT 1 FROM oicp_locations WHERE station_id = $1), "
                         "up AS (INSERT INTO oicp_locations (station_id, data) VALUES ($1, $2::jsonb) "
                         "ON CONFLICT (station_id) DO UPDATE SET data = EXCLUDED.data, updated_at = now() "
                         "RETURNING station_id) "
                         "SELECT EXISTS (SELECT 1 FROM prev), "
                         "coalesce((SELECT jsonb_agg(DISTINCT c.evse ORDER BY c.evse) FROM connectors c "
                         "WHERE c.station_id = $1 AND c.evse > 0), '[]') FROM up",
                         2, params, on_put_stored, p);
    free(text);
    if (rc != PL_OK) {
        put_ctx_free(p);
        cb(arg, 503, oicp_error("DATABASE_UNAVAILABLE", "the database queue is full"));
    }
}

static void on_deleted(pl_db_result *res, void *arg)
{
    struct put_ctx *p = arg;
    struct oicp *o = p->o;
    const struct pl_host *h = o->host;
    if (!h->db_ok(res)) {
        p->cb(p->arg, 503, oicp_error("DATABASE_UNAVAILABLE", "the database did not answer"));
        put_ctx_free(p);
        return;
    }
    struct oicp_location **pp = &o->locations;
    while (*pp && strcmp((*pp)->station_id, p->station_id) != 0)
        pp = &(*pp)->next;
    struct oicp_location *l = *pp;
    if (!l || h->db_affected(res) < 1) {
        p->cb(p->arg, 404, oicp_error("NOT_FOUND", "the station has no EVSE data"));
        put_ctx_free(p);
        return;
    }
    *pp = l->next;
    json_t *records = json_array();
    for (size_t i = 0; i < l->nevses; i++)
        json_array_append_new(records, evse_record(o, l, i));
    for (size_t i = 0; i < l->nevses; i++)
        for (struct oicp_status_change **c = &o->pending; *c;) {
            if (strcmp((*c)->evse_id, l->evse_ids[i]) == 0) {
                struct oicp_status_change *dead = *c;
                *c = dead->next;
                free(dead->evse_id);
                free(dead);
            } else {
                c = &(*c)->next;
            }
        }
    location_free(l);
    json_t *extra = json_pack("{s:s, s:b}", "station_id", p->station_id, "deleted", 1);
    oicp_done_cb cb = p->cb;
    void *cb_arg = p->arg;
    put_ctx_free(p);
    push(o, OICP_PUSH_EVSE_DATA, data_push_body(o, "delete", records), extra, cb, cb_arg);
    oicp_pricing_on_event("oicp.location", NULL, o);
}

void oicp_location_delete(struct oicp *o, const char *station_id, oicp_done_cb cb, void *arg)
{
    struct put_ctx *p = calloc(1, sizeof *p);
    if (!p || !(p->station_id = strdup(station_id))) {
        free(p);
        cb(arg, 500, oicp_error("INTERNAL", "out of memory"));
        return;
    }
    p->o = o;
    p->cb = cb;
    p->arg = arg;
    const char *params[] = {station_id};
    if (o->host->db_query(o->self, "DELETE FROM oicp_locations WHERE station_id = $1", 1, params,
                          on_deleted, p) != PL_OK) {
        put_ctx_free(p);
        cb(arg, 503, oicp_error("DATABASE_UNAVAILABLE", "the database queue is full"));
    }
}

/* ---------- start ---------- */

static void on_data_timer(void *arg)
{
    struct oicp *o = arg;
    if (!o->stopping && o->locations_loaded)
        oicp_evse_sync(o, NULL, NULL);
}

static void load_locations(struct oicp *o);

static void on_locations(pl_db_result *res, void *arg)
{
    struct oicp *o = arg;
    const struct pl_host *h = o->host;
    if (!h->db_ok(res)) {
        h->log(o->self, PL_LOG_WARN, "loading EVSE data failed (%s); trying again in 5 s", h->db_error(res));
        h->timer_start(o->data_timer, 5000, 0);
        return;
    }
    for (int i = 0; i < h->db_ntuples(res); i++) {
        json_t *data = json_loads(h->db_value(res, i, 1) ?: "{}", 0, NULL);
        json_t *known = json_loads(h->db_value(res, i, 2) ?: "[]", 0, NULL);
        struct oicp_location *l = data ? location_new(o, h->db_value(res, i, 0), data, known) : NULL;
        json_decref(data);
        json_decref(known);
        if (l)
            location_replace(o, l);
    }
    o->locations_loaded = 1;
    h->log(o->self, PL_LOG_INFO, "%d stations with EVSE data", h->db_ntuples(res));
    oicp_evse_sync(o, NULL, NULL);
    if (o->data_interval_s > 0)
        h->timer_start(o->data_timer, (uint64_t)o->data_interval_s * 1000, 1);
}

static void load_locations(struct oicp *o)
{
    if (o->host->db_query(o->self,
                          "SELECT l.station_id, l.data, coalesce((SELECT jsonb_agg(DISTINCT c.evse ORDER BY c.evse) "
                          "FROM connectors c WHERE c.station_id = l.station_id AND c.evse > 0), '[]') "
                          "FROM oicp_locations l ORDER BY l.station_id",
                          0, NULL, on_locations, o) != PL_OK)
        o->host->timer_start(o->data_timer, 5000, 0);
}

static void on_data_timer_first(void *arg)
{
    struct oicp *o = arg;
    if (!o->locations_loaded)
        load_locations(o);
    else
        on_data_timer(o);
}

int oicp_evse_start(struct oicp *o)
{
    const struct pl_host *h = o->host;
    o->status_timer = h->timer_new(o->self, on_status_timer, o);
    o->data_timer = h->timer_new(o->self, on_data_timer_first, o);
    if (!o->status_timer || !o->data_timer)
        return PL_ENOMEM;
    load_locations(o);
    return PL_OK;
}

void oicp_evse_free(struct oicp *o)
{
    const struct pl_host *h = o->host;
    h->timer_free(o->status_timer);
    h->timer_free(o->data_timer);
    o->status_timer = o->data_timer = NULL;
    changes_free(o->pending);
    o->pending = NULL;
    while (o->locations) {
        struct oicp_location *n = o->locations->next;
        location_free(o->locations);
        o->locations = n;
    }
}
