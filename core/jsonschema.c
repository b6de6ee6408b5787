/* jsonschema.c — see jsonschema.h. */
#include "jsonschema.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

#define MAX_DEPTH 32

struct ctx {
    json_t *root;
    char *err, *field;
    size_t errlen, fieldlen;
    int depth;
};

static enum jsonschema_fault fail(struct ctx *c, enum jsonschema_fault f, const char *path,
                                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum jsonschema_fault fail(struct ctx *c, enum jsonschema_fault f, const char *path,
                                  const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (c->err && c->errlen)
        snprintf(c->err, c->errlen, "%s %s", *path ? path : "the body", why);
    if (c->field && c->fieldlen)
        snprintf(c->field, c->fieldlen, "%s", path);
    return f;
}

static json_t *resolve(struct ctx *c, json_t *schema)
{
    for (int hops = 0; hops < 8; hops++) {
        const char *ref = json_string_value(json_object_get(schema, "$ref"));
        if (!ref)
            return schema;
        if (strncmp(ref, "#/", 2) != 0 || !c->root)
            return NULL;
        json_t *at = c->root;
        char part[128];
        for (const char *p = ref + 2; at && *p;) {
            size_t n = strcspn(p, "/");
            if (n >= sizeof part)
                return NULL;
            memcpy(part, p, n);
            part[n] = '\0';
            at = json_object_get(at, part);
            p += n + (p[n] == '/');
        }
        schema = at;
    }
    return NULL;
}

static const char *type_of(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

static int is_type(json_t *v, const char *t)
{
    if (!strcmp(t, "number"))
        return json_is_number(v);
    if (!strcmp(t, "integer")) /* 3.0 is an integer in JSON Schema */
        return json_is_integer(v) || (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)));
    return !strcmp(type_of(v), t);
}

static int check_type(json_t *v, json_t *type, char *want, size_t wantlen)
{
    if (json_is_string(type)) {
        snprintf(want, wantlen, "%s", json_string_value(type));
        return is_type(v, json_string_value(type));
    }
    size_t i;
    json_t *t;
    int ok = 0;
    want[0] = '\0';
    json_array_foreach(type, i, t) {
        if (!json_is_string(t))
            continue;
        ok |= is_type(v, json_string_value(t));
        size_t n = strlen(want);
        snprintf(want + n, wantlen - n, "%s%s", n ? " or " : "", json_string_value(t));
    }
    return ok;
}

/* How a value is named in a message: "a positive integer" for an integer of minimum 1, as
 * people say it, else the type with its article. */
static const char *kind_of(json_t *s, const char *type)
{
    static char buf[80];
    json_t *min = json_object_get(s, "minimum");
    if (!strcmp(type, "integer") && json_is_number(min) && !json_object_get(s, "maximum")) {
        if (json_number_value(min) == 0)
            return "a non-negative integer";
        if (json_number_value(min) == 1)
            return "a positive integer";
    }
    snprintf(buf, sizeof buf, "%s %s", strchr("aeiou", type[0]) ? "an" : "a", type);
    return buf;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static int pattern_ok(const char *pattern, const char *s)
{
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return 1; /* a pattern POSIX cannot read is the document's problem, not the client's */
    int ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static void join(char *out, size_t len, const char *path, const char *name)
{
    snprintf(out, len, "%s%s%s", path, *path ? "." : "", name);
}

static enum jsonschema_fault validate(struct ctx *c, json_t *schema, json_t *v, const char *path);

static enum jsonschema_fault check_object(struct ctx *c, json_t *s, json_t *v, const char *path)
{
    char sub[256];
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(s, "required"), i, r) {
        const char *name = json_string_value(r);
        if (name && !json_object_get(v, name)) {
            join(sub, sizeof sub, path, name);
            return fail(c, JSONSCHEMA_MISSING, sub, "is required");
        }
    }
    json_t *props = json_object_get(s, "properties"), *extra = json_object_get(s, "additionalProperties");
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) {
        json_t *ps = json_object_get(props, key);
        join(sub, sizeof sub, path, key);
        if (!ps && json_is_false(extra))
            return fail(c, JSONSCHEMA_INVALID, sub, "is not a known field");
        if (!ps && json_is_object(extra))
            ps = extra;
        enum jsonschema_fault f = ps ? validate(c, ps, val, sub) : JSONSCHEMA_OK;
        if (f)
            return f;
    }
    return JSONSCHEMA_OK;
}

/* "1 to 36 characters", "at least 1 item", "at most 20 items": a size as people say it */
static const char *size_range(json_t *s, const char *minkey, const char *maxkey, const char *unit,
                              char *buf, size_t len)
{
    json_t *lo = json_object_get(s, minkey), *hi = json_object_get(s, maxkey);
    long long a = json_integer_value(lo), b = json_integer_value(hi);
    if (json_is_integer(lo) && json_is_integer(hi))
        snprintf(buf, len, "%lld to %lld %ss", a, b, unit);
    else if (json_is_integer(lo))
        snprintf(buf, len, "at least %lld %s%s", a, unit, a == 1 ? "" : "s");
    else
        snprintf(buf, len, "at most %lld %s%s", b, unit, b == 1 ? "" : "s");
    return buf;
}

static enum jsonschema_fault check_array(struct ctx *c, json_t *s, json_t *v, const char *path)
{
    json_t *x;
    char range[64];
    if ((x = json_object_get(s, "minItems")) && json_array_size(v) < (size_t)json_integer_value(x))
        return fail(c, JSONSCHEMA_INVALID, path, "needs %s", size_range(s, "minItems", "maxItems", "item", range, sizeof range));
    if ((x = json_object_get(s, "maxItems")) && json_array_size(v) > (size_t)json_integer_value(x))
        return fail(c, JSONSCHEMA_INVALID, path, "takes %s", size_range(s, "minItems", "maxItems", "item", range, sizeof range));
    json_t *items = json_object_get(s, "items");
    if (!json_is_object(items))
        return JSONSCHEMA_OK;
    size_t i;
    json_t *e;
    char sub[256];
    json_array_foreach(v, i, e) {
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        enum jsonschema_fault f = validate(c, items, e, sub);
        if (f)
            return f;
    }
    return JSONSCHEMA_OK;
}

static enum jsonschema_fault check_string(struct ctx *c, json_t *s, json_t *v, const char *path)
{
    const char *str = json_string_value(v);
    json_t *x;
    char range[64];
    size_t n = utf8_chars(str);
    if (((x = json_object_get(s, "minLength")) && n < (size_t)json_integer_value(x)) ||
        ((x = json_object_get(s, "maxLength")) && n > (size_t)json_integer_value(x)))
        return fail(c, JSONSCHEMA_INVALID, path, "must be %s",
                    size_range(s, "minLength", "maxLength", "character", range, sizeof range));
    if ((x = json_object_get(s, "pattern")) && json_is_string(x) && !pattern_ok(json_string_value(x), str))
        return fail(c, JSONSCHEMA_INVALID, path, "must match %s", json_string_value(x));
    const char *fmt = json_string_value(json_object_get(s, "format"));
    if (fmt && !strcmp(fmt, "date-time") && util_parse_rfc3339(str, NULL) != 0)
        return fail(c, JSONSCHEMA_INVALID, path, "must be an RFC 3339 date-time");
    return JSONSCHEMA_OK;
}

static enum jsonschema_fault check_number(struct ctx *c, json_t *s, json_t *v, const char *path)
{
    double n = json_number_value(v);
    json_t *x;
    char want[64];
    json_t *type = json_object_get(s, "type");
    if (type && is_type(v, "integer") && check_type(v, type, want, sizeof want) &&
        strstr(want, "integer")) {
        const char *kind = kind_of(s, "integer"); /* "a positive integer" */
        if (strcmp(kind, "an integer") != 0 && n < json_number_value(json_object_get(s, "minimum")))
            return fail(c, JSONSCHEMA_INVALID, path, "must be %s", kind);
    }
    if ((x = json_object_get(s, "minimum")) && n < json_number_value(x))
        return fail(c, JSONSCHEMA_INVALID, path, "must be at least %g", json_number_value(x));
    if ((x = json_object_get(s, "maximum")) && n > json_number_value(x))
        return fail(c, JSONSCHEMA_INVALID, path, "must be at most %g", json_number_value(x));
    if ((x = json_object_get(s, "exclusiveMinimum")) && json_is_number(x) && n <= json_number_value(x))
        return fail(c, JSONSCHEMA_INVALID, path, "must be greater than %g", json_number_value(x));
    if ((x = json_object_get(s, "exclusiveMaximum")) && json_is_number(x) && n >= json_number_value(x))
        return fail(c, JSONSCHEMA_INVALID, path, "must be less than %g", json_number_value(x));
    if ((x = json_object_get(s, "multipleOf")) && json_number_value(x) > 0) {
        double q = n / json_number_value(x);
        if (fabs(q - round(q)) > 1e-9)
            return fail(c, JSONSCHEMA_INVALID, path, "must be a multiple of %g", json_number_value(x));
    }
    return JSONSCHEMA_OK;
}

/* "available or type", from the required lists of anyOf/oneOf branches */
static void branch_names(json_t *branches, char *out, size_t len)
{
    size_t i, j, n = 0;
    json_t *b, *r;
    out[0] = '\0';
    json_array_foreach(branches, i, b) {
        json_array_foreach(json_object_get(b, "required"), j, r) {
            if (!json_is_string(r) || strstr(out, json_string_value(r)))
                continue;
            n = strlen(out);
            snprintf(out + n, len - n, "%s%s", n ? " or " : "", json_string_value(r));
        }
    }
}

static int fits_shape(struct ctx *c, json_t *branch, json_t *v)
{
    json_t *s = resolve(c, branch), *type = s ? json_object_get(s, "type") : NULL, *r;
    char want[64];
    size_t i;
    if (!s || !type || !check_type(v, type, want, sizeof want))
        return 0;
    json_array_foreach(json_is_object(v) ? json_object_get(s, "required") : NULL, i, r) {
        if (!json_object_get(v, json_string_value(r)))
            return 0;
    }
    return 1;
}

static enum jsonschema_fault check_combinators(struct ctx *c, json_t *s, json_t *v, const char *path)
{
    json_t *x, *b;
    size_t i;
    enum jsonschema_fault f;
    json_array_foreach(json_object_get(s, "allOf"), i, b) {
        if ((f = validate(c, b, v, path)))
            return f;
    }
    json_t *any = json_object_get(s, "anyOf"), *one = json_object_get(s, "oneOf");
    for (int k = 0; k < 2; k++) {
        json_t *branches = k ? one : any;
        if (!json_is_array(branches))
            continue;
        size_t matched = 0;
        char first[256] = "", names[200];
        json_array_foreach(branches, i, b) {
            struct ctx quiet = {c->root, first[0] ? NULL : first, NULL, sizeof first, 0, c->depth};
            if (validate(&quiet, b, v, path) == JSONSCHEMA_OK)
                matched++;
        }
        if (matched == 0) {
            /* One form the value has the shape of (its type, its required members) is the
             * form the client meant: its own error says what is wrong. */
            json_t *fit = NULL;
            size_t fits = 0;
            json_array_foreach(branches, i, b) {
                if (fits_shape(c, b, v)) {
                    fit = b;
                    fits++;
                }
            }
            if (fits == 1)
                return validate(c, fit, v, path);
        }
        if (matched == 0 || (k && matched > 1)) {
            branch_names(branches, names, sizeof names);
            if (matched > 1)
                return fail(c, JSONSCHEMA_INVALID, path, "matches more than one of its forms%s%s",
                            names[0] ? ": give only one of " : "", names);
            if (names[0] && !strstr(names, " or ")) { /* one name: that member is missing */
                char sub[256];
                join(sub, sizeof sub, path, names);
                return fail(c, JSONSCHEMA_MISSING, sub, "is required");
            }
            if (names[0])
                return fail(c, JSONSCHEMA_MISSING, path, "needs one of %s", names);
            return fail(c, JSONSCHEMA_INVALID, path, "matches none of its forms (%s)", first);
        }
    }
    if ((x = json_object_get(s, "not"))) {
        struct ctx quiet = {c->root, NULL, NULL, 0, 0, c->depth};
        if (validate(&quiet, x, v, path) == JSONSCHEMA_OK)
            return fail(c, JSONSCHEMA_INVALID, path, "is not allowed here");
    }
    return JSONSCHEMA_OK;
}

static enum jsonschema_fault validate(struct ctx *c, json_t *schema, json_t *v, const char *path)
{
    json_t *s = resolve(c, schema), *x;
    if (json_is_true(schema) || !json_is_object(s) || c->depth > MAX_DEPTH)
        return JSONSCHEMA_OK; /* true, an unresolvable ref, or too deep: nothing to check */
    if (json_is_false(schema))
        return fail(c, JSONSCHEMA_INVALID, path, "is not allowed");
    /* Described for clients, checked by the handler, which can say more (a bulk import
     * names the row). */
    if (json_is_true(json_object_get(s, "x-checked-by-handler")))
        return JSONSCHEMA_OK;
    char want[64];
    if ((x = json_object_get(s, "type")) && !check_type(v, x, want, sizeof want))
        return fail(c, JSONSCHEMA_INVALID, path, "must be %s, not %s", kind_of(s, want), type_of(v));
    if ((x = json_object_get(s, "const")) && !json_equal(x, v))
        return fail(c, JSONSCHEMA_INVALID, path, "has the wrong value");
    if ((x = json_object_get(s, "enum")) && json_is_array(x)) {
        size_t i, n = 0;
        json_t *e;
        int found = 0;
        char words[200] = "";
        json_array_foreach(x, i, e) {
            found |= json_equal(e, v);
            if (json_is_string(e) && n < sizeof words)
                n += (size_t)snprintf(words + n, sizeof words - n, "%s%s", n ? ", " : "", json_string_value(e));
        }
        if (!found)
            return fail(c, JSONSCHEMA_ENUM, path, "must be one of: %s", words);
    }
    c->depth++;
    enum jsonschema_fault f = JSONSCHEMA_OK;
    if (json_is_object(v))
        f = check_object(c, s, v, path);
    else if (json_is_array(v))
        f = check_array(c, s, v, path);
    else if (json_is_string(v))
        f = check_string(c, s, v, path);
    else if (json_is_number(v))
        f = check_number(c, s, v, path);
    if (!f)
        f = check_combinators(c, s, v, path);
    c->depth--;
    return f;
}

enum jsonschema_fault jsonschema_validate(json_t *schema, json_t *root, json_t *value, char *err,
                                          size_t errlen, char *field, size_t fieldlen)
{
    struct ctx c = {root, err, field, errlen, fieldlen, 0};
    if (err && errlen)
        err[0] = '\0';
    if (field && fieldlen)
        field[0] = '\0';
    return validate(&c, schema, value, "");
}
