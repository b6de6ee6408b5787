// load.test.mjs — load management against the simulator (which honours charging profiles
// by their precedence and draws just under what they allow): a 32 A site shared by four
// sessions on OCPP 1.6 and 2.0.1 stations, an EV that draws less, a paused session
// lowered before the others are raised, a station that refuses its profiles, a schedule,
// and the version-neutral station limit.  Throughout, what the simulated stations draw
// never exceeds the site limit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './lib/harness.mjs';
import { connectStation } from './lib/stations.mjs';

let gw;
const V = 230, PH = 3;
const W = (a) => a * V * PH;

before(async () => {
  gw = await startGateway({
    plugins: ['ocpp16', 'ocpp201', 'headless', 'simulator'],
    required: ['ocpp16', 'ocpp201', 'headless', 'simulator'],
    config: { core: { auth_unknown: 'accept' }, simulator: { api_key_required: 'no' }, load: { command_timeout: 3000 } },
  });
  for (const [prefix, protocol] of [['LA', 'ocpp1.6'], ['LB', 'ocpp2.0.1'], ['LR', 'ocpp1.6'], ['LS', 'ocpp2.0.1']]) {
    const r = await gw.api('POST', '/sim/v1/fleets', {
      id_prefix: prefix, count: 2,
      template: { protocol, connectors: 1, max_power_w: W(32), meter_interval_s: 1 },
    });
    assert.equal(r.status, 201, r.text);
  }
  for (const id of ['LA0001', 'LA0002', 'LB0001', 'LB0002', 'LR0001', 'LR0002', 'LS0001', 'LS0002'])
    await gw.waitFor(async () => (await gw.api('GET', `/api/v1/stations/${id}`)).body?.online, 15000, `${id} online`);
});

after(async () => {
  if (gw) assert.equal(await gw.stop(), 0, 'clean exit (ASan)');
});

const load = async (site) => (await gw.api('GET', `/api/v1/sites/${site}/load`)).body;
const sim = async (id) => (await gw.api('GET', `/sim/v1/stations/${id}`)).body;
const simPower = async (ids) => {
  let sum = 0;
  for (const id of ids) sum += (await sim(id)).connectors[0].power_w;
  return sum;
};
const start = (id, body = {}) => gw.api('POST', `/sim/v1/stations/${id}/connectors/1/start`, body);
const stop = (id) => gw.api('POST', `/sim/v1/stations/${id}/connectors/1/stop`);

// Wait until every session of the site was given (and its station accepted) the shares
// expected, by station; meanwhile check what is counted and what is drawn.
async function shares(site, expected, ids, limitA, what) {
  let last;
  await gw.waitFor(async () => {
    last = await load(site);
    assert.ok(last.committed_a <= limitA + 1e-9, `${what}: counted ${last.committed_a} A over ${limitA} A`);
    const drawn = await simPower(ids);
    assert.ok(drawn <= W(limitA) + 1, `${what}: the stations draw ${drawn} W, over ${W(limitA)} W`);
    const got = Object.fromEntries(last.sessions.map((s) => [s.station_id, s.applied_a]));
    return Object.keys(expected).length === last.sessions.length &&
      Object.entries(expected).every(([id, a]) => got[id] !== null && Math.abs(got[id] - a) < 0.051);
  }, 20000, `${what}: shares ${JSON.stringify(expected)} (last: ${JSON.stringify(last?.sessions?.map((s) => [s.station_id, s.allocated_a, s.applied_a, s.state]))})`);
  return last;
}

test('sites: created, validated field by field, stations put in and taken out', async () => {
  let r = await gw.api('POST', '/api/v1/sites', { name: 'Depot', limit: 32, schedule: [{ from: '17:00', to: '25:00', limit: 10 }] });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.body.code, 'INVALID_PARAMETER');
  r = await gw.api('POST', '/api/v1/sites', { name: 'Depot', limit: 32, unit: 'kW' });
  assert.equal(r.status, 400);
  r = await gw.api('POST', '/api/v1/sites', { name: 'Depot', limit: 32, time_zone: 'Mars/Olympus' });
  assert.equal(r.status, 400);
  assert.match(r.body.error, /time_zone/);
  r = await gw.api('POST', '/api/v1/sites', { name: 'Depot', limit: 32, min_interval_s: 0, settle_s: 1 });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.headers.get('location'), `/api/v1/sites/${r.body.id}`);
  assert.equal(r.body.unit, 'A');
  assert.equal(r.body.phases, 3);
  assert.equal(r.body.min_current, 6);
  assert.deepEqual(r.body.stations, []);
  const id = r.body.id;
  assert.equal((await gw.api('PUT', `/api/v1/sites/${id}/stations/NOSUCH01`)).body.code, 'STATION_NOT_FOUND');
  assert.equal((await gw.api('PUT', `/api/v1/sites/999999/stations/LA0001`)).body.code, 'SITE_NOT_FOUND');
  r = await gw.api('PUT', `/api/v1/sites/${id}/stations/LA0001`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.stations, ['LA0001']);
  r = await gw.api('PATCH', `/api/v1/sites/${id}`, { name: 'Depot A', bogus: 1 });
  assert.equal(r.status, 400);
  r = await gw.api('PATCH', `/api/v1/sites/${id}`, { name: 'Depot A' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.name, 'Depot A');
  assert.equal(r.body.limit, 32);
  r = await gw.api('DELETE', `/api/v1/sites/${id}/stations/LA0001`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.stations, []);
  assert.equal((await gw.api('DELETE', `/api/v1/sites/${id}/stations/LA0001`)).status, 404);
  const list = await gw.api('GET', '/api/v1/sites?limit=10');
  assert.ok(list.body.items.some((s) => s.id === id));
  assert.equal((await gw.api('DELETE', `/api/v1/sites/${id}`)).status, 200);
  assert.equal((await gw.api('GET', `/api/v1/sites/${id}`)).status, 404);
});

test('a 32 A site, four sessions on 1.6 and 2.0.1 stations: 32 / 16 / 10.6 / 8 A, an EV drawing less, back up when one stops', async () => {
  const ids = ['LA0001', 'LB0001', 'LA0002', 'LB0002'];
  const site = (await gw.api('POST', '/api/v1/sites', { name: 'Shared', limit: 32, min_interval_s: 0, settle_s: 1 })).body.id;
  for (const id of ids) assert.equal((await gw.api('PUT', `/api/v1/sites/${site}/stations/${id}`)).status, 200);
  // every station holds the 0 A default: a session starts paused until its share is sent
  await gw.waitFor(async () => (await Promise.all(ids.map(sim))).every((s) => s.connectors[0].limit_w === 0),
    10000, '0 A TxDefaultProfile everywhere');

  const events = [];
  const expected = {};
  const steps = [32, 16, 10.6, 8];
  for (let i = 0; i < 4; i++) {
    assert.equal((await start(ids[i])).status, 200);
    for (let j = 0; j <= i; j++) expected[ids[j]] = steps[i];
    await shares(site, expected, ids, 32, `${i + 1} session(s)`);
  }
  let l = await load(site);
  assert.deepEqual(l.sessions.map((s) => s.protocol).sort(), ['ocpp1.6', 'ocpp1.6', 'ocpp2.0.1', 'ocpp2.0.1']);
  assert.ok(l.rebalanced_at);
  // what the stations were sent: their own version's TxProfile, the gateway's id and stack level
  const frames = (await gw.api('GET', `/ocpp/v1/stations/LB0001/messages?action=SetChargingProfile&dir=out`)).body;
  const last = frames.items ? frames.items.at(-1) : frames.at(-1);
  const prof = last.frame[3].chargingProfile;
  assert.equal(prof.chargingProfilePurpose, 'TxProfile');
  assert.equal(prof.stackLevel, 90);
  assert.ok(prof.id >= 930000000);
  assert.equal(prof.chargingSchedule[0].chargingRateUnit, 'A');

  // the fourth EV takes at most 4 A: once settled, its cap frees the rest for the others
  assert.equal((await stop(ids[3])).status, 200);
  await shares(site, { LA0001: 10.6, LB0001: 10.6, LA0002: 10.6 }, ids, 32, 'one stopped');
  assert.equal((await start(ids[3], { ev_max_power_w: W(4) })).status, 200);
  await shares(site, { LA0001: 8, LB0001: 8, LA0002: 8, LB0002: 8 }, ids, 32, 'four again');
  l = await shares(site, { LA0001: 8.6, LB0001: 8.6, LA0002: 8.6, LB0002: 6 }, ids, 32, 'surplus of the slow EV');
  assert.equal(l.sessions.find((s) => s.station_id === 'LB0002').cap_a > 0, true);

  // one stops: the others go back up
  assert.equal((await stop(ids[0])).status, 200);
  await shares(site, { LB0001: 13, LA0002: 13, LB0002: 6 }, ids, 32, 'first stopped');
  for (const id of ids.slice(1)) await stop(id);
  await gw.waitFor(async () => (await load(site)).sessions.length === 0, 10000, 'no sessions');
  assert.equal((await load(site)).committed_a, 0);
  void events;
});

test('a share below the minimum pauses the newest session, lowered before any other is raised; a schedule lowers every session', async () => {
  const ids = ['LA0001', 'LB0001', 'LA0002', 'LB0002'];
  const site = (await gw.api('POST', '/api/v1/sites', { name: 'Min', limit: 32, min_interval_s: 0, settle_s: 60 })).body.id;
  for (const id of ids) assert.equal((await gw.api('PUT', `/api/v1/sites/${site}/stations/${id}`)).status, 200);
  for (const id of ids) {
    await gw.waitFor(async () => (await sim(id)).connectors[0].status === 'Available', 10000, `${id} free`);
    assert.equal((await start(id)).status, 200);
  }
  await shares(site, { LA0001: 8, LB0001: 8, LA0002: 8, LB0002: 8 }, ids, 32, 'four at 8 A');
  const t0 = new Date().toISOString();
  // 8 A is now below the minimum: the newest waits, the three others get 10.6 A
  let r = await gw.api('PATCH', `/api/v1/sites/${site}`, { min_current: 10 });
  assert.equal(r.status, 200, r.text);
  const l = await shares(site, { LA0001: 10.6, LB0001: 10.6, LA0002: 10.6, LB0002: 0 }, ids, 32, 'newest paused');
  assert.equal(l.sessions.find((s) => s.station_id === 'LB0002').state, 'paused');
  // the pause was answered before the first raise went out
  const msgs = async (id, dir) => {
    const b = (await gw.api('GET', `/ocpp/v1/stations/${id}/messages?limit=200`)).body;
    return (b.items || b).filter((m) => m.time >= t0 && m.dir === dir);
  };
  const pausedAnswer = (await msgs('LB0002', 'in')).find((m) => m.frame[0] === 3);
  assert.ok(pausedAnswer, 'LB0002 answered its 0 A profile');
  for (const id of ids.slice(0, 3)) {
    const raise = (await msgs(id, 'out')).find((m) => m.frame[2] === 'SetChargingProfile');
    assert.ok(raise, `${id} was raised`);
    assert.ok(raise.time >= pausedAnswer.time, `${id} raised at ${raise.time}, before LB0002's pause was answered at ${pausedAnswer.time}`);
  }
  // a schedule window that covers now, at every hour of every day: 16 A
  r = await gw.api('PATCH', `/api/v1/sites/${site}`, { min_current: 6, schedule: [{ from: '00:00', to: '24:00', limit: 16 }] });
  assert.equal(r.status, 200, r.text);
  // While the stations take the lower profiles, what they draw is bounded by the limit
  // before the change; once they have, by the new one (a station cannot obey a profile
  // it has not received yet).
  await shares(site, { LA0001: 8, LB0001: 8, LA0002: 0, LB0002: 0 }, ids, 32, 'schedule 16 A: two at 8 A, the newest two wait');
  assert.equal((await load(site)).limit_a, 16);
  await gw.waitFor(async () => (await simPower(ids)) <= W(16) + 1, 10000, 'the stations draw within 16 A');
  for (let i = 0; i < 3; i++) {
    assert.ok((await load(site)).committed_a <= 16);
    assert.ok((await simPower(ids)) <= W(16) + 1);
  }
  for (const id of ids) await stop(id);
  await gw.waitFor(async () => (await load(site)).sessions.length === 0, 10000, 'no sessions');
  assert.equal((await gw.api('DELETE', `/api/v1/sites/${site}`)).status, 200);
});

test('a group inside a site: its own limit caps its sessions, the site shares the rest', async () => {
  const ids = ['LA0001', 'LB0001', 'LA0002', 'LB0002'];
  const site = (await gw.api('POST', '/api/v1/sites', { name: 'Car park', limit: 32, min_interval_s: 0, settle_s: 60 })).body.id;
  let r = await gw.api('POST', '/api/v1/sites', { name: 'Row A', parent_id: site, limit: 14, min_interval_s: 0, settle_s: 60 });
  assert.equal(r.status, 201, r.text);
  const group = r.body.id;
  assert.equal((await gw.api('PATCH', `/api/v1/sites/${site}`, { parent_id: group })).status, 400, 'no loops');
  for (const id of ids.slice(0, 2)) assert.equal((await gw.api('PUT', `/api/v1/sites/${group}/stations/${id}`)).status, 200);
  for (const id of ids.slice(2)) assert.equal((await gw.api('PUT', `/api/v1/sites/${site}/stations/${id}`)).status, 200);
  await gw.waitFor(async () => (await Promise.all(ids.map(sim))).every((s) => s.connectors[0].limit_w === 0), 10000, 'defaults');
  for (const id of ids) {
    await gw.waitFor(async () => (await sim(id)).connectors[0].status === 'Available', 10000, `${id} free`);
    assert.equal((await start(id)).status, 200);
  }
  // the row holds 14 A: 7 each; the site's other 18 A: 9 each
  const l = await shares(site, { LA0001: 7, LB0001: 7, LA0002: 9, LB0002: 9 }, ids, 32, 'group of 14 A inside 32 A');
  assert.equal(l.sessions.filter((x) => x.site_id === group).length, 2);
  const g = (await gw.api('GET', `/api/v1/sites/${group}/load`)).body;
  assert.equal(g.sessions.length, 2);
  assert.ok(g.committed_a <= 14);
  // the row's limit goes: everyone shares the site's 32 A
  r = await gw.api('PATCH', `/api/v1/sites/${group}`, { limit: null });
  assert.equal(r.status, 200, r.text);
  await shares(site, { LA0001: 8, LB0001: 8, LA0002: 8, LB0002: 8 }, ids, 32, 'the group unlimited');
  // the site's limit goes: nothing holds the sessions back any more
  assert.equal((await gw.api('PATCH', `/api/v1/sites/${site}`, { limit: null })).status, 200);
  await gw.waitFor(async () => (await Promise.all(ids.map(sim))).every((s) => s.connectors[0].limit_w === null),
    10000, 'profiles cleared');
  assert.equal((await load(site)).balanced, false);
  for (const id of ids) await stop(id);
  await gw.waitFor(async () => (await load(site)).sessions.length === 0, 10000, 'no sessions');
  assert.equal((await gw.api('DELETE', `/api/v1/sites/${site}`)).status, 200);
  assert.equal((await gw.api('GET', `/api/v1/sites/${group}`)).status, 404, 'groups go with their site');
});

test("a customer's charging priority: when not every session can get its minimum, others wait first", async () => {
  const ids = ['LA0001', 'LB0001', 'LA0002'];
  let r = await gw.api('POST', '/api/v1/customers', { name: 'Ambulance depot', charging_priority: 10 });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.charging_priority, 10);
  const customer = r.body.id;
  assert.equal((await gw.api('POST', '/api/v1/customers', { name: 'x', charging_priority: 101 })).status, 400);
  assert.equal((await gw.api('POST', '/api/v1/tokens', { id_token: 'VIPTAG01', customer_id: customer })).status, 201);
  const site = (await gw.api('POST', '/api/v1/sites', { name: 'Priority', limit: 16, min_interval_s: 0, settle_s: 60 })).body.id;
  for (const id of ids) assert.equal((await gw.api('PUT', `/api/v1/sites/${site}/stations/${id}`)).status, 200);
  await gw.waitFor(async () => (await Promise.all(ids.map(sim))).every((s) => s.connectors[0].limit_w === 0), 10000, 'defaults');
  for (const id of ids.slice(0, 2)) {
    await gw.waitFor(async () => (await sim(id)).connectors[0].status === 'Available', 10000, `${id} free`);
    assert.equal((await start(id)).status, 200);
  }
  await shares(site, { LA0001: 8, LB0001: 8 }, ids, 16, 'two at 8 A');
  // the third, newest, is the priority customer's: the newest of the others waits instead
  await gw.waitFor(async () => (await sim('LA0002')).connectors[0].status === 'Available', 10000, 'LA0002 free');
  assert.equal((await start('LA0002', { id_tag: 'VIPTAG01' })).status, 200);
  const l = await shares(site, { LA0001: 8, LB0001: 0, LA0002: 8 }, ids, 16, 'priority keeps charging');
  assert.equal(l.sessions.find((x) => x.station_id === 'LA0002').priority, 10);
  assert.equal(l.sessions.find((x) => x.station_id === 'LB0001').state, 'paused');
  for (const id of ids) await stop(id);
  await gw.waitFor(async () => (await load(site)).sessions.length === 0, 10000, 'no sessions');
  assert.equal((await gw.api('DELETE', `/api/v1/sites/${site}`)).status, 200);
});

test('a station that refuses its profile is counted at its maximum; the site stays within its limit', async () => {
  const ids = ['LR0001', 'LS0001'];
  const site = (await gw.api('POST', '/api/v1/sites', { name: 'Refusing', limit: 48, station_max_current: 32, min_interval_s: 0, settle_s: 1 })).body.id;
  for (const id of ids) assert.equal((await gw.api('PUT', `/api/v1/sites/${site}/stations/${id}`)).status, 200);
  await gw.waitFor(async () => (await Promise.all(ids.map(sim))).every((s) => s.connectors[0].limit_w === 0), 10000, 'defaults');
  assert.equal((await gw.api('POST', '/sim/v1/stations/LR0001/faults', { type: 'callerror', action: 'SetChargingProfile' })).status, 200);
  assert.equal((await start('LS0001')).status, 200);
  await shares(site, { LS0001: 32 }, ids, 48, 'one session');
  assert.equal((await start('LR0001')).status, 200);
  let l;
  await gw.waitFor(async () => {
    l = await load(site);
    const r = l.sessions.find((s) => s.station_id === 'LR0001');
    const s = l.sessions.find((x) => x.station_id === 'LS0001');
    return r?.state === 'unresponsive' && r.counted_a === 32 && s?.applied_a === 16;
  }, 20000, 'the refusing station counted at 32 A, the other lowered to 16 A');
  assert.ok(l.committed_a <= 48);
  assert.equal((await gw.api('DELETE', '/sim/v1/stations/LR0001/faults')).status, 200);
  for (const id of ids) await stop(id);
  await gw.waitFor(async () => (await load(site)).sessions.length === 0, 10000, 'no sessions');
});

test('the version-neutral station limit: stored, sent as the station max profile, read back, cleared', async () => {
  for (const id of ['LA0002', 'LB0002']) {
    let r = await gw.api('PUT', `/api/v1/stations/${id}/limit`, { limit: 11000, unit: 'W' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, 'accepted');
    assert.equal(r.body.evse, 0);
    assert.ok(r.body.command_id);
    r = await gw.api('GET', `/api/v1/stations/${id}/limit?duration=600&unit=W`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.limits.length, 1);
    assert.equal(r.body.limits[0].limit, 11000);
    assert.ok(r.body.composite, JSON.stringify(r.body));
    const frames = (await gw.api('GET', `/ocpp/v1/stations/${id}/messages?action=SetChargingProfile&dir=out`)).body;
    const f = (frames.items || frames).at(-1).frame[3];
    const prof = f.csChargingProfiles || f.chargingProfile;
    assert.equal(prof.chargingProfilePurpose, id.startsWith('LA') ? 'ChargePointMaxProfile' : 'ChargingStationMaxProfile');
    r = await gw.api('DELETE', `/api/v1/stations/${id}/limit`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.cleared, 1);
    assert.equal((await gw.api('DELETE', `/api/v1/stations/${id}/limit`)).status, 404);
  }
  let r = await gw.api('PUT', '/api/v1/stations/LA0002/limit', { limit: 16, unit: 'A', until: '2001-01-01T00:00:00Z' });
  assert.equal(r.status, 400);
  r = await gw.api('PUT', '/api/v1/stations/LA0002/limit', { limit: -1, unit: 'A' });
  assert.equal(r.status, 400);
  r = await gw.api('PUT', '/api/v1/stations/NOSUCH99/limit', { limit: 16, unit: 'A' });
  assert.equal(r.status, 404);
  assert.equal(r.body.code, 'STATION_NOT_FOUND');
  // offline: stored, 202, sent when it connects
  assert.equal((await gw.api('POST', '/sim/v1/stations/LA0002/disconnect')).status, 202);
  await gw.waitFor(async () => !(await gw.api('GET', '/api/v1/stations/LA0002')).body?.online, 10000, 'offline');
  r = await gw.api('PUT', '/api/v1/stations/LA0002/limit', { limit: 16, unit: 'A' });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.body.status, 'pending');
  assert.equal((await gw.api('POST', '/sim/v1/stations/LA0002/connect')).status, 202);
  await gw.waitFor(async () => (await sim('LA0002')).connectors[0].limit_w === W(16), 15000, 'sent on reconnect');
  assert.equal((await gw.api('DELETE', '/api/v1/stations/LA0002/limit')).status, 200);
});

test('strict-mode ocpp-rpc stations (1.6 and 2.0.1) accept every profile the balancer and the limit API send', async () => {
  const a = await connectStation(gw, { id: 'STRICT-16', protocol: 'ocpp1.6', connectors: 1 });
  const b = await connectStation(gw, { id: 'STRICT-201', protocol: 'ocpp2.0.1', connectors: 1 });
  try {
    const site = (await gw.api('POST', '/api/v1/sites', { name: 'Strict', limit: 13800, unit: 'W', min_interval_s: 0 })).body.id;
    for (const st of [a, b]) assert.equal((await gw.api('PUT', `/api/v1/sites/${site}/stations/${st.id}`)).status, 200);
    for (const st of [a, b]) await st.waitReceived('set_profile', 1);
    const dflt = (st) => (st.protocol === 'ocpp1.6' ? st.last('set_profile').csChargingProfiles : st.last('set_profile').chargingProfile);
    for (const st of [a, b]) {
      assert.equal(dflt(st).chargingProfilePurpose, 'TxDefaultProfile');
      assert.equal((st.protocol === 'ocpp1.6' ? dflt(st).chargingSchedule : dflt(st).chargingSchedule[0]).chargingSchedulePeriod[0].limit, 0);
    }
    const txa = await a.startTx(1, 'STRICTTAG1');
    await a.waitReceived('set_profile', 2);
    const txb = await b.startTx(1, 'STRICTTAG2');
    // 13,800 W at 230 V x 3 = 20 A: 20, then 10 each
    await gw.waitFor(async () => {
      const l = (await gw.api('GET', `/api/v1/sites/${site}/load`)).body;
      return l.sessions.length === 2 && l.sessions.every((x) => x.applied_a === 10);
    }, 10000, 'two strict sessions at 10 A');
    const tx16 = a.received('set_profile').map((p) => p.csChargingProfiles).filter((p) => p.chargingProfilePurpose === 'TxProfile');
    assert.equal(tx16.at(-1).transactionId, Number(txa));
    assert.equal(tx16.at(-1).chargingSchedule.chargingSchedulePeriod[0].limit, 10);
    const tx201 = b.received('set_profile').map((p) => p.chargingProfile).filter((p) => p.chargingProfilePurpose === 'TxProfile');
    assert.equal(tx201.at(-1).transactionId, txb);
    assert.equal(tx201.at(-1).chargingSchedule[0].chargingSchedulePeriod[0].limit, 10);
    // a strict station's refusal (schema or otherwise) would be a CALLERROR: none
    assert.equal((await gw.api('GET', `/api/v1/sites/${site}/load`)).body.sessions.filter((x) => x.state === 'unresponsive').length, 0);
    for (const st of [a, b]) {
      let r = await gw.api('PUT', `/api/v1/stations/${st.id}/limit`, { evse: 1, limit: 16, unit: 'A', until: new Date(Date.now() + 3600e3).toISOString() });
      assert.equal(r.status, 200, r.text);
      r = await gw.api('GET', `/api/v1/stations/${st.id}/limit?evse=1&duration=300`);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.body.composite, r.text);
      r = await gw.api('DELETE', `/api/v1/stations/${st.id}/limit?evse=1`);
      assert.equal(r.status, 200, r.text);
      await st.waitReceived('clear_profile', 1);
    }
    await a.stopTx(txa, 2000);
    await b.stopTx(txb, 2000);
    assert.equal((await gw.api('DELETE', `/api/v1/sites/${site}`)).status, 200);
  } finally {
    await a.close();
    await b.close();
  }
});

test('the load stream: an event at once and after every decision', async () => {
  const site = (await gw.api('POST', '/api/v1/sites', { name: 'Stream', limit: 20 })).body.id;
  const ac = new AbortController();
  const res = await fetch(`${gw.http}/api/v1/sites/${site}/load/stream?interval_ms=250`, {
    headers: { 'X-API-Key': gw.keys.admin }, signal: ac.signal,
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/event-stream/);
  const reader = res.body.getReader();
  let text = '';
  while ((text.match(/event: load/g) || []).length < 2) text += new TextDecoder().decode((await reader.read()).value);
  ac.abort();
  const data = JSON.parse(text.split('\n').find((l) => l.startsWith('data: ')).slice(6));
  assert.equal(data.site_id, site);
  assert.equal(data.limit_a, 20);
  assert.equal((await gw.api('GET', '/api/v1/sites/999999/load')).status, 404);
  const m = await gw.api('GET', '/api/v1/metrics');
  assert.match(m.text, new RegExp(`pipelet_load_site_limit_amperes\\{site="${site}"\\} 20`));
  assert.match(m.text, /pipelet_load_profiles_sent_total \d+/);
});
