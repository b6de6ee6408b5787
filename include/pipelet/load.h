/*
 * pipelet/load.h — sites, station power limits and the load balancer (ABI 1.2,
 * pl_host.load).
 *
 * A site is a grid connection that owns stations (a station belongs to at most one
 * site).  With a limit it is balanced: the core shares the limit between the sessions
 * charging at its stations, equal shares capped by what a station may take and by what
 * an EV is seen drawing, at least min_current per session (a session that cannot get it
 * is paused rather than starving the others: the lowest customer charging_priority
 * first, then the newest).  A group (a site with a parent) with a limit caps its own
 * sessions inside its site's sharing.  Limits are amperes per
 * phase inside; a site limit in W is divided by voltage x phases.  The balancer lowers
 * before it raises: a raise is sent only once every lowering of the site was answered,
 * and a station that has not answered, refuses its profile or went offline while
 * charging is counted at station_max_current.
 *
 * Profiles the core sends are its own: ids PL_LOAD_PROFILE_ID_BASE + n and stack level
 * [load] stack_level, so a profile an operator set through /ocpp/v1 (another id, another
 * stack level) is never replaced or cleared by them.
 *   station limit, evse 0   1.6 ChargePointMaxProfile, 2.0.1 ChargingStationMaxProfile
 *   station limit, evse N   TxDefaultProfile on evse N
 *   balanced session        TxProfile of its transaction (id base + 1000 + evse)
 *   balanced site station   TxDefaultProfile of 0 A on evse 0 (id base + 999): a session
 *                           starts paused until its share is sent, so starting one never
 *                           pushes the site over its limit
 *
 * Operations (host->load->call; args stolen; cb as pl_domain_cb: PL_OK and the result,
 * PL_EINVAL naming the field, PL_ENOENT, PL_EEXIST, PL_EOFFLINE, PL_ERR database):
 *  site.create {"name", "parent_id"?, "limit"? (number >= 0 or null: not balanced),
 *               "unit"? "A"|"W", "phases"? 1|3, "voltage"?, "margin_percent"?,
 *               "min_current"?, "station_max_current"?, "schedule"?: [{"from":"HH:MM",
 *               "to":"HH:MM", "limit", "days"?: [1..7] (ISO, Monday = 1)}],
 *               "time_zone"? (IANA), "min_interval_s"?, "settle_s"?}
 *  site.get {"id"}  site.update {"id", fields...}  site.delete {"id"}
 *  site.list {"limit"?, "cursor"?} -> {"items", "next_cursor"}
 *  site.add_station {"id", "station_id"} (moves it from another site)
 *  site.remove_station {"id", "station_id"}
 *  site.load {"id"} -> {"site_id", "balanced", "limit": {"value", "unit"}, "limit_a"
 *               (now, schedule and margin applied), "phases", "voltage",
 *               "allocated_a", "committed_a", "measured_a", "measured_w",
 *               "sessions": [{"station_id", "evse", "transaction_id", "protocol",
 *               "site_id" (its site or group), "priority", "state":
 *               "charging"|"suspended_ev"|"paused"|"unresponsive"|"offline",
 *               "allocated_a", "applied_a" (null until answered), "pending_a",
 *               "measured_a", "measured_w", "cap_a", "updated_at"}], "rebalanced_at",
 *               "profiles_sent", "violation"}
 *  station.limit.set {"station_id", "evse"? (0), "limit", "unit" "A"|"W", "until"?}
 *               -> the limit {"station_id", "evse", "limit", "unit", "until", "status":
 *               "pending"|"accepted"|"rejected"|"failed", "command_id", "set_at"}; sent
 *               now when the station is connected, else when it connects
 *  station.limit.clear {"station_id", "evse"? (all)} -> {"cleared": n}
 *  station.limit.get {"station_id", "evse"? (0), "duration"? (s, 3600), "unit"?}
 *               -> {"station_id", "evse", "limits": [...], "composite": the station's
 *               GetCompositeSchedule answer or null, "composite_error"?}
 * A site is answered as {"id", "name", "parent_id", "limit", "unit", "phases",
 * "voltage", "margin_percent", "min_current", "station_max_current", "schedule",
 * "time_zone", "min_interval_s", "settle_s", "stations": [ids], "created_at",
 * "updated_at"}.
 *
 * Events: "load.rebalanced" {"site_id", "limit_a", "sessions": [{"station_id", "evse",
 * "transaction_id", "allocated_a"}]} after a decision that changed an allocation,
 * "load.limit_violation" {"site_id", "limit_a", "measured_a"} once when the measured
 * current of a site goes over its limit (again after it went back under).
 */
#ifndef PIPELET_LOAD_H
#define PIPELET_LOAD_H

#include <pipelet/tokens.h> /* pl_domain_cb */

#ifdef __cplusplus
extern "C" {
#endif

#define PL_LOAD_PROFILE_ID_BASE 930000000

struct pl_load_api {
    uint32_t size; /* sizeof(struct pl_load_api) */
    void (*call)(const char *op, json_t *args, pl_domain_cb cb, void *arg);
};

#ifdef __cplusplus
}
#endif
#endif
