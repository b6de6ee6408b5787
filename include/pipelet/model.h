/*
 * pipelet/model.h — reading the version-neutral station model (ABI 1.2,
 * pl_host.model).  Writes go through pl_station_api (pipelet/station.h); reads go
 * through this table, so the REST gateway, MCP, OICP and a console answer from the
 * same code and none of them writes SQL against the core's tables.
 *
 * Every read is asynchronous and answers through one callback:
 *  - A call returns PL_OK when its callback will run exactly once — perhaps before the
 *    call returns (answers from memory, invalid arguments).  It returns < 0 (PL_EBUSY:
 *    the database queue is full, retry later; PL_ENOMEM; PL_ESTATE: shutting down;
 *    PL_ENOTSUP: no database configured) when the callback will NOT run.
 *  - The callback gets rc and, on PL_OK, data as a NEW reference (the callee releases
 *    it).  Otherwise data is NULL and error (borrowed, for the callback's duration)
 *    says why: PL_ENOENT (no such station / transaction / command), PL_EINVAL (an
 *    argument out of its documented range; error names it), PL_ERR (the database
 *    failed; error is its message).
 *  - Strings passed in are copied as needed: they may be freed when the call returns.
 *  - Times are RFC 3339 UTC with milliseconds ("2026-11-24T19:00:00.000Z").
 *
 * Shapes (the REST answers of /api/v1 are these objects, unchanged):
 *  station view   {"id","protocol","vendor","model","serial","firmware","iccid","imsi",
 *                  "meter_type","meter_serial","boot_status","node","remote_addr",
 *                  "connected_at","disconnected_at","last_seen","created_at",
 *                  "connected_since","connection"? (online only),"online","status",
 *                  "connector_count","evses":[{"evse","connectors":[{"connector",
 *                  "status","error_code","info","updated_at"}]}]}
 *                  An online station's registry snapshot (memory) overrides the table.
 *  transaction    {"id","station_id","station_tx_id","evse","connector","id_token",
 *                  "id_token_type","reservation_id","meter_start","meter_last",
 *                  "meter_stop","started_at","stopped_at","stop_reason","stop_id_token",
 *                  "charging_state","seq_no","cost","updated_at","active","energy_wh"}
 *  meter value    {"timestamp","measurand","value","unit","phase","context","location",
 *                  "evse","connector"}
 *  command        {"id","station","op","status","args","result","error","created_at",
 *                  "completed_at"}
 *  page           {"items":[...], "next": key of the last item | null}: pass "next" back
 *                  as the filter's cursor for the following page.
 */
/* (not PIPELET_MODEL_H: the core's internal core/model.h holds that guard) */
#ifndef PIPELET_MODEL_API_H
#define PIPELET_MODEL_API_H

#include <stdint.h>
#include <jansson.h>
#include <pipelet/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* rc: PL_OK (data new), else PL_ENOENT / PL_EINVAL / PL_ERR with error (borrowed). */
typedef void (*pl_model_cb)(int rc, json_t *data, const char *error, void *arg);

#define PL_MODEL_ANY (-1)          /* a tri-state or number filter that is not set */
#define PL_MODEL_STATIONS_MAX 10000 /* most stations one page may hold */
#define PL_MODEL_PAGE_MAX 10000     /* most transactions, meter values, commands per answer */

/* Filters start with their size (so fields can be added at the end): initialise them
 * with the _INIT macros and set what you need. */
struct pl_station_filter {
    uint32_t size;
    int online;           /* PL_MODEL_ANY, 0 or 1 (the registry decides "online") */
    const char *status;   /* a name of status_names(): the station's overall status, or
                           * (when online) any of its connectors' */
    const char *protocol; /* exact ("ocpp1.6"), at most 64 characters */
    const char *vendor;   /* case-insensitive exact, at most 255 characters */
    const char *search;   /* case-insensitive substring of id, vendor, model or serial,
                           * at most 255 characters */
    const char *cursor;   /* the previous page's "next" (stations are ordered by id); at most
                           * 1024 characters */
    int limit;            /* 1..PL_MODEL_STATIONS_MAX rows read; the online and status
                           * filters apply to those rows, so a page may hold fewer */
};
#define PL_STATION_FILTER_INIT                                                  \
    {.size = sizeof(struct pl_station_filter), .online = PL_MODEL_ANY, .limit = 50}

struct pl_tx_filter {
    uint32_t size;
    const char *station;    /* station id */
    int active;             /* PL_MODEL_ANY, 0 (ended) or 1 (running) */
    int evse;               /* PL_MODEL_ANY or the EVSE (1.6: connector) id */
    const char *id_token;   /* the token that started it */
    const char *customer;   /* customers.id (decimal): transactions of its tokens */
    const char *command_id; /* the transaction a remote start (this command) started */
    const char *from, *to;  /* started_at in [from, to): RFC 3339 */
    const char *cursor;     /* the previous page's "next" (newest first, by id) */
    int limit;              /* 1..PL_MODEL_PAGE_MAX */
};
#define PL_TX_FILTER_INIT                                                       \
    {.size = sizeof(struct pl_tx_filter), .active = PL_MODEL_ANY, .evse = PL_MODEL_ANY, \
     .limit = 50}

/* transaction() flags */
enum {
    PL_MODEL_TX_METER_VALUES = 1, /* add "meter_values": its first 10,000 samples */
};

struct pl_model_api {
    uint32_t size; /* sizeof(struct pl_model_api) of the host */
    /* The connector / station status names a status filter accepts, NULL-terminated,
     * static. */
    const char *const *(*status_names)(void);
    /* A page of station views (see "page"). */
    int (*stations)(pl_plugin_handle *self, const struct pl_station_filter *f,
                    pl_model_cb cb, void *arg);
    /* One station view plus "active_transactions": [{"id","station_tx_id","evse",
     * "connector","id_token","started_at","meter_start","meter_last","energy_wh",
     * "charging_state"}].  PL_ENOENT when neither the table nor the registry knows it. */
    int (*station)(pl_plugin_handle *self, const char *station_id, pl_model_cb cb,
                   void *arg);
    /* A page of transactions, newest first. */
    int (*transactions)(pl_plugin_handle *self, const struct pl_tx_filter *f,
                        pl_model_cb cb, void *arg);
    /* One transaction: by the core's id (id > 0, station_id NULL), or by the station's
     * own id (id 0, station_id and station_tx_id).  flags: PL_MODEL_TX_*. */
    int (*transaction)(pl_plugin_handle *self, long long id, const char *station_id,
                       const char *station_tx_id, unsigned flags, pl_model_cb cb, void *arg);
    /* Samples of a transaction (core id), oldest first, as an array; measurand NULL =
     * all; limit 1..PL_MODEL_PAGE_MAX.  PL_ENOENT when the transaction does not exist. */
    int (*meter_values)(pl_plugin_handle *self, long long tx_id, const char *measurand,
                        int limit, pl_model_cb cb, void *arg);
    /* One command: from memory while the tracker remembers it, else from the commands
     * table (its history). */
    int (*command)(pl_plugin_handle *self, const char *command_id, pl_model_cb cb,
                   void *arg);
    /* Recent commands in memory, newest first, as a page ("next" is always null);
     * station_id NULL = all; limit 1..PL_MODEL_PAGE_MAX.  Answers before returning. */
    int (*commands)(pl_plugin_handle *self, const char *station_id, int limit,
                    pl_model_cb cb, void *arg);
};

#ifdef __cplusplus
}
#endif
#endif
