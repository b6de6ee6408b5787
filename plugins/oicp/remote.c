/*
 * remote.c — the hub's calls: AuthorizeRemoteStart / Stop (V2.1) and
 * AuthorizeRemoteReservationStart / Stop (V1.1), each answered with an
 * eRoamingAcknowledgement once the station answered (HTTP 200; a refusal carries the
 * specification's status code), and the identifications they carry turned into the
 * token a station sees.  The sessions they open live in sessions.c.
 */
#include "oicp.h"

#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---------- identification <-> the token a station sees ---------- */

int oicp_matches(const char *re, const char *s)
{
    regex_t r;
    if (!s || regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    int ok = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}


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
        if (i < 2 && !oicp_matches(UID_RE, uid)) {
            snprintf(why, whylen, "Identification.%s.UID: not a UID", kinds[i]);
            return NULL;
        }
        if (i >= 2 && !oicp_matches(EVCO_RE, evco)) {
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
    if ((!type || strcmp(type, "eMAID") != 0) && oicp_matches(UID_RE, token)) {
        char up[24];
        size_t n = 0;
        for (; token[n] && n < sizeof up - 1; n++)
            up[n] = (char)toupper((unsigned char)token[n]);
        up[n] = '\0';
        return json_pack("{s:{s:s}}", "RFIDMifareFamilyIdentification", "UID", up);
    }
    if (oicp_matches(EVCO_RE, token))
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
    long minutes;        /* a reservation's length */
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
    struct oicp_session *busy = oicp_session_on_evse(o, r->station_id, r->evse);
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
        oicp_session_set_status(o, s, "failed", why);
    else if (s && strcmp(r->kind, "remote") == 0)
        oicp_session_set_status(o, s, "reserved", NULL); /* the reservation stands */
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
            oicp_session_set_status(o, s, "failed", err[0] ? err : "the command could not be sent");
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
        oicp_session_remove(o, oicp_session_find(o, r->session_id));
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
        oicp_session_set_status(o, s, status, NULL);
        send_to_station(r);
        return;
    }
    struct oicp_session *added = oicp_session_add(o, r->session_id, r->station_id, r->evse, r->evse_id, r->token,
                                                  provider, status);
    if (!added) {
        answer(r, 0, "021", "out of memory");
        return;
    }
    if (r->minutes) /* a reservation holds its EVSE for its own length, then a minute */
        added->expires_ms = h->now_ms() + (uint64_t)(r->minutes + 1) * 60000;
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
        oicp_session_remove(o, oicp_session_find(o, r->session_id));
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
    if (!oicp_matches(UUID_RE, json_string_value(json_object_get(body, "SessionID")))) {
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
    if (sid && !oicp_matches(UUID_RE, sid)) {
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
    r->minutes = minutes;
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

static void on_stop_answer(pl_command *cmd, void *arg)
{
    struct remote *r = arg;
    struct oicp *o = r->o;
    int st = o->host->stations->command_status(cmd);
    struct oicp_session *s = oicp_session_find(o, r->session_id);
    if (st == PL_CMD_ACCEPTED) {
        if (s && strcmp(r->kind, "reservation stop") == 0)
            oicp_session_set_status(o, s, "cancelled", "reservation cancelled by the hub");
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
    if (!oicp_matches(UUID_RE, json_string_value(json_object_get(r->body, "SessionID")))) {
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
        oicp_session_set_status(o, s, "cancelled", "stopped by the hub before charging");
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
