/*
 * simulator.c — the simulator plugin: fleets of virtual stations created from templates
 * through /sim/v1 or at start ([simulator] autostart_*), the Server-Sent Events stream of
 * every OCPP frame of simulated stations, and the load-test report (pipelet-sim).
 */
#include "simulator.h"
#include "security.h"

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESERVOIR 20000

/* ---------- latency statistics ---------- */

void sim_latency_add(struct sim *s, const char *action, double ms, int error)
{
    struct sim_latency *l = NULL;
    for (size_t i = 0; i < s->nlat; i++)
        if (!strcmp(s->lat[i].action, action)) {
            l = &s->lat[i];
            break;
        }
    if (!l) {
        if (s->nlat == sizeof s->lat / sizeof s->lat[0])
            return;
        l = &s->lat[s->nlat++];
        snprintf(l->action, sizeof l->action, "%s", action);
        l->samples = calloc(RESERVOIR, sizeof *l->samples);
    }
    l->count++;
    if (error)
        l->errors++;
    if (ms > l->max)
        l->max = ms;
    if (!l->samples)
        return;
    if (l->nsamples < RESERVOIR)
        l->samples[l->nsamples++] = ms;
    else /* reservoir sampling keeps percentiles honest on long runs */
        l->samples[(size_t)rand() % RESERVOIR] = ms;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

json_t *sim_report(struct sim *s)
{
    double secs = (double)(s->host->now_ms() - s->started_ms) / 1000.0;
    size_t connected = 0, booted = 0, queued = 0;
    for (struct sim_station *st = s->stations; st; st = st->next) {
        connected += st->state >= SIM_BOOTING;
        booted += st->state == SIM_ACCEPTED;
        queued += json_array_size(st->queue);
    }
    json_t *actions = json_object();
    for (size_t i = 0; i < s->nlat; i++) {
        struct sim_latency *l = &s->lat[i];
        qsort(l->samples, l->nsamples, sizeof *l->samples, cmp_double);
#define PCT(p) (l->nsamples ? l->samples[(size_t)((p) * (double)(l->nsamples - 1))] : 0.0)
        json_object_set_new(actions, l->action,
                            json_pack("{s:I, s:I, s:f, s:f, s:f, s:f, s:f}", "count", (json_int_t)l->count, "errors",
                                      (json_int_t)l->errors, "per_second", secs > 0 ? l->count / secs : 0.0,
                                      "p50_ms", PCT(0.50), "p95_ms", PCT(0.95), "p99_ms", PCT(0.99), "max_ms", l->max));
#undef PCT
    }
    /* calls sent and not answered yet (in flight or waiting behind the station's own
     * outstanding call, OCPP-J): a load test opens its window once this is back to the
     * steady level, not while the CSMS is still working off a boot storm */
    return json_pack("{s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:o}", "seconds", secs, "stations",
                     (json_int_t)s->nstations, "connected", (json_int_t)connected, "booted", (json_int_t)booted,
                     "messages_sent", (json_int_t)s->sent, "answers", (json_int_t)s->received, "errors",
                     (json_int_t)s->errors, "reconnects", (json_int_t)s->reconnects, "queued_offline",
                     (json_int_t)queued, "calls_outstanding", (json_int_t)s->outstanding, "messages_per_second",
                     secs > 0 ? s->received / secs : 0.0, "actions", actions);
}

/* ---------- fleets ---------- */

static struct sim_station *find(struct sim *s, const char *id)
{
    for (struct sim_station *st = s->stations; st; st = st->next)
        if (!strcmp(st->id, id))
            return st;
    return NULL;
}

/* The closed loop starts when the whole fleet has booted, all stations at once: a
 * CSMS saturated by the first stations' loop would otherwise starve the handshakes of
 * the rest, and throughput would be measured on a fleet still ramping up. */
static void closed_loop_start_when_booted(struct sim *s)
{
    if (!s->closed_loop || s->closed_loop_running || !s->stations)
        return;
    for (struct sim_station *st = s->stations; st; st = st->next)
        if (st->state != SIM_ACCEPTED)
            return;
    s->closed_loop_running = 1;
    for (struct sim_station *st = s->stations; st; st = st->next)
        sim_station_closed_loop(st);
}

static void ramp_step(void *arg)
{
    struct sim *s = arg;
    closed_loop_start_when_booted(s);
    long n = s->ramp_per_s > 0 ? s->ramp_per_s / 10 : 1000000;
    if (n < 1)
        n = 1;
    /* connect stations that want to be but have never tried, a slice every 100 ms */
    for (struct sim_station *st = s->stations; st && n > 0; st = st->next)
        if (st->want_connected && !st->c && st->state == SIM_OFFLINE && st->next_reconnect == 0) {
            st->next_reconnect = 1;
            sim_station_connect(st);
            n--;
        }
}

/* Why a fleet was refused: an HTTP status, a machine code, a message, and for id
 * conflicts the ids concerned. */
struct fleet_err {
    int status;
    const char *code;
    char msg[300];
    json_t *ids; /* new, or NULL */
};

static int refuse(struct fleet_err *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(struct fleet_err *e, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->status = status;
    e->code = code;
    return -1;
}

/* The CSMS a template names.  trusted: the operator's own configuration (autostart), which
 * needs no allow list; a /sim/v1 client gets this gateway or what allowed_csms_urls lists. */
static int check_csms_url(struct sim *s, json_t *tpl, int trusted, struct fleet_err *e)
{
    json_t *v = json_object_get(tpl, "csms_url");
    if (!v)
        return 0;
    const char *url = json_string_value(v);
    if (!url || (strncmp(url, "ws://", 5) && strncmp(url, "wss://", 6)))
        return refuse(e, 400, "INVALID_PARAMETER", "csms_url must be ws:// or wss://");
    if (!trusted && !sim_csms_url_allowed(&s->policy, url))
        return refuse(e, 400, "CSMS_URL_NOT_ALLOWED",
                      "csms_url may be this gateway (%s) or a prefix listed in [simulator] allowed_csms_urls",
                      s->policy.own_url);
    return 0;
}

/* A client may name only a CA file the operator listed, and learns nothing about other
 * paths: the same answer whether they exist or not. */
static int check_ca_file(struct sim *s, json_t *tpl, int trusted, struct fleet_err *e)
{
    json_t *v = json_object_get(tpl, "csms_ca_file");
    if (!v)
        return 0;
    const char *path = json_string_value(v);
    if (!trusted && !sim_ca_file_allowed(&s->policy, path))
        return refuse(e, 400, "CA_FILE_NOT_ALLOWED", "csms_ca_file must be one of [simulator] allowed_ca_files");
    if (!path || access(path, R_OK) != 0)
        return refuse(e, 400, "INVALID_PARAMETER", "csms_ca_file %s cannot be read on the simulator's host",
                      path ? path : "(not a string)");
    return 0;
}

/* Security: the profile, the wss:// URL (the same allow list as csms_url) and the CA the
 * stations' certificates are issued from (files the operator listed, like csms_ca_file). */
static int check_security(struct sim *s, json_t *tpl, int trusted, struct fleet_err *e)
{
    json_t *p = json_object_get(tpl, "security_profile");
    if (p && (!json_is_integer(p) || json_integer_value(p) < 0 || json_integer_value(p) > 3))
        return refuse(e, 400, "INVALID_PARAMETER", "security_profile must be 0, 1, 2 or 3");
    json_t *u = json_object_get(tpl, "csms_tls_url");
    const char *url = json_string_value(u);
    if (u && (!url || strncmp(url, "wss://", 6)))
        return refuse(e, 400, "INVALID_PARAMETER", "csms_tls_url must be a wss:// URL");
    if (u && !trusted && !sim_csms_url_allowed(&s->policy, url))
        return refuse(e, 400, "CSMS_URL_NOT_ALLOWED",
                      "csms_tls_url may be this gateway or a prefix listed in [simulator] allowed_csms_urls");
    const char *names[] = {"client_ca_cert", "client_ca_key"};
    int given = 0;
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(tpl, names[i]);
        if (!v)
            continue;
        given++;
        const char *path = json_string_value(v);
        if (!trusted && !sim_ca_file_allowed(&s->policy, path))
            return refuse(e, 400, "CA_FILE_NOT_ALLOWED", "%s must be one of [simulator] allowed_ca_files", names[i]);
        if (!path || access(path, R_OK) != 0)
            return refuse(e, 400, "INVALID_PARAMETER", "%s %s cannot be read on the simulator's host", names[i],
                          path ? path : "(not a string)");
    }
    if (given == 1)
        return refuse(e, 400, "INVALID_PARAMETER", "client_ca_cert and client_ca_key go together");
    if (p && json_integer_value(p) == 3 && given == 0)
        return refuse(e, 400, "INVALID_PARAMETER",
                      "security_profile 3 needs a certificate: client_ca_cert and client_ca_key (or start lower and "
                      "let the gateway sign one)");
    return 0;
}

static int check_template(struct sim *s, json_t *tpl, int trusted, struct fleet_err *e)
{
    const char *proto = json_string_value(json_object_get(tpl, "protocol"));
    if (proto && strcmp(proto, "ocpp1.6") && strcmp(proto, "ocpp2.0.1"))
        return refuse(e, 400, "INVALID_PARAMETER", "protocol must be ocpp1.6 or ocpp2.0.1");
    return check_csms_url(s, tpl, trusted, e) || check_ca_file(s, tpl, trusted, e) ||
           check_security(s, tpl, trusted, e);
}

/* Names the ids in a message: the first few, then how many more. */
static void ids_text(json_t *ids, char *buf, size_t len)
{
    size_t i, off = 0;
    json_t *v;
    buf[0] = '\0';
    json_array_foreach(ids, i, v) {
        if (i == 5) {
            snprintf(buf + off, len - off, " and %zu more", json_array_size(ids) - 5);
            return;
        }
        int n = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", json_string_value(v));
        if (n < 0 || (size_t)n >= len - off)
            return;
        off += (size_t)n;
    }
}

/* A station connected to this gateway that is not ours is a real one: a simulated
 * station with its id would take its connection over and write in its name. */
static int check_ids_free(struct sim *s, json_t *ids, struct fleet_err *e)
{
    json_t *taken = json_array(), *v;
    size_t i;
    json_array_foreach(ids, i, v) {
        const char *id = json_string_value(v);
        if (find(s, id)) {
            json_decref(taken);
            return refuse(e, 409, "CONFLICT", "simulated station %s already exists", id);
        }
        if (s->host->stations->online(id))
            json_array_append(taken, v);
    }
    if (!json_array_size(taken)) {
        json_decref(taken);
        return 0;
    }
    char names[200];
    ids_text(taken, names, sizeof names);
    e->ids = taken;
    return refuse(e, 409, "STATION_ID_IN_USE", "station id in use by a station connected to this gateway: %s", names);
}

/* The ids of a fleet (new), all valid and free, or NULL with e. */
static json_t *fleet_ids(struct sim *s, json_t *body, json_int_t count, struct fleet_err *e)
{
    json_t *jp = json_object_get(body, "id_prefix");
    if (jp && !json_is_string(jp)) {
        refuse(e, 400, "INVALID_STATION_ID", "id_prefix must be a string");
        return NULL;
    }
    char pbuf[48];
    const char *prefix = json_string_value(jp);
    if (!prefix) {
        snprintf(pbuf, sizeof pbuf, "SIM%d-", s->fleet_seq + 1);
        prefix = pbuf;
    }
    json_t *ids = json_array();
    for (json_int_t i = 1; i <= count; i++) {
        char id[SIM_ID_MAX + 2];
        int n = snprintf(id, sizeof id, "%s%04lld", prefix, (long long)i);
        if (n < 0 || (size_t)n >= sizeof id || !sim_station_id_valid(id)) {
            json_decref(ids);
            refuse(e, 400, "INVALID_STATION_ID",
                   "station id %.60s%04lld is not valid: 1..%d characters from A-Z a-z 0-9 - _ . :", prefix,
                   (long long)i, SIM_ID_MAX);
            return NULL;
        }
        json_array_append_new(ids, json_string(id));
    }
    if (check_ids_free(s, ids, e)) {
        json_decref(ids);
        return NULL;
    }
    return ids;
}

/* The template as the stations get it: the default CSMS is this gateway. */
static json_t *station_template(struct sim *s, json_t *body, json_t *tpl)
{
    json_t *t = json_deep_copy(tpl);
    if (!json_object_get(t, "csms_url"))
        json_object_set_new(t, "csms_url", json_string(s->policy.own_url));
    /* profiles 2 and 3 go to this gateway's wss:// listener unless told otherwise */
    const char *tls_port = s->host->config_global("ocpp", "tls_port");
    if (!json_object_get(t, "csms_tls_url") && tls_port && *tls_port) {
        char url[300];
        const char *path = s->host->config_global("ocpp", "path_prefix");
        snprintf(url, sizeof url, "wss://127.0.0.1:%s%s", tls_port, path && *path ? path : "/ocpp");
        json_object_set_new(t, "csms_tls_url", json_string(url));
    }
    if (json_object_get(body, "auto_sessions"))
        json_object_set(t, "auto_sessions", json_object_get(body, "auto_sessions"));
    return t;
}

static void add_station(struct sim *s, struct sim_station *st, json_t *body)
{
    /* one loopback address holds ~28,000 ephemeral ports towards one CSMS port:
     * 20,000 stations and more spread over 127.0.0.x */
    if (s->source_spread > 0)
        snprintf(st->source_addr, sizeof st->source_addr, "127.0.0.%u",
                 (unsigned)(1 + s->created % (unsigned long)s->source_spread) & 0xffu);
    s->created++;
    st->want_connected = !json_is_false(json_object_get(body, "connect"));
    st->next = s->stations;
    s->stations = st;
    s->nstations++;
}

/* Create count stations from a template: all of them or (with e) none.  Returns the ids
 * created (new), fewer only when memory ran out. */
static json_t *create_fleet(struct sim *s, json_t *body, int trusted, char *fleet_id, size_t fidlen,
                            struct fleet_err *e)
{
    json_t *tpl = json_object_get(body, "template");
    if (!tpl)
        tpl = body;
    json_int_t count = json_is_integer(json_object_get(body, "count")) ? json_integer_value(json_object_get(body, "count")) : 1;
    if (count < 1 || count > 20000) {
        refuse(e, 400, "INVALID_PARAMETER", "count must be 1..20000");
        return NULL;
    }
    json_t *ids;
    if (check_template(s, tpl, trusted, e) || !(ids = fleet_ids(s, body, count, e)))
        return NULL;
    snprintf(fleet_id, fidlen, "fleet-%d", ++s->fleet_seq);
    json_t *tpl2 = station_template(s, body, tpl);
    json_t *created = json_array(), *v;
    size_t i;
    json_array_foreach(ids, i, v) {
        struct sim_station *st = sim_station_new(s, json_string_value(v), tpl2, fleet_id);
        if (!st)
            break;
        add_station(s, st, body);
        json_array_append(created, v);
    }
    json_decref(tpl2);
    json_decref(ids);
    ramp_step(s);
    return created;
}

/* ---------- REST ---------- */

#define HOST(s) (s)->host

static void r_create_fleet(pl_request *req, void *arg)
{
    struct sim *s = arg;
    json_t *body = HOST(s)->req_json(req);
    if (!json_is_object(body)) {
        HOST(s)->reply_error(req, 400, "INVALID_BODY", "body must be a JSON object with a template and a count");
        return;
    }
    char fleet[40];
    struct fleet_err e = {0};
    json_t *ids = create_fleet(s, body, 0, fleet, sizeof fleet, &e);
    if (!ids) {
        json_t *err = json_pack("{s:s, s:s}", "error", e.msg, "code", e.code);
        if (e.ids)
            json_object_set_new(err, "stations", e.ids);
        HOST(s)->reply_json(req, e.status, err);
        return;
    }
    HOST(s)->reply_json(req, 201, json_pack("{s:s, s:o}", "fleet_id", fleet, "stations", ids));
}

static void r_list_fleets(pl_request *req, void *arg)
{
    struct sim *s = arg;
    json_t *fleets = json_object();
    for (struct sim_station *st = s->stations; st; st = st->next) {
        json_t *f = json_object_get(fleets, st->fleet);
        if (!f) {
            f = json_pack("{s:s, s:i, s:i}", "fleet_id", st->fleet, "stations", 0, "online", 0);
            json_object_set_new(fleets, st->fleet, f);
        }
        json_object_set_new(f, "stations", json_integer(json_integer_value(json_object_get(f, "stations")) + 1));
        if (st->state == SIM_ACCEPTED)
            json_object_set_new(f, "online", json_integer(json_integer_value(json_object_get(f, "online")) + 1));
    }
    json_t *items = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(fleets, k, v) json_array_append(items, v);
    json_decref(fleets);
    HOST(s)->reply_json(req, 200, json_pack("{s:o}", "items", items));
}

static void remove_station(struct sim *s, struct sim_station *victim)
{
    for (struct sim_station **pp = &s->stations; *pp; pp = &(*pp)->next)
        if (*pp == victim) {
            *pp = victim->next;
            s->nstations--;
            sim_station_free(victim);
            return;
        }
}

static void r_delete_fleet(pl_request *req, void *arg)
{
    struct sim *s = arg;
    const char *id = HOST(s)->req_param(req, "id");
    int n = 0;
    for (struct sim_station *st = s->stations, *next; st; st = next) {
        next = st->next;
        if (!strcmp(st->fleet, id)) {
            remove_station(s, st);
            n++;
        }
    }
    if (!n)
        HOST(s)->reply_error(req, 404, "FLEET_NOT_FOUND", "no such fleet");
    else
        HOST(s)->reply_json(req, 200, json_pack("{s:s, s:i}", "fleet_id", id, "deleted", n));
}

static void r_list_stations(pl_request *req, void *arg)
{
    struct sim *s = arg;
    const char *fleet = HOST(s)->req_query(req, "fleet");
    json_t *items = json_array();
    for (struct sim_station *st = s->stations; st; st = st->next)
        if (!fleet || !strcmp(fleet, st->fleet))
            json_array_append_new(items, sim_station_json(st));
    HOST(s)->reply_json(req, 200, json_pack("{s:o, s:I}", "items", items, "count", (json_int_t)json_array_size(items)));
}

static struct sim_station *station_param(struct sim *s, pl_request *req)
{
    struct sim_station *st = find(s, HOST(s)->req_param(req, "id"));
    if (!st)
        HOST(s)->reply_error(req, 404, "STATION_NOT_FOUND", "no such simulated station");
    return st;
}

static void r_get_station(pl_request *req, void *arg)
{
    struct sim *s = arg;
    struct sim_station *st = station_param(s, req);
    if (st)
        HOST(s)->reply_json(req, 200, sim_station_json(st));
}

static void r_delete_station(pl_request *req, void *arg)
{
    struct sim *s = arg;
    struct sim_station *st = station_param(s, req);
    if (!st)
        return;
    remove_station(s, st);
    HOST(s)->reply_raw(req, 204, NULL, "", 0);
}

static void r_connect(pl_request *req, void *arg)
{
    struct sim *s = arg;
    struct sim_station *st = station_param(s, req);
    if (!st)
        return;
    if (strstr(HOST(s)->req_path(req), "/disconnect"))
        sim_station_disconnect(st, 0);
    else {
        st->backoff_ms = 1000;
        sim_station_connect(st);
    }
    HOST(s)->reply_json(req, 202, sim_station_json(st));
}

static int connector_param(struct sim *s, pl_request *req, struct sim_station *st)
{
    const char *c = HOST(s)->req_param(req, "c");
    char *end;
    long n = c ? strtol(c, &end, 10) : 0;
    if (!c || *end || n < 1 || n > st->nconn) {
        HOST(s)->reply_error(req, 404, "CONNECTOR_NOT_FOUND", "connector must be 1..%d", st->nconn);
        return 0;
    }
    return (int)n;
}

static void r_connector(pl_request *req, void *arg)
{
    struct sim *s = arg;
    struct sim_station *st = station_param(s, req);
    int n = st ? connector_param(s, req, st) : 0;
    if (!n)
        return;
    const char *path = HOST(s)->req_path(req);
    const char *verb = strrchr(path, '/') + 1;
    json_t *body = HOST(s)->req_json(req);
    const char *tag = json_string_value(json_object_get(body, "id_tag"));
    int rc;
    json_t *ev = json_object_get(body, "ev_max_power_w");
    if (ev && (!json_is_number(ev) || json_number_value(ev) < 0 || json_number_value(ev) > 1e6)) {
        HOST(s)->reply_error(req, 400, "INVALID_PARAMETER", "ev_max_power_w must be watts, 0 to 1000000");
        return;
    }
    if (ev && (!strcmp(verb, "plug") || !strcmp(verb, "start")))
        st->conn[n - 1].ev_max_w = json_number_value(ev); /* the EV of this session; 0 = no limit of its own */
    if (!strcmp(verb, "plug"))
        rc = sim_station_plug(st, n, 1);
    else if (!strcmp(verb, "unplug"))
        rc = sim_station_plug(st, n, 0);
    else if (!strcmp(verb, "authorize")) {
        /* a swipe: the CSMS decides; the answer shows in the SSE stream */
        rc = PL_OK;
        if (st->state == SIM_ACCEPTED) {
            char err[100];
            json_t *p = st->v201 ? json_pack("{s:{s:s, s:s}}", "idToken", "idToken", tag ? tag : "SIMTAG", "type", "ISO14443")
                                 : json_pack("{s:s}", "idTag", tag ? tag : "SIMTAG");
            rc = s->ocpp->call(st->c, "Authorize", p, 0, NULL, NULL, err, sizeof err);
        } else {
            rc = PL_EOFFLINE;
        }
    } else if (!strcmp(verb, "plug-and-charge")) {
        const char *emaid = json_string_value(json_object_get(body, "emaid"));
        json_t *hash = json_object_get(body, "hash_data");
        const char *cert = json_string_value(json_object_get(body, "certificate"));
        rc = sim_station_plug_and_charge(st, n, emaid, hash, cert);
    } else if (!strcmp(verb, "start"))
        rc = sim_station_start(st, n, tag);
    else
        rc = sim_station_stop(st, n, "Local");
    if (rc == PL_OK)
        HOST(s)->reply_json(req, 200, sim_station_json(st));
    else if (rc == PL_EOFFLINE)
        HOST(s)->reply_error(req, 409, "STATION_OFFLINE", "the simulated station is not connected");
    else
        HOST(s)->reply_error(req, 409, "INVALID_STATE", "connector %d cannot %s now (status %s)", n, verb,
                             st->conn[n - 1].status);
}

static void r_fault(pl_request *req, void *arg)
{
    struct sim *s = arg;
    json_t *body = HOST(s)->req_json(req);
    char err[200];
    if (strstr(HOST(s)->req_path(req), "/fleets/")) {
        const char *fid = HOST(s)->req_param(req, "id");
        int n = 0;
        for (struct sim_station *st = s->stations; st; st = st->next)
            if (!strcmp(st->fleet, fid)) {
                if (sim_station_fault(st, body, err, sizeof err) != PL_OK) {
                    HOST(s)->reply_error(req, 400, "INVALID_PARAMETER", "%s", err);
                    return;
                }
                n++;
            }
        if (!n)
            HOST(s)->reply_error(req, 404, "FLEET_NOT_FOUND", "no such fleet");
        else
            HOST(s)->reply_json(req, 200, json_pack("{s:i}", "stations", n));
        return;
    }
    struct sim_station *st = station_param(s, req);
    if (!st)
        return;
    if (!strcmp(HOST(s)->req_method(req), "DELETE")) {
        sim_station_clear_faults(st);
        HOST(s)->reply_json(req, 200, sim_station_json(st));
        return;
    }
    if (sim_station_fault(st, body, err, sizeof err) != PL_OK) {
        HOST(s)->reply_error(req, 400, "INVALID_PARAMETER", "%s", err);
        return;
    }
    HOST(s)->reply_json(req, 200, sim_station_json(st));
}

static void r_report(pl_request *req, void *arg)
{
    struct sim *s = arg;
    HOST(s)->reply_json(req, 200, sim_report(s));
}

/* Start a new measurement window: counters, rates and latencies from now on (a load
 * test usually wants the steady state, not the ramp-up).  Answers the closed window. */
static void r_report_reset(pl_request *req, void *arg)
{
    struct sim *s = arg;
    json_t *closed = sim_report(s);
    for (size_t i = 0; i < s->nlat; i++) {
        struct sim_latency *l = &s->lat[i];
        l->count = l->errors = 0;
        l->nsamples = 0;
        l->max = 0;
    }
    s->sent = s->received = s->errors = s->reconnects = 0;
    s->started_ms = s->host->now_ms();
    HOST(s)->reply_json(req, 200, closed);
}

/* ---------- SSE ---------- */

struct sse_client {
    struct sim *s;
    pl_request *req;
    char *station, *action, *dir;
    int gone;
    struct sse_client *next;
};

static void sse_remove(struct sim *s, struct sse_client *c)
{
    for (struct sse_client **pp = &s->sse; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    s->host->reply_stream_end(c->req);
    if (!s->sse && s->bus) {
        /* nobody listens: stop the bus from building an event for every frame */
        s->host->bus_unsubscribe(s->bus);
        s->bus = NULL;
    }
    free(c->station);
    free(c->action);
    free(c->dir);
    free(c);
}

static void sse_closed(pl_request *req, void *arg)
{
    struct sse_client *c = arg;
    (void)req;
    c->gone = 1;
}

static void sse_sweep(struct sim *s)
{
    for (struct sse_client *c = s->sse, *next; c; c = next) {
        next = c->next;
        if (c->gone)
            sse_remove(s, c);
    }
}

static void on_ocpp_message(const char *topic, json_t *env, void *arg)
{
    struct sim *s = arg;
    (void)topic;
    if (!s->sse)
        return;
    json_t *data = json_object_get(env, "data");
    const char *side = json_string_value(json_object_get(data, "side"));
    const char *station = json_string_value(json_object_get(env, "station"));
    if (!side || strcmp(side, "client") != 0 || !station || !find(s, station))
        return; /* only our own stations' frames */
    const char *action = json_string_value(json_object_get(data, "action"));
    const char *dir = json_string_value(json_object_get(data, "dir"));
    char *text = NULL;
    for (struct sse_client *c = s->sse; c; c = c->next) {
        if (c->gone || (c->station && strcmp(c->station, station)) || (c->dir && (!dir || strcmp(c->dir, dir))) ||
            (c->action && (!action || strcmp(c->action, action))))
            continue;
        if (!text) {
            /* a copy: the envelope is shared with other subscribers; the copy loses its
             * credentials (a CSMS setting a station's password) before it goes out */
            json_t *frame = json_deep_copy(json_object_get(data, "frame"));
            sim_redact(frame);
            json_t *ev = json_pack("{s:O, s:s, s:O, s:O?, s:O, s:o?}", "time", json_object_get(env, "time"), "station",
                                   station, "dir", json_object_get(data, "dir"), "action", json_object_get(data, "action"),
                                   "message_type", json_object_get(data, "message_type"), "frame", frame);
            char *j = json_dumps(ev, JSON_COMPACT);
            json_decref(ev);
            size_t n = j ? strlen(j) + 64 : 0;
            text = n ? malloc(n) : NULL;
            if (text)
                snprintf(text, n, "event: ocpp\ndata: %s\n\n", j);
            free(j);
            if (!text)
                return;
        }
        if (s->host->reply_stream_write(c->req, text, strlen(text)) != PL_OK)
            c->gone = 1;
    }
    free(text);
    sse_sweep(s);
}

static void sse_ping(void *arg)
{
    struct sim *s = arg;
    for (struct sse_client *c = s->sse; c; c = c->next)
        if (!c->gone && s->host->reply_stream_write(c->req, ": keep-alive\n\n", 14) != PL_OK)
            c->gone = 1;
    sse_sweep(s);
}

static char *dup_or_null(const char *v)
{
    return v && *v ? strdup(v) : NULL;
}

static void r_events(pl_request *req, void *arg)
{
    struct sim *s = arg;
    struct sse_client *c = calloc(1, sizeof *c);
    if (!c) {
        HOST(s)->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    c->s = s;
    c->req = req;
    c->station = dup_or_null(HOST(s)->req_query(req, "station"));
    c->action = dup_or_null(HOST(s)->req_query(req, "action"));
    c->dir = dup_or_null(HOST(s)->req_query(req, "dir"));
    if (HOST(s)->reply_stream_begin(req, 200, "text/event-stream") != PL_OK) {
        free(c->station);
        free(c->action);
        free(c->dir);
        free(c);
        return;
    }
    if (!s->bus)
        s->bus = HOST(s)->bus_subscribe(s->self, "ocpp.message", on_ocpp_message, s);
    HOST(s)->req_on_close(req, sse_closed, c);
    static const char hello[] = ": pipelet simulator events\nretry: 2000\n\n";
    HOST(s)->reply_stream_write(req, hello, sizeof hello - 1);
    c->next = s->sse;
    s->sse = c;
}

/* ---------- lifecycle ---------- */

static void write_report(void *arg)
{
    struct sim *s = arg;
    json_t *r = sim_report(s);
    char *text = json_dumps(r, JSON_INDENT(2));
    json_decref(r);
    if (s->report_file && text) {
        FILE *f = fopen(s->report_file, "w");
        if (f) {
            fputs(text, f);
            fclose(f);
        }
    }
    s->host->log(s->self, PL_LOG_INFO, "load test finished after %ld s: report in %s", s->run_seconds,
                 s->report_file ? s->report_file : "(log)");
    free(text);
    kill(getpid(), SIGTERM); /* pipelet-sim mode: the run is over */
}

/* Every route needs a key unless the operator said otherwise ([simulator]
 * api_key_required = no): reads need the read scope, anything that changes the
 * simulation (or the gateway's stations through it) the operator scope. */
static const struct {
    const char *m, *p;
    int scope;
    pl_route_cb cb;
} routes[] = {
    {"POST", "/sim/v1/fleets", PL_AUTH_OPERATOR, r_create_fleet},
    {"GET", "/sim/v1/fleets", PL_AUTH_READ, r_list_fleets},
    {"DELETE", "/sim/v1/fleets/{id}", PL_AUTH_OPERATOR, r_delete_fleet},
    {"POST", "/sim/v1/fleets/{id}/faults", PL_AUTH_OPERATOR, r_fault},
    {"GET", "/sim/v1/stations", PL_AUTH_READ, r_list_stations},
    {"GET", "/sim/v1/stations/{id}", PL_AUTH_READ, r_get_station},
    {"DELETE", "/sim/v1/stations/{id}", PL_AUTH_OPERATOR, r_delete_station},
    {"POST", "/sim/v1/stations/{id}/connect", PL_AUTH_OPERATOR, r_connect},
    {"POST", "/sim/v1/stations/{id}/disconnect", PL_AUTH_OPERATOR, r_connect},
    {"POST", "/sim/v1/stations/{id}/connectors/{c}/plug", PL_AUTH_OPERATOR, r_connector},
    {"POST", "/sim/v1/stations/{id}/connectors/{c}/unplug", PL_AUTH_OPERATOR, r_connector},
    {"POST", "/sim/v1/stations/{id}/connectors/{c}/authorize", PL_AUTH_OPERATOR, r_connector},
    {"POST", "/sim/v1/stations/{id}/connectors/{c}/start", PL_AUTH_OPERATOR, r_connector},
    {"POST", "/sim/v1/stations/{id}/connectors/{c}/plug-and-charge", PL_AUTH_OPERATOR, r_connector},
    {"POST", "/sim/v1/stations/{id}/connectors/{c}/stop", PL_AUTH_OPERATOR, r_connector},
    {"POST", "/sim/v1/stations/{id}/faults", PL_AUTH_OPERATOR, r_fault},
    {"DELETE", "/sim/v1/stations/{id}/faults", PL_AUTH_OPERATOR, r_fault},
    {"GET", "/sim/v1/events", PL_AUTH_READ, r_events},
    {"GET", "/sim/v1/report", PL_AUTH_READ, r_report},
    {"POST", "/sim/v1/report/reset", PL_AUTH_OPERATOR, r_report_reset},
};

const char *const sim_loop_actions[] = {"Heartbeat", "MeterValues", "Authorize", NULL};

/* closed_loop_action = Heartbeat (default) | MeterValues | Authorize */
static int closed_loop_action(const struct pl_host *host, pl_plugin_handle *self, int *kind)
{
    const char *a = host->config_get(self, "closed_loop_action", "Heartbeat");
    for (int i = 0; sim_loop_actions[i]; i++)
        if (!strcmp(a, sim_loop_actions[i])) {
            *kind = i;
            return PL_OK;
        }
    host->log(self, PL_LOG_ERROR, "closed_loop_action must be Heartbeat, MeterValues or Authorize, not '%s'", a);
    return PL_EINVAL;
}

/* This gateway's OCPP listener as a client reaches it: the effective [ocpp] port (the
 * bound one when configured 0) and path; a wildcard listen address means loopback. */
static void own_csms_url(const struct pl_host *h, char *buf, size_t len)
{
    const char *listen = h->config_global("ocpp", "listen");
    const char *port = h->config_global("ocpp", "port");
    const char *path = h->config_global("ocpp", "path_prefix");
    int wildcard = !listen || !*listen || !strcmp(listen, "0.0.0.0") || strchr(listen, ':');
    snprintf(buf, len, "ws://%s:%s%s", wildcard ? "127.0.0.1" : listen,
             port && *port && strcmp(port, "0") ? port : "9000", path && *path ? path : "/ocpp");
}

/* Every setting is read here, so a bad value (an unknown yes/no, a number out of range,
 * a bad allow-list entry) refuses the plugin with a line naming it, before anything runs. */
static int read_config(struct sim *s, int *keyreq)
{
    const struct pl_host *host = s->host;
    pl_plugin_handle *self = s->self;
    if (host->config_bool(self, "api_key_required", 1, keyreq) ||
        host->config_int(self, "ramp_per_s", 200, 0, 1000000, &s->ramp_per_s) ||
        host->config_int(self, "run_seconds", 0, 0, 86400 * 7, &s->run_seconds) ||
        host->config_bool(self, "closed_loop", 0, &s->closed_loop) ||
        closed_loop_action(host, self, &s->closed_loop_kind) ||
        host->config_bool(self, "heartbeat_fixed", 0, &s->heartbeat_fixed) ||
        host->config_bool(self, "validate", 1, &s->validate) ||
        host->config_int(self, "source_spread", 0, 0, 254, &s->source_spread) ||
        host->config_int(self, "autostart_count", 0, 0, 20000, &s->autostart_count) ||
        host->config_bool(self, "autostart_sessions", 0, &s->autostart_sessions) ||
        host->config_int(self, "heartbeat_s", 60, 1, 86400, &s->heartbeat_s) ||
        host->config_int(self, "meter_interval_s", 10, 1, 86400, &s->meter_interval_s))
        return PL_EINVAL;
    char why[300];
    if (sim_policy_init(&s->policy, host->config_get(self, "allowed_csms_urls", NULL),
                        host->config_get(self, "allowed_ca_files", NULL), why, sizeof why)) {
        host->log(self, PL_LOG_ERROR, "[simulator] %s", why);
        return PL_EINVAL;
    }
    own_csms_url(host, s->policy.own_url, sizeof s->policy.own_url);
    s->report_file = host->config_get(self, "report_file", NULL);
    return PL_OK;
}

static int sim_init(pl_plugin_handle *self, const struct pl_host *host, void **state)
{
#define R PL_CONFIG_RESTART /* every key is read at init or start: a change needs a restart */
    static const struct pl_config_key keys[] = {
        {"api_key_required", PL_CONFIG_BOOL, "yes", 0, 0, NULL, "/sim/v1 needs an API key", R},
        {"allowed_csms_urls", PL_CONFIG_LIST, NULL, 0, 0, NULL, "ws:// or wss:// URL prefixes a client may use", R},
        {"allowed_ca_files", PL_CONFIG_LIST, NULL, 0, 0, NULL, "absolute CA file paths a client may name", R},
        {"autostart_count", PL_CONFIG_INT, "0", 0, 20000, NULL, "stations created at start", R},
        {"autostart_protocols", PL_CONFIG_LIST, "ocpp1.6", 0, 0, "ocpp1.6 ocpp2.0.1", "their protocols", R},
        {"autostart_sessions", PL_CONFIG_BOOL, "no", 0, 0, NULL, "they charge at random", R},
        {"autostart_csms_url", PL_CONFIG_STRING, NULL, 0, 0, NULL, "their CSMS (default: this gateway)", R},
        {"autostart_csms_ca_file", PL_CONFIG_STRING, NULL, 0, 0, NULL, "CA file for a wss:// CSMS", R},
        {"id_prefix", PL_CONFIG_STRING, "SIM-", 0, 0, NULL, "station id prefix (one protocol)", R},
        {"heartbeat_s", PL_CONFIG_INT, "60", 1, 86400, NULL, "heartbeat interval", R},
        {"heartbeat_fixed", PL_CONFIG_BOOL, "no", 0, 0, NULL, "ignore the CSMS's interval", R},
        {"meter_interval_s", PL_CONFIG_INT, "10", 1, 86400, NULL, "meter values interval", R},
        {"ramp_per_s", PL_CONFIG_INT, "200", 0, 1000000, NULL, "connections opened per second", R},
        {"source_spread", PL_CONFIG_INT, "0", 0, 254, NULL, "connect from 127.0.0.1..N", R},
        {"validate", PL_CONFIG_BOOL, "yes", 0, 0, NULL, "validate the stations' own frames", R},
        {"closed_loop", PL_CONFIG_BOOL, "no", 0, 0, NULL, "send the next message on each answer", R},
        {"closed_loop_action", PL_CONFIG_ENUM, "Heartbeat", 0, 0, "Heartbeat MeterValues Authorize", "what it sends", R},
        {"run_seconds", PL_CONFIG_INT, "0", 0, 86400 * 7, NULL, "write the report after this long", R},
        {"report_file", PL_CONFIG_STRING, NULL, 0, 0, NULL, "where the report goes", R},
    };
#undef R
    int rc = host->config_declare(self, keys, sizeof keys / sizeof keys[0]);
    if (rc != PL_OK)
        return rc;
    struct sim *s = calloc(1, sizeof *s);
    if (!s)
        return PL_ENOMEM;
    s->host = host;
    s->self = self;
    s->ocpp = host->ocpp;
    int keyreq = 1;
    rc = read_config(s, &keyreq);
    if (rc != PL_OK)
        goto fail;
    if (!keyreq)
        host->log(self, PL_LOG_WARN,
                  "api_key_required = no: anyone who reaches the HTTP listener can create stations in the "
                  "gateway's name and read their traffic; keep this to an isolated test machine");
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if ((rc = host->http_route(self, routes[i].m, routes[i].p, keyreq ? routes[i].scope : PL_AUTH_NONE,
                                   routes[i].cb, s)) != PL_OK)
            goto fail;
    pl_http_describe_text(host, self, simulator_openapi_json, (size_t)simulator_openapi_json_len);
    *state = s; /* the bus subscription comes with the first /sim/v1/events client */
    return PL_OK;
fail:
    sim_policy_free(&s->policy);
    sim_security_ca_free(s);
    free(s);
    return rc;
}

/* The operator's fleet ([simulator] autostart_*): created inside the process, so it needs
 * no key, and its CSMS URL and CA file are the operator's choice, not a client's. */
static void autostart_fleet(struct sim *s, const char *proto, long n, const char *prefix)
{
    const struct pl_host *h = s->host;
    json_t *body = json_pack("{s:{s:s, s:i, s:i}, s:I, s:s}", "template", "protocol", proto, "heartbeat_s",
                             (int)s->heartbeat_s, "meter_interval_s", (int)s->meter_interval_s, "count",
                             (json_int_t)n, "id_prefix", prefix);
    json_t *tpl = json_object_get(body, "template");
    const char *url = h->config_get(s->self, "autostart_csms_url", NULL);
    const char *ca = h->config_get(s->self, "autostart_csms_ca_file", NULL);
    if (url)
        json_object_set_new(tpl, "csms_url", json_string(url));
    if (ca)
        json_object_set_new(tpl, "csms_ca_file", json_string(ca));
    if (s->autostart_sessions)
        json_object_set_new(body, "auto_sessions", json_pack("{s:f, s:{s:f, s:f}}", "arrival_per_hour", 30.0,
                                                             "duration_s", "mean", 240.0, "sd", 60.0));
    char fleet[40];
    struct fleet_err e = {0};
    json_t *ids = create_fleet(s, body, 1, fleet, sizeof fleet, &e);
    if (ids)
        h->log(s->self, PL_LOG_INFO, "autostart: %zu %s stations (%s)", json_array_size(ids), proto, fleet);
    else
        h->log(s->self, PL_LOG_ERROR, "autostart: no %s stations: %s", proto, e.msg);
    json_decref(e.ids);
    json_decref(ids);
    json_decref(body);
}

static int sim_start(void *state)
{
    struct sim *s = state;
    const struct pl_host *h = s->host;
    s->started_ms = h->now_ms();
    s->ramp = h->timer_new(s->self, ramp_step, s);
    h->timer_start(s->ramp, 100, 1);
    s->sse_ping = h->timer_new(s->self, sse_ping, s);
    h->timer_start(s->sse_ping, 15000, 1);
    long count = s->autostart_count;
    if (count > 0) {
        /* split the fleet over the protocols asked for (the quick start runs both) */
        const char *protos = h->config_get(s->self, "autostart_protocols", "ocpp1.6");
        int two = strstr(protos, "ocpp1.6") && strstr(protos, "ocpp2.0.1");
        if (two) {
            autostart_fleet(s, "ocpp1.6", (count + 1) / 2, "SIM16-");
            if (count / 2)
                autostart_fleet(s, "ocpp2.0.1", count / 2, "SIM201-");
        } else {
            autostart_fleet(s, strstr(protos, "ocpp2.0.1") ? "ocpp2.0.1" : "ocpp1.6", count,
                            h->config_get(s->self, "id_prefix", "SIM-"));
        }
    }
    if (s->run_seconds > 0) {
        s->report_timer = h->timer_new(s->self, write_report, s);
        h->timer_start(s->report_timer, (uint64_t)s->run_seconds * 1000, 0);
    }
    return PL_OK;
}

static void sim_stop(void *state)
{
    struct sim *s = state;
    while (s->sse)
        sse_remove(s, s->sse);
}

static void sim_fini(void *state)
{
    struct sim *s = state;
    const struct pl_host *h = s->host;
    while (s->sse)
        sse_remove(s, s->sse);
    while (s->stations) {
        struct sim_station *st = s->stations;
        s->stations = st->next;
        sim_station_free(st);
    }
    if (s->bus)
        h->bus_unsubscribe(s->bus);
    h->timer_free(s->ramp);
    h->timer_free(s->sse_ping);
    h->timer_free(s->report_timer);
    for (size_t i = 0; i < s->nlat; i++)
        free(s->lat[i].samples);
    sim_policy_free(&s->policy);
    free(s);
}

PL_PLUGIN_DEFINE(.name = "simulator", .version = PACKAGE_VERSION,
                 .description = "Virtual OCPP 1.6 / 2.0.1 charging stations, faults, SSE stream, load tests",
                 .init = sim_init, .start = sim_start, .stop = sim_stop, .fini = sim_fini);
