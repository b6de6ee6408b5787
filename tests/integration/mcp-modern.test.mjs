// mcp-modern.test.mjs — the mcp plugin in the stateless 2026-07-28 era, through the official
// @modelcontextprotocol/client 2.x (auto-negotiated and pinned), through raw HTTP for the
// revision's validation ladder (server/discover, the _meta envelope, header/body
// cross-checks, unserved methods), through the pipelet-mcp stdio bridge, and beside the
// legacy era on the same endpoint: a 2025-era client (this package's default mode, and
// the 1.x SDK) still gets its session.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport, specTypeSchemas } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { Client as Client1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as Transport1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startGateway, buildDir } from './lib/harness.mjs';
import { connectStation } from './lib/stations.mjs';

const MODERN = '2026-07-28';
const META = {
  version: 'io.modelcontextprotocol/protocolVersion',
  capabilities: 'io.modelcontextprotocol/clientCapabilities',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
};

describe('mcp 2026-07-28 (stateless) beside the legacy era', () => {
  let gw, st, legacyNames;
  before(async () => {
    gw = await startGateway({ plugins: ['ocpp16', 'ocpp201', 'headless', 'mcp'] });
    st = await connectStation(gw, { protocol: 'ocpp1.6' });
    // the reference catalog: what a 2025-era (1.x SDK) client lists with an operator key
    const c = new Client1({ name: 'legacy-ref', version: '1.0' });
    await c.connect(new Transport1(new URL(`${gw.http}/mcp`), { requestInit: { headers: { 'X-API-Key': gw.keys.operator } } }));
    legacyNames = (await c.listTools()).tools.map((t) => t.name).sort();
    await c.transport.terminateSession();
    await c.close();
  });
  after(async () => {
    await st?.client.close({ force: true }).catch(() => {});
    if (gw) assert.equal(await gw.stop(), 0, gw.logs().split('\n').filter((l) => /Sanitizer|ERROR/.test(l)).join('\n'));
  });

  /** A 2.x client; every POST it makes is recorded (headers and body). */
  async function connect(key, versionNegotiation) {
    const posts = [];
    const spy = async (url, init) => {
      if (init?.method === 'POST') posts.push({ headers: new Headers(init.headers), body: JSON.parse(init.body) });
      return fetch(url, init);
    };
    const client = new Client({ name: 'mcp-modern-test', version: '1.0' }, versionNegotiation ? { versionNegotiation } : undefined);
    const transport = new StreamableHTTPClientTransport(new URL(`${gw.http}/mcp`), {
      requestInit: { headers: { 'X-API-Key': key } }, fetch: spy,
    });
    await client.connect(transport);
    return { client, posts };
  }

  /** A header value as text: itself, or what its =?base64?...?= sentinel carries. */
  const headerText = (v) => {
    const m = /^=\?base64\?(.*)\?=$/.exec(v ?? '');
    return m ? Buffer.from(m[1], 'base64').toString('utf8') : v;
  };

  /** Every POST of a modern connection: stateless, its headers mirroring its body. */
  function assertStateless(posts) {
    assert.ok(posts.length > 0);
    for (const { headers, body } of posts) {
      assert.notEqual(body.method, 'initialize');
      assert.equal(headers.get('mcp-session-id'), null);
      assert.equal(body.params._meta[META.version], MODERN, JSON.stringify(body));
      assert.ok(body.params._meta[META.capabilities], JSON.stringify(body));
      assert.equal(headers.get('mcp-protocol-version'), MODERN);
      assert.equal(headers.get('mcp-method'), body.method);
      if (body.method === 'tools/call') assert.equal(headerText(headers.get('mcp-name')), body.params.name);
    }
  }

  test('auto mode negotiates 2026-07-28: discover, all tools, a read and an operator tool', async () => {
    const { client, posts } = await connect(gw.keys.operator, { mode: 'auto' });
    assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
    assert.equal(client.getProtocolEra(), 'modern');
    const discover = client.getDiscoverResult();
    assert.ok(discover.supportedVersions.includes(MODERN), JSON.stringify(discover));
    assert.equal(discover.capabilities.tools.listChanged, false);
    assert.equal(client.getServerVersion().name, 'pipelet');
    assert.equal(client.transport.sessionId, undefined, 'no session in the stateless era');
    assert.equal(posts[0].body.method, 'server/discover', 'the probe');

    const { tools } = await client.listTools(); // the client walks every page itself
    assert.deepEqual(tools.map((t) => t.name).sort(), legacyNames, 'the same catalog as the legacy era');
    assert.equal(tools.length, 33);
    for (const t of tools) assert.equal(t.inputSchema.type, 'object', t.name);

    let r = await client.callTool({ name: 'get_station', arguments: { station_id: st.id } });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.ok(JSON.stringify(r.structuredContent).includes(st.id));
    const resets = st.log.filter((m) => m.action === 'Reset').length;
    r = await client.callTool({ name: 'reset_station', arguments: { station_id: st.id, type: 'Soft' } });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.equal(st.log.filter((m) => m.action === 'Reset').length, resets + 1, 'the station got a Reset');
    assertStateless(posts);
    await client.close();
  });

  test('a read key sees fewer tools and is refused an operator tool', async () => {
    const { client, posts } = await connect(gw.keys.read, { mode: 'auto' });
    assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
    const names = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(names.length < legacyNames.length, names.join());
    assert.ok(names.includes('get_station') && !names.includes('reset_station'), names.join());
    let r = await client.callTool({ name: 'list_stations', arguments: {} });
    assert.ok(!r.isError, JSON.stringify(r));
    const resets = st.log.filter((m) => m.action === 'Reset').length;
    r = await client.callTool({ name: 'reset_station', arguments: { station_id: st.id, type: 'Soft' } });
    assert.equal(r.isError, true);
    assert.equal(r.structuredContent.http_status, 403);
    assert.equal(r.structuredContent.code, 'FORBIDDEN');
    assert.equal(st.log.filter((m) => m.action === 'Reset').length, resets, 'the station never heard of it');
    // the revision's -32602 cases stay in-band, as in the legacy era; a name no plain
    // header carries travels as Mcp-Name =?base64?...?= and still matches the body
    await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), (e) => e.code === -32602);
    await assert.rejects(client.callTool({ name: 'tool ünknown', arguments: {} }), (e) => e.code === -32602);
    assert.match(posts.at(-1).headers.get('mcp-name'), /^=\?base64\?/);
    assertStateless(posts);
    await client.close();
  });

  test('pinned to 2026-07-28', async () => {
    const { client, posts } = await connect(gw.keys.operator, { mode: { pin: MODERN } });
    assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
    assert.equal((await client.listTools()).tools.length, 33);
    const r = await client.callTool({ name: 'get_health', arguments: {} });
    assert.ok(!r.isError, JSON.stringify(r));
    // station state as resources, read statelessly
    const { resources } = await client.listResources();
    const uri = `pipelet://stations/${st.id}`;
    assert.ok(resources.some((x) => x.uri === uri), JSON.stringify(resources));
    const read = await client.readResource({ uri });
    assert.equal(JSON.parse(read.contents[0].text).id, st.id);
    const { resourceTemplates } = await client.listResourceTemplates();
    assert.equal(resourceTemplates[0].uriTemplate, 'pipelet://stations/{id}');
    assertStateless(posts);
    await client.close();
  });

  test('through the pipelet-mcp stdio bridge, auto and pinned', async () => {
    for (const versionNegotiation of [{ mode: 'auto' }, { mode: { pin: MODERN } }]) {
      const client = new Client({ name: 'mcp-modern-stdio', version: '1.0' }, { versionNegotiation });
      await client.connect(new StdioClientTransport({
        command: join(buildDir, 'pipelet-mcp'), stderr: 'pipe',
        env: { ...process.env, PIPELET_URL: gw.http, PIPELET_API_KEY: gw.keys.read },
      }));
      assert.equal(client.getNegotiatedProtocolVersion(), MODERN, JSON.stringify(versionNegotiation));
      const names = (await client.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes('get_station') && !names.includes('reset_station'), names.join());
      const r = await client.callTool({ name: 'get_station', arguments: { station_id: st.id } });
      assert.ok(!r.isError, JSON.stringify(r));
      await assert.rejects(client.callTool({ name: 'tool ünknown', arguments: {} }), (e) => e.code === -32602,
        'the bridge sends a non-ASCII Mcp-Name as the Base64 sentinel');
      await client.close();
    }
  });

  describe('raw HTTP', () => {
    const envelope = (version = MODERN) => ({
      [META.version]: version, [META.capabilities]: {}, [META.clientInfo]: { name: 'raw', version: '1' },
    });
    /** POST one request; headers default to what a 2026-07-28 client sends for it. */
    async function rpc(method, params = {}, { headers, meta = envelope(), key = gw.keys.read, id = 7 } = {}) {
      const body = { jsonrpc: '2.0', method, params: meta ? { ...params, _meta: meta } : params };
      if (id !== null) body.id = id;
      const h = {
        'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
        'MCP-Protocol-Version': meta?.[META.version] ?? MODERN, 'Mcp-Method': method,
        ...(params.name ? { 'Mcp-Name': params.name } : {}),
        ...(key ? { 'X-API-Key': key } : {}),
      };
      for (const [k, v] of Object.entries(headers || {})) if (v === undefined) delete h[k]; else h[k] = v;
      const res = await fetch(`${gw.http}/mcp`, { method: 'POST', headers: h, body: JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
    }

    test('server/discover: a DiscoverResult with serverInfo in _meta', async () => {
      const r = await rpc('server/discover');
      assert.equal(r.status, 200);
      assert.equal(r.body.id, 7);
      const d = r.body.result;
      assert.deepEqual(d.supportedVersions, [MODERN]);
      assert.deepEqual(d.capabilities, { tools: { listChanged: false }, resources: { subscribe: true, listChanged: false } });
      assert.equal(d.resultType, 'complete');
      assert.ok(Number.isInteger(d.ttlMs) && d.ttlMs >= 0);
      assert.equal(d.cacheScope, 'private');
      assert.equal(typeof d.instructions, 'string');
      assert.equal(d._meta[META.serverInfo].name, 'pipelet');
      assert.equal(typeof d._meta[META.serverInfo].version, 'string');
      assert.ok(specTypeSchemas.DiscoverResult.safeParse(d).success);
      assert.equal(r.headers.get('mcp-session-id'), null);
    });

    test('tools/list and tools/call results: resultType, cache hints, serverInfo', async () => {
      let r = await rpc('tools/list');
      assert.equal(r.status, 200);
      const page = r.body.result;
      assert.equal(page.resultType, 'complete');
      assert.equal(page.cacheScope, 'private');
      assert.ok(Number.isInteger(page.ttlMs));
      assert.equal(page._meta[META.serverInfo].name, 'pipelet');
      assert.ok(page.tools.length > 0 && !('nextCursor' in page));
      assert.ok(specTypeSchemas.ListToolsResult.safeParse(page).success);
      r = await rpc('tools/list', { cursor: 'garbage' });
      assert.equal(r.status, 200);
      assert.equal(r.body.error.code, -32602);
      r = await rpc('tools/call', { name: 'get_health', arguments: {} });
      assert.equal(r.status, 200);
      assert.equal(r.body.result.resultType, 'complete');
      assert.equal(r.body.result.isError, false);
      assert.equal(r.body.result._meta[META.serverInfo].name, 'pipelet');
      assert.ok(specTypeSchemas.CallToolResult.safeParse(r.body.result).success);
      // Mcp-Name in the Base64 sentinel form clients use for values no plain header carries
      const b64 = `=?base64?${Buffer.from('get_health').toString('base64')}?=`;
      r = await rpc('tools/call', { name: 'get_health', arguments: {} }, { headers: { 'Mcp-Name': b64 } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.result.isError, false);
    });

    test('an unsupported _meta protocol version: -32022 with the supported list', async () => {
      for (const v of ['2099-01-01', '2025-06-18']) { // a future revision; a legacy one sent the 2026 way
        const r = await rpc('tools/list', {}, { meta: envelope(v) });
        assert.equal(r.status, 400, v);
        assert.equal(r.body.id, 7);
        assert.equal(r.body.error.code, -32022);
        assert.deepEqual(r.body.error.data, { supported: [MODERN], requested: v });
      }
    });

    test('headers and body disagreeing, or required headers missing: -32020 on 400', async () => {
      const cases = [
        ['tools/list', {}, { 'Mcp-Method': 'tools/call' }],
        ['tools/list', {}, { 'MCP-Protocol-Version': '2026-12-01' }],
        ['tools/list', {}, { 'Mcp-Method': undefined }],
        ['tools/list', {}, { 'MCP-Protocol-Version': undefined }],
        ['tools/call', { name: 'get_health', arguments: {} }, { 'Mcp-Name': 'list_stations' }],
        ['tools/call', { name: 'get_health', arguments: {} }, { 'Mcp-Name': undefined }],
        ['tools/call', { name: 'get_health', arguments: {} }, { 'Mcp-Name': '=?base64?not base64!?=' }],
      ];
      for (const [method, params, headers] of cases) {
        const r = await rpc(method, params, { headers });
        const what = `${method} ${JSON.stringify(headers)}`;
        assert.equal(r.status, 400, what);
        assert.equal(r.body.error.code, -32020, what);
        assert.ok(r.body.error.data.mismatch, what);
      }
      // a legacy initialize sent with a 2026-07-28 header is a mismatch too
      const r = await rpc('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } }, { meta: null });
      assert.equal(r.status, 400);
      assert.equal(r.body.error.code, -32020);
    });

    test('a missing or malformed envelope: -32602 on 400, never served as legacy', async () => {
      let r = await rpc('tools/list', {}, { meta: { [META.version]: MODERN } }); // no clientCapabilities
      assert.equal(r.status, 400);
      assert.equal(r.body.error.code, -32602);
      assert.equal(r.body.error.data.envelope.key, META.capabilities);
      r = await rpc('tools/list', {}, { meta: null }); // a 2026-07-28 header, no envelope at all
      assert.equal(r.status, 400);
      assert.equal(r.body.error.code, -32602);
      assert.deepEqual(r.body.error.data.envelope.missing, ['_meta']);
      r = await rpc('tools/list', {}, { meta: { ...envelope(), [META.clientInfo]: 'me' } });
      assert.equal(r.status, 400);
      assert.equal(r.body.error.code, -32602);
    });

    test('methods the revision does not have here: -32601 on 404', async () => {
      for (const method of ['ping', 'initialize', 'prompts/list', 'completion/complete', 'no/such']) {
        const r = await rpc(method, {});
        assert.equal(r.status, 404, method);
        assert.equal(r.body.error.code, -32601, method);
        assert.equal(r.body.id, 7);
      }
    });

    test('a 2026-07-28 notification is accepted; no key is 401', async () => {
      let r = await rpc('notifications/cancelled', { requestId: 3 }, { id: null });
      assert.equal(r.status, 202);
      r = await rpc('server/discover', {}, { key: null });
      assert.equal(r.status, 401);
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer /);
      r = await rpc('server/discover', {}, { key: null, headers: { Authorization: `Bearer ${gw.keys.read}` } });
      assert.equal(r.status, 200);
    });
  });

  test('legacy clients on the same endpoint still get a session', async () => {
    // this package's default mode is the 2025 initialize handshake
    const { client, posts } = await connect(gw.keys.read);
    assert.equal(client.getProtocolEra(), 'legacy');
    assert.equal(posts[0].body.method, 'initialize');
    assert.match(client.transport.sessionId, /^[0-9a-f-]{36}$/);
    assert.ok((await client.listTools()).tools.some((t) => t.name === 'get_station'));
    let r = await client.callTool({ name: 'get_station', arguments: { station_id: st.id } });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.equal(r.resultType, undefined, 'legacy results are as they were');
    await client.transport.terminateSession();
    await client.close();
    // and the 1.x SDK
    const c1 = new Client1({ name: 'legacy-1x', version: '1.0' });
    await c1.connect(new Transport1(new URL(`${gw.http}/mcp`), { requestInit: { headers: { 'X-API-Key': gw.keys.read } } }));
    assert.match(c1.transport.sessionId, /^[0-9a-f-]{36}$/);
    assert.ok(['2025-11-25', '2025-06-18', '2025-03-26'].includes(c1.transport.protocolVersion));
    r = await c1.callTool({ name: 'list_stations', arguments: {} });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.equal(r.resultType, undefined);
    await c1.transport.terminateSession();
    await c1.close();
  });
});
