/*
 * cost.c — the running cost told to the station (OCPP 2.0.1 use case I03, CostUpdated).
 * The core prices an active session again whenever its readings are committed and
 * publishes transaction.cost_updated; a 2.0.1 station connected here gets the new total
 * in a CostUpdated CALL, at most once per COST_INTERVAL_MS per transaction (meter values
 * may come every few seconds; a display needs no more).  The TransactionEvent answers
 * carry totalCost as well (handlers.c).  A station that answers CostUpdated with
 * NotImplemented or NotSupported is not sent another until it reconnects.
 * The tariff's text for the driver (its tariff_alt_text in the customer's language, which
 * the priced session carries) goes in the next TransactionEvent answer as
 * updatedPersonalMessage, once per text: the Started answer leaves before the session is
 * first priced, so the text comes with the first Updated (or the Ended) answer after it.
 */
#include "ocpp201.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COST_INTERVAL_MS 60000
#define COST_TRACKED_MAX 100000 /* transactions remembered; the oldest go first */

struct o201_cost_tx {
    char station[64], tx[64];
    uint64_t sent_ms;
    json_t *message;  /* the personal message not yet told, or NULL */
    char *told;       /* the content last told, so a repeat is not sent again */
    struct o201_cost_tx *next;
};

static void tx_free(struct o201_cost_tx *t)
{
    json_decref(t->message);
    free(t->told);
    free(t);
}

struct o201_cost_mute {
    char station[64];
    struct o201_cost_mute *next;
};

static struct o201_cost_tx *lookup_tx(struct o201 *p, const char *station, const char *tx, size_t *n)
{
    for (struct o201_cost_tx *t = p->cost_txs; t; t = t->next, ++*n)
        if (strcmp(t->station, station) == 0 && strcmp(t->tx, tx) == 0)
            return t;
    return NULL;
}

/* The transaction's entry, made if new. */
static struct o201_cost_tx *find_tx(struct o201 *p, const char *station, const char *tx)
{
    size_t n = 0;
    struct o201_cost_tx *found = lookup_tx(p, station, tx, &n);
    if (found)
        return found;
    if (n >= COST_TRACKED_MAX) { /* bounded: the oldest (last) goes */
        struct o201_cost_tx **pp = &p->cost_txs;
        while ((*pp)->next)
            pp = &(*pp)->next;
        tx_free(*pp);
        *pp = NULL;
    }
    struct o201_cost_tx *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    snprintf(t->station, sizeof t->station, "%s", station);
    snprintf(t->tx, sizeof t->tx, "%s", tx);
    t->next = p->cost_txs;
    p->cost_txs = t;
    return t;
}

static void forget_tx(struct o201 *p, const char *station, const char *tx)
{
    if (!tx)
        return;
    for (struct o201_cost_tx **pp = &p->cost_txs; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->station, station) == 0 && strcmp((*pp)->tx, tx) == 0) {
            struct o201_cost_tx *t = *pp;
            *pp = t->next;
            tx_free(t);
            return;
        }
}

static int muted(struct o201 *p, const char *station)
{
    for (struct o201_cost_mute *m = p->cost_muted; m; m = m->next)
        if (strcmp(m->station, station) == 0)
            return 1;
    return 0;
}

static void unmute(struct o201 *p, const char *station)
{
    for (struct o201_cost_mute **pp = &p->cost_muted; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->station, station) == 0) {
            struct o201_cost_mute *m = *pp;
            *pp = m->next;
            free(m);
            return;
        }
}

struct cost_call {
    struct o201 *p;
    char station[64];
};

static void on_answer(pl_command *cmd, void *arg)
{
    struct cost_call *c = arg;
    struct o201 *p = c->p;
    const char *err = p->st->command_error(cmd);
    if (p->st->command_status(cmd) == PL_CMD_FAILED && err &&
        (strstr(err, "NotImplemented") || strstr(err, "NotSupported")) && !muted(p, c->station)) {
        struct o201_cost_mute *m = calloc(1, sizeof *m);
        if (m) {
            snprintf(m->station, sizeof m->station, "%s", c->station);
            m->next = p->cost_muted;
            p->cost_muted = m;
            p->host->log(p->self, PL_LOG_INFO, "station %s does not take CostUpdated: not sent again until it reconnects",
                         c->station);
        }
    }
    free(c);
}

static void on_cost(const char *topic, json_t *env, void *arg)
{
    (void)topic;
    struct o201 *p = arg;
    json_t *d = json_object_get(env, "data");
    const char *station = json_string_value(json_object_get(env, "station"));
    const char *tx = json_string_value(json_object_get(d, "station_tx_id"));
    const char *total = json_string_value(json_object_get(json_object_get(d, "total"), "incl_vat"));
    pl_station *st = station ? p->st->find(station) : NULL;
    const char *proto = st ? p->st->protocol(st) : NULL;
    if (!st || !tx || !total || !proto || strcmp(proto, "ocpp2.0.1") != 0 || muted(p, station) ||
        strlen(station) >= 64 || strlen(tx) >= 64)
        return;
    struct o201_cost_tx *t = find_tx(p, station, tx);
    if (!t)
        return;
    json_t *msg = json_object_get(d, "personal_message");
    const char *content = json_string_value(json_object_get(msg, "content"));
    if (content && (!t->told || strcmp(t->told, content) != 0)) {
        json_decref(t->message);
        t->message = json_deep_copy(msg);
    }
    uint64_t now = p->host->now_ms();
    if (t->sent_ms && now - t->sent_ms < COST_INTERVAL_MS)
        return;
    struct cost_call *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->p = p;
    snprintf(c->station, sizeof c->station, "%s", station);
    /* totalCost is a JSON number: the decimal text as one (money stays exact in the
     * core; this is what the station displays) */
    json_t *args = json_pack("{s:s, s:{s:f, s:s}}", "action", "CostUpdated", "payload", "totalCost",
                             strtod(total, NULL), "transactionId", tx);
    int rc = 0;
    char err[160];
    if (!p->st->command(p->self, station, PL_OP_RAW_CALL, args, 30000, on_answer, c, &rc, err, sizeof err)) {
        free(c);
        return;
    }
    t->sent_ms = now;
}

json_t *o201_cost_message(struct o201 *p, const char *station, const char *tx)
{
    size_t n = 0;
    struct o201_cost_tx *t = station && tx ? lookup_tx(p, station, tx, &n) : NULL;
    json_t *m = t ? t->message : NULL;
    const char *content = json_string_value(json_object_get(m, "content"));
    if (!content)
        return NULL;
    free(t->told);
    t->told = strdup(content);
    t->message = NULL;
    return m;
}

static void on_tx_or_connection(const char *topic, json_t *env, void *arg)
{
    struct o201 *p = arg;
    const char *station = json_string_value(json_object_get(env, "station"));
    if (!station)
        return;
    if (strcmp(topic, "transaction.ended") == 0)
        forget_tx(p, station, json_string_value(json_object_get(json_object_get(env, "data"), "station_tx_id")));
    else if (strcmp(topic, "station.connected") == 0)
        unmute(p, station); /* another connection, perhaps another firmware */
}

void o201_cost_start(struct o201 *p)
{
    if (!p->host->bus_subscribe)
        return;
    p->cost_sub = p->host->bus_subscribe(p->self, "transaction.cost_updated", on_cost, p);
    p->cost_end_sub = p->host->bus_subscribe(p->self, "transaction.ended", on_tx_or_connection, p);
    p->cost_conn_sub = p->host->bus_subscribe(p->self, "station.connected", on_tx_or_connection, p);
}

void o201_cost_stop(struct o201 *p)
{
    if (p->host->bus_unsubscribe) {
        p->host->bus_unsubscribe(p->cost_sub);
        p->host->bus_unsubscribe(p->cost_end_sub);
        p->host->bus_unsubscribe(p->cost_conn_sub);
    }
    p->cost_sub = p->cost_end_sub = p->cost_conn_sub = NULL;
    while (p->cost_txs) {
        struct o201_cost_tx *t = p->cost_txs;
        p->cost_txs = t->next;
        tx_free(t);
    }
    while (p->cost_muted) {
        struct o201_cost_mute *m = p->cost_muted;
        p->cost_muted = m->next;
        free(m);
    }
}
