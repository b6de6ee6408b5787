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

extern const struct mcp_tool mcp_tools[];
extern const size_t mcp_tools_count;
const struct mcp_tool *mcp_tool_find(const char *name);

#endif
