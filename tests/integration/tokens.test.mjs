// tokens.test.mjs — /api/v1/customers and /api/v1/tokens against a real daemon and
// PostgreSQL: CRUD, validation naming the field, scopes, cursor pagination, a token
// with transactions deactivated rather than deleted, a customer's tokens and
// transactions, bulk import (10,000 tokens as JSON and as CSV, all or nothing, a
// refusal naming row and field), and the customer.* / token.* events for webhooks.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startGateway } from './lib/harness.mjs';
import { connectStation } from './lib/stations.mjs';

// a value outside a listed set is INVALID_ENUM, any other bad value INVALID_PARAMETER
const enumOrInvalid = (re) => (/must be one of/.test(re.source) ? 'INVALID_ENUM' : 'INVALID_PARAMETER');

function assertError(r, status, code, re) {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status} ${r.text}`);
  assert.equal(typeof r.body?.error, 'string', `error body: ${r.text}`);
  if (code) assert.equal(r.body.code, code, r.text);
  if (re) assert.match(r.body.error, re);
}

const csvHeaders = { 'Content-Type': 'text/csv' };

describe('customers and tokens over REST', () => {
  let gw;
  before(async () => {
    gw = await startGateway({
      plugins: ['ocpp16', 'headless', 'webhooks'],
      config: { core: { auth_unknown: 'reject' }, webhooks: { base_delay_ms: 50, max_delay_ms: 200, allow_private: 'yes' } },
    });
  });
  // a clean exit: no sanitizer report (leaks, use after free) on the way out
  after(async () => { if (gw) assert.equal(await gw.stop(), 0, gw.logs().split('\n').filter((l) => /Sanitizer|ERROR/.test(l)).join('\n')); });

  /** Every item of a list, one page of `limit` at a time. */
  async function allPages(path, limit) {
    const seen = [];
    let cursor = null;
    for (let i = 0; i < 100; i++) {
      const sep = path.includes('?') ? '&' : '?';
      const r = await gw.api('GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.body.items.length <= limit);
      seen.push(...r.body.items);
      cursor = r.body.next_cursor;
      if (!cursor) return seen;
    }
    throw new Error('pagination never ended');
  }

  test('customers: create, read, change, list with filters and pages, delete', async () => {
    let r = await gw.api('POST', '/api/v1/customers', { name: 'Ada Fleet', email: 'ops@ada.example', external_ref: 'crm-1', metadata: { tier: 'gold' } });
    assert.equal(r.status, 201, r.text);
    const ada = r.body;
    assert.equal(r.headers.get('location'), `/api/v1/customers/${ada.id}`);
    assert.equal(ada.status, 'active');
    assert.equal(ada.allow_concurrent, false);
    assert.deepEqual(ada.metadata, { tier: 'gold' });
    assert.match(ada.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    r = await gw.api('GET', `/api/v1/customers/${ada.id}`, null, { key: gw.keys.read });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.email, 'ops@ada.example');
    r = await gw.api('PATCH', `/api/v1/customers/${ada.id}`, { phone: '+33 1 23', email: null }, { key: gw.keys.operator });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.phone, '+33 1 23');
    assert.equal(r.body.email, null, 'null clears a field');
    assert.equal(r.body.name, 'Ada Fleet', 'fields not sent stay');

    for (let i = 0; i < 5; i++) {
      r = await gw.api('POST', '/api/v1/customers', { name: `Page ${i}`, status: i % 2 ? 'suspended' : 'active' });
      assert.equal(r.status, 201, r.text);
    }
    const all = await allPages('/api/v1/customers', 2);
    assert.equal(all.length, 6);
    assert.equal(new Set(all.map((c) => c.id)).size, 6, 'no customer twice');
    assert.deepEqual(all.map((c) => c.id), [...all.map((c) => c.id)].sort((a, b) => a - b), 'by id');
    r = await gw.api('GET', '/api/v1/customers?status=suspended');
    assert.deepEqual(r.body.items.map((c) => c.name), ['Page 1', 'Page 3']);
    r = await gw.api('GET', '/api/v1/customers?q=ADA');
    assert.deepEqual(r.body.items.map((c) => c.id), [ada.id]);
    r = await gw.api('GET', '/api/v1/customers?q=crm-1');
    assert.deepEqual(r.body.items.map((c) => c.id), [ada.id], 'q searches external_ref');

    const gone = all.find((c) => c.name === 'Page 4');
    r = await gw.api('DELETE', `/api/v1/customers/${gone.id}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { id: gone.id, deleted: true });
    assertError(await gw.api('GET', `/api/v1/customers/${gone.id}`), 404, 'CUSTOMER_NOT_FOUND');
    assertError(await gw.api('DELETE', `/api/v1/customers/${gone.id}`), 404, 'CUSTOMER_NOT_FOUND');
    assertError(await gw.api('PATCH', `/api/v1/customers/${gone.id}`, { name: 'x' }), 404, 'CUSTOMER_NOT_FOUND');
  });

  test('customers: validation names the field; scopes; duplicates', async () => {
    const bad = async (body, field, re) => {
      const r = await gw.api('POST', '/api/v1/customers', body);
      assertError(r, 400, enumOrInvalid(re), re);
      assert.equal(r.body.field, field, r.text);
    };
    const missing = await gw.api('POST', '/api/v1/customers', {});
    assertError(missing, 400, 'MISSING_PARAMETER', /name is required/);
    assert.equal(missing.body.field, 'name');
    await bad({ name: '' }, 'name', /name must be 1 to 200 characters/);
    await bad({ name: 'x', status: 'gone' }, 'status', /status must be one of: active, suspended/);
    await bad({ name: 'x', allow_concurrent: 'yes' }, 'allow_concurrent', /must be a boolean/);
    await bad({ name: 'x', metadata: [1] }, 'metadata', /must be an object/);
    await bad({ name: 'x', email: 'e'.repeat(255) }, 'email', /email/);
    await bad({ name: 'x', colour: 'red' }, 'colour', /colour is not a known field/);
    assertError(await gw.api('POST', '/api/v1/customers', '[1]'), 400, 'INVALID_BODY');
    assertError(await gw.api('POST', '/api/v1/customers', '{"name":'), 400, 'INVALID_JSON');
    assertError(await gw.api('PATCH', '/api/v1/customers/1', { name: null }), 400, 'INVALID_PARAMETER', /name must be a string, not null/);
    assertError(await gw.api('GET', '/api/v1/customers/abc'), 400, 'INVALID_PARAMETER', /id must be a positive integer/);
    assertError(await gw.api('GET', '/api/v1/customers/0'), 400, 'INVALID_PARAMETER');
    assertError(await gw.api('GET', '/api/v1/customers?status=gone'), 400, 'INVALID_ENUM', /status must be one of: active, suspended/);
    assertError(await gw.api('GET', '/api/v1/customers?limit=0'), 400, 'INVALID_PARAMETER', /limit/);
    assertError(await gw.api('GET', '/api/v1/customers?limit=501'), 400, 'INVALID_PARAMETER', /limit/);
    assertError(await gw.api('GET', '/api/v1/customers?cursor=!!'), 400, 'INVALID_PARAMETER', /cursor/);
    assertError(await gw.api('GET', '/api/v1/customers?cursor=YWJj'), 400, 'INVALID_PARAMETER', /cursor/); // "abc"
    assertError(await gw.api('GET', `/api/v1/customers?q=${'q'.repeat(201)}`), 400, 'INVALID_PARAMETER', /q must be at most/);

    let r = await gw.api('POST', '/api/v1/customers', { name: 'Dup', external_ref: 'crm-dup' });
    assert.equal(r.status, 201, r.text);
    assertError(await gw.api('POST', '/api/v1/customers', { name: 'Dup 2', external_ref: 'crm-dup' }), 409, 'ALREADY_EXISTS');

    assertError(await gw.api('POST', '/api/v1/customers', { name: 'x' }, { key: gw.keys.read }), 403);
    assertError(await gw.api('PATCH', `/api/v1/customers/${r.body.id}`, { name: 'x' }, { key: gw.keys.read }), 403);
    assertError(await gw.api('DELETE', `/api/v1/customers/${r.body.id}`, null, { key: gw.keys.read }), 403);
    assertError(await gw.api('GET', '/api/v1/customers', null, { key: '' }), 401);
    assert.equal((await gw.api('GET', '/api/v1/customers', null, { key: gw.keys.read })).status, 200);
  });

  test('tokens: create, read, change, filters and pages, validation, scopes', async () => {
    const cust = (await gw.api('POST', '/api/v1/customers', { name: 'Token owner' })).body;
    let r = await gw.api('POST', '/api/v1/tokens', {
      id_token: 'RFID-T1', type: 'ISO14443', expiry: '2030-01-01T00:00:00Z', group_id: 'FLEET', customer_id: cust.id,
      contract_id: 'FR-ABC-C12345678-X', stations: ['CP-1', 'CP-2'],
    }, { key: gw.keys.operator });
    assert.equal(r.status, 201, r.text);
    const t1 = r.body;
    assert.equal(r.headers.get('location'), `/api/v1/tokens/${t1.id}`);
    assert.equal(t1.status, 'Accepted');
    assert.equal(t1.active, true);
    assert.deepEqual(t1.stations, ['CP-1', 'CP-2']);
    assert.equal(t1.customer_id, cust.id);
    // the same value is another token under another type
    r = await gw.api('POST', '/api/v1/tokens', { id_token: 'RFID-T1', type: 'KeyCode', status: 'Blocked' });
    assert.equal(r.status, 201, r.text);
    const t2 = r.body;
    assertError(await gw.api('POST', '/api/v1/tokens', { id_token: 'RFID-T1' }), 409, 'ALREADY_EXISTS');
    for (let i = 0; i < 4; i++) assert.equal((await gw.api('POST', '/api/v1/tokens', { id_token: `PAGE-${i}`, customer_id: cust.id })).status, 201);

    r = await gw.api('GET', `/api/v1/tokens/${t1.id}`, null, { key: gw.keys.read });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.contract_id, 'FR-ABC-C12345678-X');
    r = await gw.api('PATCH', `/api/v1/tokens/${t1.id}`, { stations: null, group_id: 'FLEET-2' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.stations, null);
    assert.equal(r.body.group_id, 'FLEET-2');
    assert.equal(r.body.expiry, '2030-01-01T00:00:00Z');

    const mine = await allPages(`/api/v1/tokens?customer_id=${cust.id}`, 2);
    assert.deepEqual(mine.map((t) => t.id_token), ['RFID-T1', 'PAGE-0', 'PAGE-1', 'PAGE-2', 'PAGE-3']);
    r = await gw.api('GET', `/api/v1/customers/${cust.id}/tokens?limit=3`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.items.length, 3);
    assert.ok(r.body.next_cursor);
    r = await gw.api('GET', `/api/v1/customers/${cust.id}/tokens?cursor=${encodeURIComponent(r.body.next_cursor)}`);
    assert.deepEqual(r.body.items.map((t) => t.id_token), ['PAGE-2', 'PAGE-3']);
    assertError(await gw.api('GET', '/api/v1/customers/999999/tokens'), 404, 'CUSTOMER_NOT_FOUND');
    r = await gw.api('GET', '/api/v1/tokens?status=Blocked&type=KeyCode');
    assert.deepEqual(r.body.items.map((t) => t.id), [t2.id]);
    r = await gw.api('GET', '/api/v1/tokens?q=rfid-t');
    assert.deepEqual(r.body.items.map((t) => t.id), [t1.id, t2.id]);
    r = await gw.api('GET', '/api/v1/tokens?q=C12345678');
    assert.deepEqual(r.body.items.map((t) => t.id), [t1.id], 'q searches contract_id');
    r = await gw.api('GET', '/api/v1/tokens?active=false');
    assert.deepEqual(r.body.items, []);

    const bad = async (body, field, re, path = '/api/v1/tokens', method = 'POST') => {
      const res = await gw.api(method, path, body);
      assertError(res, 400, enumOrInvalid(re), re);
      assert.equal(res.body.field, field, res.text);
    };
    const missing = await gw.api('POST', '/api/v1/tokens', {});
    assertError(missing, 400, 'MISSING_PARAMETER', /id_token is required/);
    assert.equal(missing.body.field, 'id_token');
    await bad({ id_token: 'x'.repeat(37) }, 'id_token', /id_token must be 1 to 36 characters/);
    await bad({ id_token: 'X', type: 'Magic' }, 'type', /type must be one of: ISO14443/);
    await bad({ id_token: 'X', status: 'Gone' }, 'status', /status must be one of: Accepted, Blocked, Expired, Invalid/);
    await bad({ id_token: 'X', expiry: 'tomorrow' }, 'expiry', /RFC 3339/);
    await bad({ id_token: 'X', customer_id: 0 }, 'customer_id', /positive integer/);
    await bad({ id_token: 'X', customer_id: 999999 }, 'customer_id', /no such customer/);
    await bad({ id_token: 'X', stations: ['ok', 'bad id/'] }, 'stations[1]', /not a station id/);
    await bad({ id_token: 'X', nickname: 'y' }, 'nickname', /nickname is not a known field/);
    await bad({ id_token: null }, 'id_token', /id_token must be a string, not null/, `/api/v1/tokens/${t1.id}`, 'PATCH');
    assertError(await gw.api('GET', '/api/v1/tokens?type=Magic'), 400, 'INVALID_ENUM', /type must be one of/);
    assertError(await gw.api('GET', '/api/v1/tokens?status=Gone'), 400, 'INVALID_ENUM');
    assertError(await gw.api('GET', '/api/v1/tokens?active=maybe'), 400, 'INVALID_ENUM');
    assertError(await gw.api('GET', '/api/v1/tokens?customer_id=-1'), 400, 'INVALID_PARAMETER', /customer_id/);
    assertError(await gw.api('GET', '/api/v1/tokens/999999'), 404, 'TOKEN_NOT_FOUND');
    assertError(await gw.api('PATCH', '/api/v1/tokens/999999', { status: 'Blocked' }), 404, 'TOKEN_NOT_FOUND');
    assertError(await gw.api('POST', '/api/v1/tokens/999999/block'), 404, 'TOKEN_NOT_FOUND');
    assertError(await gw.api('DELETE', '/api/v1/tokens/x1'), 400, 'INVALID_PARAMETER');

    assertError(await gw.api('POST', '/api/v1/tokens', { id_token: 'RO' }, { key: gw.keys.read }), 403);
    assertError(await gw.api('POST', `/api/v1/tokens/${t1.id}/block`, null, { key: gw.keys.read }), 403);
    assertError(await gw.api('POST', '/api/v1/tokens/import', [{ id_token: 'RO' }], { key: gw.keys.read }), 403);
    assert.equal((await gw.api('GET', '/api/v1/tokens', null, { key: gw.keys.read })).status, 200);

    // a token never used is deleted
    r = await gw.api('DELETE', `/api/v1/tokens/${t2.id}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { id: t2.id, deleted: true, deactivated: false });
    assertError(await gw.api('GET', `/api/v1/tokens/${t2.id}`), 404, 'TOKEN_NOT_FOUND');
  });

  test('a token with transactions is deactivated, not deleted; the customer\'s transactions', async () => {
    const cust = (await gw.api('POST', '/api/v1/customers', { name: 'Driver' })).body;
    const tok = (await gw.api('POST', '/api/v1/tokens', { id_token: 'USED-1', customer_id: cust.id })).body;
    await gw.api('POST', '/api/v1/tokens', { id_token: 'USED-2', customer_id: cust.id });
    const st = await connectStation(gw, { id: 'TOK-CP', protocol: 'ocpp1.6', connectors: 2 });
    try {
      const tx1 = await st.startTx(1, 'USED-1');
      await st.stopTx(tx1, 2000);
      const tx2 = await st.startTx(2, 'USED-2');
      await st.stopTx(tx2, 3000);
      await st.stopTx(await st.startTx(1, 'SOMEONE-ELSE'), 1000);
      await st.stopTx(await st.startTx(1, 'USED-1'), 1500);

      let r = await gw.api('GET', `/api/v1/customers/${cust.id}/transactions`, null, { key: gw.keys.read });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.items.length, 3);
      assert.ok(r.body.items.every((t) => ['USED-1', 'USED-2'].includes(t.id_token)), r.text);
      assert.deepEqual(r.body.items.map((t) => t.id), [...r.body.items.map((t) => t.id)].sort((a, b) => b - a), 'newest first');
      assert.equal(r.body.items.at(-1).energy_wh, 1000);
      assert.equal(r.body.next_cursor, null);
      r = await gw.api('GET', `/api/v1/customers/${cust.id}/transactions?limit=2`);
      assert.equal(r.body.items.length, 2);
      const rest = await gw.api('GET', `/api/v1/customers/${cust.id}/transactions?limit=2&cursor=${encodeURIComponent(r.body.next_cursor)}`);
      assert.equal(rest.body.items.length, 1);
      assert.equal(rest.body.next_cursor, null);
      assert.ok(rest.body.items[0].id < r.body.items[1].id);
      assertError(await gw.api('GET', '/api/v1/customers/999999/transactions'), 404, 'CUSTOMER_NOT_FOUND');

      r = await gw.api('DELETE', `/api/v1/tokens/${tok.id}`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, { id: tok.id, deleted: false, deactivated: true });
      r = await gw.api('GET', `/api/v1/tokens/${tok.id}`);
      assert.equal(r.status, 200, 'still there');
      assert.equal(r.body.active, false);
      r = await gw.api('GET', '/api/v1/tokens?active=false');
      assert.deepEqual(r.body.items.map((t) => t.id), [tok.id]);
      const answer = await st.client.call('Authorize', { idTag: 'USED-1' });
      assert.equal(answer.idTagInfo.status, 'Invalid', 'a deactivated token no longer charges');
      r = await gw.api('GET', `/api/v1/customers/${cust.id}/transactions`);
      assert.equal(r.body.items.length, 3, 'its sessions keep their history');
    } finally {
      await st.close();
    }
  });

  test('import: 10,000 tokens as JSON, all or nothing, a refusal names row and field', async () => {
    const count = async (prefix) => (await gw.sql(`select id from id_tokens where id_token like '${prefix}%'`)).length;
    const tokens = Array.from({ length: 10000 }, (_, i) => ({ id_token: `J-${String(i).padStart(6, '0')}`, type: 'ISO14443', status: 'Accepted' }));
    const body = JSON.stringify({ tokens });
    assert.ok(body.length < 1048576, `10,000 short JSON tokens fit the default body limit (${body.length} bytes)`);

    // one bad row: nothing is imported
    const broken = tokens.map((t, i) => (i === 4999 ? { ...t, type: 'Magic' } : t));
    let r = await gw.api('POST', '/api/v1/tokens/import', { tokens: broken });
    assertError(r, 400, 'INVALID_PARAMETER', /^row 5000: type: one of/);
    assert.equal(r.body.row, 5000);
    assert.equal(r.body.field, 'type');
    r = await gw.api('POST', '/api/v1/tokens/import', tokens.map((t, i) => (i === 9 ? { ...t, id_token: tokens[2].id_token } : t)));
    assertError(r, 400, 'INVALID_PARAMETER', /^row 10: id_token: the same as row 3/);
    assert.equal(await count('J-'), 0, 'nothing imported');

    const t0 = Date.now();
    r = await gw.api('POST', '/api/v1/tokens/import', body);
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(r.body, { imported: 10000 });
    assert.ok(Date.now() - t0 < 30000, 'an import of 10,000 takes seconds');
    assert.equal(await count('J-'), 10000);
    r = await gw.api('GET', '/api/v1/tokens?q=J-009999');
    assert.equal(r.body.items.length, 1);

    // a value already in the table: 409, row named, nothing imported
    r = await gw.api('POST', '/api/v1/tokens/import', [{ id_token: 'J-NEW-1' }, { id_token: 'J-000042' }]);
    assertError(r, 409, 'ALREADY_EXISTS', /^row 2: id_token: J-000042 already exists/);
    assert.equal(r.body.row, 2);
    assert.equal(await count('J-NEW'), 0);
    assertError(await gw.api('POST', '/api/v1/tokens/import', { tokens: [] }), 400, 'INVALID_PARAMETER', /tokens needs at least 1 item/);
    assertError(await gw.api('POST', '/api/v1/tokens/import', { list: [] }), 400, 'MISSING_PARAMETER', /tokens is required/);
    assertError(await gw.api('POST', '/api/v1/tokens/import'), 400, 'MISSING_PARAMETER', /needs a JSON request body/);
  });

  test('import: 10,000 tokens as CSV (RFC 4180 quoting, stations split on |), a bad row refused whole', async () => {
    const cust = (await gw.api('POST', '/api/v1/customers', { name: 'CSV owner' })).body;
    const header = 'id_token,type,status,expiry,group_id,customer_id,contract_id,stations';
    const lines = Array.from({ length: 10000 }, (_, i) => `C-${String(i).padStart(6, '0')},ISO14443,Accepted,,FLEET,${cust.id},,`);
    lines[0] = `C-000000,KeyCode,Blocked,2031-05-01T00:00:00Z,"FLEET, ""north""",${cust.id},"EMA
ID-1",CP-A|CP-B`;
    const csv = `\uFEFF${header}\r\n${lines.join('\r\n')}\r\n`;
    assert.ok(Buffer.byteLength(csv) < 1048576, 'fits the default body limit');

    // data row 7 (the 8th line of the file counts the header) has a bad status
    const bad = [...lines];
    bad[6] = bad[6].replace('Accepted', 'Maybe');
    let r = await gw.api('POST', '/api/v1/tokens/import', `${header}\n${bad.join('\n')}\n`, { headers: csvHeaders });
    assertError(r, 400, 'INVALID_PARAMETER', /^row 7: status: one of/);
    assert.deepEqual([r.body.row, r.body.field], [7, 'status']);
    // malformed CSV: the row and what is wrong
    const refused = async (text, re, row, field) => {
      const res = await gw.api('POST', '/api/v1/tokens/import', text, { headers: csvHeaders });
      assertError(res, 400, 'INVALID_PARAMETER', re);
      assert.equal(res.body.row, row, res.text);
      assert.equal(res.body.field, field, res.text);
    };
    await refused('id_token,colour\nA,red\n', /^header: column "colour" is unknown/, undefined, undefined);
    await refused('type\nKeyCode\n', /^header: an id_token column is required/, undefined, undefined);
    await refused('id_token,type,id_token\nA,B,C\n', /^header: column id_token appears twice/, undefined, undefined);
    await refused('', /^header: a header row is required/, undefined, undefined);
    await refused('id_token,type\nA,KeyCode\nB\n', /^row 2: 1 fields where the header has 2/, 2, undefined);
    await refused('id_token,type\nA,KeyCode\n\nB,KeyCode\n', /^row 2: an empty line/, 2, undefined);
    await refused('id_token,type\nA,Key"Code\n', /^row 1: a quote inside an unquoted field/, 1, undefined);
    await refused('id_token,type\n"A,KeyCode\n', /^row 1: a quoted field is not closed/, 1, undefined);
    await refused('id_token,customer_id\nA,12x\n', /^row 1: customer_id: must be a positive integer/, 1, 'customer_id');
    await refused('id_token,stations\nA,CP-1|bad/id\n', /^row 1: stations\[1\]: not a station id/, 1, 'stations[1]');
    assert.equal((await gw.sql("select id from id_tokens where id_token like 'C-%'")).length, 0, 'nothing imported');

    r = await gw.api('POST', '/api/v1/tokens/import', csv, { headers: { 'Content-Type': 'text/csv; charset=utf-8' } });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(r.body, { imported: 10000 });
    r = await gw.api('GET', '/api/v1/tokens?q=C-000000');
    const first = r.body.items[0];
    assert.equal(first.type, 'KeyCode');
    assert.equal(first.status, 'Blocked');
    assert.equal(first.expiry, '2031-05-01T00:00:00Z');
    assert.equal(first.group_id, 'FLEET, "north"');
    assert.equal(first.contract_id, 'EMA\nID-1', 'a quoted cell keeps its line break');
    assert.deepEqual(first.stations, ['CP-A', 'CP-B']);
    assert.equal(first.customer_id, cust.id);
    r = await gw.api('GET', '/api/v1/tokens?q=C-009999');
    assert.equal(r.body.items[0].contract_id, null, 'an empty cell leaves the field out');
    assert.equal(r.body.items[0].stations, null);
    r = await gw.api('GET', `/api/v1/customers/${cust.id}/tokens?limit=500`);
    assert.equal(r.body.items.length, 500);
    // a CSV body elsewhere is still not JSON
    assertError(await gw.api('POST', '/api/v1/customers', 'name\nx\n', { headers: csvHeaders }), 400, 'INVALID_JSON');
  });

  test('customer.* and token.* events reach a webhook', async () => {
    const got = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => { got.push(JSON.parse(body)); res.writeHead(200); res.end('ok'); });
    });
    await new Promise((res) => server.listen(0, '127.0.0.1', res));
    try {
      const url = `http://127.0.0.1:${server.address().port}/hook`;
      let r = await gw.api('POST', '/api/v1/webhooks', { url, events: ['customer.*', 'token.*'] });
      assert.equal(r.status, 201, r.text);
      const cust = (await gw.api('POST', '/api/v1/customers', { name: 'Hooked' })).body;
      const tok = (await gw.api('POST', '/api/v1/tokens', { id_token: 'HOOK-1', customer_id: cust.id })).body;
      r = await gw.api('POST', `/api/v1/tokens/${tok.id}/block`);
      assert.equal(r.status, 200, r.text);
      await gw.api('DELETE', `/api/v1/tokens/${tok.id}`);
      await gw.api('PATCH', `/api/v1/customers/${cust.id}`, { status: 'suspended' });
      const want = ['customer.created', 'token.created', 'token.blocked', 'token.deleted', 'customer.updated'];
      await gw.waitFor(() => want.every((t) => got.some((e) => e.type === t)), 10000, `events ${want.join(', ')}`);
      assert.equal(got.find((e) => e.type === 'token.blocked').data.id_token, 'HOOK-1');
      assert.equal(got.find((e) => e.type === 'customer.updated').data.status, 'suspended');
    } finally {
      server.closeAllConnections();
      await new Promise((res) => server.close(res));
    }
  });
});
