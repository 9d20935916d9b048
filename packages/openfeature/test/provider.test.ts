// VexilProvider against a real `vexil serve`: every type and error case, the same answers as the server's OFREP
// endpoint, live changes, type changes, the snapshot file, exposures and tracking.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { OpenFeature, ProviderEvents, type Client, type EventDetails } from '@openfeature/server-sdk';
import { VexilProvider } from '@vexil/openfeature';
import { eventually, flagsChanged, startServer, waitFor, type VexilServer } from './helpers/server.js';
import { testFlags } from './helpers/flags.js';

let server: VexilServer;
let provider: VexilProvider;
let client: Client;
let snapshotFile: string;

const onConfigurationChanged = (handler: (details: EventDetails | undefined) => void) => {
  const listener = (details?: EventDetails) => handler(details);
  client.addHandler(ProviderEvents.ConfigurationChanged, listener);
  return () => client.removeHandler(ProviderEvents.ConfigurationChanged, listener);
};

before(async () => {
  server = await startServer();
  for (const [key, flag] of Object.entries(testFlags)) await server.putFlag(key, flag);
  snapshotFile = join(await mkdtemp(join(tmpdir(), 'vexil-of-')), 'snapshot.json');
  provider = new VexilProvider({ url: server.url, sdkKey: server.sdkKey, snapshotFile, events: { flushIntervalMs: 60_000 } });
  await OpenFeature.setProviderAndWait('main', provider);
  client = OpenFeature.getClient('main');
});

after(async () => {
  await OpenFeature.close();
  await server?.stop();
  if (snapshotFile) await rm(dirname(snapshotFile), { recursive: true, force: true });
});

test('all four types with variant, reason and flag metadata', async () => {
  const bool = await client.getBooleanDetails('bool-flag', false, { targetingKey: 'u1', beta: true });
  assert.equal(bool.value, true);
  assert.equal(bool.variant, 'on');
  assert.equal(bool.reason, 'TARGETING_MATCH');
  assert.equal(bool.errorCode, undefined);
  // Primitive metadata only (OpenFeature's rule): the nested object is left out.
  assert.equal(bool.flagMetadata.owner, 'team-a');
  assert.equal(bool.flagMetadata.ticket, 42);
  assert.equal('nested' in bool.flagMetadata, false);

  const off = await client.getBooleanDetails('bool-flag', true, { targetingKey: 'u1' });
  assert.deepEqual([off.value, off.variant, off.reason], [false, 'off', 'DEFAULT']);

  const str = await client.getStringDetails('string-flag', 'none', { targetingKey: 'u2', country: 'FR' });
  assert.deepEqual([str.value, str.variant, str.reason], ['blue', 'blue', 'TARGETING_MATCH']);

  const num = await client.getNumberDetails('number-flag', 0, { targetingKey: 'u3', age: 70 });
  assert.deepEqual([num.value, num.variant, num.reason], [100, 'high', 'TARGETING_MATCH']);
  const low = await client.getNumberDetails('number-flag', 0, { targetingKey: 'u3' });
  assert.deepEqual([low.value, low.reason], [1.5, 'DEFAULT']);

  const obj = await client.getObjectDetails('object-flag', {}, { targetingKey: 'u4' });
  assert.equal(obj.reason, 'SPLIT');
  assert.ok(obj.variant === 'a' || obj.variant === 'b');
  assert.deepEqual(obj.value, obj.variant === 'a' ? { theme: 'dark', size: 3 } : { theme: 'light', items: [1, 2] });
});

test('error cases return the default with the error code', async () => {
  const missing = await client.getBooleanDetails('no-such-flag', true, { targetingKey: 'u1' });
  assert.deepEqual([missing.value, missing.reason, missing.errorCode], [true, 'ERROR', 'FLAG_NOT_FOUND']);

  const mismatch = await client.getNumberDetails('string-flag', 7, { targetingKey: 'u1' });
  assert.deepEqual([mismatch.value, mismatch.reason, mismatch.errorCode], [7, 'ERROR', 'TYPE_MISMATCH']);
  const notObject = await client.getObjectDetails('bool-flag', { d: 1 }, { targetingKey: 'u1' });
  assert.deepEqual([notObject.value, notObject.errorCode], [{ d: 1 }, 'TYPE_MISMATCH']);

  const noKey = await client.getStringDetails('split-flag', 'dflt', {});
  assert.deepEqual([noKey.value, noKey.errorCode], ['dflt', 'TARGETING_KEY_MISSING']);

  const disabled = await client.getBooleanDetails('disabled-flag', false, { targetingKey: 'u1' });
  assert.deepEqual([disabled.value, disabled.reason, disabled.variant, disabled.errorCode], [false, 'DISABLED', undefined, undefined]);
});

test('the same answers as the server\'s OFREP endpoint, across generated contexts', async () => {
  const types: Record<string, 'boolean' | 'string' | 'number' | 'object'> = {
    'bool-flag': 'boolean',
    'string-flag': 'string',
    'number-flag': 'number',
    'object-flag': 'object',
    'split-flag': 'string',
    'disabled-flag': 'boolean',
  };
  const defaults = { boolean: false, string: 'default', number: -1, object: { default: true } } as const;
  const context = fc.record(
    {
      targetingKey: fc.oneof(fc.uuid(), fc.string({ maxLength: 12 }), fc.constantFrom('user-1', 'été-😀', '')),
      beta: fc.boolean(),
      country: fc.constantFrom('FR', 'DE', 'US', 'fr', ''),
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
        const local = provider.resolve(remote.key, defaults[type], ctx, type);
        const context = `${remote.key} for ${JSON.stringify(ctx)}`;
        if (remote.errorCode !== undefined) {
          assert.equal(local.errorCode, remote.errorCode, context);
          assert.deepEqual(local.value, defaults[type], context);
        } else {
          assert.equal(local.errorCode, undefined, context);
          assert.deepEqual(local.value, 'value' in remote ? remote.value : defaults[type], context);
          assert.equal(local.variant, remote.variant, context);
          assert.equal(local.reason, remote.reason, context);
          const { gofeatureflag_cacheable: _ignored, ...metadata } = remote.metadata ?? {};
          assert.deepEqual({ ...local.flagMetadata }, metadata, context);
        }
        compared++;
      }
    }),
    { numRuns: 150 },
  );
  assert.ok(compared >= 150 * 6);
});

test('a change through the admin API: CONFIGURATION_CHANGED with flagsChanged, the new value, the snapshot file', async () => {
  const changed = waitFor(onConfigurationChanged);
  await server.putFlag('bool-flag', { ...(testFlags['bool-flag'] as object), defaultRule: { variation: 'on' } });
  const details = await changed;
  assert.deepEqual(details?.flagsChanged, ['bool-flag']);
  assert.equal(await client.getBooleanValue('bool-flag', false, { targetingKey: 'u1' }), true);

  const created = waitFor(onConfigurationChanged);
  await server.putFlag('new-flag', { variations: { a: 'A' }, defaultRule: { variation: 'a' } });
  assert.deepEqual((await created)?.flagsChanged, ['new-flag']);
  assert.equal(await client.getStringValue('new-flag', '-', {}), 'A');

  const deleted = waitFor(onConfigurationChanged);
  await server.deleteFlag('new-flag');
  assert.deepEqual((await deleted)?.flagsChanged, ['new-flag']);
  assert.equal((await client.getStringDetails('new-flag', '-', {})).errorCode, 'FLAG_NOT_FOUND');

  // The snapshot file follows, written whole (never half a file).
  await eventually(async () => {
    const doc = JSON.parse(await readFile(snapshotFile, 'utf8'));
    return doc.format === 'vexil-snapshot/1' && doc.flags['bool-flag'].flag.defaultRule.variation === 'on' && !('new-flag' in doc.flags);
  }, 5_000, 'snapshot file updated');
  await server.putFlag('bool-flag', testFlags['bool-flag']);
});

test('a flag that changes type: TYPE_MISMATCH and the default, for the old type', async () => {
  await server.putFlag('shape-shifter', { variations: { on: true, off: false }, defaultRule: { variation: 'on' } });
  await eventually(async () => (await client.getBooleanValue('shape-shifter', false, {})) === true, 15_000, 'flag visible');
  const changed = waitFor(onConfigurationChanged, (details) => flagsChanged(details).includes('shape-shifter'));
  await server.putFlag('shape-shifter', { variations: { on: 'yes', off: 'no' }, defaultRule: { variation: 'on' } });
  await changed;
  const asBoolean = await client.getBooleanDetails('shape-shifter', false, {});
  assert.deepEqual([asBoolean.value, asBoolean.reason, asBoolean.errorCode], [false, 'ERROR', 'TYPE_MISMATCH']);
  assert.equal(await client.getStringValue('shape-shifter', 'no', {}), 'yes');
});

test('exposures (counted per flag, variant and user) and track() reach the collector', async () => {
  for (let i = 0; i < 5; i++) await client.getBooleanValue('bool-flag', false, { targetingKey: 'exposed-user', beta: true });
  await client.getStringValue('string-flag', '', { targetingKey: 'exposed-user', country: 'DE' });
  client.track('purchase', { targetingKey: 'exposed-user' }, { value: 99.5, currency: 'EUR' });
  client.track('purchase', { targetingKey: 'other-user' }, { value: 0.5 });
  const stats = provider.stats().events!;
  assert.ok(stats.pending >= 4, `pending ${stats.pending}`);
  await provider.flush();
  assert.equal(provider.stats().events!.pending, 0);
  const summary = (await server.admin('GET', '/admin/v1/events')).body;
  assert.equal(summary.metrics.purchase.count, 2);
  assert.equal(summary.metrics.purchase.sum, 100);
  assert.ok(summary.flags['bool-flag'].on.count >= 1);
  assert.ok(summary.flags['string-flag'].blue.count >= 1);
});

test('polling instead of the stream: flags, then changes (ETag revalidation in between)', async () => {
  const polling = new VexilProvider({ url: server.url, sdkKey: server.sdkKey, stream: false, pollIntervalMs: 100, events: false });
  await OpenFeature.setProviderAndWait('polling', polling);
  const pollingClient = OpenFeature.getClient('polling');
  const details = await pollingClient.getStringDetails('string-flag', '', { targetingKey: 'u1', country: 'FR' });
  assert.deepEqual([details.value, details.reason], ['blue', 'TARGETING_MATCH']);
  const changed = waitFor<EventDetails | undefined>((handler) => {
    pollingClient.addHandler(ProviderEvents.ConfigurationChanged, handler);
    return () => pollingClient.removeHandler(ProviderEvents.ConfigurationChanged, handler);
  });
  await server.putFlag('number-flag', { ...(testFlags['number-flag'] as object), defaultRule: { variation: 'high' } });
  assert.deepEqual((await changed)?.flagsChanged, ['number-flag']);
  assert.equal(await pollingClient.getNumberValue('number-flag', 0, { targetingKey: 'u1' }), 100);
  await server.putFlag('number-flag', testFlags['number-flag']);
  await polling.onClose();
});
