// Signed meter values (German calibration law, OCMF and the like): a station's signed
// readings are kept with their samples and gathered, with the stop's own, into the
// session's charge detail record. Strict-mode ocpp-rpc stations, 2.0.1
// (sampledValue.signedMeterValue) and 1.6 (a SignedData value beside its plain reading).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './lib/harness.mjs';
import { connectStation } from './lib/stations.mjs';

let gw;
before(async () => { gw = await startGateway({ plugins: ['ocpp16', 'ocpp201', 'headless'] }); });
after(async () => { if (gw) assert.equal(await gw.stop(), 0); });

const now = () => new Date().toISOString();
const signed = (data) => ({ signedMeterData: data, signingMethod: 'ECDSA-secp256r1-SHA256', encodingMethod: 'OCMF', publicKey: 'UFVCTElDLUtFWQ==' });

async function cdrOf(stationId) {
  let cdr;
  await gw.waitFor(async () => {
    const r = await gw.api('GET', `/api/v1/cdrs?station_id=${stationId}`);
    cdr = r.body?.items?.[0];
    return cdr;
  }, 5000, 'the CDR');
  return cdr;
}

test('2.0.1: signedMeterValue of Started, Updated and Ended, in order, in the CDR', async () => {
  const st = await connectStation(gw, { id: 'SMV-201', protocol: 'ocpp2.0.1' });
  await st.boot();
  const tx = 'smv-tx-1';
  const mv = (wh, context, sig) => [{ timestamp: now(), sampledValue: [{ value: wh, measurand: 'Energy.Active.Import.Register', context, ...(sig ? { signedMeterValue: signed(sig) } : {}) }] }];
  const base = { transactionInfo: { transactionId: tx }, evse: { id: 1, connectorId: 1 } };
  await st.client.call('TransactionEvent', { ...base, eventType: 'Started', timestamp: now(), triggerReason: 'Authorized', seqNo: 0, idToken: { idToken: 'SMV-CARD', type: 'ISO14443' }, meterValue: mv(1000, 'Transaction.Begin', 'OCMF|BEGIN') });
  await st.client.call('TransactionEvent', { ...base, eventType: 'Updated', timestamp: now(), triggerReason: 'MeterValuePeriodic', seqNo: 1, meterValue: mv(2000, 'Sample.Periodic', 'OCMF|MIDDLE') });
  await st.client.call('TransactionEvent', { ...base, eventType: 'Updated', timestamp: now(), triggerReason: 'MeterValuePeriodic', seqNo: 2, meterValue: mv(2500, 'Sample.Periodic') });
  await st.client.call('TransactionEvent', { ...base, eventType: 'Ended', timestamp: now(), triggerReason: 'StopAuthorized', seqNo: 3, transactionInfo: { transactionId: tx, stoppedReason: 'Local' }, meterValue: mv(3000, 'Transaction.End', 'OCMF|END') });
  const cdr = await cdrOf('SMV-201');
  assert.deepEqual(cdr.signed_meter_values.map((s) => [s.context, s.signed.signedMeterData]),
    [['Transaction.Begin', 'OCMF|BEGIN'], ['Sample.Periodic', 'OCMF|MIDDLE'], ['Transaction.End', 'OCMF|END']]);
  assert.equal(cdr.signed_meter_values[0].signed.encodingMethod, 'OCMF');
  assert.equal(cdr.signed_meter_values[0].measurand, 'Energy.Active.Import.Register');
  // the samples keep their signature too
  const rows = await gw.sql(`SELECT signed->>'signedMeterData' AS data FROM meter_values m JOIN transactions t ON t.id = m.transaction_id WHERE t.station_tx_id = '${tx}' AND signed IS NOT NULL ORDER BY m.ts`);
  assert.deepEqual(rows.map((r) => r.data), ['OCMF|BEGIN', 'OCMF|MIDDLE', 'OCMF|END']);
  await st.close();
});

test('1.6: a SignedData value signs the plain reading beside it; the stop\'s own is in the CDR', async () => {
  const st = await connectStation(gw, { id: 'SMV-16' });
  await st.boot();
  const tx = await st.startTx(1, 'SMV-CARD-16', 1000);
  const pair = (wh, context, sig) => ({ timestamp: now(), sampledValue: [
    { value: sig, format: 'SignedData', measurand: 'Energy.Active.Import.Register', context },
    { value: String(wh), format: 'Raw', measurand: 'Energy.Active.Import.Register', unit: 'Wh', context },
  ] });
  await st.client.call('MeterValues', { connectorId: 1, transactionId: Number(tx), meterValue: [pair(2000, 'Sample.Periodic', 'SIGNED-MIDDLE')] });
  // a SignedData value with no plain partner is only a station record
  await st.client.call('MeterValues', { connectorId: 1, transactionId: Number(tx), meterValue: [{ timestamp: now(), sampledValue: [{ value: 'SIGNED-ALONE', format: 'SignedData', measurand: 'Power.Active.Import' }] }] });
  await st.client.call('StopTransaction', { transactionId: Number(tx), meterStop: 3000, timestamp: now(), reason: 'Local', transactionData: [pair(3000, 'Transaction.End', 'SIGNED-END')] });
  const cdr = await cdrOf('SMV-16');
  assert.deepEqual(cdr.signed_meter_values.map((s) => [s.context, s.signed.signedMeterData, s.signed.format]),
    [['Sample.Periodic', 'SIGNED-MIDDLE', 'SignedData'], ['Transaction.End', 'SIGNED-END', 'SignedData']]);
  const records = await gw.sql(`SELECT count(*)::int AS n FROM station_records WHERE station_id = 'SMV-16' AND kind = 'signed_meter_value'`);
  assert.equal(records[0].n, 3);
  await st.close();
});

test('a session without signed values has none in its CDR', async () => {
  const st = await connectStation(gw, { id: 'SMV-PLAIN' });
  await st.boot();
  const tx = await st.startTx(1, 'SMV-PLAIN-CARD', 0);
  await st.meter(1, tx, 500);
  await st.stopTx(tx, 1000);
  const cdr = await cdrOf('SMV-PLAIN');
  assert.equal(cdr.signed_meter_values, null);
  await st.close();
});
