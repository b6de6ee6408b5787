// message-log.test.mjs — /ocpp/v1/stations/{id}/messages is the gateway's view of a
// station: with the simulator in the same process, each frame is there once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './lib/harness.mjs';

test('the message log holds each frame of an in-process simulated station once, as the gateway saw it', async () => {
  const gw = await startGateway({ plugins: ['ocpp16', 'headless', 'simulator'] });
  try {
    const r = await gw.api('POST', '/sim/v1/fleets', { template: { protocol: 'ocpp1.6' }, count: 1, id_prefix: 'LOG-' });
    assert.equal(r.status, 201, r.text);
    const id = r.body.stations[0].id || r.body.stations[0];
    let log;
    await gw.waitFor(async () => {
      log = (await gw.api('GET', `/ocpp/v1/stations/${id}/messages?limit=50`)).body;
      const items = Array.isArray(log) ? log : log?.messages || log?.items || [];
      return items.some((m) => m.dir === 'out' && m.frame?.[0] === 3);
    }, 10000, 'boot answered');
    const items = Array.isArray(log) ? log : log.messages || log.items;
    const boots = items.filter((m) => m.frame?.[0] === 2 && m.frame?.[2] === 'BootNotification');
    assert.equal(boots.length, 1, JSON.stringify(items.slice(0, 6)));
    assert.equal(boots[0].dir, 'in', 'the station\'s CALL came in to the gateway');
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('the message log stays within [core] message_log_memory: a full budget overwrites a station\'s oldest messages', async () => {
  const gw = await startGateway({ plugins: ['ocpp16', 'headless'], config: { core: { message_log: 200, message_log_memory: 1 } } });
  try {
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(`${gw.ws}/MEM-1`, 'ocpp1.6');
    await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
    const answers = new Map();
    ws.on('message', (d) => { const m = JSON.parse(d); answers.set(m[1], m); });
    const call = async (id, action, payload) => {
      ws.send(JSON.stringify([2, id, action, payload]));
      await gw.waitFor(() => answers.has(id), 5000, `answer to ${id}`);
    };
    await call('boot', 'BootNotification', { chargePointVendor: 'V', chargePointModel: 'M' });
    // 100 DataTransfers of ~16 KB each, and their answers: 200 messages, 1.6 MB of
    // frames, past a budget of 1 MiB
    const data = 'x'.repeat(16000);
    for (let i = 0; i < 100; i++) await call(`d${i}`, 'DataTransfer', { vendorId: 'V', messageId: `m${i}`, data });
    const log = (await gw.api('GET', '/ocpp/v1/stations/MEM-1/messages?limit=1000')).body;
    const items = Array.isArray(log) ? log : log.messages || log.items;
    const metric = (name) => Number((gw.metricsText || '').match(new RegExp(`^${name} (\\S+)`, 'm'))?.[1]);
    gw.metricsText = (await gw.api('GET', '/metrics')).text;
    const bytes = metric('pipelet_message_log_bytes');
    assert.ok(bytes > 0 && bytes <= 1.1 * 1024 * 1024, `message log bytes ${bytes}`);
    // the newest messages are kept, the oldest overwritten
    assert.ok(items.length < 160, `kept ${items.length}`);
    assert.ok(items.length >= 100, `kept ${items.length}`);
    const last = items[items.length - 1];
    assert.equal(last.frame[1], 'd99');
    assert.ok(!items.some((m) => m.frame?.[2] === 'BootNotification'), 'the boot was overwritten');
    ws.close();
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});
