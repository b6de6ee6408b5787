// readme.test.mjs — the top-level README's curl examples work as written against the
// quick start's setup (all plugins, a simulated fleet of both protocols).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startGateway, srcDir } from './lib/harness.mjs';

const run = promisify(execFile);

test('README quick start examples', async () => {
  const md = readFileSync(join(srcDir, 'README.md'), 'utf8');
  const block = md.match(/In another terminal:\n\n```sh\n([\s\S]*?)```/)[1];
  const cmds = block.replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l.startsWith('curl '));
  assert.ok(cmds.length >= 8);
  const gw = await startGateway({
    plugins: ['ocpp16', 'ocpp201', 'headless', 'webhooks', 'simulator'],
    config: { simulator: { autostart_count: 4, autostart_protocols: 'ocpp1.6 ocpp2.0.1', autostart_sessions: 'yes' } },
  });
  try {
    await gw.waitFor(async () => (await gw.api('GET', '/api/v1/stations/compact')).body.filter((s) => s.online).length === 4,
      20000, 'the simulated fleet online');
    for (const cmd of cmds) {
      const env = { ...process.env, PIPELET: gw.http, KEY: gw.keys.admin };
      const sse = cmd.includes('/sim/v1/events');
      const { stdout, stderr } = await run('bash', ['-c', `${cmd.replace(/#.*$/, '')} -o /tmp/readme-out -w '%{http_code}'`], { env })
        .catch((e) => e);
      const status = Number(stdout);
      assert.ok(sse ? status === 200 : status >= 200 && status < 300, `${cmd}\n-> HTTP ${stdout} ${stderr || ''}\n${readFileSync('/tmp/readme-out', 'utf8').slice(0, 500)}`);
    }
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});
