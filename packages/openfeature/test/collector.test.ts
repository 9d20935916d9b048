// The exposure and tracking queue on its own, with a fake collector: bounded memory whatever happens, batches that
// fit the server's body limit, retries in order, a close that never hangs, and events that always serialise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EvaluationContext, TrackingEventDetails } from '@openfeature/server-sdk';
import { EventCollector, type CollectedEvent, type CollectorOptions } from '../src/events/collector.js';

interface Request {
  events: CollectedEvent[];
  bytes: number;
}

/** A fake `fetch` for the collector endpoint: `answer` decides each request's fate. */
function fakeCollector(answer: (request: Request) => number | 'down' | 'hang') {
  const requests: Request[] = [];
  const aborted: Request[] = [];
  const fake = async (_url: string, init: RequestInit): Promise<Response> => {
    const body = String(init.body);
    const request = { events: (JSON.parse(body) as { events: CollectedEvent[] }).events, bytes: Buffer.byteLength(body) };
    requests.push(request);
    const fate = answer(request);
    if (fate === 'down') throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    if (fate === 'hang') {
      return new Promise<Response>((_, reject) => {
        init.signal?.addEventListener('abort', () => {
          aborted.push(request);
          reject(init.signal!.reason);
        });
      });
    }
    return new Response(fate === 200 ? '{}' : 'no', { status: fate });
  };
  return { fetch: fake as unknown as typeof fetch, requests, aborted };
}

function collector(fetch: typeof globalThis.fetch, options: Partial<CollectorOptions> = {}) {
  const warnings: string[] = [];
  const c = new EventCollector({
    endpoint: 'http://collector.test/v1/data/collector',
    headers: {},
    flushIntervalMs: 60_000,
    batchSize: 1_000,
    maxPending: 10_000,
    maxAgeMs: 300_000,
    requestTimeoutMs: 5_000,
    meta: { provider: 'test' },
    warn: (message) => warnings.push(message),
    fetch,
    ...options,
  });
  return Object.assign(c, { warnings });
}

const user = (i: number): EvaluationContext => ({ targetingKey: `user-${i}` });

test('memory stays within maxPending while the collector is away; repeated evaluations fold into one event', async () => {
  const server = fakeCollector(() => 'down');
  const c = collector(server.fetch, { maxPending: 1_000, batchSize: 100_000 });
  for (let i = 0; i < 30_000; i++) c.exposure('flag', 'on', true, user(i), '1');
  for (let i = 0; i < 100; i++) c.track('click', user(i), { value: i });
  assert.deepEqual(c.stats, { pending: 1_000, sent: 0, dropped: 29_100, merged: 0 });
  // A user already counted in this batch costs nothing more, even at the bound.
  for (let i = 0; i < 5_000; i++) c.exposure('flag', 'on', true, user(0), '1');
  assert.deepEqual(c.stats, { pending: 1_000, sent: 0, dropped: 29_100, merged: 5_000 });
  await c.flush(); // fails: kept for a retry, still within the bound
  assert.equal(server.requests.length, 1);
  for (let i = 0; i < 10; i++) c.exposure('other', 'x', 1, user(i), undefined);
  assert.equal(c.stats.pending, 1_000);
  assert.equal(c.stats.dropped, 29_110);
  assert.equal(c.warnings.length, 1);
  await c.close(0);
  // Dropped counts evaluations: the folded event of user-0 stood for 5,001 of them.
  assert.deepEqual(c.stats, { pending: 0, sent: 0, dropped: 29_110 + 999 + 5_001, merged: 5_000 });
  c.exposure('flag', 'on', true, user(1), '1'); // closed: ignored
  assert.equal(c.stats.pending, 0);
});

test('batches of at most batchSize events, halved while the server answers 413, so everything is delivered in order', async () => {
  const limit = 20_000; // bytes
  const server = fakeCollector((request) => (request.bytes > limit ? 413 : 200));
  const c = collector(server.fetch, { batchSize: 5_000, maxPending: 20_000 });
  for (let i = 0; i < 2_000; i++) c.exposure('flag', i % 2 ? 'on' : 'off', i % 2 === 1, user(i), '3');
  for (let i = 0; i < 300; i++) c.track('purchase', user(i), { value: i, note: 'x'.repeat(20) });
  await c.flush();
  assert.deepEqual(c.stats, { pending: 0, sent: 2_300, dropped: 0, merged: 0 });
  const delivered = server.requests.filter((r) => r.bytes <= limit);
  assert.ok(delivered.length > 1, 'several requests');
  assert.ok(delivered.every((r) => r.events.length <= 5_000));
  const all = delivered.flatMap((r) => r.events);
  assert.equal(all.length, 2_300);
  assert.equal(new Set(all.filter((e) => e.kind === 'feature').map((e) => e.userKey)).size, 2_000);
  assert.deepEqual(
    all.filter((e) => e.kind === 'tracking').map((e) => (e.kind === 'tracking' ? e.trackingEventDetails.value : -1)),
    Array.from({ length: 300 }, (_, i) => i),
    'tracking events keep their order',
  );
  // One event larger than the limit on its own: dropped and counted, the others still go.
  c.track('huge', user(1), { blob: 'y'.repeat(limit) });
  c.track('small', user(2), { value: 1 });
  await c.flush();
  assert.deepEqual(c.stats, { pending: 0, sent: 2_301, dropped: 1, merged: 0 });
  await c.close(1_000);
});

test('a batch larger than maxBatchBytes is split before it is sent: a server that resets the connection on large bodies still gets everything', async () => {
  const limit = 30_000; // bytes; above it this server drops the connection instead of answering 413
  const server = fakeCollector((request) => (request.bytes > limit ? 'down' : 200));
  const c = collector(server.fetch, { batchSize: 100_000, maxPending: 20_000, maxBatchBytes: limit });
  for (let i = 0; i < 3_000; i++) c.exposure('flag', 'on', true, { targetingKey: `a-rather-long-targeting-key-${i}` }, '1');
  await c.flush();
  assert.deepEqual(c.stats, { pending: 0, sent: 3_000, dropped: 0, merged: 0 });
  assert.ok(server.requests.every((r) => r.bytes <= limit), 'no request above the limit');
  assert.equal(c.warnings.length, 0);
  await c.close(1_000);
});

test('an early flush at batchSize, and more while events keep coming', async () => {
  const server = fakeCollector(() => 200);
  const c = collector(server.fetch, { batchSize: 100 });
  for (let i = 0; i < 350; i++) c.exposure('flag', 'on', true, user(i), undefined);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(c.stats.sent, 350, `sent ${c.stats.sent}`);
  assert.ok(server.requests.every((r) => r.events.length <= 100));
  await c.close(1_000);
});

test('a failed send is retried first and in order; events older than maxAgeMs are given up', async () => {
  let up = false;
  const server = fakeCollector(() => (up ? 200 : 'down'));
  const c = collector(server.fetch, { flushIntervalMs: 10 });
  c.track('first', user(1), {});
  await c.flush();
  c.track('second', user(2), {});
  up = true;
  // Past the backoff, flushed by the timer: waited for, with room for a busy machine.
  const sentBy = Date.now() + 15_000;
  while (c.stats.sent < 2 && Date.now() < sentBy) await new Promise((resolve) => setTimeout(resolve, 50));
  const sent = server.requests.slice(1).flatMap((r) => r.events).map((e) => e.key);
  assert.deepEqual(sent, ['first', 'second']);
  assert.deepEqual(c.stats, { pending: 0, sent: 2, dropped: 0, merged: 0 });
  await c.close(0);

  const never = fakeCollector(() => 'down');
  const old = collector(never.fetch, { flushIntervalMs: 10, maxAgeMs: 1 });
  old.track('stale', user(1), {});
  // Given up at the first retry once its second has passed (creation dates are in seconds): about 1–3 s with the
  // backoff; waited for, with room for a busy machine.
  const deadline = Date.now() + 15_000;
  while (old.stats.dropped === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(old.stats, { pending: 0, sent: 0, dropped: 1, merged: 0 });
  await old.close(0);
});

test('close() gives up on a collector that never answers after its timeout, and aborts the request', { timeout: 20_000 }, async () => {
  const server = fakeCollector(() => 'hang');
  const c = collector(server.fetch);
  c.track('t', user(1), { value: 1 });
  c.exposure('flag', 'on', true, user(1), undefined);
  const started = performance.now();
  await c.close(200);
  // It waited for its timeout before giving up (a lower bound: a busy machine only makes it longer). That close()
  // returns at all is the behaviour: the test's time-out catches a close that hangs.
  assert.ok(performance.now() - started >= 150, 'close waited for the request before aborting it');
  assert.equal(server.aborted.length, 1, 'the request in flight was aborted');
  assert.deepEqual(c.stats, { pending: 0, sent: 0, dropped: 2, merged: 0 });
  assert.deepEqual(c.warnings, [], 'no "keeping them for retry" warning for a request close() aborted');
});

test('tracking events are JSON at once: dates, bigints, cycles and functions never break a batch', async () => {
  const server = fakeCollector(() => 200);
  const c = collector(server.fetch);
  const context: Record<string, unknown> = { targetingKey: 'u1', anonymous: true, when: new Date('2026-03-04T05:06:07Z'), big: 10n };
  context.self = context;
  const details: Record<string, unknown> = { value: 3.5, at: new Date(0), fn: () => 1, nested: { list: [1, undefined, new Date(1000)] }, inf: Infinity };
  details.loop = details;
  c.track('odd', context as EvaluationContext, details as TrackingEventDetails);
  context.targetingKey = 'changed-later';
  await c.flush();
  const [event] = server.requests[0]!.events;
  assert.deepEqual(event, {
    kind: 'tracking',
    contextKind: 'anonymousUser',
    userKey: 'u1',
    creationDate: event!.creationDate,
    key: 'odd',
    evaluationContext: { targetingKey: 'u1', anonymous: true, when: '2026-03-04T05:06:07.000Z', big: '10' },
    trackingEventDetails: { value: 3.5, at: '1970-01-01T00:00:00.000Z', nested: { list: [1, null, '1970-01-01T00:00:01.000Z'] }, inf: null },
  });
  await c.close(0);
});

test('every batch carries a batchId; a batch sent again after a failure is the same batch with the same id', async () => {
  let fail = true;
  const bodies: { batchId: string; events: CollectedEvent[] }[] = [];
  const fake = async (_url: string, init: RequestInit): Promise<Response> => {
    bodies.push(JSON.parse(String(init.body)));
    if (fail) throw new TypeError('fetch failed', { cause: { code: 'ETIMEDOUT' } });
    return new Response('{}', { status: 200 });
  };
  const c = collector(fake as unknown as typeof fetch, { batchSize: 3 });
  for (let i = 0; i < 5; i++) c.exposure('flag', 'on', true, user(i), '1');
  await c.flush();
  // Recorded after the failure: they must not join the retried batch.
  for (let i = 5; i < 7; i++) c.exposure('flag', 'on', true, user(i), '1');
  fail = false;
  await c.close(5_000);
  assert.equal(bodies.length, 4);
  assert.equal(bodies[1]!.batchId, bodies[0]!.batchId);
  assert.deepEqual(bodies[1]!.events.map((e) => e.userKey), bodies[0]!.events.map((e) => e.userKey));
  assert.equal(new Set(bodies.slice(1).map((b) => b.batchId)).size, 3);
  assert.equal(c.stats.sent, 7);
});

test('a user who gets another variant of the same flag in one batch has one event per variant, each with its count', async () => {
  const server = fakeCollector(() => 200);
  const c = collector(server.fetch);
  for (const variant of ['on', 'off', 'on', 'on', 'off', 'third']) c.exposure('flag', variant, variant === 'on', user(1), '1');
  c.exposure('flag', 'on', true, user(2), '1');
  c.exposure('other-flag', 'off', false, user(1), '1');
  await c.flush();
  const counts = server.requests
    .flatMap((request) => request.events)
    .map((event) => event as { key: string; variation: string; userKey: string; count: number; value: unknown })
    .map((event) => `${event.key} ${event.variation} ${event.userKey} ×${event.count} ${JSON.stringify(event.value)}`)
    .sort();
  assert.deepEqual(counts, ['flag off user-1 ×2 false', 'flag on user-1 ×3 true', 'flag on user-2 ×1 true', 'flag third user-1 ×1 false', 'other-flag off user-1 ×1 false']);
  assert.equal(c.stats.merged, 3);
  await c.close(1_000);
});
