/*
 * pnc.h — the ISO 15118 Plug & Charge messages a station sends, answered through the
 * host's certificate service (pipelet/certs.h) and authorization (pipelet/tokens.h):
 * Authorize with a contract, Get15118EVCertificate, GetCertificateStatus.  OCPP 2.0.1
 * sends them natively; a 1.6 station sends the same 2.0.1 payloads as JSON text in a
 * DataTransfer (vendorId org.openchargealliance.iso15118pnc, messageId = the 2.0.1
 * action; OCA application note "Using ISO 15118 Plug & Charge with OCPP 1.6"), and gets
 * the 2.0.1 response back as the DataTransfer.conf's data.
 */
#ifndef PL_COMMON_PNC_H
#define PL_COMMON_PNC_H

#include <pipelet/pipelet.h>

#define PNC_VENDOR_ID "org.openchargealliance.iso15118pnc"

/* Answer a station's call: payload (stolen) as it is, or for 1.6 Plug & Charge (pnc16)
 * as the data, JSON text, of an Accepted DataTransfer.conf. */
void pnc_reply(const struct pl_host *host, pl_ocpp_conn *c, const char *msg_id, int pnc16, json_t *payload);

/* Where an answer goes: a native reply, or (pnc16) a DataTransfer.conf around it. */
struct pnc_call {
    const struct pl_host *host;
    pl_plugin_handle *self;
    pl_ocpp_conn *c;       /* lives until its calls are answered */
    pl_station *st;
    char msg_id[40];
    int pnc16;
};

/* The three messages, payload borrowed (already valid for 2.0.1's schema).  Each answers
 * exactly once, now or later. */
void pnc_authorize(const struct pnc_call *call, json_t *payload);
void pnc_get_15118_ev_certificate(const struct pnc_call *call, json_t *payload);
void pnc_get_certificate_status(const struct pnc_call *call, json_t *payload);

/* 2.0.1 IdTokenInfoType of the core's decision (pipelet/station.h pl_auth_cb). */
json_t *pnc_id_token_info(json_t *info);

/* A 1.6 DataTransfer: 1 when it was Plug & Charge (answered here), 0 when not ours. */
int pnc_data_transfer16(const struct pnc_call *call, json_t *payload);

#endif
