/* fuzz_ocpp_session.c — libFuzzer target for the OCPP handlers behind the validator: a
 * station's session, driven from bytes, through the real path of the daemon (the
 * WebSocket server, core/ocppj.c, the station registry and model) into the ocpp16 and
 * ocpp201 plugins, loaded as the daemon loads them (instrumented .so files built by
 * scripts/fuzz into plugins/ beside this program).  No database: the pool is never
 * connected, so writes queue and then fail, or fail at once.
 *
 * The first byte shapes the run:
 *   bit 0  the version: ocpp1.6 or ocpp2.0.1 (the harness does the upgrade)
 *   bit 1  the database: disabled (queries fail at once), or down (queries queue, and
 *          fail at the end of the run, as its deadline would make them)
 *   bit 2  the queued queries fail before the station leaves (their answers still go
 *          out), else after (late answers for a station that is gone)
 * The rest is one line per step (split on '\n'):
 *   <text>              sent as one text frame: an OCPP-J message from the station
 *   !<op> <json args>   a command to the station (op as in the REST API: reset,
 *                       raw_call, get_configuration, ...), which the driver sends as a CALL
 *   @<json payload>     the station answers the last CALL it received (CALLRESULT)
 *   #<error code>       ... or refuses it (CALLERROR)
 * Checked beyond memory errors: the connection is freed once the station has gone,
 * the station is then offline, and every command's callback ran exactly once. */
#define _GNU_SOURCE
#include <event2/dns.h>
#include <event2/event.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certs.h"
#include "config.h"
#include "core.h"
#include "db.h"
#include "host.h"
#include "http.h"
#include "inject.h"
#include "keys.h"
#include "ocppj.h"
#include "plugin_loader.h"
#include "tokens.h"
#include "ws_frame.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STATION "CP-1"

static ws_listener *ocpp_listener;
static const struct pl_station_api *st;
static unsigned commands_started, commands_done;

static void command_done(pl_command *cmd, void *arg)
{
    (void)cmd;
    (void)arg;
    commands_done++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    /* logging costs time: only when asked for (FUZZ_LOG=1 shows every line) */
    core_log_open(getenv("FUZZ_LOG") ? "-" : "/dev/null", getenv("FUZZ_LOG") ? PL_LOG_DEBUG : PL_LOG_ERROR);
    core_base = event_base_new();
    core_dns = evdns_base_new(core_base, 0);
    char exe[PATH_MAX], conf[PATH_MAX + 512], err[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(conf, sizeof conf,
             "[http]\nlisten = 127.0.0.1\nport = 0\n"
             "[ocpp]\nlisten = 127.0.0.1\nport = 0\nping_interval = 0\n"
             "[plugins]\ndir = %s/plugins\nload = ocpp16, ocpp201\n"
             "[ocpp16]\nunknown_stations = accept\n[ocpp201]\nunknown_stations = accept\n",
             exe);
    if (config_load_string("fuzz_ocpp_session.conf", conf, err, sizeof err) != 0 ||
        db_init("none", 1, 16, 1000) != 0 || http_init() != 0 || ocppj_init() != 0 ||
        !(ocpp_listener = fuzz_ws_last_listener()) || certs_init() != 0) {
        fprintf(stderr, "fuzz_ocpp_session: cannot start: %s\n", err);
        exit(1);
    }
    keys_init();
    if (loader_load_all(host_table()) != 0 || loader_start_all() != 0) {
        fprintf(stderr, "fuzz_ocpp_session: the OCPP plugins did not load (built into %s/plugins?)\n", exe);
        exit(1);
    }
    tokens_start();
    st = host_table()->stations;
    db_shutdown(); /* each run brings its own pool */
    return 0;
}

/* ---- the station's side of the socket ---- */

struct station {
    struct fuzz_pair p;
    size_t parsed;       /* bytes of p.answer already read as frames */
    char last_call[64];  /* the id of the last CALL the gateway sent */
};

static void write_frame(struct station *s, const char *text, size_t len)
{
    uint8_t hdr[14];
    static const uint8_t zero_mask[4] = {0, 0, 0, 0}; /* masked, and readable as is */
    size_t hl = ws_frame_encode_header(hdr, 1, WS_OP_TEXT, len, zero_mask);
    fuzz_pair_write(&s->p, hdr, hl);
    fuzz_pair_write(&s->p, (const uint8_t *)text, len);
}

/* Read the gateway's frames that arrived since the last look; remember the last CALL. */
static void read_frames(struct station *s)
{
    if (!s->parsed) {
        const uint8_t *end = s->p.answer ? memmem(s->p.answer, s->p.answer_len, "\r\n\r\n", 4) : NULL;
        if (!end)
            return;
        s->parsed = (size_t)(end - s->p.answer) + 4;
    }
    for (;;) {
        struct ws_frame_header h;
        int hl = ws_frame_parse_header(s->p.answer + s->parsed, s->p.answer_len - s->parsed, 0, 1u << 24, &h);
        if (hl <= 0 || s->p.answer_len - s->parsed < (size_t)hl + h.payload_len)
            return;
        const char *text = (const char *)s->p.answer + s->parsed + hl;
        json_t *f = h.opcode == WS_OP_TEXT ? json_loadb(text, (size_t)h.payload_len, 0, NULL) : NULL;
        if (json_integer_value(json_array_get(f, 0)) == 2 && json_string_value(json_array_get(f, 1)))
            snprintf(s->last_call, sizeof s->last_call, "%s", json_string_value(json_array_get(f, 1)));
        json_decref(f);
        s->parsed += (size_t)hl + h.payload_len;
    }
}

static void answer_call(struct station *s, const char *line, size_t len)
{
    read_frames(s);
    char *text = NULL;
    int n = line[0] == '@' ? asprintf(&text, "[3,\"%s\",%.*s]", s->last_call, (int)len - 1, line + 1)
                           : asprintf(&text, "[4,\"%s\",\"%.*s\",\"\",{}]", s->last_call, (int)len - 1, line + 1);
    if (n > 0)
        write_frame(s, text, (size_t)n);
    free(text);
}

static void start_command(const char *line, size_t len)
{
    char *copy = strndup(line + 1, len - 1);
    if (!copy)
        return;
    char *args = strchr(copy, ' ');
    if (args)
        *args++ = '\0';
    int op = st->op_from_name(copy);
    json_t *a = args ? json_loads(args, 0, NULL) : json_object();
    free(copy);
    if (op < 0) {
        json_decref(a);
        return;
    }
    int rc;
    char err[256];
    if (st->command(NULL, STATION, op, a, 0, command_done, NULL, &rc, err, sizeof err))
        commands_started++;
}

static void step(struct station *s, const char *line, size_t len)
{
    if (len && line[0] == '!')
        start_command(line, len);
    else if (len && (line[0] == '@' || line[0] == '#'))
        answer_call(s, line, len);
    else
        write_frame(s, line, len);
    fuzz_pair_run(&s->p, 4);
}

/* The database's last word on what was queued: the pool fails it, as its deadline does. */
static void fail_queries(uint8_t mode)
{
    db_shutdown();
    db_init(mode & 2 ? "host=/nonexistent" : "none", 1, 16, 1000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    const char *text = (const char *)data + 1, *end = (const char *)data + size;
    db_init(mode & 2 ? "host=/nonexistent" : "none", 1, 16, 1000);
    struct station s;
    memset(&s, 0, sizeof s);
    if (fuzz_pair_open(&s.p) != 0) {
        db_shutdown();
        return 0;
    }
    commands_started = commands_done = 0;
    fuzz_ws_accept(ocpp_listener, s.p.server);
    char upgrade[512];
    int n = snprintf(upgrade, sizeof upgrade,
                     "GET /ocpp/" STATION " HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
                     mode & 1 ? "ocpp2.0.1" : "ocpp1.6");
    fuzz_pair_write(&s.p, (const uint8_t *)upgrade, (size_t)n);
    fuzz_pair_run(&s.p, 4);
    while (text < end && !fuzz_pair_server_gone(&s.p)) {
        const char *nl = memchr(text, '\n', (size_t)(end - text));
        size_t len = nl ? (size_t)(nl - text) : (size_t)(end - text);
        step(&s, text, len);
        text += len + (nl ? 1 : 0);
    }
    fuzz_pair_run(&s.p, 8);
    if (mode & 4)
        fail_queries(mode);
    int gone = fuzz_pair_finish(&s.p, 0);
    if (!(mode & 4))
        fail_queries(mode);
    fuzz_pair_run(&s.p, 8);
    db_shutdown();
    if (getenv("FUZZ_LOG"))
        fprintf(stderr, "fuzz_ocpp_session: answer (%zu bytes):\n%.*s\n", s.p.answer_len, (int)s.p.answer_len,
                s.p.answer ? (const char *)s.p.answer : "");
    int online = st->online(STATION);
    if (!gone || online || commands_done != commands_started) {
        fprintf(stderr, "fuzz_ocpp_session: left behind: connection %s, station %s, %u of %u commands done\n",
                gone ? "freed" : "still open", online ? "online" : "offline", commands_done, commands_started);
        abort();
    }
    fuzz_pair_free(&s.p);
    return 0;
}
