// every-action.test.mjs — every action of OCPP 1.6 (39, with the security whitepaper) and
// 2.0.1 (64) round-trips between the gateway and an independent station in strict mode:
// station->CSMS calls are answered (and the answers pass the official schemas), and
// CSMS->station calls go out through POST /ocpp/v1/stations/{id}/calls/{Action}.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RPCClient } from 'ocpp-rpc';
import { startGateway } from './lib/harness.mjs';
import { minimal } from './lib/minimal.mjs';

const V16_FROM = ['Authorize', 'BootNotification', 'DataTransfer', 'DiagnosticsStatusNotification', 'FirmwareStatusNotification',
  'Heartbeat', 'MeterValues', 'StartTransaction', 'StatusNotification', 'StopTransaction', 'LogStatusNotification',
  'SecurityEventNotification', 'SignCertificate', 'SignedFirmwareStatusNotification'];
const V16_TO = ['CancelReservation', 'ChangeAvailability', 'ChangeConfiguration', 'ClearCache', 'ClearChargingProfile',
  'DataTransfer', 'GetCompositeSchedule', 'GetConfiguration', 'GetDiagnostics', 'GetLocalListVersion',
  'RemoteStartTransaction', 'RemoteStopTransaction', 'ReserveNow', 'Reset', 'SendLocalList', 'SetChargingProfile',
  'TriggerMessage', 'UnlockConnector', 'UpdateFirmware', 'CertificateSigned', 'DeleteCertificate',
  'ExtendedTriggerMessage', 'GetInstalledCertificateIds', 'GetLog', 'InstallCertificate', 'SignedUpdateFirmware'];
const V201_FROM = ['Authorize', 'BootNotification', 'ClearedChargingLimit', 'DataTransfer', 'FirmwareStatusNotification',
  'Get15118EVCertificate', 'GetCertificateStatus', 'Heartbeat', 'LogStatusNotification', 'MeterValues',
  'NotifyChargingLimit', 'NotifyCustomerInformation', 'NotifyDisplayMessages', 'NotifyEVChargingNeeds',
  'NotifyEVChargingSchedule', 'NotifyEvent', 'NotifyMonitoringReport', 'NotifyReport',
  'PublishFirmwareStatusNotification', 'ReportChargingProfiles', 'ReservationStatusUpdate',
  'SecurityEventNotification', 'SignCertificate', 'StatusNotification', 'TransactionEvent'];
const V201_TO = ['CancelReservation', 'CertificateSigned', 'ChangeAvailability', 'ClearCache', 'ClearChargingProfile',
  'ClearDisplayMessage', 'ClearVariableMonitoring', 'CostUpdated', 'CustomerInformation', 'DataTransfer',
  'DeleteCertificate', 'GetBaseReport', 'GetChargingProfiles', 'GetCompositeSchedule', 'GetDisplayMessages',
  'GetInstalledCertificateIds', 'GetLocalListVersion', 'GetLog', 'GetMonitoringReport', 'GetReport',
  'GetTransactionStatus', 'GetVariables', 'InstallCertificate', 'PublishFirmware', 'RequestStartTransaction',
  'RequestStopTransaction', 'ReserveNow', 'Reset', 'SendLocalList', 'SetChargingProfile', 'SetDisplayMessage',
  'SetMonitoringBase', 'SetMonitoringLevel', 'SetNetworkProfile', 'SetVariableMonitoring', 'SetVariables',
  'TriggerMessage', 'UnlockConnector', 'UnpublishFirmware', 'UpdateFirmware'];

for (const [protocol, from, to] of [['ocpp1.6', V16_FROM, V16_TO], ['ocpp2.0.1', V201_FROM, V201_TO]]) {
  test(`every ${protocol} action, both directions, strict mode`, async () => {
    assert.equal(from.length + to.length - (protocol === 'ocpp1.6' ? 1 : 1), protocol === 'ocpp1.6' ? 39 : 64);
    const gw = await startGateway({ plugins: ['ocpp16', 'ocpp201', 'headless'], config: { ocpp16: { data_transfer_vendors: 'x' } } });
    const id = `ALL-${protocol.replace(/\./g, '')}`;
    const station = new RPCClient({ endpoint: gw.ws, identity: id, protocols: [protocol], strictMode: true, reconnect: false });
    const received = [];
    for (const a of to) station.handle(a, ({ params }) => { received.push(a); return minimal(protocol, a, 'conf'); });
    try {
      await station.connect();
      // boot first: afterwards every action in turn
      await station.call('BootNotification', minimal(protocol, 'BootNotification', 'req'));
      const failures = [];
      for (const a of from) {
        try {
          await station.call(a, minimal(protocol, a, 'req')); // strict: our answer is validated too
        } catch (e) {
          // a CALLERROR is a valid answer only where the semantics refuse the minimal payload
          failures.push(`${a}: ${e.rpcErrorCode || e.message}`);
        }
      }
      assert.deepEqual(failures, [], 'every station->CSMS action answered with a schema-valid result');
      for (const a of to) {
        const r = await gw.api('POST', `/ocpp/v1/stations/${id}/calls/${a}`, minimal(protocol, a, 'req'));
        assert.equal(r.status, 200, `${a}: ${r.text}`);
        assert.ok(r.body.response !== undefined || r.body.result !== undefined, `${a}: ${r.text}`);
      }
      assert.deepEqual([...new Set(received)].sort(), [...to].sort(), 'the station received every CSMS->station action');
    } finally {
      await station.close({ force: true }).catch(() => {});
      assert.equal(await gw.stop(), 0);
    }
  });
}
