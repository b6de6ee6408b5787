// bench/load.mjs — what the load balancer costs: 10,000 simulated OCPP 1.6 stations on 100
// sites, sessions starting and ending at a steady rate (Poisson arrivals, normally
// distributed durations), meter values every 30 s.  Two windows of the same fleet:
//   unbalanced   the sites have no limit (the gateway only records sessions)
//   balanced     every site has a limit its sessions must share (profiles go out)
// Reported per window: gateway CPU (share of one core, from /proc), sessions started,
// profiles sent per second, decisions per second, and what was counted against the limit.
//   PIPELET_TEST_PGURL=... PIPELET_BUILD_DIR=/tmp/build-opt node bench/load.mjs [--stations=10000]
//     [--sites=100] [--window=120] [--arrivals=1 (per station per hour)] [--duration=600 (s)]
// At 1 arrival per station-hour and 600 s sessions some 17 sessions charge at each 100-station
// site (Little's law): a 160 A limit gives ~9.4 A each, and every start or end moves them all.
// The gateway runs pinned to core 0, the simulator to core 1.  Prints one JSON object.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createDatabase } from '../tests/integration/lib/harness.mjs';
import { startDaemon, stopDaemon, sleep } from './daemon.mjs';

const arg = (n, d) => Number(process.argv.find((a) => a.startsWith(`--${n}=`))?.split('=')[1] ?? d);
const stations = arg('stations', 10000), nsites = arg('sites', 100), windowS = arg('window', 120);
const arrivals = arg('arrivals', 1), duration = arg('duration', 600);
const build = resolve(process.env.PIPELET_BUILD_DIR || 'build');
const work = mkdtempSync(join(tmpdir(), 'pipelet-bench-load-'));
const KEY = 'bench-load-admin-key-000000000001';
const ticks = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, clock ticks (100/s)
};

const start = (name, core, sections, ready) => startDaemon({ build, work, name, core, sections, ready, env: { PIPELET_API_KEY: KEY } });
const stop = stopDaemon;
async function pool(items, n, fn) {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => { while (i < items.length) await fn(items[i++]); }));
}

const gw = await start('gw', 0, {
  core: { log_level: 'info', auth_unknown: 'accept' },
  http: { listen: '127.0.0.1', port: 0, rate_limit: 0 },
  ocpp: { listen: '127.0.0.1', port: 0, ping_interval: 0 },
  database: { url: `"${createDatabase('benchload')}"`, pool_size: 4 },
  plugins: { dir: `${join(build, 'plugins', 'ocpp16')}:${join(build, 'plugins', 'headless')}`, load: 'ocpp16 headless', required: 'ocpp16 headless' },
  ocpp16: { unknown_stations: 'accept', heartbeat_interval: 3600 },
}, /ready: http port (\d+), ocpp port (\d+)"/);
const [, httpPort, ocppPort] = gw.m;
const base = `http://127.0.0.1:${httpPort}`;
const api = async (method, path, body) => {
  const r = await fetch(base + path, { method, headers: { 'X-API-Key': KEY, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
  const t = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${t}`);
  return t ? JSON.parse(t) : null;
};
const metric = async (name) => {
  const t = await (await fetch(`${base}/metrics`, { headers: { 'X-API-Key': KEY } })).text();
  const m = t.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : 0;
};

const url = `ws://127.0.0.1:${ocppPort}/ocpp`;
const sim = await start('sim', 1, {
  core: { log_level: 'info' },
  http: { listen: '127.0.0.1', port: 0, rate_limit: 0 },
  ocpp: { listen: '127.0.0.1', port: 0 },
  database: { url: 'none', connect_wait: 0 },
  plugins: { dir: join(build, 'plugins', 'simulator'), load: 'simulator', required: 'simulator' },
  simulator: { api_key_required: 'no', ramp_per_s: 2000, validate: 'no', heartbeat_s: 3600, allowed_csms_urls: url },
}, /ready: http port (\d+), ocpp port/);
const simApi = `http://127.0.0.1:${sim.m[1]}`;
const started = (r) => r.actions?.StartTransaction?.count ?? 0;
const simJson = async (path, init) => (await fetch(simApi + path, init)).json();

const out = { machine: { cpus: 2 }, stations, sites: nsites, window_s: windowS, arrivals_per_station_hour: arrivals, session_mean_s: duration };
try {
  const made = await simJson('/sim/v1/fleets', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      count: stations, id_prefix: 'BL-',
      template: { protocol: 'ocpp1.6', csms_url: url, connectors: 1, max_power_w: 22080, meter_interval_s: 30, heartbeat_s: 3600 },
      auto_sessions: { arrival_per_hour: arrivals, duration_s: { mean: duration, sd: duration / 5 } },
    }),
  });
  if (!made.fleet_id) throw new Error(JSON.stringify(made));
  for (const t0 = Date.now(); ;) {
    const r = await simJson('/sim/v1/report');
    if (r.booted >= stations) break;
    if (Date.now() - t0 > 300000) throw new Error(`only ${r.booted}/${stations} booted`);
    await sleep(200);
  }
  const ids = Array.from({ length: stations }, (_, i) => `BL-${String(i + 1).padStart(4, '0')}`);
  const siteIds = [];
  for (let i = 0; i < nsites; i++) siteIds.push((await api('POST', '/api/v1/sites', { name: `site ${i + 1}`, min_interval_s: 10, settle_s: 30 })).id);
  const t0 = Date.now();
  // a station's row is written a moment after it booted: retry a few times
  const assign = async ([s, id]) => {
    for (let i = 0; ; i++) {
      try { return await api('PUT', `/api/v1/sites/${s}/stations/${id}`); } catch (e) { if (i > 40) throw e; await sleep(250); }
    }
  };
  await pool(ids.map((id, i) => [siteIds[i % nsites], id]), 32, assign);
  out.assign_per_s = Math.round(ids.length / ((Date.now() - t0) / 1000));

  const measure = async (name) => {
    await sleep(30000); // warm: sessions in flight, profiles settled
    const c0 = ticks(gw.proc.pid), p0 = await metric('pipelet_load_profiles_sent_total');
    const d0 = await metric('pipelet_load_rebalances_total'), s0 = started(await simJson('/sim/v1/report'));
    const t = Date.now();
    let committedMax = 0, violations = 0;
    while (Date.now() - t < windowS * 1000) {
      await sleep(10000);
      if (name === 'balanced') {
        for (const s of siteIds.slice(0, 10)) {
          const l = await api('GET', `/api/v1/sites/${s}/load`);
          committedMax = Math.max(committedMax, l.committed_a / l.available_a);
          violations += l.violation ? 1 : 0;
        }
      }
    }
    const secs = (Date.now() - t) / 1000;
    const r = {
      gateway_cpu_core_share: +((ticks(gw.proc.pid) - c0) / 100 / secs).toFixed(3),
      sessions_started_per_s: +(((started(await simJson('/sim/v1/report'))) - s0) / secs).toFixed(1),
      profiles_sent_per_s: +(((await metric('pipelet_load_profiles_sent_total')) - p0) / secs).toFixed(1),
      decisions_per_s: +(((await metric('pipelet_load_rebalances_total')) - d0) / secs).toFixed(1),
    };
    if (name === 'balanced') Object.assign(r, { committed_over_available_max: +committedMax.toFixed(3), violations_seen: violations });
    return r;
  };
  out.unbalanced = await measure('unbalanced');
  // ~17 sessions per 100-station site: 160 A makes them share
  await pool(siteIds, 8, (s) => api('PATCH', `/api/v1/sites/${s}`, { limit: 160 }));
  out.balanced = await measure('balanced');
  out.cpu_balanced_vs_unbalanced = +(out.balanced.gateway_cpu_core_share / Math.max(out.unbalanced.gateway_cpu_core_share, 0.001)).toFixed(2);
  out.gateway_rss_mb = +(Number(readFileSync(`/proc/${gw.proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)[1]) / 1024).toFixed(1);
} finally {
  await stop(sim.proc);
  await stop(gw.proc);
  rmSync(work, { recursive: true, force: true });
}
console.log(JSON.stringify(out, null, 2));
