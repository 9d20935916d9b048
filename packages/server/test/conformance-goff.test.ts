// Black-box conformance of `vexil serve`'s GO Feature Flag relay API with GO Feature Flag's relay proxy (GOFF).
//
// Requests and expected responses are GOFF's own gold pairs (thomaspoignant/go-feature-flag, cmd/relayproxy/testdata/
// goff/{flag_eval,all_flags,configuration,collect_eval_data,health}/* and the older copies under .../controller/, read
// by the handler tests in cmd/relayproxy/handler/goff/*_test.go). The flag files they run against are restated under
// fixtures/conformance/. Where Vexil documents a deliberate difference (packages/server/README.md), the test asserts
// Vexil's documented behaviour and says so in its name ("Vexil:").
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '@vexil/server';
import { REPO_ROOT, SDK, ADMIN, eventually, listen, postJson, type PostAnswer } from './helpers.js';

const FIXTURES = resolve(REPO_ROOT, 'packages/server/test/fixtures/conformance');
const fx = (name: string): string => join(FIXTURES, name);

let relay: FastifyInstance;
let configuration: FastifyInstance;
let edge: FastifyInstance;
let relayUrl: string;
let configurationUrl: string;
let edgeUrl: string;
let dir: string;
let eventsFile: string;

async function server(files: string[], extra: Record<string, unknown> = {}): Promise<FastifyInstance> {
  return buildServer({
    storeUrl: `file:${files.join(',')}`,
    sdkKeys: [SDK],
    adminKeys: [ADMIN],
    defaultMetrics: false,
    heartbeatMs: 0,
    ...extra,
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vexil-conformance-goff-'));
  eventsFile = join(dir, 'events.jsonl');
  [relay, configuration, edge] = await Promise.all([
    server([fx('relay-flags.goff.yaml')], { eventsFile }),
    server([fx('relay-configuration.goff.yaml')]),
    server([fx('edge-flags.goff.yaml'), fx('rollout-scheduled.goff.yaml'), fx('rollout-progressive.goff.yaml'), fx('rollout-experimentation.goff.yaml')]),
  ]);
  [relayUrl, configurationUrl, edgeUrl] = await Promise.all([listen(relay), listen(configuration), listen(edge)]);
});
after(async () => {
  await Promise.all([relay?.close(), configuration?.close(), edge?.close()]);
  await rm(dir, { recursive: true, force: true });
});

const auth = { 'content-type': 'application/json', 'x-api-key': SDK };
const post = (base: string, path: string, body: unknown, headers: Record<string, string> = auth): Promise<PostAnswer> =>
  postJson(base, path, body, headers);
async function get(base: string, path: string, headers: Record<string, string> = { 'x-api-key': SDK }) {
  const response = await fetch(`${base}${path}`, { headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text), text };
}

// --- GOFF request bodies (cmd/relayproxy/testdata/.../*_request.json) ---------------------------------------------
const LEGACY_USER_A20 = { key: 'a20b1cd5-7165-4e02-a279-c0c8b90a8912', anonymous: false, custom: { custom1: 'value1', custom2: 'value2' } };
const LEGACY_USER_RANDOM = { key: 'random-key', anonymous: false, custom: { custom1: 'value1', custom2: 'value2' } };
const CTX_RANDOM = { key: 'random-key', custom: { custom1: 'value1', custom2: 'value2' } };

// --- /v1/allflags expected entries (all_flags/valid_response.json), timestamps normalised ------------------------
const entry = (value: unknown, variationType: string, reason: string, extra: Record<string, unknown> = {}) => ({
  value,
  timestamp: 1652273630,
  variationType,
  trackEvents: true,
  errorCode: '',
  reason,
  ...extra,
});
const OBJ_DEFAULT = { test: 'test' };
const ARRAY_DEFAULT = ['batmanDefault', 'supermanDefault', 'superherosDefault'];
const ALL_FLAGS_A20 = {
  'array-flag': entry(ARRAY_DEFAULT, 'Default', 'DEFAULT'),
  'disable-flag': entry(null, '', 'DISABLED'),
  'flag-only-for-admin': entry(false, 'Default', 'DEFAULT'),
  'new-admin-access': entry(true, 'True', 'SPLIT'),
  'number-flag': entry(1, 'Default', 'DEFAULT'),
  'targeting-key-rule': entry(false, 'false_var', 'DEFAULT'),
  'test-flag-rule-apply': entry(OBJ_DEFAULT, 'Default', 'DEFAULT'),
  'test-flag-rule-apply-false': entry(OBJ_DEFAULT, 'Default', 'DEFAULT'),
  'test-flag-rule-not-apply': entry(OBJ_DEFAULT, 'Default', 'DEFAULT'),
};

/** Replaces every `timestamp` with GOFF's placeholder after checking it is the current time in unix seconds. */
function normaliseTimestamps(flags: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
  const now = Date.now() / 1000;
  const out: Record<string, Record<string, unknown>> = {};
  for (const [key, state] of Object.entries(flags)) {
    assert.equal(typeof state.timestamp, 'number', `${key}.timestamp`);
    assert.ok(Math.abs((state.timestamp as number) - now) < 120, `${key}.timestamp ${state.timestamp} is not unix seconds of now`);
    out[key] = { ...state, timestamp: 1652273630 };
  }
  return out;
}
const withoutDetails = (flags: Record<string, Record<string, unknown>>) =>
  Object.fromEntries(Object.entries(flags).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).filter(([f]) => f !== 'errorDetails'))]));

describe('POST /v1/feature/{key}/eval (cmd/relayproxy/testdata/goff/flag_eval)', () => {
  test('valid flag, legacy {user} body (valid_request → valid_response): DEFAULT, cacheable', async () => {
    const r = await post(relayUrl, '/v1/feature/flag-only-for-admin/eval', { user: LEGACY_USER_A20, defaultValue: false });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { trackEvents: true, variationType: 'Default', failed: false, version: '', reason: 'DEFAULT', errorCode: '', value: false, cacheable: true });
  });

  test('disabled flag (disable_flag_request → disable_flag_response): SdkDefault, the default value, DISABLED, not failed', async () => {
    const r = await post(relayUrl, '/v1/feature/disable-flag/eval', { evaluationContext: CTX_RANDOM, defaultValue: 'mydefaultFlagValue' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, {
      trackEvents: true,
      variationType: 'SdkDefault',
      failed: false,
      version: '',
      reason: 'DISABLED',
      errorCode: '',
      value: 'mydefaultFlagValue',
      cacheable: true,
    });
  });

  test('missing flag (flag_not_exist_request → flag_not_exist_response): 200, FLAG_NOT_FOUND, exact body (no errorDetails)', async () => {
    const r = await post(relayUrl, '/v1/feature/random-key-does-not-exist/eval', { user: LEGACY_USER_RANDOM, defaultValue: 'not exist flag value' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, {
      trackEvents: true,
      variationType: 'SdkDefault',
      failed: true,
      version: '',
      reason: 'ERROR',
      errorCode: 'FLAG_NOT_FOUND',
      value: 'not exist flag value',
      cacheable: false,
    });
  });

  test('rule does not apply (rule_not_apply_request → rule_not_apply_response): DEFAULT, no metadata', async () => {
    const r = await post(relayUrl, '/v1/feature/test-flag-rule-not-apply/eval', { user: LEGACY_USER_RANDOM, defaultValue: { test4: 'test' } });
    assert.deepEqual(r.body, { trackEvents: true, variationType: 'Default', failed: false, version: '', reason: 'DEFAULT', errorCode: '', value: OBJ_DEFAULT, cacheable: true });
  });

  test('rule applies, {False:0, True:100} (rule_apply_request → goff/flag_eval/rule_apply_response): TARGETING_MATCH, not a split', async () => {
    const r = await post(relayUrl, '/v1/feature/test-flag-rule-apply/eval', { evaluationContext: CTX_RANDOM, defaultValue: { test4: 'test' } });
    assert.deepEqual(r.body, {
      trackEvents: true,
      variationType: 'True',
      failed: false,
      version: '',
      reason: 'TARGETING_MATCH',
      errorCode: '',
      value: { test2: 'test' },
      cacheable: true,
      metadata: { evaluatedRuleName: 'rule1' },
    });
  });

  test('rule applies with a 90/10 split (rule_apply_false_request → rule_apply_false_response): False, TARGETING_MATCH_SPLIT', async () => {
    const r = await post(relayUrl, '/v1/feature/test-flag-rule-apply-false/eval', {
      evaluationContext: { key: 'random-key-ssss1', custom: { anonymous: true, custom1: 'value1', custom2: 'value2' } },
      defaultValue: { test123: 'test' },
    });
    assert.deepEqual(r.body, {
      trackEvents: true,
      variationType: 'False',
      failed: false,
      version: '',
      reason: 'TARGETING_MATCH_SPLIT',
      errorCode: '',
      value: { test3: 'test' },
      cacheable: true,
      metadata: { evaluatedRuleName: 'rule1' },
    });
  });

  test('legacy user.anonymous feeds the anonymous attribute: anonymous eq true matches (90/10 split → False)', async () => {
    const r = await post(relayUrl, '/v1/feature/test-flag-rule-apply-false/eval', { user: { key: 'random-key-ssss1', anonymous: true, custom: {} }, defaultValue: {} });
    assert.deepEqual([r.body.variationType, r.body.reason], ['False', 'TARGETING_MATCH_SPLIT']);
  });

  const NO_KEY = { evaluationContext: { custom: { custom1: 'value1', custom2: 'value2' } }, defaultValue: 'mydefaultFlagValue' };
  test('no targeting key on a bucketed flag (no_user_key_request → no_user_key_response): 200, TARGETING_KEY_MISSING', async () => {
    const r = await post(relayUrl, '/v1/feature/test-flag-rule-apply-false/eval', NO_KEY);
    assert.equal(r.status, 200);
    const { errorDetails, ...rest } = r.body;
    assert.equal(typeof errorDetails, 'string');
    assert.deepEqual(rest, {
      trackEvents: true,
      variationType: 'SdkDefault',
      failed: true,
      version: '',
      reason: 'ERROR',
      errorCode: 'TARGETING_KEY_MISSING',
      value: 'mydefaultFlagValue',
      cacheable: false,
    });
  });

  test('no targeting key: errorDetails is GOFF\'s "Error: Empty targeting key"', async () => {
    const r = await post(relayUrl, '/v1/feature/test-flag-rule-apply-false/eval', NO_KEY);
    assert.equal(r.body.errorDetails, 'Error: Empty targeting key');
  });

  test('a rule on targetingKey, unnamed (no metadata at all)', async () => {
    const r = await post(relayUrl, '/v1/feature/targeting-key-rule/eval', { evaluationContext: { key: 'specific-targeting-key', custom: {} }, defaultValue: false });
    assert.deepEqual(r.body, { trackEvents: true, variationType: 'true_var', failed: false, version: '', reason: 'TARGETING_MATCH', errorCode: '', value: true, cacheable: true });
  });

  test('no type check on the relay (RawVariation): a string default on a number flag still serves the number', async () => {
    const r = await post(relayUrl, '/v1/feature/number-flag/eval', { evaluationContext: CTX_RANDOM, defaultValue: 'a string' });
    assert.equal(r.body.value, 1);
    assert.equal(r.body.failed, false);
    assert.equal(r.body.errorCode, '');
  });

  test('no evaluationContext and no user: 400 {message: "assertRequest: impossible to find user in request"}', async () => {
    const r = await post(relayUrl, '/v1/feature/number-flag/eval', { defaultValue: false });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { message: 'assertRequest: impossible to find user in request' });
  });

  test('malformed JSON (invalid_json_request): 400 with a {message}', async () => {
    const r = await post(relayUrl, '/v1/feature/test-flag-rule-apply-false/eval', '{"evaluationContext": {"key": "x"');
    assert.equal(r.status, 400);
    assert.equal(typeof r.body?.message, 'string');
  });
});

describe('POST /v1/allflags (cmd/relayproxy/testdata/goff/all_flags)', () => {
  test('valid legacy {user} (valid_request → valid_response), timestamps in unix seconds', async () => {
    const r = await post(relayUrl, '/v1/allflags', { user: LEGACY_USER_A20 });
    assert.equal(r.status, 200);
    assert.deepEqual({ ...r.body, flags: normaliseTimestamps(r.body.flags) }, { flags: ALL_FLAGS_A20, valid: true });
  });

  test('gofeatureflag.flagList in custom limits the flags (valid_request_specify_flags → valid_response_specify_flags)', async () => {
    const user = { ...LEGACY_USER_A20, custom: { ...LEGACY_USER_A20.custom, gofeatureflag: { flagList: ['array-flag', 'flag-only-for-admin'] } } };
    const r = await post(relayUrl, '/v1/allflags', { user });
    assert.deepEqual(
      { ...r.body, flags: normaliseTimestamps(r.body.flags) },
      { flags: { 'array-flag': ALL_FLAGS_A20['array-flag'], 'flag-only-for-admin': ALL_FLAGS_A20['flag-only-for-admin'] }, valid: true },
    );
  });

  test('gofeatureflag.flagList in evaluationContext.custom limits the flags too', async () => {
    const r = await post(relayUrl, '/v1/allflags', { evaluationContext: { key: LEGACY_USER_A20.key, custom: { gofeatureflag: { flagList: ['new-admin-access'] } } } });
    assert.deepEqual({ ...r.body, flags: normaliseTimestamps(r.body.flags) }, { flags: { 'new-admin-access': ALL_FLAGS_A20['new-admin-access'] }, valid: true });
  });

  const NO_KEY_FLAGS = (() => {
    const missing = { value: null, timestamp: 1652273630, variationType: '', trackEvents: true, errorCode: 'TARGETING_KEY_MISSING', reason: 'ERROR' };
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(ALL_FLAGS_A20)) out[key] = missing;
    out['targeting-key-rule'] = entry(false, 'false_var', 'DEFAULT');
    return out;
  })();

  test('no user key (no_user_key_request → no_user_key_response_updated): TARGETING_KEY_MISSING on every bucketed flag, the disabled one included; valid false', async () => {
    const r = await post(relayUrl, '/v1/allflags', { user: { anonymous: false, custom: { custom1: 'value1', custom2: 'value2' } } });
    assert.equal(r.status, 200);
    assert.deepEqual({ ...r.body, flags: withoutDetails(normaliseTimestamps(r.body.flags)) }, { flags: NO_KEY_FLAGS, valid: false });
  });

  test('no user key: each errorDetails is "Error: Empty targeting key"', async () => {
    const r = await post(relayUrl, '/v1/allflags', { user: { anonymous: false, custom: { custom1: 'value1', custom2: 'value2' } } });
    const details = Object.entries(r.body.flags as Record<string, { errorCode: string; errorDetails?: string }>)
      .filter(([, state]) => state.errorCode !== '')
      .map(([key, state]) => [key, state.errorDetails]);
    assert.deepEqual(details, details.map(([key]) => [key, 'Error: Empty targeting key']));
  });

  const TEST_USER = { ...ALL_FLAGS_A20, 'new-admin-access': entry(false, 'False', 'SPLIT') };
  test('evaluationContext without custom (invalid_evaluation_context_request → …_response): evaluated, new-admin-access False', async () => {
    const r = await post(relayUrl, '/v1/allflags', { evaluationContext: { key: 'test-user', email: 'user@example.com' } });
    assert.equal(r.status, 200);
    assert.deepEqual({ ...r.body, flags: normaliseTimestamps(r.body.flags) }, { flags: TEST_USER, valid: true });
  });

  test('legacy user without custom (invalid_user_context_request): evaluated the same way', async () => {
    const r = await post(relayUrl, '/v1/allflags', { user: { key: 'test-user', email: 'user@example.com' } });
    assert.equal(r.status, 200);
    assert.deepEqual({ ...r.body, flags: normaliseTimestamps(r.body.flags) }, { flags: TEST_USER, valid: true });
  });

  test('no context and no user: 400 with a {message}', async () => {
    const r = await post(relayUrl, '/v1/allflags', {});
    assert.equal(r.status, 400);
    assert.equal(typeof r.body?.message, 'string');
  });
});

describe('GET /health and GET /info (no key)', () => {
  test('/health (goff/health/valid.json): 200, initialized true', async () => {
    const r = await get(relayUrl, '/health', {});
    assert.equal(r.status, 200);
    assert.equal(r.body.initialized, true);
  });
  test('/info: 200, cacheRefresh is an RFC 3339 date of the last load', async () => {
    const r = await get(relayUrl, '/info', {});
    assert.equal(r.status, 200);
    assert.equal(typeof r.body.cacheRefresh, 'string');
    assert.match(r.body.cacheRefresh, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
    assert.ok(Math.abs(Date.parse(r.body.cacheRefresh) - Date.now()) < 10 * 60_000);
  });
});

describe('GET /v1/flag/change (handler/goff/flag_change.go)', () => {
  test('{hash, flags: {key: hash}} with uint32 hashes for every flag', async () => {
    const r = await get(relayUrl, '/v1/flag/change');
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body).sort(), ['flags', 'hash']);
    assert.deepEqual(Object.keys(r.body.flags).sort(), Object.keys(ALL_FLAGS_A20).sort());
    for (const value of [r.body.hash, ...Object.values(r.body.flags)]) assert.ok(Number.isInteger(value) && (value as number) >= 0 && (value as number) < 2 ** 32, String(value));
    assert.equal(new Set(Object.values(r.body.flags)).size, 9, 'every flag has its own hash');
  });
  test('ETag, and 304 with no body on If-None-Match', async () => {
    const first = await get(relayUrl, '/v1/flag/change');
    const etag = first.headers.get('etag');
    assert.ok(etag);
    const again = await fetch(`${relayUrl}/v1/flag/change`, { headers: { 'x-api-key': SDK, 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), '');
  });
});

describe('POST /v1/flag/configuration (cmd/relayproxy/testdata/goff/configuration)', () => {
  // configuration/responses/filter-flags.json: the two flags as written in the file.
  const FILTERED = {
    'new-admin-access': {
      variations: { disabled: false, enabled: true },
      defaultRule: { name: 'defaultRule', percentage: { disabled: 70, enabled: 30 } },
    },
    'targeting-key-rule': {
      variations: { disabled: false, enabled: true },
      targeting: [{ query: 'targetingKey eq "specific-targeting-key"', variation: 'enabled' }],
      defaultRule: { variation: 'disabled' },
    },
  };
  test('{flags: [two keys]} (requests/filter-flags → responses/filter-flags): exactly those definitions', async () => {
    const r = await post(configurationUrl, '/v1/flag/configuration', { flags: ['targeting-key-rule', 'new-admin-access'] });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.flags, FILTERED);
  });
  test('an empty body (responses/empty.json): all nine definitions, as written (disable only where set, no added fields)', async () => {
    const r = await post(configurationUrl, '/v1/flag/configuration', {});
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body.flags).sort(), Object.keys(ALL_FLAGS_A20).sort());
    assert.deepEqual(r.body.flags['disable-flag'], {
      variations: { variation_A: 'value A', variation_B: 'value B', variation_C: 'value C' },
      targeting: [{ name: 'rule1', query: 'admin eq true', percentage: { variation_A: 0, variation_B: 90, variation_C: 10 } }],
      defaultRule: { name: 'defaultRule', variation: 'variation_A' },
      disable: true,
    });
    assert.deepEqual(r.body.flags['array-flag'], {
      variations: {
        variation_A: ['batmanDefault', 'supermanDefault', 'superherosDefault'],
        variation_B: ['batmanFalse', 'supermanFalse', 'superherosFalse'],
        variation_C: ['batmanTrue', 'supermanTrue', 'superherosTrue'],
      },
      targeting: [{ name: 'rule1', query: 'anonymous eq true', percentage: { variation_A: 0, variation_B: 90, variation_C: 10 } }],
      defaultRule: { variation: 'variation_A' },
    });
  });
  test('an empty flag list (requests/empty-flag-array): all nine flags', async () => {
    const r = await post(configurationUrl, '/v1/flag/configuration', { flags: [] });
    assert.equal(Object.keys(r.body.flags).length, 9);
  });
  test('Vexil: evaluationContextEnrichment is {} (GOFF omits it when empty)', async () => {
    const r = await post(configurationUrl, '/v1/flag/configuration', {});
    assert.deepEqual(r.body.evaluationContextEnrichment ?? {}, {});
  });
  test('Last-Modified (RFC 1123) and ETag; 304 on If-None-Match', async () => {
    const r = await post(configurationUrl, '/v1/flag/configuration', {});
    const lastModified = r.headers.get('last-modified');
    assert.match(lastModified ?? '', /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    const etag = r.headers.get('etag');
    assert.ok(etag);
    const again = await post(configurationUrl, '/v1/flag/configuration', {}, { ...auth, 'if-none-match': etag });
    assert.equal(again.status, 304);
  });
  test('malformed JSON (requests/invalid-json): 400 {errorCode: "INVALID_REQUEST", errorDetails}', async () => {
    const r = await post(configurationUrl, '/v1/flag/configuration', '{"flags": ["a"');
    assert.equal(r.status, 400);
    assert.equal(r.body?.errorCode, 'INVALID_REQUEST');
    assert.equal(typeof r.body?.errorDetails, 'string');
  });
});

describe('POST /v1/data/collector (cmd/relayproxy/testdata/goff/collect_eval_data)', () => {
  const FEATURE_EVENT = {
    contextKind: 'user',
    creationDate: 1680246000,
    default: false,
    key: 'my-feature-flag',
    kind: 'feature',
    userKey: '94a25909-20d8-40cc-8500-fee99b569345',
    value: 'string',
    variation: 'admin-variation',
    version: 'v1.0.0',
  };
  const META = { environment: 'production', sdkVersion: 'v1.0.0', source: 'my-source', timestamp: 1680246000 };
  const TRACKING_EVENT = {
    kind: 'tracking',
    creationDate: 1680246020,
    contextKind: 'user',
    userKey: '94a25909-20d8-40cc-8500-fee99b569345',
    key: 'my-feature-flag',
    evaluationContext: { targetingKey: '94a25909-20d8-40cc-8500-fee99b569345', name: 'john doe', admin: true },
    trackingEventDetails: { value: 'string', version: 'v1.0.0' },
  };
  const exported = async (predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> =>
    eventually(async () => {
      const text = await readFile(eventsFile, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find(predicate);
    }, 3000);

  test('valid_request_metadata → {ingestedContentCount: 1}; the exported event is GOFF\'s (valid_collected_data_metadata.json)', async () => {
    const r = await post(relayUrl, '/v1/data/collector', { events: [FEATURE_EVENT], meta: META });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { ingestedContentCount: 1 });
    const line = await exported((l) => l.kind === 'feature' && l.creationDate === 1680246000);
    assert.deepEqual(line, { ...FEATURE_EVENT, source: 'PROVIDER_CACHE', metadata: META });
  });

  test('a creationDate in milliseconds is stored in seconds (valid_request_with_timestamp_ms → 1733230547)', async () => {
    const r = await post(relayUrl, '/v1/data/collector', { events: [{ ...FEATURE_EVENT, creationDate: 1733230547728 }] });
    assert.deepEqual(r.body, { ingestedContentCount: 1 });
    const line = await exported((l) => l.kind === 'feature' && l.creationDate === 1733230547);
    assert.equal(line.source, 'PROVIDER_CACHE');
  });

  test('feature and tracking events together (valid_request_mix_tracking_evaluation): 2 ingested; the tracking line is GOFF\'s', async () => {
    const r = await post(relayUrl, '/v1/data/collector', { events: [{ ...FEATURE_EVENT, creationDate: 1680246001 }, TRACKING_EVENT], meta: META });
    assert.deepEqual(r.body, { ingestedContentCount: 2 });
    const line = await exported((l) => l.kind === 'tracking');
    assert.deepEqual(line, TRACKING_EVENT);
  });

  test('events: null (invalid_request_data_null): 400', async () => {
    const r = await post(relayUrl, '/v1/data/collector', { events: null });
    assert.equal(r.status, 400);
    assert.equal(typeof r.body?.message, 'string');
  });

  test('malformed JSON (invalid_request): 400', async () => {
    const r = await post(relayUrl, '/v1/data/collector', '{"events": [{"kind": "feature"}}');
    assert.equal(r.status, 400);
  });
});

describe('API keys on the relay routes (cmd/relayproxy/api/middleware, config/api_keys.go)', () => {
  const routes: [string, string, unknown][] = [
    ['POST', '/v1/allflags', { evaluationContext: CTX_RANDOM }],
    ['POST', '/v1/feature/number-flag/eval', { evaluationContext: CTX_RANDOM, defaultValue: 0 }],
    ['POST', '/v1/flag/configuration', {}],
    ['POST', '/v1/data/collector', { events: [] }],
    ['GET', '/v1/flag/change', undefined],
  ];
  const call = (method: string, path: string, body: unknown, headers: Record<string, string>) =>
    fetch(`${relayUrl}${path}`, { method, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  test('with keys configured, no key → 401 on every evaluation route', async () => {
    for (const [method, path, body] of routes) assert.equal((await call(method, path, body, {})).status, 401, path);
  });
  test('a wrong key → 401', async () => {
    for (const [method, path, body] of routes) assert.equal((await call(method, path, body, { 'x-api-key': 'nope' })).status, 401, path);
  });
  test('Authorization: Bearer <key>, bearer in lower case, and the bare key are all accepted', async () => {
    for (const value of [`Bearer ${SDK}`, `bearer ${SDK}`, SDK]) {
      for (const [method, path, body] of routes) assert.equal((await call(method, path, body, { authorization: value })).status, 200, `${path} with "${value}"`);
    }
  });
  test('/health and /info need no key', async () => {
    assert.equal((await get(relayUrl, '/health', {})).status, 200);
    assert.equal((await get(relayUrl, '/info', {})).status, 200);
  });
});

describe('GOFF evaluation semantics through the relay API (modules/core/flag/internal_flag.go)', () => {
  test('a flag that fails validation is dropped at load: FLAG_NOT_FOUND on /v1/feature/{key}/eval', async () => {
    const r = await post(edgeUrl, '/v1/feature/broken-flag/eval', { evaluationContext: { key: 'u', custom: {} }, defaultValue: 7 });
    assert.equal(r.status, 200);
    assert.equal(r.body.errorCode, 'FLAG_NOT_FOUND');
    assert.equal(r.body.variationType, 'SdkDefault');
    assert.equal(r.body.value, 7);
  });
  test('a flag that fails validation is absent from /v1/allflags', async () => {
    const r = await post(edgeUrl, '/v1/allflags', { evaluationContext: { key: 'u', custom: { teamId: 't', company: { id: 'c' } } } });
    assert.equal(r.status, 200);
    assert.equal('broken-flag' in r.body.flags, false);
  });
  test('trackEvents false, version and metadata (lists included) are copied into the VariationResult', async () => {
    const r = await post(edgeUrl, '/v1/feature/quiet-flag/eval', { evaluationContext: { key: 'u', custom: {} }, defaultValue: 'x' });
    assert.deepEqual(r.body, {
      trackEvents: false,
      variationType: 'enabled',
      failed: false,
      version: 'v1.2.3',
      reason: 'STATIC',
      errorCode: '',
      value: 'yes',
      cacheable: true,
      metadata: { description: 'a quiet flag', owner: 'team-a', jira: 42, tags: ['x', 'y'] },
    });
  });
  test('a bucketingKey the context lacks is TARGETING_KEY_MISSING even on a flag without percentages', async () => {
    const r = await post(edgeUrl, '/v1/feature/team-static-flag/eval', { evaluationContext: { key: 'u', custom: {} }, defaultValue: 'z' });
    assert.equal(r.body.errorCode, 'TARGETING_KEY_MISSING');
    assert.equal(r.body.failed, true);
    assert.equal(r.body.value, 'z');
    assert.equal(r.body.cacheable, false);
  });
  test('a nested bucketingKey present in custom is used; missing → TARGETING_KEY_MISSING', async () => {
    const present = await post(edgeUrl, '/v1/feature/team-split-flag/eval', { evaluationContext: { key: 'u', custom: { company: { id: 'company-456' } } }, defaultValue: 'z' });
    assert.equal(present.body.errorCode, '');
    assert.equal(present.body.reason, 'SPLIT');
    const missing = await post(edgeUrl, '/v1/feature/team-split-flag/eval', { evaluationContext: { key: 'u', custom: {} }, defaultValue: 'z' });
    assert.equal(missing.body.errorCode, 'TARGETING_KEY_MISSING');
  });
  test('gofeatureflag.currentDateTime in custom pins "now": experimentation inside its window is a SPLIT, not cacheable', async () => {
    const r = await post(edgeUrl, '/v1/feature/experimentation-flag/eval', {
      evaluationContext: { key: 'user-1', custom: { gofeatureflag: { currentDateTime: '2021-03-20T17:00:00Z' } } },
      defaultValue: 'default',
    });
    assert.deepEqual(r.body, { trackEvents: true, variationType: 'B_var', failed: false, version: '', reason: 'SPLIT', errorCode: '', value: 'B', cacheable: false });
  });
  test('experimentation outside its window: DISABLED, SdkDefault, the default value, not cacheable', async () => {
    const r = await post(edgeUrl, '/v1/feature/experimentation-flag/eval', { evaluationContext: { key: 'user-1', custom: {} }, defaultValue: 'default' });
    assert.deepEqual(r.body, { trackEvents: true, variationType: 'SdkDefault', failed: false, version: '', reason: 'DISABLED', errorCode: '', value: 'default', cacheable: false });
  });
  test('scheduled steps make a result not cacheable; a progressive rule too', async () => {
    const scheduled = await post(edgeUrl, '/v1/feature/new-admin-access/eval', { evaluationContext: { key: 'u', custom: { beta: 'false' } }, defaultValue: false });
    assert.equal(scheduled.body.reason, 'TARGETING_MATCH');
    assert.equal(scheduled.body.cacheable, false);
    const progressive = await post(edgeUrl, '/v1/feature/progressive-flag/eval', { evaluationContext: { key: 'u', custom: {} }, defaultValue: true });
    assert.equal(progressive.body.reason, 'SPLIT');
    assert.equal(progressive.body.variationType, 'B_var');
    assert.equal(progressive.body.cacheable, false);
  });
});
