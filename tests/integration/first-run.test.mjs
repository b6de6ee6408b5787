// first-run.test.mjs — what a new operator reads on a first run and takes at its word:
// --check-config's output, the reconnection counter on a fresh start, and a daemon
// configured without a database ([database] url = none, the simulator's mode).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startGateway, buildDir, srcDir, waitFor } from './lib/harness.mjs';

const bin = join(buildDir, 'pipelet');
const metric = (text, name) => {
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : undefined;
};

test('--check-config prints what it validated and nothing else', () => {
  const conf = join(srcDir, 'etc', 'pipelet.conf');
  const plugins = `${join(buildDir, 'plugins', 'ocpp16')}:${join(buildDir, 'plugins', 'simulator')}`;
  const r = spawnSync(bin, ['-c', conf, '-o', `plugins.dir=${plugins}`, '-o', 'plugins.load=ocpp16 simulator',
    '-o', 'plugins.required=ocpp16', '--check-config'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `configuration OK: ${conf} (plugins checked: ocpp16 simulator)\n`);
  assert.equal(r.stderr, '', 'no log of a daemon that never ran ("stopped (exit 0)", file descriptor limit)');
  const none = spawnSync(bin, ['-c', conf, '-o', 'plugins.load=', '--check-config'], { encoding: 'utf8' });
  assert.equal(none.status, 0, none.stderr);
  assert.equal(none.stdout, `configuration OK: ${conf} (plugins checked: none listed)\n`);
  // the [database] numbers are still checked
  const bad = spawnSync(bin, ['-c', conf, '-o', 'plugins.load=', '-o', 'database.pool_size=many', '--check-config'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /\[database\] pool_size: 'many' is not an integer/);
  assert.equal(bad.stdout, '');
});

test('pipelet_db_reconnects_total: a counter, 0 on a fresh start, counting reconnections after an outage', async () => {
  const gw = await startGateway({ plugins: [] });
  try {
    let m = (await gw.api('GET', '/metrics')).text;
    assert.match(m, /^# TYPE pipelet_db_reconnects_total counter$/m);
    assert.equal(metric(m, 'pipelet_db_reconnects_total'), 0, 'the pool\'s first connections are not reconnections');
    assert.equal((await gw.api('GET', '/health')).body.database.reconnects, 0);
    if (!process.env.PIPELET_TEST_PGDATA) return;
    execFileSync(join(srcDir, 'scripts', 'pg-test-cluster'), ['restart', process.env.PIPELET_TEST_PGDATA]);
    await waitFor(async () => metric((await gw.api('GET', '/metrics')).text, 'pipelet_db_reconnects_total') >= 1
      && (await gw.api('GET', '/health')).body.status === 'ok', 30000, 'reconnection counted');
    m = (await gw.api('GET', '/metrics')).text;
    assert.ok(metric(m, 'pipelet_db_reconnects_total') <= 4, 'at most one per pooled connection (pool_size 4)');
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('the old gauge name pipelet_db_reconnects is gone from /metrics', async () => {
  const gw = await startGateway({ plugins: [] });
  try {
    assert.doesNotMatch((await gw.api('GET', '/metrics')).text, /^pipelet_db_reconnects /m);
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('[database] url = none: no persistence by choice, not a degraded database', async () => {
  const gw = await startGateway({ plugins: ['simulator'], database: 'none',
    config: { database: { connect_wait: 5000 } } });
  try {
    const h = await gw.api('GET', '/health');
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'ok', JSON.stringify(h.body));
    assert.equal(h.body.database.status, 'disabled');
    assert.equal(h.body.database.connections, 0);
    const logs = gw.logs();
    assert.equal(logs.match(/database disabled \(\[database\] url = none\): nothing is persisted/g)?.length, 1, logs);
    assert.doesNotMatch(logs, /not reachable|unavailable|connection \d+ failed|degraded/);
    // the simulator, which needs no database, serves
    const r = await gw.api('GET', '/sim/v1/report');
    assert.equal(r.status, 200, r.text);
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});
