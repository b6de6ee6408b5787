/*
 * plugin_loader.c — dlopen'd plugins.  The descriptor's fixed prefix (ABI major,
 * minor, struct size, build signature) is checked before anything else is read
 * (Varnish's rule: the version fields protect the rest).  Every refusal is one log
 * line naming the file, both versions and what to do.  A plugin that goes away (init
 * failed, or after fini) takes every registration made with its handle along
 * (Mosquitto's rule), before its shared object is closed.  Its declared config keys
 * are checked at init, in --check-config and on SIGHUP.
 */
#include "plugin_loader.h"
#include "openapi.h"
#include "outbox.h"
#include "bus.h"
#include "certs.h"
#include "config.h"
#include "db.h"
#include "host.h"
#include "http.h"
#include "ocppj.h"
#include "tokens.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef PLUGINDIR
#define PLUGINDIR "/usr/local/lib/pipelet/plugins"
#endif

struct pl_plugin_handle {
    char *name;
    char *path;
    void *dl;
    const struct pl_plugin *desc;
    void *state;
    int required;
    int started;
    int checking;                     /* --check-config: init stops at config_declare */
    const struct pl_config_key *keys; /* declared with config_declare (the plugin's) */
    size_t nkeys;
    int declared;
    int config_errors;                /* found in its section by config_declare */
    struct pl_plugin_handle *next;
};

/* The first ABI minor whose plugins can declare their keys (pl_host.config_declare). */
#define DECLARE_MINOR 2

static struct pl_plugin_handle *plugins;

const char *core_plugin_name(pl_plugin_handle *self)
{
    return self ? self->name : "core";
}

const char *loader_default_dir(void)
{
    return PLUGINDIR;
}

static int word_in_list(const char *list, const char *word)
{
    if (!list)
        return 0;
    size_t wl = strlen(word);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        const char *start = p;
        while (*p && *p != ' ' && *p != ',' && *p != '\t')
            p++;
        if ((size_t)(p - start) == wl && strncmp(start, word, wl) == 0)
            return 1;
        if ((size_t)(p - start) == 3 && strncmp(start, "all", 3) == 0)
            return 1;
    }
    return 0;
}

const struct pl_plugin *loader_probe(const char *path, void **dl, char *why, size_t whylen)
{
    *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*dl) {
        snprintf(why, whylen, "cannot load: %s (check its dependencies with ldd)", dlerror());
        return NULL;
    }
    const struct pl_plugin *d = dlsym(*dl, PL_PLUGIN_SYMBOL);
    if (!d) {
        snprintf(why, whylen, "no '%s' descriptor (not a pipelet plugin?): %s",
                 PL_PLUGIN_SYMBOL, dlerror());
        goto fail;
    }
    if (d->abi_major != PL_ABI_MAJOR || d->abi_minor > PL_ABI_MINOR) {
        snprintf(why, whylen,
                 "built for plugin ABI %u.%u, this daemon provides %d.%d: rebuild the plugin "
                 "against this pipelet's SDK",
                 d->abi_major, d->abi_minor, PL_ABI_MAJOR, PL_ABI_MINOR);
        goto fail;
    }
    if (d->struct_size < offsetof(struct pl_plugin, fini) + sizeof(d->fini)) {
        snprintf(why, whylen, "descriptor too small (%u bytes): corrupt or foreign build",
                 d->struct_size);
        goto fail;
    }
    if (!d->build_signature || strcmp(d->build_signature, PL_BUILD_SIGNATURE) != 0) {
        snprintf(why, whylen, "build signature '%s' differs from the daemon's '%s'",
                 d->build_signature ? d->build_signature : "(none)", PL_BUILD_SIGNATURE);
        goto fail;
    }
    if (!d->name || !*d->name || !d->init) {
        snprintf(why, whylen, "descriptor has no name or init callback");
        goto fail;
    }
    return d;
fail:
    dlclose(*dl);
    *dl = NULL;
    return NULL;
}

static char *find_plugin_file(const char *dirs, const char *name)
{
    char path[4096];
    const char *p = dirs;
    while (p && *p) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        if (n > 0 && n < sizeof path - 64) {
            struct stat st;
            snprintf(path, sizeof path, "%.*s/%s.so", (int)n, p, name);
            if (stat(path, &st) == 0)
                return strdup(path);
            /* libtool build trees keep the .so under .libs/ */
            snprintf(path, sizeof path, "%.*s/.libs/%s.so", (int)n, p, name);
            if (stat(path, &st) == 0)
                return strdup(path);
        }
        p = colon ? colon + 1 : NULL;
    }
    return NULL;
}

static const struct pl_config_key *declared_key(struct pl_plugin_handle *h, const char *key)
{
    for (size_t i = 0; i < h->nkeys; i++)
        if (strcmp(h->keys[i].name, key) == 0)
            return &h->keys[i];
    return NULL;
}

/* A declaration the host cannot check against is the plugin's bug: say which. */
static int declaration_valid(struct pl_plugin_handle *h, const struct pl_config_key *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct pl_config_key *k = &keys[i];
        const char *why = !k->name || !*k->name                              ? "has no name"
                          : k->type < PL_CONFIG_STRING || k->type > PL_CONFIG_LIST ? "has an unknown type"
                          : k->type == PL_CONFIG_INT && k->min > k->max       ? "has min > max"
                          : k->type == PL_CONFIG_ENUM && !k->words            ? "is an enum without words"
                                                                                : NULL;
        if (why) {
            core_log(PL_LOG_ERROR, "plugins", "plugin %s: config key #%zu (%s) %s", h->name, i,
                     k->name ? k->name : "?", why);
            return 0;
        }
    }
    return 1;
}

int loader_config_declare(pl_plugin_handle *self, const struct pl_config_key *keys, size_t n)
{
    if (!self || (!keys && n) || !declaration_valid(self, keys, n))
        return PL_EINVAL;
    if (self->declared)
        return PL_EEXIST;
    self->keys = keys;
    self->nkeys = n;
    self->declared = 1;
    self->config_errors = config_check_section(self->name, keys, n);
    if (self->config_errors)
        return PL_EINVAL;
    return self->checking ? PL_ESTATE : PL_OK;
}

void loader_config_read(pl_plugin_handle *self, const char *key)
{
    if (self && self->declared && key && !declared_key(self, key))
        core_log(PL_LOG_WARN, "plugins", "plugin %s reads [%s] %s, which it did not declare",
                 self->name, self->name, key);
}

/* Remove everything registered with h's handle: it is going away (its callbacks and
 * the memory their arguments point to with it).  Said in the log when anything was. */
static void release_registrations(struct pl_plugin_handle *h, int level, const char *when)
{
    openapi_remove_owner(h); /* its components; its operations went with its routes */
    int routes = http_remove_owner(h), handlers = ocppj_remove_owner(h),
        provider = certs_remove_owner(h), timers = host_timers_free_owner(h),
        migrations = db_remove_migrations(h->name), subs = bus_unsubscribe_owner(h),
        authorizers = tokens_remove_owner(h), senders = outbox_remove_owner(h);
    if (routes + handlers + provider + timers + migrations + subs + authorizers + senders == 0)
        return;
    core_log(level, "plugins",
             "plugin %s %s: removed %d HTTP route(s), %d OCPP handler(s), %d certificate provider(s), "
             "%d timer(s), %d migration set(s), %d bus subscription(s), %d remote authorizer(s), "
             "%d outbox sender(s)",
             h->name, when, routes, handlers, provider, timers, migrations, subs, authorizers, senders);
}

static void handle_free(struct pl_plugin_handle *h)
{
    if (!h)
        return;
    if (h->dl)
        dlclose(h->dl);
    free(h->name);
    free(h->path);
    free(h);
}

/* Takes path and dl (freed with the handle, or here when it cannot be made). */
static struct pl_plugin_handle *handle_new(char *path, void *dl, const struct pl_plugin *d)
{
    struct pl_plugin_handle *h = calloc(1, sizeof *h);
    if (!h || !(h->name = strdup(d->name))) {
        free(h);
        dlclose(dl);
        free(path);
        return NULL;
    }
    h->path = path;
    h->dl = dl;
    h->desc = d;
    return h;
}

/* init, and the errors in the plugin's section even when it ignored them (a typo
 * must not fall back to a default).  On failure h is released and freed. */
static int init_plugin(struct pl_plugin_handle *h, const struct pl_host *host)
{
    int rc = h->desc->init(h, host, &h->state);
    if (rc == PL_OK && h->config_errors) {
        core_log(PL_LOG_ERROR, "plugins", "plugin %s went on despite the errors in its [%s] section",
                 h->name, h->name);
        if (h->desc->fini)
            h->desc->fini(h->state);
        rc = PL_EINVAL;
    }
    if (rc == PL_OK) {
        if (!h->declared && config_has_section(h->name))
            core_log(PL_LOG_INFO, "plugins", "plugin %s (ABI %u.%u) declares no config keys: [%s] is not checked",
                     h->name, h->desc->abi_major, h->desc->abi_minor, h->name);
        return PL_OK;
    }
    core_log(h->required ? PL_LOG_ERROR : PL_LOG_WARN, "plugins",
             "plugin %s (%s) failed to initialise (rc=%d)%s", h->name, h->path, rc,
             h->required ? "" : "; continuing without it");
    release_registrations(h, PL_LOG_INFO, "failed its init");
    handle_free(h);
    return rc;
}

static int load_one(const struct pl_host *host, const char *dirs, const char *name, int required)
{
    char why[512];
    for (struct pl_plugin_handle *h = plugins; h; h = h->next)
        if (strcmp(h->name, name) == 0) {
            core_log(PL_LOG_ERROR, "plugins", "plugin '%s' listed twice in [plugins] load",
                     name);
            return required ? -1 : 0;
        }
    char *path = find_plugin_file(dirs, name);
    if (!path) {
        core_log(required ? PL_LOG_ERROR : PL_LOG_WARN, "plugins",
                 "plugin '%s' not found in %s (set [plugins] dir)", name, dirs);
        return required ? -1 : 0;
    }
    void *dl;
    const struct pl_plugin *d = loader_probe(path, &dl, why, sizeof why);
    if (!d) {
        core_log(required ? PL_LOG_ERROR : PL_LOG_WARN, "plugins", "refusing %s: %s", path,
                 why);
        free(path);
        return required ? -1 : 0;
    }
    for (struct pl_plugin_handle *h = plugins; h; h = h->next)
        if (strcmp(h->desc->name, d->name) == 0) {
            core_log(PL_LOG_ERROR, "plugins",
                     "refusing %s: a plugin named '%s' is already loaded from %s", path,
                     d->name, h->path);
            dlclose(dl);
            free(path);
            return required ? -1 : 0;
        }
    struct pl_plugin_handle *h = handle_new(path, dl, d);
    if (!h)
        return -1;
    h->required = required;
    if (init_plugin(h, host) != PL_OK)
        return required ? -1 : 0;
    struct pl_plugin_handle **pp = &plugins;
    while (*pp)
        pp = &(*pp)->next;
    *pp = h;
    core_log(PL_LOG_INFO, "plugins", "loaded %s %s (ABI %u.%u) from %s", d->name,
             d->version ? d->version : "?", d->abi_major, d->abi_minor, path);
    return 0;
}

/* Call fn for every plugin named in [plugins] load, in order; stops at the first
 * non-zero return. */
static int foreach_listed(int (*fn)(const char *dirs, const char *name, int required, void *arg),
                          void *arg)
{
    const char *dirs = core_config_get("plugins", "dir");
    const char *load = core_config_get("plugins", "load");
    const char *required = core_config_get("plugins", "required");
    if (!dirs || !*dirs)
        dirs = PLUGINDIR;
    if (!load)
        return 0;
    char *copy = strdup(load);
    if (!copy)
        return -1;
    int rc = 0;
    for (char *save = NULL, *tok = strtok_r(copy, " ,\t", &save); tok && rc == 0;
         tok = strtok_r(NULL, " ,\t", &save))
        rc = fn(dirs, tok, word_in_list(required, tok), arg);
    free(copy);
    return rc;
}

static int load_listed(const char *dirs, const char *name, int required, void *arg)
{
    return load_one(arg, dirs, name, required);
}

int loader_load_all(const struct pl_host *host)
{
    return foreach_listed(load_listed, (void *)host);
}

/* --check-config of one plugin's section.  Its init runs in check mode: the plugin
 * declares its keys and config_declare answers PL_ESTATE, so init returns before it
 * registers or allocates anything (pipelet/plugin.h says so).  A host call is the only
 * way to reach the declarations without changing the descriptor's fixed prefix, and
 * the same code checks the section when the daemon runs.  Plugins built before ABI 1.2
 * cannot declare: they are only ABI-checked.  Returns the number of errors. */
static int check_section(char *path, void *dl, const struct pl_plugin *d)
{
    if (d->abi_minor < DECLARE_MINOR) {
        core_log(PL_LOG_INFO, "plugins", "plugin %s (ABI %u.%u) declares no config keys: [%s] is not checked",
                 d->name, d->abi_major, d->abi_minor, d->name);
        dlclose(dl);
        free(path);
        return 0;
    }
    struct pl_plugin_handle *h = handle_new(path, dl, d);
    if (!h)
        return 1;
    h->checking = 1;
    int rc = d->init(h, host_table(), &h->state);
    if (rc == PL_OK) { /* it did not stop at config_declare: undo its init */
        core_log(PL_LOG_WARN, "plugins", "plugin %s ran its whole init in --check-config: "
                 "config_declare must come first", h->name);
        if (d->fini)
            d->fini(h->state);
    }
    if (!h->declared)
        core_log(PL_LOG_INFO, "plugins", "plugin %s declares no config keys: [%s] is not checked",
                 h->name, h->name);
    else
        config_describe(h->name, h->keys, h->nkeys);
    int errors = h->config_errors;
    release_registrations(h, PL_LOG_WARN, "in --check-config");
    handle_free(h);
    return errors;
}

static int check_listed(const char *dirs, const char *name, int required, void *arg)
{
    char why[512];
    void *dl = NULL;
    int *failed = arg;
    const struct pl_plugin *d = NULL;
    char *path = find_plugin_file(dirs, name);
    if (!path) {
        core_log(required ? PL_LOG_ERROR : PL_LOG_WARN, "plugins", "plugin '%s' not found in %s",
                 name, dirs);
    } else if (!(d = loader_probe(path, &dl, why, sizeof why))) {
        core_log(required ? PL_LOG_ERROR : PL_LOG_WARN, "plugins", "refusing %s: %s", path, why);
    } else {
        /* a wrong key is the file's error whether or not the plugin is required */
        if (check_section(path, dl, d) != 0)
            *failed = 1;
        return 0;
    }
    free(path);
    if (required)
        *failed = 1;
    return 0; /* report every plugin, not just the first failure */
}

int loader_check_all(void)
{
    int failed = 0;
    config_describe_core();
    foreach_listed(check_listed, &failed);
    return failed ? -1 : 0;
}

int loader_start_all(void)
{
    for (struct pl_plugin_handle *h = plugins; h; h = h->next) {
        if (h->desc->start && h->desc->start(h->state) != PL_OK) {
            core_log(h->required ? PL_LOG_ERROR : PL_LOG_WARN, "plugins",
                     "plugin %s failed to start", h->name);
            if (h->required)
                return -1;
            continue;
        }
        h->started = 1;
    }
    return 0;
}

/* SIGHUP, step 1: stage the file again and check all of it (core sections with their
 * values, each plugin's section against its declarations).  0 when it may be applied. */
static int reload_check(void)
{
    char err[1024];
    if (config_stage_reload(err, sizeof err) != 0) {
        core_log(PL_LOG_ERROR, "config", "SIGHUP: %s: the configuration is unchanged", err);
        return -1;
    }
    int errors = config_check_core();
    for (struct pl_plugin_handle *h = plugins; h; h = h->next)
        if (h->declared)
            errors += config_check_section(h->name, h->keys, h->nkeys);
    if (errors) {
        config_abort();
        core_log(PL_LOG_ERROR, "config",
                 "SIGHUP: %d error(s) in the configuration (above): nothing changed, plugins not reloaded",
                 errors);
        return -1;
    }
    return 0;
}

/* SIGHUP, step 2: say what needs a restart, commit, apply the log level. */
static void reload_apply(void)
{
    int restart = config_report_core_restart();
    for (struct pl_plugin_handle *h = plugins; h; h = h->next)
        if (h->declared)
            restart += config_report_restart(h->name, h->keys, h->nkeys);
    int level_changed = config_changed("core", "log_level");
    const char *was = config_previous("core", "log_file"); /* the file open now */
    char *log_file = was ? strdup(was) : NULL;
    config_commit();
    if (level_changed) {
        const char *lvl = core_config_get("core", "log_level");
        core_log_open(log_file, core_log_level_from_name(lvl ? lvl : "info")); /* checked */
        core_log(PL_LOG_INFO, "config", "SIGHUP: log level now %s", lvl ? lvl : "info");
    }
    free(log_file);
    core_log(PL_LOG_INFO, "config", "SIGHUP: configuration re-read; %d change(s) take effect after a restart",
             restart);
}

void loader_reload_all(void)
{
    if (reload_check() != 0)
        return;
    reload_apply();
    for (struct pl_plugin_handle *h = plugins; h; h = h->next)
        if (h->started && h->desc->reload && h->desc->reload(h->state) != PL_OK)
            core_log(PL_LOG_WARN, "plugins", "plugin %s failed to reload", h->name);
}

void loader_stop_all(void)
{
    for (struct pl_plugin_handle *h = plugins; h; h = h->next)
        if (h->desc->stop)
            h->desc->stop(h->state);
}

void loader_fini_all(void)
{
    /* reverse order of loading, so later plugins can still use earlier ones */
    struct pl_plugin_handle *rev = NULL;
    while (plugins) {
        struct pl_plugin_handle *h = plugins;
        plugins = h->next;
        h->next = rev;
        rev = h;
    }
    while (rev) {
        struct pl_plugin_handle *h = rev;
        rev = h->next;
        if (h->desc->fini)
            h->desc->fini(h->state);
        release_registrations(h, PL_LOG_DEBUG, "after fini");
        handle_free(h);
    }
}

json_t *loader_list_json(void)
{
    json_t *arr = json_array();
    for (struct pl_plugin_handle *h = plugins; h; h = h->next) {
        char abi[32];
        snprintf(abi, sizeof abi, "%u.%u", h->desc->abi_major, h->desc->abi_minor);
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "name", h->name, "version",
                           h->desc->version ? h->desc->version : "", "description",
                           h->desc->description ? h->desc->description : "", "abi", abi,
                           "file", h->path, "required", h->required, "state",
                           h->started ? "running" : "initialised"));
    }
    return arr;
}

int loader_print_available(const char *dirs)
{
    int found = 0;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dirs && *dirs ? dirs : PLUGINDIR);
    for (char *save = NULL, *dir0 = strtok_r(buf, ":", &save); dir0;
         dir0 = strtok_r(NULL, ":", &save))
        for (int libs = 0; libs < 2; libs++) { /* libtool build trees keep .so in .libs/ */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s%s", dir0, libs ? "/.libs" : "");
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t n = strlen(e->d_name);
            if (n < 4 || strcmp(e->d_name + n - 3, ".so") != 0)
                continue;
            char path[8192], why[512];
            void *dl;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            const struct pl_plugin *p = loader_probe(path, &dl, why, sizeof why);
            if (p) {
                printf("%-12s %-8s ABI %u.%u  %s\n             %s\n", p->name,
                       p->version ? p->version : "?", p->abi_major, p->abi_minor, path,
                       p->description ? p->description : "");
                dlclose(dl);
            } else {
                printf("%-12s refused: %s\n             %s\n", e->d_name, why, path);
            }
            found++;
        }
        closedir(d);
        }
    return found;
}
