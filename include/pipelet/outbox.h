/*
 * pipelet/outbox.h — the durable outbox (ABI 1.2): messages a plugin must deliver to
 * somebody else (a roaming hub, a receiver) are rows in PostgreSQL before anything is
 * sent, so a restart or a database outage loses none of them.
 *
 * A plugin registers a sender for its queue (a name of its own: "oicp"), then enqueues
 * messages.  The core polls the due rows of each queue, hands each to the sender, and
 * records what the sender said: delivered, try again later (back-off doubling from
 * base_delay_ms to max_delay_ms, for as long as it takes unless max_attempts is set), or
 * failed for good (the row stays, listed and retried by hand).  Rows of one key (a
 * session, a station) go one at a time, in (rank, id) order, so "start" goes before
 * "end" whatever order their inserts committed in; a dedupe name makes a row exist once
 * per queue (a CDR per session).
 *
 * Ownership follows pipelet/plugin.h: a sender belongs to the plugin that registered it
 * and is removed with it; rows stay in the table and go out when a sender is back.
 */
#ifndef PIPELET_OUTBOX_H
#define PIPELET_OUTBOX_H

#include <pipelet/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pl_outbox_delivery pl_outbox_delivery;

/* One row handed to a sender; borrowed for the deliver call. */
struct pl_outbox_item {
    uint32_t size;
    long long id;
    const char *kind;
    const char *key;
    json_t *body;
    int attempts;      /* tries before this one */
};

enum pl_outbox_verdict {
    PL_OUTBOX_DELIVERED = 1, /* acknowledged: the row is done */
    PL_OUTBOX_RETRY = 2,     /* not now (no answer, a 5xx, the hub's own error) */
    PL_OUTBOX_FAILED = 3,    /* refused for good (a retry cannot change it) */
};

struct pl_outbox_sender {
    uint32_t size;           /* sizeof(struct pl_outbox_sender) */
    const char *queue;       /* [a-z0-9_]+, one sender per queue */
    /* Deliver it; answer with outbox->done(d, ...) exactly once, now or later. */
    void (*deliver)(void *arg, const struct pl_outbox_item *item, pl_outbox_delivery *d);
    void *arg;
    unsigned max_inflight;   /* rows handed out at once (0: 20) */
    unsigned base_delay_ms;  /* first retry (0: 5000) */
    unsigned max_delay_ms;   /* longest wait (0: 600000) */
    unsigned max_attempts;   /* tries before failed (0: no limit) */
};

/* Committed (ok = 1, id set; a dedupe name already queued counts as committed, id 0) or not
 * stored after the core's own retries (ok = 0). */
typedef void (*pl_outbox_queued_cb)(void *arg, int ok, long long id);

struct pl_outbox_api {
    uint32_t size;
    /* PL_EEXIST when the queue has a sender; the sender struct is copied */
    int (*register_sender)(pl_plugin_handle *self, const struct pl_outbox_sender *s);
    /* Queue body (stolen) on queue.  key: rows of one key go in order (NULL: ""); rank:
     * their order within the key; dedupe: NULL, or a name the row has once per queue.
     * The core holds the row in memory and writes it again while the database is away
     * (bounded); cb (may be NULL) once it is committed or given up. */
    void (*enqueue)(pl_plugin_handle *self, const char *queue, const char *kind, const char *key, int rank,
                    const char *dedupe, json_t *body, pl_outbox_queued_cb cb, void *arg);
    /* The sender's answer for d.  http_status/code/error are recorded with the row
     * (0 / NULL when none). */
    void (*done)(pl_outbox_delivery *d, int verdict, int http_status, const char *code, const char *error);
    /* Look for due rows now (after an enqueue that should go at once). */
    void (*kick)(const char *queue);
    /* Rows of a queue, newest first: status NULL or "pending"|"sent"|"failed", limit 1..500.
     * cb gets an array of {"id","kind","key","status","attempts","last_status","last_code",
     * "last_error","body","next_attempt_at","created_at","completed_at"} (borrowed), or NULL
     * when the database did not answer. */
    void (*list)(const char *queue, const char *status, int limit, void (*cb)(void *arg, json_t *rows),
                 void *arg);
    /* A failed row back to pending, due now: cb gets the row, or NULL when no failed row has
     * that id (or the database did not answer: *error set). */
    void (*retry)(const char *queue, long long id, void (*cb)(void *arg, json_t *row, const char *error),
                  void *arg);
};

#ifdef __cplusplus
}
#endif
#endif
