/*
 * security.h — a simulated station's OCPP security (security.c): profile, certificates,
 * and the switch to a higher profile.
 */
#ifndef PL_SIM_SECURITY_H
#define PL_SIM_SECURITY_H

#include "simulator.h"

/* From the fleet template: security_profile (default 1 with a password, else 0),
 * csms_tls_url (the wss:// URL of profiles 2 and 3), client_ca_cert + client_ca_key (a
 * CA this station's certificate is issued from, at creation).  0, or -1 with err. */
int sim_security_init(struct sim_station *st, json_t *tpl, char *err, size_t errlen);
void sim_security_free(struct sim_station *st);
void sim_security_ca_free(struct sim *s);  /* the CA cache of fleet creation */
/* The certificate and key to present on this connection (profile 3 over wss://), or NULL. */
const char *sim_security_client_cert(struct sim_station *st, const char **key);
/* SignCertificate's payload: a new key (kept until CertificateSigned) and its CSR. */
json_t *sim_security_csr(struct sim_station *st);
/* CertificateSigned: install the chain if it carries our pending key; the answer. */
json_t *sim_security_certificate_signed(struct sim_station *st, json_t *p);
/* 1.6 ChangeConfiguration SecurityProfile: the answer; reconnects when accepted. */
json_t *sim_security_change_profile16(struct sim_station *st, const char *value);
/* 2.0.1 SetNetworkProfile: the answer (the slot is kept). */
json_t *sim_security_set_network_profile(struct sim_station *st, json_t *p);
/* 2.0.1 OCPPCommCtrlr.NetworkConfigurationPriority: the attributeStatus. */
const char *sim_security_set_priority(struct sim_station *st, const char *value);
/* A reboot: the slot of the priority list becomes the connection. */
void sim_security_on_reboot(struct sim_station *st);
json_t *sim_security_json(struct sim_station *st);

#endif
