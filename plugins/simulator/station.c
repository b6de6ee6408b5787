/*
 * station.c — one virtual charging station: connection with back-off, boot (with
 * Pending/Rejected retry), heartbeats at the interval the CSMS sets, status
 * notifications, sessions whose energy integrates power (limited by charging profiles),
 * offline queueing with in-order replay, answers with real state changes to the CSMS's
 * calls, and injected faults.  OCPP 1.6 and 2.0.1 differ only in message shapes.
 */
#include "simulator.h"
#include "security.h"

#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define H(st) (st)->sim->host

static const char *const default_keys16[SIM_NKEYS] = {
    "HeartbeatInterval", "MeterValueSampleInterval", "ConnectionTimeOut", "LocalAuthorizeOffline",
    "AuthorizeRemoteTxRequests", "NumberOfConnectors", "SupportedFeatureProfiles", "ChargeProfileMaxStackLevel",
    "SecurityProfile"};

/* The SecurityProfile key (1.6) / variable (2.0.1) says the profile security.c holds. */
static void sync_profile_key(struct sim_station *st)
{
    snprintf(st->keys[8].value, sizeof st->keys[8].value, "%d", st->profile);
}

static double urand(struct sim_station *st)
{
    st->rng = st->rng * 1103515245u + 12345u;
    return ((st->rng >> 8) & 0xffffff) / (double)0x1000000;
}

static double gauss(struct sim_station *st, double mean, double sd)
{
    double u1 = urand(st) + 1e-9, u2 = urand(st);
    return mean + sd * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

static const char *now_ts(struct sim_station *st, char *buf, size_t len)
{
    if (!st->fault.clock_skew_s)
        return H(st)->now_rfc3339(buf, len);
    time_t t = time(NULL) + st->fault.clock_skew_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

static struct sim_key *key(struct sim_station *st, const char *name)
{
    for (int i = 0; i < SIM_NKEYS; i++)
        if (st->keys[i].name && !strcmp(st->keys[i].name, name))
            return &st->keys[i];
    return NULL;
}

/* ---------- sending ---------- */

struct call_ctx {
    struct sim_station *st;
    char action[40];
    uint64_t sent_ms;
    int queued;          /* replayed from the offline queue */
    int connector;
};

static void on_result(void *arg, pl_ocpp_conn *c, const struct pl_ocpp_result *r);

/* Transaction-related messages survive a disconnection; the rest are dropped offline. */
static int is_tx_message(const char *action)
{
    return !strcmp(action, "StartTransaction") || !strcmp(action, "StopTransaction") ||
           !strcmp(action, "MeterValues") || !strcmp(action, "TransactionEvent");
}

static void send_call(struct sim_station *st, const char *action, json_t *payload, int connector)
{
    if (st->state != SIM_ACCEPTED && !(st->state == SIM_BOOTING && !strcmp(action, "BootNotification"))) {
        if (is_tx_message(action) && json_array_size(st->queue) < SIM_MAX_QUEUE)
            json_array_append_new(st->queue, json_pack("{s:s, s:o, s:i}", "action", action, "payload",
                                                       payload, "connector", connector));
        else
            json_decref(payload);
        return;
    }
    struct call_ctx *cc = calloc(1, sizeof *cc);
    if (!cc) {
        json_decref(payload);
        return;
    }
    cc->st = st;
    cc->connector = connector;
    snprintf(cc->action, sizeof cc->action, "%s", action);
    cc->sent_ms = H(st)->now_ms();
    char err[300];
    st->sim->sent++;
    st->sim->outstanding++;
    if (st->sim->ocpp->call(st->c, action, payload, 0, on_result, cc, err, sizeof err) != PL_OK) {
        st->sim->outstanding--;
        H(st)->log(st->sim->self, PL_LOG_WARN, "sim %s: cannot send %s: %s", st->id, action, err);
        st->sim->errors++;
        free(cc);
    }
}

static void status(struct sim_station *st, int connector, const char *s)
{
    char ts[40];
    if (connector > 0)
        snprintf(st->conn[connector - 1].status, sizeof st->conn[0].status, "%s", s);
    if (st->v201) {
        /* 2.0.1 connector states: Available, Occupied, Reserved, Unavailable, Faulted */
        const char *s2 = !strcmp(s, "Preparing") || !strcmp(s, "Charging") || !strcmp(s, "Finishing") ||
                                 !strcmp(s, "SuspendedEV") || !strcmp(s, "SuspendedEVSE")
                             ? "Occupied" : s;
        if (connector == 0)
            return;
        send_call(st, "StatusNotification",
                  json_pack("{s:s, s:s, s:i, s:i}", "timestamp", now_ts(st, ts, sizeof ts), "connectorStatus",
                            s2, "evseId", connector, "connectorId", 1), connector);
    } else {
        send_call(st, "StatusNotification",
                  json_pack("{s:i, s:s, s:s, s:s}", "connectorId", connector, "errorCode",
                            !strcmp(s, "Faulted") ? "GroundFailure" : "NoError", "status", s, "timestamp",
                            now_ts(st, ts, sizeof ts)), connector);
    }
}

static json_t *meter_value(struct sim_station *st, struct sim_connector *k, const char *context)
{
    char ts[40];
    json_t *sv;
    if (st->v201) {
        sv = json_pack("[{s:f, s:s, s:s, s:{s:s}}, {s:f, s:s, s:s, s:{s:s}}]", "value", round(k->energy_wh),
                       "measurand", "Energy.Active.Import.Register", "context", context, "unitOfMeasure",
                       "unit", "Wh", "value", round(k->power_w), "measurand", "Power.Active.Import",
                       "context", context, "unitOfMeasure", "unit", "W");
        if (st->dc)
            json_array_append_new(sv, json_pack("{s:f, s:s, s:s, s:{s:s}}", "value", round(k->soc), "measurand",
                                                "SoC", "context", context, "unitOfMeasure", "unit", "Percent"));
    } else {
        char e[32], p[32], soc[16];
        snprintf(e, sizeof e, "%.0f", k->energy_wh);
        snprintf(p, sizeof p, "%.0f", k->power_w);
        snprintf(soc, sizeof soc, "%.0f", k->soc);
        sv = json_pack("[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]", "value", e, "measurand",
                       "Energy.Active.Import.Register", "unit", "Wh", "context", context, "value", p,
                       "measurand", "Power.Active.Import", "unit", "W", "context", context);
        if (st->dc)
            json_array_append_new(sv, json_pack("{s:s, s:s, s:s, s:s}", "value", soc, "measurand", "SoC",
                                                "unit", "Percent", "context", context));
    }
    return json_pack("[{s:s, s:o}]", "timestamp", now_ts(st, ts, sizeof ts), "sampledValue", sv);
}

/* ---------- sessions ---------- */

static void limits_update(struct sim_station *st);

int sim_station_plug(struct sim_station *st, int connector, int plugged)
{
    if (connector < 1 || connector > st->nconn)
        return PL_ENOENT;
    struct sim_connector *k = &st->conn[connector - 1];
    if (plugged == k->plugged)
        return PL_OK;
    k->plugged = plugged;
    if (!k->tx_active && !k->tx_pending)
        status(st, connector, plugged ? "Preparing" : (k->reserved ? "Reserved" : "Available"));
    return PL_OK;
}

int sim_station_start(struct sim_station *st, int connector, const char *id_tag)
{
    if (connector < 1 || connector > st->nconn)
        return PL_ENOENT;
    struct sim_connector *k = &st->conn[connector - 1];
    if (k->tx_active || k->tx_pending || !k->available || !strcmp(k->status, "Faulted"))
        return PL_ESTATE;
    if (st->state != SIM_ACCEPTED)
        return PL_EOFFLINE;
    char ts[40];
    snprintf(k->id_tag, sizeof k->id_tag, "%s", id_tag && *id_tag ? id_tag : "SIMTAG");
    char id_type[16];
    snprintf(id_type, sizeof id_type, "%s", *k->id_type ? k->id_type : "ISO14443");
    k->id_type[0] = '\0'; /* this session's: the next one is a card again unless told */
    k->started_ms = H(st)->now_ms();
    double dur = gauss(st, st->duration_mean_s, st->duration_sd_s);
    k->stop_at_ms = st->auto_sessions ? k->started_ms + (uint64_t)(fmax(dur, 60) * 1000) : 0;
    k->seq_no = 0;
    k->reserved = 0;
    if (st->dc)
        k->soc = 10 + 40 * urand(st);
    if (!k->plugged) {
        k->plugged = 1;
        status(st, connector, "Preparing");
    }
    if (st->v201) {
        snprintf(k->tx_id, sizeof k->tx_id, "%s-%u", st->id, (unsigned)(urand(st) * 1e9));
        k->tx_active = 1;
        send_call(st, "TransactionEvent",
                  json_pack("{s:s, s:s, s:s, s:i, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:i, s:i}, s:o}", "eventType",
                            "Started", "timestamp", now_ts(st, ts, sizeof ts), "triggerReason", "Authorized",
                            "seqNo", k->seq_no++, "transactionInfo", "transactionId", k->tx_id,
                            "chargingState", "Charging", "idToken", "idToken", k->id_tag, "type", id_type,
                            "evse", "id", connector, "connectorId", 1, "meterValue",
                            meter_value(st, k, "Transaction.Begin")),
                  connector);
        status(st, connector, "Charging");
    } else {
        k->tx_pending = 1;
        send_call(st, "StartTransaction",
                  json_pack("{s:i, s:s, s:I, s:s}", "connectorId", connector, "idTag", k->id_tag, "meterStart",
                            (json_int_t)round(k->energy_wh), "timestamp", now_ts(st, ts, sizeof ts)),
                  connector);
    }
    return PL_OK;
}

/* ---------- Plug & Charge ---------- */

struct pnc_ask {
    struct sim *s;
    char station[64];
    int connector;
    char emaid[24];
};

static void on_contract(void *arg, pl_ocpp_conn *c, const struct pl_ocpp_result *r)
{
    struct pnc_ask *a = arg;
    (void)c;
    json_t *answer = r->kind == PL_OCPP_RESULT ? r->payload : NULL;
    json_t *inner = NULL;
    const char *data = json_string_value(json_object_get(answer, "data"));
    if (data) /* 1.6: the 2.0.1 answer inside the DataTransfer.conf */
        answer = inner = json_loads(data, 0, NULL);
    const char *status = json_string_value(json_object_get(json_object_get(answer, "idTokenInfo"), "status"));
    const char *cert = json_string_value(json_object_get(answer, "certificateStatus"));
    struct sim_station *st = NULL;
    for (struct sim_station *x = a->s->stations; x && !st; x = x->next)
        if (!strcmp(x->id, a->station))
            st = x;
    if (st && status && !strcmp(status, "Accepted") && (!cert || !strcmp(cert, "Accepted"))) {
        struct sim_connector *k = &st->conn[a->connector - 1];
        snprintf(k->id_type, sizeof k->id_type, "eMAID");
        if (sim_station_start(st, a->connector, a->emaid) != PL_OK)
            k->id_type[0] = '\0';
    } else if (st) {
        H(st)->log(st->sim->self, PL_LOG_INFO, "%s: contract %s refused (%s, certificate %s)", st->id, a->emaid,
                   status ? status : "no answer", cert ? cert : "-");
    }
    json_decref(inner);
    free(a);
}

int sim_station_plug_and_charge(struct sim_station *st, int connector, const char *emaid, json_t *hash_data,
                                const char *certificate)
{
    if (connector < 1 || connector > st->nconn)
        return PL_ENOENT;
    if (st->state != SIM_ACCEPTED)
        return PL_EOFFLINE;
    struct sim_connector *k = &st->conn[connector - 1];
    if (k->tx_active || k->tx_pending || !k->available || !strcmp(k->status, "Faulted"))
        return PL_ESTATE;
    struct pnc_ask *a = calloc(1, sizeof *a);
    if (!a)
        return PL_ENOMEM;
    *a = (struct pnc_ask){.s = st->sim, .connector = connector};
    snprintf(a->station, sizeof a->station, "%s", st->id);
    snprintf(a->emaid, sizeof a->emaid, "%s", emaid);
    sim_station_plug(st, connector, 1);
    json_t *p = json_pack("{s:{s:s, s:s}}", "idToken", "idToken", emaid, "type", "eMAID");
    if (json_array_size(hash_data))
        json_object_set(p, "iso15118CertificateHashData", hash_data);
    if (certificate)
        json_object_set_new(p, "certificate", json_string(certificate));
    const char *action = "Authorize";
    if (!st->v201) {
        char *text = json_dumps(p, JSON_COMPACT);
        json_decref(p);
        p = json_pack("{s:s, s:s, s:s}", "vendorId", "org.openchargealliance.iso15118pnc", "messageId", "Authorize",
                      "data", text ? text : "{}");
        free(text);
        action = "DataTransfer";
    }
    char err[100];
    if (st->sim->ocpp->call(st->c, action, p, 0, on_contract, a, err, sizeof err) != PL_OK) {
        free(a);
        return PL_ERR;
    }
    return PL_OK;
}

int sim_station_stop(struct sim_station *st, int connector, const char *reason)
{
    if (connector < 1 || connector > st->nconn)
        return PL_ENOENT;
    struct sim_connector *k = &st->conn[connector - 1];
    if (!k->tx_active)
        return PL_ESTATE;
    char ts[40];
    k->tx_active = 0;
    k->tx_w = -1; /* a TxProfile ends with its session */
    k->ev_max_w = 0;
    limits_update(st);
    k->power_w = 0;
    if (st->v201) {
        send_call(st, "TransactionEvent",
                  json_pack("{s:s, s:s, s:s, s:i, s:{s:s, s:s}, s:o}", "eventType", "Ended", "timestamp",
                            now_ts(st, ts, sizeof ts), "triggerReason",
                            !strcmp(reason, "Remote") ? "RemoteStop" : "StopAuthorized", "seqNo", k->seq_no++,
                            "transactionInfo", "transactionId", k->tx_id, "stoppedReason", reason, "meterValue",
                            meter_value(st, k, "Transaction.End")),
                  connector);
    } else {
        send_call(st, "StopTransaction",
                  json_pack("{s:I, s:s, s:I, s:s, s:s, s:o}", "transactionId", (json_int_t)strtoll(k->tx_id, NULL, 10),
                            "idTag", k->id_tag, "meterStop", (json_int_t)round(k->energy_wh), "timestamp",
                            now_ts(st, ts, sizeof ts), "reason", reason, "transactionData",
                            meter_value(st, k, "Transaction.End")),
                  connector);
    }
    k->tx_id[0] = '\0';
    status(st, connector, "Finishing");
    k->plugged = 0;
    status(st, connector, k->available ? "Available" : "Unavailable");
    return PL_OK;
}

/* ---------- results of our calls ---------- */

static void closed_loop_next(struct sim_station *st);

static void boot_answer(struct sim_station *st, json_t *p)
{
    const char *s = json_string_value(json_object_get(p, "status"));
    long interval = (long)json_integer_value(json_object_get(p, "interval"));
    uint64_t now = H(st)->now_ms();
    if (s && !strcmp(s, "Accepted")) {
        st->state = SIM_ACCEPTED;
        st->backoff_ms = 1000;
        struct sim_key *hk = key(st, "HeartbeatInterval");
        if (interval > 0 && !st->sim->heartbeat_fixed) {
            st->heartbeat_s = interval;
            if (hk)
                snprintf(hk->value, sizeof hk->value, "%ld", interval);
        }
        /* the first heartbeat at a random point of the interval: a fleet booted together
         * must not beat in lockstep */
        st->next_heartbeat = st->sim->closed_loop ? now : now + (uint64_t)(urand(st) * st->heartbeat_s * 1000);
        for (int i = 1; i <= st->nconn; i++)
            status(st, i, st->conn[i - 1].tx_active ? "Charging" : !st->conn[i - 1].available ? "Unavailable"
                          : st->conn[i - 1].plugged ? "Preparing" : "Available");
        /* replay what was queued offline, in order, with its original timestamps */
        json_t *q = st->queue;
        st->queue = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(q, i, m)
            send_call(st, json_string_value(json_object_get(m, "action")), json_incref(json_object_get(m, "payload")),
                      (int)json_integer_value(json_object_get(m, "connector")));
        json_decref(q);
        if (st->sim->closed_loop_running) /* a station back after a drop rejoins the loop */
            closed_loop_next(st);
    } else {
        /* Pending / Rejected: boot again after the interval the CSMS asked for */
        st->state = SIM_BOOTING;
        st->next_heartbeat = now + (uint64_t)(interval > 0 ? interval : 10) * 1000;
        st->reboot_pending = 1;
    }
}

/* The benchmark's closed loop: the next message as soon as the last is answered.
 * MeterValues go on connector/EVSE 1 outside any transaction, from its meter;
 * Authorize presents the station's own card (its id, so each station has one). */
static void closed_loop_next(struct sim_station *st)
{
    if (st->sim->closed_loop_kind == SIM_LOOP_AUTHORIZE) {
        char tag[21]; /* 1.6 idTag is CiString20 */
        size_t n = strlen(st->id) < 20 ? strlen(st->id) : 20;
        memcpy(tag, st->id, n);
        tag[n] = '\0';
        send_call(st, "Authorize",
                  st->v201 ? json_pack("{s:{s:s, s:s}}", "idToken", "idToken", tag, "type", "ISO14443")
                           : json_pack("{s:s}", "idTag", tag), 0);
        return;
    }
    if (st->sim->closed_loop_kind != SIM_LOOP_METER || st->nconn < 1) {
        send_call(st, "Heartbeat", json_object(), 0);
        return;
    }
    json_t *mv = meter_value(st, &st->conn[0], "Sample.Periodic");
    send_call(st, "MeterValues", json_pack("{s:i, s:o}", st->v201 ? "evseId" : "connectorId", 1, "meterValue", mv), 1);
}

void sim_station_closed_loop(struct sim_station *st)
{
    if (st->state == SIM_ACCEPTED)
        closed_loop_next(st);
}

static void on_result(void *arg, pl_ocpp_conn *c, const struct pl_ocpp_result *r)
{
    struct call_ctx *cc = arg;
    struct sim_station *st = cc->st;
    (void)c;
    double ms = (double)(H(st)->now_ms() - cc->sent_ms);
    int ok = r->kind == PL_OCPP_RESULT;
    st->sim->outstanding--; /* every call handed over completes exactly once */
    if (r->kind != PL_OCPP_CLOSED)
        sim_latency_add(st->sim, cc->action, ms, !ok);
    if (ok)
        st->sim->received++;
    else
        st->sim->errors++;
    if (!ok) {
        free(cc);
        return;
    }
    if (!strcmp(cc->action, "BootNotification")) {
        boot_answer(st, r->payload);
    } else if (!strcmp(cc->action, "StartTransaction") && cc->connector > 0) {
        struct sim_connector *k = &st->conn[cc->connector - 1];
        const char *s = json_string_value(json_object_get(json_object_get(r->payload, "idTagInfo"), "status"));
        snprintf(k->tx_id, sizeof k->tx_id, "%lld", (long long)json_integer_value(json_object_get(r->payload, "transactionId")));
        k->tx_pending = 0;
        if (s && strcmp(s, "Accepted") != 0) { /* not authorised: stop at once */
            k->tx_active = 1;
            sim_station_stop(st, cc->connector, "DeAuthorized");
        } else {
            k->tx_active = 1;
            status(st, cc->connector, "Charging");
        }
    } else if (st->sim->closed_loop_running && st->state == SIM_ACCEPTED &&
               !strcmp(cc->action, sim_loop_actions[st->sim->closed_loop_kind])) {
        closed_loop_next(st);
    }
    free(cc);
}

static json_t *boot_payload(struct sim_station *st);

/* ---------- the tick ---------- */

/* The effective limit of every connector: the station maximum and the session's
 * TxProfile, else the TxDefaultProfile (OCPP's precedence, one period each). */
static void limits_update(struct sim_station *st)
{
    for (int i = 0; i < st->nconn; i++) {
        struct sim_connector *k = &st->conn[i];
        double l = k->tx_w >= 0 ? k->tx_w : k->def_w;
        if (st->max_w >= 0 && (l < 0 || st->max_w < l))
            l = st->max_w;
        k->limit_w = l;
    }
}

static double limit_from_profile(json_t *profile);

/* SetChargingProfile (and RemoteStart's profile): evse 0 = every connector. */
static const char *profile_set(struct sim_station *st, int evse, json_t *prof, int force_tx)
{
    if (!json_is_object(prof) || evse < 0 || evse > st->nconn)
        return "Rejected";
    const char *purpose = json_string_value(json_object_get(prof, "chargingProfilePurpose"));
    int id = (int)json_integer_value(json_object_get(prof, st->v201 ? "id" : "chargingProfileId"));
    double lim = limit_from_profile(prof);
    if (force_tx)
        purpose = "TxProfile";
    if (!purpose)
        return "Rejected";
    if (!strcmp(purpose, "ChargePointMaxProfile") || !strcmp(purpose, "ChargingStationMaxProfile")) {
        if (evse != 0)
            return "Rejected";
        st->max_w = lim;
        st->max_prof = id;
    } else if (!strcmp(purpose, "TxDefaultProfile")) {
        for (int i = 0; i < st->nconn; i++)
            if (evse == 0 || evse == i + 1) {
                st->conn[i].def_w = lim;
                st->conn[i].def_prof = id;
            }
    } else if (!strcmp(purpose, "TxProfile")) {
        /* a TxProfile needs a session on that connector */
        if (evse < 1 || (!st->conn[evse - 1].tx_active && !force_tx))
            return "Rejected";
        st->conn[evse - 1].tx_w = lim;
        st->conn[evse - 1].tx_prof = id;
    } else {
        return "Rejected";
    }
    limits_update(st);
    return "Accepted";
}

/* ClearChargingProfile: by id, or by the criteria given (none: every profile). */
static const char *profile_clear(struct sim_station *st, int id, int evse, const char *purpose)
{
    int n = 0;
    int max = purpose && (!strcmp(purpose, "ChargePointMaxProfile") || !strcmp(purpose, "ChargingStationMaxProfile"));
    int any = !purpose;
    if (st->max_w >= 0 && (id ? st->max_prof == id : (any || max) && evse <= 0)) {
        st->max_w = -1;
        n++;
    }
    for (int i = 0; i < st->nconn; i++) {
        struct sim_connector *k = &st->conn[i];
        int here = evse < 0 || evse == 0 || evse == i + 1;
        if (k->def_w >= 0 && (id ? k->def_prof == id : here && (any || !strcmp(purpose, "TxDefaultProfile")))) {
            k->def_w = -1;
            n++;
        }
        if (k->tx_w >= 0 && (id ? k->tx_prof == id : here && (any || !strcmp(purpose, "TxProfile")))) {
            k->tx_w = -1;
            n++;
        }
    }
    limits_update(st);
    return n ? "Accepted" : "Unknown";
}

static double limit_from_profile(json_t *profile)
{
    json_t *sched = json_object_get(profile, "chargingSchedule");
    if (json_is_array(sched))
        sched = json_array_get(sched, 0);
    json_t *period = json_array_get(json_object_get(sched, "chargingSchedulePeriod"), 0);
    double limit = json_number_value(json_object_get(period, "limit"));
    const char *unit = json_string_value(json_object_get(sched, "chargingRateUnit"));
    int phases = json_is_integer(json_object_get(period, "numberPhases")) ? (int)json_integer_value(json_object_get(period, "numberPhases")) : 3;
    return unit && !strcmp(unit, "A") ? limit * 230.0 * phases : limit;
}

static void tick(void *arg)
{
    struct sim_station *st = arg;
    uint64_t now = H(st)->now_ms();
    double dt = st->last_tick ? (double)(now - st->last_tick) / 1000.0 : 0;
    if (!st->last_tick) /* the first tick, at its random phase: every second from now on */
        H(st)->timer_start(st->tick, 1000, 1);
    st->last_tick = now;
    if (st->state == SIM_OFFLINE) {
        if (st->want_connected && now >= st->next_reconnect)
            sim_station_connect(st);
    } else if (st->state == SIM_BOOTING && st->reboot_pending && now >= st->next_heartbeat) {
        st->reboot_pending = 0;
        send_call(st, "BootNotification", boot_payload(st), 0);
    }
    if (st->reconnect_at && now >= st->reconnect_at) {
        /* a security change was answered: the next connection has the new profile or
         * certificate */
        st->reconnect_at = 0;
        if (st->c)
            st->sim->ocpp->close(st->c, 1000, "reconnecting with a new security setting");
        st->want_connected = 1;
        st->next_reconnect = now + 500;
    }
    if (st->reset_at && now >= st->reset_at) {
        st->reset_at = 0;
        sim_security_on_reboot(st);
        sync_profile_key(st);
        if (st->c)
            st->sim->ocpp->close(st->c, 1000, "rebooting");
        st->want_connected = 1;
        st->next_reconnect = now + 1000;
    }
    int meter_due = st->state == SIM_ACCEPTED && now >= st->next_meter;
    for (int i = 0; i < st->nconn; i++) {
        struct sim_connector *k = &st->conn[i];
        if (!k->tx_active) {
            /* automatic sessions: Poisson arrivals */
            if (st->auto_sessions && st->state == SIM_ACCEPTED && k->available && !k->tx_pending &&
                strcmp(k->status, "Faulted") && urand(st) < st->arrival_per_hour * dt / 3600.0)
                sim_station_start(st, i + 1, "AUTO");
            continue;
        }
        double p = st->max_power_w * (0.92 + 0.08 * urand(st));
        if (k->ev_max_w > 0 && p > k->ev_max_w)
            p = k->ev_max_w * (0.97 + 0.03 * urand(st));
        if (k->limit_w >= 0 && p > k->limit_w)
            p = k->limit_w * (0.97 + 0.03 * urand(st)); /* an EV stays just under its limit */
        if (st->dc && k->soc > 80) /* the DC taper */
            p *= fmax(0.1, (100 - k->soc) / 20.0);
        k->power_w = p;
        k->energy_wh += p * dt / 3600.0;
        if (st->dc)
            k->soc = fmin(100, k->soc + p * dt / 3600.0 / 600.0); /* a 60 kWh battery */
        if (meter_due) {
            if (st->v201)
                send_call(st, "TransactionEvent",
                          json_pack("{s:s, s:s, s:s, s:i, s:{s:s, s:s}, s:o}", "eventType", "Updated", "timestamp",
                                    now_ts(st, (char[40]){0}, 40), "triggerReason", "MeterValuePeriodic", "seqNo",
                                    k->seq_no++, "transactionInfo", "transactionId", k->tx_id, "chargingState",
                                    "Charging", "meterValue", meter_value(st, k, "Sample.Periodic")),
                          i + 1);
            else
                send_call(st, "MeterValues",
                          json_pack("{s:i, s:I, s:o}", "connectorId", i + 1, "transactionId",
                                    (json_int_t)strtoll(k->tx_id, NULL, 10), "meterValue",
                                    meter_value(st, k, "Sample.Periodic")),
                          i + 1);
        }
        if (k->stop_at_ms && now >= k->stop_at_ms)
            sim_station_stop(st, i + 1, st->v201 ? "Local" : "EVDisconnected");
    }
    if (meter_due)
        st->next_meter = now + (uint64_t)st->meter_s * 1000;
    if (st->state == SIM_ACCEPTED && !st->sim->closed_loop && now >= st->next_heartbeat) {
        st->next_heartbeat = now + (uint64_t)st->heartbeat_s * 1000;
        send_call(st, "Heartbeat", json_object(), 0);
    }
    /* firmware update walk: one step per tick */
    if (st->fw_step && st->state == SIM_ACCEPTED) {
        static const char *const steps[] = {NULL, "Downloading", "Downloaded", "Installing", "Installed"};
        const char *s = steps[st->fw_step];
        if (st->fw_step == 3 && st->fault.firmware_install_failure)
            s = "InstallationFailed";
        send_call(st, "FirmwareStatusNotification", json_pack("{s:s}", "status", s), 0);
        if (!strcmp(s, "InstallationFailed")) {
            st->fw_step = 0;
        } else if (++st->fw_step > 4) {
            st->fw_step = 0;
            snprintf(st->firmware, sizeof st->firmware, "%s", st->fw_new);
            sim_station_disconnect(st, 0); /* reboot into the new firmware */
            st->want_connected = 1;
            st->next_reconnect = now + 1000;
        }
    }
}

/* ---------- connection ---------- */

static json_t *boot_payload(struct sim_station *st)
{
    if (st->v201)
        return json_pack("{s:s, s:{s:s, s:s, s:s, s:s}}", "reason", "PowerUp", "chargingStation", "model", st->model,
                         "vendorName", st->vendor, "firmwareVersion", st->firmware, "serialNumber", st->id);
    return json_pack("{s:s, s:s, s:s, s:s}", "chargePointVendor", st->vendor, "chargePointModel", st->model,
                     "firmwareVersion", st->firmware, "chargePointSerialNumber", st->id);
}

static void h_open(void *arg, pl_ocpp_conn *c)
{
    struct sim_station *st = arg;
    (void)c;
    st->state = SIM_BOOTING;
    send_call(st, "BootNotification", boot_payload(st), 0);
}

static void h_close(void *arg, pl_ocpp_conn *c, int code, const char *reason)
{
    struct sim_station *st = arg;
    (void)c;
    (void)code;
    (void)reason;
    st->c = NULL;
    st->state = SIM_OFFLINE;
    for (int i = 0; i < st->nconn; i++)
        st->conn[i].tx_pending = 0;
    if (st->want_connected) {
        /* exponential back-off with jitter */
        st->sim->reconnects++;
        st->next_reconnect = H(st)->now_ms() + st->backoff_ms / 2 + (uint64_t)(urand(st) * st->backoff_ms / 2);
        st->backoff_ms = st->backoff_ms * 2 > 60000 ? 60000 : st->backoff_ms * 2;
    }
}

static void h_call(void *arg, pl_ocpp_conn *c, const char *msg_id, const char *action, json_t *p);

static const struct pl_ocpp_handler handler16 = {sizeof(struct pl_ocpp_handler), "ocpp1.6", NULL, h_open, h_call, h_close};
static const struct pl_ocpp_handler handler201 = {sizeof(struct pl_ocpp_handler), "ocpp2.0.1", NULL, h_open, h_call, h_close};

void sim_station_connect(struct sim_station *st)
{
    if (st->c)
        return;
    st->want_connected = 1;
    /* Not connected ourselves, yet the id is connected here: a real station took it
     * after the fleet was made.  Connecting would take its connection over; wait. */
    if (H(st)->stations->online(st->id)) {
        if (!st->id_taken_logged)
            H(st)->log(st->sim->self, PL_LOG_WARN, "sim %s: a station with this id is connected to the gateway; "
                       "not connecting while it is", st->id);
        st->id_taken_logged = 1;
        st->state = SIM_OFFLINE;
        st->next_reconnect = H(st)->now_ms() + st->backoff_ms;
        return;
    }
    st->id_taken_logged = 0;
    const char *key, *cert = sim_security_client_cert(st, &key);
    struct pl_ocpp_client_opts o = {sizeof o, st->url, st->id, st->v201 ? "ocpp2.0.1" : "ocpp1.6",
                                    st->profile == 3 ? NULL : st->password,
                                    st->source_addr[0] ? st->source_addr : NULL, 1, st->sim->validate,
                                    st->ca_file, cert, key};
    st->state = SIM_CONNECTING;
    st->c = st->sim->ocpp->connect(st->sim->self, &o, st->v201 ? &handler201 : &handler16, st);
    if (!st->c) {
        st->state = SIM_OFFLINE;
        st->next_reconnect = H(st)->now_ms() + st->backoff_ms;
    }
}

void sim_station_disconnect(struct sim_station *st, int abort)
{
    st->want_connected = 0;
    if (!st->c)
        return;
    if (abort)
        st->sim->ocpp->abort(st->c);
    else
        st->sim->ocpp->close(st->c, 1000, "station going offline");
}

/* ---------- answering the CSMS ---------- */

struct late_answer {
    struct sim_station *st;
    pl_ocpp_conn *c;
    char msg_id[40];
    json_t *payload;
    pl_timer *t;
};

static void send_late(void *arg)
{
    struct late_answer *la = arg;
    if (la->st->c == la->c)
        la->st->sim->ocpp->reply(la->c, la->msg_id, la->payload);
    else
        json_decref(la->payload);
    H(la->st)->timer_free(la->t);
    free(la);
}

static void answer(struct sim_station *st, pl_ocpp_conn *c, const char *msg_id, json_t *payload)
{
    if (st->fault.delay_ms > 0) {
        struct late_answer *la = calloc(1, sizeof *la);
        if (la) {
            la->st = st;
            la->c = c;
            la->payload = payload;
            snprintf(la->msg_id, sizeof la->msg_id, "%s", msg_id);
            la->t = H(st)->timer_new(st->sim->self, send_late, la);
            H(st)->timer_start(la->t, (uint64_t)st->fault.delay_ms, 0);
            return;
        }
    }
    st->sim->ocpp->reply(c, msg_id, payload);
}

static int connector_arg(struct sim_station *st, json_t *p, const char *name)
{
    json_t *v = json_object_get(p, name);
    int n = json_is_integer(v) ? (int)json_integer_value(v) : 0;
    if (n <= 0) /* first free connector */
        for (int i = 0; i < st->nconn; i++)
            if (!st->conn[i].tx_active && st->conn[i].available)
                return i + 1;
    return n;
}

static json_t *handle16(struct sim_station *st, const char *a, json_t *p)
{
    char ts[40];
    if (!strcmp(a, "Reset")) {
        st->reboot_pending = 0;
        for (int i = 1; i <= st->nconn; i++)
            if (st->conn[i - 1].tx_active)
                sim_station_stop(st, i, !strcmp(json_string_value(json_object_get(p, "type")), "Hard") ? "HardReset" : "SoftReset");
        st->fw_step = 0;
        st->reset_at = H(st)->now_ms() + 300; /* answer first, then reboot */
        return json_pack("{s:s}", "status", "Accepted");
    }
    if (!strcmp(a, "ChangeAvailability")) {
        int cid = (int)json_integer_value(json_object_get(p, "connectorId"));
        int avail = !strcmp(json_string_value(json_object_get(p, "type")), "Operative");
        int busy = 0;
        for (int i = 1; i <= st->nconn; i++)
            if (cid == 0 || cid == i) {
                if (st->conn[i - 1].tx_active) {
                    busy = 1;
                    continue;
                }
                st->conn[i - 1].available = avail;
                status(st, i, avail ? "Available" : "Unavailable");
            }
        if (cid > st->nconn)
            return json_pack("{s:s}", "status", "Rejected");
        return json_pack("{s:s}", "status", busy ? "Scheduled" : "Accepted");
    }
    if (!strcmp(a, "RemoteStartTransaction")) {
        int n = connector_arg(st, p, "connectorId");
        json_t *prof = json_object_get(p, "chargingProfile");
        if (n >= 1 && n <= st->nconn && prof)
            profile_set(st, n, prof, 1);
        int rc = n >= 1 ? sim_station_start(st, n, json_string_value(json_object_get(p, "idTag"))) : PL_ENOENT;
        return json_pack("{s:s}", "status", rc == PL_OK ? "Accepted" : "Rejected");
    }
    if (!strcmp(a, "RemoteStopTransaction")) {
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(p, "transactionId")));
        for (int i = 0; i < st->nconn; i++)
            if (st->conn[i].tx_active && !strcmp(st->conn[i].tx_id, id)) {
                sim_station_stop(st, i + 1, "Remote");
                return json_pack("{s:s}", "status", "Accepted");
            }
        return json_pack("{s:s}", "status", "Rejected");
    }
    if (!strcmp(a, "UnlockConnector")) {
        int n = (int)json_integer_value(json_object_get(p, "connectorId"));
        if (n < 1 || n > st->nconn)
            return json_pack("{s:s}", "status", "NotSupported");
        if (st->conn[n - 1].tx_active)
            sim_station_stop(st, n, "UnlockCommand");
        sim_station_plug(st, n, 0);
        return json_pack("{s:s}", "status", "Unlocked");
    }
    if (!strcmp(a, "GetConfiguration")) {
        json_t *want = json_object_get(p, "key"), *keys = json_array(), *unknown = json_array(), *k;
        size_t i;
        if (json_array_size(want)) {
            json_array_foreach(want, i, k) {
                struct sim_key *sk = key(st, json_string_value(k));
                if (sk)
                    json_array_append_new(keys, json_pack("{s:s, s:b, s:s}", "key", sk->name, "readonly", sk->readonly, "value", sk->value));
                else
                    json_array_append(unknown, k);
            }
        } else {
            for (int j = 0; j < SIM_NKEYS; j++)
                if (st->keys[j].name)
                    json_array_append_new(keys, json_pack("{s:s, s:b, s:s}", "key", st->keys[j].name, "readonly",
                                                          st->keys[j].readonly, "value", st->keys[j].value));
        }
        json_t *out = json_pack("{s:o}", "configurationKey", keys);
        if (json_array_size(unknown))
            json_object_set_new(out, "unknownKey", unknown);
        else
            json_decref(unknown);
        return out;
    }
    if (!strcmp(a, "ChangeConfiguration")) {
        struct sim_key *sk = key(st, json_string_value(json_object_get(p, "key")));
        const char *v = json_string_value(json_object_get(p, "value"));
        if (!sk)
            return json_pack("{s:s}", "status", "NotSupported");
        if (!strcmp(sk->name, "SecurityProfile")) {
            json_t *r = sim_security_change_profile16(st, v);
            sync_profile_key(st);
            return r;
        }
        if (sk->readonly)
            return json_pack("{s:s}", "status", "Rejected");
        char *end;
        long n = strtol(v, &end, 10);
        if ((!strcmp(sk->name, "HeartbeatInterval") || !strcmp(sk->name, "MeterValueSampleInterval")) && (*end || n <= 0))
            return json_pack("{s:s}", "status", "Rejected");
        snprintf(sk->value, sizeof sk->value, "%s", v);
        if (!strcmp(sk->name, "HeartbeatInterval"))
            st->heartbeat_s = n;
        if (!strcmp(sk->name, "MeterValueSampleInterval"))
            st->meter_s = n;
        return json_pack("{s:s}", "status", "Accepted");
    }
    if (!strcmp(a, "ClearCache"))
        return json_pack("{s:s}", "status", "Accepted");
    if (!strcmp(a, "SendLocalList")) {
        st->local_list_version = (int)json_integer_value(json_object_get(p, "listVersion"));
        return json_pack("{s:s}", "status", "Accepted");
    }
    if (!strcmp(a, "GetLocalListVersion"))
        return json_pack("{s:i}", "listVersion", st->local_list_version);
    if (!strcmp(a, "ReserveNow")) {
        int n = (int)json_integer_value(json_object_get(p, "connectorId"));
        if (n < 1 || n > st->nconn)
            return json_pack("{s:s}", "status", "Rejected");
        struct sim_connector *k = &st->conn[n - 1];
        if (k->tx_active || k->plugged)
            return json_pack("{s:s}", "status", "Occupied");
        if (!strcmp(k->status, "Faulted"))
            return json_pack("{s:s}", "status", "Faulted");
        if (!k->available)
            return json_pack("{s:s}", "status", "Unavailable");
        k->reserved = (int)json_integer_value(json_object_get(p, "reservationId"));
        if (!k->reserved)
            k->reserved = -1;
        status(st, n, "Reserved");
        return json_pack("{s:s}", "status", "Accepted");
    }
    if (!strcmp(a, "CancelReservation")) {
        int rid = (int)json_integer_value(json_object_get(p, "reservationId"));
        for (int i = 0; i < st->nconn; i++)
            if (st->conn[i].reserved == rid) {
                st->conn[i].reserved = 0;
                status(st, i + 1, "Available");
                return json_pack("{s:s}", "status", "Accepted");
            }
        return json_pack("{s:s}", "status", "Rejected");
    }
    if (!strcmp(a, "SetChargingProfile"))
        return json_pack("{s:s}", "status",
                         profile_set(st, (int)json_integer_value(json_object_get(p, "connectorId")),
                                     json_object_get(p, "csChargingProfiles"), 0));
    if (!strcmp(a, "ClearChargingProfile")) {
        json_t *cid = json_object_get(p, "connectorId");
        return json_pack("{s:s}", "status",
                         profile_clear(st, (int)json_integer_value(json_object_get(p, "id")),
                                       json_is_integer(cid) ? (int)json_integer_value(cid) : -1,
                                       json_string_value(json_object_get(p, "chargingProfilePurpose"))));
    }
    if (!strcmp(a, "GetCompositeSchedule")) {
        int n = (int)json_integer_value(json_object_get(p, "connectorId"));
        double lim = n >= 1 && n <= st->nconn && st->conn[n - 1].limit_w >= 0 ? st->conn[n - 1].limit_w
                   : n == 0 && st->max_w >= 0                                   ? st->max_w
                                                                                : st->max_power_w;
        return json_pack("{s:s, s:i, s:s, s:{s:I, s:s, s:s, s:[{s:i, s:f}]}}", "status", "Accepted", "connectorId", n,
                         "scheduleStart", now_ts(st, ts, sizeof ts), "chargingSchedule", "duration",
                         json_integer_value(json_object_get(p, "duration")), "startSchedule", ts, "chargingRateUnit",
                         "W", "chargingSchedulePeriod", "startPeriod", 0, "limit", lim);
    }
    if (!strcmp(a, "TriggerMessage") || !strcmp(a, "ExtendedTriggerMessage")) {
        const char *m = json_string_value(json_object_get(p, "requestedMessage"));
        int n = (int)json_integer_value(json_object_get(p, "connectorId"));
        if (!strcmp(m, "BootNotification"))
            send_call(st, "BootNotification", boot_payload(st), 0);
        else if (!strcmp(m, "Heartbeat"))
            send_call(st, "Heartbeat", json_object(), 0);
        else if (!strcmp(m, "StatusNotification"))
            for (int i = 1; i <= st->nconn; i++) {
                if (n == 0 || n == i)
                    status(st, i, st->conn[i - 1].status[0] ? st->conn[i - 1].status : "Available");
            }
        else if (!strcmp(m, "MeterValues"))
            for (int i = 1; i <= st->nconn; i++) {
                if (n == 0 || n == i)
                    send_call(st, "MeterValues", json_pack("{s:i, s:o}", "connectorId", i, "meterValue",
                                                           meter_value(st, &st->conn[i - 1], "Trigger")), i);
            }
        else if (!strcmp(m, "FirmwareStatusNotification"))
            send_call(st, "FirmwareStatusNotification", json_pack("{s:s}", "status", "Idle"), 0);
        else if (!strcmp(m, "DiagnosticsStatusNotification"))
            send_call(st, "DiagnosticsStatusNotification", json_pack("{s:s}", "status", "Idle"), 0);
        else if (!strcmp(m, "LogStatusNotification"))
            send_call(st, "LogStatusNotification", json_pack("{s:s}", "status", "Idle"), 0);
        else if (!strcmp(m, "SignChargePointCertificate") || !strcmp(m, "SignChargingStationCertificate")) {
            json_t *csr = sim_security_csr(st);
            if (!csr)
                return json_pack("{s:s}", "status", "Rejected");
            send_call(st, "SignCertificate", csr, 0);
        } else
            return json_pack("{s:s}", "status", "NotImplemented");
        return json_pack("{s:s}", "status", "Accepted");
    }
    if (!strcmp(a, "UpdateFirmware") || !strcmp(a, "SignedUpdateFirmware")) {
        const char *loc = json_string_value(json_object_get(p, "location"));
        if (!loc)
            loc = json_string_value(json_object_get(json_object_get(p, "firmware"), "location"));
        const char *base = loc ? strrchr(loc, '/') : NULL;
        snprintf(st->fw_new, sizeof st->fw_new, "%s", base && base[1] ? base + 1 : "updated");
        st->fw_step = 1;
        return !strcmp(a, "UpdateFirmware") ? json_object() : json_pack("{s:s}", "status", "Accepted");
    }
    if (!strcmp(a, "GetDiagnostics")) {
        send_call(st, "DiagnosticsStatusNotification", json_pack("{s:s}", "status", "Uploading"), 0);
        send_call(st, "DiagnosticsStatusNotification", json_pack("{s:s}", "status", "Uploaded"), 0);
        char name[96];
        snprintf(name, sizeof name, "diag-%s.log", st->id);
        return json_pack("{s:s}", "fileName", name);
    }
    if (!strcmp(a, "GetLog")) {
        json_int_t rid = json_integer_value(json_object_get(p, "requestId"));
        send_call(st, "LogStatusNotification", json_pack("{s:s, s:I}", "status", "Uploading", "requestId", rid), 0);
        send_call(st, "LogStatusNotification", json_pack("{s:s, s:I}", "status", "Uploaded", "requestId", rid), 0);
        char name[96];
        snprintf(name, sizeof name, "log-%s.log", st->id);
        return json_pack("{s:s, s:s}", "status", "Accepted", "filename", name);
    }
    if (!strcmp(a, "DataTransfer"))
        return json_pack("{s:s}", "status", "Accepted");
    if (!strcmp(a, "CertificateSigned"))
        return sim_security_certificate_signed(st, p);
    if (!strcmp(a, "InstallCertificate")) {
        json_array_append_new(st->certificates, json_pack("{s:s, s:s, s:s, s:s}", "hashAlgorithm", "SHA256",
                                                          "issuerNameHash", "00", "issuerKeyHash", "00", "serialNumber",
                                                          "01"));
        return json_pack("{s:s}", "status", "Accepted");
    }
    if (!strcmp(a, "DeleteCertificate"))
        return json_pack("{s:s}", "status", json_array_size(st->certificates) ? "Accepted" : "NotFound");
    if (!strcmp(a, "GetInstalledCertificateIds")) {
        if (!json_array_size(st->certificates))
            return json_pack("{s:s}", "status", "NotFound");
        return json_pack("{s:s, s:O}", "status", "Accepted", "certificateHashData", st->certificates);
    }
    return NULL;
}

static json_t *handle201(struct sim_station *st, const char *a, json_t *p)
{
    if (!strcmp(a, "RequestStartTransaction")) {
        int n = connector_arg(st, p, "evseId");
        const char *tag = json_string_value(json_object_get(json_object_get(p, "idToken"), "idToken"));
        int rc = n >= 1 ? sim_station_start(st, n, tag) : PL_ENOENT;
        json_t *out = json_pack("{s:s}", "status", rc == PL_OK ? "Accepted" : "Rejected");
        if (rc == PL_OK)
            json_object_set_new(out, "transactionId", json_string(st->conn[n - 1].tx_id));
        return out;
    }
    if (!strcmp(a, "RequestStopTransaction")) {
        const char *id = json_string_value(json_object_get(p, "transactionId"));
        for (int i = 0; i < st->nconn; i++)
            if (st->conn[i].tx_active && id && !strcmp(st->conn[i].tx_id, id)) {
                sim_station_stop(st, i + 1, "Remote");
                return json_pack("{s:s}", "status", "Accepted");
            }
        return json_pack("{s:s}", "status", "Rejected");
    }
    if (!strcmp(a, "Reset")) {
        json_t *q = json_pack("{s:s}", "type", !strcmp(json_string_value(json_object_get(p, "type")), "Immediate") ? "Hard" : "Soft");
        json_t *r = handle16(st, "Reset", q);
        json_decref(q);
        return r;
    }
    if (!strcmp(a, "ChangeAvailability")) {
        json_t *evse = json_object_get(p, "evse");
        json_t *q = json_pack("{s:I, s:s}", "connectorId", evse ? json_integer_value(json_object_get(evse, "id")) : 0,
                              "type", json_string_value(json_object_get(p, "operationalStatus")));
        json_t *r = handle16(st, "ChangeAvailability", q);
        json_decref(q);
        return r;
    }
    if (!strcmp(a, "UnlockConnector")) {
        int n = (int)json_integer_value(json_object_get(p, "evseId"));
        if (n < 1 || n > st->nconn)
            return json_pack("{s:s}", "status", "UnknownConnector");
        if (st->conn[n - 1].tx_active)
            return json_pack("{s:s}", "status", "OngoingAuthorizedTransaction");
        sim_station_plug(st, n, 0);
        return json_pack("{s:s}", "status", "Unlocked");
    }
    if (!strcmp(a, "GetVariables") || !strcmp(a, "SetVariables")) {
        int set = a[0] == 'S';
        json_t *out = json_array(), *d;
        size_t i;
        json_array_foreach(json_object_get(p, set ? "setVariableData" : "getVariableData"), i, d) {
            const char *vn = json_string_value(json_object_get(json_object_get(d, "variable"), "name"));
            struct sim_key *sk = vn ? key(st, vn) : NULL;
            json_t *r = json_pack("{s:O, s:O}", "component", json_object_get(d, "component"), "variable",
                                  json_object_get(d, "variable"));
            if (set && vn && !strcmp(vn, "NetworkConfigurationPriority")) {
                json_object_set_new(r, "attributeStatus", json_string(sim_security_set_priority(
                                                              st, json_string_value(json_object_get(d, "attributeValue")))));
            } else if (set && sk && !strcmp(vn, "SecurityProfile")) {
                json_object_set_new(r, "attributeStatus", json_string("Rejected")); /* SetNetworkProfile changes it */
            } else if (!sk) {
                json_object_set_new(r, "attributeStatus", json_string("UnknownVariable"));
            } else if (set) {
                const char *v = json_string_value(json_object_get(d, "attributeValue"));
                if (sk->readonly || !v) {
                    json_object_set_new(r, "attributeStatus", json_string("Rejected"));
                } else {
                    snprintf(sk->value, sizeof sk->value, "%s", v);
                    if (!strcmp(vn, "HeartbeatInterval") && atol(v) > 0)
                        st->heartbeat_s = atol(v);
                    json_object_set_new(r, "attributeStatus", json_string("Accepted"));
                }
            } else {
                json_object_set_new(r, "attributeStatus", json_string("Accepted"));
                json_object_set_new(r, "attributeValue", json_string(sk->value));
            }
            json_array_append_new(out, r);
        }
        return json_pack("{s:o}", set ? "setVariableResult" : "getVariableResult", out);
    }
    if (!strcmp(a, "TriggerMessage")) {
        const char *m = json_string_value(json_object_get(p, "requestedMessage"));
        if (!strcmp(m, "BootNotification") || !strcmp(m, "Heartbeat") || !strcmp(m, "StatusNotification") ||
            !strcmp(m, "SignChargingStationCertificate")) {
            json_t *q = json_pack("{s:s}", "requestedMessage", m);
            json_t *r = handle16(st, "TriggerMessage", q);
            json_decref(q);
            return r;
        }
        return json_pack("{s:s}", "status", "NotImplemented");
    }
    if (!strcmp(a, "GetCompositeSchedule")) {
        /* one period: what the profiles allow now (the station maximum for evse 0) */
        char ts[40];
        int n = (int)json_integer_value(json_object_get(p, "evseId"));
        if (n < 0 || n > st->nconn)
            return json_pack("{s:s}", "status", "Rejected");
        double lim = n >= 1 && st->conn[n - 1].limit_w >= 0 ? st->conn[n - 1].limit_w
                   : n == 0 && st->max_w >= 0                ? st->max_w
                                                             : st->max_power_w;
        return json_pack("{s:s, s:{s:i, s:I, s:s, s:s, s:[{s:i, s:f}]}}", "status", "Accepted", "schedule", "evseId", n,
                         "duration", json_integer_value(json_object_get(p, "duration")), "scheduleStart",
                         now_ts(st, ts, sizeof ts), "chargingRateUnit", "W", "chargingSchedulePeriod", "startPeriod",
                         0, "limit", lim);
    }
    if (!strcmp(a, "CertificateSigned"))
        return sim_security_certificate_signed(st, p);
    if (!strcmp(a, "SetNetworkProfile"))
        return sim_security_set_network_profile(st, p);
    if (!strcmp(a, "ClearCache") || !strcmp(a, "CancelReservation") ||
        !strcmp(a, "SetChargingProfile") || !strcmp(a, "ClearChargingProfile") || !strcmp(a, "SendLocalList") ||
        !strcmp(a, "DataTransfer") || !strcmp(a, "SetDisplayMessage") ||
        !strcmp(a, "SetMonitoringBase") || !strcmp(a, "SetMonitoringLevel") || !strcmp(a, "CustomerInformation") ||
        !strcmp(a, "GetBaseReport") || !strcmp(a, "GetReport") || !strcmp(a, "GetMonitoringReport") ||
        !strcmp(a, "GetChargingProfiles") || !strcmp(a, "GetDisplayMessages") || !strcmp(a, "PublishFirmware")) {
        if (!strcmp(a, "SetChargingProfile"))
            return json_pack("{s:s}", "status",
                             profile_set(st, (int)json_integer_value(json_object_get(p, "evseId")),
                                         json_object_get(p, "chargingProfile"), 0));
        if (!strcmp(a, "ClearChargingProfile")) {
            json_t *crit = json_object_get(p, "chargingProfileCriteria");
            json_t *eid = json_object_get(crit, "evseId");
            return json_pack("{s:s}", "status",
                             profile_clear(st, (int)json_integer_value(json_object_get(p, "chargingProfileId")),
                                           json_is_integer(eid) ? (int)json_integer_value(eid) : -1,
                                           json_string_value(json_object_get(crit, "chargingProfilePurpose"))));
        }
        if (!strcmp(a, "SendLocalList"))
            st->local_list_version = (int)json_integer_value(json_object_get(p, "versionNumber"));
        return json_pack("{s:s}", "status", "Accepted");
    }
    if (!strcmp(a, "GetLocalListVersion"))
        return json_pack("{s:i}", "versionNumber", st->local_list_version);
    if (!strcmp(a, "ReserveNow"))
        return json_pack("{s:s}", "status", "Accepted");
    if (!strcmp(a, "UpdateFirmware")) {
        const char *loc = json_string_value(json_object_get(json_object_get(p, "firmware"), "location"));
        const char *base = loc ? strrchr(loc, '/') : NULL;
        snprintf(st->fw_new, sizeof st->fw_new, "%s", base && base[1] ? base + 1 : "updated");
        st->fw_step = 1;
        return json_pack("{s:s}", "status", "Accepted");
    }
    if (!strcmp(a, "GetLog"))
        return json_pack("{s:s}", "status", "Accepted");
    if (!strcmp(a, "GetTransactionStatus"))
        return json_pack("{s:b}", "messagesInQueue", json_array_size(st->queue) > 0);
    return NULL;
}

static void h_call(void *arg, pl_ocpp_conn *c, const char *msg_id, const char *action, json_t *p)
{
    struct sim_station *st = arg;
    if (st->fault.drop_responses)
        return; /* the CSMS times out */
    if (st->fault.callerror_action[0] &&
        (!strcmp(st->fault.callerror_action, "*") || !strcmp(st->fault.callerror_action, action))) {
        st->sim->ocpp->reply_error(c, msg_id, "InternalError", "injected fault", NULL);
        return;
    }
    json_t *r = st->v201 ? handle201(st, action, p) : handle16(st, action, p);
    if (!r) {
        st->sim->ocpp->reply_error(c, msg_id, "NotImplemented", "the simulator does not implement this action", NULL);
        return;
    }
    answer(st, c, msg_id, r);
}

/* ---------- faults ---------- */

int sim_station_fault(struct sim_station *st, json_t *f, char *err, size_t errlen)
{
    const char *type = json_string_value(json_object_get(f, "type"));
    if (!type) {
        snprintf(err, errlen, "type is required");
        return PL_EINVAL;
    }
    if (!strcmp(type, "connector_fault")) {
        int n = (int)json_integer_value(json_object_get(f, "connector"));
        if (n < 1 || n > st->nconn) {
            snprintf(err, errlen, "connector must be 1..%d", st->nconn);
            return PL_EINVAL;
        }
        const char *code = json_string_value(json_object_get(f, "error_code"));
        char ts[40];
        if (st->conn[n - 1].tx_active)
            sim_station_stop(st, n, st->v201 ? "GroundFault" : "Other");
        snprintf(st->conn[n - 1].status, sizeof st->conn[0].status, "Faulted");
        if (st->v201)
            send_call(st, "StatusNotification", json_pack("{s:s, s:s, s:i, s:i}", "timestamp", now_ts(st, ts, sizeof ts),
                                                          "connectorStatus", "Faulted", "evseId", n, "connectorId", 1), n);
        else
            send_call(st, "StatusNotification",
                      json_pack("{s:i, s:s, s:s, s:s}", "connectorId", n, "errorCode", code ? code : "GroundFailure",
                                "status", "Faulted", "timestamp", now_ts(st, ts, sizeof ts)), n);
    } else if (!strcmp(type, "clear_connector_fault")) {
        int n = (int)json_integer_value(json_object_get(f, "connector"));
        if (n < 1 || n > st->nconn) {
            snprintf(err, errlen, "connector must be 1..%d", st->nconn);
            return PL_EINVAL;
        }
        status(st, n, "Available");
    } else if (!strcmp(type, "network_drop")) {
        long back = (long)json_integer_value(json_object_get(f, "reconnect_after_ms"));
        sim_station_disconnect(st, 1);
        st->want_connected = 1;
        st->next_reconnect = H(st)->now_ms() + (uint64_t)(back > 0 ? back : 2000);
    } else if (!strcmp(type, "half_open")) {
        if (st->c)
            st->sim->ocpp->pause_reading(st->c, 1); /* alive on TCP, silent in OCPP */
        st->fault.drop_responses = 1;
    } else if (!strcmp(type, "delay_responses")) {
        st->fault.delay_ms = (long)json_integer_value(json_object_get(f, "ms"));
    } else if (!strcmp(type, "drop_responses")) {
        st->fault.drop_responses = 1;
    } else if (!strcmp(type, "callerror")) {
        const char *a = json_string_value(json_object_get(f, "action"));
        snprintf(st->fault.callerror_action, sizeof st->fault.callerror_action, "%s", a ? a : "*");
    } else if (!strcmp(type, "malformed_frame")) {
        if (st->c)
            st->sim->ocpp->send_raw(st->c, "[2,\"bad\",\"Heartbeat\"", 20);
    } else if (!strcmp(type, "clock_skew")) {
        st->fault.clock_skew_s = (long)json_integer_value(json_object_get(f, "seconds"));
    } else if (!strcmp(type, "reboot")) {
        if (st->c)
            st->sim->ocpp->close(st->c, 1000, "reboot");
        st->want_connected = 1;
        long spread = (long)json_integer_value(json_object_get(f, "spread_ms"));
        st->next_reconnect = H(st)->now_ms() + 500 + (uint64_t)(spread > 0 ? urand(st) * spread : 0);
    } else if (!strcmp(type, "firmware_install_failure")) {
        st->fault.firmware_install_failure = 1;
    } else {
        snprintf(err, errlen, "unknown fault type '%s'", type);
        return PL_EINVAL;
    }
    return PL_OK;
}

void sim_station_clear_faults(struct sim_station *st)
{
    memset(&st->fault, 0, sizeof st->fault);
    if (st->c)
        st->sim->ocpp->pause_reading(st->c, 0);
}

/* ---------- life ---------- */

static const char *tpl_str(json_t *tpl, const char *k, const char *def)
{
    const char *v = json_string_value(json_object_get(tpl, k));
    return v ? v : def;
}

static double tpl_num(json_t *tpl, const char *k, double def)
{
    json_t *v = json_object_get(tpl, k);
    return json_is_number(v) ? json_number_value(v) : def;
}

struct sim_station *sim_station_new(struct sim *s, const char *id, json_t *tpl, const char *fleet)
{
    struct sim_station *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->sim = s;
    snprintf(st->id, sizeof st->id, "%s", id);
    snprintf(st->fleet, sizeof st->fleet, "%s", fleet ? fleet : "");
    const char *proto = tpl_str(tpl, "protocol", "ocpp1.6");
    st->v201 = !strcmp(proto, "ocpp2.0.1");
    st->url = strdup(tpl_str(tpl, "csms_url", "ws://127.0.0.1:9000/ocpp"));
    const char *pw = tpl_str(tpl, "password", NULL);
    st->password = pw ? strdup(pw) : NULL;
    const char *ca = tpl_str(tpl, "csms_ca_file", NULL);
    st->ca_file = ca ? strdup(ca) : NULL;
    snprintf(st->vendor, sizeof st->vendor, "%s", tpl_str(tpl, "vendor", "PipeletSim"));
    snprintf(st->model, sizeof st->model, "%s", tpl_str(tpl, "model", st->v201 ? "Sim-201" : "Sim-16"));
    snprintf(st->firmware, sizeof st->firmware, "%s", tpl_str(tpl, "firmware", "1.0.0"));
    st->dc = !strcmp(tpl_str(tpl, "current", "AC"), "DC");
    st->nconn = (int)tpl_num(tpl, "connectors", 2);
    if (st->nconn < 1)
        st->nconn = 1;
    if (st->nconn > SIM_MAX_CONNECTORS)
        st->nconn = SIM_MAX_CONNECTORS;
    st->max_power_w = tpl_num(tpl, "max_power_w", st->dc ? 50000 : 11000);
    st->max_w = -1;
    st->meter_s = (long)tpl_num(tpl, "meter_interval_s", 60);
    st->heartbeat_s = (long)tpl_num(tpl, "heartbeat_s", 300);
    json_t *auto_s = json_object_get(tpl, "auto_sessions");
    st->auto_sessions = json_is_true(auto_s) || json_is_object(auto_s);
    st->arrival_per_hour = tpl_num(auto_s, "arrival_per_hour", 6);
    st->duration_mean_s = tpl_num(json_object_get(auto_s, "duration_s"), "mean", 300);
    st->duration_sd_s = tpl_num(json_object_get(auto_s, "duration_s"), "sd", 60);
    st->backoff_ms = 1000;
    st->queue = json_array();
    st->certificates = json_array();
    st->rng = (unsigned)(uintptr_t)st ^ (unsigned)H(st)->now_ms();
    for (int i = 0; i < st->nconn; i++) {
        st->conn[i].available = 1;
        st->conn[i].limit_w = st->conn[i].tx_w = st->conn[i].def_w = -1;
        snprintf(st->conn[i].status, sizeof st->conn[i].status, "Available");
        st->conn[i].energy_wh = 1000 * urand(st);
    }
    static const int ro[SIM_NKEYS] = {0, 0, 0, 0, 0, 1, 1, 1, 0};
    for (int i = 0; i < SIM_NKEYS; i++) {
        st->keys[i].name = default_keys16[i];
        st->keys[i].readonly = ro[i];
    }
    snprintf(st->keys[0].value, sizeof st->keys[0].value, "%ld", st->heartbeat_s);
    snprintf(st->keys[1].value, sizeof st->keys[1].value, "%ld", st->meter_s);
    snprintf(st->keys[2].value, sizeof st->keys[2].value, "60");
    snprintf(st->keys[3].value, sizeof st->keys[3].value, "true");
    snprintf(st->keys[4].value, sizeof st->keys[4].value, "false");
    snprintf(st->keys[5].value, sizeof st->keys[5].value, "%d", st->nconn);
    snprintf(st->keys[6].value, sizeof st->keys[6].value, "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger");
    snprintf(st->keys[7].value, sizeof st->keys[7].value, "8");
    char err[200];
    if (sim_security_init(st, tpl, err, sizeof err) != 0) {
        H(st)->log(s->self, PL_LOG_ERROR, "sim %s: %s", st->id, err);
        sim_station_free(st);
        return NULL;
    }
    sync_profile_key(st);
    st->tick = H(st)->timer_new(s->self, tick, st);
    if (!st->tick || !st->url) {
        sim_station_free(st);
        return NULL;
    }
    /* spread ticks so 10,000 stations do not fire in the same millisecond: the first at a
     * random point of the second, then every second from there (tick) — stations created
     * together would otherwise send a whole second's messages in one burst, and a load
     * test would measure that burst (and the simulator's own loop) instead of the CSMS */
    H(st)->timer_start(st->tick, 1 + (uint64_t)(urand(st) * 999), 1);
    st->next_meter = H(st)->now_ms() + (uint64_t)(urand(st) * st->meter_s * 1000);
    return st;
}

void sim_station_free(struct sim_station *st)
{
    if (!st)
        return;
    if (st->c) {
        pl_ocpp_conn *c = st->c;
        st->want_connected = 0;
        st->sim->ocpp->set_data(c, NULL);
        st->sim->ocpp->abort(c); /* h_close runs: it must not touch a freed station */
    }
    H(st)->timer_free(st->tick);
    json_decref(st->queue);
    json_decref(st->certificates);
    free(st->url);
    free(st->password);
    free(st->ca_file);
    sim_security_free(st);
    free(st->client_cert);
    if (st->client_key)
        OPENSSL_cleanse(st->client_key, strlen(st->client_key));
    free(st->client_key);
    free(st);
}

json_t *sim_station_json(struct sim_station *st)
{
    static const char *const states[] = {"offline", "connecting", "booting", "accepted"};
    json_t *conns = json_array();
    for (int i = 0; i < st->nconn; i++) {
        struct sim_connector *k = &st->conn[i];
        json_array_append_new(conns, json_pack("{s:i, s:s, s:b, s:b, s:s?, s:f, s:f, s:f}", "connector", i + 1,
                                               "status", k->status, "plugged", k->plugged, "charging", k->tx_active,
                                               "transaction", k->tx_active ? k->tx_id : NULL, "energy_wh",
                                               round(k->energy_wh), "power_w", round(k->power_w), "limit_w", k->limit_w));
        json_t *last = json_array_get(conns, json_array_size(conns) - 1);
        if (k->limit_w < 0)
            json_object_set_new(last, "limit_w", json_null());
        if (k->ev_max_w > 0)
            json_object_set_new(last, "ev_max_power_w", json_real(k->ev_max_w));
    }
    json_t *keys = json_object();
    for (int i = 0; i < SIM_NKEYS; i++)
        json_object_set_new(keys, st->keys[i].name, json_string(st->keys[i].value));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:o, s:b, s:s, s:o}", "id", st->id, "fleet", st->fleet,
                     "protocol", st->v201 ? "ocpp2.0.1" : "ocpp1.6", "state", states[st->state], "firmware",
                     st->firmware, "vendor", st->vendor, "model", st->model, "connectors", conns, "queued_messages",
                     (json_int_t)json_array_size(st->queue), "configuration", keys, "auto_sessions",
                     st->auto_sessions, "csms_url", st->url, "security", sim_security_json(st));
}
