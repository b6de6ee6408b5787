/*
 * contract.c — contract certificates for Get15118EVCertificate (ISO 15118-2
 * CertificateInstallation / CertificateUpdate).
 *
 * The EV's EXI request passes through untouched, base64 as the station sent it, to the
 * contract certificate provider ([pnc] provider_url, over HTTPS with the operator's
 * client certificate: the shape of a Plug & Charge PKI's contract-data service), which
 * answers with the EXI response the station gives the EV:
 *   POST provider_url  {"stationId", "iso15118SchemaVersion", "action": "Install"|"Update",
 *                       "exiRequest": base64}
 *   200 {"status": "Accepted", "exiResponse": base64} | {"status": "Failed", "reasonCode"?}
 * Without a provider the station is told Failed (NoContractProvider), as before the
 * plugin: making a contract certificate needs the EV's EXI decoded and the contract's
 * key encrypted for the EV, which is the mobility operator's PKI's work.
 */
#include "pnc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fetch {
    struct pnc *p;
    pl_cert_cb cb;
    void *arg;
    char station[64];
};

static void record(struct pnc *p, int ok, const char *what)
{
    p->provider_ok = ok;
    snprintf(p->provider_last, sizeof p->provider_last, "%s", what);
    p->host->now_rfc3339(p->provider_last_at, sizeof p->provider_last_at);
}

static void on_provider(const struct pl_http_response *resp, void *arg)
{
    struct fetch *f = arg;
    struct pnc *p = f->p;
    json_t *body = resp->status == 200 ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    const char *status = json_string_value(json_object_get(body, "status"));
    const char *exi = json_string_value(json_object_get(body, "exiResponse"));
    if (status && strcmp(status, "Accepted") == 0 && exi && *exi) {
        record(p, 1, "Accepted");
        p->host->metric_add("pipelet_pnc_contract_requests_total{result=\"accepted\"}", 1);
        p->host->bus_publish(p->self, "pnc.contract.provided", f->station, json_pack("{s:s}", "station_id", f->station));
        f->cb(f->arg, 1, exi, NULL);
    } else {
        char what[160];
        const char *reason = json_string_value(json_object_get(body, "reasonCode"));
        if (resp->status == 0)
            snprintf(what, sizeof what, "%s", resp->error ? resp->error : "no answer");
        else if (resp->status != 200)
            snprintf(what, sizeof what, "HTTP %d", resp->status);
        else
            snprintf(what, sizeof what, "%s", status ? status : "not the provider's answer");
        record(p, resp->status == 200, what);
        p->host->metric_add(resp->status == 0 ? "pipelet_pnc_contract_requests_total{result=\"error\"}"
                                              : "pipelet_pnc_contract_requests_total{result=\"failed\"}", 1);
        p->host->log(p->self, PL_LOG_WARN, "contract certificate for %s: %s (HTTP %d)", f->station, what,
                     resp->status);
        /* statusInfo reasonCode: at most 20 characters */
        char code[21];
        snprintf(code, sizeof code, "%s", reason ? reason : resp->status == 0 ? "ProviderUnreachable" : "ProviderFailed");
        f->cb(f->arg, 0, NULL, code);
    }
    json_decref(body);
    free(f);
}

void pnc_ev_certificate_async(void *arg, const char *station_id, const char *schema_version,
                              const char *action, const char *exi_request, pl_cert_cb cb, void *cb_arg)
{
    struct pnc *p = arg;
    if (!p->provider_url) {
        cb(cb_arg, 0, NULL, "NoContractProvider");
        return;
    }
    struct fetch *f = calloc(1, sizeof *f);
    json_t *req = json_pack("{s:s, s:s?, s:s?, s:s?}", "stationId", station_id, "iso15118SchemaVersion", schema_version,
                            "action", action, "exiRequest", exi_request);
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!f || !text) {
        free(f);
        free(text);
        cb(cb_arg, 0, NULL, "OutOfMemory");
        return;
    }
    *f = (struct fetch){.p = p, .cb = cb, .arg = cb_arg};
    snprintf(f->station, sizeof f->station, "%s", station_id ? station_id : "");
    static const char *const headers[] = {"Content-Type: application/json", "Accept: application/json", NULL};
    struct pl_http_fetch_opts o = {.size = sizeof o, .method = "POST", .url = p->provider_url, .headers = headers,
                                   .body = text, .body_len = strlen(text),
                                   .timeout_ms = (unsigned)p->provider_timeout_ms, .ca_file = p->provider_ca,
                                   .client_cert = p->provider_cert, .client_key = p->provider_key};
    int rc = p->host->http_fetch_opts(p->self, &o, on_provider, f);
    free(text);
    if (rc != PL_OK) {
        free(f);
        record(p, 0, "the request could not be made");
        cb(cb_arg, 0, NULL, "ProviderUnreachable");
    }
}
