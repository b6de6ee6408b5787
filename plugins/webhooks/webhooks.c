/*
 * webhooks.c — the webhooks plugin: subscriptions (CRUD under /api/v1/webhooks),
 * their in-memory cache, and the lifecycle.  Deliveries live in delivery.c.
 */
#include "webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/rand.h>

static const struct pl_migration migrations[] = {
    {1, "webhooks",
     "CREATE TABLE webhooks (\n"
     "  id uuid PRIMARY KEY,\n"
     "  url text NOT NULL,\n"
     "  events text[] NOT NULL,\n"
     "  stations text[] NOT NULL DEFAULT '{}',\n"
     "  secret text NOT NULL,\n"
     "  enabled boolean NOT NULL DEFAULT true,\n"
     "  description text NOT NULL DEFAULT '',\n"
     "  disabled_reason text,\n"
     "  consecutive_failures int NOT NULL DEFAULT 0,\n"
     "  created_at timestamptz NOT NULL DEFAULT now(),\n"
     "  updated_at timestamptz NOT NULL DEFAULT now());\n"
     "CREATE TABLE webhook_deliveries (\n"
     "  id bigserial PRIMARY KEY,\n"
     "  webhook_id uuid NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,\n"
     "  event_id uuid NOT NULL,\n"
     "  event_type text NOT NULL,\n"
     "  station_id text NOT NULL DEFAULT '',\n"
     "  body text NOT NULL,\n"
     "  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','delivered','failed')),\n"
     "  attempts int NOT NULL DEFAULT 0,\n"
     "  next_attempt_at timestamptz NOT NULL DEFAULT now(),\n"
     "  last_status int,\n"
     "  last_error text,\n"
     "  last_latency_ms double precision,\n"
     "  created_at timestamptz NOT NULL DEFAULT now(),\n"
     "  completed_at timestamptz);\n"
     "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id)\n"
     "  WHERE status = 'pending';\n"
     "CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id DESC);\n"
     "CREATE INDEX webhook_deliveries_head ON webhook_deliveries (webhook_id, station_id, id)\n"
     "  WHERE status = 'pending';\n"
     "CREATE TABLE webhook_attempts (\n"
     "  id bigserial PRIMARY KEY,\n"
     "  delivery_id bigint NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,\n"
     "  webhook_id uuid NOT NULL,\n"
     "  attempt int NOT NULL,\n"
     "  status_code int,\n"
     "  error text,\n"
     "  latency_ms double precision,\n"
     "  at timestamptz NOT NULL DEFAULT now());\n"
     "CREATE INDEX webhook_attempts_hook ON webhook_attempts (webhook_id, id DESC);\n"},
};

/* Columns every read returns: the secret is never echoed after creation. */
#define WH_COLUMNS                                                                         \
    "id, url, to_jsonb(events) AS events, to_jsonb(stations) AS stations, enabled, description, "\
    "disabled_reason, "                   \
    "consecutive_failures, created_at, updated_at"

int wh_topic_match(const char *pattern, const char *topic)
{
    if (strcmp(pattern, "*") == 0)
        return 1;
    size_t n = strlen(pattern);
    if (n >= 2 && strcmp(pattern + n - 2, ".*") == 0)
        return strncmp(pattern, topic, n - 1) == 0;
    return strcmp(pattern, topic) == 0;
}

int wh_sub_matches(const struct wh_sub *s, const char *topic, const char *station)
{
    int ev = 0;
    for (size_t i = 0; i < s->nevents && !ev; i++)
        ev = wh_topic_match(s->events[i], topic);
    if (!ev)
        return 0;
    if (s->nstations == 0)
        return 1;
    for (size_t i = 0; station && i < s->nstations; i++)
        if (strcmp(s->stations[i], station) == 0)
            return 1;
    return 0;
}

/* ---------- in-memory cache of enabled subscriptions ---------- */

static void subs_free(struct wh_sub *s)
{
    while (s) {
        struct wh_sub *n = s->next;
        for (size_t i = 0; i < s->nevents; i++)
            free(s->events[i]);
        for (size_t i = 0; i < s->nstations; i++)
            free(s->stations[i]);
        free(s->events);
        free(s->stations);
        free(s);
        s = n;
    }
}

static char **strings_from_json(json_t *arr, size_t *n)
{
    *n = json_array_size(arr);
    char **out = calloc(*n ? *n : 1, sizeof *out);
    for (size_t i = 0; out && i < *n; i++)
        out[i] = strdup(json_string_value(json_array_get(arr, i)) ?: "");
    return out;
}

struct subs_reload {
    struct wh *w;
    void (*done)(void *arg);
    void *arg;
};

static void load_subs(struct wh *w, pl_db_result *res);

static void on_subs_loaded(pl_db_result *res, void *arg)
{
    struct subs_reload *l = arg;
    l->w->subs_loading--;
    load_subs(l->w, res);
    if (l->done)
        l->done(l->arg);
    free(l);
}

/* The bus subscriptions follow the enabled subscriptions' topics once their list is
 * known: an event no subscription names is then never built for webhooks (the bus
 * builds nothing for a topic nobody listens to; meter values are the busiest one).
 * Before the first list, "*" keeps every event until it can be routed.  The patterns
 * kept are a minimal cover, none matching another, so no event reaches the outbox
 * twice. */
static void bus_unsubscribe_topics(struct wh *w)
{
    for (size_t i = 0; i < w->ntopics; i++) {
        w->host->bus_unsubscribe(w->topic_subs[i]);
        free(w->topics[i]);
    }
    free(w->topic_subs);
    free(w->topics);
    w->topic_subs = NULL;
    w->topics = NULL;
    w->ntopics = 0;
}

static void wh_bus_narrow(struct wh *w)
{
    size_t cap = 0;
    for (struct wh_sub *s = w->subs; s; s = s->next)
        cap += s->nevents;
    char **all = calloc(cap ? cap : 1, sizeof *all), **want = calloc(cap ? cap : 1, sizeof *want);
    if (!all || !want) {
        free(all);
        free(want);
        return; /* keep what is subscribed: more events than needed, none lost */
    }
    size_t n = 0, m = 0;
    for (struct wh_sub *s = w->subs; s; s = s->next)
        for (size_t i = 0; i < s->nevents; i++) {
            size_t k = 0;
            while (k < n && strcmp(all[k], s->events[i]) != 0)
                k++;
            if (k == n)
                all[n++] = s->events[i];
        }
    /* a pattern another one matches is left out ("station.*" covers "station.status",
     * "*" covers everything); matching is transitive, so what is left covers it all */
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < n && (j == i || !wh_topic_match(all[j], all[i])))
            j++;
        if (j == n)
            want[m++] = all[i];
    }
    free(all);
    int same = m == w->ntopics && w->bus == NULL;
    for (size_t i = 0; same && i < m; i++)
        same = strcmp(want[i], w->topics[i]) == 0;
    if (same) {
        free(want);
        return;
    }
    pl_subscription **subs = calloc(m ? m : 1, sizeof *subs);
    char **topics = calloc(m ? m : 1, sizeof *topics);
    int ok = subs && topics;
    for (size_t i = 0; ok && i < m; i++)
        ok = (topics[i] = strdup(want[i])) &&
             (subs[i] = w->host->bus_subscribe(w->self, topics[i], wh_outbox_on_event, w));
    free(want);
    if (!ok) { /* keep what is subscribed */
        for (size_t i = 0; i < m && subs && topics; i++) {
            w->host->bus_unsubscribe(subs[i]);
            free(topics[i]);
        }
        free(subs);
        free(topics);
        return;
    }
    bus_unsubscribe_topics(w);
    w->host->bus_unsubscribe(w->bus);
    w->bus = NULL;
    w->topic_subs = subs;
    w->topics = topics;
    w->ntopics = m;
}

static void load_subs(struct wh *w, pl_db_result *res)
{
    const struct pl_host *h = w->host;
    if (!h->db_ok(res)) {
        h->log(w->self, PL_LOG_WARN, "loading subscriptions failed: %s", h->db_error(res));
        return;
    }
    json_t *rows = h->db_json(res);
    struct wh_sub *list = NULL;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        struct wh_sub *s = calloc(1, sizeof *s);
        if (!s)
            break;
        snprintf(s->id, sizeof s->id, "%s", json_string_value(json_object_get(row, "id")));
        s->events = strings_from_json(json_object_get(row, "events"), &s->nevents);
        s->stations = strings_from_json(json_object_get(row, "stations"), &s->nstations);
        s->next = list;
        list = s;
    }
    json_decref(rows);
    subs_free(w->subs);
    w->subs = list;
    if (!w->subs_loaded) {
        w->subs_loaded = 1;
        wh_outbox_routes_known(w);
    }
    wh_bus_narrow(w);
}

/* Reload the routing list; done(arg), if given, runs once it is in place (or the
 * reload could not be queued). */
static void reload_subs_then(struct wh *w, void (*done)(void *arg), void *arg)
{
    struct subs_reload *l = calloc(1, sizeof *l);
    if (l) {
        *l = (struct subs_reload){w, done, arg};
        /* arrays as JSON so db_json types them without text-array parsing */
        if (w->host->db_query(w->self,
                              "SELECT id::text, to_jsonb(events) AS events, to_jsonb(stations) AS stations "
                              "FROM webhooks WHERE enabled",
                              0, NULL, on_subs_loaded, l) == PL_OK) {
            w->subs_loading++;
            return;
        }
        free(l);
    }
    w->host->log(w->self, PL_LOG_WARN, "cannot queue the subscription reload");
    if (done)
        done(arg);
}

void wh_reload_subs(struct wh *w)
{
    reload_subs_then(w, NULL, NULL);
}

/* ---------- request validation ---------- */

/* Replies 400 and returns -1 unless v is a URL deliveries may go to.  Names are
 * judged again after resolution, at every delivery. */
static int check_url(struct wh *w, pl_request *req, json_t *v)
{
    const struct pl_host *h = w->host;
    struct wh_url u;
    const char *why = json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v)
                          ? wh_url_parse(json_string_value(v), &u)
                          : "url must be an http:// or https:// URL";
    if (why) {
        h->reply_error(req, 400, "WEBHOOK_URL_INVALID", "%s", why);
        return -1;
    }
    if (!w->allow_private && (why = wh_url_host_forbidden(&u))) {
        h->reply_error(req, 400, "WEBHOOK_URL_FORBIDDEN",
                       "url host %s is a %s address; webhooks go to public addresses unless "
                       "[webhooks] allow_private = yes",
                       u.host, why);
        return -1;
    }
    return 0;
}

static int valid_string_array(json_t *a, int allow_empty)
{
    if (!json_is_array(a) || (!allow_empty && json_array_size(a) == 0))
        return 0;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 200)
            return 0;
    }
    return 1;
}

/* Checks the body of POST (full) or PATCH (partial).  Replies 400 and returns -1 on error. */
static int check_body(struct wh *w, pl_request *req, json_t *b, int partial)
{
    const struct pl_host *h = w->host;
    if (!json_is_object(b)) {
        h->reply_error(req, 400, "INVALID_BODY", "body must be a JSON object");
        return -1;
    }
    json_t *v;
    if ((v = json_object_get(b, "url"))) {
        if (check_url(w, req, v) != 0)
            return -1;
    } else if (!partial) {
        h->reply_error(req, 400, "MISSING_PARAMETER", "url is required");
        return -1;
    }
    if ((v = json_object_get(b, "events"))) {
        if (!valid_string_array(v, 0)) {
            h->reply_error(req, 400, "INVALID_PARAMETER",
                           "events must be a non-empty array of event types (wildcards: "
                           "\"transaction.*\", \"*\")");
            return -1;
        }
    } else if (!partial) {
        h->reply_error(req, 400, "MISSING_PARAMETER", "events is required");
        return -1;
    }
    if ((v = json_object_get(b, "stations")) && !json_is_null(v) && !valid_string_array(v, 1)) {
        h->reply_error(req, 400, "INVALID_PARAMETER", "stations must be an array of station ids");
        return -1;
    }
    if ((v = json_object_get(b, "enabled")) && !json_is_boolean(v)) {
        h->reply_error(req, 400, "INVALID_PARAMETER", "enabled must be a boolean");
        return -1;
    }
    if ((v = json_object_get(b, "description")) && !json_is_string(v)) {
        h->reply_error(req, 400, "INVALID_PARAMETER", "description must be a string");
        return -1;
    }
    /* used whole as the HMAC key: a NUL inside would cut it where C strings end */
    if ((v = json_object_get(b, "secret")) &&
        (!json_is_string(v) || json_string_length(v) < 16 || json_string_length(v) > 256 ||
         strlen(json_string_value(v)) != json_string_length(v))) {
        h->reply_error(req, 400, "INVALID_PARAMETER",
                       "secret must be a string of 16 to 256 bytes without NUL characters");
        return -1;
    }
    return 0;
}

static char *json_text(json_t *v) /* new string, NULL if v is NULL */
{
    return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static int valid_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

/* ---------- handlers ---------- */

struct wh_req {
    struct wh *w;
    pl_request *req;
    int status;       /* success status */
    int mutates;      /* create, update, delete: the routing list changes */
    char *secret;     /* echoed once, on creation */
    json_t *reply;    /* held until the routing list includes the change */
    struct wh_test_slot *test; /* POST /test: its rate-limit slot, busy until answered */
};

static struct wh_req *wh_req_new(struct wh *w, pl_request *req, int status)
{
    struct wh_req *r = calloc(1, sizeof *r);
    if (r) {
        r->w = w;
        r->req = req;
        r->status = status;
    }
    return r;
}

static void wh_req_free(struct wh_req *r)
{
    if (r->test) { /* the next test of this webhook may start a second after this answer */
        r->test->busy = 0;
        r->test->at_ms = r->w->host->now_ms();
    }
    json_decref(r->reply);
    free(r->secret);
    free(r);
}

/* A change is answered only once events are routed by it: an event published right
 * after the answer must reach a subscription the answer confirmed. */
static void reply_after_reload(void *arg)
{
    struct wh_req *r = arg;
    const struct pl_host *h = r->w->host;
    if (r->status == 204)
        h->reply_raw(r->req, 204, "application/json", "", 0);
    else
        h->reply_json(r->req, r->status, json_incref(r->reply));
    wh_req_free(r);
}

/* Replies with the first row (404 when none), or with the list when status == -200. */
static void on_rows(pl_db_result *res, void *arg)
{
    struct wh_req *r = arg;
    const struct pl_host *h = r->w->host;
    if (!h->db_ok(res)) {
        h->reply_error(r->req, 503, "DATABASE_ERROR", "database error: %s", h->db_error(res));
    } else if (r->status == -200) {
        h->reply_json(r->req, 200, json_pack("{s:o}", "items", h->db_json(res)));
    } else if (h->db_ntuples(res) == 0) {
        h->reply_error(r->req, 404, "WEBHOOK_NOT_FOUND", "no such webhook");
    } else {
        if (r->status != 204) {
            json_t *rows = h->db_json(res);
            r->reply = json_incref(json_array_get(rows, 0));
            json_decref(rows);
            if (r->secret)
                json_object_set_new(r->reply, "secret", json_string(r->secret));
        }
        if (r->mutates) {
            reload_subs_then(r->w, reply_after_reload, r);
            return;
        }
        reply_after_reload(r);
        return;
    }
    wh_req_free(r);
}

static void list_webhooks(pl_request *req, void *arg)
{
    struct wh *w = arg;
    struct wh_req *r = wh_req_new(w, req, -200);
    if (!r || w->host->db_query(w->self, "SELECT " WH_COLUMNS " FROM webhooks ORDER BY created_at",
                                0, NULL, on_rows, r) != PL_OK) {
        free(r);
        w->host->reply_error(req, 503, "BUSY", "database queue full");
    }
}

static void create_webhook(pl_request *req, void *arg)
{
    struct wh *w = arg;
    const struct pl_host *h = w->host;
    json_t *b = h->req_json(req);
    if (check_body(w, req, b, 0) != 0)
        return;
    char id[37], made[55];
    h->uuid(id);
    /* a given secret is used as given (check_body bounds it); ours is whsec_ + 48 hex */
    const char *given = json_string_value(json_object_get(b, "secret"));
    const char *secret = given ? given : made;
    if (!given) {
        unsigned char raw[24];
        RAND_bytes(raw, sizeof raw);
        strcpy(made, "whsec_");
        for (size_t i = 0; i < sizeof raw; i++)
            sprintf(made + 6 + 2 * i, "%02x", raw[i]);
    }
    json_t *stations = json_object_get(b, "stations");
    char *events = json_text(json_object_get(b, "events"));
    char *st = json_text(json_is_array(stations) ? stations : NULL);
    json_t *en = json_object_get(b, "enabled");
    const char *params[] = {id,
                            json_string_value(json_object_get(b, "url")),
                            events,
                            st ? st : "[]",
                            secret,
                            en && json_is_false(en) ? "false" : "true",
                            json_string_value(json_object_get(b, "description")) ?: ""};
    struct wh_req *r = wh_req_new(w, req, 201);
    if (r) {
        r->mutates = 1;
        if (!(r->secret = strdup(secret))) { /* never answer 201 without the secret */
            wh_req_free(r);
            r = NULL;
        }
    }
    if (!r || h->db_query(w->self,
                          "INSERT INTO webhooks (id, url, events, stations, secret, enabled, description) "
                          "VALUES ($1, $2, ARRAY(SELECT jsonb_array_elements_text($3::jsonb)), "
                          "ARRAY(SELECT jsonb_array_elements_text($4::jsonb)), $5, $6::boolean, $7) "
                          "RETURNING " WH_COLUMNS,
                          7, params, on_rows, r) != PL_OK) {
        if (r)
            wh_req_free(r);
        h->reply_error(req, 503, "BUSY", "database queue full");
    } else {
        char loc[80];
        snprintf(loc, sizeof loc, "/api/v1/webhooks/%s", id);
        h->reply_header(req, "Location", loc);
    }
    free(events);
    free(st);
}

static const char *id_param(struct wh *w, pl_request *req)
{
    const char *id = w->host->req_param(req, "id");
    if (!valid_uuid(id)) {
        w->host->reply_error(req, 404, "WEBHOOK_NOT_FOUND", "no such webhook");
        return NULL;
    }
    return id;
}

static void get_webhook(pl_request *req, void *arg)
{
    struct wh *w = arg;
    const char *id = id_param(w, req);
    if (!id)
        return;
    struct wh_req *r = wh_req_new(w, req, 200);
    const char *p[] = {id};
    if (!r || w->host->db_query(w->self, "SELECT " WH_COLUMNS " FROM webhooks WHERE id = $1", 1, p,
                                on_rows, r) != PL_OK) {
        free(r);
        w->host->reply_error(req, 503, "BUSY", "database queue full");
    }
}

/* PUT replaces (url and events required), PATCH changes the fields given. */
static void update_webhook(pl_request *req, void *arg, int partial)
{
    struct wh *w = arg;
    const struct pl_host *h = w->host;
    const char *id = id_param(w, req);
    if (!id)
        return;
    json_t *b = h->req_json(req);
    if (check_body(w, req, b, partial) != 0)
        return;
    json_t *stations = json_object_get(b, "stations");
    json_t *en = json_object_get(b, "enabled");
    char *events = json_text(json_object_get(b, "events"));
    /* stations: an array sets, null (or absent in a PUT) clears, absent in a PATCH keeps */
    char *st = json_is_array(stations) ? json_text(stations)
               : (json_is_null(stations) || !partial) ? strdup("[]") : NULL;
    const char *params[] = {id,
                            json_string_value(json_object_get(b, "url")),
                            events,
                            st,
                            json_string_value(json_object_get(b, "secret")),
                            en ? (json_is_true(en) ? "true" : "false") : (partial ? NULL : "true"),
                            json_string_value(json_object_get(b, "description")) ?: (partial ? NULL : "")};
    struct wh_req *r = wh_req_new(w, req, 200);
    if (r)
        r->mutates = 1;
    /* re-enabling clears the failure streak and the reason */
    if (!r || h->db_query(w->self,
                          "UPDATE webhooks SET url = coalesce($2, url), "
                          "events = CASE WHEN $3::jsonb IS NULL THEN events "
                          "  ELSE ARRAY(SELECT jsonb_array_elements_text($3::jsonb)) END, "
                          "stations = CASE WHEN $4::jsonb IS NULL THEN stations "
                          "  ELSE ARRAY(SELECT jsonb_array_elements_text($4::jsonb)) END, "
                          "secret = coalesce($5, secret), enabled = coalesce($6::boolean, enabled), "
                          "description = coalesce($7, description), "
                          "disabled_reason = CASE WHEN $6::boolean THEN NULL ELSE disabled_reason END, "
                          "consecutive_failures = CASE WHEN $6::boolean THEN 0 ELSE consecutive_failures END, "
                          "updated_at = now() WHERE id = $1 RETURNING " WH_COLUMNS,
                          7, params, on_rows, r) != PL_OK) {
        free(r);
        h->reply_error(req, 503, "BUSY", "database queue full");
    }
    free(events);
    free(st);
}

static void put_webhook(pl_request *req, void *arg) { update_webhook(req, arg, 0); }
static void patch_webhook(pl_request *req, void *arg) { update_webhook(req, arg, 1); }

static void delete_webhook(pl_request *req, void *arg)
{
    struct wh *w = arg;
    const char *id = id_param(w, req);
    if (!id)
        return;
    struct wh_req *r = wh_req_new(w, req, 204);
    if (r)
        r->mutates = 1;
    const char *p[] = {id};
    if (!r || w->host->db_query(w->self, "DELETE FROM webhooks WHERE id = $1 RETURNING id", 1, p,
                                on_rows, r) != PL_OK) {
        free(r);
        w->host->reply_error(req, 503, "BUSY", "database queue full");
    }
}

static void list_deliveries(pl_request *req, void *arg)
{
    struct wh *w = arg;
    const struct pl_host *h = w->host;
    const char *id = id_param(w, req);
    if (!id)
        return;
    const char *lim = h->req_query(req, "limit");
    long limit = lim ? strtol(lim, NULL, 10) : 50;
    if (limit < 1 || limit > 500) {
        h->reply_error(req, 400, "INVALID_PARAMETER", "limit must be 1..500");
        return;
    }
    char lbuf[16];
    snprintf(lbuf, sizeof lbuf, "%ld", limit);
    const char *p[] = {id, lbuf, h->req_query(req, "status")};
    struct wh_req *r = wh_req_new(w, req, -200);
    if (!r || h->db_query(w->self,
                          "SELECT d.id, d.event_id, d.event_type, nullif(d.station_id, '') AS station_id, "
                          "d.status, d.attempts, d.next_attempt_at, d.last_status AS response_code, "
                          "d.last_error AS error, d.last_latency_ms AS latency_ms, d.created_at, "
                          "d.completed_at, coalesce((SELECT jsonb_agg(jsonb_build_object('attempt', a.attempt, "
                          "'status_code', a.status_code, 'error', a.error, 'latency_ms', a.latency_ms, "
                          "'at', a.at) ORDER BY a.id) FROM webhook_attempts a WHERE a.delivery_id = d.id), "
                          "'[]') AS attempt_log "
                          "FROM webhook_deliveries d WHERE d.webhook_id = $1 "
                          "AND ($3::text IS NULL OR d.status = $3) ORDER BY d.id DESC LIMIT $2::int",
                          3, p, on_rows, r) != PL_OK) {
        free(r);
        h->reply_error(req, 503, "BUSY", "database queue full");
    }
}

static void on_redeliver(pl_db_result *res, void *arg)
{
    struct wh_req *r = arg;
    const struct pl_host *h = r->w->host;
    if (!h->db_ok(res)) {
        h->reply_error(r->req, 503, "DATABASE_ERROR", "database error: %s", h->db_error(res));
    } else if (h->db_ntuples(res) == 0) {
        h->reply_error(r->req, 404, "DELIVERY_NOT_FOUND", "no such delivery for this webhook");
    } else {
        json_t *rows = h->db_json(res);
        h->reply_json(r->req, 202, json_incref(json_array_get(rows, 0)));
        json_decref(rows);
        wh_delivery_kick(r->w);
    }
    wh_req_free(r);
}

static void redeliver(pl_request *req, void *arg)
{
    struct wh *w = arg;
    const struct pl_host *h = w->host;
    const char *id = id_param(w, req);
    if (!id)
        return;
    const char *did = h->req_param(req, "delivery");
    char *end = NULL;
    long long n = did ? strtoll(did, &end, 10) : 0;
    if (!did || *end || n <= 0) {
        h->reply_error(req, 404, "DELIVERY_NOT_FOUND", "no such delivery for this webhook");
        return;
    }
    const char *p[] = {id, did};
    struct wh_req *r = wh_req_new(w, req, 202);
    if (!r || h->db_query(w->self,
                          "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, "
                          "next_attempt_at = now(), completed_at = NULL "
                          "WHERE webhook_id = $1 AND id = $2::bigint "
                          "RETURNING id, event_id, status",
                          2, p, on_redeliver, r) != PL_OK) {
        free(r);
        h->reply_error(req, 503, "BUSY", "database queue full");
    }
}

/* ---------- POST /webhooks/{id}/test ----------
 * It must not be a port scanner: its URL rules are the deliveries', its answer says
 * only the HTTP status when one came (otherwise "delivery failed", sent after the full
 * timeout, so a refused connection looks like a silent one), and each subscription is
 * tested at most once a second. */

struct wh_padded { /* a failed test's answer, held until the attempt's timeout */
    struct wh_req *r;
    json_t *out;
    pl_timer *timer;
    struct wh_padded *next;
};

static void padded_reply(struct wh_padded *p)
{
    struct wh *w = p->r->w;
    for (struct wh_padded **pp = &w->padded; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    w->host->timer_free(p->timer);
    w->host->reply_json(p->r->req, 200, p->out);
    wh_req_free(p->r);
    free(p);
}

static void on_padded(void *arg)
{
    padded_reply(arg);
}

static void reply_test(struct wh_req *r, json_t *out, double latency_ms)
{
    struct wh *w = r->w;
    struct wh_padded *p = w->stopping ? NULL : calloc(1, sizeof *p);
    if (p && latency_ms < (double)w->timeout_ms) {
        p->timer = w->host->timer_new(w->self, on_padded, p);
        if (p->timer) {
            *p = (struct wh_padded){r, out, p->timer, w->padded};
            w->padded = p;
            w->host->timer_start(p->timer, (uint64_t)((double)w->timeout_ms - latency_ms), 0);
            return;
        }
    }
    free(p);
    w->host->reply_json(r->req, 200, out);
    wh_req_free(r);
}

static void on_test_sent(void *arg, const struct pl_http_response *resp, const char *event_id)
{
    struct wh_req *r = arg;
    const struct pl_host *h = r->w->host;
    json_t *out = json_pack("{s:s, s:b}", "event_id", event_id, "delivered",
                            resp->status >= 200 && resp->status < 300);
    if (resp->status) {
        json_object_set_new(out, "response_code", json_integer(resp->status));
        json_object_set_new(out, "latency_ms", json_real(resp->latency_ms));
        json_object_set_new(out, "error", json_null());
        h->reply_json(r->req, 200, out);
        wh_req_free(r);
        return;
    }
    /* the policy's refusal names no port and no connection state: it may be said */
    int policy = resp->error && strncmp(resp->error, WH_ERR_FORBIDDEN, strlen(WH_ERR_FORBIDDEN)) == 0;
    json_object_set_new(out, "response_code", json_null());
    json_object_set_new(out, "latency_ms", json_null());
    json_object_set_new(out, "error", json_string(policy ? resp->error : "delivery failed"));
    if (policy) {
        h->reply_json(r->req, 200, out);
        wh_req_free(r);
        return;
    }
    reply_test(r, out, resp->latency_ms);
}

static void on_test_row(pl_db_result *res, void *arg)
{
    struct wh_req *r = arg;
    const struct pl_host *h = r->w->host;
    if (!h->db_ok(res) || h->db_ntuples(res) == 0) {
        if (!h->db_ok(res))
            h->reply_error(r->req, 503, "DATABASE_ERROR", "database error: %s", h->db_error(res));
        else
            h->reply_error(r->req, 404, "WEBHOOK_NOT_FOUND", "no such webhook");
        wh_req_free(r);
        return;
    }
    json_t *rows = h->db_json(res);
    json_t *row = json_array_get(rows, 0);
    if (wh_send_test(r->w, row, on_test_sent, r) != PL_OK) {
        h->reply_error(r->req, 503, "BUSY", "cannot send now");
        wh_req_free(r);
    }
    json_decref(rows);
}

/* One test per subscription at a time, the next a second after its answer; at most
 * WH_TEST_SLOTS in all.  NULL when refused. */
static struct wh_test_slot *test_slot(struct wh *w, const char *id)
{
    uint64_t now = w->host->now_ms();
    struct wh_test_slot *free_slot = NULL;
    for (size_t i = 0; i < WH_TEST_SLOTS; i++) {
        struct wh_test_slot *t = &w->tests[i];
        int live = t->busy || (t->id[0] && now - t->at_ms < 1000);
        if (live && strcasecmp(t->id, id) == 0) /* ids are case-blind uuids */
            return NULL;
        if (!live && !free_slot)
            free_slot = t;
    }
    if (free_slot) {
        snprintf(free_slot->id, sizeof free_slot->id, "%s", id);
        free_slot->at_ms = now;
        free_slot->busy = 1;
    }
    return free_slot;
}

static void test_webhook(pl_request *req, void *arg)
{
    struct wh *w = arg;
    const char *id = id_param(w, req);
    if (!id)
        return;
    struct wh_test_slot *slot = test_slot(w, id);
    if (!slot) {
        w->host->reply_header(req, "Retry-After", "1");
        w->host->reply_error(req, 429, "RATE_LIMITED",
                             "one test per webhook at a time and per second; retry after 1 s");
        return;
    }
    const char *p[] = {id};
    struct wh_req *r = wh_req_new(w, req, 200);
    if (!r || w->host->db_query(w->self, "SELECT id::text, url, secret FROM webhooks WHERE id = $1", 1,
                                p, on_test_row, r) != PL_OK) {
        free(r);
        slot->busy = 0;
        w->host->reply_error(req, 503, "BUSY", "database queue full");
        return;
    }
    r->test = slot;
}

/* ---------- lifecycle ---------- */

static const struct {
    const char *method, *path;
    pl_route_cb cb;
} routes[] = {
    {"GET", "/api/v1/webhooks", list_webhooks},
    {"POST", "/api/v1/webhooks", create_webhook},
    {"GET", "/api/v1/webhooks/{id}", get_webhook},
    {"PUT", "/api/v1/webhooks/{id}", put_webhook},
    {"PATCH", "/api/v1/webhooks/{id}", patch_webhook},
    {"DELETE", "/api/v1/webhooks/{id}", delete_webhook},
    {"POST", "/api/v1/webhooks/{id}/test", test_webhook},
    {"GET", "/api/v1/webhooks/{id}/deliveries", list_deliveries},
    {"POST", "/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver", redeliver},
};

static int wh_init(pl_plugin_handle *self, const struct pl_host *host, void **state)
{
    /* read once here: a change needs a restart (SIGHUP says so) */
    static const struct pl_config_key keys[] = {
        {"max_attempts", PL_CONFIG_INT, "10", 1, 100, NULL, "deliveries tried per event", PL_CONFIG_RESTART},
        {"base_delay_ms", PL_CONFIG_INT, "1000", 1, 3600000, NULL, "first retry delay, doubled each time",
         PL_CONFIG_RESTART},
        {"max_delay_ms", PL_CONFIG_INT, "3600000", 1, 86400000, NULL, "longest retry delay", PL_CONFIG_RESTART},
        {"timeout_ms", PL_CONFIG_INT, "10000", 100, 300000, NULL, "one delivery's timeout", PL_CONFIG_RESTART},
        {"per_receiver", PL_CONFIG_INT, "4", 1, 256, NULL, "deliveries in flight per webhook", PL_CONFIG_RESTART},
        {"disable_after", PL_CONFIG_INT, "50", 1, 1000000, NULL, "failed deliveries in a row that disable a webhook",
         PL_CONFIG_RESTART},
        {"batch", PL_CONFIG_INT, "100", 1, 10000, NULL, "outbox rows read at once", PL_CONFIG_RESTART},
        {"ca_file", PL_CONFIG_STRING, NULL, 0, 0, NULL, "CA file for https receivers (default: the system's)",
         PL_CONFIG_RESTART},
        {"pending_max", PL_CONFIG_INT, "100000", 1, 100000000, NULL,
         "events kept in memory while the outbox cannot be written; newer ones are dropped", PL_CONFIG_RESTART},
        {"allow_private", PL_CONFIG_BOOL, "no", 0, 0, NULL,
         "deliver to loopback, private, link-local and other non-public addresses", PL_CONFIG_RESTART},
    };
    int rc = host->config_declare(self, keys, sizeof keys / sizeof keys[0]);
    if (rc != PL_OK)
        return rc;
    struct wh *w = calloc(1, sizeof *w);
    if (!w)
        return PL_ENOMEM;
    w->host = host;
    w->self = self;
    if (host->config_int(self, "max_attempts", 10, 1, 100, &w->max_attempts) ||
        host->config_int(self, "base_delay_ms", 1000, 1, 3600000, &w->base_delay_ms) ||
        host->config_int(self, "max_delay_ms", 3600000, 1, 86400000, &w->max_delay_ms) ||
        host->config_int(self, "timeout_ms", 10000, 100, 300000, &w->timeout_ms) ||
        host->config_int(self, "per_receiver", 4, 1, 256, &w->per_receiver) ||
        host->config_int(self, "disable_after", 50, 1, 1000000, &w->disable_after) ||
        host->config_int(self, "batch", 100, 1, 10000, &w->batch) ||
        host->config_int(self, "pending_max", 100000, 1, 100000000, &w->pending_max) ||
        host->config_bool(self, "allow_private", 0, &w->allow_private))
        goto fail;
    w->ca_file = host->config_get(self, "ca_file", NULL);
    if (wh_outbox_start(w) != PL_OK)
        goto fail;
    if (host->db_migrations(self, migrations, sizeof migrations / sizeof migrations[0]) != PL_OK)
        goto fail;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (host->http_route(self, routes[i].method, routes[i].path, PL_AUTH_ADMIN, routes[i].cb, w) !=
            PL_OK)
            goto fail;
    pl_http_describe_text(host, self, webhooks_openapi_json, (size_t)webhooks_openapi_json_len);
    w->bus = host->bus_subscribe(self, "*", wh_outbox_on_event, w);
    if (!w->bus)
        goto fail;
    *state = w;
    return PL_OK;
fail:
    /* the loader removes our registrations (timers, routes, the subscription) */
    free(w);
    return PL_ERR;
}

static int wh_start(void *state)
{
    struct wh *w = state;
    wh_reload_subs(w);
    return wh_delivery_start(w);
}

static void wh_stop(void *state)
{
    struct wh *w = state;
    w->stopping = 1;
}

static void wh_fini(void *state)
{
    struct wh *w = state;
    wh_delivery_stop(w);
    wh_resolve_shutdown(w); /* answers lookups: orphaned deliveries, tests (unpadded) */
    while (w->padded)
        padded_reply(w->padded);
    wh_outbox_free(w);
    w->host->bus_unsubscribe(w->bus);
    bus_unsubscribe_topics(w);
    subs_free(w->subs);
    free(w);
}

PL_PLUGIN_DEFINE(.name = "webhooks", .version = PACKAGE_VERSION,
                 .description = "Signed, retried, durable webhook deliveries of bus events",
                 .init = wh_init, .start = wh_start, .stop = wh_stop, .fini = wh_fini);
