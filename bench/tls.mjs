// bench/tls.mjs — what TLS costs the OCPP listener, beside the plain one, at fleet size:
// gateway memory per idle station (VmRSS growth over the idle daemon, divided by the
// stations held) and a reconnect storm (every station drops at once and reconnects:
// seconds until all have booted again).  Three listeners, the same fleet of N stations
// (pipelet's simulator in its own process, OCPP 1.6):
//   plain  ws://                                    (profile 0/1 transport)
//   tls    wss://, server certificate               (profile 2 transport, no password:
//                                                    PBKDF2 would be measured, not TLS)
//   mtls   wss:// with a client certificate each    (profile 3: verified, CN = id)
// Targets (issue #18): at most 30 KB per idle TLS station at 10,000, and a 10,000-station
// TLS reconnect storm in under 10 s on this 2-core machine.
//   PIPELET_TEST_PGURL=... PIPELET_BUILD_DIR=build node bench/tls.mjs [--stations=10000] [--modes=plain,tls,mtls]
// The gateway runs pinned to core 0, the simulator to core 1.  Prints one JSON object.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makePki } from '../tests/integration/lib/pki.mjs';
import { createDatabase } from '../tests/integration/lib/harness.mjs';
import { startDaemon, stopDaemon, sleep } from './daemon.mjs';

const arg = (n, d) => process.argv.find((a) => a.startsWith(`--${n}=`))?.split('=')[1] ?? d;
const stations = Number(arg('stations', 10000));
const modes = arg('modes', 'plain,tls,mtls').split(',');
const build = resolve(process.env.PIPELET_BUILD_DIR || 'build');
const work = mkdtempSync(join(tmpdir(), 'pipelet-bench-tls-'));
const pki = makePki(work);

const rssKB = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)[1]);

const start = (name, core, sections, ready) => startDaemon({ build, work, name, core, sections, ready });
const stop = stopDaemon;

async function measure(mode) {
  const gw = await start(`gw-${mode}`, 0, {
    core: { log_level: 'info' },
    http: { listen: '127.0.0.1', port: 0, rate_limit: 0 },
    ocpp: {
      listen: '127.0.0.1', port: 0, ping_interval: 0, tls_port: 0,
      tls_certificate: pki.path('server.pem'), tls_private_key: pki.path('server.key'),
      ...(mode === 'mtls' ? { tls_client_ca: pki.path('station-ca.pem') } : {}),
    },
    database: { url: `"${createDatabase('benchtls')}"`, pool_size: 4 },
    plugins: { dir: join(build, 'plugins', 'ocpp16'), load: 'ocpp16', required: 'ocpp16' },
    ocpp16: { unknown_stations: 'accept', heartbeat_interval: 3600 },
  }, /listening on wss:\/\/[^:]+:(\d+)[\s\S]*ready: http port (\d+), ocpp port (\d+)"/);
  const [, tlsPort, httpPort, plainPort] = gw.m;
  const health = async () => (await (await fetch(`http://127.0.0.1:${httpPort}/health`)).json()).websocket;
  const url = mode === 'plain' ? `ws://127.0.0.1:${plainPort}/ocpp` : `wss://127.0.0.1:${tlsPort}/ocpp`;
  await sleep(1000);
  const idle = rssKB(gw.proc.pid);
  const sim = await start(`sim-${mode}`, 1, {
    core: { log_level: 'info' },
    http: { listen: '127.0.0.1', port: 0, rate_limit: 0 },
    ocpp: { listen: '127.0.0.1', port: 0 },
    database: { url: 'none', connect_wait: 0 },
    plugins: { dir: join(build, 'plugins', 'simulator'), load: 'simulator', required: 'simulator' },
    simulator: {
      api_key_required: 'no', ramp_per_s: 2000, validate: 'no', heartbeat_s: 3600, meter_interval_s: 3600,
      allowed_csms_urls: url, allowed_ca_files: `${pki.path('server-ca.pem')} ${pki.path('station-ca.pem')} ${pki.path('station-ca.key')}`,
      source_spread: stations > 20000 ? 4 : 0,
    },
  }, /ready: http port (\d+), ocpp port/);
  const api = `http://127.0.0.1:${sim.m[1]}`;
  const json = async (path, init) => (await fetch(api + path, init)).json();
  const template = {
    protocol: 'ocpp1.6', csms_url: url, heartbeat_s: 3600, meter_interval_s: 3600,
    ...(mode !== 'plain' ? { csms_ca_file: pki.path('server-ca.pem') } : {}),
    ...(mode === 'mtls' ? { security_profile: 3, client_ca_cert: pki.path('station-ca.pem'), client_ca_key: pki.path('station-ca.key') } : {}),
    ...(mode === 'tls' ? { security_profile: 2, csms_tls_url: url } : {}),
    ...(mode === 'mtls' ? { csms_tls_url: url } : {}),
  };
  const out = { mode, stations };
  try {
    const t0 = Date.now();
    const made = await json('/sim/v1/fleets', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ count: stations, id_prefix: `B${mode}-`, template }) });
    if (!made.fleet_id) throw new Error(JSON.stringify(made));
    out.fleet_created_s = +((Date.now() - t0) / 1000).toFixed(2);
    const booted = async (ms) => {
      const s = Date.now();
      for (;;) {
        const r = await json('/sim/v1/report');
        if (r.booted >= stations) return (Date.now() - s) / 1000;
        if (Date.now() - s > ms) throw new Error(`only ${r.booted}/${stations} booted`);
        await sleep(100);
      }
    };
    out.connect_s = +(await booted(300000)).toFixed(2);
    await sleep(3000);
    const rss = rssKB(gw.proc.pid);
    out.gateway_rss_idle_mb = +(idle / 1024).toFixed(1);
    out.gateway_rss_mb = +(rss / 1024).toFixed(1);
    out.kb_per_station = +((rss - idle) / stations).toFixed(2);
    const t1 = Date.now();
    await json(`/sim/v1/fleets/${made.fleet_id}/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'network_drop', reconnect_after_ms: 50 }) });
    await sleep(300);
    await booted(300000);
    out.storm_s = +((Date.now() - t1) / 1000).toFixed(2);
    await sleep(3000);
    out.kb_per_station_after_storm = +((rssKB(gw.proc.pid) - idle) / stations).toFixed(2);
    out.simulator_rss_mb = +(rssKB(sim.proc.pid) / 1024).toFixed(1);
    const h = await health();
    out.gateway_handshakes = { accepted: h.accepted_total, refused: h.refused_total, tls_failed: h.tls_handshake_failures };
    out.simulator_reconnects = (await json('/sim/v1/report')).reconnects;
  } finally {
    await stop(sim.proc);
    await stop(gw.proc);
  }
  return out;
}

const results = [];
for (const m of modes) results.push(await measure(m));
const base = results.find((r) => r.mode === 'plain');
const out = {
  machine: { cpus: (await import('node:os')).cpus().length },
  targets: { kb_per_idle_tls_station_max: 30, tls_storm_10k_s_max: 10 },
  results: results.map((r) => base && r !== base ? { ...r, memory_vs_plain: +(r.kb_per_station / base.kb_per_station).toFixed(2), storm_vs_plain: +(r.storm_s / base.storm_s).toFixed(2) } : r),
};
console.log(JSON.stringify(out, null, 2));
rmSync(work, { recursive: true, force: true });
