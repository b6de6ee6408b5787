// tls-http.test.mjs — the REST listener over TLS on a real daemon ([http] tls_cert,
// tls_key, tls_client_ca), with a PKI made here by the openssl tool: a server CA and a
// certificate for 127.0.0.1/localhost, a client CA with a client certificate, and a rogue
// CA with one of its own.  HTTPS only; client certificates verified when presented; the
// connection gate (timeouts, JSON refusals) works the same over TLS.  Routes that need
// a client certificate are specified in tests/unit/test_tls.c (no route has the flag).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway } from './lib/harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function makePki(dir) {
  const ssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const key = (name) => ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
  const ca = (name, cn) => {
    key(name);
    ssl('req', '-x509', '-new', '-key', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${cn}`);
  };
  const leaf = (name, issuer, subj, ext) => {
    key(name);
    ssl('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', subj);
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`,
      '-CAcreateserial', '-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`);
  };
  ca('ca', 'Test Server CA');
  ca('cca', 'Test Client CA');
  ca('rogue', 'Rogue CA');
  leaf('server', 'ca', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost');
  leaf('client', 'cca', '/O=Example CPO/CN=DE*ABC', 'extendedKeyUsage=clientAuth');
  leaf('intruder', 'rogue', '/O=Example CPO/CN=DE*ABC', 'extendedKeyUsage=clientAuth');
  const file = (n) => readFileSync(join(dir, n));
  return { dir, path: (n) => join(dir, n), file };
}

/** One HTTPS request; resolves {status, body, text} or rejects with the TLS error. */
function request(port, path, { ca, cert, key, headers = {}, method = 'GET' } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, path, method, headers, ca, cert, key, agent: false,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let body = null;
        try { body = JSON.parse(text); } catch { body = null; }
        resolve({ status: res.statusCode, body, text });
      });
    });
    req.on('error', reject);
    req.setTimeout(8000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** A TLS connection that writes payload (a byte every dripMs if set); resolves when the
 * server closes or timeoutMs pass: {closed, ms, text, status, body}. */
function rawTls(port, ca, payload, { dripMs = 0, timeoutMs = 8000 } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let data = '';
    let settled = false;
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
    const done = (closed) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      const status = Number((data.match(/^HTTP\/1\.\d (\d{3})/) || [])[1] || 0);
      let body = null;
      try { body = JSON.parse(data.split('\r\n\r\n')[1] || ''); } catch { body = null; }
      resolve({ closed, ms: Date.now() - t0, text: data, status, body });
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.setEncoding('latin1');
    s.on('data', (d) => { data += d; });
    s.on('close', () => done(true));
    s.on('error', () => {});
    s.on('secureConnect', async () => {
      if (!dripMs) return s.write(payload);
      for (const ch of payload) {
        if (s.destroyed || settled) return;
        s.write(ch);
        await sleep(dripMs);
      }
    });
  });
}

function assertError(r, status, code) {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status}: ${r.text}`);
  assert.equal(typeof r.body?.error, 'string', `not a JSON error: ${r.text}`);
  assert.equal(r.body.code, code, r.text);
}

describe('REST over TLS', () => {
  let gw;
  let pki;
  let ca;
  before(async () => {
    pki = makePki(mkdtempSync(join(tmpdir(), 'pipelet-tls-')));
    ca = pki.file('ca.pem');
    gw = await startGateway({
      plugins: ['headless'],
      config: {
        http: {
          request_timeout: 2, idle_timeout: 3,
          tls_cert: pki.path('server.pem'), tls_key: pki.path('server.key'),
          tls_client_ca: pki.path('cca.pem'),
        },
      },
    });
  });
  after(async () => {
    if (gw && gw.exitCode === null) await gw.stop(); /* a test before the last one failed */
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  test('HTTPS answers with a certificate that verifies against the server CA', async () => {
    assert.match(gw.logs(), /listening on 127\.0\.0\.1:\d+ \(https, client certificates\)/);
    const h = await request(gw.httpPort, '/health', { ca });
    assert.equal(h.status, 200, h.text);
    assert.equal(h.body.gateway.status, 'ok');
    const s = await request(gw.httpPort, '/api/v1/stations', { ca, headers: { 'X-API-Key': gw.keys.read } });
    assert.equal(s.status, 200, s.text);
    assertError(await request(gw.httpPort, '/api/v1/stations', { ca }), 401, 'UNAUTHORIZED');
    // a client that does not know the CA refuses the server
    await assert.rejects(request(gw.httpPort, '/health', {}), /self[- ]signed|unable to (get|verify)/i);
  });

  test('plain HTTP to the TLS port gets no HTTP answer', async () => {
    const text = await new Promise((resolve) => {
      let data = '';
      const s = net.connect(gw.httpPort, '127.0.0.1', () => s.write('GET /health HTTP/1.1\r\nHost: t\r\n\r\n'));
      s.setEncoding('latin1');
      s.on('data', (d) => { data += d; });
      s.on('error', () => {});
      s.on('close', () => resolve(data));
      setTimeout(() => s.destroy(), 5000);
    });
    assert.doesNotMatch(text, /^HTTP\/1\.[01] /, 'answered in plain text on the TLS port');
    await assert.rejects(fetch(`http://127.0.0.1:${gw.httpPort}/health`));
  });

  test('a client certificate of the client CA is accepted; one of another CA fails the handshake', async () => {
    const ok = await request(gw.httpPort, '/health', { ca, cert: pki.file('client.pem'), key: pki.file('client.key') });
    assert.equal(ok.status, 200, ok.text);
    await assert.rejects(
      request(gw.httpPort, '/health', { ca, cert: pki.file('intruder.pem'), key: pki.file('intruder.key') }),
      (e) => /unknown ca|alert|socket hang up|ECONNRESET/i.test(`${e.code} ${e.message}`),
    );
    // the daemon is fine afterwards
    assert.equal((await request(gw.httpPort, '/health', { ca })).status, 200);
  });

  test('the gate over TLS: ambiguous framing is refused in JSON and the connection closed', async () => {
    const r = await rawTls(gw.httpPort, ca,
      'POST /api/v1/stations/X/reset HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n'
      + 'Content-Length: 2\r\nContent-Length: 17\r\n\r\n{}');
    assertError(r, 400, 'INVALID_HEADER');
    assert.ok(r.closed, 'connection left open after a refused request');
  });

  test('the gate over TLS: a dribbling client is answered 408 within request_timeout', async () => {
    const r = await rawTls(gw.httpPort, ca, `GET /health HTTP/1.1\r\nHost: t\r\nX-Pad: ${'a'.repeat(60)}\r\n\r\n`, { dripMs: 250 });
    assert.ok(r.closed, 'a dribbling client was never timed out');
    assert.ok(r.ms >= 1500 && r.ms <= 4500, `closed after ${r.ms} ms (request_timeout 2 s)`);
    assertError(r, 408, 'REQUEST_TIMEOUT');
  });

  test('the gate over TLS: idle connections close after idle_timeout, silent ones within request_timeout', async () => {
    const r = await rawTls(gw.httpPort, ca, 'GET /health HTTP/1.1\r\nHost: t\r\n\r\n', { timeoutMs: 10000 });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.closed, 'idle connection never closed');
    assert.ok(r.ms >= 2500 && r.ms <= 5500, `closed after ${r.ms} ms (idle_timeout 3 s)`);
    // a TCP connection that never starts its handshake
    const t0 = Date.now();
    await new Promise((resolve) => {
      const s = net.connect(gw.httpPort, '127.0.0.1');
      s.on('error', () => {});
      s.on('close', resolve);
      setTimeout(() => s.destroy(), 10000);
    });
    const ms = Date.now() - t0;
    assert.ok(ms >= 1500 && ms <= 4500, `closed after ${ms} ms (request_timeout 2 s)`);
  });
  // last: a clean exit (ASan builds: no leaks of contexts or connections)
  test('the daemon stops cleanly', async () => {
    const code = await gw.stop();
    assert.equal(code, 0, gw.logs().slice(-3000));
    assert.doesNotMatch(gw.logs(), /LeakSanitizer|AddressSanitizer/);
  });
});

describe('REST over TLS beside plain HTTP ([http] tls_port, the new key names)', () => {
  let gw;
  let pki;
  before(async () => {
    pki = makePki(mkdtempSync(join(tmpdir(), 'pipelet-tls-')));
    gw = await startGateway({
      plugins: ['headless'],
      config: {
        http: {
          tls_port: 0, tls_certificate: pki.path('server.pem'), tls_private_key: pki.path('server.key'),
          tls_min_version: '1.3',
        },
      },
    });
  });
  after(async () => {
    if (gw) assert.equal(await gw.stop(), 0);
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  test('port speaks HTTP, tls_port HTTPS (TLS 1.3 only), the same routes on both', async () => {
    const tlsPort = Number(gw.logs().match(/listening on 127\.0\.0\.1:(\d+) \(https\)/)[1]);
    assert.notEqual(tlsPort, gw.httpPort);
    assert.equal((await gw.api('GET', '/api/v1/stations')).status, 200, 'plain');
    const s = await request(tlsPort, '/api/v1/stations', { ca: pki.file('ca.pem'), headers: { 'X-API-Key': gw.keys.read } });
    assert.equal(s.status, 200, s.text);
    // a TLS 1.2 client is refused by tls_min_version = 1.3
    await assert.rejects(new Promise((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port: tlsPort, ca: pki.file('ca.pem'), maxVersion: 'TLSv1.2' }, () => resolve(c));
      c.on('error', reject);
    }), /version|alert|handshake/i);
  });
});

describe('REST over TLS: configuration errors stop the start', () => {
  let pki;
  before(() => { pki = makePki(mkdtempSync(join(tmpdir(), 'pipelet-tls-'))); });
  after(() => { if (pki) rmSync(pki.dir, { recursive: true, force: true }); });

  for (const [what, http, reason] of [
    ['a certificate without its key', (p) => ({ tls_cert: p('server.pem') }), /tls_cert needs tls_key/],
    ['a client CA without a certificate', (p) => ({ tls_client_ca: p('cca.pem') }), /tls_client_ca needs tls_certificate/],
    ['a key that is not the certificate\'s', (p) => ({ tls_cert: p('server.pem'), tls_key: p('client.key') }), /cannot load private key/],
    ['a missing file', (p) => ({ tls_cert: p('nope.pem'), tls_key: p('server.key') }), /cannot load certificate .*nope\.pem/],
    ['the new names, half set', (p) => ({ tls_certificate: p('server.pem') }), /tls_certificate needs tls_private_key/],
    ['tls_port without a certificate', () => ({ tls_port: 0 }), /tls_port needs tls_certificate/],
    ['an unknown TLS version', (p) => ({ tls_certificate: p('server.pem'), tls_private_key: p('server.key'), tls_min_version: '1.1' }), /tls_min_version/],
    ['a cipher list OpenSSL does not know', (p) => ({ tls_certificate: p('server.pem'), tls_private_key: p('server.key'), tls_ciphers: 'NO-SUCH-CIPHER' }), /TLS 1\.2 cipher list/],
  ]) {
    test(what, async () => {
      await assert.rejects(
        startGateway({ plugins: [], database: false, config: { http: http(pki.path) } }),
        (e) => reason.test(e.message) && /pipelet exited \([12]\)/.test(e.message), /* 2: refused by the key check */
      );
    });
  }
});
