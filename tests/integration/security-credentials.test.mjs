// security-credentials.test.mjs — charger credentials and who may see or set them: the
// default unknown-station policy, the handshake while the database was never reachable,
// admin scope for every raw CALL that sets a credential, and "***" wherever a read key
// or a webhook would otherwise see one.  Real daemon, real stations (ocpp-rpc, strict).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { RPCClient } from 'ocpp-rpc';
import { startGateway, createDatabase } from './lib/harness.mjs';
import { connectStation } from './lib/stations.mjs';

/** The HTTP status of a handshake for id (101 when it opened), optionally with Basic auth. */
async function handshake(gw, id, password) {
  const sock = net.connect(Number(new URL(gw.ws).port), '127.0.0.1');
  await new Promise((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
  let buf = '';
  sock.on('data', (d) => { buf += d.toString('latin1'); });
  sock.on('error', () => {});
  const auth = password === undefined ? '' : `Authorization: Basic ${Buffer.from(`${id}:${password}`).toString('base64')}\r\n`;
  sock.write(`GET /ocpp/${id} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n${auth}\r\n`);
  await gw.waitFor(() => buf.includes('\r\n\r\n'), 5000, `answer for ${id}`);
  sock.destroy();
  return Number(buf.match(/^HTTP\/1\.1 (\d+)/)[1]);
}

test('unknown stations: reject unless the configuration says otherwise; a bad value stops the plugin', async () => {
  const gw = await startGateway({ plugins: ['ocpp16', 'ocpp201'], config: { ocpp16: { unknown_stations: null }, ocpp201: { unknown_stations: null } } });
  try {
    assert.equal(await handshake(gw, 'NEVER-SEEN'), 404, 'the built-in default is reject');
    assert.match(gw.logs(), /refusing station NEVER-SEEN from 127\.0\.0\.1:\d+: unknown station/);
  } finally {
    await gw.stop();
  }
  for (const value of ['Accept', 'yes', '']) {
    await assert.rejects(startGateway({ plugins: ['ocpp16'], config: { ocpp16: { unknown_stations: `"${value}"` } } }),
      (e) => e.message.includes(`unknown_stations = '${value}' is not valid: use accept, pending or reject`));
  }
});

test('the database down since start: no station gets in, with or without a password', async () => {
  const database = createDatabase();
  const gw = await startGateway({ plugins: ['ocpp16', 'headless'], database, config: { ocpp16: { unknown_stations: 'accept' } } });
  try {
    const r = await gw.api('PUT', '/ocpp/v1/stations/SEC-DB/password', { password: 'a-very-secret-pass' });
    assert.equal(r.status, 204, r.text);
    assert.equal(await handshake(gw, 'SEC-DB'), 401, 'with the database up, the password is required');
  } finally {
    await gw.stop();
  }
  const down = await startGateway({ plugins: ['ocpp16'], database: 'postgresql:///nothing?host=/nonexistent-dir',
    config: { ocpp16: { unknown_stations: 'accept' }, database: { connect_wait: 200 } } });
  try {
    assert.equal(await handshake(down, 'SEC-DB'), 503, 'no password: today accepted as "no password set"');
    assert.equal(await handshake(down, 'SEC-DB', 'wrong-password-123'), 503, 'a wrong password');
    assert.equal(await handshake(down, 'ANYONE'), 503, 'even under accept: whether it has a password is unknown');
    assert.match(down.logs(), /refusing station SEC-DB from 127\.0\.0\.1:\d+: credentials not loaded yet/);
  } finally {
    await down.stop();
  }
});

/** An HTTP receiver for webhook deliveries. */
async function receiver() {
  const got = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { got.push(body); res.writeHead(200); res.end('ok'); });
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  return { got, url: `http://127.0.0.1:${server.address().port}/hook`, close: () => { server.closeAllConnections(); return new Promise((res) => server.close(res)); } };
}

const SECRET16 = 'deadbeefdeadbeefdeadbeef';
const SECRET16B = 'cafebabecafebabecafebabe';
const SECRET201 = 'basic-auth-secret-201-xyz';
const NETWORK = { configurationSlot: 1, connectionData: { ocppVersion: 'OCPP20', ocppTransport: 'JSON', ocppCsmsUrl: 'wss://elsewhere.example/ocpp', messageTimeout: 30, securityProfile: 1, ocppInterface: 'Wired0' } };
const basicAuthVar = (value) => ({ setVariableData: [{ attributeValue: value, component: { name: 'SecurityCtrlr' }, variable: { name: 'BasicAuthPassword' } }] });

test('credentials: admin scope to set them, "***" in the message log, commands and events', async () => {
  const rx = await receiver();
  const gw = await startGateway({ plugins: ['ocpp16', 'ocpp201', 'headless', 'webhooks'],
    config: { ocpp16: { unknown_stations: 'accept' }, ocpp201: { unknown_stations: 'accept' }, webhooks: { allow_private: 'yes' } } });
  let st16;
  let st201;
  try {
    let r = await gw.api('POST', '/api/v1/webhooks', { url: rx.url, events: ['ocpp.message', 'command.completed'] });
    assert.equal(r.status, 201, r.text);
    st16 = await connectStation(gw, { id: 'SEC16', protocol: 'ocpp1.6' });
    st201 = await connectStation(gw, { id: 'SEC201', protocol: 'ocpp2.0.1' });
    st16.answer('set_configuration', () => ({ status: 'Accepted' }));
    const op = { key: gw.keys.operator };
    const forbidden = (res) => { assert.equal(res.status, 403, res.text); assert.equal(res.body.code, 'FORBIDDEN', res.text); };

    // an operator key sets no credential, whichever path it takes
    forbidden(await gw.api('POST', '/ocpp/v1/stations/SEC16/calls/ChangeConfiguration', { key: 'AuthorizationKey', value: SECRET16 }, op));
    forbidden(await gw.api('POST', '/ocpp/v1/stations/SEC16/calls/ChangeConfiguration', { key: 'authorizationkey', value: SECRET16 }, op));
    forbidden(await gw.api('POST', '/ocpp/v1/stations/SEC201/calls/SetVariables', basicAuthVar(SECRET201), op));
    forbidden(await gw.api('POST', '/ocpp/v1/stations/SEC201/calls/SetNetworkProfile',
      { ...NETWORK, connectionData: { ...NETWORK.connectionData, basicAuthPassword: SECRET201 } }, op));
    forbidden(await gw.api('POST', '/ocpp/v1/stations/SEC201/calls/SetNetworkProfile', NETWORK, op));
    forbidden(await gw.api('PUT', '/api/v1/stations/SEC16/configuration/AuthorizationKey', { value: SECRET16 }, op));
    assert.equal(st16.received('set_configuration').length, 0, 'nothing was sent');
    assert.equal(st201.received('set_configuration').length, 0, 'nothing was sent');
    r = await gw.api('POST', '/ocpp/v1/stations/SEC16/calls/ChangeConfiguration', { key: 'HeartbeatInterval', value: '60' }, op);
    assert.equal(r.status, 200, `other keys stay operator business: ${r.text}`);

    // an admin key sets them, and the station gets the real values
    r = await gw.api('POST', '/ocpp/v1/stations/SEC16/calls/ChangeConfiguration', { key: 'AuthorizationKey', value: SECRET16 });
    assert.equal(r.status, 200, r.text);
    const rawCmd = r.body.command_id;
    assert.equal(st16.last('set_configuration').value, SECRET16);
    r = await gw.api('PUT', '/api/v1/stations/SEC16/configuration/AuthorizationKey', { value: SECRET16B });
    assert.equal(r.status, 200, r.text);
    const neutralCmd = r.body.command_id;
    assert.equal(st16.last('set_configuration').value, SECRET16B);
    r = await gw.api('POST', '/ocpp/v1/stations/SEC201/calls/SetVariables', basicAuthVar(SECRET201));
    assert.equal(r.status, 200, r.text);
    assert.equal(st201.last('set_configuration').setVariableData[0].attributeValue, SECRET201);

    const leaks = (text) => [SECRET16, SECRET16B, SECRET201].filter((s) => text.includes(s));
    const read = { key: gw.keys.read };
    for (const id of ['SEC16', 'SEC201']) {
      r = await gw.api('GET', `/ocpp/v1/stations/${id}/messages`, null, read);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(leaks(r.text), [], `message log of ${id}`);
    }
    r = await gw.api('GET', '/ocpp/v1/stations/SEC16/messages?action=ChangeConfiguration&dir=out', null, read);
    assert.ok(r.body.items.some((m) => m.frame[3].key === 'AuthorizationKey' && m.frame[3].value === '***'), r.text);
    for (const id of [rawCmd, neutralCmd]) {
      r = await gw.api('GET', `/api/v1/commands/${id}`, null, read);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(leaks(r.text), [], `command ${id}`);
    }
    r = await gw.api('GET', `/api/v1/commands/${neutralCmd}`, null, read);
    assert.equal(r.body.args.value, '***');
    r = await gw.api('GET', '/api/v1/commands?limit=50', null, read);
    assert.deepEqual(leaks(r.text), [], 'command list');
    await gw.waitFor(async () => (await gw.sql(`select id from commands where id in ('${rawCmd}', '${neutralCmd}')`)).length === 2, 10000, 'commands stored');
    assert.deepEqual(leaks(JSON.stringify(await gw.sql('select args, result from commands'))), [], 'commands table');

    await gw.waitFor(() => rx.got.filter((b) => b.includes('"command.completed"')).length >= 4, 15000, 'command.completed deliveries');
    await gw.waitFor(() => rx.got.some((b) => b.includes('"ocpp.message"') && b.includes('SetVariables')), 15000, 'ocpp.message deliveries');
    assert.deepEqual(leaks(rx.got.join('\n')), [], 'webhook deliveries');
    assert.ok(rx.got.some((b) => b.includes('"ocpp.message"') && b.includes('AuthorizationKey') && b.includes('***')));
  } finally {
    await st16?.close().catch(() => {});
    await st201?.close().catch(() => {});
    await gw.stop();
    await rx.close();
  }
});
