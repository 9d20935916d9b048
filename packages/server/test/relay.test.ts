import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ADMIN, SDK, fixtureServer, json, listen } from './helpers.js';

let app: FastifyInstance;
let base: string;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vexil-relay-'));
  app = await fixtureServer({ eventsFile: join(dir, 'events.jsonl') });
  base = await listen(app);
});
after(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

const post = (path: string, body: unknown, headers: Record<string, string> = json()) =>
  fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });

const VARIATION_RESULT_KEYS = ['trackEvents', 'variationType', 'failed', 'version', 'reason', 'errorCode', 'value', 'cacheable'];

describe('GO Feature Flag relay API', () => {
  test('/v1/feature/{key}/eval answers a VariationResult in GO Feature Flag key order', async () => {
    const response = await post('/v1/feature/bool-flag/eval', {
      evaluationContext: { key: 'user-1', custom: { email: 'me@example.com' } },
      defaultValue: false,
    });
    assert.equal(response.status, 200);
    const text = await response.text();
    const body = JSON.parse(text);
    assert.deepEqual(Object.keys(body), [...VARIATION_RESULT_KEYS, 'metadata']);
    assert.deepEqual(body, {
      trackEvents: true,
      variationType: 'on',
      failed: false,
      version: '',
      reason: 'TARGETING_MATCH',
      errorCode: '',
      value: true,
      cacheable: true,
      metadata: { owner: 'web', tags: ['a', 'b'], evaluatedRuleName: 'staff' },
    });
  });

  test('the legacy {user} shape, version, and an unknown flag (200, SdkDefault, the default value)', async () => {
    const legacy = await (await post('/v1/feature/number-flag/eval', { user: { key: 'u', anonymous: true, custom: {} }, defaultValue: 0 })).json();
    assert.equal(legacy.value, 50);
    assert.equal(legacy.version, '3');
    assert.equal(legacy.variationType, 'large');
    assert.equal(legacy.reason, 'STATIC');

    const missing = await post('/v1/feature/nope/eval', { evaluationContext: { key: 'u' }, defaultValue: 'dflt' });
    assert.equal(missing.status, 200);
    const body = await missing.json();
    assert.equal(body.failed, true);
    assert.equal(body.errorCode, 'FLAG_NOT_FOUND');
    assert.equal(body.variationType, 'SdkDefault');
    assert.equal(body.value, 'dflt');
    assert.equal(body.reason, 'ERROR');
    assert.equal(body.cacheable, false);
    assert.equal('errorDetails' in body, false, 'GO Feature Flag sends no errorDetails for an unknown flag');
  });

  test('a disabled flag: reason DISABLED, SdkDefault, the default value, not failed', async () => {
    const body = await (await post('/v1/feature/disabled-flag/eval', { evaluationContext: { key: 'u' }, defaultValue: false })).json();
    assert.equal(body.reason, 'DISABLED');
    assert.equal(body.variationType, 'SdkDefault');
    assert.equal(body.value, false);
    assert.equal(body.failed, false);
    assert.equal(body.errorCode, '');
  });

  test('no context and no user is a 400 with a message', async () => {
    const response = await post('/v1/feature/bool-flag/eval', { defaultValue: false });
    assert.equal(response.status, 400);
    assert.match((await response.json()).message, /impossible to find user/);
  });

  test('/v1/allflags: {flags: {key: FlagState}, valid}; flagList limits the flags', async () => {
    const body = await (await post('/v1/allflags', { evaluationContext: { key: 'user-1', custom: {} } })).json();
    assert.deepEqual(Object.keys(body), ['flags', 'valid']);
    assert.equal(body.valid, true);
    const state = body.flags['number-flag'];
    assert.deepEqual(Object.keys(state), ['value', 'timestamp', 'variationType', 'trackEvents', 'errorCode', 'reason']);
    assert.equal(state.value, 50);
    assert.ok(Math.abs(state.timestamp - Date.now() / 1000) < 60);
    const disabled = body.flags['disabled-flag'];
    assert.equal(disabled.value, null);
    assert.equal(disabled.variationType, '');
    assert.equal(disabled.reason, 'DISABLED');

    // As GO Feature Flag (GetFlagStates): listed keys of no flag are left out.
    const some = await (await post('/v1/allflags', { evaluationContext: { key: 'u', custom: { gofeatureflag: { flagList: ['bool-flag', 'nope'] } } } })).json();
    assert.deepEqual(Object.keys(some.flags), ['bool-flag']);
    assert.equal(some.valid, true);

    const anonymous = await (await post('/v1/allflags', {})).status;
    assert.equal(anonymous, 400);
  });

  test('/v1/flag/change: hashes with an ETag, 304 when unchanged, new hash after a change', async () => {
    const first = await fetch(`${base}/v1/flag/change`, { headers: { authorization: `Bearer ${SDK}` } });
    assert.equal(first.status, 200);
    const etag = first.headers.get('etag')!;
    const body = await first.json();
    assert.ok(Number.isInteger(body.hash) && body.hash >= 0 && body.hash < 2 ** 32);
    assert.deepEqual(Object.keys(body.flags).sort(), ['bool-flag', 'disabled-flag', 'number-flag', 'object-flag', 'off-variation-flag', 'split-flag']);
    const unchanged = await fetch(`${base}/v1/flag/change`, { headers: { authorization: `Bearer ${SDK}`, 'if-none-match': etag } });
    assert.equal(unchanged.status, 304);

    const write = await fetch(`${base}/admin/v1/flags/object-flag`, {
      method: 'PATCH',
      headers: json(ADMIN),
      body: JSON.stringify({ metadata: { note: 'changed' } }),
    });
    assert.equal(write.status, 200);
    const changed = await fetch(`${base}/v1/flag/change`, { headers: { 'x-api-key': SDK, 'if-none-match': etag } });
    assert.equal(changed.status, 200);
    const after = await changed.json();
    assert.notEqual(after.hash, body.hash);
    assert.notEqual(after.flags['object-flag'], body.flags['object-flag']);
    assert.equal(after.flags['bool-flag'], body.flags['bool-flag']);
  });

  test('/v1/flag/configuration: GO Feature Flag forms in flags, Vexil definitions beside them, filtered, with ETag and Last-Modified', async () => {
    const all = await post('/v1/flag/configuration', {});
    assert.equal(all.status, 200);
    assert.ok(all.headers.get('last-modified'));
    const etag = all.headers.get('etag')!;
    const body = await all.json();
    assert.deepEqual(Object.keys(body), ['flags', 'evaluationContextEnrichment', 'vexilFlags', 'segments', 'versions', 'revision']);
    assert.deepEqual(body.evaluationContextEnrichment, {});
    assert.equal(body.revision, app.vexil.holder.revision);
    assert.equal(all.headers.get('x-vexil-revision'), String(body.revision));
    assert.deepEqual(body.segments, { staff: { query: 'email ew "@example.com"' } });
    assert.deepEqual(body.flags['number-flag'].variations, { small: 10, large: 50 });
    assert.deepEqual(Object.keys(body.vexilFlags).sort(), Object.keys(body.flags).sort());
    assert.deepEqual(Object.keys(body.versions).sort(), Object.keys(body.flags).sort());
    assert.ok(Object.values(body.versions).every((version) => Number.isInteger(version) && (version as number) >= 1));

    // GO Feature Flag's providers know no segments and no offVariation: `flags` has them inlined / dropped.
    assert.equal(body.flags['bool-flag'].targeting[0].query, '(email ew "@example.com")');
    assert.equal(body.vexilFlags['bool-flag'].targeting[0].query, '@staff');
    assert.equal(body.flags['off-variation-flag'].offVariation, undefined);
    assert.equal(body.vexilFlags['off-variation-flag'].offVariation, 'off');
    assert.equal(body.flags['off-variation-flag'].disable, true);

    const same = await fetch(`${base}/v1/flag/configuration`, { method: 'POST', headers: json(SDK, { 'if-none-match': etag }), body: '{}' });
    assert.equal(same.status, 304);
    const some = await (await post('/v1/flag/configuration', { flags: ['bool-flag', 'nope', 'bool-flag'] })).json();
    assert.deepEqual(Object.keys(some.flags), ['bool-flag']);
    assert.deepEqual(Object.keys(some.vexilFlags), ['bool-flag']);
    assert.deepEqual(Object.keys(some.versions), ['bool-flag']);
    assert.deepEqual(some.segments, body.segments, 'segments are always complete');

    // A segment change changes what GO Feature Flag's providers get for the flags using it (and the ETag).
    const segments = await fetch(`${base}/admin/v1/segments`, {
      method: 'PUT',
      headers: json(ADMIN),
      body: JSON.stringify({ segments: { staff: { query: 'email ew "@example.org"' } } }),
    });
    assert.equal(segments.status, 200);
    const changed = await fetch(`${base}/v1/flag/configuration`, { method: 'POST', headers: json(SDK, { 'if-none-match': etag }), body: '{}' });
    assert.equal(changed.status, 200);
    const after = await changed.json();
    assert.equal(after.flags['bool-flag'].targeting[0].query, '(email ew "@example.org")');
    assert.equal(after.vexilFlags['bool-flag'].targeting[0].query, '@staff');
    assert.ok(after.revision > body.revision);
    const restored = await fetch(`${base}/admin/v1/segments`, { method: 'PUT', headers: json(ADMIN), body: JSON.stringify({ segments: body.segments }) });
    assert.equal(restored.status, 200);
  });

  test('/v1/flag/change: per-flag hashes follow the GO Feature Flag form (a segment change shows on the flags using it)', async () => {
    const before = await (await fetch(`${base}/v1/flag/change`, { headers: { 'x-api-key': SDK } })).json();
    const segments = await fetch(`${base}/admin/v1/segments`, {
      method: 'PUT',
      headers: json(ADMIN),
      body: JSON.stringify({ segments: { staff: { query: 'email ew "@example.net"' } } }),
    });
    assert.equal(segments.status, 200);
    const after = await (await fetch(`${base}/v1/flag/change`, { headers: { 'x-api-key': SDK } })).json();
    assert.notEqual(after.hash, before.hash);
    assert.notEqual(after.flags['bool-flag'], before.flags['bool-flag']);
    assert.equal(after.flags['number-flag'], before.flags['number-flag']);
    const original = { staff: { query: 'email ew "@example.com"' } };
    assert.equal((await fetch(`${base}/admin/v1/segments`, { method: 'PUT', headers: json(ADMIN), body: JSON.stringify({ segments: original }) })).status, 200);
  });

  test('/v1/data/collector: counts events (skipped ones included), aggregates them, appends JSON lines', async () => {
    const response = await post('/v1/data/collector', {
      meta: { environment: 'test' },
      events: [
        { kind: 'feature', contextKind: 'user', userKey: 'u1', creationDate: 1_700_000_000_123, key: 'bool-flag', variation: 'on', value: true, default: false, version: '' },
        { kind: 'feature', userKey: 'u2', creationDate: 1_700_000_001, key: 'bool-flag', variation: 'on', value: true, default: false, source: 'SERVER' },
        { kind: 'tracking', userKey: 'u1', creationDate: 1_700_000_002, key: 'checkout', evaluationContext: { targetingKey: 'u1' }, trackingEventDetails: { value: 12.5 } },
        { kind: 'tracking', userKey: 'u2', creationDate: 1_700_000_003, key: 'checkout', trackingEventDetails: { value: 7.5 } },
        'not an event',
      ],
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { ingestedContentCount: 5 });

    const summary = await (await fetch(`${base}/admin/v1/events`, { headers: { 'x-api-key': ADMIN } })).json();
    assert.equal(summary.flags['bool-flag'].on.count, 2);
    assert.deepEqual(summary.metrics.checkout, { count: 2, valueCount: 2, sum: 20, sumOfSquares: 12.5 ** 2 + 7.5 ** 2, lastSeen: 1_700_000_003 });
    assert.equal(summary.invalid, 1);

    await app.vexil.collector.close();
    const lines = (await readFile(join(dir, 'events.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    assert.equal(lines.length, 4);
    assert.equal(lines[0].creationDate, 1_700_000_000, 'milliseconds are truncated to seconds');
    assert.deepEqual(lines[0].metadata, { environment: 'test' }, 'meta replaces the metadata');
    assert.equal(lines[0].source, 'PROVIDER_CACHE');
    assert.equal(lines[1].source, 'SERVER');
    assert.equal(lines[2].kind, 'tracking');

    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /vexil_flag_exposures_total\{flag="bool-flag",variation="on"\} 2/);
    assert.match(metrics, /vexil_collected_events_total\{kind="feature"\} 2/);

    const bad = await post('/v1/data/collector', { meta: {} });
    assert.equal(bad.status, 400);
  });

  test('/v1/data/collector: a feature event with count stands for that many evaluations', async () => {
    const file = join(dir, 'counted.jsonl');
    const other = await fixtureServer({ eventsFile: file });
    try {
      const response = await other.inject({
        method: 'POST',
        url: '/v1/data/collector',
        headers: json(),
        payload: {
          events: [
            { kind: 'feature', userKey: 'u1', creationDate: 1_700_000_010, key: 'number-flag', variation: 'large', value: 50, default: false, count: 25 },
            { kind: 'feature', userKey: 'u2', creationDate: 1_700_000_011, key: 'number-flag', variation: 'large', value: 50, default: false },
            // Not a positive integer: invalid, not counted.
            { kind: 'feature', userKey: 'u3', creationDate: 1_700_000_012, key: 'number-flag', variation: 'large', count: 0 },
            { kind: 'feature', userKey: 'u3', creationDate: 1_700_000_012, key: 'number-flag', variation: 'large', count: 2.5 },
            { kind: 'feature', userKey: 'u3', creationDate: 1_700_000_012, key: 'number-flag', variation: 'large', count: '3' },
          ],
        },
      });
      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json(), { ingestedContentCount: 5 });

      const summary = (await other.inject({ method: 'GET', url: '/admin/v1/events', headers: { 'x-api-key': ADMIN } })).json();
      assert.deepEqual(summary.flags['number-flag'], { large: { count: 26, lastSeen: 1_700_000_011 } });
      assert.equal(summary.received, 5);
      assert.equal(summary.invalid, 3);

      const metrics = (await other.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /vexil_flag_exposures_total\{flag="number-flag",variation="large"\} 26/);
      assert.match(metrics, /vexil_collected_events_total\{kind="feature"\} 2/);

      // The events file keeps the count (and none where the SDK sent none).
      await other.vexil.collector.close();
      const lines = (await readFile(file, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
      assert.deepEqual(
        lines.map((event) => [event.userKey, event.count]),
        [
          ['u1', 25],
          ['u2', undefined],
        ],
      );
    } finally {
      await other.close();
    }
  });

  test('/health and /info need no key and answer GO Feature Flag fields; the details need an admin key', async () => {
    const health = await (await fetch(`${base}/health`)).json();
    // Anyone may ask: started, and ok or degraded. Nothing of how the server is built (store, files, environments).
    assert.deepEqual(health, { initialized: true, status: 'ok' });
    assert.equal((await fetch(`${base}/admin/v1/health`)).status, 401);
    assert.equal((await fetch(`${base}/admin/v1/health`, { headers: { 'x-api-key': SDK } })).status, 403);
    const details = await (await fetch(`${base}/admin/v1/health`, { headers: { 'x-api-key': ADMIN } })).json();
    assert.equal(details.initialized, true);
    assert.equal(details.status, 'ok');
    assert.equal(details.store.kind, 'pglite');
    assert.deepEqual(details.environments.map((entry: { project: string; environment: string }) => `${entry.project}/${entry.environment}`), ['default/default']);
    const info = await (await fetch(`${base}/info`)).json();
    assert.ok(!Number.isNaN(Date.parse(info.cacheRefresh)));
    assert.equal(info.name, 'vexil');
  });

  test('/metrics: evaluations by flag, variant and reason; request latency; store health', async () => {
    await post('/v1/feature/number-flag/eval', { evaluationContext: { key: 'u' } });
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(text, /vexil_evaluations_total\{flag="number-flag",variant="large",reason="STATIC"\} \d+/);
    assert.match(text, /vexil_evaluations_total\{flag="__unknown__",variant="",reason="ERROR"\} \d+/);
    assert.match(text, /vexil_http_request_duration_seconds_bucket\{le="[0-9.]+",method="POST",route="\/v1\/feature\/:key\/eval",status="200"\}/);
    assert.match(text, /vexil_store_up\{store="pglite"\} 1/);
    assert.match(text, /vexil_sse_clients\{stream="sdk"\} 0/);
    assert.match(text, /vexil_snapshot_last_reload_timestamp_seconds \d+/);
  });
});

describe("GO Feature Flag's error texts on the relay routes", () => {
  const raw = (path: string, text: string) => fetch(`${base}${path}`, { method: 'POST', headers: json(), body: text });

  test('bucketing key errors answer GO Feature Flag\'s errorDetails on the relay routes; OFREP bulk and the playground say which attribute is missing', async () => {
    const created = await fetch(`${base}/admin/v1/flags/team-split`, {
      method: 'PUT',
      headers: json(ADMIN),
      body: JSON.stringify({ variations: { a: 'A', b: 'B' }, bucketingKey: 'company.id', defaultRule: { percentage: { a: 50, b: 50 } } }),
    });
    assert.equal(created.status, 201);
    try {
      const details = async (custom: Record<string, unknown>) =>
        (await (await post('/v1/feature/team-split/eval', { evaluationContext: { key: 'u', custom }, defaultValue: 'z' })).json()).errorDetails;
      assert.equal(await details({}), 'impossible to find bucketingKey in context: Error: nested key not found: company.id');
      assert.equal(await details({ company: { id: 7 } }), 'invalid bucketing key');
      assert.equal(await details({ company: { id: '' } }), 'Error: Empty bucketing key');
      assert.equal(await details({ company: { id: 'c-1' } }), undefined);

      const all = await (await post('/v1/allflags', { evaluationContext: { key: 'u', custom: { gofeatureflag: { flagList: ['team-split'] } } } })).json();
      assert.equal(all.flags['team-split'].errorDetails, 'impossible to find bucketingKey in context: Error: nested key not found: company.id');
      const bulk = await (await post('/ofrep/v1/evaluate/flags', { context: { targetingKey: 'u', gofeatureflag: { flagList: ['team-split'] } } })).json();
      assert.deepEqual(bulk.flags, [
        { key: 'team-split', errorCode: 'TARGETING_KEY_MISSING', errorDetails: 'flag `team-split` splits users by company.id (its bucketingKey) and the context has none: send {"context": {"company": {"id": "..."}}}' },
      ]);

      const playground = await (await post('/admin/v1/evaluate', { flag: 'team-split', context: { targetingKey: 'u' } }, json(ADMIN))).json();
      assert.match(playground.errorMessage, /splits users by company\.id \(its bucketingKey\)/);
    } finally {
      assert.equal((await fetch(`${base}/admin/v1/flags/team-split`, { method: 'DELETE', headers: { 'x-api-key': ADMIN } })).status, 200);
    }
  });

  test('a cut-off JSON body: GO Feature Flag\'s words on every relay route', async () => {
    for (const path of ['/v1/feature/bool-flag/eval', '/v1/allflags']) {
      const response = await raw(path, '{"evaluationContext": {"key": "u"}');
      assert.equal(response.status, 400, path);
      assert.deepEqual(await response.json(), { message: 'unexpected EOF' }, path);
    }
    const collector = await raw('/v1/data/collector', '{"events": [');
    assert.equal(collector.status, 400);
    assert.deepEqual(await collector.json(), { message: 'collectEvalData: invalid input data code=400, message=unexpected EOF, internal=unexpected EOF' });
    const configuration = await raw('/v1/flag/configuration', '{"flags": ["bool-flag"]');
    assert.equal(configuration.status, 400);
    assert.deepEqual(await configuration.json(), {
      errorCode: 'INVALID_REQUEST',
      errorDetails: 'impossible to read request body: code=400, message=unexpected EOF, internal=unexpected EOF',
    });
    // Other malformed JSON keeps the parser's message, in the route's shape.
    const other = await (await raw('/v1/flag/configuration', '{"flags": }')).json();
    assert.equal(other.errorCode, 'INVALID_REQUEST');
    assert.match(other.errorDetails, /^impossible to read request body: the request body is not valid JSON: /);
    const otherEval = await (await raw('/v1/allflags', '{"user": }')).json();
    assert.match(otherEval.message, /not valid JSON/);
  });

  test('/v1/data/collector: events must be a list (no type coercion: null and a string are 400)', async () => {
    for (const body of [{ events: null }, { events: 'x' }, { events: { kind: 'feature' } }, { meta: {} }, [{ kind: 'feature' }]]) {
      const response = await post('/v1/data/collector', body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.deepEqual(await response.json(), { message: 'collectEvalData: invalid input data' }, JSON.stringify(body));
    }
    const none = await post('/v1/data/collector', { events: [] });
    assert.deepEqual(await none.json(), { ingestedContentCount: 0 });
  });

  test('/v1/flag/configuration: a body it cannot read is 400 INVALID_REQUEST (no type coercion); flags: null is every flag', async () => {
    for (const body of [{ flags: 'bool-flag' }, { flags: [1] }, [1]]) {
      const response = await post('/v1/flag/configuration', body);
      assert.equal(response.status, 400, JSON.stringify(body));
      const answer = await response.json();
      assert.deepEqual(Object.keys(answer), ['errorCode', 'errorDetails']);
      assert.equal(answer.errorCode, 'INVALID_REQUEST');
      assert.match(answer.errorDetails, /^impossible to read request body: /);
    }
    const all = await post('/v1/flag/configuration', { flags: null });
    assert.equal(all.status, 200);
    assert.equal(Object.keys((await all.json()).flags).length, 6);
  });
});
