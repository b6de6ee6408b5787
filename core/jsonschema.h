/*
 * jsonschema.h — a JSON Schema validator for the request bodies the router checks against
 * the routes' OpenAPI 3.1 descriptions, so the document and the behaviour cannot drift.
 *
 * The keywords an API description uses: type (a name or a list, "null" included), enum,
 * const, required, properties, additionalProperties (boolean or schema), items, minItems,
 * maxItems, minLength, maxLength (in characters), minimum, maximum, exclusiveMinimum,
 * exclusiveMaximum, multipleOf, pattern (POSIX extended regular expression), format
 * (date-time, checked as RFC 3339), anyOf, oneOf, allOf, not, and $ref to
 * "#/components/schemas/NAME" in the root document given.  Annotations (description,
 * default, example, title, readOnly, ...) are ignored; so is an unknown keyword.
 */
#ifndef PIPELET_CORE_JSONSCHEMA_H
#define PIPELET_CORE_JSONSCHEMA_H

#include <jansson.h>
#include <stddef.h>

enum jsonschema_fault {
    JSONSCHEMA_OK = 0,
    JSONSCHEMA_MISSING, /* a required property is absent */
    JSONSCHEMA_INVALID, /* a value breaks its schema */
    JSONSCHEMA_ENUM,    /* a value is not one of its enum */
};

/* Validate value against schema; root resolves $ref (may be NULL: no refs).  On a fault,
 * err says where and why ("connector must be an integer, not string", "the body
 * needs one of available or type") and *field (if given) names the property at fault, "" for the body itself. */
enum jsonschema_fault jsonschema_validate(json_t *schema, json_t *root, json_t *value, char *err,
                                          size_t errlen, char *field, size_t fieldlen);

#endif
