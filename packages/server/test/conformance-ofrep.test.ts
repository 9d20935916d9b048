// Black-box conformance of `vexil serve`'s OFREP endpoints with the OpenFeature Remote Evaluation Protocol
// (open-feature/protocol service/openapi.yaml, ADRs) and with GO Feature Flag's OFREP implementation (GOFF:
// thomaspoignant/go-feature-flag cmd/relayproxy/handler/ofrep/evaluate.go, gold pairs in cmd/relayproxy/testdata/ofrep/
// {*.json,responses/*.json} read by evaluate_test.go). The flags are GOFF's relay config_flags.yaml, restated in
// fixtures/conformance/relay-flags.goff.yaml.
//
// Deliberate differences that Vexil documents (packages/server/README.md) are asserted as Vexil documents them, in
// tests whose names start with "Vexil:": a disabled flag omits value and variant (GOFF: null / "SdkDefault" or ""),
// a per-flag bulk error is OFREP's {key, errorCode, errorDetails} (GOFF adds value null, reason ERROR, variant ""),
// the body and the context may be missing (GOFF: 400), single-flag answers carry `cacheable` (OFREP's
// serverEvaluationSuccess), metadata is primitive only (OFREP's metadata schema), and `errorDetails` says what is wrong
// and how to fix it (GOFF: `Error while evaluating the flag: <key>` on single, `Error: Empty targeting key` on bulk).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '@vexil/server';
import { REPO_ROOT, SDK, ADMIN, listen, postJson, type PostAnswer } from './helpers.js';

const FIXTURES = resolve(REPO_ROOT, 'packages/server/test/fixtures/conformance');
const fx = (name: string): string => join(FIXTURES, name);

let main: FastifyInstance;
let edge: FastifyInstance;
let limited: FastifyInstance;
let mainUrl: string;
let edgeUrl: string;
let limitedUrl: string;

const server = (files: string[], extra: Record<string, unknown> = {}): Promise<FastifyInstance> =>
  buildServer({ storeUrl: `file:${files.join(',')}`, sdkKeys: [SDK], adminKeys: [ADMIN], defaultMetrics: false, heartbeatMs: 0, ...extra });

before(async () => {
  [main, edge, limited] = await Promise.all([
    server([fx('relay-flags.goff.yaml')]),
    server([fx('edge-flags.goff.yaml'), fx('rollout-scheduled.goff.yaml'), fx('rollout-progressive.goff.yaml'), fx('rollout-experimentation.goff.yaml')]),
    server([fx('relay-flags.goff.yaml')], { rateLimit: { max: 2, timeWindowMs: 60_000 } }),
  ]);
  [mainUrl, edgeUrl, limitedUrl] = await Promise.all([listen(main), listen(edge), listen(limited)]);
});
after(async () => {
  await Promise.all([main?.close(), edge?.close(), limited?.close()]);
});

const auth = { 'content-type': 'application/json', 'x-api-key': SDK };
const post = (base: string, path: string, body: unknown, headers: Record<string, string> = auth): Promise<PostAnswer> =>
  postJson(base, path, body, headers);
const single = (key: string, body: unknown, base = mainUrl, headers?: Record<string, string>) => post(base, `/ofrep/v1/evaluate/flags/${key}`, body, headers);
const bulk = (body: unknown, base = mainUrl, headers?: Record<string, string>) => post(base, '/ofrep/v1/evaluate/flags', body, headers);

// --- GOFF request bodies (cmd/relayproxy/testdata/ofrep/*.json) -----------------------------------------------------
const VALID = { context: { company: 'GO Feature Flag', firstname: 'John', lastname: 'Doe', targetingKey: '4f433951-4c8c-42b3-9f18-8c9a5ed8e9eb' } };
const NO_TARGETING_KEY = { context: { company: 'GO Feature Flag', firstname: 'John', lastname: 'Doe' } };
const SPECIFIC_KEY = { context: { company: 'GO Feature Flag', firstname: 'John', lastname: 'Doe', targetingKey: 'specific-targeting-key' } };
const SPECIFY_FLAGS = { context: { ...VALID.context, gofeatureflag: { flagList: ['array-flag', 'flag-only-for-admin'] } } };
const INVALID_JSON = '{\n  "context": {\n    "company": "GO Feature Flag",\n    "targetingKey": "4f433951-4c8c-42b3-9f18-8c9a5ed8e9eb"\n}';

// ofrep/responses/valid_response_with_event_streams.json, flags[] (key, value, reason, variant), disabled aside.
const OBJ = { test: 'test' };
const BULK_VALID: [string, unknown, string, string][] = [
  ['array-flag', ['batmanDefault', 'supermanDefault', 'superherosDefault'], 'DEFAULT', 'Default'],
  ['flag-only-for-admin', false, 'DEFAULT', 'Default'],
  ['new-admin-access', true, 'SPLIT', 'True'],
  ['number-flag', 1, 'DEFAULT', 'Default'],
  ['targeting-key-rule', false, 'DEFAULT', 'false_var'],
  ['test-flag-rule-apply', OBJ, 'DEFAULT', 'Default'],
  ['test-flag-rule-apply-false', OBJ, 'DEFAULT', 'Default'],
  ['test-flag-rule-not-apply', OBJ, 'DEFAULT', 'Default'],
];
const ALL_KEYS = ['array-flag', 'disable-flag', 'flag-only-for-admin', 'new-admin-access', 'number-flag', 'targeting-key-rule', 'test-flag-rule-apply', 'test-flag-rule-apply-false', 'test-flag-rule-not-apply'];

describe('OFREP bulk: POST /ofrep/v1/evaluate/flags (GOFF ofrep/responses/valid_response*.json)', () => {
  test('200, JSON, every flag sorted by key with GOFF\'s value, reason and variant', async () => {
    const r = await bulk(VALID);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(r.body.flags.map((f: { key: string }) => f.key), ALL_KEYS);
    const served = r.body.flags.filter((f: { key: string }) => f.key !== 'disable-flag').map((f: any) => [f.key, f.value, f.reason, f.variant]);
    assert.deepEqual(served, BULK_VALID);
  });

  test('Vexil: the disabled flag is {key, reason: DISABLED} with no value and no variant (GOFF: value null, variant "")', async () => {
    const r = await bulk(VALID);
    const disabled = r.body.flags.find((f: { key: string }) => f.key === 'disable-flag');
    assert.equal(disabled.reason, 'DISABLED');
    assert.equal('value' in disabled, false);
    assert.equal('variant' in disabled, false);
    assert.equal(disabled.errorCode, undefined);
  });

  test('bulk entries carry no metadata for flags without metadata (GOFF\'s bulk never adds gofeatureflag_cacheable)', async () => {
    const r = await bulk(VALID);
    const withMetadata = r.body.flags.filter((f: { metadata?: Record<string, unknown> }) => f.metadata !== undefined && Object.keys(f.metadata).length > 0);
    assert.deepEqual(withMetadata.map((f: any) => [f.key, f.metadata]), []);
  });

  test('eventStreams (OFREP ADR-0008): [{type: "sse", url, inactivityDelaySec ≥ 1}]', async () => {
    const r = await bulk(VALID);
    assert.equal(r.body.eventStreams.length, 1);
    const [stream] = r.body.eventStreams;
    assert.equal(stream.type, 'sse');
    assert.doesNotThrow(() => new URL(stream.url));
    assert.ok(Number.isInteger(stream.inactivityDelaySec) && stream.inactivityDelaySec >= 1);
  });

  test('gofeatureflag.flagList in the context limits the flags (valid_request_specify_flags → valid_response_specify_flags)', async () => {
    const r = await bulk(SPECIFY_FLAGS);
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.flags.map((f: any) => [f.key, f.value, f.reason, f.variant]),
      [BULK_VALID[0], BULK_VALID[1]],
    );
  });

  test('no targeting key (no_targeting_key_context → responses/no_targeting_key_context): TARGETING_KEY_MISSING per bucketed flag, the disabled one included; the static flag served', async () => {
    const r = await bulk(NO_TARGETING_KEY);
    assert.equal(r.status, 200);
    const summary = r.body.flags.map((f: any) => [f.key, f.errorCode ?? f.reason]);
    assert.deepEqual(
      summary,
      ALL_KEYS.map((key) => [key, key === 'targeting-key-rule' ? 'DEFAULT' : 'TARGETING_KEY_MISSING']),
    );
    const served = r.body.flags.find((f: { key: string }) => f.key === 'targeting-key-rule');
    assert.equal(served.value, false);
    assert.equal(served.variant, 'false_var');
  });

  test('Vexil: a per-flag error is OFREP\'s {key, errorCode, errorDetails} (GOFF adds value null, reason ERROR, variant "")', async () => {
    const r = await bulk(NO_TARGETING_KEY);
    const failed = r.body.flags.find((f: { key: string }) => f.key === 'number-flag');
    assert.deepEqual(Object.keys(failed).sort(), ['errorCode', 'errorDetails', 'key']);
  });

  test('Vexil: per-flag errorDetails says what is missing and how to send it (GOFF: "Error: Empty targeting key")', async () => {
    const r = await bulk(NO_TARGETING_KEY);
    assert.equal(
      r.body.flags.find((f: { key: string }) => f.key === 'number-flag').errorDetails,
      'flag `number-flag` splits users by targetingKey and the context has none: send {"context": {"targetingKey": "..."}}',
    );
  });

  test('malformed JSON (invalid_context → responses/invalid_context): 400 bulkEvaluationFailure {errorCode: INVALID_CONTEXT, errorDetails}', async () => {
    const r = await bulk(INVALID_JSON);
    assert.equal(r.status, 400);
    assert.equal(r.body.errorCode, 'INVALID_CONTEXT');
    assert.equal(typeof r.body.errorDetails, 'string');
    assert.equal('flags' in r.body, false);
  });

  test('Vexil: {context: null}, {} and no body are evaluated as an empty context (GOFF: 400 INVALID_CONTEXT, nil_context.json)', async () => {
    for (const body of [{ context: null }, {}, undefined]) {
      const r = await bulk(body, mainUrl, body === undefined ? { 'x-api-key': SDK } : auth);
      assert.equal(r.status, 200, JSON.stringify(body));
      assert.equal(r.body.flags.length, 9);
    }
  });

  test('ETag on 200; If-None-Match with it → 304 and no body (OFREP openapi, ADR-0005)', async () => {
    const first = await bulk(VALID);
    const etag = first.headers.get('etag');
    assert.ok(etag, 'ETag header');
    const again = await bulk(VALID, mainUrl, { ...auth, 'if-none-match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
  });

  test('the ETag depends on the context, not only the flags: a changed non-targetingKey attribute is never a 304', async () => {
    const first = await bulk({ context: { ...VALID.context } });
    const etag = first.headers.get('etag')!;
    const other = await bulk({ context: { ...VALID.context, anonymous: true } }, mainUrl, { ...auth, 'if-none-match': etag });
    assert.equal(other.status, 200);
    assert.notEqual(other.headers.get('etag'), etag);
    // anonymous eq true now matches rule1 of array-flag, test-flag-rule-apply-false and number-flag.
    assert.equal(other.body.flags.find((f: { key: string }) => f.key === 'number-flag').variant, 'True');
  });

  test('flagConfigEtag / flagConfigLastModified query parameters are accepted (ADR-0008 re-fetch)', async () => {
    const r = await post(mainUrl, '/ofrep/v1/evaluate/flags?flagConfigEtag=abc&flagConfigLastModified=1700000000', VALID);
    assert.equal(r.status, 200);
  });
});

describe('OFREP single flag: POST /ofrep/v1/evaluate/flags/{key} (GOFF ofrep evaluate_test.go Test_Evaluate)', () => {
  test('valid (valid_request → valid_evaluation.json, with gofeatureflag_cacheable); Vexil adds cacheable (serverEvaluationSuccess)', async () => {
    const r = await single('number-flag', VALID);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(r.body, { key: 'number-flag', value: 1, reason: 'DEFAULT', variant: 'Default', metadata: { gofeatureflag_cacheable: true }, cacheable: true });
  });

  test('a rule on targetingKey (valid_targeting_key_query_request → valid_targeting_key_query_response)', async () => {
    const r = await single('targeting-key-rule', SPECIFIC_KEY);
    assert.deepEqual(r.body, { key: 'targeting-key-rule', value: true, reason: 'TARGETING_MATCH', variant: 'true_var', metadata: { gofeatureflag_cacheable: true }, cacheable: true });
  });

  test('no targeting key on a static flag (→ no_targeting_key_static_flag.json): 200 DEFAULT', async () => {
    const r = await single('targeting-key-rule', NO_TARGETING_KEY);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { key: 'targeting-key-rule', value: false, reason: 'DEFAULT', variant: 'false_var', metadata: { gofeatureflag_cacheable: true }, cacheable: true });
  });

  test('no targeting key on a bucketed flag (→ no_targeting_key_bucketing_flag.json, percentage_flag_no_key_error.json): 400 TARGETING_KEY_MISSING', async () => {
    for (const key of ['number-flag', 'flag-only-for-admin']) {
      const r = await single(key, NO_TARGETING_KEY);
      assert.equal(r.status, 400, key);
      assert.equal(r.body.key, key);
      assert.equal(r.body.errorCode, 'TARGETING_KEY_MISSING');
      assert.equal(typeof r.body.errorDetails, 'string');
    }
  });

  test('Vexil: errorDetails on an evaluation error says what is wrong and how to fix it (GOFF: "Error while evaluating the flag: <key>")', async () => {
    const r = await single('number-flag', NO_TARGETING_KEY);
    assert.equal(r.body.errorDetails, 'flag `number-flag` splits users by targetingKey and the context has none: send {"context": {"targetingKey": "..."}}');
  });

  test('a disabled flag with percentages and no targeting key is TARGETING_KEY_MISSING, not DISABLED (GOFF checks the key first)', async () => {
    const r = await single('disable-flag', NO_TARGETING_KEY);
    assert.equal(r.status, 400);
    assert.equal(r.body.errorCode, 'TARGETING_KEY_MISSING');
  });

  test('Vexil: a disabled flag is 200 {key, reason: DISABLED, metadata} with no value and no variant (GOFF: value null, variant "SdkDefault")', async () => {
    const r = await single('disable-flag', VALID);
    assert.equal(r.status, 200);
    assert.equal(r.body.key, 'disable-flag');
    assert.equal(r.body.reason, 'DISABLED');
    assert.equal('value' in r.body, false);
    assert.equal('variant' in r.body, false);
    assert.equal(r.body.errorCode, undefined);
  });

  test('unknown flag: 404 flagNotFound {key, errorCode: FLAG_NOT_FOUND, errorDetails}', async () => {
    const r = await single('no-such-flag', VALID);
    assert.equal(r.status, 404);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(r.body.key, 'no-such-flag');
    assert.equal(r.body.errorCode, 'FLAG_NOT_FOUND');
    assert.equal(typeof r.body.errorDetails, 'string');
  });

  test('Vexil: unknown flag: errorDetails says the flag does not exist (GOFF: "Error while evaluating the flag: <key>")', async () => {
    const r = await single('no-such-flag', VALID);
    assert.equal(r.body.errorDetails, 'flag `no-such-flag` does not exist in this environment: check the key (keys are case-sensitive)');
  });

  test('malformed JSON (invalid_context → invalid_context_with_key.json): 400 {key, errorCode: INVALID_CONTEXT, errorDetails}', async () => {
    const r = await single('number-flag', INVALID_JSON);
    assert.equal(r.status, 400);
    assert.equal(r.body.key, 'number-flag');
    assert.equal(r.body.errorCode, 'INVALID_CONTEXT');
    assert.equal(typeof r.body.errorDetails, 'string');
  });

  test('an empty flag key (POST /ofrep/v1/evaluate/flags/) is 404 (GOFF "Empty flag key" → not_found.json)', async () => {
    const r = await single('', VALID);
    assert.equal(r.status, 404);
  });

  test('targetingKey is also the "key" attribute in queries (GOFF issue #1898): random-key matches key eq "random-key"', async () => {
    const r = await single('test-flag-rule-apply', { context: { targetingKey: 'random-key' } });
    assert.deepEqual([r.status, r.body.value, r.body.variant, r.body.reason], [200, { test2: 'test' }, 'True', 'TARGETING_MATCH']);
  });

  test('a targetingKey that is not a string counts as none (GOFF evaluationContextFromOFREPRequest): 400 TARGETING_KEY_MISSING on a bucketed flag', async () => {
    const r = await single('number-flag', { context: { targetingKey: 12345 } });
    assert.equal(r.status, 400);
    assert.equal(r.body.errorCode, 'TARGETING_KEY_MISSING');
  });

  test('a flag key with URL-encoded characters is decoded (the OFREP providers encodeURIComponent the key)', async () => {
    const r = await single(encodeURIComponent('number-flag'), VALID);
    assert.equal(r.body.key, 'number-flag');
  });
});

describe('OFREP auth, CORS and rate limiting (open-feature/protocol service/openapi.yaml)', () => {
  test('keys configured: no key → 401 on both endpoints; a wrong key → 401', async () => {
    assert.equal((await single('number-flag', VALID, mainUrl, { 'content-type': 'application/json' })).status, 401);
    assert.equal((await bulk(VALID, mainUrl, { 'content-type': 'application/json' })).status, 401);
    assert.equal((await single('number-flag', VALID, mainUrl, { 'content-type': 'application/json', 'x-api-key': 'wrong' })).status, 401);
  });
  test('X-API-Key (ApiKeyAuth) and Authorization: Bearer (BearerAuth) are both accepted', async () => {
    assert.equal((await single('number-flag', VALID, mainUrl, { 'content-type': 'application/json', authorization: `Bearer ${SDK}` })).status, 200);
    assert.equal((await bulk(VALID, mainUrl, { 'content-type': 'application/json', 'x-api-key': SDK })).status, 200);
  });
  test('CORS preflight allows POST with Content-Type, X-API-Key, Authorization and If-None-Match', async () => {
    const response = await fetch(`${mainUrl}/ofrep/v1/evaluate/flags`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-api-key,authorization,if-none-match',
      },
    });
    assert.ok(response.status === 204 || response.status === 200, String(response.status));
    const origin = response.headers.get('access-control-allow-origin');
    assert.ok(origin === '*' || origin === 'https://app.example.com', String(origin));
    const methods = (response.headers.get('access-control-allow-methods') ?? '').toUpperCase();
    assert.match(methods, /POST/);
    const allowed = (response.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    for (const header of ['content-type', 'x-api-key', 'authorization', 'if-none-match']) assert.ok(allowed === '*' || allowed.includes(header), `${header} in "${allowed}"`);
  });
  test('a cross-origin bulk answer exposes ETag to the browser', async () => {
    const r = await bulk(VALID, mainUrl, { ...auth, origin: 'https://app.example.com' });
    assert.ok(r.headers.get('access-control-allow-origin'));
    assert.match((r.headers.get('access-control-expose-headers') ?? '').toLowerCase(), /etag/);
  });
  test('429 carries Retry-After in integer seconds (what the OFREP providers parse first)', async () => {
    let last: PostAnswer | undefined;
    for (let i = 0; i < 4; i++) last = await single('number-flag', VALID, limitedUrl);
    assert.equal(last!.status, 429);
    assert.match(last!.headers.get('retry-after') ?? '', /^\d+$/);
  });
});

describe('GOFF evaluation semantics through OFREP (modules/core/flag/internal_flag.go)', () => {
  test('gofeatureflag.currentDateTime pins "now": the experiment runs (SPLIT) and the result is not cacheable', async () => {
    const r = await single('experimentation-flag', { context: { targetingKey: 'user-1', gofeatureflag: { currentDateTime: '2021-03-20T17:00:00Z' } } }, edgeUrl);
    assert.equal(r.status, 200);
    assert.equal(r.body.value, 'B');
    assert.equal(r.body.variant, 'B_var');
    assert.equal(r.body.reason, 'SPLIT');
    assert.equal(r.body.metadata?.gofeatureflag_cacheable, undefined);
    assert.equal(r.body.cacheable, false);
  });
  test('outside the experiment window: 200 DISABLED (today is after the 2021 window)', async () => {
    const r = await single('experimentation-flag', { context: { targetingKey: 'user-1' } }, edgeUrl);
    assert.equal(r.status, 200);
    assert.equal(r.body.reason, 'DISABLED');
  });
  test('scheduled: with currentDateTime between the steps, rule_1 is beta eq "true"', async () => {
    const r = await single('new-admin-access', { context: { targetingKey: 'x', beta: 'true', gofeatureflag: { currentDateTime: '2021-01-01T00:00:00Z' } } }, edgeUrl);
    assert.deepEqual([r.body.value, r.body.variant, r.body.reason], [true, 'true_var', 'TARGETING_MATCH']);
    assert.equal(r.body.metadata?.evaluatedRuleName, 'rule_1');
  });
  test('a bucketingKey the context lacks: 400 TARGETING_KEY_MISSING, even without percentages', async () => {
    const r = await single('team-static-flag', { context: { targetingKey: 'u' } }, edgeUrl);
    assert.equal(r.status, 400);
    assert.equal(r.body.errorCode, 'TARGETING_KEY_MISSING');
  });
  test('Vexil: metadata keeps primitives only (OFREP metadata schema; GOFF passes the list through)', async () => {
    const r = await single('quiet-flag', { context: { targetingKey: 'u' } }, edgeUrl);
    assert.deepEqual(r.body.metadata, { description: 'a quiet flag', owner: 'team-a', jira: 42, gofeatureflag_cacheable: true });
  });
  test('a flag file entry that fails validation is dropped at load: 404 FLAG_NOT_FOUND (GOFF in_memory_cache.go)', async () => {
    const r = await single('broken-flag', { context: { targetingKey: 'u' } }, edgeUrl);
    assert.equal(r.status, 404);
    assert.equal(r.body.errorCode, 'FLAG_NOT_FOUND');
  });
  test('a flag that fails validation is absent from the bulk answer (GOFF drops it at load)', async () => {
    const r = await bulk({ context: { targetingKey: 'u', teamId: 't', company: { id: 'c' } } }, edgeUrl);
    assert.equal(r.status, 200);
    assert.equal(r.body.flags.some((f: { key: string }) => f.key === 'broken-flag'), false);
  });
});

describe('GOFF bucketing vectors through OFREP single-flag evaluation (same flags as the CLI conformance test)', () => {
  // One server per file: the vectors reuse flag keys (the flag key is part of the hash).
  const sets: [string, [string, Record<string, unknown>, string, string][]][] = [
    [
      'bucketing-a.goff.yaml',
      [
        ['flagname+', { targetingKey: 'userkey' }, 'variation_C', 'SPLIT'], // rule_test.go, hash 8465
        ['my-flag', { targetingKey: 'user-key' }, 'variation_A', 'SPLIT'], // internal_flag_test.go, 73349
        ['TEST', { targetingKey: 'random-key' }, 'enable', 'TARGETING_MATCH_SPLIT'], // cmd/wasm valid.json
        ['test-flag', { targetingKey: 'random-key-ssss1' }, 'False', 'SPLIT'], // variation_test.go, 21953
        ['new-admin-access', { targetingKey: 'a20b1cd5-7165-4e02-a279-c0c8b90a8912' }, 'True', 'SPLIT'], // 25867
      ],
    ],
    [
      'bucketing-b.goff.yaml',
      [
        ['flagname+', { targetingKey: 'randomUserID' }, 'variation_C', 'SPLIT'], // 71816
        ['flagname+', { targetingKey: '96ac59e6-7492-436b-b15a-ba1d797d2423' }, 'variation_B', 'SPLIT'], // 83297
        ['my-flag', { targetingKey: 'user-key-123' }, 'variation_C', 'SPLIT'], // 5560
      ],
    ],
    [
      'bucketing-c.goff.yaml',
      [
        ['flagname+', { targetingKey: 'userkey' }, 'variation_B', 'SPLIT'], // weights sum to 182
        ['my-flag', { targetingKey: 'user-key', teamId: 'team-123' }, 'variation_B', 'SPLIT'], // 66936
      ],
    ],
    ['bucketing-d.goff.yaml', [['my-flag', { targetingKey: 'user-key', company: { id: 'company-456' } }, 'variation_B', 'SPLIT']]], // 40345
    [
      'bucketing-e.goff.yaml',
      [['my-flag', { targetingKey: 'user-key', gofeatureflag: { currentDateTime: '2022-01-01T00:00:00Z' } }, 'variation_A', 'SPLIT']], // 73349 ≥ 5000
    ],
  ];
  test('every vector gives GOFF\'s variant and reason', async () => {
    const servers = await Promise.all(sets.map(([file]) => server([fx(file)])));
    try {
      const urls = await Promise.all(servers.map((app) => listen(app)));
      const got: unknown[] = [];
      const want: unknown[] = [];
      for (const [index, [file, vectors]] of sets.entries()) {
        for (const [key, context, variant, reason] of vectors) {
          const r = await single(encodeURIComponent(key), { context }, urls[index]);
          got.push([file, key, context.targetingKey, r.status, r.body.variant, r.body.reason]);
          want.push([file, key, context.targetingKey, 200, variant, reason]);
        }
      }
      assert.deepEqual(got, want);
    } finally {
      await Promise.all(servers.map((app) => app.close()));
    }
  });
});
