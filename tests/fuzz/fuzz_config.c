/* fuzz_config.c — libFuzzer target for the INI configuration parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char err[512];
    if (config_load_string("fuzz.conf", text, err, sizeof err) == 0) {
        long n;
        int b;
        config_validate_core(err, sizeof err);
        core_config_int("http", "port", 0, 0, 65535, &n);
        core_config_bool("http", "public_health", 0, &b);
    }
    config_free();
    free(text);
    return 0;
}
