import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { ContextSample, registerContextSample } from '../src/admin/context-sample.js';
import { ADMIN, SDK, fixtureServer, json, listen } from './helpers.js';

let app: FastifyInstance;
let base: string;
const flag = { variations: { yes: true, no: false }, defaultRule: { variation: 'no' } };

before(async () => {
  app = await fixtureServer();
  // Until buildServer registers it itself.
  if (!app.hasRoute({ method: 'GET', url: '/admin/v1/flags/:key/contexts' })) registerContextSample(app, app.vexil, { size: 5 });
  base = await listen(app);
  for (const key of ['sample-a', 'sample-b']) {
    const response = await fetch(`${base}/admin/v1/flags/${key}`, { method: 'PUT', headers: json(ADMIN), body: JSON.stringify(flag) });
    assert.equal(response.status, 201);
  }
});
after(async () => {
  await app.close();
});

const post = (path: string, body: unknown) => fetch(`${base}${path}`, { method: 'POST', headers: json(SDK), body: JSON.stringify(body) });
const sample = async (key: string, headers = json(ADMIN)) => {
  const response = await fetch(`${base}/admin/v1/flags/${key}/contexts`, { headers });
  return { status: response.status, body: (await response.json()) as { contexts: Array<Record<string, unknown>>; recorded: number } };
};

test('keeps the contexts of OFREP and relay evaluations, per flag, newest first, distinct', async () => {
  assert.equal((await post('/ofrep/v1/evaluate/flags/sample-a', { context: { targetingKey: 'u1', plan: 'pro' } })).status, 200);
  await post('/ofrep/v1/evaluate/flags/sample-a', { context: { targetingKey: 'u1', plan: 'pro' } });
  await post('/ofrep/v1/evaluate/flags/sample-b', { context: { targetingKey: 'u2' } });
  await post('/ofrep/v1/evaluate/flags', { context: { targetingKey: 'u3' } });
  await post('/v1/feature/sample-a/eval', { evaluationContext: { key: 'u4', custom: { country: 'NZ' } }, defaultValue: false });

  const a = await sample('sample-a');
  assert.equal(a.status, 200);
  assert.deepEqual(
    a.body.contexts.map((context) => context.targetingKey),
    ['u4', 'u3', 'u1'],
  );
  assert.equal(a.body.contexts[0]!.country, 'NZ');
  assert.deepEqual(
    (await sample('sample-b')).body.contexts.map((context) => context.targetingKey),
    ['u3', 'u2'],
  );
});

test('needs an admin key', async () => {
  assert.equal((await sample('sample-a', json(SDK))).status, 403);
  assert.equal((await sample('sample-a', { 'content-type': 'application/json' })).status, 401);
});

test('the ring keeps the last N evaluations only', () => {
  const ring = new ContextSample(3);
  for (let i = 0; i < 5; i++) ring.record('ofrep', 'f', JSON.stringify({ context: { targetingKey: `k${i}` } }));
  assert.deepEqual(ring.contexts('f').map((context) => context.targetingKey), ['k4', 'k3', 'k2']);
  assert.equal(ring.recorded, 5);
  assert.deepEqual(new ContextSample(0).contexts('f'), []);
});

test('memory is bounded whatever the requests: large requests are left out, small ones kept within a total', () => {
  const ring = new ContextSample({ size: 1000, maxEntryChars: 1024, maxTotalChars: 10 * 1024 });
  ring.record('ofrep', 'f', JSON.stringify({ context: { targetingKey: 'big', blob: 'x'.repeat(2000) } }));
  assert.equal(ring.skipped, 1);
  assert.equal(ring.chars, 0);
  for (let i = 0; i < 500; i++) ring.record('ofrep', 'f', JSON.stringify({ context: { targetingKey: `k${i}`, pad: 'p'.repeat(400) } }));
  assert.ok(ring.chars <= 10 * 1024, `${ring.chars} characters held`);
  const kept = ring.contexts('f');
  assert.ok(kept.length >= 20 && kept.length < 30, `${kept.length} contexts kept`);
  assert.equal(kept[0]!.targetingKey, 'k499', 'the newest are kept');
  assert.equal(ring.recorded, 500);
});

test('a sampled body is parsed as the routes parse it: prototype keys never come back', () => {
  const ring = new ContextSample(2);
  ring.record('ofrep', 'f', '{"context":{"targetingKey":"u","\\u005f_proto__":{"polluted":true}}}');
  assert.deepEqual(ring.contexts('f'), [{ targetingKey: 'u' }]);
});
