/*
 * registry.c — the stations connected to this node (id -> pl_station), their
 * in-memory snapshots and a bounded OCPP message log per station id, plus the
 * struct pl_station_api table.  Offline stations are not loaded: the REST layer
 * reads them from the database.
 */
#include "registry.h"
#include "bus.h"
#include "command.h"
#include "model.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* ------------------------------------------------------------------------
 * Stations.
 * ---------------------------------------------------------------------- */
static struct hashmap *stations; /* connected: id -> pl_station */
static struct pl_station *all;        /* every live object, replaced ones included */

static const char SQL_ATTACH[] =
    "INSERT INTO stations(id, protocol, online, node, remote_addr, connected_at, last_seen, "
    "disconnected_at) VALUES ($1, $2, true, $3, $4, $5::timestamptz, $5::timestamptz, NULL) "
    "ON CONFLICT (id) DO UPDATE SET protocol = excluded.protocol, online = true, "
    "node = excluded.node, remote_addr = excluded.remote_addr, "
    "connected_at = excluded.connected_at, last_seen = excluded.last_seen, "
    "disconnected_at = NULL";
/* Only if no other node took the station over meanwhile. */
static const char SQL_DETACH[] =
    "UPDATE stations SET online = false, disconnected_at = $2::timestamptz, "
    "last_seen = $3::timestamptz WHERE id = $1 AND node IS NOT DISTINCT FROM $4";

const char *registry_node_name(void)
{
    static char name[256];
    const char *cfg = core_config_get("core", "node_name");
    if (cfg && *cfg)
        return cfg;
    if (!name[0] && gethostname(name, sizeof name - 1) != 0)
        strcpy(name, "pipelet");
    return name;
}

static void station_free(struct pl_station *st)
{
    if (st->prev)
        st->prev->next = st->next;
    else if (all == st)
        all = st->next;
    if (st->next)
        st->next->prev = st->prev;
    for (size_t i = 0; i < st->nconns; i++) {
        free(st->conns[i].status);
        free(st->conns[i].error_code);
        free(st->conns[i].info);
    }
    free(st->conns);
    free(st->conn_info);
    free(st->boot);
    free(st->protocol);
    free(st->id);
    free(st);
}

/* A replacement keeps what the old connection knew (a 2.0.1 station that reconnects
 * does not necessarily boot again). */
static void station_inherit(struct pl_station *st, struct pl_station *old)
{
    st->boot = old->boot ? strdup(old->boot) : NULL;
    st->conns = old->conns;
    st->nconns = old->nconns;
    old->conns = NULL;
    old->nconns = 0;
}

pl_station *station_api_attach(pl_plugin_handle *self, const char *station_id,
                               const struct pl_driver *drv, void *drv_arg, json_t *conn_info)
{
    if (!station_id || !*station_id || !drv) {
        json_decref(conn_info);
        return NULL;
    }
    if (!stations && !(stations = hashmap_new())) {
        json_decref(conn_info);
        return NULL;
    }
    struct pl_station *st = calloc(1, sizeof *st);
    if (!st || !(st->id = strdup(station_id)) ||
        !(st->protocol = strdup(drv->protocol ? drv->protocol : "unknown"))) {
        if (st)
            free(st->id);
        free(st);
        json_decref(conn_info);
        return NULL;
    }
    st->drv = drv;
    st->drv_arg = drv_arg;
    st->owner = self;
    if (!json_is_object(conn_info)) {
        json_decref(conn_info);
        conn_info = json_object();
    }
    st->conn_info = json_dumps(conn_info, JSON_COMPACT);
    core_now_rfc3339(st->connected_since, sizeof st->connected_since);
    memcpy(st->last_seen, st->connected_since, sizeof st->last_seen);
    st->last_seen_written_ms = core_now_ms();

    struct pl_station *old = hashmap_get(stations, station_id);
    if (old) {
        /* The old connection's plugin closes its socket and detaches it later;
         * until then the object stays valid but is no longer findable. */
        hashmap_del(stations, station_id);
        old->replaced = 1;
        station_inherit(st, old);
        core_log(PL_LOG_INFO, "station", "station=%s replaced by a new connection", station_id);
        command_fail_pending(old, "replaced by a new connection");
    }
    if (!st->conn_info || hashmap_put(stations, st->id, st) != PL_OK) {
        station_free(st);
        json_decref(conn_info);
        return NULL;
    }
    st->next = all;
    if (all)
        all->prev = st;
    all = st;

    const char *addr = json_string_value(json_object_get(conn_info, "remote_addr"));
    const char *p[5] = {st->id, st->protocol, registry_node_name(), addr, st->connected_since};
    model_write(st->id, SQL_ATTACH, 5, p, NULL, NULL);

    json_t *ev = conn_info; /* the event takes our reference */
    json_object_set_new(ev, "protocol", json_string(st->protocol));
    json_object_set_new(ev, "node", json_string(registry_node_name()));
    json_object_set_new(ev, "connected_at", json_string(st->connected_since));
    core_log(PL_LOG_INFO, "station", "station=%s connected protocol=%s remote=%s", st->id,
             st->protocol, addr ? addr : "-");
    bus_emit("station.connected", st->id, ev); /* addr pointed into ev: not used after */
    return st;
}

void station_api_detach(pl_station *st)
{
    if (!st)
        return;
    if (st->replaced) { /* silently: the new connection owns the id now */
        station_free(st);
        return;
    }
    if (hashmap_get(stations, st->id) == st)
        hashmap_del(stations, st->id);
    command_fail_pending(st, "station disconnected");

    char now[40];
    core_now_rfc3339(now, sizeof now);
    const char *p[4] = {st->id, now, st->last_seen, registry_node_name()};
    model_write(st->id, SQL_DETACH, 4, p, NULL, NULL);
    core_log(PL_LOG_INFO, "station", "station=%s disconnected", st->id);
    bus_emit("station.disconnected", st->id,
             json_pack("{s:s, s:s, s:s, s:s}", "protocol", st->protocol, "connected_since",
                       st->connected_since, "last_seen", st->last_seen, "disconnected_at", now));
    station_free(st);
}

pl_station *station_api_find(const char *station_id)
{
    return hashmap_get(stations, station_id);
}

const char *station_api_id(pl_station *st)
{
    return st ? st->id : NULL;
}

const char *station_api_protocol(pl_station *st)
{
    return st ? st->protocol : NULL;
}

int station_api_online(const char *station_id)
{
    return hashmap_get(stations, station_id) != NULL;
}

size_t registry_online_count(void)
{
    return hashmap_count(stations);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* st->conns is kept sorted by (evse, connector) by model.c: group runs of one evse. */
static json_t *snapshot_evses(struct pl_station *st)
{
    json_t *evses = json_array();
    json_t *cur = NULL;
    int cur_evse = -1;
    for (size_t i = 0; i < st->nconns; i++) {
        struct registry_connector *c = &st->conns[i];
        if (!cur || c->evse != cur_evse) {
            json_t *e = json_pack("{s:i, s:[]}", "evse", c->evse, "connectors");
            json_array_append_new(evses, e);
            cur = json_object_get(e, "connectors");
            cur_evse = c->evse;
        }
        json_array_append_new(cur, json_pack("{s:i, s:o, s:o, s:o, s:s}", "connector",
                                             c->connector, "status", str_or_null(c->status),
                                             "error_code", str_or_null(c->error_code), "info",
                                             str_or_null(c->info), "updated_at",
                                             c->updated_at));
    }
    return evses;
}

json_t *station_api_snapshot(pl_station *st)
{
    if (!st)
        return NULL;
    json_t *s = json_pack("{s:s, s:s, s:b, s:s, s:s}", "id", st->id, "protocol", st->protocol,
                          "online", !st->replaced, "connected_since", st->connected_since,
                          "last_seen", st->last_seen);
    static const char *const boot_keys[] = {"vendor", "model", "firmware", "serial",
                                            "boot_status", NULL};
    json_t *boot = st->boot ? json_loads(st->boot, 0, NULL) : NULL;
    for (int i = 0; boot_keys[i]; i++) {
        json_t *v = json_object_get(boot, boot_keys[i]);
        json_object_set_new(s, boot_keys[i], v ? json_incref(v) : json_null());
    }
    json_decref(boot);
    json_object_set_new(s, "evses", snapshot_evses(st));
    json_t *conn = st->conn_info ? json_loads(st->conn_info, 0, NULL) : NULL;
    json_object_set_new(s, "connection", conn ? conn : json_object());
    return s;
}

static int cmp_station(const void *a, const void *b)
{
    const struct pl_station *x = *(const struct pl_station *const *)a;
    const struct pl_station *y = *(const struct pl_station *const *)b;
    return strcmp(x->id, y->id);
}

static void collect_station(void *val, void *arg)
{
    struct pl_station ***pp = arg;
    *(*pp)++ = val;
}

json_t *station_api_list_online(void)
{
    json_t *arr = json_array();
    size_t n = hashmap_count(stations);
    if (!n)
        return arr;
    struct pl_station **v = malloc(n * sizeof *v), **p = v;
    if (!v)
        return arr;
    hashmap_foreach(stations, collect_station, &p);
    qsort(v, n, sizeof *v, cmp_station); /* stable order for clients */
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, station_api_snapshot(v[i]));
    free(v);
    return arr;
}

/* ------------------------------------------------------------------------
 * The message log: a ring per station id, kept after disconnect; the number of
 * rings is bounded too (least recently written rings are evicted first).
 * ---------------------------------------------------------------------- */
#define MSGLOG_MAX_RINGS 20000
#define MSGLOG_DEFAULT 200
#define MSGLOG_MIN_KEPT 4 /* per station, whatever the memory budget */

struct msg_entry {
    int64_t time_ms; /* wall clock; formatted only when read */
    char dir[4];
    char msgid[40];
    int type;           /* 2 CALL, 3 CALLRESULT, 4 CALLERROR, 0 unparsable */
    const char *action; /* interned; CALLs, and results whose CALL is still in the ring */
    char *frame;        /* reused by the next entry written to this slot when it fits */
    uint32_t len, cap;
};

struct msglog {
    char *id;
    struct msg_entry *e;
    size_t cap, head, count; /* head: the next slot to write */
    size_t bytes;            /* its slots and frames (message_log_memory) */
    struct msglog *lru_prev, *lru_next;
};

static struct hashmap *logs;
static struct msglog *lru_head, *lru_tail; /* head = least recently written */
static long msglog_cap = -1;
/* [core] message_log_memory: what all rings may hold together (entries and frames).
 * 200 messages of each of 10,000 stations are some 330 MB, and a ring's slots are
 * touched on every message: past the budget a ring stops growing and the writing
 * station's oldest messages make room (MSGLOG_MIN_KEPT stay), so a large fleet keeps
 * fewer messages per station, in memory that stays bounded (and warmer).  A ring may grow while it holds less than twice
 * its share (budget / rings), so early stations cannot take it all. */
static size_t msglog_budget, msglog_bytes;

size_t registry_message_log_bytes(void)
{
    return msglog_bytes;
}

/* The entry of ring l is empty again; its frame's bytes leave both counts. */
static void entry_clear(struct msglog *l, struct msg_entry *e)
{
    msglog_bytes -= e->cap;
    l->bytes -= e->cap;
    free(e->frame);
    memset(e, 0, sizeof *e);
}

/* Action names are few and repeat in every entry: one copy each, shared.  Names come
 * from the network, so the table is bounded; past it an entry keeps no action name
 * (its frame still has it). */
#define ACTION_NAMES_MAX 4096
static struct hashmap *action_names;

static const char *intern_action(const char *action)
{
    if (!action)
        return NULL;
    if (!action_names && !(action_names = hashmap_new()))
        return NULL;
    const char *known = hashmap_get(action_names, action);
    if (known || hashmap_count(action_names) >= ACTION_NAMES_MAX)
        return known;
    char *copy = strdup(action);
    if (!copy || hashmap_put(action_names, copy, copy) != PL_OK) {
        free(copy);
        return NULL;
    }
    return copy;
}

static void lru_unlink(struct msglog *l)
{
    if (l->lru_prev)
        l->lru_prev->lru_next = l->lru_next;
    else
        lru_head = l->lru_next;
    if (l->lru_next)
        l->lru_next->lru_prev = l->lru_prev;
    else
        lru_tail = l->lru_prev;
    l->lru_prev = l->lru_next = NULL;
}

static void lru_append(struct msglog *l)
{
    l->lru_prev = lru_tail;
    l->lru_next = NULL;
    if (lru_tail)
        lru_tail->lru_next = l;
    else
        lru_head = l;
    lru_tail = l;
}

/* Bumped whenever a ring is freed: a registry_log_ref from before is stale. */
static unsigned long ring_gen = 1;

static void msglog_free(struct msglog *l)
{
    ring_gen++;
    for (size_t i = 0; i < l->cap; i++)
        entry_clear(l, &l->e[i]);
    msglog_bytes -= l->cap * sizeof *l->e;
    free(l->e);
    free(l->id);
    free(l);
}

static struct msglog *msglog_get(const char *station_id, int create)
{
    if (msglog_cap < 0) {
        long n;
        if (core_config_int("core", "message_log", MSGLOG_DEFAULT, 0, 100000, &n) != PL_OK)
            n = MSGLOG_DEFAULT;
        msglog_cap = n;
        long mib;
        if (core_config_int("core", "message_log_memory", 64, 1, 1 << 20, &mib) != PL_OK)
            mib = 64;
        msglog_budget = (size_t)mib << 20;
    }
    if (!logs && !(logs = hashmap_new()))
        return NULL;
    struct msglog *l = hashmap_get(logs, station_id);
    if (l || !create || msglog_cap == 0)
        return l;
    while (hashmap_count(logs) >= MSGLOG_MAX_RINGS && lru_head) {
        struct msglog *old = lru_head;
        lru_unlink(old);
        hashmap_del(logs, old->id);
        msglog_free(old);
    }
    /* rings start small and grow to the configured size: most of 10,000 idle stations
     * never need 200 entries, and preallocating them cost ~20 KB per station */
    size_t first = msglog_cap < 4 ? (size_t)msglog_cap : 4;
    l = calloc(1, sizeof *l);
    if (!l || !(l->id = strdup(station_id)) || !(l->e = calloc(first, sizeof *l->e))) {
        if (l)
            free(l->id);
        free(l);
        return NULL;
    }
    l->cap = first;
    l->bytes = first * sizeof *l->e;
    msglog_bytes += l->bytes;
    if (hashmap_put(logs, l->id, l) != PL_OK) {
        msglog_free(l);
        return NULL;
    }
    lru_append(l);
    return l;
}

/* Index i (0 = oldest) of the ring. */
static struct msg_entry *msglog_at(struct msglog *l, size_t i)
{
    return &l->e[(l->head + l->cap - l->count + i) % l->cap];
}

/* A full ring below the configured size doubles (entries keep their order). */
static void msglog_grow(struct msglog *l)
{
    if (l->count < l->cap || l->cap >= (size_t)msglog_cap)
        return;
    size_t cap = l->cap * 2 > (size_t)msglog_cap ? (size_t)msglog_cap : l->cap * 2;
    size_t more = (cap - l->cap) * sizeof *l->e, rings = hashmap_count(logs);
    if (msglog_bytes + more > msglog_budget ||
        (rings > 1 && l->bytes > 2 * (msglog_budget / rings)))
        return; /* over the budget: the ring overwrites its oldest entry */
    struct msg_entry *e = calloc(cap, sizeof *e);
    if (!e)
        return; /* keep overwriting the oldest */
    for (size_t i = 0; i < l->count; i++)
        e[i] = *msglog_at(l, i);
    free(l->e);
    l->e = e;
    l->head = l->count;
    l->cap = cap;
    l->bytes += more;
    msglog_bytes += more;
}

/* Message type and id from the frame text without a JSON parse (hot path):
 * [2,"id",...  Returns 0 when the frame does not look like OCPP-J. */
static int scan_frame(const char *f, size_t len, int *type, char *id, size_t idlen)
{
    size_t i = 0;
    while (i < len && (f[i] == ' ' || f[i] == '\n' || f[i] == '\r' || f[i] == '\t'))
        i++;
    if (i >= len || f[i++] != '[')
        return 0;
    while (i < len && f[i] == ' ')
        i++;
    if (i >= len || f[i] < '2' || f[i] > '4')
        return 0;
    *type = f[i++] - '0';
    while (i < len && (f[i] == ' ' || f[i] == ','))
        i++;
    if (i >= len || f[i++] != '"')
        return 0;
    size_t n = 0;
    while (i < len && f[i] != '"' && f[i] != '\\' && n + 1 < idlen)
        id[n++] = f[i++];
    id[n] = '\0';
    return i < len && f[i] == '"';
}

/* The action of the CALL a result answers: the newest CALL with the same message
 * id that went the other way. */
static const char *msglog_call_action(struct msglog *l, const char *msgid, const char *dir)
{
    for (size_t i = l->count; i-- > 0;) {
        struct msg_entry *e = msglog_at(l, i);
        if (e->type == 2 && strcmp(e->msgid, msgid) == 0 && strcmp(e->dir, dir) != 0)
            return e->action;
    }
    return NULL;
}

void registry_log_message(const char *station_id, const char *dir, const char *action,
                          const char *frame, size_t len)
{
    registry_log_message_ref(NULL, station_id, dir, action, frame, len);
}

void registry_log_message_ref(struct registry_log_ref *ref, const char *station_id, const char *dir,
                              const char *action, const char *frame, size_t len)
{
    if (!station_id || !dir || !frame)
        return;
    struct msglog *l = ref && ref->ring && ref->gen == ring_gen ? ref->ring : msglog_get(station_id, 1);
    if (!l)
        return;
    if (ref) {
        ref->ring = l;
        ref->gen = ring_gen;
    }
    if (len >= UINT32_MAX)
        return;
    msglog_grow(l);
    /* over the budget: this ring's oldest messages make room (their frames go) */
    while (l->count > MSGLOG_MIN_KEPT && msglog_bytes + len + 1 > msglog_budget) {
        entry_clear(l, msglog_at(l, 0));
        l->count--;
    }
    struct msg_entry *e = &l->e[l->head];
    if (e->cap < len + 1) {
        char *buf = realloc(e->frame, len + 1);
        if (!buf)
            return;
        e->frame = buf;
        msglog_bytes += len + 1 - e->cap;
        l->bytes += len + 1 - e->cap;
        e->cap = (uint32_t)len + 1;
    }
    memcpy(e->frame, frame, len);
    e->frame[len] = '\0';
    e->len = (uint32_t)len;
    e->action = NULL;
    e->time_ms = core_wall_ms();
    if (strcmp(dir, "in") == 0)
        memcpy(e->dir, "in", 3);
    else
        memcpy(e->dir, "out", 4);
    json_t *j = NULL;
    if (!scan_frame(frame, len, &e->type, e->msgid, sizeof e->msgid)) {
        e->type = 0;
        e->msgid[0] = '\0';
    } else if (!action && e->type == 2) { /* rare: a CALL the layer did not name */
        j = json_loadb(frame, len, 0, NULL);
        action = json_string_value(json_array_get(j, 2));
    }
    if (action)
        e->action = intern_action(action);
    else if ((e->type == 3 || e->type == 4) && e->msgid[0])
        /* looked up before this entry joins the ring (it is not a CALL anyway) */
        e->action = msglog_call_action(l, e->msgid, e->dir);
    json_decref(j);
    l->head = (l->head + 1) % l->cap;
    if (l->count < l->cap)
        l->count++;
    lru_unlink(l);
    lru_append(l);
}

json_t *station_api_messages(const char *station_id, const char *action, const char *dir,
                             int limit)
{
    json_t *out = json_array();
    struct msglog *l = station_id ? msglog_get(station_id, 0) : NULL;
    if (!l)
        return out;
    size_t want = (limit <= 0 || (size_t)limit > l->count) ? l->count : (size_t)limit;
    size_t *idx = malloc((want ? want : 1) * sizeof *idx), n = 0;
    if (!idx)
        return out;
    for (size_t i = l->count; i-- > 0 && n < want;) {
        struct msg_entry *e = msglog_at(l, i);
        if (dir && *dir && strcmp(e->dir, dir) != 0)
            continue;
        if (action && *action && (!e->action || strcmp(e->action, action) != 0))
            continue;
        idx[n++] = i;
    }
    while (n-- > 0) { /* oldest first */
        struct msg_entry *e = msglog_at(l, idx[n]);
        json_t *frame = json_loadb(e->frame, e->len, 0, NULL);
        if (!frame)
            frame = json_stringn(e->frame, e->len);
        /* the ring keeps the frame as sent (cheap on the hot path); a read key must not
         * see the credentials an admin set (AuthorizationKey, BasicAuthPassword...) */
        util_redact_secrets(frame);
        char time[32];
        core_format_wall_ms(e->time_ms, time, sizeof time);
        json_array_append_new(out, json_pack("{s:s, s:s, s:o, s:o}", "time", time, "dir",
                                             e->dir, "action", str_or_null(e->action), "frame",
                                             frame ? frame : json_null()));
    }
    free(idx);
    return out;
}

/* ------------------------------------------------------------------------
 * Shutdown and the API table.
 * ---------------------------------------------------------------------- */
static void free_log(void *val, void *arg)
{
    (void)arg;
    msglog_free(val);
}

static void free_action_name(void *val, void *arg)
{
    (void)arg;
    free(val);
}

void registry_shutdown(void)
{
    command_shutdown();
    model_shutdown();
    while (all)
        station_free(all);
    hashmap_free(stations);
    stations = NULL;
    hashmap_foreach(logs, free_log, NULL);
    hashmap_free(logs);
    logs = NULL;
    hashmap_foreach(action_names, free_action_name, NULL);
    hashmap_free(action_names);
    action_names = NULL;
    lru_head = lru_tail = NULL;
    msglog_cap = -1;
    msglog_bytes = 0;
}

const struct pl_station_api *station_api(void)
{
    static const struct pl_station_api api = {
        .size = sizeof(struct pl_station_api),
        .attach = station_api_attach,
        .detach = station_api_detach,
        .find = station_api_find,
        .id = station_api_id,
        .protocol = station_api_protocol,
        .snapshot = station_api_snapshot,
        .online = station_api_online,
        .boot = station_api_boot,
        .seen = station_api_seen,
        .connector_status = station_api_connector_status,
        .tx_start = station_api_tx_start,
        .tx_update = station_api_tx_update,
        .tx_stop = station_api_tx_stop,
        .meter_values = station_api_meter_values,
        .authorize = station_api_authorize,
        .record = station_api_record,
        .put_doc = station_api_put_doc,
        .command = station_api_command,
        .command_id = station_api_command_id,
        .command_op = station_api_command_op,
        .command_args = station_api_command_args,
        .command_status = station_api_command_status,
        .command_result = station_api_command_result,
        .command_error = station_api_command_error,
        .command_set_error = station_api_command_set_error,
        .complete = station_api_complete,
        .command_json = station_api_command_json,
        .command_list = station_api_command_list,
        .op_name = station_api_op_name,
        .op_from_name = station_api_op_from_name,
        .messages = station_api_messages,
        .list_online = station_api_list_online,
        .meter_values_durable = station_api_meter_values_durable,
        .authorize_token = station_api_authorize_token,
    };
    return &api;
}
