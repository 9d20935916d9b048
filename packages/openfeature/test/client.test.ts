// The direct client (VexilClient) against a real `vexil serve`: the same answers as the OpenFeature provider and as
// the server's OFREP endpoint over generated contexts, typed methods and their defaults, events, the snapshot file,
// and a cold start in a fresh process.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { VexilProvider, VexilClient, VexilFatalError, jsonContext, writeSnapshotFile, type VexilClientEvents } from '@vexil/openfeature';
import { eventually, startServer, waitFor, type VexilServer } from './helpers/server.js';
import { testFlags } from './helpers/flags.js';

let server: VexilServer;
let client: VexilClient;
let provider: VexilProvider;
let dir: string;
let snapshotFile: string;
const quiet = { error() {}, warn() {}, info() {}, debug() {} };

const logicFlag = {
  variations: { on: true, off: false },
  targeting: [{ name: 'eu', query: '{"in": [{"var": "country"}, ["fr", "de"]]}', variation: 'on' }],
  defaultRule: { variation: 'off' },
};

function on<E extends keyof VexilClientEvents>(event: E) {
  return (handler: (details: VexilClientEvents[E]) => void) => client.on(event, handler);
}

before(async () => {
  server = await startServer();
  for (const [key, flag] of Object.entries(testFlags)) await server.putFlag(key, flag);
  await server.putFlag('logic-flag', logicFlag);
  dir = await mkdtemp(join(tmpdir(), 'vexil-client-'));
  snapshotFile = join(dir, 'snapshot.json');
  client = new VexilClient({ url: server.url, sdkKey: server.sdkKey, snapshotFile, events: { flushIntervalMs: 60_000 }, logger: quiet });
  await client.start();
  provider = new VexilProvider({ url: server.url, sdkKey: server.sdkKey, events: false, logger: quiet });
  await provider.initialize();
});

after(async () => {
  await client?.close();
  await provider?.onClose();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('typed methods: the flag\'s value, or the caller\'s default on any error', () => {
  const ctx = { targetingKey: 'u1', beta: true, country: 'FR', age: 70 };
  assert.equal(client.boolean('bool-flag', ctx, false), true);
  assert.equal(client.boolean('bool-flag', { targetingKey: 'u1' }, true), false);
  assert.equal(client.string('string-flag', ctx, 'none'), 'blue');
  assert.equal(client.number('number-flag', ctx, 0), 100);
  const object = client.object('object-flag', { targetingKey: 'u4' }, {});
  assert.ok(JSON.stringify(object) === JSON.stringify({ theme: 'dark', size: 3 }) || JSON.stringify(object) === JSON.stringify({ theme: 'light', items: [1, 2] }));
  assert.equal(client.boolean('logic-flag', { country: 'de' }, false), true, 'a JsonLogic rule');
  // Errors: not found, another type, no targeting key for a split, disabled.
  assert.equal(client.boolean('no-such-flag', ctx, true), true);
  assert.equal(client.number('string-flag', ctx, 7), 7);
  assert.equal(client.string('split-flag', {}, 'dflt'), 'dflt');
  assert.equal(client.boolean('disabled-flag', ctx, true), true);
  // detail: the type is the default's.
  const mismatch = client.detail('string-flag', ctx, 3);
  assert.deepEqual([mismatch.value, mismatch.reason, mismatch.errorCode], [3, 'ERROR', 'TYPE_MISMATCH']);
  const found = client.detail('bool-flag', ctx, false);
  assert.deepEqual([found.key, found.value, found.variant, found.reason, found.errorCode], ['bool-flag', true, 'on', 'TARGETING_MATCH', undefined]);
  assert.equal(found.flagMetadata.owner, 'team-a');
  assert.equal(found.flagMetadata.evaluatedRuleName, 'beta users');
  assert.ok(Object.isFrozen(found.flagMetadata));
  const missing = client.detail('no-such-flag', ctx, 'x');
  assert.deepEqual([missing.value, missing.reason, missing.errorCode], ['x', 'ERROR', 'FLAG_NOT_FOUND']);
});

test('dates: the provider and jsonContext() read them as ISO strings, as the server would; the direct client takes JSON', async () => {
  const dated = new VexilClient({
    bootstrap: { flags: { 'since-2026': { variations: { on: true, off: false }, targeting: [{ query: 'signedUp ge "2026-01-01"', variation: 'on' }], defaultRule: { variation: 'off' } } } },
    events: false,
    logger: quiet,
  });
  await dated.start();
  const datedProvider = new VexilProvider({ bootstrap: { flags: { 'since-2026': { variations: { on: true, off: false }, targeting: [{ query: 'signedUp ge "2026-01-01"', variation: 'on' }], defaultRule: { variation: 'off' } } } }, events: false, logger: quiet });
  await datedProvider.initialize();
  try {
    const context = { targetingKey: 'u1', signedUp: new Date('2026-03-04T05:06:07Z') };
    assert.equal((await datedProvider.resolveBooleanEvaluation('since-2026', false, context)).value, true);
    assert.equal((await datedProvider.resolveBooleanEvaluation('since-2026', true, { targetingKey: 'u1', signedUp: new Date('2025-12-31T00:00:00Z') })).value, false);
    assert.deepEqual(jsonContext(context), { targetingKey: 'u1', signedUp: '2026-03-04T05:06:07.000Z' });
    assert.equal(dated.boolean('since-2026', jsonContext(context), false), true);
    assert.equal(dated.boolean('since-2026', { targetingKey: 'u1', signedUp: '2026-03-04T05:06:07.000Z' }, false), true);
  } finally {
    await dated.close();
    await datedProvider.onClose();
  }
});

test('the same answers as the provider and as the server\'s OFREP endpoint, across generated contexts', async () => {
  const types: Record<string, 'boolean' | 'string' | 'number' | 'object'> = {
    'bool-flag': 'boolean',
    'string-flag': 'string',
    'number-flag': 'number',
    'object-flag': 'object',
    'split-flag': 'string',
    'disabled-flag': 'boolean',
    'logic-flag': 'boolean',
  };
  const defaults = { boolean: false, string: 'default', number: -1, object: { default: true } } as const;
  const context = fc.record(
    {
      targetingKey: fc.oneof(fc.uuid(), fc.string({ maxLength: 12 }), fc.constantFrom('user-1', 'été-😀', '')),
      beta: fc.boolean(),
      country: fc.constantFrom('FR', 'DE', 'US', 'fr', 'de', ''),
      email: fc.oneof(fc.constantFrom('a@example.com', 'b@other.org', ''), fc.emailAddress()),
      age: fc.oneof(fc.integer({ min: 0, max: 120 }), fc.double({ min: 0, max: 120, noNaN: true })),
    },
    { requiredKeys: [] },
  );
  let compared = 0;
  await fc.assert(
    fc.asyncProperty(context, async (ctx) => {
      const response = await fetch(`${server.url}/ofrep/v1/evaluate/flags`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${server.sdkKey}` },
        body: JSON.stringify({ context: ctx }),
      });
      assert.equal(response.status, 200);
      const bulk = (await response.json()) as { flags: Array<Record<string, any>> };
      for (const remote of bulk.flags) {
        const type = types[remote.key as string];
        if (!type) continue;
        const what = `${remote.key} for ${JSON.stringify(ctx)}`;
        const local = client.resolve(remote.key, defaults[type], ctx, type);
        const viaProvider = provider.resolve(remote.key, defaults[type], ctx, type);
        const typed =
          type === 'boolean'
            ? client.boolean(remote.key, ctx, defaults.boolean)
            : type === 'string'
              ? client.string(remote.key, ctx, defaults.string)
              : type === 'number'
                ? client.number(remote.key, ctx, defaults.number)
                : client.object(remote.key, ctx, defaults.object);
        assert.deepEqual(typed, local.value, what);
        assert.deepEqual([local.value, local.variant, local.reason, local.errorCode], [viaProvider.value, viaProvider.variant, viaProvider.reason, viaProvider.errorCode], what);
        if (remote.errorCode !== undefined) {
          assert.equal(local.errorCode, remote.errorCode, what);
          assert.deepEqual(local.value, defaults[type], what);
        } else {
          assert.equal(local.errorCode, undefined, what);
          assert.deepEqual(local.value, 'value' in remote ? remote.value : defaults[type], what);
          assert.equal(local.variant, remote.variant, what);
          assert.equal(local.reason, remote.reason, what);
        }
        compared++;
      }
    }),
    { numRuns: 120 },
  );
  assert.ok(compared >= 120 * 7);
});

test('events: configurationChanged with the changed keys, the new value at once, the snapshot file rewritten', async () => {
  const changed = waitFor(on('configurationChanged'));
  await server.putFlag('bool-flag', { ...(testFlags['bool-flag'] as object), defaultRule: { variation: 'on' } });
  assert.deepEqual((await changed).flagsChanged, ['bool-flag']);
  assert.equal(client.boolean('bool-flag', { targetingKey: 'u1' }, false), true);

  const created = waitFor(on('configurationChanged'));
  await server.putFlag('new-flag', { variations: { a: 'A', b: 'B' }, defaultRule: { variation: 'b' } });
  assert.deepEqual((await created).flagsChanged, ['new-flag']);
  assert.equal(client.string('new-flag', {}, '-'), 'B');

  const deleted = waitFor(on('configurationChanged'));
  await server.deleteFlag('new-flag');
  assert.deepEqual((await deleted).flagsChanged, ['new-flag']);
  assert.equal(client.detail('new-flag', {}, '-').errorCode, 'FLAG_NOT_FOUND');

  await eventually(async () => {
    const doc = JSON.parse(await readFile(snapshotFile, 'utf8'));
    return doc.flags['bool-flag'].flag.defaultRule.variation === 'on' && !('new-flag' in doc.flags);
  }, 10_000, 'snapshot file updated');
  await server.putFlag('bool-flag', testFlags['bool-flag']);
});

test('events: stale when the server goes away (last flags still served, reason STALE), ready when it is back', async () => {
  const own = new VexilClient({ url: server.url, sdkKey: server.sdkKey, events: false, logger: quiet, reconnect: { initialDelayMs: 50, maxDelayMs: 200 }, pollIntervalMs: 200 });
  await own.start();
  try {
    const stale = waitFor<VexilClientEvents['stale']>((handler) => own.on('stale', handler), () => true, 20_000);
    await server.kill();
    await stale;
    assert.equal(own.freshness, 'stale');
    const detail = own.detail('bool-flag', { targetingKey: 'u1', beta: true }, false);
    assert.deepEqual([detail.value, detail.reason], [true, 'STALE']);
    const ready = waitFor<VexilClientEvents['ready']>((handler) => own.on('ready', handler), () => true, 20_000);
    await server.restart();
    await ready;
    assert.equal(own.detail('bool-flag', { targetingKey: 'u1', beta: true }, false).reason, 'TARGETING_MATCH');
  } finally {
    await own.close();
  }
});

test('start() with nowhere to get flags from rejects with VexilFatalError; evaluations answer the default meanwhile', async () => {
  const lost = new VexilClient({ logger: quiet });
  assert.equal(lost.boolean('bool-flag', {}, true), true);
  assert.equal(lost.detail('bool-flag', {}, true).errorCode, 'PROVIDER_NOT_READY');
  await assert.rejects(lost.start(), (error: unknown) => error instanceof VexilFatalError && /no flags/.test(error.message));
});

test('cold start in a fresh process from a snapshot file: CACHED at once, server unreachable, JsonLogic loaded because a flag needs it', async () => {
  const file = join(dir, 'cold.json');
  await writeSnapshotFile(file, { flags: { 'logic-flag': logicFlag as never }, segments: {}, revision: 3 });
  const script = fileURLToPath(new URL('./fixtures/client-cold-start.ts', import.meta.url));
  const child = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', script, file], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(child.status, 0, child.stderr);
  const out = JSON.parse(child.stdout.trim().split('\n').at(-1)!);
  assert.equal(out.engineBefore, false);
  assert.equal(out.engineAfter, true);
  assert.equal(out.freshness, 'cached');
  assert.deepEqual([out.fr.value, out.fr.variant, out.fr.reason], [true, 'on', 'CACHED']);
  assert.equal(out.us, false);
});

test('daemon mode: flags from a store object and its change feed, in revision order, no server', async () => {
  const feed: Array<(value: IteratorResult<unknown>) => void> = [];
  const pending: unknown[] = [];
  const push = (event: unknown) => (feed.length ? feed.shift()!({ value: event, done: false }) : pending.push(event));
  const store = {
    async list() {
      return { flags: [{ key: 'daemon-flag', flag: { variations: { a: 'A', b: 'B' }, defaultRule: { variation: 'a' } }, version: 1 }], segments: {}, revision: 5 };
    },
    watch({ signal }: { fromRevision?: number; signal?: AbortSignal } = {}): AsyncIterable<unknown> {
      return {
        [Symbol.asyncIterator]: () => ({
          next: () =>
            pending.length
              ? Promise.resolve({ value: pending.shift(), done: false })
              : new Promise<IteratorResult<unknown>>((resolve) => {
                  feed.push(resolve);
                  signal?.addEventListener('abort', () => resolve({ value: undefined, done: true }));
                }),
        }),
      };
    },
  };
  const daemon = new VexilClient({ store, events: false, logger: quiet });
  await daemon.start();
  try {
    assert.equal(daemon.string('daemon-flag', {}, '-'), 'A');
    assert.equal(daemon.freshness, 'live');
    const changed = waitFor<VexilClientEvents['configurationChanged']>((handler) => daemon.on('configurationChanged', handler));
    push({ type: 'put', key: 'daemon-flag', flag: { variations: { a: 'A', b: 'B' }, defaultRule: { variation: 'b' } }, version: 2, revision: 6 });
    assert.deepEqual((await changed).flagsChanged, ['daemon-flag']);
    assert.equal(daemon.string('daemon-flag', {}, '-'), 'B');
    // A replayed (older) change is ignored.
    push({ type: 'put', key: 'daemon-flag', flag: { variations: { a: 'A', b: 'B' }, defaultRule: { variation: 'a' } }, version: 1, revision: 5 });
    const later = waitFor<VexilClientEvents['configurationChanged']>((handler) => daemon.on('configurationChanged', handler));
    push({ type: 'put', key: 'other', flag: { variations: { x: 1 }, defaultRule: { variation: 'x' } }, version: 1, revision: 7 });
    assert.deepEqual((await later).flagsChanged, ['other']);
    assert.equal(daemon.string('daemon-flag', {}, '-'), 'B');
    assert.equal(daemon.stats().revision, 7);
  } finally {
    await daemon.close();
  }
});

test('exposures of flags with trackEvents and track() reach the server\'s collector', async () => {
  for (let i = 0; i < 5; i++) client.boolean('bool-flag', { targetingKey: 'client-user', beta: true }, false);
  client.string('string-flag', { targetingKey: 'client-user', country: 'DE' }, '');
  client.track('signup', { targetingKey: 'client-user' }, { value: 3 });
  client.track('signup', { targetingKey: 'other-user' }, { value: 4 });
  assert.ok(client.stats().events!.pending >= 4);
  await client.flush();
  assert.equal(client.stats().events!.pending, 0);
  const summary = (await server.admin('GET', '/admin/v1/events')).body;
  assert.equal(summary.metrics.signup.count, 2);
  assert.equal(summary.metrics.signup.sum, 7);
  assert.ok(summary.flags['bool-flag'].on.count >= 5);
  assert.ok(summary.flags['string-flag'].blue.count >= 1);
});
