// stations.mjs — a small protocol-neutral driver for test charge points (ocpp-rpc clients in
// strict mode), so a suite written against neutral operations runs against an OCPP 1.6 or
// an OCPP 2.0.1 station.  The station answers the gateway's CALLs with valid defaults; a test
// scripts a different answer per neutral op with st.answer(op, 'accept'|'reject'|'error'|
// 'hang'|fn) and reads what the station received with st.received(op).
import { RPCClient, createRPCError } from 'ocpp-rpc';

/** Protocols the suites run against: HEADLESS_PROTOCOLS="ocpp1.6,ocpp2.0.1". */
export const protocols = (process.env.HEADLESS_PROTOCOLS || 'ocpp1.6,ocpp2.0.1').split(',').map((s) => s.trim()).filter(Boolean);

/** The plugin that serves a protocol. */
export const pluginFor = (protocol) => (protocol === 'ocpp1.6' ? 'ocpp16' : 'ocpp201');

const now = () => new Date().toISOString();

/** Neutral op -> OCPP action, per protocol. */
export const ACTIONS = {
  'ocpp1.6': {
    reset: 'Reset', unlock: 'UnlockConnector', availability: 'ChangeAvailability',
    remote_start: 'RemoteStartTransaction', remote_stop: 'RemoteStopTransaction',
    get_configuration: 'GetConfiguration', set_configuration: 'ChangeConfiguration',
    trigger: 'TriggerMessage', firmware: 'UpdateFirmware', diagnostics: 'GetDiagnostics',
    local_list: 'SendLocalList', local_list_version: 'GetLocalListVersion', clear_cache: 'ClearCache',
    reserve: 'ReserveNow', cancel_reservation: 'CancelReservation', set_profile: 'SetChargingProfile',
    clear_profile: 'ClearChargingProfile', composite: 'GetCompositeSchedule', data_transfer: 'DataTransfer',
  },
  'ocpp2.0.1': {
    reset: 'Reset', unlock: 'UnlockConnector', availability: 'ChangeAvailability',
    remote_start: 'RequestStartTransaction', remote_stop: 'RequestStopTransaction',
    get_configuration: 'GetVariables', set_configuration: 'SetVariables',
    trigger: 'TriggerMessage', firmware: 'UpdateFirmware', diagnostics: 'GetLog',
    local_list: 'SendLocalList', local_list_version: 'GetLocalListVersion', clear_cache: 'ClearCache',
    reserve: 'ReserveNow', cancel_reservation: 'CancelReservation', set_profile: 'SetChargingProfile',
    clear_profile: 'ClearChargingProfile', composite: 'GetCompositeSchedule', data_transfer: 'DataTransfer',
  },
};

/** Configuration the 1.6 test station holds (2.0.1: Component/Variable names). */
const CONFIG_16 = [
  { key: 'HeartbeatInterval', readonly: false, value: '300' },
  { key: 'MeterValueSampleInterval', readonly: false, value: '60' },
  { key: 'NumberOfConnectors', readonly: true, value: '2' },
  { key: 'ChargePointVendorSecret', readonly: false, value: 'x' },
];

/** Valid answers per protocol: accept / reject payloads for each action. */
const ANSWERS = {
  'ocpp1.6': {
    Reset: [{ status: 'Accepted' }, { status: 'Rejected' }],
    UnlockConnector: [{ status: 'Unlocked' }, { status: 'UnlockFailed' }],
    ChangeAvailability: [{ status: 'Accepted' }, { status: 'Rejected' }],
    RemoteStartTransaction: [{ status: 'Accepted' }, { status: 'Rejected' }],
    RemoteStopTransaction: [{ status: 'Accepted' }, { status: 'Rejected' }],
    GetConfiguration: [(p, st) => ({
      configurationKey: st.config.filter((k) => !p.key || p.key.includes(k.key)),
      unknownKey: (p.key || []).filter((k) => !st.config.some((c) => c.key === k)),
    }), null],
    ChangeConfiguration: [(p, st) => {
      const k = st.config.find((c) => c.key === p.key);
      if (!k) return { status: 'NotSupported' };
      if (k.readonly) return { status: 'Rejected' };
      k.value = p.value;
      return { status: 'Accepted' };
    }, { status: 'Rejected' }],
    TriggerMessage: [{ status: 'Accepted' }, { status: 'Rejected' }],
    UpdateFirmware: [{}, null],
    GetDiagnostics: [{ fileName: 'diagnostics.tar.gz' }, {}],
    SendLocalList: [{ status: 'Accepted' }, { status: 'VersionMismatch' }],
    GetLocalListVersion: [{ listVersion: 1 }, null],
    ClearCache: [{ status: 'Accepted' }, { status: 'Rejected' }],
    ReserveNow: [{ status: 'Accepted' }, { status: 'Occupied' }],
    CancelReservation: [{ status: 'Accepted' }, { status: 'Rejected' }],
    SetChargingProfile: [{ status: 'Accepted' }, { status: 'Rejected' }],
    ClearChargingProfile: [{ status: 'Accepted' }, { status: 'Unknown' }],
    GetCompositeSchedule: [(p) => ({
      status: 'Accepted', connectorId: p.connectorId, scheduleStart: now(),
      chargingSchedule: { duration: p.duration, chargingRateUnit: p.chargingRateUnit || 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 11000 }] },
    }), { status: 'Rejected' }],
    DataTransfer: [(p) => ({ status: 'Accepted', data: `echo:${p.data ?? ''}` }), { status: 'UnknownVendorId' }],
  },
  'ocpp2.0.1': {
    Reset: [{ status: 'Accepted' }, { status: 'Rejected' }],
    UnlockConnector: [{ status: 'Unlocked' }, { status: 'UnlockFailed' }],
    ChangeAvailability: [{ status: 'Accepted' }, { status: 'Rejected' }],
    RequestStartTransaction: [{ status: 'Accepted' }, { status: 'Rejected' }],
    RequestStopTransaction: [{ status: 'Accepted' }, { status: 'Rejected' }],
    // without keys the 2.0.1 driver asks for a base report (NotifyReport follows)
    GetBaseReport: [{ status: 'Accepted' }, { status: 'Rejected' }],
    GetVariables: [(p) => ({
      getVariableResult: p.getVariableData.map((d) => ({ attributeStatus: 'Accepted', component: d.component, variable: d.variable, attributeValue: '300' })),
    }), null],
    SetVariables: [(p) => ({
      setVariableResult: p.setVariableData.map((d) => ({ attributeStatus: 'Accepted', component: d.component, variable: d.variable })),
    }), (p) => ({
      setVariableResult: p.setVariableData.map((d) => ({ attributeStatus: 'Rejected', component: d.component, variable: d.variable })),
    })],
    TriggerMessage: [{ status: 'Accepted' }, { status: 'Rejected' }],
    UpdateFirmware: [{ status: 'Accepted' }, { status: 'Rejected' }],
    GetLog: [{ status: 'Accepted', filename: 'diagnostics.tar.gz' }, { status: 'Rejected' }],
    SendLocalList: [{ status: 'Accepted' }, { status: 'VersionMismatch' }],
    GetLocalListVersion: [{ versionNumber: 1 }, null],
    ClearCache: [{ status: 'Accepted' }, { status: 'Rejected' }],
    ReserveNow: [{ status: 'Accepted' }, { status: 'Occupied' }],
    CancelReservation: [{ status: 'Accepted' }, { status: 'Rejected' }],
    SetChargingProfile: [{ status: 'Accepted' }, { status: 'Rejected' }],
    ClearChargingProfile: [{ status: 'Accepted' }, { status: 'Unknown' }],
    GetCompositeSchedule: [(p) => ({
      status: 'Accepted',
      schedule: { evseId: p.evseId, duration: p.duration, scheduleStart: now(), chargingRateUnit: p.chargingRateUnit || 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 11000 }] },
    }), { status: 'Rejected' }],
    DataTransfer: [(p) => ({ status: 'Accepted', data: `echo:${p.data ?? ''}` }), { status: 'UnknownVendorId' }],
  },
};

/** The neutral op of an action (reverse of ACTIONS). */
function opOf(protocol, action) {
  for (const [op, a] of Object.entries(ACTIONS[protocol])) if (a === action) return op;
  return action;
}

/**
 * Connect a station and (by default) boot it and report its connectors Available.
 * opts: { id, protocol, connectors (2), boot (true), status ('Available') }
 */
export async function connectStation(gw, opts = {}) {
  const protocol = opts.protocol || 'ocpp1.6';
  const id = opts.id || `CP-${Math.random().toString(36).slice(2, 10)}`;
  const client = new RPCClient({ endpoint: gw.ws, identity: id, protocols: [protocol], strictMode: true, reconnect: false });
  const st = {
    id, protocol, client, connectors: opts.connectors ?? 2,
    config: CONFIG_16.map((k) => ({ ...k })),
    log: [], // [{action, op, params}]
    answers: {}, // op -> 'accept' | 'reject' | 'error' | 'hang' | fn(params)
    hanging: [],
    txSeq: 0,
  };
  const respond = async ({ method, params, signal }) => {
    const op = opOf(protocol, method);
    st.log.push({ action: method, op, params });
    const how = st.answers[op] ?? 'accept';
    if (typeof how === 'function') return how(params, st);
    if (how === 'error') throw createRPCError('InternalError', 'test station failure');
    if (how === 'hang') {
      return new Promise((resolve) => { st.hanging.push(resolve); signal?.addEventListener('abort', () => resolve({})); });
    }
    const pair = ANSWERS[protocol][method];
    if (!pair) throw createRPCError('NotImplemented', `${method} not scripted`);
    const a = how === 'reject' ? pair[1] : pair[0];
    if (a === null || a === undefined) throw createRPCError('NotSupported', `${method} has no ${how} answer`);
    return typeof a === 'function' ? a(params, st) : a;
  };
  client.handle(respond);
  await client.connect();

  st.answer = (op, how) => { st.answers[op] = how; };
  st.received = (op) => st.log.filter((e) => e.op === op).map((e) => e.params);
  st.last = (op) => st.received(op).at(-1);
  st.waitReceived = (op, n = 1) => gw.waitFor(() => st.received(op).length >= n, 10000, `${id} to receive ${op}`);
  st.close = async () => { st.hanging.forEach((r) => r({})); await client.close({ force: true }); };

  if (protocol === 'ocpp1.6') {
    st.boot = () => client.call('BootNotification', { chargePointVendor: opts.vendor || 'TestVendor', chargePointModel: 'TM-1', firmwareVersion: '1.0.0' });
    st.status = (connector, status, errorCode = 'NoError') => client.call('StatusNotification', {
      connectorId: connector, errorCode: status === 'Faulted' && errorCode === 'NoError' ? 'OtherError' : errorCode, status, timestamp: now(),
    });
    st.heartbeat = () => client.call('Heartbeat', {});
    st.startTx = async (connector, idTag, meterStart = 1000) => {
      const r = await client.call('StartTransaction', { connectorId: connector, idTag, meterStart, timestamp: now() });
      return String(r.transactionId);
    };
    st.meter = (connector, txId, wh) => client.call('MeterValues', {
      connectorId: connector, transactionId: Number(txId),
      meterValue: [{ timestamp: now(), sampledValue: [{ value: String(wh), measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Sample.Periodic' }] }],
    });
    st.stopTx = (txId, meterStop, reason = 'Remote') => client.call('StopTransaction', { transactionId: Number(txId), meterStop, timestamp: now(), reason });
  } else {
    st.boot = () => client.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: opts.vendor || 'TestVendor', model: 'TM-1', firmwareVersion: '1.0.0' } });
    const s201 = (s) => ({ Charging: 'Occupied', SuspendedEV: 'Occupied', SuspendedEVSE: 'Occupied', Finishing: 'Occupied', Preparing: 'Occupied' }[s] || s);
    st.status = (connector, status) => client.call('StatusNotification', { timestamp: now(), connectorStatus: s201(status), evseId: connector, connectorId: 1 });
    st.heartbeat = () => client.call('Heartbeat', {});
    st.txSeq = 0;
    st.startTx = async (connector, idTag, meterStart = 1000) => {
      const txId = `tx-${Math.random().toString(36).slice(2, 12)}`;
      await client.call('TransactionEvent', {
        eventType: 'Started', timestamp: now(), triggerReason: 'Authorized', seqNo: st.txSeq++,
        transactionInfo: { transactionId: txId, chargingState: 'Charging' }, idToken: { idToken: idTag, type: 'ISO14443' },
        evse: { id: connector, connectorId: 1 },
        meterValue: [{ timestamp: now(), sampledValue: [{ value: meterStart, measurand: 'Energy.Active.Import.Register', context: 'Transaction.Begin' }] }],
      });
      return txId;
    };
    st.meter = (connector, txId, wh) => client.call('TransactionEvent', {
      eventType: 'Updated', timestamp: now(), triggerReason: 'MeterValuePeriodic', seqNo: st.txSeq++,
      transactionInfo: { transactionId: txId }, evse: { id: connector, connectorId: 1 },
      meterValue: [{ timestamp: now(), sampledValue: [{ value: wh, measurand: 'Energy.Active.Import.Register', context: 'Sample.Periodic' }] }],
    });
    st.stopTx = (txId, meterStop, reason = 'Remote') => client.call('TransactionEvent', {
      eventType: 'Ended', timestamp: now(), triggerReason: 'RemoteStop', seqNo: st.txSeq++,
      transactionInfo: { transactionId: txId, stoppedReason: reason },
      meterValue: [{ timestamp: now(), sampledValue: [{ value: meterStop, measurand: 'Energy.Active.Import.Register', context: 'Transaction.End' }] }],
    });
  }

  /** The transaction id (from the remote-start request) a 2.0.1 station would echo; for 1.6 the idTag. */
  st.remoteStartToken = (params) => (protocol === 'ocpp1.6' ? params.idTag : params.idToken.idToken);
  st.remoteStartConnector = (params) => (protocol === 'ocpp1.6' ? params.connectorId : params.evseId);
  st.remoteStopTx = (params) => String(params.transactionId);

  if (opts.boot !== false) {
    await st.boot();
    for (let c = 1; c <= st.connectors; c++) await st.status(c, opts.status || 'Available');
  }
  return st;
}
