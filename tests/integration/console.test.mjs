// console.test.mjs — the operations console in a real browser: Debian's chromium driven by
// playwright-core (no browser download), against a gateway with a simulated fleet.  A wrong
// key is told so; the fleet page lists the stations and a fault injected through the
// simulator API shows as Faulted within a second; a remote start from the station page
// starts a session whose power chart moves; a read-only key sees no command buttons.
// Screenshots of every page go to <build>/console-screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startGateway, buildDir } from './lib/harness.mjs';

const CHROMIUM = process.env.PIPELET_CHROMIUM || '/usr/bin/chromium';
const shots = join(buildDir, 'console-screenshots');
let gw, browser;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM}: install Debian's chromium (scripts/deps does)`);
  mkdirSync(shots, { recursive: true });
  gw = await startGateway({
    plugins: ['ocpp16', 'ocpp201', 'headless', 'simulator', 'console'],
    required: ['ocpp16', 'ocpp201', 'headless', 'simulator', 'console'],
    config: { simulator: { api_key_required: 'no' } },
  });
  for (const [prefix, protocol] of [['CON', 'ocpp1.6'], ['COW', 'ocpp2.0.1']]) {
    const r = await gw.api('POST', '/sim/v1/fleets', {
      id_prefix: prefix, count: 3, template: { protocol, connectors: 2, meter_interval_s: 1, max_power_w: 11000 },
    });
    assert.equal(r.status, 201, r.text);
  }
  for (const id of ['CON0001', 'CON0002', 'CON0003', 'COW0001', 'COW0002', 'COW0003'])
    await gw.waitFor(async () => (await gw.api('GET', `/api/v1/stations/${id}`)).body?.online, 15000, `${id} online`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
});

after(async () => {
  if (browser) await browser.close();
  if (gw) assert.equal(await gw.stop(), 0, 'clean exit (ASan)');
});

async function signedIn(key) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error' && !/401|403|404/.test(m.text())) problems.push(m.text()); });
  await page.goto(`${gw.http}/console`);
  await page.fill('#key', key);
  await page.click('#signin button[type=submit]');
  page.problems = problems;
  return page;
}

test('GET /api/v1/events: the bus as Server-Sent Events, filtered by type and station', async () => {
  assert.equal((await fetch(`${gw.http}/api/v1/events`)).status, 401);
  assert.equal((await gw.api('GET', '/api/v1/events?types=Station;drop')).status, 400);
  const ac = new AbortController();
  const res = await fetch(`${gw.http}/api/v1/events?types=station.status&station=COW0002`, {
    headers: { 'X-API-Key': gw.keys.read }, signal: ac.signal,
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/event-stream/);
  const reader = res.body.getReader();
  let text = '';
  const read = (async () => {
    while (!/event: station\.status\ndata: .*\n\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
  })();
  await gw.api('POST', '/sim/v1/stations/COW0001/faults', { type: 'connector_fault', connector: 2 }); // another station: filtered out
  await gw.api('POST', '/sim/v1/stations/COW0002/faults', { type: 'connector_fault', connector: 2 });
  await read;
  ac.abort();
  const data = JSON.parse(text.match(/event: station\.status\ndata: (.*)\n\n/)[1]);
  assert.equal(data.type, 'station.status');
  assert.equal(data.station, 'COW0002');
  assert.equal(data.data.status, 'Faulted');
  assert.ok(!text.includes('COW0001'));
  for (const id of ['COW0001', 'COW0002'])
    await gw.api('POST', `/sim/v1/stations/${id}/faults`, { type: 'clear_connector_fault', connector: 2 });
});

test('the page is served by the gateway with a strict policy; a wrong key is told so', async () => {
  const res = await fetch(`${gw.http}/console`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-security-policy'), /script-src 'self'/);
  assert.match(await res.text(), /<script src="\/console\/app.js">/);
  assert.equal((await fetch(`${gw.http}/console/app.js`)).headers.get('content-type'), 'text/javascript; charset=utf-8');
  const page = await signedIn('not-a-key-of-this-gateway');
  await page.waitForSelector('#signin-error:has-text("refused")', { timeout: 5000 });
  assert.match(await page.textContent('#signin-error'), /401/);
  await page.screenshot({ path: join(shots, 'signin-refused.png') });
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('fleet: the simulated stations are listed, and a fault shows as Faulted within a second', async () => {
  const page = await signedIn(gw.keys.operator);
  for (const id of ['CON0001', 'CON0002', 'COW0003']) await page.waitForSelector(`[data-station="${id}"]`, { timeout: 10000 });
  assert.match(await page.textContent('#counts'), /6 stations/);
  await page.screenshot({ path: join(shots, 'fleet.png') });
  // search filters the list
  await page.fill('#fleet-search', 'COW');
  await page.waitForFunction(() => document.querySelectorAll('#fleet-list .item').length === 3);
  await page.fill('#fleet-search', '');
  await page.waitForSelector('[data-station="CON0002"]');
  const r = await gw.api('POST', '/sim/v1/stations/CON0002/faults', { type: 'connector_fault', connector: 1 });
  assert.equal(r.status, 200, r.text);
  await page.waitForSelector('[data-station="CON0002"][data-status="Faulted"]', { timeout: 1000 });
  await page.screenshot({ path: join(shots, 'fleet-fault.png') });
  assert.equal((await gw.api('POST', '/sim/v1/stations/CON0002/faults', { type: 'clear_connector_fault', connector: 1 })).status, 200);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('station: a remote start from the console starts a session whose power chart moves', async () => {
  const page = await signedIn(gw.keys.operator);
  await page.waitForSelector('[data-station="CON0001"]');
  await page.click('[data-station="CON0001"] a');
  await page.waitForSelector('tr[data-connector="1"] .cmd-start', { timeout: 10000 });
  await page.fill('tr[data-connector="1"] input.token', 'CONSOLE01');
  await page.click('tr[data-connector="1"] .cmd-start');
  await page.waitForSelector('#outcome:has-text("done")', { timeout: 15000 });
  // meter values every second: the chart gets points and the power is above zero
  await page.waitForFunction(() => {
    const c = document.querySelector('#power');
    return c && Number(c.dataset.points) >= 3 && Number(c.dataset.last) > 0;
  }, null, { timeout: 15000 });
  const before = Number(await page.getAttribute('#power', 'data-points'));
  await page.waitForFunction((n) => Number(document.querySelector('#power').dataset.points) > n, before, { timeout: 10000 });
  await page.waitForSelector('tr[data-connector="1"] .cmd-stop');
  await page.screenshot({ path: join(shots, 'station.png'), fullPage: true });
  await page.click('a[data-page="sessions"]');
  await page.waitForSelector('#active-sessions td:has-text("CON0001")', { timeout: 5000 });
  await page.screenshot({ path: join(shots, 'sessions.png') });
  await page.goBack();
  await page.waitForSelector('tr[data-connector="1"] .cmd-stop', { timeout: 10000 });
  await page.click('tr[data-connector="1"] .cmd-stop');
  await page.waitForSelector('tr[data-connector="1"] .cmd-start', { timeout: 15000 });
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('a read-only key sees everything and no command buttons', async () => {
  const page = await signedIn(gw.keys.read);
  await page.waitForSelector('[data-station="COW0001"]');
  assert.match(await page.textContent('#who'), /read-only/);
  await page.click('[data-station="COW0001"] a');
  await page.waitForSelector('#read-only');
  await page.waitForSelector('tr[data-connector="1"]');
  assert.equal(await page.locator('button.cmd-start, button.cmd-reset, button.cmd-unlock, #station-commands').count(), 0);
  await page.screenshot({ path: join(shots, 'station-read-only.png'), fullPage: true });
  await page.click('a[data-page="simulator"]');
  await page.waitForSelector('#sim-stream', { state: 'attached' });
  assert.equal(await page.locator('#sim-create, #fault-inject').count(), 0);
  await page.screenshot({ path: join(shots, 'simulator-read-only.png') });
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('simulator and gateway pages (admin key)', async () => {
  const page = await signedIn(gw.keys.admin);
  await page.waitForSelector('[data-station="CON0001"]');
  await page.click('a[data-page="simulator"]');
  await page.waitForSelector('#sim-create');
  // a fault injected from the page: its StatusNotification shows in the message stream
  await page.fill('#fault-station', 'CON0003');
  await page.selectOption('#fault-type', 'connector_fault');
  await page.fill('#fault-connector', '2');
  await page.click('#fault-inject');
  await page.waitForSelector('#sim-stream td:has-text("StatusNotification")', { timeout: 10000 });
  await gw.waitFor(async () => (await gw.api('GET', '/api/v1/stations/CON0003')).body?.evses
    ?.find((e) => e.evse === 2)?.connectors?.[0]?.status === 'Faulted', 5000, 'connector 2 Faulted');
  await page.screenshot({ path: join(shots, 'simulator.png') });
  await page.click('a[data-page="gateway"]');
  await page.waitForSelector('#health td:has-text("ok")', { timeout: 5000 });
  await page.screenshot({ path: join(shots, 'gateway.png'), fullPage: true });
  await page.click('#signout');
  await page.waitForSelector('#signin');
  assert.deepEqual(page.problems, []);
  await page.close();
});
