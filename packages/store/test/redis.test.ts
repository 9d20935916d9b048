// The Redis store: the conformance suite against the real Redis on 127.0.0.1:6379, then what only Redis does.
// Every test run uses its own key prefix and deletes only its own keys: other tests share this Redis.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { FlagDefinition } from '@vexil/core';
import { RedisFlagStore, parseRedisUrl } from '../src/redis/index.js';
import { StoreConflictError, StoreUnavailableError } from '../src/errors.js';
import type { ChangeEvent } from '../src/types.js';
import { runConformanceSuite } from './conformance.js';

const REDIS = 'redis://127.0.0.1:6379/0';
const run = randomBytes(4).toString('hex');
const admin = new Redis(REDIS);
const prefixes: string[] = [];
let namespaces = 0;

/** A fresh prefix, and a connection name that finds this store's connections in `CLIENT LIST`. */
function namespace(): { prefix: string; name: string } {
  namespaces++;
  const prefix = `vexil-test-${run}-${namespaces}:`;
  prefixes.push(prefix);
  return { prefix, name: `vexil-test-${run}-${namespaces}` };
}

async function openOn(ns: { prefix: string; name: string }, options: Parameters<typeof RedisFlagStore.open>[1] = {}) {
  return RedisFlagStore.open(`${REDIS}?prefix=${encodeURIComponent(ns.prefix)}`, {
    connectionName: ns.name,
    resyncIntervalMs: 1_000,
    ...options,
  });
}

/** Kills this namespace's connections (all of them, or only the pub/sub ones), never anyone else's. */
async function killConnections(name: string, type?: 'pubsub' | 'normal'): Promise<number> {
  const list = String(await admin.call('CLIENT', 'LIST', ...(type ? ['TYPE', type] : [])));
  const ids = list
    .split('\n')
    .map((line) => Object.fromEntries(line.trim().split(' ').map((pair) => pair.split('=') as [string, string])))
    .filter((client) => client.name === name && client.id)
    .map((client) => client.id as string);
  for (const id of ids) await admin.call('CLIENT', 'KILL', 'ID', id);
  return ids.length;
}

async function deletePrefix(prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await admin.del(...keys);
  } while (cursor !== '0');
}

async function cleanup(): Promise<void> {
  for (const prefix of prefixes.splice(0)) await deletePrefix(prefix);
}

let latest: { prefix: string; name: string } | undefined;
runConformanceSuite('redis', {
  async open() {
    latest = namespace();
    return openOn(latest);
  },
  openSecond: () => openOn(latest!),
  async dropConnections() {
      await killConnections(latest!.name);
  },
  async corrupt(key) {
      await admin.set(`${latest!.prefix}flag:${key}`, '{"variations": 42}');
  },
  cleanup,
});

const by = { actor: 'test' };
const flag = (serve: 'on' | 'off' = 'on'): FlagDefinition => ({ variations: { on: true, off: false }, defaultRule: { variation: serve } });

async function collect(iterable: AsyncIterable<ChangeEvent>, count: number, timeoutMs = 10_000): Promise<ChangeEvent[]> {
  const events: ChangeEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  const iterator = iterable[Symbol.asyncIterator]();
  while (events.length < count && Date.now() < deadline) {
    let timer: NodeJS.Timeout | undefined;
    const next = await Promise.race([
      iterator.next(),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(1, deadline - Date.now())))),
    ]);
    clearTimeout(timer);
    if (next === 'timeout' || next.done) break;
    events.push(next.value);
  }
  await iterator.return?.();
  return events;
}

describe('Redis store', { timeout: 60_000 }, () => {
  after(async () => {
    await cleanup();
    admin.disconnect();
  });

  it('keeps each flag as plain GO Feature Flag JSON under {prefix}flag:{key}, for apps that read Redis directly', async () => {
    const ns = namespace();
    const store = await openOn(ns);
    try {
      const definition: FlagDefinition = { ...flag('off'), targeting: [{ query: 'plan eq "pro"', variation: 'on' }], metadata: { team: 'ü' } };
      await store.put('checkout', definition, { actor: 'alice', reason: 'launch' });
      assert.equal(store.flagKey('checkout'), `${ns.prefix}flag:checkout`);
      assert.deepEqual(JSON.parse((await admin.get(`${ns.prefix}flag:checkout`))!), definition);
      const meta = JSON.parse((await admin.hget(`${ns.prefix}meta`, 'checkout'))!);
      assert.equal(meta.version, 1);
      assert.equal(meta.revision, 1);
      assert.equal(meta.updatedBy, 'alice');
      assert.equal(await admin.get(`${ns.prefix}revision`), '1');
      assert.equal(await admin.xlen(`${ns.prefix}audit`), 1);
      const [[id, fields]] = (await admin.xrange(`${ns.prefix}changes`, '-', '+')) as [[string, string[]]];
      assert.equal(id, '1-0', 'change-log ids are revisions');
      assert.equal(JSON.parse(fields[1]!).key, 'checkout');
    } finally {
      await store.close();
    }
  });

  it('applies each write atomically under 50 concurrent writers on several connections', async () => {
    const ns = namespace();
    const stores = await Promise.all(Array.from({ length: 5 }, () => openOn(ns)));
    try {
      // 50 creates of one key: exactly one wins.
      const creates = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => stores[i % 5]!.put('one', flag(), { actor: `w${i}`, expectedVersion: 0 })),
      );
      assert.equal(creates.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of creates) if (r.status === 'rejected') assert.ok(r.reason instanceof StoreConflictError);
      // 50 writes of distinct keys: 50 distinct consecutive revisions, each with its audit and change-log entry.
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => stores[i % 5]!.put(`k${i}`, flag(), by)));
      assert.deepEqual(results.map((r) => r.revision).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 2));
      const changes = (await admin.xrange(`${ns.prefix}changes`, '-', '+')) as Array<[string, string[]]>;
      assert.deepEqual(changes.map(([id]) => id), Array.from({ length: 51 }, (_, i) => `${i + 1}-0`));
      assert.equal(await admin.xlen(`${ns.prefix}audit`), 51);
      assert.equal((await stores[0]!.list()).revision, 51);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('a watcher whose pub/sub connection is killed catches up by revision, with nothing missed or repeated', async () => {
    const ns = namespace();
    const writer = await openOn(ns);
    const reader = await openOn({ ...ns, name: `${ns.name}-reader` });
    try {
      const watching = collect(reader.watch({ fromRevision: 0 }), 12);
      for (let i = 0; i < 3; i++) await writer.put(`a${i}`, flag(), by);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.ok((await killConnections(`${ns.name}-reader`, 'pubsub')) >= 1);
      for (let i = 0; i < 6; i++) await writer.put(`b${i}`, flag(), by);
      assert.ok((await killConnections(`${ns.name}-reader`)) >= 1, 'kill both connections this time');
      for (let i = 0; i < 3; i++) await writer.put(`c${i}`, flag(), by);
      const events = await watching;
      assert.deepEqual(events.map((e) => e.revision), Array.from({ length: 12 }, (_, i) => i + 1));
    } finally {
      await writer.close();
      await reader.close();
    }
  });

  it('resyncs a watcher behind the trimmed change log to the exact current state', async () => {
    const ns = namespace();
    const store = await openOn(ns);
    try {
      await store.putSegments({ staff: { query: 'email ew "@example.com"' } }, by);
      await store.put('kept', flag('off'), by);
      await store.put('gone', flag(), by);
      await store.put('kept', flag('on'), by);
      await store.put('new', flag(), by);
      await store.delete('gone', by);
      await store.put('late', flag(), by); // revision 7
      await admin.xtrim(`${ns.prefix}changes`, 'MAXLEN', 1);
      const events = await collect(store.watch({ fromRevision: 1 }), 4, 3_000);
      assert.deepEqual(
        events.map((e) => [e.type, e.type === 'segments' ? '' : e.key, e.revision]),
        [['put', 'kept', 4], ['put', 'new', 5], ['delete', 'gone', 6], ['put', 'late', 7]],
      );
      const live = store.watch({ fromRevision: 7 });
      const next = collect(live, 1);
      await store.put('after', flag(), by);
      assert.deepEqual((await next).map((e) => e.revision), [8]);
    } finally {
      await store.close();
    }
  });

  it('reports a hand-edited key that is not JSON, or has broken metadata, and skips it', async () => {
    const ns = namespace();
    const store = await openOn(ns);
    try {
      await store.put('good', flag(), by);
      await store.put('not-json', flag(), by);
      await store.put('bad-meta', flag(), by);
      await admin.set(`${ns.prefix}flag:not-json`, '{"variations": {');
      await admin.hset(`${ns.prefix}meta`, 'bad-meta', 'garbage');
      const list = await store.list();
      assert.deepEqual(list.flags.map((f) => f.key), ['good']);
      const byKey = new Map(list.problems.map((p) => [p.flagKey, p]));
      assert.match(byKey.get('not-json')!.message, /not valid JSON/);
      assert.equal(byKey.get('not-json')!.source, `redis key ${ns.prefix}flag:not-json`);
      assert.ok(byKey.get('bad-meta'));
      assert.equal(await store.get('not-json'), undefined);
      // Fixing it through the store works whatever the state of the key.
      await store.put('not-json', flag('off'), by);
      await store.put('bad-meta', flag('off'), { ...by, expectedVersion: 0 });
      assert.deepEqual((await store.list()).problems, []);
    } finally {
      await store.close();
    }
  });

  it('fails with StoreUnavailableError when Redis does not answer (no hang); watchers wait without crashing', { timeout: 20_000 }, async () => {
    const errors: Error[] = [];
    const store = await RedisFlagStore.open('redis://127.0.0.1:1/0', { onError: (error) => errors.push(error) });
    try {
      await assert.rejects(store.put('f', flag(), by), StoreUnavailableError);
      await assert.rejects(store.list(), StoreUnavailableError);
      await assert.rejects(store.ping(), StoreUnavailableError);
      const iterator = store.watch()[Symbol.asyncIterator]();
      const pending = iterator.next();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await store.close();
      assert.equal((await pending).done, true);
      assert.ok(errors.length > 0, 'connection errors are reported to onError');
    } finally {
      await store.close();
    }
  });

  it('keeps API keys in one hash', async () => {
    const ns = namespace();
    const store = await openOn(ns);
    try {
      const record = { id: 'k1', name: 'ci', kind: 'admin' as const, role: 'editor' as const, hash: 'ab'.repeat(32), prefix: 'vx_ab', createdAt: new Date().toISOString(), createdBy: 'test' };
      const keys = store.apiKeys!;
      await keys.create(record);
      await assert.rejects(keys.create(record));
      assert.deepEqual(await keys.list(), [record]);
      assert.equal(await keys.revoke('k1', 'test'), true);
      assert.equal(await keys.revoke('nope', 'test'), false);
      assert.ok((await keys.list())[0]!.revokedAt);
    } finally {
      await store.close();
    }
  });

  it('parses Redis URLs', () => {
    assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6379/2?prefix=app:'), {
      connection: { host: '127.0.0.1', port: 6379, db: 2 },
      prefix: 'app:',
    });
    assert.deepEqual(parseRedisUrl('rediss://u:p%40ss@cache.local'), {
      connection: { host: 'cache.local', port: 6379, username: 'u', password: 'p@ss', tls: {} },
      prefix: undefined,
    });
    assert.throws(() => parseRedisUrl('redis://h/x'));
    assert.throws(() => parseRedisUrl('postgres://h'));
  });
});
