/*
 * tools.c — the MCP tool catalog (one row per tool, each mapped onto a REST route of
 * the headless plugin), tools/list and tools/call.  A tool call runs that route in-process (host->http_dispatch)
 * with the caller's scope, so a tool can never do more than the caller's key could do
 * over REST.  Path arguments fill {name} holes; the other arguments become the query
 * string (GET) or the JSON body (other methods).
 */
#include "mcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_SIZE 50

#define R PL_AUTH_READ
#define O PL_AUTH_OPERATOR

#define STATION_ID "\"station_id\":{\"type\":\"string\",\"description\":\"The charge point identity\"}"
#define OBJ(props, req) "{\"type\":\"object\",\"properties\":{" props "},\"required\":[" req "]}"

const struct mcp_tool mcp_tools[] = {
    {"list_stations",
     "List the charging stations known to the gateway with their connection state. "
     "Filter with online=true to see only connected stations.",
     "GET", "/api/v1/stations", R, 1, 0, 1,
     OBJ("\"online\":{\"type\":\"boolean\",\"description\":\"Only connected stations\"}", ""), TOOL_ROUTE},
    {"get_station",
     "Get one charging station: identity, protocol, vendor/model, connectors and their status.",
     "GET", "/api/v1/stations/{station_id}", R, 1, 0, 1, OBJ(STATION_ID, "\"station_id\""), TOOL_ROUTE},
    {"get_health", "Health of the gateway itself: database, listeners, uptime.",
     "GET", "/api/v1/health", R, 1, 0, 1, OBJ("", ""), TOOL_ROUTE},
    {"get_station_messages",
     "The OCPP messages a station exchanged with the gateway (its message log, oldest first): "
     "filter by action (e.g. StatusNotification) and direction (in: from the station).",
     "GET", "/ocpp/v1/stations/{station_id}/messages", R, 1, 0, 1,
     OBJ(STATION_ID ",\"action\":{\"type\":\"string\"},\"dir\":{\"type\":\"string\",\"enum\":"
         "[\"in\",\"out\"]},\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000}",
         "\"station_id\""), TOOL_ROUTE},
    {"get_configuration",
     "Read the configuration keys a station reports (OCPP GetConfiguration / GetVariables).",
     "GET", "/api/v1/stations/{station_id}/configuration", R, 1, 0, 1,
     OBJ(STATION_ID, "\"station_id\""), TOOL_ROUTE},
    {"set_configuration",
     "Change one configuration key on a station (OCPP ChangeConfiguration / SetVariables). "
     "The station may answer Accepted, RebootRequired or Rejected.",
     "PUT", "/api/v1/stations/{station_id}/configuration/{key}", O, 0, 0, 1,
     OBJ(STATION_ID ",\"key\":{\"type\":\"string\"},\"value\":{\"type\":\"string\"}",
         "\"station_id\",\"key\",\"value\""), TOOL_ROUTE},
    {"reset_station",
     "Reboot a station (type Soft or Hard). Running charging sessions are interrupted.",
     "POST", "/api/v1/stations/{station_id}/reset", O, 0, 1, 0,
     OBJ(STATION_ID ",\"type\":{\"type\":\"string\",\"enum\":[\"Soft\",\"Hard\"]}",
         "\"station_id\""), TOOL_ROUTE},
    {"change_availability",
     "Make a station or one of its connectors Operative or Inoperative.",
     "POST", "/api/v1/stations/{station_id}/availability", O, 0, 1, 1,
     OBJ(STATION_ID ",\"connector\":{\"type\":\"integer\"},"
         "\"type\":{\"type\":\"string\",\"enum\":[\"Operative\",\"Inoperative\"]}",
         "\"station_id\",\"type\""), TOOL_ROUTE},
    {"trigger_message",
     "Ask a station to send a message now (e.g. StatusNotification, Heartbeat, MeterValues).",
     "POST", "/api/v1/stations/{station_id}/trigger", O, 0, 0, 1,
     OBJ(STATION_ID ",\"message\":{\"type\":\"string\"},\"connector\":{\"type\":\"integer\"}",
         "\"station_id\",\"message\""), TOOL_ROUTE},
    {"update_firmware",
     "Ask a station to download and install firmware from a URL at a given time. With a "
     "progressToken the call follows the update: each firmware status the station reports "
     "(Downloading, Downloaded, Installing...) is a progress notification, and the result "
     "comes with the final one (Installed or a failure), or when following times out.",
     "POST", "/api/v1/stations/{station_id}/firmware", O, 0, 1, 0,
     OBJ(STATION_ID ",\"location\":{\"type\":\"string\"},\"retrieve_date\":{\"type\":\"string\"}",
         "\"station_id\",\"location\""),
     TOOL_FIRMWARE},
    {"list_customers", "List customers (people or fleets owning ID tokens).",
     "GET", "/api/v1/customers", R, 1, 0, 1, OBJ("", ""), TOOL_ROUTE},
    {"get_customer", "Get one customer by its numeric id.",
     "GET", "/api/v1/customers/{id}", R, 1, 0, 1,
     OBJ("\"id\":{\"type\":\"integer\"}", "\"id\""), TOOL_ROUTE},
    {"create_customer", "Create a customer. Returns it with its id.",
     "POST", "/api/v1/customers", O, 0, 0, 0,
     OBJ("\"name\":{\"type\":\"string\"},\"email\":{\"type\":\"string\"}", "\"name\""), TOOL_ROUTE},
    {"list_tokens", "List ID tokens (RFID cards, app tokens) and their status.",
     "GET", "/api/v1/tokens", R, 1, 0, 1, OBJ("", ""), TOOL_ROUTE},
    {"create_token", "Create an ID token, optionally owned by a customer.",
     "POST", "/api/v1/tokens", O, 0, 0, 0,
     OBJ("\"id_token\":{\"type\":\"string\"},\"type\":{\"type\":\"string\"},"
         "\"customer_id\":{\"type\":\"integer\"}", "\"id_token\""), TOOL_ROUTE},
    {"block_token", "Block an ID token: stations stop accepting it.",
     "POST", "/api/v1/tokens/{id}/block", O, 0, 1, 1,
     OBJ("\"id\":{\"type\":\"string\"}", "\"id\""), TOOL_ROUTE},
    {"unblock_token", "Unblock an ID token.",
     "POST", "/api/v1/tokens/{id}/unblock", O, 0, 0, 1,
     OBJ("\"id\":{\"type\":\"string\"}", "\"id\""), TOOL_ROUTE},
    {"sync_local_list", "Send the gateway's token list to a station's local authorization list.",
     "POST", "/api/v1/stations/{station_id}/local-list/sync", O, 0, 0, 1,
     OBJ(STATION_ID, "\"station_id\""), TOOL_ROUTE},
    {"sync_site_local_lists",
     "Send the gateway's token list to the local authorization list of every station of a "
     "site, one station after the other, waiting for each station's answer. Reports progress "
     "per station; the result lists each station's outcome (offline stations fail).",
     "POST", "/api/v1/stations/{station_id}/local-list/sync", O, 0, 0, 1,
     OBJ("\"id\":{\"type\":\"integer\",\"description\":\"The site id\"},"
         "\"update_type\":{\"type\":\"string\",\"enum\":[\"Full\",\"Differential\"]}", "\"id\""),
     TOOL_SITE_SYNC},
    {"list_transactions", "List charging sessions; active=true for the running ones.",
     "GET", "/api/v1/transactions", R, 1, 0, 1,
     OBJ("\"active\":{\"type\":\"boolean\"},\"station\":{\"type\":\"string\"}", ""), TOOL_ROUTE},
    {"get_transaction", "Get one charging session with its energy and meter values.",
     "GET", "/api/v1/transactions/{id}", R, 1, 0, 1,
     OBJ("\"id\":{\"type\":\"string\"}", "\"id\""), TOOL_ROUTE},
    {"remote_start",
     "Start charging on a station for an ID token (OCPP RemoteStartTransaction / "
     "RequestStartTransaction).",
     "POST", "/api/v1/transactions", O, 0, 0, 0,
     OBJ(STATION_ID ",\"id_token\":{\"type\":\"string\"},"
         "\"connector\":{\"type\":\"integer\"}", "\"station_id\",\"id_token\""), TOOL_ROUTE},
    {"remote_stop", "Stop a running charging session.",
     "POST", "/api/v1/transactions/{id}/stop", O, 0, 1, 1,
     OBJ("\"id\":{\"type\":\"string\"}", "\"id\""), TOOL_ROUTE},
    /* billing and sessions */
    {"get_transaction_cost",
     "What a charging session costs: running while it is active, final once it ended, with "
     "every price component, VAT and the tariff that priced it. Amounts are decimal strings.",
     "GET", "/api/v1/transactions/{id}/cost", R, 1, 0, 1,
     OBJ("\"id\":{\"type\":\"string\",\"description\":\"The gateway's transaction id\"}", "\"id\""), TOOL_ROUTE},
    {"list_tariffs", "List the tariffs (OCPI-style prices: energy, time, parking, flat fees).",
     "GET", "/api/v1/tariffs", R, 1, 0, 1, OBJ("", ""), TOOL_ROUTE},
    {"quote_tariff",
     "Price a hypothetical session with a tariff: start, stop and the energy charged (Wh), "
     "optionally charging_until when the car stops drawing power before it leaves.",
     "POST", "/api/v1/tariffs/{id}/quote", R, 1, 0, 1,
     OBJ("\"id\":{\"type\":\"integer\"},\"start\":{\"type\":\"string\",\"format\":\"date-time\"},"
         "\"stop\":{\"type\":\"string\",\"format\":\"date-time\"},\"energy_wh\":{\"type\":\"number\"},"
         "\"charging_until\":{\"type\":\"string\",\"format\":\"date-time\"}",
         "\"id\",\"start\",\"stop\",\"energy_wh\""), TOOL_ROUTE},
    {"list_cdrs",
     "List charge detail records (the immutable record of each ended session and its price), "
     "filtered by station, customer, token or stop time.",
     "GET", "/api/v1/cdrs", R, 1, 0, 1,
     OBJ("\"station_id\":{\"type\":\"string\"},\"customer_id\":{\"type\":\"integer\"},"
         "\"id_token\":{\"type\":\"string\"},\"from\":{\"type\":\"string\",\"format\":\"date-time\"},"
         "\"to\":{\"type\":\"string\",\"format\":\"date-time\"}", ""), TOOL_ROUTE},
    {"list_sites",
     "List sites (grid connections owning stations) with their limit, schedule and stations.",
     "GET", "/api/v1/sites", R, 1, 0, 1, OBJ("", ""), TOOL_ROUTE},
    {"get_site_load",
     "A site's load now: its limit (schedule applied), and per charging session the share "
     "given, what the station accepted, what it is counted at and what it draws.",
     "GET", "/api/v1/sites/{id}/load", R, 1, 0, 1, OBJ("\"id\":{\"type\":\"integer\"}", "\"id\""), TOOL_ROUTE},
    {"set_site_limit",
     "Set a site's grid limit (A per phase, or W) that its charging sessions share; null stops "
     "balancing. Optional schedule of lower limits [{from, to, limit, days?}]. Lowering is sent "
     "to stations before anything is raised.",
     "PATCH", "/api/v1/sites/{id}", O, 0, 0, 1,
     OBJ("\"id\":{\"type\":\"integer\"},\"limit\":{\"type\":[\"number\",\"null\"],\"minimum\":0},"
         "\"unit\":{\"type\":\"string\",\"enum\":[\"A\",\"W\"]},\"schedule\":{\"type\":\"array\"}",
         "\"id\",\"limit\""), TOOL_ROUTE},
    {"set_station_limit",
     "Limit a station's power (evse 0: the whole station; N: one EVSE) in A or W, optionally "
     "until a time. Sent as the station's own charging profile, kept while it reconnects.",
     "PUT", "/api/v1/stations/{station_id}/limit", O, 0, 0, 1,
     OBJ(STATION_ID ",\"evse\":{\"type\":\"integer\",\"minimum\":0},\"limit\":{\"type\":\"number\","
         "\"minimum\":0},\"unit\":{\"type\":\"string\",\"enum\":[\"A\",\"W\"]},\"until\":{\"type\":"
         "\"string\",\"format\":\"date-time\"}",
         "\"station_id\",\"limit\",\"unit\""), TOOL_ROUTE},
    {"get_composite_schedule",
     "Ask a station for the power it will allow on a connector over the next seconds (OCPP "
     "GetCompositeSchedule): every charging profile combined. connector 0: the whole station.",
     "GET", "/api/v1/stations/{station_id}/composite-schedule", R, 1, 0, 1,
     OBJ(STATION_ID ",\"connector\":{\"type\":\"integer\",\"minimum\":0},\"duration\":{\"type\":"
         "\"integer\",\"minimum\":1,\"description\":\"seconds\"},\"unit\":{\"type\":\"string\","
         "\"enum\":[\"W\",\"A\"]}", "\"station_id\",\"connector\",\"duration\""), TOOL_ROUTE},
    {"clear_station_limit",
     "Remove every power limit set on a station with set_station_limit (other charging "
     "profiles stay).",
     "DELETE", "/api/v1/stations/{station_id}/limit", O, 0, 0, 1, OBJ(STATION_ID, "\"station_id\""), TOOL_ROUTE},
};

const size_t mcp_tools_count = sizeof mcp_tools / sizeof mcp_tools[0];

const struct mcp_tool *mcp_tool_find(const char *name)
{
    for (size_t i = 0; i < mcp_tools_count; i++)
        if (strcmp(mcp_tools[i].name, name) == 0)
            return &mcp_tools[i];
    return NULL;
}

int tools_load_schemas(struct mcp *m)
{
    m->schemas = json_object();
    for (size_t i = 0; i < mcp_tools_count; i++) {
        json_error_t err;
        json_t *sch = json_loads(mcp_tools[i].input_schema, 0, &err);
        if (!sch) {
            m->host->log(m->self, PL_LOG_ERROR, "tool %s: bad schema: %s", mcp_tools[i].name,
                         err.text);
            return -1;
        }
        json_object_set_new(m->schemas, mcp_tools[i].name, sch);
    }
    return 0;
}

/* How long a 2026-07-28 client may reuse tools/list: the catalog is compiled in, only a
 * key's scope could change what it lists, and every call is still authorized on its own. */
#define TOOLS_TTL_MS 300000

static json_t *tool_json(struct mcp *m, const struct mcp_tool *t)
{
    return json_pack("{s:s, s:s, s:O, s:{s:s}, s:{s:b, s:b, s:b, s:b}}", "name", t->name,
                     "description", t->description, "inputSchema",
                     json_object_get(m->schemas, t->name), "outputSchema", "type", "object",
                     "annotations", "readOnlyHint", t->read_only, "destructiveHint",
                     t->destructive, "idempotentHint", t->idempotent, "openWorldHint", 0);
}

/* Only the tools the caller's scope may run are listed; the cursor is an offset. */
void do_tools_list(struct mcp_call *c, json_t *params)
{
    const char *cursor = json_string_value(json_object_get(params, "cursor"));
    char *end = NULL;
    long from = cursor ? strtol(cursor, &end, 10) : 0;
    if (cursor && (*end || from < 0)) {
        call_error(c, -32602, "invalid cursor");
        return;
    }
    json_t *tools = json_array();
    long seen = 0;
    size_t i;
    for (i = 0; i < mcp_tools_count && json_array_size(tools) < PAGE_SIZE; i++) {
        if (mcp_tools[i].scope > c->scope || seen++ < from)
            continue;
        json_array_append_new(tools, tool_json(c->m, &mcp_tools[i]));
    }
    json_t *res = json_pack("{s:o}", "tools", tools);
    if (i < mcp_tools_count) {
        char next[24];
        snprintf(next, sizeof next, "%ld", from + PAGE_SIZE);
        json_object_set_new(res, "nextCursor", json_string(next));
    }
    if (c->era == MCP_MODERN)
        cacheable(res, TOOLS_TTL_MS);
    call_result(c, res);
}

/* Does v have the JSON Schema type ty (a name, or an array of names)? */
static int type_ok(json_t *ty, json_t *v)
{
    if (json_is_array(ty)) {
        size_t i;
        json_t *t;
        json_array_foreach(ty, i, t) if (type_ok(t, v)) return 1;
        return 0;
    }
    const char *t = json_string_value(ty);
    if (!t)
        return 1; /* no type: anything */
    if (!strcmp(t, "string"))
        return json_is_string(v);
    if (!strcmp(t, "integer"))
        return json_is_integer(v);
    if (!strcmp(t, "number"))
        return json_is_number(v);
    if (!strcmp(t, "boolean"))
        return json_is_boolean(v);
    if (!strcmp(t, "null"))
        return json_is_null(v);
    if (!strcmp(t, "array"))
        return json_is_array(v);
    if (!strcmp(t, "object"))
        return json_is_object(v);
    return 1;
}

/* Arguments against the tool's schema: required present, declared types match. */
static const char *check_args(json_t *schema, json_t *args)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(schema, "required"), i, v)
        if (!json_object_get(args, json_string_value(v)))
            return "missing required argument";
    const char *k;
    json_object_foreach(args, k, v) {
        json_t *p = json_object_get(json_object_get(schema, "properties"), k);
        if (!p)
            return "unknown argument";
        if (!type_ok(json_object_get(p, "type"), v))
            return "argument of the wrong type";
    }
    return NULL;
}

/* s percent-encoded (RFC 3986 unreserved kept) onto the end of out. */
void tools_encode(char *out, size_t cap, const char *s)
{
    size_t n = strlen(out);
    for (; *s && n + 4 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("-._~", ch))
            out[n++] = (char)ch;
        else
            n += (size_t)snprintf(out + n, cap - n, "%%%02X", ch);
    }
    out[n] = '\0';
}

static void scalar_text(json_t *v, char *buf, size_t cap)
{
    if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        snprintf(buf, cap, "%s", json_is_true(v) ? "true" : "false");
}

/* Fill the path template; the arguments used there are removed from rest. */
static void build_path(const struct mcp_tool *t, json_t *rest, char *out, size_t cap)
{
    out[0] = '\0';
    for (const char *p = t->path; *p && strlen(out) + 2 < cap;) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        if (!close) {
            size_t n = strlen(out);
            out[n] = *p++;
            out[n + 1] = '\0';
            continue;
        }
        char name[64], val[256];
        snprintf(name, sizeof name, "%.*s", (int)(close - p - 1), p + 1);
        scalar_text(json_object_get(rest, name), val, sizeof val);
        tools_encode(out, cap, val);
        json_object_del(rest, name);
        p = close + 1;
    }
    if (strcmp(t->method, "GET") != 0)
        return;
    const char *k;
    json_t *v;
    char sep = '?', val[256];
    json_object_foreach(rest, k, v) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%c%s=", sep, k);
        scalar_text(v, val, sizeof val);
        tools_encode(out, cap, val);
        sep = '&';
    }
}

json_t *tools_result(int status, const char *body, size_t len, json_t *extra)
{
    json_t *parsed = json_loadb(body, len, 0, NULL);
    json_t *structured = json_is_object(parsed) ? json_incref(parsed)
                                                : json_pack("{s:O}", "result",
                                                            parsed ? parsed : json_null());
    json_decref(parsed);
    json_object_set_new(structured, "http_status", json_integer(status));
    /* the text is the REST body as it came, unless something was added to it */
    char *text = NULL;
    if (extra) {
        json_object_update(structured, extra);
        json_decref(extra);
        text = json_dumps(structured, JSON_COMPACT);
    }
    json_t *res = json_pack("{s:[{s:s, s:s#}], s:o, s:b}", "content", "type", "text", "text",
                            text ? text : body, text ? (int)strlen(text) : (int)len,
                            "structuredContent", structured, "isError", status >= 400);
    free(text);
    return res;
}

int tools_dispatch(struct mcp_call *c, const char *method, const char *path, const char *body,
                   void (*cb)(const struct pl_http_local_resp *, void *), void *arg)
{
    struct pl_http_local_req lr = {.size = sizeof lr, .method = method, .path = path,
                                   .body = body, .body_len = body ? strlen(body) : 0,
                                   .scope = c->scope, .key_name = c->key_name};
    return c->m->host->http_dispatch(c->m->self, &lr, cb, arg);
}

/* A tools/call waiting for its REST route. */
struct tool_run {
    struct mcp_call *c;
    const struct mcp_tool *t;
    char station[64];
};

/* The REST answer as the tool's result: an error status becomes isError with its
 * code; a followed tool goes on (follow.c). */
static void tool_done(const struct pl_http_local_resp *resp, void *arg)
{
    struct tool_run *r = arg;
    struct mcp_call *c = r->c;
    if (c->cancelled) {
        call_drop(c);
    } else if (r->t->kind == TOOL_FIRMWARE && c->progress_token && resp->status < 300) {
        follow_firmware(c, r->station, resp->status, resp->body, resp->body_len);
    } else {
        call_result(c, tools_result(resp->status, resp->body, resp->body_len, NULL));
    }
    free(r);
}

void do_tools_call(struct mcp_call *c, json_t *params)
{
    const char *name = json_string_value(json_object_get(params, "name"));
    const struct mcp_tool *t = name ? mcp_tool_find(name) : NULL;
    json_t *args = json_object_get(params, "arguments");
    if (!t) {
        call_error(c, -32602, "unknown tool");
        return;
    }
    if (args && !json_is_object(args)) {
        call_error(c, -32602, "arguments must be an object");
        return;
    }
    if (t->scope > c->scope) { /* the REST route's own answer, not run */
        char text[256];
        snprintf(text, sizeof text, "this API key's scope does not allow the tool %s", t->name);
        json_t *err = json_pack("{s:s, s:s, s:i}", "error", text, "code", "FORBIDDEN",
                                "http_status", 403);
        char *body = json_dumps(err, JSON_COMPACT);
        call_result(c, json_pack("{s:[{s:s, s:s}], s:o, s:b}", "content", "type", "text", "text",
                                 body, "structuredContent", err, "isError", 1));
        free(body);
        return;
    }
    json_t *rest = args ? json_deep_copy(args) : json_object();
    const char *bad = check_args(json_object_get(c->m->schemas, t->name), rest);
    if (bad) {
        json_decref(rest);
        call_error(c, -32602, bad);
        return;
    }
    if (t->kind == TOOL_SITE_SYNC) {
        follow_site_sync(c, rest);
        json_decref(rest);
        return;
    }
    struct tool_run *r = calloc(1, sizeof *r);
    if (!r) {
        json_decref(rest);
        call_error(c, -32603, "out of memory");
        return;
    }
    r->c = c, r->t = t;
    snprintf(r->station, sizeof r->station, "%s",
             json_string_value(json_object_get(rest, "station_id")) ?: "");
    char path[1024];
    build_path(t, rest, path, sizeof path);
    char *body = strcmp(t->method, "GET") ? json_dumps(rest, JSON_COMPACT) : NULL;
    json_decref(rest);
    if (tools_dispatch(c, t->method, path, body, tool_done, r) != PL_OK) {
        free(r);
        call_error(c, -32603, "cannot run the tool");
    }
    free(body);
}
