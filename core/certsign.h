/*
 * certsign.h — signs stations' certificate signing requests (SignCertificate, both OCPP
 * versions) with the CA configured for the plugin, or an ephemeral CA generated at start
 * when none is configured (logged: stations will not chain to anything they trust).
 */
#ifndef PL_COMMON_CERTSIGN_H
#define PL_COMMON_CERTSIGN_H

#include <stddef.h>

struct certsign;

/* ca_cert/ca_key: PEM files, or NULL for an ephemeral CA.  NULL with err on failure. */
struct certsign *certsign_new(const char *ca_cert, const char *ca_key, int days, char *err,
                              size_t errlen);
void certsign_free(struct certsign *cs);
/* Sign a PEM CSR; returns the PEM certificate followed by the CA certificate (malloc'd),
 * or NULL with err. */
char *certsign_sign(struct certsign *cs, const char *csr_pem, const char *expected_cn, char *err,
                    size_t errlen);
int certsign_is_ephemeral(struct certsign *cs);

#endif
