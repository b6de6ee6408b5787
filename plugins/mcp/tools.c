/*
 * tools.c — the MCP tool catalog: one row per tool, each mapped onto a REST route of
 * the headless plugin.  A tool call runs that route in-process (host->http_dispatch)
 * with the caller's scope, so a tool can never do more than the caller's key could do
 * over REST.  Path arguments fill {name} holes; the other arguments become the query
 * string (GET) or the JSON body (other methods).
 */
#include "mcp.h"

#include <string.h>

#define R PL_AUTH_READ
#define O PL_AUTH_OPERATOR

#define STATION_ID "\"station_id\":{\"type\":\"string\",\"description\":\"The charge point identity\"}"
#define OBJ(props, req) "{\"type\":\"object\",\"properties\":{" props "},\"required\":[" req "]}"

const struct mcp_tool mcp_tools[] = {
    {"list_stations",
     "List the charging stations known to the gateway with their connection state. "
     "Filter with online=true to see only connected stations.",
     "GET", "/api/v1/stations", R, 1, 0, 1,
     OBJ("\"online\":{\"type\":\"boolean\",\"description\":\"Only connected stations\"}", "")},
    {"get_station",
     "Get one charging station: identity, protocol, vendor/model, connectors and their status.",
     "GET", "/api/v1/stations/{station_id}", R, 1, 0, 1, OBJ(STATION_ID, "\"station_id\"")},
    {"get_health", "Health of the gateway itself: database, listeners, uptime.",
     "GET", "/api/v1/health", R, 1, 0, 1, OBJ("", "")},
    {"get_configuration",
     "Read the configuration keys a station reports (OCPP GetConfiguration / GetVariables).",
     "GET", "/api/v1/stations/{station_id}/configuration", R, 1, 0, 1,
     OBJ(STATION_ID, "\"station_id\"")},
    {"set_configuration",
     "Change one configuration key on a station (OCPP ChangeConfiguration / SetVariables). "
     "The station may answer Accepted, RebootRequired or Rejected.",
     "PUT", "/api/v1/stations/{station_id}/configuration/{key}", O, 0, 0, 1,
     OBJ(STATION_ID ",\"key\":{\"type\":\"string\"},\"value\":{\"type\":\"string\"}",
         "\"station_id\",\"key\",\"value\"")},
    {"reset_station",
     "Reboot a station (type Soft or Hard). Running charging sessions are interrupted.",
     "POST", "/api/v1/stations/{station_id}/reset", O, 0, 1, 0,
     OBJ(STATION_ID ",\"type\":{\"type\":\"string\",\"enum\":[\"Soft\",\"Hard\"]}",
         "\"station_id\"")},
    {"change_availability",
     "Make a station or one of its connectors Operative or Inoperative.",
     "POST", "/api/v1/stations/{station_id}/availability", O, 0, 1, 1,
     OBJ(STATION_ID ",\"connector\":{\"type\":\"integer\"},"
         "\"type\":{\"type\":\"string\",\"enum\":[\"Operative\",\"Inoperative\"]}",
         "\"station_id\",\"type\"")},
    {"trigger_message",
     "Ask a station to send a message now (e.g. StatusNotification, Heartbeat, MeterValues).",
     "POST", "/api/v1/stations/{station_id}/trigger", O, 0, 0, 1,
     OBJ(STATION_ID ",\"message\":{\"type\":\"string\"},\"connector\":{\"type\":\"integer\"}",
         "\"station_id\",\"message\"")},
    {"update_firmware",
     "Ask a station to download and install firmware from a URL at a given time.",
     "POST", "/api/v1/stations/{station_id}/firmware", O, 0, 1, 0,
     OBJ(STATION_ID ",\"location\":{\"type\":\"string\"},\"retrieve_date\":{\"type\":\"string\"}",
         "\"station_id\",\"location\"")},
    {"list_customers", "List customers (people or fleets owning ID tokens).",
     "GET", "/api/v1/customers", R, 1, 0, 1, OBJ("", "")},
    {"get_customer", "Get one customer by its numeric id.",
     "GET", "/api/v1/customers/{id}", R, 1, 0, 1,
     OBJ("\"id\":{\"type\":\"integer\"}", "\"id\"")},
    {"create_customer", "Create a customer. Returns it with its id.",
     "POST", "/api/v1/customers", O, 0, 0, 0,
     OBJ("\"name\":{\"type\":\"string\"},\"email\":{\"type\":\"string\"}", "\"name\"")},
    {"list_tokens", "List ID tokens (RFID cards, app tokens) and their status.",
     "GET", "/api/v1/tokens", R, 1, 0, 1, OBJ("", "")},
    {"create_token", "Create an ID token, optionally owned by a customer.",
     "POST", "/api/v1/tokens", O, 0, 0, 0,
     OBJ("\"id_token\":{\"type\":\"string\"},\"type\":{\"type\":\"string\"},"
         "\"customer_id\":{\"type\":\"integer\"}", "\"id_token\"")},
    {"block_token", "Block an ID token: stations stop accepting it.",
     "POST", "/api/v1/tokens/{id}/block", O, 0, 1, 1,
     OBJ("\"id\":{\"type\":\"string\"}", "\"id\"")},
    {"unblock_token", "Unblock an ID token.",
     "POST", "/api/v1/tokens/{id}/unblock", O, 0, 0, 1,
     OBJ("\"id\":{\"type\":\"string\"}", "\"id\"")},
    {"sync_local_list", "Send the gateway's token list to a station's local authorization list.",
     "POST", "/api/v1/stations/{station_id}/local-list/sync", O, 0, 0, 1,
     OBJ(STATION_ID, "\"station_id\"")},
    {"list_transactions", "List charging sessions; active=true for the running ones.",
     "GET", "/api/v1/transactions", R, 1, 0, 1,
     OBJ("\"active\":{\"type\":\"boolean\"},\"station\":{\"type\":\"string\"}", "")},
    {"get_transaction", "Get one charging session with its energy and meter values.",
     "GET", "/api/v1/transactions/{id}", R, 1, 0, 1,
     OBJ("\"id\":{\"type\":\"string\"}", "\"id\"")},
    {"remote_start",
     "Start charging on a station for an ID token (OCPP RemoteStartTransaction / "
     "RequestStartTransaction).",
     "POST", "/api/v1/transactions", O, 0, 0, 0,
     OBJ(STATION_ID ",\"id_token\":{\"type\":\"string\"},"
         "\"connector\":{\"type\":\"integer\"}", "\"station_id\",\"id_token\"")},
    {"remote_stop", "Stop a running charging session.",
     "POST", "/api/v1/transactions/{id}/stop", O, 0, 1, 1,
     OBJ("\"id\":{\"type\":\"string\"}", "\"id\"")},
    /* billing and sessions */
    {"get_transaction_cost",
     "What a charging session costs: running while it is active, final once it ended, with "
     "every price component, VAT and the tariff that priced it. Amounts are decimal strings.",
     "GET", "/api/v1/transactions/{id}/cost", R, 1, 0, 1,
     OBJ("\"id\":{\"type\":\"string\",\"description\":\"The gateway's transaction id\"}", "\"id\"")},
    {"list_tariffs", "List the tariffs (OCPI-style prices: energy, time, parking, flat fees).",
     "GET", "/api/v1/tariffs", R, 1, 0, 1, OBJ("", "")},
    {"quote_tariff",
     "Price a hypothetical session with a tariff: start, stop and the energy charged (Wh), "
     "optionally charging_until when the car stops drawing power before it leaves.",
     "POST", "/api/v1/tariffs/{id}/quote", R, 1, 0, 1,
     OBJ("\"id\":{\"type\":\"integer\"},\"start\":{\"type\":\"string\",\"format\":\"date-time\"},"
         "\"stop\":{\"type\":\"string\",\"format\":\"date-time\"},\"energy_wh\":{\"type\":\"number\"},"
         "\"charging_until\":{\"type\":\"string\",\"format\":\"date-time\"}",
         "\"id\",\"start\",\"stop\",\"energy_wh\"")},
    {"list_cdrs",
     "List charge detail records (the immutable record of each ended session and its price), "
     "filtered by station, customer, token or stop time.",
     "GET", "/api/v1/cdrs", R, 1, 0, 1,
     OBJ("\"station_id\":{\"type\":\"string\"},\"customer_id\":{\"type\":\"integer\"},"
         "\"id_token\":{\"type\":\"string\"},\"from\":{\"type\":\"string\",\"format\":\"date-time\"},"
         "\"to\":{\"type\":\"string\",\"format\":\"date-time\"}", "")},
    {"list_sites",
     "List sites (grid connections owning stations) with their limit, schedule and stations.",
     "GET", "/api/v1/sites", R, 1, 0, 1, OBJ("", "")},
    {"get_site_load",
     "A site's load now: its limit (schedule applied), and per charging session the share "
     "given, what the station accepted, what it is counted at and what it draws.",
     "GET", "/api/v1/sites/{id}/load", R, 1, 0, 1, OBJ("\"id\":{\"type\":\"integer\"}", "\"id\"")},
    {"set_site_limit",
     "Set a site's grid limit (A per phase, or W) that its charging sessions share; null stops "
     "balancing. Optional schedule of lower limits [{from, to, limit, days?}]. Lowering is sent "
     "to stations before anything is raised.",
     "PATCH", "/api/v1/sites/{id}", O, 0, 0, 1,
     OBJ("\"id\":{\"type\":\"integer\"},\"limit\":{\"type\":[\"number\",\"null\"],\"minimum\":0},"
         "\"unit\":{\"type\":\"string\",\"enum\":[\"A\",\"W\"]},\"schedule\":{\"type\":\"array\"}",
         "\"id\",\"limit\"")},
    {"set_station_limit",
     "Limit a station's power (evse 0: the whole station; N: one EVSE) in A or W, optionally "
     "until a time. Sent as the station's own charging profile, kept while it reconnects.",
     "PUT", "/api/v1/stations/{station_id}/limit", O, 0, 0, 1,
     OBJ(STATION_ID ",\"evse\":{\"type\":\"integer\",\"minimum\":0},\"limit\":{\"type\":\"number\","
         "\"minimum\":0},\"unit\":{\"type\":\"string\",\"enum\":[\"A\",\"W\"]},\"until\":{\"type\":"
         "\"string\",\"format\":\"date-time\"}",
         "\"station_id\",\"limit\",\"unit\"")},
    {"clear_station_limit",
     "Remove every power limit set on a station with set_station_limit (other charging "
     "profiles stay).",
     "DELETE", "/api/v1/stations/{station_id}/limit", O, 0, 0, 1, OBJ(STATION_ID, "\"station_id\"")},
};

const size_t mcp_tools_count = sizeof mcp_tools / sizeof mcp_tools[0];

const struct mcp_tool *mcp_tool_find(const char *name)
{
    for (size_t i = 0; i < mcp_tools_count; i++)
        if (strcmp(mcp_tools[i].name, name) == 0)
            return &mcp_tools[i];
    return NULL;
}
