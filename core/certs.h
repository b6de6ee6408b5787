/* certs.h — the core's certificate service (struct pl_cert_api). */
#ifndef PIPELET_CERTS_CORE_H
#define PIPELET_CERTS_CORE_H

#include "core.h"
#include <pipelet/certs.h>

/* Reads [certificates] ca_cert, ca_key, days; an ephemeral CA when none is set. */
int certs_init(void);
/* Checks the certificates stations connect with, at [certificates] expiry_check_interval:
 * certificate.expiring within expiry_warning_days, pipelet_station_certificates_* gauges. */
void certs_start(void);
void certs_shutdown(void);
const struct pl_cert_api *certs_api(void);
/* Whether a provider checks ISO 15118 contracts, and the check (pipelet/certs.h
 * contract_status); tokens.c runs it before the authorization chain. */
int certs_checks_contracts(void);
void certs_contract_status(const char *station_id, const char *emaid, json_t *hash_data,
                           const char *certificate, pl_contract_cb cb, void *arg);
/* Drop the provider if owner registered it; returns 1 if it did, else 0. */
int certs_remove_owner(pl_plugin_handle *owner);

#endif
