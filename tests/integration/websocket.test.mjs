// websocket.test.mjs — the RFC 6455 server as an independent client (npm `ws`) sees it:
// handshakes and subprotocol negotiation, fragmented messages, ping/pong, close codes,
// invalid UTF-8, oversized messages, and raw-socket misbehaviour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { startGateway } from './lib/harness.mjs';

const boot = (id) => JSON.stringify([2, id, 'BootNotification', { chargePointVendor: 'V', chargePointModel: 'M' }]);
const opened = (ws) => new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); ws.once('unexpected-response', (_, r) => rej(new Error(`HTTP ${r.statusCode}`))); });
const closed = (ws) => new Promise((res) => ws.once('close', (code, reason) => res({ code, reason: reason.toString() })));
const message = (ws) => new Promise((res) => ws.once('message', (d, isBinary) => res({ text: d.toString(), isBinary })));

async function rawUpgrade(gw, id) {
  const sock = net.connect(Number(new URL(gw.ws).port), '127.0.0.1');
  await new Promise((res) => sock.once('connect', res));
  let buf = Buffer.alloc(0);
  sock.on('data', (d) => { buf = Buffer.concat([buf, d]); });
  sock.write(`GET /ocpp/${id} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n');
  await gw.waitFor(() => buf.includes('\r\n\r\n'), 5000, '101');
  const head = buf.toString();
  buf = buf.subarray(buf.indexOf('\r\n\r\n') + 4);
  return { sock, head, data: () => buf };
}

test('websocket layer against the npm ws client', async (t) => {
  const gw = await startGateway({ plugins: ['ocpp16', 'ocpp201'], config: { ocpp: { max_message: 65536, ping_interval: 1 } } });
  try {
    await t.test('subprotocol negotiation picks the first offered one we serve', async () => {
      const ws = new WebSocket(`${gw.ws}/WS-1`, ['ocpp2.0', 'ocpp2.0.1', 'ocpp1.6']);
      await opened(ws);
      assert.equal(ws.protocol, 'ocpp2.0.1');
      ws.close(1000);
      await closed(ws);
    });
    await t.test('no supported subprotocol: refused before the upgrade', async () => {
      const ws = new WebSocket(`${gw.ws}/WS-2`, ['mqtt']);
      await assert.rejects(opened(ws), /HTTP 400/);
      const ws2 = new WebSocket(`${gw.ws}/WS-2`);
      await assert.rejects(opened(ws2), /HTTP 400/);
    });
    await t.test('a fragmented message is reassembled', async () => {
      const ws = new WebSocket(`${gw.ws}/WS-3`, ['ocpp1.6']);
      await opened(ws);
      const text = boot('frag-1');
      const reply = message(ws);
      ws.send(text.slice(0, 10), { fin: false });
      ws.send(text.slice(10, 30), { fin: false });
      ws.send(text.slice(30), { fin: true });
      const r = JSON.parse((await reply).text);
      assert.deepEqual(r.slice(0, 2), [3, 'frag-1']);
      assert.equal(r[2].status, 'Accepted');
      ws.close();
      await closed(ws);
    });
    await t.test('pings are answered, and the server pings idle clients', async () => {
      const ws = new WebSocket(`${gw.ws}/WS-4`, ['ocpp1.6']);
      await opened(ws);
      const pong = new Promise((res) => ws.once('pong', (d) => res(d.toString())));
      ws.ping('hello');
      assert.equal(await pong, 'hello');
      const ping = new Promise((res) => ws.once('ping', res));
      await ping; // ping_interval = 1 s
      ws.close(4000, 'bye');
      const c = await closed(ws);
      assert.equal(c.code, 4000);
      assert.equal(c.reason, 'bye', 'the close code and reason are echoed');
    });
    await t.test('invalid UTF-8 in a text message closes with 1007', async () => {
      const { sock, data } = await rawUpgrade(gw, 'RAW-UTF8');
      const payload = Buffer.from([0x5b, 0xc0, 0xaf, 0x5d]); // "[" overlong "/" "]"
      const mask = Buffer.from([1, 2, 3, 4]);
      const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
      sock.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
      await gw.waitFor(() => data().length >= 4, 5000, 'close frame');
      assert.equal(data()[0], 0x88);
      assert.equal(data().readUInt16BE(2), 1007);
      sock.destroy();
    });
    await t.test('a message over [ocpp] max_message closes with 1009', async () => {
      const ws = new WebSocket(`${gw.ws}/WS-6`, ['ocpp1.6']);
      await opened(ws);
      const c = closed(ws);
      ws.send('x'.repeat(70000));
      assert.equal((await c).code, 1009);
    });
    await t.test('a binary message gets a CALLERROR, the connection stays', async () => {
      const ws = new WebSocket(`${gw.ws}/WS-7`, ['ocpp1.6']);
      await opened(ws);
      const m = message(ws);
      ws.send(Buffer.from([1, 2, 3]));
      assert.equal(JSON.parse((await m).text)[0], 4);
      const r = message(ws);
      ws.send(boot('after-binary'));
      assert.equal(JSON.parse((await r).text)[1], 'after-binary');
      ws.terminate();
    });
    await t.test('raw sockets: an unmasked client frame is a protocol error (1002)', async () => {
      const sock = net.connect(Number(new URL(gw.ws).port), '127.0.0.1');
      await new Promise((res) => sock.once('connect', res));
      let buf = Buffer.alloc(0);
      sock.on('data', (d) => { buf = Buffer.concat([buf, d]); });
      sock.write('GET /ocpp/RAW-1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n');
      await gw.waitFor(() => buf.includes('\r\n\r\n'), 5000, '101');
      assert.match(buf.toString(), /^HTTP\/1\.1 101 .*\r\n[\s\S]*Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
      buf = Buffer.alloc(0);
      sock.write(Buffer.from([0x81, 0x02, 0x5b, 0x5d])); // unmasked text "[]"
      await gw.waitFor(() => buf.length >= 4, 5000, 'close frame');
      assert.equal(buf[0], 0x88);
      assert.equal(buf.readUInt16BE(2), 1002);
      sock.destroy();
    });
    await t.test('raw sockets: frames split across reads, and several in one read, are each answered once', async () => {
      // A masked text frame of a CALL; the gateway reads into a buffer it reuses, so a
      // frame's first part must survive the next read of any connection.
      const frame = (text) => {
        const p = Buffer.from(text), mask = Buffer.from([1, 2, 3, 4]);
        const head = p.length < 126 ? Buffer.from([0x81, 0x80 | p.length]) : Buffer.from([0x81, 0x80 | 126, p.length >> 8, p.length & 255]);
        return Buffer.concat([head, mask, Buffer.from(p.map((b, i) => b ^ mask[i % 4]))]);
      };
      const hb = (id) => frame(JSON.stringify([2, id, 'Heartbeat', {}]));
      const a = await rawUpgrade(gw, 'RAW-SPLIT-A'), b = await rawUpgrade(gw, 'RAW-SPLIT-B');
      const pause = () => new Promise((r) => setTimeout(r, 30));
      const first = frame(boot('b1'));
      // A: its boot's first 40 bytes (header and part of the payload), then B's whole
      // frame, read into the same buffer, then A's rest; then A's first byte alone, the
      // header's rest, the payload in parts
      a.sock.write(first.subarray(0, 40)); await pause();
      b.sock.write(hb('x1')); await pause();
      a.sock.write(first.subarray(40)); await pause();
      const second = frame(boot('b2'));
      a.sock.write(second.subarray(0, 1)); await pause();
      b.sock.write(hb('x2')); await pause();
      a.sock.write(second.subarray(1, 5)); await pause();
      b.sock.write(hb('x3')); await pause();
      a.sock.write(second.subarray(5)); await pause();
      // then two whole frames and part of a third (past its id) in one write, the rest later
      const third = hb('h3');
      a.sock.write(Buffer.concat([hb('h1'), hb('h2'), third.subarray(0, 14)])); await pause();
      b.sock.write(hb('x4')); await pause();
      a.sock.write(third.subarray(14));
      const texts = (buf) => {
        const out = [];
        for (let i = 0; i + 2 <= buf.length;) {
          let len = buf[i + 1] & 127, off = 2;
          if (len === 126) { len = buf.readUInt16BE(i + 2); off = 4; }
          if (i + off + len > buf.length) break;
          out.push(buf.subarray(i + off, i + off + len).toString());
          i += off + len;
        }
        return out;
      };
      const ids = (buf) => texts(buf).map((t) => JSON.parse(t)).filter((m) => m[0] === 3).map((m) => m[1]);
      await gw.waitFor(() => texts(a.data()).length >= 5 && ids(b.data()).length >= 4, 5000, 'answers');
      assert.deepEqual(ids(a.data()), ['b1', 'b2', 'h1', 'h2', 'h3']);
      assert.deepEqual(ids(b.data()), ['x1', 'x2', 'x3', 'x4']);
      a.sock.destroy();
      b.sock.destroy();
    });
    await t.test('raw sockets: malformed upgrades get HTTP errors and the server keeps serving', async () => {
      const port = Number(new URL(gw.ws).port);
      const ask = (req) => new Promise((res) => {
        const s = net.connect(port, '127.0.0.1', () => s.write(req));
        let out = '';
        s.on('data', (d) => { out += d; });
        s.on('close', () => res(out));
        s.on('error', () => res(out));
      });
      assert.match(await ask('GET /ocpp/X HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 400/);
      assert.match(await ask('GET /ocpp/X HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'), /^HTTP\/1\.1 426[\s\S]*Sec-WebSocket-Version: 13/);
      assert.match(await ask('POST /ocpp/X HTTP/1.1\r\n\r\n'), /^HTTP\/1\.1 400/);
      assert.match(await ask('GET /ocpp/X HTTP/1.1\r\n' + 'X-Long: ' + 'a'.repeat(9000) + '\r\n\r\n'), /^HTTP\/1\.1 431/);
      const ws = new WebSocket(`${gw.ws}/WS-8`, ['ocpp1.6']);
      await opened(ws);
      ws.terminate();
    });
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});
