/*
 * creds.h — station credentials for the OCPP plugins (security profile 1): which
 * stations are known and their password hashes, cached in memory because the
 * handshake decision must not wait for the database.  Compiled into each OCPP plugin
 * (plugins share no symbols at run time).
 */
#ifndef PL_COMMON_CREDS_H
#define PL_COMMON_CREDS_H

#include <pipelet/pipelet.h>

enum creds_policy { CREDS_ACCEPT, CREDS_PENDING, CREDS_REJECT };

struct creds;

struct creds *creds_new(const struct pl_host *host, pl_plugin_handle *self);
void creds_free(struct creds *c);
/* Reload known stations and hashes from the stations table (async). */
void creds_refresh(struct creds *c);
/* Parse "accept|pending|reject"; NULL (unset) is reject; -1 if invalid. */
int creds_policy_from(const char *s);
/* The unknown_stations key of the plugin's section: reject when unset (the quick-start
 * etc/pipelet.conf says accept explicitly).  Any other value than accept, pending or
 * reject is logged naming the key and value and returns -1: init must then fail. */
int creds_policy_config(const struct pl_host *host, pl_plugin_handle *self);
/* The station id rule of the core (util_station_id_valid, documented in
 * pipelet/station.h), repeated here because plugins link no core symbol: 1 to 48
 * characters, each a letter, a digit or one of * - _ = : + | @ .  1 = valid. */
int creds_station_id_valid(const char *id, size_t len);
/* The handshake decision by the station's security profile: 0 to accept, or an HTTP
 * status with *why (404 unknown under the reject policy, 401 wrong password, 403 below
 * its profile: no TLS, no or a bad, foreign or retired client certificate; 503 while
 * the stations table was never read: the database was down since start).  Counted in
 * pipelet_ocpp_handshake_refused_total{reason}.  *known tells whether the station was
 * known before. */
int creds_check(struct creds *c, const struct pl_ocpp_handshake *hs, int policy, int *known,
                const char **why);
/* 1 if the station is known (in the stations table or remembered). */
int creds_known(struct creds *c, const char *id);
/* 1 if the station had a password (security profile 1). */
int creds_has_password(struct creds *c, const char *id);
/* The profile a station must connect with (stations.security_profile, else 1 with a
 * password, 0 without), -1 when unknown. */
int creds_profile(struct creds *c, const char *id);
/* Remember a station as known (after it connected and was registered). */
void creds_remember(struct creds *c, const char *id);
/* Routes PUT/DELETE /ocpp/v1/stations/{id}/password (admin), registered once by
 * whichever plugin calls this first (the second gets PL_EEXIST, which is fine). */
int creds_register_routes(struct creds *c);
int creds_password_ok(const char *password, const char *stored);
int creds_password_hash(const char *password, char *out, size_t outlen);

#endif
