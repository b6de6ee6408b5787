// The pnc plugin: ISO 15118 Plug & Charge on the central-system side.  A complete PKI
// made with openssl (lib/pnc-pki.mjs: V2G root -> CPO sub-CAs -> SECC leaves, MO root ->
// MO sub-CAs -> contract certificates, a rogue root) with real `openssl ocsp` responders,
// a contract certificate provider over mutual TLS, and strict-mode ocpp-rpc stations:
// 2.0.1 natively, 1.6 through the OCA application note's DataTransfer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway } from './lib/harness.mjs';
import { makePki } from './lib/pki.mjs';
import { makePncPki } from './lib/pnc-pki.mjs';
import { connectStation } from './lib/stations.mjs';

const VENDOR = 'org.openchargealliance.iso15118pnc';
const GOOD = 'DEABCC12345678X';
const REVOKED = 'DEABCC00000001X';
const EXPIRED = 'DEABCC00000002X';
const ROGUE = 'DEABCC00000003X';
const STRANGER = 'DEABCC00000009X'; // a valid contract the token table does not know
const GOOD16 = 'DEABCC00000005X';   // another good one (a contract charges at one station at a time)

let pki;
let tls;
let gw;
let provider;
const providerCalls = [];
let providerDown = false;

const hashOf = (name, issuer) => pki.hashData(name, issuer);
const certHash = (name, issuer) => { const { responderURL, ...h } = pki.hashData(name, issuer); return h; };

function startProvider() {
  return new Promise((resolve) => {
    const server = https.createServer({
      cert: tls.file('server.pem'), key: tls.file('server.key'), ca: tls.file('station-ca.pem'),
      requestCert: true, rejectUnauthorized: true,
    }, (req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        const r = JSON.parse(body);
        providerCalls.push({ body: r, subject: req.socket.getPeerCertificate()?.subject?.CN });
        res.writeHead(providerDown ? 503 : 200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(providerDown ? { status: 'Failed' }
          : { status: 'Accepted', exiResponse: Buffer.from(`EXI-RESPONSE:${r.action}:${r.exiRequest}`).toString('base64') }));
      });
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

before(async () => {
  pki = await makePncPki(mkdtempSync(join(tmpdir(), 'pipelet-pnc-')));
  pki.contract(GOOD);
  pki.contract(REVOKED, { revoked: true });
  pki.contract(EXPIRED, { expired: true });
  pki.contract(ROGUE, { issuer: 'rogue-root' });
  pki.contract(STRANGER);
  pki.contract(GOOD16);
  await pki.startOcsp();
  // the roots, and the sub-CAs that sign the responders' answers
  writeFileSync(pki.path('trust.pem'), ['v2g-root', 'cpo-sub1', 'cpo-sub2', 'mo-root', 'mo-sub1', 'mo-sub2'].map((n) => pki.pem(`${n}.pem`)).join(''));
  tls = makePki(mkdtempSync(join(tmpdir(), 'pipelet-pnc-tls-')));
  tls.station('cpo-client', 'Example CPO');
  provider = await startProvider();
  gw = await startGateway({
    plugins: ['ocpp16', 'ocpp201', 'headless', 'pnc', 'simulator'],
    config: {
      core: { auth_unknown: 'reject' },
      pnc: {
        cpo_certificate: pki.path('cpo-sub2.pem'), cpo_private_key: pki.path('cpo-sub2.key'), cpo_chain: pki.path('cpo-sub1.pem'),
        secc_ocsp_url: pki.ocspUrl('cpo-sub2'), trust: pki.path('trust.pem'), ocsp_timeout_ms: 2000,
        secc_renew_days: 400, secc_check_s: 1, // every SECC certificate signed here "ends soon"
        ocsp_responders: 'http://127.0.0.1:',

        provider_url: `https://127.0.0.1:${provider.address().port}/contract-data`, provider_client_cert: tls.path('cpo-client.pem'),
        provider_client_key: tls.path('cpo-client.key'), provider_ca_file: tls.path('server-ca.pem'), provider_timeout_ms: 2000,
      },
    },
  });
  for (const emaid of [GOOD, REVOKED, EXPIRED, ROGUE, GOOD16]) {
    const r = await gw.api('POST', '/api/v1/tokens', { id_token: emaid, type: 'eMAID' });
    assert.equal(r.status, 201, r.text);
  }
});

after(async () => {
  if (gw) assert.equal(await gw.stop(), 0);
  assert.doesNotMatch(gw?.logs() || '', /LeakSanitizer|AddressSanitizer|runtime error/);
  provider?.close();
  await pki?.close();
  if (tls) rmSync(tls.dir, { recursive: true, force: true });
});

async function station201() {
  const st = await connectStation(gw, { protocol: 'ocpp2.0.1' });
  await st.boot();
  return st;
}
async function station16() {
  const st = await connectStation(gw, { protocol: 'ocpp1.6' });
  await st.boot();
  return st;
}
/** A 1.6 Plug & Charge message: DataTransfer with the 2.0.1 payload as JSON text; the answer decoded. */
async function pnc16(st, messageId, payload) {
  const r = await st.client.call('DataTransfer', { vendorId: VENDOR, messageId, data: JSON.stringify(payload) });
  return { status: r.status, data: r.data ? JSON.parse(r.data) : null };
}

describe('Authorize with a contract (OCSP through the responders the certificates name)', () => {
  test('2.0.1: good, revoked, from another root, unknown eMAID; the answer carries certificateStatus', async () => {
    const st = await station201();
    const auth = (emaid, hashes) => st.client.call('Authorize', { idToken: { idToken: emaid, type: 'eMAID' }, iso15118CertificateHashData: hashes });
    let r = await auth(GOOD, [hashOf(`contract-${GOOD}`, 'mo-sub2'), hashOf('mo-sub2', 'mo-sub1')]);
    assert.equal(r.idTokenInfo.status, 'Accepted');
    assert.equal(r.certificateStatus, 'Accepted');
    r = await auth(REVOKED, [hashOf(`contract-${REVOKED}`, 'mo-sub2')]);
    assert.equal(r.idTokenInfo.status, 'Invalid');
    assert.equal(r.certificateStatus, 'CertificateRevoked');
    r = await auth(ROGUE, [{ ...hashOf(`contract-${ROGUE}`, 'rogue-root'), responderURL: pki.ocspUrl('mo-sub2') }]);
    assert.equal(r.idTokenInfo.status, 'Invalid');
    assert.equal(r.certificateStatus, 'CertChainError', 'the responder answers for an issuer no anchor vouches for');
    r = await auth(STRANGER, [hashOf(`contract-${STRANGER}`, 'mo-sub2')]);
    assert.equal(r.certificateStatus, 'Accepted', 'the contract is valid');
    assert.equal(r.idTokenInfo.status, 'Invalid', 'but the eMAID is not a token of this operator');
    // the good contract's status is cached until its nextUpdate: asked again without a request
    const before = (await gw.api('GET', '/ocpp/v1/pnc/status')).body.ocsp;
    r = await auth(GOOD, [hashOf(`contract-${GOOD}`, 'mo-sub2')]);
    assert.equal(r.certificateStatus, 'Accepted');
    const later = (await gw.api('GET', '/ocpp/v1/pnc/status')).body.ocsp;
    assert.equal(later.asked, before.asked);
    assert.ok(later.answered_from_cache > before.answered_from_cache);
    await st.close();
  });

  test('2.0.1: the contract chain itself: expired, another root, and a good one', async () => {
    const st = await station201();
    const chain = (emaid) => pki.pem(`contract-${emaid}.pem`) + pki.moChain();
    const auth = (emaid, certificate) => st.client.call('Authorize', { idToken: { idToken: emaid, type: 'eMAID' }, certificate });
    let r = await auth(EXPIRED, chain(EXPIRED));
    assert.equal(r.certificateStatus, 'CertificateExpired');
    assert.equal(r.idTokenInfo.status, 'Invalid');
    r = await auth(ROGUE, pki.pem(`contract-${ROGUE}.pem`));
    assert.equal(r.certificateStatus, 'CertChainError');
    r = await auth(GOOD, chain(GOOD));
    assert.equal(r.certificateStatus, 'Accepted');
    assert.equal(r.idTokenInfo.status, 'Accepted');
    await st.close();
  });

  test('a responder that is down: the contract is refused (NoCertificateAvailable), and GetCertificateStatus is Failed', async () => {
    const st = await station201();
    const emaid = 'DEABCC00000004X';
    pki.contract(emaid);
    await gw.api('POST', '/api/v1/tokens', { id_token: emaid, type: 'eMAID' });
    pki.stopOcsp('mo-sub2');
    try {
      const r = await st.client.call('Authorize', { idToken: { idToken: emaid, type: 'eMAID' }, iso15118CertificateHashData: [hashOf(`contract-${emaid}`, 'mo-sub2')] });
      assert.equal(r.certificateStatus, 'NoCertificateAvailable');
      assert.equal(r.idTokenInfo.status, 'Invalid');
      const s = await st.client.call('GetCertificateStatus', { ocspRequestData: hashOf(`contract-${emaid}`, 'mo-sub2') });
      assert.equal(s.status, 'Failed');
      assert.ok(s.statusInfo?.reasonCode);
    } finally {
      await pki.startOcsp('mo-sub2');
    }
    await st.close();
  });

  test('a responder outside [pnc] ocsp_responders is not called: the contract is refused', async () => {
    const st = await station201();
    pki.contract('DEABCC00000006X'); // never asked about: not in the cache
    const before = (await gw.api('GET', '/ocpp/v1/pnc/status')).body.ocsp.asked;
    const r = await st.client.call('Authorize', { idToken: { idToken: GOOD, type: 'eMAID' }, iso15118CertificateHashData: [{ ...hashOf('contract-DEABCC00000006X', 'mo-sub2'), responderURL: 'http://10.255.0.1/ocsp' }] });
    assert.equal(r.certificateStatus, 'NoCertificateAvailable');
    assert.equal((await gw.api('GET', '/ocpp/v1/pnc/status')).body.ocsp.asked, before, 'no request was made');
    assert.match(gw.logs(), /OCSP responder http:\/\/10\.255\.0\.1\/ocsp is not in \[pnc\] ocsp_responders/);
    await st.close();
  });

  test('1.6 through DataTransfer: Authorize with hash data, the 2.0.1 answer inside', async () => {
    const st = await station16();
    let r = await pnc16(st, 'Authorize', { idToken: { idToken: GOOD, type: 'eMAID' }, iso15118CertificateHashData: [hashOf(`contract-${GOOD}`, 'mo-sub2')] });
    assert.equal(r.status, 'Accepted');
    assert.equal(r.data.idTokenInfo.status, 'Accepted');
    assert.equal(r.data.certificateStatus, 'Accepted');
    r = await pnc16(st, 'Authorize', { idToken: { idToken: REVOKED, type: 'eMAID' }, iso15118CertificateHashData: [hashOf(`contract-${REVOKED}`, 'mo-sub2')] });
    assert.equal(r.data.certificateStatus, 'CertificateRevoked');
    assert.equal(r.data.idTokenInfo.status, 'Invalid');
    // invalid against 2.0.1's schema: Rejected; another messageId: UnknownMessageId
    r = await pnc16(st, 'Authorize', { idToken: { idToken: GOOD } });
    assert.equal(r.status, 'Rejected');
    const u = await st.client.call('DataTransfer', { vendorId: VENDOR, messageId: 'NoSuchMessage', data: '{}' });
    assert.equal(u.status, 'UnknownMessageId');
    await st.close();
  });
});

describe('GetCertificateStatus', () => {
  test('2.0.1 and 1.6: the responder\'s answer, base64 DER, that openssl reads as good or revoked', async () => {
    const st = await station201();
    const dir = mkdtempSync(join(tmpdir(), 'pipelet-ocsp-'));
    const read = (b64) => {
      writeFileSync(join(dir, 'r.der'), Buffer.from(b64, 'base64'));
      return execFileSync('openssl', ['ocsp', '-respin', join(dir, 'r.der'), '-resp_text', '-noverify'], { encoding: 'utf8' });
    };
    let r = await st.client.call('GetCertificateStatus', { ocspRequestData: hashOf(`contract-${GOOD}`, 'mo-sub2') });
    assert.equal(r.status, 'Accepted');
    assert.match(read(r.ocspResult), /Cert Status: good/);
    r = await st.client.call('GetCertificateStatus', { ocspRequestData: hashOf(`contract-${REVOKED}`, 'mo-sub2') });
    assert.equal(r.status, 'Accepted');
    assert.match(read(r.ocspResult), /Cert Status: revoked/);
    const s16 = await station16();
    const d = await pnc16(s16, 'GetCertificateStatus', { ocspRequestData: hashOf('mo-sub2', 'mo-sub1') });
    assert.equal(d.status, 'Accepted');
    assert.equal(d.data.status, 'Accepted');
    assert.match(read(d.data.ocspResult), /Cert Status: good/);
    rmSync(dir, { recursive: true, force: true });
    await st.close();
    await s16.close();
  });
});

describe('SECC certificates', () => {
  const verify = (chain) => {
    const dir = mkdtempSync(join(tmpdir(), 'pipelet-secc-'));
    const certs = chain.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g);
    writeFileSync(join(dir, 'leaf.pem'), certs[0]);
    writeFileSync(join(dir, 'chain.pem'), certs.slice(1).join(''));
    const out = execFileSync('openssl', ['verify', '-CAfile', pki.path('v2g-root.pem'), '-untrusted', join(dir, 'chain.pem'), join(dir, 'leaf.pem')], { encoding: 'utf8' });
    const text = execFileSync('openssl', ['x509', '-in', join(dir, 'leaf.pem'), '-noout', '-text'], { encoding: 'utf8' });
    rmSync(dir, { recursive: true, force: true });
    return { out, text, count: certs.length };
  };

  test('2.0.1: a V2G CSR is signed by the CPO sub-CA, with the chain to the V2G root; a station CSR still by the gateway\'s CA', async () => {
    const st = await station201();
    const secc = pki.secc(st.id);
    const r = await st.client.call('SignCertificate', { csr: secc.csr, certificateType: 'V2GCertificate' });
    assert.equal(r.status, 'Accepted');
    await st.waitReceived('CertificateSigned');
    const signed = st.last('CertificateSigned');
    assert.equal(signed.certificateType, 'V2GCertificate');
    const v = verify(signed.certificateChain);
    assert.match(v.out, /OK/);
    assert.equal(v.count, 3, 'leaf, CPO Sub2, CPO Sub1');
    assert.match(v.text, /CA:FALSE/);
    assert.match(v.text, /Digital Signature, Key Agreement/);
    assert.match(v.text, new RegExp(`OCSP - URI:${pki.ocspUrl('cpo-sub2').replace(/[/.]/g, '\\$&')}`));
    // kept in the model, and (ending within [pnc] secc_renew_days) renewed by TriggerMessage
    const doc = await gw.sql(`SELECT value FROM station_docs WHERE station_id = '${st.id}' AND kind = 'pnc' AND key = 'V2GCertificate'`);
    assert.match(doc[0].value.subject, /CN=/);
    await gw.waitFor(() => st.received('trigger').some((t) => t.requestedMessage === 'SignV2GCertificate'), 5000, 'the renewal trigger');
    // not a V2G certificate: the core's CA signs it, as without the plugin
    const other = pki.secc(`${st.id}-cs`);
    const r2 = await st.client.call('SignCertificate', { csr: other.csr, certificateType: 'ChargingStationCertificate' });
    assert.equal(r2.status, 'Accepted');
    await st.waitReceived('CertificateSigned', 2);
    assert.throws(() => verify(st.last('CertificateSigned').certificateChain));
    await st.close();
  });

  test('1.6 through DataTransfer: SignCertificate, then CertificateSigned inside a DataTransfer', async () => {
    const st = await station16();
    st.answer('data_transfer', () => ({ status: 'Accepted', data: JSON.stringify({ status: 'Accepted' }) }));
    const secc = pki.secc(st.id);
    const r = await pnc16(st, 'SignCertificate', { csr: secc.csr, certificateType: 'V2GCertificate' });
    assert.equal(r.status, 'Accepted');
    assert.equal(r.data.status, 'Accepted');
    await gw.waitFor(() => st.received('data_transfer').some((d) => d.messageId === 'CertificateSigned'), 5000, 'CertificateSigned');
    const dt = st.received('data_transfer').find((d) => d.messageId === 'CertificateSigned');
    assert.equal(dt.vendorId, VENDOR);
    assert.equal(dt.messageId, 'CertificateSigned');
    const inner = JSON.parse(dt.data);
    assert.equal(inner.certificateType, 'V2GCertificate');
    assert.match(verify(inner.certificateChain).out, /OK/);
    await st.close();
  });

  test('renewal: TriggerMessage SignV2GCertificate (2.0.1 natively, 1.6 through DataTransfer)', async () => {
    const st = await station201();
    st.answer('trigger', () => ({ status: 'Accepted' }));
    st.answer('TriggerMessage', () => ({ status: 'Accepted' }));
    let r = await gw.api('POST', `/ocpp/v1/stations/${st.id}/v2g-certificate/renew`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, 'Accepted');
    assert.equal(st.last('trigger').requestedMessage, 'SignV2GCertificate');
    const s16 = await station16();
    s16.answer('data_transfer', () => ({ status: 'Accepted', data: JSON.stringify({ status: 'Accepted' }) }));
    r = await gw.api('POST', `/ocpp/v1/stations/${s16.id}/v2g-certificate/renew`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(s16.last('data_transfer').data), { requestedMessage: 'SignV2GCertificate' });
    assert.equal(s16.last('data_transfer').messageId, 'TriggerMessage');
    await st.close();
    await s16.close();
  });
});

describe('trust anchors on stations', () => {
  test('2.0.1: install a V2G root and an MO root, list them, delete one; answers kept in the model', async () => {
    const st = await station201();
    const installed = [];
    st.answer('InstallCertificate', (p) => { installed.push(p); return { status: 'Accepted' }; });
    st.answer('GetInstalledCertificateIds', (p) => ({
      status: 'Accepted',
      certificateHashDataChain: installed.filter((c) => !p.certificateType || p.certificateType.includes(c.certificateType)).map((c) => ({
        certificateType: c.certificateType,
        certificateHashData: certHash(c.certificateType === 'V2GRootCertificate' ? 'v2g-root' : 'mo-root', c.certificateType === 'V2GRootCertificate' ? 'v2g-root' : 'mo-root'),
      })),
    }));
    st.answer('DeleteCertificate', () => ({ status: 'Accepted' }));
    let r = await gw.api('POST', `/ocpp/v1/stations/${st.id}/installed-certificates`, { certificate_type: 'V2GRootCertificate', certificate: pki.pem('v2g-root.pem') });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, 'Accepted');
    r = await gw.api('POST', `/ocpp/v1/stations/${st.id}/installed-certificates`, { certificate_type: 'MORootCertificate', certificate: pki.pem('mo-root.pem') });
    assert.equal(r.body.status, 'Accepted');
    assert.equal(installed.length, 2);
    r = await gw.api('GET', `/ocpp/v1/stations/${st.id}/installed-certificates?type=V2GRootCertificate,MORootCertificate`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.response.certificateHashDataChain.length, 2);
    assert.deepEqual(st.last('GetInstalledCertificateIds').certificateType, ['V2GRootCertificate', 'MORootCertificate']);
    r = await gw.api('POST', `/ocpp/v1/stations/${st.id}/installed-certificates/delete`, { certificate_hash_data: certHash('mo-root', 'mo-root') });
    assert.equal(r.body.status, 'Accepted');
    assert.deepEqual(st.last('DeleteCertificate').certificateHashData, certHash('mo-root', 'mo-root'));
    const docs = await gw.sql(`SELECT key FROM station_docs WHERE station_id = '${st.id}' AND kind = 'pnc' ORDER BY key`);
    assert.deepEqual(docs.map((d) => d.key), ['DeleteCertificate', 'GetInstalledCertificateIds', 'InstallCertificate']);
    // a refusal is the station's answer, not an error
    st.answer('InstallCertificate', () => ({ status: 'Rejected' }));
    r = await gw.api('POST', `/ocpp/v1/stations/${st.id}/installed-certificates`, { certificate_type: 'MORootCertificate', certificate: pki.pem('mo-root.pem') });
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'Rejected');
    await st.close();
    r = await gw.api('GET', `/ocpp/v1/stations/${st.id}/installed-certificates`);
    assert.equal(r.status, 409);
    assert.equal(r.body.code, 'STATION_OFFLINE');
  });

  test('1.6: the same through DataTransfer', async () => {
    const st = await station16();
    st.answer('data_transfer', (p) => {
      const inner = JSON.parse(p.data);
      if (p.messageId === 'InstallCertificate') return { status: 'Accepted', data: JSON.stringify({ status: inner.certificateType === 'V2GRootCertificate' ? 'Accepted' : 'Failed' }) };
      return { status: 'Accepted', data: JSON.stringify({ status: 'NotFound' }) };
    });
    let r = await gw.api('POST', `/ocpp/v1/stations/${st.id}/installed-certificates`, { certificate_type: 'V2GRootCertificate', certificate: pki.pem('v2g-root.pem') });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, 'Accepted');
    const sent = st.last('data_transfer');
    assert.equal(sent.vendorId, VENDOR);
    assert.equal(sent.messageId, 'InstallCertificate');
    assert.equal(JSON.parse(sent.data).certificate, pki.pem('v2g-root.pem'));
    r = await gw.api('GET', `/ocpp/v1/stations/${st.id}/installed-certificates`);
    assert.equal(r.body.status, 'NotFound');
    // a CSMS root goes in the security whitepaper's own InstallCertificate
    st.answer('InstallCertificate', () => ({ status: 'Accepted' }));
    r = await gw.api('POST', `/ocpp/v1/stations/${st.id}/installed-certificates`, { certificate_type: 'CSMSRootCertificate', certificate: pki.pem('v2g-root.pem') });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, 'Accepted');
    assert.equal(st.last('InstallCertificate').certificateType, 'CentralSystemRootCertificate');
    await st.close();
  });
});

describe('contract certificates (Get15118EVCertificate)', () => {
  test('through the contract provider over mutual TLS, untouched EXI both ways; a provider down is Failed', async () => {
    const st = await station201();
    const exi = Buffer.from('EXI-CertificateInstallationReq').toString('base64');
    let r = await st.client.call('Get15118EVCertificate', { iso15118SchemaVersion: 'urn:iso:15118:2:2013:MsgDef', action: 'Install', exiRequest: exi });
    assert.equal(r.status, 'Accepted');
    assert.equal(Buffer.from(r.exiResponse, 'base64').toString(), `EXI-RESPONSE:Install:${exi}`);
    const call = providerCalls.at(-1);
    assert.equal(call.subject, 'Example CPO');
    assert.equal(call.body.stationId, st.id);
    assert.equal(call.body.iso15118SchemaVersion, 'urn:iso:15118:2:2013:MsgDef');
    const s16 = await station16();
    const d = await pnc16(s16, 'Get15118EVCertificate', { iso15118SchemaVersion: 'urn:iso:15118:2:2013:MsgDef', action: 'Update', exiRequest: exi });
    assert.equal(d.data.status, 'Accepted');
    assert.equal(Buffer.from(d.data.exiResponse, 'base64').toString(), `EXI-RESPONSE:Update:${exi}`);
    providerDown = true;
    r = await st.client.call('Get15118EVCertificate', { iso15118SchemaVersion: 'urn:iso:15118:2:2013:MsgDef', action: 'Install', exiRequest: exi });
    providerDown = false;
    assert.equal(r.status, 'Failed');
    assert.equal(r.statusInfo.reasonCode, 'ProviderFailed');
    const status = await gw.api('GET', '/ocpp/v1/pnc/status', null, { key: gw.keys.read });
    assert.equal(status.status, 200);
    assert.equal(status.body.contract_provider.healthy, false);
    assert.equal(status.body.contract_provider.last_answer, 'HTTP 503');
    assert.ok(status.body.trust_anchors.some((c) => /MO Root CA/.test(c.subject)));
    assert.ok(status.body.cpo_chain.some((c) => /CPO Sub2/.test(c.subject)));
    assert.ok(status.body.ocsp.cache.length >= 1);
    await st.close();
    await s16.close();
  });
});

describe('the simulator\'s Plug & Charge mode', () => {
  test('a simulated EV presents its contract (2.0.1 natively, 1.6 through DataTransfer) and charges; a revoked one does not', async () => {
    for (const protocol of ['ocpp2.0.1', 'ocpp1.6']) {
      const f = await gw.api('POST', '/sim/v1/fleets', { id_prefix: `PNC${protocol === 'ocpp1.6' ? '16' : '201'}-`, count: 1, template: { protocol, connectors: 2, meter_interval_s: 1 } });
      assert.equal(f.status, 201, f.text);
      const id = f.body.stations[0].id ?? f.body.stations[0];
      await gw.waitFor(async () => (await gw.sql(`SELECT 1 FROM connectors WHERE station_id = '${id}' AND evse = 2`)).length === 1, 10000, `${id} booted`);
      const emaid = protocol === 'ocpp1.6' ? GOOD16 : GOOD;
      let r = await gw.api('POST', `/sim/v1/stations/${id}/connectors/1/plug-and-charge`, { emaid, hash_data: [hashOf(`contract-${emaid}`, 'mo-sub2')] });
      assert.equal(r.status, 200, r.text);
      const open = () => gw.sql(`SELECT id_token, id_token_type FROM transactions WHERE station_id = '${id}' AND stopped_at IS NULL`);
      await gw.waitFor(async () => (await open()).length === 1, 10000, `${protocol}: charging on the contract`);
      const [tx] = await open();
      assert.equal(tx.id_token, emaid);
      if (protocol === 'ocpp2.0.1') assert.equal(tx.id_token_type, 'eMAID');
      r = await gw.api('POST', `/sim/v1/stations/${id}/connectors/2/plug-and-charge`, { emaid: REVOKED, hash_data: [hashOf(`contract-${REVOKED}`, 'mo-sub2')] });
      assert.equal(r.status, 200, r.text);
      await gw.waitFor(() => gw.logs().includes(`${id}: contract ${REVOKED} refused`), 10000, `${protocol}: the revoked contract refused`);
      assert.equal((await open()).length, 1, 'no session on the revoked contract');
      await gw.api('DELETE', `/sim/v1/fleets/${f.body.fleet_id}`);
    }
  });
});
