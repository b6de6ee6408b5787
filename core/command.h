/*
 * command.h — the command tracker: every command sent to a station gets an id, a
 * timeout and exactly one outcome, persisted and published as command.completed
 * (the command part of struct pl_station_api).
 */
#ifndef PIPELET_COMMAND_H
#define PIPELET_COMMAND_H

#include "core.h"

/* Complete every pending command of st with PL_CMD_FAILED and error (detach). */
void command_fail_pending(pl_station *st, const char *error);
/* Commands remembered in memory (tests). */
size_t command_count(void);
void command_shutdown(void);

pl_command *station_api_command(pl_plugin_handle *self, const char *station_id, int op,
                                json_t *args, unsigned timeout_ms, pl_command_cb cb, void *arg,
                                int *rc, char *err, size_t errlen);
const char *station_api_command_id(pl_command *cmd);
int station_api_command_op(pl_command *cmd);
json_t *station_api_command_args(pl_command *cmd);
int station_api_command_status(pl_command *cmd);
json_t *station_api_command_result(pl_command *cmd);
const char *station_api_command_error(pl_command *cmd);
void station_api_command_set_error(pl_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void station_api_complete(pl_command *cmd, int status, json_t *result, const char *error);
json_t *station_api_command_json(const char *command_id);
json_t *station_api_command_list(const char *station_id, int limit);
const char *station_api_op_name(int op);
int station_api_op_from_name(const char *n);

#endif
