/* outcome.c — see outcome.h. */
#include "outcome.h"

#include <stdio.h>
#include <string.h>

int outcome_status_ok(const char *s)
{
    static const char *const ok[] = {"Accepted", "Unlocked", "Scheduled", "RebootRequired",
                                     "AcceptedCanceled", NULL};
    if (!s)
        return 1; /* answers without a status (GetLocalListVersion, UpdateFirmware 1.6, ...) */
    for (int i = 0; ok[i]; i++)
        if (strcmp(s, ok[i]) == 0)
            return 1;
    return 0;
}

void outcome_complete_failure(const struct pl_station_api *st, pl_command *cmd,
                              const struct pl_ocpp_result *r)
{
    char err[600];
    switch (r->kind) {
    case PL_OCPP_ERROR:
        snprintf(err, sizeof err, "station answered CALLERROR %s: %s",
                 r->error_code ? r->error_code : "?",
                 r->error_description ? r->error_description : "");
        st->complete(cmd, PL_CMD_FAILED,
                     json_pack("{s:s?, s:s?, s:O?}", "error_code", r->error_code,
                               "error_description", r->error_description, "details", r->payload),
                     err);
        break;
    case PL_OCPP_TIMEOUT:
        st->complete(cmd, PL_CMD_TIMEOUT, NULL, "station did not answer in time");
        break;
    case PL_OCPP_CLOSED:
        st->complete(cmd, PL_CMD_FAILED, NULL, "connection closed before the answer");
        break;
    default:
        snprintf(err, sizeof err, "invalid response from the station: %s",
                 r->error_description ? r->error_description : "?");
        st->complete(cmd, PL_CMD_FAILED, NULL, err);
        break;
    }
}
