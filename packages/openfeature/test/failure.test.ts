// Failure: the server down at start (with and without a snapshot), killed while running, a refused key, damaged
// snapshot files, a collector that stays unreachable.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpenFeature, ProviderEvents, ProviderStatus, type EventDetails, type Logger } from '@openfeature/server-sdk';
import { openStore } from '@vexil/store';
import { VexilProvider, writeSnapshotFile } from '@vexil/openfeature';
import { eventually, flagsChanged, freePort, startServer, waitFor, type VexilServer } from './helpers/server.js';
import { deletePrefix, redisAvailable, storeUrl, uniquePrefix } from './helpers/redis.js';

const servers: VexilServer[] = [];
const prefixes: string[] = [];
const fast = { initialDelayMs: 50, maxDelayMs: 300 };
after(async () => {
  await OpenFeature.close();
  for (const server of servers) await server.stop();
  for (const prefix of prefixes) await deletePrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, error: (...a: unknown[]) => warnings.push(a.join(' ')), warn: (...a: unknown[]) => warnings.push(a.join(' ')), info() {}, debug() {} };
}

function on(domain: string, event: ProviderEvents) {
  const client = OpenFeature.getClient(domain);
  return (handler: (details: EventDetails | undefined) => void) => {
    const listener = (details?: EventDetails) => handler(details);
    client.addHandler(event, listener);
    return () => client.removeHandler(event, listener);
  };
}

const flagV1 = { variations: { on: true, off: false }, targeting: [{ query: 'beta eq true', variation: 'on' }], defaultRule: { variation: 'off' } };
const flagV2 = { ...flagV1, defaultRule: { variation: 'on' } };
const dir = await mkdtemp(join(tmpdir(), 'vexil-of-fail-'));
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const sdkKey = 'sdk-failure-tests';
let noSnapshot: VexilProvider;
let cached: VexilProvider;

test('server down at start, no snapshot: initialize rejects clearly; evaluations return the default with PROVIDER_NOT_READY', { timeout: 20_000 }, async () => {
  noSnapshot = new VexilProvider({ url, sdkKey, timeoutMs: 300, reconnect: fast, logger: recordingLogger() });
  await assert.rejects(OpenFeature.setProviderAndWait('no-snapshot', noSnapshot), (error: Error) => {
    assert.match(error.message, /no flags after 300 ms from http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.*no snapshotFile or bootstrap/);
    return true;
  });
  const client = OpenFeature.getClient('no-snapshot');
  assert.equal(client.providerStatus, ProviderStatus.ERROR);
  const details = await client.getBooleanDetails('flag', true, { targetingKey: 'u1' });
  assert.deepEqual([details.value, details.reason, details.errorCode], [true, 'ERROR', 'PROVIDER_NOT_READY']);
});

test('server down at start, with a snapshot file: serves at once, reason CACHED', { timeout: 20_000 }, async () => {
  const snapshotFile = join(dir, 'cached.json');
  await writeSnapshotFile(snapshotFile, { flags: { flag: flagV1 }, segments: {}, revision: 1 });
  cached = new VexilProvider({ url, sdkKey, snapshotFile, reconnect: fast, logger: recordingLogger() });
  // Ready while the server is still down: the flags come from the file, not from a wait for the server.
  await OpenFeature.setProviderAndWait('cached', cached);
  const client = OpenFeature.getClient('cached');
  const details = await client.getBooleanDetails('flag', false, { targetingKey: 'u1', beta: true });
  assert.deepEqual([details.value, details.variant, details.reason], [true, 'on', 'CACHED']);
  assert.equal(cached.stats().freshness, 'cached');
});

test('the server comes up: READY for the provider that had nothing, live reasons and changes for the cached one', async () => {
  const ready = waitFor(on('no-snapshot', ProviderEvents.Ready));
  const changed = waitFor(on('cached', ProviderEvents.ConfigurationChanged), (d) => flagsChanged(d).includes('flag'));
  const server = await startServer({ port, sdkKey });
  servers.push(server);
  await server.putFlag('flag', flagV2);
  await ready;
  const fresh = OpenFeature.getClient('no-snapshot');
  assert.equal(fresh.providerStatus, ProviderStatus.READY);
  await eventually(async () => (await fresh.getBooleanValue('flag', false, {})) === true, 15_000, 'flag served');
  await changed;
  const details = await OpenFeature.getClient('cached').getBooleanDetails('flag', false, { targetingKey: 'u1' });
  assert.deepEqual([details.value, details.reason], [true, 'DEFAULT']);
  assert.equal(cached.stats().freshness, 'live');
});

test('a refused SDK key: initialize fails with PROVIDER_FATAL', async () => {
  const refused = new VexilProvider({ url, sdkKey: 'not-a-key', timeoutMs: 5_000, logger: recordingLogger() });
  await assert.rejects(OpenFeature.setProviderAndWait('refused', refused), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'PROVIDER_FATAL');
    assert.match(error.message, /refused the SDK key \(HTTP 401/);
    return true;
  });
  assert.equal(OpenFeature.getClient('refused').providerStatus, ProviderStatus.FATAL);
  assert.equal((await OpenFeature.getClient('refused').getBooleanDetails('flag', false)).errorCode, 'PROVIDER_FATAL');
});

test('server killed while running: STALE, keeps serving, recovers and reports the flags changed meanwhile', async (t) => {
  if (!(await redisAvailable())) return t.skip('no Redis');
  const prefix = uniquePrefix();
  prefixes.push(prefix);
  const server = await startServer({ store: storeUrl(prefix) });
  servers.push(server);
  await server.putFlag('flag', flagV1);
  await server.putFlag('other', { variations: { a: 'a', b: 'b' }, defaultRule: { variation: 'a' } });
  const snapshotFile = join(dir, 'killed.json');
  const provider = new VexilProvider({ url: server.url, sdkKey: server.sdkKey, snapshotFile, reconnect: fast, logger: recordingLogger() });
  await OpenFeature.setProviderAndWait('killed', provider);
  const client = OpenFeature.getClient('killed');
  assert.equal((await client.getBooleanDetails('flag', true, {})).reason, 'DEFAULT');

  const stale = waitFor(on('killed', ProviderEvents.Stale));
  await server.kill();
  await stale;
  assert.equal(client.providerStatus, ProviderStatus.STALE);
  const during = await client.getBooleanDetails('flag', true, {});
  assert.deepEqual([during.value, during.reason, during.errorCode], [false, 'STALE', undefined]);

  // Flags change while the server is down (another server, or an operator, wrote to the store).
  const store = await openStore(storeUrl(prefix));
  await store.put('flag', flagV2, { actor: 'test' });
  await store.put('added', { variations: { x: 1 }, defaultRule: { variation: 'x' } }, { actor: 'test' });
  await store.close();

  const ready = waitFor(on('killed', ProviderEvents.Ready));
  const changed = waitFor(on('killed', ProviderEvents.ConfigurationChanged));
  await server.restart();
  await ready;
  assert.deepEqual((await changed)?.flagsChanged, ['added', 'flag']);
  const after = await client.getBooleanDetails('flag', false, {});
  assert.deepEqual([after.value, after.reason], [true, 'DEFAULT']);
  assert.equal(await client.getNumberValue('added', 0, {}), 1);
  assert.equal(client.providerStatus, ProviderStatus.READY);
});

test('a damaged snapshot file is ignored with a warning, never a crash', async () => {
  const bootstrap = { flags: { flag: flagV1 } };
  const cases: Array<[string, string | null]> = [
    ['truncated.json', '{"format":"vexil-snapshot/1","revision":3,"flags":{"fl'],
    ['garbage.json', '\u0000\u0001binary'],
    ['wrong-format.json', JSON.stringify({ format: 'something-else/9', flags: {} })],
    ['hash.json', JSON.stringify({ format: 'vexil-snapshot/1', revision: 1, createdAt: '', hash: 'abc', flags: { flag: { flag: flagV2, version: 1 } }, segments: {} })],
    ['bad-flag.json', JSON.stringify({ flags: { flag: 'not an object' } })],
    ['a-directory', null],
  ];
  for (const [name, content] of cases) {
    const file = join(dir, name);
    if (content === null) await mkdir(file, { recursive: true });
    else await writeFile(file, content);
    const logger = recordingLogger();
    // With bootstrap flags to fall back on: serves them.
    const provider = new VexilProvider({ snapshotFile: file, bootstrap, logger });
    await OpenFeature.setProviderAndWait(`damaged-${name}`, provider);
    assert.equal(await OpenFeature.getClient(`damaged-${name}`).getBooleanValue('flag', true, {}), false, name);
    assert.equal(logger.warnings.length, 1, name);
    assert.match(logger.warnings[0]!, new RegExp(`ignoring snapshot file .*${name}`));
  }
  // With nothing else: a clear rejection, no crash.
  const logger = recordingLogger();
  const alone = new VexilProvider({ snapshotFile: join(dir, 'truncated.json'), logger });
  await assert.rejects(alone.initialize(), /no flags: give a url, a store, a snapshotFile that exists, or bootstrap flags/);
  assert.match(logger.warnings[0]!, /not JSON/);
});

test('a collector unreachable for long: events are dropped and counted, evaluations never wait', { timeout: 30_000 }, async () => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  const provider = new VexilProvider({
    url: dead,
    bootstrap: { flags: { flag: flagV1 } },
    reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
    events: { flushIntervalMs: 20, maxPending: 10, maxAgeMs: 1, closeTimeoutMs: 200 },
    logger: recordingLogger(),
  });
  await OpenFeature.setProviderAndWait('no-collector', provider);
  const client = OpenFeature.getClient('no-collector');
  // Every evaluation answers from the flags (not the default) while the collector is unreachable.
  const values: boolean[] = [];
  for (let i = 0; i < 100; i++) values.push(await client.getBooleanValue('flag', false, { targetingKey: `user-${i}`, beta: true }));
  assert.deepEqual(new Set(values), new Set([true]));
  for (let i = 0; i < 5; i++) client.track('click', { targetingKey: `user-${i}` });
  const first = provider.stats().events!;
  assert.ok(first.pending <= 10, `bounded: ${first.pending} pending`);
  assert.ok(first.dropped >= 95, `dropped ${first.dropped}`);
  // Retried, then too old: dropped as well.
  await eventually(() => provider.stats().events!.pending === 0, 15_000, 'old events dropped');
  assert.equal(provider.stats().events!.dropped, 105);
  assert.equal(provider.stats().events!.sent, 0);
  // Close does not hang on the dead collector (the test's time-out would catch it).
  await OpenFeature.clearProviders();
});
