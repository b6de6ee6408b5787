// headless-ocpp.test.mjs — the OCPP server API /ocpp/v1: raw calls with validation and raw
// responses, the message log, configuration dump and restore, connection details.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRPCError } from 'ocpp-rpc';
import { startGateway } from './lib/harness.mjs';
import { connectStation, protocols, pluginFor } from './lib/stations.mjs';

function assertError(r, status, code, re) {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status} ${r.text}`);
  if (code) assert.equal(r.body?.code, code, r.text);
  if (re) assert.match(r.body.error, re);
}

/** A valid central-system CALL per protocol, and an invalid one. */
const RAW = {
  'ocpp1.6': { action: 'ChangeAvailability', ok: { connectorId: 0, type: 'Operative' }, bad: { connectorId: 'zero', type: 'Operative' }, op: 'availability' },
  'ocpp2.0.1': { action: 'ChangeAvailability', ok: { operationalStatus: 'Operative' }, bad: { operationalStatus: 'Sideways' }, op: 'availability' },
};

for (const protocol of protocols) {
  describe(`headless /ocpp/v1 with an ${protocol} station`, () => {
    let gw;
    let st;
    const sid = `OC-${protocol.replace(/\W/g, '')}`;
    const raw = RAW[protocol];

    before(async () => {
      gw = await startGateway({ plugins: [pluginFor(protocol), 'headless'], config: { [pluginFor(protocol)]: { unknown_stations: 'accept' } } });
      st = await connectStation(gw, { id: sid, protocol, connectors: 2 });
    });
    after(async () => {
      await st?.close().catch(() => {});
      await gw?.stop();
    });

    test('GET /ocpp/v1/stations lists connections with their details', async () => {
      const r = await gw.api('GET', '/ocpp/v1/stations', null, { key: gw.keys.read });
      assert.equal(r.status, 200, r.text);
      const me = r.body.items.find((s) => s.id === sid);
      assert.ok(me, r.text);
      assert.equal(me.protocol, protocol);
      assert.match(me.remote_addr || me.connection?.remote_addr || '', /127\.0\.0\.1/);
      assert.ok(me.connected_since);
      assert.equal(r.body.count, r.body.items.length);
    });

    test('raw calls: validated, raw response (Rejected is still 200), CALLERROR is 502', async () => {
      let r = await gw.api('POST', `/ocpp/v1/stations/${sid}/calls/${raw.action}`, raw.ok);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.status, 'Accepted');
      assert.deepEqual(r.body.response, { status: 'Accepted' });
      assert.deepEqual(st.last(raw.op), raw.ok);
      st.answer(raw.op, 'reject');
      r = await gw.api('POST', `/ocpp/v1/stations/${sid}/calls/${raw.action}`, raw.ok);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.response.status, 'Rejected');
      st.answer(raw.op, () => { throw createRPCError('NotSupported', 'not here'); });
      r = await gw.api('POST', `/ocpp/v1/stations/${sid}/calls/${raw.action}`, raw.ok);
      assertError(r, 502, 'STATION_ERROR', /NotSupported/);
      st.answer(raw.op, 'accept');
      const sent = st.received(raw.op).length;
      assertError(await gw.api('POST', `/ocpp/v1/stations/${sid}/calls/${raw.action}`, raw.bad), 400, 'VALIDATION_ERROR');
      assert.equal(st.received(raw.op).length, sent, 'an invalid payload is not sent');
      assertError(await gw.api('POST', `/ocpp/v1/stations/${sid}/calls/MakeCoffee`, {}), 400, 'UNKNOWN_ACTION');
      assertError(await gw.api('POST', `/ocpp/v1/stations/${sid}/calls/BootNotification`, {}), 400, 'UNKNOWN_ACTION', /sent by the station/);
      assertError(await gw.api('POST', `/ocpp/v1/stations/${sid}/calls/Bad-Name`, {}), 400, 'INVALID_PARAMETER');
      assertError(await gw.api('POST', `/ocpp/v1/stations/NOPE/calls/${raw.action}`, raw.ok), 404, 'STATION_NOT_FOUND');
      assertError(await gw.api('POST', `/ocpp/v1/stations/${sid}/calls/${raw.action}`, raw.ok, { key: gw.keys.read }), 403);
      // async works here too
      r = await gw.api('POST', `/ocpp/v1/stations/${sid}/calls/${raw.action}`, raw.ok, { headers: { Prefer: 'respond-async' } });
      assert.equal(r.status, 202, r.text);
      assert.ok(r.headers.get('location'));
    });

    test('the message log, filtered', async () => {
      let r = await gw.api('GET', `/ocpp/v1/stations/${sid}/messages`, null, { key: gw.keys.read });
      assert.equal(r.status, 200, r.text);
      assert.ok(r.body.items.length >= 2);
      const boot = r.body.items.find((m) => m.frame[0] === 2 && m.frame[2] === 'BootNotification');
      assert.ok(boot, r.text);
      assert.equal(boot.dir, 'in');
      r = await gw.api('GET', `/ocpp/v1/stations/${sid}/messages?action=BootNotification&dir=in&limit=5`);
      assert.ok(r.body.items.length >= 1 && r.body.items.every((m) => m.dir === 'in'), r.text);
      r = await gw.api('GET', `/ocpp/v1/stations/${sid}/messages?dir=out&limit=1`);
      assert.ok(r.body.items.length <= 1 && r.body.items.every((m) => m.dir === 'out'), r.text);
      assertError(await gw.api('GET', `/ocpp/v1/stations/${sid}/messages?dir=sideways`), 400, 'INVALID_ENUM', /dir must be one of: in, out/);
      assertError(await gw.api('GET', `/ocpp/v1/stations/${sid}/messages?limit=5000`), 400, 'INVALID_PARAMETER');
      assertError(await gw.api('GET', '/ocpp/v1/stations/NOPE/messages'), 404, 'STATION_NOT_FOUND');
    });

    test('configuration dump and restore', { skip: protocol !== 'ocpp1.6' && 'the 2.0.1 device model has no flat key list' }, async () => {
      let r = await gw.api('GET', `/ocpp/v1/stations/${sid}/configuration/dump`, null, { key: gw.keys.read });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.count, r.body.keys.length);
      assert.deepEqual(r.body.keys.find((k) => k.key === 'NumberOfConnectors'), { key: 'NumberOfConnectors', readonly: true, value: '2' });
      st.answer('set_configuration', (p, s) => {
        if (p.key === 'Boom') throw createRPCError('InternalError', 'boom');
        if (p.key === 'MeterValueSampleInterval') return { status: 'RebootRequired' };
        const k = s.config.find((c) => c.key === p.key);
        if (!k) return { status: 'NotSupported' };
        k.value = p.value;
        return { status: 'Accepted' };
      });
      r = await gw.api('POST', `/ocpp/v1/stations/${sid}/configuration/restore`, {
        keys: [
          { key: 'HeartbeatInterval', value: '90' },
          { key: 'NumberOfConnectors', value: '4' },
          { key: 'MeterValueSampleInterval', value: 30 },
          { key: 'NoSuchKey', value: 'x' },
          { key: 'Boom', value: '1' },
        ],
      });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.applied, ['HeartbeatInterval', 'MeterValueSampleInterval']);
      assert.deepEqual(r.body.reboot_required, ['MeterValueSampleInterval']);
      assert.deepEqual(r.body.readonly, ['NumberOfConnectors']);
      assert.deepEqual(r.body.rejected, [{ key: 'NoSuchKey', status: 'NotSupported' }]);
      assert.equal(r.body.failed.length, 1);
      assert.equal(r.body.failed[0].key, 'Boom');
      assert.ok(!st.received('set_configuration').some((p) => p.key === 'NumberOfConnectors'), 'read-only keys are not sent');
      assert.equal(st.config.find((k) => k.key === 'HeartbeatInterval').value, '90');
      st.answer('set_configuration', 'accept');
      assertError(await gw.api('POST', `/ocpp/v1/stations/${sid}/configuration/restore`, {}), 400, 'MISSING_PARAMETER', /keys/);
      assertError(await gw.api('POST', `/ocpp/v1/stations/${sid}/configuration/restore`, { keys: [{ key: 'A' }] }), 400, 'MISSING_PARAMETER', /keys\[0\]\.value/);
      assertError(await gw.api('POST', `/ocpp/v1/stations/${sid}/configuration/restore`, { keys: [{ key: 'AuthorizationKey', value: 'x' }] }, { key: gw.keys.operator }), 403, 'FORBIDDEN');
      assertError(await gw.api('POST', '/ocpp/v1/stations/NOPE/configuration/restore', { keys: [] }), 404, 'STATION_NOT_FOUND');
      assertError(await gw.api('GET', '/ocpp/v1/stations/NOPE/configuration/dump'), 404, 'STATION_NOT_FOUND');
    });
  });
}
