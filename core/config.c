/*
 * config.c — the INI configuration.  Every value remembers where it came from so
 * that errors name file, line and key.  Later keys override earlier ones; -o
 * overrides ("section.key=value") win over the file.  SIGHUP stages the file again,
 * checks it whole and then commits or aborts; values handed out stay valid.
 */
#include "config.h"
#include "core.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_LINE 4096
#define CONFIG_MAX_FILE (1024 * 1024)

struct config_entry {
    char *section, *key, *value, *where;
    struct config_entry *next;
};

static struct config_entry *entries, *entries_tail;
/* During a staged reload: the values before it (see config_stage_reload). */
static struct config_entry *previous, *previous_tail;

/* Values replaced by a reload.  Plugins may still hold them (config_get hands out
 * borrowed pointers), so they are freed only with the whole configuration. */
struct retired {
    char *value;
    struct retired *next;
};
static struct retired *graveyard;

/* What config_load read, to read it again on SIGHUP. */
static struct {
    char *path, *text, *text_name;
    char **overrides;
    size_t noverrides;
} source;

static void entries_free(struct config_entry *e)
{
    while (e) {
        struct config_entry *n = e->next;
        free(e->section);
        free(e->key);
        free(e->value);
        free(e->where);
        free(e);
        e = n;
    }
}

static void source_free(void)
{
    free(source.path);
    free(source.text);
    free(source.text_name);
    for (size_t i = 0; i < source.noverrides; i++)
        free(source.overrides[i]);
    free(source.overrides);
    memset(&source, 0, sizeof source);
}

void config_free(void)
{
    entries_free(entries);
    entries = entries_tail = NULL;
    entries_free(previous);
    previous = previous_tail = NULL;
    while (graveyard) {
        struct retired *r = graveyard;
        graveyard = r->next;
        free(r->value);
        free(r);
    }
    source_free();
}

static struct config_entry *find(const char *section, const char *key)
{
    for (struct config_entry *e = entries; e; e = e->next)
        if (strcmp(e->section, section) == 0 && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

static int set(const char *section, const char *key, const char *value, const char *where)
{
    struct config_entry *e = find(section, key);
    if (e) {
        char *v = strdup(value), *w = strdup(where);
        if (!v || !w) {
            free(v);
            free(w);
            return -1;
        }
        free(e->value);
        free(e->where);
        e->value = v;
        e->where = w;
        return 0;
    }
    e = calloc(1, sizeof *e);
    if (!e)
        return -1;
    e->section = strdup(section);
    e->key = strdup(key);
    e->value = strdup(value);
    e->where = strdup(where);
    if (!e->section || !e->key || !e->value || !e->where) {
        entries_free(e);
        return -1;
    }
    if (entries_tail)
        entries_tail->next = e;
    else
        entries = e;
    entries_tail = e;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static int valid_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return 0;
    return 1;
}

/* Parse text; on error fill err with "name:line: message". */
static int parse(const char *name, const char *text, char *err, size_t errlen)
{
    char section[128] = "";
    char line[CONFIG_MAX_LINE];
    int lineno = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (n >= sizeof line) {
            snprintf(err, errlen, "%s:%d: line too long", name, lineno);
            return -1;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        p = nl ? nl + 1 : p + n;
        if (memchr(line, '\0', n) != NULL && strlen(line) != n) {
            snprintf(err, errlen, "%s:%d: NUL byte in line", name, lineno);
            return -1;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (!end || *trim(end + 1) != '\0') {
                snprintf(err, errlen, "%s:%d: malformed section header", name, lineno);
                return -1;
            }
            *end = '\0';
            char *sec = trim(s + 1);
            if (!valid_name(sec) || strlen(sec) >= sizeof section) {
                snprintf(err, errlen, "%s:%d: invalid section name '%s'", name, lineno, sec);
                return -1;
            }
            strcpy(section, sec);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'key = value'", name, lineno);
            return -1;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        if (!*section) {
            snprintf(err, errlen, "%s:%d: key '%s' outside any [section]", name, lineno, key);
            return -1;
        }
        if (!valid_name(key)) {
            snprintf(err, errlen, "%s:%d: invalid key name '%s'", name, lineno, key);
            return -1;
        }
        /* strip matching quotes so values may carry leading/trailing spaces */
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
            value[vl - 1] = '\0';
            value++;
        }
        char where[300];
        snprintf(where, sizeof where, "%s:%d", name, lineno);
        if (set(section, key, value, where) != 0) {
            snprintf(err, errlen, "%s:%d: out of memory", name, lineno);
            return -1;
        }
    }
    return 0;
}

int config_load_string(const char *name, const char *text, char *err, size_t errlen)
{
    config_free();
    source.text = strdup(text);
    source.text_name = strdup(name);
    return parse(name, text, err, errlen);
}

static int remember_source(const char *path, const char *const *overrides, size_t n)
{
    source.path = path ? strdup(path) : NULL;
    source.overrides = calloc(n + 1, sizeof *source.overrides);
    if ((path && !source.path) || !source.overrides)
        return -1;
    for (; source.noverrides < n; source.noverrides++)
        if (!(source.overrides[source.noverrides] = strdup(overrides[source.noverrides])))
            return -1;
    return 0;
}

static int read_source(const char *path, const char *const *overrides, size_t noverrides,
                       char *err, size_t errlen);

int config_load(const char *path, const char *const *overrides, size_t noverrides,
                char *err, size_t errlen)
{
    config_free();
    if (remember_source(path, overrides, noverrides) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return read_source(path, overrides, noverrides, err, errlen);
}

/* Parse the file, then the overrides, into the current (empty) list. */
static int read_source(const char *path, const char *const *overrides, size_t noverrides,
                       char *err, size_t errlen)
{
    if (path) {
        FILE *fp = fopen(path, "r");
        if (!fp) {
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
            return -1;
        }
        char *buf = malloc(CONFIG_MAX_FILE + 1);
        size_t n = buf ? fread(buf, 1, CONFIG_MAX_FILE + 1, fp) : 0;
        fclose(fp);
        if (!buf) {
            snprintf(err, errlen, "%s: out of memory", path);
            return -1;
        }
        if (n > CONFIG_MAX_FILE) {
            free(buf);
            snprintf(err, errlen, "%s: file larger than 1 MiB", path);
            return -1;
        }
        buf[n] = '\0';
        if (strlen(buf) != n) {
            free(buf);
            snprintf(err, errlen, "%s: contains a NUL byte", path);
            return -1;
        }
        int rc = parse(path, buf, err, errlen);
        free(buf);
        if (rc != 0)
            return -1;
    }
    for (size_t i = 0; i < noverrides; i++) {
        const char *o = overrides[i];
        const char *dot = strchr(o, '.'), *eq = strchr(o, '=');
        if (!dot || !eq || dot > eq || dot == o || eq == dot + 1) {
            snprintf(err, errlen, "-o %s: expected section.key=value", o);
            return -1;
        }
        char section[128], key[128];
        size_t sl = (size_t)(dot - o), kl = (size_t)(eq - dot - 1);
        if (sl >= sizeof section || kl >= sizeof key) {
            snprintf(err, errlen, "-o %s: name too long", o);
            return -1;
        }
        memcpy(section, o, sl);
        section[sl] = '\0';
        memcpy(key, dot + 1, kl);
        key[kl] = '\0';
        if (!valid_name(section) || !valid_name(key)) {
            snprintf(err, errlen, "-o %s: invalid section or key name", o);
            return -1;
        }
        if (set(section, key, eq + 1, "-o") != 0) {
            snprintf(err, errlen, "-o %s: out of memory", o);
            return -1;
        }
    }
    return 0;
}

int config_set(const char *section, const char *key, const char *value)
{
    return set(section, key, value, "runtime");
}

const char *core_config_get(const char *section, const char *key)
{
    struct config_entry *e = find(section, key);
    return e ? e->value : NULL;
}

const char *config_where(const char *section, const char *key)
{
    struct config_entry *e = find(section, key);
    return e ? e->where : "default";
}

int config_foreach(const char *section, config_foreach_cb cb, void *arg)
{
    int n = 0;
    for (struct config_entry *e = entries; e; e = e->next)
        if (strcmp(e->section, section) == 0) {
            cb(e->key, e->value, e->where, arg);
            n++;
        }
    return n;
}

int config_has_section(const char *section)
{
    for (struct config_entry *e = entries; e; e = e->next)
        if (strcmp(e->section, section) == 0)
            return 1;
    return 0;
}

int core_config_int(const char *section, const char *key, long def, long min, long max,
                    long *out)
{
    const char *v = core_config_get(section, key);
    if (!v || !*v) {
        *out = def;
        return PL_OK;
    }
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *trim(end) != '\0') {
        core_log(PL_LOG_ERROR, "config", "%s: [%s] %s: '%s' is not an integer",
                 config_where(section, key), section, key, v);
        return PL_EINVAL;
    }
    if (n < min || n > max) {
        core_log(PL_LOG_ERROR, "config", "%s: [%s] %s: %ld is outside %ld..%ld",
                 config_where(section, key), section, key, n, min, max);
        return PL_EINVAL;
    }
    *out = n;
    return PL_OK;
}

int core_config_bool(const char *section, const char *key, int def, int *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    const char *v = core_config_get(section, key);
    if (!v || !*v) {
        *out = def;
        return PL_OK;
    }
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return PL_OK;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = 0;
            return PL_OK;
        }
    }
    core_log(PL_LOG_ERROR, "config", "%s: [%s] %s: '%s' is not a boolean (yes/no)",
             config_where(section, key), section, key, v);
    return PL_EINVAL;
}

/* ---------- checking values against declarations ---------- */

/* The core's own keys, declared as plugins declare theirs: a typo must fail, not
 * silently fall back, and SIGHUP must know what it can apply.  The ranges repeat those
 * of the modules reading them (they check again when they read). */
#define R PL_CONFIG_RESTART
static const struct pl_config_key core_core[] = {
    {"log_level", PL_CONFIG_ENUM, "info", 0, 0, "error warn warning info debug", "log verbosity", 0},
    {"log_file", PL_CONFIG_STRING, NULL, 0, 0, NULL, "log file (default stderr); SIGHUP reopens it", R},
    {"node_name", PL_CONFIG_STRING, NULL, 0, 0, NULL, "this node's name (default: host name)", R},
    {"pid_file", PL_CONFIG_STRING, NULL, 0, 0, NULL, "pid file", R},
    {"message_log", PL_CONFIG_INT, "200", 0, 100000, NULL, "OCPP messages kept per station", R},
    {"message_log_memory", PL_CONFIG_INT, "64", 1, 1048576, NULL, "MiB the message log may hold in all", R},
    {"command_timeout", PL_CONFIG_INT, "30000", 1, 86400000, NULL, "default command wait, ms", 0},
    {"auth_unknown", PL_CONFIG_ENUM, "reject", 0, 0, "accept reject", "unknown id tokens", 0},
    {"drain_timeout", PL_CONFIG_INT, "5000", 0, 600000, NULL, "SIGTERM drain limit, ms", 0},
    {"token_refresh", PL_CONFIG_INT, "30", 1, 86400, NULL, "token table refresh, s", 0},
    {"auth_remote_timeout", PL_CONFIG_INT, "5000", 100, 60000, NULL, "remote authorizers' deadline, ms", 0},
};
static const struct pl_config_key core_http[] = {
    {"listen", PL_CONFIG_STRING, "0.0.0.0", 0, 0, NULL, "REST listener address", R},
    {"port", PL_CONFIG_INT, "8080", 0, 65535, NULL, "REST listener port", R},
    {"body_limit", PL_CONFIG_INT, "1048576", 1024, 1073741824, NULL, "largest request body", R},
    {"rate_limit", PL_CONFIG_INT, "50", 0, 1000000, NULL, "requests per second per key", R},
    {"rate_burst", PL_CONFIG_INT, "100", 1, 10000000, NULL, "token bucket size", R},
    {"public_health", PL_CONFIG_BOOL, "yes", 0, 0, NULL, "/health and /metrics without a key", R},
    {"health_strict", PL_CONFIG_BOOL, "no", 0, 0, NULL, "503 while degraded", R},
    {"request_timeout", PL_CONFIG_INT, "10", 1, 3600, NULL, "a request must arrive within, s", R},
    {"idle_timeout", PL_CONFIG_INT, "60", 1, 86400, NULL, "idle keep-alive connections closed after, s", R},
    {"auth_fail_burst", PL_CONFIG_INT, "10", 1, 1000000, NULL, "failed logins per address before 429", R},
    {"auth_fail_rate", PL_CONFIG_INT, "6", 0, 1000000, NULL, "failed logins per minute refilled (0: no limit)", R},
    {"tls_port", PL_CONFIG_INT, NULL, 0, 65535, NULL, "HTTPS listener port beside the plain one (0: ephemeral)", R},
    {"tls_certificate", PL_CONFIG_STRING, NULL, 0, 0, NULL, "server certificate chain (PEM): HTTPS (on port, or tls_port)", R},
    {"tls_private_key", PL_CONFIG_STRING, NULL, 0, 0, NULL, "its private key (PEM, not encrypted)", R},
    {"tls_cert", PL_CONFIG_STRING, NULL, 0, 0, NULL, "tls_certificate's former name", R},
    {"tls_key", PL_CONFIG_STRING, NULL, 0, 0, NULL, "tls_private_key's former name", R},
    {"tls_client_ca", PL_CONFIG_STRING, NULL, 0, 0, NULL, "CAs client certificates are verified against (PEM)", R},
    {"tls_min_version", PL_CONFIG_ENUM, "1.2", 0, 0, "1.2 1.3", "oldest TLS version accepted", R},
    {"tls_ciphers", PL_CONFIG_STRING, NULL, 0, 0, NULL, "TLS 1.2 cipher list (OpenSSL syntax)", R},
    {"tls_ciphersuites", PL_CONFIG_STRING, NULL, 0, 0, NULL, "TLS 1.3 cipher suites", R},
};
static const struct pl_config_key core_ocpp[] = {
    {"listen", PL_CONFIG_STRING, "0.0.0.0", 0, 0, NULL, "OCPP listener address", R},
    {"port", PL_CONFIG_INT, "9000", 0, 65535, NULL, "OCPP listener port", R},
    {"path_prefix", PL_CONFIG_STRING, "/ocpp", 0, 0, NULL, "path before the station id", R},
    {"max_message", PL_CONFIG_INT, "1048576", 1024, 67108864, NULL, "largest message", R},
    {"ping_interval", PL_CONFIG_INT, "60", 0, 86400, NULL, "WebSocket ping, s", R},
    {"call_timeout", PL_CONFIG_INT, "30000", 100, 3600000, NULL, "CALL timeout, ms", R},
    {"queue_max", PL_CONFIG_INT, "100", 1, 100000, NULL, "CALLs queued per station", R},
    {"plain", PL_CONFIG_BOOL, "yes", 0, 0, NULL, "no: no ws:// listener, only tls_port", R},
    {"tls_port", PL_CONFIG_INT, NULL, 0, 65535, NULL, "wss:// listener port (0: ephemeral)", R},
    {"tls_certificate", PL_CONFIG_STRING, NULL, 0, 0, NULL, "server certificate chain (PEM)", R},
    {"tls_private_key", PL_CONFIG_STRING, NULL, 0, 0, NULL, "its private key (PEM, not encrypted)", R},
    {"tls_client_ca", PL_CONFIG_STRING, NULL, 0, 0, NULL, "CAs of stations' client certificates (profile 3)", R},
    {"tls_min_version", PL_CONFIG_ENUM, "1.2", 0, 0, "1.2 1.3", "oldest TLS version accepted", R},
    {"tls_ciphers", PL_CONFIG_STRING, NULL, 0, 0, NULL, "TLS 1.2 cipher list (OpenSSL syntax)", R},
    {"tls_ciphersuites", PL_CONFIG_STRING, NULL, 0, 0, NULL, "TLS 1.3 cipher suites", R},
    {"public_url", PL_CONFIG_STRING, NULL, 0, 0, NULL, "ws:// URL stations are told in a profile change", R},
    {"public_tls_url", PL_CONFIG_STRING, NULL, 0, 0, NULL, "wss:// URL stations are told in a profile change", R},
};
static const struct pl_config_key core_database[] = {
    {"url", PL_CONFIG_STRING, "", 0, 0, NULL, "libpq URL, empty (environment) or none", R},
    {"pool_size", PL_CONFIG_INT, "4", 1, 256, NULL, "connections", R},
    {"queue_max", PL_CONFIG_INT, "10000", 1, 10000000, NULL, "queued queries", R},
    {"query_timeout", PL_CONFIG_INT, "30000", 100, 3600000, NULL, "query timeout, ms", R},
    {"connect_wait", PL_CONFIG_INT, "3000", 0, 600000, NULL, "wait at start, ms", R},
    {"prepared_statements", PL_CONFIG_BOOL, "yes", 0, 0, NULL, "station writes as prepared statements", R},
};
static const struct pl_config_key core_plugins[] = {
    {"dir", PL_CONFIG_STRING, NULL, 0, 0, NULL, "plugin directories, colon-separated", R},
    {"load", PL_CONFIG_LIST, NULL, 0, 0, NULL, "plugins to load, in order", R},
    {"required", PL_CONFIG_LIST, NULL, 0, 0, NULL, "plugins whose failure stops the daemon", R},
};
static const struct pl_config_key core_load[] = {
    {"stack_level", PL_CONFIG_INT, "90", 0, 1000, NULL, "stack level of the gateway's charging profiles", R},
    {"command_timeout", PL_CONFIG_INT, "30000", 1000, 600000, NULL, "answer wait for a profile, ms", R},
};
static const struct pl_config_key core_certificates[] = {
    {"ca_cert", PL_CONFIG_STRING, NULL, 0, 0, NULL, "CA certificate (PEM)", R},
    {"ca_key", PL_CONFIG_STRING, NULL, 0, 0, NULL, "CA key (PEM)", R},
    {"days", PL_CONFIG_INT, "365", 1, 3650, NULL, "validity of signed certificates", R},
    {"expiry_warning_days", PL_CONFIG_INT, "30", 1, 3650, NULL, "certificate.expiring this many days ahead", R},
    {"expiry_check_interval", PL_CONFIG_INT, "3600", 1, 604800, NULL, "seconds between expiry checks", R},
};
#undef R
#define DECL(sec, arr) {sec, arr, sizeof arr / sizeof arr[0]}
static const struct {
    const char *section;
    const struct pl_config_key *keys;
    size_t n;
} core_sections[] = {
    DECL("core", core_core),         DECL("http", core_http),       DECL("ocpp", core_ocpp),
    DECL("database", core_database), DECL("plugins", core_plugins), DECL("certificates", core_certificates),
    DECL("load", core_load),
};
#undef DECL

static const struct pl_config_key *decl_find(const struct pl_config_key *keys, size_t n,
                                             const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

/* Is word one of the space-separated words?  Lists them, comma-separated, into list. */
static int word_allowed(const char *words, const char *word, size_t wl, char *list, size_t listlen)
{
    int ok = 0;
    size_t n = 0;
    list[0] = '\0';
    for (const char *p = words; *p;) {
        size_t l = strcspn(p, " ");
        ok |= l == wl && strncmp(p, word, wl) == 0;
        if (l && n < listlen)
            n += (size_t)snprintf(list + n, listlen - n, "%s%.*s", n ? ", " : "", (int)l, p);
        p += l;
        p += strspn(p, " ");
    }
    return ok;
}

/* Check value against its declaration; on error "where: [section] key: why". */
static int check_value(const char *section, const struct pl_config_key *k, const char *value,
                       const char *where, char *err, size_t errlen)
{
    char list[256];
    if (k->type == PL_CONFIG_INT && *value) {
        char *end;
        errno = 0;
        long n = strtol(value, &end, 10);
        while (isspace((unsigned char)*end))
            end++;
        if (errno || end == value || *end != '\0') {
            snprintf(err, errlen, "%s: [%s] %s: '%s' is not an integer", where, section, k->name, value);
            return -1;
        }
        if (n < k->min || n > k->max) {
            snprintf(err, errlen, "%s: [%s] %s: %ld is outside %ld..%ld", where, section, k->name, n,
                     k->min, k->max);
            return -1;
        }
    } else if (k->type == PL_CONFIG_BOOL && *value) {
        static const char *const words[] = {"yes", "no", "true", "false", "on", "off", "1", "0"};
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
            if (strcasecmp(value, words[i]) == 0)
                return 0;
        snprintf(err, errlen, "%s: [%s] %s: '%s' is not a boolean (yes/no)", where, section, k->name, value);
        return -1;
    } else if (k->type == PL_CONFIG_ENUM && k->words &&
               !word_allowed(k->words, value, strlen(value), list, sizeof list)) {
        snprintf(err, errlen, "%s: [%s] %s: '%s' is not one of %s", where, section, k->name, value, list);
        return -1;
    } else if (k->type == PL_CONFIG_LIST && k->words) {
        for (const char *p = value + strspn(value, " ,\t"); *p; p += strspn(p, " ,\t")) {
            size_t l = strcspn(p, " ,\t");
            if (!word_allowed(k->words, p, l, list, sizeof list)) {
                snprintf(err, errlen, "%s: [%s] %s: '%.*s' is not one of %s", where, section, k->name,
                         (int)l, p, list);
                return -1;
            }
            p += l;
        }
    }
    return 0;
}

struct section_check {
    const char *section;
    const struct pl_config_key *keys;
    size_t n;
    int values;      /* check values too, not just names */
    int errors;
    char *err;       /* NULL: log every error; else keep the first one here */
    size_t errlen;
};

static void check_entry(const char *key, const char *value, const char *where, void *arg)
{
    struct section_check *c = arg;
    char msg[512];
    const struct pl_config_key *k = decl_find(c->keys, c->n, key);
    if (!k)
        snprintf(msg, sizeof msg, "%s: unknown key '%s' in [%s]", where, key, c->section);
    else if (!c->values || check_value(c->section, k, value, where, msg, sizeof msg) == 0)
        return;
    if (!c->err)
        core_log(PL_LOG_ERROR, "config", "%s", msg);
    else if (c->errors == 0)
        snprintf(c->err, c->errlen, "%s", msg);
    c->errors++;
}

int config_check_section(const char *section, const struct pl_config_key *keys, size_t n)
{
    struct section_check c = {section, keys, n, 1, 0, NULL, 0};
    config_foreach(section, check_entry, &c);
    return c.errors;
}

/* At start: names in every core section, and the few-words keys (an "auth_unknown =
 * rejct" must not accept every unknown card).  Numbers are checked where they are
 * read; on SIGHUP config_check_core checks everything before anything changes. */
int config_validate_core(char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof core_sections / sizeof core_sections[0]; i++) {
        struct section_check c = {core_sections[i].section, core_sections[i].keys, core_sections[i].n,
                                  0, 0, err, errlen};
        config_foreach(c.section, check_entry, &c);
        if (c.errors)
            return -1;
        for (size_t k = 0; k < c.n; k++) {
            const char *v = core_config_get(c.section, c.keys[k].name);
            if (v && c.keys[k].type == PL_CONFIG_ENUM &&
                check_value(c.section, &c.keys[k], v, config_where(c.section, c.keys[k].name), err,
                            errlen) != 0)
                return -1;
        }
    }
    return 0;
}

int config_check_core(void)
{
    int errors = 0;
    for (size_t i = 0; i < sizeof core_sections / sizeof core_sections[0]; i++)
        errors += config_check_section(core_sections[i].section, core_sections[i].keys,
                                       core_sections[i].n);
    return errors;
}

static const char *const type_names[] = {"?", "string", "int", "bool", "enum", "list"};

void config_describe(const char *section, const struct pl_config_key *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct pl_config_key *k = &keys[i];
        char range[320] = "";
        if (k->type == PL_CONFIG_INT)
            snprintf(range, sizeof range, " %ld..%ld", k->min, k->max);
        else if (k->words)
            snprintf(range, sizeof range, " of: %s", k->words);
        core_log(PL_LOG_DEBUG, "config", "declared [%s] %s: %s%s, default %s%s; %s", section, k->name,
                 k->type >= PL_CONFIG_STRING && k->type <= PL_CONFIG_LIST ? type_names[k->type] : "?", range,
                 !k->def ? "unset" : *k->def ? k->def : "\"\"", k->flags & PL_CONFIG_RESTART ? ", needs a restart" : "",
                 k->description ? k->description : "");
    }
}

void config_describe_core(void)
{
    for (size_t i = 0; i < sizeof core_sections / sizeof core_sections[0]; i++)
        config_describe(core_sections[i].section, core_sections[i].keys, core_sections[i].n);
}

/* ---------- SIGHUP: stage, check, commit or abort ---------- */

static struct config_entry *find_in(struct config_entry *list, const char *section, const char *key)
{
    for (struct config_entry *e = list; e; e = e->next)
        if (strcmp(e->section, section) == 0 && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

int config_stage_reload(char *err, size_t errlen)
{
    if (previous) {
        snprintf(err, errlen, "a reload is already staged");
        return -1;
    }
    previous = entries;
    previous_tail = entries_tail;
    entries = entries_tail = NULL;
    int rc = source.text ? parse(source.text_name, source.text, err, errlen)
                         : read_source(source.path, (const char *const *)source.overrides,
                                       source.noverrides, err, errlen);
    /* effective values found at run time (a bound port 0) are not in the file */
    for (struct config_entry *e = previous; rc == 0 && e; e = e->next)
        if (strcmp(e->where, "runtime") == 0 && set(e->section, e->key, e->value, "runtime") != 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    if (rc != 0)
        config_abort();
    return rc;
}

int config_changed(const char *section, const char *key)
{
    struct config_entry *now = find(section, key), *was = find_in(previous, section, key);
    if (!now || !was)
        return now != was;
    return strcmp(now->value, was->value) != 0;
}

const char *config_previous(const char *section, const char *key)
{
    struct config_entry *e = find_in(previous, section, key);
    return e ? e->value : NULL;
}

void config_abort(void)
{
    entries_free(entries);
    entries = previous;
    entries_tail = previous_tail;
    previous = previous_tail = NULL;
}

void config_commit(void)
{
    for (struct config_entry *e = entries; e; e = e->next) {
        struct config_entry *was = find_in(previous, e->section, e->key);
        if (was && was->value && strcmp(was->value, e->value) == 0) {
            free(e->value); /* the same text: keep the pointer plugins may hold */
            e->value = was->value;
            was->value = NULL;
        }
    }
    for (struct config_entry *e = previous; e; e = e->next) {
        struct retired *r = e->value ? malloc(sizeof *r) : NULL;
        if (r) {
            r->value = e->value;
            r->next = graveyard;
            graveyard = r;
            e->value = NULL;
        }
    }
    entries_free(previous); /* a value not retired (out of memory) is freed here */
    previous = previous_tail = NULL;
}

int config_report_restart(const char *section, const struct pl_config_key *keys, size_t n)
{
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(keys[i].flags & PL_CONFIG_RESTART) || !config_changed(section, keys[i].name))
            continue;
        const char *v = core_config_get(section, keys[i].name);
        core_log(PL_LOG_WARN, "config", "%s: [%s] %s changed to '%s': takes effect after a restart",
                 v ? config_where(section, keys[i].name) : "removed", section, keys[i].name,
                 v ? v : "(default)");
        count++;
    }
    return count;
}

int config_report_core_restart(void)
{
    int count = 0;
    for (size_t i = 0; i < sizeof core_sections / sizeof core_sections[0]; i++)
        count += config_report_restart(core_sections[i].section, core_sections[i].keys,
                                       core_sections[i].n);
    return count;
}
