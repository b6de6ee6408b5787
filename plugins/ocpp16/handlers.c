/*
 * handlers.c — OCPP 1.6 messages a charge point sends to the central system, onto the
 * version-neutral model.  The core validated each payload against the official schema.
 *
 * Exact where the spec is exact: transaction ids are committed before
 * StartTransaction.conf goes out; the charge point's own timestamps are kept (messages
 * queued offline arrive late).  Tolerant where chargers are sloppy: a known station
 * reconnecting without a BootNotification is served; MeterValues without a measurand
 * are Energy.Active.Import.Register in Wh, as the spec's defaults say; values that are
 * not decimals are recorded in the log and skipped, not refused.
 */
#include "ocpp16.h"
#include "answer.h"
#include "pnc.h"
#include "signcert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H(cx) O16(cx)->host
#define S(cx) O16(cx)->st

typedef void (*o16_handler)(struct ocpp_session *cx, const char *msg_id, json_t *payload);

static const char *now(struct ocpp_session *cx, char *buf, size_t len)
{
    return H(cx)->now_rfc3339(buf, len);
}

static void boot_notification(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    const char *status = "Accepted";
    long interval = O16(cx)->com.heartbeat_interval;
    if (!cx->known && O16(cx)->com.unknown_policy == CREDS_PENDING) {
        status = "Pending";
        interval = O16(cx)->com.boot_retry_interval;
    }
#define STR(k) json_string_value(json_object_get(p, k))
    const char *serial = STR("chargePointSerialNumber") ? STR("chargePointSerialNumber") : STR("chargeBoxSerialNumber");
    S(cx)->boot(cx->station,
                json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s}", "vendor",
                          STR("chargePointVendor"), "model", STR("chargePointModel"), "serial", serial,
                          "firmware", STR("firmwareVersion"), "iccid", STR("iccid"), "imsi", STR("imsi"),
                          "meter_type", STR("meterType"), "meter_serial", STR("meterSerialNumber"),
                          "boot_status", status));
#undef STR
    cx->accepted = strcmp(status, "Accepted") == 0;
    char ts[40];
    ocpp_session_reply(cx, msg_id, json_pack("{s:s, s:i, s:s}", "currentTime", now(cx, ts, sizeof ts), "interval",
                                (json_int_t)interval, "status", status));
}

static void heartbeat(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    (void)p;
    char ts[40];
    ocpp_session_reply(cx, msg_id, json_pack("{s:s}", "currentTime", now(cx, ts, sizeof ts)));
}

static void status_notification(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    int connector = (int)json_integer_value(json_object_get(p, "connectorId"));
    const char *err = json_string_value(json_object_get(p, "errorCode"));
    const char *info = json_string_value(json_object_get(p, "info"));
    const char *vendor_err = json_string_value(json_object_get(p, "vendorErrorCode"));
    char infobuf[200];
    if (vendor_err) {
        snprintf(infobuf, sizeof infobuf, "%s%s%s", info ? info : "", info ? "; vendor error " : "vendor error ",
                 vendor_err);
        info = infobuf;
    }
    /* 1.6 connector N is neutral EVSE N, connector 1; connector 0 is the station */
    S(cx)->connector_status(cx->station, connector, connector ? 1 : 0,
                            json_string_value(json_object_get(p, "status")),
                            err && strcmp(err, "NoError") ? err : NULL, info,
                            json_string_value(json_object_get(p, "timestamp")));
    ocpp_session_reply_empty(cx, msg_id);
}

/* ---- authorization ---- */

/* Contexts of answers given later hold the plugin and the connection, never the
 * session: that is freed when the station disconnects, the pl_ocpp_conn is not
 * (it lives until every call is answered). */
struct auth_ctx {
    struct o16 *p;
    pl_ocpp_conn *c;
    char msg_id[40];
    json_t *pending;   /* StartTransaction: the tx waiting for its authorization */
};

static json_t *id_tag_info(json_t *info)
{
    const char *status = json_string_value(json_object_get(info, "status"));
    json_t *out = json_pack("{s:s}", "status", status ? status : "Invalid");
    const char *expiry = json_string_value(json_object_get(info, "expiry"));
    const char *parent = json_string_value(json_object_get(info, "parent"));
    if (expiry)
        json_object_set_new(out, "expiryDate", json_string(expiry));
    if (parent)
        json_object_set_new(out, "parentIdTag", json_string(parent));
    return out;
}

static void on_authorized(void *arg, json_t *info)
{
    struct auth_ctx *a = arg;
    if (!info) /* no decision (database down, token not known from before): fail closed */
        a->p->ocpp->reply_error(a->c, a->msg_id, "InternalError", "authorization unavailable", NULL);
    else
        a->p->ocpp->reply(a->c, a->msg_id, json_pack("{s:o}", "idTagInfo", id_tag_info(info)));
    free(a);
}

static struct auth_ctx *auth_ctx_new(struct ocpp_session *cx, const char *msg_id)
{
    struct auth_ctx *a = calloc(1, sizeof *a);
    if (!a) {
        O16(cx)->ocpp->reply_error(cx->c, msg_id, "InternalError", "out of memory", NULL);
        return NULL;
    }
    a->p = O16(cx);
    a->c = cx->c;
    snprintf(a->msg_id, sizeof a->msg_id, "%s", msg_id);
    return a;
}

static void authorize(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    struct auth_ctx *a = auth_ctx_new(cx, msg_id);
    if (a)
        S(cx)->authorize(cx->station, json_string_value(json_object_get(p, "idTag")), on_authorized, a);
}

/* ---- transactions ---- */

/* MeterValue[] of 1.6 (values are decimal strings) -> neutral samples */
static json_t *samples_from(struct ocpp_session *cx, json_t *meter_values)
{
    json_t *out = json_array();
    size_t i, j;
    json_t *mv, *sv;
    json_array_foreach(meter_values, i, mv) {
        const char *ts = json_string_value(json_object_get(mv, "timestamp"));
        size_t first = json_array_size(out); /* this meterValue's samples start here */
        json_array_foreach(json_object_get(mv, "sampledValue"), j, sv) {
            const char *text = json_string_value(json_object_get(sv, "value"));
            const char *format = json_string_value(json_object_get(sv, "format"));
            char *end = NULL;
            double v = text ? strtod(text, &end) : NAN;
            if (format && strcmp(format, "SignedData") == 0)
                continue; /* below, once its plain reading is known */
            if (!text || end == text || *end || !isfinite(v)) {
                H(cx)->log(O16(cx)->self, PL_LOG_WARN, "station %s: meter value '%s' is not a decimal (skipped)",
                           H(cx)->ocpp->station_id(cx->c), text ? text : "");
                continue;
            }
            const char *measurand = json_string_value(json_object_get(sv, "measurand"));
            const char *unit = json_string_value(json_object_get(sv, "unit"));
            if (!measurand)
                measurand = "Energy.Active.Import.Register";
            if (!unit && strncmp(measurand, "Energy", 6) == 0)
                unit = "Wh";
            json_t *s = json_pack("{s:s, s:s, s:f}", "timestamp", ts ? ts : "", "measurand", measurand, "value", v);
            if (unit)
                json_object_set_new(s, "unit", json_string(unit));
            static const char *const keys[] = {"phase", "context", "location"};
            for (int k = 0; k < 3; k++) {
                json_t *x = json_object_get(sv, keys[k]);
                if (x)
                    json_object_set(s, keys[k], x);
            }
            json_array_append_new(out, s);
        }
        /* A SignedData value signs the plain reading of the same measurand, context and
         * phase beside it (1.6 has no field for it): it rides with that sample to the CDR.
         * One without a plain partner is kept as a station record only. */
        json_array_foreach(json_object_get(mv, "sampledValue"), j, sv) {
            const char *format = json_string_value(json_object_get(sv, "format"));
            if (!format || strcmp(format, "SignedData") != 0)
                continue;
            S(cx)->record(cx->station, "signed_meter_value", json_pack("{s:s?, s:O}", "timestamp", ts, "sampledValue", sv));
            const char *measurand = json_string_value(json_object_get(sv, "measurand"));
            json_t *partner = NULL;
            for (size_t k = first; k < json_array_size(out) && !partner; k++) {
                json_t *c = json_array_get(out, k);
                if (strcmp(json_string_value(json_object_get(c, "measurand")) ?: "",
                           measurand ? measurand : "Energy.Active.Import.Register") == 0 &&
                    json_equal(json_object_get(c, "context") ?: json_null(), json_object_get(sv, "context") ?: json_null()) &&
                    json_equal(json_object_get(c, "phase") ?: json_null(), json_object_get(sv, "phase") ?: json_null()) &&
                    !json_object_get(c, "signed"))
                    partner = c;
            }
            if (partner)
                json_object_set_new(partner, "signed", json_pack("{s:O, s:s}", "signedMeterData",
                                                                 json_object_get(sv, "value"), "format", "SignedData"));
        }
    }
    return out;
}

struct start_ctx {
    struct o16 *p;
    pl_ocpp_conn *c;
    char msg_id[40];
    json_t *tx;
    json_t *info;
};

static void on_tx_started(void *arg, int ok, const char *tx_id, json_t *row)
{
    struct start_ctx *s = arg;
    (void)row;
    if (ok != PL_TX_STORED) {
        /* nothing committed: the charge point retries (it must not start without an id);
         * the repeat finds the same transaction, never a second one */
        s->p->ocpp->reply_error(s->c, s->msg_id, "InternalError", "transaction not recorded", NULL);
    } else {
        s->p->ocpp->reply(s->c, s->msg_id,
                              json_pack("{s:I, s:o}", "transactionId", (json_int_t)strtoll(tx_id, NULL, 10),
                                        "idTagInfo", id_tag_info(s->info)));
    }
    json_decref(s->info);
    free(s);
}

static void on_start_authorized(void *arg, json_t *info)
{
    struct start_ctx *s = arg;
    s->info = json_incref(info);
    struct ocpp_session *cx = s->p->ocpp->data(s->c);
    if (!cx || !info) { /* left meanwhile, or no authorization decision: it sends again */
        s->p->ocpp->reply_error(s->c, s->msg_id, "InternalError",
                                cx ? "authorization unavailable" : "connection closed", NULL);
        json_decref(s->tx);
        json_decref(s->info);
        free(s);
        return;
    }
    /* 1.6: the transaction is recorded whatever the authorization (the charge point may
     * have started offline); the answer carries the status */
    s->p->st->tx_start(cx->station, s->tx, on_tx_started, s);
    s->tx = NULL;
}

static void start_transaction(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    struct start_ctx *s = calloc(1, sizeof *s);
    if (!s) {
        O16(cx)->ocpp->reply_error(cx->c, msg_id, "InternalError", "out of memory", NULL);
        return;
    }
    s->p = O16(cx);
    s->c = cx->c;
    snprintf(s->msg_id, sizeof s->msg_id, "%s", msg_id);
    int connector = (int)json_integer_value(json_object_get(p, "connectorId"));
    s->tx = json_pack("{s:i, s:i, s:s?, s:s, s:s?}", "evse", connector, "connector", 1, "id_token",
                      json_string_value(json_object_get(p, "idTag")), "id_token_type", "ISO14443",
                      "started_at", json_string_value(json_object_get(p, "timestamp")));
    json_object_set_new(s->tx, "meter_start", json_real((double)json_integer_value(json_object_get(p, "meterStart"))));
    json_t *rid = json_object_get(p, "reservationId");
    if (rid)
        json_object_set(s->tx, "reservation_id", rid);
    S(cx)->authorize(cx->station, json_string_value(json_object_get(p, "idTag")), on_start_authorized, s);
}

/* The stop, its transactionData and its idTag's status are all settled before the
 * answer: a stop or samples not stored get a CALLERROR (the charge point keeps the
 * message), an unknown transaction is acknowledged (nothing to keep).  idTagInfo is
 * optional in StopTransaction.conf: without an authorization decision it is left out
 * rather than guessed. */
static json_t *stop_answer(struct ocpp_answer *a)
{
    json_t *conf = json_object();
    struct o16 *p = a->data;
    if (a->tx == PL_TX_UNKNOWN)
        p->host->log(p->self, PL_LOG_WARN, "StopTransaction for an unknown transaction (acknowledged)");
    if (a->auth)
        json_object_set_new(conf, "idTagInfo", id_tag_info(a->auth));
    return conf;
}

static void stop_transaction(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    char txid[32];
    snprintf(txid, sizeof txid, "%lld", (long long)json_integer_value(json_object_get(p, "transactionId")));
    const char *tag = json_string_value(json_object_get(p, "idTag"));
    const char *reason = json_string_value(json_object_get(p, "reason"));
    json_t *stop = json_pack("{s:f, s:s?, s:s}", "meter_stop",
                             (double)json_integer_value(json_object_get(p, "meterStop")), "stopped_at",
                             json_string_value(json_object_get(p, "timestamp")), "reason", reason ? reason : "Local");
    if (tag)
        json_object_set_new(stop, "id_token", json_string(tag));
    struct ocpp_answer *a = ocpp_answer_new(cx, msg_id, stop_answer);
    if (!a) {
        json_decref(stop);
        return;
    }
    a->data = O16(cx);
    json_t *data = json_object_get(p, "transactionData");
    json_t *samples = data ? samples_from(cx, data) : NULL;
    /* its samples are written after the stop: their signed values go with it */
    if (samples)
        json_object_set_new(stop, "signed_meter_values", ocpp_samples_signed(samples));
    S(cx)->tx_stop(cx->station, txid, stop, ocpp_answer_tx(a), a);
    if (samples) /* the transaction's EVSE and connector are the core's to know */
        ocpp_answer_samples(a, cx, 0, 1, txid, samples);
    if (tag)
        S(cx)->authorize(cx->station, tag, ocpp_answer_auth(a), a);
    ocpp_answer_arm(a);
}

static void meter_values(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    int connector = (int)json_integer_value(json_object_get(p, "connectorId"));
    json_t *tx = json_object_get(p, "transactionId");
    char txid[32];
    if (tx)
        snprintf(txid, sizeof txid, "%lld", (long long)json_integer_value(tx));
    /* answered once the values are durable: a charge point deletes what was
     * acknowledged, so a crash in between must not lose it */
    struct ocpp_answer *a = ocpp_answer_new(cx, msg_id, NULL);
    if (!a)
        return;
    ocpp_answer_samples(a, cx, connector, connector ? 1 : 0, tx ? txid : NULL,
                        samples_from(cx, json_object_get(p, "meterValue")));
    ocpp_answer_arm(a);
}

/* ---- everything else: records ---- */

#define RECORD(fn, kind)                                                \
    static void fn(struct ocpp_session *cx, const char *msg_id, json_t *p) \
    {                                                                   \
        ocpp_session_record(cx, msg_id, p, kind);                       \
    }
RECORD(diagnostics_status, "diagnostics_status")
RECORD(firmware_status, "firmware_status")
RECORD(log_status, "log_status")
RECORD(security_event, "security_event")
RECORD(signed_firmware_status, "firmware_status")

static void data_transfer(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    S(cx)->record(cx->station, "data_transfer", json_deep_copy(p));
    struct pnc_call call = {H(cx), O16(cx)->self, cx->c, cx->station, "", 0};
    snprintf(call.msg_id, sizeof call.msg_id, "%s", msg_id);
    if (pnc_data_transfer16(&call, p))
        return; /* ISO 15118 Plug & Charge (OCA application note) */
    const char *vendors = H(cx)->config_get(O16(cx)->self, "data_transfer_vendors", "");
    const char *vendor = json_string_value(json_object_get(p, "vendorId"));
    int known = vendor && *vendors && strstr(vendors, vendor) != NULL;
    ocpp_session_reply(cx, msg_id, json_pack("{s:s}", "status", known ? "Accepted" : "UnknownVendorId"));
}

/* SignCertificate: Accepted now, CertificateSigned once signed (security whitepaper A02). */
static void sign_certificate(struct ocpp_session *cx, const char *msg_id, json_t *p)
{
    signcert_handle(H(cx), O16(cx)->self, cx->c, cx->station, msg_id, p);
}

static const struct {
    const char *action;
    o16_handler fn;
} handlers[] = {
    {"Authorize", authorize},
    {"BootNotification", boot_notification},
    {"DataTransfer", data_transfer},
    {"DiagnosticsStatusNotification", diagnostics_status},
    {"FirmwareStatusNotification", firmware_status},
    {"Heartbeat", heartbeat},
    {"LogStatusNotification", log_status},
    {"MeterValues", meter_values},
    {"SecurityEventNotification", security_event},
    {"SignCertificate", sign_certificate},
    {"SignedFirmwareStatusNotification", signed_firmware_status},
    {"StartTransaction", start_transaction},
    {"StatusNotification", status_notification},
    {"StopTransaction", stop_transaction},
};

void o16_on_call(void *arg, pl_ocpp_conn *c, const char *msg_id, const char *action, json_t *payload)
{
    struct o16 *p = arg;
    struct ocpp_session *cx = p->ocpp->data(c);
    if (!cx) {
        p->ocpp->reply_error(c, msg_id, "InternalError", "connection not attached", NULL);
        return;
    }
    /* a station told Pending/Rejected may only boot again (1.6 4.2) */
    if (!cx->accepted && strcmp(action, "BootNotification") != 0) {
        p->ocpp->reply_error(c, msg_id, "SecurityError", "BootNotification not accepted yet", NULL);
        return;
    }
    S(cx)->seen(cx->station);
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (strcmp(handlers[i].action, action) == 0) {
            handlers[i].fn(cx, msg_id, payload);
            return;
        }
    p->ocpp->reply_error(c, msg_id, "NotImplemented", "action not handled", NULL);
}
