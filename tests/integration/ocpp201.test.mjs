// ocpp201.test.mjs — the OCPP 2.0.1 CSMS driven by an independent station: ocpp-rpc in
// strict mode (validating against the official OCA schemas) speaking ocpp2.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RPCClient } from 'ocpp-rpc';
import WebSocket from 'ws';
import { startGateway } from './lib/harness.mjs';

const iso = (ms = 0) => new Date(Date.now() + ms).toISOString();

async function station(gw, id, handlers = {}, opts = {}) {
  const c = new RPCClient({ endpoint: gw.ws, identity: id, protocols: ['ocpp2.0.1'], strictMode: true, reconnect: false, ...opts });
  for (const [action, fn] of Object.entries(handlers)) c.handle(action, fn);
  await c.connect();
  return c;
}

async function boot(c) {
  const r = await c.call('BootNotification', {
    reason: 'PowerUp',
    chargingStation: { model: 'M-201', vendorName: 'VendorX', firmwareVersion: '2.0.1-a', serialNumber: 'SN1' },
  });
  assert.equal(r.status, 'Accepted');
  assert.ok(r.interval > 0);
  return r;
}

test('boot, heartbeat, status and a full TransactionEvent session land in the neutral model', async () => {
  const gw = await startGateway({ plugins: ['ocpp201', 'headless'] });
  try {
    const c = await station(gw, 'V201-A');
    await boot(c);
    const hb = await c.call('Heartbeat', {});
    assert.ok(Date.parse(hb.currentTime));
    await c.call('StatusNotification', { timestamp: iso(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
    const auth = await c.call('Authorize', { idToken: { idToken: 'TOKEN-1', type: 'ISO14443' } });
    assert.equal(auth.idTokenInfo.status, 'Accepted');
    const mv = (wh) => [{ timestamp: iso(), sampledValue: [{ value: wh, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } }] }];
    let r = await c.call('TransactionEvent', { eventType: 'Started', timestamp: iso(), triggerReason: 'Authorized', seqNo: 0,
      transactionInfo: { transactionId: 'TX-201-1', chargingState: 'Charging' }, idToken: { idToken: 'TOKEN-1', type: 'ISO14443' },
      evse: { id: 1, connectorId: 1 }, meterValue: mv(1000) });
    assert.equal(r.idTokenInfo.status, 'Accepted');
    await c.call('StatusNotification', { timestamp: iso(), connectorStatus: 'Occupied', evseId: 1, connectorId: 1 });
    await c.call('TransactionEvent', { eventType: 'Updated', timestamp: iso(), triggerReason: 'MeterValuePeriodic', seqNo: 1,
      transactionInfo: { transactionId: 'TX-201-1', chargingState: 'Charging' }, meterValue: mv(2500) });
    await c.call('TransactionEvent', { eventType: 'Ended', timestamp: iso(), triggerReason: 'StopAuthorized', seqNo: 2,
      transactionInfo: { transactionId: 'TX-201-1', stoppedReason: 'Local' }, meterValue: mv(4000) });

    const st = await gw.api('GET', '/api/v1/stations/V201-A');
    assert.equal(st.status, 200);
    assert.equal(st.body.protocol, 'ocpp2.0.1');
    assert.equal(st.body.vendor, 'VendorX');
    const txs = await gw.api('GET', '/api/v1/transactions?station=V201-A');
    assert.equal(txs.status, 200);
    const tx = txs.body.items[0];
    assert.equal(tx.station_tx_id, 'TX-201-1');
    await gw.waitFor(async () => (await gw.api('GET', `/api/v1/transactions/${tx.id}`)).body.stopped_at, 5000, 'tx ended');
    const one = await gw.api('GET', `/api/v1/transactions/${tx.id}`);
    assert.equal(one.body.meter_start, 1000);
    assert.equal(one.body.meter_stop, 4000);
    assert.equal(one.body.energy_wh, 3000);
    await c.close();
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('a 1.6 and a 2.0.1 station side by side read the same at /api/v1/transactions', async () => {
  const gw = await startGateway({ plugins: ['ocpp16', 'ocpp201', 'headless'] });
  try {
    const v2 = await station(gw, 'MIX-201');
    await boot(v2);
    const v1 = new RPCClient({ endpoint: gw.ws, identity: 'MIX-16', protocols: ['ocpp1.6'], strictMode: true, reconnect: false });
    await v1.connect();
    await v1.call('BootNotification', { chargePointVendor: 'V', chargePointModel: 'M' });
    const s1 = await v1.call('StartTransaction', { connectorId: 1, idTag: 'TAG16', meterStart: 100, timestamp: iso() });
    await v1.call('StopTransaction', { transactionId: s1.transactionId, meterStop: 600, timestamp: iso() });
    await v2.call('TransactionEvent', { eventType: 'Started', timestamp: iso(), triggerReason: 'Authorized', seqNo: 0,
      transactionInfo: { transactionId: 'T2' }, idToken: { idToken: 'TAG201', type: 'ISO14443' }, evse: { id: 1, connectorId: 1 },
      meterValue: [{ timestamp: iso(), sampledValue: [{ value: 0.1, unitOfMeasure: { unit: 'kWh' } }] }] });
    await v2.call('TransactionEvent', { eventType: 'Ended', timestamp: iso(), triggerReason: 'StopAuthorized', seqNo: 1,
      transactionInfo: { transactionId: 'T2', stoppedReason: 'Remote' },
      meterValue: [{ timestamp: iso(), sampledValue: [{ value: 0.6, unitOfMeasure: { unit: 'kWh' } }] }] });
    await gw.waitFor(async () => {
      const r = await gw.api('GET', '/api/v1/transactions?active=false');
      return r.body.items.filter((t) => t.station_id.startsWith('MIX-')).length === 2;
    }, 5000, 'both transactions ended');
    const r = await gw.api('GET', '/api/v1/transactions?active=false');
    const mine = r.body.items.filter((t) => t.station_id.startsWith('MIX-'));
    const keys = (o) => Object.keys(o).sort();
    assert.deepEqual(keys(mine[0]), keys(mine[1]), 'same shape whatever the protocol');
    for (const t of mine) {
      const one = await gw.api('GET', `/api/v1/transactions/${t.id}`);
      assert.equal(one.body.energy_wh, 500, `${t.station_id} energy`);
    }
    await v1.close(); await v2.close();
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('CSMS-initiated actions through the neutral REST routes and raw calls', async () => {
  const gw = await startGateway({ plugins: ['ocpp201', 'headless'] });
  try {
    const seen = [];
    const c = await station(gw, 'V201-CMD', {
      Reset: ({ params }) => { seen.push(['Reset', params]); return { status: 'Accepted' }; },
      GetVariables: ({ params }) => ({ getVariableResult: params.getVariableData.map((d) => ({
        attributeStatus: d.variable.name === 'HeartbeatInterval' ? 'Accepted' : 'UnknownVariable',
        component: d.component, variable: d.variable, attributeValue: '300' })) }),
      SetVariables: ({ params }) => ({ setVariableResult: params.setVariableData.map((d) => ({
        attributeStatus: d.attributeValue === 'bad' ? 'Rejected' : 'Accepted', component: d.component, variable: d.variable })) }),
      RequestStartTransaction: ({ params }) => { seen.push(['Start', params]); return { status: 'Accepted' }; },
      UnlockConnector: () => ({ status: 'Unlocked' }),
      ChangeAvailability: () => ({ status: 'Scheduled' }),
      TriggerMessage: ({ params }) => { seen.push(['Trigger', params]); return { status: 'Accepted' }; },
      ClearCache: () => ({ status: 'Rejected' }),
      SetDisplayMessage: () => ({ status: 'Accepted' }),
    });
    await boot(c);
    await c.call('StatusNotification', { timestamp: iso(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
    let r = await gw.api('POST', '/api/v1/stations/V201-CMD/reset', { type: 'Hard' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(seen.find((s) => s[0] === 'Reset')[1], { type: 'Immediate' });
    r = await gw.api('PUT', '/api/v1/stations/V201-CMD/configuration/OCPPCommCtrlr%2FHeartbeatInterval', { value: '120' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    r = await gw.api('PUT', '/api/v1/stations/V201-CMD/configuration/OCPPCommCtrlr%2FHeartbeatInterval', { value: 'bad' });
    assert.equal(r.status, 409); assert.equal(r.body.code, 'REJECTED_BY_STATION');
    // accepted, but this station never starts the transaction: 202 with where to find it
    r = await gw.api('POST', '/api/v1/transactions?timeout=1', { station_id: 'V201-CMD', connector: 1, id_token: 'REMOTE-1' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const start = seen.find((s) => s[0] === 'Start')[1];
    assert.equal(start.idToken.idToken, 'REMOTE-1'); assert.equal(start.evseId, 1);
    assert.equal(typeof start.remoteStartId, 'number');
    r = await gw.api('POST', '/api/v1/stations/V201-CMD/connectors/1/unlock');
    assert.equal(r.status, 200);
    r = await gw.api('POST', '/api/v1/stations/V201-CMD/trigger', { message: 'StatusNotification', connector: 1 });
    assert.equal(r.status, 200);
    r = await gw.api('POST', '/api/v1/stations/V201-CMD/clear-cache');
    assert.equal(r.status, 409); assert.equal(r.body.code, 'REJECTED_BY_STATION');
    // a 2.0.1-only action through the OCPP server API, validated before it is sent
    r = await gw.api('POST', '/ocpp/v1/stations/V201-CMD/calls/SetDisplayMessage', { message: { id: 1, priority: 'NormalCycle', message: { format: 'UTF8', content: 'Hi' } } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    r = await gw.api('POST', '/ocpp/v1/stations/V201-CMD/calls/SetDisplayMessage', { message: { id: 'x' } });
    assert.equal(r.status, 400);
    await c.close();
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('device model from NotifyReport, records, and CALLERRORs for invalid input', async () => {
  const gw = await startGateway({ plugins: ['ocpp201', 'headless'] });
  try {
    const c = await station(gw, 'V201-DM');
    await boot(c);
    await c.call('NotifyReport', { requestId: 1, generatedAt: iso(), seqNo: 0, reportData: [
      { component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' }, variableAttribute: [{ value: '300', mutability: 'ReadWrite' }] },
      { component: { name: 'EVSE', evse: { id: 1 } }, variable: { name: 'Power' }, variableAttribute: [{ value: '22000', mutability: 'ReadOnly' }] },
    ] });
    await c.call('SecurityEventNotification', { type: 'FirmwareUpdated', timestamp: iso() });
    await c.call('NotifyEvent', { generatedAt: iso(), seqNo: 0, eventData: [{ eventId: 1, timestamp: iso(), trigger: 'Alerting',
      actualValue: 'x', eventNotificationType: 'HardWiredMonitor', component: { name: 'C' }, variable: { name: 'V' } }] });
    const r15118 = await c.call('Get15118EVCertificate', { iso15118SchemaVersion: 'urn:iso:15118:2:2013:MsgDef', action: 'Install', exiRequest: 'AAAA' });
    assert.equal(r15118.status, 'Failed');
    await gw.waitFor(async () => (await gw.sql("select count(*)::int n from station_docs where station_id = 'V201-DM' and kind = 'variable'"))[0].n === 2, 5000, 'device model stored');
    const keys = (await gw.sql("select key from station_docs where station_id = 'V201-DM' and kind = 'variable' order by key")).map((r) => r.key);
    assert.deepEqual(keys, ['EVSE@1/Power', 'OCPPCommCtrlr/HeartbeatInterval']);
    await gw.waitFor(async () => (await gw.sql("select count(*)::int n from station_records where station_id = 'V201-DM'"))[0].n >= 2, 5000, 'records');
    await c.close();

    // raw frames: an independent ws client, no schema help
    const ws = new WebSocket(`${gw.ws}/V201-RAW`, ['ocpp2.0.1']);
    await new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); });
    const next = () => new Promise((res) => ws.once('message', (d) => res(JSON.parse(d.toString()))));
    ws.send(JSON.stringify([2, 'b1', 'BootNotification', { reason: 'PowerUp', chargingStation: { model: 'm', vendorName: 'v' } }]));
    assert.equal((await next())[2].status, 'Accepted');
    ws.send(JSON.stringify([2, 'e1', 'Heartbeat', { unexpected: 1 }]));
    let m = await next();
    assert.deepEqual(m.slice(0, 3), [4, 'e1', 'FormatViolation'], 'an unknown field breaks the PDU structure');
    ws.send(JSON.stringify([2, 'e2', 'StatusNotification', { timestamp: iso(), connectorStatus: 'Sleeping', evseId: 1, connectorId: 1 }]));
    m = await next();
    assert.deepEqual(m.slice(0, 3), [4, 'e2', 'PropertyConstraintViolation']);
    ws.send(JSON.stringify([2, 'e3', 'NoSuchAction', {}]));
    m = await next();
    assert.deepEqual(m.slice(0, 3), [4, 'e3', 'NotImplemented']);
    ws.send(JSON.stringify([2, 'e4', 'Reset', { type: 'Immediate' }]));
    m = await next();
    assert.deepEqual(m.slice(0, 3), [4, 'e4', 'NotSupported']);
    ws.send(JSON.stringify([2, 'e5', 'StatusNotification', { timestamp: 'yesterday', connectorStatus: 'Available', evseId: 1, connectorId: 1 }]));
    m = await next();
    assert.equal(m[0], 4); assert.equal(m[1], 'e5');
    ws.send('[2, "e6", "Heartbeat"');
    m = await next();
    assert.equal(m[0], 4);
    assert.ok(['RpcFrameworkError', 'FormatViolation', 'ProtocolError'].includes(m[2]), m[2]);
    ws.close();
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('unknown-station policy pending: BootNotification Pending, other messages refused until accepted', async () => {
  const gw = await startGateway({ plugins: ['ocpp201', 'headless'], config: { ocpp201: { unknown_stations: 'pending' } } });
  try {
    const c = await station(gw, 'V201-NEW');
    const r = await c.call('BootNotification', { reason: 'PowerUp', chargingStation: { model: 'm', vendorName: 'v' } });
    assert.equal(r.status, 'Pending');
    await assert.rejects(c.call('Heartbeat', {}), (e) => e.rpcErrorCode === 'SecurityError');
    await c.close();
  } finally {
    await gw.stop();
  }
  const gw2 = await startGateway({ plugins: ['ocpp201'], config: { ocpp201: { unknown_stations: 'reject' } } });
  try {
    const c = new RPCClient({ endpoint: gw2.ws, identity: 'V201-STRANGER', protocols: ['ocpp2.0.1'], reconnect: false });
    await assert.rejects(c.connect());
  } finally {
    await gw2.stop();
  }
});

test('each reconnect replaces the live connection, however late the replaced one closes', async () => {
  const gw = await startGateway({ plugins: ['ocpp201', 'headless'] });
  const closed = (c) => new Promise((res) => c.once('close', res));
  try {
    const a = await station(gw, 'V201-REP');
    await boot(a);
    const aClosed = closed(a);
    const b = await station(gw, 'V201-REP');
    await aClosed; // A was closed by the gateway when B arrived
    await b.call('Heartbeat', {});
    // A's close came after B was registered: C must still find and replace B
    const bClosed = closed(b);
    const c = await station(gw, 'V201-REP');
    await bClosed;
    await c.call('Heartbeat', {});
    const online = (await gw.api('GET', '/api/v1/stations/V201-REP')).body;
    assert.equal(online.online, true);
    await c.close();
    await gw.waitFor(async () => (await gw.api('GET', '/api/v1/stations/V201-REP')).body.online === false, 10000, 'offline after the last close');
    // and it comes back
    const d = await station(gw, 'V201-REP');
    await d.call('Heartbeat', {});
    await d.close();
  } finally {
    await gw.stop();
  }
});
