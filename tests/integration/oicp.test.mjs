// The oicp plugin against a mock Hubject (lib/mock-hubject.mjs: HTTPS with mutual TLS, the
// OICP 2.3 paths, every request checked against the specification's schemas): EVSE data
// and status pushes, AuthorizeStart for unknown cards, remote start/stop and reservations
// from the hub charging strict-mode ocpp-rpc stations (1.6 and 2.0.1), charging
// notifications, the CDR retried across a restart, and the endpoint's refusals.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { startGateway } from './lib/harness.mjs';
import { makePki } from './lib/pki.mjs';
import { connectStation } from './lib/stations.mjs';
import { startMockHubject, ack, authorizationStart } from './lib/mock-hubject.mjs';

const PROVIDER = 'DE-DCB';
const EVCO = 'DE-DCB-C12345678-X';
const LOCATION = {
  Address: { Country: 'DEU', City: 'Berlin', Street: 'Invalidenstr.', PostalCode: '10115', HouseNum: '117' },
  GeoCoordinates: { DecimalDegree: { Latitude: '52.530147', Longitude: '13.382390' } },
  Plugs: ['Type 2 Outlet'],
  ChargingFacilities: [{ PowerType: 'AC_3_PHASE', Power: 22 }],
  HotlinePhoneNumber: '+4930123456',
};
const evseIdOf = (station, evse) => `DE*ABC*E${station.replace(/[^A-Za-z0-9]/g, '').toUpperCase().slice(0, 28)}*${evse}`;

let pki;
let hub;
let gw;
let tlsPort;

/** One HTTPS POST to the gateway's OICP endpoint, as the hub makes it. */
function hubCall(path, body, { cert = 'hub', noCert = false } = {}) {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = https.request({
      host: '127.0.0.1', port: tlsPort, path: `/api/oicp${path}`, method: 'POST', agent: false,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
      ca: pki.file('server-ca.pem'),
      ...(noCert ? {} : { cert: pki.file(`${cert}.pem`), key: pki.file(`${cert}.key`) }),
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { json = null; }
        resolve({ status: res.statusCode, body: json, text });
      });
    });
    req.on('error', reject);
    req.setTimeout(30000, () => req.destroy(new Error('timeout')));
    req.end(payload);
  });
}
const remoteStart = (body, o) => hubCall(`/charging/v21/providers/${body.ProviderID}/authorize-remote/start`, body, o);
const remoteStop = (body, o) => hubCall(`/charging/v21/providers/${body.ProviderID}/authorize-remote/stop`, body, o);

async function roamingStation(protocol) {
  const st = await connectStation(gw, { protocol });
  await st.boot();
  await st.status(1, 'Available');
  await st.status(2, 'Available');
  await gw.waitFor(async () => (await gw.sql(`SELECT 1 FROM connectors WHERE station_id = '${st.id}' AND evse = 2`)).length === 1);
  const r = await gw.api('PUT', `/api/v1/hubject/stations/${encodeURIComponent(st.id)}`, LOCATION);
  assert.equal(r.status, 201, r.text);
  return st;
}

const noViolations = () => assert.deepEqual(hub.violations, [], JSON.stringify(hub.violations, null, 1));

before(async () => {
  pki = makePki(mkdtempSync(join(tmpdir(), 'pipelet-oicp-')));
  pki.station('cpo', 'DE*ABC');             // the operator's client certificate towards Hubject
  pki.station('hub', 'Hubject');            // Hubject's, towards the operator's endpoint
  pki.station('intruder', 'Hubject', 'rogue');
  pki.station('other', 'Someone Else');     // verified, but not the hub's subject
  hub = await startMockHubject({ cert: pki.file('server.pem'), key: pki.file('server.key'), ca: pki.file('station-ca.pem') });
  gw = await startGateway({
    plugins: ['ocpp16', 'ocpp201', 'headless', 'oicp', 'simulator'], logLevel: process.env.OICP_DEBUG ? 'debug' : 'info',
    config: {
      core: { auth_unknown: 'reject' },
      http: {
        tls_port: 0, tls_certificate: pki.path('server.pem'), tls_private_key: pki.path('server.key'),
        tls_client_ca: pki.path('station-ca.pem'),
      },
      oicp: {
        url: hub.url, operator_id: 'DE*ABC', operator_name: 'Example CPO', client_cert: pki.path('cpo.pem'),
        client_key: pki.path('cpo.key'), ca_file: pki.path('server-ca.pem'), providers: `${PROVIDER} DE-XYZ`,
        require_client_cert: 'yes', client_subject: '"CN=Hubject,O=Example CPO"', status_delay_ms: 100,
        timeout_ms: 2000, remote_timeout_ms: 5000, retry_max_delay_s: 5, push_pricing: 'yes',
      },
    },
  });
  tlsPort = Number(gw.logs().match(/listening on 127\.0\.0\.1:(\d+) \(https/)[1]);
});

after(async () => {
  if (gw) assert.equal(await gw.stop(), 0);
  assert.doesNotMatch(gw?.logs() || '', /LeakSanitizer|AddressSanitizer|runtime error/);
  if (hub) await hub.close();
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

describe('EVSE data and status', () => {
  test('a station with EVSE data is pushed: insert, update, fullLoad on sync, delete', async () => {
    const st = await roamingStation('ocpp1.6');
    const ids = [evseIdOf(st.id, 1), evseIdOf(st.id, 2)];
    const inserts = () => hub.ops('PushEvseData').filter((r) => r.body.ActionType === 'insert'
      && r.body.OperatorEvseData.EvseDataRecord.some((e) => e.EvseID === ids[0]));
    await hub.waitFor(() => inserts().length === 1, 5000, 'the insert');
    const rec = inserts()[0].body.OperatorEvseData;
    assert.equal(rec.OperatorID, 'DE*ABC');
    assert.equal(rec.OperatorName, 'Example CPO');
    assert.deepEqual(rec.EvseDataRecord.map((e) => e.EvseID), ids);
    assert.deepEqual(rec.EvseDataRecord[0].Address, LOCATION.Address);
    assert.equal(rec.EvseDataRecord[0].ChargingStationId, st.id);
    assert.match(inserts()[0].clientCertSubject, /CN=DE\*ABC/, 'the operator presents its client certificate');

    const up = await gw.api('PUT', `/api/v1/hubject/stations/${st.id}`, { ...LOCATION, Plugs: ['Type 2 Connector (Cable Attached)'] });
    assert.equal(up.status, 200, up.text);
    assert.equal(up.body.push.acknowledged, true);
    assert.deepEqual(up.body.evses.map((e) => e.evse_id), ids);
    const update = hub.ops('PushEvseData').at(-1).body;
    assert.equal(update.ActionType, 'update');
    assert.deepEqual(update.OperatorEvseData.EvseDataRecord[1].Plugs, ['Type 2 Connector (Cable Attached)']);

    const sync = await gw.api('POST', '/api/v1/hubject/sync');
    assert.equal(sync.status, 200, sync.text);
    assert.equal(sync.body.data.acknowledged, true);
    assert.equal(sync.body.status.acknowledged, true);
    const full = hub.ops('PushEvseStatus').filter((r) => r.body.ActionType === 'fullLoad').at(-1).body;
    const mine = full.OperatorEvseStatus.EvseStatusRecord.filter((r) => ids.includes(r.EvseID));
    assert.deepEqual(mine.map((r) => r.EvseStatus), ['Available', 'Available']);
    assert.equal(hub.ops('PushEvseData').filter((r) => r.body.ActionType === 'fullLoad').at(-1).body.OperatorEvseData.EvseDataRecord.length,
      sync.body.evses);

    const records = await gw.api('GET', '/ocpp/v1/hubject/evse-records', null, { key: gw.keys.read });
    assert.equal(records.status, 200);
    assert.ok(records.body.EvseDataRecord.some((r) => r.EvseID === ids[1]));

    const del = await gw.api('DELETE', `/api/v1/hubject/stations/${st.id}`);
    assert.equal(del.status, 200, del.text);
    assert.equal(del.body.acknowledged, true);
    const last = hub.ops('PushEvseData').at(-1).body;
    assert.equal(last.ActionType, 'delete');
    assert.deepEqual(last.OperatorEvseData.EvseDataRecord.map((e) => e.EvseID), ids);
    assert.equal((await gw.api('GET', `/api/v1/hubject/stations/${st.id}`)).status, 404);
    await st.close();
    noViolations();
  });

  test('EVSE data is validated by the router: a missing address or a bad plug names the field', async () => {
    const { Address, ...noAddress } = LOCATION;
    let r = await gw.api('PUT', '/api/v1/hubject/stations/CP-X', noAddress);
    assert.equal(r.status, 400);
    assert.equal(r.body.field, 'Address');
    r = await gw.api('PUT', '/api/v1/hubject/stations/CP-X', { ...LOCATION, Plugs: ['Type 2 Socket'] });
    assert.equal(r.status, 400);
    assert.match(r.body.field, /^Plugs/);
    r = await gw.api('PUT', '/api/v1/hubject/stations/CP-X', LOCATION, { key: gw.keys.read });
    assert.equal(r.status, 403);
  });

  test('connector changes are pushed as status updates, coalesced; a disconnect is Unknown', async () => {
    const st = await roamingStation('ocpp2.0.1');
    const ids = [evseIdOf(st.id, 1), evseIdOf(st.id, 2)];
    const statusOf = (id) => {
      const pushes = hub.ops('PushEvseStatus').filter((r) => r.body.ActionType === 'update');
      for (const p of pushes.reverse()) {
        const rec = p.body.OperatorEvseStatus.EvseStatusRecord.find((r) => r.EvseID === id);
        if (rec) return rec.EvseStatus;
      }
      return null;
    };
    await st.status(1, 'Occupied');
    await st.status(2, 'Unavailable');
    await hub.waitFor(() => statusOf(ids[0]) === 'Occupied' && statusOf(ids[1]) === 'OutOfService', 5000, 'the status update');
    await st.status(1, 'Reserved');
    await hub.waitFor(() => statusOf(ids[0]) === 'Reserved', 5000, 'Reserved');
    await st.close();
    await hub.waitFor(() => statusOf(ids[0]) === 'Unknown' && statusOf(ids[1]) === 'Unknown', 5000, 'Unknown after the disconnect');
    noViolations();
  });
});

describe('AuthorizeStart for cards the gateway does not know', () => {
  test('accepted by the hub: the session charges, notifications and the CDR go to Hubject', async () => {
    const st = await roamingStation('ocpp1.6');
    const sessionId = randomUUID();
    hub.respond('AuthorizeStart', (req) => ({ body: authorizationStart({ authorized: true, sessionId, providerId: PROVIDER, CPOPartnerSessionID: req.body.CPOPartnerSessionID }) }));
    const auth = await st.client.call('Authorize', { idTag: '1234ABCD' });
    assert.equal(auth.idTagInfo.status, 'Accepted');
    const asked = hub.ops('AuthorizeStart').at(-1).body;
    assert.deepEqual(asked.Identification, { RFIDMifareFamilyIdentification: { UID: '1234ABCD' } });
    assert.equal(asked.EvseID, evseIdOf(st.id, 1));
    assert.equal(asked.OperatorID, 'DE*ABC');

    const n = hub.ops('AuthorizeStart').length;
    const tx = await st.startTx(1, '1234ABCD', 1000);
    assert.equal(hub.ops('AuthorizeStart').length, n, 'the session\'s token is not asked for again');
    const note = (type) => hub.ops('ChargingNotification').find((r) => r.body.SessionID === sessionId && r.body.Type === type);
    await hub.waitFor(() => note('Start'), 5000, 'the Start notification');
    assert.equal(note('Start').body.EvseID, evseIdOf(st.id, 1));
    await st.stopTx(tx, 8500, 'Local');
    await hub.waitFor(() => note('End'), 5000, 'the End notification');
    assert.equal(note('End').body.ConsumedEnergy, 7.5);
    const cdr = await hub.waitFor(() => hub.ops('ChargeDetailRecord').find((r) => r.body.SessionID === sessionId), 5000, 'the CDR');
    assert.equal(cdr.body.ConsumedEnergy, 7.5);
    assert.equal(cdr.body.MeterValueStart, 1);
    assert.equal(cdr.body.MeterValueEnd, 8.5);
    assert.deepEqual(cdr.body.Identification, { RFIDMifareFamilyIdentification: { UID: '1234ABCD' } });
    const sessions = await gw.api('GET', '/api/v1/hubject/sessions?status=ended', null, { key: gw.keys.read });
    const s = sessions.body.items.find((x) => x.session_id === sessionId);
    assert.equal(s.origin, 'authorize');
    assert.ok(s.transaction_id > 0);
    await gw.waitFor(async () => (await gw.api('GET', '/ocpp/v1/hubject/outbox?status=sent')).body.items
      .filter((r) => r.session_id === sessionId).length === 3, 5000, 'start, end and CDR acknowledged');
    await st.close();
    noViolations();
  });

  test('refused by the hub: Invalid; a token that is no card or contract id is not sent to the hub', async () => {
    const st = await roamingStation('ocpp1.6');
    hub.respond('AuthorizeStart', null); // the mock's default: NotAuthorized, 102
    let r = await st.client.call('Authorize', { idTag: 'DEADBEEF' });
    assert.equal(r.idTagInfo.status, 'Invalid');
    assert.deepEqual(hub.ops('AuthorizeStart').at(-1).body.Identification, { RFIDMifareFamilyIdentification: { UID: 'DEADBEEF' } });
    const n = hub.ops('AuthorizeStart').length;
    r = await st.client.call('Authorize', { idTag: 'NOT-A-CARD' });
    assert.equal(r.idTagInfo.status, 'Invalid');
    assert.equal(hub.ops('AuthorizeStart').length, n);
    // no answer within authorize_timeout_ms: not the hub's to decide, [core] auth_unknown is
    hub.respond('AuthorizeStart', 'timeout');
    r = await st.client.call('Authorize', { idTag: 'CAFEBABE' });
    assert.equal(r.idTagInfo.status, 'Invalid');
    hub.respond('AuthorizeStart', null);
    await st.close();
  });
});

describe('remote start and stop from the hub', () => {
  for (const protocol of ['ocpp1.6', 'ocpp2.0.1']) {
    test(`${protocol}: the hub's remote start charges the station; its remote stop ends it; the CDR follows`, async () => {
      const st = await roamingStation(protocol);
      const SessionID = randomUUID();
      const evseId = evseIdOf(st.id, 2);
      const start = { SessionID, ProviderID: PROVIDER, EvseID: evseId, Identification: { RemoteIdentification: { EvcoID: EVCO } }, EMPPartnerSessionID: 'emp-1' };
      const r = await remoteStart(start);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.Result, true, r.text);
      assert.equal(r.body.StatusCode.Code, '000');
      assert.equal(r.body.SessionID, SessionID);
      assert.equal(r.body.EMPPartnerSessionID, 'emp-1');
      const asked = st.last('remote_start');
      if (protocol === 'ocpp1.6') {
        assert.equal(asked.idTag, EVCO);
        assert.equal(asked.connectorId, 2);
      } else {
        assert.deepEqual(asked.idToken, { idToken: EVCO, type: 'eMAID' });
        assert.equal(asked.evseId, 2);
      }
      // the same call again (the hub's own retry) is the same session
      assert.equal((await remoteStart(start)).body.Result, true);
      assert.equal(st.received('remote_start').length, 1);

      if (protocol === 'ocpp1.6') assert.equal((await st.client.call('Authorize', { idTag: EVCO })).idTagInfo.status, 'Accepted');
      const tx = await st.startTx(2, EVCO, 0);
      await st.meter(2, tx, 4000);
      const s = await gw.waitFor(async () => {
        const l = await gw.api('GET', '/api/v1/hubject/sessions?status=active');
        return l.body.items.find((x) => x.session_id === SessionID);
      }, 5000, 'the session active');
      assert.ok(s);

      const stop = await remoteStop({ SessionID, ProviderID: PROVIDER, EvseID: evseId });
      assert.equal(stop.body.Result, true, stop.text);
      const sent = st.last('remote_stop');
      assert.equal(String(sent.transactionId), String(tx));
      await st.stopTx(tx, 12000);
      const cdr = await hub.waitFor(() => hub.ops('ChargeDetailRecord').find((x) => x.body.SessionID === SessionID), 5000, 'the CDR');
      assert.equal(cdr.body.EvseID, evseId);
      assert.equal(cdr.body.ConsumedEnergy, 12);
      assert.equal(cdr.body.EMPPartnerSessionID, 'emp-1');
      assert.deepEqual(cdr.body.Identification, start.Identification);
      assert.ok(cdr.body.SessionStart <= cdr.body.ChargingStart);
      // a stop of a session that ended is refused with 400 (session is invalid)
      const again = await remoteStop({ SessionID, ProviderID: PROVIDER, EvseID: evseId });
      assert.equal(again.body.Result, false);
      assert.equal(again.body.StatusCode.Code, '400');
      await st.close();
      noViolations();
    });
  }

  test('the simulator\'s stations (1.6 and 2.0.1) charge on the hub\'s remote start and stop on its remote stop', async () => {
    for (const protocol of ['ocpp1.6', 'ocpp2.0.1']) {
      const prefix = `SIMHB${protocol === 'ocpp1.6' ? '16' : '201'}-`;
      const f = await gw.api('POST', '/sim/v1/fleets', { id_prefix: prefix, count: 1, template: { protocol, connectors: 1, meter_interval_s: 1 } });
      assert.equal(f.status, 201, f.text);
      const id = f.body.stations[0].id ?? f.body.stations[0];
      await gw.waitFor(async () => (await gw.sql(`SELECT 1 FROM connectors WHERE station_id = '${id}' AND evse = 1 AND status = 'Available'`)).length === 1, 10000, `${id} available`);
      assert.equal((await gw.api('PUT', `/api/v1/hubject/stations/${id}`, LOCATION)).status, 201);
      const SessionID = randomUUID();
      const EvseID = evseIdOf(id, 1);
      const r = await remoteStart({ SessionID, ProviderID: PROVIDER, EvseID, Identification: { RemoteIdentification: { EvcoID: EVCO } } });
      assert.equal(r.body.Result, true, r.text);
      await gw.waitFor(async () => (await gw.api('GET', '/api/v1/hubject/sessions?status=active')).body.items.some((x) => x.session_id === SessionID), 10000, `${protocol}: charging`);
      await new Promise((res) => setTimeout(res, 1500)); // a meter value or two
      const stop = await remoteStop({ SessionID, ProviderID: PROVIDER, EvseID });
      assert.equal(stop.body.Result, true, stop.text);
      const cdr = await hub.waitFor(() => hub.ops('ChargeDetailRecord').find((x) => x.body.SessionID === SessionID), 10000, `${protocol}: the CDR`);
      assert.equal(cdr.body.EvseID, EvseID);
      assert.ok(cdr.body.ConsumedEnergy >= 0);
      await gw.api('DELETE', `/sim/v1/fleets/${f.body.fleet_id}`);
    }
    noViolations();
  });

  test('refusals are acknowledgements with the status code; the endpoint admits only the hub', async () => {
    const st = await roamingStation('ocpp1.6');
    const base = { ProviderID: PROVIDER, EvseID: evseIdOf(st.id, 1), Identification: { RemoteIdentification: { EvcoID: EVCO } } };
    const code = async (body, o) => {
      const r = await remoteStart(body, o);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.Result, false, r.text);
      return r.body.StatusCode.Code;
    };
    assert.equal(await code({ ...base, SessionID: randomUUID(), EvseID: 'DE*ABC*ENOPE*1' }), '603');
    assert.equal(await code({ ...base }), '022', 'no SessionID');
    assert.equal(await code({ ...base, SessionID: randomUUID(), ProviderID: 'DE-XXX' }), '017', 'a provider not in [oicp] providers');
    assert.equal(await code({ ...base, SessionID: randomUUID(), Identification: { RFIDMifareFamilyIdentification: { UID: 'xyz' } } }), '022');
    await st.status(1, 'Charging');
    assert.equal(await code({ ...base, SessionID: randomUUID() }), '602');
    await st.status(1, 'Faulted');
    assert.equal(await code({ ...base, SessionID: randomUUID() }), '700');
    await st.status(1, 'Available');
    st.answer('remote_start', 'reject');
    assert.equal(await code({ ...base, SessionID: randomUUID() }), '501');
    st.answer('remote_start', 'accept');
    const stopUnknown = await remoteStop({ SessionID: randomUUID(), ProviderID: PROVIDER, EvseID: base.EvseID });
    assert.equal(stopUnknown.body.StatusCode.Code, '400');
    await st.close();
    await gw.waitFor(async () => !(await gw.api('GET', `/api/v1/stations/${st.id}`)).body?.online, 5000, 'offline');
    assert.equal(await code({ ...base, SessionID: randomUUID() }), '501', 'the station is offline');

    // the hub's certificate: another verified subject is refused by [oicp] client_subject,
    // none at all by the route (403), one from another CA at the handshake
    assert.equal(await code({ ...base, SessionID: randomUUID() }, { cert: 'other' }), '017');
    const none = await remoteStart({ ...base, SessionID: randomUUID() }, { noCert: true });
    assert.equal(none.status, 403);
    assert.equal(none.body.code, 'CLIENT_CERT_REQUIRED');
    await assert.rejects(remoteStart({ ...base, SessionID: randomUUID() }, { cert: 'intruder' }));
  });

  test('a gateway without the operator\'s client certificate is refused by Hubject at the handshake, and says so', async () => {
    const other = await startGateway({
      plugins: ['headless', 'oicp'],
      config: { oicp: { url: hub.url, operator_id: 'DE*ABC', ca_file: pki.path('server-ca.pem'), timeout_ms: 2000 } },
    });
    try {
      assert.match(other.logs(), /client_cert is not set: Hubject refuses calls without one/);
      const raw = await other.api('POST', '/ocpp/v1/hubject/operations/PushEvseStatus', {
        ActionType: 'update', OperatorEvseStatus: { OperatorID: 'DE*ABC', EvseStatusRecord: [{ EvseID: 'DE*ABC*E1*1', EvseStatus: 'Available' }] },
      });
      assert.equal(raw.status, 502, raw.text);
      assert.equal(raw.body.http_status, 0);
      assert.ok(raw.body.error, raw.text);
      const status = await other.api('GET', '/api/v1/hubject/status');
      assert.equal(status.body.operations.PushEvseStatus.failed, 1);
      assert.equal(status.body.operations.PushEvseStatus.http_status, 0);
    } finally {
      assert.equal(await other.stop(), 0);
    }
  });

  test('reservations from the hub: ReserveNow for Duration minutes, then cancelled', async () => {
    const st = await roamingStation('ocpp1.6');
    const SessionID = randomUUID();
    const body = { SessionID, ProviderID: PROVIDER, EvseID: evseIdOf(st.id, 1), Identification: { RFIDMifareFamilyIdentification: { UID: 'ABCD1234' } }, Duration: 20 };
    const r = await hubCall(`/reservation/v11/providers/${PROVIDER}/reservation-start-request`, body);
    assert.equal(r.body.Result, true, r.text);
    const reserve = st.last('reserve');
    assert.equal(reserve.idTag, 'ABCD1234');
    assert.equal(reserve.connectorId, 1);
    const minutes = (Date.parse(reserve.expiryDate) - Date.now()) / 60000;
    assert.ok(minutes > 19 && minutes <= 20.1, `expiry in ${minutes} minutes`);
    // the EVSE is taken meanwhile
    const other = await remoteStart({ SessionID: randomUUID(), ProviderID: PROVIDER, EvseID: body.EvseID, Identification: { RemoteIdentification: { EvcoID: EVCO } } });
    assert.equal(other.body.StatusCode.Code, '601');
    const c = await hubCall(`/reservation/v11/providers/${PROVIDER}/reservation-stop-request`, { SessionID, ProviderID: PROVIDER, EvseID: body.EvseID });
    assert.equal(c.body.Result, true, c.text);
    assert.equal(st.last('cancel_reservation').reservationId, reserve.reservationId);
    await gw.waitFor(async () => (await gw.api('GET', '/api/v1/hubject/sessions?status=cancelled')).body.items
      .some((x) => x.session_id === SessionID), 5000, 'the session cancelled');
    await st.close();
  });
});

describe('stopping with another card', () => {
  test('AuthorizationStopIdentifications are accepted at the station; another card on a roaming EVSE is AuthorizeStop', async () => {
    const st = await roamingStation('ocpp2.0.1');
    const SessionID = randomUUID();
    hub.respond('AuthorizeStart', { body: authorizationStart({ authorized: true, sessionId: SessionID, providerId: PROVIDER,
      AuthorizationStopIdentifications: [{ RFIDMifareFamilyIdentification: { UID: '0A0B0C0D' } }] }) });
    const a = await st.client.call('Authorize', { idToken: { idToken: '11223344', type: 'ISO14443' } });
    assert.equal(a.idTokenInfo.status, 'Accepted');
    hub.respond('AuthorizeStart', null);
    const asked = hub.ops('AuthorizeStart').length;
    const b = await st.client.call('Authorize', { idToken: { idToken: '0A0B0C0D', type: 'ISO14443' } });
    assert.equal(b.idTokenInfo.status, 'Accepted', 'a stop identification the hub named');
    assert.equal(hub.ops('AuthorizeStart').length, asked);

    const tx = await st.startTx(1, '11223344', 0);
    await gw.waitFor(async () => (await gw.api('GET', '/api/v1/hubject/sessions?status=active')).body.items.some((x) => x.session_id === SessionID), 5000, 'active');
    hub.respond('AuthorizeStop', (req) => ({ body: { SessionID: req.body.SessionID, AuthorizationStatus: 'Authorized', StatusCode: { Code: '000' }, ProviderID: PROVIDER } }));
    const upd = await st.client.call('TransactionEvent', {
      eventType: 'Updated', timestamp: new Date().toISOString(), triggerReason: 'StopAuthorized', seqNo: 5,
      transactionInfo: { transactionId: tx }, evse: { id: 1, connectorId: 1 }, idToken: { idToken: 'CAFED00D', type: 'ISO14443' },
    });
    assert.equal(upd.idTokenInfo.status, 'Accepted');
    const stop = hub.ops('AuthorizeStop').at(-1).body;
    assert.equal(stop.SessionID, SessionID);
    assert.equal(stop.EvseID, evseIdOf(st.id, 1));
    assert.deepEqual(stop.Identification, { RFIDMifareFamilyIdentification: { UID: 'CAFED00D' } });
    hub.respond('AuthorizeStop', null);
    await st.stopTx(tx, 500);
    await st.close();
    noViolations();
  });
});

describe('dynamic pricing', () => {
  test('tariffs are pushed as pricing products, each EVSE with its tariff\'s products', async () => {
    const st = await roamingStation('ocpp1.6');
    const tariff = (await gw.api('POST', '/api/v1/tariffs', {
      name: 'Roaming AC', currency: 'EUR',
      elements: [
        { price_components: [{ type: 'ENERGY', price: '0.45', vat: '19' }, { type: 'FLAT', price: '1.00', vat: '19' }, { type: 'PARKING_TIME', price: '6.00', vat: '19' }],
          restrictions: { start_time: '08:00', end_time: '20:00', day_of_week: ['MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY'] } },
        { price_components: [{ type: 'ENERGY', price: '0.35', vat: '19' }] },
      ],
      min_price: { excl_vat: '2.00', incl_vat: '2.38' },
    })).body;
    assert.ok(tariff.id, JSON.stringify(tariff));
    const as = await gw.api('POST', `/api/v1/tariffs/${tariff.id}/assignments`, { station_id: st.id });
    assert.equal(as.status, 201, as.text);
    const sync = await gw.api('POST', '/api/v1/hubject/sync');
    assert.equal(sync.status, 200, sync.text);
    assert.equal(sync.body.pricing.products.acknowledged, true, sync.text);
    assert.equal(sync.body.pricing.evse_pricing.acknowledged, true, sync.text);
    const products = hub.ops('PushPricingProductData').at(-1).body.PricingProductData;
    assert.equal(products.OperatorID, 'DE*ABC');
    assert.equal(products.ProviderID, '*');
    const day = products.PricingProductDataRecords.find((p) => p.ProductID === `T${tariff.id}-1`);
    assert.equal(day.ReferenceUnit, 'KILOWATT_HOUR');
    assert.equal(day.PricePerReferenceUnit, 0.45);
    assert.equal(day.ProductPriceCurrency, 'EUR');
    assert.equal(day.IsValid24hours, false);
    assert.deepEqual(day.ProductAvailabilityTimes, [{ Periods: [{ begin: '08:00', end: '20:00' }], on: 'Workdays' }]);
    assert.deepEqual(day.AdditionalReferences, [
      { AdditionalReference: 'START FEE', AdditionalReferenceUnit: 'KILOWATT_HOUR', PricePerAdditionalReferenceUnit: 1 },
      { AdditionalReference: 'PARKING FEE', AdditionalReferenceUnit: 'HOUR', PricePerAdditionalReferenceUnit: 6 },
      { AdditionalReference: 'MINIMUM FEE', AdditionalReferenceUnit: 'KILOWATT_HOUR', PricePerAdditionalReferenceUnit: 2 },
    ]);
    const night = products.PricingProductDataRecords.find((p) => p.ProductID === `T${tariff.id}-2`);
    assert.equal(night.IsValid24hours, true);
    assert.equal(night.PricePerReferenceUnit, 0.35);
    const evses = hub.ops('PushEVSEPricing').at(-1).body.EVSEPricing.filter((e) => e.EvseID.startsWith(evseIdOf(st.id, 1).slice(0, -1)));
    assert.deepEqual(evses.map((e) => e.EvseIDProductList), [[`T${tariff.id}-1`, `T${tariff.id}-2`], [`T${tariff.id}-1`, `T${tariff.id}-2`]]);
    assert.ok(evses.every((e) => e.ProviderID === '*'));
    // a new price reaches Hubject without a sync
    const n = hub.ops('PushPricingProductData').length;
    await gw.api('PATCH', `/api/v1/tariffs/${tariff.id}`, { elements: [{ price_components: [{ type: 'ENERGY', price: '0.49', vat: '19' }] }] });
    await hub.waitFor(() => hub.ops('PushPricingProductData').length > n
      && hub.ops('PushPricingProductData').at(-1).body.PricingProductData.PricingProductDataRecords.some((p) => p.ProductID === `T${tariff.id}-1` && p.PricePerReferenceUnit === 0.49), 8000, 'the new price pushed');
    await st.close();
    noViolations();
  });
});

describe('signed readings', () => {
  test('the CDR carries the station\'s signed meter values as SignedMeteringValues (Start, End)', async () => {
    const st = await roamingStation('ocpp2.0.1');
    const SessionID = randomUUID();
    const r = await remoteStart({ SessionID, ProviderID: PROVIDER, EvseID: evseIdOf(st.id, 1), Identification: { RemoteIdentification: { EvcoID: EVCO } } });
    assert.equal(r.body.Result, true, r.text);
    const now = () => new Date().toISOString();
    const sig = (data) => ({ signedMeterData: data, signingMethod: 'ECDSA-secp256r1-SHA256', encodingMethod: 'OCMF', publicKey: 'UFVC' });
    const mv = (wh, context, data) => [{ timestamp: now(), sampledValue: [{ value: wh, measurand: 'Energy.Active.Import.Register', context, signedMeterValue: sig(data) }] }];
    const info = { transactionId: 'oicp-signed-1' };
    await st.client.call('TransactionEvent', { eventType: 'Started', timestamp: now(), triggerReason: 'RemoteStart', seqNo: 0, transactionInfo: info, evse: { id: 1, connectorId: 1 }, idToken: { idToken: EVCO, type: 'eMAID' }, meterValue: mv(0, 'Transaction.Begin', 'OCMF|{"RD":[{"RV":0}]}|{"SD":"BEGIN"}') });
    await st.client.call('TransactionEvent', { eventType: 'Ended', timestamp: now(), triggerReason: 'StopAuthorized', seqNo: 1, transactionInfo: { ...info, stoppedReason: 'Local' }, meterValue: mv(4200, 'Transaction.End', 'OCMF|{"RD":[{"RV":4.2}]}|{"SD":"END"}') });
    const cdr = await hub.waitFor(() => hub.ops('ChargeDetailRecord').find((x) => x.body.SessionID === SessionID), 5000, 'the CDR');
    assert.deepEqual(cdr.body.SignedMeteringValues, [
      { SignedMeteringValue: 'OCMF|{"RD":[{"RV":0}]}|{"SD":"BEGIN"}', MeteringStatus: 'Start' },
      { SignedMeteringValue: 'OCMF|{"RD":[{"RV":4.2}]}|{"SD":"END"}', MeteringStatus: 'End' },
    ]);
    assert.equal(cdr.body.ConsumedEnergy, 4.2);
    await st.close();
    noViolations();
  });
});

describe('the outbox', () => {
  test('a CDR Hubject does not acknowledge is retried, across a restart, and sent once acknowledged', async () => {
    const st = await roamingStation('ocpp1.6');
    const SessionID = randomUUID();
    hub.respond('ChargeDetailRecord', { status: 500, body: ack(false, '001', 'Hubject system error') });
    const r = await remoteStart({ SessionID, ProviderID: PROVIDER, EvseID: evseIdOf(st.id, 1), Identification: { RemoteIdentification: { EvcoID: EVCO } } });
    assert.equal(r.body.Result, true, r.text);
    const tx = await st.startTx(1, EVCO, 100);
    await st.stopTx(tx, 2100);
    const tries = () => hub.ops('ChargeDetailRecord').filter((x) => x.body.SessionID === SessionID).length;
    await hub.waitFor(() => tries() >= 1, 5000, 'a first try');
    const row = async () => (await gw.api('GET', '/ocpp/v1/hubject/outbox')).body.items.find((x) => x.session_id === SessionID && x.kind === 'cdr');
    await gw.waitFor(async () => (await row())?.attempts >= 1, 5000, 'the attempt recorded');
    assert.equal((await row()).status, 'pending');
    assert.equal((await row()).last_code, '001');
    await st.close();

    await gw.restart();
    tlsPort = Number(gw.logs().match(/listening on 127\.0\.0\.1:(\d+) \(https/g).at(-1).match(/:(\d+) /)[1]);
    hub.respond('ChargeDetailRecord', null);
    await gw.waitFor(async () => (await row())?.status === 'sent', 15000, 'the CDR acknowledged after the restart');
    const acked = hub.ops('ChargeDetailRecord').filter((x) => x.body.SessionID === SessionID);
    assert.equal(acked.at(-1).body.ConsumedEnergy, 2);
    const settled = tries();
    await new Promise((res) => setTimeout(res, 1500));
    assert.equal(tries(), settled, 'not sent again once acknowledged');
    noViolations();
  });

  test('a CDR refused for its data (022) is failed, not retried, and can be sent again by hand', async () => {
    const st = await roamingStation('ocpp2.0.1');
    const SessionID = randomUUID();
    hub.respond('ChargeDetailRecord', { body: ack(false, '022', 'Data error') });
    await remoteStart({ SessionID, ProviderID: PROVIDER, EvseID: evseIdOf(st.id, 1), Identification: { RemoteIdentification: { EvcoID: EVCO } } });
    const tx = await st.startTx(1, EVCO, 0);
    await st.stopTx(tx, 1000);
    const row = async () => (await gw.api('GET', '/ocpp/v1/hubject/outbox?status=failed')).body.items.find((x) => x.session_id === SessionID);
    await gw.waitFor(async () => await row(), 5000, 'the row failed');
    const failed = await row();
    assert.equal(failed.attempts, 1);
    assert.equal(failed.last_code, '022');
    hub.respond('ChargeDetailRecord', null);
    const again = await gw.api('POST', `/ocpp/v1/hubject/outbox/${failed.id}/retry`);
    assert.equal(again.status, 200, again.text);
    await gw.waitFor(async () => (await gw.api('GET', '/ocpp/v1/hubject/outbox?status=sent')).body.items.some((x) => x.id === failed.id), 5000, 'sent after the retry');
    const status = await gw.api('GET', '/api/v1/hubject/status', null, { key: gw.keys.read });
    assert.equal(status.status, 200);
    assert.equal(status.body.enabled, true);
    assert.ok(status.body.operations.ChargeDetailRecord.ok >= 1);
    assert.ok(status.body.outbox.sent >= 1);
    await st.close();
  });
});
