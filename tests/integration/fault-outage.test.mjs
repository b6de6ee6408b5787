// fault-outage.test.mjs — PostgreSQL stops for 60 s under 50 busy stations of both
// versions, then comes back: every start, stop and meter value a station was told was
// received is in the database.  Stations behave like real ones: what is refused with a
// CALLERROR stays in their queue and is sent again (the same message), in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RPCClient } from 'ocpp-rpc';
import { startGateway, psql, srcDir, waitFor } from './lib/harness.mjs';

const OUTAGE_MS = Number(process.env.PIPELET_OUTAGE_MS || 60000);
const cluster = join(srcDir, 'scripts', 'pg-test-cluster');
const iso = () => new Date().toISOString();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A station that keeps its transaction messages queued until they are acknowledged. */
function busyStation(gw, id, protocol, acked) {
  const v16 = protocol === 'ocpp1.6';
  const c = new RPCClient({ endpoint: gw.ws, identity: id, protocols: [protocol], strictMode: true, reconnect: false, callTimeoutMs: 15000 });
  let stop = false, seq = 0, value = 0;
  // send until acknowledged; CALLERROR or timeout -> wait and send the same message again
  const reliable = async (action, payload) => {
    for (;;) {
      try { return await c.call(action, payload); } catch (e) {
        if (/closed|not open|disconnected/i.test(e.message)) throw e;
        await sleep(500);
      }
    }
  };
  const run = async () => {
    await c.connect();
    if (v16) await c.call('BootNotification', { chargePointVendor: 'V', chargePointModel: 'M' });
    else await c.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'V', model: 'M' } });
    for (let n = 0; !stop; n++) {
      const conn = 1 + (n % 2);
      if (v16) {
        const s = await reliable('StartTransaction', { connectorId: conn, idTag: `${id}-T`, meterStart: value, timestamp: iso() });
        acked.starts.push({ id, tx: String(s.transactionId) });
        for (let k = 0; k < 3 && !stop; k++) {
          value += 10;
          await reliable('MeterValues', { connectorId: conn, transactionId: s.transactionId, meterValue: [{ timestamp: iso(), sampledValue: [{ value: String(value) }] }] });
          acked.samples.push({ id, value });
          await sleep(200);
        }
        await reliable('StopTransaction', { transactionId: s.transactionId, meterStop: value, timestamp: iso(), reason: 'Local' });
        acked.stops.push({ id, tx: String(s.transactionId) });
      } else {
        const tx = `${id}-${n}`;
        const ev = (type, extra) => ({ eventType: type, timestamp: iso(), seqNo: seq++, triggerReason: 'MeterValuePeriodic', transactionInfo: { transactionId: tx, ...(type === 'Ended' ? { stoppedReason: 'Local' } : {}) }, ...extra });
        await reliable('TransactionEvent', ev('Started', { evse: { id: conn, connectorId: 1 }, meterValue: [{ timestamp: iso(), sampledValue: [{ value: value }] }] }));
        acked.starts.push({ id, tx });
        acked.samples.push({ id, value });
        for (let k = 0; k < 3 && !stop; k++) {
          value += 10;
          await reliable('TransactionEvent', ev('Updated', { meterValue: [{ timestamp: iso(), sampledValue: [{ value: value }] }] }));
          acked.samples.push({ id, value });
          await sleep(200);
        }
        await reliable('TransactionEvent', ev('Ended', {}));
        acked.stops.push({ id, tx });
      }
    }
  };
  const done = run();
  return { finish: async () => { stop = true; await done; await c.close(); } };
}

test(`PostgreSQL down for ${OUTAGE_MS / 1000} s under 50 busy stations: nothing acknowledged is missing`, { timeout: OUTAGE_MS + 120000 }, async () => {
  const pgdir = mkdtempSync(join(tmpdir(), 'pipelet-outage-pg-'));
  const url = execFileSync(cluster, ['start', pgdir], { encoding: 'utf8' }).trim();
  psql(url, 'CREATE DATABASE outage');
  const gw = await startGateway({ plugins: ['ocpp16', 'ocpp201'], database: url.replace('/postgres?', '/outage?'),
    config: { database: { query_timeout: 3000 } } });
  const acked = { starts: [], stops: [], samples: [] };
  try {
    const stations = [];
    for (let i = 0; i < 25; i++) {
      stations.push(busyStation(gw, `OUT16-${i}`, 'ocpp1.6', acked));
      stations.push(busyStation(gw, `OUT201-${i}`, 'ocpp2.0.1', acked));
    }
    await sleep(3000);
    const before = acked.samples.length;
    execFileSync(cluster, ['stop', '--keep', pgdir]);
    await sleep(OUTAGE_MS);
    const during = acked.samples.length - before;
    execFileSync(cluster, ['start', pgdir]);
    await waitFor(() => acked.samples.length > before + during + 100, 60000, 'stations progressing after the outage');
    await Promise.all(stations.map((s) => s.finish()));
    const q = (sql) => JSON.parse(psql(gw.database, `select coalesce(json_agg(t), '[]') from (${sql}) t`).trim());
    const txs = q('select station_id, station_tx_id, stopped_at is not null as stopped from transactions');
    const key = (r) => `${r.station_id}/${r.station_tx_id}`;
    const stored = new Map(txs.map((r) => [key(r), r]));
    for (const s of acked.starts) assert.ok(stored.has(`${s.id}/${s.tx}`), `acknowledged start ${s.id}/${s.tx} stored`);
    for (const s of acked.stops) assert.ok(stored.get(`${s.id}/${s.tx}`)?.stopped, `acknowledged stop ${s.id}/${s.tx} stored`);
    const values = new Set(q('select station_id, value from meter_values').map((r) => `${r.station_id}/${r.value}`));
    const missing = acked.samples.filter((s) => !values.has(`${s.id}/${s.value}`));
    assert.deepEqual(missing, [], 'every acknowledged meter value stored');
    // one session per connector at a time: retried starts never opened a second one
    const open = q('select station_id, evse, connector, count(*)::int n from transactions where stopped_at is null group by 1, 2, 3 having count(*) > 1');
    assert.deepEqual(open, []);
    assert.ok(acked.stops.length >= 50, `sessions completed: ${acked.stops.length}`);
  } finally {
    assert.equal(await gw.stop(), 0);
    try { execFileSync(cluster, ['stop', pgdir]); } catch { /* gone */ }
    rmSync(pgdir, { recursive: true, force: true });
  }
});
