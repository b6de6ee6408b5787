/*
 * ws_frame.c — RFC 6455 frame headers: parsing with every rule a receiver must
 * enforce (reserved bits, opcodes, control frame limits, masking direction, minimal
 * sizes are not required), masking and encoding.
 */
#include "ws_frame.h"

#include <string.h>

int ws_frame_parse_header(const uint8_t *buf, size_t len, int expect_masked, uint64_t max_payload,
                          struct ws_frame_header *h)
{
    if (len < 2)
        return 0;
    uint8_t b0 = buf[0], b1 = buf[1];
    if (b0 & 0x70) /* RSV1-3: no extension negotiated */
        return -1002;
    h->fin = (b0 & 0x80) != 0;
    h->opcode = b0 & 0x0f;
    h->masked = (b1 & 0x80) != 0;
    switch (h->opcode) {
    case WS_OP_CONT: case WS_OP_TEXT: case WS_OP_BINARY:
        break;
    case WS_OP_CLOSE: case WS_OP_PING: case WS_OP_PONG:
        if (!h->fin || (b1 & 0x7f) > 125) /* control frames: unfragmented, <= 125 bytes */
            return -1002;
        break;
    default:
        return -1002;
    }
    if (h->masked != (expect_masked != 0))
        return -1002;
    size_t need = 2;
    uint64_t plen = b1 & 0x7f;
    if (plen == 126) {
        need += 2;
        if (len < need)
            return 0;
        plen = ((uint64_t)buf[2] << 8) | buf[3];
    } else if (plen == 127) {
        need += 8;
        if (len < need)
            return 0;
        plen = 0;
        for (int i = 0; i < 8; i++)
            plen = (plen << 8) | buf[2 + i];
        if (plen >> 63) /* the most significant bit must be 0 */
            return -1002;
    }
    if (h->masked) {
        if (len < need + 4)
            return 0;
        memcpy(h->mask, buf + need, 4);
        need += 4;
    }
    if (plen > max_payload)
        return -1009;
    h->payload_len = plen;
    return (int)need;
}

void ws_frame_unmask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset)
{
    for (size_t i = 0; i < len; i++)
        data[i] ^= mask[(offset + i) & 3];
}

size_t ws_frame_encode_header(uint8_t out[14], int fin, int opcode, uint64_t payload_len,
                              const uint8_t *mask)
{
    size_t n = 0;
    out[n++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    uint8_t m = mask ? 0x80 : 0;
    if (payload_len < 126) {
        out[n++] = (uint8_t)(m | payload_len);
    } else if (payload_len <= 0xffff) {
        out[n++] = (uint8_t)(m | 126);
        out[n++] = (uint8_t)(payload_len >> 8);
        out[n++] = (uint8_t)payload_len;
    } else {
        out[n++] = (uint8_t)(m | 127);
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)(payload_len >> (8 * i));
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

int ws_close_code_valid(int code)
{
    if (code >= 3000 && code <= 4999)
        return 1;
    switch (code) {
    case 1000: case 1001: case 1002: case 1003: case 1007: case 1008: case 1009: case 1010:
    case 1011: case 1012: case 1013: case 1014:
        return 1;
    default:
        return 0; /* 1004-1006, 1015 and the rest are never sent on the wire */
    }
}
