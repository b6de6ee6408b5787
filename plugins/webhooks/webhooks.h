/*
 * webhooks.h — shared state of the webhooks plugin: subscriptions cached in memory
 * (the database is the truth), the outbox writer and the delivery engine.
 */
#ifndef WEBHOOKS_H
#define WEBHOOKS_H

#include <pipelet/pipelet.h>

/* openapi.json, embedded at build time (scripts/text2c.sh) */
extern const char webhooks_openapi_json[];
extern const unsigned long webhooks_openapi_json_len;

struct wh_sub {
    char id[37];
    char **events;      /* patterns: "transaction.*", "*", exact */
    size_t nevents;
    char **stations;    /* empty = all stations */
    size_t nstations;
    struct wh_sub *next;
};

struct wh_event;
struct wh_lookup;
struct wh_test_slot {
    char id[37];
    uint64_t at_ms;             /* when the last test started or was answered */
    int busy;                   /* a test is in flight */
};
#define WH_TEST_SLOTS 64

struct wh {
    const struct pl_host *host;
    pl_plugin_handle *self;
    pl_subscription *bus;       /* "*" until the first subscription list arrived */
    /* then one per topic pattern the enabled subscriptions name (wh_bus_narrow) */
    pl_subscription **topic_subs;
    char **topics;
    size_t ntopics;
    pl_timer *tick;
    struct wh_sub *subs;        /* enabled subscriptions, refreshed after every change */
    int subs_loaded;            /* the first load arrived: events can be routed */
    int subs_loading;           /* reloads outstanding */
    /* settings */
    long max_attempts, base_delay_ms, max_delay_ms, timeout_ms, per_receiver, disable_after;
    long batch, pending_max;
    int allow_private;
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
    /* outbox (outbox.c): events wait here, in publish order, until an INSERT of them
     * committed; one INSERT in flight at a time, so ids follow publish order */
    struct wh_event *ob_head, **ob_tail;
    size_t ob_count;            /* events waiting, those being written included */
    size_t ob_writing;          /* the first ob_writing events are in the INSERT in flight */
    size_t ob_chunk;            /* events per INSERT (halved to isolate a bad row) */
    int ob_busy;                /* an INSERT is in flight */
    int ob_waiting;             /* the retry timer is armed */
    unsigned ob_backoff_ms;
    unsigned long ob_failures;  /* failed writes in a row */
    unsigned long ob_dropped;   /* dropped since the backlog filled */
    pl_timer *ob_retry;
    /* host name lookups (resolve.c) */
    struct wh_lookup *lookups;
    pl_timer *lookup_poll;
    /* POST /test: when each subscription was last tested */
    struct wh_test_slot tests[WH_TEST_SLOTS];
    struct wh_padded *padded;   /* failed tests waiting out the timeout */
};

/* outbox.c */
int wh_outbox_start(struct wh *w);
void wh_outbox_on_event(const char *topic, json_t *env, void *arg);
void wh_outbox_routes_known(struct wh *w); /* the first subscription list arrived */
void wh_outbox_free(struct wh *w);

/* delivery.c */
int wh_delivery_start(struct wh *w);
void wh_delivery_stop(struct wh *w);
void wh_delivery_kick(struct wh *w);
/* Sign: hex HMAC-SHA256(secret, timestamp "." body) into out (65 bytes). */
void wh_sign(const char *secret, const char *timestamp, const char *body, size_t len,
             char out[65]);
/* Send a signed POST to url once its host passed the address policy.  cb runs exactly
 * once, perhaps before this returns: with the answer, or with an error ("forbidden
 * address: ..." when the policy refused, WH_ERR_FORBIDDEN). */
#define WH_ERR_FORBIDDEN "forbidden address"
void wh_send(struct wh *w, const char *url, const char *secret, const char *event_id,
             const char *event_type, long long delivery_id, const char *body,
             pl_http_done_cb cb, void *arg);
/* Send a webhook.test now; cb gets the answer as wh_send gives it. */
typedef void (*wh_test_cb)(void *arg, const struct pl_http_response *resp,
                           const char *event_id);
int wh_send_test(struct wh *w, json_t *row, wh_test_cb cb, void *arg);

/* urlcheck.c: a webhook URL, parsed strictly */
struct wh_url {
    char host[254];             /* without brackets */
    int port;
    int tls;
    int ipv6;                   /* the host was an [IPv6] literal */
};
struct sockaddr;
/* NULL when url is acceptable (out filled), else why not (static text). */
const char *wh_url_parse(const char *url, struct wh_url *out);
/* Why the literal address or localhost name of u is refused; NULL when not (names are
 * judged after resolution). */
const char *wh_url_host_forbidden(const struct wh_url *u);
int wh_url_is_literal(const struct wh_url *u);
/* Why this address is not a public unicast one ("loopback", "private", ...); NULL if it is. */
const char *wh_addr_forbidden(const struct sockaddr *sa);

/* resolve.c: host names to addresses without blocking the loop */
struct addrinfo;
/* ai is borrowed for the call; NULL with error set on failure ("timeout",
 * "shutting down", the resolver's message). */
typedef void (*wh_resolved_cb)(void *arg, const struct addrinfo *ai, const char *error);
int wh_resolve(struct wh *w, const char *host, unsigned timeout_ms, wh_resolved_cb cb, void *arg);
void wh_resolve_shutdown(struct wh *w);

/* subs.c-ish helpers in webhooks.c */
void wh_reload_subs(struct wh *w);
int wh_topic_match(const char *pattern, const char *topic);
int wh_sub_matches(const struct wh_sub *s, const char *topic, const char *station);

#endif
