// mcp-stdio.test.mjs — the pipelet-mcp bridge (stdio transport) driven by the official
// SDK's StdioClientTransport against a real daemon: initialize, tools/list and a tool
// call all cross the bridge, the session id is carried, and a bad key is refused.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { startGateway, buildDir } from './lib/harness.mjs';
import { connectStation } from './lib/stations.mjs';

describe('mcp over stdio through pipelet-mcp', () => {
  let gw, st;
  before(async () => {
    gw = await startGateway({ plugins: ['ocpp16', 'headless', 'mcp'] });
    st = await connectStation(gw, { protocol: 'ocpp1.6' });
  });
  after(async () => {
    await st?.client.close({ force: true }).catch(() => {});
    if (gw) assert.equal(await gw.stop(), 0, gw.logs());
  });

  function bridge(key) {
    return new StdioClientTransport({
      command: join(buildDir, 'pipelet-mcp'),
      env: { ...process.env, PIPELET_URL: gw.http, PIPELET_API_KEY: key },
      stderr: 'pipe',
    });
  }

  test('initialize, list and call a tool across the bridge', async () => {
    const c = new Client({ name: 'stdio-test', version: '1.0' });
    await c.connect(bridge(gw.keys.read));
    assert.equal(c.getServerVersion().name, 'pipelet');
    const { tools } = await c.listTools();
    assert.ok(tools.some((t) => t.name === 'get_station'));
    const r = await c.callTool({ name: 'get_station', arguments: { station_id: st.id } });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.ok(JSON.stringify(r.structuredContent).includes(st.id));
    await c.close();
  });

  test('an answer streamed with progress crosses the bridge message by message', async () => {
    const c = new Client({ name: 'stdio-test', version: '1.0' });
    await c.connect(bridge(gw.keys.operator));
    try {
      const progress = [];
      const seen = st.received('firmware').length;
      const call = c.callTool({ name: 'update_firmware', arguments: { station_id: st.id, location: 'https://fw.example.com/s.bin' } },
        CallToolResultSchema, { onprogress: (p) => progress.push(p.message), timeout: 20000 });
      await st.waitReceived('firmware', seen + 1);
      // the first progress reaches the client while the call is still open
      await gw.waitFor(() => progress.length >= 1, 10000, 'progress through the bridge');
      await st.client.call('FirmwareStatusNotification', { status: 'Downloading' });
      await gw.waitFor(() => progress.includes('Downloading'), 10000, 'the next progress');
      await st.client.call('FirmwareStatusNotification', { status: 'Installed' });
      const r = await call;
      assert.equal(r.structuredContent.firmware_status, 'Installed', JSON.stringify(r));
      assert.deepEqual(r.structuredContent.firmware_statuses.map((x) => x.status), ['Downloading', 'Installed']);
      assert.deepEqual(progress.slice(1), ['Downloading'], 'the final status comes with the result');
    } finally {
      await c.close();
    }
  });

  test('a wrong key: the bridge answers nothing and says why on stderr', async () => {
    const t = bridge('not-a-key');
    let err = '';
    const c = new Client({ name: 'stdio-test', version: '1.0' });
    const p = c.connect(t, { timeout: 1500 });
    t.stderr.on('data', (d) => { err += d; });
    await assert.rejects(p);
    assert.match(err, /HTTP 401/);
    await c.close().catch(() => {});
  });
});
