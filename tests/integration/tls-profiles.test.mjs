// tls-profiles.test.mjs — OCPP security profiles 2 and 3 on the wss:// listener ([ocpp]
// tls_port, tls_certificate, tls_private_key, tls_client_ca), with a PKI the openssl tool
// makes here: a server certificate for 127.0.0.1, a station CA with certificates for
// stations (one already expired), and a rogue CA.  Profile 2: TLS and the right password;
// profile 3: a certificate of the station CA, within its validity, whose CN is the
// station id.  Below its profile a station is refused at the handshake (logged and
// counted); a rotation retires the old certificate.  Independent clients: `ws` and
// strict-mode `ocpp-rpc` for both OCPP versions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { RPCClient } from 'ocpp-rpc';
import { startGateway } from './lib/harness.mjs';
import { makePki } from './lib/pki.mjs';

let pki, gw, tlsPort;
const PASSWORD = 'correct-horse-battery-1';

before(async () => {
  pki = makePki(mkdtempSync(join(tmpdir(), 'pipelet-pki-')));
  pki.station('p3', 'CP-P3');
  pki.station('p3-new', 'CP-P3');
  pki.station('other', 'CP-OTHER');
  pki.station('expired', 'CP-P3', 'station-ca', ['20200101000000Z', '20200201000000Z']);
  pki.station('rogue-p3', 'CP-P3', 'rogue');
  pki.station('rpc16', 'RPC-16');
  pki.station('rpc201', 'RPC-201');
  gw = await startGateway({
    plugins: ['ocpp16', 'ocpp201', 'headless'],
    config: {
      ocpp: {
        tls_port: 0, tls_certificate: pki.path('server.pem'), tls_private_key: pki.path('server.key'),
        tls_client_ca: pki.path('station-ca.pem'),
      },
      // the station certificates here are valid for 10 days: inside a 30-day warning
      certificates: { expiry_warning_days: 30, expiry_check_interval: 1 },
    },
  });
  tlsPort = Number(gw.logs().match(/listening on wss:\/\/[^:]+:(\d+)/)[1]);
  for (const [id, profile] of [['CP-P2', 2], ['CP-P3', 3], ['RPC-16', 3], ['RPC-201', 3], ['CP-P1', 1]]) {
    if (profile < 3)
      assert.equal((await gw.api('PUT', `/ocpp/v1/stations/${id}/password`, { password: PASSWORD })).status, 204);
    const r = await gw.api('PUT', `/ocpp/v1/stations/${id}/security-profile`, { security_profile: profile });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.security_profile, profile);
  }
});

after(async () => {
  if (gw) assert.equal(await gw.stop(), 0, "clean exit (ASan)");
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

/** Connect with ws; resolves {status: 101, ws} when open, {status} when refused with
 * HTTP, or {error} when TLS itself failed. */
function connect(id, { tls = true, password, cert, key, protocol = 'ocpp1.6' } = {}) {
  const url = tls ? `wss://127.0.0.1:${tlsPort}/ocpp/${id}` : `${gw.ws}/${id}`;
  const headers = password ? { Authorization: 'Basic ' + Buffer.from(`${id}:${password}`).toString('base64') } : {};
  return new Promise((resolve) => {
    const ws = new WebSocket(url, [protocol], {
      headers, ca: pki.file('server-ca.pem'), cert: cert && pki.file(`${cert}.pem`), key: cert && pki.file(`${key || cert}.key`),
    });
    ws.on('open', () => resolve({ status: 101, ws }));
    ws.on('unexpected-response', (req, res) => { resolve({ status: res.statusCode }); req.destroy(); });
    ws.on('error', (e) => resolve({ error: e.message }));
  });
}

async function expectOpen(id, opts, why) {
  const r = await connect(id, opts);
  assert.equal(r.status, 101, `${why}: ${JSON.stringify(r)}`);
  r.ws.close();
  await new Promise((res) => r.ws.once('close', res));
}

// The daemon's log comes through a pipe: a line may land after the HTTP answer it explains.
const logged = (re) => gw.waitFor(() => re.test(gw.logs()), 5000, `log ${re}`);

async function refusedCount(reason) {
  const text = (await gw.api('GET', '/metrics')).text;
  const m = text.match(new RegExp(`pipelet_ocpp_handshake_refused_total\\{reason="${reason}"\\} (\\d+)`));
  return m ? Number(m[1]) : 0;
}

test('profile 2: TLS and the right password; a wrong one is 401, ws:// is a refused downgrade', async () => {
  await expectOpen('CP-P2', { password: PASSWORD }, 'right password over TLS');
  assert.equal((await connect('CP-P2', { password: 'wrong-password-0000' })).status, 401);
  assert.equal((await connect('CP-P2', {})).status, 401, 'no password at all');
  const before = await refusedCount('downgrade');
  assert.equal((await connect('CP-P2', { tls: false, password: PASSWORD })).status, 403, 'ws:// is below profile 2');
  assert.equal(await refusedCount('downgrade'), before + 1, 'counted');
  await logged(/refusing station CP-P2 from 127\.0\.0\.1:\d+: security profile 2 needs TLS \(wss:\/\/\) \(HTTP 403\)/);
  // a profile-1 station may connect over TLS too (nothing is below its profile)
  await expectOpen('CP-P1', { password: PASSWORD }, 'profile 1 over TLS');
  await expectOpen('CP-P1', { tls: false, password: PASSWORD }, 'profile 1 over ws://');
});

test('profile 3: a valid certificate naming the station is its identity, no password', async () => {
  const r = await connect('CP-P3', { cert: 'p3' });
  assert.equal(r.status, 101);
  const st = await gw.waitFor(async () => (await gw.api('GET', '/api/v1/stations/CP-P3')).body?.online, 5000, 'online');
  assert.ok(st);
  const certs = await gw.api('GET', '/ocpp/v1/stations/CP-P3/certificates');
  assert.equal(certs.status, 200);
  assert.equal(certs.body.security_profile, 3);
  assert.equal(certs.body.items.length, 1);
  assert.equal(certs.body.items[0].subject_cn, 'CP-P3');
  assert.match(certs.body.items[0].fingerprint_sha256, /^[0-9a-f]{64}$/);
  assert.equal(certs.body.items[0].retired_at, null);
  const station = (await gw.api('GET', '/api/v1/stations/CP-P3')).body;
  assert.equal(station.connection?.security_profile ?? station.security_profile, 3, JSON.stringify(station));
  r.ws.close();
});

test('profile 3 refusals: another station, expired, another CA, no certificate, ws://', async () => {
  const cases = [
    [{ cert: 'other' }, 'certificate_other_station', /names another station/],
    [{ cert: 'expired' }, 'certificate_invalid', /certificate has expired/],
    [{ cert: 'rogue-p3' }, 'certificate_invalid', /client certificate not accepted/],
    [{}, 'no_certificate', /needs a client certificate/],
    [{ password: PASSWORD }, 'no_certificate', /needs a client certificate/],
    [{ tls: false, cert: 'p3' }, 'downgrade', /security profile 3 needs TLS/],
  ];
  for (const [opts, reason, log] of cases) {
    const before = await refusedCount(reason);
    const r = await connect('CP-P3', opts);
    assert.equal(r.status, 403, `${JSON.stringify(opts)}: ${JSON.stringify(r)}`);
    assert.equal(await refusedCount(reason), before + 1, `${reason} counted`);
    await logged(log);
  }
  // the refusals reached no station record
  const certs = await gw.api('GET', '/ocpp/v1/stations/CP-P3/certificates');
  assert.ok(certs.body.items.every((c) => c.subject_cn === 'CP-P3'));
});

test('rotation: the new certificate is accepted, the old one refused once retired', async () => {
  await expectOpen('CP-P3', { cert: 'p3' }, 'old certificate');
  await expectOpen('CP-P3', { cert: 'p3-new' }, 'new certificate');
  const list = (await gw.api('GET', '/ocpp/v1/stations/CP-P3/certificates')).body.items;
  assert.equal(list.length, 2);
  const newest = list[0].fingerprint_sha256;
  await expectOpen('CP-P3', { cert: 'p3' }, 'both still accepted before the operator says so');
  assert.equal((await gw.api('POST', '/ocpp/v1/stations/CP-P3/certificates/retire', { keep: 'ab'.repeat(32) })).status, 404);
  const r = await gw.api('POST', '/ocpp/v1/stations/CP-P3/certificates/retire', { keep: newest });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.kept, newest);
  assert.equal(r.body.retired.length, 1);
  await gw.waitFor(async () => (await connect('CP-P3', { cert: 'p3' })).status === 403, 5000, 'old certificate refused');
  await logged(/the client certificate was retired/);
  await expectOpen('CP-P3', { cert: 'p3-new' }, 'the kept one still works');
  const after = (await gw.api('GET', '/ocpp/v1/stations/CP-P3/certificates')).body.items;
  assert.ok(after.find((c) => c.fingerprint_sha256 !== newest).retired_at);
  assert.equal((await gw.api('POST', '/ocpp/v1/stations/NOBODY/certificates/retire', {})).status, 409);
});

test('a TLS handshake the listener cannot accept is counted, the daemon keeps serving', async () => {
  const before = (await gw.api('GET', '/api/v1/health')).body.websocket.tls_handshake_failures;
  const r = await new Promise((resolve) => {
    const ws = new WebSocket(`wss://127.0.0.1:${tlsPort}/ocpp/CP-P2`, ['ocpp1.6'], {
      ca: pki.file('server-ca.pem'), maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA',
    });
    ws.on('open', () => resolve('open'));
    ws.on('error', (e) => resolve(e.message));
  });
  assert.notEqual(r, 'open');
  await gw.waitFor(async () => (await gw.api('GET', '/api/v1/health')).body.websocket.tls_handshake_failures > before,
    5000, 'counted');
  await expectOpen('CP-P2', { password: PASSWORD }, 'still serving');
  // a station whose network drops (no close_notify, no close frame) is not a failed handshake
  const after = (await gw.api('GET', '/api/v1/health')).body.websocket.tls_handshake_failures;
  const open = await connect('CP-P2', { password: PASSWORD });
  assert.equal(open.status, 101);
  open.ws._socket.destroy();
  await gw.waitFor(async () => !(await gw.api('GET', '/api/v1/stations/CP-P2')).body?.online, 5000, 'dropped');
  assert.equal((await gw.api('GET', '/api/v1/health')).body.websocket.tls_handshake_failures, after);
});

test('strict-mode ocpp-rpc clients over mutual TLS, OCPP 1.6 and 2.0.1', async () => {
  for (const [id, protocol, boot] of [
    ['RPC-16', 'ocpp1.6', { method: 'BootNotification', params: { chargePointVendor: 'V', chargePointModel: 'M' } }],
    ['RPC-201', 'ocpp2.0.1', { method: 'BootNotification', params: { reason: 'PowerUp', chargingStation: { model: 'M', vendorName: 'V' } } }],
  ]) {
    const cert = id === 'RPC-16' ? 'rpc16' : 'rpc201';
    const c = new RPCClient({
      endpoint: `wss://127.0.0.1:${tlsPort}/ocpp`, identity: id, protocols: [protocol], strictMode: true, reconnect: false,
      wsOpts: { ca: pki.file('server-ca.pem'), cert: pki.file(`${cert}.pem`), key: pki.file(`${cert}.key`) },
    });
    await c.connect();
    const res = await c.call(boot.method, boot.params);
    assert.equal(res.status, 'Accepted', `${protocol}: ${JSON.stringify(res)}`);
    await c.call('Heartbeat', {});
    await c.close();
  }
  // and without the certificate the same client is refused
  const c = new RPCClient({
    endpoint: `wss://127.0.0.1:${tlsPort}/ocpp`, identity: 'RPC-16', protocols: ['ocpp1.6'], strictMode: true,
    reconnect: false, wsOpts: { ca: pki.file('server-ca.pem') },
  });
  await assert.rejects(c.connect(), /403|Forbidden/);
});

test('a certificate close to its end is reported: certificate.expiring, logged, a gauge', async () => {
  await expectOpen('CP-P3', { cert: 'p3-new' }, 'the current certificate');
  await gw.waitFor(async () => /pipelet_station_certificates_expiring (\d+)/.exec((await gw.api('GET', '/metrics')).text)?.[1] >= 1,
    8000, 'the gauge');
  await logged(/station=CP-P3 client certificate expires at \d{4}-\d\d-\d\dT/);
  // once per certificate and threshold, not at every check
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(gw.logs().match(/station=CP-P3 client certificate expires at/g).length, 1);
});
