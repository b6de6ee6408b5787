/*
 * creds.c — station credentials (see creds.h).  PBKDF2-SHA256 hashes in the core's
 * format "pbkdf2-sha256$iter$salthex$hashhex", compared in constant time.  Until the
 * stations table has been read once, nobody is let in: an empty cache is not "no
 * passwords".
 */
#include "creds.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define NSLOTS 4096
#define ITERATIONS 10000
/* OCPP 1.6 security whitepaper (AuthorizationKey) and 2.0.1 BasicAuthPassword
 * (passwordString[40]): at least 16, at most 40 characters. */
#define PASSWORD_MIN 16
#define PASSWORD_MAX 40
#define STATION_ID_MAX 48

/* openapi.json, embedded at build time (scripts/text2c.sh) */
extern const char ocpp_common_openapi_json[];
extern const unsigned long ocpp_common_openapi_json_len;

struct cred {
    char *id;
    char *hash;    /* NULL: known, no password */
    int profile;   /* the security profile it must connect with; -1: as its password says */
    char *retired; /* fingerprints of retired client certificates, space-separated, or NULL */
    struct cred *next;
};

struct creds {
    const struct pl_host *host;
    pl_plugin_handle *self;
    pl_subscription *sub;
    int loaded; /* the stations table was read once (or there is no database) */
    struct cred *slots[NSLOTS];
};

static unsigned slot(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % NSLOTS;
}

static struct cred *find(struct creds *c, const char *id)
{
    for (struct cred *x = c->slots[slot(id)]; x; x = x->next)
        if (strcmp(x->id, id) == 0)
            return x;
    return NULL;
}

static struct cred *set(struct creds *c, const char *id, const char *hash)
{
    struct cred *x = find(c, id);
    if (!x) {
        x = calloc(1, sizeof *x);
        if (!x || !(x->id = strdup(id))) {
            free(x);
            return NULL;
        }
        x->profile = -1;
        unsigned s = slot(id);
        x->next = c->slots[s];
        c->slots[s] = x;
    }
    free(x->hash);
    x->hash = hash ? strdup(hash) : NULL;
    return x;
}

/* Every OCPP plugin keeps its own cache: a password changed through the route of one
 * reaches the others on the bus at once, not at their next refresh. */
static void on_changed(const char *topic, json_t *env, void *arg)
{
    (void)topic;
    (void)env;
    creds_refresh(arg); /* the event carries no secret: reload from the database */
}

struct creds *creds_new(const struct pl_host *host, pl_plugin_handle *self)
{
    struct creds *c = calloc(1, sizeof *c);
    if (c) {
        c->host = host;
        c->self = self;
        c->sub = host->bus_subscribe(self, "station.credentials", on_changed, c);
    }
    return c;
}

void creds_free(struct creds *c)
{
    if (!c)
        return;
    c->host->bus_unsubscribe(c->sub);
    for (size_t i = 0; i < NSLOTS; i++)
        while (c->slots[i]) {
            struct cred *x = c->slots[i];
            c->slots[i] = x->next;
            free(x->id);
            free(x->hash);
            free(x->retired);
            free(x);
        }
    free(c);
}

static void on_loaded(pl_db_result *res, void *arg)
{
    struct creds *c = arg;
    const struct pl_host *h = c->host;
    if (!h->db_ok(res))
        return; /* keep what we have: the database may be restarting */
    for (int i = 0; i < h->db_ntuples(res); i++) {
        struct cred *x = set(c, h->db_value(res, i, 0), h->db_value(res, i, 1));
        if (!x)
            continue;
        const char *profile = h->db_value(res, i, 2), *retired = h->db_value(res, i, 3);
        x->profile = profile ? atoi(profile) : -1;
        free(x->retired);
        x->retired = retired && *retired ? strdup(retired) : NULL;
    }
    if (!c->loaded)
        h->log(c->self, PL_LOG_INFO, "station credentials loaded (%d stations)", h->db_ntuples(res));
    c->loaded = 1;
}

void creds_refresh(struct creds *c)
{
    int rc = c->host->db_query(c->self,
                               "SELECT s.id, s.password_hash, s.security_profile, "
                               "(SELECT string_agg(fingerprint, ' ') FROM station_certificates k "
                               "WHERE k.station_id = s.id AND k.retired_at IS NOT NULL) FROM stations s",
                               0, NULL, on_loaded, c);
    if (rc == PL_ENOTSUP)
        c->loaded = 1; /* [database] url = none: no stored station, no password to check */
}

int creds_policy_from(const char *s)
{
    if (!s || !strcmp(s, "reject"))
        return CREDS_REJECT;
    if (!strcmp(s, "accept"))
        return CREDS_ACCEPT;
    if (!strcmp(s, "pending"))
        return CREDS_PENDING;
    return -1;
}

int creds_policy_config(const struct pl_host *host, pl_plugin_handle *self)
{
    const char *value = host->config_get(self, "unknown_stations", NULL);
    int policy = creds_policy_from(value);
    if (policy < 0)
        host->log(self, PL_LOG_ERROR, "unknown_stations = '%s' is not valid: use accept, pending or reject",
                  value);
    return policy;
}

int creds_station_id_valid(const char *id, size_t len)
{
    static const char extra[] = "*-_=:+|@.";
    if (!id || len == 0 || len > STATION_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)id[i];
        int alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!alnum && (ch == '\0' || !strchr(extra, ch)))
            return 0;
    }
    return 1;
}

static int hex_decode(const char *hex, unsigned char *out, size_t max)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > max)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return (int)(n / 2);
}

int creds_password_ok(const char *password, const char *stored)
{
    char buf[300];
    unsigned char salt[64], want[64], got[64];
    if (!password || !stored || strlen(stored) >= sizeof buf || strncmp(stored, "pbkdf2-sha256$", 14))
        return 0;
    strcpy(buf, stored + 14);
    char *salt_s = strchr(buf, '$'), *hash_s;
    if (!salt_s || !(hash_s = strchr(salt_s + 1, '$')))
        return 0;
    *salt_s++ = '\0';
    *hash_s++ = '\0';
    long iter = strtol(buf, NULL, 10);
    int sl = hex_decode(salt_s, salt, sizeof salt), wl = hex_decode(hash_s, want, sizeof want);
    if (iter < 1 || iter > 10000000 || sl <= 0 || wl <= 0)
        return 0;
    if (!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sl, (int)iter, EVP_sha256(), wl, got))
        return 0;
    return CRYPTO_memcmp(got, want, (size_t)wl) == 0;
}

int creds_password_hash(const char *password, char *out, size_t outlen)
{
    unsigned char salt[16], dk[32];
    if (RAND_bytes(salt, sizeof salt) != 1 ||
        !PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof salt, ITERATIONS,
                           EVP_sha256(), sizeof dk, dk))
        return -1;
    int n = snprintf(out, outlen, "pbkdf2-sha256$%d$", ITERATIONS);
    for (size_t i = 0; i < sizeof salt && n > 0 && (size_t)n + 3 < outlen; i++)
        n += snprintf(out + n, outlen - (size_t)n, "%02x", salt[i]);
    n += snprintf(out + n, outlen - (size_t)n, "$");
    for (size_t i = 0; i < sizeof dk && (size_t)n + 3 < outlen; i++)
        n += snprintf(out + n, outlen - (size_t)n, "%02x", dk[i]);
    return (size_t)n < outlen ? 0 : -1;
}

/* A refusal counted by reason (pipelet_ocpp_handshake_refused_total) and told why. */
static int refuse(struct creds *c, const char *reason, const char *text, int status, const char **why)
{
    char metric[128];
    snprintf(metric, sizeof metric, "pipelet_ocpp_handshake_refused_total{reason=\"%s\"}", reason);
    c->host->metric_add(metric, 1);
    *why = text;
    return status;
}

static int retired(const struct cred *x, const char *fingerprint)
{
    size_t n = strlen(fingerprint);
    for (const char *p = x->retired; p && n && (p = strstr(p, fingerprint)); p += n)
        if ((p == x->retired || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

int creds_profile(struct creds *c, const char *id)
{
    struct cred *x = find(c, id);
    return !x ? -1 : x->profile >= 0 ? x->profile : x->hash ? 1 : 0;
}

int creds_check(struct creds *c, const struct pl_ocpp_handshake *hs, int policy, int *known,
                const char **why)
{
    *known = 0;
    *why = "";
    if (!c->loaded) {
        /* the database was down since start: whether this station has a password is
         * unknown, and letting it in without one is how profile 1 gets bypassed */
        return refuse(c, "not_loaded", "credentials not loaded yet", 503, why);
    }
    struct cred *x = find(c, hs->station_id);
    *known = x != NULL;
    if (!x)
        return policy == CREDS_REJECT ? refuse(c, "unknown_station", "unknown station", 404, why) : 0;
    int profile = x->profile >= 0 ? x->profile : x->hash ? 1 : 0;
    if (profile >= 2 && !hs->tls)
        return refuse(c, "downgrade", profile == 2 ? "security profile 2 needs TLS (wss://)"
                                                   : "security profile 3 needs TLS (wss://) and a client certificate",
                      403, why);
    if (profile == 3) {
        /* the certificate members came with ABI 1.2 */
        int has = hs->size >= offsetof(struct pl_ocpp_handshake, client_cert_not_after) +
                                 sizeof hs->client_cert_not_after;
        if (!has || hs->client_cert == 0)
            return refuse(c, "no_certificate", "security profile 3 needs a client certificate", 403, why);
        if (hs->client_cert < 0) {
            static char text[160];
            snprintf(text, sizeof text, "client certificate not accepted: %s", hs->client_cert_error);
            return refuse(c, "certificate_invalid", text, 403, why);
        }
        if (strcmp(hs->client_cert_cn, hs->station_id) != 0)
            return refuse(c, "certificate_other_station", "the client certificate names another station", 403,
                          why);
        if (retired(x, hs->client_cert_fingerprint))
            return refuse(c, "certificate_retired", "the client certificate was retired", 403, why);
        return 0;
    }
    if (profile == 0)
        return 0;
    if (!x->hash)
        return refuse(c, "no_password", "the station's profile needs a password and none is set", 403, why);
    if (!hs->basic_user || strcmp(hs->basic_user, hs->station_id) != 0 ||
        !creds_password_ok(hs->basic_password, x->hash))
        return refuse(c, "bad_credentials", "bad credentials", 401, why);
    return 0;
}

int creds_known(struct creds *c, const char *id)
{
    return find(c, id) != NULL;
}

int creds_has_password(struct creds *c, const char *id)
{
    struct cred *x = find(c, id);
    return x && x->hash;
}

void creds_remember(struct creds *c, const char *id)
{
    if (!find(c, id))
        set(c, id, NULL);
}

/* ---- PUT/DELETE /ocpp/v1/stations/{id}/password ---- */

struct pw_req {
    struct creds *c;
    pl_request *req;
    char *id;
    char *hash;
};

static void on_pw_saved(pl_db_result *res, void *arg)
{
    struct pw_req *p = arg;
    const struct pl_host *h = p->c->host;
    if (!h->db_ok(res)) {
        h->reply_error(p->req, 503, "DATABASE_ERROR", "database error: %s", h->db_error(res));
    } else {
        set(p->c, p->id, p->hash);
        /* no secret on the bus (webhooks may forward it): the others reload */
        h->bus_publish(p->c->self, "station.credentials", p->id,
                       json_pack("{s:b}", "security_profile", p->hash != NULL));
        h->reply_raw(p->req, 204, NULL, "", 0);
    }
    free(p->id);
    free(p->hash);
    free(p);
}

/* The id of the path: the station id rule (creds_station_id_valid), and no ':' since
 * the id is the Basic user-id, which RFC 7617 forbids to contain one.  0, or -1 after
 * a 400. */
static int password_route_id(struct creds *c, pl_request *req, const char **out)
{
    const struct pl_host *h = c->host;
    const char *id = h->req_param(req, "id");
    if (!id || !creds_station_id_valid(id, strlen(id))) {
        h->reply_error(req, 400, "INVALID_PARAMETER",
                       "station id must be 1 to %d of A-Z a-z 0-9 * - _ = : + | @ .", STATION_ID_MAX);
        return -1;
    }
    if (strchr(id, ':')) {
        h->reply_error(req, 400, "INVALID_PARAMETER",
                       "station id %s contains ':' and cannot be a Basic auth user-id", id);
        return -1;
    }
    *out = id;
    return 0;
}

/* The body's password hashed into hash: 16 to 40 printable ASCII characters (what a
 * charger's AuthorizationKey / BasicAuthPassword holds; a NUL would cut the hash
 * short, so "password\0junk" is refused, not stored as "password").  0 or -1. */
static int password_route_hash(struct creds *c, pl_request *req, char *hash, size_t hashlen)
{
    const struct pl_host *h = c->host;
    json_t *pw = json_object_get(h->req_json(req), "password");
    if (!pw || json_is_null(pw)) {
        h->reply_error(req, 400, "MISSING_PARAMETER", "password is required");
        return -1;
    }
    const char *s = json_string_value(pw);
    size_t n = json_string_length(pw);
    int printable = s != NULL;
    for (size_t i = 0; printable && i < n; i++)
        printable = s[i] >= 0x20 && s[i] <= 0x7e;
    if (!printable || n < PASSWORD_MIN || n > PASSWORD_MAX) {
        h->reply_error(req, 400, "INVALID_PARAMETER",
                       "password must be a string of %d to %d printable ASCII characters", PASSWORD_MIN,
                       PASSWORD_MAX);
        return -1;
    }
    if (creds_password_hash(s, hash, hashlen) != 0) {
        h->reply_error(req, 500, "INTERNAL_ERROR", "cannot hash the password");
        return -1;
    }
    return 0;
}

static void password_route(pl_request *req, void *arg)
{
    struct creds *c = arg;
    const struct pl_host *h = c->host;
    const char *id;
    int del = strcmp(h->req_method(req), "DELETE") == 0;
    char hash[200] = "";
    if (password_route_id(c, req, &id) != 0 || (!del && password_route_hash(c, req, hash, sizeof hash) != 0))
        return;
    struct pw_req *p = calloc(1, sizeof *p);
    if (!p) {
        h->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    p->c = c;
    p->req = req;
    p->id = strdup(id);
    p->hash = del ? NULL : strdup(hash);
    const char *params[] = {id, del ? NULL : hash};
    if (h->db_query(c->self,
                    "INSERT INTO stations (id, password_hash) VALUES ($1, $2) "
                    "ON CONFLICT (id) DO UPDATE SET password_hash = EXCLUDED.password_hash",
                    2, params, on_pw_saved, p) != PL_OK) {
        free(p->id);
        free(p->hash);
        free(p);
        h->reply_error(req, 503, "BUSY", "database queue full");
    }
}

/* ---- the security profile and client certificates of a station ---- */

/* One route's database step: the answer is built from the result by done(). */
struct sec_req {
    struct creds *c;
    pl_request *req;
    char id[STATION_ID_MAX + 1];
    void (*done)(struct sec_req *q, pl_db_result *res);
};

static void on_sec_result(pl_db_result *res, void *arg)
{
    struct sec_req *q = arg;
    const struct pl_host *h = q->c->host;
    if (!h->db_ok(res))
        h->reply_error(q->req, 503, "DATABASE_ERROR", "database error: %s", h->db_error(res));
    else
        q->done(q, res);
    free(q);
}

static void sec_query(struct creds *c, pl_request *req, const char *id, const char *sql, int n,
                      const char *const *params, void (*done)(struct sec_req *, pl_db_result *))
{
    const struct pl_host *h = c->host;
    struct sec_req *q = calloc(1, sizeof *q);
    if (!q) {
        h->reply_error(req, 500, "INTERNAL_ERROR", "out of memory");
        return;
    }
    q->c = c;
    q->req = req;
    q->done = done;
    snprintf(q->id, sizeof q->id, "%s", id);
    if (h->db_query(c->self, sql, n, params, on_sec_result, q) != PL_OK) {
        free(q);
        h->reply_error(req, 503, "BUSY", "database queue full");
    }
}

static void profile_saved(struct sec_req *q, pl_db_result *res)
{
    const struct pl_host *h = q->c->host;
    const char *v = h->db_value(res, 0, 1);
    struct cred *x = find(q->c, q->id);
    if (!x)
        x = set(q->c, q->id, NULL);
    if (x)
        x->profile = v ? atoi(v) : -1;
    h->bus_publish(q->c->self, "station.credentials", q->id,
                   json_pack("{s:i}", "security_profile", creds_profile(q->c, q->id)));
    json_t *body = json_pack("{s:s, s:o, s:i, s:b}", "id", q->id, "security_profile",
                             v ? json_integer(atoi(v)) : json_null(), "effective_profile",
                             creds_profile(q->c, q->id), "password_set", x && x->hash);
    h->reply_json(q->req, 200, body);
}

/* PUT /ocpp/v1/stations/{id}/security-profile {"security_profile": 0..3 | null}: the
 * profile the station is held to from its next handshake (provisioning; changing a
 * connected station's own setting is POST /api/v1/stations/{id}/security-profile). */
static void profile_route(pl_request *req, void *arg)
{
    struct creds *c = arg;
    const struct pl_host *h = c->host;
    const char *id;
    if (password_route_id(c, req, &id) != 0)
        return;
    json_t *v = json_object_get(h->req_json(req), "security_profile");
    json_int_t n = json_integer_value(v);
    if (!v || (!json_is_null(v) && (!json_is_integer(v) || n < 0 || n > 3))) {
        h->reply_error(req, 400, v ? "INVALID_PARAMETER" : "MISSING_PARAMETER",
                       "security_profile must be 0, 1, 2, 3 or null (as the station's password says)");
        return;
    }
    char num[8];
    snprintf(num, sizeof num, "%d", (int)n);
    const char *params[] = {id, json_is_null(v) ? NULL : num};
    sec_query(c, req, id,
              "INSERT INTO stations (id, security_profile) VALUES ($1, $2::smallint) ON CONFLICT (id) "
              "DO UPDATE SET security_profile = EXCLUDED.security_profile RETURNING id, security_profile",
              2, params, profile_saved);
}

static void certificates_listed(struct sec_req *q, pl_db_result *res)
{
    const struct pl_host *h = q->c->host;
    if (h->db_ntuples(res) == 0) {
        h->reply_error(q->req, 404, "STATION_NOT_FOUND", "no station %s", q->id);
        return;
    }
    json_t *items = json_loads(h->db_value(res, 0, 0), 0, NULL);
    h->reply_json(q->req, 200, json_pack("{s:s, s:i, s:o}", "station_id", q->id, "security_profile",
                                         creds_profile(q->c, q->id), "items", items ? items : json_array()));
}

/* GET /ocpp/v1/stations/{id}/certificates: what the station connected with, newest first. */
static void certificates_route(pl_request *req, void *arg)
{
    struct creds *c = arg;
    const char *id;
    if (password_route_id(c, req, &id) != 0)
        return;
    const char *params[] = {id};
    sec_query(c, req, id,
              "SELECT coalesce((SELECT json_agg(json_build_object('fingerprint_sha256', fingerprint, "
              "'subject_cn', subject_cn, 'not_before', to_char(not_before AT TIME ZONE 'UTC', "
              "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'not_after', to_char(not_after AT TIME ZONE 'UTC', "
              "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'first_seen', first_seen, 'last_seen', last_seen, "
              "'retired_at', retired_at, 'expired', not_after < now()) ORDER BY last_seen DESC) "
              "FROM station_certificates WHERE station_id = s.id), '[]')::text FROM stations s WHERE s.id = $1",
              1, params, certificates_listed);
}

static void certificates_retired(struct sec_req *q, pl_db_result *res)
{
    const struct pl_host *h = q->c->host;
    const char *kept = h->db_value(res, 0, 0), *known = h->db_value(res, 0, 2);
    if (!kept) {
        h->reply_error(q->req, 409, "NO_CERTIFICATE",
                       "station %s has not connected with a certificate that is not retired", q->id);
        return;
    }
    if (!known || strcmp(known, "t") != 0) {
        h->reply_error(q->req, 404, "CERTIFICATE_NOT_FOUND",
                       "keep names no certificate station %s connected with (or one already retired)", q->id);
        return;
    }
    json_t *retired = json_loads(h->db_value(res, 0, 1), 0, NULL);
    h->bus_publish(q->c->self, "station.credentials", q->id,
                   json_pack("{s:i}", "security_profile", creds_profile(q->c, q->id)));
    creds_refresh(q->c);
    h->reply_json(q->req, 200, json_pack("{s:s, s:s, s:o}", "station_id", q->id, "kept", kept, "retired",
                                         retired ? retired : json_array()));
}

/* POST /ocpp/v1/stations/{id}/certificates/retire {"keep": fingerprint?}: after a
 * rotation, every other certificate of the station is refused from its next handshake;
 * kept is the one named, else the one it connected with last. */
static void retire_route(pl_request *req, void *arg)
{
    struct creds *c = arg;
    const struct pl_host *h = c->host;
    const char *id;
    if (password_route_id(c, req, &id) != 0)
        return;
    json_t *keep = json_object_get(h->req_json(req), "keep");
    if (keep && !json_is_null(keep) && !json_is_string(keep)) {
        h->reply_error(req, 400, "INVALID_PARAMETER", "keep must be a certificate's SHA-256 fingerprint (hex)");
        return;
    }
    const char *params[] = {id, json_string_value(keep)};
    sec_query(c, req, id,
              "WITH keep AS (SELECT coalesce($2::text, (SELECT fingerprint FROM station_certificates "
              "WHERE station_id = $1 AND retired_at IS NULL ORDER BY last_seen DESC LIMIT 1)) AS fp), "
              "r AS (UPDATE station_certificates SET retired_at = now() WHERE station_id = $1 AND retired_at IS NULL "
              "AND fingerprint <> (SELECT fp FROM keep) AND EXISTS (SELECT 1 FROM station_certificates "
              "WHERE station_id = $1 AND fingerprint = (SELECT fp FROM keep) AND retired_at IS NULL) "
              "RETURNING fingerprint) "
              "SELECT (SELECT fp FROM keep), (SELECT coalesce(json_agg(fingerprint), '[]') FROM r)::text, "
              "EXISTS (SELECT 1 FROM station_certificates WHERE station_id = $1 AND "
              "fingerprint = (SELECT fp FROM keep) AND retired_at IS NULL)",
              2, params, certificates_retired);
}

int creds_register_routes(struct creds *c)
{
    const struct pl_host *h = c->host;
    int more[] = {h->http_route(c->self, "PUT", "/ocpp/v1/stations/{id}/security-profile", PL_AUTH_ADMIN,
                                profile_route, c),
                  h->http_route(c->self, "GET", "/ocpp/v1/stations/{id}/certificates", PL_AUTH_READ,
                                certificates_route, c),
                  h->http_route(c->self, "POST", "/ocpp/v1/stations/{id}/certificates/retire", PL_AUTH_ADMIN,
                                retire_route, c)};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        if (more[i] != PL_OK && more[i] != PL_EEXIST)
            return PL_ERR;
    int a = c->host->http_route(c->self, "PUT", "/ocpp/v1/stations/{id}/password", PL_AUTH_ADMIN,
                                password_route, c);
    int b = c->host->http_route(c->self, "DELETE", "/ocpp/v1/stations/{id}/password", PL_AUTH_ADMIN,
                                password_route, c);
    if (a == PL_OK && b == PL_OK) /* ours (the other OCPP plugin may have them): describe them */
        pl_http_describe_text(c->host, c->self, ocpp_common_openapi_json,
                              (size_t)ocpp_common_openapi_json_len);
    return (a == PL_OK || a == PL_EEXIST) && (b == PL_OK || b == PL_EEXIST) ? PL_OK : PL_ERR;
}
