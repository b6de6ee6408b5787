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
 * the hub again (1.6 stations Authorize a remote start before starting it).
 *
 * The hub's calls are answered with an eRoamingAcknowledgement (HTTP 200, Result false
 * with the specification's status code on a refusal) once the station answered.
 */
#include "oicp.h"

#include <ctype.h>
#include <regex.h>
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

static struct oicp_session *session_on_evse(struct oicp *o, const char *station_id, int evse)
{
    for (struct oicp_session *s = o->sessions; s; s = s->next)
        if (strcmp(s->station_id, station_id) == 0 && s->evse == evse)
            return s;
    return NULL;
}

static struct oicp_session *session_add(struct oicp *o, const char *id, const char *station_id, int evse,
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

static void session_remove(struct oicp *o, struct oicp_session *gone)
{
    for (struct oicp_session **pp = &o->sessions; *pp; pp = &(*pp)->next)
        if (*pp == gone) {
            *pp = gone->next;
            session_free(gone);
            return;
        }
}

static void session_set_status(struct oicp *o, struct oicp_session *s, const char *status, const char *detail)
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
        session_remove(o, s);
        return;
    }
    free(s->status);
    s->status = strdup(status);
}

/* ---------- identification <-> the token a station sees ---------- */

static int matches(const char *re, const char *s)
{
    regex_t r;
    if (!s || regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    int ok = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

#define UID_RE "^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{14}|[0-9A-Fa-f]{20})$"
#define EVCO_RE "^([A-Za-z]{2}-?[A-Za-z0-9]{3}-?C[A-Za-z0-9]{8}-?[0-9A-Za-z|]|[A-Za-z]{2}[*|-]?[A-Za-z0-9]{3}[*|-]?[A-Za-z0-9]{6}[*|-]?[0-9X|])$"
#define UUID_RE "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"

/* The UID or EvcoID the identification carries, and which; NULL when none is usable. */
static const char *identification_value(json_t *ident, int *is_uid, char *why, size_t whylen)
{
    static const char *const kinds[] = {"RFIDMifareFamilyIdentification", "RFIDIdentification",
                                        "QRCodeIdentification", "PlugAndChargeIdentification",
                                        "RemoteIdentification"};
    if (!json_is_object(ident)) {
        snprintf(why, whylen, "Identification: required");
        return NULL;
    }
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        json_t *k = json_object_get(ident, kinds[i]);
        if (!k)
            continue;
        const char *uid = json_string_value(json_object_get(k, "UID"));
        const char *evco = json_string_value(json_object_get(k, "EvcoID"));
        if (i < 2 && !matches(UID_RE, uid)) {
            snprintf(why, whylen, "Identification.%s.UID: not a UID", kinds[i]);
            return NULL;
        }
        if (i >= 2 && !matches(EVCO_RE, evco)) {
            snprintf(why, whylen, "Identification.%s.EvcoID: not an EvcoID", kinds[i]);
            return NULL;
        }
        *is_uid = i < 2;
        return i < 2 ? uid : evco;
    }
    snprintf(why, whylen, "Identification: none of the identification types");
    return NULL;
}

json_t *oicp_identification_for_token(const char *token, const char *type)
{
    if ((!type || strcmp(type, "eMAID") != 0) && matches(UID_RE, token)) {
        char up[24];
        size_t n = 0;
        for (; token[n] && n < sizeof up - 1; n++)
            up[n] = (char)toupper((unsigned char)token[n]);
        up[n] = '\0';
        return json_pack("{s:{s:s}}", "RFIDMifareFamilyIdentification", "UID", up);
    }
    if (matches(EVCO_RE, token))
        /* a contract id presented at the station (ISO 15118, or typed in) */
        return json_pack("{s:{s:s}}", "PlugAndChargeIdentification", "EvcoID", token);
    return NULL;
}

/* The token the station is given: the identification's value when the station's
 * protocol can carry it (1.6 idTag: 20 characters), else one made from the session. */
static void station_token(const char *value, const char *protocol, const char *session_id, char *out,
                          size_t len)
{
    size_t max = protocol && strcmp(protocol, "ocpp1.6") == 0 ? 20 : 36;
    if (strlen(value) <= max) {
        snprintf(out, len, "%s", value);
        return;
    }
    size_t n = 0;
    out[n++] = 'H';
    for (const char *p = session_id; *p && n < 20 && n < len - 1; p++)
        if (isxdigit((unsigned char)*p))
            out[n++] = (char)toupper((unsigned char)*p);
    out[n] = '\0';
}

/* ---------- the hub's calls ---------- */

struct remote {
    struct oicp *o;
    oicp_done_cb cb;
    void *arg;
    json_t *body;        /* the hub's request (new reference) */
    char session_id[37];
    char *station_id;
    char *protocol;
    int evse;
    char *evse_id;
    char token[40];
    int is_uid;
    int reservation_id;
    char expiry[40];
    int resume;          /* a remote start on this session's reservation */
    const char *kind;    /* "remote" | "reservation" */
};

static void remote_free(struct remote *r)
{
    json_decref(r->body);
    free(r->station_id);
    free(r->protocol);
    free(r->evse_id);
    free(r);
}

static void answer(struct remote *r, int result, const char *code, const char *desc)
{
    json_t *ack = oicp_ack(result, code, desc);
    if (*r->session_id)
        json_object_set_new(ack, "SessionID", json_string(r->session_id));
    json_t *cpo = json_object_get(r->body, "CPOPartnerSessionID");
    json_t *emp = json_object_get(r->body, "EMPPartnerSessionID");
    if (!emp)
        emp = json_object_get(r->body, "EMPPartnerSessionId"); /* the reservation schema's spelling */
    if (json_is_string(cpo))
        json_object_set(ack, "CPOPartnerSessionID", cpo);
    if (json_is_string(emp))
        json_object_set(ack, "EMPPartnerSessionID", emp);
    r->o->host->log(r->o->self, result ? PL_LOG_INFO : PL_LOG_WARN, "%s %s at %s: %s %s%s%s", r->kind,
                    *r->session_id ? r->session_id : "-", r->evse_id ? r->evse_id : "?",
                    result ? "accepted" : "refused", code, desc ? ", " : "", desc ? desc : "");
    r->cb(r->arg, 200, ack);
    remote_free(r);
}

static int provider_ok(struct oicp *o, const char *path_provider, json_t *body, struct remote *r)
{
    const char *provider = json_string_value(json_object_get(body, "ProviderID"));
    if (!provider) {
        answer(r, 0, "022", "ProviderID: required");
        return 0;
    }
    if (strcmp(provider, path_provider) != 0) {
        answer(r, 0, "022", "ProviderID differs from the path's providerID");
        return 0;
    }
    if (o->nproviders && !oicp_list_has(o->providers, o->nproviders, provider)) {
        answer(r, 0, "017", "this provider may not call this operator");
        return 0;
    }
    return 1;
}

static struct remote *remote_new(struct oicp *o, json_t *body, const char *kind, oicp_done_cb cb, void *arg)
{
    struct remote *r = calloc(1, sizeof *r);
    if (!r) {
        cb(arg, 200, oicp_ack(0, "021", "out of memory"));
        return NULL;
    }
    *r = (struct remote){.o = o, .cb = cb, .arg = arg, .body = json_incref(body), .kind = kind};
    const char *sid = json_string_value(json_object_get(body, "SessionID"));
    if (sid && strlen(sid) < sizeof r->session_id)
        snprintf(r->session_id, sizeof r->session_id, "%s", sid);
    return r;
}

/* The station and EVSE of the request's EvseID, and whether it can take a session:
 * 0 and the answer given when it cannot. */
static int evse_ok(struct oicp *o, struct remote *r, int allow_reserved_by_self)
{
    const struct pl_host *h = o->host;
    const char *evse_id = json_string_value(json_object_get(r->body, "EvseID"));
    if (!evse_id) {
        answer(r, 0, "022", "EvseID: required");
        return 0;
    }
    r->evse_id = strdup(evse_id);
    struct oicp_location *l = oicp_location_by_evse_id(o, evse_id, &r->evse);
    if (!l) {
        answer(r, 0, "603", "Unknown EVSE ID");
        return 0;
    }
    r->station_id = strdup(l->station_id);
    pl_station *st = h->stations->find(l->station_id);
    if (!st || !h->stations->online(l->station_id)) {
        answer(r, 0, "501", "the station is not connected");
        return 0;
    }
    r->protocol = oicp_strdup(h->stations->protocol(st));
    struct oicp_session *busy = session_on_evse(o, r->station_id, r->evse);
    if (busy && !(allow_reserved_by_self && strcmp(busy->id, r->session_id) == 0 &&
                  strcmp(busy->status, "reserved") == 0)) {
        answer(r, 0, strcmp(busy->status, "reserved") == 0 ? "601" : "602",
               strcmp(busy->status, "reserved") == 0 ? "EVSE already reserved" : "EVSE already in use");
        return 0;
    }
    r->resume = busy != NULL;
    /* the connectors of the EVSE as the station last reported them */
    json_t *snap = h->stations->snapshot(st);
    json_t *evses = json_object_get(snap, "evses"), *e;
    size_t i;
    const char *worst = NULL;
    json_array_foreach(evses, i, e) {
        if (json_integer_value(json_object_get(e, "evse")) != r->evse)
            continue;
        json_t *c;
        size_t k;
        json_array_foreach(json_object_get(e, "connectors"), k, c) {
            const char *s = json_string_value(json_object_get(c, "status"));
            if (!s)
                continue;
            if (strcmp(s, "Charging") == 0 || strcmp(s, "SuspendedEV") == 0 || strcmp(s, "SuspendedEVSE") == 0 ||
                strcmp(s, "Finishing") == 0 || strcmp(s, "Occupied") == 0)
                worst = "602";
            else if (!worst && strcmp(s, "Reserved") == 0 && !r->resume)
                worst = "601";
            else if (!worst && (strcmp(s, "Unavailable") == 0 || strcmp(s, "Faulted") == 0))
                worst = "700";
        }
    }
    json_decref(snap);
    if (worst) {
        answer(r, 0, worst, strcmp(worst, "602") == 0   ? "EVSE already in use"
                            : strcmp(worst, "601") == 0 ? "EVSE already reserved"
                                                        : "EVSE out of service");
        return 0;
    }
    return 1;
}

static void on_station_answer(pl_command *cmd, void *arg)
{
    struct remote *r = arg;
    struct oicp *o = r->o;
    const struct pl_host *h = o->host;
    int st = h->stations->command_status(cmd);
    struct oicp_session *s = oicp_session_find(o, r->session_id);
    if (st == PL_CMD_ACCEPTED) {
        answer(r, 1, "000", "Success");
        return;
    }
    const char *why = st == PL_CMD_REJECTED  ? "the station rejected it"
                      : st == PL_CMD_TIMEOUT ? "the station did not answer in time"
                                             : "the station could not be reached";
    if (s && !r->resume)
        session_set_status(o, s, "failed", why);
    else if (s && strcmp(r->kind, "remote") == 0)
        session_set_status(o, s, "reserved", NULL); /* the reservation stands */
    answer(r, 0, "501", why);
}

static void send_to_station(struct remote *r)
{
    struct oicp *o = r->o;
    const struct pl_host *h = o->host;
    json_t *args;
    int op;
    if (strcmp(r->kind, "remote") == 0) {
        op = PL_OP_REMOTE_START;
        args = json_pack("{s:i, s:s}", "evse", r->evse, "id_token", r->token);
        if (r->protocol && strcmp(r->protocol, "ocpp1.6") != 0)
            json_object_set_new(args, "id_token_type", json_string(r->is_uid ? "ISO14443" : "eMAID"));
    } else {
        op = PL_OP_RESERVE;
        args = json_pack("{s:i, s:i, s:s, s:s}", "reservation_id", r->reservation_id, "evse", r->evse,
                         "id_token", r->token, "expiry", r->expiry);
    }
    int rc = 0;
    char err[200] = "";
    if (!h->stations->command(o->self, r->station_id, op, args, (unsigned)o->remote_timeout_ms,
                              on_station_answer, r, &rc, err, sizeof err)) {
        struct oicp_session *s = oicp_session_find(o, r->session_id);
        if (s && !r->resume)
            session_set_status(o, s, "failed", err[0] ? err : "the command could not be sent");
        answer(r, 0, "501", err[0] ? err : "the command could not be sent");
    }
}

static void on_session_stored(pl_db_result *res, void *arg)
{
    struct remote *r = arg;
    struct oicp *o = r->o;
    const struct pl_host *h = o->host;
    if (!h->db_ok(res)) {
        h->log(o->self, PL_LOG_WARN, "storing session %s failed: %s", r->session_id, h->db_error(res));
        session_remove(o, oicp_session_find(o, r->session_id));
        answer(r, 0, "021", "the session could not be stored");
        return;
    }
    if (h->db_ntuples(res) == 1 && h->db_value(res, 0, 0))
        r->reservation_id = atoi(h->db_value(res, 0, 0));
    send_to_station(r);
}

/* Open the session (memory, then the database), then ask the station. */
static void open_session(struct remote *r, const char *status)
{
    struct oicp *o = r->o;
    const struct pl_host *h = o->host;
    const char *provider = json_string_value(json_object_get(r->body, "ProviderID"));
    if (r->resume) {
        struct oicp_session *s = oicp_session_find(o, r->session_id);
        snprintf(r->token, sizeof r->token, "%s", s->id_token);
        session_set_status(o, s, status, NULL);
        send_to_station(r);
        return;
    }
    if (!session_add(o, r->session_id, r->station_id, r->evse, r->evse_id, r->token, provider, status)) {
        answer(r, 0, "021", "out of memory");
        return;
    }
    json_t *emp = json_object_get(r->body, "EMPPartnerSessionID");
    if (!emp)
        emp = json_object_get(r->body, "EMPPartnerSessionId");
    char evse[16];
    snprintf(evse, sizeof evse, "%d", r->evse);
    char *ident = json_dumps(json_object_get(r->body, "Identification"), JSON_COMPACT);
    const char *params[] = {r->session_id, r->kind, provider, r->station_id, evse, r->evse_id,
                            ident, r->token, json_string_value(json_object_get(r->body, "CPOPartnerSessionID")),
                            json_string_value(emp),
                            json_string_value(json_object_get(r->body, "PartnerProductID")), status,
                            *r->expiry ? r->expiry : NULL};
    int rc = h->db_query(o->self,
                         "INSERT INTO oicp_sessions (id, origin, provider_id, station_id, evse, evse_id, "
                         "identification, id_token, cpo_partner_session_id, emp_partner_session_id, "
                         "partner_product_id, status, expires_at, reservation_id) "
                         "VALUES ($1::uuid, $2, $3, $4, $5::int, $6, $7::jsonb, $8, "
                         "coalesce($9, 'pipelet-' || substr(md5($1::text), 1, 12)), $10, $11, $12, $13::timestamptz, "
                         "CASE WHEN $2 = 'reservation' THEN nextval('oicp_reservation_ids')::int END) "
                         "RETURNING reservation_id",
                         13, params, on_session_stored, r);
    free(ident);
    if (rc != PL_OK) {
        session_remove(o, oicp_session_find(o, r->session_id));
        answer(r, 0, "021", "the database queue is full");
    }
}

static int identification_ok(struct remote *r)
{
    char why[160];
    const char *value = identification_value(json_object_get(r->body, "Identification"), &r->is_uid, why, sizeof why);
    if (!value) {
        answer(r, 0, "022", why);
        return 0;
    }
    station_token(value, r->protocol, r->session_id, r->token, sizeof r->token);
    return 1;
}

void oicp_remote_start(struct oicp *o, const char *provider_id, json_t *body, oicp_done_cb cb, void *arg)
{
    struct remote *r = remote_new(o, body, "remote", cb, arg);
    if (!r || !provider_ok(o, provider_id, body, r))
        return;
    if (!matches(UUID_RE, json_string_value(json_object_get(body, "SessionID")))) {
        answer(r, 0, "022", "SessionID: required, a UUID");
        return;
    }
    struct oicp_session *known = oicp_session_find(o, r->session_id);
    if (known && strcmp(known->status, "reserved") != 0) {
        /* the hub sent it again (its own retry): the session exists */
        answer(r, 1, "000", "Success (session already started)");
        return;
    }
    if (!evse_ok(o, r, 1) || !identification_ok(r))
        return;
    open_session(r, "pending");
}

void oicp_reservation_start(struct oicp *o, const char *provider_id, json_t *body, oicp_done_cb cb, void *arg)
{
    struct remote *r = remote_new(o, body, "reservation", cb, arg);
    if (!r || !provider_ok(o, provider_id, body, r))
        return;
    const char *sid = json_string_value(json_object_get(body, "SessionID"));
    if (sid && !matches(UUID_RE, sid)) {
        answer(r, 0, "022", "SessionID: not a UUID");
        return;
    }
    if (!sid)
        o->host->uuid(r->session_id); /* the hub may leave it to the operator */
    if (oicp_session_find(o, r->session_id)) {
        answer(r, 1, "000", "Success (already reserved)");
        return;
    }
    json_t *d = json_object_get(body, "Duration");
    long minutes = json_is_integer(d) ? (long)json_integer_value(d) : o->reservation_minutes;
    if (minutes < 1 || minutes > 1440) {
        answer(r, 0, "022", "Duration: 1 to 1440 minutes");
        return;
    }
    if (!evse_ok(o, r, 0) || !identification_ok(r))
        return;
    /* the expiry, RFC 3339 UTC, from the wall clock */
    char now[40];
    o->host->now_rfc3339(now, sizeof now);
    struct tm tm = {0};
    if (sscanf(now, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec) == 6) {
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        time_t t = timegm(&tm) + minutes * 60;
        strftime(r->expiry, sizeof r->expiry, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    }
    open_session(r, "reserved");
}

struct stop_ctx {
    struct remote *r;
};

static void on_stop_answer(pl_command *cmd, void *arg)
{
    struct remote *r = arg;
    struct oicp *o = r->o;
    int st = o->host->stations->command_status(cmd);
    struct oicp_session *s = oicp_session_find(o, r->session_id);
    if (st == PL_CMD_ACCEPTED) {
        if (s && strcmp(r->kind, "reservation stop") == 0)
            session_set_status(o, s, "cancelled", "reservation cancelled by the hub");
        answer(r, 1, "000", "Success");
        return;
    }
    answer(r, 0, "501", st == PL_CMD_REJECTED  ? "the station rejected it"
                        : st == PL_CMD_TIMEOUT ? "the station did not answer in time"
                                               : "the station could not be reached");
}

static void on_tx_of_session(pl_db_result *res, void *arg)
{
    struct remote *r = arg;
    struct oicp *o = r->o;
    const struct pl_host *h = o->host;
    const char *tx = h->db_ok(res) && h->db_ntuples(res) == 1 ? h->db_value(res, 0, 0) : NULL;
    if (!tx) {
        answer(r, 0, h->db_ok(res) ? "400" : "021",
               h->db_ok(res) ? "the session has no running transaction" : "the database did not answer");
        return;
    }
    int rc = 0;
    char err[200] = "";
    if (!h->stations->command(o->self, r->station_id, PL_OP_REMOTE_STOP, json_pack("{s:s}", "transaction", tx),
                              (unsigned)o->remote_timeout_ms, on_stop_answer, r, &rc, err, sizeof err))
        answer(r, 0, "501", err[0] ? err : "the command could not be sent");
}

/* The open session a stop names, checked against the request; NULL and answered when not. */
static struct oicp_session *session_for_stop(struct oicp *o, struct remote *r)
{
    if (!matches(UUID_RE, json_string_value(json_object_get(r->body, "SessionID")))) {
        answer(r, 0, "022", "SessionID: required, a UUID");
        return NULL;
    }
    struct oicp_session *s = oicp_session_find(o, r->session_id);
    if (!s) {
        answer(r, 0, "400", "Session is invalid");
        return NULL;
    }
    const char *evse_id = json_string_value(json_object_get(r->body, "EvseID"));
    if (!evse_id) {
        answer(r, 0, "022", "EvseID: required");
        return NULL;
    }
    r->evse_id = strdup(evse_id);
    if (strcmp(evse_id, s->evse_id) != 0) {
        answer(r, 0, "018", "Inconsistent EvseID");
        return NULL;
    }
    const char *provider = json_string_value(json_object_get(r->body, "ProviderID"));
    if (s->provider_id && provider && strcmp(s->provider_id, provider) != 0) {
        answer(r, 0, "017", "the session belongs to another provider");
        return NULL;
    }
    r->station_id = strdup(s->station_id);
    return s;
}

void oicp_remote_stop(struct oicp *o, const char *provider_id, json_t *body, oicp_done_cb cb, void *arg)
{
    struct remote *r = remote_new(o, body, "remote stop", cb, arg);
    if (!r || !provider_ok(o, provider_id, body, r))
        return;
    struct oicp_session *s = session_for_stop(o, r);
    if (!s)
        return;
    if (strcmp(s->status, "active") != 0) {
        /* not charging yet: the grant is withdrawn; a transaction the station starts
         * later with the token is no longer tied to the session */
        session_set_status(o, s, "cancelled", "stopped by the hub before charging");
        answer(r, 1, "000", "Success");
        return;
    }
    char tx[32];
    snprintf(tx, sizeof tx, "%lld", s->transaction_id);
    const char *params[] = {tx};
    if (o->host->db_query(o->self, "SELECT station_tx_id FROM transactions WHERE id = $1::bigint AND stopped_at IS NULL",
                          1, params, on_tx_of_session, r) != PL_OK)
        answer(r, 0, "021", "the database queue is full");
}

static void on_reservation_of_session(pl_db_result *res, void *arg)
{
    struct remote *r = arg;
    struct oicp *o = r->o;
    const struct pl_host *h = o->host;
    const char *id = h->db_ok(res) && h->db_ntuples(res) == 1 ? h->db_value(res, 0, 0) : NULL;
    if (!id) {
        answer(r, 0, h->db_ok(res) ? "400" : "021",
               h->db_ok(res) ? "the session has no reservation" : "the database did not answer");
        return;
    }
    int rc = 0;
    char err[200] = "";
    if (!h->stations->command(o->self, r->station_id, PL_OP_CANCEL_RESERVATION,
                              json_pack("{s:i}", "reservation_id", atoi(id)), (unsigned)o->remote_timeout_ms,
                              on_stop_answer, r, &rc, err, sizeof err))
        answer(r, 0, "501", err[0] ? err : "the command could not be sent");
}

void oicp_reservation_stop(struct oicp *o, const char *provider_id, json_t *body, oicp_done_cb cb, void *arg)
{
    struct remote *r = remote_new(o, body, "reservation stop", cb, arg);
    if (!r || !provider_ok(o, provider_id, body, r))
        return;
    struct oicp_session *s = session_for_stop(o, r);
    if (!s)
        return;
    if (strcmp(s->status, "reserved") != 0) {
        answer(r, 0, "400", "the session is not a reservation");
        return;
    }
    const char *params[] = {s->id};
    if (o->host->db_query(o->self, "SELECT reservation_id FROM oicp_sessions WHERE id = $1::uuid", 1, params,
                          on_reservation_of_session, r) != PL_OK)
        answer(r, 0, "021", "the database queue is full");
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
    if (status && strcmp(status, "Authorized") == 0 && matches(UUID_RE, sid)) {
        const char *provider = json_string_value(json_object_get(resp, "ProviderID"));
        struct oicp_session *s = oicp_session_find(o, sid);
        if (!s)
            s = session_add(o, sid, a->station_id, a->evse, a->evse_id, a->token, provider, "authorized");
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
    struct oicp_session *charging = tok->evse > 0 ? session_on_evse(o, tok->station_id, tok->evse) : NULL;
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
        session_set_status(o, s, "active", NULL);
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
        session_set_status(o, s, "ended", json_string_value(json_object_get(tx, "stop_reason"))); /* frees s */
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
        struct oicp_session *s = session_on_evse(o, station, evse);
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
            session_set_status(o, s, "expired", "not used in time");
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
        struct oicp_session *s = session_add(o, h->db_value(res, i, 0), h->db_value(res, i, 3),
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
