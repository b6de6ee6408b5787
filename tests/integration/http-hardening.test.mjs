// http-hardening.test.mjs — the REST listener against hostile or sloppy clients, on a real
// daemon: failed authentications limited per address, request smuggling shapes refused,
// slow and idle connections timed out, JSON errors where libevent would answer HTML,
// invalid UTF-8 parameters stopped before the database, JSON bodies with a JSON type.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startGateway } from './lib/harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Send payload on a raw socket (a byte every dripMs if set); resolve when the server
 * closes or timeoutMs pass: {closed, ms, text, status, body} of the first answer. */
function raw(port, payload, { dripMs = 0, timeoutMs = 8000 } = {}) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const t0 = Date.now();
    let data = Buffer.alloc(0);
    let settled = false;
    const done = (closed) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      const text = data.toString('latin1');
      const status = Number((text.match(/^HTTP\/1\.\d (\d{3})/) || [])[1] || 0);
      const bodyText = text.split('\r\n\r\n')[1] || '';
      let body = null;
      try { body = JSON.parse(bodyText); } catch { body = null; }
      resolve({ closed, ms: Date.now() - t0, text, status, body });
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.on('data', (d) => { data = Buffer.concat([data, d]); });
    s.on('close', () => done(true));
    s.on('error', () => {});
    s.on('connect', async () => {
      const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'latin1');
      if (!dripMs) return s.write(buf);
      for (const b of buf) {
        if (s.destroyed || settled) return;
        s.write(Buffer.from([b]));
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

describe('REST hardening', () => {
  let gw;
  let head; // a command request's head, up to (not including) its framing headers
  before(async () => {
    gw = await startGateway({
      plugins: ['ocpp16', 'headless'],
      config: { http: { request_timeout: 2, idle_timeout: 3, auth_fail_burst: 3, auth_fail_rate: 1 } },
    });
    head = `POST /api/v1/stations/HH-1/reset HTTP/1.1\r\nHost: t\r\nX-API-Key: ${gw.keys.admin}\r\n`
      + 'Content-Type: application/json\r\n';
  });
  after(async () => { await gw?.stop(); });

  test('two Content-Lengths, or one with Transfer-Encoding: 400 INVALID_HEADER, connection closed', async () => {
    for (const framing of [
      'Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}',
      'Content-Length: 2\r\nContent-Length: 17\r\n\r\n{}',
      'Content-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
      'Transfer-Encoding: chunked\r\nContent-Length: 7\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
    ]) {
      const r = await raw(gw.httpPort, head + framing);
      assertError(r, 400, 'INVALID_HEADER');
      assert.ok(r.closed, 'connection left open after a refused request');
    }
    // chunked alone reaches the handler (which answers that the station is not there)
    const r = await raw(gw.httpPort, `${head}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nf\r\n{"type":"Soft"}\r\n0\r\n\r\n`);
    assert.ok(r.status >= 404 && typeof r.body?.code === 'string', r.text);
    assert.ok(!['INVALID_HEADER', 'BAD_REQUEST'].includes(r.body.code), r.text);
  });

  test('a client dribbling its request is answered 408 and closed within request_timeout', async () => {
    const r = await raw(gw.httpPort, `GET /health HTTP/1.1\r\nHost: t\r\nX-Pad: ${'a'.repeat(60)}\r\n\r\n`, { dripMs: 250 });
    assert.ok(r.closed, 'a dribbling client was never timed out');
    assert.ok(r.ms >= 1500 && r.ms <= 4000, `closed after ${r.ms} ms (request_timeout 2 s)`);
    assertError(r, 408, 'REQUEST_TIMEOUT');
  });

  test('an idle keep-alive connection is closed after idle_timeout', async () => {
    const r = await raw(gw.httpPort, 'GET /health HTTP/1.1\r\nHost: t\r\n\r\n', { timeoutMs: 10000 });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.closed, 'idle connection never closed');
    assert.ok(r.ms >= 2500 && r.ms <= 5000, `closed after ${r.ms} ms (idle_timeout 3 s)`);
  });

  test('what libevent answers in HTML is JSON: 501 unknown method, 400 huge head, 413 huge body', async () => {
    assertError(await raw(gw.httpPort, 'BREW /api/v1/stations HTTP/1.1\r\nHost: t\r\n\r\n'), 501, 'NOT_IMPLEMENTED');
    assertError(await raw(gw.httpPort, `GET /health HTTP/1.1\r\nHost: t\r\nX-Big: ${'b'.repeat(20000)}\r\n\r\n`), 400, 'HEADERS_TOO_LARGE');
    assertError(await raw(gw.httpPort, 'NOT HTTP AT ALL\r\n\r\n'), 400, 'BAD_REQUEST');
    // 50 MB announced (the limit is 1 MB): refused from the head, not after reading it
    const big = Buffer.concat([Buffer.from(`${head}Content-Length: 52428800\r\n\r\n`), Buffer.alloc(2 * 1024 * 1024, 32)]);
    assertError(await raw(gw.httpPort, big), 413, 'PAYLOAD_TOO_LARGE');
    const chunked = Buffer.concat([Buffer.from(`${head}Transfer-Encoding: chunked\r\n\r\n200000\r\n`), Buffer.alloc(2 * 1024 * 1024, 32)]);
    assertError(await raw(gw.httpPort, chunked), 413, 'PAYLOAD_TOO_LARGE');
  });

  test('invalid UTF-8 in any parameter: 400 INVALID_PARAMETER before the database sees it', async () => {
    assertError(await gw.api('GET', '/api/v1/stations/%ff%fe'), 400, 'INVALID_PARAMETER');
    assertError(await gw.api('GET', '/api/v1/stations?status=%c3%28'), 400, 'INVALID_PARAMETER');
    assertError(await gw.api('GET', '/api/v1/stations/CP%00X'), 400, 'INVALID_PARAMETER');
    const r = await raw(gw.httpPort, `${head}Prefer: respond-\xff\xfe\r\nContent-Length: 2\r\n\r\n{}`);
    assertError(r, 400, 'INVALID_PARAMETER');
    // valid UTF-8 goes through to the handler (an unknown station)
    const ok = await gw.api('GET', '/api/v1/stations/%C3%A9t%C3%A9');
    assert.equal(ok.status, 404, ok.text);
  });

  test('a body on a JSON route needs a JSON Content-Type: else 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const path = '/api/v1/stations/HH-1/reset';
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=iso-8859-1']) {
      assertError(await gw.api('POST', path, '{"type":"Soft"}', { headers: { 'Content-Type': type } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
    for (const type of ['application/json; charset=utf-8', 'application/merge-patch+json']) {
      const r = await gw.api('POST', path, '{"type":"Soft"}', { headers: { 'Content-Type': type } });
      assert.notEqual(r.status, 415, `${type}: ${r.text}`);
    }
    const r = await gw.api('POST', path); // no body, no type
    assert.notEqual(r.status, 415, r.text);
  });

  // last: it spends this address's failure budget
  test('failed authentications are limited per address; a valid key still works', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await gw.api('GET', '/api/v1/stations', null, { key: `guess-${i}` })).status);
    assert.deepEqual(statuses, [401, 401, 401, 429]);
    const r = await gw.api('GET', '/api/v1/stations', null, { key: 'guess-x' });
    assertError(r, 429, 'RATE_LIMITED');
    assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After');
    assertError(await gw.api('GET', '/api/v1/stations', null, { key: '' }), 429, 'RATE_LIMITED');
    assert.equal((await gw.api('GET', '/api/v1/stations')).status, 200);
  });
});
