// bench/run.mjs — the benchmark: pipelet's gateway (ocpp16 plugin, real PostgreSQL, once
// with fast and once with production-durable settings), a bare libevent WebSocket
// responder (bench/bare_responder.c, the physical floor of this machine) and a baseline
// CSMS built on ocpp-rpc (bench/baseline-ocpp-rpc.mjs), under the same load from the
// same simulator, in the same run.  Every figure is measured --repeat times (rounds
// interleave the targets, so a noisy neighbour hits all of them alike) and reported as
// the median with its spread (min..max).  Prints the tables; writes bench/results/latest.json.
// Run it through bench/run (which builds without sanitizers and starts PostgreSQL twice).
// Options: --sizes=1000,10000 --duration=15 --repeat=3
//          --hb-duration=S --mv-duration=S --auth-duration=S --fixed-duration=S (default --duration)
//          --targets=pipelet-fast,pipelet-durable,bare,ocpp-rpc (default: all available)
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, mkdirSync, existsSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, dirname, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { psql } from '../tests/integration/lib/harness.mjs';

const top = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = process.env.PIPELET_BUILD_DIR || join(top, 'build-bench');
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const sizes = (args.sizes || '1000,10000').split(',').map(Number);
const duration = Number(args.duration || 15);
const repeat = Math.max(1, Number(args.repeat || 3));
const durations = {
  heartbeat_loop_s: Number(args['hb-duration'] || duration),
  meter_values_loop_s: Number(args['mv-duration'] || duration),
  authorize_loop_s: Number(args['auth-duration'] || duration),
  fixed_rate_s: Number(args['fixed-duration'] || duration),
};
const pgUrls = { fast: process.env.PIPELET_TEST_PGURL, durable: process.env.PIPELET_BENCH_PGURL_DURABLE };
const bareBin = process.env.PIPELET_BENCH_BARE || join(build, 'bench', 'bare_responder');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Pin the system under test and the load generator to different cores, so neither
// steals the other's CPU and throughput compares the CSMS, not the scheduler.
const PIN_TARGET = ['taskset', '-c', '0'];
const PIN_SIM = ['taskset', '-c', '1'];
const pinned = (pin, cmd, cmdArgs, opts) => spawn(pin[0], [...pin.slice(1), cmd, ...cmdArgs], opts);

function rssKB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) : 0;
}
function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime (clock ticks, 100/s)
}
// Nanoseconds the process's main thread waited on a run queue (runnable, not running):
// CPU taken by other processes on a shared machine, which cpu_percent alone cannot tell
// from idleness.
function runWaitNs(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]);
  } catch {
    return NaN;
  }
}
// Resolves with the match of re in the child's output; rejects on timeout or if the
// child exits first (a refused configuration must not cost the whole timeout).
async function waitLine(proc, re, ms, what) {
  let buf = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => fail(new Error(`timeout waiting for ${what}: ${buf.slice(-2000)}`)), ms);
    const onExit = (code, sig) => fail(new Error(`${what} exited (${code ?? sig}) before it was ready: ${buf.slice(-2000)}`));
    const done = () => {
      clearTimeout(t);
      proc.off('exit', onExit);
      proc.stdout?.off('data', on);
      proc.stderr?.off('data', on);
      proc.stdout?.resume();
      proc.stderr?.resume(); // keep draining the pipes, or the child blocks on a full pipe
    };
    const fail = (e) => { done(); reject(e); };
    const on = (d) => {
      buf = (buf + d).slice(-65536); // bounded: 10,000 stations log a lot
      const m = buf.match(re);
      if (m) { done(); resolve(m); }
    };
    proc.on('exit', onExit);
    proc.stdout?.on('data', on);
    proc.stderr?.on('data', on);
  });
}
function conf(sections) {
  return Object.entries(sections).map(([s, kv]) => `[${s}]\n` + Object.entries(kv).map(([k, v]) => `${k} = ${v}`).join('\n')).join('\n\n') + '\n';
}
async function stop(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const done = new Promise((r) => proc.on('exit', r));
  proc.kill('SIGTERM');
  await Promise.race([done, sleep(10000)]);
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
}

const work = mkdtempSync(join(tmpdir(), 'pipelet-bench-'));
const children = new Set(); // every process we start dies with us, whatever happens
const track = (p) => { children.add(p); p.on('exit', () => children.delete(p)); return p; };
process.on('exit', () => {
  for (const p of children) p.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true }); // the generated configurations
});

// ---------- PostgreSQL: a fresh database per run, and the settings as the server reports them

let dbCounter = 0;
function createDb(baseUrl) {
  const m = baseUrl.match(/^(postgres(?:ql)?:\/\/[^/]*)(\/[^?]*)?(\?.*)?$/);
  const name = `bench_${process.pid}_${dbCounter++}`;
  psql(baseUrl, `CREATE DATABASE ${name}`);
  return `${m[1]}/${name}${m[3] || ''}`;
}
// What the server itself says, not what we asked for: the report names these.
function pgSettings(url) {
  const names = ['fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'shared_buffers', 'server_version', 'data_directory'];
  const rows = psql(url, `SELECT name || '=' || setting FROM pg_settings WHERE name IN (${names.map((n) => `'${n}'`).join(',')})`);
  const s = Object.fromEntries(rows.trim().split('\n').map((l) => l.split('=')));
  try { // fsync on tmpfs is free: a "durable" figure from there would be a lie
    s.filesystem = execFileSync('findmnt', ['-n', '-o', 'FSTYPE', '-T', s.data_directory], { encoding: 'utf8' }).trim();
  } catch { s.filesystem = 'unknown'; }
  delete s.data_directory;
  return s;
}
const pgLabel = (s) => `fsync=${s.fsync} synchronous_commit=${s.synchronous_commit} full_page_writes=${s.full_page_writes}`;

// ---------- the systems under test

async function startPipelet(pgUrl) {
  const f = join(work, 'gw.conf');
  writeFileSync(f, conf({
    // auth_unknown: the fixed rate's sessions are the simulator's, with its own card;
    // refused (the default), every one was a start and an immediate stop, never a session
    // with meter values, and not the load ocpp-rpc (which accepts every card) was given
    core: { log_level: 'warn', auth_unknown: 'accept' },
    http: { listen: '127.0.0.1', port: 0 },
    ocpp: { listen: '127.0.0.1', port: 0, ping_interval: 0 },
    database: { url: `"${createDb(pgUrl)}"`, pool_size: 4 },
    plugins: { dir: join(build, 'plugins', 'ocpp16'), load: 'ocpp16', required: 'ocpp16' },
    ocpp16: { unknown_stations: 'accept' },
  }));
  const p = track(pinned(PIN_TARGET, join(build, 'pipelet'), ['-c', f, '-o', 'core.log_level=info'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const m = await waitLine(p, /ready: http port \d+, ocpp port (\d+)"/, 20000, 'gateway');
  return { proc: p, url: `ws://127.0.0.1:${m[1]}/ocpp` };
}
async function startReadyPrinter(cmd, cmdArgs, what) {
  const p = track(pinned(PIN_TARGET, cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const m = await waitLine(p, /ready (\d+)\n/, 20000, what);
  return { proc: p, url: `ws://127.0.0.1:${m[1]}/ocpp` };
}
const startBare = () => startReadyPrinter(bareBin, ['0'], 'bare responder');
const startBaseline = () => startReadyPrinter(process.execPath, [join(top, 'bench', 'baseline-ocpp-rpc.mjs'), '0'], 'baseline');

// ---------- the simulator

function simConf(url, n, extra) {
  return conf({
    core: { log_level: 'warn' },
    http: { listen: '127.0.0.1', port: 0, rate_limit: 0 },
    ocpp: { listen: '127.0.0.1', port: 0 },
    database: { url: 'none', connect_wait: 0 },
    plugins: { dir: join(build, 'plugins', 'simulator'), load: 'simulator', required: 'simulator' },
    // the load generator does not validate its own frames: it must not be the bottleneck
    // an isolated 127.0.0.1 load generator: its /sim/v1 API is used without a key
    simulator: { api_key_required: 'no', autostart_count: n, autostart_csms_url: url, autostart_protocols: 'ocpp1.6', ramp_per_s: 2000, meter_interval_s: 3600, validate: 'no', ...extra },
  });
}
async function startSim(url, n, extra) {
  const f = join(work, `sim-${Date.now()}.conf`);
  writeFileSync(f, simConf(url, n, extra));
  const p = track(pinned(PIN_SIM, join(build, 'pipelet'), ['-c', f, '-o', 'core.log_level=info'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let log = '';
  p.stderr.on('data', (d) => { log = (log + d).slice(-4000); }); // also keeps the pipe drained
  p.on('exit', (code, sig) => { if (code || (sig && sig !== 'SIGTERM')) process.stderr.write(`simulator exited ${code} ${sig}: ${log}\n`); });
  const m = await waitLine(p, /ready: http port (\d+), ocpp port/, 20000, 'simulator');
  return { proc: p, http: `http://127.0.0.1:${m[1]}` };
}
// Whether this simulator accepts closed_loop_action = action (it refuses an unknown one
// at start): the Authorize loop is measured only where the simulator can drive it.
async function simSupportsLoop(action) {
  const f = join(work, `probe-${action}.conf`);
  writeFileSync(f, simConf('ws://127.0.0.1:1/ocpp', 0, { closed_loop: 'yes', closed_loop_action: action }));
  const p = track(spawn(join(build, 'pipelet'), ['-c', f, '-o', 'core.log_level=info'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  try {
    await waitLine(p, /ready: http port (\d+), ocpp port/, 20000, 'simulator probe');
    return true;
  } catch {
    return false;
  } finally {
    await stop(p);
  }
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

// ---------- the phases of one measurement

// 1. hold n idle connections: connect time and memory per connection;
// 2. storm: every station drops and reconnects at once.
async function holdAndStorm(target, n, out) {
  const idle = rssKB(target.proc.pid);
  const sim = await startSim(target.url, n, { heartbeat_s: 3600 });
  try {
    out.connect_s = await waitBooted(sim, n, 180000);
    await sleep(2000);
    const rss = rssKB(target.proc.pid);
    out.connections_held = (await report(sim)).booted;
    out.rss_idle_mb = +(idle / 1024).toFixed(1);
    out.rss_mb = +(rss / 1024).toFixed(1);
    out.kb_per_connection = +((rss - idle) / n).toFixed(2);
    out.simulator_rss_mb = +(rssKB(sim.proc.pid) / 1024).toFixed(1); // one process holding every station
    const fleets = await getJSON(`${sim.http}/sim/v1/fleets`);
    const t0 = Date.now();
    for (const f of fleets.items)
      await getJSON(`${sim.http}/sim/v1/fleets/${f.fleet_id}/faults`, { method: 'POST', body: JSON.stringify({ type: 'network_drop', reconnect_after_ms: 50 }) });
    await sleep(500);
    await waitBooted(sim, n, 300000);
    out.storm_recover_s = +((Date.now() - t0) / 1000).toFixed(2);
  } finally {
    await stop(sim.proc);
  }
}

// 3. closed loop: every station sends again as soon as it is answered.  Heartbeats
// measure the message path; MeterValues add the durable write (pipelet answers only
// after PostgreSQL committed the samples; the baseline stores nothing).
async function closedLoop(target, n, action, secs) {
  const sim = await startSim(target.url, n, { heartbeat_s: 3600, closed_loop: 'yes', closed_loop_action: action });
  try {
    await waitBooted(sim, n, 180000);
    await sleep(1000); // the loop starts once every station has booted
    const r0 = await report(sim);
    // the measured window only, not the boot; the simulator's CPU too: near 100 % it,
    // not the target, is the limit (on a shared machine it can be)
    const c0 = cpuTicks(target.proc.pid), s0 = cpuTicks(sim.proc.pid);
    const w0 = runWaitNs(target.proc.pid), v0 = runWaitNs(sim.proc.pid);
    const t1 = Date.now();
    await sleep(secs * 1000);
    const r1 = await report(sim);
    const wall = (Date.now() - t1) / 1000;
    const count = (x) => (x.actions[action] ? x.actions[action].count : 0);
    const perS = Math.round((count(r1) - count(r0)) / wall);
    const pctOf = (pid, t0) => Math.round(((cpuTicks(pid) - t0) / 100) / wall * 100);
    const waitPct = (pid, t0) => {
      const w = Math.round((runWaitNs(pid) - t0) / 1e9 / wall * 100);
      return Number.isFinite(w) ? w : undefined; // no schedstat: the figure is left out
    };
    return {
      perS, cpu: pctOf(target.proc.pid, c0), simCpu: pctOf(sim.proc.pid, s0),
      wait: waitPct(target.proc.pid, w0), simWait: waitPct(sim.proc.pid, v0), errors: r1.errors,
    };
  } finally {
    await stop(sim.proc);
  }
}

// 4. latency at a fixed realistic rate: a heartbeat every 5 s and meter values every 30 s
// per station, with sessions.  The boot and first status notifications of the ramp
// settle first, then a fresh window opens (the ramp is measured above as connect_s).
// Settled means the calls the fleet has outstanding are back to a steady level: a boot
// storm of n stations leaves the target 3n writes or so to commit (boot, two connector
// statuses each), and a station's next call waits behind its own outstanding one
// (OCPP-J), so a window opened on a fixed 3 s measured that backlog, a different figure
// from round to round.  How long it took is reported (fixed_rate_settle_s), not hidden.
async function waitSettled(sim, n, ms) {
  const t0 = Date.now(), limit = Math.max(20, Math.ceil(n / 50));
  for (;;) {
    const r = await report(sim);
    if (r.calls_outstanding === undefined || r.calls_outstanding <= limit) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > ms) return (Date.now() - t0) / 1000; // the window shows the rest
    await sleep(100);
  }
}
async function fixedRate(target, n, out) {
  const sim = await startSim(target.url, n, { heartbeat_s: 5, heartbeat_fixed: 'yes', meter_interval_s: 30, autostart_sessions: 'yes' });
  try {
    await waitBooted(sim, n, 180000);
    out.fixed_rate_settle_s = await waitSettled(sim, n, 60000);
    await sleep(3000);
    await getJSON(`${sim.http}/sim/v1/report/reset`, { method: 'POST' });
    await sleep(durations.fixed_rate_s * 1000);
    const r = await report(sim);
    const h = r.actions.Heartbeat || {}, mv = r.actions.MeterValues || {};
    out.fixed_rate_msgs_per_s = Math.round(r.messages_per_second);
    out.latency_ms = { p50: h.p50_ms, p95: h.p95_ms, p99: h.p99_ms, max: h.max_ms };
    out.meter_values_latency_ms = { p50: mv.p50_ms, p95: mv.p95_ms, p99: mv.p99_ms, max: mv.max_ms };
    // every action's latency: a Heartbeat queued behind its station's StartTransaction
    // waits for that one's commit, and this says which one it was
    out.fixed_rate_actions = Object.fromEntries(Object.entries(r.actions).filter(([, a]) => a.count).map(([k, a]) =>
      [k, { count: a.count, p50: a.p50_ms, p99: a.p99_ms, max: a.max_ms }]));
    out.unanswered = r.errors;
  } finally {
    await stop(sim.proc);
  }
}

async function measure(t, n, loops) {
  const out = { stations: n };
  const target = await t.start();
  target.proc.stdout.on('data', () => {});
  target.proc.stderr.on('data', () => {});
  try {
    await sleep(1000);
    await holdAndStorm(target, n, out);
    out.errors = 0;
    for (const [action, key, secs] of loops) {
      if (action !== 'Heartbeat' && !t.full) continue; // the floor answers the Heartbeat loop only
      const r = await closedLoop(target, n, action, secs);
      out[key] = r.perS;
      out.errors += r.errors;
      if (action === 'Heartbeat') {
        out.cpu_percent = r.cpu;
        out.simulator_cpu_percent = r.simCpu;
        out.run_queue_wait_percent = r.wait;
        out.simulator_run_queue_wait_percent = r.simWait;
        out.heartbeats_per_cpu_s = Math.round(r.perS / Math.max(r.cpu, 1) * 100);
      } else {
        out[key.replace('_per_s', '_cpu_percent')] = r.cpu;
        out[key.replace('_per_s', '_simulator_cpu_percent')] = r.simCpu;
      }
    }
    if (t.full) await fixedRate(target, n, out);
    return out;
  } finally {
    await stop(target.proc);
  }
}

// ---------- median and spread

const median = (v) => {
  const s = [...v].sort((a, b) => a - b), h = s.length >> 1;
  return s.length % 2 ? s[h] : +((s[h - 1] + s[h]) / 2).toFixed(2);
};
const spread = (v) => ({ median: median(v), min: Math.min(...v), max: Math.max(...v), values: v });
// Every numeric leaf of the repeats becomes {median, min, max, values}.
function aggregate(reps) {
  const ok = reps.filter((r) => !r.error);
  if (!ok.length) return null;
  const walk = (objs) => {
    const out = {};
    for (const k of Object.keys(objs[0])) {
      const vs = objs.map((o) => o[k]);
      if (vs.every((v) => typeof v === 'number')) out[k] = spread(vs);
      else if (vs.every((v) => v && typeof v === 'object')) out[k] = walk(vs);
    }
    return out;
  };
  return walk(ok);
}
// A ratio per round (the two ran back to back), then its median and spread.
function ratio(repsA, repsB, pick) {
  const v = [];
  for (let i = 0; i < Math.min(repsA.length, repsB.length); i++) {
    const a = repsA[i].error ? undefined : pick(repsA[i]), b = repsB[i].error ? undefined : pick(repsB[i]);
    if (typeof a === 'number' && typeof b === 'number' && b) v.push(+(a / b).toFixed(3));
  }
  return v.length ? spread(v) : null;
}

// ---------- the run

// A responder below this CPU share in its closed loop was not the limit: the simulator was.
const SATURATED = 90;

const allTargets = [
  { id: 'pipelet-fast', target: 'pipelet', pg: 'fast', full: true, start: () => startPipelet(pgUrls.fast) },
  { id: 'pipelet-durable', target: 'pipelet', pg: 'durable', full: true, start: () => startPipelet(pgUrls.durable) },
  { id: 'bare', target: 'bare', pg: null, full: false, start: startBare },
  { id: 'ocpp-rpc', target: 'ocpp-rpc', pg: null, full: true, start: startBaseline },
];
const wanted = (args.targets || allTargets.map((t) => t.id).join(',')).split(',');
const targets = allTargets.filter((t) => wanted.includes(t.id) && (!t.pg || pgUrls[t.pg]) && (t.id !== 'bare' || existsSync(bareBin)));
for (const id of wanted)
  if (!targets.some((t) => t.id === id)) process.stderr.write(`bench: ${id} skipped (unknown target, or its PostgreSQL URL or the bare responder binary is missing)\n`);

const authorizeLoop = await simSupportsLoop('Authorize');
const loops = [
  ['Heartbeat', 'heartbeat_per_s', durations.heartbeat_loop_s],
  ['MeterValues', 'meter_values_per_s', durations.meter_values_loop_s],
  ...(authorizeLoop ? [['Authorize', 'authorize_per_s', durations.authorize_loop_s]] : []),
];
const postgresql = Object.fromEntries(Object.entries(pgUrls).filter(([, u]) => u).map(([k, u]) => [k, pgSettings(u)]));
const results = {
  date: new Date().toISOString(),
  load_average_at_start: loadavg().map((l) => +l.toFixed(2)),
  settings: {
    sizes, repeat, durations,
    pinning: { csms_under_test: 'core 0', simulator: 'core 1', postgresql: 'unpinned' },
    machine: { cpus: cpus().length, model: cpus()[0]?.model },
    postgresql,
    authorize_loop: authorizeLoop ? 'measured' : 'not measured: the simulator accepts closed_loop_action = Heartbeat or MeterValues only',
  },
  runs: [],
  summary: {},
};
const raw = new Map(); // `${id}/${n}` -> the repeats, in round order
for (const n of sizes) {
  for (let round = 1; round <= repeat; round++) {
    for (const t of targets) {
      process.stderr.write(`bench: ${t.id} with ${n} stations, round ${round}/${repeat}...\n`);
      let r;
      try {
        r = await measure(t, n, loops);
        process.stderr.write(`  ${JSON.stringify(r)}\n`);
      } catch (e) {
        r = { stations: n, error: e.message + (e.cause ? ` (${e.cause.message})` : '') };
        process.stderr.write(`${e.stack}\n  failed: ${e.message}\n`);
      }
      const k = `${t.id}/${n}`;
      raw.set(k, [...(raw.get(k) || []), r]);
    }
  }
  for (const t of targets) {
    const reps = raw.get(`${t.id}/${n}`);
    const errors = reps.filter((r) => r.error).map((r) => r.error);
    results.runs.push({ target: t.target, pg: t.pg, stations: n, rounds: reps.length, failed: errors.length, errors, figures: aggregate(reps), repeats: reps });
  }
  results.summary[n] = summarize(n);
}

// Per size and PostgreSQL setting: what the issue asks the benchmark to say.
function summarize(n) {
  const reps = (id) => raw.get(`${id}/${n}`) || [];
  const fig = (id, key) => aggregate(reps(id))?.[key] || null;
  const bare = reps('bare'), rpc = reps('ocpp-rpc');
  const out = {};
  for (const pg of Object.keys(postgresql)) {
    const id = `pipelet-${pg}`, pl = reps(id);
    if (!pl.length) continue;
    out[pg] = {
      postgresql: pgLabel(postgresql[pg]),
      heartbeat_per_s: { pipelet: fig(id, 'heartbeat_per_s'), bare: fig('bare', 'heartbeat_per_s'), 'ocpp-rpc': fig('ocpp-rpc', 'heartbeat_per_s') },
      pipelet_heartbeat_fraction_of_bare: ratio(pl, bare, (r) => r.heartbeat_per_s),
      // less sensitive to a loop the simulator limited, though not immune (batching)
      pipelet_heartbeats_per_cpu_s_fraction_of_bare: ratio(pl, bare, (r) => r.heartbeats_per_cpu_s),
      bare_heartbeat_loop_cpu_percent: { bare: fig('bare', 'cpu_percent'), simulator: fig('bare', 'simulator_cpu_percent') },
      bare_heartbeat_loop_run_queue_wait_percent: { bare: fig('bare', 'run_queue_wait_percent'), simulator: fig('bare', 'simulator_run_queue_wait_percent') },
      bare_saturated: (fig('bare', 'cpu_percent')?.median ?? 0) >= SATURATED,
      meter_values_per_s: { pipelet_committed: fig(id, 'meter_values_per_s'), 'ocpp-rpc_in_memory': fig('ocpp-rpc', 'meter_values_per_s') },
      pipelet_meter_values_vs_ocpp_rpc: ratio(pl, rpc, (r) => r.meter_values_per_s),
      ...(authorizeLoop ? { authorize_per_s: { pipelet: fig(id, 'authorize_per_s'), 'ocpp-rpc': fig('ocpp-rpc', 'authorize_per_s') } } : {}),
      fixed_rate_heartbeat_latency_ms: { pipelet: fig(id, 'latency_ms'), 'ocpp-rpc': fig('ocpp-rpc', 'latency_ms') },
      kb_per_idle_connection: { pipelet: fig(id, 'kb_per_connection'), bare: fig('bare', 'kb_per_connection'), 'ocpp-rpc': fig('ocpp-rpc', 'kb_per_connection') },
      pipelet_vs_ocpp_rpc: {
        heartbeat_throughput: ratio(pl, rpc, (r) => r.heartbeat_per_s),
        heartbeats_per_cpu_second: ratio(pl, rpc, (r) => r.heartbeats_per_cpu_s),
        memory_per_connection: ratio(pl, rpc, (r) => r.kb_per_connection),
        p99_latency: ratio(pl, rpc, (r) => r.latency_ms?.p99),
        storm_recovery_time: ratio(pl, rpc, (r) => r.storm_recover_s),
      },
    };
  }
  return out;
}

// ---------- the printed report

// "median (min-max)", or the median alone for one round; thousands as k from 10,000.
function fmt(a, digits = 0) {
  if (!a) return '-';
  const one = (v) => (Math.abs(v) >= 10000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(digits));
  return a.values.length > 1 ? `${one(a.median)} (${one(a.min)}-${one(a.max)})` : one(a.median);
}
function table(rows) {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => (i < 3 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ')).join('\n');
}
const pgName = (pg) => (pg ? `${pg}` : '-');
console.log(`\nrepeat ${repeat} (median (min-max) of the rounds); windows: Heartbeat loop ${durations.heartbeat_loop_s} s, MeterValues loop ${durations.meter_values_loop_s} s, fixed rate ${durations.fixed_rate_s} s`);
for (const [k, s] of Object.entries(postgresql))
  console.log(`PostgreSQL ${k}: ${pgLabel(s)} wal_sync_method=${s.wal_sync_method} (PostgreSQL ${s.server_version}, data on ${s.filesystem})${s.filesystem === 'tmpfs' ? '  WARNING: tmpfs, fsync costs nothing here' : ''}`);
console.log(`CSMS under test pinned to core 0, simulator to core 1. Authorize loop: ${results.settings.authorize_loop}.`);
const head = ['stations', 'target', 'PG', 'held', 'connect s', 'storm s', 'KB/conn', 'HB/s closed loop', 'CPU%', 'sim CPU%', 'wait%', 'MV/s closed loop', ...(authorizeLoop ? ['Auth/s'] : []), 'HB p50', 'p95', 'p99', 'max ms @fixed'];
const rows = [head];
for (const r of results.runs) {
  const f = r.figures;
  if (!f) { rows.push([r.stations, r.target, pgName(r.pg), `error: ${r.errors[0]}`, ...head.slice(4).map(() => '')]); continue; }
  const l = f.latency_ms || {};
  rows.push([r.stations, r.target + (r.failed ? ` (${r.failed} failed)` : ''), pgName(r.pg), fmt(f.connections_held), fmt(f.connect_s, 1), fmt(f.storm_recover_s, 2),
    fmt(f.kb_per_connection, 2), fmt(f.heartbeat_per_s), fmt(f.cpu_percent), fmt(f.simulator_cpu_percent), fmt(f.run_queue_wait_percent), fmt(f.meter_values_per_s), ...(authorizeLoop ? [fmt(f.authorize_per_s)] : []),
    fmt(l.p50), fmt(l.p95), fmt(l.p99), fmt(l.max)]);
}
console.log('\n' + table(rows));
const pct = (a) => (a ? `${(a.median * 100).toFixed(0)} %` + (a.values.length > 1 ? ` (${(a.min * 100).toFixed(0)}-${(a.max * 100).toFixed(0)} %)` : '') : '-');
const x = (a) => (a ? `x${a.median.toFixed(2)}` + (a.values.length > 1 ? ` (${a.min.toFixed(2)}-${a.max.toFixed(2)})` : '') : '-');
const lat = (l) => (l ? ['p50', 'p95', 'p99', 'max'].map((p) => `${p} ${fmt(l[p])}`).join(', ') : '-');
for (const [n, byPg] of Object.entries(results.summary)) {
  for (const [pg, s] of Object.entries(byPg)) {
    console.log(`\n${n} stations, PostgreSQL ${pg} (${s.postgresql}):`);
    console.log(`  Heartbeat/s closed loop: pipelet ${fmt(s.heartbeat_per_s.pipelet)}, bare ${fmt(s.heartbeat_per_s.bare)}, ocpp-rpc ${fmt(s.heartbeat_per_s['ocpp-rpc'])}; pipelet = ${pct(s.pipelet_heartbeat_fraction_of_bare)} of bare, per CPU second ${pct(s.pipelet_heartbeats_per_cpu_s_fraction_of_bare)}`);
    const bc = s.bare_heartbeat_loop_cpu_percent;
    if (bc.bare && !s.bare_saturated)
    {
      const bw = s.bare_heartbeat_loop_run_queue_wait_percent;
      console.log(`  NOTE: the bare responder was not saturated (CPU ${fmt(bc.bare)} %, simulator ${fmt(bc.simulator)} %; waiting for a CPU held by other processes: ${fmt(bw.bare)} % and ${fmt(bw.simulator)} %): the load generator or the machine set the floor, so the fraction of bare is an upper bound, and per CPU second is only indicative (a busier loop batches more per wake-up); rerun on a quiet machine`);
    }
    console.log(`  MeterValues/s closed loop: pipelet ${fmt(s.meter_values_per_s.pipelet_committed)} committed, ocpp-rpc ${fmt(s.meter_values_per_s['ocpp-rpc_in_memory'])} in memory: ${x(s.pipelet_meter_values_vs_ocpp_rpc)}`);
    if (s.authorize_per_s) console.log(`  Authorize/s closed loop: pipelet ${fmt(s.authorize_per_s.pipelet)}, ocpp-rpc ${fmt(s.authorize_per_s['ocpp-rpc'])}`);
    console.log(`  Heartbeat latency at a fixed rate (ms): pipelet ${lat(s.fixed_rate_heartbeat_latency_ms.pipelet)}; ocpp-rpc ${lat(s.fixed_rate_heartbeat_latency_ms['ocpp-rpc'])}`);
    console.log(`  KB per idle connection: pipelet ${fmt(s.kb_per_idle_connection.pipelet, 2)}, bare ${fmt(s.kb_per_idle_connection.bare, 2)}, ocpp-rpc ${fmt(s.kb_per_idle_connection['ocpp-rpc'], 2)}`);
    const v = s.pipelet_vs_ocpp_rpc;
    console.log(`  pipelet vs ocpp-rpc: heartbeat throughput ${x(v.heartbeat_throughput)} (per CPU second ${x(v.heartbeats_per_cpu_second)}), memory per connection ${x(v.memory_per_connection)}, p99 latency ${x(v.p99_latency)}, storm recovery time ${x(v.storm_recovery_time)}`);
  }
}
results.load_average_at_end = loadavg().map((l) => +l.toFixed(2));
console.log(`\nload average (1/5/15 min) at start ${results.load_average_at_start.join(' ')}, at end ${results.load_average_at_end.join(' ')} on ${cpus().length} CPUs`);
mkdirSync(join(top, 'bench', 'results'), { recursive: true });
const outFile = args.out && isAbsolute(args.out) ? args.out : join(top, 'bench', 'results', args.out || 'latest.json');
writeFileSync(outFile, JSON.stringify(results, null, 2));
console.log(`\nJSON: ${outFile}`);
process.exit(0);
