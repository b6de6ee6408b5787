/*
 * command.c — the command tracker.  A command is created for a connected station,
 * handed to its protocol driver, and ends exactly once: by the driver's answer, by
 * its timeout, or by the station going away.  The outcome is written to the
 * commands table (ordered behind the station's other writes), published as
 * command.completed and handed to the caller's callback.  The last 10,000 commands
 * are remembered in memory for command_json/command_list (memory only: older
 * ones are read from the commands table by the REST layer).
 */
#include "command.h"
#include "bus.h"
#include "model.h"
#include "registry.h"
#include "util.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMMAND_HISTORY 10000
#define COMMAND_ERROR_MAX 512

struct pl_command {
    char id[37];
    char *station_id;
    int op;
    json_t *args;
    int status;
    json_t *result;
    char *error;
    char created_at[40], completed_at[40];
    pl_command_cb cb;
    void *arg;
    pl_plugin_handle *owner;
    struct event *timer;  /* timeout while pending; zero-delay notify after */
    int in_execute;       /* completed inside driver->execute: notify later */
    int notify_pending;
    pl_station *st;       /* while pending */
    struct pl_command *st_prev, *st_next;
    struct pl_command *h_prev, *h_next; /* history, newest first */
};

static struct hashmap *commands; /* id -> command (the history) */
static struct pl_command *h_head, *h_tail;
static size_t h_count;

static const char *const op_names[PL_OP__COUNT] = {
    [PL_OP_RAW_CALL] = "raw_call",
    [PL_OP_RESET] = "reset",
    [PL_OP_UNLOCK] = "unlock",
    [PL_OP_CHANGE_AVAILABILITY] = "change_availability",
    [PL_OP_REMOTE_START] = "remote_start",
    [PL_OP_REMOTE_STOP] = "remote_stop",
    [PL_OP_GET_CONFIGURATION] = "get_configuration",
    [PL_OP_SET_CONFIGURATION] = "set_configuration",
    [PL_OP_TRIGGER] = "trigger",
    [PL_OP_UPDATE_FIRMWARE] = "update_firmware",
    [PL_OP_GET_DIAGNOSTICS] = "get_diagnostics",
    [PL_OP_SEND_LOCAL_LIST] = "send_local_list",
    [PL_OP_GET_LOCAL_LIST_VERSION] = "get_local_list_version",
    [PL_OP_CLEAR_CACHE] = "clear_cache",
    [PL_OP_RESERVE] = "reserve",
    [PL_OP_CANCEL_RESERVATION] = "cancel_reservation",
    [PL_OP_SET_CHARGING_PROFILE] = "set_charging_profile",
    [PL_OP_CLEAR_CHARGING_PROFILE] = "clear_charging_profile",
    [PL_OP_GET_COMPOSITE_SCHEDULE] = "get_composite_schedule",
    [PL_OP_DATA_TRANSFER] = "data_transfer",
    [PL_OP_DISCONNECT] = "disconnect",
};

/* The outcome names the REST layer shows (GET /api/v1/commands/{id}). */
static const char *status_name(int status)
{
    switch (status) {
    case PL_CMD_PENDING: return "pending";
    case PL_CMD_ACCEPTED: return "Accepted";
    case PL_CMD_REJECTED: return "Rejected";
    case PL_CMD_FAILED: return "Failed";
    case PL_CMD_TIMEOUT: return "Timeout";
    default: return "unknown";
    }
}

const char *station_api_op_name(int op)
{
    return op > 0 && op < PL_OP__COUNT ? op_names[op] : NULL;
}

int station_api_op_from_name(const char *n)
{
    for (int op = 1; n && op < PL_OP__COUNT; op++)
        if (strcmp(op_names[op], n) == 0)
            return op;
    return -1;
}

/* ---- lists ---- */
static void st_link(struct pl_command *c, pl_station *st)
{
    c->st = st;
    c->st_prev = NULL;
    c->st_next = st->pending;
    if (st->pending)
        st->pending->st_prev = c;
    st->pending = c;
}

static void st_unlink(struct pl_command *c)
{
    if (!c->st)
        return;
    if (c->st_prev)
        c->st_prev->st_next = c->st_next;
    else
        c->st->pending = c->st_next;
    if (c->st_next)
        c->st_next->st_prev = c->st_prev;
    c->st = NULL;
    c->st_prev = c->st_next = NULL;
}

static void h_unlink(struct pl_command *c)
{
    if (c->h_prev)
        c->h_prev->h_next = c->h_next;
    else
        h_head = c->h_next;
    if (c->h_next)
        c->h_next->h_prev = c->h_prev;
    else
        h_tail = c->h_prev;
    c->h_prev = c->h_next = NULL;
    h_count--;
}

static void command_free(struct pl_command *c)
{
    st_unlink(c);
    if (c->timer)
        event_free(c->timer);
    json_decref(c->args);
    json_decref(c->result);
    free(c->error);
    free(c->station_id);
    free(c);
}

/* Forget the oldest finished commands beyond the bound (pending ones stay: their
 * timeout bounds them). */
static void h_trim(void)
{
    struct pl_command *c = h_tail;
    while (h_count > COMMAND_HISTORY && c) {
        struct pl_command *prev = c->h_prev;
        if (c->status != PL_CMD_PENDING && !c->notify_pending) {
            h_unlink(c);
            hashmap_del(commands, c->id);
            command_free(c);
        }
        c = prev;
    }
}

static int h_add(struct pl_command *c)
{
    if (!commands && !(commands = hashmap_new()))
        return PL_ENOMEM;
    if (hashmap_put(commands, c->id, c) != PL_OK)
        return PL_ENOMEM;
    c->h_next = h_head;
    if (h_head)
        h_head->h_prev = c;
    h_head = c;
    if (!h_tail)
        h_tail = c;
    h_count++;
    h_trim();
    return PL_OK;
}

/* ---- JSON ---- */
/* A copy of args or result with credential values replaced: what is shown, stored in
 * the commands table and published.  The driver has read the real values from c->args,
 * and the caller's callback still gets them (it asked for the command). */
static json_t *redacted(json_t *j)
{
    json_t *copy = j ? json_deep_copy(j) : NULL;
    util_redact_secrets(copy);
    return copy;
}

static json_t *command_to_json(struct pl_command *c)
{
    json_t *args = redacted(c->args);
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o?, s:s?, s:s, s:s?}", "id", c->id, "station",
                     c->station_id, "op", station_api_op_name(c->op), "status",
                     status_name(c->status), "args", args ? args : json_object(), "result",
                     redacted(c->result), "error", c->error, "created_at", c->created_at,
                     "completed_at", c->completed_at[0] ? c->completed_at : NULL);
}

json_t *station_api_command_json(const char *command_id)
{
    struct pl_command *c = hashmap_get(commands, command_id);
    return c ? command_to_json(c) : NULL;
}

json_t *station_api_command_list(const char *station_id, int limit)
{
    json_t *arr = json_array();
    for (struct pl_command *c = h_head; c; c = c->h_next) {
        if (limit > 0 && json_array_size(arr) >= (size_t)limit)
            break;
        if (station_id && strcmp(station_id, c->station_id) != 0)
            continue;
        json_array_append_new(arr, command_to_json(c));
    }
    return arr;
}

/* ---- completion ---- */
static const char SQL_COMMAND[] =
    "INSERT INTO commands(id, station_id, op, status, args, result, error, created_at, "
    "completed_at) VALUES ($1::uuid, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8::timestamptz, "
    "$9::timestamptz) ON CONFLICT (id) DO NOTHING";

static void notify(struct pl_command *c)
{
    c->notify_pending = 0;
    json_t *shown_args = redacted(c->args), *shown_result = redacted(c->result);
    char *args = json_dumps(shown_args, JSON_COMPACT | JSON_ENCODE_ANY);
    char *result = shown_result ? json_dumps(shown_result, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(shown_args);
    json_decref(shown_result);
    const char *p[9] = {c->id,    c->station_id, station_api_op_name(c->op),
                        status_name(c->status), args, result, c->error, c->created_at,
                        c->completed_at};
    model_write(c->station_id, SQL_COMMAND, 9, p, NULL, NULL);
    free(args);
    free(result);
    core_log(PL_LOG_INFO, "station", "command id=%s station=%s op=%s status=%s%s%s", c->id,
             c->station_id, station_api_op_name(c->op), status_name(c->status),
             c->error ? " error=" : "", c->error ? c->error : "");
    bus_emit("command.completed", c->station_id, command_to_json(c));
    if (c->cb)
        c->cb(c, c->arg);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct pl_command *c = arg;
    if (c->status == PL_CMD_PENDING)
        station_api_complete(c, PL_CMD_TIMEOUT, NULL, "station did not answer in time");
    else if (c->notify_pending)
        notify(c);
}

void station_api_complete(pl_command *c, int status, json_t *result, const char *error)
{
    if (!c) {
        json_decref(result);
        return;
    }
    if (c->status != PL_CMD_PENDING) {
        core_log(PL_LOG_DEBUG, "station",
                 "command id=%s already completed (%s): later outcome %d ignored", c->id,
                 status_name(c->status), status);
        json_decref(result);
        return;
    }
    if (status <= PL_CMD_PENDING || status > PL_CMD_TIMEOUT)
        status = PL_CMD_FAILED;
    c->status = status;
    c->result = result;
    if (error) {
        free(c->error);
        c->error = strndup(error, COMMAND_ERROR_MAX);
    } else if (status == PL_CMD_ACCEPTED) {
        free(c->error); /* a reason set while refusing is moot once accepted */
        c->error = NULL;
    }
    core_now_rfc3339(c->completed_at, sizeof c->completed_at);
    /* state a command changes on the station is recorded here, whoever sent it */
    if (status == PL_CMD_ACCEPTED && c->op == PL_OP_SEND_LOCAL_LIST)
        model_local_list_sent(c->station_id, c->args);
    st_unlink(c);
    if (c->timer)
        event_del(c->timer);
    if (c->in_execute) {
        c->notify_pending = 1; /* the caller has not even got the pointer yet */
        return;
    }
    notify(c);
}

void command_fail_pending(pl_station *st, const char *error)
{
    while (st && st->pending)
        station_api_complete(st->pending, PL_CMD_FAILED, NULL, error);
}

/* ---- creation ---- */
static int refuse(int rc, char *err, size_t errlen, const char *fmt, const char *arg)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, arg);
    return rc;
}

pl_command *station_api_command(pl_plugin_handle *self, const char *station_id, int op,
                                json_t *args, unsigned timeout_ms, pl_command_cb cb, void *arg,
                                int *rc, char *err, size_t errlen)
{
    int dummy;
    if (!rc)
        rc = &dummy;
    if (err && errlen)
        err[0] = '\0';
    if (!station_id || !*station_id) {
        json_decref(args);
        *rc = refuse(PL_ENOENT, err, errlen, "%s", "no station id");
        return NULL;
    }
    if (op <= 0 || op >= PL_OP__COUNT) {
        json_decref(args);
        *rc = refuse(PL_EINVAL, err, errlen, "%s", "unknown operation");
        return NULL;
    }
    /* The registry knows only connected stations: the REST layer tells unknown
     * from offline with its own database lookup. */
    pl_station *st = station_api_find(station_id);
    if (!st) {
        json_decref(args);
        *rc = refuse(PL_EOFFLINE, err, errlen, "station %s is not connected", station_id);
        return NULL;
    }
    if (!st->drv->execute) {
        json_decref(args);
        *rc = refuse(PL_ENOTSUP, err, errlen, "%s", "the station's driver executes nothing");
        return NULL;
    }
    struct pl_command *c = calloc(1, sizeof *c);
    if (!c || !(c->station_id = strdup(station_id)) ||
        !(c->timer = event_new(core_base, -1, 0, timer_cb, c))) {
        if (c)
            command_free(c);
        json_decref(args);
        *rc = refuse(PL_ENOMEM, err, errlen, "%s", "out of memory");
        return NULL;
    }
    core_uuid(c->id);
    c->op = op;
    c->args = args ? args : json_object();
    c->status = PL_CMD_PENDING;
    c->cb = cb;
    c->arg = arg;
    c->owner = self;
    core_now_rfc3339(c->created_at, sizeof c->created_at);
    st_link(c, st);

    c->in_execute = 1;
    int r = st->drv->execute(st->drv_arg, st, c);
    c->in_execute = 0;
    if (r != PL_OK) {
        const char *why = c->error ? c->error
                          : r == PL_ENOTSUP ? "operation not supported by this station"
                          : r == PL_EINVAL  ? "invalid arguments"
                                            : "the driver could not send the command";
        *rc = refuse(r, err, errlen, "%s", why);
        command_free(c);
        return NULL;
    }
    if (h_add(c) != PL_OK)
        core_log(PL_LOG_WARN, "station", "command id=%s not remembered (out of memory)", c->id);
    struct timeval tv = {0, 0};
    if (c->status == PL_CMD_PENDING) {
        long def = 30000;
        if (!timeout_ms &&
            core_config_int("core", "command_timeout", 30000, 1, 86400000, &def) != PL_OK)
            def = 30000;
        unsigned ms = timeout_ms ? timeout_ms : (unsigned)def;
        tv.tv_sec = ms / 1000;
        tv.tv_usec = (ms % 1000) * 1000;
    }
    event_add(c->timer, &tv); /* the timeout, or the deferred notification */
    *rc = PL_OK;
    return c;
}

/* ---- accessors ---- */
const char *station_api_command_id(pl_command *cmd)
{
    return cmd ? cmd->id : NULL;
}

int station_api_command_op(pl_command *cmd)
{
    return cmd ? cmd->op : 0;
}

json_t *station_api_command_args(pl_command *cmd)
{
    return cmd ? cmd->args : NULL;
}

int station_api_command_status(pl_command *cmd)
{
    return cmd ? cmd->status : PL_CMD_FAILED;
}

json_t *station_api_command_result(pl_command *cmd)
{
    return cmd ? cmd->result : NULL;
}

const char *station_api_command_error(pl_command *cmd)
{
    return cmd ? cmd->error : NULL;
}

void station_api_command_set_error(pl_command *cmd, const char *fmt, ...)
{
    if (!cmd || !fmt)
        return;
    char buf[COMMAND_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(cmd->error);
    cmd->error = strdup(buf);
}

size_t command_count(void)
{
    return h_count;
}

void command_shutdown(void)
{
    while (h_head) {
        struct pl_command *c = h_head;
        h_unlink(c);
        command_free(c);
    }
    hashmap_free(commands);
    commands = NULL;
}
