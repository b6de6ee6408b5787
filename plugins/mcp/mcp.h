/*
 * mcp.h — the mcp plugin: the gateway as a Model Context Protocol server
 * (Streamable HTTP at /mcp, JSON-RPC 2.0), its tools mapped onto the REST routes.
 */
#ifndef PIPELET_MCP_H
#define PIPELET_MCP_H

#include <pipelet/plugin.h>
#include <stddef.h>

/* openapi.json, embedded at build time (scripts/text2c.sh) */
extern const char mcp_openapi_json[];
extern const unsigned long mcp_openapi_json_len;

/* One tool: the REST route it runs and what a model needs to know about it. */
struct mcp_tool {
    const char *name;
    const char *description;
    const char *method;
    const char *path;        /* template: {arg} holes filled from the arguments */
    int scope;               /* minimum PL_AUTH_* (the route's own scope) */
    int read_only, destructive, idempotent;
    const char *input_schema; /* JSON Schema text */
};

/* The 2026-07-28 revision: its name, the reserved _meta keys and the error codes its
 * ladder answers with (the official SDK's PROTOCOL_VERSION_META_KEY & co.). */
#define MCP_MODERN_VERSION "2026-07-28"
#define META_VERSION "io.modelcontextprotocol/protocolVersion"
#define META_CAPABILITIES "io.modelcontextprotocol/clientCapabilities"
#define META_CLIENT_INFO "io.modelcontextprotocol/clientInfo"
#define META_SERVER_INFO "io.modelcontextprotocol/serverInfo"
#define HEADER_MISMATCH -32020
#define UNSUPPORTED_PROTOCOL_VERSION -32022

/* Which era serves a request: results differ (2026-07-28 results carry resultType and
 * the server's identity). */
enum mcp_era { MCP_LEGACY, MCP_MODERN };

/* era.c: the era of one POST, or its refusal (error: the JSON-RPC error, new; answered
 * on HTTP 400).  Legacy traffic (initialize, sessions, no _meta claim) is MCP_LEGACY. */
struct mcp_verdict {
    enum mcp_era era;
    json_t *error;
};
struct mcp_verdict mcp_classify(const struct pl_host *host, pl_request *req, json_t *msg);

extern const struct mcp_tool mcp_tools[];
extern const size_t mcp_tools_count;
const struct mcp_tool *mcp_tool_find(const char *name);

#endif
