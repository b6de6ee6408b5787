/*
 * driver.c — neutral station operations as OCPP 1.6 CALLs, answers mapped back.  Every
 * result carries "status" as the charge point said it and "raw", its whole response.
 */
#include "ocpp16.h"

#include "execute.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *o16_result(struct ocpp_session *cx, int op, json_t *raw)
{
    json_t *res = json_object();
    json_object_set(res, "raw", raw);
    const char *status = json_string_value(json_object_get(raw, "status"));
    (void)cx;
    switch (op) {
    case PL_OP_GET_CONFIGURATION: {
        json_t *keys = json_array(), *k;
        size_t i;
        json_array_foreach(json_object_get(raw, "configurationKey"), i, k) {
            json_t *v = json_object_get(k, "value");
            const char *key = json_string_value(json_object_get(k, "key"));
            json_array_append_new(keys, json_pack("{s:s, s:O, s:b}", "key", key ? key : "", "value",
                                                  v ? v : json_null(), "readonly",
                                                  json_is_true(json_object_get(k, "readonly"))));
        }
        json_object_set_new(res, "keys", keys);
        json_t *unknown = json_object_get(raw, "unknownKey");
        json_object_set_new(res, "unknown", unknown ? json_incref(unknown) : json_array());
        status = "Accepted";
        break;
    }
    case PL_OP_GET_LOCAL_LIST_VERSION:
        json_object_set(res, "version", json_object_get(raw, "listVersion"));
        break;
    case PL_OP_GET_DIAGNOSTICS:
        json_object_set(res, "file_name", json_object_get(raw, json_object_get(raw, "filename") ? "filename" : "fileName"));
        break;
    case PL_OP_GET_COMPOSITE_SCHEDULE:
        json_object_set(res, "schedule", json_object_get(raw, "chargingSchedule"));
        break;
    case PL_OP_DATA_TRANSFER:
        json_object_set(res, "data", json_object_get(raw, "data"));
        break;
    default:
        break;
    }
    json_object_set_new(res, "status", json_string(status ? status : "Accepted"));
    return res;
}

static int int_arg(json_t *a, const char *k, json_int_t def)
{
    json_t *v = json_object_get(a, k);
    return (int)(json_is_integer(v) ? json_integer_value(v) : def);
}

static const char *o16_build(struct ocpp_session *cx, int op, json_t *a, json_t **payload, int *rc,
                             char *err, size_t errlen)
{
    const char *s;
    json_t *x;
    (void)cx;
    switch (op) {
    case PL_OP_RAW_CALL:
        s = json_string_value(json_object_get(a, "action"));
        x = json_object_get(a, "payload");
        *payload = x ? json_incref(x) : json_object();
        return s;
    case PL_OP_RESET:
        s = json_string_value(json_object_get(a, "type"));
        *payload = json_pack("{s:s}", "type", s && !strcmp(s, "Hard") ? "Hard" : "Soft");
        return "Reset";
    case PL_OP_UNLOCK:
        *payload = json_pack("{s:i}", "connectorId", int_arg(a, "evse", 1));
        return "UnlockConnector";
    case PL_OP_CHANGE_AVAILABILITY:
        *payload = json_pack("{s:i, s:s}", "connectorId", int_arg(a, "evse", 0), "type",
                             json_is_true(json_object_get(a, "available")) ? "Operative" : "Inoperative");
        return "ChangeAvailability";
    case PL_OP_REMOTE_START:
        *payload = json_pack("{s:s?}", "idTag", json_string_value(json_object_get(a, "id_token")));
        if (int_arg(a, "evse", 0) > 0)
            json_object_set_new(*payload, "connectorId", json_integer(int_arg(a, "evse", 0)));
        if ((x = json_object_get(a, "charging_profile")))
            json_object_set(*payload, "chargingProfile", x);
        return "RemoteStartTransaction";
    case PL_OP_REMOTE_STOP: {
        s = json_string_value(json_object_get(a, "transaction"));
        char *end = NULL;
        long long id = s ? strtoll(s, &end, 10) : 0;
        if (!s || *end) {
            snprintf(err, errlen, "transaction must be the station's numeric transaction id");
            return NULL;
        }
        *payload = json_pack("{s:I}", "transactionId", (json_int_t)id);
        return "RemoteStopTransaction";
    }
    case PL_OP_GET_CONFIGURATION:
        *payload = json_object();
        if (json_array_size(json_object_get(a, "keys")))
            json_object_set(*payload, "key", json_object_get(a, "keys"));
        return "GetConfiguration";
    case PL_OP_SET_CONFIGURATION:
        *payload = json_pack("{s:s?, s:s?}", "key", json_string_value(json_object_get(a, "key")), "value",
                             json_string_value(json_object_get(a, "value")));
        return "ChangeConfiguration";
    case PL_OP_TRIGGER: {
        s = json_string_value(json_object_get(a, "message"));
        /* the security whitepaper's messages go through ExtendedTriggerMessage */
        int ext = s && (!strcmp(s, "LogStatusNotification") || !strcmp(s, "SignChargePointCertificate") ||
                        !strcmp(s, "SignChargingStationCertificate"));
        if (s && !strcmp(s, "SignChargingStationCertificate"))
            s = "SignChargePointCertificate";
        *payload = json_pack("{s:s?}", "requestedMessage", s);
        if (int_arg(a, "evse", 0) > 0)
            json_object_set_new(*payload, "connectorId", json_integer(int_arg(a, "evse", 0)));
        return ext ? "ExtendedTriggerMessage" : "TriggerMessage";
    }
    case PL_OP_UPDATE_FIRMWARE: {
        const char *sig = json_string_value(json_object_get(a, "signature"));
        const char *loc = json_string_value(json_object_get(a, "location"));
        const char *rd = json_string_value(json_object_get(a, "retrieve_date"));
        char ts[40];
        if (!rd) {
            time_t now = time(NULL);
            strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
            rd = ts;
        }
        if (sig) {
            json_t *fw = json_pack("{s:s?, s:s, s:s, s:s?}", "location", loc, "retrieveDateTime", rd,
                                   "signature", sig, "signingCertificate",
                                   json_string_value(json_object_get(a, "signing_certificate")));
            *payload = json_pack("{s:i, s:o}", "requestId", int_arg(a, "request_id", 1), "firmware", fw);
        } else {
            *payload = json_pack("{s:s?, s:s}", "location", loc, "retrieveDate", rd);
        }
        if ((x = json_object_get(a, "retries")))
            json_object_set(*payload, "retries", x);
        if ((x = json_object_get(a, "retry_interval")))
            json_object_set(*payload, "retryInterval", x);
        return sig ? "SignedUpdateFirmware" : "UpdateFirmware";
    }
    case PL_OP_GET_DIAGNOSTICS: {
        const char *log_type = json_string_value(json_object_get(a, "log_type"));
        const char *loc = json_string_value(json_object_get(a, "location"));
        if (log_type) {
            json_t *log = json_pack("{s:s?}", "remoteLocation", loc);
            if ((s = json_string_value(json_object_get(a, "start_time"))))
                json_object_set_new(log, "oldestTimestamp", json_string(s));
            if ((s = json_string_value(json_object_get(a, "stop_time"))))
                json_object_set_new(log, "latestTimestamp", json_string(s));
            *payload = json_pack("{s:s, s:i, s:o}", "logType", log_type, "requestId",
                                 int_arg(a, "request_id", 1), "log", log);
        } else {
            *payload = json_pack("{s:s?}", "location", loc);
            if ((s = json_string_value(json_object_get(a, "start_time"))))
                json_object_set_new(*payload, "startTime", json_string(s));
            if ((s = json_string_value(json_object_get(a, "stop_time"))))
                json_object_set_new(*payload, "stopTime", json_string(s));
        }
        if ((x = json_object_get(a, "retries")))
            json_object_set(*payload, "retries", x);
        if ((x = json_object_get(a, "retry_interval")))
            json_object_set(*payload, "retryInterval", x);
        return log_type ? "GetLog" : "GetDiagnostics";
    }
    case PL_OP_SEND_LOCAL_LIST: {
        json_t *list = json_array(), *e;
        size_t i;
        json_array_foreach(json_object_get(a, "entries"), i, e) {
            json_t *entry = json_pack("{s:s?}", "idTag", json_string_value(json_object_get(e, "id_token")));
            if ((s = json_string_value(json_object_get(e, "status")))) {
                json_t *info = json_pack("{s:s}", "status", s);
                if ((s = json_string_value(json_object_get(e, "expiry"))))
                    json_object_set_new(info, "expiryDate", json_string(s));
                if ((s = json_string_value(json_object_get(e, "parent"))))
                    json_object_set_new(info, "parentIdTag", json_string(s));
                json_object_set_new(entry, "idTagInfo", info);
            }
            json_array_append_new(list, entry);
        }
        s = json_string_value(json_object_get(a, "update_type"));
        *payload = json_pack("{s:i, s:s, s:o}", "listVersion", int_arg(a, "version", 0), "updateType",
                             s ? s : "Full", "localAuthorizationList", list);
        return "SendLocalList";
    }
    case PL_OP_GET_LOCAL_LIST_VERSION:
        *payload = json_object();
        return "GetLocalListVersion";
    case PL_OP_CLEAR_CACHE:
        *payload = json_object();
        return "ClearCache";
    case PL_OP_RESERVE:
        *payload = json_pack("{s:i, s:s?, s:s?, s:i}", "connectorId", int_arg(a, "evse", 0), "expiryDate",
                             json_string_value(json_object_get(a, "expiry")), "idTag",
                             json_string_value(json_object_get(a, "id_token")), "reservationId",
                             int_arg(a, "reservation_id", 0));
        if ((s = json_string_value(json_object_get(a, "parent"))))
            json_object_set_new(*payload, "parentIdTag", json_string(s));
        return "ReserveNow";
    case PL_OP_CANCEL_RESERVATION:
        *payload = json_pack("{s:i}", "reservationId", int_arg(a, "reservation_id", 0));
        return "CancelReservation";
    case PL_OP_SET_CHARGING_PROFILE:
        *payload = json_pack("{s:i, s:O?}", "connectorId", int_arg(a, "evse", 0), "csChargingProfiles",
                             json_object_get(a, "profile"));
        return "SetChargingProfile";
    case PL_OP_CLEAR_CHARGING_PROFILE:
        *payload = json_object();
        if ((x = json_object_get(a, "id")))
            json_object_set(*payload, "id", x);
        if ((x = json_object_get(a, "evse")))
            json_object_set(*payload, "connectorId", x);
        if ((x = json_object_get(a, "purpose")))
            json_object_set(*payload, "chargingProfilePurpose", x);
        if ((x = json_object_get(a, "stack_level")))
            json_object_set(*payload, "stackLevel", x);
        return "ClearChargingProfile";
    case PL_OP_GET_COMPOSITE_SCHEDULE:
        *payload = json_pack("{s:i, s:i}", "connectorId", int_arg(a, "evse", 0), "duration",
                             int_arg(a, "duration", 0));
        if ((x = json_object_get(a, "unit")))
            json_object_set(*payload, "chargingRateUnit", x);
        return "GetCompositeSchedule";
    case PL_OP_DATA_TRANSFER:
        *payload = json_pack("{s:s?}", "vendorId", json_string_value(json_object_get(a, "vendor_id")));
        if ((x = json_object_get(a, "message_id")))
            json_object_set(*payload, "messageId", x);
        if ((x = json_object_get(a, "data"))) {
            /* 1.6 DataTransfer.data is a string: serialise anything else */
            if (json_is_string(x))
                json_object_set(*payload, "data", x);
            else {
                char *t = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
                json_object_set_new(*payload, "data", json_string(t ? t : ""));
                free(t);
            }
        }
        return "DataTransfer";
    default:
        *rc = PL_ENOTSUP;
        snprintf(err, errlen, "operation not supported by OCPP 1.6");
        return NULL;
    }
}

const struct ocpp_codec o16_codec = {o16_build, o16_result};
