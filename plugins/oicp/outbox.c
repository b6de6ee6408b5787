/*
 * outbox.c — charging notifications and charge detail records for Hubject, delivered
 * through the core's durable outbox (pipelet/outbox.h), queue "oicp".
 *
 * Every row is written before it is sent, so a restart loses nothing; the rows of a
 * session (its key) go one at a time, Start before End before the CDR (their rank),
 * whatever order their inserts committed in; Start, End and the CDR exist once per
 * session (dedupe).  A CDR is made from the tables (the session, its transaction and the
 * billing CDR), not from an event, so a gateway that stopped between a transaction's end
 * and queuing its CDR queues it at the next start.  An answer with Result false and a
 * code that will not change on a retry (data, session or EVSE errors) ends the row as
 * failed; anything else (no answer, HTTP errors, Hubject's own system errors) is retried
 * with back-off from 5 s to [oicp] retry_max_delay_s, for as long as it takes.
 */
#include "oicp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE "oicp"

/* Codes that say the row itself is wrong: sending it again cannot succeed. */
static int final_refusal(const char *code)
{
    static const char *const codes[] = {"018", "019", "022", "400", "603", "604"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(code, codes[i]) == 0)
            return 1;
    return 0;
}

/* A session's rows in this order. */
static int kind_rank(const char *kind)
{
    return !strcmp(kind, "start") ? 1 : !strcmp(kind, "end") ? 3 : !strcmp(kind, "cdr") ? 4 : 2;
}

void oicp_outbox_add(struct oicp *o, const char *kind, const char *session_id, json_t *body)
{
    char dedupe[64];
    int once = !strcmp(kind, "start") || !strcmp(kind, "end") || !strcmp(kind, "cdr");
    snprintf(dedupe, sizeof dedupe, "%s:%s", kind, session_id);
    o->host->outbox->enqueue(o->self, QUEUE, kind, session_id, kind_rank(kind), once ? dedupe : NULL, body,
                             NULL, NULL);
}

void oicp_outbox_kick(struct oicp *o)
{
    o->host->outbox->kick(QUEUE);
}

/* ---------- CDRs from the tables ---------- */

#define TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static void on_cdrs(pl_db_result *res, void *arg)
{
    struct oicp *o = arg;
    const struct pl_host *h = o->host;
    if (!h->db_ok(res)) {
        h->log(o->self, PL_LOG_WARN, "reading CDRs to queue failed (%s); they are queued at the next start",
               h->db_error(res));
        return;
    }
    for (int i = 0; i < h->db_ntuples(res); i++) {
        json_t *body = json_loads(h->db_value(res, i, 1) ?: "null", 0, NULL);
        if (body)
            oicp_outbox_add(o, "cdr", h->db_value(res, i, 0), body);
    }
    if (h->db_ntuples(res) > 0)
        h->log(o->self, PL_LOG_INFO, "%d CDRs queued for Hubject", h->db_ntuples(res));
}

void oicp_outbox_enqueue_cdrs(struct oicp *o, long long tx_id, const char *session_id)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", tx_id);
    const char *params[] = {tx_id ? id : NULL, session_id};
    /* the core's outbox table is read for what is queued already (pipelet/outbox.h) */
    o->host->db_query(o->self,
                      "SELECT s.id, jsonb_strip_nulls(jsonb_build_object("
                      "'SessionID', s.id, 'CPOPartnerSessionID', s.cpo_partner_session_id, "
                      "'EMPPartnerSessionID', s.emp_partner_session_id, 'PartnerProductID', s.partner_product_id, "
                      "'EvseID', s.evse_id, 'Identification', s.identification, "
                      "'ChargingStart', " TS("t.started_at") ", 'ChargingEnd', " TS("t.stopped_at") ", "
                      "'SessionStart', " TS("least(s.created_at, t.started_at)") ", "
                      "'SessionEnd', " TS("t.stopped_at") ", "
                      "'MeterValueStart', round((t.meter_start / 1000)::numeric, 3), "
                      "'MeterValueEnd', round((t.meter_stop / 1000)::numeric, 3), "
                      "'ConsumedEnergy', round((greatest(0, coalesce(c.energy_wh, t.meter_stop - t.meter_start, 0)) "
                      "/ 1000.0)::numeric, 3), "
                      /* the station's signed readings, as the transparency software reads them:
                       * at most 10 (the specification's limit), start and end kept first */
                      "'SignedMeteringValues', (SELECT jsonb_agg(jsonb_build_object('SignedMeteringValue', "
                      "e->'signed'->>'signedMeterData', 'MeteringStatus', CASE e->>'context' "
                      "WHEN 'Transaction.Begin' THEN 'Start' WHEN 'Transaction.End' THEN 'End' ELSE 'Progress' END) "
                      "ORDER BY n) FROM (SELECT e, n FROM jsonb_array_elements(c.signed_meter_values) WITH ORDINALITY "
                      "AS a(e, n) WHERE e->'signed'->>'signedMeterData' IS NOT NULL ORDER BY CASE e->>'context' "
                      "WHEN 'Transaction.Begin' THEN 0 WHEN 'Transaction.End' THEN 0 ELSE 1 END, n LIMIT 10) y))) "
                      "FROM oicp_sessions s JOIN transactions t ON t.id = coalesce($1::bigint, s.transaction_id) "
                      "LEFT JOIN cdrs c ON c.transaction_id = t.id "
                      "WHERE t.stopped_at IS NOT NULL AND ($2::uuid IS NULL OR s.id = $2::uuid) "
                      "AND NOT EXISTS (SELECT 1 FROM outbox x WHERE x.queue = 'oicp' AND x.dedupe = 'cdr:' || s.id)",
                      2, params, on_cdrs, o);
}

/* ---------- delivering ---------- */

struct send {
    struct oicp *o;
    pl_outbox_delivery *d;
    char kind[16];
    char session_id[64];
    long long id;
};

static void on_sent(struct oicp *o, int http_status, json_t *resp, const char *error, void *arg)
{
    struct send *s = arg;
    const struct pl_host *h = o->host;
    const char *code = "";
    int result = oicp_ack_result(resp, &code);
    int verdict = result == 1 ? PL_OUTBOX_DELIVERED : result == 0 && final_refusal(code) ? PL_OUTBOX_FAILED
                                                                                         : PL_OUTBOX_RETRY;
    const char *desc = json_string_value(json_object_get(json_object_get(resp, "StatusCode"), "Description"));
    if (verdict != PL_OUTBOX_RETRY) {
        char topic[40];
        snprintf(topic, sizeof topic, "oicp.%s.%s", strcmp(s->kind, "cdr") == 0 ? "cdr" : "notification",
                 verdict == PL_OUTBOX_DELIVERED ? "sent" : "failed");
        h->bus_publish(o->self, topic, NULL,
                       json_pack("{s:I, s:s, s:s, s:s?}", "outbox_id", (json_int_t)s->id, "kind", s->kind,
                                 "session_id", s->session_id, "code", *code ? code : NULL));
    }
    if (verdict == PL_OUTBOX_FAILED)
        h->log(o->self, PL_LOG_ERROR, "Hubject refused the %s of session %s for good: code %s%s%s", s->kind,
               s->session_id, code, desc ? ", " : "", desc ? desc : "");
    h->outbox->done(s->d, verdict, http_status, code, error ? error : desc);
    free(s);
}

static void deliver(void *arg, const struct pl_outbox_item *item, pl_outbox_delivery *d)
{
    struct oicp *o = arg;
    struct send *s = calloc(1, sizeof *s);
    if (!s || o->stopping) {
        free(s);
        o->host->outbox->done(d, PL_OUTBOX_RETRY, 0, NULL, o->stopping ? "stopping" : "out of memory");
        return;
    }
    *s = (struct send){.o = o, .d = d, .id = item->id};
    snprintf(s->kind, sizeof s->kind, "%s", item->kind);
    snprintf(s->session_id, sizeof s->session_id, "%s", item->key);
    enum oicp_op op = strcmp(item->kind, "cdr") == 0 ? OICP_CDR : OICP_CHARGING_NOTIFICATION;
    if (oicp_hub_call(o, op, json_incref(item->body), 0, on_sent, s) != PL_OK) {
        free(s);
        o->host->outbox->done(d, PL_OUTBOX_RETRY, 0, NULL, "the call could not be made");
    }
}

int oicp_outbox_start(struct oicp *o)
{
    struct pl_outbox_sender sender = {.size = sizeof sender, .queue = QUEUE, .deliver = deliver, .arg = o,
                                      .max_inflight = 20, .base_delay_ms = 5000,
                                      .max_delay_ms = (unsigned)o->retry_max_delay_s * 1000};
    return o->host->outbox->register_sender(o->self, &sender);
}
