/* fuzz_ws_frame.c — libFuzzer target for the RFC 6455 frame header parser (both the
 * server's and the client's rules), unmasking and re-encoding. */
#include <stdint.h>
#include <string.h>

#include "ws_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int server = 0; server < 2; server++) {
        struct ws_frame_header h;
        int n = ws_frame_parse_header(data, size, server, 1u << 20, &h);
        if (n > 0) {
            uint8_t out[14], buf[256];
            size_t pl = size - (size_t)n;
            if (pl > sizeof buf)
                pl = sizeof buf;
            if (pl > h.payload_len)
                pl = (size_t)h.payload_len;
            memcpy(buf, data + n, pl);
            if (h.masked)
                ws_frame_unmask(buf, pl, h.mask, 0);
            size_t hl = ws_frame_encode_header(out, h.fin, h.opcode, h.payload_len, h.masked ? h.mask : NULL);
            struct ws_frame_header h2;
            /* what we encode parses back to the same header */
            if (ws_frame_parse_header(out, hl, h.masked, UINT64_MAX >> 1, &h2) != (int)hl ||
                h2.payload_len != h.payload_len || h2.opcode != h.opcode)
                __builtin_trap();
        }
    }
    if (size >= 2)
        (void)ws_close_code_valid((data[0] << 8) | data[1]);
    return 0;
}
