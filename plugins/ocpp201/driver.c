/*
 * driver.c — the neutral station operations (pipelet/station.h) as OCPP 2.0.1 CALLs,
 * and the stations' answers mapped back to neutral results.  Every result carries
 * "status" as the station said it and "raw", the station's whole response.
 */
#include "ocpp201.h"

#include "execute.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "Component[.instance][@evse]/Variable[.instance]" -> component + variable objects */
static int parse_key(const char *key, json_t **comp, json_t **var)
{
    char buf[256];
    if (!key || strlen(key) >= sizeof buf)
        return -1;
    strcpy(buf, key);
    char *slash = strchr(buf, '/');
    if (!slash || slash == buf || !slash[1])
        return -1;
    *slash = '\0';
    char *cn = buf, *vn = slash + 1;
    char *at = strchr(cn, '@');
    int evse = -1;
    if (at) {
        *at = '\0';
        evse = atoi(at + 1);
    }
    char *ci = strchr(cn, '.'), *vi = strchr(vn, '.');
    if (ci)
        *ci++ = '\0';
    if (vi)
        *vi++ = '\0';
    *comp = json_pack("{s:s}", "name", cn);
    if (ci)
        json_object_set_new(*comp, "instance", json_string(ci));
    if (evse >= 0)
        json_object_set_new(*comp, "evse", json_pack("{s:i}", "id", evse));
    *var = json_pack("{s:s}", "name", vn);
    if (vi)
        json_object_set_new(*var, "instance", json_string(vi));
    return 0;
}

static json_t *o201_result(struct ocpp_session *cx, int op, json_t *raw)
{
    json_t *res = json_object();
    json_object_set(res, "raw", raw);
    const char *status = json_string_value(json_object_get(raw, "status"));
    (void)cx;
    switch (op) {
    case PL_OP_GET_CONFIGURATION: {
        json_t *keys = json_array(), *unknown = json_array();
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(raw, "getVariableResult"), i, r) {
            char key[300];
            o201_variable_key(json_object_get(r, "component"), json_object_get(r, "variable"), key, sizeof key);
            const char *st = json_string_value(json_object_get(r, "attributeStatus"));
            if (st && strcmp(st, "Accepted") == 0) {
                json_t *v = json_object_get(r, "attributeValue");
                json_array_append_new(keys, json_pack("{s:s, s:O, s:b}", "key", key, "value",
                                                      v ? v : json_null(), "readonly", 0));
            } else {
                json_array_append_new(unknown, json_string(key));
            }
        }
        json_object_set_new(res, "keys", keys);
        json_object_set_new(res, "unknown", unknown);
        status = "Accepted";
        break;
    }
    case PL_OP_SET_CONFIGURATION: {
        json_t *r = json_array_get(json_object_get(raw, "setVariableResult"), 0);
        status = json_string_value(json_object_get(r, "attributeStatus"));
        break;
    }
    case PL_OP_GET_LOCAL_LIST_VERSION:
        json_object_set(res, "version", json_object_get(raw, "versionNumber"));
        break;
    case PL_OP_GET_DIAGNOSTICS:
        json_object_set(res, "file_name", json_object_get(raw, "filename"));
        break;
    case PL_OP_GET_COMPOSITE_SCHEDULE:
        json_object_set(res, "schedule", json_object_get(raw, "schedule"));
        break;
    case PL_OP_DATA_TRANSFER:
        json_object_set(res, "data", json_object_get(raw, "data"));
        break;
    case PL_OP_REMOTE_START:
        json_object_set(res, "transaction", json_object_get(raw, "transactionId"));
        break;
    default:
        break;
    }
    json_object_set_new(res, "status", json_string(status ? status : "Accepted"));
    return res;
}

static json_int_t next_request_id(struct o201 *p)
{
    return (json_int_t)++p->request_id;
}

static json_t *evse_obj(json_t *args)
{
    json_t *e = json_object_get(args, "evse");
    if (!json_is_integer(e) || json_integer_value(e) <= 0)
        return NULL;
    json_t *o = json_pack("{s:I}", "id", json_integer_value(e));
    json_t *c = json_object_get(args, "connector");
    if (json_is_integer(c) && json_integer_value(c) > 0)
        json_object_set(o, "connectorId", c);
    return o;
}

static json_t *id_token(json_t *args, const char *key, const char *type_key)
{
    const char *t = json_string_value(json_object_get(args, key));
    const char *ty = json_string_value(json_object_get(args, type_key));
    return json_pack("{s:s, s:s}", "idToken", t ? t : "", "type", ty ? ty : "ISO14443");
}

/* Build the 2.0.1 action and payload for a neutral op.  Returns the action or NULL
 * with err set. */
static const char *o201_build(struct ocpp_session *cx, int op, json_t *a, json_t **payload, int *rc,
                              char *err, size_t errlen)
{
    struct o201 *p = O201(cx);
    const char *s;
    json_t *x;
    switch (op) {
    case PL_OP_RAW_CALL:
        s = json_string_value(json_object_get(a, "action"));
        x = json_object_get(a, "payload");
        *payload = x ? json_incref(x) : json_object();
        return s;
    case PL_OP_RESET:
        s = json_string_value(json_object_get(a, "type"));
        *payload = json_pack("{s:s}", "type", s && strcmp(s, "Hard") == 0 ? "Immediate" : "OnIdle");
        if ((x = evse_obj(a))) {
            json_object_set(*payload, "evseId", json_object_get(x, "id"));
            json_decref(x);
        }
        return "Reset";
    case PL_OP_UNLOCK:
        *payload = json_pack("{s:I, s:I}", "evseId", json_integer_value(json_object_get(a, "evse")),
                             "connectorId", json_is_integer(json_object_get(a, "connector"))
                                                ? json_integer_value(json_object_get(a, "connector"))
                                                : 1);
        return "UnlockConnector";
    case PL_OP_CHANGE_AVAILABILITY:
        *payload = json_pack("{s:s}", "operationalStatus",
                             json_is_true(json_object_get(a, "available")) ? "Operative" : "Inoperative");
        if ((x = evse_obj(a)))
            json_object_set_new(*payload, "evse", x);
        return "ChangeAvailability";
    case PL_OP_REMOTE_START:
        x = json_object_get(a, "remote_start_id");
        *payload = json_pack("{s:o, s:I}", "idToken", id_token(a, "id_token", "id_token_type"),
                             "remoteStartId", json_is_integer(x) ? json_integer_value(x) : next_request_id(p));
        if (json_is_integer(json_object_get(a, "evse")) && json_integer_value(json_object_get(a, "evse")) > 0)
            json_object_set(*payload, "evseId", json_object_get(a, "evse"));
        if ((x = json_object_get(a, "charging_profile")))
            json_object_set(*payload, "chargingProfile", x);
        return "RequestStartTransaction";
    case PL_OP_REMOTE_STOP:
        s = json_string_value(json_object_get(a, "transaction"));
        if (!s) {
            snprintf(err, errlen, "transaction is required");
            return NULL;
        }
        *payload = json_pack("{s:s}", "transactionId", s);
        return "RequestStopTransaction";
    case PL_OP_GET_CONFIGURATION: {
        json_t *keys = json_object_get(a, "keys"), *data = json_array();
        size_t i;
        json_array_foreach(keys, i, x) {
            json_t *comp, *var;
            if (parse_key(json_string_value(x), &comp, &var) != 0) {
                json_decref(data);
                snprintf(err, errlen, "key '%s' is not Component[.instance]/Variable[.instance]",
                         json_string_value(x) ? json_string_value(x) : "?");
                return NULL;
            }
            json_array_append_new(data, json_pack("{s:o, s:o}", "component", comp, "variable", var));
        }
        if (json_array_size(data) == 0) {
            /* without keys: the whole base report (NotifyReport fills the device model) */
            json_decref(data);
            *payload = json_pack("{s:I, s:s}", "requestId", next_request_id(p), "reportBase",
                                 "ConfigurationInventory");
            return "GetBaseReport";
        }
        *payload = json_pack("{s:o}", "getVariableData", data);
        return "GetVariables";
    }
    case PL_OP_SET_CONFIGURATION: {
        json_t *comp, *var;
        const char *key = json_string_value(json_object_get(a, "key"));
        const char *val = json_string_value(json_object_get(a, "value"));
        if (!val || parse_key(key, &comp, &var) != 0) {
            snprintf(err, errlen, "key must be Component[.instance]/Variable[.instance] and value a string");
            return NULL;
        }
        *payload = json_pack("{s:[{s:s, s:o, s:o}]}", "setVariableData", "attributeValue", val,
                             "component", comp, "variable", var);
        return "SetVariables";
    }
    case PL_OP_TRIGGER: {
        s = json_string_value(json_object_get(a, "message"));
        if (s && (strcmp(s, "DiagnosticsStatusNotification") == 0))
            s = "LogStatusNotification";
        if (s && strcmp(s, "SignChargePointCertificate") == 0)
            s = "SignChargingStationCertificate";
        *payload = json_pack("{s:s?}", "requestedMessage", s);
        if ((x = evse_obj(a)))
            json_object_set_new(*payload, "evse", x);
        return "TriggerMessage";
    }
    case PL_OP_UPDATE_FIRMWARE: {
        char ts[40];
        const char *rd = json_string_value(json_object_get(a, "retrieve_date"));
        json_t *fw = json_pack("{s:s?, s:s}", "location", json_string_value(json_object_get(a, "location")),
                               "retrieveDateTime", rd ? rd : p->host->now_rfc3339(ts, sizeof ts));
        if ((s = json_string_value(json_object_get(a, "signature"))))
            json_object_set_new(fw, "signature", json_string(s));
        if ((s = json_string_value(json_object_get(a, "signing_certificate"))))
            json_object_set_new(fw, "signingCertificate", json_string(s));
        x = json_object_get(a, "request_id");
        *payload = json_pack("{s:I, s:o}", "requestId",
                             json_is_integer(x) ? json_integer_value(x) : next_request_id(p), "firmware", fw);
        if ((x = json_object_get(a, "retries")))
            json_object_set(*payload, "retries", x);
        if ((x = json_object_get(a, "retry_interval")))
            json_object_set(*payload, "retryInterval", x);
        return "UpdateFirmware";
    }
    case PL_OP_GET_DIAGNOSTICS: {
        json_t *log = json_pack("{s:s?}", "remoteLocation", json_string_value(json_object_get(a, "location")));
        if ((s = json_string_value(json_object_get(a, "start_time"))))
            json_object_set_new(log, "oldestTimestamp", json_string(s));
        if ((s = json_string_value(json_object_get(a, "stop_time"))))
            json_object_set_new(log, "latestTimestamp", json_string(s));
        s = json_string_value(json_object_get(a, "log_type"));
        x = json_object_get(a, "request_id");
        *payload = json_pack("{s:s, s:I, s:o}", "logType", s ? s : "DiagnosticsLog", "requestId",
                             json_is_integer(x) ? json_integer_value(x) : next_request_id(p), "log", log);
        if ((x = json_object_get(a, "retries")))
            json_object_set(*payload, "retries", x);
        if ((x = json_object_get(a, "retry_interval")))
            json_object_set(*payload, "retryInterval", x);
        return "GetLog";
    }
    case PL_OP_SEND_LOCAL_LIST: {
        json_t *list = json_array(), *e;
        size_t i;
        json_array_foreach(json_object_get(a, "entries"), i, e) {
            json_t *entry = json_pack("{s:o}", "idToken", id_token(e, "id_token", "type"));
            if ((s = json_string_value(json_object_get(e, "status")))) {
                json_t *info = json_pack("{s:s}", "status", s);
                if ((s = json_string_value(json_object_get(e, "expiry"))))
                    json_object_set_new(info, "cacheExpiryDateTime", json_string(s));
                if ((s = json_string_value(json_object_get(e, "parent"))))
                    json_object_set_new(info, "groupIdToken", json_pack("{s:s, s:s}", "idToken", s, "type", "Central"));
                json_object_set_new(entry, "idTokenInfo", info);
            }
            json_array_append_new(list, entry);
        }
        s = json_string_value(json_object_get(a, "update_type"));
        *payload = json_pack("{s:I, s:s}", "versionNumber", json_integer_value(json_object_get(a, "version")),
                             "updateType", s ? s : "Full");
        if (json_array_size(list))
            json_object_set_new(*payload, "localAuthorizationList", list);
        else
            json_decref(list);
        return "SendLocalList";
    }
    case PL_OP_GET_LOCAL_LIST_VERSION:
        *payload = json_object();
        return "GetLocalListVersion";
    case PL_OP_CLEAR_CACHE:
        *payload = json_object();
        return "ClearCache";
    case PL_OP_RESERVE:
        *payload = json_pack("{s:I, s:s?, s:o}", "id", json_integer_value(json_object_get(a, "reservation_id")),
                             "expiryDateTime", json_string_value(json_object_get(a, "expiry")),
                             "idToken", id_token(a, "id_token", "id_token_type"));
        if (json_integer_value(json_object_get(a, "evse")) > 0)
            json_object_set(*payload, "evseId", json_object_get(a, "evse"));
        if ((s = json_string_value(json_object_get(a, "parent"))))
            json_object_set_new(*payload, "groupIdToken", json_pack("{s:s, s:s}", "idToken", s, "type", "Central"));
        return "ReserveNow";
    case PL_OP_CANCEL_RESERVATION:
        *payload = json_pack("{s:I}", "reservationId", json_integer_value(json_object_get(a, "reservation_id")));
        return "CancelReservation";
    case PL_OP_SET_CHARGING_PROFILE:
        x = json_object_get(a, "profile");
        *payload = json_pack("{s:I, s:O?}", "evseId", json_integer_value(json_object_get(a, "evse")),
                             "chargingProfile", x);
        return "SetChargingProfile";
    case PL_OP_CLEAR_CHARGING_PROFILE: {
        *payload = json_object();
        json_t *crit = json_object();
        if ((x = json_object_get(a, "id")))
            json_object_set(*payload, "chargingProfileId", x);
        if ((x = json_object_get(a, "evse")))
            json_object_set(crit, "evseId", x);
        if ((x = json_object_get(a, "purpose")))
            json_object_set(crit, "chargingProfilePurpose", x);
        if ((x = json_object_get(a, "stack_level")))
            json_object_set(crit, "stackLevel", x);
        if (json_object_size(crit))
            json_object_set_new(*payload, "chargingProfileCriteria", crit);
        else
            json_decref(crit);
        return "ClearChargingProfile";
    }
    case PL_OP_GET_COMPOSITE_SCHEDULE:
        *payload = json_pack("{s:I, s:I}", "duration", json_integer_value(json_object_get(a, "duration")),
                             "evseId", json_integer_value(json_object_get(a, "evse")));
        if ((x = json_object_get(a, "unit")))
            json_object_set(*payload, "chargingRateUnit", x);
        return "GetCompositeSchedule";
    case PL_OP_DATA_TRANSFER:
        *payload = json_pack("{s:s?}", "vendorId", json_string_value(json_object_get(a, "vendor_id")));
        if ((x = json_object_get(a, "message_id")))
            json_object_set(*payload, "messageId", x);
        if ((x = json_object_get(a, "data")))
            json_object_set(*payload, "data", x);
        return "DataTransfer";
    default:
        *rc = PL_ENOTSUP;
        snprintf(err, errlen, "operation not supported by OCPP 2.0.1");
        return NULL;
    }
}

const struct ocpp_codec o201_codec = {o201_build, o201_result};
