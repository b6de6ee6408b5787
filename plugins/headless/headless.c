/*
 * headless.c — the headless plugin: its lifecycle and the route table of the REST
 * gateway (/api/v1) and the OCPP server API (/ocpp/v1).  The table is the single list
 * of what this plugin serves; openapi.json (its part of the API description, given to the
 * host) must describe exactly these routes.
 */
#include "headless.h"

#include <stdlib.h>
#include <string.h>

#define R PL_AUTH_READ
#define O PL_AUTH_OPERATOR
#define A PL_AUTH_ADMIN

static const struct hl_route routes[] = {
    /* stations */
    {"GET", "/api/v1/stations", R, hl_stations_list, 0},
    {"GET", "/api/v1/stations/compact", R, hl_stations_compact, 0},
    {"GET", "/api/v1/stations/{id}", R, hl_station_get, 0},
    {"GET", "/api/v1/stations/{id}/liveness", R, hl_station_liveness, 0},
    {"POST", "/api/v1/stations/{id}/reset", O, hl_station_reset, 0},
    {"POST", "/api/v1/stations/{id}/disconnect", O, hl_station_disconnect, 0},
    {"POST", "/api/v1/stations/{id}/availability", O, hl_station_availability, 0},
    {"POST", "/api/v1/stations/{id}/security-profile", A, hl_station_security_profile, 0},
    {"POST", "/api/v1/stations/{id}/connectors/{c}/unlock", O, hl_connector_unlock, 0},
    {"POST", "/api/v1/stations/{id}/connectors/{c}/stop", O, hl_connector_stop, 0},
    /* transactions */
    {"GET", "/api/v1/transactions", R, hl_tx_list, 0},
    {"POST", "/api/v1/transactions", O, hl_tx_start, 0},
    {"GET", "/api/v1/transactions/{id}", R, hl_tx_get, 0},
    {"POST", "/api/v1/transactions/{id}/stop", O, hl_tx_stop, 0},
    {"GET", "/api/v1/transactions/{id}/cost", R, hl_tx_cost, 0},
    /* configuration and authorization */
    {"GET", "/api/v1/stations/{id}/configuration", R, hl_config_get, 0},
    {"PUT", "/api/v1/stations/{id}/configuration/{key}", O, hl_config_put, 0},
    {"GET", "/api/v1/stations/{id}/local-list", R, hl_local_list_get, 0},
    {"PUT", "/api/v1/stations/{id}/local-list", O, hl_local_list_put, 0},
    {"POST", "/api/v1/stations/{id}/clear-cache", O, hl_clear_cache, 0},
    {"POST", "/api/v1/stations/{id}/local-list/sync", O, hl_local_list_sync, 0},
    /* customers and ID tokens (the core's domain, pipelet/tokens.h) */
    {"POST", "/api/v1/customers", O, hl_customer_create, 0},
    {"GET", "/api/v1/customers", R, hl_customer_list, 0},
    {"GET", "/api/v1/customers/{id}", R, hl_customer_get, 0},
    {"PATCH", "/api/v1/customers/{id}", O, hl_customer_update, 0},
    {"DELETE", "/api/v1/customers/{id}", O, hl_customer_delete, 0},
    {"GET", "/api/v1/customers/{id}/tokens", R, hl_customer_tokens, 0},
    {"GET", "/api/v1/customers/{id}/transactions", R, hl_customer_transactions, 0},
    {"POST", "/api/v1/customer-groups", O, hl_customer_group_create, 0},
    {"GET", "/api/v1/customer-groups", R, hl_customer_group_list, 0},
    {"GET", "/api/v1/customer-groups/{id}", R, hl_customer_group_get, 0},
    {"PATCH", "/api/v1/customer-groups/{id}", O, hl_customer_group_update, 0},
    {"DELETE", "/api/v1/customer-groups/{id}", O, hl_customer_group_delete, 0},
    {"POST", "/api/v1/tokens", O, hl_token_create, 0},
    {"GET", "/api/v1/tokens", R, hl_token_list, 0},
    {"POST", "/api/v1/tokens/import", O, hl_tokens_import, 0},
    {"GET", "/api/v1/tokens/{id}", R, hl_token_get, 0},
    {"PATCH", "/api/v1/tokens/{id}", O, hl_token_update, 0},
    {"DELETE", "/api/v1/tokens/{id}", O, hl_token_delete, 0},
    {"POST", "/api/v1/tokens/{id}/block", O, hl_token_block, 0},
    {"POST", "/api/v1/tokens/{id}/unblock", O, hl_token_unblock, 0},
    /* tariffs (the core's billing domain, pipelet/billing.h) */
    {"POST", "/api/v1/tariffs", O, hl_tariff_create, 0},
    {"GET", "/api/v1/tariffs", R, hl_tariff_list, 0},
    {"GET", "/api/v1/tariffs/{id}", R, hl_tariff_get, 0},
    {"PATCH", "/api/v1/tariffs/{id}", O, hl_tariff_update, 0},
    {"DELETE", "/api/v1/tariffs/{id}", O, hl_tariff_delete, 0},
    {"POST", "/api/v1/tariffs/{id}/assignments", O, hl_tariff_assign, 0},
    {"GET", "/api/v1/tariffs/{id}/assignments", R, hl_tariff_assignments, 0},
    {"DELETE", "/api/v1/tariff-assignments/{id}", O, hl_tariff_unassign, 0},
    {"GET", "/api/v1/stations/{id}/tariff", R, hl_station_tariff, 0},
    {"GET", "/api/v1/cdrs", R, hl_cdr_list, 0},
    {"GET", "/api/v1/cdrs/export", R, hl_cdr_export, 0},
    {"GET", "/api/v1/cdrs/{id}", R, hl_cdr_get, 0},
    {"POST", "/api/v1/tariffs/{id}/quote", R, hl_tariff_quote, 0},
    {"GET", "/api/v1/customers/{id}/statement", R, hl_customer_statement, 0},
    /* sites and load management (the core's load domain, pipelet/load.h) */
    {"POST", "/api/v1/sites", O, hl_site_create, 0},
    {"GET", "/api/v1/sites", R, hl_site_list, 0},
    {"GET", "/api/v1/sites/{id}", R, hl_site_get, 0},
    {"PATCH", "/api/v1/sites/{id}", O, hl_site_update, 0},
    {"DELETE", "/api/v1/sites/{id}", O, hl_site_delete, 0},
    {"PUT", "/api/v1/sites/{id}/stations/{station_id}", O, hl_site_station_add, 0},
    {"DELETE", "/api/v1/sites/{id}/stations/{station_id}", O, hl_site_station_remove, 0},
    {"GET", "/api/v1/sites/{id}/load", R, hl_site_load, 0},
    {"GET", "/api/v1/sites/{id}/load/stream", R, hl_site_load_stream, 0},
    {"PUT", "/api/v1/stations/{id}/limit", O, hl_station_limit_set, 0},
    {"DELETE", "/api/v1/stations/{id}/limit", O, hl_station_limit_clear, 0},
    {"GET", "/api/v1/stations/{id}/limit", R, hl_station_limit_get, 0},
    /* triggers, data transfer, firmware */
    {"POST", "/api/v1/stations/{id}/trigger", O, hl_station_trigger, 0},
    {"POST", "/api/v1/stations/{id}/data-transfer", O, hl_station_data_transfer, 0},
    {"POST", "/api/v1/stations/{id}/firmware", O, hl_station_firmware, 0},
    {"POST", "/api/v1/stations/{id}/diagnostics", O, hl_station_diagnostics, 0},
    /* reservations and smart charging */
    {"POST", "/api/v1/stations/{id}/reservations", O, hl_reservation_create, 0},
    {"DELETE", "/api/v1/stations/{id}/reservations/{rid}", O, hl_reservation_cancel, 0},
    {"PUT", "/api/v1/stations/{id}/charging-profiles", O, hl_profile_set, 0},
    {"DELETE", "/api/v1/stations/{id}/charging-profiles", O, hl_profile_clear, 0},
    {"GET", "/api/v1/stations/{id}/composite-schedule", R, hl_composite_schedule, 0},
    /* commands */
    {"GET", "/api/v1/commands", R, hl_command_list, 0},
    {"GET", "/api/v1/commands/{id}", R, hl_command_get, 0},
    /* system */
    {"GET", "/api/v1/system", R, hl_system, 0},
    {"GET", "/api/v1/events", R, hl_events_stream, 0},
    {"GET", "/api/v1/health", PL_AUTH_CONFIG, hl_health, 1},
    {"GET", "/api/v1/metrics", PL_AUTH_CONFIG, hl_metrics, 1},
    /* OCPP server API */
    {"GET", "/ocpp/v1/stations", R, hl_ocpp_stations, 0},
    {"POST", "/ocpp/v1/stations/{id}/calls/{action}", O, hl_ocpp_call, 0},
    {"GET", "/ocpp/v1/stations/{id}/messages", R, hl_ocpp_messages, 0},
    {"GET", "/ocpp/v1/stations/{id}/configuration/dump", R, hl_ocpp_config_dump, 0},
    {"POST", "/ocpp/v1/stations/{id}/configuration/restore", O, hl_ocpp_config_restore, 0},
};

#undef R
#undef O
#undef A

const struct hl_route *hl_routes(size_t *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}

static int headless_init(pl_plugin_handle *self, const struct pl_host *host, void **state)
{
    /* [headless] has no keys: declaring none makes any key there an error (a mock host
     * without config_declare has nothing to check) */
    int declared = host->config_declare ? host->config_declare(self, NULL, 0) : PL_OK;
    if (declared != PL_OK)
        return declared;
    if (!PL_HOST_HAS(host, stations) || !host->stations) {
        host->log(self, PL_LOG_ERROR, "the host has no station registry; cannot serve /api/v1");
        return PL_ENOTSUP;
    }
    struct headless *hl = calloc(1, sizeof *hl);
    if (!hl)
        return PL_ENOMEM;
    hl->self = self;
    hl->host = host;
    hl->st = host->stations;
    /* customers and tokens arrived with ABI 1.2; without them those routes answer 501 */
    hl->tokens = PL_HOST_HAS(host, tokens) ? host->tokens : NULL;
    hl->billing = PL_HOST_HAS(host, billing) ? host->billing : NULL;
    hl->load = PL_HOST_HAS(host, load) ? host->load : NULL;
    size_t n;
    const struct hl_route *r = hl_routes(&n);
    for (size_t i = 0; i < n; i++) {
        int rc = host->http_route(self, r[i].method, r[i].pattern, r[i].scope, r[i].cb, hl);
        if (rc == PL_EEXIST && r[i].optional) {
            host->log(self, PL_LOG_DEBUG, "%s %s is served by another component", r[i].method,
                      r[i].pattern);
            continue;
        }
        if (rc < 0) {
            host->log(self, PL_LOG_ERROR, "cannot register %s %s (error %d)", r[i].method,
                      r[i].pattern, rc);
            free(hl);
            return rc;
        }
    }
    hl_describe(hl);
    *state = hl;
    return PL_OK;
}

static void headless_fini(void *state)
{
    hl_starts_free(state); /* remote starts still waiting for their transaction */
    hl_exports_free(state);
    free(state);
}

PL_PLUGIN_DEFINE(.name = "headless", .version = "1.0.0",
                 .description = "REST gateway /api/v1 and OCPP server API /ocpp/v1",
                 .init = headless_init, .fini = headless_fini);
