// simulator-security.test.mjs — what /sim/v1 lets a client do: keys and scopes on every
// route, no simulated station in the name of a real one, CSMS URLs and CA files only from
// the operator's allow lists, and no credentials in the SSE stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RPCClient, RPCServer } from 'ocpp-rpc';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, srcDir } from './lib/harness.mjs';

const noDb = { database: false };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const simApi = (gw, method, path, body, key) => gw.api(method, `/sim/v1${path}`, body, { key });

// Read an SSE response in the background; text() is what arrived so far.
function collect(res) {
  let text = '';
  const reader = res.body.getReader();
  (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ done: true }));
      if (done) return;
      text += new TextDecoder().decode(value);
    }
  })();
  return { text: () => text, frames: () => text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6))) };
}

test('every /sim/v1 route needs a key by default: read to look, operator to act', async () => {
  const gw = await startGateway({ plugins: ['simulator'], ...noDb, config: { database: { connect_wait: 0 } } });
  try {
    const { admin, operator, read } = gw.keys;
    const body = { template: { protocol: 'ocpp1.6' }, count: 1, id_prefix: 'K-', connect: false };
    let r = await simApi(gw, 'POST', '/fleets', body, '');
    assert.equal(r.status, 401, 'no key, no fleet');
    r = await simApi(gw, 'POST', '/fleets', body, read);
    assert.equal(r.status, 403, 'a read key cannot create stations');
    r = await simApi(gw, 'POST', '/fleets', body, operator);
    assert.equal(r.status, 201, r.text);
    for (const [method, path] of [['GET', '/fleets'], ['GET', '/stations'], ['GET', '/stations/K-0001'], ['GET', '/report']]) {
      assert.equal((await simApi(gw, method, path, undefined, '')).status, 401, `${method} ${path} without a key`);
      assert.equal((await simApi(gw, method, path, undefined, read)).status, 200, `${method} ${path} with a read key`);
    }
    for (const [method, path, b] of [['POST', '/report/reset'], ['POST', '/stations/K-0001/faults', { type: 'clock_skew', seconds: 5 }],
      ['POST', '/fleets/fleet-1/faults', { type: 'drop_responses' }], ['POST', '/stations/K-0001/connectors/1/plug'],
      ['DELETE', '/stations/K-0001/faults'], ['POST', '/stations/K-0001/disconnect'], ['DELETE', '/fleets/fleet-1']]) {
      assert.equal((await simApi(gw, method, path, b, '')).status, 401, `${method} ${path} without a key`);
      assert.equal((await simApi(gw, method, path, b, read)).status, 403, `${method} ${path} with a read key`);
      const ok = (await simApi(gw, method, path, b, operator)).status;
      assert.ok(ok === 200 || ok === 202, `${method} ${path} with an operator key: ${ok}`);
    }
    // the SSE stream too: frames can carry whatever a CSMS sends
    let res = await fetch(`${gw.http}/sim/v1/events`);
    assert.equal(res.status, 401);
    await res.text();
    const ac = new AbortController();
    res = await fetch(`${gw.http}/sim/v1/events`, { headers: { 'X-API-Key': read }, signal: ac.signal });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    ac.abort();
    assert.equal((await simApi(gw, 'GET', '/fleets', undefined, admin)).status, 200);
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('the shipped configuration keeps the key requirement', () => {
  const conf = readFileSync(join(srcDir, 'etc/pipelet.conf'), 'utf8');
  const section = conf.split(/^\[/m).find((s) => s.startsWith('simulator]'));
  assert.ok(section, 'etc/pipelet.conf has a [simulator] section');
  const set = section.split('\n').map((l) => l.trim()).filter((l) => /^api_key_required\s*=/.test(l));
  for (const line of set) assert.match(line, /=\s*(yes|true|on|1)\s*$/i, `etc/pipelet.conf: ${line}`);
});

test('api_key_required = no opens /sim/v1 with a warning; unknown yes/no values refuse the plugin', async () => {
  const gw = await startGateway({ plugins: ['simulator'], ...noDb,
    config: { database: { connect_wait: 0 }, simulator: { api_key_required: 'no' } } });
  try {
    assert.equal((await simApi(gw, 'GET', '/fleets', undefined, '')).status, 200);
    assert.match(gw.logs(), /level=warn.*api_key_required = no/);
  } finally {
    assert.equal(await gw.stop(), 0);
  }
  for (const [key, value] of [['api_key_required', 'sometimes'], ['autostart_sessions', 'maybe'], ['closed_loop', 'perhaps']]) {
    await assert.rejects(startGateway({ plugins: ['simulator'], ...noDb,
      config: { database: { connect_wait: 0 }, simulator: { [key]: value } } }),
    (e) => e.message.includes(`${key}: '${value}' is not a boolean`) && /plugin simulator .* failed to initialise/.test(e.message),
    `${key} = ${value}`);
  }
  for (const [key, value] of [['allowed_csms_urls', 'http://csms.example/ocpp'], ['allowed_ca_files', 'relative/ca.pem']]) {
    await assert.rejects(startGateway({ plugins: ['simulator'], ...noDb,
      config: { database: { connect_wait: 0 }, simulator: { [key]: value } } }),
    (e) => e.message.includes(`[simulator] ${key}: '${value}' is not valid`), `${key} = ${value}`);
  }
});

test('with PIPELET_API_KEY (the quick start) /sim/v1 works with that key and the autostarted fleet needs none', async () => {
  const envKey = 'quick-start-key-' + Date.now();
  const gw = await startGateway({ plugins: ['ocpp16', 'simulator'], env: { PIPELET_API_KEY: envKey },
    config: { simulator: { autostart_count: 2, autostart_sessions: 'yes' } } });
  try {
    await gw.waitFor(async () => (await simApi(gw, 'GET', '/report', undefined, envKey)).body.booted === 2,
      15000, 'the autostarted fleet booted against this gateway');
    const r = await simApi(gw, 'POST', '/fleets', { template: { protocol: 'ocpp1.6' }, count: 1, id_prefix: 'QS-' }, envKey);
    assert.equal(r.status, 201, r.text);
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('a simulated station cannot take the id of a station connected for real, nor an invalid id', async () => {
  const gw = await startGateway({ plugins: ['ocpp16', 'simulator'] });
  const real = new RPCClient({ endpoint: gw.ws, identity: 'VICTIM0001', protocols: ['ocpp1.6'], strictMode: true, reconnect: false });
  let closed = false;
  try {
    await real.connect();
    real.on('close', () => { closed = true; });
    await real.call('BootNotification', { chargePointVendor: 'Real', chargePointModel: 'Charger' });
    const op = gw.keys.operator;
    let r = await simApi(gw, 'POST', '/fleets', { id_prefix: 'VICTIM', count: 3 }, op);
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.code, 'STATION_ID_IN_USE');
    assert.match(r.body.error, /VICTIM0001/);
    assert.deepEqual(r.body.stations, ['VICTIM0001']);
    const ours = (await simApi(gw, 'GET', '/stations', undefined, gw.keys.read)).body;
    assert.ok(!JSON.stringify(ours).includes('VICTIM'), 'all or nothing: no station of the refused fleet exists');

    // a fleet made while the id was free does not take it over once a real station has it
    r = await simApi(gw, 'POST', '/fleets', { id_prefix: 'LATE', count: 1, connect: false }, op);
    assert.equal(r.status, 201, r.text);
    const late = new RPCClient({ endpoint: gw.ws, identity: 'LATE0001', protocols: ['ocpp1.6'], strictMode: true, reconnect: false });
    let lateClosed = false;
    await late.connect();
    late.on('close', () => { lateClosed = true; });
    await late.call('BootNotification', { chargePointVendor: 'Real', chargePointModel: 'Charger' });
    r = await simApi(gw, 'POST', '/stations/LATE0001/connect', undefined, op);
    assert.equal(r.status, 202, r.text);
    await gw.waitFor(() => /sim LATE0001: a station with this id is connected/.test(gw.logs()), 5000, 'the refusal logged');
    await sleep(1500);
    assert.equal(lateClosed, false, 'the real LATE0001 keeps its connection');
    await late.call('Heartbeat', {});
    await late.close({ force: true });

    for (const prefix of ['bad id ', 'x/../', 'A'.repeat(45), 'ünï', 'semi;colon']) {
      r = await simApi(gw, 'POST', '/fleets', { id_prefix: prefix, count: 1, connect: false }, op);
      assert.equal(r.status, 400, `id_prefix ${JSON.stringify(prefix)}: ${r.text}`);
      assert.equal(r.body.code, 'INVALID_STATION_ID');
    }
    r = await simApi(gw, 'POST', '/fleets', { id_prefix: 'A'.repeat(44), count: 1, connect: false }, op);
    assert.equal(r.status, 201, '48 characters is the longest id');
    r = await simApi(gw, 'POST', '/fleets', { id_prefix: 'ok.id_-:', count: 1, connect: false }, op);
    assert.equal(r.status, 201, r.text);

    await real.call('Heartbeat', {});
    assert.equal(closed, false, 'the real VICTIM0001 was never replaced');
  } finally {
    await real.close({ force: true }).catch(() => {});
    assert.equal(await gw.stop(), 0);
  }
});

test('csms_url: this gateway, or a prefix in allowed_csms_urls; csms_ca_file: only allowed_ca_files, no existence oracle', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pipelet-simsec-'));
  const ca = join(dir, 'ca.pem');
  writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
  const missing = join(dir, 'listed-but-missing.pem');
  const gw = await startGateway({ plugins: ['simulator'], ...noDb, config: { database: { connect_wait: 0 },
    simulator: { allowed_csms_urls: 'ws://127.0.0.1:65001/csms wss://csms.example.com/ocpp', allowed_ca_files: `${ca} ${missing}` } } });
  try {
    const create = (tpl) => simApi(gw, 'POST', '/fleets', { template: { protocol: 'ocpp1.6', ...tpl }, count: 1, connect: false }, gw.keys.operator);
    for (const url of [gw.ws, `${gw.ws}/`, 'ws://127.0.0.1:65001/csms', 'ws://127.0.0.1:65001/csms/tenant', 'wss://csms.example.com/ocpp']) {
      const r = await create({ csms_url: url });
      assert.equal(r.status, 201, `${url}: ${r.text}`);
    }
    for (const url of ['ws://evil.example/ocpp', 'ws://127.0.0.1:65001/csmsX', 'ws://127.0.0.1:650011/csms',
      'ws://127.0.0.1:65001/csms/../admin', 'wss://csms.example.com.evil.net/ocpp', 'wss://csms.example.com@evil.net/ocpp',
      'wss://csms.example.com:8443/ocpp', `${gw.ws}X`, 'ws://127.0.0.1:65001/csms?x=/']) {
      const r = await create({ csms_url: url });
      assert.equal(r.status, 400, `${url}: ${r.text}`);
      assert.equal(r.body.code, 'CSMS_URL_NOT_ALLOWED', url);
    }
    // a CA file: the same answer for a file that exists and one that does not
    const ext = { csms_url: 'wss://csms.example.com/ocpp' };
    const a = await create({ ...ext, csms_ca_file: '/etc/passwd' });
    const b = await create({ ...ext, csms_ca_file: '/nonexistent/ca.pem' });
    assert.equal(a.status, 400);
    assert.equal(a.body.code, 'CA_FILE_NOT_ALLOWED');
    assert.deepEqual(b.body, a.body);
    assert.ok(!a.text.includes('passwd'));
    assert.equal((await create({ ...ext, csms_ca_file: `${ca}/../ca.pem` })).body.code, 'CA_FILE_NOT_ALLOWED');
    let r = await create({ ...ext, csms_ca_file: ca });
    assert.equal(r.status, 201, r.text);
    r = await create({ ...ext, csms_ca_file: missing });
    assert.equal(r.status, 400, 'a listed file that is not there is still refused');
    assert.equal(r.body.code, 'INVALID_PARAMETER');
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('/sim/v1/events masks credentials a CSMS sends; the station password is never shown or logged', async () => {
  // not strict on 2.0.1: basicAuthPassword in a NetworkConnectionProfile is OCPP 2.1, which
  // a CSMS may send all the same; the station refuses it, but the frame is in the stream
  const server = new RPCServer({ protocols: ['ocpp1.6', 'ocpp2.0.1'], strictMode: ['ocpp1.6'] });
  const clients = new Map();
  const passwords = new Map();
  server.auth((accept, reject, hs) => { passwords.set(hs.identity, hs.password?.toString()); accept(); });
  server.on('client', (client) => {
    clients.set(client.identity, client);
    const now = () => new Date().toISOString();
    client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: now(), interval: 300 }));
    client.handle('Heartbeat', () => ({ currentTime: now() }));
    client.handle('StatusNotification', () => ({}));
  });
  const http = await server.listen(0, '127.0.0.1');
  const url = `ws://127.0.0.1:${http.address().port}/csms`;
  const gw = await startGateway({ plugins: ['simulator'], ...noDb,
    config: { database: { connect_wait: 0 }, simulator: { allowed_csms_urls: url } } });
  const ac = new AbortController();
  try {
    const res = await fetch(`${gw.http}/sim/v1/events?dir=in`, { headers: { 'X-API-Key': gw.keys.read }, signal: ac.signal });
    const sse = collect(res);
    const op = gw.keys.operator;
    const stationPw = 'SECRET-station-password-1';
    let r = await simApi(gw, 'POST', '/fleets', { template: { protocol: 'ocpp1.6', csms_url: url, password: stationPw }, count: 1, id_prefix: 'RED16-' }, op);
    assert.equal(r.status, 201, r.text);
    r = await simApi(gw, 'POST', '/fleets', { template: { protocol: 'ocpp2.0.1', csms_url: url }, count: 1, id_prefix: 'RED201-' }, op);
    assert.equal(r.status, 201, r.text);
    await gw.waitFor(() => clients.has('RED16-0001') && clients.has('RED201-0001'), 15000, 'both stations at the CSMS');
    assert.equal(passwords.get('RED16-0001'), stationPw, 'the station did authenticate with its password');

    const c16 = clients.get('RED16-0001');
    await c16.call('ChangeConfiguration', { key: 'AuthorizationKey', value: 'SECRET-authorization-key' });
    await c16.call('ChangeConfiguration', { key: 'basicauthpassword', value: 'SECRET-basic-auth' });
    await c16.call('ChangeConfiguration', { key: 'HeartbeatInterval', value: '30' });
    const c201 = clients.get('RED201-0001');
    await c201.call('SetVariables', { setVariableData: [
      { component: { name: 'SecurityCtrlr' }, variable: { name: 'BasicAuthPassword' }, attributeValue: 'SECRET-201-password' },
      { component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' }, attributeValue: '45' }] });
    await c201.call('SetNetworkProfile', { configurationSlot: 1, connectionData: { ocppVersion: 'OCPP20', ocppTransport: 'JSON',
      ocppCsmsUrl: 'wss://csms.example.com/ocpp', messageTimeout: 30, securityProfile: 1, ocppInterface: 'Wired0',
      basicAuthPassword: 'SECRET-network-profile' } }).catch(() => {});
    await gw.waitFor(() => sse.text().includes('"SetNetworkProfile"') && sse.text().includes('"HeartbeatInterval"'), 10000, 'the frames in the stream');

    assert.ok(!sse.text().includes('SECRET'), `no credential in the stream:\n${sse.text()}`);
    const calls = sse.frames().filter((f) => f.message_type === 2);
    const payload = (action, pred = () => true) => calls.filter((f) => f.action === action).map((f) => f.frame[3]).find(pred);
    assert.equal(payload('ChangeConfiguration', (p) => p.key === 'AuthorizationKey').value, '***');
    assert.equal(payload('ChangeConfiguration', (p) => p.key === 'basicauthpassword').value, '***');
    assert.equal(payload('ChangeConfiguration', (p) => p.key === 'HeartbeatInterval').value, '30', 'other keys pass unchanged');
    const sv = payload('SetVariables').setVariableData;
    assert.equal(sv[0].attributeValue, '***');
    assert.equal(sv[1].attributeValue, '45');
    assert.equal(payload('SetNetworkProfile').connectionData.basicAuthPassword, '***');
    assert.equal(payload('SetNetworkProfile').connectionData.ocppCsmsUrl, 'wss://csms.example.com/ocpp');

    const st = await simApi(gw, 'GET', '/stations/RED16-0001', undefined, gw.keys.read);
    assert.ok(!st.text.includes(stationPw), 'the station view does not show its password');
    assert.ok(!gw.logs().includes(stationPw) && !gw.logs().includes('SECRET-'), 'nothing secret in the log');
  } finally {
    ac.abort();
    assert.equal(await gw.stop(), 0);
    await server.close({ force: true });
  }
});
