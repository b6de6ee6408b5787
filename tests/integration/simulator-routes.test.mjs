// simulator-routes.test.mjs — every /sim/v1 route and every fault type, each with the
// behaviour it promises as the gateway sees it: fleets and stations listed and deleted,
// connect / disconnect, plug / unplug / authorize, the report and its reset, and faults
// that drop the network, half-open the connection, delay, drop or refuse answers, send a
// malformed frame, skew the clock, reboot a fleet, fail a firmware install, fault and
// clear a connector.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './lib/harness.mjs';

const sim = (gw, method, path, body) => gw.api(method, `/sim/v1${path}`, body,
  { key: method === 'GET' ? gw.keys.read : gw.keys.operator });

describe('/sim/v1 routes and fault types', () => {
  let gw;
  const online = async (id) => (await gw.api('GET', `/api/v1/stations/${id}/liveness`)).body?.online === true;
  const connector = async (id, n) => (await sim(gw, 'GET', `/stations/${id}`)).body.connectors[n - 1];
  const messages = async (id, action) => {
    const r = await gw.api('GET', `/ocpp/v1/stations/${id}/messages?action=${action}&limit=100`);
    return r.body.items ?? r.body;
  };

  before(async () => {
    // a CALL whose answer a fault dropped holds the station's queue until call_timeout: short here
    gw = await startGateway({ plugins: ['ocpp16', 'ocpp201', 'headless', 'simulator'],
      config: { core: { auth_unknown: 'accept' }, ocpp: { call_timeout: 2000 } } });
    let r = await sim(gw, 'POST', '/fleets', { template: { protocol: 'ocpp1.6', connectors: 2, csms_url: gw.ws, heartbeat_s: 300 }, count: 3, id_prefix: 'R16-' });
    assert.equal(r.status, 201, r.text);
    r = await sim(gw, 'POST', '/fleets', { template: { protocol: 'ocpp2.0.1', connectors: 1, csms_url: gw.ws }, count: 1, id_prefix: 'R201-' });
    assert.equal(r.status, 201, r.text);
    for (const id of ['R16-0001', 'R16-0002', 'R16-0003', 'R201-0001']) await gw.waitFor(() => online(id), 15000, `${id} online`);
  });
  after(async () => { if (gw) assert.equal(await gw.stop(), 0); });

  test('fleets and stations: list, filter, delete', async () => {
    let r = await sim(gw, 'GET', '/fleets');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.items.map((f) => [f.fleet_id, f.stations]).sort(), [['fleet-1', 3], ['fleet-2', 1]]);
    r = await sim(gw, 'GET', '/stations?fleet=fleet-2');
    assert.deepEqual(r.body.items.map((s) => s.id), ['R201-0001']);
    assert.equal(r.body.count, 1);
    r = await sim(gw, 'GET', '/stations');
    assert.equal(r.body.count, 4);
    // a throwaway fleet: deleted whole, its station first alone
    r = await sim(gw, 'POST', '/fleets', { template: { protocol: 'ocpp1.6', csms_url: gw.ws }, count: 2, id_prefix: 'DEL-', connect: false });
    assert.equal(r.status, 201, r.text);
    const fleet = r.body.fleet_id;
    r = await sim(gw, 'DELETE', '/stations/DEL-0001');
    assert.equal(r.status, 204);
    assert.equal((await sim(gw, 'GET', '/stations/DEL-0001')).status, 404);
    r = await sim(gw, 'DELETE', `/fleets/${fleet}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { fleet_id: fleet, deleted: 1 });
    assert.equal((await sim(gw, 'DELETE', `/fleets/${fleet}`)).status, 404);
    assert.equal((await sim(gw, 'GET', '/stations/DEL-0002')).status, 404);
  });

  test('connect and disconnect', async () => {
    let r = await sim(gw, 'POST', '/stations/R16-0003/disconnect');
    assert.equal(r.status, 202, r.text);
    await gw.waitFor(async () => !(await online('R16-0003')), 10000, 'offline');
    r = await sim(gw, 'POST', '/stations/R16-0003/connect');
    assert.equal(r.status, 202, r.text);
    await gw.waitFor(() => online('R16-0003'), 10000, 'online again');
  });

  test('plug, unplug and authorize', async () => {
    let r = await sim(gw, 'POST', '/stations/R16-0001/connectors/2/plug');
    assert.equal(r.status, 200, r.text);
    assert.equal((await connector('R16-0001', 2)).plugged, true);
    await gw.waitFor(async () => JSON.stringify((await gw.api('GET', '/api/v1/stations/R16-0001')).body).includes('Preparing'), 10000, 'Preparing at the gateway');
    r = await sim(gw, 'POST', '/stations/R16-0001/connectors/2/unplug');
    assert.equal(r.status, 200, r.text);
    assert.equal((await connector('R16-0001', 2)).plugged, false);
    r = await sim(gw, 'POST', '/stations/R16-0001/connectors/1/authorize', { id_tag: 'SWIPE-1' });
    assert.equal(r.status, 200, r.text);
    await gw.waitFor(async () => JSON.stringify(await messages('R16-0001', 'Authorize')).includes('SWIPE-1'), 10000, 'Authorize at the gateway');
    assert.equal((await sim(gw, 'POST', '/stations/R16-0001/connectors/9/plug')).status, 404);
    assert.equal((await sim(gw, 'POST', '/stations/R16-0001/connectors/1/authorize', { id_tag: 5 })).status, 400);
  });

  test('the report, and a reset that answers the window it closes', async () => {
    let r = await sim(gw, 'GET', '/report');
    assert.equal(r.status, 200, r.text);
    assert.equal(typeof r.body, 'object');
    r = await sim(gw, 'POST', '/report/reset');
    assert.equal(r.status, 200, r.text);
    const after = await sim(gw, 'GET', '/report');
    assert.equal(after.status, 200);
  });

  test('faults: delay_responses, drop_responses and half_open make commands time out; clearing them restores answers', async () => {
    const reset = () => gw.api('POST', '/api/v1/stations/R16-0002/trigger?timeout=1', { message: 'Heartbeat' });
    assert.equal((await reset()).status, 200);
    for (const f of [{ type: 'delay_responses', ms: 2500 }, { type: 'drop_responses' }, { type: 'half_open' }]) {
      const r = await sim(gw, 'POST', '/stations/R16-0002/faults', f);
      assert.equal(r.status, 200, r.text);
      const t = await reset();
      assert.equal(t.status, 504, `${f.type}: ${t.text}`);
      assert.equal(t.body.code, 'STATION_TIMEOUT');
      assert.equal((await sim(gw, 'DELETE', '/stations/R16-0002/faults')).status, 200);
      if (f.type === 'half_open') { // its connection went silent: the station reconnects or is told again
        await sim(gw, 'POST', '/stations/R16-0002/disconnect');
        await sim(gw, 'POST', '/stations/R16-0002/connect');
        await gw.waitFor(() => online('R16-0002'), 15000, 'back online');
      }
      await gw.waitFor(async () => (await reset()).status === 200, 15000, `${f.type} cleared`);
    }
  });

  test('faults: callerror answers an action with a CALLERROR (502 at the API)', async () => {
    assert.equal((await sim(gw, 'POST', '/stations/R16-0002/faults', { type: 'callerror', action: 'TriggerMessage' })).status, 200);
    const r = await gw.api('POST', '/api/v1/stations/R16-0002/trigger?timeout=2', { message: 'Heartbeat' });
    assert.equal(r.status, 502, r.text);
    assert.equal(r.body.code, 'STATION_ERROR');
    await sim(gw, 'DELETE', '/stations/R16-0002/faults');
  });

  test('faults: network_drop disconnects, the station comes back after the delay', async () => {
    assert.equal((await sim(gw, 'POST', '/stations/R16-0003/faults', { type: 'network_drop', reconnect_after_ms: 1500 })).status, 200);
    await gw.waitFor(async () => !(await online('R16-0003')), 5000, 'dropped');
    await gw.waitFor(() => online('R16-0003'), 15000, 'reconnected');
  });

  test('faults: a malformed frame is refused by the gateway, which keeps serving the station', async () => {
    const before = (await messages('R16-0001', 'Heartbeat')).length;
    assert.equal((await sim(gw, 'POST', '/stations/R16-0001/faults', { type: 'malformed_frame' })).status, 200);
    const r = await gw.api('POST', '/api/v1/stations/R16-0001/trigger?timeout=2', { message: 'Heartbeat' });
    assert.equal(r.status, 200, r.text);
    await gw.waitFor(async () => (await messages('R16-0001', 'Heartbeat')).length > before, 10000, 'a heartbeat after');
    assert.ok(await online('R16-0001'));
  });

  test('faults: clock_skew stamps the station\'s messages off by that much', async () => {
    assert.equal((await sim(gw, 'POST', '/stations/R201-0001/faults', { type: 'clock_skew', seconds: -7200 })).status, 200);
    await sim(gw, 'POST', '/stations/R201-0001/connectors/1/plug');
    await gw.waitFor(async () => {
      const m = (await messages('R201-0001', 'StatusNotification')).map((x) => JSON.stringify(x)).join('\n');
      const stamps = [...m.matchAll(/"timestamp":"([^"]+)"/g)].map((x) => Date.parse(x[1]));
      return stamps.some((t) => Date.now() - t > 3600e3);
    }, 10000, 'a StatusNotification stamped two hours back');
    await sim(gw, 'POST', '/stations/R201-0001/connectors/1/unplug');
    await sim(gw, 'DELETE', '/stations/R201-0001/faults');
  });

  test('faults: connector_fault then clear_connector_fault', async () => {
    assert.equal((await sim(gw, 'POST', '/stations/R16-0002/faults', { type: 'connector_fault', connector: 2, error_code: 'HighTemperature' })).status, 200);
    assert.equal((await connector('R16-0002', 2)).status, 'Faulted');
    assert.equal((await sim(gw, 'POST', '/stations/R16-0002/faults', { type: 'connector_fault', connector: 7 })).status, 400);
    assert.equal((await sim(gw, 'POST', '/stations/R16-0002/faults', { type: 'clear_connector_fault', connector: 2 })).status, 200);
    assert.equal((await connector('R16-0002', 2)).status, 'Available');
    await gw.waitFor(async () => JSON.stringify(await messages('R16-0002', 'StatusNotification')).includes('HighTemperature'), 10000, 'the error code at the gateway');
  });

  test('faults: firmware_install_failure makes the next update fail at Installing', async () => {
    assert.equal((await sim(gw, 'POST', '/stations/R16-0001/faults', { type: 'firmware_install_failure' })).status, 200);
    const r = await gw.api('POST', '/api/v1/stations/R16-0001/firmware', { location: 'https://fw.example/broken-9.9.9.bin' });
    assert.equal(r.status, 200, r.text);
    await gw.waitFor(async () => {
      const fw = await gw.sql("select data->>'status' s from station_records where station_id = 'R16-0001' and kind = 'firmware_status' order by id");
      return fw.some((x) => x.s === 'InstallationFailed');
    }, 20000, 'InstallationFailed');
    assert.notEqual((await sim(gw, 'GET', '/stations/R16-0001')).body.firmware, 'broken-9.9.9.bin');
    await sim(gw, 'DELETE', '/stations/R16-0001/faults');
  });

  test('faults on a fleet: reboot every station (a reboot storm), each boots again', async () => {
    const boots = async (id) => (await messages(id, 'BootNotification')).length;
    const before = await Promise.all(['R16-0001', 'R16-0002', 'R16-0003'].map(boots));
    const r = await sim(gw, 'POST', '/fleets/fleet-1/faults', { type: 'reboot', spread_ms: 500 });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { stations: 3 });
    await gw.waitFor(async () => {
      const now = await Promise.all(['R16-0001', 'R16-0002', 'R16-0003'].map(boots));
      return now.every((n, i) => n > before[i]);
    }, 20000, 'every station booted again');
    assert.equal((await sim(gw, 'POST', '/fleets/fleet-9/faults', { type: 'reboot' })).status, 404);
    assert.equal((await sim(gw, 'POST', '/fleets/fleet-1/faults', { type: 'bogus' })).status, 400);
  });
});
