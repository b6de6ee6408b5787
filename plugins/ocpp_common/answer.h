/*
 * answer.h — the answer to a station message that must wait for several things before
 * it goes out: the samples it carried committed, its transaction row written, its id
 * token looked up.  A station deletes what it was told was received, so the answer is
 * a CALLERROR (InternalError: the station keeps the message and sends it again) when
 * anything was not stored, and the protocol's own payload once everything landed.
 */
#ifndef PL_COMMON_ANSWER_H
#define PL_COMMON_ANSWER_H

#include "session.h"

struct ocpp_answer;
/* Builds the payload (new) once everything landed and was stored.  NULL: the answer is {}. */
typedef json_t *(*ocpp_answer_build)(struct ocpp_answer *a);

struct ocpp_answer {
    const struct pl_ocpp_api *ocpp;
    pl_ocpp_conn *c;           /* lives until every call is answered, unlike the session */
    char msg_id[40];
    ocpp_answer_build build;
    int pending;               /* writes and lookups still out, +1 until armed */
    int lost;                  /* something was not stored */
    int tx;                    /* PL_TX_* of the transaction write; -1 if none */
    char tx_id[32];            /* the core's id when stored */
    json_t *tx_row;            /* the transaction as stored (its running cost, ...), or NULL */
    int asked_auth;
    json_t *auth;              /* the authorization's answer; NULL = none or no decision */
    void *data;                /* the protocol's own (freed by the protocol in build) */
};

struct ocpp_answer *ocpp_answer_new(struct ocpp_session *cx, const char *msg_id,
                                    ocpp_answer_build build);
/* Samples (stolen) committed before the answer; station_tx_id may be NULL. */
void ocpp_answer_samples(struct ocpp_answer *a, struct ocpp_session *cx, int evse, int connector,
                         const char *station_tx_id, json_t *samples);
/* Give these as callback and a as argument to tx_start / tx_update / tx_stop and
 * authorize; each counts as one thing to wait for. */
pl_tx_cb ocpp_answer_tx(struct ocpp_answer *a);
pl_auth_cb ocpp_answer_auth(struct ocpp_answer *a);
/* The signed readings among samples, as a charge detail record keeps them (new array of
 * {"timestamp","measurand","context","signed"}): a stop's own samples are written after
 * the stop, so the stop carries them (stop JSON "signed_meter_values"). */
json_t *ocpp_samples_signed(json_t *samples);
/* Everything was asked for: the answer goes out when the last one lands (maybe now). */
void ocpp_answer_arm(struct ocpp_answer *a);

#endif
