// simulator-authorize.test.mjs — the benchmark's Authorize closed loop: every simulated
// station presents its own card as soon as the last Authorize was answered, and the
// gateway answers each from its token table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './lib/harness.mjs';

test('closed_loop_action = Authorize drives Authorize for both protocols, answered from the token table', async () => {
  const gw = await startGateway({
    plugins: ['ocpp16', 'ocpp201', 'simulator'],
    config: { core: { auth_unknown: 'reject' },
      simulator: { autostart_count: 2, autostart_protocols: 'ocpp1.6,ocpp2.0.1', closed_loop: 'yes', closed_loop_action: 'Authorize', heartbeat_s: 3600 } },
  });
  try {
    await gw.waitFor(async () => ((await gw.api('GET', '/sim/v1/report')).body.actions.Authorize?.count || 0) >= 50, 20000, 'Authorize loop');
    const report = (await gw.api('GET', '/sim/v1/report')).body;
    assert.equal(report.errors, 0);
    // each decision is published and counted (unknown cards, reject: Invalid)
    const m = (await gw.api('GET', '/metrics')).text;
    assert.match(m, /pipelet_authorizations_total\{status="Invalid",reason="unknown"\} \d+/);
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});
