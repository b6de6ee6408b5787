// headless-remote-start.test.mjs — a remote start gives the caller the transaction it
// started: POST /api/v1/transactions answers 201 with transaction_id (the gateway's id) and
// station_tx_id once the station accepted and started charging, or 202 with a Location
// (/api/v1/transactions?command_id=) that lists the transaction once it starts.  Either id
// then addresses the transaction: /transactions/{id} and /transactions/{id}/stop take the
// gateway's id, or the station's own id with ?station_id=.  Real OCPP 1.6 and 2.0.1
// stations (ocpp-rpc strict-mode clients) that answer and start like real ones.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './lib/harness.mjs';
import { connectStation, protocols, pluginFor } from './lib/stations.mjs';

const now = () => new Date().toISOString();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function assertError(r, status, code) {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status} ${r.text}`);
  assert.equal(typeof r.body?.error, 'string', r.text);
  assert.equal(r.body.code, code, r.text);
}

/** The station starts the transaction a remote start asked for, as the real thing does:
 * 1.6 StartTransaction; 2.0.1 TransactionEvent Started, triggerReason RemoteStart, with
 * the remoteStartId of the request.  Resolves to the station's transaction id. */
async function startAsAsked(st, params, txId) {
  if (st.protocol === 'ocpp1.6') return st.startTx(params.connectorId ?? 1, params.idTag, 1000);
  const id = txId || `tx-${Math.random().toString(36).slice(2, 12)}`;
  await st.client.call('TransactionEvent', {
    eventType: 'Started', timestamp: now(), triggerReason: 'RemoteStart', seqNo: st.txSeq++,
    transactionInfo: { transactionId: id, chargingState: 'Charging', remoteStartId: params.remoteStartId },
    idToken: { idToken: params.idToken.idToken, type: params.idToken.type },
    evse: { id: params.evseId ?? 1, connectorId: 1 },
    meterValue: [{ timestamp: now(), sampledValue: [{ value: 1000, measurand: 'Energy.Active.Import.Register', context: 'Transaction.Begin' }] }],
  });
  return id;
}

/** Answer the remote start Accepted, then start the transaction after `delay` ms; the
 * returned promise resolves to the station's transaction id. */
function acceptThenStart(st, delay = 50, txId) {
  let done;
  const started = new Promise((r) => { done = r; });
  st.answer('remote_start', (params) => {
    setTimeout(() => startAsAsked(st, params, txId).then(done), delay);
    return { status: 'Accepted' };
  });
  return started;
}

for (const protocol of protocols) {
  describe(`remote start with an ${protocol} station`, () => {
    let gw;
    let st;
    const sid = `RS-${protocol.replace(/\W/g, '')}`;

    before(async () => {
      gw = await startGateway({
        plugins: [pluginFor(protocol), 'headless'],
        config: { [pluginFor(protocol)]: { unknown_stations: 'accept' } },
      });
      st = await connectStation(gw, { id: sid, protocol, connectors: 3 });
      await gw.waitFor(async () => (await gw.api('GET', `/api/v1/stations/${sid}`)).body?.evses?.length >= 3, 10000, 'station snapshot with 3 evses');
    });
    after(async () => {
      await st?.close().catch(() => {});
      await gw?.stop();
    });

    test('201 with transaction_id; GET and stop by it reach the station with its own id', async () => {
      const started = acceptThenStart(st);
      const r = await gw.api('POST', '/api/v1/transactions', { station_id: sid, connector: 1, id_token: 'RS-TAG-1' });
      assert.equal(r.status, 201, r.text);
      const stx = await started;
      assert.ok(Number.isInteger(r.body.transaction_id) && r.body.transaction_id > 0, r.text);
      assert.equal(r.body.station_tx_id, stx);
      assert.equal(r.body.status, 'Accepted');
      assert.match(r.body.command_id, /^[0-9a-f-]{36}$/);
      assert.equal(r.headers.get('location'), `/api/v1/transactions/${r.body.transaction_id}`);

      const g = await gw.api('GET', `/api/v1/transactions/${r.body.transaction_id}`);
      assert.equal(g.status, 200, g.text);
      assert.equal(g.body.station_tx_id, stx);
      assert.equal(g.body.id_token, 'RS-TAG-1');
      assert.equal(g.body.active, true);

      const s = await gw.api('POST', `/api/v1/transactions/${r.body.transaction_id}/stop`);
      assert.equal(s.status, 200, s.text);
      assert.equal(st.remoteStopTx(st.last('remote_stop')), stx, 'the station got its own transaction id');
      await st.stopTx(stx, 2000);

      // the link is also recorded: ?command_id= lists it
      await gw.waitFor(async () => (await gw.api('GET', `/api/v1/transactions?command_id=${r.body.command_id}`)).body?.items?.[0]?.id === r.body.transaction_id, 10000, 'link recorded');
    });

    test('the station\'s own id addresses the transaction with ?station_id=', async () => {
      // 2.0.1: a transactionId of digits that is not the gateway's id must not be read as one
      const own = protocol === 'ocpp2.0.1' ? '987654' : undefined;
      const started = acceptThenStart(st, 50, own);
      const r = await gw.api('POST', '/api/v1/transactions', { station_id: sid, connector: 2, id_token: 'RS-TAG-2' });
      assert.equal(r.status, 201, r.text);
      const stx = await started;
      assert.equal(r.body.station_tx_id, stx);
      const path = `/api/v1/transactions/${encodeURIComponent(stx)}?station_id=${encodeURIComponent(sid)}`;
      const g = await gw.api('GET', path);
      assert.equal(g.status, 200, g.text);
      assert.equal(g.body.id, r.body.transaction_id);
      if (own) assertError(await gw.api('GET', `/api/v1/transactions/${own}`), 404, 'TRANSACTION_NOT_FOUND');

      const before = st.received('remote_stop').length;
      const s = await gw.api('POST', `/api/v1/transactions/${encodeURIComponent(stx)}/stop?station_id=${encodeURIComponent(sid)}`);
      assert.equal(s.status, 200, s.text);
      assert.equal(st.received('remote_stop').length, before + 1);
      assert.equal(st.remoteStopTx(st.last('remote_stop')), stx);
      await st.stopTx(stx, 1500);
      await gw.waitFor(async () => (await gw.api('GET', path)).body?.active === false, 10000, 'ended');
      assertError(await gw.api('POST', `/api/v1/transactions/${encodeURIComponent(stx)}/stop?station_id=${encodeURIComponent(sid)}`), 409, 'TRANSACTION_NOT_ACTIVE');

      // unknowns and malformed ids
      assertError(await gw.api('GET', `/api/v1/transactions/${encodeURIComponent(stx)}?station_id=NOPE`), 404, 'TRANSACTION_NOT_FOUND');
      assertError(await gw.api('POST', `/api/v1/transactions/nope/stop?station_id=${sid}`), 404, 'TRANSACTION_NOT_FOUND');
      assertError(await gw.api('GET', '/api/v1/transactions/tx-abc'), 400, 'INVALID_PARAMETER');
      assertError(await gw.api('POST', '/api/v1/transactions/tx-abc/stop'), 400, 'INVALID_PARAMETER');
      assertError(await gw.api('GET', `/api/v1/transactions/${'x'.repeat(65)}?station_id=${sid}`), 400, 'INVALID_PARAMETER');
      assertError(await gw.api('GET', '/api/v1/transactions?command_id=not-a-uuid'), 400, 'INVALID_PARAMETER');
    });

    test('not started within ?timeout=: 202 with a Location that lists it once started', async () => {
      let asked;
      st.answer('remote_start', (params) => { asked = params; return { status: 'Accepted' }; });
      const t0 = Date.now();
      const r = await gw.api('POST', '/api/v1/transactions?timeout=1', { station_id: sid, connector: 3, id_token: 'RS-TAG-3' });
      assert.equal(r.status, 202, r.text);
      assert.ok(Date.now() - t0 >= 900, 'waited for the transaction until the timeout');
      assert.equal(r.body.status, 'Accepted');
      assert.equal(r.body.transaction_id, null);
      const loc = r.headers.get('location');
      assert.equal(loc, `/api/v1/transactions?command_id=${r.body.command_id}&station=${sid}`);
      assert.equal(r.body.location, loc);
      let l = await gw.api('GET', loc);
      assert.equal(l.status, 200, l.text);
      assert.deepEqual(l.body.items, [], 'nothing started yet');

      // the EV is plugged in later: the transaction is linked all the same
      const stx = await startAsAsked(st, asked);
      await gw.waitFor(async () => (l = await gw.api('GET', loc)).body?.items?.length === 1, 10000, 'linked transaction listed');
      assert.equal(l.body.items[0].station_tx_id, stx);
      assert.equal(l.body.items[0].id_token, 'RS-TAG-3');
      const s = await gw.api('POST', `/api/v1/transactions/${l.body.items[0].id}/stop`);
      assert.equal(s.status, 200, s.text);
      assert.equal(st.remoteStopTx(st.last('remote_stop')), stx);
      await st.stopTx(stx, 1200);
      await gw.waitFor(async () => (await gw.api('GET', `/api/v1/transactions/${l.body.items[0].id}`)).body?.active === false);
    });

    test('Prefer: respond-async keeps 202 + /commands Location; the transaction is linked', async () => {
      const started = acceptThenStart(st, 300);
      const r = await gw.api('POST', '/api/v1/transactions', { station_id: sid, connector: 1, id_token: 'RS-TAG-4' }, { headers: { Prefer: 'respond-async' } });
      assert.equal(r.status, 202, r.text);
      assert.equal(r.body.status, 'pending');
      assert.equal(r.headers.get('location'), `/api/v1/commands/${r.body.command_id}`);
      const stx = await started;
      let l;
      await gw.waitFor(async () => (l = await gw.api('GET', `/api/v1/transactions?command_id=${r.body.command_id}&station=${sid}`)).body?.items?.length === 1, 10000, 'linked');
      assert.equal(l.body.items[0].station_tx_id, stx);
      await st.stopTx(stx, 1100);
      await gw.waitFor(async () => (await gw.api('GET', `/api/v1/transactions/${l.body.items[0].id}`)).body?.active === false);
    });

    test('a refused remote start is still a 409 and links nothing', async () => {
      st.answer('remote_start', 'reject');
      const r = await gw.api('POST', '/api/v1/transactions', { station_id: sid, connector: 1, id_token: 'RS-TAG-5' });
      assertError(r, 409, 'REJECTED_BY_STATION');
      // a transaction with that token starting now belongs to no remote start
      const stx = await st.startTx(1, 'RS-TAG-5', 0);
      await sleep(200);
      const l = await gw.api('GET', `/api/v1/transactions?command_id=${r.body.command_id}`);
      assert.deepEqual(l.body.items, []);
      await st.stopTx(stx, 10);
      st.answer('remote_start', 'accept');
    });

    if (protocol === 'ocpp2.0.1') {
      test('2.0.1: TransactionEvent Started before the RequestStartTransaction answer', async () => {
        let stx;
        st.answer('remote_start', async (params) => {
          stx = await startAsAsked(st, params); // the CSMS answers it while its own CALL waits
          return { status: 'Accepted' };
        });
        const r = await gw.api('POST', '/api/v1/transactions', { station_id: sid, connector: 2, id_token: 'RS-TAG-6' });
        assert.equal(r.status, 201, r.text);
        assert.equal(r.body.station_tx_id, stx);
        assert.equal((await gw.api('GET', `/api/v1/transactions/${r.body.transaction_id}`)).body.station_tx_id, stx);
        await st.stopTx(stx, 1000);
        st.answer('remote_start', 'accept');
      });

      test('2.0.1: already charging, the answer names the transaction: 201 with it', async () => {
        const stx = await st.startTx(3, 'RS-TAG-7', 0); // cable first, started by the station
        await gw.waitFor(async () => (await gw.api('GET', `/api/v1/transactions/${stx}?station_id=${sid}`)).status === 200);
        st.answer('remote_start', () => ({ status: 'Accepted', transactionId: stx }));
        const r = await gw.api('POST', '/api/v1/transactions', { station_id: sid, id_token: 'RS-TAG-7' });
        assert.equal(r.status, 201, r.text);
        assert.equal(r.body.station_tx_id, stx);
        assert.equal(r.body.result.transaction, stx);
        const g = await gw.api('GET', `/api/v1/transactions/${stx}?station_id=${sid}`);
        assert.equal(g.body.id, r.body.transaction_id);
        await st.stopTx(stx, 10);
        st.answer('remote_start', 'accept');
      });
    }
  });
}
