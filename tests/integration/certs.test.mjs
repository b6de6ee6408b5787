// certs.test.mjs — SignCertificate in both versions goes through the core's certificate
// service: the station gets Accepted, then CertificateSigned with a chain that verifies
// against the gateway's CA; a malformed CSR is Rejected.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RPCClient } from 'ocpp-rpc';
import { startGateway } from './lib/harness.mjs';

const dir = mkdtempSync(join(tmpdir(), 'pipelet-certs-'));
after(() => rmSync(dir, { recursive: true, force: true })); // holds a CA private key
const ossl = (...a) => execFileSync('openssl', a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('SignCertificate signs with the configured CA and sends CertificateSigned, in 1.6 and 2.0.1', async () => {
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=Test CA', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem'));
  const gw = await startGateway({ plugins: ['ocpp16', 'ocpp201'],
    config: { certificates: { ca_cert: join(dir, 'ca.pem'), ca_key: join(dir, 'ca.key') } } });
  try {
    for (const [protocol, id] of [['ocpp1.6', 'CERT-16'], ['ocpp2.0.1', 'CERT-201']]) {
      const csr = ossl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-subj', `/CN=${id}/O=Test`, '-keyout', join(dir, `${id}.key`));
      const c = new RPCClient({ endpoint: gw.ws, identity: id, protocols: [protocol], strictMode: true, reconnect: false });
      let chain;
      const signed = new Promise((res) => c.handle('CertificateSigned', ({ params }) => { chain = params.certificateChain; res(); return { status: 'Accepted' }; }));
      await c.connect();
      if (protocol === 'ocpp1.6') {
        await c.call('BootNotification', { chargePointVendor: 'V', chargePointModel: 'M' });
        assert.equal((await c.call('SignCertificate', { csr })).status, 'Accepted');
        assert.equal((await c.call('SignCertificate', { csr: 'not a csr' })).status, 'Rejected');
      } else {
        await c.call('BootNotification', { reason: 'PowerUp', chargingStation: { model: 'M', vendorName: 'V' } });
        assert.equal((await c.call('SignCertificate', { csr, certificateType: 'ChargingStationCertificate' })).status, 'Accepted');
        assert.equal((await c.call('SignCertificate', { csr: 'not a csr' })).status, 'Rejected');
      }
      await signed;
      const leaf = chain.slice(0, chain.indexOf('-----END CERTIFICATE-----') + 25);
      writeFileSync(join(dir, `${id}.pem`), leaf + '\n');
      assert.match(ossl('verify', '-CAfile', join(dir, 'ca.pem'), join(dir, `${id}.pem`)), /OK/);
      assert.match(ossl('x509', '-noout', '-subject', '-in', join(dir, `${id}.pem`)), new RegExp(`CN ?= ?${id}`));
      await gw.waitFor(async () => (await gw.sql(`select count(*)::int n from station_docs where station_id = '${id}' and kind = 'certificate'`))[0].n === 1, 5000, 'certificate kept');
      await c.close();
    }
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});
