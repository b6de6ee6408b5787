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
