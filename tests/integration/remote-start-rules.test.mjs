// remote-start-rules.test.mjs — POST /api/v1/transactions refuses, before anything is
// sent, what the station would refuse anyway: a blocked, expired or unknown token
// (auth_unknown = reject), a token already charging elsewhere, a connector reserved for
// another token.  Each refusal is a 409 with its own code; the station hears nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './lib/harness.mjs';
import { connectStation, protocols } from './lib/stations.mjs';

const past = '2020-01-01T00:00:00Z';

for (const protocol of protocols) {
  test(`remote start refusals by the token and reservation rules (${protocol})`, async () => {
    const gw = await startGateway({ plugins: ['ocpp16', 'ocpp201', 'headless'], config: { core: { auth_unknown: 'reject' } } });
    const p = protocol === 'ocpp1.6' ? 'R16' : 'R201';
    const stations = [];
    try {
      const a = await connectStation(gw, { id: `${p}-A`, protocol, connectors: 2 });
      const b = await connectStation(gw, { id: `${p}-B`, protocol, connectors: 2 });
      stations.push(a, b);
      for (const [id_token, extra] of [[`${p}-OK`, {}], [`${p}-BLK`, { status: 'Blocked' }], [`${p}-EXP`, { expiry: past }], [`${p}-BUSY`, {}]]) {
        const r = await gw.api('POST', '/api/v1/tokens', { id_token, ...extra });
        assert.equal(r.status, 201, r.text);
      }
      const startAt = (st, connector, id_token) => gw.api('POST', '/api/v1/transactions?timeout=1', { station_id: st.id, connector, id_token });
      const refused = async (st, connector, token, code) => {
        const before = st.received('remote_start').length;
        const r = await startAt(st, connector, token);
        assert.equal(r.status, 409, `${token}: ${r.text}`);
        assert.equal(r.body.code, code, r.text);
        assert.equal(st.received('remote_start').length, before, 'nothing was sent to the station');
      };
      await refused(a, 1, `${p}-BLK`, 'TOKEN_BLOCKED');
      await refused(a, 1, `${p}-EXP`, 'TOKEN_EXPIRED');
      await refused(a, 1, `${p}-NOBODY`, 'TOKEN_UNKNOWN');
      // charging at station B: a second session at A is refused
      if (protocol === 'ocpp1.6') {
        await b.client.call('StartTransaction', { connectorId: 1, idTag: `${p}-BUSY`, meterStart: 0, timestamp: new Date().toISOString() });
      } else {
        await b.client.call('TransactionEvent', { eventType: 'Started', timestamp: new Date().toISOString(), triggerReason: 'Authorized', seqNo: 0,
          transactionInfo: { transactionId: `${p}-tx1` }, idToken: { idToken: `${p}-BUSY`, type: 'ISO14443' }, evse: { id: 1, connectorId: 1 } });
      }
      await gw.waitFor(async () => (await gw.sql(`select count(*)::int n from transactions where id_token = '${p}-BUSY'`))[0].n === 1, 5000, 'session at B');
      await new Promise((r) => setTimeout(r, 200)); // transaction.started reaches the token table
      await refused(a, 1, `${p}-BUSY`, 'CONCURRENT_TRANSACTION');
      // a connector reserved for another token (the core records accepted reservations,
      // whatever the station's OCPP version)
      {
        const r = await gw.api('POST', `/api/v1/stations/${a.id}/reservations`, { connector: 2, id_token: `${p}-EXP`, expiry: new Date(Date.now() + 3600e3).toISOString() });
        assert.ok(r.status === 200 || r.status === 201, r.text);
        await refused(a, 2, `${p}-OK`, 'CONNECTOR_RESERVED');
      }
      // and an allowed one goes through to the station
      const before = a.received('remote_start').length;
      const ok = await startAt(a, 1, `${p}-OK`);
      assert.ok([201, 202].includes(ok.status), ok.text);
      assert.equal(a.received('remote_start').length, before + 1);
    } finally {
      for (const st of stations) await st.close().catch(() => {});
      assert.equal(await gw.stop(), 0);
    }
  });
}
