/*
 * ocpp_schema.h — the OCPP message definitions of both versions (generated) and the
 * validator behind pl_ocpp_api.validate / protocol / action / error_code.
 */
#ifndef PIPELET_OCPP_SCHEMA_H
#define PIPELET_OCPP_SCHEMA_H

#include <pipelet/ocpp.h>

extern const struct pl_ocpp_protocol pl_ocpp16_protocol;
extern const struct pl_ocpp_protocol pl_ocpp201_protocol;

const struct pl_ocpp_protocol *ocpp_api_protocol(const char *subprotocol);
const struct pl_ocpp_action *ocpp_api_action(const struct pl_ocpp_protocol *p, const char *name);
int ocpp_api_validate(const struct pl_schema *s, json_t *value, char *err, size_t errlen);
const char *ocpp_api_error_code(const struct pl_ocpp_protocol *p, int violation);
/* 1 for OCPP 2.x message sets (their RPC framework error names differ). */
int ocpp_is_v2(const struct pl_ocpp_protocol *p);

#endif
