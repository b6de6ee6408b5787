// mcp-conformance.test.mjs — the official MCP conformance suite
// (@modelcontextprotocol/conformance, server mode over HTTP) against a real daemon.
// The suite's client sends no credentials, so a small local proxy adds the read key;
// everything else (headers, bodies, status codes) reaches /mcp untouched.  The generic
// scenarios (the ones that assume no particular tool catalog) must pass clean.
// MCP_CONFORMANCE_BIN overrides where the suite's command is found.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, srcDir } from './lib/harness.mjs';

const bin = process.env.MCP_CONFORMANCE_BIN || join(srcDir, 'node_modules/.bin/conformance');
const GENERIC = ['server-initialize', 'ping', 'tools-list', 'resources-list', 'server-sse-multiple-streams'];

describe('mcp conformance suite (server mode)', () => {
  let gw, proxy, url;
  before(async () => {
    assert.ok(existsSync(bin), `${bin}: npm install (package.json devDependencies) first`);
    gw = await startGateway({ plugins: ['ocpp16', 'headless', 'mcp'] });
    const target = new URL(`${gw.http}/mcp`);
    proxy = createServer((req, res) => {
      const headers = { ...req.headers, 'x-api-key': gw.keys.read, host: target.host };
      const up = request({ host: target.hostname, port: target.port, path: '/mcp', method: req.method, headers }, (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      up.on('error', () => { res.writeHead(502); res.end(); });
      req.pipe(up);
    });
    await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${proxy.address().port}/mcp`;
  });
  after(async () => {
    proxy?.close();
    if (gw) assert.equal(await gw.stop(), 0, gw.logs().split('\n').filter((l) => /Sanitizer|ERROR/.test(l)).join('\n'));
  });

  for (const scenario of GENERIC) {
    test(scenario, async () => {
      const cwd = mkdtempSync(join(tmpdir(), 'mcp-conformance-')); /* it writes results/ there */
      const out = await new Promise((resolve) => {
        execFile(bin, ['server', '--url', url, '--scenario', scenario], { timeout: 60000, cwd },
          (err, stdout, stderr) => resolve({ code: err ? err.code ?? 1 : 0, text: `${stdout}\n${stderr}` }));
      });
      rmSync(cwd, { recursive: true, force: true });
      assert.equal(out.code, 0, out.text);
      assert.doesNotMatch(out.text, /FAILURE/, out.text);
      const m = out.text.match(/Passed: (\d+)\/(\d+), (\d+) failed/);
      assert.ok(m && m[1] === m[2] && m[3] === '0' && Number(m[1]) > 0, out.text);
    });
  }
});
