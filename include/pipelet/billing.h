/*
 * pipelet/billing.h — tariffs and what a session costs (ABI 1.2).
 *
 * A tariff is modelled on the OCPI 2.2.1 tariff: a currency, elements of price
 * components (ENERGY per kWh, TIME per hour charging, PARKING_TIME per hour connected
 * but not charging, FLAT per session; each with a step size and a VAT rate), element
 * restrictions (time of day, days of week, dates, kWh, kW, duration), a minimum and a
 * maximum price, an optional IANA time zone for the restrictions, and a validity
 * period.  Money, VAT, kWh and kW are decimal strings (or integers), never JSON reals.
 * A change of the definition adds a revision; the revision in force when a session
 * started is the one that prices it.
 *
 * A tariff is assigned to a customer, a customer group (pipelet/tokens.h; the group the
 * customer is in now), a station, a site (a group inside a site before the site itself),
 * or is the default; the most specific assignment valid at an instant applies, in that
 * order.  Its optional tariff_alt_text (OCPI DisplayText [{"language", "text"}]) is what
 * the driver is told: a priced session carries the entry in its customer's language
 * (else the first) as "personal_message" {"format": "UTF8", "language", "content"}.
 * An assignment is ended, never deleted, so the tariff in force at a past
 * instant stays known.  Deleting a tariff ends its assignments and keeps its history.
 *
 * Money is integer minor units inside; answers carry amounts as decimal strings in the
 * currency's digits ("12.34").  The one rounding rule: a component's quantity is
 * rounded up to its step size, its cost half-up to the minor unit, VAT half-up per
 * component; totals are sums of the rounded components; min/max price then bound them.
 *
 * Ownership follows pipelet/plugin.h.  Everything runs on the loop thread.
 */
#ifndef PIPELET_BILLING_H
#define PIPELET_BILLING_H

#include <pipelet/tokens.h> /* pl_domain_cb */

#ifdef __cplusplus
extern "C" {
#endif

struct pl_billing_api {
    uint32_t size; /* sizeof(struct pl_billing_api) */
    /* Operations (args stolen; cb gets PL_OK and the result, or PL_EINVAL naming the
     * field, PL_ENOENT, PL_EEXIST, PL_ERR for the database):
     *  tariff.create {"name", "currency", "elements", "time_zone"?, "min_price"?,
     *                 "max_price"?, "tariff_alt_text"?, "valid_from"?, "valid_to"?}
     *  tariff.get {"id"}  tariff.update {"id", fields...}  tariff.delete {"id"}
     *  tariff.list {"include_deleted"?, "limit"?, "cursor"?} -> {"items", "next_cursor"}
     *  tariff.assign {"tariff_id", one of "station_id" | "site_id" | "customer_id" |
     *                 "customer_group_id" | "default": true} -> the assignment; ends the
     *                 one it replaces
     *  tariff.unassign {"id"} -> the ended assignment
     *  tariff.assignments {"tariff_id"?, "station_id"?, "site_id"?, "customer_id"?,
     *                      "customer_group_id"?,
     *                      "active"?, "limit"?, "cursor"?} -> {"items", "next_cursor"}
     *  tariff.resolve {"station_id", "customer_id"?, "at"?} -> {"tariff", "assignment",
     *                 "level": "customer"|"customer_group"|"station"|"site"|"default", "at"}
     *  transaction.cost {"id"} or {"station_id", "station_tx_id"} -> the priced session: {"transaction_id", "status":
     *                 "priced"|"no_tariff"|"missing_meter_values", "tariff_id",
     *                 "tariff_revision", "level", "currency", "energy_wh",
     *                 "charging_seconds", "parking_seconds", "components", "periods",
     *                 "total": {"excl_vat", "incl_vat"}, "bound", "personal_message"?}
     *  tariff.quote {"id", "start", "stop", "energy_wh" (drawn evenly until
     *                 "charging_until"?, parked after) | "readings": [{"at", "energy_wh"?,
     *                 "power_w"?}]} -> the hypothetical session priced by the current revision
     *  customer.statement {"customer_id", "from"?, "to"?} -> {"customer_id", "name",
     *                 "totals": [{"currency", "sessions", "energy_wh", "excl_vat",
     *                 "incl_vat"}], "unpriced_sessions", "sessions": [...]}
     *  cdr.get {"id"}  cdr.list {"station_id"?, "customer_id"?, "id_token"?, "transaction_id"?,
     *                 "from"?, "to"? (stop time, RFC 3339), "limit"?, "cursor"?}
     * A charge detail record is written in the same database transaction as the stop of
     * its session and never changes: {"id", "transaction_id", "station_id",
     * "station_tx_id", "evse", "connector", "id_token", "customer_id", "started_at",
     * "stopped_at", "energy_wh", "charging_seconds", "parking_seconds", "tariff_id",
     * "tariff_revision", "tariff" (the tariff as it was), "currency", "components",
     * "periods", "total": {"excl_vat", "incl_vat"}, "status", "created_at"}; "cdr.created"
     * is published once it is committed.
     * A tariff is answered as {"id", "name", "currency", "time_zone"?, "elements",
     * "min_price"?, "max_price"?, "valid_from", "valid_to", "revision", "created_at",
     * "updated_at", "deleted_at"}; an assignment as {"id", "tariff_id", "station_id",
     * "site_id", "customer_id", "customer_group_id", "default", "assigned_at", "ended_at",
     * "active"}. */
    void (*call)(const char *op, json_t *args, pl_domain_cb cb, void *arg);
};

#ifdef __cplusplus
}
#endif
#endif
