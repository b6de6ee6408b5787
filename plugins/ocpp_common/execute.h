/*
 * execute.h — a neutral command (pipelet/station.h) run as one OCPP CALL, the same way
 * for every OCPP version: the version says only how an operation becomes a CALL and how
 * the station's answer becomes the neutral result (struct ocpp_codec).  Sending, the
 * outcome, and what an accepted command changes in the model (the station's documents:
 * configuration keys, charging profiles, reservations) are done here, once.
 */
#ifndef PL_COMMON_EXECUTE_H
#define PL_COMMON_EXECUTE_H

#include <pipelet/pipelet.h>
#include "session.h"

struct ocpp_codec {
    /* The CALL for op with args: returns the action and sets *payload, or returns NULL
     * with err set and *rc PL_ENOTSUP (this version has no such operation) or PL_EINVAL
     * (the arguments do not make a valid CALL). */
    const char *(*build)(struct ocpp_session *cx, int op, json_t *args, json_t **payload, int *rc,
                         char *err, size_t errlen);
    /* The station's answer raw as the neutral result: an object with at least "raw"
     * (raw itself) and "status" (the station's word, "Accepted" when it has none), plus
     * the operation's neutral fields ("keys"/"unknown" for configuration reads, "version",
     * "schedule", "data", ...). */
    json_t *(*result)(struct ocpp_session *cx, int op, json_t *raw);
};

/* The pl_driver execute of a protocol plugin: cx is the driver's argument.  Returns
 * PL_OK (the command completes later), or PL_ENOTSUP / PL_EINVAL / PL_EBUSY / PL_ENOMEM
 * with the command's error set. */
int ocpp_execute(struct ocpp_session *cx, const struct ocpp_codec *codec, pl_command *cmd);
/* The pl_driver execute every OCPP plugin attaches its stations with (session.c): drv_arg
 * is the connection's struct ocpp_session, the codec its plugin's. */
int ocpp_driver_execute(void *drv_arg, pl_station *station, pl_command *cmd);

#endif
