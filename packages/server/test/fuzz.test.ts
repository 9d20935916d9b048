import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { ADMIN, SDK, fixtureServer, json } from './helpers.js';

let app: FastifyInstance;

before(async () => {
  app = await fixtureServer({ bodyLimit: 16 * 1024, rateLimit: false });
});
after(async () => {
  await app.close();
});

const RUNS = Number(process.env.VEXIL_FUZZ_RUNS ?? 120);

const revision = async (): Promise<number> => (await app.vexil.store.list()).revision;

/** Plausible flag pieces mixed with arbitrary JSON, so that some writes succeed and most fail validation. */
const variationName = fc.constantFrom('a', 'b', 'on', 'off', '', 'x y');
const jsonish = fc.jsonValue({ maxDepth: 3 });
const rule = fc.record(
  {
    name: fc.oneof(fc.string({ maxLength: 8 }), jsonish),
    query: fc.oneof(fc.constantFrom('key eq "a"', 'plan in ["pro"]', '@staff', 'nope eq', '', 'a eq 1 and'), jsonish),
    variation: fc.oneof(variationName, jsonish),
    percentage: fc.oneof(fc.dictionary(variationName, fc.oneof(fc.integer({ min: -5, max: 120 }), fc.double())), jsonish),
    disable: fc.oneof(fc.boolean(), jsonish),
  },
  { requiredKeys: [] },
);
const flagBody = fc.record(
  {
    variations: fc.oneof(fc.dictionary(variationName, fc.oneof(fc.boolean(), fc.integer(), fc.string({ maxLength: 5 }), jsonish), { maxKeys: 3 }), jsonish),
    targeting: fc.oneof(fc.array(rule, { maxLength: 3 }), jsonish),
    defaultRule: fc.oneof(rule, jsonish),
    disable: fc.oneof(fc.boolean(), jsonish),
    trackEvents: fc.oneof(fc.boolean(), jsonish),
    version: fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), jsonish),
    metadata: jsonish,
    bucketingKey: fc.oneof(fc.string({ maxLength: 6 }), jsonish),
    offVariation: fc.oneof(variationName, jsonish),
    scheduledRollout: jsonish,
    experimentation: jsonish,
    unknownField: jsonish,
  },
  { requiredKeys: [] },
);
const validFlag = fc.record(
  {
    variations: fc.constant({ a: true, b: false }),
    defaultRule: fc.record({ variation: fc.constantFrom('a', 'b') }),
    disable: fc.boolean(),
    metadata: fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
  },
  { requiredKeys: ['variations', 'defaultRule'] },
);
const anyBody = fc.oneof(
  { weight: 2, arbitrary: validFlag.map((body) => JSON.stringify(body)) },
  { weight: 4, arbitrary: flagBody.map((body) => JSON.stringify(body)) },
  { weight: 2, arbitrary: jsonish.map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '{', '[]', 'null', '{"__proto__": {"x": 1}}', '{"flag": {"variations": {"a": 1}}}', '"x"', '1e999') },
);
const flagKey = fc.oneof(
  fc.constantFrom('bool-flag', 'number-flag', 'fuzz-flag', 'fuzz-2', '$segments', 'a/b', ' '),
  fc.string({ minLength: 1, maxLength: 12 }),
);
const headerValue = fc.oneof(fc.constant(undefined), fc.constantFrom('"1"', '"2"', '*', 'W/"1"', 'x', '"99"', '1, 2'));

async function send(options: InjectOptions): Promise<number> {
  const response = await app.inject(options);
  if (response.statusCode >= 500) throw new Error(`${options.method} ${options.url} → ${response.statusCode}: ${response.body}`);
  assert.doesNotThrow(() => response.body === '' || JSON.parse(response.body), `JSON body for ${options.method} ${options.url}`);
  return response.statusCode;
}

describe('fuzz: generated bodies never cause a 5xx, and a rejected write changes nothing', () => {
  test('admin writes (PUT, PATCH, POST, toggle, DELETE)', async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('PUT', 'PATCH', 'POST', 'TOGGLE', 'DELETE'),
        flagKey,
        anyBody,
        headerValue,
        headerValue,
        async (kind, key, body, ifMatch, ifNoneMatch) => {
          const before = await revision();
          const headers: Record<string, string> = json(ADMIN);
          if (ifMatch !== undefined) headers['if-match'] = ifMatch;
          if (ifNoneMatch !== undefined) headers['if-none-match'] = ifNoneMatch;
          const path = `/admin/v1/flags/${encodeURIComponent(key)}`;
          let options: InjectOptions;
          switch (kind) {
            case 'POST':
              options = { method: 'POST', url: '/admin/v1/flags', headers, payload: `{"key": ${JSON.stringify(key)}, "flag": ${body || 'null'}}` };
              break;
            case 'TOGGLE':
              options = { method: 'POST', url: `${path}/toggle`, headers, payload: body };
              break;
            default:
              options = { method: kind, url: path, headers, payload: body };
          }
          const status = await send(options);
          seen.set(status, (seen.get(status) ?? 0) + 1);
          assert.ok([200, 201, 304, 400, 404, 409, 413, 415].includes(status), `unexpected ${status}`);
          if (status >= 400) assert.equal(await revision(), before, `rejected ${kind} (${status}) changed the store`);
        },
      ),
      { numRuns: RUNS },
    );
    // The generator reaches both sides: accepted writes and rejected ones.
    assert.ok((seen.get(200) ?? 0) + (seen.get(201) ?? 0) > 0, `no accepted write: ${JSON.stringify([...seen])}`);
    assert.ok((seen.get(400) ?? 0) > 0, `no rejected write: ${JSON.stringify([...seen])}`);
  });

  test('an SDK key is rejected on every admin write, whatever the body', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('PUT', 'PATCH', 'DELETE'), flagKey, anyBody, async (method, key, body) => {
        const before = await revision();
        const status = await send({ method, url: `/admin/v1/flags/${encodeURIComponent(key)}`, headers: json(SDK), payload: body });
        assert.equal(status, 403);
        assert.equal(await revision(), before);
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });

  test('evaluation routes (OFREP single and bulk, relay eval and allflags, collector, playground)', async () => {
    const contextBody = fc.oneof(
      fc.record({ context: fc.oneof(fc.dictionary(fc.string({ maxLength: 6 }), jsonish), jsonish) }, { requiredKeys: [] }).map((value) => JSON.stringify(value)),
      fc.record({ evaluationContext: jsonish, user: jsonish, defaultValue: jsonish, events: jsonish, meta: jsonish }, { requiredKeys: [] }).map((value) => JSON.stringify(value)),
      anyBody,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/ofrep/v1/evaluate/flags/KEY', '/ofrep/v1/evaluate/flags', '/v1/feature/KEY/eval', '/v1/allflags', '/v1/data/collector', '/v1/flag/configuration', '/admin/v1/evaluate'),
        flagKey,
        contextBody,
        async (route, key, body) => {
          const before = await revision();
          const url = route.replace('KEY', encodeURIComponent(key));
          const status = await send({ method: 'POST', url, headers: json(url.startsWith('/admin') ? ADMIN : SDK), payload: body });
          assert.ok([200, 304, 400, 404, 413].includes(status), `unexpected ${status} for ${url}`);
          assert.equal(await revision(), before, 'evaluation never writes');
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('depth, size and text: deeply nested and large bodies, contexts and flags, and lone surrogates, never cause a 5xx, and change nothing when refused', async () => {
    // A value nested `depth` levels (objects and arrays mixed), as text: JSON.stringify itself overflows on deep values.
    const deepText = fc.record({ depth: fc.oneof(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 80, max: 20_000 })), arrays: fc.boolean(), leaf: fc.constantFrom('1', '"x"', 'null', '{}', '[]') }).map(
      ({ depth, arrays, leaf }) => (arrays ? `${'[{"a":'.repeat(Math.ceil(depth / 2))}${leaf}${'}]'.repeat(Math.ceil(depth / 2))}` : `${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`),
    );
    const bigText = fc.integer({ min: 1, max: 24 * 1024 }).map((size) => JSON.stringify('y'.repeat(size)));
    const loneSurrogate = fc.constantFrom('"\\ud800"', '"x\\udfff"', '{"\\udc00":1}');
    const payload = fc.oneof(deepText, bigText, loneSurrogate, jsonish.map((value) => JSON.stringify(value)));
    const placed = fc.tuple(
      fc.constantFrom(
        (v: string) => ['POST', '/ofrep/v1/evaluate/flags/bool-flag', `{"context":{"targetingKey":"u","x":${v}}}`, SDK],
        (v: string) => ['POST', '/ofrep/v1/evaluate/flags', `{"context":{"targetingKey":"u","x":${v}}}`, SDK],
        (v: string) => ['POST', '/v1/feature/bool-flag/eval', `{"evaluationContext":{"key":"u","custom":{"x":${v}}}}`, SDK],
        (v: string) => ['POST', '/v1/allflags', `{"evaluationContext":{"key":"u","custom":{"x":${v}}}}`, SDK],
        (v: string) => ['POST', '/v1/data/collector', `{"events":[{"kind":"feature","key":"bool-flag","value":${v}}],"meta":{"x":${v}}}`, SDK],
        (v: string) => ['POST', '/v1/flag/configuration', `{"flags":["bool-flag"],"x":${v}}`, SDK],
        (v: string) => ['PUT', '/admin/v1/flags/fuzz-deep', `{"variations":{"a":true},"defaultRule":{"variation":"a"},"metadata":{"x":${v}}}`, ADMIN],
        (v: string) => ['PUT', '/admin/v1/flags/fuzz-deep', `{"variations":{"a":${v},"b":${v}},"defaultRule":{"variation":"a"}}`, ADMIN],
        (v: string) => ['PATCH', '/admin/v1/flags/bool-flag', `{"metadata":{"x":${v}}}`, ADMIN],
        (v: string) => ['PUT', '/admin/v1/segments', `{"segments":{"s":${v}}}`, ADMIN],
        (v: string) => ['POST', '/admin/v1/evaluate', `{"context":{"x":${v}},"definition":{"variations":{"a":true},"targeting":[{"query":${JSON.stringify(`{"some":[{"var":"x"},{"==":[1,1]}]}`)},"variation":"a"}],"defaultRule":{"variation":"a"}}}`, ADMIN],
      ),
      payload,
    );
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(placed, async ([route, value]) => {
        const [method, url, body, key] = route(value) as [InjectOptions['method'], string, string, string];
        const before = await revision();
        const status = await send({ method, url, headers: json(key), payload: body });
        seen.set(status, (seen.get(status) ?? 0) + 1);
        assert.ok([200, 201, 304, 400, 404, 409, 413].includes(status), `unexpected ${status} for ${method} ${url}`);
        if (status >= 400) assert.equal(await revision(), before, `a refused ${method} ${url} changed the store`);
      }),
      { numRuns: RUNS },
    );
    // Both sides are reached: accepted requests, and requests refused for depth (400) or size (413).
    assert.ok((seen.get(200) ?? 0) > 0 && (seen.get(400) ?? 0) > 0 && (seen.get(413) ?? 0) > 0, JSON.stringify([...seen]));
    // And the bulk routes still answer with whatever was accepted.
    for (const [method, url] of [['POST', '/v1/flag/configuration'], ['GET', '/v1/flag/change'], ['POST', '/v1/allflags'], ['POST', '/ofrep/v1/evaluate/flags']] as const) {
      assert.equal(await send({ method, url, headers: json(SDK), ...(method === 'POST' ? { payload: '{"evaluationContext":{"key":"u"},"context":{"targetingKey":"u"}}' } : {}) }), 200, url);
    }
    for (const url of ['/admin/v1/flags', '/admin/v1/audit']) assert.equal(await send({ method: 'GET', url, headers: json(ADMIN) }), 200, url);
  });
});
