/*
 * ocppj.c — OCPP-J RPC over the WebSocket layer, shared by the OCPP plugins (server
 * side) and the simulator (client side).
 *
 * Frames: [2,id,action,payload] CALL, [3,id,payload] CALLRESULT, [4,id,code,desc,details]
 * CALLERROR.  Every payload in and out is validated against the negotiated version's
 * definitions; invalid CALLs are answered with the version's CALLERROR here, so
 * handlers only ever see valid ones.  One outgoing CALL is outstanding per connection,
 * the rest wait in a bounded FIFO; each has a deadline.  Every frame is counted,
 * logged per station and published on the bus as ocpp.message.
 */
#include "ocppj.h"
#include "bus.h"
#include "config.h"
#include "metrics.h"
#include "ocpp_schema.h"
#include "registry.h"
#include "util.h"
#include "tls.h"
#include "ws.h"

#include <event2/event.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_HANDLERS 8
#define MAX_ID 36

struct handler_reg {
    const struct pl_ocpp_handler *h;
    void *arg;
    pl_plugin_handle *owner;
};

struct out_call {
    char id[MAX_ID + 1];
    const struct pl_ocpp_action *act;
    char *text;
    unsigned timeout_ms;
    pl_ocpp_result_cb cb;
    void *arg;
    struct out_call *next;
};

struct in_call {
    char id[MAX_ID + 1];
    const struct pl_ocpp_action *act;
    struct in_call *next;
};

struct pl_ocpp_conn {
    ws_conn *ws;
    int client;
    int validate;
    const struct pl_ocpp_handler *h;
    void *harg;
    const struct pl_ocpp_protocol *proto;
    char *station_id;
    char subprotocol[16];
    char remote[64];
    char connected_since[40];
    int security_profile;
    int tls;
    char cert_fingerprint[65];     /* the client certificate, when one verified */
    int64_t cert_not_before, cert_not_after;
    void *data;
    struct out_call *outstanding, *qhead, *qtail;
    size_t qlen;
    struct event *timer;
    struct in_call *incoming;
    uint64_t last_answered; /* call_key() of the last CALL answered (repeats are dropped) */
    uint64_t msgs_in, msgs_out;
    uint32_t next_id;
    uint32_t id_prefix; /* random, drawn once per connection */
    struct registry_log_ref log; /* the station's message ring, remembered */
    int closed;
    struct pl_ocpp_conn *next, *prev;
};

static struct {
    struct handler_reg handlers[MAX_HANDLERS];
    int nhandlers;
    ws_listener *listener, *tls_listener;
    char *prefix;
    long call_timeout, queue_max;
    struct ws_limits server_lim;
    struct pl_ocpp_conn *conns, *closed;
    int shutting_down;
} O;

/* ---------- frame parsing ---------- */

int ocppj_parse_frame(const char *text, size_t len, struct ocppj_frame *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    json_error_t je;
    f->root = json_loadb(text, len, 0, &je);
    if (!f->root) {
        snprintf(err, errlen, "malformed JSON: %s", je.text);
        return OCPPJ_BAD_JSON;
    }
    if (!json_is_array(f->root) || json_array_size(f->root) < 3) {
        snprintf(err, errlen, "a message must be a JSON array [type, id, ...]");
        json_t *id = json_is_array(f->root) ? json_array_get(f->root, 1) : NULL;
        f->id = json_string_value(id);
        return f->id ? OCPPJ_BAD_FRAME : OCPPJ_BAD_JSON;
    }
    json_t *t = json_array_get(f->root, 0), *id = json_array_get(f->root, 1);
    f->id = json_string_value(id);
    if (!json_is_integer(t)) {
        snprintf(err, errlen, "message type must be an integer");
        return f->id ? OCPPJ_BAD_FRAME : OCPPJ_BAD_JSON;
    }
    if (!f->id || strlen(f->id) > MAX_ID || !*f->id) {
        snprintf(err, errlen, "message id must be a string of 1 to 36 characters");
        f->id = NULL;
        return OCPPJ_BAD_JSON;
    }
    f->type = (int)json_integer_value(t);
    size_t n = json_array_size(f->root);
    switch (f->type) {
    case 2:
        f->action = json_string_value(json_array_get(f->root, 2));
        f->payload = json_array_get(f->root, 3);
        if (n != 4 || !f->action || !f->payload) {
            snprintf(err, errlen, "a CALL is [2, id, action, payload]");
            return OCPPJ_BAD_FRAME;
        }
        return OCPPJ_OK;
    case 3:
        f->payload = json_array_get(f->root, 2);
        if (n != 3) {
            snprintf(err, errlen, "a CALLRESULT is [3, id, payload]");
            return OCPPJ_BAD_FRAME;
        }
        return OCPPJ_OK;
    case 4:
        f->error_code = json_string_value(json_array_get(f->root, 2));
        f->error_description = json_string_value(json_array_get(f->root, 3));
        f->payload = json_array_get(f->root, 4);
        if (n != 5 || !f->error_code || !f->error_description) {
            snprintf(err, errlen, "a CALLERROR is [4, id, code, description, details]");
            return OCPPJ_BAD_FRAME;
        }
        return OCPPJ_OK;
    default:
        snprintf(err, errlen, "unknown message type %d", f->type);
        return OCPPJ_BAD_TYPE;
    }
}

/* ---------- sending ---------- */

static const char *sid(struct pl_ocpp_conn *c)
{
    return c->station_id ? c->station_id : "?";
}

/* pipelet_ocpp_messages_total{action,dir}: the counter handles are cached by action and
 * direction, since formatting and looking up the labelled name for every frame showed
 * in profiles.  Direct-mapped; a collision just takes the slow path. */
#define COUNT_SLOTS 256
struct count_slot {
    char key[48]; /* dir[0] then the action */
    metrics_counter *m;
    unsigned gen;
};
static struct count_slot count_cache[COUNT_SLOTS];

static void count_message(const char *action, const char *dir)
{
    size_t al = strlen(action);
    unsigned h = 2166136261u ^ (unsigned char)dir[0];
    for (size_t i = 0; i < al; i++)
        h = (h ^ (unsigned char)action[i]) * 16777619u;
    unsigned gen = metrics_generation();
    struct count_slot *slot = &count_cache[h % COUNT_SLOTS];
    if (slot->m && slot->gen == gen && slot->key[0] == dir[0] && strcmp(slot->key + 1, action) == 0) {
        metrics_counter_add(slot->m, 1);
        return;
    }
    char name[200];
    snprintf(name, sizeof name, "pipelet_ocpp_messages_total{action=\"%s\",dir=\"%s\"}", action, dir);
    metrics_counter *m = metrics_counter_get(name);
    metrics_counter_add(m, 1);
    if (m && al + 2 <= sizeof slot->key) {
        slot->key[0] = dir[0];
        memcpy(slot->key + 1, action, al + 1);
        slot->m = m;
        slot->gen = gen;
    }
}

static void account(struct pl_ocpp_conn *c, const char *dir, const char *action, int type,
                    const char *text, size_t len)
{
    count_message(action ? action : (type == 3 ? "CALLRESULT" : "CALLERROR"), dir);
    /* the message log is the gateway's view of its stations: a client connection of
     * this process (the simulator's) would file every frame a second time, mirrored */
    if (!c->client)
        registry_log_message_ref(&c->log, sid(c), dir, action, text, len);
    if (bus_has_subscribers("ocpp.message")) {
        json_t *frame = json_loadb(text, len, 0, NULL);
        util_redact_secrets(frame); /* webhooks forward this: no charger credentials */
        bus_emit("ocpp.message", sid(c),
                 json_pack("{s:s, s:s?, s:i, s:o, s:s, s:s}", "dir", dir, "action", action,
                           "message_type", type, "frame", frame ? frame : json_null(), "protocol",
                           c->subprotocol, "side", c->client ? "client" : "server"));
    }
}

static int send_text(struct pl_ocpp_conn *c, const char *action, int type, const char *text)
{
    if (c->closed || !c->ws)
        return PL_EOFFLINE;
    size_t len = strlen(text);
    if (ws_send_text(c->ws, text, len) != 0)
        return PL_EOFFLINE;
    c->msgs_out++;
    account(c, "out", action, type, text, len);
    return PL_OK;
}

static int send_json(struct pl_ocpp_conn *c, const char *action, int type, json_t *frame)
{
    char *text = json_dumps(frame, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(frame);
    if (!text)
        return PL_ENOMEM;
    int rc = send_text(c, action, type, text);
    free(text);
    return rc;
}

/* [3, id, payload] written around the payload's own text: no array to build and dump
 * again for every answer (the hot path's Heartbeat and MeterValues answers). */
static int send_result(struct pl_ocpp_conn *c, const char *msg_id, json_t *payload)
{
    char *body = json_object_size(payload) ? json_dumps(payload, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(payload);
    size_t blen = body ? strlen(body) : 2;
    size_t cap = 3 + 6 * strlen(msg_id) + 3 + blen + 2; /* worst case: every id byte escaped */
    char stackbuf[512], *text = cap <= sizeof stackbuf ? stackbuf : malloc(cap);
    size_t n = 3;
    if (!text) {
        free(body);
        return PL_ENOMEM;
    }
    memcpy(text, "[3,", 3);
    util_json_quote(text, cap, &n, msg_id); /* fits: cap counts the worst case */
    text[n++] = ',';
    memcpy(text + n, body ? body : "{}", blen);
    n += blen;
    text[n++] = ']';
    text[n] = '\0';
    free(body);
    int rc = send_text(c, NULL, 3, text);
    if (text != stackbuf)
        free(text);
    return rc;
}

static void send_error(struct pl_ocpp_conn *c, const char *id, const char *code, const char *desc)
{
    send_json(c, NULL, 4, json_pack("[i, s, s, s, {}]", 4, id, code, desc ? desc : ""));
}

/* ---------- outgoing calls ---------- */

static void arm_call_timer(struct pl_ocpp_conn *c, unsigned ms);

static void call_finish(struct pl_ocpp_conn *c, struct out_call *oc, int kind, json_t *payload,
                        const char *code, const char *desc)
{
    struct pl_ocpp_result r = {sizeof r, kind, payload, code, desc};
    if (oc->cb)
        oc->cb(oc->arg, c, &r);
    free(oc->text);
    free(oc);
}

static void send_next(struct pl_ocpp_conn *c)
{
    while (!c->outstanding && c->qhead && !c->closed) {
        struct out_call *oc = c->qhead;
        c->qhead = oc->next;
        if (!c->qhead)
            c->qtail = NULL;
        c->qlen--;
        oc->next = NULL;
        if (send_text(c, oc->act->name, 2, oc->text) != PL_OK) {
            call_finish(c, oc, PL_OCPP_CLOSED, NULL, NULL, "connection closed");
            continue;
        }
        c->outstanding = oc;
        arm_call_timer(c, oc->timeout_ms);
    }
}

static void on_call_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct pl_ocpp_conn *c = arg;
    struct out_call *oc = c->outstanding;
    if (!oc)
        return;
    c->outstanding = NULL;
    core_log(PL_LOG_INFO, "ocpp", "station=%s %s (id %s) timed out", sid(c), oc->act->name, oc->id);
    metrics_add("pipelet_ocpp_call_timeouts_total", 1);
    call_finish(c, oc, PL_OCPP_TIMEOUT, NULL, NULL, "timeout");
    send_next(c);
}

static void arm_call_timer(struct pl_ocpp_conn *c, unsigned ms)
{
    if (!c->timer)
        c->timer = evtimer_new(core_base, on_call_timeout, c);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (c->timer)
        evtimer_add(c->timer, &tv);
}

static int dir_allows(const struct pl_ocpp_conn *c, const struct pl_ocpp_action *a, int sending)
{
    /* who sends the CALL: the station (client side of a CSMS) or the CSMS */
    int from_station = sending ? c->client : !c->client;
    return a->direction == PL_OCPP_BOTH ||
           a->direction == (from_station ? PL_OCPP_FROM_STATION : PL_OCPP_TO_STATION);
}

static int api_call(pl_ocpp_conn *c, const char *action, json_t *payload, unsigned timeout_ms,
                    pl_ocpp_result_cb cb, void *arg, char *err, size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!c || c->closed) {
        json_decref(payload);
        snprintf(err, errlen, "not connected");
        return PL_EOFFLINE;
    }
    const struct pl_ocpp_action *a = ocpp_api_action(c->proto, action);
    if (!a) {
        json_decref(payload);
        snprintf(err, errlen, "%s is not an action of %s", action ? action : "(null)", c->subprotocol);
        return PL_EINVAL;
    }
    if (!dir_allows(c, a, 1)) {
        json_decref(payload);
        snprintf(err, errlen, "%s is not sent in this direction", action);
        return PL_EINVAL;
    }
    if (!payload)
        payload = json_object();
    if (c->validate && ocpp_api_validate(a->request, payload, err, errlen) != PL_VALID_OK) {
        json_decref(payload);
        return PL_EINVAL;
    }
    if (c->qlen >= (size_t)O.queue_max) {
        json_decref(payload);
        snprintf(err, errlen, "call queue full (%ld)", O.queue_max);
        return PL_EBUSY;
    }
    struct out_call *oc = calloc(1, sizeof *oc);
    if (!oc) {
        json_decref(payload);
        return PL_ENOMEM;
    }
    /* unique per connection and across reconnects: a random prefix drawn when the
     * connection was made, and a counter */
    snprintf(oc->id, sizeof oc->id, "%08x-%u", c->id_prefix, ++c->next_id);
    oc->act = a;
    oc->cb = cb;
    oc->arg = arg;
    oc->timeout_ms = timeout_ms ? timeout_ms : (unsigned)O.call_timeout;
    json_t *frame = json_pack("[i, s, s, o]", 2, oc->id, a->name, payload);
    oc->text = frame ? json_dumps(frame, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(frame);
    if (!oc->text) {
        free(oc);
        return PL_ENOMEM;
    }
    if (c->qtail)
        c->qtail->next = oc;
    else
        c->qhead = oc;
    c->qtail = oc;
    c->qlen++;
    send_next(c);
    return PL_OK;
}

/* ---------- incoming ---------- */

/* A CALL's identity on its connection (FNV-1a of id and action). */
static uint64_t call_key(const char *id, const char *action)
{
    uint64_t h = 14695981039346656037ull;
    for (const char *s = id; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *s = action; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h ? h : 1;
}

/* OCPP-J: a message id is unique per direction.  A CALL repeated with the id (and
 * action) of one still being handled, or of the one answered last, is a
 * retransmission: it is answered once, by the first, and never handled twice (two
 * StartTransactions must not open two sessions). */
static int is_repeat(struct pl_ocpp_conn *c, const struct pl_ocpp_action *a, const char *id)
{
    for (struct in_call *ic = c->incoming; ic; ic = ic->next)
        if (ic->act == a && strcmp(ic->id, id) == 0)
            return 1;
    return c->last_answered == call_key(id, a->name);
}

static void handle_call(struct pl_ocpp_conn *c, struct ocppj_frame *f)
{
    const struct pl_ocpp_action *a = ocpp_api_action(c->proto, f->action);
    if (!a) {
        send_error(c, f->id, "NotImplemented", "unknown action");
        return;
    }
    if (is_repeat(c, a, f->id)) {
        core_log(PL_LOG_WARN, "ocpp", "station=%s repeated %s with message id %s: answered once",
                 sid(c), a->name, f->id);
        return;
    }
    if (!dir_allows(c, a, 0)) {
        send_error(c, f->id, "NotSupported", "action not supported in this direction");
        return;
    }
    char err[512];
    int v = c->validate ? ocpp_api_validate(a->request, f->payload, err, sizeof err) : PL_VALID_OK;
    if (v != PL_VALID_OK) {
        send_error(c, f->id, ocpp_api_error_code(c->proto, v), err);
        return;
    }
    struct in_call *ic = calloc(1, sizeof *ic);
    if (!ic) {
        send_error(c, f->id, "InternalError", "out of memory");
        return;
    }
    snprintf(ic->id, sizeof ic->id, "%s", f->id);
    ic->act = a;
    ic->next = c->incoming;
    c->incoming = ic;
    if (c->h->on_call)
        c->h->on_call(c->harg, c, f->id, a->name, f->payload);
}

static void handle_result(struct pl_ocpp_conn *c, struct ocppj_frame *f)
{
    struct out_call *oc = c->outstanding;
    if (!oc || strcmp(oc->id, f->id) != 0) {
        core_log(PL_LOG_INFO, "ocpp", "station=%s answer to unknown or late message id %s dropped",
                 sid(c), f->id);
        return;
    }
    c->outstanding = NULL;
    if (c->timer)
        evtimer_del(c->timer);
    if (f->type == 3) {
        char err[512];
        int v = c->validate ? ocpp_api_validate(oc->act->response, f->payload, err, sizeof err)
                            : PL_VALID_OK;
        if (v != PL_VALID_OK) {
            char desc[600];
            snprintf(desc, sizeof desc, "%s response invalid: %s", oc->act->name, err);
            call_finish(c, oc, PL_OCPP_INVALID, f->payload, ocpp_api_error_code(c->proto, v), desc);
        } else {
            call_finish(c, oc, PL_OCPP_RESULT, f->payload, NULL, NULL);
        }
    } else {
        call_finish(c, oc, PL_OCPP_ERROR, f->payload, f->error_code, f->error_description);
    }
    if (!c->closed)
        send_next(c);
}

static void on_ws_message(ws_conn *ws, void *arg, int is_text, const char *data, size_t len)
{
    (void)ws;
    struct pl_ocpp_conn *c = arg;
    if (!c || c->closed)
        return;
    c->msgs_in++;
    int v2 = ocpp_is_v2(c->proto);
    if (!is_text) {
        send_error(c, "-1", v2 ? "RpcFrameworkError" : "ProtocolError", "binary frames are not OCPP-J");
        return;
    }
    struct ocppj_frame f;
    char err[256];
    int rc = ocppj_parse_frame(data, len, &f, err, sizeof err);
    account(c, "in", rc == OCPPJ_OK && f.type == 2 ? f.action : NULL, rc == OCPPJ_OK ? f.type : 0,
            data, len);
    switch (rc) {
    case OCPPJ_OK:
        if (f.type == 2)
            handle_call(c, &f);
        else
            handle_result(c, &f);
        break;
    case OCPPJ_BAD_TYPE:
        send_error(c, f.id ? f.id : "-1", v2 ? "MessageTypeNotSupported" : "ProtocolError", err);
        break;
    case OCPPJ_BAD_FRAME:
        send_error(c, f.id, v2 ? "RpcFrameworkError" : "ProtocolError", err);
        break;
    default:
        /* no usable message id: answer with "-1" so the peer at least sees the problem */
        send_error(c, "-1", v2 ? "RpcFrameworkError" : "FormationViolation", err);
        break;
    }
    json_decref(f.root);
}

static void release_if_done(struct pl_ocpp_conn *c);

/* The incoming CALL msg_id, removed from the pending list (NULL if unknown or answered). */
static struct in_call *take_incoming(struct pl_ocpp_conn *c, const char *msg_id)
{
    for (struct in_call **pp = &c->incoming; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->id, msg_id) == 0) {
            struct in_call *ic = *pp;
            *pp = ic->next;
            return ic;
        }
    return NULL;
}

static int api_reply(pl_ocpp_conn *c, const char *msg_id, json_t *payload)
{
    if (!c || !msg_id) {
        json_decref(payload);
        return PL_EINVAL;
    }
    struct in_call *ic = take_incoming(c, msg_id);
    if (!ic) {
        json_decref(payload);
        return c->closed ? PL_EOFFLINE : PL_ENOENT;
    }
    c->last_answered = call_key(ic->id, ic->act->name);
    if (!payload)
        payload = json_object();
    char err[512];
    if (c->validate && ocpp_api_validate(ic->act->response, payload, err, sizeof err) != PL_VALID_OK) {
        core_log(PL_LOG_ERROR, "ocpp", "station=%s invalid %s response from the handler: %s", sid(c),
                 ic->act->name, err);
        json_decref(payload);
        free(ic);
        if (c->closed)
            release_if_done(c);
        else
            send_error(c, msg_id, "InternalError", "the CSMS produced an invalid response");
        return PL_EINVAL;
    }
    free(ic);
    if (c->closed) {
        json_decref(payload);
        release_if_done(c);
        return PL_EOFFLINE;
    }
    return send_result(c, msg_id, payload);
}

static int api_reply_error(pl_ocpp_conn *c, const char *msg_id, const char *code,
                           const char *description, json_t *details)
{
    if (!c || !msg_id) {
        json_decref(details);
        return PL_EINVAL;
    }
    struct in_call *ic = take_incoming(c, msg_id);
    if (!ic) {
        json_decref(details);
        return c->closed ? PL_EOFFLINE : PL_ENOENT;
    }
    free(ic); /* not remembered as answered: a station may resend what was refused */
    if (c->closed) {
        json_decref(details);
        release_if_done(c);
        return PL_EOFFLINE;
    }
    return send_json(c, NULL, 4, json_pack("[i, s, s, s, o]", 4, msg_id, code ? code : "GenericError",
                                           description ? description : "",
                                           details ? details : json_object()));
}

/* ---------- connection lifecycle ---------- */

/* A connection is on one of two lists: open (O.conns) or closed with CALLs still
 * unanswered (O.closed: a handler may answer after a database commit).  The closed
 * list is what lets shutdown free a connection whose peer plugin never answers. */
static struct pl_ocpp_conn **conn_list(struct pl_ocpp_conn *c)
{
    return c->closed ? &O.closed : &O.conns;
}

static void conn_link(struct pl_ocpp_conn *c)
{
    struct pl_ocpp_conn **list = conn_list(c);
    c->prev = NULL;
    c->next = *list;
    if (*list)
        (*list)->prev = c;
    *list = c;
}

static void conn_unlink(struct pl_ocpp_conn *c)
{
    struct pl_ocpp_conn **list = conn_list(c);
    if (c->prev)
        c->prev->next = c->next;
    else if (*list == c)
        *list = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
}

static void conn_free(struct pl_ocpp_conn *c)
{
    if (c->closed)
        conn_unlink(c);
    while (c->incoming) {
        struct in_call *ic = c->incoming;
        c->incoming = ic->next;
        free(ic);
    }
    if (c->timer)
        event_free(c->timer);
    free(c->station_id);
    free(c);
}

static void on_ws_open(ws_conn *ws, void *arg)
{
    struct pl_ocpp_conn *c = arg;
    c->ws = ws;
    snprintf(c->remote, sizeof c->remote, "%s", ws_remote_addr(ws));
    core_now_rfc3339(c->connected_since, sizeof c->connected_since);
    if (c->h->on_open)
        c->h->on_open(c->harg, c);
}

static void on_ws_close(ws_conn *ws, void *arg, int code, const char *reason)
{
    (void)ws;
    struct pl_ocpp_conn *c = arg;
    if (!c)
        return;
    conn_unlink(c);
    c->closed = 1;
    c->ws = NULL;
    conn_link(c); /* onto the closed list until its last CALL is answered */
    if (c->timer)
        evtimer_del(c->timer);
    /* every pending call completes exactly once */
    struct out_call *oc = c->outstanding;
    c->outstanding = NULL;
    if (oc)
        call_finish(c, oc, PL_OCPP_CLOSED, NULL, NULL, "connection closed");
    while (c->qhead) {
        oc = c->qhead;
        c->qhead = oc->next;
        c->qlen--;
        call_finish(c, oc, PL_OCPP_CLOSED, NULL, NULL, "connection closed");
    }
    c->qtail = NULL;
    if (c->h->on_close)
        c->h->on_close(c->harg, c, code, reason);
    /* a handler may still be answering calls (after a database commit, say): the
     * connection object lives until the last one is answered; the answers are dropped */
    if (!c->incoming)
        conn_free(c);
}

/* After an answer on a closed connection: free it once nothing is pending. */
static void release_if_done(struct pl_ocpp_conn *c)
{
    if (c->closed && !c->incoming)
        conn_free(c);
}

/* The station id is the one path segment after the prefix (ws.c has percent-decoded the
 * path), checked against util_station_id_valid.  Returns 0 with *id set, 404 for a path
 * outside the prefix, or 400 with *why set: no id (/ocpp, /ocpp/), more than one segment
 * (a/b, or a%2Fb decoded), or an id the rule refuses (too long, %ff, space...). */
static int station_from_path(const char *path, const char **id, const char **why)
{
    size_t pl = strlen(O.prefix);
    if (pl > 1 && (strncmp(path, O.prefix, pl) != 0 || (path[pl] != '/' && path[pl] != '\0')))
        return 404;
    const char *rest = pl > 1 ? path + pl : path; /* "" or "/..." */
    if (rest[0] != '/' || rest[1] == '\0') {
        *why = "no station id after the path prefix";
        return 400;
    }
    if (strchr(rest + 1, '/')) {
        *why = "more than one path segment after the prefix";
        return 400;
    }
    if (!util_station_id_valid(rest + 1, strlen(rest + 1))) {
        *why = "the station id must be 1 to 48 of A-Z a-z 0-9 * - _ = : + | @ .";
        return 400;
    }
    *id = rest + 1;
    return 0;
}

/* Decoded Basic credentials "user:password" into user and a new password string.
 * Returns 0 (none or unusable: the station's password check decides), or 400 when they
 * hold a NUL, which would cut the comparison short ("password\0junk"). */
static int basic_credentials(const char *authorization, char *user, size_t userlen, char **password)
{
    unsigned char dec[256];
    if (!authorization || strncasecmp(authorization, "Basic ", 6) != 0)
        return 0;
    int n = util_base64_decode(authorization + 6, dec, sizeof dec - 1);
    if (n <= 0)
        return 0;
    if (memchr(dec, '\0', (size_t)n))
        return 400;
    dec[n] = '\0';
    char *colon = strchr((char *)dec, ':');
    if (colon) {
        *colon = '\0';
        snprintf(user, userlen, "%s", (char *)dec);
        *password = strdup(colon + 1);
    }
    return 0;
}

static int on_upgrade(void *larg, const struct ws_upgrade_req *req, const char **subprotocol,
                      void **conn_arg)
{
    (void)larg;
    if (O.shutting_down)
        return 503;
    const char *station = NULL, *why = "the path is outside the OCPP prefix";
    int refused = station_from_path(req->path, &station, &why);
    if (refused) {
        core_log(PL_LOG_INFO, "ocpp", "handshake for %.100s from %s refused (HTTP %d): %s", req->path,
                 req->remote_addr, refused, why);
        return refused;
    }
    struct handler_reg *hr = NULL;
    for (size_t i = 0; i < req->nprotocols && !hr; i++)
        for (int k = 0; k < O.nhandlers; k++)
            if (strcmp(req->protocols[i], O.handlers[k].h->subprotocol) == 0) {
                hr = &O.handlers[k];
                break;
            }
    if (!hr) {
        core_log(PL_LOG_INFO, "ocpp", "station=%s from %s refused: no supported subprotocol offered",
                 station, req->remote_addr);
        return 400;
    }
    char user[256] = "", *password = NULL;
    if (basic_credentials(req->authorization, user, sizeof user, &password) != 0) {
        core_log(PL_LOG_WARN, "ocpp", "station=%s from %s refused (HTTP 400): NUL in the Basic credentials",
                 station, req->remote_addr);
        return 400;
    }
    struct pl_ocpp_handshake hs = {sizeof hs, station, req->path, req->remote_addr,
                                   hr->h->subprotocol, *user ? user : NULL, password, req->tls,
                                   0, "", "", "", 0, 0};
    const struct tls_peer *peer = req->peer;
    if (peer) {
        hs.client_cert = peer->verified ? 1 : -1;
        hs.client_cert_error = peer->error;
        hs.client_cert_cn = peer->cn;
        hs.client_cert_fingerprint = peer->fingerprint;
        hs.client_cert_not_before = peer->not_before;
        hs.client_cert_not_after = peer->not_after;
    }
    int status = hr->h->authorize ? hr->h->authorize(hr->arg, &hs) : 0;
    /* what this connection proved (OCPP security profiles): 3 a verified certificate
     * naming the station, 2 TLS and a password, 1 a password, 0 nothing */
    int cert_ok = peer && peer->verified && strcmp(peer->cn, station) == 0;
    int profile = req->tls && cert_ok ? 3 : req->tls && password ? 2 : password ? 1 : 0;
    if (password) {
        memset(password, 0, strlen(password));
        free(password);
    }
    if (status != 0)
        return status;
    struct pl_ocpp_conn *c = calloc(1, sizeof *c);
    if (c)
        util_random(&c->id_prefix, sizeof c->id_prefix);
    if (!c || !(c->station_id = strdup(station))) {
        free(c);
        return 503;
    }
    c->h = hr->h;
    c->harg = hr->arg;
    c->proto = ocpp_api_protocol(hr->h->subprotocol);
    c->validate = 1;
    c->security_profile = profile;
    c->tls = req->tls;
    if (cert_ok) {
        snprintf(c->cert_fingerprint, sizeof c->cert_fingerprint, "%s", peer->fingerprint);
        c->cert_not_before = peer->not_before;
        c->cert_not_after = peer->not_after;
    }
    snprintf(c->subprotocol, sizeof c->subprotocol, "%s", hr->h->subprotocol);
    conn_link(c);
    *subprotocol = hr->h->subprotocol;
    *conn_arg = c;
    return 0;
}

static const struct ws_callbacks server_cb = {on_upgrade, on_ws_open, on_ws_message, on_ws_close};
static const struct ws_callbacks client_cb = {NULL, on_ws_open, on_ws_message, on_ws_close};

static int api_register_handler(pl_plugin_handle *self, const struct pl_ocpp_handler *h, void *arg)
{
    if (!h || !h->subprotocol || !ocpp_api_protocol(h->subprotocol))
        return PL_EINVAL;
    for (int i = 0; i < O.nhandlers; i++)
        if (strcmp(O.handlers[i].h->subprotocol, h->subprotocol) == 0)
            return PL_EEXIST;
    if (O.nhandlers == MAX_HANDLERS)
        return PL_EBUSY;
    O.handlers[O.nhandlers++] = (struct handler_reg){h, arg, self};
    return PL_OK;
}

/* Remove the handlers of a plugin going away: their subprotocols are refused from
 * now on (connections already open were closed before a plugin is unloaded). */
int ocppj_remove_owner(pl_plugin_handle *owner)
{
    int n = 0;
    for (int i = 0; i < O.nhandlers;)
        if (O.handlers[i].owner == owner) {
            memmove(&O.handlers[i], &O.handlers[i + 1], (size_t)(O.nhandlers - i - 1) * sizeof O.handlers[0]);
            O.nhandlers--;
            n++;
        } else {
            i++;
        }
    return n;
}

static pl_ocpp_conn *api_connect(pl_plugin_handle *self, const struct pl_ocpp_client_opts *o,
                                 const struct pl_ocpp_handler *h, void *arg)
{
    (void)self;
    if (!o || !o->url || !o->station_id || !o->subprotocol || !h)
        return NULL;
    const struct pl_ocpp_protocol *p = ocpp_api_protocol(o->subprotocol);
    if (!p)
        return NULL;
    struct pl_ocpp_conn *c = calloc(1, sizeof *c);
    if (c)
        util_random(&c->id_prefix, sizeof c->id_prefix);
    if (!c || !(c->station_id = strdup(o->station_id))) {
        free(c);
        return NULL;
    }
    c->client = 1;
    c->h = h;
    c->harg = arg;
    c->proto = p;
    c->validate = o->validate;
    /* ABI 1.1 and 1.2 members: read only from callers that know them */
#define HAS(m) (o->size >= offsetof(struct pl_ocpp_client_opts, m) + sizeof o->m)
    struct ws_client_tls tlso = {HAS(ca_file) ? o->ca_file : NULL, HAS(client_key) ? o->client_cert : NULL,
                                 HAS(client_key) ? o->client_key : NULL};
#undef HAS
    int wss = strncmp(o->url, "wss://", 6) == 0;
    c->tls = wss;
    c->security_profile = wss && tlso.cert_pem ? 3 : wss && o->password ? 2 : o->password ? 1 : 0;
    snprintf(c->subprotocol, sizeof c->subprotocol, "%s", o->subprotocol);
    char url[1024], auth[600];
    size_t ul = strlen(o->url);
    snprintf(url, sizeof url, "%s%s%s", o->url, o->append_id ? (ul && o->url[ul - 1] == '/' ? "" : "/") : "",
             o->append_id ? o->station_id : "");
    const char *authorization = NULL;
    if (o->password) {
        char creds[400];
        snprintf(creds, sizeof creds, "%s:%s", o->station_id, o->password);
        strcpy(auth, "Basic ");
        util_base64_encode((const unsigned char *)creds, strlen(creds), auth + 6, sizeof auth - 6);
        authorization = auth;
    }
    struct ws_limits lim = {O.server_lim.max_message, 0, 0, 10};
    conn_link(c);
    ws_conn *ws = ws_connect(url, o->subprotocol, authorization, o->source_addr, &tlso, &lim, &client_cb, c);
    if (!ws) {
        conn_unlink(c);
        conn_free(c);
        return NULL;
    }
    c->ws = ws; /* usable for send_raw/close before on_open; calls wait for open */
    return c;
}

static int api_send_raw(pl_ocpp_conn *c, const char *text, size_t len)
{
    if (!c || c->closed || !c->ws)
        return PL_EOFFLINE;
    return ws_send_text(c->ws, text, len) == 0 ? PL_OK : PL_EOFFLINE;
}

static void api_close(pl_ocpp_conn *c, int code, const char *reason)
{
    if (c && !c->closed && c->ws)
        ws_close(c->ws, code, reason);
}

static void api_abort(pl_ocpp_conn *c)
{
    if (c && !c->closed && c->ws)
        ws_abort(c->ws);
}

static const char *api_station_id(pl_ocpp_conn *c) { return c ? c->station_id : NULL; }
static const char *api_subprotocol(pl_ocpp_conn *c) { return c ? c->subprotocol : NULL; }
static const char *api_remote_addr(pl_ocpp_conn *c) { return c ? c->remote : NULL; }
static void api_set_data(pl_ocpp_conn *c, void *d) { if (c) c->data = d; }
static void *api_data(pl_ocpp_conn *c) { return c ? c->data : NULL; }

static void iso8601(int64_t t, char *out, size_t outlen)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, outlen, "1970-01-01T00:00:00Z");
}

static json_t *api_info(pl_ocpp_conn *c)
{
    json_t *o = json_pack("{s:s, s:s, s:i, s:b, s:s, s:I, s:I, s:I}", "remote_addr", c->remote, "subprotocol",
                          c->subprotocol, "security_profile", c->security_profile, "tls", c->tls,
                          "connected_since", c->connected_since, "queue_depth",
                          (json_int_t)(c->qlen + (c->outstanding ? 1 : 0)), "messages_in",
                          (json_int_t)c->msgs_in, "messages_out", (json_int_t)c->msgs_out);
    if (o && c->cert_fingerprint[0]) {
        char nb[32], na[32];
        iso8601(c->cert_not_before, nb, sizeof nb);
        iso8601(c->cert_not_after, na, sizeof na);
        json_object_set_new(o, "client_certificate",
                            json_pack("{s:s, s:s, s:s}", "fingerprint_sha256", c->cert_fingerprint,
                                      "not_before", nb, "not_after", na));
    }
    return o;
}

static void api_pause_reading(pl_ocpp_conn *c, int paused)
{
    if (c && c->ws && !c->closed)
        ws_pause_reading(c->ws, paused);
}

static const struct pl_ocpp_api api = {
    .size = sizeof(struct pl_ocpp_api),
    .protocol = ocpp_api_protocol,
    .action = ocpp_api_action,
    .validate = ocpp_api_validate,
    .error_code = ocpp_api_error_code,
    .register_handler = api_register_handler,
    .connect = api_connect,
    .reply = api_reply,
    .reply_error = api_reply_error,
    .call = api_call,
    .send_raw = api_send_raw,
    .close = api_close,
    .abort = api_abort,
    .station_id = api_station_id,
    .subprotocol = api_subprotocol,
    .remote_addr = api_remote_addr,
    .set_data = api_set_data,
    .data = api_data,
    .info = api_info,
    .pause_reading = api_pause_reading,
};

const struct pl_ocpp_api *ocppj_api(void)
{
    return &api;
}

int ocppj_init(void)
{
    long port, max_message, ping, queue_max, call_timeout;
    if (core_config_int("ocpp", "port", 9000, 0, 65535, &port) ||
        core_config_int("ocpp", "max_message", 1048576, 1024, 67108864, &max_message) ||
        core_config_int("ocpp", "ping_interval", 60, 0, 86400, &ping) ||
        core_config_int("ocpp", "call_timeout", 30000, 100, 3600000, &call_timeout) ||
        core_config_int("ocpp", "queue_max", 100, 1, 100000, &queue_max))
        return -1;
    const char *prefix = core_config_get("ocpp", "path_prefix");
    O.prefix = strdup(prefix && *prefix ? prefix : "/ocpp");
    O.call_timeout = call_timeout;
    O.queue_max = queue_max;
    O.server_lim = (struct ws_limits){(size_t)max_message, 0, (unsigned)ping, 10};
    const char *listen = core_config_get("ocpp", "listen");
    listen = listen && *listen ? listen : "0.0.0.0";
    struct tls_server_opts to;
    int tls = tls_server_config("ocpp", &to), plain;
    long tls_port = -1;
    if (tls < 0 || core_config_bool("ocpp", "plain", 1, &plain) ||
        (core_config_get("ocpp", "tls_port") &&
         core_config_int("ocpp", "tls_port", 0, 0, 65535, &tls_port)))
        return -1;
    if ((tls_port >= 0) != (tls == 1) || (!plain && tls_port < 0)) {
        core_log(PL_LOG_ERROR, "ocpp", "[ocpp] %s",
                 tls_port >= 0 ? "tls_port needs tls_certificate and tls_private_key"
                 : tls == 1    ? "tls_certificate needs tls_port (the wss:// listener's port)"
                               : "plain = no needs the wss:// listener (tls_port, tls_certificate, tls_private_key)");
        return -1;
    }
    if (plain) {
        O.listener = ws_listen(listen, (int)port, &O.server_lim, &server_cb, NULL);
        if (!O.listener)
            return -1;
        char bound[16];
        snprintf(bound, sizeof bound, "%d", ws_listener_port(O.listener));
        config_set("ocpp", "port", bound);
        core_log(PL_LOG_INFO, "ocpp", "listening on ws://%s:%d%s/<station id>", listen,
                 ws_listener_port(O.listener), O.prefix);
    }
    if (tls == 1) {
        /* certificates are verified, but the decision is the station's profile (the
         * handler's authorize): a refusal then names the station and the reason */
        to.defer_verify = 1;
        SSL_CTX *ctx = tls_server_ctx_opts(&to);
        O.tls_listener = ctx ? ws_listen_tls(listen, (int)tls_port, ctx, &O.server_lim, &server_cb, NULL) : NULL;
        if (!O.tls_listener)
            return -1;
        char bound[16];
        snprintf(bound, sizeof bound, "%d", ws_listener_port(O.tls_listener));
        config_set("ocpp", "tls_port", bound);
        core_log(PL_LOG_INFO, "ocpp", "listening on wss://%s:%d%s/<station id>%s", listen,
                 ws_listener_port(O.tls_listener), O.prefix,
                 to.client_ca ? " (client certificates: security profile 3)" : "");
    }
    return 0;
}

int ocppj_port(void)
{
    return O.listener ? ws_listener_port(O.listener) : -1;
}

int ocppj_tls_port(void)
{
    return O.tls_listener ? ws_listener_port(O.tls_listener) : -1;
}

void ocppj_shutdown(void)
{
    if (!O.shutting_down) {
        O.shutting_down = 1;
        if (O.listener) {
            ws_listener_free(O.listener);
            O.listener = NULL;
        }
        if (O.tls_listener) {
            ws_listener_free(O.tls_listener);
            O.tls_listener = NULL;
        }
        for (struct pl_ocpp_conn *c = O.conns; c; c = c->next)
            if (c->ws && !c->client)
                ws_close(c->ws, 1001, "gateway shutting down");
        return;
    }
    while (O.conns) {
        struct pl_ocpp_conn *c = O.conns;
        if (c->ws)
            ws_abort(c->ws); /* on_close unlinks and frees */
        else {
            conn_unlink(c);
            conn_free(c);
        }
    }
    free(O.prefix);
    O.prefix = NULL;
    ws_client_tls_free();
}

void ocppj_free_closed(void)
{
    while (O.closed)
        conn_free(O.closed); /* nobody is left to answer their CALLs */
}

json_t *ocppj_stats(void)
{
    size_t n = 0, queued = 0;
    for (struct pl_ocpp_conn *c = O.conns; c; c = c->next) {
        n++;
        queued += c->qlen;
    }
    return json_pack("{s:I, s:I}", "connections", (json_int_t)n, "queued_calls", (json_int_t)queued);
}
