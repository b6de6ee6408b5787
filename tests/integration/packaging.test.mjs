// packaging.test.mjs — what a new user meets before any code runs: an in-tree build that
// is quiet and leaves `git status` clean, what `make install` puts where, why `make
// check` skips, `scripts/deps --run`, and `scripts/run` (an optimised build, loopback).
// Each test works on a copy of the source files, so the developer's tree is untouched;
// the build tests cost a build each (PIPELET_PACKAGING=0 skips them).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { srcDir, waitFor } from './lib/harness.mjs';

const isGitTree = spawnSync('git', ['-C', srcDir, 'rev-parse', '--is-inside-work-tree'], { encoding: 'utf8' }).stdout.trim() === 'true';
const skip = process.env.PIPELET_PACKAGING === '0' ? 'PIPELET_PACKAGING=0'
  : !isGitTree ? 'not a git work tree (the copies are made from git ls-files)' : false;

const work = mkdtempSync(join(tmpdir(), 'pipelet-packaging-'));
chmodSync(work, 0o755); // as root, scripts/run's PostgreSQL runs as postgres and must get in
let clusters = []; // .run/pg folders scripts/run started: stopped before the copies go
after(() => {
  for (const d of clusters) sh(join(srcDir, 'scripts', 'pg-test-cluster'), ['stop', d]);
  rmSync(work, { recursive: true, force: true });
});

/** Run a command; returns { status, out } with stdout and stderr interleaved. */
function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'], ...opts,
    env: { ...process.env, ...(opts.env || {}) } });
  return { status: r.status, out: (r.stdout || '') + (r.stderr || ''), stdout: r.stdout || '', stderr: r.stderr || '' };
}
function ok(cmd, args, opts) {
  const r = sh(cmd, args, opts);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed:\n${r.out.slice(-4000)}`);
  return r;
}

/** The source files as they are now (tracked and new, not ignored), in a fresh git repo. */
function copyTree(name) {
  const dst = join(work, name);
  mkdirSync(dst);
  const files = ok('git', ['-C', srcDir, 'ls-files', '-z', '--cached', '--others', '--exclude-standard']).stdout
    .split('\0').filter((f) => f && f !== 'node_modules' && existsSync(join(srcDir, f)));
  for (const f of files) cpSync(join(srcDir, f), join(dst, f), { verbatimSymlinks: true });
  const git = ['-c', 'user.name=t', '-c', 'user.email=t@t'];
  ok('git', ['init', '-q'], { cwd: dst });
  ok('git', [...git, 'add', '-A'], { cwd: dst });
  ok('git', [...git, 'commit', '-q', '-m', 'copy'], { cwd: dst });
  return dst;
}

const gitStatus = (dir) => ok('git', ['status', '--porcelain'], { cwd: dir }).stdout;

/** A folder of stand-ins that record being called (npm, apt-get) or report nothing installed. */
function fakeBin(name, { dpkgNothing = false } = {}) {
  const bin = join(work, name);
  mkdirSync(bin);
  const record = (tool) => `#!/bin/sh\necho "${tool} $*" >> "${bin}/calls"\n`;
  writeFileSync(join(bin, 'npm'), record('npm'));
  writeFileSync(join(bin, 'apt-get'), record('apt-get'));
  writeFileSync(join(bin, 'sudo'), '#!/bin/sh\nexec "$@"\n');
  if (dpkgNothing) writeFileSync(join(bin, 'dpkg-query'), '#!/bin/sh\nexit 1\n');
  for (const t of ['npm', 'apt-get', 'sudo', 'dpkg-query']) if (existsSync(join(bin, t))) chmodSync(join(bin, t), 0o755);
  return { bin, calls: () => (existsSync(join(bin, 'calls')) ? readFileSync(join(bin, 'calls'), 'utf8') : '') };
}

test('an in-tree build is quiet, installs what the docs name, and leaves git status clean', { skip, timeout: 900000 }, () => {
  const dir = copyTree('intree');
  // node_modules is a symlink in a developer's tree: the ignore pattern must match one
  symlinkSync(existsSync(join(srcDir, 'node_modules')) ? join(srcDir, 'node_modules') : work, join(dir, 'node_modules'));
  assert.equal(ok('git', ['status', '--porcelain', '--ignored'], { cwd: dir }).stdout, '!! node_modules\n',
    'before building, only node_modules is ignored: no source file is');

  ok('autoreconf', ['-fi'], { cwd: dir });
  const inst = join(work, 'inst');
  const conf = ok('./configure', [`--prefix=${inst}`], { cwd: dir });
  assert.doesNotMatch(conf.stderr, /cannot remove/, 'configure must not trip over the core/ folder');
  assert.equal(conf.stderr, '');
  assert.ok(!existsSync(join(dir, 'confdefs.h')), 'configure removes its confdefs.h');

  ok('make', ['-j2'], { cwd: dir });
  const check = sh('make', ['-j2', 'check'], { cwd: dir, env: { PIPELET_TEST_PGURL: '' } });
  assert.equal(check.status, 0, check.out.slice(-4000));
  assert.match(check.stdout, /SKIP: tests\/unit\/test_station needs PostgreSQL and PIPELET_TEST_PGURL is not set/);
  assert.match(check.stdout, /scripts\/test .*\n.*PIPELET_TEST_PGURL=/, 'and says how to run it');
  assert.equal(gitStatus(dir), '', 'configure, make and make check leave no untracked file');

  ok('make', ['install'], { cwd: dir });
  const man = readFileSync(join(inst, 'share', 'man', 'man8', 'pipelet.8'), 'utf8');
  assert.match(man, new RegExp(`default \\\\fI${inst}/etc/pipelet/pipelet\\.conf`));
  assert.match(man, new RegExp(`^\\.I ${inst}/lib/pipelet/plugins/$`, 'm'));
  assert.doesNotMatch(man, /\/usr\/lib\/pipelet|(\\fI|\.I )\/etc\/pipelet|@\w+@/, 'no hard-coded or unsubstituted path');
  // the installed pipelet-sim runs the installed daemon and simulator (no source tree)
  const simOut = ok(join(inst, 'bin', 'pipelet-sim'), ['--url', 'ws://127.0.0.1:9/ocpp', '--stations', '1', '--duration', '1'],
    { cwd: work, env: { PIPELET: '', PIPELET_PLUGINDIR: '' } });
  assert.match(simOut.stdout, /^stations 1 {2}connected 0/m);
  assert.equal(gitStatus(dir), '', 'make install writes nothing into the tree');
});

test('scripts/deps --run installs what building and running need, no test tools or npm peers', { skip }, () => {
  const dir = join(work, 'deps');
  mkdirSync(join(dir, 'scripts'), { recursive: true });
  cpSync(join(srcDir, 'scripts', 'deps'), join(dir, 'scripts', 'deps'));
  const run = fakeBin('bin-deps-run', { dpkgNothing: true });
  ok(join(dir, 'scripts', 'deps'), ['--run'], { env: { PATH: `${run.bin}:${process.env.PATH}` } });
  const installed = run.calls().split('\n').find((l) => / install /.test(l)) || '';
  for (const p of ['build-essential', 'libevent-dev', 'libpq-dev', 'postgresql']) assert.match(installed, new RegExp(` ${p}( |$)`), p);
  for (const p of ['check', 'clang', 'libclang-rt-dev', 'nodejs', 'npm']) assert.doesNotMatch(installed, new RegExp(` ${p}( |$)`), p);
  assert.doesNotMatch(run.calls(), /^npm /m, 'no npm peers for running');
  // the default (the test suite's) still installs the test tools and the peers
  const all = fakeBin('bin-deps-all', { dpkgNothing: true });
  ok(join(dir, 'scripts', 'deps'), [], { env: { PATH: `${all.bin}:${process.env.PATH}` } });
  assert.match(all.calls(), /apt-get install .* check .*clang/);
  assert.match(all.calls(), /^npm install/m);
});

test('scripts/run runs an optimised build, on 127.0.0.1 unless PIPELET_LISTEN says otherwise, next to an ASan build/', { skip, timeout: 900000 }, async () => {
  const dir = copyTree('run');
  clusters.push(join(dir, '.run', 'pg'));
  // what scripts/test leaves behind: build/ configured with AddressSanitizer
  ok('autoreconf', ['-fi'], { cwd: dir });
  mkdirSync(join(dir, 'build'));
  ok('../configure', ['-q', '--enable-asan'], { cwd: join(dir, 'build') });
  const fake = fakeBin('bin-run');
  const env = { PATH: `${fake.bin}:${process.env.PATH}`, SIM_STATIONS: '1', PGPORT_RUN: String(20000 + Math.floor(Math.random() * 20000)),
    PIPELET_BUILD_DIR: '', ASAN_OPTIONS: '' };

  const runOnce = async (extraEnv, check) => {
    const proc = spawn(join(dir, 'scripts', 'run'), ['-o', 'http.port=0', '-o', 'ocpp.port=0'],
      { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env, ...extraEnv } });
    let out = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { out += d; });
    const exited = new Promise((res) => proc.on('exit', (code) => res(code)));
    try {
      await waitFor(() => {
        if (proc.exitCode !== null) throw new Error(`scripts/run exited (${proc.exitCode}):\n${out}`);
        return /ready: http port \d+/.test(out);
      }, 600000, `scripts/run ready:\n${out}`);
      const port = out.match(/ready: http port (\d+)/)[1];
      const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
      assert.equal(health.status, 'ok', JSON.stringify(health));
      check(out);
    } finally {
      if (proc.exitCode === null) {
        proc.kill('SIGINT'); // scripts/run's own Ctrl-C path: the gateway, then the database
        const timer = setTimeout(() => process.kill(-proc.pid, 'SIGKILL'), 30000);
        await exited;
        clearTimeout(timer);
      }
    }
    return out;
  };

  await runOnce({}, (out) => {
    assert.match(out, /the optimised build in build-run\/ \(CFLAGS -g -O2\), listening on 127\.0\.0\.1/);
    assert.match(out, /comp=http msg="listening on 127\.0\.0\.1:/);
    assert.match(out, /comp=ocpp msg="listening on ws:\/\/127\.0\.0\.1:/);
  });
  assert.doesNotMatch(readFileSync(join(dir, 'build-run', 'Makefile'), 'utf8'), /^SAN_CFLAGS = .*-fsanitize/m);
  assert.doesNotMatch(ok('ldd', [join(dir, 'build-run', 'pipelet')]).stdout, /libasan|libubsan/);
  assert.ok(!existsSync(join(dir, 'build', 'pipelet')), 'the ASan build/ is not built nor run');
  assert.equal(fake.calls(), '', 'nothing installed: no apt-get, no npm peers');

  await runOnce({ PIPELET_LISTEN: '0.0.0.0' }, (out) => {
    assert.match(out, /comp=http msg="listening on 0\.0\.0\.0:/);
    assert.match(out, /comp=ocpp msg="listening on ws:\/\/0\.0\.0\.0:/);
  });
  assert.ok(!existsSync(join(dir, '.run', 'pg', 'data', 'postmaster.pid')), 'Ctrl-C stopped the database too');
  assert.equal(gitStatus(dir), '', 'build-run/ and .run/ are ignored');
});
