// billing.test.mjs — tariffs over REST against a real daemon and PostgreSQL: create,
// read, change (a definition change adds a revision), delete (history kept), the body
// checks naming the field, assignments (customer > station > site > default, replaced
// and ended, never deleted), which tariff applies where and when, and what a session
// costs, priced by hand here: an OCPP 1.6 station (ocpp-rpc, strict schemas) sends its
// readings with timestamps an hour apart.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, psql } from './lib/harness.mjs';
import { connectStation } from './lib/stations.mjs';

function assertError(r, status, code, re) {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status} ${r.text}`);
  assert.equal(typeof r.body?.error, 'string', `error body: ${r.text}`);
  if (code) assert.equal(r.body.code, code, r.text);
  if (re) assert.match(r.body.error, re);
}

const AC = {
  name: 'AC standard',
  currency: 'EUR',
  time_zone: 'Europe/Berlin',
  elements: [{ price_components: [{ type: 'ENERGY', price: '0.30', vat: '19', step_size: 1 }, { type: 'FLAT', price: '1.00', vat: '19' }] }],
};

describe('tariffs and session cost over REST', () => {
  let gw;
  before(async () => {
    gw = await startGateway({ plugins: ['ocpp16', 'ocpp201', 'headless', 'webhooks'], config: { core: { auth_unknown: 'accept' } } });
  });
  // statements that change rows (gw.sql reads); answers the first value, if any
  const exec = (sql) => psql(gw.database, sql).trim();
  after(async () => { if (gw) { const rc = await gw.stop(); if (process.env.DUMP) console.log(gw.logs()); assert.equal(rc, 0, gw.logs().split('\n').filter((l) => /Sanitizer|ERROR/.test(l)).join('\n')); } });

  test('tariffs: create, read, change (revisions), list, delete keeps history', async () => {
    let r = await gw.api('POST', '/api/v1/tariffs', AC);
    assert.equal(r.status, 201, r.text);
    const t = r.body;
    assert.equal(r.headers.get('location'), `/api/v1/tariffs/${t.id}`);
    assert.equal(t.revision, 1);
    assert.equal(t.currency, 'EUR');
    assert.equal(t.time_zone, 'Europe/Berlin');
    assert.deepEqual(t.elements, AC.elements);
    assert.equal(t.deleted_at, null);

    r = await gw.api('GET', `/api/v1/tariffs/${t.id}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, t);

    r = await gw.api('PATCH', `/api/v1/tariffs/${t.id}`, { name: 'AC standard 2027' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.name, 'AC standard 2027');
    assert.equal(r.body.revision, 1, 'a new name is not a new price: no revision');

    const dearer = [{ price_components: [{ type: 'ENERGY', price: '0.35', vat: '19' }] }];
    r = await gw.api('PATCH', `/api/v1/tariffs/${t.id}`, { elements: dearer, min_price: { excl_vat: '0.50', incl_vat: '0.60' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.revision, 2);
    assert.deepEqual(r.body.elements, dearer);
    assert.equal(r.body.time_zone, 'Europe/Berlin', 'what the change did not name stays');
    const revs = await gw.sql(`select revision from tariff_revisions where tariff_id = ${t.id} order by revision`);
    assert.deepEqual(revs.map((x) => Number(x.revision)), [1, 2], 'the old revision is kept');
    r = await gw.api('PATCH', `/api/v1/tariffs/${t.id}`, { min_price: null });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.revision, 3);
    assert.equal(r.body.min_price, undefined, 'null removes an optional part');

    const other = (await gw.api('POST', '/api/v1/tariffs', { ...AC, name: 'DC fast' })).body;
    r = await gw.api('GET', '/api/v1/tariffs?limit=1');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.items.length, 1);
    assert.ok(r.body.next_cursor);
    const page2 = await gw.api('GET', `/api/v1/tariffs?limit=1&cursor=${encodeURIComponent(r.body.next_cursor)}`);
    assert.equal(page2.status, 200, page2.text);
    assert.notEqual(page2.body.items[0].id, r.body.items[0].id);

    r = await gw.api('DELETE', `/api/v1/tariffs/${other.id}`);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.deleted_at);
    r = await gw.api('GET', '/api/v1/tariffs');
    assert.ok(!r.body.items.some((x) => x.id === other.id), 'deleted tariffs are not listed');
    r = await gw.api('GET', '/api/v1/tariffs?include_deleted=true');
    assert.ok(r.body.items.some((x) => x.id === other.id), 'unless asked for');
    assertError(await gw.api('PATCH', `/api/v1/tariffs/${other.id}`, { name: 'x' }), 404, 'TARIFF_NOT_FOUND');
    assertError(await gw.api('DELETE', `/api/v1/tariffs/${other.id}`), 404, 'TARIFF_NOT_FOUND');
    assertError(await gw.api('GET', '/api/v1/tariffs/999999'), 404, 'TARIFF_NOT_FOUND');
    assertError(await gw.api('GET', '/api/v1/tariffs/abc'), 400, 'INVALID_PARAMETER');
  });

  test('tariffs: a body that cannot price is refused naming the field; scopes', async () => {
    const bad = async (body, code, field, re) => {
      const r = await gw.api('POST', '/api/v1/tariffs', body);
      assertError(r, 400, code, re);
      if (field) assert.equal(r.body.field, field, r.text);
    };
    const { elements: _e, ...noElements } = AC;
    await bad(noElements, 'MISSING_PARAMETER', 'elements', /elements is required/);
    await bad({ ...AC, currency: 'euro' }, 'INVALID_PARAMETER', 'currency');
    await bad({ ...AC, colour: 'red' }, 'INVALID_PARAMETER', 'colour', /not a known field/);
    // money is never a float: a JSON real is refused
    await bad({ ...AC, elements: [{ price_components: [{ type: 'ENERGY', price: 0.3 }] }] }, 'INVALID_PARAMETER', 'elements[0].price_components[0].price');
    await bad({ ...AC, elements: [{ price_components: [{ type: 'KWH', price: '1' }] }] }, 'INVALID_ENUM', 'elements[0].price_components[0].type');
    await bad({ ...AC, elements: [] }, 'INVALID_PARAMETER', 'elements');
    // what only pricing can tell: the zone must exist
    await bad({ ...AC, time_zone: 'Mars/Olympus_Mons' }, 'INVALID_PARAMETER', 'time_zone', /IANA/);
    await bad({ ...AC, min_price: { excl_vat: '5', incl_vat: '6' }, max_price: { excl_vat: '1', incl_vat: '2' } }, 'INVALID_PARAMETER', 'min_price');

    const reader = (await gw.api('POST', '/api/v1/keys', { name: 'billing-reader', scope: 'read' })).body;
    const asReader = { key: reader.key };
    assert.equal((await gw.api('GET', '/api/v1/tariffs', undefined, asReader)).status, 200);
    assertError(await gw.api('POST', '/api/v1/tariffs', AC, asReader), 403, 'FORBIDDEN');
  });

  test('assignments: customer over station over site over default; replaced and ended, never deleted', async () => {
    const mk = async (name) => (await gw.api('POST', '/api/v1/tariffs', { ...AC, name })).body;
    const [dflt, stationT, siteT, custT] = [await mk('default'), await mk('station'), await mk('site'), await mk('customer')];
    exec("insert into stations (id) values ('BILL-A'), ('BILL-B'), ('BILL-C') on conflict do nothing");
    const site = exec("insert into sites (name) values ('Depot') returning id");
    const group = exec(`insert into sites (name, parent_id) values ('Depot row 1', ${site}) returning id`);
    exec(`update stations set site_id = ${group} where id = 'BILL-C'`);
    const customer = (await gw.api('POST', '/api/v1/customers', { name: 'Tariff customer' })).body;

    const which = async (station, q = '') => {
      const r = await gw.api('GET', `/api/v1/stations/${station}/tariff${q}`);
      return r.status === 200 ? [r.body.level, r.body.tariff.id] : [r.status, r.body.code];
    };
    assert.deepEqual(await which('BILL-A'), [404, 'TARIFF_NOT_FOUND'], 'nothing assigned yet');

    let r = await gw.api('POST', `/api/v1/tariffs/${dflt.id}/assignments`, { default: true });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.default, true);
    assert.equal(r.body.active, true);
    assert.equal(r.headers.get('location'), `/api/v1/tariff-assignments/${r.body.id}`);
    const stationA = (await gw.api('POST', `/api/v1/tariffs/${stationT.id}/assignments`, { station_id: 'BILL-A' })).body;
    assert.equal((await gw.api('POST', `/api/v1/tariffs/${siteT.id}/assignments`, { site_id: Number(site) })).status, 201);
    assert.equal((await gw.api('POST', `/api/v1/tariffs/${custT.id}/assignments`, { customer_id: customer.id })).status, 201);

    assert.deepEqual(await which('BILL-A'), ['station', stationT.id]);
    assert.deepEqual(await which('BILL-B'), ['default', dflt.id]);
    assert.deepEqual(await which('BILL-C'), ['site', siteT.id], "a group's station gets its site's tariff");
    assert.deepEqual(await which('BILL-A', `?customer_id=${customer.id}`), ['customer', custT.id]);
    const yesterday = new Date(Date.now() - 86400e3).toISOString();
    assert.deepEqual(await which('BILL-A', `?at=${encodeURIComponent(yesterday)}`), [404, 'TARIFF_NOT_FOUND'], 'nothing applied yesterday');

    // a new station assignment replaces the old one, which ends (kept)
    r = await gw.api('POST', `/api/v1/tariffs/${dflt.id}/assignments`, { station_id: 'BILL-A' });
    assert.equal(r.status, 201, r.text);
    r = await gw.api('GET', `/api/v1/tariffs/${stationT.id}/assignments`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.items.length, 1);
    assert.equal(r.body.items[0].active, false);
    assert.ok(r.body.items[0].ended_at);
    r = await gw.api('GET', `/api/v1/tariffs/${stationT.id}/assignments?active=true`);
    assert.deepEqual(r.body.items, []);

    // ending an assignment: the next level applies
    const replaced = (await gw.api('GET', `/api/v1/tariffs/${dflt.id}/assignments?active=true`)).body.items.find((a) => a.station_id === 'BILL-A');
    r = await gw.api('DELETE', `/api/v1/tariff-assignments/${replaced.id}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.active, false);
    assertError(await gw.api('DELETE', `/api/v1/tariff-assignments/${replaced.id}`), 404, 'ASSIGNMENT_NOT_FOUND');
    assert.deepEqual(await which('BILL-A'), ['default', dflt.id]);
    assert.ok(stationA.id);

    // refusals name the field
    assertError(await gw.api('POST', `/api/v1/tariffs/${dflt.id}/assignments`, { station_id: 'NO-SUCH-STATION' }), 400, 'INVALID_PARAMETER', /station_id: no such station/);
    assertError(await gw.api('POST', `/api/v1/tariffs/${dflt.id}/assignments`, { customer_id: 999999 }), 400, 'INVALID_PARAMETER', /customer_id: no such customer/);
    assertError(await gw.api('POST', `/api/v1/tariffs/${dflt.id}/assignments`, { station_id: 'BILL-B', site_id: 1 }), 400);
    assertError(await gw.api('POST', `/api/v1/tariffs/${dflt.id}/assignments`, {}), 400);
    assertError(await gw.api('POST', '/api/v1/tariffs/999999/assignments', { station_id: 'BILL-B' }), 404, 'TARIFF_NOT_FOUND');

    // deleting a tariff ends its assignments
    assert.equal((await gw.api('DELETE', `/api/v1/tariffs/${custT.id}`)).status, 200);
    assert.deepEqual(await which('BILL-A', `?customer_id=${customer.id}`), ['default', dflt.id]);
    // leave no default behind for the cost test
    for (const a of (await gw.api('GET', `/api/v1/tariffs/${dflt.id}/assignments?active=true`)).body.items) {
      assert.equal((await gw.api('DELETE', `/api/v1/tariff-assignments/${a.id}`)).status, 200);
    }
  });

  test('cost: a session priced with the tariff in force at its start, running and final', async () => {
    const st = await connectStation(gw, { id: 'BILL-16' });
    await st.boot();
    await st.status(1, 'Available');
    const t0 = Date.now() - 2 * 3600e3;
    const at = (min) => new Date(t0 + min * 60e3).toISOString();
    const start = async (tag) => String((await st.client.call('StartTransaction', { connectorId: 1, idTag: tag, meterStart: 1000, timestamp: at(0) })).transactionId);
    const meter = (tx, min, wh) => st.client.call('MeterValues', {
      connectorId: 1, transactionId: Number(tx),
      meterValue: [{ timestamp: at(min), sampledValue: [{ value: String(wh), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }],
    });
    const stop = (tx, min, wh) => st.client.call('StopTransaction', { transactionId: Number(tx), meterStop: wh, timestamp: at(min), reason: 'Local' });
    const txId = async (stationTx) => (await gw.sql(`select id from transactions where station_id = 'BILL-16' and station_tx_id = '${stationTx}'`))[0].id;

    // no tariff applied when this one started
    const early = await start('TAG-EARLY');
    await stop(early, 10, 2000);
    let r = await gw.api('GET', `/api/v1/transactions/${await txId(early)}/cost`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, 'no_tariff');
    assert.equal(r.body.active, false);
    // its record says so too: a session never ends without one
    r = await gw.api('GET', `/api/v1/cdrs?transaction_id=${await txId(early)}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.items.length, 1);
    assert.equal(r.body.items[0].status, 'no_tariff');
    assert.equal(r.body.items[0].tariff, null);

    // a tariff assigned to the station since yesterday (backdated: the test's sessions
    // are stamped two hours ago by the station)
    const tariff = (await gw.api('POST', '/api/v1/tariffs', AC)).body;
    await gw.api('POST', `/api/v1/tariffs/${tariff.id}/assignments`, { station_id: 'BILL-16' });
    exec(`update tariff_revisions set created_at = now() - interval '1 day' where tariff_id = ${tariff.id}`);
    exec(`update tariff_assignments set assigned_at = now() - interval '1 day' where tariff_id = ${tariff.id}`);

    const tx = await start('TAG-PRICED');
    const id = await txId(tx);
    r = await gw.api('GET', `/api/v1/transactions/${id}/cost`);
    assert.equal(r.body.status, 'missing_meter_values', 'one reading: nothing to price between yet');

    await meter(tx, 30, 6000); // 5 kWh after 30 minutes
    r = await gw.api('GET', `/api/v1/transactions/${id}/cost`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, 'priced', r.text);
    assert.equal(r.body.active, true);
    assert.equal(r.body.tariff_id, tariff.id);
    assert.equal(r.body.tariff_revision, 1);
    assert.equal(r.body.level, 'station');
    assert.equal(r.body.energy_wh, 5000);
    // 5 kWh × 0.30 = 1.50 (VAT 0.285 → 0.29), FLAT 1.00 (VAT 0.19)
    assert.deepEqual(r.body.total, { excl_vat: '2.50', incl_vat: '2.98' });
    // the running cost follows the committed readings: the session carries it
    await gw.waitFor(async () => Number((await gw.api('GET', `/api/v1/transactions/${id}`)).body.cost) === 2.98,
      10000, 'the running cost on the transaction');

    // a later price change does not reprice a session that started before it
    await gw.api('PATCH', `/api/v1/tariffs/${tariff.id}`, { elements: [{ price_components: [{ type: 'ENERGY', price: '9.99' }] }] });

    await stop(tx, 60, 11000); // 10 kWh in the hour
    r = await gw.api('GET', `/api/v1/transactions/${id}/cost`);
    assert.equal(r.body.status, 'priced', r.text);
    assert.equal(r.body.active, false);
    assert.equal(r.body.tariff_revision, 1, 'the revision in force at the start');
    assert.equal(r.body.energy_wh, 10000);
    assert.equal(r.body.charging_seconds, 3600);
    const energy = r.body.components.find((c) => c.type === 'ENERGY');
    assert.deepEqual([energy.quantity, energy.excl_vat, energy.vat, energy.incl_vat], [10000, '3.00', '0.57', '3.57']);
    const flat = r.body.components.find((c) => c.type === 'FLAT');
    assert.deepEqual([flat.excl_vat, flat.incl_vat], ['1.00', '1.19']);
    assert.deepEqual(r.body.total, { excl_vat: '4.00', incl_vat: '4.76' });

    // the charge detail record, written with the stop: the tariff as it was, every
    // component, the totals; immutable
    r = await gw.api('GET', `/api/v1/cdrs?transaction_id=${id}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.items.length, 1);
    const cdr = r.body.items[0];
    assert.equal(cdr.status, 'priced');
    assert.equal(cdr.station_id, 'BILL-16');
    assert.equal(cdr.station_tx_id, tx);
    assert.equal(cdr.id_token, 'TAG-PRICED');
    assert.equal(cdr.connector, 1);
    assert.equal(cdr.energy_wh, 10000);
    assert.equal(cdr.tariff_revision, 1);
    assert.deepEqual(cdr.tariff.elements, AC.elements, 'a snapshot of the revision that priced it, not the one in force now');
    assert.deepEqual(cdr.total, { excl_vat: '4.00', incl_vat: '4.76' });
    assert.equal(cdr.components.length, 2);
    assert.equal(cdr.started_at, at(0).replace(/\.\d+Z$/, 'Z'));
    assert.deepEqual((await gw.api('GET', `/api/v1/cdrs/${cdr.id}`)).body, cdr);
    const tr = await gw.api('GET', `/api/v1/transactions/${id}`);
    assert.equal(Number(tr.body.cost), 4.76, 'the session keeps its total');
    assert.throws(() => exec(`update cdrs set total_incl_vat = 0 where id = ${cdr.id}`), /immutable/);
    // a repeated stop (its answer was lost) writes no second record
    await stop(tx, 60, 11000);
    r = await gw.api('GET', `/api/v1/cdrs?station_id=BILL-16`);
    assert.equal(r.body.items.filter((c) => c.transaction_id === id).length, 1);
    assertError(await gw.api('GET', '/api/v1/cdrs/999999'), 404, 'CDR_NOT_FOUND');
    assertError(await gw.api('GET', '/api/v1/cdrs?from=yesterday'), 400, 'INVALID_PARAMETER');

    // a customer's statement: its sessions' records and the totals per currency
    const customer = (await gw.api('POST', '/api/v1/customers', { name: 'Statement customer' })).body;
    assert.equal((await gw.api('POST', '/api/v1/tokens', { id_token: 'TAG-CUST', customer_id: customer.id })).status, 201);
    const third = String((await st.client.call('StartTransaction', { connectorId: 1, idTag: 'TAG-CUST', meterStart: 20000, timestamp: at(70) })).transactionId);
    await stop(third, 80, 22000); // 2 kWh: 0.60 + VAT 0.11, FLAT 1.00 + VAT 0.19
    r = await gw.api('GET', `/api/v1/customers/${customer.id}/statement`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.totals, [{ currency: 'EUR', sessions: 1, energy_wh: 2000, excl_vat: '1.60', incl_vat: '1.90' }]);
    assert.equal(r.body.sessions.length, 1);
    assert.equal(r.body.unpriced_sessions, 0);
    r = await gw.api('GET', `/api/v1/customers/${customer.id}/statement?to=${encodeURIComponent(at(0))}`);
    assert.deepEqual(r.body.totals, [], 'nothing stopped before the window ends');
    assertError(await gw.api('GET', '/api/v1/customers/999999/statement'), 404, 'CUSTOMER_NOT_FOUND');
    r = await gw.api('GET', '/api/v1/cdrs?id_token=TAG-CUST');
    assert.deepEqual(r.body.items.map((c) => c.id_token), ['TAG-CUST']);

    // the station's own id works too; unknown ids are 404
    r = await gw.api('GET', `/api/v1/transactions/${encodeURIComponent(tx)}/cost?station_id=BILL-16`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.total, { excl_vat: '4.00', incl_vat: '4.76' });
    assertError(await gw.api('GET', '/api/v1/transactions/999999/cost'), 404, 'TRANSACTION_NOT_FOUND');
    await st.close();
  });

  test('cost: a 2.0.1 station hears the total in the TransactionEvent answers (totalCost)', async () => {
    const st = await connectStation(gw, { id: 'BILL-201', protocol: 'ocpp2.0.1' });
    await st.boot();
    const tariff = (await gw.api('POST', '/api/v1/tariffs', AC)).body;
    assert.equal((await gw.api('POST', `/api/v1/tariffs/${tariff.id}/assignments`, { station_id: 'BILL-201' })).status, 201);
    exec(`update tariff_revisions set created_at = now() - interval '1 day' where tariff_id = ${tariff.id}`);
    exec(`update tariff_assignments set assigned_at = now() - interval '1 day' where tariff_id = ${tariff.id}`);
    const t0 = Date.now() - 2 * 3600e3;
    const at = (min) => new Date(t0 + min * 60e3).toISOString();
    const txId = 'tx-bill-201';
    const reading = (min, wh, context) => [{ timestamp: at(min), sampledValue: [{ value: wh, measurand: 'Energy.Active.Import.Register', context }] }];
    let seq = 0;
    await st.client.call('TransactionEvent', {
      eventType: 'Started', timestamp: at(0), triggerReason: 'Authorized', seqNo: seq++,
      transactionInfo: { transactionId: txId, chargingState: 'Charging' }, idToken: { idToken: 'TAG-201', type: 'ISO14443' },
      evse: { id: 1, connectorId: 1 }, meterValue: reading(0, 1000, 'Transaction.Begin'),
    });
    await st.client.call('TransactionEvent', {
      eventType: 'Updated', timestamp: at(30), triggerReason: 'MeterValuePeriodic', seqNo: seq++,
      transactionInfo: { transactionId: txId }, meterValue: reading(30, 6000, 'Sample.Periodic'),
    });
    const ended = await st.client.call('TransactionEvent', {
      eventType: 'Ended', timestamp: at(60), triggerReason: 'StopAuthorized', seqNo: seq++,
      transactionInfo: { transactionId: txId, stoppedReason: 'Local' }, meterValue: reading(60, 11000, 'Transaction.End'),
    });
    assert.equal(ended.totalCost, 4.76, JSON.stringify(ended));
    const r = await gw.api('GET', `/api/v1/cdrs?station_id=BILL-201`);
    assert.equal(r.body.items.length, 1);
    assert.deepEqual(r.body.items[0].total, { excl_vat: '4.00', incl_vat: '4.76' });
    await st.close();
  });

  test('cost: a 2.0.1 station is sent CostUpdated with the running total, at most once a minute per session', async () => {
    const st = await connectStation(gw, { id: 'BILL-COST', protocol: 'ocpp2.0.1' });
    st.answer('CostUpdated', () => ({})); // strict mode: our CALL is checked against the official schema
    const tariff = (await gw.api('POST', '/api/v1/tariffs', AC)).body;
    assert.equal((await gw.api('POST', `/api/v1/tariffs/${tariff.id}/assignments`, { station_id: 'BILL-COST' })).status, 201);
    exec(`update tariff_revisions set created_at = now() - interval '1 day' where tariff_id = ${tariff.id}`);
    exec(`update tariff_assignments set assigned_at = now() - interval '1 day' where tariff_id = ${tariff.id}`);
    const t0 = Date.now() - 2 * 3600e3;
    const at = (min) => new Date(t0 + min * 60e3).toISOString();
    const txId = 'tx-bill-cost';
    const reading = (min, wh, context) => [{ timestamp: at(min), sampledValue: [{ value: wh, measurand: 'Energy.Active.Import.Register', context }] }];
    let seq = 0;
    await st.client.call('TransactionEvent', {
      eventType: 'Started', timestamp: at(0), triggerReason: 'Authorized', seqNo: seq++,
      transactionInfo: { transactionId: txId, chargingState: 'Charging' }, idToken: { idToken: 'TAG-COST', type: 'ISO14443' },
      evse: { id: 1, connectorId: 1 }, meterValue: reading(0, 1000, 'Transaction.Begin'),
    });
    await st.client.call('TransactionEvent', {
      eventType: 'Updated', timestamp: at(30), triggerReason: 'MeterValuePeriodic', seqNo: seq++,
      transactionInfo: { transactionId: txId }, meterValue: reading(30, 6000, 'Sample.Periodic'),
    });
    await st.waitReceived('CostUpdated');
    const sent = st.last('CostUpdated');
    assert.equal(sent.transactionId, txId);
    const tx = (await gw.api('GET', `/api/v1/transactions?station=BILL-COST&active=true`)).body.items[0];
    const cost = (await gw.api('GET', `/api/v1/transactions/${tx.id}/cost`)).body;
    assert.equal(sent.totalCost, Number(cost.total.incl_vat), JSON.stringify({ sent, cost }));
    // more readings within the minute: the station is not told again yet
    await st.client.call('TransactionEvent', {
      eventType: 'Updated', timestamp: at(45), triggerReason: 'MeterValuePeriodic', seqNo: seq++,
      transactionInfo: { transactionId: txId }, meterValue: reading(45, 8000, 'Sample.Periodic'),
    });
    await gw.waitFor(async () => Number((await gw.api('GET', `/api/v1/transactions/${tx.id}/cost`)).body.total.incl_vat) > sent.totalCost,
      5000, 'priced again');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(st.received('CostUpdated').length, 1);
    await st.client.call('TransactionEvent', {
      eventType: 'Ended', timestamp: at(60), triggerReason: 'StopAuthorized', seqNo: seq++,
      transactionInfo: { transactionId: txId, stoppedReason: 'Local' }, meterValue: reading(60, 11000, 'Transaction.End'),
    });
    await st.close();
  });

  test('customer groups: CRUD, membership, and a group tariff between the customer\'s and the station\'s', async () => {
    let r = await gw.api('POST', '/api/v1/customer-groups', { name: 'Fleet A', description: 'the depot fleet' });
    assert.equal(r.status, 201, r.text);
    const group = r.body;
    assert.equal(r.headers.get('location'), `/api/v1/customer-groups/${group.id}`);
    assert.equal(group.customers, 0);
    assertError(await gw.api('POST', '/api/v1/customer-groups', { name: 'Fleet A' }), 409, 'ALREADY_EXISTS');
    assertError(await gw.api('POST', '/api/v1/customer-groups', { name: 'x', colour: 'red' }), 400, 'INVALID_PARAMETER', /colour/);
    assertError(await gw.api('POST', '/api/v1/customer-groups', {}), 400, 'MISSING_PARAMETER', /name/);
    r = await gw.api('PATCH', `/api/v1/customer-groups/${group.id}`, { description: 'the north depot' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.description, 'the north depot');
    assert.equal(r.body.name, 'Fleet A');
    assertError(await gw.api('GET', '/api/v1/customer-groups/999999'), 404, 'CUSTOMER_GROUP_NOT_FOUND');

    const member = (await gw.api('POST', '/api/v1/customers', { name: 'Fleet driver', customer_group_id: group.id })).body;
    assert.equal(member.customer_group_id, group.id);
    const own = (await gw.api('POST', '/api/v1/customers', { name: 'Fleet manager' })).body;
    assert.equal(own.customer_group_id, null);
    r = await gw.api('PATCH', `/api/v1/customers/${own.id}`, { customer_group_id: group.id });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.customer_group_id, group.id);
    assertError(await gw.api('PATCH', `/api/v1/customers/${own.id}`, { customer_group_id: 999999 }), 400, 'INVALID_PARAMETER', /customer_group_id: no such customer group/);
    assertError(await gw.api('PATCH', `/api/v1/customers/${own.id}`, { customer_group_id: 'Fleet A' }), 400, 'INVALID_PARAMETER', /customer_group_id/);
    assert.equal((await gw.api('GET', `/api/v1/customer-groups/${group.id}`)).body.customers, 2);
    r = await gw.api('GET', `/api/v1/customers?customer_group_id=${group.id}`);
    assert.deepEqual(r.body.items.map((c) => c.id), [member.id, own.id]);
    r = await gw.api('GET', '/api/v1/customer-groups?q=fleet');
    assert.ok(r.body.items.some((g) => g.id === group.id), r.text);

    const mk = async (name) => (await gw.api('POST', '/api/v1/tariffs', { ...AC, name })).body;
    const [stationT, groupT, ownT] = [await mk('station G'), await mk('fleet'), await mk('manager')];
    exec("insert into stations (id) values ('BILL-G') on conflict do nothing");
    assert.equal((await gw.api('POST', `/api/v1/tariffs/${stationT.id}/assignments`, { station_id: 'BILL-G' })).status, 201);
    r = await gw.api('POST', `/api/v1/tariffs/${groupT.id}/assignments`, { customer_group_id: group.id });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.customer_group_id, group.id);
    assertError(await gw.api('POST', `/api/v1/tariffs/${groupT.id}/assignments`, { customer_group_id: 999999 }), 400, 'INVALID_PARAMETER', /customer_group_id: no such customer group/);
    assert.equal((await gw.api('POST', `/api/v1/tariffs/${ownT.id}/assignments`, { customer_id: own.id })).status, 201);
    const which = async (customer) => {
      const q = await gw.api('GET', `/api/v1/stations/BILL-G/tariff${customer ? `?customer_id=${customer}` : ''}`);
      return [q.body.level, q.body.tariff?.id];
    };
    assert.deepEqual(await which(member.id), ['customer_group', groupT.id], "a member gets its group's tariff over the station's");
    assert.deepEqual(await which(own.id), ['customer', ownT.id], "the customer's own tariff comes first");
    assert.deepEqual(await which(null), ['station', stationT.id]);
    // a customer leaving the group: the station's tariff again
    assert.equal((await gw.api('PATCH', `/api/v1/customers/${member.id}`, { customer_group_id: null })).body.customer_group_id, null);
    assert.deepEqual(await which(member.id), ['station', stationT.id]);
    // deleting the group: members stay without it, its assignments go
    assert.equal((await gw.api('PATCH', `/api/v1/customers/${member.id}`, { customer_group_id: group.id })).status, 200);
    r = await gw.api('DELETE', `/api/v1/customer-groups/${group.id}`);
    assert.equal(r.status, 200, r.text);
    assert.equal((await gw.api('GET', `/api/v1/customers/${member.id}`)).body.customer_group_id, null);
    assert.deepEqual(await which(member.id), ['station', stationT.id]);
    for (const t of [stationT, groupT, ownT]) assert.equal((await gw.api('DELETE', `/api/v1/tariffs/${t.id}`)).status, 200);
  });

  test("personal message: a 2.0.1 station is told the tariff's text in the customer's language", async () => {
    const bad = await gw.api('POST', '/api/v1/tariffs', { ...AC, tariff_alt_text: [{ language: 'english', text: 'x' }] });
    assertError(bad, 400, 'INVALID_PARAMETER', /tariff_alt_text/);
    const tariff = (await gw.api('POST', '/api/v1/tariffs', {
      ...AC, name: 'with text',
      tariff_alt_text: [{ language: 'en', text: '0.30 EUR/kWh + 1.00 EUR per session' }, { language: 'de', text: '0,30 EUR/kWh + 1,00 EUR je Ladevorgang' }],
    })).body;
    assert.equal(tariff.tariff_alt_text.length, 2);
    const st = await connectStation(gw, { id: 'BILL-MSG', protocol: 'ocpp2.0.1' });
    st.answer('CostUpdated', () => ({}));
    await st.boot();
    assert.equal((await gw.api('POST', `/api/v1/tariffs/${tariff.id}/assignments`, { station_id: 'BILL-MSG' })).status, 201);
    exec(`update tariff_revisions set created_at = now() - interval '1 day' where tariff_id = ${tariff.id}`);
    exec(`update tariff_assignments set assigned_at = now() - interval '1 day' where tariff_id = ${tariff.id}`);
    const customer = (await gw.api('POST', '/api/v1/customers', { name: 'Fahrer', language: 'de-CH' })).body;
    assert.equal((await gw.api('POST', '/api/v1/tokens', { id_token: 'TAG-MSG', type: 'ISO14443', customer_id: customer.id })).status, 201);
    const t0 = Date.now() - 2 * 3600e3;
    const at = (min) => new Date(t0 + min * 60e3).toISOString();
    const txId = 'tx-bill-msg';
    const reading = (min, wh, context) => [{ timestamp: at(min), sampledValue: [{ value: wh, measurand: 'Energy.Active.Import.Register', context }] }];
    let seq = 0;
    await st.client.call('TransactionEvent', {
      eventType: 'Started', timestamp: at(0), triggerReason: 'Authorized', seqNo: seq++,
      transactionInfo: { transactionId: txId, chargingState: 'Charging' }, idToken: { idToken: 'TAG-MSG', type: 'ISO14443' },
      evse: { id: 1, connectorId: 1 }, meterValue: reading(0, 1000, 'Transaction.Begin'),
    });
    await st.client.call('TransactionEvent', {
      eventType: 'Updated', timestamp: at(30), triggerReason: 'MeterValuePeriodic', seqNo: seq++,
      transactionInfo: { transactionId: txId }, meterValue: reading(30, 6000, 'Sample.Periodic'),
    });
    const tx = (await gw.api('GET', '/api/v1/transactions?station=BILL-MSG&active=true')).body.items[0];
    await gw.waitFor(async () => (await gw.api('GET', `/api/v1/transactions/${tx.id}/cost`)).body.status === 'priced', 5000, 'priced');
    const cost = (await gw.api('GET', `/api/v1/transactions/${tx.id}/cost`)).body;
    assert.deepEqual(cost.personal_message, { format: 'UTF8', language: 'de', content: '0,30 EUR/kWh + 1,00 EUR je Ladevorgang' });
    await st.waitReceived('CostUpdated'); // the priced session reached the plugin
    // the next TransactionEvent answer carries it (ocpp-rpc checks the answer against the schema), once
    const upd = await st.client.call('TransactionEvent', {
      eventType: 'Updated', timestamp: at(40), triggerReason: 'MeterValuePeriodic', seqNo: seq++,
      transactionInfo: { transactionId: txId }, meterValue: reading(40, 7000, 'Sample.Periodic'),
    });
    assert.deepEqual(upd.updatedPersonalMessage, cost.personal_message, JSON.stringify(upd));
    const again = await st.client.call('TransactionEvent', {
      eventType: 'Updated', timestamp: at(50), triggerReason: 'MeterValuePeriodic', seqNo: seq++,
      transactionInfo: { transactionId: txId }, meterValue: reading(50, 8000, 'Sample.Periodic'),
    });
    assert.equal(again.updatedPersonalMessage, undefined, 'told once');
    await st.client.call('TransactionEvent', {
      eventType: 'Ended', timestamp: at(60), triggerReason: 'StopAuthorized', seqNo: seq++,
      transactionInfo: { transactionId: txId, stoppedReason: 'Local' }, meterValue: reading(60, 11000, 'Transaction.End'),
    });
    await st.close();
  });

  test('quote: a hypothetical session priced like a real one', async () => {
    const t = (await gw.api('POST', '/api/v1/tariffs', {
      name: 'AC with parking', currency: 'EUR', time_zone: 'Europe/Berlin',
      elements: [{ price_components: [{ type: 'ENERGY', price: '0.39', vat: '19' }, { type: 'PARKING_TIME', price: '6.00', vat: '19', step_size: 60 }] }],
    })).body;
    // 22 kWh charged in 90 minutes, then 30 minutes parked
    let r = await gw.api('POST', `/api/v1/tariffs/${t.id}/quote`, {
      start: '2027-01-15T17:00:00Z', stop: '2027-01-15T19:00:00Z', energy_wh: 22000, charging_until: '2027-01-15T18:30:00Z',
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, 'priced');
    assert.equal(r.body.parking_seconds, 1800);
    const parking = r.body.components.find((c) => c.type === 'PARKING_TIME');
    assert.deepEqual([parking.excl_vat, parking.incl_vat], ['3.00', '3.57']);
    const energy = r.body.components.find((c) => c.type === 'ENERGY');
    assert.deepEqual([energy.excl_vat, energy.vat, energy.incl_vat], ['8.58', '1.63', '10.21']);
    assert.deepEqual(r.body.total, { excl_vat: '11.58', incl_vat: '13.78' });
    // readings instead of an amount
    r = await gw.api('POST', `/api/v1/tariffs/${t.id}/quote`, {
      start: '2027-01-15T17:00:00Z', stop: '2027-01-15T18:00:00Z',
      readings: [{ at: '2027-01-15T17:00:00Z', energy_wh: 0 }, { at: '2027-01-15T18:00:00Z', energy_wh: 10000 }],
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.total, { excl_vat: '3.90', incl_vat: '4.64' });
    assertError(await gw.api('POST', `/api/v1/tariffs/${t.id}/quote`, { start: '2027-01-15T17:00:00Z', stop: '2027-01-15T16:00:00Z', energy_wh: 1 }), 400, 'INVALID_PARAMETER', /stop: after start/);
    assertError(await gw.api('POST', `/api/v1/tariffs/${t.id}/quote`, { start: '2027-01-15T17:00:00Z', stop: '2027-01-15T18:00:00Z' }), 400, 'INVALID_PARAMETER', /energy_wh/);
    assertError(await gw.api('POST', `/api/v1/tariffs/${t.id}/quote`, { stop: '2027-01-15T18:00:00Z', energy_wh: 1 }), 400, 'MISSING_PARAMETER');
    assertError(await gw.api('POST', '/api/v1/tariffs/999999/quote', { start: '2027-01-15T17:00:00Z', stop: '2027-01-15T18:00:00Z', energy_wh: 1 }), 404, 'TARIFF_NOT_FOUND');
  });

  test('export: every matching record as CSV or JSON lines, streamed page by page', async () => {
    exec(`insert into cdrs (transaction_id, station_id, station_tx_id, id_token, started_at, stopped_at, energy_wh, currency, total_excl_vat, total_incl_vat, tariff, status)
          select 900000 + g, 'BILL-EXP', 'tx' || g, case when g = 7 then 'A,"B"' else 'TAG' end, now() - interval '2 hours', now() - interval '1 hour', 1000 * g,
                 'EUR', 1.5 * g, 1.785 * g, '{}'::jsonb, 'priced' from generate_series(1, 1234) g`);
    const get = async (q) => {
      const res = await fetch(`${gw.http}/api/v1/cdrs/export?station_id=BILL-EXP${q}`, { headers: { 'X-API-Key': gw.keys.admin } });
      return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
    };
    let r = await get('');
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/csv/);
    const lines = r.text.split('\r\n').filter(Boolean);
    assert.equal(lines.length, 1 + 1234, 'a header and every record, across pages of 500');
    assert.equal(lines[0].split(',')[0], 'id');
    assert.ok(lines.some((l) => l.includes(',"A,""B""",')), 'RFC 4180 quoting');
    r = await get('&format=jsonl');
    assert.equal(r.status, 200);
    assert.match(r.type, /^application\/x-ndjson/);
    const rows = r.text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.equal(rows.length, 1234);
    assert.deepEqual(rows[1].total, { excl_vat: '3.0', incl_vat: '3.570' });
    assert.ok(rows.every((x, i) => i === 0 || x.id > rows[i - 1].id), 'oldest first, each once');
    r = await get('&format=xml');
    assert.equal(r.status, 400);
    r = await get('&id_token=nobody');
    assert.equal(r.text.split('\r\n').filter(Boolean).length, 1, 'just the header');
  });

  // last: it kills the daemon
  test('a record survives a SIGKILL right after the stop was acknowledged', async () => {
    const st = await connectStation(gw, { id: 'BILL-KILL' });
    await st.boot();
    const tariff = (await gw.api('POST', '/api/v1/tariffs', AC)).body;
    await gw.api('POST', `/api/v1/tariffs/${tariff.id}/assignments`, { station_id: 'BILL-KILL' });
    exec(`update tariff_revisions set created_at = now() - interval '1 day' where tariff_id = ${tariff.id}`);
    exec(`update tariff_assignments set assigned_at = now() - interval '1 day' where tariff_id = ${tariff.id}`);
    const t0 = Date.now() - 3600e3;
    const tx = (await st.client.call('StartTransaction', { connectorId: 1, idTag: 'TAG-KILL', meterStart: 0, timestamp: new Date(t0).toISOString() })).transactionId;
    const answer = await st.client.call('StopTransaction', { transactionId: tx, meterStop: 10000, timestamp: new Date(t0 + 3600e3).toISOString(), reason: 'Local' });
    assert.ok(answer, 'the stop was acknowledged');
    await gw.kill(); // no drain, no flush: only what was committed is there
    await st.close().catch(() => {});
    await gw.restart();
    const r = await gw.api('GET', '/api/v1/cdrs?station_id=BILL-KILL');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.items.length, 1, 'the acknowledged stop has its record');
    assert.equal(r.body.items[0].status, 'priced');
    assert.deepEqual(r.body.items[0].total, { excl_vat: '4.00', incl_vat: '4.76' });
  });
});
