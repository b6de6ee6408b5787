// headless.test.mjs — the REST gateway /api/v1 against real stations (ocpp-rpc strict-mode
// clients) and a real PostgreSQL: every route, every error status, sync and async commands.
// Protocol-neutral: runs once per protocol in HEADLESS_PROTOCOLS (default ocpp1.6) through
// the station driver of lib/stations.mjs.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './lib/harness.mjs';
import { connectStation, protocols, pluginFor } from './lib/stations.mjs';

const json = { 'Content-Type': 'application/json' };

function assertError(r, status, code, re) {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status} ${r.text}`);
  assert.equal(typeof r.body?.error, 'string', `error body: ${r.text}`);
  if (code) assert.equal(r.body.code, code, r.text);
  if (re) assert.match(r.body.error, re);
}

for (const protocol of protocols) {
  describe(`headless /api/v1 with an ${protocol} station`, () => {
    let gw;
    let st; // the main station, 2 connectors
    const sid = `HL-${protocol.replace(/\W/g, '')}`;

    before(async () => {
      gw = await startGateway({
        plugins: [pluginFor(protocol), 'headless'],
        config: { [pluginFor(protocol)]: { unknown_stations: 'accept' } },
      });
      st = await connectStation(gw, { id: sid, protocol, connectors: 2, vendor: 'Acme' });
      await gw.waitFor(async () => (await gw.api('GET', `/api/v1/stations/${sid}`)).body?.evses?.length >= 2, 10000, 'station snapshot with 2 evses');
    });
    after(async () => {
      await st?.close().catch(() => {});
      await gw?.stop();
    });

    test('auth: 401 without or with a wrong key, 403 for a read key on a command', async () => {
      let r = await gw.api('GET', '/api/v1/stations', null, { key: '' });
      assertError(r, 401);
      r = await gw.api('GET', '/api/v1/stations', null, { key: 'nope' });
      assertError(r, 401);
      r = await gw.api('POST', `/api/v1/stations/${sid}/reset`, {}, { key: gw.keys.read });
      assertError(r, 403);
      r = await gw.api('GET', '/api/v1/stations', null, { key: gw.keys.read });
      assert.equal(r.status, 200);
      r = await gw.api('POST', `/api/v1/stations/${sid}/reset`, { type: 'Soft' }, { key: gw.keys.operator });
      assert.equal(r.status, 200, r.text);
      r = await gw.api('GET', '/api/v1/system/routes', null, { key: gw.keys.operator });
      assertError(r, 403);
    });

    test('GET /stations merges the DB with live snapshots; filters and pagination', async () => {
      const other = await connectStation(gw, { id: `${sid}-B`, protocol, connectors: 1, vendor: 'Other' });
      try {
        let r = await gw.api('GET', '/api/v1/stations');
        assert.equal(r.status, 200);
        const mine = r.body.items.find((s) => s.id === sid);
        assert.ok(mine, r.text);
        assert.equal(mine.online, true);
        assert.equal(mine.status, 'Available');
        assert.equal(mine.protocol, protocol);
        assert.equal(mine.connector_count, 2);
        assert.equal(mine.password_hash, undefined);
        r = await gw.api('GET', '/api/v1/stations?vendor=acme');
        assert.deepEqual(r.body.items.map((s) => s.id), [sid]);
        r = await gw.api('GET', `/api/v1/stations?protocol=${encodeURIComponent(protocol)}&online=true`);
        assert.ok(r.body.items.length >= 2);
        r = await gw.api('GET', '/api/v1/stations?online=false');
        assert.ok(!r.body.items.some((s) => s.id === sid));
        r = await gw.api('GET', '/api/v1/stations?status=Available');
        assert.ok(r.body.items.some((s) => s.id === sid));
        // pagination: one per page, cursor chains to the end
        const seen = [];
        let cursor = null;
        for (let i = 0; i < 10; i++) {
          r = await gw.api('GET', `/api/v1/stations?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
          assert.equal(r.status, 200, r.text);
          seen.push(...r.body.items.map((s) => s.id));
          cursor = r.body.next_cursor;
          if (!cursor) break;
        }
        assert.ok(seen.includes(sid) && seen.includes(`${sid}-B`), seen.join());
        assert.equal(new Set(seen).size, seen.length, 'no station twice');
        // validation
        assertError(await gw.api('GET', '/api/v1/stations?status=Sleeping'), 400, 'INVALID_ENUM', /status must be one of: Available/);
        assertError(await gw.api('GET', '/api/v1/stations?online=maybe'), 400, 'INVALID_ENUM', /online/);
        assertError(await gw.api('GET', '/api/v1/stations?limit=0'), 400, 'INVALID_PARAMETER', /limit/);
        assertError(await gw.api('GET', '/api/v1/stations?limit=501'), 400, 'INVALID_PARAMETER', /limit/);
        assertError(await gw.api('GET', '/api/v1/stations?cursor=!!!'), 400, 'INVALID_PARAMETER', /cursor/);
        // compact
        r = await gw.api('GET', '/api/v1/stations/compact');
        assert.equal(r.status, 200);
        assert.deepEqual(r.body.find((s) => s.id === sid), { id: sid, online: true, status: 'Available', connectors: 2, protocol });
      } finally {
        await other.close();
      }
      // the other station is now offline but still listed
      await gw.waitFor(async () => {
        const r = await gw.api('GET', `/api/v1/stations/${sid}-B/liveness`);
        return r.status === 200 && r.body.online === false;
      });
      const r = await gw.api('GET', '/api/v1/stations/compact?online=false');
      assert.equal(r.body.find((s) => s.id === `${sid}-B`)?.status, 'Offline');
    });

    test('GET /stations/{id} and /liveness; 404 for an unknown station', async () => {
      let r = await gw.api('GET', `/api/v1/stations/${sid}`);
      assert.equal(r.status, 200);
      assert.equal(r.body.id, sid);
      assert.equal(r.body.vendor, 'Acme');
      assert.ok(Array.isArray(r.body.active_transactions));
      assert.equal(r.body.evses.filter((e) => e.evse > 0).length, 2);
      r = await gw.api('GET', `/api/v1/stations/${sid}/liveness`);
      assert.equal(r.status, 200);
      assert.equal(r.body.online, true);
      assert.equal(typeof r.body.seconds_since_seen, 'number');
      assert.ok(r.body.connected_since);
      assertError(await gw.api('GET', '/api/v1/stations/NOPE'), 404, 'STATION_NOT_FOUND');
      assertError(await gw.api('GET', '/api/v1/stations/NOPE/liveness'), 404, 'STATION_NOT_FOUND');
    });

    test('reset: accepted, rejected by the station (409 with payload), validation, 404', async () => {
      let r = await gw.api('POST', `/api/v1/stations/${sid}/reset`, { type: 'Hard' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.status, 'Accepted');
      assert.match(r.body.command_id, /^[0-9a-f-]{36}$/);
      assert.equal(st.last('reset').type, protocol === 'ocpp1.6' ? 'Hard' : 'Immediate'); // 2.0.1 has Immediate/OnIdle
      st.answer('reset', 'reject');
      r = await gw.api('POST', `/api/v1/stations/${sid}/reset`, {});
      assertError(r, 409, 'REJECTED_BY_STATION');
      assert.equal(r.body.result.status, 'Rejected');
      assert.ok(r.body.command_id);
      st.answer('reset', 'accept');
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/reset`, { type: 'Medium' }), 400, 'INVALID_ENUM', /type must be one of: Soft, Hard/);
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/reset`, '[1,2]'), 400, 'INVALID_BODY');
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/reset`, '{"type":'), 400, 'INVALID_JSON');
      assertError(await gw.api('POST', '/api/v1/stations/NOPE/reset', {}), 404, 'STATION_NOT_FOUND');
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/reset?timeout=0`, {}), 400, 'INVALID_PARAMETER', /timeout/);
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/reset?timeout=301`, {}), 400, 'INVALID_PARAMETER', /timeout/);
    });

    test('async: Prefer: respond-async -> 202 + Location, then GET /commands/{id}', async () => {
      const r = await gw.api('POST', `/api/v1/stations/${sid}/reset`, { type: 'Soft' }, { headers: { Prefer: 'respond-async' } });
      assert.equal(r.status, 202, r.text);
      assert.equal(r.body.status, 'pending');
      assert.equal(r.headers.get('location'), `/api/v1/commands/${r.body.command_id}`);
      let cmd;
      await gw.waitFor(async () => {
        cmd = await gw.api('GET', r.headers.get('location'));
        return cmd.status === 200 && cmd.body.status !== 'pending';
      });
      assert.equal(cmd.body.id, r.body.command_id);
      assert.equal(cmd.body.station, sid);
      assert.match(String(cmd.body.status), /accepted/i);
      const list = await gw.api('GET', `/api/v1/commands?station=${sid}&limit=50`);
      assert.equal(list.status, 200);
      assert.ok(list.body.items.some((c) => c.id === r.body.command_id));
      assertError(await gw.api('GET', '/api/v1/commands/00000000-0000-4000-8000-000000000000'), 404, 'COMMAND_NOT_FOUND');
      assertError(await gw.api('GET', '/api/v1/commands/not-a-uuid'), 404, 'COMMAND_NOT_FOUND');
      assertError(await gw.api('GET', '/api/v1/commands?limit=-1'), 400, 'INVALID_PARAMETER');
    });

    test('a CALLERROR is 502 STATION_ERROR', async () => {
      st.answer('clear_cache', 'error');
      const r = await gw.api('POST', `/api/v1/stations/${sid}/clear-cache`);
      assertError(r, 502, 'STATION_ERROR');
      st.answer('clear_cache', 'accept');
      assert.equal((await gw.api('POST', `/api/v1/stations/${sid}/clear-cache`)).status, 200);
    });

    test('availability, unlock (404 beyond known connectors), disconnect validation', async () => {
      let r = await gw.api('POST', `/api/v1/stations/${sid}/availability`, { available: false, connector: 1 });
      assert.equal(r.status, 200, r.text);
      const a = st.last('availability');
      assert.ok(a, 'station received ChangeAvailability');
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/availability`, {}), 400, 'MISSING_PARAMETER', /available/);
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/availability`, { available: 'no' }), 400, 'INVALID_PARAMETER', /available must be a boolean/);
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/availability`, { type: 'Sideways' }), 400, 'INVALID_ENUM', /Operative, Inoperative/);
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/availability`, { available: true, connector: -1 }), 400, 'INVALID_PARAMETER', /connector must be a non-negative integer/);
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/availability`, { available: true, connector: 9 }), 404, 'CONNECTOR_NOT_FOUND');
      r = await gw.api('POST', `/api/v1/stations/${sid}/availability`, { type: 'Operative' });
      assert.equal(r.status, 200, r.text);

      r = await gw.api('POST', `/api/v1/stations/${sid}/connectors/1/unlock`);
      assert.equal(r.status, 200, r.text);
      assert.equal(st.received('unlock').length, 1);
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/connectors/5/unlock`), 404, 'CONNECTOR_NOT_FOUND');
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/connectors/0/unlock`), 400, 'INVALID_PARAMETER', /connector must be a positive integer/);
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/connectors/x/unlock`), 400, 'INVALID_PARAMETER');
      st.answer('unlock', 'reject');
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/connectors/1/unlock`), 409, 'REJECTED_BY_STATION');
      st.answer('unlock', 'accept');
    });

    test('trigger, data transfer, firmware, diagnostics', async () => {
      let r = await gw.api('POST', `/api/v1/stations/${sid}/trigger`, { message: 'Heartbeat' });
      assert.equal(r.status, 200, r.text);
      assert.equal(st.last('trigger').requestedMessage, 'Heartbeat');
      r = await gw.api('POST', `/api/v1/stations/${sid}/trigger`, { message: 'StatusNotification', connector: 1 });
      assert.equal(r.status, 200, r.text);
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/trigger`, {}), 400, 'MISSING_PARAMETER', /message is required/);
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/trigger`, { message: 'Coffee' }), 400, 'INVALID_ENUM', /message must be one of: BootNotification/);
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/trigger`, { message: 'Heartbeat', connector: 0 }), 400, 'INVALID_PARAMETER', /connector must be a positive integer/);

      r = await gw.api('POST', `/api/v1/stations/${sid}/data-transfer`, { vendor_id: 'com.acme', message_id: 'ping', data: 'hello' });
      assert.equal(r.status, 200, r.text);
      assert.equal(st.last('data_transfer').vendorId, 'com.acme');
      st.answer('data_transfer', 'reject');
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/data-transfer`, { vendor_id: 'x' }), 409, 'REJECTED_BY_STATION');
      st.answer('data_transfer', 'accept');
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/data-transfer`, {}), 400, 'MISSING_PARAMETER', /vendor_id/);

      r = await gw.api('POST', `/api/v1/stations/${sid}/firmware`, { location: 'https://fw.example/f.bin', retries: 2 });
      assert.equal(r.status, 200, r.text);
      assert.equal(st.received('firmware').length, 1);
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/firmware`, {}), 400, 'MISSING_PARAMETER', /location/);
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/firmware`, { location: 'not a uri' }), 400, 'INVALID_PARAMETER', /location/);
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/firmware`, { location: 'https://x/y', retrieve_date: 'tomorrow' }), 400, 'INVALID_PARAMETER', /retrieve_date must be an RFC 3339/);

      r = await gw.api('POST', `/api/v1/stations/${sid}/diagnostics`, { location: 'ftp://logs.example/up' });
      assert.equal(r.status, 200, r.text);
      assert.equal(st.received('diagnostics').length, 1);
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/diagnostics`, { location: 'ftp://x/y', log_type: 'Everything' }), 400, 'INVALID_ENUM', /log_type/);
    });

    test('reservations and smart charging', async () => {
      const expiry = new Date(Date.now() + 3600e3).toISOString();
      let r = await gw.api('POST', `/api/v1/stations/${sid}/reservations`, { connector: 1, id_token: 'TAG-1', expiry, reservation_id: 42 });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.reservation_id, 42);
      assert.equal(st.received('reserve').length, 1);
      r = await gw.api('POST', `/api/v1/stations/${sid}/reservations`, { connector: 0, id_token: 'TAG-1', expiry });
      assert.equal(r.status, 200, r.text);
      assert.ok(Number.isInteger(r.body.reservation_id) && r.body.reservation_id > 0);
      st.answer('reserve', 'reject');
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/reservations`, { connector: 1, id_token: 'T', expiry }), 409, 'REJECTED_BY_STATION');
      st.answer('reserve', 'accept');
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/reservations`, { connector: 1, id_token: 'T' }), 400, 'MISSING_PARAMETER', /expiry/);
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/reservations`, { connector: 7, id_token: 'T', expiry }), 404, 'CONNECTOR_NOT_FOUND');
      r = await gw.api('DELETE', `/api/v1/stations/${sid}/reservations/42`);
      assert.equal(r.status, 200, r.text);
      assertError(await gw.api('DELETE', `/api/v1/stations/${sid}/reservations/abc`), 400, 'INVALID_PARAMETER');

      const profile = protocol === 'ocpp1.6'
        ? { chargingProfileId: 7, stackLevel: 1, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Absolute', chargingSchedule: { chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 7400 }] } }
        : { id: 7, stackLevel: 1, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Absolute', chargingSchedule: [{ id: 1, chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 7400 }] }] };
      r = await gw.api('PUT', `/api/v1/stations/${sid}/charging-profiles`, { connector: 1, profile });
      assert.equal(r.status, 200, r.text);
      assert.equal(st.received('set_profile').length, 1);
      assertError(await gw.api('PUT', `/api/v1/stations/${sid}/charging-profiles`, { connector: 1 }), 400, 'MISSING_PARAMETER', /profile/);
      assertError(await gw.api('PUT', `/api/v1/stations/${sid}/charging-profiles`, { connector: 1, profile: { nonsense: true } }), 400, 'VALIDATION_ERROR');
      r = await gw.api('DELETE', `/api/v1/stations/${sid}/charging-profiles?id=7`);
      assert.equal(r.status, 200, r.text);
      assertError(await gw.api('DELETE', `/api/v1/stations/${sid}/charging-profiles?purpose=Everything`), 400, 'INVALID_ENUM', /purpose/);

      r = await gw.api('GET', `/api/v1/stations/${sid}/composite-schedule?connector=1&duration=3600&unit=W`);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.body.schedule || r.body.result, r.text);
      assertError(await gw.api('GET', `/api/v1/stations/${sid}/composite-schedule?connector=1`), 400, 'MISSING_PARAMETER', /duration is required/);
      assertError(await gw.api('GET', `/api/v1/stations/${sid}/composite-schedule?connector=1&duration=60&unit=kW`), 400, 'INVALID_ENUM', /unit must be one of: W, A/);
    });

    test('configuration: live read, set, credentials need admin, rejected keys', async () => {
      let r = await gw.api('GET', `/api/v1/stations/${sid}/configuration`);
      assert.equal(r.status, 200, r.text);
      // 2.0.1 answers a full read with a base report (NotifyReport, later): the stored model is served
      assert.equal(r.body.source, protocol === 'ocpp1.6' ? 'station' : 'stored');
      assert.ok(Array.isArray(r.body.keys));
      if (protocol === 'ocpp1.6') {
        assert.ok(r.body.keys.some((k) => k.key === 'HeartbeatInterval'), r.text);
        r = await gw.api('GET', `/api/v1/stations/${sid}/configuration?keys=HeartbeatInterval,Nope`);
        assert.deepEqual(r.body.keys.map((k) => k.key), ['HeartbeatInterval']);
        assert.deepEqual(r.body.unknown, ['Nope']);
      }
      const key = protocol === 'ocpp1.6' ? 'HeartbeatInterval' : 'OCPPCommCtrlr/HeartbeatInterval';
      r = await gw.api('PUT', `/api/v1/stations/${sid}/configuration/${encodeURIComponent(key)}`, { value: 120 });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.value, '120');
      assert.equal(st.received('set_configuration').length, 1);
      assertError(await gw.api('PUT', `/api/v1/stations/${sid}/configuration/${encodeURIComponent(key)}`, {}), 400, 'MISSING_PARAMETER', /value/);
      assertError(await gw.api('PUT', `/api/v1/stations/${sid}/configuration/AuthorizationKey`, { value: 'x' }, { key: gw.keys.operator }), 403, 'FORBIDDEN');
      if (protocol === 'ocpp1.6') {
        assertError(await gw.api('PUT', `/api/v1/stations/${sid}/configuration/NumberOfConnectors`, { value: '3' }), 409, 'REJECTED_BY_STATION');
      } else {
        st.answer('set_configuration', 'reject');
        assertError(await gw.api('PUT', `/api/v1/stations/${sid}/configuration/${encodeURIComponent(key)}`, { value: '3' }), 409, 'REJECTED_BY_STATION');
        st.answer('set_configuration', 'accept');
      }
      assertError(await gw.api('GET', '/api/v1/stations/NOPE/configuration'), 404, 'STATION_NOT_FOUND');
    });

    test('local list: full and differential, then GET', async () => {
      let r = await gw.api('PUT', `/api/v1/stations/${sid}/local-list`, {
        version: 3, update_type: 'Full', entries: [{ id_token: 'A1', status: 'Accepted' }, { id_token: 'B2', status: 'Blocked' }],
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(st.received('local_list').length, 1);
      r = await gw.api('PUT', `/api/v1/stations/${sid}/local-list`, {
        version: 4, update_type: 'Differential', entries: [{ id_token: 'C3', status: 'Accepted' }, { id_token: 'B2' }],
      });
      assert.equal(r.status, 200, r.text);
      await gw.waitFor(async () => {
        const g = await gw.api('GET', `/api/v1/stations/${sid}/local-list`);
        return g.status === 200 && g.body.version === 4 &&
          JSON.stringify(g.body.entries.map((e) => e.id_token).sort()) === '["A1","C3"]';
      }, 10000, 'local list stored');
      assertError(await gw.api('PUT', `/api/v1/stations/${sid}/local-list`, { version: 5, update_type: 'Partial' }), 400, 'INVALID_ENUM', /update_type must be one of: Full, Differential/);
      assertError(await gw.api('PUT', `/api/v1/stations/${sid}/local-list`, { update_type: 'Full' }), 400, 'MISSING_PARAMETER', /version/);
      assertError(await gw.api('PUT', `/api/v1/stations/${sid}/local-list`, { version: 5, update_type: 'Full', entries: [{ status: 'Accepted' }] }), 400, 'MISSING_PARAMETER', /entries\[0\]\.id_token/);
      assertError(await gw.api('PUT', `/api/v1/stations/${sid}/local-list`, { version: 5, update_type: 'Full', entries: [{ id_token: 'X', status: 'Maybe' }] }), 400, 'INVALID_ENUM', /entries\[0\]\.status/);
      st.answer('local_list', 'reject');
      assertError(await gw.api('PUT', `/api/v1/stations/${sid}/local-list`, { version: 1, update_type: 'Full', entries: [] }), 409, 'REJECTED_BY_STATION');
      st.answer('local_list', 'accept');
    });

    test('transactions: remote start checks, start, meter values, stop, 404/409', async () => {
      // a faulted connector is refused before anything is sent
      await st.status(2, 'Faulted');
      await gw.waitFor(async () => (await gw.api('GET', `/api/v1/stations/${sid}`)).body.evses.find((e) => e.evse === 2)?.connectors?.[0]?.status === 'Faulted');
      const before = st.received('remote_start').length;
      assertError(await gw.api('POST', '/api/v1/transactions', { station_id: sid, connector: 2, id_token: 'TAG-9' }), 409, 'CONNECTOR_FAULTED');
      await st.status(2, 'Unavailable');
      await gw.waitFor(async () => (await gw.api('GET', `/api/v1/stations/${sid}`)).body.evses.find((e) => e.evse === 2)?.connectors?.[0]?.status === 'Unavailable');
      assertError(await gw.api('POST', '/api/v1/transactions', { station_id: sid, connector: 2, id_token: 'TAG-9' }), 409, 'CONNECTOR_UNAVAILABLE');
      assert.equal(st.received('remote_start').length, before, 'nothing was sent');
      await st.status(2, 'Available');
      // validation and unknowns
      assertError(await gw.api('POST', '/api/v1/transactions', { connector: 1, id_token: 'T' }), 400, 'MISSING_PARAMETER', /station_id is required/);
      assertError(await gw.api('POST', '/api/v1/transactions', { station_id: sid, connector: 'one', id_token: 'T' }), 400, 'INVALID_PARAMETER', /connector must be a positive integer/);
      assertError(await gw.api('POST', '/api/v1/transactions', { station_id: sid, connector: 1 }), 400, 'MISSING_PARAMETER', /id_token/);
      assertError(await gw.api('POST', '/api/v1/transactions', { station_id: 'NOPE', connector: 1, id_token: 'T' }), 404, 'STATION_NOT_FOUND');
      assertError(await gw.api('POST', '/api/v1/transactions', { station_id: sid, connector: 9, id_token: 'T' }), 404, 'CONNECTOR_NOT_FOUND');
      // remote start accepted; the answer waits until the station starts charging
      const started = gw.api('POST', '/api/v1/transactions', { station_id: sid, connector: 1, id_token: 'TAG-1' });
      await st.waitReceived('remote_start', before + 1);
      const rs = st.last('remote_start');
      assert.equal(st.remoteStartToken(rs), 'TAG-1');
      assert.equal(st.remoteStartConnector(rs), 1);
      const stx = await st.startTx(1, 'TAG-1', 1000);
      let r = await started;
      assert.equal(r.status, 201, r.text);
      assert.equal(r.body.station_tx_id, stx);
      await st.status(1, 'Charging');
      let tx;
      await gw.waitFor(async () => {
        const l = await gw.api('GET', `/api/v1/transactions?active=true&station=${sid}`);
        tx = l.body?.items?.find((t) => t.station_tx_id === stx);
        return !!tx;
      }, 10000, 'active transaction listed');
      assert.equal(tx.active, true);
      assert.equal(tx.id_token, 'TAG-1');
      // occupied: by status and by the active transaction
      assertError(await gw.api('POST', '/api/v1/transactions', { station_id: sid, connector: 1, id_token: 'TAG-2' }), 409, 'CONNECTOR_OCCUPIED');
      await st.meter(1, stx, 1500);
      await gw.waitFor(async () => {
        const g = await gw.api('GET', `/api/v1/transactions/${tx.id}`);
        return g.status === 200 && g.body.meter_values.length >= 1 && g.body.energy_wh === 500;
      }, 10000, 'meter values and energy');
      r = await gw.api('GET', `/api/v1/stations/${sid}`);
      assert.ok(r.body.active_transactions.some((t) => t.id === tx.id));
      // list filters
      r = await gw.api('GET', '/api/v1/transactions?id_token=TAG-1');
      assert.ok(r.body.items.some((t) => t.id === tx.id));
      r = await gw.api('GET', `/api/v1/transactions?from=${encodeURIComponent(new Date(Date.now() + 3600e3).toISOString())}`);
      assert.ok(!r.body.items.some((t) => t.id === tx.id));
      assertError(await gw.api('GET', '/api/v1/transactions?from=yesterday'), 400, 'INVALID_PARAMETER', /from must be an RFC 3339/);
      assertError(await gw.api('GET', '/api/v1/transactions?active=perhaps'), 400, 'INVALID_ENUM');
      // remote stop by public id carries the station's id
      r = await gw.api('POST', `/api/v1/transactions/${tx.id}/stop`);
      assert.equal(r.status, 200, r.text);
      assert.equal(st.remoteStopTx(st.last('remote_stop')), stx);
      st.answer('remote_stop', 'reject');
      assertError(await gw.api('POST', `/api/v1/transactions/${tx.id}/stop`), 409, 'REJECTED_BY_STATION');
      st.answer('remote_stop', 'accept');
      // stop by connector
      r = await gw.api('POST', `/api/v1/stations/${sid}/connectors/1/stop`);
      assert.equal(r.status, 200, r.text);
      assert.equal(st.received('remote_stop').length, 3);
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/connectors/2/stop`), 409, 'TRANSACTION_NOT_ACTIVE');
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/connectors/8/stop`), 404, 'CONNECTOR_NOT_FOUND');
      assertError(await gw.api('POST', '/api/v1/stations/NOPE/connectors/1/stop'), 404, 'STATION_NOT_FOUND');
      // the station ends it
      await st.stopTx(stx, 2000);
      await st.status(1, 'Available');
      await gw.waitFor(async () => (await gw.api('GET', `/api/v1/transactions/${tx.id}`)).body?.active === false, 10000, 'transaction ended');
      r = await gw.api('GET', `/api/v1/transactions/${tx.id}`);
      assert.equal(r.body.energy_wh, 1000);
      assert.ok(r.body.stopped_at);
      assertError(await gw.api('POST', `/api/v1/transactions/${tx.id}/stop`), 409, 'TRANSACTION_NOT_ACTIVE');
      assertError(await gw.api('POST', `/api/v1/stations/${sid}/connectors/1/stop`), 409, 'TRANSACTION_NOT_ACTIVE');
      r = await gw.api('GET', `/api/v1/transactions?active=false&station=${sid}`);
      assert.ok(r.body.items.some((t) => t.id === tx.id));
      assertError(await gw.api('GET', '/api/v1/transactions/999999'), 404, 'TRANSACTION_NOT_FOUND');
      assertError(await gw.api('POST', '/api/v1/transactions/999999/stop'), 404, 'TRANSACTION_NOT_FOUND');
      assertError(await gw.api('GET', '/api/v1/transactions/abc'), 400, 'INVALID_PARAMETER');
    });

    test('transactions pagination walks every row once', async () => {
      const ids = [];
      for (let i = 0; i < 3; i++) {
        const t = await st.startTx(2, `PAGE-${i}`, 0);
        await st.stopTx(t, 10);
        ids.push(t);
      }
      await gw.waitFor(async () => (await gw.api('GET', `/api/v1/transactions?active=false&station=${sid}&limit=500`)).body.items.filter((t) => t.id_token?.startsWith('PAGE-')).length === 3);
      const seen = [];
      let cursor = null;
      for (let i = 0; i < 20; i++) {
        const r = await gw.api('GET', `/api/v1/transactions?station=${sid}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        assert.equal(r.status, 200, r.text);
        assert.ok(r.body.items.length <= 2);
        seen.push(...r.body.items.map((t) => t.id));
        cursor = r.body.next_cursor;
        if (!cursor) break;
      }
      assert.equal(new Set(seen).size, seen.length);
      assert.deepEqual([...seen].sort((a, b) => b - a), seen, 'newest first');
      assert.ok(seen.length >= 4);
    });

    test('a station that does not answer: 504 STATION_TIMEOUT', async () => {
      const slow = await connectStation(gw, { id: `${sid}-SLOW`, protocol, connectors: 1 });
      try {
        slow.answer('reset', 'hang');
        const r = await gw.api('POST', `/api/v1/stations/${sid}-SLOW/reset?timeout=1`, { type: 'Soft' });
        assertError(r, 504, 'STATION_TIMEOUT');
        assert.ok(r.body.command_id);
      } finally {
        await slow.close();
      }
    });

    test('an offline station: 409 STATION_OFFLINE; stored configuration is served', async () => {
      const gone = await connectStation(gw, { id: `${sid}-GONE`, protocol, connectors: 1 });
      await gone.close();
      await gw.waitFor(async () => (await gw.api('GET', `/api/v1/stations/${sid}-GONE/liveness`)).body?.online === false);
      assertError(await gw.api('POST', `/api/v1/stations/${sid}-GONE/reset`, {}), 409, 'STATION_OFFLINE');
      assertError(await gw.api('POST', '/api/v1/transactions', { station_id: `${sid}-GONE`, connector: 1, id_token: 'T' }), 409, 'STATION_OFFLINE');
      assertError(await gw.api('POST', `/api/v1/stations/${sid}-GONE/connectors/1/unlock`), 409, 'STATION_OFFLINE');
      const r = await gw.api('GET', `/api/v1/stations/${sid}-GONE/configuration`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.source, 'stored');
      assert.equal((await gw.api('GET', `/api/v1/stations/${sid}-GONE/local-list`)).status, 200);
    });

    test('disconnect closes the station connection', async () => {
      const d = await connectStation(gw, { id: `${sid}-DISC`, protocol, connectors: 1 });
      let closed = false;
      d.client.once('close', () => { closed = true; });
      const r = await gw.api('POST', `/api/v1/stations/${sid}-DISC/disconnect`);
      assert.equal(r.status, 200, r.text);
      await gw.waitFor(() => closed, 10000, 'the station connection to close');
      await gw.waitFor(async () => (await gw.api('GET', `/api/v1/stations/${sid}-DISC/liveness`)).body?.online === false);
    });

    test('system, health, metrics', async () => {
      let r = await gw.api('GET', '/api/v1/system', null, { key: gw.keys.read });
      assert.equal(r.status, 200, r.text);
      assert.equal(typeof r.body.version, 'string');
      assert.equal(r.body.abi.major, 1);
      assert.ok(r.body.plugins.some((p) => p.name === 'headless'));
      assert.ok(r.body.stations_online >= 1);
      assert.equal(typeof r.body.database.healthy, 'boolean');
      r = await gw.api('GET', '/api/v1/health');
      assert.equal(r.status, 200, r.text);
      r = await gw.api('GET', '/api/v1/metrics');
      assert.equal(r.status, 200, r.text);
      assert.match(r.text, /^# (HELP|TYPE) /m);
    });
  });
}

test('429 with Retry-After when a key exceeds its rate', async () => {
  const gw = await startGateway({ plugins: ['headless'], config: { http: { rate_limit: 1, rate_burst: 2 } } });
  try {
    let last;
    for (let i = 0; i < 10; i++) {
      last = await gw.api('GET', '/api/v1/stations', null, { key: gw.keys.read });
      if (last.status === 429) break;
    }
    assertError(last, 429);
    assert.ok(Number(last.headers.get('retry-after')) >= 1);
  } finally {
    await gw.stop();
  }
});
