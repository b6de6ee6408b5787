/* billing.h — the tariffs domain (pipelet/billing.h) as the host gives it to plugins. */
#ifndef PIPELET_CORE_BILLING_H
#define PIPELET_CORE_BILLING_H

#include <pipelet/billing.h>

const struct pl_billing_api *billing_api(void);

/* The charge detail record of a session about to be stopped at stopped_at (RFC 3339, or
 * NULL for now) with the register meter_stop (Wh as text, or NULL: the last reading):
 * its readings priced with the tariff in force at its start.  cb(arg, 1, cdr) with the
 * record (borrowed; status "priced", "no_tariff" or "missing_meter_values"), cb(arg, 1,
 * NULL) when there is nothing to record (no such session, or it already ended), cb(arg,
 * 0, NULL) when the database could not be read: the stop must then not be
 * acknowledged, or a session would end without its record. */
typedef void (*billing_cdr_cb)(void *arg, int ok, json_t *cdr);
void billing_price_stop(const char *station_id, const char *station_tx_id, const char *stopped_at,
                        const char *meter_stop, billing_cdr_cb cb, void *arg);

/* Readings of the active sessions with these gateway ids (a JSON array of integers,
 * borrowed; NULL: none) were committed: their running cost is priced again, stored in
 * transactions.cost and published as "transaction.cost_updated" when it changed.  One
 * pricing per session at a time; readings arriving meanwhile price it once more after. */
void billing_readings_committed(json_t *ids);
/* After db_shutdown: what was still being priced is dropped. */
void billing_shutdown(void);

#endif
