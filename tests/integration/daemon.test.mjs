// daemon.test.mjs — the daemon as an operator meets it: command line, config errors,
// plugin ABI checks, signals, health with a database that is down or restarts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, renameSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, buildDir, srcDir, waitFor } from './lib/harness.mjs';

const bin = join(buildDir, 'pipelet');
// the ABI this tree provides, from the header, so these tests follow minor bumps
const abiHeader = readFileSync(new URL('../../include/pipelet/plugin.h', import.meta.url), 'utf8');
const MAJOR = Number(abiHeader.match(/#define PL_ABI_MAJOR (\d+)/)[1]);
const MINOR = Number(abiHeader.match(/#define PL_ABI_MINOR (\d+)/)[1]);
const HOST = `${MAJOR}\\.${MINOR}`, FUTURE = `${MAJOR}\\.${MINOR + 1}`, OTHER = `${MAJOR + 1}\\.0`;
const testPlugins = join(buildDir, 'tests', 'plugins');
const tmpDirs = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'pipelet-daemon-')); tmpDirs.push(d); return d; };
after(() => { for (const d of tmpDirs) rmSync(d, { recursive: true, force: true }); });

test('--version and --help', () => {
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  assert.equal(v.status, 0);
  assert.match(v.stdout, new RegExp(`^pipelet \\d+\\.\\d+\\.\\d+ \\(plugin ABI ${HOST}, ptr8-long8-`));
  const h = spawnSync(bin, ['--help'], { encoding: 'utf8' });
  assert.equal(h.status, 0);
  assert.match(h.stdout, /--check-config/);
  const bad = spawnSync(bin, ['--no-such-flag'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
});

test('config errors name file, line and key and exit non-zero before listening', () => {
  const d = tmp();
  const f = join(d, 'bad.conf');
  writeFileSync(f, '[core]\nlog_level = info\n[http]\nport = eighty\n');
  let r = spawnSync(bin, ['-c', f, '--check-config'], { encoding: 'utf8' });
  assert.equal(r.status, 0, 'syntax is fine; the value is checked when used');
  r = spawnSync(bin, ['-c', f], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /bad\.conf:4: \[http\] port: 'eighty' is not an integer/);
  writeFileSync(f, '[core]\nlog_levle = info\n');
  r = spawnSync(bin, ['-c', f, '--check-config'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /bad\.conf:2: unknown key 'log_levle' in \[core\]/);
  writeFileSync(f, '[core\n');
  r = spawnSync(bin, ['-c', f], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /bad\.conf:1: malformed section header/);
  r = spawnSync(bin, ['-c', join(d, 'missing.conf')], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /missing\.conf: cannot open/);
  r = spawnSync(bin, ['-c', join(srcDir, 'etc', 'pipelet.conf'), '-o', 'nodot', '--check-config'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /-o nodot: expected section\.key=value/);
});

test('the shipped configuration is valid', () => {
  const r = spawnSync(bin, ['-c', join(srcDir, 'etc', 'pipelet.conf'), '-o',
    `plugins.dir=${join(buildDir, 'plugins', 'ocpp16')}`, '-o', 'plugins.load=', '--check-config'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /configuration OK/);
});

test('--list-plugins shows each plugin with its ABI, refused ones with the reason', () => {
  const r = spawnSync(bin, ['-c', '/dev/null', '-o', `plugins.dir=${testPlugins}`, '--list-plugins'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /abi_old\s+0\.0\.1\s+ABI 1\.0/);
  assert.match(r.stdout, new RegExp(`abi_future\\.so\\s+refused: built for plugin ABI ${FUTURE}, this daemon provides ${HOST}`));
  assert.match(r.stdout, new RegExp(`abi_major\\.so\\s+refused: built for plugin ABI ${OTHER}, this daemon provides ${HOST}`));
  assert.match(r.stdout, /abi_nodesc\.so\s+refused: no 'pipelet_plugin' descriptor/);
});

test('the loader refuses incompatible plugins with one clear line; optional ones do not stop the daemon', async () => {
  const gw = await startGateway({
    plugins: ['abi_old', 'abi_future', 'abi_major', 'abi_nodesc', 'abi_dup', 'abi_initfail'],
    required: ['abi_old'],
    database: false,
    config: { plugins: { dir: `${testPlugins}` }, database: { connect_wait: 0 } },
  });
  try {
    const log = gw.logs();
    assert.match(log, /loaded abi_old 0\.0\.1 \(ABI 1\.0\)/);
    assert.match(log, new RegExp(`refusing \\S+abi_future\\.so: built for plugin ABI ${FUTURE}, this daemon provides ${HOST}: rebuild the plugin`));
    assert.match(log, new RegExp(`refusing \\S+abi_major\\.so: built for plugin ABI ${OTHER}, this daemon provides ${HOST}`));
    assert.match(log, /refusing \S+abi_nodesc\.so: no 'pipelet_plugin' descriptor/);
    assert.match(log, /refusing \S+abi_dup\.so: a plugin named 'abi_old' is already loaded/);
    assert.match(log, /plugin abi_initfail \(\S+\) failed to initialise/);
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('a required plugin that is refused stops the daemon with a non-zero exit', () => {
  const d = tmp();
  const f = join(d, 'p.conf');
  writeFileSync(f, `[plugins]\ndir = ${testPlugins}\nload = abi_future\nrequired = abi_future\n[http]\nport = 0\nlisten = 127.0.0.1\n[ocpp]\nport = 0\nlisten = 127.0.0.1\n[database]\nconnect_wait = 0\nurl = postgresql:///x?host=/nonexistent\n`);
  const r = spawnSync(bin, ['-c', f], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`refusing \\S+abi_future\\.so: built for plugin ABI ${FUTURE}`));
  assert.match(r.stderr, /a required plugin failed/);
});

test('SIGTERM drains and exits 0; SIGHUP reopens the log file', async () => {
  const d = tmp();
  const logFile = join(d, 'pipelet.log');
  const gw = await startGateway({ plugins: [], config: { core: { log_file: logFile } } });
  await waitFor(() => existsSync(logFile) && /ready: http port/.test(readFileSync(logFile, 'utf8')), 10000, 'log file');
  // the harness reads the ready line from the log: with log_file it is in the file, so
  // the harness must have found it there — ports are known
  renameSync(logFile, logFile + '.1');
  gw.proc.kill('SIGHUP');
  await waitFor(() => existsSync(logFile) && /SIGHUP: log reopened/.test(readFileSync(logFile, 'utf8')), 10000, 'reopened log');
  assert.equal(await gw.stop(), 0);
  assert.match(readFileSync(logFile, 'utf8'), /stopped \(exit 0\)/);
});

test('a database restart: the gateway keeps serving and reconnects by itself', async () => {
  if (!process.env.PIPELET_TEST_PGDATA) return;
  const gw = await startGateway({ plugins: [] });
  try {
    let h = await gw.api('GET', '/health');
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'ok');
    assert.equal(h.body.database.status, 'ok');
    execFileSync(join(srcDir, 'scripts', 'pg-test-cluster'), ['restart', process.env.PIPELET_TEST_PGDATA]);
    await waitFor(async () => {
      const r = await gw.api('GET', '/health');
      return r.body && r.body.database && r.body.database.reconnects >= 1 && r.body.status === 'ok';
    }, 30000, 'database reconnect');
    h = await gw.api('GET', '/metrics');
    assert.equal(h.status, 200);
    assert.match(h.text, /pipelet_up 1/);
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('a database that is down at start: the gateway starts, serves, and reports degraded', async () => {
  const gw = await startGateway({ plugins: [], database: 'postgresql:///nothing?host=/nonexistent-dir',
    config: { database: { connect_wait: 200 } } });
  try {
    const h = await gw.api('GET', '/health');
    assert.equal(h.body.status, 'degraded');
    assert.equal(h.body.database.status, 'degraded');
    assert.match(gw.logs(), /database not reachable yet: serving degraded/);
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});
