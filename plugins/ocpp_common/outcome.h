/*
 * outcome.h — how an OCPP call's result becomes a command outcome, the same for every
 * OCPP version: station statuses that mean "done", CALLERRORs, timeouts, closed
 * connections and invalid answers.
 */
#ifndef PL_COMMON_OUTCOME_H
#define PL_COMMON_OUTCOME_H

#include <pipelet/pipelet.h>

/* 1 when a station's status means the operation was done or will be. */
int outcome_status_ok(const char *status);
/* Complete cmd from a non-RESULT outcome (CALLERROR, timeout, closed, invalid). */
void outcome_complete_failure(const struct pl_station_api *st, pl_command *cmd,
                              const struct pl_ocpp_result *r);

#endif
