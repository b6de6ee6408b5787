/* fuzz_pnc_ocsp.c — libFuzzer target for the pnc plugin's OCSP code: the DER answer a
 * responder on the network sends (pnc_ocsp_check), and the OCSPRequestData a station
 * sends (pnc_ocsp_request_der).  The first byte picks which. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/pnc/ocsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char err[200];
    if (data[0] & 1) {
        /* a station's request data, as JSON */
        json_t *req = json_loadb((const char *)data + 1, size - 1, 0, NULL);
        size_t len = 0;
        unsigned char *der = req ? pnc_ocsp_request_der(req, &len, err, sizeof err) : NULL;
        free(der);
        json_decref(req);
        return 0;
    }
    json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:s}", "hashAlgorithm", "SHA256", "issuerNameHash",
                            "a1e64f989551210cf4df77b790748adf8f47dbb50a0293b6878d2933fa6c965f", "issuerKeyHash",
                            "869a88468d83c407cbe30a93585d6b70ec2c0284644eeec60cc0db946e1bc4d3", "serialNumber",
                            "15bf097a0111fb4a", "responderURL", "http://127.0.0.1/");
    struct pnc_ocsp_result r;
    (void)pnc_ocsp_check(data + 1, size - 1, req, NULL, 1800000000LL, &r);
    json_decref(req);
    return 0;
}
