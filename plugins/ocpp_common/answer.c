/*
 * answer.c — an answer held until everything its message asked for has landed
 * (see answer.h).  A counter, not a chain: the writes run in the core's order
 * (samples behind their station's transaction write), the answer only waits.
 */
#include "answer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ocpp_answer *ocpp_answer_new(struct ocpp_session *cx, const char *msg_id,
                                    ocpp_answer_build build)
{
    struct ocpp_answer *a = calloc(1, sizeof *a);
    if (!a) {
        cx->common->ocpp->reply_error(cx->c, msg_id, "InternalError", "out of memory", NULL);
        return NULL;
    }
    a->ocpp = cx->common->ocpp;
    a->c = cx->c;
    snprintf(a->msg_id, sizeof a->msg_id, "%s", msg_id);
    a->build = build;
    a->pending = 1;
    a->tx = -1;
    return a;
}

static void finish(struct ocpp_answer *a)
{
    if (--a->pending > 0)
        return;
    if (a->lost)
        a->ocpp->reply_error(a->c, a->msg_id, "InternalError",
                             "not stored: keep the message and send it again", NULL);
    json_t *payload = a->build ? a->build(a) : NULL; /* also frees the protocol's data */
    if (!a->lost)
        a->ocpp->reply(a->c, a->msg_id, payload ? payload : json_object());
    else
        json_decref(payload);
    json_decref(a->auth);
    json_decref(a->tx_row);
    free(a);
}

static void on_samples(void *arg, int ok)
{
    struct ocpp_answer *a = arg;
    if (!ok)
        a->lost = 1;
    finish(a);
}

void ocpp_answer_samples(struct ocpp_answer *a, struct ocpp_session *cx, int evse, int connector,
                         const char *station_tx_id, json_t *samples)
{
    if (!json_array_size(samples)) {
        json_decref(samples);
        return;
    }
    a->pending++;
    cx->common->st->meter_values_durable(cx->station, evse, connector, station_tx_id, samples,
                                         on_samples, a);
}

static void on_tx(void *arg, int ok, const char *tx_id, json_t *row)
{
    struct ocpp_answer *a = arg;
    a->tx = ok;
    if (row && !a->tx_row)
        a->tx_row = json_incref(row);
    if (ok == PL_TX_NOT_STORED)
        a->lost = 1;
    if (tx_id)
        snprintf(a->tx_id, sizeof a->tx_id, "%s", tx_id);
    finish(a);
}

static void on_auth(void *arg, json_t *info)
{
    struct ocpp_answer *a = arg;
    json_decref(a->auth);
    a->auth = json_incref(info);
    finish(a);
}

pl_tx_cb ocpp_answer_tx(struct ocpp_answer *a)
{
    a->pending++;
    return on_tx;
}

pl_auth_cb ocpp_answer_auth(struct ocpp_answer *a)
{
    a->pending++;
    a->asked_auth = 1;
    return on_auth;
}

void ocpp_answer_arm(struct ocpp_answer *a)
{
    finish(a);
}

json_t *ocpp_samples_signed(json_t *samples)
{
    json_t *out = json_array();
    size_t i;
    json_t *smp;
    json_array_foreach(samples, i, smp) {
        json_t *sig = json_object_get(smp, "signed");
        if (json_is_object(sig))
            json_array_append_new(out, json_pack("{s:O?, s:O?, s:O?, s:O}", "timestamp",
                                                 json_object_get(smp, "timestamp"), "measurand",
                                                 json_object_get(smp, "measurand"), "context",
                                                 json_object_get(smp, "context"), "signed", sig));
    }
    return out;
}
