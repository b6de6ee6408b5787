// minimal.mjs — minimal valid instances of the official OCPP JSON schemas (shipped in
// ocpp-rpc), so a test can exercise every action of a version without hand-written
// payloads: required fields only, first enum value, shortest valid strings.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const dir = join(dirname(require.resolve('ocpp-rpc')), 'lib', 'schemas');
const sets = {
  'ocpp1.6': JSON.parse(readFileSync(join(dir, 'ocpp1_6.json'), 'utf8')),
  'ocpp2.0.1': JSON.parse(readFileSync(join(dir, 'ocpp2_0_1.json'), 'utf8')),
};

function instance(node, root, key = '') {
  if (node.$ref) return instance(root.definitions[node.$ref.split('/').pop()], root, key);
  if (node.enum) return node.enum[0];
  const type = Array.isArray(node.type) ? node.type[0] : node.type;
  switch (type) {
    case 'string':
      if (node.format === 'date-time') return new Date().toISOString();
      if (node.format === 'uri') return 'https://example.com/x';
      return 'x'.repeat(Math.min(node.minLength || 1, node.maxLength || 1));
    case 'integer': return Math.max(node.minimum ?? 1, 1);
    case 'number': return node.minimum ?? 1;
    case 'boolean': return false;
    case 'array': return Array.from({ length: node.minItems || 0 }, () => instance(node.items, root, key));
    case 'object':
    default: {
      const o = {};
      for (const k of node.required || []) o[k] = instance(node.properties[k], root, k);
      return o;
    }
  }
}

export function minimal(protocol, action, kind /* 'req' | 'conf' */) {
  const s = sets[protocol].find((x) => x.$id === `urn:${action}.${kind}`);
  if (!s) throw new Error(`no schema for ${protocol} ${action}.${kind}`);
  return instance(s, s);
}
