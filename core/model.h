/*
 * model.h — persistence of the version-neutral station model in PostgreSQL and the
 * events it publishes (the model part of struct pl_station_api).  Writes of one
 * station are applied in call order through a per-station write chain.
 */
#ifndef PIPELET_MODEL_H
#define PIPELET_MODEL_H

#include "core.h"

/* Completion of an ordered write; res is NULL when the query could not be queued. */
typedef void (*model_done_cb)(void *arg, pl_db_result *res);

/* Queue a write for station_id behind every earlier write of that station (params
 * are copied; sql is not: a literal or a static array, prepared once per database
 * connection).  done may be NULL (errors are logged).  Returns PL_OK or PL_ENOMEM. */
int model_write(const char *station_id, const char *sql, int nparams,
                const char *const *params, model_done_cb done, void *arg);
/* Send the pending meter values now (shutdown, tests). */
/* A SEND_LOCAL_LIST the station accepted: record the list it now holds (station_docs
 * kinds "local_list", key = id token, and "local_list_version"), Full replacing and
 * Differential updating or removing entries, in one statement on the station's chain.
 * Whoever sent it (REST, MCP, roaming) gets the same record. */
void model_local_list_sent(const char *station_id, json_t *args /* borrowed */);
void model_flush(void);
/* Writes queued or in flight (tests wait for 0). */
size_t model_pending(void);
/* Samples dropped because the queue was full. */
unsigned long model_dropped_samples(void);
void model_shutdown(void);

void station_api_boot(pl_station *st, json_t *boot);
void station_api_seen(pl_station *st);
void station_api_connector_status(pl_station *st, int evse, int connector, const char *status,
                                  const char *error_code, const char *info, const char *ts);
void station_api_tx_start(pl_station *st, json_t *tx, pl_tx_cb cb, void *arg);
void station_api_tx_update(pl_station *st, const char *station_tx_id, json_t *upd,
                           pl_tx_cb cb, void *arg);
void station_api_tx_stop(pl_station *st, const char *station_tx_id, json_t *stop, pl_tx_cb cb,
                         void *arg);
void station_api_meter_values(pl_station *st, int evse, int connector,
                              const char *station_tx_id, json_t *samples);
void station_api_meter_values_durable(pl_station *st, int evse, int connector,
                                      const char *station_tx_id, json_t *samples,
                                      pl_meter_cb cb, void *arg);
void station_api_authorize(pl_station *st, const char *id_token, pl_auth_cb cb, void *arg);
struct pl_id_token;
void station_api_authorize_token(pl_station *st, const struct pl_id_token *tok, pl_auth_cb cb,
                                 void *arg);
void station_api_record(pl_station *st, const char *kind, json_t *data);
void station_api_put_doc(pl_station *st, const char *kind, const char *key, json_t *value);

#endif
