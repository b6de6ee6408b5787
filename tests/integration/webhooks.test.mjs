// webhooks.test.mjs — subscriptions, signatures, retries, order, durability across a
// SIGKILL, with a real HTTP receiver in this process and real stations (ocpp-rpc, strict).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac } from 'node:crypto';
import { RPCClient } from 'ocpp-rpc';
import { startGateway } from './lib/harness.mjs';

/** A receiver whose behaviour each test scripts: respond(req, body) -> status | 'hang'. */
async function receiver(respond = () => 200) {
  const got = [];
  const hanging = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const entry = { headers: req.headers, body, json: JSON.parse(body), at: Date.now() };
      got.push(entry);
      const status = r.respond(entry);
      if (status === 'hang') { hanging.push(res); return; }
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  const r = {
    got, respond,
    url: `http://127.0.0.1:${server.address().port}/hook`,
    close: () => { hanging.forEach((h) => h.destroy()); server.closeAllConnections(); return new Promise((res) => server.close(res)); },
  };
  return r;
}

function verify(entry, secret) {
  const ts = entry.headers['x-pipelet-timestamp'];
  const sig = entry.headers['x-pipelet-signature'];
  const want = 'v1=' + createHmac('sha256', secret).update(`${ts}.${entry.body}`).digest('hex');
  return sig === want;
}

async function station(gw, id) {
  const c = new RPCClient({ endpoint: gw.ws, identity: id, protocols: ['ocpp1.6'], strictMode: true, reconnect: false });
  await c.connect();
  await c.call('BootNotification', { chargePointVendor: 'Test', chargePointModel: 'WH-1' });
  return c;
}

// the receivers of these tests listen on 127.0.0.1: a private address
const local = { webhooks: { allow_private: 'yes' } };
const fastRetries = { webhooks: { allow_private: 'yes', base_delay_ms: 50, max_delay_ms: 200, timeout_ms: 500, max_attempts: 4, disable_after: 6 } };

test('CRUD with validation, scopes and 404s', async () => {
  const gw = await startGateway({ plugins: ['webhooks'], config: local });
  try {
    let r = await gw.api('POST', '/api/v1/webhooks', { url: 'ftp://x', events: ['*'] });
    assert.equal(r.status, 400); assert.equal(r.body.code, 'WEBHOOK_URL_INVALID');
    r = await gw.api('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:1/x' });
    assert.equal(r.status, 400); assert.equal(r.body.code, 'MISSING_PARAMETER');
    r = await gw.api('POST', '/api/v1/webhooks', '{"url":', {});
    assert.equal(r.status, 400); assert.equal(r.body.code, 'INVALID_JSON');
    r = await gw.api('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:1/x', events: ['*'] }, { key: gw.keys.operator });
    assert.equal(r.status, 403);
    r = await gw.api('GET', '/api/v1/webhooks', null, { key: '' });
    assert.equal(r.status, 401);
    r = await gw.api('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:1/x', events: ['transaction.*'], description: 'd', stations: ['CP1'] });
    assert.equal(r.status, 201);
    assert.match(r.body.secret, /^whsec_[0-9a-f]{48}$/);
    assert.equal(r.headers.get('location'), `/api/v1/webhooks/${r.body.id}`);
    const id = r.body.id;
    r = await gw.api('GET', `/api/v1/webhooks/${id}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.events, ['transaction.*']);
    assert.deepEqual(r.body.stations, ['CP1']);
    assert.equal(r.body.secret, undefined, 'the secret is shown once');
    r = await gw.api('PATCH', `/api/v1/webhooks/${id}`, { enabled: false });
    assert.equal(r.status, 200); assert.equal(r.body.enabled, false);
    assert.deepEqual(r.body.events, ['transaction.*'], 'PATCH keeps what it does not name');
    r = await gw.api('PUT', `/api/v1/webhooks/${id}`, { url: 'https://example.invalid/h', events: ['*'] });
    assert.equal(r.status, 200); assert.deepEqual(r.body.stations, []); assert.equal(r.body.enabled, true);
    r = await gw.api('GET', '/api/v1/webhooks');
    assert.equal(r.body.items.length, 1);
    r = await gw.api('DELETE', `/api/v1/webhooks/${id}`);
    assert.equal(r.status, 204);
    r = await gw.api('GET', `/api/v1/webhooks/${id}`);
    assert.equal(r.status, 404); assert.equal(r.body.code, 'WEBHOOK_NOT_FOUND');
    r = await gw.api('GET', '/api/v1/webhooks/not-a-uuid');
    assert.equal(r.status, 404);
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('test endpoint reports status and latency; signatures verify', async () => {
  const rx = await receiver(() => 200);
  const gw = await startGateway({ plugins: ['webhooks'], config: local });
  try {
    const c = await gw.api('POST', '/api/v1/webhooks', { url: rx.url, events: ['*'], secret: 'a-secret-of-16-chars!' });
    const r = await gw.api('POST', `/api/v1/webhooks/${c.body.id}/test`);
    assert.equal(r.status, 200);
    assert.equal(r.body.delivered, true);
    assert.equal(r.body.response_code, 200);
    assert.ok(r.body.latency_ms >= 0);
    assert.equal(rx.got.length, 1);
    const e = rx.got[0];
    assert.equal(e.json.type, 'webhook.test');
    assert.equal(e.headers['x-pipelet-event-id'], e.json.id);
    assert.ok(verify(e, 'a-secret-of-16-chars!'));
    assert.ok(!verify(e, 'another-secret-xxxxx'));
    rx.respond = () => 500;
    await new Promise((res) => setTimeout(res, 1100)); // one test per second
    const r2 = await gw.api('POST', `/api/v1/webhooks/${c.body.id}/test`);
    assert.equal(r2.body.delivered, false); assert.equal(r2.body.response_code, 500);
  } finally {
    await gw.stop(); await rx.close();
  }
});

test('events are delivered signed, retried with back-off, in order per station', async () => {
  let calls = 0;
  // the first two attempts of the first event fail: later events for that station wait
  const rx = await receiver(() => (++calls <= 2 ? 500 : 200));
  const gw = await startGateway({ plugins: ['ocpp16', 'webhooks'], config: fastRetries });
  try {
    const c = await gw.api('POST', '/api/v1/webhooks', { url: rx.url, events: ['station.*'], stations: ['WH-A'] });
    const secret = c.body.secret;
    const a = await station(gw, 'WH-A');
    const b = await station(gw, 'WH-B'); // filtered out
    await a.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing' });
    await a.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
    await gw.waitFor(() => rx.got.filter((e) => e.json.type === 'station.status').length >= 2 &&
      rx.got.some((e) => e.json.data && e.json.data.status === 'Available'), 15000, 'deliveries');
    assert.ok(rx.got.every((e) => e.json.station === 'WH-A'), 'station filter holds');
    assert.ok(rx.got.every((e) => verify(e, secret)), 'every delivery is signed');
    // order per station: first successful sequence is connected, ..., Preparing, Available
    const delivered = [];
    for (const e of rx.got) if (!delivered.some((d) => d.json.id === e.json.id)) delivered.push(e);
    const statuses = delivered.filter((e) => e.json.type === 'station.status').map((e) => e.json.data.status);
    assert.deepEqual(statuses.slice(-2), ['Preparing', 'Available']);
    assert.equal(rx.got[0].json.id, rx.got[1].json.id, 'a failed delivery is retried with the same event id');
    const d = await gw.api('GET', `/api/v1/webhooks/${c.body.id}/deliveries`);
    assert.equal(d.status, 200);
    const first = d.body.items[d.body.items.length - 1];
    assert.equal(first.status, 'delivered');
    assert.equal(first.attempts, 3);
    assert.deepEqual(first.attempt_log.map((x) => x.status_code), [500, 500, 200]);
    await a.close(); await b.close();
  } finally {
    await gw.stop(); await rx.close();
  }
});

test('timeouts and refused connections are retried then failed; a failing subscription is disabled', async () => {
  const rx = await receiver(() => 'hang');
  const gw = await startGateway({ plugins: ['ocpp16', 'webhooks'], config: fastRetries });
  try {
    const slow = await gw.api('POST', '/api/v1/webhooks', { url: rx.url, events: ['station.connected'] });
    const dead = await gw.api('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:1/nothing', events: ['station.connected'] });
    const s = await station(gw, 'WH-T');
    await gw.waitFor(async () => {
      const r = await gw.api('GET', `/api/v1/webhooks/${dead.body.id}/deliveries`);
      return r.body.items.length && r.body.items[0].status === 'failed';
    }, 20000, 'refused delivery to fail');
    let r = await gw.api('GET', `/api/v1/webhooks/${dead.body.id}/deliveries`);
    assert.equal(r.body.items[0].attempts, 4);
    assert.match(r.body.items[0].error, /connect|refused/i);
    await gw.waitFor(async () => {
      const x = await gw.api('GET', `/api/v1/webhooks/${slow.body.id}/deliveries`);
      return x.body.items.length && x.body.items[0].status === 'failed';
    }, 20000, 'timed-out delivery to fail');
    r = await gw.api('GET', `/api/v1/webhooks/${slow.body.id}/deliveries`);
    assert.match(r.body.items[0].error, /timeout/i);
    // redeliver puts it back in the queue
    const red = await gw.api('POST', `/api/v1/webhooks/${dead.body.id}/deliveries/${r.body.items[0].id}/redeliver`);
    assert.equal(red.status, 404, 'a delivery of another webhook is not found');
    const mine = (await gw.api('GET', `/api/v1/webhooks/${dead.body.id}/deliveries`)).body.items[0];
    const red2 = await gw.api('POST', `/api/v1/webhooks/${dead.body.id}/deliveries/${mine.id}/redeliver`);
    assert.equal(red2.status, 202);
    // keep failing: after disable_after consecutive failures the subscription is disabled
    await gw.waitFor(async () => {
      const x = await gw.api('GET', `/api/v1/webhooks/${dead.body.id}`);
      return x.body.enabled === false;
    }, 20000, 'subscription disabled');
    const x = await gw.api('GET', `/api/v1/webhooks/${dead.body.id}`);
    assert.match(x.body.disabled_reason, /disabled after 6 consecutive failed deliveries/);
    await s.close();
  } finally {
    await gw.stop(); await rx.close();
  }
});

test('a gateway killed mid-delivery delivers everything after a restart (same event ids)', async () => {
  let mode = 'hang';
  const rx = await receiver(() => mode);
  const gw = await startGateway({ plugins: ['ocpp16', 'webhooks'], config: { webhooks: { allow_private: 'yes', base_delay_ms: 50, max_delay_ms: 100, timeout_ms: 20000 } } });
  try {
    await gw.api('POST', '/api/v1/webhooks', { url: rx.url, events: ['station.status'] });
    const s = await station(gw, 'WH-K');
    const want = ['Preparing', 'Charging', 'SuspendedEV', 'Finishing', 'Available'];
    for (const st of want) await s.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: st });
    await gw.waitFor(async () => (await gw.sql("select count(*)::int n from webhook_deliveries"))[0].n === 5, 10000, 'outbox rows');
    await gw.waitFor(() => rx.got.length >= 1, 10000, 'first delivery attempt');
    await s.close().catch(() => {});
    assert.equal(await gw.kill(), 'signal SIGKILL');
    mode = 200;
    await gw.start();
    await gw.waitFor(async () => (await gw.sql("select count(*)::int n from webhook_deliveries where status = 'delivered'"))[0].n === 5, 20000, 'all delivered after restart');
    const ids = [...new Set(rx.got.map((e) => e.json.id))];
    assert.equal(ids.length, 5, 'no event lost; duplicates share their event id');
    const order = [];
    for (const e of rx.got) if (e.json.type === 'station.status' && !order.includes(e.json.data.status)) order.push(e.json.data.status);
    assert.deepEqual(order, want);
  } finally {
    await gw.stop(); await rx.close();
  }
});

test('a command sent with Prefer: respond-async reports its outcome as a command.completed webhook', async () => {
  const rx = await receiver(() => 200);
  const gw = await startGateway({ plugins: ['ocpp16', 'headless', 'webhooks'], config: local });
  try {
    const hook = await gw.api('POST', '/api/v1/webhooks', { url: rx.url, events: ['command.completed'] });
    const c = new RPCClient({ endpoint: gw.ws, identity: 'WH-CMD', protocols: ['ocpp1.6'], strictMode: true, reconnect: false });
    c.handle('Reset', () => ({ status: 'Accepted' }));
    await c.connect();
    await c.call('BootNotification', { chargePointVendor: 'Test', chargePointModel: 'WH-1' });
    const r = await gw.api('POST', '/api/v1/stations/WH-CMD/reset', { type: 'Soft' }, { headers: { Prefer: 'respond-async' } });
    assert.equal(r.status, 202, r.text);
    const id = r.body.command_id;
    assert.equal(r.headers.get('location'), `/api/v1/commands/${id}`);
    await gw.waitFor(() => rx.got.some((e) => e.json.type === 'command.completed'), 10000, 'command.completed delivery');
    const e = rx.got.find((x) => x.json.type === 'command.completed');
    assert.ok(verify(e, hook.body.secret));
    assert.equal(e.json.station, 'WH-CMD');
    assert.equal(e.json.data.id, id);
    assert.match(e.json.data.status, /accepted/i);
    await c.close();
  } finally {
    await gw.stop(); await rx.close();
  }
});

test('overlapping event patterns deliver each event once per subscription; a subscription added or removed changes what is delivered at once', async () => {
  const rx = await receiver();
  const gw = await startGateway({ plugins: ['ocpp16', 'webhooks'], config: local });
  try {
    // "station.*" covers "station.status"; the gateway listens to the bus by the
    // subscriptions' topics, and an event matching both patterns must still come once
    const a = await gw.api('POST', '/api/v1/webhooks', { url: `${rx.url}?s=a`, events: ['station.*', 'station.status'] });
    const b = await gw.api('POST', '/api/v1/webhooks', { url: `${rx.url}?s=b`, events: ['station.status'] });
    assert.equal(a.status, 201); assert.equal(b.status, 201);
    const c = await station(gw, 'WH-OVL');
    await c.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing' });
    await gw.waitFor(() => rx.got.filter((e) => e.json.type === 'station.status').length >= 2, 10000, 'two deliveries');
    await new Promise((r) => setTimeout(r, 500)); // a duplicate would have come by now
    const ids = rx.got.filter((e) => e.json.type === 'station.status').map((e) => e.json.id);
    assert.equal(ids.length, 2, 'one delivery per subscription');
    assert.equal(ids[0], ids[1], 'the same event to both');
    // a subscription on a topic nobody named before gets its events from then on
    const d = await gw.api('POST', '/api/v1/webhooks', { url: rx.url, events: ['transaction.started'] });
    assert.equal(d.status, 201);
    await c.call('StartTransaction', { connectorId: 1, idTag: 'T1', meterStart: 0, timestamp: new Date().toISOString() });
    await gw.waitFor(() => rx.got.some((e) => e.json.type === 'transaction.started'), 10000, 'transaction.started');
    // and none after all subscriptions are gone
    for (const s of [a, b, d]) assert.equal((await gw.api('DELETE', `/api/v1/webhooks/${s.body.id}`)).status, 204);
    const before = rx.got.length;
    await c.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(rx.got.length, before);
    await c.close();
  } finally {
    await gw.stop(); await rx.close();
  }
});
