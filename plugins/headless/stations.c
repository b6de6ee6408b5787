/*
 * stations.c — /api/v1/stations: the station views of the model's read API (the table
 * merged with the registry's snapshots, which are the truth about "online"), and the
 * per-station commands (reset, availability, unlock, trigger, firmware, reservations,
 * profiles...).
 */
#include "headless.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- snapshot helpers ---- */
static int status_rank(const char *s)
{
    /* Which connector status speaks for an EVSE with several connectors. */
    static const char *const order[] = {"Faulted", "Charging", "SuspendedEVSE", "SuspendedEV",
                                        "Finishing", "Preparing", "Occupied", "Reserved",
                                        "Unavailable", "Available", NULL};
    for (int i = 0; order[i]; i++)
        if (s && !strcmp(s, order[i]))
            return i;
    return 100;
}

const char *hl_snapshot_evse_status(json_t *snap, long evse, long *known_max)
{
    json_t *evses = json_object_get(snap, "evses");
    const char *best = NULL;
    size_t i, j;
    json_t *e, *c;
    *known_max = 0;
    json_array_foreach(evses, i, e) {
        long id = (long)json_integer_value(json_object_get(e, "evse"));
        if (id > *known_max)
            *known_max = id;
        if (id != evse)
            continue;
        json_array_foreach(json_object_get(e, "connectors"), j, c) {
            const char *s = json_string_value(json_object_get(c, "status"));
            if (s && (!best || status_rank(s) < status_rank(best)))
                best = s;
        }
    }
    return best;
}

/* ---- GET /stations and /stations/compact ---- */
struct list_ctx {
    struct headless *hl;
    pl_request *req;
    int compact;
};

static json_t *compact_of(json_t *v)
{
    return json_pack("{s:O, s:O, s:O, s:O, s:O}", "id", json_object_get(v, "id"), "online",
                     json_object_get(v, "online"), "status", json_object_get(v, "status"),
                     "connectors", json_object_get(v, "connector_count"), "protocol",
                     json_object_get(v, "protocol") ? json_object_get(v, "protocol")
                                                    : json_null());
}

static void on_list(int rc, json_t *page, const char *error, void *arg)
{
    struct list_ctx *l = arg;
    const struct pl_host *h = l->hl->host;
    if (hl_read_failed(l->hl, l->req, rc, error, "STATION_NOT_FOUND"))
        goto out;
    json_t *items = json_object_get(page, "items");
    if (l->compact) {
        json_t *list = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(items, i, v)
            json_array_append_new(list, compact_of(v));
        h->reply_json(l->req, 200, list);
    } else {
        json_t *last = json_object_get(page, "next");
        char *c = json_is_string(last) ? hl_cursor_encode(json_string_value(last)) : NULL;
        h->reply_json(l->req, 200, json_pack("{s:O, s:o}", "items", items, "next_cursor",
                                             c ? json_string(c) : json_null()));
        free(c);
    }
    json_decref(page);
out:
    free(l);
}

static void list_stations(struct headless *hl, pl_request *req, int compact)
{
    const struct pl_host *h = hl->host;
    struct pl_station_filter f = PL_STATION_FILTER_INIT;
    struct list_ctx *l = calloc(1, sizeof *l);
    char *cursor = NULL;
    long limit = PL_MODEL_STATIONS_MAX; /* compact: every station, no pages */
    int online, has_online;
    if (!l) {
        h->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    l->hl = hl;
    l->req = req;
    l->compact = compact;
    if (hl_query_bool(hl, req, "online", &online, &has_online) < 0 ||
        hl_query_enum(hl, req, "status", h->model->status_names(), &f.status) < 0)
        goto fail;
    if (!compact && hl_page_params(hl, req, &limit, &cursor) < 0)
        goto fail;
    f.protocol = h->req_query(req, "protocol");
    f.vendor = h->req_query(req, "vendor");
    if ((f.protocol && strlen(f.protocol) > 64) || (f.vendor && strlen(f.vendor) > 255)) {
        h->reply_error(req, 400, "INVALID_PARAMETER", "protocol/vendor filter too long");
        goto fail;
    }
    f.online = has_online ? online : PL_MODEL_ANY;
    f.cursor = cursor;
    f.limit = (int)limit;
    if (h->model->stations(hl->self, &f, on_list, l) < 0) {
        hl_read_refused(hl, req);
        goto fail;
    }
    free(cursor);
    return;
fail:
    free(cursor);
    free(l);
}

void hl_stations_list(pl_request *req, void *arg)
{
    list_stations(arg, req, 0);
}

void hl_stations_compact(pl_request *req, void *arg)
{
    list_stations(arg, req, 1);
}

/* ---- GET /stations/{id} and /liveness ---- */
struct one_ctx {
    struct headless *hl;
    pl_request *req;
    int liveness;
};

/* How recently the station was heard from, from its view. */
static json_t *liveness_of(json_t *v)
{
    int online = json_is_true(json_object_get(v, "online"));
    json_t *last = json_object_get(v, "last_seen");
    json_t *since = json_object_get(v, "connected_since");
    long secs = json_is_string(last) ? hl_seconds_since(json_string_value(last)) : -1;
    return json_pack("{s:b, s:O, s:o, s:O}", "online", online, "last_seen",
                     last ? last : json_null(), "seconds_since_seen",
                     secs >= 0 ? json_integer(secs) : json_null(), "connected_since",
                     online && since ? since : json_null());
}

static void on_station(int rc, json_t *view, const char *error, void *arg)
{
    struct one_ctx *o = arg;
    if (!hl_read_failed(o->hl, o->req, rc, error, "STATION_NOT_FOUND")) {
        o->hl->host->reply_json(o->req, 200, o->liveness ? liveness_of(view) : json_incref(view));
        json_decref(view);
    }
    free(o);
}

static void get_station(struct headless *hl, pl_request *req, int liveness)
{
    const char *id;
    if (hl_path_station(hl, req, &id) < 0)
        return;
    struct one_ctx *o = calloc(1, sizeof *o);
    if (!o) {
        hl->host->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    o->hl = hl;
    o->req = req;
    o->liveness = liveness;
    if (hl->host->model->station(hl->self, id, on_station, o) < 0) {
        hl_read_refused(hl, req);
        free(o);
    }
}

void hl_station_get(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const char *id = hl->host->req_param(req, "id");
    /* Routers that match {id} before a literal segment still reach the compact view. */
    if (id && !strcmp(id, "compact")) {
        list_stations(hl, req, 1);
        return;
    }
    get_station(hl, req, 0);
}

void hl_station_liveness(pl_request *req, void *arg)
{
    get_station(arg, req, 1);
}

/* ---- commands ---- */
static void send_simple(struct headless *hl, pl_request *req, const char *station, int op,
                        json_t *args, long connector, unsigned checks)
{
    struct hl_cmd *c = hl_cmd_new(hl, req, station, op, args);
    if (!c)
        return;
    if (connector >= 0)
        hl_cmd_set_connector(c, connector, checks);
    hl_cmd_submit(c);
}

void hl_station_reset(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    static const char *const types[] = {"Soft", "Hard", NULL};
    const char *id, *type;
    json_t *body;
    if (hl_path_station(hl, req, &id) < 0 || !(body = hl_body(hl, req)))
        return;
    if (hl_body_enum(hl, req, body, "type", HL_OPTIONAL, types, &type) == 0)
        send_simple(hl, req, id, PL_OP_RESET, json_pack("{s:s}", "type", type ? type : "Soft"),
                    -1, 0);
    json_decref(body);
}

void hl_station_disconnect(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const char *id;
    if (hl_path_station(hl, req, &id) < 0)
        return;
    send_simple(hl, req, id, PL_OP_DISCONNECT, json_object(), -1, 0);
}

void hl_station_availability(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    static const char *const types[] = {"Operative", "Inoperative", NULL};
    const char *id, *type;
    long connector = 0;
    int available = 1, has_available;
    json_t *body;
    if (hl_path_station(hl, req, &id) < 0 || !(body = hl_body(hl, req)))
        return;
    if (hl_body_bool(hl, req, body, "available", HL_OPTIONAL, &available, &has_available) < 0 ||
        hl_body_enum(hl, req, body, "type", HL_OPTIONAL, types, &type) < 0 ||
        hl_body_int(hl, req, body, "connector", HL_OPTIONAL, 0, HL_CONNECTOR_MAX, &connector,
                    NULL) < 0)
        goto out;
    if (!has_available && !type) {
        hl->host->reply_error(req, 400, "MISSING_PARAMETER",
                              "available is required (true or false)");
        goto out;
    }
    if (type)
        available = !strcmp(type, "Operative");
    send_simple(hl, req, id, PL_OP_CHANGE_AVAILABILITY,
                json_pack("{s:i, s:b}", "evse", (int)connector, "available", available),
                connector > 0 ? connector : -1, HL_CHECK_CONNECTOR);
out:
    json_decref(body);
}

void hl_connector_unlock(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const char *id;
    long c;
    if (hl_path_station(hl, req, &id) < 0 ||
        hl_path_int(hl, req, "c", 1, HL_CONNECTOR_MAX, &c) < 0)
        return;
    send_simple(hl, req, id, PL_OP_UNLOCK, json_pack("{s:i, s:i}", "evse", (int)c, "connector", 1),
                c, HL_CHECK_CONNECTOR);
}

void hl_station_trigger(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    static const char *const messages[] = {
        "BootNotification", "MeterValues", "StatusNotification", "Heartbeat",
        "FirmwareStatusNotification", "DiagnosticsStatusNotification", "LogStatusNotification",
        /* renewal of the station's client certificate (1.6 ExtendedTriggerMessage, 2.0.1
         * SignChargingStationCertificate): either name works for both versions */
        "SignChargePointCertificate", "SignChargingStationCertificate", NULL};
    const char *id, *message;
    long connector = -1;
    int has_connector;
    json_t *body;
    if (hl_path_station(hl, req, &id) < 0 || !(body = hl_body(hl, req)))
        return;
    if (hl_body_enum(hl, req, body, "message", HL_REQUIRED, messages, &message) == 0 &&
        hl_body_int(hl, req, body, "connector", HL_OPTIONAL, 1, HL_CONNECTOR_MAX, &connector,
                    &has_connector) == 0) {
        json_t *args = json_pack("{s:s}", "message", message);
        if (has_connector)
            json_object_set_new(args, "evse", json_integer(connector));
        send_simple(hl, req, id, PL_OP_TRIGGER, args, has_connector ? connector : -1,
                    HL_CHECK_CONNECTOR);
    }
    json_decref(body);
}

void hl_station_data_transfer(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const char *id, *vendor, *message;
    json_t *body;
    if (hl_path_station(hl, req, &id) < 0 || !(body = hl_body(hl, req)))
        return;
    if (hl_body_str(hl, req, body, "vendor_id", HL_REQUIRED, 255, &vendor) == 0 &&
        hl_body_str(hl, req, body, "message_id", HL_OPTIONAL, 50, &message) == 0) {
        json_t *args = json_pack("{s:s}", "vendor_id", vendor);
        if (message)
            json_object_set_new(args, "message_id", json_string(message));
        json_t *data = json_object_get(body, "data");
        if (data && !json_is_null(data))
            json_object_set(args, "data", data);
        send_simple(hl, req, id, PL_OP_DATA_TRANSFER, args, -1, 0);
    }
    json_decref(body);
}

static int location_ok(struct headless *hl, pl_request *req, const char *loc)
{
    if (!strstr(loc, "://")) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "location must be an absolute URI (e.g. https://host/file.bin)");
        return -1;
    }
    return 0;
}

/* Copy optional integer fields (>= 0) from body to args; -1 after a 400. */
static int copy_ints(struct headless *hl, pl_request *req, json_t *body, json_t *args,
                     const char *const *names)
{
    for (int i = 0; names[i]; i++) {
        long v;
        int present;
        if (hl_body_int(hl, req, body, names[i], HL_OPTIONAL, 0, 2147483647L, &v, &present) < 0)
            return -1;
        if (present)
            json_object_set_new(args, names[i], json_integer(v));
    }
    return 0;
}

static int copy_times(struct headless *hl, pl_request *req, json_t *body, json_t *args,
                      const char *const *names)
{
    for (int i = 0; names[i]; i++) {
        const char *v;
        if (hl_body_time(hl, req, body, names[i], HL_OPTIONAL, &v) < 0)
            return -1;
        if (v)
            json_object_set_new(args, names[i], json_string(v));
    }
    return 0;
}

void hl_station_firmware(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    static const char *const ints[] = {"retries", "retry_interval", "request_id", NULL};
    static const char *const times[] = {"retrieve_date", NULL};
    const char *id, *loc, *sig, *cert;
    json_t *body, *args = json_object();
    if (hl_path_station(hl, req, &id) < 0 || !(body = hl_body(hl, req))) {
        json_decref(args);
        return;
    }
    if (hl_body_str(hl, req, body, "location", HL_REQUIRED, 512, &loc) < 0 ||
        location_ok(hl, req, loc) < 0 || copy_ints(hl, req, body, args, ints) < 0 ||
        copy_times(hl, req, body, args, times) < 0 ||
        hl_body_str(hl, req, body, "signature", HL_OPTIONAL, 800, &sig) < 0 ||
        hl_body_str(hl, req, body, "signing_certificate", HL_OPTIONAL, 5500, &cert) < 0) {
        json_decref(args);
        json_decref(body);
        return;
    }
    json_object_set_new(args, "location", json_string(loc));
    if (!json_object_get(args, "retrieve_date")) {
        char now[40];
        json_object_set_new(args, "retrieve_date",
                            json_string(hl->host->now_rfc3339(now, sizeof now)));
    }
    if (sig)
        json_object_set_new(args, "signature", json_string(sig));
    if (cert)
        json_object_set_new(args, "signing_certificate", json_string(cert));
    send_simple(hl, req, id, PL_OP_UPDATE_FIRMWARE, args, -1, 0);
    json_decref(body);
}

void hl_station_diagnostics(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    static const char *const ints[] = {"retries", "retry_interval", "request_id", NULL};
    static const char *const times[] = {"start_time", "stop_time", NULL};
    static const char *const log_types[] = {"DiagnosticsLog", "SecurityLog", NULL};
    const char *id, *loc, *log_type;
    json_t *body, *args = json_object();
    if (hl_path_station(hl, req, &id) < 0 || !(body = hl_body(hl, req))) {
        json_decref(args);
        return;
    }
    if (hl_body_str(hl, req, body, "location", HL_REQUIRED, 512, &loc) < 0 ||
        location_ok(hl, req, loc) < 0 || copy_ints(hl, req, body, args, ints) < 0 ||
        copy_times(hl, req, body, args, times) < 0 ||
        hl_body_enum(hl, req, body, "log_type", HL_OPTIONAL, log_types, &log_type) < 0) {
        json_decref(args);
        json_decref(body);
        return;
    }
    json_object_set_new(args, "location", json_string(loc));
    if (log_type)
        json_object_set_new(args, "log_type", json_string(log_type));
    send_simple(hl, req, id, PL_OP_GET_DIAGNOSTICS, args, -1, 0);
    json_decref(body);
}

/* ---- reservations ---- */
static void reservation_accepted(struct hl_cmd *c, pl_request *req, const char *cmd_id,
                                 json_t *result)
{
    struct headless *hl = hl_cmd_udata(c);
    json_t *rid = json_object_get(hl_cmd_args(c), "reservation_id");
    hl->host->reply_json(req, 200,
                         json_pack("{s:s, s:s, s:O?, s:O?}", "command_id", cmd_id, "status",
                                   "Accepted", "reservation_id", rid, "result", result));
}

void hl_reservation_create(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const char *id, *token, *expiry, *parent;
    long connector, rid;
    int has_rid;
    json_t *body;
    if (hl_path_station(hl, req, &id) < 0 || !(body = hl_body(hl, req)))
        return;
    if (hl_body_int(hl, req, body, "connector", HL_REQUIRED, 0, HL_CONNECTOR_MAX, &connector,
                    NULL) < 0 ||
        hl_body_str(hl, req, body, "id_token", HL_REQUIRED, 36, &token) < 0 ||
        hl_body_time(hl, req, body, "expiry", HL_REQUIRED, &expiry) < 0 ||
        hl_body_str(hl, req, body, "parent", HL_OPTIONAL, 36, &parent) < 0 ||
        hl_body_int(hl, req, body, "reservation_id", HL_OPTIONAL, 1, 2147483647L, &rid,
                    &has_rid) < 0)
        goto out;
    if (!has_rid) {
        /* A fresh id: 28 random bits of a UUID keep it positive and unlikely to clash. */
        char u[37];
        hl->host->uuid(u);
        rid = strtol((char[8]){u[0], u[1], u[2], u[3], u[4], u[5], u[6], 0}, NULL, 16) + 1;
    }
    json_t *args = json_pack("{s:I, s:i, s:s, s:s}", "reservation_id", (json_int_t)rid, "evse",
                             (int)connector, "id_token", token, "expiry", expiry);
    if (parent)
        json_object_set_new(args, "parent", json_string(parent));
    struct hl_cmd *c = hl_cmd_new(hl, req, id, PL_OP_RESERVE, args);
    if (c) {
        hl_cmd_set_accept(c, reservation_accepted, hl);
        if (connector > 0)
            hl_cmd_set_connector(c, connector, HL_CHECK_CONNECTOR_FREE);
        hl_cmd_submit(c);
    }
out:
    json_decref(body);
}

void hl_reservation_cancel(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const char *id;
    long rid;
    if (hl_path_station(hl, req, &id) < 0 ||
        hl_path_int(hl, req, "rid", 1, 2147483647L, &rid) < 0)
        return;
    send_simple(hl, req, id, PL_OP_CANCEL_RESERVATION,
                json_pack("{s:I}", "reservation_id", (json_int_t)rid), -1, 0);
}

/* ---- smart charging ---- */
void hl_profile_set(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const char *id;
    long connector;
    json_t *body;
    if (hl_path_station(hl, req, &id) < 0 || !(body = hl_body(hl, req)))
        return;
    json_t *profile = json_object_get(body, "profile");
    if (hl_body_int(hl, req, body, "connector", HL_REQUIRED, 0, HL_CONNECTOR_MAX, &connector,
                    NULL) < 0)
        goto out;
    if (!profile || json_is_null(profile)) {
        hl->host->reply_error(req, 400, "MISSING_PARAMETER", "profile is required");
        goto out;
    }
    if (!json_is_object(profile)) {
        hl->host->reply_error(req, 400, "INVALID_PARAMETER",
                              "profile must be an object (a charging profile of the "
                              "station's OCPP version)");
        goto out;
    }
    send_simple(hl, req, id, PL_OP_SET_CHARGING_PROFILE,
                json_pack("{s:i, s:O}", "evse", (int)connector, "profile", profile),
                connector > 0 ? connector : -1, HL_CHECK_CONNECTOR);
out:
    json_decref(body);
}

void hl_profile_clear(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    static const char *const purposes[] = {"ChargePointMaxProfile", "TxDefaultProfile",
                                           "TxProfile", "ChargingStationMaxProfile",
                                           "ChargingStationExternalConstraints", NULL};
    const char *id, *purpose;
    long pid, connector, level;
    if (hl_path_station(hl, req, &id) < 0 ||
        hl_query_int(hl, req, "id", HL_OPTIONAL, 0, 2147483647L, -1, &pid) < 0 ||
        hl_query_int(hl, req, "connector", HL_OPTIONAL, 0, HL_CONNECTOR_MAX, -1, &connector) <
            0 ||
        hl_query_int(hl, req, "stack_level", HL_OPTIONAL, 0, 1000, -1, &level) < 0 ||
        hl_query_enum(hl, req, "purpose", purposes, &purpose) < 0)
        return;
    json_t *args = json_object();
    if (pid >= 0)
        json_object_set_new(args, "id", json_integer(pid));
    if (connector >= 0)
        json_object_set_new(args, "evse", json_integer(connector));
    if (level >= 0)
        json_object_set_new(args, "stack_level", json_integer(level));
    if (purpose)
        json_object_set_new(args, "purpose", json_string(purpose));
    send_simple(hl, req, id, PL_OP_CLEAR_CHARGING_PROFILE, args,
                connector > 0 ? connector : -1, HL_CHECK_CONNECTOR);
}

static void schedule_accepted(struct hl_cmd *c, pl_request *req, const char *cmd_id,
                              json_t *result)
{
    struct headless *hl = hl_cmd_udata(c);
    json_t *sched = result ? json_object_get(result, "schedule") : NULL;
    hl->host->reply_json(req, 200,
                         json_pack("{s:s, s:s, s:O?, s:O?}", "command_id", cmd_id, "status",
                                   "Accepted", "schedule", sched, "result", result));
}

void hl_composite_schedule(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    static const char *const units[] = {"W", "A", NULL};
    const char *id, *unit;
    long connector, duration;
    if (hl_path_station(hl, req, &id) < 0 ||
        hl_query_int(hl, req, "connector", HL_REQUIRED, 0, HL_CONNECTOR_MAX, 0, &connector) < 0 ||
        hl_query_int(hl, req, "duration", HL_REQUIRED, 1, 31L * 86400, 0, &duration) < 0 ||
        hl_query_enum(hl, req, "unit", units, &unit) < 0)
        return;
    json_t *args = json_pack("{s:i, s:I}", "evse", (int)connector, "duration",
                             (json_int_t)duration);
    if (unit)
        json_object_set_new(args, "unit", json_string(unit));
    struct hl_cmd *c = hl_cmd_new(hl, req, id, PL_OP_GET_COMPOSITE_SCHEDULE, args);
    if (!c)
        return;
    hl_cmd_set_accept(c, schedule_accepted, hl);
    if (connector > 0)
        hl_cmd_set_connector(c, connector, HL_CHECK_CONNECTOR);
    hl_cmd_submit(c);
}
