// keys.test.mjs — API keys managed through /api/v1/keys: the secret is shown once and
// stored as a digest, listed without secrets, and a revoked key gets 401 at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startGateway } from './lib/harness.mjs';

test('API key lifecycle: create (secret once), use, list without secrets, revoke -> 401 at once', async () => {
  const gw = await startGateway({ plugins: ['headless'] });
  try {
    let r = await gw.api('POST', '/api/v1/keys', { name: 'ci-bot', scope: 'operator' });
    assert.equal(r.status, 201, r.text);
    const secret = r.body.key;
    assert.match(secret, /^plk_[0-9a-f]{48}$/);
    assert.equal(r.body.scope, 'operator');
    // only the digest is stored
    const row = (await gw.sql("select key_hash from api_keys where name = 'ci-bot'"))[0];
    assert.equal(row.key_hash, createHash('sha256').update(secret).digest('hex'));

    r = await gw.api('GET', '/api/v1/stations', undefined, { key: secret });
    assert.equal(r.status, 200, r.text);
    r = await gw.api('GET', '/api/v1/keys', undefined, { key: secret });
    assert.equal(r.status, 403, 'an operator key cannot manage keys');

    r = await gw.api('GET', '/api/v1/keys');
    assert.equal(r.status, 200, r.text);
    assert.ok(!r.text.includes(secret), 'no secret in the list');
    const listed = r.body.items.find((k) => k.name === 'ci-bot');
    assert.equal(listed.source, 'table');
    assert.ok(listed.last_used_at, 'last use recorded');
    assert.ok(r.body.items.some((k) => k.name === 'admin' && k.source === 'configuration'));

    r = await gw.api('POST', '/api/v1/keys', { name: 'ci-bot', scope: 'read' });
    assert.equal(r.status, 409);
    r = await gw.api('POST', '/api/v1/keys', { name: 'bad name!', scope: 'read' });
    assert.equal(r.status, 400);
    r = await gw.api('POST', '/api/v1/keys', { name: 'x', scope: 'root' });
    assert.equal(r.status, 400);
    r = await gw.api('DELETE', '/api/v1/keys/admin');
    assert.equal(r.status, 409, 'a configured key is not revoked here');

    r = await gw.api('DELETE', '/api/v1/keys/ci-bot');
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.revoked_at);
    r = await gw.api('GET', '/api/v1/stations', undefined, { key: secret });
    assert.equal(r.status, 401, 'revoked: refused on the very next request');
    r = await gw.api('DELETE', '/api/v1/keys/nobody');
    assert.equal(r.status, 404);

    // a restart loads the table: keys survive, revoked ones stay revoked
    r = await gw.api('POST', '/api/v1/keys', { name: 'reader', scope: 'read' });
    const reader = r.body.key;
    await gw.restart();
    assert.equal((await gw.api('GET', '/api/v1/stations', undefined, { key: reader })).status, 200);
    assert.equal((await gw.api('GET', '/api/v1/stations', undefined, { key: secret })).status, 401);
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});
