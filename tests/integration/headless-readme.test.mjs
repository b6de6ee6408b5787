// headless-readme.test.mjs — every curl example of plugins/headless/README.md works as
// written (PIPELET and KEY pointed at a test gateway, station CP001 connected).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startGateway, srcDir } from './lib/harness.mjs';
import { connectStation } from './lib/stations.mjs';

const run = promisify(execFile);

function examples() {
  const md = readFileSync(join(srcDir, 'plugins/headless/README.md'), 'utf8');
  const block = md.match(/## Examples[\s\S]*?```sh\n([\s\S]*?)```/)[1];
  const lines = block.replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.trim());
  return lines.filter((l) => l.startsWith('curl '));
}

test('README curl examples', async () => {
  const cmds = examples();
  assert.ok(cmds.length >= 15, `found ${cmds.length} examples`);
  const gw = await startGateway({ plugins: ['ocpp16', 'headless'], config: { ocpp16: { unknown_stations: 'accept' } } });
  const st = await connectStation(gw, { id: 'CP001', protocol: 'ocpp1.6', connectors: 2 });
  try {
    // transaction 1 is active on connector 1, so the stop examples have something to stop
    await st.startTx(1, 'RFID-0001', 0);
    await st.status(1, 'Charging');
    await gw.waitFor(async () => (await gw.api('GET', '/api/v1/transactions/1')).body?.active === true, 10000, 'transaction 1');
    for (const cmd of cmds) {
      const env = { ...process.env, PIPELET: gw.http, KEY: gw.keys.admin };
      const { stdout } = await run('bash', ['-c', `${cmd} -o /dev/stderr -w '%{http_code}'`], { env }).catch((e) => e);
      const status = Number(stdout);
      assert.ok(status >= 200 && status < 300, `${cmd}\n-> HTTP ${stdout}`);
    }
  } finally {
    await st.close();
    await gw.stop();
  }
});
