/*
 * ws_frame.h — the RFC 6455 frame codec: pure functions, no I/O and no allocation, so
 * the parser can be unit-tested and fuzzed on its own.
 */
#ifndef PIPELET_WS_FRAME_H
#define PIPELET_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
    WS_OP_CONT = 0x0, WS_OP_TEXT = 0x1, WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8, WS_OP_PING = 0x9, WS_OP_PONG = 0xA,
};

struct ws_frame_header {
    int fin;
    int opcode;
    int masked;
    uint8_t mask[4];
    uint64_t payload_len;
};

/* Parse a frame header at buf.  expect_masked: 1 on the server (client frames must be
 * masked), 0 on the client (server frames must not be).  Returns the header length
 * (> 0) when complete, 0 when more bytes are needed, or -CODE (a close code: 1002
 * protocol error, 1009 too big) when the frame is invalid. */
int ws_frame_parse_header(const uint8_t *buf, size_t len, int expect_masked, uint64_t max_payload,
                          struct ws_frame_header *h);
/* XOR data with the mask; offset is the position of data[0] within the payload. */
void ws_frame_unmask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset);
/* Encode a header into out (at most 14 bytes); mask NULL = unmasked.  Returns its length. */
size_t ws_frame_encode_header(uint8_t out[14], int fin, int opcode, uint64_t payload_len,
                              const uint8_t *mask);
/* Is this a close code a peer may send (RFC 6455 7.4)? */
int ws_close_code_valid(int code);

#endif
