/*
 * handlers.c — OCPP 2.0.1 messages a charging station sends to the CSMS, translated
 * into the version-neutral model (pl_station_api) and answered.  The core has already
 * validated every payload against the official schema, so fields are read without
 * re-checking their types.  One table entry per action.
 */
#include "ocpp201.h"
#include "answer.h"
#include "pnc.h"
#include "signcert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H(x) O201(x)->host
#define S(x) O201(x)->st

typedef void (*o201_handler)(struct ocpp_session *cx, const char *msg_id, json_t *payload);

static const char *now(struct ocpp_session *cx, char *buf, size_t len)
{
    return H(cx)->now_rfc3339(buf, len);
}

/* ---- provisioning ---- */

static void boot_notification(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    json_t *cs = json_object_get(p, "chargingStation");
    json_t *modem = json_object_get(cs, "modem");
    const char *status = "Accepted";
    long interval = O201(cx)->com.heartbeat_interval;
    if (!cx->known && O201(cx)->com.unknown_policy == CREDS_PENDING) {
        status = "Pending";
        interval = O201(cx)->com.boot_retry_interval;
    }
    json_t *boot = json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s, s:s?}",
                             "vendor", json_string_value(json_object_get(cs, "vendorName")),
                             "model", json_string_value(json_object_get(cs, "model")),
                             "serial", json_string_value(json_object_get(cs, "serialNumber")),
                             "firmware", json_string_value(json_object_get(cs, "firmwareVersion")),
                             "iccid", json_string_value(json_object_get(modem, "iccid")),
                             "imsi", json_string_value(json_object_get(modem, "imsi")),
                             "boot_status", status,
                             "reason", json_string_value(json_object_get(p, "reason")));
    S(cx)->boot(cx->station, boot);
    cx->accepted = strcmp(status, "Accepted") == 0;
    char ts[40];
    ocpp_session_reply(cx, msg_id, json_pack("{s:s, s:i, s:s}", "currentTime", now(cx, ts, sizeof ts),
                                "interval", (json_int_t)interval, "status", status));
}

static void heartbeat(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    (void)p;
    char ts[40];
    S(cx)->seen(cx->station);
    ocpp_session_reply(cx, msg_id, json_pack("{s:s}", "currentTime", now(cx, ts, sizeof ts)));
}

static void status_notification(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    S(cx)->connector_status(cx->station, (int)json_integer_value(json_object_get(p, "evseId")),
                            (int)json_integer_value(json_object_get(p, "connectorId")),
                            json_string_value(json_object_get(p, "connectorStatus")), NULL, NULL,
                            json_string_value(json_object_get(p, "timestamp")));
    ocpp_session_reply_empty(cx, msg_id);
}

/* ---- authorization ---- */

/* Authorize, with or without an ISO 15118 contract (pnc.c: the contract is checked
 * first, the answer carries certificateStatus). */
static void authorize(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    struct pnc_call call = {H(cx), O201(cx)->self, cx->c, cx->station, "", 0};
    snprintf(call.msg_id, sizeof call.msg_id, "%s", msg_id);
    pnc_authorize(&call, p);
}

/* ---- transactions ---- */

/* Meter values of 2.0.1 (value is a number, unit in unitOfMeasure with a power-of-ten
 * multiplier) to the neutral samples. */
static json_t *samples_from(json_t *meter_values)
{
    json_t *out = json_array();
    size_t i, j;
    json_t *mv, *sv;
    json_array_foreach(meter_values, i, mv) {
        const char *ts = json_string_value(json_object_get(mv, "timestamp"));
        json_array_foreach(json_object_get(mv, "sampledValue"), j, sv) {
            json_t *uom = json_object_get(sv, "unitOfMeasure");
            const char *measurand = json_string_value(json_object_get(sv, "measurand"));
            const char *unit = json_string_value(json_object_get(uom, "unit"));
            double v = json_number_value(json_object_get(sv, "value"));
            json_int_t mult = json_integer_value(json_object_get(uom, "multiplier"));
            for (json_int_t k = 0; k < mult; k++)
                v *= 10;
            for (json_int_t k = mult; k < 0; k++)
                v /= 10;
            if (!measurand)
                measurand = "Energy.Active.Import.Register";
            if (!unit)
                unit = strncmp(measurand, "Energy", 6) == 0 ? "Wh" : NULL;
            json_t *s = json_pack("{s:s, s:s, s:f}", "timestamp", ts ? ts : "", "measurand",
                                  measurand, "value", v);
            if (unit)
                json_object_set_new(s, "unit", json_string(unit));
            const char *keys[] = {"phase", "context", "location"};
            for (int k = 0; k < 3; k++) {
                json_t *x = json_object_get(sv, keys[k]);
                if (x)
                    json_object_set(s, keys[k], x);
            }
            /* a signed reading (Eichrecht): kept with its sample, and in the CDR */
            json_t *sig = json_object_get(sv, "signedMeterValue");
            if (json_is_object(sig))
                json_object_set(s, "signed", sig);
            json_array_append_new(out, s);
        }
    }
    return out;
}

/* The Energy.Active.Import.Register reading of an event, in Wh, or -1. */
static double energy_register(json_t *samples)
{
    size_t i;
    json_t *s;
    double v = -1;
    json_array_foreach(samples, i, s) {
        const char *m = json_string_value(json_object_get(s, "measurand"));
        const char *unit = json_string_value(json_object_get(s, "unit"));
        if (m && strcmp(m, "Energy.Active.Import.Register") == 0 &&
            !json_object_get(s, "phase")) {
            v = json_number_value(json_object_get(s, "value"));
            if (unit && strcmp(unit, "kWh") == 0)
                v *= 1000;
        }
    }
    return v;
}

/* A TransactionEvent is answered once its transaction write, its samples and the
 * lookup of the idToken it reports have all landed: anything not stored gets a
 * CALLERROR (the station keeps the event in its queue and sends it again), an event of
 * a transaction never seen is acknowledged, and every reported idToken is authorized
 * exactly as in Authorize (idTokenInfo is left out, not guessed, when no decision
 * could be made). */
static json_t *tx_answer(struct ocpp_answer *a)
{
    struct o201 *p = a->data;
    if (a->tx == PL_TX_UNKNOWN)
        p->host->log(p->self, PL_LOG_WARN, "TransactionEvent for an unknown transaction (answered)");
    json_t *out = a->auth ? json_pack("{s:o}", "idTokenInfo", pnc_id_token_info(a->auth)) : json_object();
    /* the session's cost so far (final on Ended), when a tariff priced it: E02/E03 totalCost */
    json_t *cost = json_object_get(a->tx_row, "cost");
    double total = json_is_number(cost) ? json_number_value(cost)
                   : json_is_string(cost) ? strtod(json_string_value(cost), NULL)
                                          : -1;
    if (total >= 0)
        json_object_set_new(out, "totalCost", json_real(total));
    json_t *msg = o201_cost_message(p, json_string_value(json_object_get(a->tx_row, "station_id")),
                                    json_string_value(json_object_get(a->tx_row, "station_tx_id")));
    if (msg)
        json_object_set_new(out, "updatedPersonalMessage", msg);
    return out;
}

static void transaction_event(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    const char *type = json_string_value(json_object_get(p, "eventType"));
    const char *ts = json_string_value(json_object_get(p, "timestamp"));
    json_t *info = json_object_get(p, "transactionInfo");
    const char *txid = json_string_value(json_object_get(info, "transactionId"));
    json_t *evse = json_object_get(p, "evse");
    json_t *tok = json_object_get(p, "idToken");
    const char *token = json_string_value(json_object_get(tok, "idToken"));
    const char *token_type = json_string_value(json_object_get(tok, "type"));
    int evse_id = evse ? (int)json_integer_value(json_object_get(evse, "id")) : 0;
    int conn_id = evse ? (int)json_integer_value(json_object_get(evse, "connectorId")) : 0;
    json_t *samples = samples_from(json_object_get(p, "meterValue"));
    double reg = energy_register(samples);

    struct ocpp_answer *a = ocpp_answer_new(cx, msg_id, tx_answer);
    if (!a) {
        json_decref(samples);
        return;
    }
    a->data = O201(cx);
    /* the transaction's write first: its samples then resolve to it */
    if (strcmp(type, "Started") == 0) {
        json_t *tx = json_pack("{s:s, s:i, s:i, s:s, s:f, s:s, s:s?, s:I}",
                               "station_tx_id", txid, "evse", (json_int_t)evse_id,
                               "connector", (json_int_t)(conn_id ? conn_id : 1),
                               "id_token", token ? token : "", "meter_start", reg >= 0 ? reg : 0.0,
                               "started_at", ts, "id_token_type", token_type,
                               "seq_no", json_integer_value(json_object_get(p, "seqNo")));
        json_t *rid = json_object_get(p, "reservationId");
        if (rid)
            json_object_set(tx, "reservation_id", rid);
        S(cx)->tx_start(cx->station, tx, ocpp_answer_tx(a), a);
    } else if (strcmp(type, "Updated") == 0) {
        json_t *upd = json_pack("{s:I}", "seq_no", json_integer_value(json_object_get(p, "seqNo")));
        if (reg >= 0)
            json_object_set_new(upd, "meter", json_real(reg));
        const char *cs = json_string_value(json_object_get(info, "chargingState"));
        if (cs)
            json_object_set_new(upd, "charging_state", json_string(cs));
        if (evse) {
            json_object_set_new(upd, "evse", json_integer(evse_id));
            json_object_set_new(upd, "connector", json_integer(conn_id ? conn_id : 1));
        }
        if (token)
            json_object_set_new(upd, "id_token", json_string(token));
        S(cx)->tx_update(cx->station, txid, upd, ocpp_answer_tx(a), a);
    } else { /* Ended */
        const char *reason = json_string_value(json_object_get(info, "stoppedReason"));
        json_t *stop = json_pack("{s:s, s:s}", "stopped_at", ts, "reason", reason ? reason : "Local");
        if (reg >= 0)
            json_object_set_new(stop, "meter_stop", json_real(reg));
        if (token)
            json_object_set_new(stop, "id_token", json_string(token));
        /* its samples are written after the stop: their signed values go with it */
        json_object_set_new(stop, "signed_meter_values", ocpp_samples_signed(samples));
        S(cx)->tx_stop(cx->station, txid, stop, ocpp_answer_tx(a), a);
    }
    ocpp_answer_samples(a, cx, evse_id, conn_id ? conn_id : (evse_id ? 1 : 0), txid, samples);
    if (token && *token && !(token_type && strcmp(token_type, "NoAuthorization") == 0)) {
        struct pl_id_token t = {sizeof t, token, token_type, NULL, evse_id, NULL, NULL};
        S(cx)->authorize_token(cx->station, &t, ocpp_answer_auth(a), a);
    }
    ocpp_answer_arm(a);
}

static void meter_values(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    int evse = (int)json_integer_value(json_object_get(p, "evseId"));
    /* answered once the values are durable (the station deletes what was acknowledged) */
    struct ocpp_answer *a = ocpp_answer_new(cx, msg_id, NULL);
    if (!a)
        return;
    ocpp_answer_samples(a, cx, evse, evse ? 1 : 0, NULL, samples_from(json_object_get(p, "meterValue")));
    ocpp_answer_arm(a);
}

/* ---- device model ---- */

void o201_variable_key(json_t *comp, json_t *var, char *out, size_t len)
{
    const char *cn = json_string_value(json_object_get(comp, "name"));
    const char *ci = json_string_value(json_object_get(comp, "instance"));
    const char *vn = json_string_value(json_object_get(var, "name"));
    const char *vi = json_string_value(json_object_get(var, "instance"));
    json_t *evse = json_object_get(comp, "evse");
    char evs[32] = "";
    if (evse)
        snprintf(evs, sizeof evs, "@%d", (int)json_integer_value(json_object_get(evse, "id")));
    snprintf(out, len, "%s%s%s%s/%s%s%s", cn ? cn : "", ci ? "." : "", ci ? ci : "", evs,
             vn ? vn : "", vi ? "." : "", vi ? vi : "");
}

static void notify_report(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    size_t i;
    json_t *rd;
    json_array_foreach(json_object_get(p, "reportData"), i, rd) {
        char key[400];
        o201_variable_key(json_object_get(rd, "component"), json_object_get(rd, "variable"), key,
                          sizeof key);
        S(cx)->put_doc(cx->station, "variable", key, json_deep_copy(rd));
    }
    ocpp_session_reply_empty(cx, msg_id);
}

#define RECORD(fn, kind)                                                \
    static void fn(struct ocpp_session *cx, const char *msg_id, json_t *p) \
    {                                                                   \
        ocpp_session_record(cx, msg_id, p, kind);                       \
    }
RECORD(notify_event, "event")
RECORD(notify_monitoring_report, "monitoring_report")
RECORD(security_event, "security_event")
RECORD(firmware_status, "firmware_status")
RECORD(log_status, "log_status")
RECORD(publish_firmware_status, "publish_firmware_status")
RECORD(cleared_charging_limit, "cleared_charging_limit")
RECORD(notify_charging_limit, "charging_limit")
RECORD(notify_customer_information, "customer_information")
RECORD(notify_display_messages, "display_messages")
RECORD(report_charging_profiles, "charging_profiles_report")

static void reservation_status_update(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    char key[32];
    snprintf(key, sizeof key, "%lld",
             (long long)json_integer_value(json_object_get(p, "reservationId")));
    S(cx)->put_doc(cx->station, "reservation_status", key, json_deep_copy(p));
    ocpp_session_record(cx, msg_id, p, "reservation_status");
}

/* ISO 15118 charging needs/schedules are accepted and kept; a smart-charging plugin
 * subscribing to station.ev_charging_needs can answer them with SetChargingProfile. */
static void notify_ev_charging_needs(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    S(cx)->record(cx->station, "ev_charging_needs", json_deep_copy(p));
    ocpp_session_reply(cx, msg_id, json_pack("{s:s}", "status", "Accepted"));
}

static void notify_ev_charging_schedule(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    S(cx)->record(cx->station, "ev_charging_schedule", json_deep_copy(p));
    ocpp_session_reply(cx, msg_id, json_pack("{s:s}", "status", "Accepted"));
}

static void data_transfer(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    S(cx)->record(cx->station, "data_transfer", json_deep_copy(p));
    const char *vendors = H(cx)->config_get(O201(cx)->self, "data_transfer_vendors", "");
    const char *vendor = json_string_value(json_object_get(p, "vendorId"));
    int known = vendor && *vendors && strstr(vendors, vendor) != NULL;
    ocpp_session_reply(cx, msg_id, json_pack("{s:s}", "status", known ? "Accepted" : "UnknownVendorId"));
}

/* ---- certificates: through the host's certificate service (a Plug & Charge plugin
 * replaces its ISO 15118 parts) ---- */

static void sign_certificate(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    signcert_handle(H(cx), O201(cx)->self, cx->c, cx->station, msg_id, p);
}

static void get_15118_ev_certificate(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    struct pnc_call call = {H(cx), O201(cx)->self, cx->c, cx->station, "", 0};
    snprintf(call.msg_id, sizeof call.msg_id, "%s", msg_id);
    pnc_get_15118_ev_certificate(&call, p);
}

static void get_certificate_status(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    struct pnc_call call = {H(cx), O201(cx)->self, cx->c, cx->station, "", 0};
    snprintf(call.msg_id, sizeof call.msg_id, "%s", msg_id);
    pnc_get_certificate_status(&call, p);
}

static const struct {
    const char *action;
    o201_handler fn;
} handlers[] = {
    {"Authorize", authorize},
    {"BootNotification", boot_notification},
    {"ClearedChargingLimit", cleared_charging_limit},
    {"DataTransfer", data_transfer},
    {"FirmwareStatusNotification", firmware_status},
    {"Get15118EVCertificate", get_15118_ev_certificate},
    {"GetCertificateStatus", get_certificate_status},
    {"Heartbeat", heartbeat},
    {"LogStatusNotification", log_status},
    {"MeterValues", meter_values},
    {"NotifyChargingLimit", notify_charging_limit},
    {"NotifyCustomerInformation", notify_customer_information},
    {"NotifyDisplayMessages", notify_display_messages},
    {"NotifyEVChargingNeeds", notify_ev_charging_needs},
    {"NotifyEVChargingSchedule", notify_ev_charging_schedule},
    {"NotifyEvent", notify_event},
    {"NotifyMonitoringReport", notify_monitoring_report},
    {"NotifyReport", notify_report},
    {"PublishFirmwareStatusNotification", publish_firmware_status},
    {"ReportChargingProfiles", report_charging_profiles},
    {"ReservationStatusUpdate", reservation_status_update},
    {"SecurityEventNotification", security_event},
    {"SignCertificate", sign_certificate},
    {"StatusNotification", status_notification},
    {"TransactionEvent", transaction_event},
};

void o201_on_call(void *arg, pl_ocpp_conn *c, const char *msg_id, const char *action,
                  json_t *payload)
{
    struct o201 *p = arg;
    struct ocpp_session *cx = p->ocpp->data(c);
    if (!cx) {
        p->ocpp->reply_error(c, msg_id, "InternalError", "connection not attached", NULL);
        return;
    }
    /* B02/B03: until the station is Accepted, the CSMS answers only BootNotification */
    if (!cx->accepted && strcmp(action, "BootNotification") != 0) {
        p->ocpp->reply_error(c, msg_id, "SecurityError",
                             "BootNotification not accepted yet", NULL);
        return;
    }
    S(cx)->seen(cx->station);
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (strcmp(handlers[i].action, action) == 0) {
            handlers[i].fn(cx, msg_id, payload);
            return;
        }
    p->ocpp->reply_error(c, msg_id, "NotImplemented", "action not handled by this CSMS", NULL);
}
