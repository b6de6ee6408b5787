// simulator.test.mjs — virtual chargers against our gateway (through its REST API) and
// against a CSMS we did not write: an ocpp-rpc RPCServer in strict mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RPCServer } from 'ocpp-rpc';
import { createServer } from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway } from './lib/harness.mjs';

// /sim/v1 needs a key: the operator scope changes the simulation, read is enough to look
const sim = (gw, method, path, body) => gw.api(method, `/sim/v1${path}`, body,
  { key: method === 'GET' ? gw.keys.read : gw.keys.operator });

test('a mixed fleet boots, sessions and meter values reach /api/v1, remote commands reach the sim', async () => {
  const gw = await startGateway({ plugins: ['ocpp16', 'ocpp201', 'headless', 'simulator'] });
  try {
    let r = await sim(gw, 'POST', '/fleets', { template: { protocol: 'ocpp1.6', connectors: 2, meter_interval_s: 1,
      csms_url: gw.ws }, count: 2, id_prefix: 'T16-' });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(r.body.stations, ['T16-0001', 'T16-0002']);
    r = await sim(gw, 'POST', '/fleets', { template: { protocol: 'ocpp2.0.1', connectors: 1, meter_interval_s: 1,
      csms_url: gw.ws, current: 'DC', max_power_w: 50000 }, count: 1, id_prefix: 'T201-' });
    assert.equal(r.status, 201, r.text);
    await gw.waitFor(async () => {
      const s = await gw.api('GET', '/api/v1/stations/compact');
      return s.body.filter((x) => x.id.startsWith('T') && x.online).length === 3;
    }, 15000, 'three stations online');
    const st = await gw.api('GET', '/api/v1/stations/T16-0001');
    assert.equal(st.body.vendor, 'PipeletSim');

    // a session by hand on each protocol
    r = await sim(gw, 'POST', '/stations/T16-0001/connectors/1/start', { id_tag: 'TAG-A' });
    assert.equal(r.status, 200, r.text);
    r = await sim(gw, 'POST', '/stations/T201-0001/connectors/1/start', { id_tag: 'TAG-B' });
    assert.equal(r.status, 200, r.text);
    await gw.waitFor(async () => {
      const t = await gw.api('GET', '/api/v1/transactions?active=true');
      return t.body.items.filter((x) => x.station_id.startsWith('T') && x.energy_wh > 0).length === 2;
    }, 15000, 'two active transactions with energy');
    r = await sim(gw, 'POST', '/stations/T16-0001/connectors/1/stop');
    assert.equal(r.status, 200);
    await gw.waitFor(async () => (await gw.sql("select count(*)::int n from transactions where station_id = 'T16-0001' and stopped_at is not null"))[0].n === 1, 10000, 'stopped');
    const mv = await gw.sql("select count(*)::int n from meter_values where station_id = 'T201-0001' and measurand = 'SoC'");
    assert.ok(mv[0].n >= 1, 'DC stations report SoC');

    // remote start from the REST API runs a session in the simulator
    r = await gw.api('POST', '/api/v1/transactions', { station_id: 'T16-0002', connector: 2, id_token: 'REMOTE' });
    assert.equal(r.status, 201, r.text); // the simulated station started it: the answer names it
    assert.ok(Number.isInteger(r.body.transaction_id), r.text);
    await gw.waitFor(async () => (await sim(gw, 'GET', '/stations/T16-0002')).body.connectors[1].charging, 10000, 'sim charging');
    const active = (await gw.api('GET', '/api/v1/transactions?active=true&station=T16-0002')).body.items[0];
    r = await gw.api('POST', `/api/v1/transactions/${active.id}/stop`);
    assert.equal(r.status, 200, r.text);
    await gw.waitFor(async () => !(await sim(gw, 'GET', '/stations/T16-0002')).body.connectors[1].charging, 10000, 'sim stopped');

    // configuration lives in the simulated station's key store
    r = await gw.api('PUT', '/api/v1/stations/T16-0002/configuration/HeartbeatInterval', { value: '77' });
    assert.equal(r.status, 200, r.text);
    assert.equal((await sim(gw, 'GET', '/stations/T16-0002')).body.configuration.HeartbeatInterval, '77');
    r = await gw.api('PUT', '/api/v1/stations/T16-0002/configuration/NumberOfConnectors', { value: '9' });
    assert.equal(r.status, 409, 'a read-only key is refused by the station');

    // firmware update walks Downloading -> Installed and reboots with the new version
    r = await gw.api('POST', '/api/v1/stations/T16-0001/firmware', { location: 'https://fw.example/charger-2.0.0.bin' });
    assert.equal(r.status, 200, r.text);
    await gw.waitFor(async () => (await sim(gw, 'GET', '/stations/T16-0001')).body.firmware === 'charger-2.0.0.bin', 20000, 'new firmware');
    await gw.waitFor(async () => (await gw.api('GET', '/api/v1/stations/T16-0001')).body.firmware === 'charger-2.0.0.bin', 20000, 'boot with new firmware');
    const fw = await gw.sql("select data->>'status' s from station_records where station_id = 'T16-0001' and kind = 'firmware_status' order by id");
    assert.deepEqual(fw.map((x) => x.s), ['Downloading', 'Downloaded', 'Installing', 'Installed']);

    // a connector fault shows up as Faulted
    r = await sim(gw, 'POST', '/stations/T16-0002/faults', { type: 'connector_fault', connector: 1, error_code: 'GroundFailure' });
    assert.equal(r.status, 200, r.text);
    await gw.waitFor(async () => {
      const s = await gw.api('GET', '/api/v1/stations/T16-0002');
      return JSON.stringify(s.body).includes('Faulted');
    }, 10000, 'faulted connector');
    r = await sim(gw, 'POST', '/stations/T16-0002/faults', { type: 'bogus' });
    assert.equal(r.status, 400);
    r = await sim(gw, 'GET', '/stations/NOPE');
    assert.equal(r.status, 404);
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('the SSE stream carries every frame of simulated stations, filterable', async () => {
  const gw = await startGateway({ plugins: ['ocpp16', 'simulator'] });
  try {
    const ac = new AbortController();
    const res = await fetch(`${gw.http}/sim/v1/events?station=SSE-0001`, { signal: ac.signal,
      headers: { 'X-API-Key': gw.keys.read } });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = res.body.getReader();
    await sim(gw, 'POST', '/fleets', { template: { protocol: 'ocpp1.6', csms_url: gw.ws }, count: 1, id_prefix: 'SSE-' });
    let text = '';
    const deadline = Date.now() + 15000;
    while (!(text.includes('"BootNotification"') && text.includes('"dir":"in"')) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    ac.abort();
    assert.match(text, /event: ocpp\ndata: \{.*"station":"SSE-0001".*"action":"BootNotification"/);
    const frames = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
    assert.ok(frames.every((f) => f.station === 'SSE-0001'));
    assert.ok(frames.some((f) => f.dir === 'in' && f.message_type === 3), 'answers from the CSMS are in the stream too');
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('interoperates with a CSMS we did not write (ocpp-rpc strict mode)', async () => {
  const server = new RPCServer({ protocols: ['ocpp1.6', 'ocpp2.0.1'], strictMode: true });
  const seen = [];
  const clients = new Map();
  server.auth((accept) => accept());
  server.on('client', (client) => {
    clients.set(client.identity, client);
    for (const a of ['BootNotification', 'Heartbeat', 'StatusNotification', 'MeterValues', 'StartTransaction',
      'StopTransaction', 'Authorize', 'TransactionEvent', 'FirmwareStatusNotification', 'NotifyReport']) {
      client.handle(a, ({ params }) => {
        seen.push([client.identity, a, params]);
        const now = new Date().toISOString();
        if (a === 'BootNotification') return { status: 'Accepted', currentTime: now, interval: 1 };
        if (a === 'Heartbeat') return { currentTime: now };
        if (a === 'StartTransaction') return { transactionId: 42, idTagInfo: { status: 'Accepted' } };
        if (a === 'Authorize') return { idTagInfo: { status: 'Accepted' } };
        if (a === 'StopTransaction') return {};
        if (a === 'TransactionEvent') return {};
        return {};
      });
    }
  });
  const http = await server.listen(0, '127.0.0.1');
  const url = `ws://127.0.0.1:${http.address().port}/csms`;
  const gw = await startGateway({ plugins: ['simulator'], database: false,
    config: { database: { connect_wait: 0 }, simulator: { allowed_csms_urls: url } } });
  try {
    await sim(gw, 'POST', '/fleets', { template: { protocol: 'ocpp1.6', csms_url: url, meter_interval_s: 1 }, count: 1, id_prefix: 'X16-' });
    await sim(gw, 'POST', '/fleets', { template: { protocol: 'ocpp2.0.1', csms_url: url, meter_interval_s: 1 }, count: 1, id_prefix: 'X201-' });
    await gw.waitFor(() => seen.filter((s) => s[1] === 'Heartbeat').length >= 2, 15000, 'heartbeats at the interval the CSMS set');
    let r = await sim(gw, 'POST', '/stations/X16-0001/connectors/1/start', { id_tag: 'EXT' });
    assert.equal(r.status, 200, r.text);
    await gw.waitFor(() => seen.some((s) => s[1] === 'MeterValues' && s[2].transactionId === 42), 10000, 'meter values with the CSMS transaction id');
    // the foreign CSMS drives the simulated stations
    const c16 = clients.get('X16-0001');
    const conf = await c16.call('GetConfiguration', { key: ['HeartbeatInterval'] });
    assert.equal(conf.configurationKey[0].value, '1');
    assert.equal((await c16.call('RemoteStopTransaction', { transactionId: 42 })).status, 'Accepted');
    await gw.waitFor(() => seen.some((s) => s[1] === 'StopTransaction'), 10000, 'stop after RemoteStop');
    assert.equal((await c16.call('ChangeAvailability', { connectorId: 2, type: 'Inoperative' })).status, 'Accepted');
    const c201 = clients.get('X201-0001');
    const gv = await c201.call('GetVariables', { getVariableData: [{ component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } }] });
    assert.equal(gv.getVariableResult[0].attributeStatus, 'Accepted');
    const rs = await c201.call('RequestStartTransaction', { idToken: { idToken: 'X', type: 'ISO14443' }, remoteStartId: 1, evseId: 1 });
    assert.equal(rs.status, 'Accepted');
    await gw.waitFor(() => seen.some((s) => s[0] === 'X201-0001' && s[1] === 'TransactionEvent' && s[2].eventType === 'Started'), 10000, '2.0.1 session');
    r = await sim(gw, 'GET', '/report');
    assert.equal(r.status, 200);
    assert.ok(r.body.actions.Heartbeat.count >= 2);
  } finally {
    assert.equal(await gw.stop(), 0);
    await server.close({ force: true });
  }
});

test('closed-loop MeterValues on both protocols are durable when answered; report windows reset', async () => {
  const gw = await startGateway({
    plugins: ['ocpp16', 'ocpp201', 'simulator'],
    config: { simulator: { autostart_count: 4, autostart_protocols: 'ocpp1.6,ocpp2.0.1',
      closed_loop: 'yes', closed_loop_action: 'MeterValues', heartbeat_s: 3600 } },
  });
  try {
    await gw.waitFor(async () => ((await sim(gw, 'GET', '/report')).body.actions.MeterValues?.count || 0) >= 40,
      20000, 'closed-loop meter values');
    const resetAt = Date.now();
    const window = (await sim(gw, 'POST', '/report/reset')).body;
    assert.equal(window.errors, 0);
    assert.equal(window.booted, 4);
    // every answered MeterValues was committed first: each carries two sampled values
    const rows = (await gw.sql("select count(*)::int n from meter_values where station_id like 'SIM%'"))[0].n;
    assert.ok(rows >= 2 * window.actions.MeterValues.count, `${rows} rows for ${window.actions.MeterValues.count} answers`);
    const evse = await gw.sql("select count(distinct station_id)::int n from meter_values where station_id like 'SIM%' and evse = 1");
    assert.equal(evse[0].n, 4, 'both protocols store on EVSE 1');
    // a new window counts from the reset on
    const next = (await sim(gw, 'GET', '/report')).body;
    // (not "shorter than the closed window": a fast boot makes that window shorter than
    // the two psql runs above)
    assert.ok(next.seconds <= (Date.now() - resetAt) / 1000 + 0.05, `${next.seconds} s since the reset`);
    assert.ok(!next.actions.BootNotification || next.actions.BootNotification.count === 0, 'boots were in the old window');
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

// A private CA and a server certificate for 127.0.0.1, made with the openssl CLI.
function privateCA() {
  const dir = mkdtempSync(join(tmpdir(), 'pipelet-ca-'));
  const ssl = (...a) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=pipelet test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.pem', '-days', '1', '-extfile', 'san.ext');
  return { dir, ca: join(dir, 'ca.pem'), key: readFileSync(join(dir, 'srv.key')), cert: readFileSync(join(dir, 'srv.pem')) };
}

test('wss:// to a CSMS we did not write, verified against a private CA; unverifiable ones are refused', async () => {
  const pki = privateCA();
  const rpc = new RPCServer({ protocols: ['ocpp1.6'], strictMode: true });
  const seen = [];
  rpc.auth((accept) => accept());
  rpc.on('client', (client) => {
    client.handle('BootNotification', () => { seen.push([client.identity, 'BootNotification']); return { status: 'Accepted', currentTime: new Date().toISOString(), interval: 1 }; });
    client.handle('Heartbeat', () => { seen.push([client.identity, 'Heartbeat']); return { currentTime: new Date().toISOString() }; });
    client.handle('StatusNotification', () => ({}));
  });
  const https = createServer({ key: pki.key, cert: pki.cert });
  https.on('upgrade', rpc.handleUpgrade);
  await new Promise((r) => https.listen(0, '127.0.0.1', r));
  const url = `wss://127.0.0.1:${https.address().port}/csms`;
  const gw = await startGateway({ plugins: ['simulator'], database: false,
    config: { database: { connect_wait: 0 }, simulator: { allowed_csms_urls: url, allowed_ca_files: pki.ca } } });
  try {
    let r = await sim(gw, 'POST', '/fleets', { template: { protocol: 'ocpp1.6', csms_url: url, csms_ca_file: pki.ca }, count: 2, id_prefix: 'TLS-' });
    assert.equal(r.status, 201, r.text);
    r = await sim(gw, 'POST', '/fleets', { template: { protocol: 'ocpp1.6', csms_url: url }, count: 1, id_prefix: 'NOCA-' });
    assert.equal(r.status, 201, r.text);
    await gw.waitFor(() => seen.filter((s) => s[0].startsWith('TLS-') && s[1] === 'Heartbeat').length >= 2, 15000, 'heartbeats over TLS');
    assert.ok(seen.some((s) => s[0] === 'TLS-0001' && s[1] === 'BootNotification'));
    // the station without the CA cannot verify the CSMS: it never gets in, and keeps trying
    await gw.waitFor(async () => (await sim(gw, 'GET', '/report')).body.reconnects >= 1, 15000, 'a refused TLS connect');
    assert.ok(!seen.some((s) => s[0].startsWith('NOCA-')), 'no message over an unverified connection');
    assert.notEqual((await sim(gw, 'GET', '/stations/NOCA-0001')).body.state, 'accepted');
    // a CA file the operator did not list is a clear 400
    r = await sim(gw, 'POST', '/fleets', { template: { protocol: 'ocpp1.6', csms_url: url, csms_ca_file: '/nonexistent/ca.pem' }, count: 1 });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'CA_FILE_NOT_ALLOWED');
    assert.match(r.body.error, /csms_ca_file/);
  } finally {
    assert.equal(await gw.stop(), 0);
    await rpc.close({ force: true });
    https.close();
    rmSync(pki.dir, { recursive: true, force: true }); // the CA's private key
  }
});
