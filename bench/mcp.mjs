// bench/mcp.mjs — tools/call throughput and latency for a read tool (get_station) beside
// the same REST route (GET /api/v1/stations/{id}) on one daemon, one station, one key.
// Each side runs closed loops: C concurrent callers over keep-alive HTTP, for D seconds,
// raw JSON-RPC POSTs on one MCP session (no SDK overhead on the client side).
//   PIPELET_TEST_PGURL=... PIPELET_BUILD_DIR=build node bench/mcp.mjs [--duration=5] [--concurrency=8]
// Prints one JSON object: per side req/s and latency p50/p99/max in ms.
import { Agent, request } from 'node:http';
import { startGateway } from '../tests/integration/lib/harness.mjs';
import { connectStation } from '../tests/integration/lib/stations.mjs';

const arg = (n, d) => Number(process.argv.find((a) => a.startsWith(`--${n}=`))?.split('=')[1] ?? d);
const duration = arg('duration', 5), concurrency = arg('concurrency', 8);

// the per-key rate limit would measure itself, not the paths: lifted
const gw = await startGateway({ plugins: ['ocpp16', 'headless', 'mcp'],
  config: { http: { rate_limit: 1000000, rate_burst: 1000000 } } });
const st = await connectStation(gw, { protocol: 'ocpp1.6' });
const base = new URL(gw.http);
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });

function send(method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const rq = request({ host: base.hostname, port: base.port, path, method, agent, headers }, (res) => {
      let d = '';
      res.on('data', (c) => { d += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: d }));
    });
    rq.on('error', reject);
    rq.end(body);
  });
}

const key = { 'X-API-Key': gw.keys.read };
const mcpHeaders = { ...key, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
const init = await send('POST', '/mcp', mcpHeaders, JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }));
const session = { ...mcpHeaders, 'Mcp-Session-Id': init.headers['mcp-session-id'], 'MCP-Protocol-Version': '2025-11-25' };

const sides = {
  rest: async () => {
    const r = await send('GET', `/api/v1/stations/${encodeURIComponent(st.id)}`, key);
    if (r.status !== 200) throw new Error(`REST ${r.status} ${r.body}`);
  },
  mcp: async (i) => {
    const r = await send('POST', '/mcp', session, JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call',
      params: { name: 'get_station', arguments: { station_id: st.id } } }));
    const j = JSON.parse(r.body);
    if (r.status !== 200 || j.error || j.result.isError) throw new Error(`MCP ${r.status} ${r.body}`);
  },
};

async function measure(fn) {
  const lat = [];
  let n = 0;
  const end = performance.now() + duration * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const t = performance.now();
      await fn(++n);
      lat.push(performance.now() - t);
    }
  }));
  lat.sort((a, b) => a - b);
  const q = (p) => +lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(3);
  return { requests: lat.length, per_s: Math.round(lat.length / duration), p50_ms: q(0.5), p99_ms: q(0.99), max_ms: q(1) };
}

const out = { duration_s: duration, concurrency, tool: 'get_station', route: 'GET /api/v1/stations/{id}' };
for (let round = 0; round < 2; round++) /* the first round warms up; the second is reported */
  for (const [name, fn] of Object.entries(sides)) out[name] = await measure(fn);
out.mcp_over_rest = +(out.mcp.per_s / out.rest.per_s).toFixed(3);
console.log(JSON.stringify(out, null, 2));
agent.destroy();
await st.client.close({ force: true }).catch(() => {});
const code = await gw.stop();
process.exit(code);
