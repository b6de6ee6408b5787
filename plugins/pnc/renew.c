/*
 * renew.c — SECC certificates near their end: reported and renewed.
 *
 * Every SECC certificate the plugin signs is kept in the model (station document
 * pnc/V2GCertificate: subject, serial, not_after).  Every [pnc] secc_check_s the ones
 * ending within [pnc] secc_renew_days are reported (event pnc.secc.expiring, gauge
 * pipelet_pnc_secc_expiring) and, when their station is connected, renewed the
 * protocol's way: TriggerMessage SignV2GCertificate (2.0.1; 1.6 inside the Plug & Charge
 * DataTransfer), at most once a day per station.  The station's new CSR is signed as any
 * other, which replaces the document.
 */
#include "pnc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRIGGER_MS (24ULL * 3600 * 1000)

struct pnc_asked {
    struct pnc_asked *next;
    char station[64];
    uint64_t at_ms;
};

/* 1 when the station was asked within the last day (else it is now). */
static int asked_recently(struct pnc *p, const char *station)
{
    uint64_t now = p->host->now_ms();
    for (struct pnc_asked *a = p->asked; a; a = a->next)
        if (strcmp(a->station, station) == 0) {
            if (now - a->at_ms < RETRIGGER_MS)
                return 1;
            a->at_ms = now;
            return 0;
        }
    struct pnc_asked *a = calloc(1, sizeof *a);
    if (a) {
        snprintf(a->station, sizeof a->station, "%s", station);
        a->at_ms = now;
        a->next = p->asked;
        p->asked = a;
    }
    return 0;
}

static void trigger(struct pnc *p, const char *station)
{
    const struct pl_host *h = p->host;
    pl_station *st = h->stations->find(station);
    if (!st || !h->stations->online(station) || asked_recently(p, station))
        return;
    int op;
    json_t *args = pnc_station_args(p, st, "TriggerMessage",
                                    json_pack("{s:s}", "requestedMessage", "SignV2GCertificate"), 0, &op);
    int rc = 0;
    char err[160] = "";
    if (h->stations->command(p->self, station, op, args, 30000, NULL, NULL, &rc, err, sizeof err))
        h->log(p->self, PL_LOG_INFO, "station %s: its SECC certificate ends soon, renewal triggered", station);
    else
        h->log(p->self, PL_LOG_WARN, "station %s: SECC renewal not sent: %s", station, err);
}

static void on_expiring(pl_db_result *res, void *arg)
{
    struct pnc *p = arg;
    const struct pl_host *h = p->host;
    if (!h->db_ok(res))
        return; /* the next check tries again */
    int n = h->db_ntuples(res);
    h->metric_set("pipelet_pnc_secc_expiring", n);
    for (int i = 0; i < n; i++) {
        const char *station = h->db_value(res, i, 0), *not_after = h->db_value(res, i, 1);
        long days = atol(h->db_value(res, i, 2) ?: "0");
        h->bus_publish(p->self, "pnc.secc.expiring", station,
                       json_pack("{s:s, s:s?, s:i}", "station_id", station, "not_after", not_after, "days_left",
                                 (int)(days < 0 ? 0 : days)));
        trigger(p, station);
    }
}

static void on_check(void *arg)
{
    struct pnc *p = arg;
    char days[16];
    snprintf(days, sizeof days, "%ld", p->secc_renew_days);
    const char *params[] = {days};
    p->host->db_query(p->self,
                      "SELECT station_id, value->>'not_after', floor(extract(epoch FROM "
                      "(value->>'not_after')::timestamptz - now()) / 86400)::bigint FROM station_docs "
                      "WHERE kind = 'pnc' AND key = 'V2GCertificate' "
                      "AND (value->>'not_after')::timestamptz < now() + make_interval(days => $1::int)",
                      1, params, on_expiring, p);
}

/* The certificate just signed for a station, kept for the check. */
void pnc_renew_record(struct pnc *p, const char *station_id, json_t *cert)
{
    pl_station *st = p->host->stations->find(station_id);
    if (st)
        p->host->stations->put_doc(st, "pnc", "V2GCertificate", json_incref(cert));
}

int pnc_renew_start(struct pnc *p)
{
    if (!p->cpo_cert || p->secc_renew_days <= 0)
        return PL_OK;
    pl_timer *t = p->host->timer_new(p->self, on_check, p); /* the host frees it after fini */
    if (!t)
        return PL_ENOMEM;
    p->host->timer_start(t, (uint64_t)p->secc_check_s * 1000, 1);
    return PL_OK;
}

void pnc_renew_free(struct pnc *p)
{
    while (p->asked) {
        struct pnc_asked *n = p->asked->next;
        free(p->asked);
        p->asked = n;
    }
}
