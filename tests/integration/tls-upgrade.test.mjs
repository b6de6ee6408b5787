// tls-upgrade.test.mjs — a station moved from security profile 1 to 2 to 3 through the
// API, with the simulator as the station, for both OCPP versions: 1.6 ChangeConfiguration
// SecurityProfile, 2.0.1 SetNetworkProfile + NetworkConfigurationPriority + Reset.  Between
// 2 and 3 the station gets its certificate the protocol's way (TriggerMessage
// SignChargePointCertificate, SignCertificate, CertificateSigned from the gateway's CA),
// and a second SignCertificate rotates it.  The wss:// listener's client CA is the
// gateway's own [certificates] CA, as in a real deployment.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startGateway } from './lib/harness.mjs';
import { makePki } from './lib/pki.mjs';

let pki, gw;
const PASSWORD = 'upgrade-password-0001';

before(async () => {
  pki = makePki(mkdtempSync(join(tmpdir(), 'pipelet-pki-')));
  gw = await startGateway({
    plugins: ['ocpp16', 'ocpp201', 'headless', 'simulator'],
    required: ['ocpp16', 'ocpp201', 'headless'],
    config: {
      ocpp: {
        tls_port: 0, tls_certificate: pki.path('server.pem'), tls_private_key: pki.path('server.key'),
        tls_client_ca: pki.path('station-ca.pem'), call_timeout: 5000,
      },
      certificates: { ca_cert: pki.path('station-ca.pem'), ca_key: pki.path('station-ca.key') },
      simulator: { api_key_required: 'no', allowed_ca_files: pki.path('server-ca.pem') },
    },
  });
});

after(async () => {
  if (gw) assert.equal(await gw.stop(), 0, 'clean exit (ASan)');
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

const connection = async (id) => (await gw.api('GET', `/api/v1/stations/${id}`)).body?.connection || {};
const simStation = async (id) => (await gw.api('GET', `/sim/v1/stations/${id}`)).body;

// A reconnect may follow a refused first attempt (the password set just before reaches the
// handshake's cache within a moment) and the simulator's back-off (1 s doubling, with
// jitter): 30 s holds even on a loaded machine.
async function waitProfile(id, profile, what) {
  await gw.waitFor(async () => {
    const c = await connection(id);
    return (await gw.api('GET', `/api/v1/stations/${id}`)).body?.online && c.security_profile === profile &&
      c.tls === (profile >= 2);
  }, 30000, `${id} reconnected on profile ${profile} (${what})`);
}

async function upgrade(protocol, prefix) {
  const id = `${prefix}0001`;
  assert.equal((await gw.api('PUT', `/ocpp/v1/stations/${id}/password`, { password: PASSWORD })).status, 204);
  const fleet = await gw.api('POST', '/sim/v1/fleets', {
    id_prefix: prefix, template: { protocol, password: PASSWORD, csms_ca_file: pki.path('server-ca.pem') },
  });
  assert.equal(fleet.status, 201, fleet.text);
  await waitProfile(id, 1, 'start');

  // 1 -> 2: the password over TLS
  let r = await gw.api('POST', `/api/v1/stations/${id}/security-profile`, { security_profile: 2 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.from, 1);
  assert.equal(r.body.to, 2);
  assert.equal(r.body.status, 'Accepted');
  assert.deepEqual(r.body.steps.map((s) => s.action),
    protocol === 'ocpp1.6' ? ['ChangeConfiguration'] : ['SetNetworkProfile', 'SetVariables', 'Reset']);
  await waitProfile(id, 2, 'after 1 -> 2');
  // held to it: the same password over ws:// is a refused downgrade now
  const plain = await new Promise((resolve) => {
    const ws = new WebSocket(`${gw.ws}/${id}`, [protocol], {
      headers: { Authorization: 'Basic ' + Buffer.from(`${id}:${PASSWORD}`).toString('base64') },
    });
    ws.on('open', () => { ws.close(); resolve(101); });
    ws.on('unexpected-response', (req, res) => { resolve(res.statusCode); req.destroy(); });
    ws.on('error', () => resolve(0));
  });
  assert.equal(plain, 403);

  // profile 3 needs a certificate on the station first
  r = await gw.api('POST', `/api/v1/stations/${id}/trigger`, { message: 'SignChargePointCertificate' });
  assert.equal(r.status, 200, r.text);
  await gw.waitFor(async () => (await simStation(id))?.security?.client_certificate === true, 10000,
    'the station installed the signed certificate');

  // 2 -> 3: the certificate is its identity
  r = await gw.api('POST', `/api/v1/stations/${id}/security-profile`, { security_profile: 3 });
  assert.equal(r.status, 200, r.text);
  await waitProfile(id, 3, 'after 2 -> 3');
  const cert = (await connection(id)).client_certificate;
  assert.match(cert?.fingerprint_sha256 || '', /^[0-9a-f]{64}$/);
  let certs = (await gw.api('GET', `/ocpp/v1/stations/${id}/certificates`)).body;
  assert.equal(certs.security_profile, 3);
  assert.equal(certs.items.length, 1);

  // rotation: a new SignCertificate, the station reconnects with the new certificate
  r = await gw.api('POST', `/api/v1/stations/${id}/trigger`, { message: 'SignChargingStationCertificate' });
  assert.equal(r.status, 200, r.text);
  await gw.waitFor(async () => (await gw.api('GET', `/ocpp/v1/stations/${id}/certificates`)).body.items.length === 2,
    15000, 'reconnected with the rotated certificate');
  certs = (await gw.api('GET', `/ocpp/v1/stations/${id}/certificates`)).body;
  r = await gw.api('POST', `/ocpp/v1/stations/${id}/certificates/retire`, {});
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.kept, certs.items[0].fingerprint_sha256, 'the newest is kept');
  assert.deepEqual(r.body.retired, [certs.items[1].fingerprint_sha256]);

  // no way back down, and the history is kept
  r = await gw.api('POST', `/api/v1/stations/${id}/security-profile`, { security_profile: 2 });
  assert.equal(r.status, 409);
  assert.equal(r.body.code, 'PROFILE_DOWNGRADE');
  const changes = await gw.sql(`select from_profile, to_profile, status from security_profile_changes
    where station_id = '${id}' order by id`);
  assert.deepEqual(changes, [{ from_profile: 1, to_profile: 2, status: 'Accepted' }, { from_profile: 2, to_profile: 3, status: 'Accepted' }]);
  assert.equal((await gw.sql(`select security_profile from stations where id = '${id}'`))[0].security_profile, 3);
}

test('OCPP 1.6: profile 1 -> 2 -> 3 with ChangeConfiguration SecurityProfile, then a rotation', async () => {
  await upgrade('ocpp1.6', 'UPG16-');
});

test('OCPP 2.0.1: profile 1 -> 2 -> 3 with SetNetworkProfile, NetworkConfigurationPriority and Reset', async () => {
  await upgrade('ocpp2.0.1', 'UPG201-');
});

test('a station that refuses keeps its profile, and the refusal is recorded', async () => {
  // a 1.6 station without a certificate refuses SecurityProfile 3
  assert.equal((await gw.api('PUT', '/ocpp/v1/stations/UPG-NOCERT0001/password', { password: PASSWORD })).status, 204);
  await gw.api('POST', '/sim/v1/fleets', { id_prefix: 'UPG-NOCERT', template: { protocol: 'ocpp1.6', password: PASSWORD } });
  await waitProfile('UPG-NOCERT0001', 1, 'start');
  const r = await gw.api('POST', '/api/v1/stations/UPG-NOCERT0001/security-profile', { security_profile: 3 });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.body.code, 'REJECTED_BY_STATION');
  assert.equal(r.body.status, 'Rejected');
  assert.equal((await connection('UPG-NOCERT0001')).security_profile, 1);
  const rows = await gw.sql("select to_profile, status from security_profile_changes where station_id = 'UPG-NOCERT0001'");
  assert.deepEqual(rows, [{ to_profile: 3, status: 'Rejected' }]);
  assert.equal((await gw.sql("select security_profile from stations where id = 'UPG-NOCERT0001'"))[0].security_profile, null);
  assert.equal((await gw.api('POST', '/api/v1/stations/NOT-THERE/security-profile', { security_profile: 2 })).body.code,
    'STATION_OFFLINE');
});
