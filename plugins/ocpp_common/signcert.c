/* signcert.c — see signcert.h. */
#include "signcert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct signcert_ctx {
    const struct pl_host *host;
    pl_plugin_handle *self;
    pl_station *st;
    char *chain;
    char type[40];
};

static void on_signed(void *arg, pl_ocpp_conn *c, const struct pl_ocpp_result *r)
{
    struct signcert_ctx *s = arg;
    const char *status = r->kind == PL_OCPP_RESULT ? json_string_value(json_object_get(r->payload, "status")) : NULL;
    /* outgoing calls complete before the connection's close: the station is alive */
    if (status && strcmp(status, "Accepted") == 0)
        s->host->stations->put_doc(s->st, "certificate", s->type[0] ? s->type : "ChargePointCertificate",
                                   json_pack("{s:s, s:s}", "certificate", s->chain, "status", "Installed"));
    else
        s->host->log(s->self, PL_LOG_WARN, "station %s did not accept CertificateSigned",
                     s->host->ocpp->station_id(c));
    free(s->chain);
    free(s);
}

void signcert_handle(const struct pl_host *h, pl_plugin_handle *self, pl_ocpp_conn *c,
                     pl_station *st, const char *msg_id, json_t *p)
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
        h->ocpp->reply(c, msg_id, json_pack("{s:s}", "status", "Rejected"));
        return;
    }
    h->ocpp->reply(c, msg_id, json_pack("{s:s}", "status", "Accepted"));
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
    json_t *payload = json_pack("{s:s}", "certificateChain", chain);
    if (v201 && type)
        json_object_set_new(payload, "certificateType", json_string(type));
    if (h->ocpp->call(c, "CertificateSigned", payload, 0, on_signed, s, err, sizeof err) != PL_OK) {
        h->log(self, PL_LOG_WARN, "station %s: cannot send CertificateSigned: %s", station, err);
        free(s->chain);
        free(s);
    }
}
