/*
 * outbox.c — charging notifications and charge detail records, sent to Hubject until
 * acknowledged.
 *
 * Each one is a row of oicp_outbox before it is sent, so a restart loses nothing: rows
 * still pending are sent after it.  A CDR is made from the tables (the session, its
 * transaction and the billing CDR), not from an event, so a gateway that stopped between
 * a transaction's end and queuing its CDR queues it at the next start.  Within a session
 * rows go in order (Start before End before the CDR); an answer with Result false and a
 * code that will not change on a retry (data, session or EVSE errors) ends the row as
 * failed; anything else (no answer, HTTP errors, Hubject's own system errors) is
 * retried with back-off doubling from 5 s to [oicp] retry_max_delay_s, for as long as
 * it takes.
 */
#include "oicp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MS 1000
/* A session's rows go in this order, whatever order their inserts committed in (they
 * may run on different connections of the pool). */
#define KIND_RANK(k) \
    "(CASE " k " WHEN 'start' THEN 1 WHEN 'progress' THEN 2 WHEN 'error' THEN 2 WHEN 'end' THEN 3 ELSE 4 END)"
#define BATCH 20
#define INSERT_TRIES 30

/* Codes that say the row itself is wrong: sending it again cannot succeed. */
static int final_refusal(const char *code)
{
    static const char *const codes[] = {"018", "019", "022", "400", "603", "604"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(code, codes[i]) == 0)
            return 1;
    return 0;
}

/* ---------- queuing ---------- */

struct oicp_outbox_add {
    struct oicp_outbox_add *next; /* in o->adds while a write or a retry is pending */
    struct oicp *o;
    char kind[16];
    char session_id[37];
    char *body;
    int tries;
    pl_timer *retry;
};

static void add_free(struct oicp_outbox_add *a)
{
    for (struct oicp_outbox_add **pp = &a->o->adds; *pp; pp = &(*pp)->next)
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    a->o->host->timer_free(a->retry);
    free(a->body);
    free(a);
}

static void add_write(struct oicp_outbox_add *a);

static void on_add_retry(void *arg)
{
    add_write(arg);
}

static void on_added(pl_db_result *res, void *arg)
{
    struct oicp_outbox_add *a = arg;
    struct oicp *o = a->o;
    const struct pl_host *h = o->host;
    if (res && h->db_ok(res)) {
        oicp_outbox_kick(o);
        add_free(a);
        return;
    }
    if (++a->tries >= INSERT_TRIES || o->stopping) {
        h->log(o->self, PL_LOG_ERROR, "the %s notification of session %s could not be queued: %s", a->kind,
               a->session_id, res ? h->db_error(res) : "the database queue is full");
        h->metric_add("pipelet_oicp_outbox_lost_total", 1);
        add_free(a);
        return;
    }
    if (!a->retry)
        a->retry = h->timer_new(o->self, on_add_retry, a);
    if (a->retry)
        h->timer_start(a->retry, 2000, 0);
    else
        add_free(a);
}

static void add_write(struct oicp_outbox_add *a)
{
    struct oicp *o = a->o;
    const char *params[] = {a->kind, a->session_id, a->body};
    if (o->host->db_query(o->self,
                          "INSERT INTO oicp_outbox (kind, session_id, body) VALUES ($1, $2::uuid, $3::jsonb) "
                          "ON CONFLICT (session_id, kind) WHERE kind IN ('start','end','cdr') DO NOTHING",
                          3, params, on_added, a) != PL_OK)
        on_added(NULL, a);
}

void oicp_outbox_add(struct oicp *o, const char *kind, const char *session_id, json_t *body)
{
    struct oicp_outbox_add *a = calloc(1, sizeof *a);
    if (!a || !(a->body = json_dumps(body, JSON_COMPACT))) {
        free(a);
        json_decref(body);
        return;
    }
    json_decref(body);
    a->o = o;
    a->next = o->adds;
    o->adds = a;
    snprintf(a->kind, sizeof a->kind, "%s", kind);
    snprintf(a->session_id, sizeof a->session_id, "%s", session_id);
    add_write(a);
}

#define TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static void on_cdrs_queued(pl_db_result *res, void *arg)
{
    struct oicp *o = arg;
    const struct pl_host *h = o->host;
    if (!h->db_ok(res)) {
        h->log(o->self, PL_LOG_WARN, "queuing CDRs failed (%s); they are queued at the next start",
               h->db_error(res));
        return;
    }
    if (h->db_ntuples(res) > 0) {
        h->log(o->self, PL_LOG_INFO, "%d CDRs queued for Hubject", h->db_ntuples(res));
        oicp_outbox_kick(o);
    }
}

void oicp_outbox_enqueue_cdrs(struct oicp *o, long long tx_id, const char *session_id)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", tx_id);
    const char *params[] = {tx_id ? id : NULL, session_id};
    o->host->db_query(o->self,
                      "INSERT INTO oicp_outbox (kind, session_id, body) "
                      "SELECT 'cdr', s.id, jsonb_strip_nulls(jsonb_build_object("
                      "'SessionID', s.id, 'CPOPartnerSessionID', s.cpo_partner_session_id, "
                      "'EMPPartnerSessionID', s.emp_partner_session_id, 'PartnerProductID', s.partner_product_id, "
                      "'EvseID', s.evse_id, 'Identification', s.identification, "
                      "'ChargingStart', " TS("t.started_at") ", 'ChargingEnd', " TS("t.stopped_at") ", "
                      "'SessionStart', " TS("least(s.created_at, t.started_at)") ", "
                      "'SessionEnd', " TS("t.stopped_at") ", "
                      "'MeterValueStart', round((t.meter_start / 1000)::numeric, 3), "
                      "'MeterValueEnd', round((t.meter_stop / 1000)::numeric, 3), "
                      "'ConsumedEnergy', round((greatest(0, coalesce(c.energy_wh, t.meter_stop - t.meter_start, 0)) "
                      "/ 1000.0)::numeric, 3))) "
                      "FROM oicp_sessions s JOIN transactions t ON t.id = coalesce($1::bigint, s.transaction_id) "
                      "LEFT JOIN cdrs c ON c.transaction_id = t.id "
                      "WHERE t.stopped_at IS NOT NULL AND ($2::uuid IS NULL OR s.id = $2::uuid) "
                      "AND NOT EXISTS (SELECT 1 FROM oicp_outbox x WHERE x.session_id = s.id AND x.kind = 'cdr') "
                      "ON CONFLICT (session_id, kind) WHERE kind IN ('start','end','cdr') DO NOTHING RETURNING id",
                      2, params, on_cdrs_queued, o);
}

/* ---------- sending ---------- */

struct send {
    struct oicp *o;
    long long id;
    char kind[16];
    char session_id[37];
    int attempts;
};

static void inflight_del(struct oicp *o, long long id)
{
    for (size_t i = 0; i < o->noutbox_inflight; i++)
        if (o->outbox_inflight[i] == id) {
            o->outbox_inflight[i] = o->outbox_inflight[--o->noutbox_inflight];
            return;
        }
}

static void on_recorded(pl_db_result *res, void *arg)
{
    struct send *s = arg;
    struct oicp *o = s->o;
    if (!o->host->db_ok(res))
        /* the row stays pending and is sent again: Hubject takes a repeated CDR or
         * notification of a session as the same one */
        o->host->log(o->self, PL_LOG_WARN, "recording the answer to outbox row %lld failed: %s", s->id,
                     o->host->db_error(res));
    inflight_del(o, s->id);
    free(s);
}

static void on_sent(struct oicp *o, int http_status, json_t *resp, const char *error, void *arg)
{
    struct send *s = arg;
    const struct pl_host *h = o->host;
    const char *code = "";
    int result = oicp_ack_result(resp, &code);
    const char *state = result == 1 ? "sent" : result == 0 && final_refusal(code) ? "failed" : "pending";
    long delay = 5;
    for (int i = 1; i < s->attempts && delay < o->retry_max_delay_s; i++)
        delay *= 2;
    if (delay > o->retry_max_delay_s)
        delay = o->retry_max_delay_s;
    char id[32], st[16], dl[32];
    snprintf(id, sizeof id, "%lld", s->id);
    snprintf(st, sizeof st, "%d", http_status);
    snprintf(dl, sizeof dl, "%ld", delay);
    const char *desc = json_string_value(json_object_get(json_object_get(resp, "StatusCode"), "Description"));
    const char *params[] = {id, state, st, *code ? code : NULL, error ? error : desc, dl};
    if (h->db_query(o->self,
                    "UPDATE oicp_outbox SET status = $2, attempts = attempts + 1, last_http_status = $3::int, "
                    "last_code = $4, last_error = $5, next_attempt_at = now() + make_interval(secs => $6::int), "
                    "completed_at = CASE WHEN $2 <> 'pending' THEN now() END WHERE id = $1::bigint",
                    6, params, on_recorded, s) != PL_OK) {
        inflight_del(o, s->id);
        free(s);
    }
    if (strcmp(state, "pending") != 0) {
        char topic[40];
        snprintf(topic, sizeof topic, "oicp.%s.%s", strcmp(s->kind, "cdr") == 0 ? "cdr" : "notification", state);
        h->bus_publish(o->self, topic, NULL,
                       json_pack("{s:I, s:s, s:s, s:s?}", "outbox_id", (json_int_t)s->id, "kind", s->kind,
                                 "session_id", s->session_id, "code", *code ? code : NULL));
    }
    if (strcmp(state, "failed") == 0)
        h->log(o->self, PL_LOG_ERROR, "Hubject refused the %s of session %s for good: code %s%s%s", s->kind,
               s->session_id, code, desc ? ", " : "", desc ? desc : "");
}

static void on_due(pl_db_result *res, void *arg)
{
    struct oicp *o = arg;
    const struct pl_host *h = o->host;
    o->outbox_polling = 0;
    if (!h->db_ok(res)) {
        h->log(o->self, PL_LOG_DEBUG, "outbox poll failed: %s", h->db_error(res));
        return;
    }
    for (int i = 0; i < h->db_ntuples(res) && !o->stopping; i++) {
        struct send *s = calloc(1, sizeof *s);
        long long *grown = realloc(o->outbox_inflight, (o->noutbox_inflight + 1) * sizeof *grown);
        json_t *body = json_loads(h->db_value(res, i, 2) ?: "null", 0, NULL);
        if (!s || !grown || !body) {
            free(s);
            if (grown)
                o->outbox_inflight = grown;
            json_decref(body);
            break;
        }
        o->outbox_inflight = grown;
        s->o = o;
        s->id = atoll(h->db_value(res, i, 0));
        snprintf(s->kind, sizeof s->kind, "%s", h->db_value(res, i, 1) ?: "");
        snprintf(s->session_id, sizeof s->session_id, "%s", h->db_value(res, i, 3) ?: "");
        s->attempts = atoi(h->db_value(res, i, 4) ?: "0") + 1;
        o->outbox_inflight[o->noutbox_inflight++] = s->id;
        enum oicp_op op = strcmp(s->kind, "cdr") == 0 ? OICP_CDR : OICP_CHARGING_NOTIFICATION;
        if (oicp_hub_call(o, op, body, 0, on_sent, s) != PL_OK) {
            inflight_del(o, s->id);
            free(s);
        }
    }
    if (o->outbox_kick) {
        o->outbox_kick = 0;
        h->timer_start(o->outbox_timer, 50, 0);
    }
}

static void poll_due(struct oicp *o)
{
    const struct pl_host *h = o->host;
    if (o->outbox_polling || o->stopping || !o->enabled)
        return;
    /* rows in flight are left out: their answer has not been recorded yet */
    size_t cap = 3 + o->noutbox_inflight * 21; /* "{", ids and commas, "}", NUL */
    char *ids = malloc(cap), *p = ids;
    if (!ids)
        return;
    p += snprintf(p, cap, "{");
    for (size_t i = 0; i < o->noutbox_inflight; i++)
        p += snprintf(p, cap - (size_t)(p - ids), "%s%lld", i ? "," : "", o->outbox_inflight[i]);
    snprintf(p, cap - (size_t)(p - ids), "}");
    char limit[16];
    snprintf(limit, sizeof limit, "%d", BATCH);
    const char *params[] = {ids, limit};
    o->outbox_polling = 1;
    if (h->db_query(o->self,
                    "SELECT o.id, o.kind, o.body, o.session_id, o.attempts FROM oicp_outbox o "
                    "WHERE o.status = 'pending' AND o.next_attempt_at <= now() AND NOT (o.id = ANY($1::bigint[])) "
                    "AND NOT EXISTS (SELECT 1 FROM oicp_outbox p WHERE p.session_id = o.session_id "
                    "AND p.status = 'pending' AND (" KIND_RANK("p.kind") ", p.id) < (" KIND_RANK("o.kind")
                    ", o.id)) ORDER BY o.id LIMIT $2::int",
                    2, params, on_due, o) != PL_OK)
        o->outbox_polling = 0;
    free(ids);
}

static void on_outbox_timer(void *arg)
{
    poll_due(arg);
}

void oicp_outbox_kick(struct oicp *o)
{
    if (o->outbox_polling)
        o->outbox_kick = 1;
    else if (o->outbox_timer)
        o->host->timer_start(o->outbox_timer, 0, 0);
}

static void on_every_second(void *arg)
{
    poll_due(arg);
}

int oicp_outbox_start(struct oicp *o)
{
    const struct pl_host *h = o->host;
    o->outbox_timer = h->timer_new(o->self, on_outbox_timer, o);
    pl_timer *tick = h->timer_new(o->self, on_every_second, o);
    if (!o->outbox_timer || !tick)
        return PL_ENOMEM;
    /* the tick lives as long as the plugin: the host frees it after fini */
    h->timer_start(tick, POLL_MS, 1);
    return PL_OK;
}

void oicp_outbox_free(struct oicp *o)
{
    while (o->adds)
        add_free(o->adds);
    o->host->timer_free(o->outbox_timer);
    o->outbox_timer = NULL;
    free(o->outbox_inflight);
    o->outbox_inflight = NULL;
    o->noutbox_inflight = 0;
}
