// webhooks-security.test.mjs — a webhook URL cannot reach the gateway's own network
// (SSRF): literal addresses are refused at creation, host names are checked again after
// resolution at every delivery; malformed URLs are refused; the test endpoint follows the
// same rules, hides connection detail and is rate limited; secrets are used whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { RPCClient } from 'ocpp-rpc';
import { startGateway, psql } from './lib/harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function receiver(respond = () => 200) {
  const got = [];
  const hanging = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const entry = { headers: req.headers, body, json: JSON.parse(body) };
      got.push(entry);
      const status = respond(entry);
      if (status === 'hang') { hanging.push(res); return; }
      res.writeHead(status); res.end('ok');
    });
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  const port = server.address().port;
  return {
    got, port, url: `http://127.0.0.1:${port}/hook`,
    close: () => { hanging.forEach((h) => h.destroy()); server.closeAllConnections(); return new Promise((res) => server.close(res)); },
  };
}

/** A host name, not spelled like localhost, that resolves to the loopback only (this
 * machine's name, or another /etc/hosts alias), so the check after resolution is what
 * refuses it. */
async function loopbackName() {
  const hosts = existsSync('/etc/hosts') ? readFileSync('/etc/hosts', 'utf8') : '';
  const names = [hostname(), ...hosts.split('\n').flatMap((l) => l.replace(/#.*/, '').trim().split(/\s+/).slice(1))];
  for (const n of names) {
    if (!n || /localhost/i.test(n) || !/^[a-z0-9.-]+$/i.test(n)) continue;
    const all = await lookup(n, { all: true }).catch(() => []);
    if (all.length && all.every((a) => a.family === 4 && a.address.startsWith('127.'))) return n;
  }
  throw new Error('no host name resolving to the loopback only (add one to /etc/hosts)');
}

const signature = (secret, e) => 'v1=' + createHmac('sha256', secret).update(`${e.headers['x-pipelet-timestamp']}.${e.body}`).digest('hex');

const FORBIDDEN = [
  'http://127.0.0.1/h', 'http://127.1.2.3:8080/h', 'http://127.1/h', 'http://2130706433/h', 'http://0x7f.0.0.1/h',
  'http://localhost/h', 'http://LOCALHOST:9/h', 'http://localhost./h', 'http://api.localhost/h',
  'http://[::1]/h', 'http://[0:0:0:0:0:0:0:1]/h',
  'http://169.254.169.254/latest/meta-data/', 'http://169.254.1.1/h', 'http://[fe80::1]/h', 'http://[febf::1]/h',
  'http://10.0.0.1/h', 'http://10.255.255.255/h', 'http://172.16.0.1/h', 'http://172.31.255.1/h',
  'http://192.168.1.1/h', 'http://[fc00::1]/h', 'http://[fd12:3456::1]/h', 'http://100.64.0.1/h', 'http://100.127.255.254/h',
  'http://0.0.0.0/h', 'http://0/h', 'http://[::]/h',
  'http://224.0.0.1/h', 'http://239.255.255.250/h', 'http://255.255.255.255/h', 'http://[ff02::1]/h',
  'http://[::ffff:127.0.0.1]/h', 'http://[::ffff:7f00:1]/h', 'http://[::ffff:169.254.169.254]/h', 'http://[::ffff:10.0.0.1]/h',
  'http://[::127.0.0.1]/h', 'http://[64:ff9b::a9fe:a9fe]/h', 'http://[2002:7f00:1::1]/h',
];
const ALLOWED = ['https://hooks.example.com/in', 'http://93.184.216.34:8080/h?x=1', 'https://[2606:4700:4700::1111]/h',
  'http://172.32.0.1/h', 'http://100.128.0.1/h', 'https://example.com/a/b%20c?q=1&r=2#frag'];
const MALFORMED = [
  'http://example.com/a\r\nX-Injected: 1', 'http://example.com/a\nb', 'http://exa\tmple.com/', 'http://example.com/a b',
  'http://example.com/\u0001', 'http://example.com/\u007f', 'http://exämple.com/',
  'https://user:pass@example.com/', 'https://user@example.com/', 'http://example.com\\@127.0.0.1/',
  'ftp://example.com/', 'file:///etc/passwd', 'gopher://example.com/', 'javascript:alert(1)', 'example.com/h',
  'http:///path', 'http://', 'https://:443/x', 'http://?x', 'http://[::1/h', 'http://[fe80::1%25eth0]/h',
  'http://example.com:0/', 'http://example.com:65536/', 'http://example.com:8x/', 'http://example.com:/',
  'http://exa_mple.com:80:80/', 'http://example.com/%zz',
];

test('webhook URLs to loopback, link-local, private, unspecified, multicast and mapped addresses are refused', async () => {
  const gw = await startGateway({ plugins: ['webhooks'] });
  try {
    for (const url of FORBIDDEN) {
      const r = await gw.api('POST', '/api/v1/webhooks', { url, events: ['*'] });
      assert.equal(r.status, 400, `${url} refused`);
      assert.equal(r.body.code, 'WEBHOOK_URL_FORBIDDEN', `${url}: ${r.text}`);
    }
    for (const url of MALFORMED) {
      const r = await gw.api('POST', '/api/v1/webhooks', { url, events: ['*'] });
      assert.equal(r.status, 400, `${JSON.stringify(url)} refused`);
      assert.equal(r.body.code, 'WEBHOOK_URL_INVALID', `${JSON.stringify(url)}: ${r.text}`);
    }
    const ids = [];
    for (const url of ALLOWED) {
      const r = await gw.api('POST', '/api/v1/webhooks', { url, events: ['*'], enabled: false });
      assert.equal(r.status, 201, `${url}: ${r.text}`);
      ids.push(r.body.id);
    }
    // the same rules hold for PUT and PATCH
    let r = await gw.api('PATCH', `/api/v1/webhooks/${ids[0]}`, { url: 'http://[::ffff:192.168.0.1]/h' });
    assert.equal(r.status, 400); assert.equal(r.body.code, 'WEBHOOK_URL_FORBIDDEN');
    r = await gw.api('PUT', `/api/v1/webhooks/${ids[0]}`, { url: 'https://u:p@example.com/', events: ['*'] });
    assert.equal(r.status, 400); assert.equal(r.body.code, 'WEBHOOK_URL_INVALID');
    r = await gw.api('GET', `/api/v1/webhooks/${ids[0]}`);
    assert.equal(r.body.url, ALLOWED[0], 'a refused change changes nothing');
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test('[webhooks] allow_private = yes lets a gateway deliver to its own network', async () => {
  const rx = await receiver();
  const gw = await startGateway({ plugins: ['webhooks'], config: { webhooks: { allow_private: 'yes' } } });
  try {
    const c = await gw.api('POST', '/api/v1/webhooks', { url: rx.url, events: ['*'] });
    assert.equal(c.status, 201, c.text);
    const t = await gw.api('POST', `/api/v1/webhooks/${c.body.id}/test`);
    assert.equal(t.body.delivered, true, t.text);
    // malformed URLs stay refused
    const r = await gw.api('POST', '/api/v1/webhooks', { url: 'http://u:p@127.0.0.1/', events: ['*'] });
    assert.equal(r.body.code, 'WEBHOOK_URL_INVALID');
  } finally {
    assert.equal(await gw.stop(), 0); await rx.close();
  }
});

test('a host name that resolves to a forbidden address is not delivered to; the attempt records why', async () => {
  const rx = await receiver();
  const gw = await startGateway({ plugins: ['ocpp16', 'webhooks'],
    config: { webhooks: { base_delay_ms: 50, max_delay_ms: 100, max_attempts: 2 } } });
  try {
    const c = await gw.api('POST', '/api/v1/webhooks', { url: 'https://hooks.example.com/in', events: ['station.connected'] });
    assert.equal(c.status, 201, c.text);
    // the name now resolves to the loopback (DNS changed after creation, or a
    // subscription stored before this check existed)
    const name = await loopbackName();
    psql(gw.database, `update webhooks set url = 'http://${name}:${rx.port}/hook' where id = '${c.body.id}'`);
    const st = new RPCClient({ endpoint: gw.ws, identity: 'WH-SSRF', protocols: ['ocpp1.6'], strictMode: true, reconnect: false });
    await st.connect();
    await gw.waitFor(async () => {
      const r = await gw.api('GET', `/api/v1/webhooks/${c.body.id}/deliveries`);
      return r.body.items.length && r.body.items[0].status === 'failed';
    }, 15000, 'the delivery to fail');
    const d = (await gw.api('GET', `/api/v1/webhooks/${c.body.id}/deliveries`)).body.items[0];
    assert.equal(d.attempts, 2);
    assert.match(d.error, new RegExp(`^forbidden address: ${name} resolves to 127\\.[0-9.]+ \\(loopback\\)`));
    // the test endpoint follows the same rule
    const t = await gw.api('POST', `/api/v1/webhooks/${c.body.id}/test`);
    assert.equal(t.status, 200);
    assert.equal(t.body.delivered, false);
    assert.equal(t.body.response_code, null);
    assert.match(t.body.error, /forbidden address/);
    assert.equal(rx.got.length, 0, 'nothing reached the loopback receiver');
    await st.close();
  } finally {
    assert.equal(await gw.stop(), 0); await rx.close();
  }
});

test('the test endpoint hides connection detail, takes as long for a closed port as for a silent one, and is rate limited', async () => {
  const rx = await receiver(() => 'hang');
  const timeout = 1500;
  const gw = await startGateway({ plugins: ['webhooks'], config: { webhooks: { allow_private: 'yes', timeout_ms: timeout } } });
  try {
    const closed = await gw.api('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:1/x', events: ['*'] });
    const silent = await gw.api('POST', '/api/v1/webhooks', { url: rx.url, events: ['*'] });
    const probe = async (id) => {
      const t0 = Date.now();
      const r = await gw.api('POST', `/api/v1/webhooks/${id}/test`);
      return { r, ms: Date.now() - t0 };
    };
    const [a, b] = await Promise.all([probe(closed.body.id), probe(silent.body.id)]);
    for (const { r } of [a, b]) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.delivered, false);
      assert.equal(r.body.response_code, null);
      assert.equal(r.body.error, 'delivery failed');
      assert.equal(r.body.latency_ms, null);
      assert.doesNotMatch(r.text, /refused|reset|connect|timeout|tls/i);
    }
    assert.ok(a.ms >= timeout - 100, `a refused connection is answered after the timeout too (${a.ms} ms)`);
    // one test per second per subscription
    const again = await gw.api('POST', `/api/v1/webhooks/${closed.body.id}/test`);
    assert.equal(again.status, 429, again.text);
    assert.equal(again.body.code, 'RATE_LIMITED');
    assert.equal(again.headers.get('retry-after'), '1');
    await sleep(1100);
    const later = await gw.api('POST', `/api/v1/webhooks/${closed.body.id}/test`);
    assert.equal(later.status, 200);
  } finally {
    assert.equal(await gw.stop(), 0); await rx.close();
  }
});

test('secrets of 16..256 bytes are used whole; others are refused', async () => {
  const rx = await receiver();
  const gw = await startGateway({ plugins: ['webhooks'], config: { webhooks: { allow_private: 'yes' } } });
  try {
    const long = 's'.repeat(100) + 'x'.repeat(100) + 'é'.repeat(28); // 228 characters, 256 bytes
    const c = await gw.api('POST', '/api/v1/webhooks', { url: rx.url, events: ['*'], secret: long });
    assert.equal(c.status, 201, c.text);
    assert.equal(c.body.secret, long, 'the secret shown is the one given');
    await gw.api('POST', `/api/v1/webhooks/${c.body.id}/test`);
    assert.equal(rx.got.length, 1);
    assert.equal(rx.got[0].headers['x-pipelet-signature'], signature(long, rx.got[0]), 'signed with the whole secret');
    assert.notEqual(rx.got[0].headers['x-pipelet-signature'], signature(long.slice(0, 64), rx.got[0]));
    // a rotated secret is used whole too
    const rotated = 'r'.repeat(256);
    const p = await gw.api('PATCH', `/api/v1/webhooks/${c.body.id}`, { secret: rotated });
    assert.equal(p.status, 200);
    await sleep(1100);
    await gw.api('POST', `/api/v1/webhooks/${c.body.id}/test`);
    assert.equal(rx.got[1].headers['x-pipelet-signature'], signature(rotated, rx.got[1]));
    for (const secret of ['t'.repeat(257), 'short', 42]) {
      const r = await gw.api('POST', '/api/v1/webhooks', { url: rx.url, events: ['*'], secret });
      assert.equal(r.status, 400, JSON.stringify(secret));
      assert.equal(r.body.code, 'INVALID_PARAMETER');
    }
  } finally {
    assert.equal(await gw.stop(), 0); await rx.close();
  }
});
