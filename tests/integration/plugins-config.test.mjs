// plugins-config.test.mjs — plugins' declared configuration keys (ABI 1.2) as an operator
// meets them: errors in a plugin's section name file:line like core keys (at start and in
// --check-config), SIGHUP re-reads the whole file and applies it only when all of it holds,
// and etc/pipelet.conf documents exactly the keys the core and the in-tree plugins declare.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startGateway, buildDir, srcDir, pluginDirs } from './lib/harness.mjs';
import { connectStation } from './lib/stations.mjs';

const bin = join(buildDir, 'pipelet');
const testPlugins = join(buildDir, 'tests', 'plugins');
const dirs = () => `${pluginDirs()}:${testPlugins}`;
const lines = (f) => readFileSync(f, 'utf8').split('\n').length - 1;

// SIGHUP, then wait for the reload's verdict logged after `from`.
async function hup(gw, from) {
  gw.proc.kill('SIGHUP');
  await gw.waitFor(() => /SIGHUP: (configuration re-read|.*nothing changed|.*the configuration is unchanged)/
    .test(gw.logs().slice(from)), 10000, 'the reload verdict');
  return gw.logs().slice(from);
}

test('SIGHUP: a good file reaches the plugin, a broken one changes nothing and names file:line', async () => {
  const gw = await startGateway({
    plugins: ['lc_config'], database: false,
    config: { plugins: { dir: dirs() }, database: { connect_wait: 0 }, lc_config: { greeting: 'one', count: 3 } },
  });
  try {
    let c = (await gw.api('GET', '/lc/v1/config')).body;
    assert.deepEqual([c.greeting, c.count, c.mode, c.reloads], ['one', 3, 'fast', 0]);

    // later keys override earlier ones: appending a section edits the file
    appendFileSync(gw.configPath, '[lc_config]\ngreeting = two\nmode = slow\ncolours = green, blue\n[core]\nlog_level = debug\n');
    let log = await hup(gw, gw.logs().length);
    assert.match(log, /SIGHUP: configuration re-read; 0 change\(s\) take effect after a restart/);
    assert.match(log, /SIGHUP: log level now debug/);
    c = (await gw.api('GET', '/lc/v1/config')).body;
    assert.deepEqual([c.greeting, c.count, c.mode, c.colours, c.reloads], ['two', 3, 'slow', 'green, blue', 1]);

    // a value out of range in the plugin's section: logged with file:line, nothing changes
    appendFileSync(gw.configPath, '[lc_config]\ngreeting = three\ncount = 500\n');
    const bad = lines(gw.configPath);
    log = await hup(gw, gw.logs().length);
    assert.match(log, new RegExp(`pipelet\\.conf:${bad}: \\[lc_config\\] count: 500 is outside 0\\.\\.100`));
    assert.match(log, /SIGHUP: 1 error\(s\) in the configuration \(above\): nothing changed, plugins not reloaded/);
    c = (await gw.api('GET', '/lc/v1/config')).body;
    assert.deepEqual([c.greeting, c.count, c.reloads], ['two', 3, 1]);

    // a syntax error: the same
    appendFileSync(gw.configPath, '[broken\n');
    log = await hup(gw, gw.logs().length);
    assert.match(log, new RegExp(`pipelet\\.conf:${bad + 1}: malformed section header: the configuration is unchanged`));
    assert.equal((await gw.api('GET', '/lc/v1/config')).body.greeting, 'two');
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('SIGHUP: keys read once at start are reported as needing a restart', async () => {
  const gw = await startGateway({
    plugins: ['lc_config', 'headless'], database: false,
    config: { plugins: { dir: dirs() }, database: { connect_wait: 0 }, lc_config: { port: 7 } },
  });
  try {
    appendFileSync(gw.configPath, '[lc_config]\nport = 8\n[ocpp]\nqueue_max = 7\n');
    const n = lines(gw.configPath);
    const log = await hup(gw, gw.logs().length);
    assert.match(log, new RegExp(`pipelet\\.conf:${n - 2}: \\[lc_config\\] port changed to '8': takes effect after a restart`));
    assert.match(log, new RegExp(`pipelet\\.conf:${n}: \\[ocpp\\] queue_max changed to '7': takes effect after a restart`));
    assert.match(log, /2 change\(s\) take effect after a restart/);
    const c = (await gw.api('GET', '/lc/v1/config')).body;
    assert.equal(c.port, 7, 'read once, at start');
    // the bound port (http.port = 0 in the file) is still what the configuration says
    const sys = await gw.api('GET', '/api/v1/system');
    assert.equal(sys.body.http.port, String(gw.httpPort));
    assert.doesNotMatch(log, /\[http\] port changed/);
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('SIGHUP reaches a real plugin: ocpp16 accepts a DataTransfer vendor added to the file', async () => {
  const gw = await startGateway({ plugins: ['ocpp16'] });
  const st = await connectStation(gw, { protocol: 'ocpp1.6' });
  try {
    let r = await st.client.call('DataTransfer', { vendorId: 'com.example.acme' });
    assert.equal(r.status, 'UnknownVendorId');
    appendFileSync(gw.configPath, '[ocpp16]\ndata_transfer_vendors = com.example.acme\n');
    await hup(gw, gw.logs().length);
    r = await st.client.call('DataTransfer', { vendorId: 'com.example.acme' });
    assert.equal(r.status, 'Accepted');
  } finally {
    await st.close();
    assert.equal(await gw.stop(), 0);
  }
});

test('an unknown key or a bad value in a plugin section refuses the plugin at start, with file:line', async () => {
  await assert.rejects(
    startGateway({ plugins: ['ocpp16'], config: { ocpp16: { heartbeat_intervall: 60 } } }),
    (e) => /pipelet\.conf:\d+: unknown key 'heartbeat_intervall' in \[ocpp16\]/.test(e.message) &&
      /a required plugin failed/.test(e.message));
  await assert.rejects(
    startGateway({ plugins: ['webhooks'], database: false, config: { database: { connect_wait: 0 }, webhooks: { max_attempts: 0 } } }),
    (e) => /pipelet\.conf:\d+: \[webhooks\] max_attempts: 0 is outside 1\.\.100/.test(e.message));
});

const checkConfig = (...o) => spawnSync(bin, ['-c', join(srcDir, 'etc', 'pipelet.conf'), '-o', `plugins.dir=${pluginDirs()}`,
  ...o.flatMap((x) => ['-o', x]), '--check-config'], { encoding: 'utf8' });

test('--check-config checks plugin sections without starting the plugins', () => {
  let r = checkConfig();
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /configuration OK: .* \(plugins checked: ocpp16 ocpp201 headless webhooks mcp simulator console oicp pnc\)/);
  assert.doesNotMatch(r.stderr, /level=(warn|error)/, 'no plugin ran its init');
  r = checkConfig('simulator.autostart_count=99999', 'ocpp201.typo=1', 'headless.anything=x');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /-o: \[simulator\] autostart_count: 99999 is outside 0\.\.20000/);
  assert.match(r.stderr, /-o: unknown key 'typo' in \[ocpp201\]/);
  assert.match(r.stderr, /-o: unknown key 'anything' in \[headless\]/);
  assert.match(r.stderr, /plugin check failed/);
});

// The keys etc/pipelet.conf mentions (set or commented out: "# key = value"), by section.
function documentedKeys() {
  const out = new Map();
  let section = null;
  for (const raw of readFileSync(join(srcDir, 'etc', 'pipelet.conf'), 'utf8').split('\n')) {
    const line = raw.trim();
    const sec = line.match(/^\[([a-z0-9_]+)\]$/);
    if (sec) { section = sec[1]; out.set(section, out.get(section) || new Set()); continue; }
    const kv = line.match(/^(?:[#;]\s*)?([a-z][a-z0-9_]*)\s*=/);
    if (section && section !== 'keys' && kv) out.get(section).add(kv[1]);
  }
  return out;
}

// What the core and the plugins listed in etc/pipelet.conf declare (--check-config, debug).
function declaredKeys() {
  const r = checkConfig('core.log_level=debug');
  assert.equal(r.status, 0, r.stderr);
  const out = new Map();
  for (const m of r.stderr.matchAll(/declared \[([a-z0-9_]+)\] ([a-z0-9_]+):/g)) {
    if (!out.has(m[1])) out.set(m[1], new Set());
    out.get(m[1]).add(m[2]);
  }
  return out;
}

test('every key etc/pipelet.conf mentions is declared by the core or its plugin', () => {
  const declared = declaredKeys();
  const unknown = [];
  for (const [sec, keys] of documentedKeys()) {
    for (const k of keys) if (!declared.get(sec)?.has(k)) unknown.push(`[${sec}] ${k}`);
  }
  assert.deepEqual(unknown, []);
});

test('every declared key appears in etc/pipelet.conf, set or commented out', () => {
  const documented = documentedKeys();
  const missing = [];
  for (const [sec, keys] of declaredKeys()) {
    for (const k of keys) if (!documented.get(sec)?.has(k)) missing.push(`[${sec}] ${k}`);
  }
  assert.deepEqual(missing, []);
});
