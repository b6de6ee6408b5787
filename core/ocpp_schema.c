/*
 * ocpp_schema.c — validates a JSON payload against the compact message definitions.
 * The error says where and why ("idTagInfo.status: 'Maybe' is not one of ..."); the
 * violation class maps onto each version's CALLERROR names.
 */
#include "ocpp_schema.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const struct pl_ocpp_protocol *ocpp_api_protocol(const char *subprotocol)
{
    if (!subprotocol)
        return NULL;
    if (strcmp(subprotocol, "ocpp1.6") == 0)
        return &pl_ocpp16_protocol;
    if (strcmp(subprotocol, "ocpp2.0.1") == 0)
        return &pl_ocpp201_protocol;
    return NULL;
}

int ocpp_is_v2(const struct pl_ocpp_protocol *p)
{
    return p && strncmp(p->subprotocol, "ocpp2", 5) == 0;
}

const struct pl_ocpp_action *ocpp_api_action(const struct pl_ocpp_protocol *p, const char *name)
{
    if (!p || !name)
        return NULL;
    size_t lo = 0, hi = p->nactions; /* actions are sorted by name */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, p->actions[mid].name);
        if (c == 0)
            return &p->actions[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *ocpp_api_error_code(const struct pl_ocpp_protocol *p, int violation)
{
    int v2 = ocpp_is_v2(p);
    switch (violation) {
    case PL_VALID_FORMAT: return v2 ? "FormatViolation" : "FormationViolation";
    case PL_VALID_OCCURRENCE: return v2 ? "OccurrenceConstraintViolation" : "OccurenceConstraintViolation";
    case PL_VALID_PROPERTY: return "PropertyConstraintViolation";
    case PL_VALID_TYPE: return "TypeConstraintViolation";
    default: return v2 ? "GenericError" : "GenericError";
    }
}

static size_t utf8_chars(const char *s, size_t bytes)
{
    size_t n = 0;
    for (size_t i = 0; i < bytes; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            n++;
    return n;
}

static int fail(char *err, size_t errlen, const char *path, int v, const char *fmt, const char *a)
{
    char msg[256];
    snprintf(msg, sizeof msg, fmt, a ? a : "");
    snprintf(err, errlen, "%s%s%s", *path ? path : "", *path ? ": " : "", msg);
    return v;
}

static const char *type_name(int t)
{
    static const char *const names[] = {"any", "string", "integer", "number", "boolean", "object", "array"};
    return t >= 0 && t <= 6 ? names[t] : "?";
}

static int check(const struct pl_schema *s, json_t *v, char *path, size_t pathlen, char *err,
                 size_t errlen)
{
    switch (s->type) {
    case PL_SCHEMA_ANY:
        return PL_VALID_OK;
    case PL_SCHEMA_STRING: {
        if (!json_is_string(v))
            return fail(err, errlen, path, PL_VALID_TYPE, "expected a string", type_name(s->type));
        const char *str = json_string_value(v);
        size_t bytes = json_string_length(v);
        if (s->max_length >= 0 && utf8_chars(str, bytes) > (size_t)s->max_length) {
            char n[16];
            snprintf(n, sizeof n, "%d", s->max_length);
            return fail(err, errlen, path, PL_VALID_PROPERTY, "string longer than %s characters", n);
        }
        if (s->enums) {
            int found = 0;
            for (size_t i = 0; s->enums[i] && !found; i++)
                found = strcmp(s->enums[i], str) == 0;
            if (!found)
                return fail(err, errlen, path, PL_VALID_PROPERTY, "'%s' is not an allowed value", str);
        }
        if (s->format == PL_FORMAT_DATE_TIME && util_parse_rfc3339(str, NULL) != 0)
            return fail(err, errlen, path, PL_VALID_PROPERTY, "'%s' is not an RFC 3339 date-time", str);
        if (s->format == PL_FORMAT_URI && (bytes == 0 || strchr(str, ' ')))
            return fail(err, errlen, path, PL_VALID_PROPERTY, "'%s' is not a URI", str);
        return PL_VALID_OK;
    }
    case PL_SCHEMA_INTEGER:
    case PL_SCHEMA_NUMBER: {
        if (!json_is_number(v))
            return fail(err, errlen, path, PL_VALID_TYPE, "expected a number", NULL);
        double d = json_number_value(v);
        /* an integer written as 1.0 is an integer (JSON Schema draft 6+) */
        if (s->type == PL_SCHEMA_INTEGER && json_is_real(v) && d != floor(d))
            return fail(err, errlen, path, PL_VALID_TYPE, "expected an integer", NULL);
        if ((s->has_min && d < s->minimum) || (s->has_max && d > s->maximum))
            return fail(err, errlen, path, PL_VALID_PROPERTY, "value out of range", NULL);
        if (s->multiple_of > 0) {
            double q = d / s->multiple_of;
            if (fabs(q - round(q)) > 1e-9)
                return fail(err, errlen, path, PL_VALID_PROPERTY, "value is not a multiple of the step", NULL);
        }
        return PL_VALID_OK;
    }
    case PL_SCHEMA_BOOLEAN:
        return json_is_boolean(v) ? PL_VALID_OK
                                  : fail(err, errlen, path, PL_VALID_TYPE, "expected a boolean", NULL);
    case PL_SCHEMA_ARRAY: {
        if (!json_is_array(v))
            return fail(err, errlen, path, PL_VALID_TYPE, "expected an array", NULL);
        size_t n = json_array_size(v);
        if (n < (size_t)s->min_items || (s->max_items >= 0 && n > (size_t)s->max_items))
            return fail(err, errlen, path, PL_VALID_OCCURRENCE, "wrong number of items", NULL);
        size_t plen = strlen(path);
        for (size_t i = 0; s->items && i < n; i++) {
            snprintf(path + plen, pathlen - plen, "[%zu]", i);
            int r = check(s->items, json_array_get(v, i), path, pathlen, err, errlen);
            path[plen] = '\0';
            if (r)
                return r;
        }
        return PL_VALID_OK;
    }
    case PL_SCHEMA_OBJECT: {
        if (!json_is_object(v))
            return fail(err, errlen, path, *path ? PL_VALID_TYPE : PL_VALID_FORMAT,
                        "expected an object", NULL);
        size_t plen = strlen(path);
        for (uint16_t i = 0; i < s->nprops; i++) {
            const struct pl_schema_prop *p = &s->props[i];
            json_t *pv = json_object_get(v, p->name);
            snprintf(path + plen, pathlen - plen, "%s%s", plen ? "." : "", p->name);
            if (!pv) {
                int r = p->required ? fail(err, errlen, path, PL_VALID_OCCURRENCE,
                                           "required field missing", NULL)
                                    : PL_VALID_OK;
                path[plen] = '\0';
                if (r)
                    return r;
                continue;
            }
            int r = check(p->schema, pv, path, pathlen, err, errlen);
            path[plen] = '\0';
            if (r)
                return r;
        }
        if (!s->additional) {
            const char *key;
            json_t *val;
            json_object_foreach(v, key, val) {
                int known = 0;
                for (uint16_t i = 0; i < s->nprops && !known; i++)
                    known = strcmp(s->props[i].name, key) == 0;
                if (!known)
                    return fail(err, errlen, path, PL_VALID_FORMAT, "unknown field '%s'", key);
            }
        }
        return PL_VALID_OK;
    }
    }
    return PL_VALID_OK;
}

int ocpp_api_validate(const struct pl_schema *s, json_t *value, char *err, size_t errlen)
{
    char path[512] = "";
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!s)
        return PL_VALID_OK;
    if (!value)
        return fail(err, errlen, path, PL_VALID_FORMAT, "no payload", NULL);
    return check(s, value, path, sizeof path, err, errlen);
}
