// ocpp16-central.test.mjs — the OCPP 1.6 central system with an independent charge point
// (ocpp-rpc, strict mode): durability across SIGKILL, offline queues, handshakes,
// security profile 1, replacement of a connection, CALLERRORs for malformed input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RPCClient } from 'ocpp-rpc';
import WebSocket from 'ws';
import { startGateway } from './lib/harness.mjs';

const iso = (ms = 0) => new Date(Date.now() + ms).toISOString();
async function cp(gw, id, opts = {}) {
  const c = new RPCClient({ endpoint: gw.ws, identity: id, protocols: ['ocpp1.6'], strictMode: true, reconnect: false, ...opts });
  await c.connect();
  return c;
}
const boot = (c) => c.call('BootNotification', { chargePointVendor: 'Vendor', chargePointModel: 'Model-16' });
const mv = (txId, wh, ts) => ({ connectorId: 1, transactionId: txId, meterValue: [{ timestamp: ts || iso(), sampledValue: [{ value: String(wh), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }, { value: '7200', measurand: 'Power.Active.Import', unit: 'W', phase: 'L1', context: 'Sample.Periodic' }] }] });

test('a gateway killed with SIGKILL mid-session loses no committed transaction or acknowledged meter value', async () => {
  const gw = await startGateway({ plugins: ['ocpp16', 'headless'] });
  try {
    let c = await cp(gw, 'KILL-1');
    await boot(c);
    const start = await c.call('StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 1000, timestamp: iso() });
    assert.ok(Number.isInteger(start.transactionId));
    // the id was committed before the answer
    const rows = await gw.sql(`select id from transactions where id = ${start.transactionId}`);
    assert.equal(rows.length, 1);
    for (let i = 1; i <= 5; i++) await c.call('MeterValues', mv(start.transactionId, 1000 + i * 100));
    assert.equal(await gw.kill(), 'signal SIGKILL');
    c.close({ force: true }).catch(() => {});
    const n = await gw.sql(`select count(*)::int n from meter_values where transaction_id = ${start.transactionId}`);
    assert.equal(n[0].n, 10, 'every acknowledged sample (2 per message) is in the database');
    await gw.start();
    c = await cp(gw, 'KILL-1');
    // a known station reconnecting without a boot is served
    await c.call('MeterValues', mv(start.transactionId, 1700));
    const stop = await c.call('StopTransaction', { transactionId: start.transactionId, meterStop: 1800, timestamp: iso(), reason: 'Local', idTag: 'TAG1',
      transactionData: [{ timestamp: iso(), sampledValue: [{ value: '1800', context: 'Transaction.End' }] }] });
    assert.equal(stop.idTagInfo.status, 'Accepted');
    const t = (await gw.api('GET', `/api/v1/transactions/${start.transactionId}`)).body;
    assert.equal(t.meter_stop, 1800);
    assert.equal(t.energy_wh, 800);
    await c.close();
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('messages queued offline arrive late, in order, with their own timestamps', async () => {
  const gw = await startGateway({ plugins: ['ocpp16'] });
  try {
    const c = await cp(gw, 'OFF-1');
    await boot(c);
    const t0 = iso(-3600 * 1000);
    const s = await c.call('StartTransaction', { connectorId: 2, idTag: 'TAGX', meterStart: 0, timestamp: t0 });
    await c.call('MeterValues', mv(s.transactionId, 500, iso(-3000 * 1000)));
    await c.call('StopTransaction', { transactionId: s.transactionId, meterStop: 900, timestamp: iso(-2400 * 1000), reason: 'EVDisconnected' });
    const tx = await gw.sql(`select started_at, stopped_at, stop_reason from transactions where id = ${s.transactionId}`);
    assert.equal(new Date(tx[0].started_at).toISOString(), t0);
    assert.equal(tx[0].stop_reason, 'EVDisconnected');
    const ts = await gw.sql(`select ts from meter_values where transaction_id = ${s.transactionId} and measurand = 'Energy.Active.Import.Register'`);
    assert.ok(new Date(ts[0].ts) < new Date(Date.now() - 2900 * 1000), 'the sample keeps its own timestamp');
    await c.close();
  } finally {
    await gw.stop();
  }
});

test('handshakes: subprotocol required, unknown-station policies, security profile 1, replacement', async () => {
  const gw = await startGateway({ plugins: ['ocpp16', 'headless'], config: { ocpp16: { unknown_stations: 'reject' } } });
  try {
    // unknown station rejected
    await assert.rejects(cp(gw, 'STRANGER'));
    // register it with a password: now only Basic auth with the right password gets in
    let r = await gw.api('PUT', '/ocpp/v1/stations/SEC-1/password', { password: 'a-very-secret-pass' });
    assert.equal(r.status, 204, r.text);
    r = await gw.api('PUT', '/ocpp/v1/stations/SEC-1/password', { password: 'short' });
    assert.equal(r.status, 400);
    await assert.rejects(cp(gw, 'SEC-1'), 'no credentials');
    await assert.rejects(cp(gw, 'SEC-1', { password: 'wrong-password-123' }));
    const c = await cp(gw, 'SEC-1', { password: 'a-very-secret-pass' });
    await boot(c);
    // a second connection for the same id replaces the first cleanly
    const closed = new Promise((res) => c.once('close', res));
    const c2 = await cp(gw, 'SEC-1', { password: 'a-very-secret-pass' });
    await closed;
    await c2.call('Heartbeat', {});
    const online = await gw.api('GET', '/ocpp/v1/stations');
    assert.equal(online.body.items ? online.body.items.filter((s) => s.id === 'SEC-1').length : online.body.filter((s) => s.id === 'SEC-1').length, 1);
    await c2.close();
    // no subprotocol: refused per spec
    const ws = new WebSocket(`${gw.ws}/SEC-1`);
    await assert.rejects(new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); }));
  } finally {
    await gw.stop();
  }
  const gw2 = await startGateway({ plugins: ['ocpp16'], config: { ocpp16: { unknown_stations: 'pending', boot_retry_interval: 7 } } });
  try {
    const c = await cp(gw2, 'NEWBIE');
    const b = await boot(c);
    assert.equal(b.status, 'Pending');
    assert.equal(b.interval, 7);
    await assert.rejects(c.call('Heartbeat', {}), (e) => e.rpcErrorCode === 'SecurityError');
    await c.close();
  } finally {
    await gw2.stop();
  }
});

test('malformed input gets the right 1.6 CALLERROR and never stops the gateway', async () => {
  const gw = await startGateway({ plugins: ['ocpp16'] });
  try {
    const ws = new WebSocket(`${gw.ws}/BAD-1`, ['ocpp1.6']);
    await new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); });
    const next = () => new Promise((res) => ws.once('message', (d) => res(JSON.parse(d.toString()))));
    const ask = async (frame) => { const p = next(); ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)); return p; };
    assert.equal((await ask([2, 'b', 'BootNotification', { chargePointVendor: 'V', chargePointModel: 'M' }]))[2].status, 'Accepted');
    let m = await ask([2, 'e1', 'BootNotification', { chargePointVendor: 'V' }]);
    assert.deepEqual(m.slice(0, 3), [4, 'e1', 'OccurenceConstraintViolation']);
    m = await ask([2, 'e2', 'StatusNotification', { connectorId: 'one', errorCode: 'NoError', status: 'Available' }]);
    assert.deepEqual(m.slice(0, 3), [4, 'e2', 'TypeConstraintViolation']);
    m = await ask([2, 'e3', 'StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Sleeping' }]);
    assert.deepEqual(m.slice(0, 3), [4, 'e3', 'PropertyConstraintViolation']);
    m = await ask([2, 'e4', 'Authorize', { idTag: 'X'.repeat(21) }]);
    assert.deepEqual(m.slice(0, 3), [4, 'e4', 'PropertyConstraintViolation']);
    m = await ask([2, 'e5', 'Heartbeat', { extra: true }]);
    assert.deepEqual(m.slice(0, 3), [4, 'e5', 'FormationViolation']);
    m = await ask([2, 'e6', 'NoSuchAction', {}]);
    assert.deepEqual(m.slice(0, 3), [4, 'e6', 'NotImplemented']);
    m = await ask([2, 'e7', 'RemoteStartTransaction', { idTag: 'X' }]);
    assert.deepEqual(m.slice(0, 3), [4, 'e7', 'NotSupported']);
    m = await ask([2, 'e8', 'StartTransaction', { connectorId: 1, idTag: 'T', meterStart: 0, timestamp: 'not-a-date' }]);
    assert.deepEqual(m.slice(0, 3), [4, 'e8', 'PropertyConstraintViolation']);
    m = await ask([9, 'e9', 'Heartbeat', {}]);
    assert.deepEqual(m.slice(0, 3), [4, 'e9', 'ProtocolError']);
    m = await ask([2, 'e10', 'Heartbeat']);
    assert.deepEqual(m.slice(0, 3), [4, 'e10', 'ProtocolError']);
    m = await ask('{not json');
    assert.deepEqual(m.slice(0, 3), [4, '-1', 'FormationViolation']);
    m = await ask([2, 'ok', 'Heartbeat', {}]);
    assert.equal(m[0], 3, 'the connection still works');
    ws.close();
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});
