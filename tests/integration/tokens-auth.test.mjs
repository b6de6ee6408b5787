// tokens-auth.test.mjs — what stations hear about ID tokens managed through /api/v1:
// Authorize, StartTransaction (1.6) and TransactionEvent (2.0.1) answered from the token
// table (accepted, blocked, expired, unknown with auth_unknown = reject, a suspended
// customer, groups), ConcurrentTx across stations, local-list sync (Full, then only the
// changes), and a block pushed to the stations that may still accept the token offline.
// Real daemon, strict-mode ocpp-rpc stations of both versions.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './lib/harness.mjs';
import { connectStation, protocols } from './lib/stations.mjs';

const future = new Date(Date.now() + 30 * 86400e3).toISOString().replace(/\.\d+Z$/, 'Z');
const past = '2020-01-01T00:00:00Z';

/** The station's view of a token decision, the same for both versions. */
function normal(protocol, info) {
  if (!info) return info;
  return protocol === 'ocpp1.6'
    ? { status: info.status, group: info.parentIdTag, expiry: info.expiryDate }
    : { status: info.status, group: info.groupIdToken?.idToken, expiry: info.cacheExpiryDateTime };
}

async function authorize(st, tag) {
  if (st.protocol === 'ocpp1.6') return normal(st.protocol, (await st.client.call('Authorize', { idTag: tag })).idTagInfo);
  const r = await st.client.call('Authorize', { idToken: { idToken: tag, type: 'ISO14443' } });
  return normal(st.protocol, r.idTokenInfo);
}

/** Start a transaction; the station's answer about the token and the transaction id. */
async function start(st, connector, tag) {
  const now = new Date().toISOString();
  if (st.protocol === 'ocpp1.6') {
    const r = await st.client.call('StartTransaction', { connectorId: connector, idTag: tag, meterStart: 0, timestamp: now });
    return { tx: String(r.transactionId), info: normal(st.protocol, r.idTagInfo) };
  }
  const tx = `tx-${Math.random().toString(36).slice(2, 12)}`;
  const r = await st.client.call('TransactionEvent', {
    eventType: 'Started', timestamp: now, triggerReason: 'Authorized', seqNo: st.txSeq++,
    transactionInfo: { transactionId: tx, chargingState: 'Charging' }, idToken: { idToken: tag, type: 'ISO14443' },
    evse: { id: connector, connectorId: 1 },
  });
  return { tx, info: normal(st.protocol, r.idTokenInfo) };
}

/** The local list a station received, as {version, type, entries: {token: status|null}}. */
function listOf(st, params) {
  if (st.protocol === 'ocpp1.6') {
    return {
      version: params.listVersion, type: params.updateType,
      entries: Object.fromEntries((params.localAuthorizationList || []).map((e) => [e.idTag, e.idTagInfo?.status ?? null])),
    };
  }
  return {
    version: params.versionNumber, type: params.updateType,
    entries: Object.fromEntries((params.localAuthorizationList || []).map((e) => [e.idToken.idToken, e.idTokenInfo?.status ?? null])),
  };
}

describe('ID tokens as stations see them', () => {
  let gw;
  before(async () => {
    gw = await startGateway({ plugins: ['ocpp16', 'ocpp201', 'headless'], config: { core: { auth_unknown: 'reject' } } });
  });
  // a clean exit: no sanitizer report (leaks, use after free) on the way out
  after(async () => { if (gw) assert.equal(await gw.stop(), 0, gw.logs().split('\n').filter((l) => /Sanitizer|ERROR/.test(l)).join('\n')); });

  const create = async (path, body) => {
    const r = await gw.api('POST', path, body);
    assert.equal(r.status, 201, r.text);
    return r.body;
  };

  for (const protocol of protocols) {
    const p = protocol === 'ocpp1.6' ? 'S16' : 'S201';
    describe(protocol, () => {
      const stations = [];
      const station = async (id, connectors = 2) => {
        const st = await connectStation(gw, { id: `${p}-${id}`, protocol, connectors });
        stations.push(st);
        return st;
      };
      after(async () => { for (const st of stations) await st.close().catch(() => {}); });

      test('Authorize: accepted with group and expiry, blocked, expired, unknown; a suspended customer blocks its tokens', async () => {
        const st = await station('A');
        const cust = await create('/api/v1/customers', { name: `${p} fleet` });
        await create('/api/v1/tokens', { id_token: `${p}-ACC`, group_id: `${p}-GROUP`, expiry: future, customer_id: cust.id });
        await create('/api/v1/tokens', { id_token: `${p}-BLK`, status: 'Blocked' });
        await create('/api/v1/tokens', { id_token: `${p}-EXP`, expiry: past });
        assert.deepEqual(await authorize(st, `${p}-ACC`), { status: 'Accepted', group: `${p}-GROUP`, expiry: future });
        assert.equal((await authorize(st, `${p}-BLK`)).status, 'Blocked');
        assert.equal((await authorize(st, `${p}-EXP`)).status, 'Expired');
        assert.equal((await authorize(st, `${p}-NOBODY`)).status, 'Invalid', 'unknown and [core] auth_unknown = reject');

        let r = await gw.api('PATCH', `/api/v1/customers/${cust.id}`, { status: 'suspended' });
        assert.equal(r.status, 200, r.text);
        assert.equal((await authorize(st, `${p}-ACC`)).status, 'Blocked', 'the customer is suspended');
        r = await gw.api('PATCH', `/api/v1/customers/${cust.id}`, { status: 'active' });
        assert.equal((await authorize(st, `${p}-ACC`)).status, 'Accepted');
      });

      test('StartTransaction / TransactionEvent carry the table\'s answer', async () => {
        const st = await station('B');
        const ok = await start(st, 1, `${p}-ACC`);
        assert.equal(ok.info.status, 'Accepted');
        assert.equal(ok.info.group, `${p}-GROUP`);
        const blocked = await start(st, 2, `${p}-BLK`);
        assert.equal(blocked.info.status, 'Blocked');
        await st.stopTx(ok.tx, 100);
        await st.stopTx(blocked.tx, 100);
        const unknown = await start(st, 1, `${p}-NOBODY`);
        assert.equal(unknown.info.status, 'Invalid');
        await st.stopTx(unknown.tx, 100);
      });

      test('ConcurrentTx: charging at one station, presented at another; allowed for a customer with allow_concurrent', async () => {
        const a = await station('CA', 1);
        const b = await station('CB', 1);
        await create('/api/v1/tokens', { id_token: `${p}-ONE` });
        const multi = await create('/api/v1/customers', { name: `${p} multi`, allow_concurrent: true });
        await create('/api/v1/tokens', { id_token: `${p}-MANY`, customer_id: multi.id });

        const one = await start(a, 1, `${p}-ONE`);
        assert.equal(one.info.status, 'Accepted');
        await gw.waitFor(async () => (await authorize(b, `${p}-ONE`)).status === 'ConcurrentTx', 5000, 'ConcurrentTx at the other station');
        assert.equal((await authorize(a, `${p}-ONE`)).status, 'Accepted', 'the station where it charges may ask again');
        await a.stopTx(one.tx, 10);
        await gw.waitFor(async () => (await authorize(b, `${p}-ONE`)).status === 'Accepted', 5000, 'Accepted once the session ended');

        const many = await start(a, 1, `${p}-MANY`);
        assert.equal(many.info.status, 'Accepted');
        assert.equal((await authorize(b, `${p}-MANY`)).status, 'Accepted', 'allow_concurrent');
        await a.stopTx(many.tx, 10);
      });

      test('local list: Full, then only the changes; a block reaches the list and the caches', async () => {
        const l = await station('LIST', 1);
        const seer = await station('SEER', 1);
        const tok = await create('/api/v1/tokens', { id_token: `${p}-LISTED`, group_id: `${p}-G` });
        assert.equal((await authorize(seer, `${p}-LISTED`)).status, 'Accepted');

        let r = await gw.api('POST', `/api/v1/stations/${l.id}/local-list/sync`, { update_type: 'Full' });
        assert.equal(r.status, 202, r.text);
        assert.equal(r.body.update_type, 'Full');
        assert.equal(r.body.version, 1);
        assert.equal(r.headers.get('location'), `/api/v1/commands/${r.body.command_id}`);
        assert.ok(r.body.entries.some((e) => e.id_token === `${p}-LISTED` && e.status === 'Accepted' && e.parent === `${p}-G`), r.text);
        await l.waitReceived('local_list', 1);
        let sent = listOf(l, l.last('local_list'));
        assert.equal(sent.type, 'Full');
        assert.equal(sent.version, 1);
        assert.equal(sent.entries[`${p}-LISTED`], 'Accepted');
        assert.equal(sent.entries[`${p}-BLK`], 'Blocked', 'blocked tokens are listed as Blocked');
        assert.equal(Object.keys(sent.entries).length, r.body.entries.length);
        await gw.waitFor(async () => (await gw.api('GET', `/api/v1/stations/${l.id}/local-list`)).body?.version === 1, 10000, 'the list recorded');

        // one change since: the next sync (Differential by default) carries only it
        const added = await create('/api/v1/tokens', { id_token: `${p}-ADDED` });
        r = await gw.api('POST', `/api/v1/stations/${l.id}/local-list/sync`);
        assert.equal(r.status, 202, r.text);
        assert.equal(r.body.update_type, 'Differential');
        assert.equal(r.body.version, 2);
        assert.deepEqual(r.body.entries.map((e) => e.id_token), [`${p}-ADDED`]);
        await l.waitReceived('local_list', 2);
        sent = listOf(l, l.last('local_list'));
        assert.deepEqual(sent, { version: 2, type: 'Differential', entries: { [`${p}-ADDED`]: 'Accepted' } });
        await gw.waitFor(async () => (await gw.api('GET', `/api/v1/stations/${l.id}/local-list`)).body?.version === 2, 10000, 'the list recorded');

        // a deleted token leaves the list: the Differential names it without status
        r = await gw.api('DELETE', `/api/v1/tokens/${added.id}`);
        assert.equal(r.body.deleted, true, r.text);
        r = await gw.api('POST', `/api/v1/stations/${l.id}/local-list/sync`, { update_type: 'Differential' });
        assert.equal(r.status, 202, r.text);
        assert.deepEqual(r.body.entries, [{ id_token: `${p}-ADDED` }]);
        await l.waitReceived('local_list', 3);
        assert.deepEqual(listOf(l, l.last('local_list')).entries, { [`${p}-ADDED`]: null });
        await gw.waitFor(async () => (await gw.api('GET', `/api/v1/stations/${l.id}/local-list`)).body?.version === 3, 10000, 'the list recorded');

        // block: a Differential with the token Blocked to the list, ClearCache to the station that saw it
        const cleared = seer.received('clear_cache').length;
        r = await gw.api('POST', `/api/v1/tokens/${tok.id}/block`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.status, 'Blocked');
        assert.ok(r.body.propagation.local_list.includes(l.id), r.text);
        assert.ok(r.body.propagation.clear_cache.includes(seer.id), r.text);
        assert.ok(!r.body.propagation.clear_cache.includes(l.id), 'a listed station gets the list, not ClearCache');
        await l.waitReceived('local_list', 4);
        sent = listOf(l, l.last('local_list'));
        assert.deepEqual(sent, { version: 4, type: 'Differential', entries: { [`${p}-LISTED`]: 'Blocked' } });
        await gw.waitFor(() => seer.received('clear_cache').length > cleared, 10000, 'ClearCache at the station that saw the token');
        assert.equal((await authorize(seer, `${p}-LISTED`)).status, 'Blocked');

        await gw.waitFor(async () => (await gw.api('GET', `/api/v1/stations/${l.id}/local-list`)).body?.version === 4, 10000, 'the list recorded');
        r = await gw.api('POST', `/api/v1/tokens/${tok.id}/unblock`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.status, 'Accepted');
        await l.waitReceived('local_list', 5);
        assert.deepEqual(listOf(l, l.last('local_list')).entries, { [`${p}-LISTED`]: 'Accepted' });
        assert.equal((await authorize(seer, `${p}-LISTED`)).status, 'Accepted');
      });

      test('local-list sync: errors', async () => {
        const gone = await station('GONE', 1);
        await gone.close();
        await gw.waitFor(async () => (await gw.api('GET', `/api/v1/stations/${gone.id}/liveness`)).body?.online === false);
        let r = await gw.api('POST', `/api/v1/stations/${gone.id}/local-list/sync`);
        assert.equal(r.status, 409, r.text);
        assert.equal(r.body.code, 'STATION_OFFLINE');
        r = await gw.api('POST', `/api/v1/stations/${p}-NEVER/local-list/sync`);
        assert.equal(r.status, 404, r.text);
        assert.equal(r.body.code, 'STATION_NOT_FOUND');
        r = await gw.api('POST', `/api/v1/stations/${stations[0].id}/local-list/sync`, { update_type: 'Partial' });
        assert.equal(r.status, 400, r.text);
        assert.equal(r.body.code, 'INVALID_ENUM');
        r = await gw.api('POST', `/api/v1/stations/${stations[0].id}/local-list/sync`, {}, { key: gw.keys.read });
        assert.equal(r.status, 403, r.text);
      });
    });
  }
});
