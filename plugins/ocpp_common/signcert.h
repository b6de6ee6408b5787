/*
 * signcert.h — SignCertificate for both OCPP versions: the CSR goes to the host's
 * certificate service, the station gets Accepted/Rejected at once, then the signed
 * chain in CertificateSigned; the installed certificate is kept in the model.
 */
#ifndef PL_COMMON_SIGNCERT_H
#define PL_COMMON_SIGNCERT_H

#include <pipelet/pipelet.h>

void signcert_handle(const struct pl_host *host, pl_plugin_handle *self, pl_ocpp_conn *c,
                     pl_station *st, const char *msg_id, json_t *payload);

/* The same for a 1.6 station using Plug & Charge (V2GCertificate): the answer and the
 * CertificateSigned go inside DataTransfer (vendorId org.openchargealliance.iso15118pnc,
 * the 2.0.1 payloads as JSON text), as the OCA application note has it. */
void signcert_handle_pnc16(const struct pl_host *host, pl_plugin_handle *self, pl_ocpp_conn *c,
                           pl_station *st, const char *msg_id, json_t *payload);

#endif
