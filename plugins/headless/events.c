/*
 * events.c — GET /api/v1/events: the event bus as Server-Sent Events, for a console or
 * any client that wants the gateway's events live without running a webhook receiver.
 * One bus subscription per stream; every event is written as
 *   id: <event id>\nevent: <type>\ndata: <envelope JSON>\n\n
 * with a comment line every 15 s so proxies keep the connection.  A client that does not
 * keep up (8 MB queued) is dropped, never buffered without bound.
 */
#include "headless.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV_PATTERNS_MAX 16
#define EV_KEEPALIVE_MS 15000

struct ev_stream {
    struct headless *hl;
    pl_request *req;
    pl_subscription *sub;
    pl_timer *keepalive;
    char *patterns[EV_PATTERNS_MAX];
    int npatterns;
    char station[64];
    int closing;
};

static void stream_close(struct ev_stream *s)
{
    if (s->closing)
        return;
    s->closing = 1;
    const struct pl_host *h = s->hl->host;
    h->bus_unsubscribe(s->sub);
    h->timer_free(s->keepalive);
    for (int i = 0; i < s->npatterns; i++)
        free(s->patterns[i]);
    h->reply_stream_end(s->req);
    free(s);
}

/* "*", "x.*" or an exact type */
static int matches(const char *pattern, const char *topic)
{
    size_t n = strlen(pattern);
    if (strcmp(pattern, "*") == 0)
        return 1;
    if (n >= 2 && pattern[n - 1] == '*' && pattern[n - 2] == '.')
        return strncmp(pattern, topic, n - 1) == 0;
    return strcmp(pattern, topic) == 0;
}

static void on_event(const char *topic, json_t *env, void *arg)
{
    struct ev_stream *s = arg;
    int wanted = s->npatterns == 0;
    for (int i = 0; i < s->npatterns && !wanted; i++)
        wanted = matches(s->patterns[i], topic);
    const char *station = json_string_value(json_object_get(env, "station"));
    if (!wanted || (s->station[0] && (!station || strcmp(station, s->station) != 0)))
        return;
    char *data = json_dumps(env, JSON_COMPACT);
    if (!data)
        return;
    const char *id = json_string_value(json_object_get(env, "id"));
    size_t cap = strlen(data) + strlen(topic) + (id ? strlen(id) : 0) + 40;
    char *frame = malloc(cap);
    int rc = PL_ENOMEM;
    if (frame) {
        int n = snprintf(frame, cap, "id: %s\nevent: %s\ndata: %s\n\n", id ? id : "", topic, data);
        rc = s->hl->host->reply_stream_write(s->req, frame, (size_t)n);
    }
    free(frame);
    free(data);
    if (rc != PL_OK)
        stream_close(s); /* gone, or too slow */
}

static void on_keepalive(void *arg)
{
    struct ev_stream *s = arg;
    if (s->hl->host->reply_stream_write(s->req, ": keep-alive\n\n", 14) != PL_OK)
        stream_close(s);
}

static void on_gone(pl_request *req, void *arg)
{
    (void)req;
    stream_close(arg);
}

void hl_events_stream(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const struct pl_host *h = hl->host;
    const char *types = h->req_query(req, "types");
    const char *station = h->req_query(req, "station");
    if (station && (!*station || strlen(station) > 48)) {
        h->reply_error(req, 400, "INVALID_PARAMETER", "station must be a station id (1 to 48 characters)");
        return;
    }
    struct ev_stream *s = calloc(1, sizeof *s);
    if (!s) {
        h->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    s->hl = hl;
    s->req = req;
    snprintf(s->station, sizeof s->station, "%s", station ? station : "");
    for (const char *p = types; p && *p;) {
        size_t n = strcspn(p, ",");
        while (n && *p == ' ')
            p++, n--;
        int ok = n > 0 && n <= 64;
        for (size_t i = 0; ok && i < n; i++)
            ok = (p[i] >= 'a' && p[i] <= 'z') || p[i] == '.' || p[i] == '_' || p[i] == '*';
        if (!ok || s->npatterns == EV_PATTERNS_MAX) {
            for (int i = 0; i < s->npatterns; i++)
                free(s->patterns[i]);
            free(s);
            h->reply_error(req, 400, "INVALID_PARAMETER",
                           "types: up to %d comma-separated event types or patterns (\"station.*\", \"*\")",
                           EV_PATTERNS_MAX);
            return;
        }
        s->patterns[s->npatterns++] = strndup(p, n);
        p += n;
        if (*p == ',')
            p++;
    }
    if (!(s->keepalive = h->timer_new(hl->self, on_keepalive, s))) {
        for (int i = 0; i < s->npatterns; i++)
            free(s->patterns[i]);
        free(s);
        h->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    if (h->reply_stream_begin(req, 200, "text/event-stream") != PL_OK) { /* the request is finished */
        h->timer_free(s->keepalive);
        for (int i = 0; i < s->npatterns; i++)
            free(s->patterns[i]);
        free(s);
        return;
    }
    h->req_on_close(req, on_gone, s);
    s->sub = h->bus_subscribe(hl->self, "*", on_event, s);
    h->timer_start(s->keepalive, EV_KEEPALIVE_MS, 1);
    h->reply_stream_write(req, ": connected\n\n", 13);
}
