/*
 * hub.c — the calls the gateway makes to Hubject: a JSON POST over mutual TLS (the
 * operator's Hubject-signed client certificate, only the configured CA trusted), the
 * acknowledgement read back, and per operation a record of the last answer and the
 * metrics pipelet_oicp_requests_total{op,result} and pipelet_oicp_request_seconds{op}.
 */
#include "oicp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    const char *fmt; /* %s: the operator id, when the path has one */
} ops[OICP_OP__COUNT] = {
    [OICP_AUTHORIZE_START] = {"AuthorizeStart", "/charging/v21/operators/%s/authorize/start"},
    [OICP_AUTHORIZE_STOP] = {"AuthorizeStop", "/charging/v21/operators/%s/authorize/stop"},
    [OICP_CDR] = {"ChargeDetailRecord", "/cdrmgmt/v22/operators/%s/charge-detail-record"},
    [OICP_PUSH_EVSE_DATA] = {"PushEvseData", "/evsepush/v23/operators/%s/data-records"},
    [OICP_PUSH_EVSE_STATUS] = {"PushEvseStatus", "/evsepush/v21/operators/%s/status-records"},
    [OICP_PUSH_PRICING_PRODUCTS] = {"PushPricingProductData",
                                    "/dynamicpricing/v10/operators/%s/pricing-products"},
    [OICP_PUSH_EVSE_PRICING] = {"PushEVSEPricing", "/dynamicpricing/v10/operators/%s/evse-pricing"},
    [OICP_CHARGING_NOTIFICATION] = {"ChargingNotification", "/notificationmgmt/v11/charging-notifications"},
};

const char *oicp_op_name(enum oicp_op op)
{
    return op < OICP_OP__COUNT ? ops[op].name : "?";
}

/* Hubject's paths carry the operator id as it is written ("DE*ABC"): '*' is allowed in a
 * path segment (RFC 3986 sub-delims), so it is not encoded. */
const char *oicp_op_path(struct oicp *o, enum oicp_op op, char *buf, size_t len)
{
    if (strstr(ops[op].fmt, "%s"))
        snprintf(buf, len, ops[op].fmt, o->operator_id);
    else
        snprintf(buf, len, "%s", ops[op].fmt);
    return buf;
}

json_t *oicp_ack(int result, const char *code, const char *description)
{
    json_t *sc = json_pack("{s:s}", "Code", code);
    if (description && *description)
        json_object_set_new(sc, "Description", json_string(description));
    return json_pack("{s:b, s:o}", "Result", result, "StatusCode", sc);
}

int oicp_ack_result(json_t *resp, const char **code)
{
    json_t *sc = json_object_get(resp, "StatusCode");
    if (code)
        *code = json_string_value(json_object_get(sc, "Code")) ?: "";
    json_t *r = json_object_get(resp, "Result");
    return json_is_boolean(r) ? json_is_true(r) : -1;
}

struct call {
    struct oicp *o;
    enum oicp_op op;
    oicp_hub_cb cb;
    void *arg;
};

static void on_answer(const struct pl_http_response *resp, void *arg)
{
    struct call *c = arg;
    struct oicp *o = c->o;
    const struct pl_host *h = o->host;
    struct oicp_op_state *s = &o->ops[c->op];
    json_t *body = NULL;
    if (resp->status && resp->body_len)
        body = json_loadb(resp->body, resp->body_len, 0, NULL);
    h->now_rfc3339(s->at, sizeof s->at);
    s->http_status = resp->status;
    const char *code = "";
    s->result = body ? oicp_ack_result(body, &code) : -1;
    if (c->op == OICP_AUTHORIZE_START || c->op == OICP_AUTHORIZE_STOP) {
        /* an authorization answers with AuthorizationStatus, not Result */
        const char *st = json_string_value(json_object_get(body, "AuthorizationStatus"));
        code = json_string_value(json_object_get(json_object_get(body, "StatusCode"), "Code")) ?: "";
        s->result = st ? strcmp(st, "Authorized") == 0 : -1;
    }
    snprintf(s->code, sizeof s->code, "%s", code);
    const char *desc = json_string_value(json_object_get(json_object_get(body, "StatusCode"), "Description"));
    snprintf(s->detail, sizeof s->detail, "%s",
             resp->error ? resp->error : desc ? desc : resp->status >= 300 ? "HTTP error" : "");
    int good = resp->status >= 200 && resp->status < 300 && body;
    good ? s->ok++ : s->failed++;
    char m[160];
    snprintf(m, sizeof m, "pipelet_oicp_requests_total{op=\"%s\",result=\"%s\"}", ops[c->op].name,
             resp->status == 0 ? "error" : good ? (s->result == 0 ? "refused" : "ok") : "http_error");
    h->metric_add(m, 1);
    snprintf(m, sizeof m, "pipelet_oicp_request_seconds{op=\"%s\"}", ops[c->op].name);
    h->metric_observe(m, resp->latency_ms / 1000.0);
    if (resp->status == 0)
        h->log(o->self, PL_LOG_WARN, "%s: no answer from Hubject: %s", ops[c->op].name,
               resp->error ? resp->error : "?");
    else if (strcmp(code, "017") == 0)
        /* Hubject refuses a client certificate it did not sign or that does not belong to
         * this operator with 017; nothing will work until the operator fixes it */
        h->log(o->self, PL_LOG_ERROR,
               "%s: Hubject answered 017 Unauthorized Access: check [oicp] client_cert, "
               "client_key and operator_id (%s)", ops[c->op].name, o->operator_id);
    else if (!good)
        h->log(o->self, PL_LOG_WARN, "%s: HTTP %d%s%s", ops[c->op].name, resp->status,
               *code ? ", code " : "", code);
    else if (s->result == 0)
        h->log(o->self, PL_LOG_INFO, "%s: refused, code %s%s%s", ops[c->op].name, code,
               desc ? ": " : "", desc ? desc : "");
    if (c->cb)
        c->cb(o, resp->status, body, resp->error, c->arg);
    json_decref(body);
    free(c);
}

int oicp_hub_call(struct oicp *o, enum oicp_op op, json_t *body, unsigned timeout_ms,
                  oicp_hub_cb cb, void *arg)
{
    const struct pl_host *h = o->host;
    if (!o->enabled) {
        json_decref(body);
        return PL_ESTATE;
    }
    char path[200], url[1200];
    oicp_op_path(o, op, path, sizeof path);
    snprintf(url, sizeof url, "%s%s", o->url, path);
    /* prices and kWh as written (0.3, not 0.29999999999999999) */
    char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(12));
    json_decref(body);
    struct call *c = calloc(1, sizeof *c);
    if (!text || !c) {
        free(text);
        free(c);
        return PL_ENOMEM;
    }
    *c = (struct call){.o = o, .op = op, .cb = cb, .arg = arg};
    static const char *const headers[] = {"Content-Type: application/json",
                                          "Accept: application/json", NULL};
    struct pl_http_fetch_opts fo = {
        .size = sizeof fo, .method = "POST", .url = url, .headers = headers, .body = text,
        .body_len = strlen(text), .timeout_ms = timeout_ms ? timeout_ms : (unsigned)o->timeout_ms,
        .ca_file = o->ca_file, .client_cert = o->client_cert, .client_key = o->client_key};
    h->log(o->self, PL_LOG_DEBUG, "%s -> %s", ops[op].name, text);
    int rc = h->http_fetch_opts(o->self, &fo, on_answer, c);
    free(text);
    if (rc != PL_OK)
        free(c);
    return rc;
}

json_t *oicp_push_outcome(int http_status, json_t *resp, const char *error)
{
    const char *code = "";
    int result = oicp_ack_result(resp, &code);
    json_t *out = json_pack("{s:b, s:i}", "acknowledged", result == 1, "http_status", http_status);
    if (*code)
        json_object_set_new(out, "code", json_string(code));
    if (error)
        json_object_set_new(out, "error", json_string(error));
    const char *desc = json_string_value(json_object_get(json_object_get(resp, "StatusCode"), "Description"));
    if (desc)
        json_object_set_new(out, "description", json_string(desc));
    return out;
}

json_t *oicp_hub_status(struct oicp *o)
{
    json_t *out = json_object();
    for (int i = 0; i < OICP_OP__COUNT; i++) {
        struct oicp_op_state *s = &o->ops[i];
        json_t *e = json_pack("{s:i, s:i}", "ok", (int)s->ok, "failed", (int)s->failed);
        if (*s->at) {
            json_object_set_new(e, "last_at", json_string(s->at));
            json_object_set_new(e, "http_status", json_integer(s->http_status));
            json_object_set_new(e, "result", s->result < 0 ? json_null() : json_boolean(s->result));
            json_object_set_new(e, "code", *s->code ? json_string(s->code) : json_null());
            json_object_set_new(e, "detail", json_string(s->detail));
        }
        json_object_set_new(out, ops[i].name, e);
    }
    return out;
}
