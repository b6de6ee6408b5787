/*
 * security_routes.c — POST /api/v1/stations/{id}/security-profile: moves a connected
 * station to a higher OCPP security profile with the protocol's own flow, and records
 * what it answered.
 *
 *   OCPP 1.6 (security whitepaper): ChangeConfiguration SecurityProfile = N.  The
 *   station then reconnects with the new profile.
 *   OCPP 2.0.1 (B09): SetNetworkProfile (the new connection data in a configuration
 *   slot: the CSMS URL, securityProfile), SetVariables OCPPCommCtrlr
 *   NetworkConfigurationPriority = that slot, and a Reset OnIdle, after which the
 *   station connects with the slot.
 *
 * Only after every step was accepted is the station held to N (stations.security_profile,
 * read by the OCPP plugins' handshake check): a refusal leaves it where it was.  Every
 * attempt lands in security_profile_changes.  A downgrade is refused here: both
 * specifications forbid it.
 */
#include "headless.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 3

struct step {
    int op;
    json_t *args; /* ours until sent */
    const char *action;
};

struct upgrade {
    struct headless *hl;
    pl_request *req;
    char station[64];
    int from, to;
    struct step steps[MAX_STEPS];
    size_t nsteps, next;
    json_t *done; /* [{action, status}] */
    unsigned timeout_ms;
    int in_send, sync_done, outcome; /* outcome: PL_CMD_* of the step that ended the run */
    char error[256];
};

static void upgrade_free(struct upgrade *u)
{
    for (size_t i = 0; i < u->nsteps; i++)
        json_decref(u->steps[i].args);
    json_decref(u->done);
    free(u);
}

static void add_step(struct upgrade *u, int op, const char *action, json_t *args)
{
    u->steps[u->nsteps++] = (struct step){op, args, action};
}

static void on_recorded(pl_db_result *res, void *arg)
{
    struct upgrade *u = arg;
    const struct pl_host *h = u->hl->host;
    int accepted = u->outcome == PL_CMD_ACCEPTED;
    if (!h->db_ok(res)) {
        h->reply_error(u->req, 503, "DATABASE_ERROR", "the station %s the change, but it could not be recorded: %s",
                       accepted ? "accepted" : "refused", h->db_error(res));
        upgrade_free(u);
        return;
    }
    if (accepted) /* the OCPP plugins reload the profile the handshake holds it to */
        h->bus_publish(u->hl->self, "station.credentials", u->station, json_pack("{s:i}", "security_profile", u->to));
    json_t *body = json_pack("{s:s, s:i, s:i, s:s, s:O}", "station_id", u->station, "from", u->from, "to", u->to,
                             "status", hl_outcome_name(u->outcome), "steps", u->done);
    if (accepted) {
        h->reply_json(u->req, 200, body);
    } else {
        int http = u->outcome == PL_CMD_REJECTED ? 409 : u->outcome == PL_CMD_TIMEOUT ? 504 : 502;
        json_object_set_new(body, "code", json_string(u->outcome == PL_CMD_REJECTED ? "REJECTED_BY_STATION"
                                                      : u->outcome == PL_CMD_TIMEOUT ? "STATION_TIMEOUT"
                                                                                     : "STATION_ERROR"));
        json_object_set_new(body, "error", json_string(u->error));
        h->reply_json(u->req, http, body);
    }
    upgrade_free(u);
}

/* The result in security_profile_changes, and on success the profile itself, in one
 * statement: the record never says Accepted for a profile the handshake does not hold. */
static void record(struct upgrade *u)
{
    const struct pl_host *h = u->hl->host;
    char from[8], to[8];
    snprintf(from, sizeof from, "%d", u->from);
    snprintf(to, sizeof to, "%d", u->to);
    const char *status = hl_outcome_name(u->outcome);
    const char *params[] = {u->station, from, to, status, u->outcome == PL_CMD_ACCEPTED ? NULL : u->error};
    if (h->db_query(u->hl->self,
                    "WITH c AS (INSERT INTO security_profile_changes (station_id, from_profile, to_profile, status, "
                    "detail) VALUES ($1, $2::smallint, $3::smallint, $4, $5)) "
                    "UPDATE stations SET security_profile = $3::smallint WHERE id = $1 AND $4 = 'Accepted'",
                    5, params, on_recorded, u) != PL_OK) {
        h->reply_error(u->req, 503, "BUSY", "database queue full");
        upgrade_free(u);
    }
}

static void run(struct upgrade *u);

static void on_step(pl_command *cmd, void *arg)
{
    struct upgrade *u = arg;
    const struct pl_station_api *st = u->hl->st;
    int status = st->command_status(cmd);
    json_t *result = st->command_result(cmd);
    const char *word = json_string_value(json_object_get(result, "status"));
    json_array_append_new(u->done, json_pack("{s:s, s:s, s:s?}", "action", u->steps[u->next - 1].action,
                                             "outcome", hl_outcome_name(status), "status", word));
    if (status != PL_CMD_ACCEPTED) {
        const char *err = st->command_error(cmd);
        u->outcome = status;
        snprintf(u->error, sizeof u->error, "%s: %s", u->steps[u->next - 1].action,
                 status == PL_CMD_REJECTED ? (word ? word : "Rejected")
                 : err && *err             ? err
                                           : hl_outcome_name(status));
        u->next = u->nsteps; /* stop here */
    }
    u->sync_done = 1;
    if (!u->in_send)
        run(u);
}

/* The next step, or the record once the last one is answered. */
static void run(struct upgrade *u)
{
    struct headless *hl = u->hl;
    while (u->next < u->nsteps) {
        struct step *s = &u->steps[u->next++];
        char err[256] = "";
        int rc = PL_OK;
        json_t *args = s->args;
        s->args = NULL;
        u->in_send = 1;
        u->sync_done = 0;
        pl_command *cmd = hl->st->command(hl->self, u->station, s->op, args, u->timeout_ms, on_step, u, &rc, err,
                                          sizeof err);
        u->in_send = 0;
        if (u->sync_done)
            continue;
        if (!cmd) {
            u->outcome = rc == PL_EOFFLINE ? PL_CMD_FAILED : PL_CMD_FAILED;
            snprintf(u->error, sizeof u->error, "%s: %s", s->action,
                     *err ? err : rc == PL_EOFFLINE ? "the station went offline" : "cannot send");
            json_array_append_new(u->done, json_pack("{s:s, s:s}", "action", s->action, "outcome", "Failed"));
            break;
        }
        return; /* on_step goes on */
    }
    record(u);
}

/* The wss:// URL a 2.0.1 station is given: the request's, else [ocpp] public_tls_url,
 * else this host's TLS listener as configured. */
static int csms_url(struct headless *hl, json_t *body, int profile, char *out, size_t outlen)
{
    const struct pl_host *h = hl->host;
    const char *given = json_string_value(json_object_get(body, "csms_url"));
    const char *pub = h->config_global("ocpp", profile >= 2 ? "public_tls_url" : "public_url");
    if (given || (pub && *pub)) {
        snprintf(out, outlen, "%s", given ? given : pub);
        return 0;
    }
    const char *port = h->config_global("ocpp", profile >= 2 ? "tls_port" : "port");
    const char *listen = h->config_global("ocpp", "listen");
    const char *prefix = h->config_global("ocpp", "path_prefix");
    if (!port || !*port)
        return -1;
    int wildcard = !listen || !*listen || !strcmp(listen, "0.0.0.0");
    snprintf(out, outlen, "%s://%s:%s%s", profile >= 2 ? "wss" : "ws", wildcard ? "127.0.0.1" : listen, port,
             prefix && *prefix ? prefix : "/ocpp");
    return 0;
}

void hl_station_security_profile(pl_request *req, void *arg)
{
    struct headless *hl = arg;
    const struct pl_host *h = hl->host;
    const char *id;
    long to, slot;
    int present;
    unsigned timeout_ms;
    json_t *body = hl_body(hl, req);
    if (hl_path_station(hl, req, &id) < 0 ||
        hl_body_int(hl, req, body, "security_profile", HL_REQUIRED, 1, 3, &to, &present) < 0 ||
        hl_body_int(hl, req, body, "configuration_slot", HL_OPTIONAL, 1, 9, &slot, &present) < 0 ||
        hl_timeout_ms(hl, req, &timeout_ms) < 0) {
        json_decref(body);
        return;
    }
    if (!present)
        slot = 1;
    pl_station *st = hl->st->find(id);
    if (!st) {
        json_decref(body);
        h->reply_error(req, 409, "STATION_OFFLINE", "station %s is not connected: a profile change is sent to it", id);
        return;
    }
    json_t *snap = hl->st->snapshot(st);
    int from = (int)json_integer_value(json_object_get(json_object_get(snap, "connection"), "security_profile"));
    int v201 = strcmp(hl->st->protocol(st), "ocpp2.0.1") == 0;
    json_decref(snap);
    if (to <= from) {
        json_decref(body);
        h->reply_error(req, 409, "PROFILE_DOWNGRADE",
                       "station %s is on security profile %d: only a higher one can be set (OCPP forbids a downgrade)",
                       id, from);
        return;
    }
    const char *tls_port = h->config_global("ocpp", "tls_port");
    const char *client_ca = h->config_global("ocpp", "tls_client_ca");
    if (to >= 2 && !(tls_port && *tls_port)) {
        json_decref(body);
        h->reply_error(req, 409, "TLS_NOT_CONFIGURED",
                       "security profile %ld needs the wss:// listener ([ocpp] tls_port, tls_certificate, "
                       "tls_private_key)", to);
        return;
    }
    if (to == 3 && !(client_ca && *client_ca)) {
        json_decref(body);
        h->reply_error(req, 409, "TLS_NOT_CONFIGURED",
                       "security profile 3 needs [ocpp] tls_client_ca (the CA of the stations' certificates)");
        return;
    }
    char url[512];
    if (v201 && csms_url(hl, body, (int)to, url, sizeof url) != 0) {
        json_decref(body);
        h->reply_error(req, 409, "TLS_NOT_CONFIGURED", "no URL to give the station: set [ocpp] public_tls_url");
        return;
    }
    struct upgrade *u = calloc(1, sizeof *u);
    if (!u || !(u->done = json_array())) {
        free(u);
        json_decref(body);
        h->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    u->hl = hl;
    u->req = req;
    u->from = from;
    u->to = (int)to;
    u->timeout_ms = timeout_ms;
    u->outcome = PL_CMD_ACCEPTED;
    snprintf(u->station, sizeof u->station, "%s", id);
    char value[16];
    snprintf(value, sizeof value, "%ld", to);
    if (!v201) {
        add_step(u, PL_OP_SET_CONFIGURATION, "ChangeConfiguration",
                 json_pack("{s:s, s:s}", "key", "SecurityProfile", "value", value));
    } else {
        snprintf(value, sizeof value, "%ld", slot);
        add_step(u, PL_OP_RAW_CALL, "SetNetworkProfile",
                 json_pack("{s:s, s:{s:I, s:{s:s, s:s, s:s, s:i, s:I, s:s}}}", "action", "SetNetworkProfile",
                           "payload", "configurationSlot", (json_int_t)slot, "connectionData", "ocppVersion",
                           "OCPP20", "ocppTransport", "JSON", "ocppCsmsUrl", url, "messageTimeout", 30,
                           "securityProfile", (json_int_t)to, "ocppInterface", "Wired0"));
        add_step(u, PL_OP_SET_CONFIGURATION, "SetVariables",
                 json_pack("{s:s, s:s}", "key", "OCPPCommCtrlr/NetworkConfigurationPriority", "value", value));
        add_step(u, PL_OP_RESET, "Reset", json_pack("{s:s}", "type", "Soft"));
    }
    json_decref(body);
    run(u);
}
