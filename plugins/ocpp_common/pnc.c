/* pnc.c — see pnc.h. */
#include "pnc.h"
#include "signcert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- answers ---- */

/* A copy that outlives the handler (the answer may come later). */
static struct pnc_call *call_copy(const struct pnc_call *call)
{
    struct pnc_call *k = malloc(sizeof *k);
    if (k)
        *k = *call;
    return k;
}

void pnc_reply(const struct pl_host *host, pl_ocpp_conn *c, const char *msg_id, int pnc16, json_t *payload)
{
    if (pnc16) {
        char *text = json_dumps(payload, JSON_COMPACT);
        json_decref(payload);
        payload = json_pack("{s:s, s:s}", "status", "Accepted", "data", text ? text : "{}");
        free(text);
    }
    host->ocpp->reply(c, msg_id, payload);
}

static void answer(const struct pnc_call *call, json_t *payload)
{
    pnc_reply(call->host, call->c, call->msg_id, call->pnc16, payload);
}

json_t *pnc_id_token_info(json_t *info)
{
    const char *status = json_string_value(json_object_get(info, "status"));
    json_t *out = json_pack("{s:s}", "status", status ? status : "Invalid");
    const char *expiry = json_string_value(json_object_get(info, "expiry"));
    const char *group = json_string_value(json_object_get(info, "group"));
    if (!group)
        group = json_string_value(json_object_get(info, "parent"));
    if (expiry)
        json_object_set_new(out, "cacheExpiryDateTime", json_string(expiry));
    if (group)
        json_object_set_new(out, "groupIdToken", json_pack("{s:s, s:s}", "idToken", group, "type", "Central"));
    return out;
}

/* ---- Authorize ---- */

static void on_authorized(void *arg, json_t *info)
{
    struct pnc_call *k = arg;
    if (!info) { /* no decision (database down, token not known from before): fail closed */
        k->host->ocpp->reply_error(k->c, k->msg_id, "InternalError", "authorization unavailable", NULL);
    } else {
        json_t *out = json_pack("{s:o}", "idTokenInfo", pnc_id_token_info(info));
        const char *cs = json_string_value(json_object_get(info, "certificate_status"));
        if (cs)
            json_object_set_new(out, "certificateStatus", json_string(cs));
        answer(k, out);
    }
    free(k);
}

void pnc_authorize(const struct pnc_call *call, json_t *p)
{
    json_t *tok = json_object_get(p, "idToken");
    struct pnc_call *k = call_copy(call);
    if (!k) {
        call->host->ocpp->reply_error(call->c, call->msg_id, "InternalError", "out of memory", NULL);
        return;
    }
    const char *value = json_string_value(json_object_get(tok, "idToken"));
    struct pl_id_token t = {sizeof t, value ? value : "", json_string_value(json_object_get(tok, "type")),
                            NULL, 0, json_object_get(p, "iso15118CertificateHashData"),
                            json_string_value(json_object_get(p, "certificate"))};
    call->host->stations->authorize_token(call->st, &t, on_authorized, k);
}

/* ---- the certificate service's answers ---- */

static void on_ev_certificate(void *arg, int ok, const char *result, const char *reason)
{
    struct pnc_call *k = arg;
    json_t *out = json_pack("{s:s, s:s}", "status", ok ? "Accepted" : "Failed", "exiResponse",
                            ok && result ? result : "");
    if (!ok)
        json_object_set_new(out, "statusInfo", json_pack("{s:s}", "reasonCode", reason ? reason : "Failed"));
    answer(k, out);
    free(k);
}

void pnc_get_15118_ev_certificate(const struct pnc_call *call, json_t *p)
{
    const struct pl_host *h = call->host;
    h->stations->record(call->st, "ev_certificate_request", json_deep_copy(p));
    struct pnc_call *k = call_copy(call);
    if (!k) {
        h->ocpp->reply_error(call->c, call->msg_id, "InternalError", "out of memory", NULL);
        return;
    }
    h->certs->ev_certificate_async(h->ocpp->station_id(call->c),
                                   json_string_value(json_object_get(p, "iso15118SchemaVersion")),
                                   json_string_value(json_object_get(p, "action")),
                                   json_string_value(json_object_get(p, "exiRequest")), on_ev_certificate, k);
}

static void on_certificate_status(void *arg, int ok, const char *result, const char *reason)
{
    struct pnc_call *k = arg;
    json_t *out = json_pack("{s:s}", "status", ok ? "Accepted" : "Failed");
    if (ok && result)
        json_object_set_new(out, "ocspResult", json_string(result));
    else if (!ok)
        json_object_set_new(out, "statusInfo", json_pack("{s:s}", "reasonCode", reason ? reason : "Failed"));
    answer(k, out);
    free(k);
}

void pnc_get_certificate_status(const struct pnc_call *call, json_t *p)
{
    const struct pl_host *h = call->host;
    struct pnc_call *k = call_copy(call);
    if (!k) {
        h->ocpp->reply_error(call->c, call->msg_id, "InternalError", "out of memory", NULL);
        return;
    }
    h->certs->ocsp_status_async(h->ocpp->station_id(call->c), json_object_get(p, "ocspRequestData"),
                                on_certificate_status, k);
}

/* ---- 1.6: DataTransfer ---- */

int pnc_data_transfer16(const struct pnc_call *call, json_t *p)
{
    const struct pl_host *h = call->host;
    const char *vendor = json_string_value(json_object_get(p, "vendorId"));
    if (!vendor || strcmp(vendor, PNC_VENDOR_ID) != 0)
        return 0;
    const char *message = json_string_value(json_object_get(p, "messageId"));
    static const char *const known[] = {"Authorize", "Get15118EVCertificate", "GetCertificateStatus",
                                        "SignCertificate"};
    size_t i = 0;
    while (message && i < sizeof known / sizeof known[0] && strcmp(known[i], message) != 0)
        i++;
    if (!message || i == sizeof known / sizeof known[0]) {
        h->ocpp->reply(call->c, call->msg_id, json_pack("{s:s}", "status", "UnknownMessageId"));
        return 1;
    }
    /* the payload is the 2.0.1 message, checked against 2.0.1's schema */
    const char *data = json_string_value(json_object_get(p, "data"));
    json_t *inner = data ? json_loads(data, 0, NULL) : NULL;
    const struct pl_ocpp_protocol *v201 = h->ocpp->protocol("ocpp2.0.1");
    const struct pl_ocpp_action *a = v201 ? h->ocpp->action(v201, message) : NULL;
    char err[256] = "not JSON";
    if (!inner || (a && a->request && h->ocpp->validate(a->request, inner, err, sizeof err) != 0)) {
        h->log(call->self, PL_LOG_WARN, "station %s: Plug & Charge %s refused: %s", h->ocpp->station_id(call->c),
               message, err);
        h->ocpp->reply(call->c, call->msg_id, json_pack("{s:s}", "status", "Rejected"));
        json_decref(inner);
        return 1;
    }
    struct pnc_call wrapped = *call;
    wrapped.pnc16 = 1;
    if (i == 0)
        pnc_authorize(&wrapped, inner);
    else if (i == 1)
        pnc_get_15118_ev_certificate(&wrapped, inner);
    else if (i == 2)
        pnc_get_certificate_status(&wrapped, inner);
    else
        signcert_handle_pnc16(h, call->self, call->c, call->st, call->msg_id, inner);
    json_decref(inner);
    return 1;
}
