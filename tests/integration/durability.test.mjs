// durability.test.mjs — nothing a station was told was received is lost, and nothing
// fails open, while PostgreSQL is down: confirmed stops and transaction events, token
// decisions, repeated message ids, meter values on the right EVSE.  The suite runs its
// own PostgreSQL cluster so it can stop and start it without disturbing others.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RPCClient } from 'ocpp-rpc';
import WebSocket from 'ws';
import { startGateway, psql, srcDir, waitFor } from './lib/harness.mjs';

const cluster = join(srcDir, 'scripts', 'pg-test-cluster');
let pgdir, adminUrl, dbn = 0;
const iso = (ms = 0) => new Date(Date.now() + ms).toISOString();

before(() => {
  pgdir = mkdtempSync(join(tmpdir(), 'pipelet-durability-pg-'));
  adminUrl = execFileSync(cluster, ['start', pgdir], { encoding: 'utf8' }).trim();
});
after(() => {
  try { execFileSync(cluster, ['stop', pgdir]); } catch { /* already gone */ }
  rmSync(pgdir, { recursive: true, force: true });
});

function newDatabase() {
  const name = `dur_${process.pid}_${dbn++}`;
  psql(adminUrl, `CREATE DATABASE ${name}`);
  return adminUrl.replace(/\/postgres\?/, `/${name}?`);
}
const pgStop = () => execFileSync(cluster, ['stop', '--keep', pgdir]);
const pgStart = () => execFileSync(cluster, ['start', pgdir], { encoding: 'utf8' });

async function gateway(extra = {}) {
  const database = newDatabase();
  const gw = await startGateway({
    plugins: ['ocpp16', 'ocpp201', 'headless'], database,
    config: { database: { query_timeout: 1500, connect_wait: 5000 }, ...extra },
  });
  return gw;
}
async function station(gw, id, protocol) {
  const c = new RPCClient({ endpoint: gw.ws, identity: id, protocols: [protocol], strictMode: true, reconnect: false, callTimeoutMs: 20000 });
  await c.connect();
  if (protocol === 'ocpp1.6') await c.call('BootNotification', { chargePointVendor: 'V', chargePointModel: 'M' });
  else await c.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'V', model: 'M' } });
  return c;
}
const rejects = async (p, code) => {
  await assert.rejects(p, (e) => { assert.equal(e.rpcErrorCode || e.code, code, e.message); return true; });
};
const dbBack = (gw) => waitFor(async () => (await gw.api('GET', '/health')).body?.database?.status === 'ok', 30000, 'database back');
const tx201 = (type, txId, seqNo, extra = {}) => ({
  eventType: type, timestamp: iso(), triggerReason: type === 'Started' ? 'Authorized' : type === 'Ended' ? 'StopAuthorized' : 'MeterValuePeriodic',
  seqNo, transactionInfo: { transactionId: txId, ...(type === 'Ended' ? { stoppedReason: 'Local' } : {}) }, ...extra,
});

test('a StopTransaction / TransactionEvent that cannot be committed gets a CALLERROR, never a confirmation', async () => {
  const gw = await gateway();
  try {
    const c16 = await station(gw, 'DUR-16', 'ocpp1.6');
    const c201 = await station(gw, 'DUR-201', 'ocpp2.0.1');
    const start = await c16.call('StartTransaction', { connectorId: 1, idTag: 'T1', meterStart: 100, timestamp: iso() });
    await c201.call('TransactionEvent', tx201('Started', 'TX-A', 0, { evse: { id: 1, connectorId: 1 }, idToken: { idToken: 'T2', type: 'ISO14443' } }));
    pgStop();
    try {
      const stop = { transactionId: start.transactionId, meterStop: 900, timestamp: iso(), reason: 'Local' };
      await rejects(c16.call('StopTransaction', stop), 'InternalError');
      await rejects(c201.call('TransactionEvent', tx201('Ended', 'TX-A', 1, { meterValue: [{ timestamp: iso(), sampledValue: [{ value: 5000 }] }] })), 'InternalError');
      await rejects(c201.call('TransactionEvent', tx201('Started', 'TX-B', 0, { evse: { id: 2, connectorId: 1 } })), 'InternalError');
    } finally {
      pgStart();
    }
    await dbBack(gw);
    // the station sends what was refused again: now it is stored
    await c16.call('StopTransaction', { transactionId: start.transactionId, meterStop: 900, timestamp: iso(), reason: 'Local' });
    await c201.call('TransactionEvent', tx201('Ended', 'TX-A', 1, { meterValue: [{ timestamp: iso(), sampledValue: [{ value: 5000 }] }] }));
    const rows = await gw.sql(`select station_id, meter_stop, stopped_at is not null as stopped from transactions order by id`);
    assert.deepEqual(rows.map((r) => [r.station_id, r.stopped]), [['DUR-16', true], ['DUR-201', true]]);
    const samples = await gw.sql(`select count(*)::int n from meter_values where station_id = 'DUR-201'`);
    assert.equal(samples[0].n, 1, 'the Ended event\'s sample stored once, after the retry');
    await c16.close(); await c201.close();
  } finally {
    await gw.stop();
  }
});

test('tokens are decided by the token table, for TransactionEvent too, and fail closed while the database is down', async () => {
  const gw = await gateway({ core: { auth_unknown: 'reject', token_refresh: 1 } });
  try {
    // written behind the gateway's back: the periodic refresh picks them up
    psql(gw.database, `insert into id_tokens(id_token, status) values ('GOOD', 'Accepted'), ('BLOCKED', 'Blocked')`);
    await gw.waitFor(async () => /token table loaded/.test(gw.logs()), 5000, 'token table');
    await new Promise((r) => setTimeout(r, 2500));
    const c16 = await station(gw, 'AUTH-16', 'ocpp1.6');
    const c201 = await station(gw, 'AUTH-201', 'ocpp2.0.1');
    assert.equal((await c16.call('Authorize', { idTag: 'BLOCKED' })).idTagInfo.status, 'Blocked');
    assert.equal((await c16.call('Authorize', { idTag: 'NOBODY' })).idTagInfo.status, 'Invalid');
    assert.equal((await c201.call('Authorize', { idToken: { idToken: 'GOOD', type: 'ISO14443' } })).idTokenInfo.status, 'Accepted');
    // a blocked card in a TransactionEvent is not answered Accepted
    const ev = await c201.call('TransactionEvent', tx201('Started', 'TX-BL', 0, { evse: { id: 1, connectorId: 1 }, idToken: { idToken: 'BLOCKED', type: 'ISO14443' } }));
    assert.equal(ev.idTokenInfo.status, 'Blocked');
    const ev2 = await c201.call('TransactionEvent', tx201('Updated', 'TX-BL', 1, { idToken: { idToken: 'NOBODY', type: 'ISO14443' } }));
    assert.equal(ev2.idTokenInfo.status, 'Invalid');
    // 1.6 StopTransaction's idTagInfo is the token's real status
    const s = await c16.call('StartTransaction', { connectorId: 1, idTag: 'BLOCKED', meterStart: 0, timestamp: iso() });
    assert.equal(s.idTagInfo.status, 'Blocked');
    const st = await c16.call('StopTransaction', { transactionId: s.transactionId, meterStop: 10, timestamp: iso(), idTag: 'BLOCKED' });
    assert.equal(st.idTagInfo.status, 'Blocked');
    pgStop();
    try {
      // the table in memory answers exactly as before the outage: never "Accepted" by default
      assert.equal((await c16.call('Authorize', { idTag: 'BLOCKED' })).idTagInfo.status, 'Blocked');
      assert.equal((await c201.call('Authorize', { idToken: { idToken: 'GOOD', type: 'ISO14443' } })).idTokenInfo.status, 'Accepted');
      assert.equal((await c16.call('Authorize', { idTag: 'NEVER-SEEN' })).idTagInfo.status, 'Invalid');
      assert.equal((await c201.call('Authorize', { idToken: { idToken: 'NEVER-SEEN', type: 'ISO14443' } })).idTokenInfo.status, 'Invalid');
    } finally {
      pgStart();
    }
    await c16.close(); await c201.close();
  } finally {
    await gw.stop();
  }
});

test('a gateway that never reached its database lets no station in (503): nothing is decided on a guess', async () => {
  const gw = await startGateway({ plugins: ['ocpp16', 'ocpp201'], database: 'postgresql:///nothing?host=/nonexistent-dir',
    config: { database: { connect_wait: 200 }, core: { auth_unknown: 'accept' }, ocpp16: { unknown_stations: 'accept' } } });
  try {
    // stations get in only once credentials could be loaded: none here, so check the chain directly
    // through the handshake refusal (503) and, for a station already connected, a CALLERROR
    const ws = new WebSocket(`${gw.ws}/NODB-16`, 'ocpp1.6');
    const status = await new Promise((res) => { ws.on('unexpected-response', (req, r) => res(r.statusCode)); ws.on('open', () => res(101)); ws.on('error', () => res(0)); });
    assert.equal(status, 503);
  } finally {
    await gw.stop();
  }
});

test('auth_unknown: the built-in default rejects, and a value other than accept or reject is a configuration error', async () => {
  const gw = await gateway({ core: { auth_unknown: undefined } });
  try {
    const c = await station(gw, 'DEF-16', 'ocpp1.6');
    assert.equal((await c.call('Authorize', { idTag: 'WHO' })).idTagInfo.status, 'Invalid');
    await c.close();
  } finally {
    await gw.stop();
  }
  await assert.rejects(gateway({ core: { auth_unknown: 'rejct' } }), /auth_unknown: 'rejct' is not one of accept, reject/);
});

test('a repeated message id is answered once, and a repeated StartTransaction opens no second session', async () => {
  const gw = await gateway();
  try {
    const ws = new WebSocket(`${gw.ws}/DUP-16`, 'ocpp1.6');
    const got = [];
    ws.on('message', (m) => got.push(JSON.parse(m.toString())));
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    const send = (f) => ws.send(JSON.stringify(f));
    send([2, 'b1', 'BootNotification', { chargePointVendor: 'V', chargePointModel: 'M' }]);
    await waitFor(() => got.length === 1, 5000, 'boot answer');
    const start = { connectorId: 1, idTag: 'DUPTAG', meterStart: 10, timestamp: iso() };
    send([2, 'same-id', 'StartTransaction', start]);
    send([2, 'same-id', 'StartTransaction', start]);
    await waitFor(() => got.length >= 2, 5000, 'start answer');
    send([2, 'same-id', 'StartTransaction', start]); // after the answer: still the same message
    send([2, 'hb', 'Heartbeat', {}]);
    await waitFor(() => got.some((f) => f[1] === 'hb'), 5000, 'heartbeat answer');
    const answers = got.filter((f) => f[1] === 'same-id');
    assert.equal(answers.length, 1, JSON.stringify(got));
    // the same StartTransaction under a new id (its answer was lost): the same transaction
    send([2, 'other-id', 'StartTransaction', start]);
    await waitFor(() => got.some((f) => f[1] === 'other-id'), 5000, 'second start answer');
    const again = got.find((f) => f[1] === 'other-id');
    assert.equal(again[2].transactionId, answers[0][2].transactionId);
    const rows = await gw.sql(`select count(*)::int n from transactions where station_id = 'DUP-16'`);
    assert.equal(rows[0].n, 1);
    ws.close();
  } finally {
    await gw.stop();
  }
});

test('a sample of a transaction is stored on the transaction\'s EVSE and connector', async () => {
  const gw = await gateway();
  try {
    const c201 = await station(gw, 'EVSE-201', 'ocpp2.0.1');
    await c201.call('TransactionEvent', tx201('Started', 'TX-E2', 0, { evse: { id: 2, connectorId: 1 }, idToken: { idToken: 'X', type: 'ISO14443' } }));
    await c201.call('TransactionEvent', tx201('Updated', 'TX-E2', 1, { meterValue: [{ timestamp: iso(), sampledValue: [{ value: 1234 }] }] }));
    const c16 = await station(gw, 'EVSE-16', 'ocpp1.6');
    const s = await c16.call('StartTransaction', { connectorId: 2, idTag: 'Y', meterStart: 0, timestamp: iso() });
    await c16.call('StopTransaction', { transactionId: s.transactionId, meterStop: 500, timestamp: iso(),
      transactionData: [{ timestamp: iso(), sampledValue: [{ value: '500', context: 'Transaction.End' }] }] });
    const rows = await gw.sql(`select station_id, evse, connector, transaction_id is not null as linked from meter_values order by station_id`);
    assert.deepEqual(rows.map((r) => [r.station_id, r.evse, r.connector, r.linked]), [['EVSE-16', 2, 1, true], ['EVSE-201', 2, 1, true]]);
    await c201.close(); await c16.close();
  } finally {
    await gw.stop();
  }
});

test('a station that never answers a CALL leaks nothing at shutdown (LeakSanitizer in the ASan build)', async () => {
  const gw = await gateway({ ocpp: { call_timeout: 1000 } });
  await gw.stop();
  const sim = await startGateway({ plugins: ['ocpp16', 'headless', 'simulator'], database: gw.database,
    config: { ocpp: { call_timeout: 1000 }, core: { command_timeout: 1000 } } });
  try {
    let r = await sim.api('POST', '/sim/v1/fleets', { template: { protocol: 'ocpp1.6' }, count: 1, id_prefix: 'MUTE-' });
    assert.equal(r.status, 201, r.text);
    const id = r.body.stations[0].id || r.body.stations[0];
    await waitFor(async () => (await sim.api('GET', `/api/v1/stations/${id}`)).body?.online === true, 10000, 'simulated station online');
    r = await sim.api('POST', `/sim/v1/stations/${id}/faults`, { type: 'drop_responses' });
    assert.ok(r.status < 300, r.text);
    r = await sim.api('POST', `/api/v1/stations/${id}/reset`, { type: 'Soft' });
    assert.equal(r.status, 504, r.text);
    r = await sim.api('DELETE', `/sim/v1/stations/${id}/faults`);
    assert.ok(r.status < 300, r.text);
  } finally {
    sim.proc.kill('SIGINT');
    assert.equal(await sim.exited, 0, sim.logs().split('\n').filter((l) => /leak|ERROR: /i.test(l)).slice(0, 10).join('\n'));
  }
});
