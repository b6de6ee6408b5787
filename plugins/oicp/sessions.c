/*
 * sessions.c — roaming sessions.
 *
 * A session is Hubject's SessionID for one charge at one EVSE, opened three ways:
 *   remote       AuthorizeRemoteStart from the hub: the station gets RemoteStart with a
 *                token made from the identification (the EvcoID or the card's UID);
 *   reservation  AuthorizeRemoteReservationStart: the station gets ReserveNow; a later
 *                remote start with the same SessionID charges on the reservation;
 *   authorize    a token the core's table does not know, presented at a station with
 *                EVSE data: AuthorizeStart to the hub (this file is the core's remote
 *                authorizer), and an Authorized answer opens the session.
 * The station's transaction is tied to the open session of its station and token when
 * it starts (transaction.started); it ends with the transaction, and the CDR follows
 * (outbox.c).  The token of an open session is accepted at its station without asking
 * the hub again (1.6 stations Authorize a remote start before starting it).  The hub's
 * calls themselves are remote.c's.
 */
#include "oicp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define GRANT_MS (10 * 60 * 1000) /* a remote start or authorization not used by then lapses */
/* the order of statuses (a pending remote start that fails on a reservation goes back to
 * reserved: same rank) */
#define SESSION_RANK(x)                                                                      \
    "(CASE " x " WHEN 'reserved' THEN 2 WHEN 'pending' THEN 2 WHEN 'authorized' THEN 2 "     \
    "WHEN 'active' THEN 3 ELSE 4 END)"
#define SESSION_COLS "id, origin, provider_id, station_id, evse, evse_id, id_token, status, transaction_id"

static void session_free(struct oicp_session *s)
{
    if (!s)
        return;
    free(s->station_id);
    free(s->evse_id);
    free(s->id_token);
    free(s->provider_id);
    free(s->status);
    json_decref(s->stop_ids);
    free(s);
}

struct oicp_session *oicp_session_find(struct oicp *o, const char *id)
{
    for (struct oicp_session *s = o->sessions; id && s; s = s->next)
        if (strcasecmp(s->id, id) == 0)
            return s;
    return NULL;
}

static struct oicp_session *session_by_token(struct oicp *o, const char *station_id, const char *token)
{
    for (struct oicp_session *s = o->sessions; s; s = s->next)
        if (strcmp(s->station_id, station_id) == 0 && strcmp(s->id_token, token) == 0 &&
            strcmp(s->status, "active") != 0)
            return s;
    /* a token already charging on this roaming session (StopTransaction's idTag, a
     * 2.0.1 TransactionEvent Updated with the same token) */
    for (struct oicp_session *s = o->sessions; s; s = s->next)
        if (strcmp(s->station_id, station_id) == 0 && strcmp(s->id_token, token) == 0)
            return s;
    return NULL;
}

struct oicp_session *oicp_session_on_evse(struct oicp *o, const char *station_id, int evse)
{
    for (struct oicp_session *s = o->sessions; s; s = s->next)
        if (strcmp(s->station_id, station_id) == 0 && s->evse == evse)
            return s;
    return NULL;
}

struct oicp_session *oicp_session_add(struct oicp *o, const char *id, const char *station_id, int evse,
                                        const char *evse_id, const char *token, const char *provider,
                                        const char *status)
{
    struct oicp_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->id, sizeof s->id, "%s", id);
    for (char *p = s->id; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    s->station_id = strdup(station_id);
    s->evse = evse;
    s->evse_id = strdup(evse_id);
    s->id_token = strdup(token);
    s->provider_id = oicp_strdup(provider);
    s->status = strdup(status);
    s->expires_ms = o->host->now_ms() + GRANT_MS;
    if (!s->station_id || !s->evse_id || !s->id_token || !s->status) {
        session_free(s);
        return NULL;
    }
    s->next = o->sessions;
    o->sessions = s;
    return s;
}

void oicp_session_remove(struct oicp *o, struct oicp_session *gone)
{
    for (struct oicp_session **pp = &o->sessions; *pp; pp = &(*pp)->next)
        if (*pp == gone) {
            *pp = gone->next;
            session_free(gone);
            return;
        }
}

void oicp_session_set_status(struct oicp *o, struct oicp_session *s, const char *status, const char *detail)
{
    const struct pl_host *h = o->host;
    char tx[32] = "";
    if (s->transaction_id)
        snprintf(tx, sizeof tx, "%lld", s->transaction_id);
    const char *params[] = {s->id, status, detail, *tx ? tx : NULL};
    /* Updates of one session may run on different connections of the pool: a status only
     * moves forward (reserved, then pending/authorized, active, an end), so an update
     * that commits late never takes a session back.  The transaction goes with it. */
    h->db_query(o->self,
                "UPDATE oicp_sessions SET status = $2, detail = coalesce($3, detail), updated_at = now(), "
                "transaction_id = coalesce($4::bigint, transaction_id), "
                "ended_at = CASE WHEN $2 IN ('ended','failed','cancelled','expired') THEN now() END "
                "WHERE id = $1::uuid AND " SESSION_RANK("status") " <= " SESSION_RANK("$2"),
                4, params, NULL, NULL);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s?}", "session_id", s->id, "status", status,
                           "evse_id", s->evse_id, "evse", s->evse, "id_token", s->id_token,
                           "provider_id", s->provider_id);
    if (detail)
        json_object_set_new(ev, "detail", json_string(detail));
    char topic[48];
    snprintf(topic, sizeof topic, "oicp.session.%s", status);
    h->bus_publish(o->self, topic, s->station_id, ev);
    if (strcmp(status, "pending") && strcmp(status, "reserved") && strcmp(status, "authorized") &&
        strcmp(status, "active")) {
        oicp_session_remove(o, s);
        return;
    }
    free(s->status);
    s->status = strdup(status);
}

/* Whether token is one of the identifications the hub said may stop session s. */
static int may_stop(struct oicp_session *s, const char *token)
{
    size_t i;
    json_t *ident;
    json_array_foreach(s->stop_ids, i, ident) {
        const char *key;
        json_t *v;
        json_object_foreach(ident, key, v) {
            const char *uid = json_string_value(json_object_get(v, "UID"));
            const char *evco = json_string_value(json_object_get(v, "EvcoID"));
            if ((uid && strcasecmp(uid, token) == 0) || (evco && strcmp(evco, token) == 0))
                return 1;
        }
    }
    return 0;
}

/* ---------- AuthorizeStart / AuthorizeStop: the core's remote authorizer ---------- */

struct ask {
    struct oicp *o;
    pl_authz_request *req;
    char *station_id;
    int evse;
    char *evse_id;
    char *token;
    json_t *ident;
};

static void ask_free(struct ask *a)
{
    free(a->station_id);
    free(a->evse_id);
    free(a->token);
    json_decref(a->ident);
    free(a);
}

static void on_authorized_stored(pl_db_result *res, void *arg)
{
    struct oicp *o = arg;
    if (!o->host->db_ok(res))
        o->host->log(o->self, PL_LOG_WARN, "storing an authorized session failed: %s", o->host->db_error(res));
}

static void on_authorize_start(struct oicp *o, int http_status, json_t *resp, const char *error, void *arg)
{
    struct ask *a = arg;
    const struct pl_host *h = o->host;
    const char *status = json_string_value(json_object_get(resp, "AuthorizationStatus"));
    const char *sid = json_string_value(json_object_get(resp, "SessionID"));
    const char *code = json_string_value(json_object_get(json_object_get(resp, "StatusCode"), "Code")) ?: "";
    (void)http_status;
    (void)error;
    if (status && strcmp(status, "Authorized") == 0 && oicp_matches(UUID_RE, sid)) {
        const char *provider = json_string_value(json_object_get(resp, "ProviderID"));
        struct oicp_session *s = oicp_session_find(o, sid);
        if (!s)
            s = oicp_session_add(o, sid, a->station_id, a->evse, a->evse_id, a->token, provider, "authorized");
        if (s && json_is_array(json_object_get(resp, "AuthorizationStopIdentifications"))) {
            json_decref(s->stop_ids);
            s->stop_ids = json_incref(json_object_get(resp, "AuthorizationStopIdentifications"));
        }
        if (s) {
            char evse[16];
            snprintf(evse, sizeof evse, "%d", a->evse);
            char *ident = json_dumps(a->ident, JSON_COMPACT);
            const char *params[] = {s->id, provider, a->station_id, evse, a->evse_id, ident, a->token,
                                    json_string_value(json_object_get(resp, "CPOPartnerSessionID")),
                                    json_string_value(json_object_get(resp, "EMPPartnerSessionID"))};
            h->db_query(o->self,
                        "INSERT INTO oicp_sessions (id, origin, provider_id, station_id, evse, evse_id, "
                        "identification, id_token, cpo_partner_session_id, emp_partner_session_id, status) "
                        "VALUES ($1::uuid, 'authorize', $2, $3, $4::int, $5, $6::jsonb, $7, $8, $9, 'authorized') "
                        "ON CONFLICT (id) DO NOTHING",
                        9, params, on_authorized_stored, o);
            free(ident);
            h->bus_publish(o->self, "oicp.session.authorized", a->station_id,
                           json_pack("{s:s, s:s, s:s, s:s?}", "session_id", s->id, "evse_id", a->evse_id,
                                     "id_token", a->token, "provider_id", provider));
        }
        h->tokens->authz_answer(a->req, PL_AUTHZ_ACCEPT, json_pack("{s:s}", "status", "Accepted"));
    } else if (status && strcmp(status, "NotAuthorized") == 0) {
        h->tokens->authz_answer(a->req, PL_AUTHZ_REJECT,
                                json_pack("{s:s, s:s}", "status", "Invalid", "oicp_code", code));
    } else {
        /* no usable answer (timeout, an error, a 017): not ours to decide */
        h->tokens->authz_answer(a->req, PL_AUTHZ_DEFER, NULL);
    }
    ask_free(a);
}

struct stop_ask {
    pl_authz_request *req;
    char session_id[37];
};

static void on_authorize_stop(struct oicp *o, int http_status, json_t *resp, const char *error, void *arg)
{
    struct stop_ask *a = arg;
    const char *status = json_string_value(json_object_get(resp, "AuthorizationStatus"));
    (void)http_status;
    (void)error;
    if (status && strcmp(status, "Authorized") == 0)
        o->host->tokens->authz_answer(a->req, PL_AUTHZ_ACCEPT, json_pack("{s:s}", "status", "Accepted"));
    else if (status && strcmp(status, "NotAuthorized") == 0)
        o->host->tokens->authz_answer(a->req, PL_AUTHZ_REJECT, json_pack("{s:s}", "status", "Invalid"));
    else
        o->host->tokens->authz_answer(a->req, PL_AUTHZ_DEFER, NULL);
    free(a);
}

/* Another token presented at an EVSE charging on roaming session s: may it stop it? */
static void ask_stop(struct oicp *o, struct oicp_session *s, json_t *ident, pl_authz_request *req)
{
    struct stop_ask *a = calloc(1, sizeof *a);
    if (!a) {
        json_decref(ident);
        o->host->tokens->authz_answer(req, PL_AUTHZ_DEFER, NULL);
        return;
    }
    a->req = req;
    snprintf(a->session_id, sizeof a->session_id, "%s", s->id);
    json_t *body = json_pack("{s:s, s:s, s:s, s:o}", "SessionID", s->id, "OperatorID", o->operator_id, "EvseID",
                             s->evse_id, "Identification", ident);
    if (oicp_hub_call(o, OICP_AUTHORIZE_STOP, body, (unsigned)o->authorize_timeout_ms, on_authorize_stop, a) != PL_OK) {
        free(a);
        o->host->tokens->authz_answer(req, PL_AUTHZ_DEFER, NULL);
    }
}

void oicp_authorizer_ask(void *arg, const struct pl_id_token *tok, pl_authz_request *req)
{
    struct oicp *o = arg;
    const struct pl_host *h = o->host;
    if (!tok->station_id || !tok->value) {
        h->tokens->authz_answer(req, PL_AUTHZ_DEFER, NULL);
        return;
    }
    struct oicp_session *s = session_by_token(o, tok->station_id, tok->value);
    for (struct oicp_session *a = o->sessions; a && !s; a = a->next)
        if (strcmp(a->station_id, tok->station_id) == 0 && may_stop(a, tok->value))
            s = a;
    if (s) {
        h->tokens->authz_answer(req, PL_AUTHZ_ACCEPT, json_pack("{s:s}", "status", "Accepted"));
        return;
    }
    struct oicp_location *l = oicp_location_find(o, tok->station_id);
    json_t *ident = l && o->enabled ? oicp_identification_for_token(tok->value, tok->type) : NULL;
    if (!ident) {
        /* not a roaming station, or not a token the hub could know */
        h->tokens->authz_answer(req, PL_AUTHZ_DEFER, NULL);
        return;
    }
    struct oicp_session *charging = tok->evse > 0 ? oicp_session_on_evse(o, tok->station_id, tok->evse) : NULL;
    if (charging && strcmp(charging->status, "active") == 0) {
        ask_stop(o, charging, ident, req);
        return;
    }
    int evse = tok->evse > 0 && oicp_location_evse_id(l, tok->evse) ? tok->evse : l->evses[0];
    struct ask *a = calloc(1, sizeof *a);
    if (!a) {
        json_decref(ident);
        h->tokens->authz_answer(req, PL_AUTHZ_DEFER, NULL);
        return;
    }
    *a = (struct ask){.o = o, .req = req, .station_id = strdup(tok->station_id), .evse = evse,
                      .evse_id = strdup(oicp_location_evse_id(l, evse)), .token = strdup(tok->value),
                      .ident = ident};
    char cpo[37];
    h->uuid(cpo);
    json_t *body = json_pack("{s:s, s:s, s:O, s:s}", "OperatorID", o->operator_id, "EvseID", a->evse_id,
                             "Identification", ident, "CPOPartnerSessionID", cpo);
    if (oicp_hub_call(o, OICP_AUTHORIZE_START, body, (unsigned)o->authorize_timeout_ms, on_authorize_start,
                      a) != PL_OK) {
        h->tokens->authz_answer(req, PL_AUTHZ_DEFER, NULL);
        ask_free(a);
    }
}

/* ---------- transactions ---------- */

static void notify(struct oicp *o, struct oicp_session *s, const char *type, json_t *extra /* stolen */)
{
    if (!o->notifications) {
        json_decref(extra);
        return;
    }
    json_t *n = json_pack("{s:s, s:s, s:s, s:s}", "Type", type, "SessionID", s->id, "EvseID", s->evse_id,
                          "OperatorID", o->operator_id);
    json_object_update(n, extra);
    json_decref(extra);
    char kind[16];
    snprintf(kind, sizeof kind, "%s", type);
    for (char *p = kind; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    oicp_outbox_add(o, kind, s->id, n);
}

static double kwh(json_t *wh)
{
    return json_is_number(wh) ? (double)(long long)(json_number_value(wh) + 0.5) / 1000.0 : 0;
}

void oicp_sessions_on_event(const char *topic, json_t *env, void *arg)
{
    struct oicp *o = arg;
    const struct pl_host *h = o->host;
    const char *station = json_string_value(json_object_get(env, "station"));
    json_t *tx = json_object_get(env, "data");
    if (!station)
        return;
    if (strcmp(topic, "transaction.started") == 0) {
        const char *token = json_string_value(json_object_get(tx, "id_token"));
        struct oicp_session *s = token ? session_by_token(o, station, token) : NULL;
        if (!s || strcmp(s->status, "active") == 0)
            return;
        s->transaction_id = json_integer_value(json_object_get(tx, "id"));
        json_t *evse = json_object_get(tx, "evse");
        if (json_is_integer(evse) && json_integer_value(evse) > 0)
            s->evse = (int)json_integer_value(evse);
        oicp_session_set_status(o, s, "active", NULL);
        const char *started = json_string_value(json_object_get(tx, "started_at"));
        snprintf(s->started, sizeof s->started, "%s", started ? started : "");
        json_t *extra = json_pack("{s:s?, s:s?}", "ChargingStart", started, "SessionStart", started);
        json_t *ms = json_object_get(tx, "meter_start");
        if (json_is_number(ms))
            json_object_set_new(extra, "MeterValueStart", json_real(kwh(ms)));
        notify(o, s, "Start", extra);
        s->progress_ms = h->now_ms();
    } else if (strcmp(topic, "transaction.ended") == 0) {
        long long id = json_integer_value(json_object_get(tx, "id"));
        struct oicp_session *s = o->sessions;
        while (s && !(s->transaction_id == id && strcmp(s->station_id, station) == 0))
            s = s->next;
        if (!s)
            return;
        const char *started = json_string_value(json_object_get(tx, "started_at"));
        const char *stopped = json_string_value(json_object_get(tx, "stopped_at"));
        json_t *extra = json_pack("{s:s?, s:s?, s:s?, s:s?}", "ChargingStart", started, "ChargingEnd", stopped,
                                  "SessionStart", started, "SessionEnd", stopped);
        json_t *energy = json_object_get(tx, "energy_wh");
        if (json_is_number(energy))
            json_object_set_new(extra, "ConsumedEnergy", json_real(kwh(energy)));
        notify(o, s, "End", extra);
        oicp_outbox_enqueue_cdrs(o, id, s->id);
        oicp_session_set_status(o, s, "ended", json_string_value(json_object_get(tx, "stop_reason"))); /* frees s */
    } else if (strcmp(topic, "meter.values") == 0 && o->progress_interval_s > 0) {
        for (struct oicp_session *s = o->sessions; s; s = s->next) {
            if (strcmp(s->status, "active") != 0 || strcmp(s->station_id, station) != 0 ||
                s->evse != (int)json_integer_value(json_object_get(tx, "evse")))
                continue;
            uint64_t now = h->now_ms();
            if (now - s->progress_ms < (uint64_t)o->progress_interval_s * 1000)
                continue;
            s->progress_ms = now;
            char at[40];
            h->now_rfc3339(at, sizeof at);
            notify(o, s, "Progress", json_pack("{s:s, s:s}", "EventOccurred", at, "ChargingStart",
                                               *s->started ? s->started : at));
        }
    } else if (strcmp(topic, "station.status") == 0) {
        const char *status = json_string_value(json_object_get(tx, "status"));
        int evse = (int)json_integer_value(json_object_get(tx, "evse"));
        struct oicp_session *s = oicp_session_on_evse(o, station, evse);
        if (s && status && strcmp(status, "Faulted") == 0 && strcmp(s->status, "active") == 0) {
            const char *code = json_string_value(json_object_get(tx, "error_code"));
            notify(o, s, "Error", json_pack("{s:s, s:s?}", "ErrorType", "ConnectorError", "ErrorAdditionalInfo", code));
        }
    }
}

/* ---------- start: the open sessions, and those a restart interrupted ---------- */

static void on_sweep(void *arg)
{
    struct oicp *o = arg;
    uint64_t now = o->host->now_ms();
    for (struct oicp_session *s = o->sessions, *n; s; s = n) {
        n = s->next;
        if (strcmp(s->status, "active") != 0 && s->expires_ms && now > s->expires_ms)
            oicp_session_set_status(o, s, "expired", "not used in time");
    }
}

static void on_open_sessions(pl_db_result *res, void *arg)
{
    struct oicp *o = arg;
    const struct pl_host *h = o->host;
    if (!h->db_ok(res)) {
        h->log(o->self, PL_LOG_WARN, "loading open sessions failed: %s", h->db_error(res));
        return;
    }
    uint64_t now = h->now_ms();
    for (int i = 0; i < h->db_ntuples(res); i++) {
        if (oicp_session_find(o, h->db_value(res, i, 0)))
            continue;
        struct oicp_session *s = oicp_session_add(o, h->db_value(res, i, 0), h->db_value(res, i, 3),
                                             atoi(h->db_value(res, i, 4) ?: "0"), h->db_value(res, i, 5) ?: "",
                                             h->db_value(res, i, 6) ?: "", h->db_value(res, i, 2),
                                             h->db_value(res, i, 7) ?: "pending");
        if (!s)
            continue;
        s->transaction_id = atoll(h->db_value(res, i, 8) ?: "0");
        snprintf(s->started, sizeof s->started, "%s", h->db_value(res, i, 10) ?: "");
        const char *left = h->db_value(res, i, 9);
        s->expires_ms = left ? now + (uint64_t)(atof(left) > 0 ? atof(left) * 1000 : 0) : 0;
    }
    h->log(o->self, PL_LOG_INFO, "%d open roaming sessions", h->db_ntuples(res));
    oicp_outbox_enqueue_cdrs(o, 0, NULL);
}

int oicp_sessions_start(struct oicp *o)
{
    const struct pl_host *h = o->host;
    o->sweep_timer = h->timer_new(o->self, on_sweep, o);
    if (!o->sweep_timer)
        return PL_ENOMEM;
    h->timer_start(o->sweep_timer, 10000, 1);
    /* Transactions that started or ended while the gateway was down or before it saw
     * them are tied to their sessions first (one implicit transaction), then the open
     * sessions are read, then CDRs not queued yet are queued (on_open_sessions). */
    h->db_query(o->self,
                "UPDATE oicp_sessions s SET transaction_id = t.id, status = CASE WHEN t.stopped_at IS NULL "
                "THEN 'active' ELSE 'ended' END, updated_at = now() FROM transactions t "
                "WHERE s.transaction_id IS NULL AND s.status IN ('pending','reserved','authorized') "
                "AND t.station_id = s.station_id AND t.id_token = s.id_token AND t.started_at >= s.created_at "
                "- interval '1 minute'; "
                "UPDATE oicp_sessions s SET status = 'ended', ended_at = t.stopped_at, updated_at = now() "
                "FROM transactions t WHERE s.status = 'active' AND t.id = s.transaction_id "
                "AND t.stopped_at IS NOT NULL; "
                "SELECT " SESSION_COLS ", CASE WHEN status = 'active' THEN NULL ELSE greatest(0, extract(epoch FROM "
                "coalesce(expires_at, created_at + interval '10 minutes') - now())) END, started "
                "FROM oicp_sessions s LEFT JOIN LATERAL (SELECT to_char(t.started_at AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS started FROM transactions t WHERE t.id = s.transaction_id) x ON true "
                "WHERE status IN ('pending','reserved','authorized','active')",
                0, NULL, on_open_sessions, o);
    return PL_OK;
}

void oicp_sessions_free(struct oicp *o)
{
    o->host->timer_free(o->sweep_timer);
    o->sweep_timer = NULL;
    while (o->sessions) {
        struct oicp_session *n = o->sessions->next;
        session_free(o->sessions);
        o->sessions = n;
    }
}
