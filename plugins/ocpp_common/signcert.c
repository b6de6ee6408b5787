/* signcert.c — see signcert.h. */
#include "signcert.h"
#include "pnc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct signcert_ctx {
    const struct pl_host *host;
    pl_plugin_handle *self;
    pl_station *st;
    char *chain;
    char type[40];
    int pnc16; /* 1.6 Plug & Charge: through DataTransfer */
};

static void on_signed(void *arg, pl_ocpp_conn *c, const struct pl_ocpp_result *r)
{
    struct signcert_ctx *s = arg;
    json_t *answer = r->kind == PL_OCPP_RESULT ? r->payload : NULL;
    json_t *inner = NULL;
    if (s->pnc16 && answer) {
        /* DataTransfer.conf: the CertificateSignedResponse is its data, as JSON text */
        const char *data = json_string_value(json_object_get(answer, "data"));
        answer = inner = data ? json_loads(data, 0, NULL) : NULL;
    }
    const char *status = json_string_value(json_object_get(answer, "status"));
    /* outgoing calls complete before the connection's close: the station is alive */
    if (status && strcmp(status, "Accepted") == 0)
        s->host->stations->put_doc(s->st, "certificate", s->type[0] ? s->type : "ChargePointCertificate",
                                   json_pack("{s:s, s:s}", "certificate", s->chain, "status", "Installed"));
    else
        s->host->log(s->self, PL_LOG_WARN, "station %s did not accept CertificateSigned",
                     s->host->ocpp->station_id(c));
    json_decref(inner);
    free(s->chain);
    free(s);
}

static void handle(const struct pl_host *h, pl_plugin_handle *self, pl_ocpp_conn *c, pl_station *st,
                   const char *msg_id, json_t *p, int pnc16)
{
    const char *station = h->ocpp->station_id(c);
    const char *type = json_string_value(json_object_get(p, "certificateType"));
    int v201 = strcmp(h->ocpp->subprotocol(c), "ocpp1.6") != 0;
    char err[256] = "";
    char *chain = h->certs ? h->certs->sign_csr(station, json_string_value(json_object_get(p, "csr")),
                                                type, err, sizeof err)
                           : NULL;
    h->stations->record(st, "certificate_request",
                        json_pack("{s:s, s:s?, s:s?}", "result", chain ? "signed" : "refused",
                                  "certificate_type", type, "error", chain ? NULL : err));
    if (!chain || strlen(chain) > 10000) { /* certificateChain maxLength in both versions */
        h->log(self, PL_LOG_WARN, "station %s: SignCertificate refused: %s", station,
               chain ? "chain too long" : err);
        free(chain);
        pnc_reply(h, c, msg_id, pnc16, json_pack("{s:s}", "status", "Rejected"));
        return;
    }
    pnc_reply(h, c, msg_id, pnc16, json_pack("{s:s}", "status", "Accepted"));
    struct signcert_ctx *s = calloc(1, sizeof *s);
    if (!s) {
        free(chain);
        return;
    }
    s->host = h;
    s->self = self;
    s->st = st;
    s->chain = chain;
    snprintf(s->type, sizeof s->type, "%s", type ? type : "");
    s->pnc16 = pnc16;
    json_t *payload = json_pack("{s:s}", "certificateChain", chain);
    if ((v201 || pnc16) && type)
        json_object_set_new(payload, "certificateType", json_string(type));
    const char *action = "CertificateSigned";
    if (pnc16) {
        char *text = json_dumps(payload, JSON_COMPACT);
        json_decref(payload);
        payload = json_pack("{s:s, s:s, s:s}", "vendorId", PNC_VENDOR_ID, "messageId", "CertificateSigned", "data",
                            text ? text : "{}");
        free(text);
        action = "DataTransfer";
    }
    if (h->ocpp->call(c, action, payload, 0, on_signed, s, err, sizeof err) != PL_OK) {
        h->log(self, PL_LOG_WARN, "station %s: cannot send CertificateSigned: %s", station, err);
        free(s->chain);
        free(s);
    }
}

void signcert_handle(const struct pl_host *h, pl_plugin_handle *self, pl_ocpp_conn *c, pl_station *st,
                     const char *msg_id, json_t *p)
{
    handle(h, self, c, st, msg_id, p, 0);
}

void signcert_handle_pnc16(const struct pl_host *h, pl_plugin_handle *self, pl_ocpp_conn *c, pl_station *st,
                           const char *msg_id, json_t *p)
{
    handle(h, self, c, st, msg_id, p, 1);
}
