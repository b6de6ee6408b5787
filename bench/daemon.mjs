// bench/daemon.mjs — what the benchmarks that run their own pipelet processes share: a
// configuration file written from sections, the daemon pinned to one core, ready when its
// log matches, stopped with SIGTERM (SIGKILL after 10 s).
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pin = (core) => (existsSync('/usr/bin/taskset') ? ['taskset', '-c', String(core)] : []);
const conf = (sections) => Object.entries(sections).map(([s, kv]) => `[${s}]\n` +
  Object.entries(kv).map(([k, v]) => `${k} = ${v}`).join('\n')).join('\n\n') + '\n';

// Start <build>/pipelet on `core` with `sections` (its file goes to `work`); resolves with
// {proc, m (the ready match), log()} once the log matches `ready`, within 30 s.
export function startDaemon({ build, work, name, core, sections, ready, env }) {
  const f = join(work, `${name}.conf`);
  writeFileSync(f, conf(sections));
  const [cmd, ...pre] = [...pin(core), join(build, 'pipelet')];
  const p = spawn(cmd, [...pre, '-c', f], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  const on = (d) => { log = (log + d).slice(-200000); };
  p.stdout.on('data', on);
  p.stderr.on('data', on);
  return new Promise((res, rej) => {
    const t0 = Date.now();
    const iv = setInterval(() => {
      const m = log.match(ready);
      if (m) { clearInterval(iv); res({ proc: p, m, log: () => log }); }
      else if (p.exitCode !== null || Date.now() - t0 > 30000) { clearInterval(iv); rej(new Error(`${name}: ${log.slice(-2000)}`)); }
    }, 50);
  });
}

export async function stopDaemon(p) {
  if (p.exitCode !== null) return;
  const done = new Promise((r) => p.on('exit', r));
  p.kill('SIGTERM');
  await Promise.race([done, sleep(10000)]);
  if (p.exitCode === null) p.kill('SIGKILL');
}
