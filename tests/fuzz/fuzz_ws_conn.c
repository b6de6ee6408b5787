/* fuzz_ws_conn.c — libFuzzer target for the server side of the WebSocket connection
 * (core/ws.c): the HTTP upgrade and the decision on it, frames with fragmentation and
 * interleaved control frames, masking rules, UTF-8 checks, the maximum message size,
 * the close handshake and back-pressure, from bytes a client writes on a socketpair
 * whose other end the listener accepts, on the real loop with a bounded number of turns.
 *
 * The first byte shapes the run:
 *   bit 0     a valid upgrade request goes first (the rest is frames; a zero masking
 *             key leaves a payload readable, so frames are easy to find)
 *   bit 1     small limits (messages of 200 bytes, 256 bytes of queued output)
 *   bits 2-3  what the owner does with a message: nothing, echo it, close (1000), abort
 *   bit 4     the client does not read until the end (back-pressure)
 *   bit 5     the client half-closes after its last byte
 *   bits 6-7  delivery: all at once, or in chunks of 1, 7 or 64 bytes
 * The upgrade path /refuse/<status> makes the owner refuse with that status.
 * Checked beyond memory errors: every opened connection reports its close exactly
 * once, and every connection is freed once its client has gone. */
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "inject.h"
#include "ws.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ws_listener *normal, *small;
static int on_message_mode;
static unsigned opened, closed;

static int on_upgrade(void *larg, const struct ws_upgrade_req *req, const char **subprotocol,
                      void **conn_arg)
{
    (void)larg;
    *conn_arg = NULL;
    if (!strncmp(req->path, "/refuse/", 8))
        return atoi(req->path + 8) > 0 ? atoi(req->path + 8) : 400;
    for (size_t i = 0; i < req->nprotocols; i++)
        if (!strcmp(req->protocols[i], "ocpp1.6") || !strcmp(req->protocols[i], "ocpp2.0.1")) {
            *subprotocol = req->protocols[i];
            break;
        }
    return 0;
}

static void on_open(ws_conn *c, void *arg)
{
    (void)arg;
    opened++;
    ws_send_text(c, "hello", 5);
}

static void on_message(ws_conn *c, void *arg, int is_text, const char *data, size_t len)
{
    (void)arg;
    if (data[len] != '\0')
        abort(); /* the contract: NUL-terminated */
    switch (on_message_mode) {
    case 1:
        if (is_text)
            ws_send_text(c, data, len);
        else
            ws_send_binary(c, data, len);
        break;
    case 2:
        ws_close(c, 1000, "bye");
        break;
    case 3:
        ws_abort(c);
        break;
    }
}

static void on_close(ws_conn *c, void *arg, int code, const char *reason)
{
    (void)c;
    (void)arg;
    (void)code;
    (void)reason;
    closed++;
}

static const struct ws_callbacks callbacks = {on_upgrade, on_open, on_message, on_close};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    /* logging costs time: only when asked for (FUZZ_LOG=1 shows every line) */
    core_log_open(getenv("FUZZ_LOG") ? "-" : "/dev/null", getenv("FUZZ_LOG") ? PL_LOG_DEBUG : PL_LOG_ERROR);
    core_base = event_base_new();
    static const struct ws_limits normal_lim = {0, 0, 0, 0}, small_lim = {200, 256, 0, 0};
    normal = ws_listen("127.0.0.1", 0, &normal_lim, &callbacks, NULL);
    small = ws_listen("127.0.0.1", 0, &small_lim, &callbacks, NULL);
    if (!normal || !small) {
        fprintf(stderr, "fuzz_ws_conn: cannot listen\n");
        exit(1);
    }
    return 0;
}

static const char upgrade[] = "GET /ocpp/CP-1 HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    struct fuzz_pair p;
    if (fuzz_pair_open(&p) != 0)
        return 0;
    on_message_mode = (mode >> 2) & 3;
    p.drain = !(mode & 0x10);
    fuzz_ws_accept(mode & 2 ? small : normal, p.server);
    if (mode & 1)
        fuzz_pair_write(&p, (const uint8_t *)upgrade, sizeof upgrade - 1);
    static const size_t chunks[4] = {0, 1, 7, 64};
    size_t chunk = chunks[mode >> 6] ? chunks[mode >> 6] : size;
    for (size_t off = 0; off < size && !fuzz_pair_server_gone(&p); off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (fuzz_pair_write(&p, data + off, n) < n)
            break;
        fuzz_pair_run(&p, 2);
    }
    fuzz_pair_run(&p, 16);
    int gone = fuzz_pair_finish(&p, mode & 0x20);
    if (getenv("FUZZ_LOG"))
        fprintf(stderr, "fuzz_ws_conn: answer (%zu bytes):\n%.*s\n", p.answer_len, (int)p.answer_len,
                p.answer ? (const char *)p.answer : "");
    if (!gone || opened != closed) {
        fprintf(stderr, "fuzz_ws_conn: left behind: connection %s, %u opened, %u closes reported\n",
                gone ? "freed" : "still open", opened, closed);
        abort();
    }
    fuzz_pair_free(&p);
    return 0;
}
