// headless-openapi.test.mjs — the OpenAPI 3.1 document at /api/v1/openapi.json describes
// exactly the routes the plugin registered (no missing route, no invented one), with
// parameters, bodies and the {"error","code"} error schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startGateway, srcDir } from './lib/harness.mjs';

function resolve(doc, o) {
  while (o && o.$ref) o = o.$ref.split('/').slice(1).reduce((a, k) => a[k], doc);
  return o;
}

test('openapi.json matches the router and is well formed', async () => {
  const gw = await startGateway({ plugins: ['headless'] });
  try {
    const r = await gw.api('GET', '/api/v1/openapi.json', null, { key: '' });
    assert.equal(r.status, 200, 'served without a key');
    assert.match(r.headers.get('content-type'), /application\/json/);
    const doc = r.body;
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(doc, JSON.parse(readFileSync(join(srcDir, 'plugins/headless/openapi.json'), 'utf8')), 'the embedded copy is the source file');

    const routes = await gw.api('GET', '/api/v1/system/routes');
    assert.equal(routes.status, 200, routes.text);
    const registered = new Set(routes.body.items.map((x) => `${x.method} ${x.pattern}`));
    const documented = new Set();
    const core = []; // routes the core itself registers (x-owner: core): not in the plugin's table
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(ops)) {
        if (op['x-owner'] === 'core') core.push([m.toUpperCase(), path]);
        else documented.add(`${m.toUpperCase()} ${path}`);
      }
    }
    for (const [m, path] of core) { // they exist: not a 404 "no such route"
      const res = await gw.api(m, path.replace(/\{\w+\}/g, 'nobody'), m === 'POST' ? {} : undefined);
      assert.notEqual(res.body?.code, 'NOT_FOUND', `${m} ${path} is served`);
      assert.ok(res.status !== 405, `${m} ${path} is served`);
    }
    const missing = [...registered].filter((x) => !documented.has(x));
    const invented = [...documented].filter((x) => !registered.has(x));
    assert.deepEqual(missing, [], 'routes missing from openapi.json');
    assert.deepEqual(invented, [], 'openapi.json names routes that do not exist');

    const scopeOf = Object.fromEntries(routes.body.items.map((x) => [`${x.method} ${x.pattern}`, x.scope]));
    const err = doc.components.schemas.Error;
    assert.deepEqual(err.required, ['error', 'code']);
    for (const [path, ops] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const [m, op] of Object.entries(ops)) {
        const where = `${m.toUpperCase()} ${path}`;
        assert.ok(op.summary, `${where}: summary`);
        assert.ok(op.responses && Object.keys(op.responses).some((s) => s.startsWith('2')), `${where}: a 2xx response`);
        const params = (op.parameters || []).map((p) => resolve(doc, p));
        for (const n of names) {
          assert.ok(params.some((p) => p.in === 'path' && p.name === n && p.required), `${where}: path parameter ${n}`);
        }
        if (op['x-owner'] !== 'core') assert.equal(op['x-scope'], scopeOf[where], `${where}: x-scope matches the route's scope`);
        if (scopeOf[where] !== 'none' && scopeOf[where] !== 'config') {
          assert.ok(op.responses['401'], `${where}: documents 401`);
        }
        if (['POST', 'PUT'].includes(m.toUpperCase()) && op.requestBody) {
          assert.ok(op.requestBody.content['application/json'].schema, `${where}: body schema`);
        }
        for (const [status, resp] of Object.entries(op.responses)) {
          if (+status < 400) continue;
          const schema = resolve(doc, resolve(doc, resp).content?.['application/json']?.schema);
          const ok = schema === err || (schema.allOf && resolve(doc, schema.allOf[0]) === err) || status === '503';
          assert.ok(ok, `${where}: ${status} uses the Error schema`);
        }
      }
    }
  } finally {
    await gw.stop();
  }
});

test('the route table in headless.c is the one the router serves', async () => {
  const src = readFileSync(join(srcDir, 'plugins/headless/headless.c'), 'utf8');
  const table = [...src.matchAll(/\{"(GET|POST|PUT|DELETE|PATCH)", "([^"]+)"/g)].map((m) => `${m[1]} ${m[2]}`);
  const doc = JSON.parse(readFileSync(join(srcDir, 'plugins/headless/openapi.json'), 'utf8'));
  const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.entries(ops)
    .filter(([, op]) => op['x-owner'] !== 'core').map(([m]) => `${m.toUpperCase()} ${p}`));
  assert.deepEqual([...table].sort(), [...documented].sort());
});
