/*
 * guard.c — what a /sim/v1 client may ask of the simulator: valid station ids, CSMS URLs
 * and CA files from the operator's allow lists, and OCPP frames with their credentials
 * masked before they leave through the SSE stream.  Pure functions over the policy.
 */
#include "simulator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* No station-id rule exists in the core; this is the simulator's: short, printable, and
 * safe in a URL path segment, a log line and a SQL literal. */
int sim_station_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n < 1 || n > SIM_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                 c == '_' || c == '.' || c == ':';
        if (!ok)
            return 0;
    }
    return 1;
}

/* A URL we are willing to compare at all: ws:// or wss://, printable ASCII, and nothing a
 * prefix comparison could be fooled by (user info, a query, a fragment, "..", a backslash). */
static int url_clean(const char *url)
{
    if (strncmp(url, "ws://", 5) && strncmp(url, "wss://", 6))
        return 0;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || strchr("@?#\\,", *p))
            return 0;
    return !strstr(url, "/..");
}

/* url begins with prefix at a boundary: "ws://h:90" must not admit "ws://h:9000/..." nor
 * "ws://csms.example" admit "ws://csms.example.evil/...". */
static int prefix_match(const char *url, const char *prefix)
{
    size_t n = strlen(prefix);
    if (n == 0 || strncmp(url, prefix, n))
        return 0;
    return url[n] == '\0' || url[n] == '/' || prefix[n - 1] == '/';
}

int sim_csms_url_allowed(const struct sim_policy *p, const char *url)
{
    if (!url || !url_clean(url))
        return 0;
    if (prefix_match(url, p->own_url))
        return 1;
    for (size_t i = 0; i < p->ncsms_urls; i++)
        if (prefix_match(url, p->csms_urls[i]))
            return 1;
    return 0;
}

int sim_ca_file_allowed(const struct sim_policy *p, const char *path)
{
    for (size_t i = 0; path && i < p->nca_files; i++)
        if (!strcmp(path, p->ca_files[i]))
            return 1;
    return 0;
}

/* Split an owned copy of a space- (or comma-) separated list into at most SIM_ALLOW_MAX
 * entries; check() vets each.  Returns 0, or -1 with why. */
static int split_list(const char *text, char **buf, const char **out, size_t *n, int (*check)(const char *),
                      char *why, size_t whylen)
{
    *n = 0;
    *buf = NULL;
    if (!text || !*text)
        return 0;
    if (!(*buf = strdup(text))) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    char *save = NULL;
    for (char *tok = strtok_r(*buf, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
        if (*n == SIM_ALLOW_MAX) {
            snprintf(why, whylen, "more than %d entries", SIM_ALLOW_MAX);
            return -1;
        }
        if (!check(tok)) {
            snprintf(why, whylen, "'%s' is not valid", tok);
            return -1;
        }
        out[(*n)++] = tok;
    }
    return 0;
}

static int ca_path_ok(const char *path)
{
    return path[0] == '/';
}

int sim_policy_init(struct sim_policy *p, const char *csms_urls, const char *ca_files, char *why, size_t whylen)
{
    char sub[200];
    if (split_list(csms_urls, &p->csms_urls_buf, p->csms_urls, &p->ncsms_urls, url_clean, sub, sizeof sub)) {
        snprintf(why, whylen, "allowed_csms_urls: %s (ws:// or wss:// URL prefixes, space-separated)", sub);
        return -1;
    }
    if (split_list(ca_files, &p->ca_files_buf, p->ca_files, &p->nca_files, ca_path_ok, sub, sizeof sub)) {
        snprintf(why, whylen, "allowed_ca_files: %s (absolute paths, space-separated)", sub);
        return -1;
    }
    return 0;
}

void sim_policy_free(struct sim_policy *p)
{
    free(p->csms_urls_buf);
    free(p->ca_files_buf);
    p->csms_urls_buf = p->ca_files_buf = NULL;
    p->ncsms_urls = p->nca_files = 0;
}

/* ---------- masking credentials in frames ---------- */

static int secret_name(const char *name)
{
    return name && (!strcasecmp(name, "AuthorizationKey") || !strcasecmp(name, "BasicAuthPassword"));
}

static void mask(json_t *obj, const char *member)
{
    if (json_object_get(obj, member))
        json_object_set_new(obj, member, json_string(SIM_REDACTED));
}

/* 2.0.1 NotifyReport carries values in variableAttribute[].value */
static void mask_attributes(json_t *attrs)
{
    size_t i;
    json_t *a;
    json_array_foreach(attrs, i, a) mask(a, "value");
}

/* Shapes are matched wherever they appear, whatever the action or message type, so a
 * CALLRESULT (which names no action) is covered as well as the CALL:
 *   {"key": secret, "value"}                      1.6 ChangeConfiguration, configurationKey[]
 *   {"variable": {"name": secret}, "attributeValue"}  2.0.1 Set/GetVariables data and results
 *   {"variable": {"name": secret}, "variableAttribute": [{"value"}]}  2.0.1 NotifyReport
 *   "basicAuthPassword": ...                      2.0.1 NetworkConnectionProfile */
void sim_redact(json_t *v)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) sim_redact(e);
        return;
    }
    if (!json_is_object(v))
        return;
    if (secret_name(json_string_value(json_object_get(v, "key"))))
        mask(v, "value");
    if (secret_name(json_string_value(json_object_get(json_object_get(v, "variable"), "name")))) {
        mask(v, "attributeValue");
        mask_attributes(json_object_get(v, "variableAttribute"));
    }
    for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
        if (!strcasecmp(json_object_iter_key(it), "basicAuthPassword"))
            json_object_iter_set_new(v, it, json_string(SIM_REDACTED));
        else
            sim_redact(json_object_iter_value(it));
    }
}
