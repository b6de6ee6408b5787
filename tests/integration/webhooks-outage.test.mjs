// webhooks-outage.test.mjs — events published while PostgreSQL is down are kept in
// memory until they are in the outbox, then delivered in order; past [webhooks]
// pending_max new events are dropped, counted and logged.  The suite runs its own
// PostgreSQL cluster so it can stop and start it without disturbing others.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RPCClient } from 'ocpp-rpc';
import { startGateway, psql, srcDir, waitFor } from './lib/harness.mjs';

// longer than several query timeouts (1 s here): with the 30 s default, ~35 s
const OUTAGE_MS = Number(process.env.PIPELET_WH_OUTAGE_MS || 8000);
const cluster = join(srcDir, 'scripts', 'pg-test-cluster');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let pgdir, adminUrl, dbn = 0;

before(() => {
  pgdir = mkdtempSync(join(tmpdir(), 'pipelet-whoutage-pg-'));
  adminUrl = execFileSync(cluster, ['start', pgdir], { encoding: 'utf8' }).trim();
});
after(() => {
  try { execFileSync(cluster, ['stop', pgdir]); } catch { /* already gone */ }
  rmSync(pgdir, { recursive: true, force: true });
});
const pgStop = () => execFileSync(cluster, ['stop', '--keep', pgdir]);
const pgStart = () => execFileSync(cluster, ['start', pgdir], { encoding: 'utf8' });

function newDatabase() {
  const name = `whout_${process.pid}_${dbn++}`;
  psql(adminUrl, `CREATE DATABASE ${name}`);
  return adminUrl.replace(/\/postgres\?/, `/${name}?`);
}

async function receiver() {
  const got = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { got.push(JSON.parse(body)); res.writeHead(200); res.end('ok'); });
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  return { got, url: `http://127.0.0.1:${server.address().port}/hook`, close: () => { server.closeAllConnections(); return new Promise((res) => server.close(res)); } };
}

async function gateway(webhooks = {}) {
  return startGateway({
    plugins: ['ocpp16', 'webhooks'], database: newDatabase(),
    config: {
      database: { query_timeout: 1000, connect_wait: 5000 },
      webhooks: { allow_private: 'yes', base_delay_ms: 50, max_delay_ms: 500, ...webhooks },
    },
  });
}

/** A station that connects and goes away: station.connected, then station.disconnected. */
async function visit(gw, id) {
  const c = new RPCClient({ endpoint: gw.ws, identity: id, protocols: ['ocpp1.6'], strictMode: true, reconnect: false });
  await c.connect();
  await sleep(50);
  await c.close();
}

const metric = (text, name) => {
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : undefined;
};

test(`events published during a ${OUTAGE_MS / 1000} s PostgreSQL outage are all delivered, in order`,
  { timeout: OUTAGE_MS + 90000 }, async () => {
    const rx = await receiver();
    const gw = await gateway();
    try {
      const c = await gw.api('POST', '/api/v1/webhooks', { url: rx.url, events: ['station.connected', 'station.disconnected'] });
      assert.equal(c.status, 201, c.text);
      await visit(gw, 'WHO-0');
      await gw.waitFor(() => rx.got.length === 2, 10000, 'deliveries before the outage');
      pgStop();
      const ids = [];
      const until = Date.now() + OUTAGE_MS;
      for (let i = 1; Date.now() < until; i++) {
        ids.push(`WHO-${i}`);
        await visit(gw, `WHO-${i}`);
        await sleep(400);
      }
      let m = (await gw.api('GET', '/metrics')).text;
      assert.ok(metric(m, 'pipelet_webhook_events_pending') > 0, 'events wait in memory');
      pgStart();
      await gw.waitFor(() => ids.every((id) => rx.got.filter((e) => e.station === id).length === 2), 60000,
        `every event of ${ids.length} stations delivered`);
      for (const id of ids) {
        assert.deepEqual(rx.got.filter((e) => e.station === id).map((e) => e.type), ['station.connected', 'station.disconnected'], `order of ${id}`);
      }
      m = (await gw.api('GET', '/metrics')).text;
      assert.equal(metric(m, 'pipelet_webhook_events_pending'), 0);
      assert.equal(metric(m, 'pipelet_webhook_events_dropped_total'), 0);
      const rows = await gw.sql('select count(distinct event_id)::int n from webhook_deliveries');
      assert.equal(rows[0].n, 2 * (ids.length + 1));
    } finally {
      try { pgStart(); } catch { /* running */ }
      assert.equal(await gw.stop(), 0);
      await rx.close();
    }
  });

test('past pending_max, new events are dropped, counted and logged; those kept are delivered', { timeout: 90000 }, async () => {
  const rx = await receiver();
  const gw = await gateway({ pending_max: 4 });
  try {
    const c = await gw.api('POST', '/api/v1/webhooks', { url: rx.url, events: ['station.connected', 'station.disconnected'] });
    assert.equal(c.status, 201, c.text);
    pgStop();
    for (let i = 0; i < 4; i++) await visit(gw, `WHB-${i}`); // 8 events: 4 kept, 4 dropped
    await gw.waitFor(() => /webhook events dropped: 4 events wait/.test(gw.logs()), 5000, 'the log line naming the bound');
    let m = (await gw.api('GET', '/metrics')).text;
    assert.equal(metric(m, 'pipelet_webhook_events_pending'), 4);
    assert.equal(metric(m, 'pipelet_webhook_events_dropped_total'), 4);
    pgStart();
    await gw.waitFor(() => rx.got.length === 4, 60000, 'the kept events delivered');
    // the oldest were kept, in order per station (stations are delivered side by side)
    for (const id of ['WHB-0', 'WHB-1']) {
      assert.deepEqual(rx.got.filter((e) => e.station === id).map((e) => e.type), ['station.connected', 'station.disconnected'], id);
    }
    await gw.waitFor(() => /outbox backlog below pending_max again: 4 events were dropped/.test(gw.logs()), 5000, 'the recovery line');
    m = (await gw.api('GET', '/metrics')).text;
    assert.equal(metric(m, 'pipelet_webhook_events_pending'), 0);
  } finally {
    try { pgStart(); } catch { /* running */ }
    assert.equal(await gw.stop(), 0);
    await rx.close();
  }
});
