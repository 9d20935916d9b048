// The OFREP fast lane (ofrep/fast-lane.ts) answers plain single-flag evaluations before Fastify. Two servers on the
// same flags, one with the lane and one without, get the same requests over HTTP: every answer (status, body, headers)
// must be the same, errors included (the lane hands those to Fastify with their body), and so must what the requests
// leave behind (rate-limit counts, metrics, the context sample).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { ADMIN, SDK, fixtureServer, listen } from './helpers.js';

interface Answer {
  status: number;
  text: string;
  headers: Record<string, string>;
}

/** Headers that differ between any two answers (time) or between two servers (generated request ids). */
const VARYING = new Set(['date', 'x-request-id', 'x-ratelimit-reset']);

async function ask(base: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const response = await fetch(`${base}${path}`, { method: 'POST', headers: init.headers ?? { 'content-type': 'application/json', 'x-api-key': SDK }, body: init.body ?? '{}' });
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (!VARYING.has(name)) headers[name] = value;
  });
  return { status: response.status, text: await response.text(), headers };
}

const json = (key = SDK): Record<string, string> => ({ 'content-type': 'application/json', 'x-api-key': key });

describe('OFREP fast lane: the same answers as the Fastify route', () => {
  let fast: FastifyInstance;
  let slow: FastifyInstance;
  let fastUrl: string;
  let slowUrl: string;
  before(async () => {
    const rateLimit = { max: 40, timeWindowMs: 60_000 };
    fast = await fixtureServer({ rateLimit });
    slow = await fixtureServer({ rateLimit, fastLane: false });
    fastUrl = await listen(fast);
    slowUrl = await listen(slow);
  });
  after(async () => {
    await fast.close();
    await slow.close();
  });

  // [name, path, request, who answers: the lane, or the route (errors, and requests the lane does not take)]
  const cases: Array<[string, string, { body?: string; headers?: Record<string, string> }, ('lane' | 'route')?]> = [
    ['a targeting match', '/ofrep/v1/evaluate/flags/bool-flag', { body: '{"context":{"targetingKey":"u1","email":"ann@example.com"}}' }],
    ['the default rule, with structured metadata left out', '/ofrep/v1/evaluate/flags/bool-flag', { body: '{"context":{"targetingKey":"u1"}}' }],
    ['a percentage split', '/ofrep/v1/evaluate/flags/split-flag', { body: '{"context":{"targetingKey":"user-7"}}' }],
    ['a number with a version', '/ofrep/v1/evaluate/flags/number-flag', { body: '{"context":{"targetingKey":"u"}}' }],
    ['an object', '/ofrep/v1/evaluate/flags/object-flag', { body: '{"context":{"targetingKey":"u"}}' }],
    ['a disabled flag (no value)', '/ofrep/v1/evaluate/flags/disabled-flag', { body: '{"context":{"targetingKey":"u"}}' }],
    ['a disabled flag with an off variation', '/ofrep/v1/evaluate/flags/off-variation-flag', { body: '{"context":{"targetingKey":"u"}}' }],
    ['Authorization: Bearer and a charset', '/ofrep/v1/evaluate/flags/bool-flag', { body: '{"context":{"targetingKey":"u"}}', headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${SDK}` } }],
    ['an admin key', '/ofrep/v1/evaluate/flags/bool-flag', { body: '{"context":{"targetingKey":"u"}}', headers: json(ADMIN) }],
    ['a browser (Origin)', '/ofrep/v1/evaluate/flags/bool-flag', { body: '{"context":{"targetingKey":"u"}}', headers: { ...json(), origin: 'https://app.example.com' } }],
    ['no context at all', '/ofrep/v1/evaluate/flags/number-flag', { body: '{}' }],
    ['an empty body', '/ofrep/v1/evaluate/flags/number-flag', { body: '' }],
    ['a null context', '/ofrep/v1/evaluate/flags/number-flag', { body: '{"context":null}' }],
    ['a prototype key in the context', '/ofrep/v1/evaluate/flags/bool-flag', { body: '{"context":{"targetingKey":"u","__proto__":{"email":"x@example.com"}}}' }],
    // Errors: read by the lane, answered by the route.
    ['an unknown flag', '/ofrep/v1/evaluate/flags/no-such-flag', { body: '{"context":{"targetingKey":"u"}}' }],
    ['a split without a targeting key', '/ofrep/v1/evaluate/flags/split-flag', { body: '{"context":{}}' }],
    ['a body that is not JSON', '/ofrep/v1/evaluate/flags/bool-flag', { body: '{"context":' }],
    ['a body that is a list', '/ofrep/v1/evaluate/flags/bool-flag', { body: '[1,2]' }],
    ['a context that is a string', '/ofrep/v1/evaluate/flags/bool-flag', { body: '{"context":"u"}' }],
    ['a context without the wrapper', '/ofrep/v1/evaluate/flags/split-flag', { body: '{"targetingKey":"u"}' }],
    ['a body nested too deep', '/ofrep/v1/evaluate/flags/bool-flag', { body: `{"context":${'['.repeat(80)}${']'.repeat(80)}}` }],
    // Not taken by the lane at all.
    ['an unknown key', '/ofrep/v1/evaluate/flags/bool-flag', { body: '{}', headers: json('not-a-key-at-all') }],
    ['no key', '/ofrep/v1/evaluate/flags/bool-flag', { body: '{}', headers: { 'content-type': 'application/json' } }],
    ['text/plain', '/ofrep/v1/evaluate/flags/bool-flag', { body: '{}', headers: { 'content-type': 'text/plain', 'x-api-key': SDK } }],
    ['a percent-encoded key', '/ofrep/v1/evaluate/flags/bool%2Dflag', { body: '{"context":{"targetingKey":"u"}}' }, 'route'],
    ['an empty key', '/ofrep/v1/evaluate/flags/', { body: '{}' }],
  ];

  for (const [name, path, init, who] of cases) {
    test(name, async () => {
      const before = (fast.vexil.fastLane as { answered: number }).answered;
      const [a, b] = [await ask(fastUrl, path, init), await ask(slowUrl, path, init)];
      assert.deepEqual(a, b);
      if (a.status === 200 && who !== 'route') {
        assert.equal((fast.vexil.fastLane as { answered: number }).answered, before + 1, 'answered by the fast lane');
        assert.ok(a.headers['content-type']?.startsWith('application/json'));
      } else assert.equal((fast.vexil.fastLane as { answered: number }).answered, before, 'left to the route');
    });
  }

  test('the lane is off on the server built without it', () => {
    assert.equal(slow.vexil.fastLane, undefined);
  });

  test('leaves the same metrics and context sample behind', async () => {
    const metricsOf = async (base: string) =>
      (await (await fetch(`${base}/metrics`)).text())
        .split('\n')
        .filter((line) => line.startsWith('vexil_evaluations_total') || (line.startsWith('vexil_http_request_duration_seconds_count') && line.includes('/ofrep/v1/evaluate/flags/:key')))
        .sort();
    const [a, b] = [await metricsOf(fastUrl), await metricsOf(slowUrl)];
    assert.ok(a.some((line) => line.includes('flag="split-flag"')), a.join('\n'));
    assert.deepEqual(a, b);
    const contexts = async (base: string) => (await (await fetch(`${base}/admin/v1/flags/split-flag/contexts`, { headers: { 'x-api-key': ADMIN } })).json()) as { contexts: unknown[] };
    const [ca, cb] = [await contexts(fastUrl), await contexts(slowUrl)];
    assert.deepEqual(ca.contexts, cb.contexts);
    assert.ok(ca.contexts.some((context) => (context as { targetingKey?: string }).targetingKey === 'user-7'));
  });
});

describe('OFREP fast lane: rate limit', () => {
  test('counts each request once, in the same windows as the other routes; over the limit it is 429 either way', async () => {
    const servers = [await fixtureServer({ rateLimit: { max: 6, timeWindowMs: 60_000 } }), await fixtureServer({ rateLimit: { max: 6, timeWindowMs: 60_000 }, fastLane: false })];
    try {
      const sequences: Array<Array<[number, string | undefined]>> = [];
      for (const app of servers) {
        const base = await listen(app);
        const sequence: Array<[number, string | undefined]> = [];
        // Served, failed (an unknown flag: read by the lane, answered by the route), bulk (another route), served...
        for (const path of ['/ofrep/v1/evaluate/flags/bool-flag', '/ofrep/v1/evaluate/flags/nope', '/ofrep/v1/evaluate/flags', '/ofrep/v1/evaluate/flags/bool-flag', '/ofrep/v1/evaluate/flags/bool-flag', '/ofrep/v1/evaluate/flags/bool-flag', '/ofrep/v1/evaluate/flags/bool-flag', '/ofrep/v1/evaluate/flags/bool-flag']) {
          const response = await fetch(`${base}${path}`, { method: 'POST', headers: json(), body: '{"context":{"targetingKey":"u"}}' });
          await response.arrayBuffer();
          sequence.push([response.status, response.headers.get('x-ratelimit-remaining') ?? undefined]);
        }
        sequences.push(sequence);
      }
      assert.deepEqual(sequences[0], sequences[1]);
      assert.deepEqual(
        sequences[0]!.map(([status]) => status),
        [200, 404, 200, 200, 200, 200, 429, 429],
      );
      assert.deepEqual(
        sequences[0]!.slice(0, 6).map(([, remaining]) => remaining),
        ['5', '4', '3', '2', '1', '0'],
      );
    } finally {
      for (const app of servers) await app.close();
    }
  });
});

/** POSTs from a chosen local address (any of 127.0.0.0/8 reaches a server on 127.0.0.1 on Linux). */
function postFrom(base: string, path: string, from: string, headers: Record<string, string>): Promise<number> {
  return new Promise((done, fail) => {
    const request = httpRequest(`${base}${path}`, { method: 'POST', localAddress: from, headers }, (response) => {
      response.resume();
      response.once('end', () => done(response.statusCode ?? 0));
    });
    request.once('error', fail);
    request.end('{"context":{"targetingKey":"u"}}');
  });
}

describe('OFREP rate limit: per key and client address', () => {
  const path = '/ofrep/v1/evaluate/flags/bool-flag';
  for (const fastLane of [true, false]) {
    test(`one client over the limit leaves the others with the same key served (${fastLane ? 'fast lane' : 'Fastify route'})`, async () => {
      const app = await fixtureServer({ rateLimit: { max: 3, timeWindowMs: 60_000 }, fastLane });
      try {
        const base = await listen(app);
        const busy: number[] = [];
        for (let i = 0; i < 5; i++) busy.push(await postFrom(base, path, '127.0.0.1', json()));
        assert.deepEqual(busy, [200, 200, 200, 429, 429]);
        // Another visitor with the same (shared, browser) key has its own window.
        assert.equal(await postFrom(base, path, '127.0.0.2', json()), 200);
        // The busy client is still held back.
        assert.equal(await postFrom(base, path, '127.0.0.1', json()), 429);
      } finally {
        await app.close();
      }
    });

    test(`behind a trusted proxy, the address is the forwarded client's (${fastLane ? 'fast lane' : 'Fastify route'})`, async () => {
      const app = await fixtureServer({ rateLimit: { max: 2, timeWindowMs: 60_000 }, fastLane, trustProxy: true });
      try {
        const base = await listen(app);
        const from = (client: string) => postFrom(base, path, '127.0.0.1', { ...json(), 'x-forwarded-for': client });
        assert.deepEqual([await from('203.0.113.7'), await from('203.0.113.7'), await from('203.0.113.7')], [200, 200, 429]);
        assert.equal(await from('198.51.100.4'), 200);
      } finally {
        await app.close();
      }
    });
  }
});
