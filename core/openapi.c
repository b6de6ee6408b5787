/* openapi.c — see openapi.h. */
#include "openapi.h"

#include "http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern const char core_openapi_json[];
extern const unsigned long core_openapi_json_len;

struct fragment {
    pl_plugin_handle *owner;
    json_t *components;
    json_t *tags; /* the tags its operations use, with their descriptions */
    struct fragment *next;
};

static struct {
    json_t *frame;   /* core/openapi.json without its paths */
    struct fragment *frags;
    json_t *root;    /* {"components": merged}, rebuilt when a fragment changes */
} O;

static const char *const methods[] = {"get", "post", "put", "patch", "delete", NULL};

static void invalidate(void)
{
    json_decref(O.root);
    O.root = NULL;
}

/* The first to name a component keeps it: a plugin cannot redefine the core's Error. */
static void merge_components(json_t *into, json_t *from)
{
    const char *kind, *name;
    json_t *set, *def;
    json_object_foreach(from, kind, set) {
        json_t *dst = json_object_get(into, kind);
        if (!dst) {
            dst = json_object();
            json_object_set_new(into, kind, dst);
        }
        json_object_foreach(set, name, def) {
            if (!json_object_get(dst, name))
                json_object_set(dst, name, def);
        }
    }
}

json_t *openapi_root(void)
{
    if (O.root)
        return O.root;
    json_t *components = json_deep_copy(json_object_get(O.frame, "components"));
    if (!components)
        components = json_object();
    for (struct fragment *f = O.frags; f; f = f->next)
        merge_components(components, f->components);
    O.root = json_pack("{s:o}", "components", components);
    return O.root;
}

int openapi_describe(pl_plugin_handle *self, json_t *fragment)
{
    if (!json_is_object(fragment))
        return PL_EINVAL;
    int missing = 0;
    const char *path, *m;
    json_t *item, *op;
    json_object_foreach(json_object_get(fragment, "paths"), path, item) {
        json_object_foreach(item, m, op) {
            int known = 0;
            for (int i = 0; methods[i]; i++)
                known |= strcmp(m, methods[i]) == 0;
            if (!known || !json_is_object(op))
                continue; /* path-level parameters, summaries, x- extensions */
            char upper[8];
            size_t n = 0;
            for (; m[n] && n < sizeof upper - 1; n++)
                upper[n] = (char)toupper((unsigned char)m[n]);
            upper[n] = '\0';
            if (http_route_describe(self, upper, path, op) != PL_OK) {
                core_log(PL_LOG_WARN, "openapi", "%s describes %s %s, which it does not serve",
                         self ? core_plugin_name(self) : "core", upper, path);
                missing++;
            }
        }
    }
    json_t *components = json_object_get(fragment, "components");
    json_t *tags = json_object_get(fragment, "tags");
    if (json_is_object(components) || json_is_array(tags)) {
        struct fragment **pp = &O.frags; /* in load order: the first to name a thing keeps it */
        while (*pp && (*pp)->owner != self)
            pp = &(*pp)->next;
        if (!*pp && (*pp = calloc(1, sizeof **pp)))
            (*pp)->owner = self;
        struct fragment *f = *pp;
        if (!f)
            return PL_ENOMEM;
        json_decref(f->components);
        json_decref(f->tags);
        f->components = json_is_object(components) ? json_deep_copy(components) : json_object();
        f->tags = json_is_array(tags) ? json_deep_copy(tags) : NULL;
        invalidate();
    }
    return missing ? PL_ENOENT : PL_OK;
}

void openapi_remove_owner(pl_plugin_handle *owner)
{
    for (struct fragment **pp = &O.frags; *pp; pp = &(*pp)->next) {
        if ((*pp)->owner != owner)
            continue;
        struct fragment *f = *pp;
        *pp = f->next;
        json_decref(f->components);
        json_decref(f->tags);
        free(f);
        invalidate();
        return;
    }
}

static const char *scope_name(int scope)
{
    switch (scope) {
    case PL_AUTH_NONE: return "none";
    case PL_AUTH_READ: return "read";
    case PL_AUTH_OPERATOR: return "operator";
    case PL_AUTH_ADMIN: return "admin";
    default: return "read"; /* PL_AUTH_CONFIG: read, or none where [http] public_health */
    }
}

/* An operationId where the description gives none, so a client generator names a method
 * for each operation: "post" + "Stations" + "ById" + "Reset" for POST
 * /api/v1/stations/{id}/reset ("api" and "v1" left out; unique as method + pattern are). */
static json_t *operation_id(const char *lower_method, const char *pattern)
{
    char id[256];
    size_t n = (size_t)snprintf(id, sizeof id, "%s", lower_method);
    for (const char *p = pattern; *p && n < sizeof id - 8;) {
        while (*p == '/')
            p++;
        size_t len = strcspn(p, "/");
        int param = len > 1 && p[0] == '{';
        if (len && !(len == 3 && !strncmp(p, "api", 3)) && !(len == 2 && !strncmp(p, "v1", 2))) {
            if (param)
                n += (size_t)snprintf(id + n, sizeof id - n, "By");
            int up = 1;
            for (size_t i = param; i < len - (size_t)param && n < sizeof id - 1; i++) {
                if (!isalnum((unsigned char)p[i])) {
                    up = 1;
                    continue;
                }
                id[n++] = up ? (char)toupper((unsigned char)p[i]) : p[i];
                up = 0;
            }
            id[n] = '\0';
        }
        p += len;
    }
    return json_string(id);
}

static void add_path(const char *method, const char *pattern, int scope, pl_plugin_handle *owner,
                     json_t *doc, void *arg)
{
    json_t *paths = arg;
    (void)owner;
    if (!doc)
        return;
    json_t *item = json_object_get(paths, pattern);
    if (!item) {
        item = json_object();
        json_object_set_new(paths, pattern, item);
    }
    char lower[8];
    size_t n = 0;
    for (; method[n] && n < sizeof lower - 1; n++)
        lower[n] = (char)tolower((unsigned char)method[n]);
    lower[n] = '\0';
    json_t *op = json_copy(doc); /* shallow: x-scope is the router's word, not the text's */
    json_object_set_new(op, "x-scope", json_string(scope_name(scope)));
    if (!json_object_get(op, "operationId"))
        json_object_set_new(op, "operationId", operation_id(lower, pattern));
    if (scope == PL_AUTH_NONE)
        json_object_set_new(op, "security", json_array());
    json_object_set_new(item, lower, op);
}

json_t *openapi_document(void)
{
    json_t *doc = json_copy(O.frame);
    json_object_set(doc, "components", json_object_get(openapi_root(), "components"));
    /* the core's tags, then each plugin's new ones (json_copy of doc was shallow: copy the
     * list before appending, so the frame's stays as it is) */
    json_t *frame_tags = json_object_get(doc, "tags"), *t, *have;
    json_t *tags = json_is_array(frame_tags) ? json_copy(frame_tags) : json_array();
    json_object_set_new(doc, "tags", tags);
    size_t i, j;
    for (struct fragment *f = O.frags; f; f = f->next) {
        json_array_foreach(f->tags, i, t) {
            int dup = 0;
            json_array_foreach(tags, j, have)
                dup |= json_equal(json_object_get(have, "name"), json_object_get(t, "name"));
            if (!dup && json_is_string(json_object_get(t, "name")))
                json_array_append(tags, t);
        }
    }
    json_t *paths = json_object();
    http_routes_foreach(add_path, paths);
    json_object_set_new(doc, "paths", paths);
    return doc;
}

static void serve_document(pl_request *req, void *arg)
{
    (void)arg;
    http_reply_header(req, "Cache-Control", "no-cache");
    http_reply_json(req, 200, openapi_document());
}

struct listing {
    json_t *items;
};

static void add_route(const char *method, const char *pattern, int scope, pl_plugin_handle *owner,
                      json_t *doc, void *arg)
{
    struct listing *l = arg;
    json_array_append_new(l->items,
                          json_pack("{s:s, s:s, s:s, s:s, s:b}", "method", method, "pattern",
                                    pattern, "scope", scope_name(scope), "plugin",
                                    owner ? core_plugin_name(owner) : "core", "documented",
                                    doc != NULL));
}

static void serve_routes(pl_request *req, void *arg)
{
    (void)arg;
    struct listing l = {json_array()};
    http_routes_foreach(add_route, &l);
    http_reply_json(req, 200, json_pack("{s:o, s:s}", "items", l.items, "source", "the router"));
}

int openapi_init(void)
{
    json_error_t e;
    json_t *doc = json_loadb(core_openapi_json, core_openapi_json_len, 0, &e);
    if (!doc) {
        core_log(PL_LOG_ERROR, "openapi", "core/openapi.json: %s (line %d)", e.text, e.line);
        return -1;
    }
    if (http_http_route(NULL, "GET", "/api/v1/openapi.json", PL_AUTH_NONE, serve_document, NULL) != PL_OK ||
        http_http_route(NULL, "GET", "/api/v1/system/routes", PL_AUTH_ADMIN, serve_routes, NULL) != PL_OK) {
        json_decref(doc);
        return -1;
    }
    json_t *paths = json_incref(json_object_get(doc, "paths"));
    json_object_del(doc, "paths");
    O.frame = doc;
    json_t *fragment = json_pack("{s:o}", "paths", paths ? paths : json_object());
    int rc = openapi_describe(NULL, fragment);
    json_decref(fragment);
    return rc == PL_OK ? 0 : -1;
}

void openapi_shutdown(void)
{
    while (O.frags)
        openapi_remove_owner(O.frags->owner);
    invalidate();
    json_decref(O.frame);
    O.frame = NULL;
}
