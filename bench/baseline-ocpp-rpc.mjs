// baseline-ocpp-rpc.mjs — the benchmark's baseline CSMS: the same OCPP 1.6 duties as
// pipelet's ocpp16 plugin under load (boot, heartbeat, status, meter values,
// transactions), built on ocpp-rpc in strict mode (schema validation on, as ours).
// State is kept in memory: the baseline pays no database cost, which favours it.
// Usage: node bench/baseline-ocpp-rpc.mjs PORT   (prints "ready PORT" when listening)
import { RPCServer } from 'ocpp-rpc';

const port = Number(process.argv[2] || 0);
const server = new RPCServer({ protocols: ['ocpp1.6'], strictMode: true, pingIntervalMs: 60000 });
const stations = new Map();
let txSeq = 1;

server.auth((accept) => accept({}));
server.on('client', (client) => {
  const st = { id: client.identity, connectors: new Map(), lastSeen: Date.now() };
  stations.set(client.identity, st);
  const now = () => new Date().toISOString();
  client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: now(), interval: 300 }));
  client.handle('Heartbeat', () => { st.lastSeen = Date.now(); return { currentTime: now() }; });
  client.handle('StatusNotification', ({ params }) => { st.connectors.set(params.connectorId, params.status); return {}; });
  client.handle('Authorize', () => ({ idTagInfo: { status: 'Accepted' } }));
  client.handle('StartTransaction', () => ({ transactionId: txSeq++, idTagInfo: { status: 'Accepted' } }));
  client.handle('StopTransaction', () => ({ idTagInfo: { status: 'Accepted' } }));
  client.handle('MeterValues', () => ({}));
  client.handle('DataTransfer', () => ({ status: 'UnknownVendorId' }));
  client.handle('FirmwareStatusNotification', () => ({}));
  client.handle('DiagnosticsStatusNotification', () => ({}));
  client.on('close', () => stations.delete(client.identity));
});

const httpServer = await server.listen(port, '127.0.0.1');
console.log(`ready ${httpServer.address().port}`);
process.on('SIGTERM', async () => { await server.close({ force: true }); process.exit(0); });
