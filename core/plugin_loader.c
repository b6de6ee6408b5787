/*
 * plugin_loader.c — dlopen'd plugins.  The descriptor's fixed prefix (ABI major,
 * minor, struct size, build signature) is checked before anything else is read
 * (Varnish's rule: the version fields protect the rest).  Every refusal is one log
 * line naming the file, both versions and what to do.
 */
#include "plugin_loader.h"
#include "bus.h"

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
    struct pl_plugin_handle *next;
};

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
    struct pl_plugin_handle *h = calloc(1, sizeof *h);
    if (!h || !(h->name = strdup(d->name))) {
        free(h);
        dlclose(dl);
        free(path);
        return -1;
    }
    h->path = path;
    h->dl = dl;
    h->desc = d;
    h->required = required;
    int rc = d->init(h, host, &h->state);
    if (rc != PL_OK) {
        core_log(required ? PL_LOG_ERROR : PL_LOG_WARN, "plugins",
                 "plugin %s (%s) failed to initialise (rc=%d)%s", d->name, path, rc,
                 required ? "" : "; continuing without it");
        bus_unsubscribe_owner(h);
        handle_free(h);
        return required ? -1 : 0;
    }
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

static int check_listed(const char *dirs, const char *name, int required, void *arg)
{
    char why[512];
    void *dl = NULL;
    int *failed = arg;
    char *path = find_plugin_file(dirs, name);
    if (!path) {
        core_log(required ? PL_LOG_ERROR : PL_LOG_WARN, "plugins", "plugin '%s' not found in %s",
                 name, dirs);
    } else if (!loader_probe(path, &dl, why, sizeof why)) {
        core_log(required ? PL_LOG_ERROR : PL_LOG_WARN, "plugins", "refusing %s: %s", path, why);
    } else {
        dlclose(dl);
        free(path);
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

void loader_reload_all(void)
{
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
        bus_unsubscribe_owner(h);
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
