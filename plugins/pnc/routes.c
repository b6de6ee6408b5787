/*
 * routes.c — the plugin's routes on the OCPP server API.
 *
 *   GET  /ocpp/v1/pnc/status                          trust anchors, the CPO chain, the OCSP
 *                                                     cache, the contract provider's health
 *   GET  /ocpp/v1/stations/{id}/installed-certificates       GetInstalledCertificateIds
 *   POST /ocpp/v1/stations/{id}/installed-certificates       InstallCertificate
 *   POST /ocpp/v1/stations/{id}/installed-certificates/delete   DeleteCertificate
 *   POST /ocpp/v1/stations/{id}/v2g-certificate/renew    TriggerMessage SignV2GCertificate
 *
 * A 2.0.1 station gets the messages natively; a 1.6 station inside DataTransfer
 * (vendorId org.openchargealliance.iso15118pnc, the 2.0.1 payload as JSON text), as the
 * OCA application note has it — except for CSMS and manufacturer roots, which the 1.6
 * security whitepaper's own InstallCertificate / GetInstalledCertificateIds /
 * DeleteCertificate carry (CentralSystemRootCertificate, ManufacturerRootCertificate).  What the station answered is kept in the model
 * (station_docs "pnc", key = the action).
 */
#include "pnc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMMAND_TIMEOUT_MS 30000

struct call {
    struct pnc *p;
    pl_request *req;
    char station[64];
    char action[40];
};

static void on_answer(pl_command *cmd, void *arg)
{
    struct call *c = arg;
    const struct pl_host *h = c->p->host;
    int status = h->stations->command_status(cmd);
    json_t *result = h->stations->command_result(cmd);
    json_t *raw = json_object_get(result, "raw");
    json_t *answer = NULL;
    if (raw && json_is_string(json_object_get(raw, "data"))) /* 1.6: the 2.0.1 answer as JSON text */
        answer = json_loads(json_string_value(json_object_get(raw, "data")), 0, NULL);
    else if (raw && !json_object_get(raw, "vendorId"))
        answer = json_incref(raw);
    if (status == PL_CMD_ACCEPTED || status == PL_CMD_REJECTED) {
        const char *said = json_string_value(json_object_get(answer, "status"));
        if (!said)
            said = json_string_value(json_object_get(raw, "status"));
        json_t *out = json_pack("{s:s, s:s, s:s, s:O?}", "station_id", c->station, "action", c->action, "status",
                                said ? said : "Unknown", "response", answer);
        pl_station *st = h->stations->find(c->station);
        if (st)
            h->stations->put_doc(st, "pnc", c->action, json_deep_copy(out));
        h->bus_publish(c->p->self, "pnc.station.answered", c->station, json_incref(out));
        h->reply_json(c->req, 200, out);
    } else if (status == PL_CMD_TIMEOUT) {
        h->reply_error(c->req, 504, "STATION_TIMEOUT", "station %s did not answer %s in time", c->station, c->action);
    } else {
        const char *e = h->stations->command_error(cmd);
        h->reply_error(c->req, 502, "STATION_ERROR", "station %s: %s", c->station, e ? e : "the call failed");
    }
    json_decref(answer);
    free(c);
}

json_t *pnc_station_args(struct pnc *p, pl_station *st, const char *action, json_t *payload, int native16,
                         int *op)
{
    if (strcmp(p->host->stations->protocol(st), "ocpp1.6") != 0 || native16) {
        *op = PL_OP_RAW_CALL;
        return json_pack("{s:s, s:o}", "action", action, "payload", payload);
    }
    char *text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    json_t *args = json_pack("{s:s, s:s, s:s}", "vendor_id", PNC_VENDOR_ID, "message_id", action, "data",
                             text ? text : "{}");
    free(text);
    *op = PL_OP_DATA_TRANSFER;
    return args;
}

/* Send the 2.0.1 action (payload stolen) to a station of either version (pnc_station_args)
 * and answer the request with what the station said. */
static void station_call(struct pnc *p, pl_request *req, const char *action, json_t *payload, int native16)
{
    const struct pl_host *h = p->host;
    const char *station = h->req_param(req, "id");
    pl_station *st = h->stations->find(station);
    if (!st || !h->stations->online(station)) {
        json_decref(payload);
        h->reply_error(req, 409, "STATION_OFFLINE", "station %s is not connected", station);
        return;
    }
    int op;
    json_t *args = pnc_station_args(p, st, action, payload, native16, &op);
    struct call *c = calloc(1, sizeof *c);
    if (!c) {
        json_decref(args);
        h->reply_error(req, 500, "INTERNAL", "out of memory");
        return;
    }
    *c = (struct call){.p = p, .req = req};
    snprintf(c->station, sizeof c->station, "%s", station);
    snprintf(c->action, sizeof c->action, "%s", action);
    int rc = 0;
    char err[200] = "";
    if (!h->stations->command(p->self, station, op, args, COMMAND_TIMEOUT_MS, on_answer, c, &rc, err, sizeof err)) {
        free(c);
        if (rc == PL_EOFFLINE || rc == PL_ENOENT)
            h->reply_error(req, 409, "STATION_OFFLINE", "station %s is not connected", station);
        else
            h->reply_error(req, 400, "INVALID_PARAMETER", "%s", *err ? err : "the call could not be made");
    }
}

/* The 1.6 security whitepaper's name of a 2.0.1 root type it knows, else NULL. */
static const char *type16(const char *type201)
{
    if (type201 && strcmp(type201, "CSMSRootCertificate") == 0)
        return "CentralSystemRootCertificate";
    if (type201 && strcmp(type201, "ManufacturerRootCertificate") == 0)
        return "ManufacturerRootCertificate";
    return NULL;
}

static int is16(struct pnc *p, pl_request *req)
{
    pl_station *st = p->host->stations->find(p->host->req_param(req, "id"));
    return st && strcmp(p->host->stations->protocol(st), "ocpp1.6") == 0;
}

static void on_list(pl_request *req, void *arg)
{
    struct pnc *p = arg;
    const char *types = p->host->req_query(req, "type");
    json_t *payload = json_object();
    if (types && *types) {
        json_t *list = json_array();
        char *copy = strdup(types), *save = NULL;
        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
            json_array_append_new(list, json_string(t));
        free(copy);
        json_object_set_new(payload, "certificateType", list);
    }
    /* a 1.6 station asked for one CSMS or manufacturer root type: its own message */
    json_t *wanted = json_object_get(payload, "certificateType");
    const char *t16 = json_array_size(wanted) == 1 ? type16(json_string_value(json_array_get(wanted, 0))) : NULL;
    if (t16 && is16(p, req)) {
        json_decref(payload);
        station_call(p, req, "GetInstalledCertificateIds", json_pack("{s:s}", "certificateType", t16), 1);
        return;
    }
    station_call(p, req, "GetInstalledCertificateIds", payload, 0);
}

static void on_install(pl_request *req, void *arg)
{
    struct pnc *p = arg;
    json_t *body = p->host->req_json(req);
    const char *t16 = type16(json_string_value(json_object_get(body, "certificate_type")));
    int native = t16 && is16(p, req);
    station_call(p, req, "InstallCertificate",
                 json_pack("{s:s?, s:O}", "certificateType",
                           native ? t16 : json_string_value(json_object_get(body, "certificate_type")), "certificate",
                           json_object_get(body, "certificate")),
                 native);
}

static void on_delete(pl_request *req, void *arg)
{
    struct pnc *p = arg;
    json_t *body = p->host->req_json(req);
    /* which channel a 1.6 station keeps the certificate in: the type, when given, says */
    int native = type16(json_string_value(json_object_get(body, "certificate_type"))) && is16(p, req);
    station_call(p, req, "DeleteCertificate",
                 json_pack("{s:O}", "certificateHashData", json_object_get(body, "certificate_hash_data")), native);
}

static void on_renew(pl_request *req, void *arg)
{
    struct pnc *p = arg;
    station_call(p, req, "TriggerMessage", json_pack("{s:s}", "requestedMessage", "SignV2GCertificate"), 0);
}

static void on_status(pl_request *req, void *arg)
{
    struct pnc *p = arg;
    json_t *out = pnc_status_json(p);
    json_object_set_new(out, "contract_provider",
                        json_pack("{s:s?, s:b, s:s?, s:s?}", "url", p->provider_url, "healthy", p->provider_ok,
                                  "last_answer", *p->provider_last ? p->provider_last : NULL, "last_at",
                                  *p->provider_last_at ? p->provider_last_at : NULL));
    p->host->reply_json(req, 200, out);
}

int pnc_routes_register(struct pnc *p)
{
    static const struct {
        const char *method, *pattern;
        int scope;
        pl_route_cb cb;
    } routes[] = {
        {"GET", "/ocpp/v1/pnc/status", PL_AUTH_READ, on_status},
        {"GET", "/ocpp/v1/stations/{id}/installed-certificates", PL_AUTH_OPERATOR, on_list},
        {"POST", "/ocpp/v1/stations/{id}/installed-certificates", PL_AUTH_OPERATOR, on_install},
        {"POST", "/ocpp/v1/stations/{id}/installed-certificates/delete", PL_AUTH_OPERATOR, on_delete},
        {"POST", "/ocpp/v1/stations/{id}/v2g-certificate/renew", PL_AUTH_OPERATOR, on_renew},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = p->host->http_route(p->self, routes[i].method, routes[i].pattern, routes[i].scope, routes[i].cb, p);
        if (rc != PL_OK) {
            p->host->log(p->self, PL_LOG_ERROR, "route %s %s: %d", routes[i].method, routes[i].pattern, rc);
            return rc;
        }
    }
    return PL_OK;
}
