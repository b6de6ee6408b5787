/*
 * load.h — sites and the load balancer (pipelet/load.h): load.c keeps every balanced
 * site in memory and decides; load_ops.c changes sites and station limits in the
 * database and tells load.c.
 */
#ifndef PIPELET_CORE_LOAD_H
#define PIPELET_CORE_LOAD_H

#include <jansson.h>
#include <pipelet/load.h>

const struct pl_load_api *load_api(void);
void load_start(void);    /* [load] settings, bus subscriptions, sites from the database */
void load_shutdown(void);

/* ---- load.c, for load_ops.c ---- */
/* A site row (every column of sites) was created or changed: settings apply now. */
void load_site_changed(json_t *row);
void load_site_deleted(long long id);
/* A station joined site_id (0: left its site). */
void load_station_moved(const char *station_id, long long site_id);
/* Would making parent the parent of site id close a loop (or nest deeper than 16)? */
int load_site_cycle(long long id, long long parent);
/* The live picture of a site (new), or NULL when it is not known. */
json_t *load_site_live(long long id);
/* A station limit to send now (when connected): the profile is built here; done(arg,
 * status, command_id, error) runs once with "accepted", "rejected", "failed" or
 * "offline" (not connected: sent when it connects).  unit "A" or "W". */
typedef void (*load_limit_cb)(void *arg, const char *status, const char *command_id,
                              const char *error);
void load_limit_send(const char *station_id, int evse, double limit, const char *unit,
                     const char *until, load_limit_cb done, void *arg);
/* Clear the gateway's station limit profile of evse (when connected). */
void load_limit_clear(const char *station_id, int evse);
long load_stack_level(void);

#endif
