/*
 * webhooks.h — shared state of the webhooks plugin: subscriptions cached in memory
 * (the database is the truth), the outbox writer and the delivery engine.
 */
#ifndef WEBHOOKS_H
#define WEBHOOKS_H

#include <pipelet/pipelet.h>

struct wh_sub {
    char id[37];
    char **events;      /* patterns: "transaction.*", "*", exact */
    size_t nevents;
    char **stations;    /* empty = all stations */
    size_t nstations;
    struct wh_sub *next;
};

struct wh {
    const struct pl_host *host;
    pl_plugin_handle *self;
    pl_subscription *bus;
    pl_timer *tick;
    struct wh_sub *subs;        /* enabled subscriptions, refreshed after every change */
    int subs_loaded;
    /* settings */
    long max_attempts, base_delay_ms, max_delay_ms, timeout_ms, per_receiver, disable_after;
    long batch;
    const char *ca_file;
    /* delivery engine */
    long inflight;              /* total requests in flight */
    struct wh_inflight *inflight_list;
    int polling;                /* a poll query is outstanding */
    /* deliveries whose attempt was recorded while that poll was outstanding: its
     * snapshot may still show them pending, so its answer must not start them again */
    long long *settled;
    size_t nsettled, settled_cap;
    int kick;                   /* new work arrived while polling */
    int stopping;
    /* outbox writes: one INSERT in flight at a time, so ids follow publish order */
    json_t *outbox_pending;     /* rows waiting for the next INSERT */
    int outbox_writing;
};

/* delivery.c */
int wh_delivery_start(struct wh *w);
void wh_delivery_stop(struct wh *w);
void wh_outbox_on_event(const char *topic, json_t *env, void *arg);
void wh_delivery_kick(struct wh *w);
void wh_outbox_free(struct wh *w);
/* Sign: hex HMAC-SHA256(secret, timestamp "." body) into out (65 bytes). */
void wh_sign(const char *secret, const char *timestamp, const char *body, size_t len,
             char out[65]);
/* Send a webhook.test now; cb gets status/latency. */
typedef void (*wh_test_cb)(void *arg, const struct pl_http_response *resp,
                           const char *event_id);
int wh_send_test(struct wh *w, json_t *row, wh_test_cb cb, void *arg);

/* subs.c-ish helpers in webhooks.c */
void wh_reload_subs(struct wh *w);
int wh_topic_match(const char *pattern, const char *topic);

#endif
