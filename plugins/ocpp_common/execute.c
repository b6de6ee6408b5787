/* execute.c — see execute.h. */
#include "execute.h"

#include "outcome.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct call_ctx {
    struct ocpp_common *com; /* outlives the connection; cx is read only on a RESULT */
    struct ocpp_session *cx;
    const struct ocpp_codec *codec;
    pl_command *cmd;
    int op;
};

static json_int_t ocpp_arg_int(json_t *args, const char *k, json_int_t def)
{
    json_t *v = json_object_get(args, k);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

static void put_doc_id(struct ocpp_session *cx, const char *kind, json_int_t id, json_t *doc)
{
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)id);
    cx->common->st->put_doc(cx->station, kind, key, doc);
}

/* What the station now holds, kept as the station's documents so that every reader
 * (the REST routes, the remote-start checks, the MCP tools) sees the same whatever
 * the station's OCPP version.  Only for a command the station accepted. */
static void record_accepted(struct ocpp_session *cx, int op, json_t *args, json_t *res)
{
    const struct pl_station_api *st = cx->common->st;
    json_t *x;
    size_t i;
    switch (op) {
    case PL_OP_GET_CONFIGURATION:
        json_array_foreach(json_object_get(res, "keys"), i, x) {
            const char *key = json_string_value(json_object_get(x, "key"));
            if (key && *key)
                st->put_doc(cx->station, "configuration", key, json_incref(x));
        }
        break;
    case PL_OP_SET_CONFIGURATION: {
        const char *key = json_string_value(json_object_get(args, "key"));
        if (key && *key)
            st->put_doc(cx->station, "configuration", key,
                        json_pack("{s:s, s:O?, s:b}", "key", key, "value",
                                  json_object_get(args, "value"), "readonly", 0));
        break;
    }
    case PL_OP_SET_CHARGING_PROFILE: {
        /* 1.6 names the profile's id chargingProfileId, 2.0.1 id */
        json_t *prof = json_object_get(args, "profile");
        json_t *id = json_object_get(prof, "chargingProfileId");
        if (!json_is_integer(id))
            id = json_object_get(prof, "id");
        if (json_is_integer(id))
            put_doc_id(cx, "charging_profile", json_integer_value(id), json_deep_copy(args));
        break;
    }
    case PL_OP_CLEAR_CHARGING_PROFILE:
        if (json_is_integer(json_object_get(args, "id")))
            put_doc_id(cx, "charging_profile", ocpp_arg_int(args, "id", 0), NULL);
        break;
    case PL_OP_RESERVE:
        put_doc_id(cx, "reservation", ocpp_arg_int(args, "reservation_id", 0), json_deep_copy(args));
        break;
    case PL_OP_CANCEL_RESERVATION:
        put_doc_id(cx, "reservation", ocpp_arg_int(args, "reservation_id", 0), NULL);
        break;
    default:
        break;
    }
}

static void on_result(void *arg, pl_ocpp_conn *c, const struct pl_ocpp_result *r)
{
    struct call_ctx *cc = arg;
    const struct pl_station_api *st = cc->com->st;
    (void)c;
    if (r->kind == PL_OCPP_RESULT) {
        json_t *res = cc->codec->result(cc->cx, cc->op, r->payload);
        int ok = outcome_status_ok(json_string_value(json_object_get(res, "status")));
        if (ok)
            record_accepted(cc->cx, cc->op, st->command_args(cc->cmd), res);
        st->complete(cc->cmd, ok ? PL_CMD_ACCEPTED : PL_CMD_REJECTED, res, NULL);
    } else {
        outcome_complete_failure(st, cc->cmd, r);
    }
    free(cc);
}

int ocpp_execute(struct ocpp_session *cx, const struct ocpp_codec *codec, pl_command *cmd)
{
    struct ocpp_common *com = cx->common;
    const struct pl_station_api *st = com->st;
    int op = st->command_op(cmd);
    if (op == PL_OP_DISCONNECT) {
        com->ocpp->close(cx->c, 1000, "disconnected by the operator");
        st->complete(cmd, PL_CMD_ACCEPTED, json_pack("{s:s}", "status", "Accepted"), NULL);
        return PL_OK;
    }
    char err[600] = "";
    json_t *payload = NULL;
    int rc = PL_EINVAL;
    const char *action = codec->build(cx, op, st->command_args(cmd), &payload, &rc, err, sizeof err);
    if (!action) {
        json_decref(payload);
        st->command_set_error(cmd, "%s", err[0] ? err : "invalid arguments");
        return rc == PL_ENOTSUP ? PL_ENOTSUP : PL_EINVAL;
    }
    struct call_ctx *cc = calloc(1, sizeof *cc);
    if (!cc) {
        json_decref(payload);
        return PL_ENOMEM;
    }
    *cc = (struct call_ctx){com, cx, codec, cmd, op};
    rc = com->ocpp->call(cx->c, action, payload, (unsigned)com->call_timeout_ms, on_result, cc, err,
                         sizeof err);
    if (rc != PL_OK) {
        free(cc);
        st->command_set_error(cmd, "%s", err[0] ? err : "cannot send the call");
        return rc; /* PL_EINVAL (validation), PL_EBUSY, PL_EOFFLINE */
    }
    return PL_OK;
}

int ocpp_driver_execute(void *drv_arg, pl_station *station, pl_command *cmd)
{
    struct ocpp_session *cx = drv_arg;
    (void)station;
    return ocpp_execute(cx, cx->common->codec, cmd);
}
