// mcp-resources.test.mjs — the mcp plugin's resources, subscriptions, progress and
// cancellation, and the 2024-11-05 HTTP+SSE transport, driven by independent clients: the
// official @modelcontextprotocol/sdk 1.x Client over Streamable HTTP and over its
// SSEClientTransport (/mcp/sse), and raw HTTP for the 2026-07-28 subscriptions/listen
// stream.  Real strict-mode ocpp-rpc stations (1.6 and 2.0.1) make the state change.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { ResourceUpdatedNotificationSchema, CallToolResultSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { startGateway } from './lib/harness.mjs';
import { connectStation } from './lib/stations.mjs';

const MODERN = '2026-07-28';
const META = {
  version: 'io.modelcontextprotocol/protocolVersion',
  capabilities: 'io.modelcontextprotocol/clientCapabilities',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Reads an SSE body event by event: next() resolves to {event, data} (data parsed). */
function sseReader(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  const queue = [];
  return {
    async next(ms = 10000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const i = buf.indexOf('\n\n');
        if (i >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = { event: 'message', data: '' };
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) ev.event = line.slice(7);
            else if (line.startsWith('data: ')) ev.data += line.slice(6);
          }
          if (!ev.data) continue; // a comment (keep-alive)
          try { ev.data = JSON.parse(ev.data); } catch { /* the endpoint event is text */ }
          return ev;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error('no SSE event in time');
        const r = await Promise.race([reader.read(), sleep(left).then(() => ({ timeout: true }))]);
        if (r.timeout) continue;
        if (r.done) return null;
        buf += r.value;
      }
    },
    cancel: () => reader.cancel().catch(() => {}),
    queue,
  };
}

describe('mcp resources, subscriptions, progress, cancellation and /mcp/sse', () => {
  let gw, st16, st201;
  before(async () => {
    gw = await startGateway({ plugins: ['ocpp16', 'ocpp201', 'headless', 'mcp'] });
    st16 = await connectStation(gw, { protocol: 'ocpp1.6' });
    st201 = await connectStation(gw, { protocol: 'ocpp2.0.1' });
  });
  after(async () => {
    await st16?.close().catch(() => {});
    await st201?.close().catch(() => {});
    if (gw) assert.equal(await gw.stop(), 0, gw.logs().split('\n').filter((l) => /Sanitizer|ERROR/.test(l)).join('\n'));
  });

  async function connect(key = gw.keys.operator) {
    const client = new Client({ name: 'mcp-resources-test', version: '1.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.http}/mcp`), {
      requestInit: { headers: { 'X-API-Key': key } },
    }));
    return client;
  }

  test('stations are resources: listed, a template, read as the REST route answers them', async () => {
    const client = await connect(gw.keys.read);
    assert.equal(client.getServerCapabilities().resources.subscribe, true);
    const { resources } = await client.listResources();
    const mine = resources.find((r) => r.name === st16.id);
    assert.ok(mine, JSON.stringify(resources));
    assert.equal(mine.uri, `pipelet://stations/${st16.id}`);
    assert.equal(mine.mimeType, 'application/json');
    assert.match(mine.description, /online/);
    const { resourceTemplates } = await client.listResourceTemplates();
    assert.equal(resourceTemplates[0].uriTemplate, 'pipelet://stations/{id}');
    const read = await client.readResource({ uri: mine.uri });
    assert.equal(read.contents[0].uri, mine.uri);
    const rest = await gw.api('GET', `/api/v1/stations/${st16.id}`);
    assert.deepEqual(JSON.parse(read.contents[0].text).id, rest.body.id);
    assert.equal(JSON.parse(read.contents[0].text).protocol, 'ocpp1.6');
    // unknown station, foreign scheme: the specification's -32002 with the uri
    for (const uri of ['pipelet://stations/NO-SUCH-STATION', 'file:///etc/passwd', 'pipelet://stations/a/b']) {
      await assert.rejects(client.readResource({ uri }), (e) => e instanceof McpError && e.code === -32002 && e.data?.uri === uri, uri);
    }
    await client.transport.terminateSession();
    await client.close();
  });

  test('legacy resources/subscribe: a connector status change arrives on the session stream', async () => {
    const client = await connect(gw.keys.read);
    const updates = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updates.push(n.params.uri));
    const uri = `pipelet://stations/${st201.id}`;
    await client.subscribeResource({ uri });
    await sleep(300); // the client opens its GET stream after initialization
    await st201.status(1, 'Unavailable');
    await gw.waitFor(() => updates.includes(uri), 10000, 'notifications/resources/updated');
    assert.ok(!updates.some((u) => u !== uri), 'only the subscribed station');
    await client.unsubscribeResource({ uri });
    const n = updates.length;
    await st201.status(1, 'Available');
    await sleep(500);
    assert.equal(updates.length, n, 'nothing after unsubscribing');
    await assert.rejects(client.subscribeResource({ uri: 'mailto:x@example.com' }), (e) => e.code === -32002);
    await client.transport.terminateSession();
    await client.close();
  });

  test('update_firmware with a progressToken follows the station to Installed', async () => {
    const client = await connect();
    const progress = [];
    const call = client.callTool({ name: 'update_firmware', arguments: { station_id: st16.id, location: 'https://fw.example.com/v2.bin' } },
      CallToolResultSchema, { onprogress: (p) => progress.push(p), timeout: 30000 });
    await st16.waitReceived('firmware');
    for (const status of ['Downloading', 'Downloaded', 'Installing', 'Installed']) {
      await sleep(50);
      await st16.client.call('FirmwareStatusNotification', { status });
    }
    const r = await call;
    assert.equal(r.isError, false, JSON.stringify(r));
    assert.equal(r.structuredContent.firmware_status, 'Installed');
    assert.equal(r.structuredContent.complete, true);
    assert.deepEqual(r.structuredContent.firmware_statuses.map((s) => s.status), ['Downloading', 'Downloaded', 'Installing', 'Installed']);
    // the final status comes with the result, not as a progress notification
    assert.deepEqual(progress.map((p) => p.message), ['accepted by the station; waiting for its firmware status', 'Downloading', 'Downloaded', 'Installing']);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].progress > progress[i - 1].progress, 'progress increases');
    // a failed update is a tool error naming the status
    const failing = client.callTool({ name: 'update_firmware', arguments: { station_id: st16.id, location: 'https://fw.example.com/v3.bin' } },
      CallToolResultSchema, { onprogress: () => {}, timeout: 30000 });
    await st16.waitReceived('firmware', 2);
    await st16.client.call('FirmwareStatusNotification', { status: 'DownloadFailed' });
    const f = await failing;
    assert.equal(f.isError, true);
    assert.equal(f.structuredContent.firmware_status, 'DownloadFailed');
    // without a progressToken: answered when the station accepted, as over REST
    const plain = await client.callTool({ name: 'update_firmware', arguments: { station_id: st16.id, location: 'https://fw.example.com/v4.bin' } });
    assert.equal(plain.isError, false);
    assert.equal(plain.structuredContent.firmware_status, undefined);
    await client.transport.terminateSession();
    await client.close();
  });

  test('a cancelled call stops being followed and gets no answer; the session goes on', async () => {
    const client = await connect();
    const ac = new AbortController();
    const progress = [];
    const call = client.callTool({ name: 'update_firmware', arguments: { station_id: st201.id, location: 'https://fw.example.com/c.bin' } },
      CallToolResultSchema, { onprogress: (p) => progress.push(p), signal: ac.signal, timeout: 30000 });
    await st201.waitReceived('firmware');
    await gw.waitFor(() => progress.length >= 1, 5000, 'the first progress');
    ac.abort('the operator changed their mind');
    await assert.rejects(call);
    await gw.waitFor(() => /request cancelled by its client/.test(gw.logs()), 5000, 'the cancellation to reach the gateway');
    await st201.client.call('FirmwareStatusNotification', { status: 'Downloading', requestId: st201.last('firmware').requestId });
    await sleep(300);
    assert.equal(progress.length, 1, 'no progress after the cancellation');
    const ok = await client.callTool({ name: 'get_station', arguments: { station_id: st201.id } });
    assert.equal(ok.isError, false);
    await client.transport.terminateSession();
    await client.close();
  });

  test('a client that vanishes mid-stream: the follow ends, nothing is written to it, the gateway goes on', async () => {
    const init = await fetch(`${gw.http}/mcp`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'X-API-Key': gw.keys.operator },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
    });
    const sid = init.headers.get('mcp-session-id');
    await init.text();
    const ac = new AbortController();
    const before = st16.received('firmware').length;
    const res = await fetch(`${gw.http}/mcp`, {
      method: 'POST', signal: ac.signal,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'X-API-Key': gw.keys.operator, 'Mcp-Session-Id': sid },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'update_firmware', arguments: { station_id: st16.id, location: 'https://fw.example.com/gone.bin' }, _meta: { progressToken: 'p-1' } } }),
    });
    assert.match(res.headers.get('content-type'), /text\/event-stream/);
    const sse = sseReader(res.body);
    const first = (await sse.next()).data;
    assert.equal(first.method, 'notifications/progress');
    assert.equal(first.params.progressToken, 'p-1');
    await st16.waitReceived('firmware', before + 1);
    ac.abort();
    await sse.cancel();
    await sleep(200);
    for (const status of ['Downloading', 'Installed']) await st16.client.call('FirmwareStatusNotification', { status });
    const ok = await gw.api('GET', `/api/v1/stations/${st16.id}`);
    assert.equal(ok.status, 200);
  });

  test('sync_site_local_lists: every station of a site, one after the other, with progress', async () => {
    const site = (await gw.api('POST', '/api/v1/sites', { name: 'MCP depot' })).body;
    for (const id of [st16.id, st201.id]) assert.equal((await gw.api('PUT', `/api/v1/sites/${site.id}/stations/${id}`)).status < 300, true);
    await gw.api('PUT', `/api/v1/sites/${site.id}/stations/MCP-OFFLINE`).catch(() => {});
    const client = await connect();
    const progress = [];
    const r = await client.callTool({ name: 'sync_site_local_lists', arguments: { id: site.id, update_type: 'Full' } },
      CallToolResultSchema, { onprogress: (p) => progress.push(p), timeout: 60000 });
    assert.equal(r.isError, false, JSON.stringify(r));
    const n = r.structuredContent.stations;
    assert.ok(n >= 2, JSON.stringify(r.structuredContent));
    assert.equal(r.structuredContent.results.length, n);
    for (const id of [st16.id, st201.id]) {
      const one = r.structuredContent.results.find((x) => x.station_id === id);
      assert.equal(one.status, 'Accepted', JSON.stringify(one));
    }
    // a step per station but the last (the result tells that one); a progress written just
    // before the result may be dropped by the SDK, which runs notification handlers late
    assert.ok(progress.length <= n - 1, JSON.stringify(progress));
    for (const p of progress) assert.equal(p.total, n);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].progress > progress[i - 1].progress);
    assert.ok(st16.received('local_list').length >= 1 && st201.received('local_list').length >= 1);
    // no such site: the REST 404 as a tool error
    const missing = await client.callTool({ name: 'sync_site_local_lists', arguments: { id: 999999 } });
    assert.equal(missing.isError, true);
    assert.equal(missing.structuredContent.code, 'SITE_NOT_FOUND');
    // a read key cannot run it
    const rd = await connect(gw.keys.read);
    const denied = await rd.callTool({ name: 'sync_site_local_lists', arguments: { id: site.id } });
    assert.equal(denied.isError, true);
    assert.equal(denied.structuredContent.code, 'FORBIDDEN');
    for (const c of [client, rd]) { await c.transport.terminateSession(); await c.close(); }
  });

  test('the 2024-11-05 HTTP+SSE transport at /mcp/sse: tools, resources, a subscription', async () => {
    const client = new Client({ name: 'mcp-sse-test', version: '1.0' });
    const transport = new SSEClientTransport(new URL(`${gw.http}/mcp/sse`), {
      requestInit: { headers: { 'X-API-Key': gw.keys.read } },
      eventSourceInit: { fetch: (url, init) => fetch(url, { ...init, headers: { ...init?.headers, 'X-API-Key': gw.keys.read } }) },
    });
    await client.connect(transport);
    assert.equal(client.getServerVersion().name, 'pipelet');
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'get_station'));
    const r = await client.callTool({ name: 'get_station', arguments: { station_id: st16.id } });
    assert.ok(!r.isError && JSON.stringify(r.structuredContent).includes(st16.id));
    const bad = await client.callTool({ name: 'no_such_tool', arguments: {} }).catch((e) => e);
    assert.equal(bad.code, -32602);
    const updates = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updates.push(n.params.uri));
    const uri = `pipelet://stations/${st16.id}`;
    await client.subscribeResource({ uri });
    await st16.status(2, 'Unavailable');
    await gw.waitFor(() => updates.includes(uri), 10000, 'the update on the SSE stream');
    await st16.status(2, 'Available');
    await client.close();
    // the session ended with its stream: its endpoint is gone
    const sid = new URL(transport._endpoint).searchParams.get('sessionId');
    await gw.waitFor(async () => (await fetch(`${gw.http}/mcp/messages?sessionId=${sid}`, {
      method: 'POST', headers: { 'X-API-Key': gw.keys.read, 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    })).status === 404, 5000, 'the session to end with its stream');
    // no key: 401; an unknown session: 404
    assert.equal((await fetch(`${gw.http}/mcp/sse`)).status, 401);
  });

  test('2026-07-28 subscriptions/listen: acknowledged, then updates stamped with the subscription id', async () => {
    const uri = `pipelet://stations/${st16.id}`;
    const body = {
      jsonrpc: '2.0', id: 'listen-1', method: 'subscriptions/listen',
      params: {
        notifications: { resourceSubscriptions: [uri, 'file:///not/ours'] },
        _meta: { [META.version]: MODERN, [META.capabilities]: {}, [META.clientInfo]: { name: 'raw', version: '1' } },
      },
    };
    const ac = new AbortController();
    const res = await fetch(`${gw.http}/mcp`, {
      method: 'POST', signal: ac.signal, body: JSON.stringify(body),
      headers: {
        'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'X-API-Key': gw.keys.read,
        'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'subscriptions/listen',
      },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /text\/event-stream/);
    const sse = sseReader(res.body);
    const ack = (await sse.next()).data;
    assert.equal(ack.method, 'notifications/subscriptions/acknowledged');
    assert.deepEqual(ack.params.notifications.resourceSubscriptions, [uri], 'only what will be delivered');
    assert.equal(ack.params._meta[META.subscriptionId], 'listen-1');
    await st16.status(1, 'Unavailable');
    const upd = (await sse.next()).data;
    assert.equal(upd.method, 'notifications/resources/updated');
    assert.equal(upd.params.uri, uri);
    assert.equal(upd.params._meta[META.subscriptionId], 'listen-1');
    ac.abort();
    await sse.cancel();
    await st16.status(1, 'Available'); // the gone listener is dropped, never a crash
    // resources/read in the same era (Mcp-Name carries the uri)
    const read = await fetch(`${gw.http}/mcp`, {
      method: 'POST',
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'resources/read', params: { uri, _meta: body.params._meta } }),
      headers: {
        'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'X-API-Key': gw.keys.read,
        'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'resources/read', 'Mcp-Name': uri,
      },
    });
    const rr = await read.json();
    assert.equal(rr.result.resultType, 'complete');
    assert.equal(rr.result.contents[0].uri, uri);
    assert.equal(typeof rr.result.ttlMs, 'number');
    // listen without an SSE-capable Accept: refused in-band
    const noSse = await fetch(`${gw.http}/mcp`, {
      method: 'POST', body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-API-Key': gw.keys.read, 'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'subscriptions/listen' },
    });
    assert.equal((await noSse.json()).error.code, -32600);
  });
});
