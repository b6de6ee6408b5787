/* fuzz_ocppj.c — libFuzzer target for the OCPP-J frame parser and the message
 * validator of both versions (what every byte from a charger goes through). */
#include <stdint.h>
#include <string.h>

#include "ocpp_schema.h"
#include "ocppj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ocppj_frame f;
    char err[256];
    int rc = ocppj_parse_frame((const char *)data, size, &f, err, sizeof err);
    if (rc == OCPPJ_OK && f.type == 2) {
        const struct pl_ocpp_protocol *ps[] = {&pl_ocpp16_protocol, &pl_ocpp201_protocol};
        for (int i = 0; i < 2; i++) {
            const struct pl_ocpp_action *a = ocpp_api_action(ps[i], f.action);
            if (a) {
                (void)ocpp_api_validate(a->request, f.payload, err, sizeof err);
                (void)ocpp_api_validate(a->response, f.payload, err, sizeof err);
            }
        }
    }
    json_decref(f.root);
    return 0;
}
