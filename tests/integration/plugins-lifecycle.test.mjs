// plugins-lifecycle.test.mjs — the plugin contract when a plugin fails (ABI 1.2): what a
// failed init registered is removed before its shared object is closed, what fini left is
// removed too, and plugins built against the frozen 1.0 and 1.1 headers still load and
// serve.  The suite builds with ASan/LSan: a use of a removed registration crashes the
// daemon, a leak makes it exit non-zero, so "exit 0 on SIGTERM" is part of each test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startGateway, buildDir, pluginDirs } from './lib/harness.mjs';
import { connectStation } from './lib/stations.mjs';

const testPlugins = join(buildDir, 'tests', 'plugins');
const dirs = () => `${pluginDirs()}:${testPlugins}`;

test('a plugin that registered one of everything and failed its init leaves nothing behind', async () => {
  const gw = await startGateway({
    plugins: ['lc_initfail', 'ocpp16', 'headless'],
    required: ['ocpp16', 'headless'],
    config: { plugins: { dir: dirs() } },
  });
  try {
    const log = gw.logs();
    assert.match(log, /lc_initfail.*registered one of each; now failing/);
    assert.match(log, /plugin lc_initfail \(\S+\) failed to initialise \(rc=-1\); continuing without it/);
    assert.match(log, /plugin lc_initfail failed its init: removed 1 HTTP route\(s\), 1 OCPP handler\(s\), 1 certificate provider\(s\), 1 timer\(s\), 1 migration set\(s\), 1 bus subscription\(s\), 1 remote authorizer\(s\), 1 outbox sender\(s\)/);
    // the route is gone, not dangling: 404 like any unknown path
    const r = await gw.api('GET', '/lc/v1/initfail');
    assert.equal(r.status, 404);
    assert.equal(r.body.code, 'NOT_FOUND');
    assert.equal((await gw.api('GET', '/health')).status, 200);
    // its ocpp1.6 handler is gone: ocpp16, loaded after it, got the subprotocol
    assert.match(log, /loaded ocpp16 /);
    const st = await connectStation(gw, { protocol: 'ocpp1.6' });
    // bus events (station.connected, ...) and an unknown token reach no removed callback
    // (each of lc_initfail's callbacks aborts the process)
    const auth = await st.client.call('Authorize', { idTag: 'NOBODY-KNOWS' });
    assert.equal(auth.idTagInfo.status, 'Accepted'); // [core] auth_unknown = accept (harness)
    await new Promise((res) => setTimeout(res, 200)); // its 20 ms timer would have fired
    await st.close();
    // its migration was never applied
    const rows = await gw.sql("SELECT component FROM pl_migrations WHERE component = 'lc_initfail'");
    assert.deepEqual(rows, []);
    const table = await gw.sql("SELECT to_regclass('lc_initfail_marker') AS reg");
    assert.equal(table[0].reg, null);
  } finally {
    assert.equal(await gw.stop(), 0, 'ASan/LSan clean exit');
  }
});

test('what a plugin leaves after fini (a timer, a subscription, its routes) is removed by the host', async () => {
  const gw = await startGateway({
    plugins: ['lc_config'], database: false, logLevel: 'debug',
    config: { plugins: { dir: dirs() }, database: { connect_wait: 0 } },
  });
  assert.equal((await gw.api('GET', '/lc/v1/config')).status, 200);
  assert.equal(await gw.stop(), 0, 'no leak: the host freed what fini left');
  assert.match(gw.logs(), /plugin lc_config after fini: removed 1 HTTP route\(s\), 0 OCPP handler\(s\), 0 certificate provider\(s\), 1 timer\(s\), 0 migration set\(s\), 1 bus subscription\(s\)/);
});

test('plugins built against the frozen 1.0 and 1.1 headers load into this daemon and serve', async () => {
  const gw = await startGateway({
    plugins: ['abi_old', 'abi_v11'], database: false,
    config: { plugins: { dir: testPlugins }, database: { connect_wait: 0 } },
  });
  try {
    const log = gw.logs();
    assert.match(log, /loaded abi_old 0\.0\.1 \(ABI 1\.0\)/);
    assert.match(log, /loaded abi_v11 0\.0\.1 \(ABI 1\.1\)/);
    const old = await gw.api('GET', '/abi/v1/abi_old');
    assert.equal(old.status, 200);
    assert.equal(old.body.built_for, '1.0');
    assert.match(old.body.host, /^1\.\d+$/);
    assert.ok(Number(old.body.host.split('.')[1]) >= 2, 'a 1.2 (or later) host');
    const v11 = await gw.api('GET', '/abi/v1/abi_v11');
    assert.equal(v11.status, 200);
    assert.equal(v11.body.built_for, '1.1');
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('the loader test plugin that fails init after registering a route leaves it answering 404', async () => {
  const gw = await startGateway({
    plugins: ['abi_initfail', 'abi_old'], required: ['abi_old'], database: false,
    config: { plugins: { dir: testPlugins }, database: { connect_wait: 0 } },
  });
  try {
    assert.match(gw.logs(), /plugin abi_initfail failed its init: removed 1 HTTP route\(s\)/);
    assert.equal((await gw.api('GET', '/abi/v1/abi_initfail')).status, 404);
    assert.equal((await gw.api('GET', '/abi/v1/abi_old')).status, 200);
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});
