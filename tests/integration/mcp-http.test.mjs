// mcp-http.test.mjs — the mcp plugin through an independent client: the official
// @modelcontextprotocol/sdk Client over Streamable HTTP against a real daemon with a
// real strict-mode OCPP 1.6 station.  Proves version negotiation, the tool catalog
// (schemas and annotations), tool calls running the REST routes with the caller's
// scope, the JSON-RPC errors the spec prescribes, and the Origin check.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { request as httpRequest } from 'node:http';
import { startGateway } from './lib/harness.mjs';
import { connectStation } from './lib/stations.mjs';

describe('mcp over Streamable HTTP', () => {
  let gw, st;
  before(async () => {
    gw = await startGateway({ plugins: ['ocpp16', 'ocpp201', 'headless', 'mcp'],
      config: { mcp: { allowed_hosts: '127.0.0.1 localhost', max_sessions: 128 } } });
    st = await connectStation(gw, { protocol: 'ocpp1.6' });
  });
  after(async () => {
    await st?.client.close({ force: true }).catch(() => {});
    if (gw) assert.equal(await gw.stop(), 0, gw.logs().split('\n').filter((l) => /Sanitizer|ERROR/.test(l)).join('\n'));
  });

  async function connect(key, { bearer = false } = {}) {
    const client = new Client({ name: 'mcp-test', version: '1.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${gw.http}/mcp`), {
      requestInit: { headers: bearer ? { Authorization: `Bearer ${key}` } : { 'X-API-Key': key } },
    });
    await client.connect(transport);
    return client;
  }

  test('initialize negotiates a version and lists typed tools by scope', async () => {
    const op = await connect(gw.keys.operator);
    assert.ok(['2025-11-25', '2025-06-18', '2025-03-26'].includes(op.transport.protocolVersion ?? '2025-06-18'));
    assert.equal(op.getServerVersion().name, 'pipelet');
    const { tools } = await op.listTools();
    const names = tools.map((t) => t.name);
    for (const n of ['list_stations', 'get_station', 'reset_station', 'create_token', 'remote_start', 'get_transaction_cost', 'quote_tariff', 'list_cdrs',
      'list_sites', 'get_site_load', 'set_site_limit', 'set_station_limit', 'clear_station_limit']) assert.ok(names.includes(n), n);
    assert.equal(names.length, 33, 'the seed asks for at least 30 tools');
    for (const t of tools) {
      assert.equal(t.inputSchema.type, 'object', t.name);
      assert.equal(typeof t.description, 'string');
      assert.equal(typeof t.annotations.readOnlyHint, 'boolean');
    }
    const rd = await connect(gw.keys.read);
    const readNames = (await rd.listTools()).tools.map((t) => t.name);
    assert.ok(readNames.includes('get_station'));
    assert.ok(!readNames.includes('reset_station'), 'a read key does not see operator tools');
    await op.close();
    await rd.close();
  });

  test('load management tools: a site limit, its live load, a station limit set and cleared', async () => {
    const c = await connect(gw.keys.operator);
    const site = (await gw.api('POST', '/api/v1/sites', { name: 'MCP site' })).body.id;
    assert.equal((await gw.api('PUT', `/api/v1/sites/${site}/stations/${st.id}`)).status, 200);
    let r = await c.callTool({ name: 'set_site_limit', arguments: { id: site, limit: 40, unit: 'A' } });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.equal(r.structuredContent.limit, 40);
    r = await c.callTool({ name: 'get_site_load', arguments: { id: site } });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.equal(r.structuredContent.limit_a, 40);
    assert.equal(r.structuredContent.balanced, true);
    r = await c.callTool({ name: 'set_station_limit', arguments: { station_id: st.id, limit: 11000, unit: 'W' } });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.equal(r.structuredContent.status, 'accepted');
    r = await c.callTool({ name: 'clear_station_limit', arguments: { station_id: st.id } });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.equal(r.structuredContent.cleared, 1);
    r = await c.callTool({ name: 'set_site_limit', arguments: { id: site, limit: null } });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.equal((await gw.api('DELETE', `/api/v1/sites/${site}`)).status, 200);
    await c.close();
  });

  test('read tools run the REST routes against a real station', async () => {
    const c = await connect(gw.keys.read);
    let r = await c.callTool({ name: 'list_stations', arguments: {} });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.ok(JSON.stringify(r.structuredContent).includes(st.id));
    r = await c.callTool({ name: 'get_station', arguments: { station_id: st.id } });
    assert.ok(!r.isError, JSON.stringify(r));
    r = await c.callTool({ name: 'list_sites', arguments: {} });
    assert.ok(!r.isError, JSON.stringify(r));
    r = await c.callTool({ name: 'get_configuration', arguments: { station_id: st.id } });
    assert.ok(!r.isError, JSON.stringify(r));
    for (const name of ['get_health', 'list_customers', 'list_tokens', 'list_transactions', 'list_tariffs', 'list_cdrs']) {
      r = await c.callTool({ name, arguments: {} });
      assert.ok(!r.isError, `${name}: ${JSON.stringify(r)}`);
    }
    const st2 = await connectStation(gw, { protocol: 'ocpp2.0.1' });
    r = await c.callTool({ name: 'get_station', arguments: { station_id: st2.id } });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.ok(JSON.stringify(r.structuredContent).includes('2.0.1'), JSON.stringify(r.structuredContent));
    await st2.client.close({ force: true });
    r = await c.callTool({ name: 'get_station', arguments: { station_id: 'NOPE' } });
    assert.equal(r.isError, true);
    assert.equal(r.structuredContent.http_status, 404);
    assert.equal(typeof r.structuredContent.code, 'string');
    // a read key calling an operator tool: refused with the REST route's own 403 code,
    // and the station never hears of it
    const resets = st.log.filter((m) => m.action === 'Reset').length;
    r = await c.callTool({ name: 'reset_station', arguments: { station_id: st.id, type: 'Soft' } });
    assert.equal(r.isError, true);
    assert.equal(r.structuredContent.http_status, 403);
    assert.equal(r.structuredContent.code, 'FORBIDDEN');
    assert.equal(st.log.filter((m) => m.action === 'Reset').length, resets);
    await c.close();
  });

  test('Authorization: Bearer <key> works beside X-API-Key, with the key\'s scope', async () => {
    const rd = await connect(gw.keys.read, { bearer: true });
    const names = (await rd.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes('list_stations') && !names.includes('reset_station'), names.join());
    const r = await rd.callTool({ name: 'list_stations', arguments: {} });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.ok(JSON.stringify(r.structuredContent).includes(st.id));
    await rd.close();
    const op = await connect(gw.keys.operator, { bearer: true });
    assert.ok((await op.listTools()).tools.some((t) => t.name === 'reset_station'));
    await op.close();
    // the core reads Bearer for every route, not only /mcp
    const res = await fetch(`${gw.http}/api/v1/stations`, { headers: { Authorization: `bearer ${gw.keys.read}` } });
    assert.equal(res.status, 200);
  });

  test('an operator tool reaches the station', async () => {
    const c = await connect(gw.keys.operator);
    const r = await c.callTool({ name: 'reset_station', arguments: { station_id: st.id, type: 'Soft' } });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.ok(st.log.some((m) => m.action === 'Reset'), 'the station got a Reset');
    let t = await c.callTool({ name: 'trigger_message', arguments: { station_id: st.id, message: 'Heartbeat' } });
    assert.ok(!t.isError, JSON.stringify(t));
    assert.ok(st.log.some((m) => m.action === 'TriggerMessage'));
    t = await c.callTool({ name: 'create_customer', arguments: { name: 'MCP Fleet' } });
    assert.ok(!t.isError, JSON.stringify(t));
    assert.equal(t.structuredContent.name, 'MCP Fleet');
    t = await c.callTool({ name: 'create_token', arguments: { id_token: 'MCPTOKEN1', customer_id: t.structuredContent.id } });
    assert.ok(!t.isError, JSON.stringify(t));
    t = await c.callTool({ name: 'remote_start', arguments: { station_id: st.id, id_token: 'MCPTOKEN1', connector: 1 } });
    assert.ok(!t.isError, JSON.stringify(t));
    assert.ok(st.log.some((m) => m.action === 'RemoteStartTransaction'));
    await c.close();
  });

  test('unknown tool, missing and mistyped arguments are -32602', async () => {
    const c = await connect(gw.keys.read);
    for (const args of [{ name: 'no_such_tool', arguments: {} }, { name: 'get_station', arguments: {} },
      { name: 'get_station', arguments: { station_id: 42 } }]) {
      await assert.rejects(c.callTool(args), (e) => e.code === -32602, JSON.stringify(args));
    }
    await c.close();
  });

  test('a foreign Origin gets 403, no key gets 401', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
    const h = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
    let r = await fetch(`${gw.http}/mcp`, { method: 'POST', body, headers: { ...h, 'X-API-Key': gw.keys.read, Origin: 'https://evil.example' } });
    assert.equal(r.status, 403);
    assert.equal((await r.json()).code, 'FORBIDDEN_ORIGIN');
    r = await fetch(`${gw.http}/mcp`, { method: 'POST', body, headers: h });
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer /);
    assert.equal((await r.json()).code, 'UNAUTHORIZED');
    r = await fetch(`${gw.http}/mcp`, { method: 'POST', body, headers: { ...h, Authorization: 'Bearer not-a-key' } });
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer .*invalid_token/);
    r = await fetch(`${gw.http}/mcp`, { method: 'POST', body, headers: { ...h, Authorization: `Basic ${gw.keys.read}` } });
    assert.equal(r.status, 401, 'only the Bearer scheme carries a key');
    // the listener's own Origin is fine
    r = await fetch(`${gw.http}/mcp`, { method: 'POST', body, headers: { ...h, 'X-API-Key': gw.keys.read, Origin: gw.http } });
    assert.equal(r.status, 200);
    r = await fetch(`${gw.http}/mcp`, { method: 'POST', body, headers: { ...h, 'X-API-Key': gw.keys.read } });
    assert.equal(r.status, 200);
    assert.deepEqual((await r.json()).result, {});
  });

  test('a Host not in allowed_hosts gets 403 (DNS rebinding)', async () => {
    const post = (host) => new Promise((resolve, reject) => {
      const u = new URL(`${gw.http}/mcp`);
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
      const rq = httpRequest({ host: u.hostname, port: u.port, path: '/mcp', method: 'POST', agent: false,
        headers: { Host: host, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
          'X-API-Key': gw.keys.read, 'Content-Length': Buffer.byteLength(body) } }, (res) => {
        let d = '';
        res.on('data', (c) => { d += c; });
        res.on('end', () => resolve({ status: res.statusCode, body: d }));
      });
      rq.on('error', reject);
      rq.end(body);
    });
    let r = await post('rebound.evil.example');
    assert.equal(r.status, 403);
    assert.equal(JSON.parse(r.body).code, 'FORBIDDEN_HOST');
    r = await post('rebound.evil.example:80');
    assert.equal(r.status, 403);
    r = await post(`localhost:${new URL(gw.http).port}`);
    assert.equal(r.status, 200, r.body);
    r = await post('127.0.0.1');
    assert.equal(r.status, 200, r.body);
  });

  test('100 concurrent sessions, each with its own id, all served', async () => {
    const clients = await Promise.all(Array.from({ length: 100 }, () => connect(gw.keys.read)));
    const ids = new Set(clients.map((c) => c.transport.sessionId));
    assert.equal(ids.size, 100);
    const results = await Promise.all(clients.map((c) => c.callTool({ name: 'get_station', arguments: { station_id: st.id } })));
    for (const r of results) assert.ok(!r.isError && JSON.stringify(r.structuredContent).includes(st.id), JSON.stringify(r));
    const lists = await Promise.all(clients.map((c) => c.listTools()));
    for (const l of lists) assert.ok(l.tools.length > 0);
    await Promise.all(clients.map((c) => c.transport.terminateSession().then(() => c.close())));
    // the sessions are gone: their slots are free again
    const again = await Promise.all(Array.from({ length: 100 }, () => connect(gw.keys.read)));
    await Promise.all(again.map((c) => c.transport.terminateSession().then(() => c.close())));
  });

  test('raw JSON-RPC: version negotiation, session end, unknown method', async () => {
    const h = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'X-API-Key': gw.keys.read };
    const rpc = (body, extra = {}) => fetch(`${gw.http}/mcp`, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', ...body }), headers: { ...h, ...extra } });
    const init = (v) => rpc({ id: 1, method: 'initialize', params: { protocolVersion: v, capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    let r = await init('2024-11-05');
    assert.equal((await r.json()).result.protocolVersion, '2024-11-05');
    r = await init('1999-01-01');
    assert.equal((await r.json()).result.protocolVersion, '2025-11-25', 'an unknown version gets the latest');
    const sid = r.headers.get('mcp-session-id');
    assert.match(sid, /^[0-9a-f-]{36}$/);
    r = await rpc({ method: 'notifications/initialized' }, { 'Mcp-Session-Id': sid });
    assert.equal(r.status, 202);
    r = await rpc({ id: 2, method: 'no/such' }, { 'Mcp-Session-Id': sid });
    assert.equal((await r.json()).error.code, -32601);
    r = await fetch(`${gw.http}/mcp`, { method: 'DELETE', headers: { ...h, 'Mcp-Session-Id': sid } });
    assert.equal(r.status, 204);
    r = await rpc({ id: 3, method: 'ping' }, { 'Mcp-Session-Id': sid });
    assert.equal(r.status, 404);
    assert.equal((await r.json()).code, 'SESSION_NOT_FOUND');
    // tools/list: the cursor is opaque to the client but must be one the server gave
    r = await rpc({ id: 5, method: 'tools/list', params: {} });
    const page = (await r.json()).result;
    assert.ok(page.tools.length > 0 && page.tools.length <= 50);
    if (page.nextCursor) {
      r = await rpc({ id: 6, method: 'tools/list', params: { cursor: page.nextCursor } });
      assert.ok((await r.json()).result.tools.length > 0);
    }
    r = await rpc({ id: 7, method: 'tools/list', params: { cursor: 'garbage' } });
    assert.equal((await r.json()).error.code, -32602);
    // not JSON-RPC at all: -32600, never a crash
    r = await fetch(`${gw.http}/mcp`, { method: 'POST', body: JSON.stringify({ hello: 1 }), headers: h });
    assert.equal((await r.json()).error.code, -32600);
    r = await rpc({ id: 8, method: 'tools/call', params: { name: 'get_station', arguments: [1] } });
    assert.equal((await r.json()).error.code, -32602);
    r = await rpc({ id: 4, method: 'ping' }, { 'MCP-Protocol-Version': '1999-01-01' });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).code, 'UNSUPPORTED_PROTOCOL_VERSION');
  });
});
