// VexilProvider against the OpenFeature specification and the @openfeature/server-sdk Provider contract, through the
// SDK and a real `vexil serve`: resolution details and every error code (2.2, 2.3), initialization and shutdown
// (2.4, 2.5, 5.3), events (5.1), tracking (2.7, 6), context handling (3), and the provider's lifecycle when the SDK
// sets, replaces and closes it repeatedly.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  OpenFeature,
  ProviderEvents,
  ProviderStatus,
  StandardResolutionReasons,
  type EvaluationContext,
  type EventDetails,
  type JsonValue,
  type Logger,
} from '@openfeature/server-sdk';
import { VexilProvider } from '@vexil/openfeature';
import { eventually, freePort, startServer, waitFor, type VexilServer } from './helpers/server.js';
import { testFlags } from './helpers/flags.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {} };
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');

const specFlags: Record<string, unknown> = {
  ...testFlags,
  'int-flag': { variations: { small: 3, big: 1000 }, defaultRule: { variation: 'small' } },
  'float-flag': { variations: { pi: 3.14159, e: 2.71828 }, defaultRule: { variation: 'pi' } },
  'array-flag': { variations: { list: ['a', 'b'], empty: [] }, defaultRule: { variation: 'list' } },
  'metadata-flag': {
    variations: { on: true, off: false },
    targeting: [{ name: 'staff', query: 'email ew "@example.com"', variation: 'on' }],
    defaultRule: { variation: 'off' },
    metadata: { string: '1.0.2', integer: 2, float: 0.1, boolean: true, list: [1, 2], object: { a: 1 } },
  },
};

let server: VexilServer;
let dir: string;
let eventsFile: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vexil-of-spec-'));
  eventsFile = join(dir, 'events.jsonl');
  server = await startServer({ extraArgs: ['--events-file', eventsFile] });
  for (const [key, flag] of Object.entries(specFlags)) await server.putFlag(key, flag);
});

after(async () => {
  await OpenFeature.clearProviders();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

function live(options: ConstructorParameters<typeof VexilProvider>[0] = {}): VexilProvider {
  return new VexilProvider({ url: server.url, sdkKey: server.sdkKey, logger: quiet, ...options });
}

function on(domain: string, event: ProviderEvents) {
  const client = OpenFeature.getClient(domain);
  return (handler: (details: EventDetails | undefined) => void) => {
    const listener = (details?: EventDetails) => handler(details);
    client.addHandler(event, listener);
    return () => client.removeHandler(event, listener);
  };
}

/** Freezes an object and everything in it. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

test('2.1, 2.3.1, runsOn: metadata.name, provider hooks, the server paradigm, an event emitter', () => {
  const provider = new VexilProvider({ bootstrap: { flags: {} } });
  assert.equal(provider.metadata.name, 'vexil');
  assert.equal(provider.runsOn, 'server');
  assert.deepEqual(provider.hooks, []);
  assert.notEqual(provider.hooks, new VexilProvider({ bootstrap: { flags: {} } }).hooks, 'hooks are per instance');
  assert.equal(typeof provider.events.addHandler, 'function');
  for (const method of ['resolveBooleanEvaluation', 'resolveStringEvaluation', 'resolveNumberEvaluation', 'resolveObjectEvaluation', 'initialize', 'onClose', 'track'] as const) {
    assert.equal(typeof provider[method], 'function', method);
  }
});

test('2.2: resolution details of every type: value, variant, reason; no error code or message on success; primitive, frozen metadata', async () => {
  await OpenFeature.setProviderAndWait('details', live({ events: false }));
  const client = OpenFeature.getClient('details');

  const bool = await client.getBooleanDetails('metadata-flag', false, { targetingKey: 'u1', email: 'x@example.com' });
  assert.deepEqual(
    { value: bool.value, variant: bool.variant, reason: bool.reason, errorCode: bool.errorCode, errorMessage: bool.errorMessage },
    { value: true, variant: 'on', reason: StandardResolutionReasons.TARGETING_MATCH, errorCode: undefined, errorMessage: undefined },
  );
  // 2.2.10: keys are strings, values boolean | string | number; the list and the object are left out.
  assert.deepEqual({ ...bool.flagMetadata }, { string: '1.0.2', integer: 2, float: 0.1, boolean: true, evaluatedRuleName: 'staff' });
  for (const value of Object.values(bool.flagMetadata)) assert.ok(['string', 'number', 'boolean'].includes(typeof value));
  const direct = await client.getBooleanDetails('metadata-flag', false, { targetingKey: 'u1' });
  assert.deepEqual({ ...direct.flagMetadata }, { string: '1.0.2', integer: 2, float: 0.1, boolean: true });
  assert.ok(Object.isFrozen(direct.flagMetadata));
  // Changing what a caller got back (on a direct call, before the SDK freezes it) never changes the flag.
  const provider = OpenFeature.getProvider('details') as VexilProvider;
  const raw = provider.resolve('metadata-flag', false, { targetingKey: 'u1' }, 'boolean');
  assert.throws(() => {
    (raw.flagMetadata as Record<string, unknown>).string = 'changed';
  }, TypeError);
  assert.equal((await client.getBooleanDetails('metadata-flag', false, {})).flagMetadata.string, '1.0.2');
  // No metadata: an empty object.
  assert.deepEqual({ ...(await client.getStringDetails('split-flag', '', { targetingKey: 'u1' })).flagMetadata }, {});

  const str = await client.getStringDetails('string-flag', 'none', { targetingKey: 'u2', country: 'DE' });
  assert.deepEqual([str.value, str.variant, str.reason, str.errorCode], ['blue', 'blue', 'TARGETING_MATCH', undefined]);
  const num = await client.getNumberDetails('number-flag', 0, { targetingKey: 'u3', age: 30 });
  assert.deepEqual([num.value, num.variant, num.reason, num.errorCode], [10, 'mid', 'TARGETING_MATCH', undefined]);
  const obj = await client.getObjectDetails('object-flag', {}, { targetingKey: 'u4' });
  assert.equal(obj.reason, 'SPLIT');
  assert.ok(obj.variant === 'a' || obj.variant === 'b');
  const stat = await client.getNumberDetails('int-flag', 0, {});
  assert.deepEqual([stat.value, stat.variant, stat.reason], [3, 'small', 'STATIC']);
  const disabled = await client.getBooleanDetails('disabled-flag', false, { targetingKey: 'u5' });
  assert.deepEqual([disabled.value, disabled.variant, disabled.reason, disabled.errorCode], [false, undefined, 'DISABLED', undefined]);
});

test('numbers and structures as in JavaScript: integers and floats are numbers; objects and arrays are structures; any other pairing is TYPE_MISMATCH', async () => {
  await OpenFeature.setProviderAndWait('types', live({ events: false }));
  const client = OpenFeature.getClient('types');
  // One `number` type in JavaScript: an integer flag asked with a float default, and the other way round.
  assert.deepEqual(await client.getNumberDetails('int-flag', 0.5, {}).then((d) => [d.value, d.errorCode]), [3, undefined]);
  assert.deepEqual(await client.getNumberDetails('float-flag', 7, {}).then((d) => [d.value, d.errorCode]), [3.14159, undefined]);
  // A structure is any JSON object or array (JsonValue), as the SDK's own InMemoryProvider and the OFREP provider
  // accept them: an array flag asked with an object default, and an object flag asked with an array default.
  assert.deepEqual(await client.getObjectDetails('array-flag', {}, {}).then((d) => [d.value, d.variant, d.errorCode]), [['a', 'b'], 'list', undefined]);
  const objectFlag = await client.getObjectDetails<JsonValue>('object-flag', [], { targetingKey: 'u1' });
  assert.equal(objectFlag.errorCode, undefined);
  assert.ok(!Array.isArray(objectFlag.value) && typeof objectFlag.value === 'object');

  const mismatches: Array<[string, () => Promise<{ value: unknown; reason?: string; errorCode?: string; errorMessage?: string; variant?: string }>, unknown]> = [
    ['number asked as boolean', () => client.getBooleanDetails('int-flag', true, {}), true],
    ['number asked as string', () => client.getStringDetails('float-flag', 'd', {}), 'd'],
    ['number asked as object', () => client.getObjectDetails('int-flag', { d: 1 }, {}), { d: 1 }],
    ['string asked as number', () => client.getNumberDetails('string-flag', 42, { targetingKey: 'u' }), 42],
    ['boolean asked as string', () => client.getStringDetails('bool-flag', 'd', {}), 'd'],
    ['array asked as string', () => client.getStringDetails('array-flag', 'd', {}), 'd'],
    ['array asked as number', () => client.getNumberDetails('array-flag', 1.5, {}), 1.5],
    ['object asked as boolean', () => client.getBooleanDetails('object-flag', false, { targetingKey: 'u' }), false],
  ];
  for (const [what, evaluate, fallback] of mismatches) {
    const details = await evaluate();
    assert.deepEqual(details.value, fallback, what);
    assert.equal(details.reason, 'ERROR', what);
    assert.equal(details.errorCode, 'TYPE_MISMATCH', what);
    assert.equal(details.variant, undefined, what);
    assert.match(details.errorMessage ?? '', /not the (boolean|string|number|object) that was asked for/, what);
  }
});

test('2.2.7: every error code comes with the caller\'s default and reason ERROR', async () => {
  // A definition the engine cannot compile (a newer server's, or a hand-made snapshot): PARSE_ERROR, as OFREP says.
  const bootstrap = {
    flags: {
      ok: { variations: { a: 'A' }, defaultRule: { variation: 'a' } },
      broken: { variations: { a: 'A' } }, // no defaultRule, which is required
      split: { variations: { a: 'A', b: 'B' }, defaultRule: { percentage: { a: 50, b: 50 } } },
    },
  };
  await OpenFeature.setProviderAndWait('errors', new VexilProvider({ bootstrap, logger: quiet }));
  const client = OpenFeature.getClient('errors');
  const expect = async (what: string, details: Promise<{ value: unknown; reason?: string; errorCode?: string; errorMessage?: string }>, code: string, fallback: unknown, message?: RegExp) => {
    const d = await details;
    assert.deepEqual([d.value, d.reason, d.errorCode], [fallback, 'ERROR', code], what);
    if (message) assert.match(d.errorMessage ?? '', message, what);
  };
  await expect('unknown flag', client.getStringDetails('missing', 'dflt', {}), 'FLAG_NOT_FOUND', 'dflt', /does not exist/);
  await expect('wrong type', client.getNumberDetails('ok', 9, {}), 'TYPE_MISMATCH', 9);
  await expect('split without targetingKey', client.getStringDetails('split', 'dflt', {}), 'TARGETING_KEY_MISSING', 'dflt', /targetingKey/);
  await expect('empty targetingKey', client.getStringDetails('split', 'dflt', { targetingKey: '' }), 'TARGETING_KEY_MISSING', 'dflt');
  await expect('invalid definition', client.getStringDetails('broken', 'dflt', {}), 'PARSE_ERROR', 'dflt', /invalid/);
  // A context the engine cannot read (it refers to itself): GENERAL, never an exception out of the provider.
  const cyclic: Record<string, unknown> = { targetingKey: 'u1' };
  cyclic.self = cyclic;
  await expect('unreadable context', client.getStringDetails('ok', 'dflt', cyclic as EvaluationContext), 'GENERAL', 'dflt');
  const provider = OpenFeature.getProvider('errors') as VexilProvider;
  const direct = await provider.resolveStringEvaluation('ok', 'dflt', cyclic as EvaluationContext);
  assert.deepEqual([direct.value, direct.errorCode], ['dflt', 'GENERAL']);
  // The split works with a key.
  assert.match(await client.getStringValue('split', 'dflt', { targetingKey: 'u1' }), /^[AB]$/);

  // No flags yet: PROVIDER_NOT_READY from the provider itself (the SDK only short-circuits while NOT_READY).
  const cold = new VexilProvider({ url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 100, logger: quiet });
  for (const [type, fallback] of [['boolean', true], ['string', 's'], ['number', 1], ['object', { o: 1 }]] as const) {
    const d = cold.resolve('any', fallback, {}, type);
    assert.deepEqual([d.value, d.reason, d.errorCode], [fallback, 'ERROR', 'PROVIDER_NOT_READY'], type);
  }
  await OpenFeature.setProviderAndWait('not-ready', cold).catch(() => undefined);
  await expect('no flags', OpenFeature.getClient('not-ready').getBooleanDetails('any', true, {}), 'PROVIDER_NOT_READY', true);
  await OpenFeature.clearProviders();
});

test('3: the merged context (API, transaction-free client, invocation) is read, frozen, never changed; targetingKey and dates from it', async () => {
  await OpenFeature.setProviderAndWait('context', live({ events: false }));
  OpenFeature.setContext({ targetingKey: 'api-level-user', country: 'US' });
  const client = OpenFeature.getClient('context');
  client.setContext({ email: 'someone@example.com' });
  try {
    const invocation = deepFreeze({ nested: { deep: { list: [1, { x: 2 }] } }, when: new Date('2026-01-02T03:04:05Z') });
    const merged = { targetingKey: 'api-level-user', country: 'US', email: 'someone@example.com', nested: invocation.nested, when: '2026-01-02T03:04:05.000Z' };
    // The string flag splits @example.com users by targetingKey: the key must be the API-level one.
    const details = await client.getStringDetails('string-flag', 'none', invocation as unknown as EvaluationContext);
    const response = await fetch(`${server.url}/ofrep/v1/evaluate/flags/string-flag`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.sdkKey}` },
      body: JSON.stringify({ context: merged }),
    });
    const remote = (await response.json()) as { value: string; variant: string; reason: string };
    assert.deepEqual([details.value, details.variant, details.reason], [remote.value, remote.variant, remote.reason]);
    assert.equal(details.reason, 'TARGETING_MATCH_SPLIT');
    // A split with no key anywhere in the merged context.
    OpenFeature.setContext({});
    assert.equal((await client.getStringDetails('split-flag', 'd', deepFreeze({ plan: 'pro' }))).errorCode, 'TARGETING_KEY_MISSING');
    // Provider called directly with a frozen context: nothing is written to it.
    const provider = OpenFeature.getProvider('context') as VexilProvider;
    const frozen = deepFreeze({ targetingKey: 'k', email: 'a@example.com', when: new Date(0), nested: { a: [1] } });
    const before = JSON.stringify(frozen);
    assert.equal((await provider.resolveStringEvaluation('string-flag', 'none', frozen)).errorCode, undefined);
    assert.equal(JSON.stringify(frozen), before);
  } finally {
    OpenFeature.setContext({});
    client.setContext({});
  }
});

test('2.7, 6: track(name, context, details) never blocks; the value and the custom fields reach the server\'s collector', async () => {
  const provider = live({ events: { flushIntervalMs: 60_000, exposures: false } });
  await OpenFeature.setProviderAndWait('tracking', provider);
  const client = OpenFeature.getClient('tracking');
  client.setContext({ plan: 'pro' });
  const returned = client.track('spec-purchase', { targetingKey: 'buyer-1' }, { value: 12.5, currency: 'EUR', items: ['a', 'b'], at: new Date('2026-05-01T00:00:00Z'), cart: { lines: 2 } });
  client.track('spec-purchase', { targetingKey: 'buyer-2' }, { value: 7.5 });
  client.track('spec-signup', { targetingKey: 'buyer-3' });
  assert.equal(returned, undefined);
  // track() only records: all three are pending, nothing was sent yet (the flush interval is a minute).
  assert.equal(provider.stats().events!.pending, 3);
  assert.equal(provider.stats().events!.sent, 0);
  // Flushed by the SDK's close (2.7.1: flush before shutdown).
  await OpenFeature.clearProviders();
  const summary = (await server.admin('GET', '/admin/v1/events')).body;
  assert.deepEqual({ count: summary.metrics['spec-purchase'].count, sum: summary.metrics['spec-purchase'].sum }, { count: 2, sum: 20 });
  assert.equal(summary.metrics['spec-signup'].count, 1);
  const lines = await eventually(async () => {
    const text = await readFile(eventsFile, 'utf8').catch(() => '');
    const events = text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
    const mine = events.filter((event) => event.kind === 'tracking' && String(event.key).startsWith('spec-'));
    return mine.length >= 3 ? mine : undefined;
  }, 5_000, 'tracking events written');
  const first = lines.find((event) => event.userKey === 'buyer-1');
  assert.deepEqual(first.trackingEventDetails, { value: 12.5, currency: 'EUR', items: ['a', 'b'], at: '2026-05-01T00:00:00.000Z', cart: { lines: 2 } });
  assert.deepEqual(first.evaluationContext, { plan: 'pro', targetingKey: 'buyer-1' });
  assert.equal(first.key, 'spec-purchase');
  assert.equal(typeof first.creationDate, 'number');
  assert.deepEqual(lines.find((event) => event.userKey === 'buyer-3').trackingEventDetails, {});
});

test('2.4, 5.3: concurrent evaluations while initializing answer PROVIDER_NOT_READY, then the flags', async () => {
  const provider = live({ events: false });
  const first = OpenFeature.setProviderAndWait('init-a', provider);
  // The SDK marks a provider already registered elsewhere READY at once: the provider itself must say it is not.
  const second = OpenFeature.setProviderAndWait('init-b', provider);
  const early = await Promise.all(Array.from({ length: 20 }, () => OpenFeature.getClient('init-b').getBooleanDetails('bool-flag', true, { targetingKey: 'u' })));
  for (const d of early) assert.deepEqual([d.value, d.reason, d.errorCode], [true, 'ERROR', 'PROVIDER_NOT_READY']);
  await Promise.all([first, second]);
  for (const domain of ['init-a', 'init-b']) {
    const client = OpenFeature.getClient(domain);
    assert.equal(client.providerStatus, ProviderStatus.READY);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => client.getBooleanDetails('bool-flag', true, { targetingKey: `u${i}`, beta: i % 2 === 0 })));
    results.forEach((d, i) => assert.deepEqual([d.value, d.errorCode], [i % 2 === 0, undefined]));
  }
  await OpenFeature.clearProviders();
});

test('2.4.2.1: an SDK key refused after a cold start: PROVIDER_ERROR with PROVIDER_FATAL, status FATAL', async () => {
  const provider = new VexilProvider({ url: server.url, sdkKey: 'revoked-key', bootstrap: { flags: { f: { variations: { a: true }, defaultRule: { variation: 'a' } } } }, events: false, logger: quiet });
  const error = waitFor(on('fatal-later', ProviderEvents.Error));
  await OpenFeature.setProviderAndWait('fatal-later', provider);
  const client = OpenFeature.getClient('fatal-later');
  assert.equal((await client.getBooleanDetails('f', false)).reason, 'CACHED');
  const details = await error;
  assert.equal(details?.errorCode, 'PROVIDER_FATAL');
  assert.match(details?.message ?? '', /refused the SDK key/);
  assert.equal(client.providerStatus, ProviderStatus.FATAL);
  assert.deepEqual(await client.getBooleanDetails('f', false).then((d) => [d.value, d.errorCode]), [false, 'PROVIDER_FATAL']);

  // Nowhere to get flags from at all: a configuration error, so FATAL too.
  await assert.rejects(OpenFeature.setProviderAndWait('no-source', new VexilProvider({ logger: quiet })), (e: Error & { code?: string }) => e.code === 'PROVIDER_FATAL');
  assert.equal(OpenFeature.getClient('no-source').providerStatus, ProviderStatus.FATAL);
  await OpenFeature.clearProviders();
});

test('2.5, 1.1.2: repeated setProviderAndWait: a provider closed and set again at once serves again; no listener leak warning', async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
  process.on('warning', onWarning);
  try {
    const a = live({ events: false });
    const b = live({ events: false });
    await OpenFeature.setProviderAndWait('repeat', a);
    // The SDK calls a.onClose() without waiting for it, then a.initialize() for the new registration.
    OpenFeature.setProvider('repeat', b);
    await OpenFeature.setProviderAndWait('repeat', a);
    const client = OpenFeature.getClient('repeat');
    const details = await client.getBooleanDetails('bool-flag', true, { targetingKey: 'u' });
    assert.deepEqual([details.value, details.reason, details.errorCode], [false, 'DEFAULT', undefined]);
    await new Promise((resolve) => setTimeout(resolve, 200)); // a's old close, had it been left running, would land now
    assert.equal((await client.getBooleanDetails('bool-flag', true, { targetingKey: 'u' })).errorCode, undefined);
    assert.equal(a.stats().freshness, 'live');
    // The same instance again: the SDK ignores it; still serving.
    await OpenFeature.setProviderAndWait('repeat', a);
    assert.equal(await client.getBooleanValue('bool-flag', true, { targetingKey: 'u' }), false);
    // Many registrations in a row.
    for (let i = 0; i < 15; i++) {
      await OpenFeature.setProviderAndWait('repeat', b);
      await OpenFeature.setProviderAndWait('repeat', a);
    }
    assert.equal(client.providerStatus, ProviderStatus.READY);
    assert.equal((await client.getBooleanDetails('bool-flag', true, { targetingKey: 'u' })).errorCode, undefined);
    // The replaced one was closed: back to its uninitialized state.
    await eventually(() => b.stats().freshness === 'none', 15_000, 'b closed');
    assert.equal(b.resolve('bool-flag', true, {}, 'boolean').errorCode, 'PROVIDER_NOT_READY');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings.filter((w) => w.includes('MaxListeners')), []);
  } finally {
    process.off('warning', onWarning);
    await OpenFeature.clearProviders();
  }
});

test('2.5: onClose is idempotent, concurrent calls share one close that flushes the events, and the provider can start again', async () => {
  const provider = live({ events: { flushIntervalMs: 60_000 } });
  await provider.initialize();
  provider.track('spec-close', { targetingKey: 'closer' }, { value: 5 });
  const before = (await server.admin('GET', '/admin/v1/events')).body.metrics['spec-close']?.count ?? 0;
  const first = provider.onClose();
  const second = provider.onClose();
  // Both wait for the flush.
  await second;
  assert.equal((await server.admin('GET', '/admin/v1/events')).body.metrics['spec-close'].count, before + 1);
  await first;
  await provider.onClose();
  assert.equal(provider.stats().freshness, 'none');
  assert.equal(provider.resolve('bool-flag', true, {}, 'boolean').errorCode, 'PROVIDER_NOT_READY');
  provider.track('spec-close', { targetingKey: 'closer' }, { value: 5 }); // closed: ignored, no throw
  // Initialized again: a fresh connection.
  await provider.initialize();
  assert.equal(provider.resolve('bool-flag', true, { targetingKey: 'u', beta: true }, 'boolean').value, true);
  // Closed while initialize() still waits for flags: it rejects, nothing is left running.
  const dead = new VexilProvider({ url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 30_000, logger: quiet });
  const init = dead.initialize();
  await new Promise((resolve) => setTimeout(resolve, 50));
  await dead.onClose();
  await assert.rejects(init, /closed before flags arrived/);
  // initialize() during a close waits for it; a second close then cancels that start as well.
  const closing = provider.onClose();
  const restart = provider.initialize();
  const closingAgain = provider.onClose();
  await Promise.all([closing, closingAgain]);
  await assert.rejects(restart, /closed before flags arrived/);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(provider.stats().freshness, 'none');
  assert.equal(provider.stats().events, undefined, 'nothing started');
});

test('exposures: many distinct users are delivered in batches that fit the server\'s body limit', async () => {
  const provider = live({ events: { flushIntervalMs: 60_000, batchSize: 100_000, maxPending: 20_000 } });
  await provider.initialize();
  for (let i = 0; i < 12_000; i++) provider.resolve('bool-flag', false, { targetingKey: `a-user-with-a-rather-long-targeting-key-${i}` }, 'boolean');
  assert.equal(provider.stats().events!.pending, 12_000);
  await provider.flush();
  assert.deepEqual(provider.stats().events, { pending: 0, sent: 12_000, dropped: 0, merged: 0 });
  await provider.onClose();
});

/** Runs test/fixtures/exit-script.ts; resolves with its output once it exits by itself (fails after `ms`). */
function runScript(args: string[], ms = 40_000): Promise<{ code: number | null; output: string; elapsedMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(here, 'fixtures', 'exit-script.ts'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args[0]}: still running after ${ms} ms (something keeps the process alive):\n${output}`));
    }, ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output, elapsedMs: Date.now() - started });
    });
  });
}

test('2.5: a script exits by itself after OpenFeature.close(): no timer, socket or stream left behind', async () => {
  const deadUrl = `http://127.0.0.1:${await freePort()}`;
  // A "server" that accepts connections and never answers.
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
  try {
    const runs = await Promise.all([
      runScript(['live', server.url, server.sdkKey]),
      runScript(['polling', server.url, server.sdkKey]),
      runScript(['init-failed', deadUrl, 'k']),
      runScript(['close-during-init', server.url, server.sdkKey]),
      runScript(['close-during-init', deadUrl, 'k']),
      runScript(['cached-then-close', server.url, server.sdkKey]),
      runScript(['collector-hangs', silentUrl, 'k']),
    ]);
    const [liveRun, polling, initFailed, closeDuringInit, closeDuringInitDead, cached, hangs] = runs;
    for (const run of runs) assert.equal(run.code, 0, run.output);
    assert.match(liveRun!.output, /value false\nclosed after/);
    assert.match(polling!.output, /value false\nclosed after/);
    assert.match(initFailed!.output, /initialize rejected\nclosed after/);
    assert.match(closeDuringInit!.output, /initialize rejected\nclosed after/);
    assert.match(closeDuringInitDead!.output, /initialize rejected\nclosed after/);
    assert.match(cached!.output, /value true\nclosed after/);
    assert.match(hangs!.output, /closed after/);
    // The script exited by itself (code 0 above) although its collector never answers: close() gave up on it.
  } finally {
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
  const summary = (await server.admin('GET', '/admin/v1/events')).body;
  assert.ok(summary.metrics['exit-script']?.count >= 1, 'the live script flushed its tracking event on close');
});
