/*
 * config.c — the INI configuration.  Every value remembers where it came from so
 * that errors name file, line and key.  Later keys override earlier ones; -o
 * overrides ("section.key=value") win over the file.
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

void config_free(void)
{
    entries_free(entries);
    entries = entries_tail = NULL;
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
    return parse(name, text, err, errlen);
}

int config_load(const char *path, const char *const *overrides, size_t noverrides,
                char *err, size_t errlen)
{
    config_free();
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

/* The core's own keys: a typo in them must fail, not silently fall back. */
static const char *const core_keys[][2] = {
    {"core", "log_level"},       {"core", "log_file"},          {"core", "node_name"},
    {"core", "pid_file"},        {"core", "message_log"},       {"core", "command_timeout"},
    {"core", "auth_unknown"},    {"core", "drain_timeout"},     {"core", "token_refresh"},
    {"core", "auth_remote_timeout"},     {"http", "listen"},
    {"http", "port"},            {"http", "body_limit"},        {"http", "rate_limit"},
    {"http", "rate_burst"},      {"http", "public_health"},     {"http", "health_strict"},
    {"http", "auth_fail_rate"},  {"http", "auth_fail_burst"},   {"http", "request_timeout"},
    {"http", "idle_timeout"},
    {"ocpp", "listen"},          {"ocpp", "port"},              {"ocpp", "path_prefix"},
    {"ocpp", "max_message"},     {"ocpp", "ping_interval"},     {"ocpp", "call_timeout"},
    {"ocpp", "queue_max"},       {"database", "url"},           {"database", "pool_size"},
    {"database", "queue_max"},   {"database", "query_timeout"}, {"database", "connect_wait"},
    {"plugins", "dir"},          {"plugins", "load"},           {"plugins", "required"},
    {"certificates", "ca_cert"}, {"certificates", "ca_key"},    {"certificates", "days"},
};

struct validate_ctx {
    const char *section;
    char *err;
    size_t errlen;
    int bad;
};

static void validate_key(const char *key, const char *value, const char *where, void *arg)
{
    struct validate_ctx *c = arg;
    if (c->bad)
        return;
    for (size_t i = 0; i < sizeof core_keys / sizeof core_keys[0]; i++)
        if (strcmp(core_keys[i][0], c->section) == 0 && strcmp(core_keys[i][1], key) == 0)
            return;
    snprintf(c->err, c->errlen, "%s: unknown key '%s' in [%s]", where, key, c->section);
    c->bad = 1;
}

/* Keys whose value is one of a few words: anything else is an error, never a silent
 * fallback (an "auth_unknown = rejct" must not accept every unknown card). */
static const struct {
    const char *section, *key;
    const char *const words[4];
} core_enums[] = {
    {"core", "auth_unknown", {"accept", "reject", NULL}},
};

static int validate_enums(char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof core_enums / sizeof core_enums[0]; i++) {
        const char *v = core_config_get(core_enums[i].section, core_enums[i].key);
        if (!v)
            continue;
        int ok = 0;
        char list[128] = "";
        for (int w = 0; core_enums[i].words[w]; w++) {
            ok |= strcmp(v, core_enums[i].words[w]) == 0;
            size_t n = strlen(list);
            snprintf(list + n, sizeof list - n, "%s%s", w ? ", " : "", core_enums[i].words[w]);
        }
        if (!ok) {
            snprintf(err, errlen, "%s: [%s] %s: '%s' is not one of %s",
                     config_where(core_enums[i].section, core_enums[i].key), core_enums[i].section,
                     core_enums[i].key, v, list);
            return -1;
        }
    }
    return 0;
}

int config_validate_core(char *err, size_t errlen)
{
    static const char *const sections[] = {"core", "http", "ocpp", "database", "plugins", "certificates"};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        struct validate_ctx c = {sections[i], err, errlen, 0};
        config_foreach(sections[i], validate_key, &c);
        if (c.bad)
            return -1;
    }
    return validate_enums(err, errlen);
}
