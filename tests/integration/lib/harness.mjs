// harness.mjs — starts a real pipelet daemon (built tree) against a fresh database in
// the throwaway PostgreSQL cluster of the test run, on ports the daemon picks itself.
import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const srcDir = resolve(here, '../../..');
export const buildDir = resolve(process.env.PIPELET_BUILD_DIR || join(srcDir, 'build'));
export const pgUrl = process.env.PIPELET_TEST_PGURL;

const sha256 = (s) => createHash('sha256').update(s).digest('hex');

/** The libpq URL of another database on the same cluster. */
export function dbUrl(name) {
  if (!pgUrl) throw new Error('PIPELET_TEST_PGURL is not set (run the suite with scripts/test)');
  const m = pgUrl.match(/^(postgres(?:ql)?:\/\/[^/]*)(\/[^?]*)?(\?.*)?$/);
  if (!m) throw new Error(`cannot parse PIPELET_TEST_PGURL ${pgUrl}`);
  return `${m[1]}/${name}${m[3] || ''}`;
}

export function psql(url, sql) {
  return execFileSync('psql', [url, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
    encoding: 'utf8',
  });
}

let dbCounter = 0;
export function createDatabase(prefix = 't') {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${dbCounter++}`;
  psql(dbUrl('postgres'), `CREATE DATABASE ${name}`);
  return dbUrl(name);
}

export function pluginDirs() {
  const base = join(buildDir, 'plugins');
  if (!existsSync(base)) return '';
  return readdirSync(base).map((d) => join(base, d)).join(':');
}

function iniFrom(sections) {
  let out = '';
  for (const [sec, kv] of Object.entries(sections)) {
    out += `[${sec}]\n`;
    for (const [k, v] of Object.entries(kv)) {
      if (v === undefined || v === null) continue;
      out += `${k} = ${typeof v === 'boolean' ? (v ? 'yes' : 'no') : v}\n`;
    }
    out += '\n';
  }
  return out;
}

function merge(a, b) {
  const out = { ...a };
  for (const [k, v] of Object.entries(b || {})) out[k] = { ...(out[k] || {}), ...v };
  return out;
}

// Each gateway's folder (its configuration, and what a test puts there) is removed when
// the gateway stops; any still there when the test process exits (a gateway killed or
// never stopped) are removed then.  /tmp kept ~40 of them per run, some with CA keys.
const liveDirs = new Set();
process.on('exit', () => { for (const d of liveDirs) rmSync(d, { recursive: true, force: true }); });

/**
 * Start a gateway.  opts: { plugins: [...], required: [...], config: {section: {key: value}},
 * database: url | false (false = no database configured), logLevel }.
 */
export async function startGateway(opts = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'pipelet-test-'));
  liveDirs.add(dir);
  const keys = {
    admin: 'adm-' + randomBytes(12).toString('hex'),
    operator: 'op-' + randomBytes(12).toString('hex'),
    read: 'ro-' + randomBytes(12).toString('hex'),
  };
  const database = opts.database === false ? '' : opts.database || createDatabase();
  const plugins = opts.plugins || [];
  const gw = {
    dir, keys, database, proc: null, http: null, ws: null, httpPort: 0, ocppPort: 0,
    logText: '', exitCode: null,
  };
  const baseConfig = {
    // the built-in defaults are the production ones (unknown tokens and stations
    // refused); most suites exercise an open test fleet, as the quick start does
    core: { log_level: opts.logLevel || 'info', drain_timeout: 2000, auth_unknown: 'accept' },
    ocpp16: { unknown_stations: 'accept' },
    ocpp201: { unknown_stations: 'accept' },
    http: { listen: '127.0.0.1', port: 0, rate_limit: 1000, rate_burst: 2000 },
    ocpp: { listen: '127.0.0.1', port: 0 },
    database: { url: database ? `"${database}"` : '', connect_wait: 5000 },
    plugins: { dir: pluginDirs(), load: plugins.join(' '), required: (opts.required || plugins).join(' ') },
    keys: {
      admin: `admin sha256:${sha256(keys.admin)}`,
      operator: `operator sha256:${sha256(keys.operator)}`,
      read: `read sha256:${sha256(keys.read)}`,
    },
  };
  gw.configPath = join(dir, 'pipelet.conf');

  gw.start = async () => {
    const cfg = merge(baseConfig, opts.config);
    if (gw.httpPort) cfg.http.port = gw.httpPort;
    if (gw.ocppPort) cfg.ocpp.port = gw.ocppPort;
    mkdirSync(dir, { recursive: true }); /* started again after a stop */
    liveDirs.add(dir);
    writeFileSync(gw.configPath, iniFrom(cfg));
    const bin = join(buildDir, 'pipelet');
    gw.exitCode = null;
    const proc = spawn(bin, ['-c', gw.configPath, ...(opts.args || [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(opts.env || {}) },
    });
    gw.proc = proc;
    gw.exited = new Promise((res) => proc.on('exit', (code, sig) => {
      gw.exitCode = code === null ? `signal ${sig}` : code;
      res(gw.exitCode);
    }));
    const onData = (d) => { gw.logText += d.toString(); if (process.env.PIPELET_TEST_VERBOSE) process.stderr.write(d); };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    const startAt = gw.logText.length;
    const logFile = cfg.core && cfg.core.log_file;
    const fileStart = logFile && existsSync(logFile) ? readFileSync(logFile, 'utf8').length : 0;
    await waitFor(() => {
      if (gw.exitCode !== null) throw new Error(`pipelet exited (${gw.exitCode}) at start:\n${gw.logText}`);
      const text = logFile ? (existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(fileStart) : '')
        : gw.logText.slice(startAt);
      const m = text.match(/ready: http port (\d+), ocpp port (-?\d+)"/);
      if (m) { gw.httpPort = +m[1]; gw.ocppPort = +m[2]; return true; }
      return false;
    }, 20000, 'gateway ready line');
    gw.http = `http://127.0.0.1:${gw.httpPort}`;
    gw.ws = `ws://127.0.0.1:${gw.ocppPort}/ocpp`;
    return gw;
  };

  gw.api = async (method, path, body, o = {}) => {
    const headers = { ...(o.headers || {}) };
    const key = o.key === undefined ? keys.admin : o.key;
    if (key) headers['X-API-Key'] = key;
    let payload;
    if (body !== undefined && body !== null) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      headers['Content-Type'] = headers['Content-Type'] || 'application/json';
    }
    const res = await fetch(gw.http + path, { method, headers, body: payload });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    return { status: res.status, headers: res.headers, body: json, text };
  };
  gw.sql = async (query) => {
    const out = psql(database, `select coalesce(json_agg(t), '[]'::json) from (${query}) t`);
    return JSON.parse(out.trim() || '[]');
  };
  gw.waitFor = (cond, ms = 10000, what) => waitFor(cond, ms, what);
  gw.logs = () => gw.logText;
  const halt = async () => {
    if (gw.exitCode !== null) return gw.exitCode;
    gw.proc.kill('SIGTERM');
    return gw.exited;
  };
  gw.stop = async () => {
    const code = await halt();
    rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
    return code;
  };
  gw.kill = async () => {
    if (gw.exitCode !== null) return gw.exitCode;
    gw.proc.kill('SIGKILL');
    return gw.exited;
  };
  gw.restart = async () => {
    await halt();
    return gw.start();
  };
  await gw.start();
  return gw;
}

export async function waitFor(cond, ms = 10000, what = 'condition') {
  const deadline = Date.now() + ms;
  let lastErr;
  for (;;) {
    try {
      if (await cond()) return true;
    } catch (e) {
      if (/exited/.test(e.message)) throw e;
      lastErr = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${lastErr ? ': ' + lastErr.message : ''}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
