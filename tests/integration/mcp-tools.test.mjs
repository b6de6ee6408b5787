// mcp-tools.test.mjs — every tool of the mcp plugin's catalog, called through the official
// @modelcontextprotocol/sdk 1.x Client over Streamable HTTP against a real daemon with two
// real strict-mode ocpp-rpc stations (OCPP 1.6 and OCPP 2.0.1): each result is checked for
// what its REST route answers (ids, statuses, the station's own payloads) or for the precise
// tool error (isError with the REST code) where that is the right answer.  The last test
// lists the catalog (operator key) and fails if any tool was never called, never succeeded,
// or, for a station tool, was not run against both protocols.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startGateway, psql } from './lib/harness.mjs';
import { connectStation } from './lib/stations.mjs';

const PROTOCOLS = ['ocpp1.6', 'ocpp2.0.1'];
// tools that run on what one station did (its transactions): each must be seen for both
// protocols, like the tools that take a station_id
const SESSION_TOOLS = ['remote_stop', 'get_transaction', 'get_transaction_cost', 'list_transactions', 'list_cdrs'];
// one price, no time component: 10 kWh cost 3.00 + 19 % VAT = 3.57 whenever charged
const TARIFF = { name: 'MCP energy', currency: 'EUR', elements: [{ price_components: [{ type: 'ENERGY', price: '0.30', vat: '19' }] }] };
const TEN_KWH = { excl_vat: '3.00', incl_vat: '3.57' };
const now = () => new Date().toISOString();
// the stations stamp their sessions two hours ago, readings 30 minutes apart: a running
// session has two readings to price between (the tariff is in force since yesterday)
const T0 = Date.now() - 2 * 3600e3;
const at = (min) => new Date(T0 + min * 60e3).toISOString();
const reading = (min, wh, context) => [{ timestamp: at(min), sampledValue: [{ value: wh, measurand: 'Energy.Active.Import.Register', context }] }];

/** The station starts the transaction it was asked for (at T0); its own id. */
async function startTx(s, req, meterStart) {
  if (s.protocol === 'ocpp1.6') {
    const r = await s.client.call('StartTransaction', { connectorId: req.connectorId, idTag: req.idTag, meterStart, timestamp: at(0) });
    return String(r.transactionId);
  }
  const txId = `tx-${Math.random().toString(36).slice(2, 12)}`;
  await s.client.call('TransactionEvent', {
    eventType: 'Started', timestamp: at(0), triggerReason: 'RemoteStart', seqNo: s.txSeq++,
    transactionInfo: { transactionId: txId, chargingState: 'Charging', remoteStartId: req.remoteStartId },
    idToken: req.idToken, evse: { id: req.evseId, connectorId: 1 }, meterValue: reading(0, meterStart, 'Transaction.Begin'),
  });
  return txId;
}
function meterTx(s, stx, min, wh) {
  if (s.protocol === 'ocpp1.6') {
    return s.client.call('MeterValues', { connectorId: 1, transactionId: Number(stx),
      meterValue: [{ timestamp: at(min), sampledValue: [{ value: String(wh), measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Sample.Periodic' }] }] });
  }
  return s.client.call('TransactionEvent', { eventType: 'Updated', timestamp: at(min), triggerReason: 'MeterValuePeriodic', seqNo: s.txSeq++,
    transactionInfo: { transactionId: stx }, meterValue: reading(min, wh, 'Sample.Periodic') });
}
function stopTx(s, stx, min, wh) {
  if (s.protocol === 'ocpp1.6') return s.client.call('StopTransaction', { transactionId: Number(stx), meterStop: wh, timestamp: at(min), reason: 'Remote' });
  return s.client.call('TransactionEvent', { eventType: 'Ended', timestamp: at(min), triggerReason: 'RemoteStop', seqNo: s.txSeq++,
    transactionInfo: { transactionId: stx, stoppedReason: 'Remote' }, meterValue: reading(min, wh, 'Transaction.End') });
}

describe('every mcp tool through the official client, against OCPP 1.6 and 2.0.1 stations', () => {
  let gw, op, rd, tariff;
  const st = {}; // protocol -> station
  const ctx = Object.fromEntries(PROTOCOLS.map((p) => [p, {}])); // protocol -> what its tests made
  const calls = new Map(); // tool -> [{ ok, proto }]

  before(async () => {
    gw = await startGateway({ plugins: ['ocpp16', 'ocpp201', 'headless', 'mcp'], config: { core: { auth_unknown: 'accept' } } });
    for (const p of PROTOCOLS) st[p] = await connectStation(gw, { protocol: p });
    // a priced 2.0.1 session is told its running cost; strict mode checks the CALL
    st['ocpp2.0.1'].answer('CostUpdated', () => ({}));
    op = await connect(gw.keys.operator);
    rd = await connect(gw.keys.read);
    // the default tariff, in force since yesterday (sessions are stamped by the stations)
    const r = await gw.api('POST', '/api/v1/tariffs', TARIFF);
    assert.equal(r.status, 201, r.text);
    tariff = r.body;
    assert.equal((await gw.api('POST', `/api/v1/tariffs/${tariff.id}/assignments`, { default: true })).status, 201);
    psql(gw.database, `update tariff_revisions set created_at = now() - interval '1 day' where tariff_id = ${tariff.id}`);
    psql(gw.database, `update tariff_assignments set assigned_at = now() - interval '1 day' where tariff_id = ${tariff.id}`);
  });
  after(async () => {
    for (const c of [op, rd]) await c?.close().catch(() => {});
    for (const s of Object.values(st)) await s.close().catch(() => {});
    if (gw) assert.equal(await gw.stop(), 0, gw.logs().split('\n').filter((l) => /Sanitizer|ERROR/.test(l)).join('\n'));
  });

  async function connect(key) {
    const client = new Client({ name: 'mcp-tools-test', version: '1.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.http}/mcp`), {
      requestInit: { headers: { 'X-API-Key': key } },
    }));
    return client;
  }

  /** One tools/call, recorded for the coverage check; opts.read uses the read key. */
  async function call(name, args = {}, { read = false, proto } = {}) {
    const r = await (read ? rd : op).callTool({ name, arguments: args });
    const p = proto ?? PROTOCOLS.find((x) => st[x].id === args.station_id);
    if (!calls.has(name)) calls.set(name, []);
    calls.get(name).push({ ok: r.isError === false, proto: p });
    // the text is the REST body as it came; structuredContent is that body + http_status
    // (a scope refusal, answered by the mcp plugin itself, carries http_status in both, as
    // does sync_site_local_lists's own summary of several routes)
    const { http_status: status, ...rest } = r.structuredContent;
    assert.equal(typeof status, 'number', JSON.stringify(r));
    const parsed = JSON.parse(r.content[0].text);
    const { http_status: _t, ...text } = Array.isArray(parsed) ? { result: parsed } : parsed;
    assert.deepEqual(text, rest, `${name}: the text and structuredContent agree`);
    return r;
  }
  /** A successful tool result with the REST status (null: none); its structuredContent. */
  function ok(r, status = 200) {
    assert.equal(r.isError, false, JSON.stringify(r));
    assert.equal(r.structuredContent.http_status, status ?? undefined, JSON.stringify(r.structuredContent));
    return r.structuredContent;
  }
  /** A tool error carrying the REST route's status and code. */
  function fails(r, status, code) {
    assert.equal(r.isError, true, JSON.stringify(r));
    assert.equal(r.structuredContent.http_status, status, JSON.stringify(r.structuredContent));
    assert.equal(r.structuredContent.code, code, JSON.stringify(r.structuredContent));
    assert.equal(typeof r.structuredContent.error, 'string');
    return r.structuredContent;
  }

  test('gateway reads: get_health, list_stations', async () => {
    const h = ok(await call('get_health', {}, { read: true }));
    assert.equal(h.status, 'ok');
    assert.equal(h.database.status, 'ok');
    assert.equal(h.stations_online, 2);
    const l = ok(await call('list_stations', { online: true }, { read: true }));
    const rest = await gw.api('GET', '/api/v1/stations?online=true');
    assert.deepEqual(l.items.map((s) => s.id).sort(), [st['ocpp1.6'].id, st['ocpp2.0.1'].id].sort());
    assert.deepEqual(l.items.map((s) => s.id), rest.body.items.map((s) => s.id));
    for (const p of PROTOCOLS) assert.equal(l.items.find((s) => s.id === st[p].id).protocol, p);
    assert.equal(l.next_cursor, null);
  });

  for (const proto of PROTOCOLS) {
    const is16 = proto === 'ocpp1.6';

    test(`${proto}: get_station, get_station_messages`, async () => {
      const s = st[proto];
      const g = ok(await call('get_station', { station_id: s.id }, { read: true }));
      const rest = (await gw.api('GET', `/api/v1/stations/${s.id}`)).body;
      for (const k of ['id', 'protocol', 'vendor', 'model', 'firmware', 'boot_status', 'online', 'status', 'connector_count', 'evses', 'connection']) {
        assert.deepEqual(g[k], rest[k], k);
      }
      assert.equal(g.protocol, proto);
      assert.equal(g.online, true);
      assert.equal(g.connection.subprotocol, proto);
      assert.deepEqual(g.evses.map((e) => [e.evse, e.connectors[0].status]), [[1, 'Available'], [2, 'Available']]);
      fails(await call('get_station', { station_id: 'NO-SUCH-STATION' }, { read: true }), 404, 'STATION_NOT_FOUND');

      const m = ok(await call('get_station_messages', { station_id: s.id, action: 'BootNotification', dir: 'in', limit: 10 }, { read: true }));
      assert.equal(m.station, s.id);
      assert.equal(m.items.length, 1, JSON.stringify(m));
      assert.equal(m.items[0].dir, 'in');
      assert.equal(m.items[0].action, 'BootNotification');
      assert.equal(m.items[0].frame[2], 'BootNotification');
      if (is16) assert.equal(m.items[0].frame[3].chargePointVendor, 'TestVendor');
      else assert.equal(m.items[0].frame[3].chargingStation.vendorName, 'TestVendor');
      fails(await call('get_station_messages', { station_id: 'NO-SUCH-STATION' }, { read: true }), 404, 'STATION_NOT_FOUND');
    });

    test(`${proto}: get_configuration, set_configuration`, async () => {
      const s = st[proto];
      let g = ok(await call('get_configuration', { station_id: s.id }, { read: true }));
      if (is16) {
        // live: the station's GetConfiguration answer
        assert.equal(g.source, 'station');
        assert.equal(typeof g.command_id, 'string');
        assert.deepEqual(g.keys, s.config.map(({ key, value, readonly }) => ({ key, value, readonly })));
        assert.deepEqual(g.unknown, []);
        assert.deepEqual(s.last('get_configuration'), {});
      } else {
        // a full read is a base report the station sends later: until then nothing is stored
        assert.equal(g.source, 'stored');
        assert.deepEqual(g.keys, []);
        const asked = s.last('GetBaseReport');
        assert.equal(asked.reportBase, 'ConfigurationInventory');
        await s.client.call('NotifyReport', {
          requestId: asked.requestId, generatedAt: now(), seqNo: 0, reportData: [{
            component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' },
            variableAttribute: [{ type: 'Actual', value: '300', mutability: 'ReadWrite' }],
          }],
        });
        await gw.waitFor(async () => (await gw.sql(`select key from station_docs where station_id = '${s.id}' and kind = 'variable'`)).length === 1,
          10000, 'the report stored');
        g = ok(await call('get_configuration', { station_id: s.id }, { read: true }));
        assert.equal(g.source, 'stored');
        assert.deepEqual(g.keys, [{ key: 'OCPPCommCtrlr/HeartbeatInterval', value: '300', readonly: false }]);
      }

      // a 2.0.1 key is Component/Variable: the slash travels percent-encoded in the path
      const key = is16 ? 'HeartbeatInterval' : 'OCPPCommCtrlr/HeartbeatInterval';
      const set = ok(await call('set_configuration', { station_id: s.id, key, value: '120' }));
      assert.equal(set.status, 'Accepted');
      assert.equal(set.key, key);
      assert.equal(set.value, '120');
      assert.equal(set.reboot_required, false);
      if (is16) {
        assert.deepEqual(s.last('set_configuration'), { key: 'HeartbeatInterval', value: '120' });
        g = ok(await call('get_configuration', { station_id: s.id }, { read: true }));
        assert.equal(g.keys.find((k) => k.key === 'HeartbeatInterval').value, '120', 'read back from the station');
        fails(await call('set_configuration', { station_id: s.id, key: 'NumberOfConnectors', value: '3' }), 409, 'REJECTED_BY_STATION');
      } else {
        assert.deepEqual(s.last('set_configuration').setVariableData,
          [{ attributeValue: '120', component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } }]);
        s.answer('set_configuration', 'reject');
        fails(await call('set_configuration', { station_id: s.id, key, value: '3' }), 409, 'REJECTED_BY_STATION');
        s.answer('set_configuration', 'accept');
        fails(await call('set_configuration', { station_id: s.id, key: 'HeartbeatInterval', value: '3' }), 400, 'VALIDATION_ERROR');
      }
      // a credential needs an admin key: the station never hears of it
      const sent = s.received('set_configuration').length;
      fails(await call('set_configuration', { station_id: s.id, key: 'AuthorizationKey', value: 'secret' }), 403, 'FORBIDDEN');
      assert.equal(s.received('set_configuration').length, sent);
      fails(await call('get_configuration', { station_id: 'NO-SUCH-STATION' }, { read: true }), 404, 'STATION_NOT_FOUND');
    });

    test(`${proto}: reset_station, change_availability, trigger_message, update_firmware`, async () => {
      const s = st[proto];
      let r = ok(await call('reset_station', { station_id: s.id, type: 'Hard' }));
      assert.equal(r.status, 'Accepted');
      assert.equal(r.result.status, 'Accepted');
      assert.deepEqual(s.last('reset'), { type: is16 ? 'Hard' : 'Immediate' });
      // the message log holds the CALL as it went out
      const m = ok(await call('get_station_messages', { station_id: s.id, action: 'Reset', dir: 'out', limit: 5 }, { read: true }));
      assert.equal(m.items.length, 1, JSON.stringify(m));
      assert.deepEqual(m.items[0].frame[3], s.last('reset'));
      ok(await call('reset_station', { station_id: s.id }));
      assert.deepEqual(s.last('reset'), { type: is16 ? 'Soft' : 'OnIdle' }, 'Soft by default');
      s.answer('reset', 'reject');
      const rej = fails(await call('reset_station', { station_id: s.id, type: 'Soft' }), 409, 'REJECTED_BY_STATION');
      assert.equal(rej.result.status, 'Rejected');
      s.answer('reset', 'accept');
      fails(await call('reset_station', { station_id: 'NO-SUCH-STATION' }), 404, 'STATION_NOT_FOUND');

      r = ok(await call('change_availability', { station_id: s.id, connector: 2, type: 'Inoperative' }));
      assert.equal(r.status, 'Accepted');
      assert.deepEqual(s.last('availability'), is16 ? { connectorId: 2, type: 'Inoperative' } : { operationalStatus: 'Inoperative', evse: { id: 2 } });
      ok(await call('change_availability', { station_id: s.id, type: 'Operative' }));
      assert.deepEqual(s.last('availability'), is16 ? { connectorId: 0, type: 'Operative' } : { operationalStatus: 'Operative' }, 'the whole station');
      const n = s.received('availability').length;
      fails(await call('change_availability', { station_id: s.id, connector: 9, type: 'Inoperative' }), 404, 'CONNECTOR_NOT_FOUND');
      assert.equal(s.received('availability').length, n, 'checked before sending');

      r = ok(await call('trigger_message', { station_id: s.id, message: 'StatusNotification', connector: 1 }));
      assert.equal(r.status, 'Accepted');
      assert.deepEqual(s.last('trigger'), is16 ? { requestedMessage: 'StatusNotification', connectorId: 1 } : { requestedMessage: 'StatusNotification', evse: { id: 1 } });
      ok(await call('trigger_message', { station_id: s.id, message: 'Heartbeat' }));
      assert.deepEqual(s.last('trigger'), { requestedMessage: 'Heartbeat' });
      const bad = fails(await call('trigger_message', { station_id: s.id, message: 'Bogus' }), 400, 'INVALID_ENUM');
      assert.equal(bad.field, 'message');

      const location = `https://fw.example.com/${proto}.bin`;
      r = ok(await call('update_firmware', { station_id: s.id, location, retrieve_date: '2030-01-01T00:00:00Z' }));
      assert.equal(r.status, 'Accepted');
      assert.equal(r.firmware_status, undefined, 'without a progressToken: answered on acceptance');
      const fw = s.last('firmware');
      if (is16) assert.deepEqual(fw, { location, retrieveDate: '2030-01-01T00:00:00Z' });
      else assert.deepEqual(fw.firmware, { location, retrieveDateTime: '2030-01-01T00:00:00Z' });
      fails(await call('update_firmware', { station_id: s.id, location: 'not-a-uri' }), 400, 'INVALID_PARAMETER');
      s.answer('firmware', 'error');
      fails(await call('update_firmware', { station_id: s.id, location }), 502, 'STATION_ERROR');
      s.answer('firmware', 'accept');
    });

    test(`${proto}: set_station_limit, get_composite_schedule, clear_station_limit`, async () => {
      const s = st[proto];
      let r = ok(await call('set_station_limit', { station_id: s.id, evse: 0, limit: 16, unit: 'A' }));
      assert.deepEqual([r.station_id, r.evse, r.limit, r.unit, r.until, r.status], [s.id, 0, 16, 'A', null, 'accepted']);
      let sent = s.last('set_profile');
      const profile = is16 ? sent.csChargingProfiles : sent.chargingProfile;
      const schedule = is16 ? profile.chargingSchedule : profile.chargingSchedule[0];
      assert.equal(is16 ? sent.connectorId : sent.evseId, 0);
      assert.equal(profile.chargingProfilePurpose, is16 ? 'ChargePointMaxProfile' : 'ChargingStationMaxProfile');
      assert.equal(schedule.chargingRateUnit, 'A');
      assert.equal(schedule.chargingSchedulePeriod[0].limit, 16);
      const profileId = is16 ? profile.chargingProfileId : profile.id;

      r = ok(await call('get_composite_schedule', { station_id: s.id, connector: 1, duration: 600, unit: 'A' }, { read: true }));
      assert.equal(r.status, 'Accepted');
      assert.equal(r.schedule.duration, 600);
      assert.equal(r.schedule.chargingRateUnit, 'A');
      assert.deepEqual(r.schedule.chargingSchedulePeriod, [{ startPeriod: 0, limit: 11000 }], 'what the station answered');
      assert.deepEqual(s.last('composite'), is16 ? { connectorId: 1, duration: 600, chargingRateUnit: 'A' } : { evseId: 1, duration: 600, chargingRateUnit: 'A' });
      ok(await call('get_composite_schedule', { station_id: s.id, connector: 0, duration: 60 }, { read: true }));
      assert.deepEqual(s.last('composite'), is16 ? { connectorId: 0, duration: 60 } : { evseId: 0, duration: 60 }, 'the whole station');
      fails(await call('get_composite_schedule', { station_id: s.id, connector: 9, duration: 60 }, { read: true }), 404, 'CONNECTOR_NOT_FOUND');

      r = ok(await call('clear_station_limit', { station_id: s.id }));
      assert.deepEqual([r.station_id, r.cleared], [s.id, 1]);
      assert.deepEqual(s.last('clear_profile'), is16 ? { id: profileId } : { chargingProfileId: profileId });

      // one EVSE, until a time, in W
      r = ok(await call('set_station_limit', { station_id: s.id, evse: 1, limit: 11000, unit: 'W', until: '2030-01-01T00:00:00Z' }));
      assert.deepEqual([r.evse, r.limit, r.unit, r.until, r.status], [1, 11000, 'W', '2030-01-01T00:00:00Z', 'accepted']);
      sent = s.last('set_profile');
      assert.equal(is16 ? sent.connectorId : sent.evseId, 1);
      assert.equal((is16 ? sent.csChargingProfiles : sent.chargingProfile).validTo, '2030-01-01T00:00:00.000Z');
      assert.equal(ok(await call('clear_station_limit', { station_id: s.id })).cleared, 1);
      // nothing left to clear: the route's 404 LIMIT_NOT_FOUND
      const none = await call('clear_station_limit', { station_id: s.id });
      fails(none, 404, 'LIMIT_NOT_FOUND');
      assert.match(none.structuredContent.error, /no limit set on this station/);

      // a station refusing the profile: the REST 409 with the limit as recorded
      s.answer('set_profile', 'reject');
      const rej = fails(await call('set_station_limit', { station_id: s.id, limit: 10, unit: 'A' }), 409, 'REJECTED_BY_STATION');
      assert.equal(rej.limit.status, 'rejected');
      s.answer('set_profile', 'accept');
      assert.equal(ok(await call('clear_station_limit', { station_id: s.id })).cleared, 1);
      // a read key may look, not limit
      fails(await call('set_station_limit', { station_id: s.id, limit: 10, unit: 'A' }, { read: true }), 403, 'FORBIDDEN');
    });

    test(`${proto}: customers and tokens: create/get/list, sync_local_list, block/unblock reach the station`, async () => {
      const s = st[proto];
      const c = ctx[proto];
      const cust = ok(await call('create_customer', { name: `Fleet ${proto}`, email: `fleet-${proto}@example.com` }), 201);
      assert.equal(cust.name, `Fleet ${proto}`);
      assert.equal(cust.email, `fleet-${proto}@example.com`);
      assert.equal(cust.status, 'active');
      assert.ok(Number.isInteger(cust.id));
      c.customer = cust.id;
      const got = ok(await call('get_customer', { id: cust.id }, { read: true }));
      const { http_status: _s, ...created } = cust;
      const { http_status: _g, ...read } = got;
      assert.deepEqual(read, created);
      assert.deepEqual(read, (await gw.api('GET', `/api/v1/customers/${cust.id}`)).body);
      const list = ok(await call('list_customers', {}, { read: true }));
      assert.deepEqual(list.items.find((x) => x.id === cust.id), created);
      fails(await call('get_customer', { id: 999999 }, { read: true }), 404, 'CUSTOMER_NOT_FOUND');

      c.token = `MCP-${is16 ? '16' : '201'}`;
      const tok = ok(await call('create_token', { id_token: c.token, type: 'ISO14443', customer_id: cust.id }), 201);
      assert.deepEqual([tok.id_token, tok.type, tok.status, tok.customer_id, tok.active], [c.token, 'ISO14443', 'Accepted', cust.id, true]);
      fails(await call('create_token', { id_token: c.token, type: 'ISO14443' }), 409, 'ALREADY_EXISTS');
      const tokens = ok(await call('list_tokens', {}, { read: true }));
      assert.equal(tokens.items.find((x) => x.id === tok.id).id_token, c.token);

      // the station's local list, from the token table (its first: Full, version 1)
      const sync = ok(await call('sync_local_list', { station_id: s.id }), 202);
      assert.deepEqual([sync.station_id, sync.version, sync.update_type], [s.id, 1, 'Full']);
      assert.ok(sync.entries.some((e) => e.id_token === c.token && e.status === 'Accepted'), JSON.stringify(sync.entries));
      assert.equal(typeof sync.command_id, 'string');
      await s.waitReceived('local_list');
      const full = s.last('local_list');
      assert.equal(full.updateType, 'Full');
      const held = is16 ? full.localAuthorizationList.map((e) => e.idTag) : full.localAuthorizationList.map((e) => e.idToken.idToken);
      assert.ok(held.includes(c.token), JSON.stringify(full));
      await gw.waitFor(async () => (await gw.api('GET', `/api/v1/stations/${s.id}/local-list`)).body.entries.some((e) => e.id_token === c.token),
        10000, 'the accepted list recorded');
      fails(await call('sync_local_list', { station_id: 'NO-SUCH-STATION' }), 404, 'STATION_NOT_FOUND');

      // block: the station holding it in its list hears a Differential update at once
      const lists = s.received('local_list').length;
      let b = ok(await call('block_token', { id: String(tok.id) }));
      assert.equal(b.status, 'Blocked');
      assert.deepEqual(b.propagation, { local_list: [s.id], clear_cache: [], unreachable: [] });
      await s.waitReceived('local_list', lists + 1);
      const entryOf = (l) => (is16 ? l.localAuthorizationList.map((e) => [e.idTag, e.idTagInfo.status]) : l.localAuthorizationList.map((e) => [e.idToken.idToken, e.idTokenInfo.status]));
      assert.equal(s.last('local_list').updateType, 'Differential');
      assert.deepEqual(entryOf(s.last('local_list')), [[c.token, 'Blocked']]);
      // a blocked token cannot be started remotely: refused before the station hears of it
      const starts = s.received('remote_start').length;
      fails(await call('remote_start', { station_id: s.id, id_token: c.token, connector: 1 }), 409, 'TOKEN_BLOCKED');
      assert.equal(s.received('remote_start').length, starts);

      b = ok(await call('unblock_token', { id: String(tok.id) }));
      assert.equal(b.status, 'Accepted');
      assert.deepEqual(b.propagation, { local_list: [s.id], clear_cache: [], unreachable: [] });
      await s.waitReceived('local_list', lists + 2);
      assert.deepEqual(entryOf(s.last('local_list')), [[c.token, 'Accepted']]);
      fails(await call('block_token', { id: '999999' }), 404, 'TOKEN_NOT_FOUND');
      fails(await call('unblock_token', { id: '999999' }), 404, 'TOKEN_NOT_FOUND');
    });

    test(`${proto}: a session: remote_start, list/get_transaction, get_transaction_cost, remote_stop, list_cdrs`, async () => {
      const s = st[proto];
      const c = ctx[proto];
      // the route answers once the station started the transaction: start it when asked
      const asked = s.received('remote_start').length;
      const pending = call('remote_start', { station_id: s.id, id_token: c.token, connector: 1 });
      await Promise.race([s.waitReceived('remote_start', asked + 1),
        pending.then((r) => { throw new Error(`remote_start answered before the station was asked: ${JSON.stringify(r)}`); })]);
      const req = s.last('remote_start');
      assert.equal(s.remoteStartToken(req), c.token);
      assert.equal(s.remoteStartConnector(req), 1);
      const stx = await startTx(s, req, 1000);
      const started = ok(await pending, 201);
      assert.equal(started.status, 'Accepted');
      assert.equal(started.station_tx_id, stx);
      assert.ok(Number.isInteger(started.transaction_id), JSON.stringify(started));
      const id = String(started.transaction_id);
      // the connector is busy now: a second start is refused before sending
      fails(await call('remote_start', { station_id: s.id, id_token: c.token, connector: 1 }), 409, 'CONNECTOR_OCCUPIED');
      assert.equal(s.received('remote_start').length, asked + 1);
      fails(await call('remote_start', { station_id: 'NO-SUCH-STATION', id_token: c.token }), 404, 'STATION_NOT_FOUND');

      let l = ok(await call('list_transactions', { active: true, station: s.id }, { read: true, proto }));
      assert.deepEqual(l.items.map((t) => [t.id, t.station_tx_id, t.id_token, t.connector, t.active]), [[started.transaction_id, stx, c.token, 1, true]]);

      await meterTx(s, stx, 30, 11000);
      let t = ok(await call('get_transaction', { id }, { read: true, proto }));
      assert.deepEqual([t.id, t.station_id, t.station_tx_id, t.id_token, t.evse, t.active, t.meter_start, t.meter_last, t.energy_wh],
        [started.transaction_id, s.id, stx, c.token, 1, true, 1000, 11000, 10000]);
      assert.ok(t.meter_values.some((v) => v.value === 11000 && v.measurand === 'Energy.Active.Import.Register'), JSON.stringify(t.meter_values));
      fails(await call('get_transaction', { id: 'not-a-number' }, { read: true, proto }), 400, 'INVALID_PARAMETER');
      fails(await call('get_transaction', { id: '999999' }, { read: true, proto }), 404, 'TRANSACTION_NOT_FOUND');

      // the running cost, priced by the default tariff
      let cost;
      await gw.waitFor(async () => {
        cost = ok(await call('get_transaction_cost', { id }, { read: true, proto }));
        return cost.status === 'priced' && cost.energy_wh === 10000;
      }, 10000, 'the running cost').catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(cost)}`); });
      assert.deepEqual([cost.transaction_id, cost.station_id, cost.active, cost.tariff_id, cost.level], [started.transaction_id, s.id, true, tariff.id, 'default']);
      assert.deepEqual(cost.total, TEN_KWH);
      fails(await call('get_transaction_cost', { id: '999999' }, { read: true, proto }), 404, 'TRANSACTION_NOT_FOUND');

      const stop = ok(await call('remote_stop', { id }, { proto }));
      assert.equal(stop.status, 'Accepted');
      assert.equal(s.remoteStopTx(s.last('remote_stop')), stx);
      await stopTx(s, stx, 60, 11000);
      await gw.waitFor(async () => !ok(await call('get_transaction', { id }, { read: true, proto })).active, 10000, 'the transaction to end');
      t = ok(await call('get_transaction', { id }, { read: true, proto }));
      assert.equal(t.energy_wh, 10000);
      assert.equal(typeof t.stopped_at, 'string');
      l = ok(await call('list_transactions', { active: true, station: s.id }, { read: true, proto }));
      assert.deepEqual(l.items, []);
      fails(await call('remote_stop', { id }, { proto }), 409, 'TRANSACTION_NOT_ACTIVE');
      fails(await call('remote_stop', { id: '999999' }, { proto }), 404, 'TRANSACTION_NOT_FOUND');

      cost = ok(await call('get_transaction_cost', { id }, { read: true, proto }));
      assert.deepEqual([cost.status, cost.active, cost.energy_wh, cost.tariff_id], ['priced', false, 10000, tariff.id]);
      assert.deepEqual(cost.total, TEN_KWH);

      // the charge detail record: by customer (the token's), by station, by time
      let cdrs;
      await gw.waitFor(async () => (cdrs = ok(await call('list_cdrs', { customer_id: c.customer }, { read: true, proto }))).items.length === 1, 10000, 'the record');
      const cdr = cdrs.items[0];
      assert.deepEqual([cdr.transaction_id, cdr.station_id, cdr.station_tx_id, cdr.id_token, cdr.customer_id, cdr.status, cdr.energy_wh, cdr.tariff_id, cdr.currency],
        [started.transaction_id, s.id, stx, c.token, c.customer, 'priced', 10000, tariff.id, 'EUR']);
      assert.deepEqual(cdr.total, TEN_KWH);
      // from / to filter the stop time (at(60))
      const byStation = ok(await call('list_cdrs', { station_id: s.id, id_token: c.token, from: at(59), to: at(61) }, { read: true, proto }));
      assert.deepEqual(byStation.items.map((x) => x.id), [cdr.id]);
      assert.deepEqual(ok(await call('list_cdrs', { station_id: s.id, to: at(30) }, { read: true, proto })).items, []);
      assert.deepEqual(ok(await call('list_cdrs', { station_id: s.id, from: at(61) }, { read: true, proto })).items, []);
      fails(await call('list_cdrs', { from: 'yesterday' }, { read: true, proto }), 400, 'INVALID_PARAMETER');
    });
  }

  test('tariffs: list_tariffs, quote_tariff (a read key may quote)', async () => {
    const l = ok(await call('list_tariffs', {}, { read: true }));
    const mine = l.items.find((x) => x.id === tariff.id);
    assert.deepEqual([mine.name, mine.currency, mine.revision, mine.elements], [TARIFF.name, 'EUR', 1, TARIFF.elements]);
    assert.deepEqual(l.items, (await gw.api('GET', '/api/v1/tariffs')).body.items);
    const body = { start: '2027-01-15T17:00:00Z', stop: '2027-01-15T18:00:00Z', energy_wh: 10000 };
    const q = ok(await call('quote_tariff', { id: tariff.id, ...body }, { read: true }));
    assert.deepEqual([q.status, q.tariff_id, q.currency, q.energy_wh, q.charging_seconds], ['priced', tariff.id, 'EUR', 10000, 3600]);
    assert.deepEqual(q.total, TEN_KWH);
    const { http_status: _h, ...quoted } = q;
    assert.deepEqual(quoted, (await gw.api('POST', `/api/v1/tariffs/${tariff.id}/quote`, body)).body, 'what the REST route answers');
    // parked after charging: the energy tariff has no parking price
    const parked = ok(await call('quote_tariff', { id: tariff.id, ...body, charging_until: '2027-01-15T17:30:00Z' }, { read: true }));
    assert.equal(parked.parking_seconds, 1800);
    assert.deepEqual(parked.total, TEN_KWH);
    const bad = fails(await call('quote_tariff', { id: tariff.id, ...body, stop: '2027-01-15T16:00:00Z' }, { read: true }), 400, 'INVALID_PARAMETER');
    assert.equal(bad.field, 'stop');
    fails(await call('quote_tariff', { id: 999999, ...body }, { read: true }), 404, 'TARIFF_NOT_FOUND');
  });

  test('sites: list_sites, set_site_limit, get_site_load, sync_site_local_lists', async () => {
    const site = (await gw.api('POST', '/api/v1/sites', { name: 'MCP tools depot' })).body;
    for (const p of PROTOCOLS) assert.equal((await gw.api('PUT', `/api/v1/sites/${site.id}/stations/${st[p].id}`)).status, 200);
    const l = ok(await call('list_sites', {}, { read: true }));
    const mine = l.items.find((x) => x.id === site.id);
    assert.deepEqual(mine.stations.slice().sort(), PROTOCOLS.map((p) => st[p].id).sort());
    assert.equal(mine.limit, null);

    let load = ok(await call('get_site_load', { id: site.id }, { read: true }));
    assert.deepEqual([load.site_id, load.name, load.balanced, load.sessions], [site.id, 'MCP tools depot', false, []]);
    let r = ok(await call('set_site_limit', { id: site.id, limit: 32, unit: 'A' }));
    assert.deepEqual([r.id, r.limit, r.unit], [site.id, 32, 'A']);
    load = ok(await call('get_site_load', { id: site.id }, { read: true }));
    assert.deepEqual([load.balanced, load.limit, load.limit_a, load.sessions], [true, { value: 32, unit: 'A' }, 32, []]);
    r = ok(await call('set_site_limit', { id: site.id, limit: null }));
    assert.equal(r.limit, null);
    assert.equal(ok(await call('get_site_load', { id: site.id }, { read: true })).balanced, false);
    fails(await call('get_site_load', { id: 999999 }, { read: true }), 404, 'SITE_NOT_FOUND');
    fails(await call('set_site_limit', { id: 999999, limit: 10 }), 404, 'SITE_NOT_FOUND');
    fails(await call('set_site_limit', { id: site.id, limit: 10 }, { read: true }), 403, 'FORBIDDEN');

    // every station of the site gets its list (followed in mcp-resources.test.mjs)
    const before = Object.fromEntries(PROTOCOLS.map((p) => [p, st[p].received('local_list').length]));
    const sync = ok(await call('sync_site_local_lists', { id: site.id, update_type: 'Full' }));
    assert.equal(sync.site_id, site.id);
    assert.deepEqual([sync.stations, sync.accepted, sync.failed], [2, 2, 0], JSON.stringify(sync));
    for (const p of PROTOCOLS) {
      assert.equal(sync.results.find((x) => x.station_id === st[p].id).status, 'Accepted');
      assert.equal(st[p].received('local_list').length, before[p] + 1);
      assert.equal(st[p].last('local_list').updateType, 'Full');
    }
    ctx.site = site.id;
  });

  // without update_type each station gets the route's default: Differential, since the
  // stations accepted the Full list above
  test('sync_site_local_lists without update_type uses the route\'s default', async () => {
    assert.ok(ctx.site, 'the sites test made a site');
    const sync = ok(await call('sync_site_local_lists', { id: ctx.site }));
    assert.deepEqual([sync.stations, sync.accepted, sync.failed], [2, 2, 0], JSON.stringify(sync));
    for (const p of PROTOCOLS) assert.equal(st[p].last('local_list').updateType, 'Differential');
  });

  test('the test called every tool of the catalog, each successfully, station tools on 1.6 and 2.0.1', async () => {
    const tools = [];
    let cursor;
    do {
      const page = await op.listTools(cursor ? { cursor } : {});
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    const names = tools.map((t) => t.name);
    assert.ok(names.length >= 33, names.join());
    const missing = names.filter((n) => !calls.has(n));
    assert.deepEqual(missing, [], `tools never called: ${missing.join(', ')}`);
    const neverOk = names.filter((n) => !calls.get(n).some((c) => c.ok));
    assert.deepEqual(neverOk, [], `tools never successful: ${neverOk.join(', ')}`);
    const perStation = tools.filter((t) => t.inputSchema.required?.includes('station_id') || SESSION_TOOLS.includes(t.name)).map((t) => t.name);
    for (const n of perStation) {
      for (const p of PROTOCOLS) assert.ok(calls.get(n).some((c) => c.ok && c.proto === p), `${n} never succeeded against the ${p} station`);
    }
    const unknown = [...calls.keys()].filter((n) => !names.includes(n));
    assert.deepEqual(unknown, [], 'every tool called is in the catalog');
  });
});
