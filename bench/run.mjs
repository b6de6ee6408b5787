// bench/run.mjs — the benchmark: pipelet's gateway (ocpp16 plugin, real PostgreSQL) and a
// baseline CSMS built on ocpp-rpc (bench/baseline-ocpp-rpc.mjs) under the same load from
// the same simulator, in the same run.  Prints the figures and the ratios; writes JSON.
// Run it through bench/run (which builds without sanitizers and starts PostgreSQL).
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDatabase } from '../tests/integration/lib/harness.mjs';

const top = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = process.env.PIPELET_BUILD_DIR || join(top, 'build-bench');
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const sizes = (args.sizes || '1000,10000').split(',').map(Number);
const duration = Number(args.duration || 15);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Pin the system under test and the load generator to different cores, so neither
// steals the other's CPU and throughput compares the CSMS, not the scheduler.
const PIN_TARGET = ['taskset', '-c', '0'];
const PIN_SIM = ['taskset', '-c', '1'];
const pinned = (pin, cmd, cmdArgs, opts) => spawn(pin[0], [...pin.slice(1), cmd, ...cmdArgs], opts);
const pageKB = 4;

function rssKB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) : 0;
}
function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime (clock ticks, 100/s)
}
async function waitLine(proc, re, ms, what) {
  let buf = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${what}: ${buf.slice(-2000)}`)), ms);
    const on = (d) => {
      buf = (buf + d).slice(-65536); // bounded: 10,000 stations log a lot
      const m = buf.match(re);
      if (m) {
        clearTimeout(t);
        proc.stdout?.off('data', on);
        proc.stderr?.off('data', on);
        proc.stdout?.resume();
        proc.stderr?.resume(); // keep draining the pipes, or the child blocks on a full pipe
        resolve(m);
      }
    };
    proc.stdout?.on('data', on);
    proc.stderr?.on('data', on);
  });
}
function conf(sections) {
  return Object.entries(sections).map(([s, kv]) => `[${s}]\n` + Object.entries(kv).map(([k, v]) => `${k} = ${v}`).join('\n')).join('\n\n') + '\n';
}
async function stop(proc) {
  if (proc.exitCode !== null) return;
  const done = new Promise((r) => proc.on('exit', r));
  proc.kill('SIGTERM');
  await Promise.race([done, sleep(10000)]);
  if (proc.exitCode === null) proc.kill('SIGKILL');
}

const work = mkdtempSync(join(tmpdir(), 'pipelet-bench-'));
const children = new Set(); // every process we start dies with us, whatever happens
const track = (p) => { children.add(p); p.on('exit', () => children.delete(p)); return p; };
process.on('exit', () => { for (const p of children) p.kill('SIGKILL'); });

async function startPipelet() {
  const f = join(work, 'gw.conf');
  writeFileSync(f, conf({
    core: { log_level: 'warn' },
    http: { listen: '127.0.0.1', port: 0 },
    ocpp: { listen: '127.0.0.1', port: 0, ping_interval: 0 },
    database: { url: `"${createDatabase('bench')}"`, pool_size: 4 },
    plugins: { dir: join(build, 'plugins', 'ocpp16'), load: 'ocpp16', required: 'ocpp16' },
    ocpp16: { unknown_stations: 'accept' },
  }));
  const p = track(pinned(PIN_TARGET, join(build, 'pipelet'), ['-c', f, '-o', 'core.log_level=info'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const m = await waitLine(p, /ready: http port \d+, ocpp port (\d+)"/, 20000, 'gateway');
  return { proc: p, url: `ws://127.0.0.1:${m[1]}/ocpp`, name: 'pipelet' };
}
async function startBaseline() {
  const p = track(pinned(PIN_TARGET, process.execPath, [join(top, 'bench', 'baseline-ocpp-rpc.mjs'), '0'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const m = await waitLine(p, /ready (\d+)\n/, 20000, 'baseline');
  return { proc: p, url: `ws://127.0.0.1:${m[1]}/ocpp`, name: 'ocpp-rpc' };
}
async function startSim(url, n, extra) {
  const f = join(work, `sim-${Date.now()}.conf`);
  writeFileSync(f, conf({
    core: { log_level: 'warn' },
    http: { listen: '127.0.0.1', port: 0, rate_limit: 0 },
    ocpp: { listen: '127.0.0.1', port: 0 },
    database: { url: 'none', connect_wait: 0 },
    plugins: { dir: join(build, 'plugins', 'simulator'), load: 'simulator', required: 'simulator' },
    // the load generator does not validate its own frames: it must not be the bottleneck
    simulator: { autostart_count: n, autostart_csms_url: url, autostart_protocols: 'ocpp1.6', ramp_per_s: 2000, meter_interval_s: 3600, validate: 'no', ...extra },
  }));
  const p = track(pinned(PIN_SIM, join(build, 'pipelet'), ['-c', f, '-o', 'core.log_level=info'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let log = '';
  p.stderr.on('data', (d) => { log = (log + d).slice(-4000); }); // also keeps the pipe drained
  p.on('exit', (code, sig) => { if (code || sig) process.stderr.write(`simulator exited ${code} ${sig}: ${log}\n`); });
  const m = await waitLine(p, /ready: http port (\d+), ocpp port/, 20000, 'simulator');
  return { proc: p, http: `http://127.0.0.1:${m[1]}` };
}
// A retry covers a pooled keep-alive socket to an earlier simulator on a reused port.
async function getJSON(url, init) {
  for (let i = 0; ; i++) {
    try {
      return await (await fetch(url, init)).json();
    } catch (e) {
      if (i >= 3) throw e;
      await sleep(100);
    }
  }
}
const report = (sim) => getJSON(`${sim.http}/sim/v1/report`);
async function waitBooted(sim, n, ms) {
  const t0 = Date.now();
  for (;;) {
    const r = await report(sim);
    if (r.booted >= n) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > ms) throw new Error(`only ${r.booted}/${n} booted after ${ms} ms`);
    await sleep(200);
  }
}

async function measure(startTarget, n) {
  const out = { stations: n };
  const target = await startTarget();
  target.proc.stdout.on('data', () => {});
  target.proc.stderr.on('data', () => {});
  try {
    return await measureWith(target, n, out);
  } finally {
    await stop(target.proc);
  }
}

async function measureWith(target, n, out) {
  await sleep(1000);
  const idle = rssKB(target.proc.pid);
  // 1. hold n connections (idle heartbeats): connect time and memory per connection
  let sim = await startSim(target.url, n, { heartbeat_s: 3600 });
  out.connect_s = await waitBooted(sim, n, 180000);
  await sleep(2000);
  const held = (await report(sim)).booted;
  const rss = rssKB(target.proc.pid);
  out.connections_held = held;
  out.rss_idle_mb = +(idle / 1024).toFixed(1);
  out.rss_mb = +(rss / 1024).toFixed(1);
  out.kb_per_connection = +((rss - idle) / n).toFixed(2);
  out.simulator_rss_mb = +(rssKB(sim.proc.pid) / 1024).toFixed(1); // one process holding every station
  // 2. storm: every station drops and reconnects at once
  const fleets = await getJSON(`${sim.http}/sim/v1/fleets`);
  const t0 = Date.now();
  for (const f of fleets.items)
    await getJSON(`${sim.http}/sim/v1/fleets/${f.fleet_id}/faults`, { method: 'POST', body: JSON.stringify({ type: 'network_drop', reconnect_after_ms: 50 }) });
  await sleep(500);
  await waitBooted(sim, n, 300000);
  out.storm_recover_s = +((Date.now() - t0) / 1000).toFixed(2);
  await stop(sim.proc);
  // 3. closed-loop throughput: every station sends again as soon as it is answered.
  //    Heartbeats measure the message path; MeterValues add the durable write (pipelet
  //    answers only after PostgreSQL committed the samples; the baseline stores nothing).
  for (const action of ['Heartbeat', 'MeterValues']) {
    sim = await startSim(target.url, n, { heartbeat_s: 3600, closed_loop: 'yes', closed_loop_action: action });
    await waitBooted(sim, n, 180000);
    await sleep(1000); // the loop starts once every station has booted
    const r0 = await report(sim);
    const c0 = cpuTicks(target.proc.pid); // the measured window only, not the boot
    const t1 = Date.now();
    await sleep(duration * 1000);
    const r1 = await report(sim);
    const secs = (Date.now() - t1) / 1000;
    const count = (x) => (x.actions[action] ? x.actions[action].count : 0);
    const perS = Math.round((count(r1) - count(r0)) / secs);
    const cpu = Math.round(((cpuTicks(target.proc.pid) - c0) / 100) / ((Date.now() - t1) / 1000) * 100);
    if (action === 'Heartbeat') {
      out.heartbeat_per_s = perS;
      out.cpu_percent = cpu;
      out.heartbeats_per_cpu_s = Math.round(perS / Math.max(cpu, 1) * 100);
      out.errors = r1.errors;
    } else {
      out.meter_values_per_s = perS;
      out.meter_values_cpu_percent = cpu;
      out.errors += r1.errors;
    }
    await stop(sim.proc);
  }
  // 4. latency at a fixed realistic rate: a heartbeat every 5 s and meter values every 30 s per station
  sim = await startSim(target.url, n, { heartbeat_s: 5, heartbeat_fixed: 'yes', meter_interval_s: 30, autostart_sessions: 'yes' });
  await waitBooted(sim, n, 180000);
  // the steady state: the boot and first status notifications of the ramp settle first,
  // then a fresh measurement window opens (the ramp is measured above as connect_s)
  await sleep(3000);
  await getJSON(`${sim.http}/sim/v1/report/reset`, { method: 'POST' });
  await sleep(duration * 1000);
  const r2 = await report(sim);
  const h = r2.actions.Heartbeat || {}, mv = r2.actions.MeterValues || {};
  out.fixed_rate_msgs_per_s = Math.round(r2.messages_per_second);
  out.latency_ms = { p50: h.p50_ms, p95: h.p95_ms, p99: h.p99_ms, max: h.max_ms };
  out.meter_values_latency_ms = { p50: mv.p50_ms, p95: mv.p95_ms, p99: mv.p99_ms, max: mv.max_ms };
  out.unanswered = r2.errors;
  await stop(sim.proc);
  return out;
}

const results = { date: new Date().toISOString(), duration_s: duration, runs: [] };
for (const n of sizes) {
  for (const [name, start] of [['pipelet', startPipelet], ['ocpp-rpc', startBaseline]]) {
    process.stderr.write(`bench: ${name} with ${n} stations...\n`);
    try {
      const r = await measure(start, n);
      results.runs.push({ target: name, ...r });
      process.stderr.write(`  ${JSON.stringify(r)}\n`);
    } catch (e) {
      results.runs.push({ target: name, stations: n, error: e.message + (e.cause ? ` (${e.cause.message})` : "") });
      process.stderr.write(`${e.stack}\n`);
      process.stderr.write(`  failed: ${e.message}\n`);
    }
  }
}
const get = (t, n) => results.runs.find((r) => r.target === t && r.stations === n) || {};
console.log('\nstations  target     held   connect s  storm s   RSS MB  KB/conn  HB/s closed-loop  CPU%   MV/s closed-loop  p50/p95/p99 ms @fixed rate');
for (const r of results.runs) {
  if (r.error) { console.log(`${String(r.stations).padEnd(9)} ${r.target.padEnd(9)} error: ${r.error}`); continue; }
  console.log(`${String(r.stations).padEnd(9)} ${r.target.padEnd(9)} ${String(r.connections_held).padStart(6)} ${String(r.connect_s.toFixed(1)).padStart(10)} ${String(r.storm_recover_s).padStart(8)} ${String(r.rss_mb).padStart(8)} ${String(r.kb_per_connection).padStart(8)} ${String(r.heartbeat_per_s).padStart(17)} ${String(r.cpu_percent).padStart(5)} ${String(r.meter_values_per_s).padStart(16)}  ${r.latency_ms.p50}/${r.latency_ms.p95}/${r.latency_ms.p99}`);
}
console.log('\nratios (pipelet vs ocpp-rpc):');
results.ratios = {};
for (const n of sizes) {
  const a = get('pipelet', n), b = get('ocpp-rpc', n);
  if (!a.heartbeat_per_s || !b.heartbeat_per_s) continue;
  const ratio = {
    heartbeat_throughput: +(a.heartbeat_per_s / b.heartbeat_per_s).toFixed(2),
    heartbeats_per_cpu_second: +(a.heartbeats_per_cpu_s / b.heartbeats_per_cpu_s).toFixed(2),
    meter_values_throughput: +(a.meter_values_per_s / b.meter_values_per_s).toFixed(2),
    memory_per_connection: +(a.kb_per_connection / b.kb_per_connection).toFixed(2),
    p99_latency: b.latency_ms.p99 ? +(a.latency_ms.p99 / b.latency_ms.p99).toFixed(2) : null,
    storm_recovery_time: +(a.storm_recover_s / b.storm_recover_s).toFixed(2),
  };
  results.ratios[n] = ratio;
  console.log(`  ${n} stations: heartbeat throughput x${ratio.heartbeat_throughput} (per CPU second x${ratio.heartbeats_per_cpu_second}), meter values throughput x${ratio.meter_values_throughput} (durable vs in-memory), memory per connection x${ratio.memory_per_connection}, p99 latency x${ratio.p99_latency}, storm recovery time x${ratio.storm_recovery_time}`);
}
mkdirSync(join(top, 'bench', 'results'), { recursive: true });
const outFile = join(top, 'bench', 'results', 'latest.json');
writeFileSync(outFile, JSON.stringify(results, null, 2));
console.log(`\nJSON: ${outFile}`);
process.exit(0);
