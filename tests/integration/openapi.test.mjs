// openapi.test.mjs — the API description at /api/v1/openapi.json is assembled from what
// is registered (the core's part and each plugin's), so with every shipped plugin loaded:
// every route the router serves is described and nothing described is missing; the
// document is well formed (a linter from npm, and our own checks: summaries, path
// parameters, 2xx and 401 responses, the Error schema); and request bodies behave as the
// document says — for every operation with a JSON body, bodies generated from its schema
// are not refused as malformed, and bodies that break it get 400 naming the field.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startGateway, srcDir } from './lib/harness.mjs';

const PLUGINS = ['ocpp16', 'ocpp201', 'headless', 'webhooks', 'simulator', 'mcp', 'oicp', 'pnc'];
let gw;
let doc;

before(async () => {
  gw = await startGateway({ plugins: PLUGINS });
  const r = await gw.api('GET', '/api/v1/openapi.json', null, { key: '' });
  assert.equal(r.status, 200, 'served without a key');
  assert.match(r.headers.get('content-type'), /application\/json/);
  doc = r.body;
});
after(async () => { if (gw) assert.equal(await gw.stop(), 0); });

function resolve(o) {
  while (o && o.$ref) o = o.$ref.split('/').slice(1).reduce((a, k) => a?.[k], doc);
  return o;
}

function operations() {
  const out = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(item)) {
      if (['get', 'post', 'put', 'patch', 'delete'].includes(m)) out.push({ method: m.toUpperCase(), path, op });
    }
  }
  return out;
}

test('every route the router serves is described, and only those', async () => {
  assert.equal(doc.openapi, '3.1.0');
  const routes = await gw.api('GET', '/api/v1/system/routes');
  assert.equal(routes.status, 200, routes.text);
  const undescribed = routes.body.items.filter((x) => !x.documented).map((x) => `${x.plugin}: ${x.method} ${x.pattern}`);
  assert.deepEqual(undescribed, [], 'routes without a description');
  const served = new Set(routes.body.items.map((x) => `${x.method} ${x.pattern}`));
  const invented = operations().map((o) => `${o.method} ${o.path}`).filter((x) => !served.has(x));
  assert.deepEqual(invented, [], 'described operations the router does not serve');
  const scopeOf = Object.fromEntries(routes.body.items.map((x) => [`${x.method} ${x.pattern}`, x.scope]));
  for (const { method, path, op } of operations()) assert.equal(op['x-scope'], scopeOf[`${method} ${path}`], `${method} ${path}: x-scope`);
});

test('the document is well formed', () => {
  const err = doc.components.schemas.Error;
  assert.deepEqual(err.required, ['error', 'code']);
  const ids = new Set();
  for (const { method, path, op } of operations()) {
    const where = `${method} ${path}`;
    assert.ok(op.summary, `${where}: summary`);
    if (op.operationId) { assert.ok(!ids.has(op.operationId), `${where}: operationId ${op.operationId} is unique`); ids.add(op.operationId); }
    // an operation succeeds somehow, or documents that the server declines it (MCP's GET /mcp: 405)
    assert.ok(op.responses && Object.keys(op.responses).some((s) => s.startsWith('2') || s === '405'), `${where}: a 2xx (or a documented 405) response`);
    const params = (op.parameters || []).map(resolve);
    for (const [, n] of path.matchAll(/\{(\w+)\}/g)) {
      assert.ok(params.some((p) => p.in === 'path' && p.name === n && p.required), `${where}: path parameter ${n}`);
    }
    if (op['x-scope'] !== 'none') assert.ok(op.responses['401'], `${where}: documents 401`);
    if (op.requestBody?.content?.['application/json']) assert.ok(op.requestBody.content['application/json'].schema, `${where}: body schema`);
    if (op.requestBody?.content?.['application/json']?.schema) assert.ok(op.responses['400'], `${where}: a described body documents 400`);
    for (const [status, resp] of Object.entries(op.responses)) {
      if (+status < 400) continue;
      const content = resolve(resp).content;
      if (!content?.['application/json']) continue;
      const schema = resolve(content['application/json'].schema);
      const ok = schema === err || (schema?.allOf && resolve(schema.allOf[0]) === err) || (path.endsWith('/health') && status === '503');
      assert.ok(ok, `${where}: ${status} uses the Error schema`);
    }
  }
});

test('a linter from npm finds no errors', { skip: !existsSync(join(srcDir, 'node_modules/@redocly/cli')) && 'npm install first' }, () => {
  const file = join(gw.dir, 'openapi.json');
  writeFileSync(file, JSON.stringify(doc));
  const cli = join(srcDir, 'node_modules/@redocly/cli/bin/cli.js');
  const r = spawnSync(process.execPath, [cli, 'lint', '--format=stylish', '--extends=recommended',
    '--skip-rule=info-license-url', '--skip-rule=operation-4xx-response', file], { encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
});

// ---- bodies generated from the schemas ----

function merged(schema) {
  schema = resolve(schema) || {};
  if (schema.allOf) return schema.allOf.map(merged).reduce((a, b) => ({ ...a, ...b, properties: { ...a.properties, ...b.properties }, required: [...(a.required || []), ...(b.required || [])] }), { ...schema, allOf: undefined });
  return schema;
}

function sample(schema, depth = 0) {
  schema = merged(schema);
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  if (schema.example !== undefined) return schema.example;
  const branch = schema.oneOf || schema.anyOf;
  if (branch) {
    const b = merged(branch[0]);
    return sample({ ...schema, oneOf: undefined, anyOf: undefined, ...b, properties: { ...schema.properties, ...b.properties }, required: [...(schema.required || []), ...(b.required || [])] }, depth + 1);
  }
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const o = {};
      for (const k of schema.required || []) o[k] = sample(schema.properties?.[k] || {}, depth + 1);
      return o;
    }
    case 'array': return Array.from({ length: schema.minItems || 0 }, () => sample(schema.items || {}, depth + 1));
    case 'integer': return schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1);
    case 'number': return schema.minimum ?? 1;
    case 'boolean': return true;
    case 'string':
      if (schema.format === 'date-time') return new Date(Date.now() + 3600e3).toISOString();
      if (schema.format === 'uri') return 'https://example.com/x';
      return 'x'.repeat(Math.max(schema.minLength || 1, 1));
    default: return {};
  }
}

const wrong = (schema) => {
  const t = merged(schema).type;
  const ty = Array.isArray(t) ? t : [t];
  if (ty.includes('string')) return ty.includes('object') ? 42 : { not: 'a string' };
  return 'not-a-' + (ty[0] || 'value');
};

function target(path, op) {
  // a value each path parameter's schema allows: its enum or example, else one that fits
  const params = Object.fromEntries((op.parameters || []).map(resolve).filter((p) => p.in === 'path').map((p) => [p.name, resolve(p.schema) || {}]));
  const value = (s) => {
    if (s.enum) return s.enum[0];
    if (s.example !== undefined) return s.example;
    if (['integer', 'number'].includes(s.type)) return '999999';
    return ['nobody1', '999999'].find((v) => !s.pattern || new RegExp(s.pattern).test(v)) ?? 'nobody1';
  };
  return path.replace(/\{(\w+)\}/g, (_, n) => encodeURIComponent(value(params[n] || {})));
}

const MALFORMED = new Set(['INVALID_JSON', 'INVALID_BODY', 'MISSING_PARAMETER', 'INVALID_PARAMETER', 'INVALID_ENUM', 'VALIDATION_ERROR']);

test('bodies generated from the schemas: valid ones are not refused as malformed, invalid ones name the field', async () => {
  const problems = [];
  let checked = 0;
  for (const { method, path, op } of operations()) {
    const schema = op.requestBody?.content?.['application/json']?.schema;
    if (!schema || !['POST', 'PUT', 'PATCH'].includes(method)) continue;
    const s = merged(schema);
    const url = target(path, op) + (path.startsWith('/sim/') ? '' : '?timeout=1');
    const where = `${method} ${path}`;
    const valid = sample(s);
    const ok = await gw.api(method, url, valid);
    checked++;
    // a body the endpoint checks itself, in its own protocol (MCP: JSON-RPC errors), is not the router's
    if (s['x-checked-by-handler']) continue;
    if (ok.status === 400 && MALFORMED.has(ok.body?.code)) problems.push(`${where}: a valid body ${JSON.stringify(valid)} was refused: ${ok.text}`);
    if (ok.status >= 500 && ok.status !== 502 && ok.status !== 503 && ok.status !== 504) problems.push(`${where}: ${ok.status} ${ok.text}`);
    if (s.type === 'object' && s.required?.length) {
      const missing = { ...valid };
      delete missing[s.required[0]];
      const r = await gw.api(method, url, missing);
      if (r.status !== 400 || r.body?.code !== 'MISSING_PARAMETER' || r.body?.field !== s.required[0]) {
        problems.push(`${where}: without ${s.required[0]}: ${r.status} ${r.text}`);
      }
    }
    const prop = Object.keys(s.properties || {})[0];
    if (s.type === 'object' && prop) {
      const bad = { ...valid, [prop]: wrong(s.properties[prop]) };
      const r = await gw.api(method, url, bad);
      if (r.status !== 400 || !['INVALID_PARAMETER'].includes(r.body?.code) || !String(r.body?.field).startsWith(prop)) {
        problems.push(`${where}: ${prop} of the wrong type: ${r.status} ${r.text}`);
      }
    }
    const notObject = await gw.api(method, url, '[1,2]');
    if (s.type === 'object' && notObject.status !== 400) problems.push(`${where}: an array body: ${notObject.status} ${notObject.text}`);
  }
  assert.deepEqual(problems, []);
  assert.ok(checked >= 20, `operations with a JSON body: ${checked}`);
});
