// security-handshake.test.mjs — the station id rule at the WebSocket handshake and on the
// password route, and HTTP Basic credentials taken at their full length.  Raw sockets,
// so the exact request target and Authorization bytes reach the gateway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startGateway } from './lib/harness.mjs';

/** Send one upgrade request for target; resolves with the status line and closes. */
async function upgrade(gw, target, { auth, protocol = 'ocpp1.6' } = {}) {
  const sock = net.connect(Number(new URL(gw.ws).port), '127.0.0.1');
  await new Promise((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
  let buf = Buffer.alloc(0);
  sock.on('data', (d) => { buf = Buffer.concat([buf, d]); });
  sock.on('error', () => {});
  sock.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
    `Sec-WebSocket-Protocol: ${protocol}\r\n` +
    (auth ? `Authorization: Basic ${Buffer.from(auth, 'latin1').toString('base64')}\r\n` : '') + '\r\n');
  await gw.waitFor(() => buf.includes('\r\n\r\n'), 5000, `answer to ${target}`);
  sock.destroy();
  return Number(buf.toString('latin1').match(/^HTTP\/1\.1 (\d+)/)[1]);
}

test('handshake: one path segment after the prefix, 1 to 48 identifierString characters', async (t) => {
  const gw = await startGateway({ plugins: ['ocpp16', 'headless'], config: { ocpp16: { unknown_stations: 'accept' } } });
  try {
    const refusedBefore = (await gw.api('GET', '/api/v1/health')).body.websocket.refused_total;
    const cases = [
      ['/ocpp/%ff%fe', 400, 'invalid UTF-8 (today booted as a station)'],
      ['/ocpp/caf%C3%A9', 400, 'non-ASCII'],
      ['/ocpp', 400, 'no id (today a station called "ocpp")'],
      ['/ocpp/', 400, 'no id'],
      ['/ocpp/a/b', 400, 'two segments (today station "b")'],
      ['/ocpp/a%2Fb', 400, 'an encoded slash (today station "b")'],
      ['/ocpp/a%20b', 400, 'a space'],
      ['/ocpp/a%0Ab', 400, 'a control character'],
      ['/ocpp/a%25b', 400, 'a percent sign'],
      [`/ocpp/${'x'.repeat(49)}`, 400, '49 characters'],
      ['/other/CP-1', 404, 'outside the prefix'],
    ];
    for (const [target, want, why] of cases)
      assert.equal(await upgrade(gw, target), want, `${target}: ${why}`);
    assert.match(gw.logs(), /handshake for \/ocpp\/a\/b from 127\.0\.0\.1:\d+ refused \(HTTP 400\): more than one path segment/);
    assert.match(gw.logs(), /refused \(HTTP 400\): the station id must be 1 to 48/);
    const refusedAfter = (await gw.api('GET', '/api/v1/health')).body.websocket.refused_total;
    assert.ok(refusedAfter - refusedBefore >= cases.length, 'counted in websocket.refused_total');

    const id48 = 'A'.repeat(40) + '*-_=:+|@';
    assert.equal(await upgrade(gw, `/ocpp/${id48}`), 101, 'all the allowed characters, 48 of them');
    assert.equal(await upgrade(gw, '/ocpp/CP%2D1'), 101, 'an escaped allowed character is that character');
    // the accepted ones were registered; none of the refused ones ever was
    await gw.waitFor(async () => (await gw.sql('select id from stations')).length >= 2, 5000, 'stations rows');
    assert.deepEqual((await gw.sql('select id from stations order by id')).map((s) => s.id), [id48, 'CP-1'].sort());

    await t.test('a NUL in the path is refused', async () => {
      assert.equal(await upgrade(gw, '/ocpp/abc%00def'), 400);
    });
  } finally {
    await gw.stop();
  }
});

test('Basic credentials are compared at their full length; the password route applies the id rule', async () => {
  const gw = await startGateway({ plugins: ['ocpp16', 'headless'], config: { ocpp16: { unknown_stations: 'reject' } } });
  try {
    const pw = 'a-very-secret-pass';
    let r = await gw.api('PUT', '/ocpp/v1/stations/SEC-NUL/password', { password: pw });
    assert.equal(r.status, 204, r.text);
    assert.equal(await upgrade(gw, '/ocpp/SEC-NUL', { auth: `SEC-NUL:${pw}\0junk` }), 400, 'password\\0junk (today accepted)');
    assert.equal(await upgrade(gw, '/ocpp/SEC-NUL', { auth: `SEC-NUL\0other:${pw}` }), 400, 'user\\0junk (today accepted)');
    assert.equal(await upgrade(gw, '/ocpp/SEC-NUL', { auth: `SEC-NUL:${pw}x` }), 401);
    assert.equal(await upgrade(gw, '/ocpp/SEC-NUL', { auth: `SEC-NUL:${pw}` }), 101);
    assert.match(gw.logs(), /from 127\.0\.0\.1:\d+ refused \(HTTP 400\): NUL in the Basic credentials/);

    const bad = (res, code = 'INVALID_PARAMETER') => {
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.code, code, res.text);
    };
    bad(await gw.api('PUT', `/ocpp/v1/stations/${'x'.repeat(10240)}/password`, { password: pw }));
    bad(await gw.api('PUT', `/ocpp/v1/stations/${'x'.repeat(49)}/password`, { password: pw }));
    bad(await gw.api('PUT', '/ocpp/v1/stations/a%2Fb/password', { password: pw }));
    bad(await gw.api('PUT', '/ocpp/v1/stations/a%20b/password', { password: pw }));
    bad(await gw.api('DELETE', '/ocpp/v1/stations/a%2Fb/password'));
    bad(await gw.api('PUT', '/ocpp/v1/stations/AA:BB/password', { password: pw }), 'INVALID_PARAMETER');
    // a NUL never reaches the route (the JSON parser refuses \u0000): a NUL-free prefix
    // of a longer password is not what gets stored
    assert.equal((await gw.api('PUT', '/ocpp/v1/stations/SEC-2/password', { password: 'abcdefghijklmnop\u0000junk' })).status, 400);
    bad(await gw.api('PUT', '/ocpp/v1/stations/SEC-2/password', { password: 'x'.repeat(41) }));
    bad(await gw.api('PUT', '/ocpp/v1/stations/SEC-2/password', { password: 'x'.repeat(15) }));
    bad(await gw.api('PUT', '/ocpp/v1/stations/SEC-2/password', { password: 'sixteen-chars-\u00e9\u00e9' }));
    bad(await gw.api('PUT', '/ocpp/v1/stations/SEC-2/password', { password: 1234567890123456 }));
    bad(await gw.api('PUT', '/ocpp/v1/stations/SEC-2/password', {}), 'MISSING_PARAMETER');
    const rows = await gw.sql("select id from stations where id not in ('SEC-NUL')");
    assert.deepEqual(rows, [], 'nothing stored for the refused requests');
    r = await gw.api('PUT', `/ocpp/v1/stations/${'y'.repeat(48)}/password`, { password: 'x'.repeat(40) });
    assert.equal(r.status, 204, r.text);
  } finally {
    await gw.stop();
  }
});
