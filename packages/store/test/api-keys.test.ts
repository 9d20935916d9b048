// API keys kept by the store (`store.apiKeys`): the same cases against embedded PostgreSQL (PGlite), the PostgreSQL
// server on this machine and Redis, then what only the SQL store does (its migration, validation, persistence).
// Every test works in its own namespace — a PGlite/PostgreSQL schema or a Redis key prefix — removed at the end:
// PostgreSQL and Redis are shared with other tests.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import type { FlagDefinition } from '@vexil/core';
import { MIGRATIONS, StoreUnavailableError, openStore, type ApiKeyRecord, type ApiKeyStore, type FlagStore } from '../src/index.js';
import { openPGliteDriver } from '../src/sql/pglite-driver.js';
import type { SqlDriver } from '../src/sql/driver.js';
import { dynaliteEndpoint, stopDynalite } from './dynalite.js';

const POSTGRES = process.env.VEXIL_TEST_POSTGRES_URL ?? 'postgres://127.0.0.1:5432/test';
const REDIS = process.env.VEXIL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const RUN = `vexil_keys_${randomBytes(4).toString('hex')}`;
const flag: FlagDefinition = { variations: { on: true, off: false }, defaultRule: { variation: 'on' } };
const RECORD_FIELDS = ['id', 'name', 'kind', 'role', 'hash', 'prefix', 'createdAt', 'createdBy', 'revokedAt'];

// ---- namespaces and their cleanup ---------------------------------------------------------------------------------

const pgAdmin = postgres(POSTGRES, { max: 2, onnotice: () => undefined, connection: { application_name: `${RUN}_admin` } });
const pgSchemas: string[] = [];
const redisAdmin = new Redis(REDIS, { lazyConnect: true });
const redisPrefixes: string[] = [];
/** One in-memory PGlite database for the whole file (starting PGlite costs seconds), a schema per test. */
const PGLITE_MEMORY = `memory:${RUN}`;
let pgliteHolder: Promise<SqlDriver> | undefined;
const pgliteDriver = () => (pgliteHolder ??= openPGliteDriver({ location: PGLITE_MEMORY }));
const tempDirs: string[] = [];
let counter = 0;

after(async () => {
  for (const schema of pgSchemas) {
    assert.ok(schema.startsWith(RUN), 'only ever this run\'s schemas');
    await pgAdmin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
  await pgAdmin.end({ timeout: 2 });
  for (const prefix of redisPrefixes) {
    assert.ok(prefix.startsWith(`${RUN}:`), 'only ever this run\'s keys');
    let cursor = '0';
    do {
      const [next, keys] = await redisAdmin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redisAdmin.del(...keys);
    } while (cursor !== '0');
  }
  redisAdmin.disconnect();
  if (pgliteHolder) await (await pgliteHolder).close();
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
  await stopDynalite();
});

/** A backend to run the shared cases on: `fresh()` is a new empty namespace; its `open()` opens one more store on it. */
interface Backend {
  name: string;
  fresh(): Promise<{ open(): Promise<FlagStore> }>;
  /** Whether the store rejects a second key with the hash of an existing one. */
}

const backends: Backend[] = [
  {
    name: 'pglite',
    async fresh() {
      await pgliteDriver();
      const url = `pglite:${PGLITE_MEMORY}?schema=t${++counter}`;
      return { open: () => openStore(url) };
    },
  },
  {
    name: 'postgres',
    async fresh() {
      const schema = `${RUN}_${++counter}`;
      pgSchemas.push(schema);
      return { open: () => openStore(`${POSTGRES}?schema=${schema}`, { applicationName: schema, maxConnections: 2 }) };
    },
  },
  {
    name: 'redis',
    // The Redis store's create() is HSETNX on the key id only: it does not look for another key with the same hash.
    async fresh() {
      const prefix = `${RUN}:${++counter}:`;
      redisPrefixes.push(prefix);
      return { open: () => openStore(`${REDIS}?prefix=${encodeURIComponent(prefix)}`) };
    },
  },
  {
    name: 'dynamodb',
    // dynalite (DynamoDB's API, in memory, in this process): a table per namespace, gone with the process.
    async fresh() {
      const table = `${RUN}-${++counter}`;
      const endpoint = await dynaliteEndpoint();
      return { open: () => openStore(`dynamodb://${table}?endpoint=${encodeURIComponent(endpoint)}&poll=100`) };
    },
  },
  {
    name: 'sqlite',
    async fresh() {
      const dir = await mkdtemp(join(tmpdir(), 'vexil-keys-sqlite-'));
      tempDirs.push(dir);
      const url = `sqlite:${join(dir, 'vexil.db')}`;
      return { open: () => openStore(url) };
    },
  },
];

// ---- helpers ------------------------------------------------------------------------------------------------------

/** A key record as the server makes one, with its secret (which must never reach the store). */
function newKey(overrides: Partial<ApiKeyRecord> = {}): { record: ApiKeyRecord; secret: string } {
  const kind = overrides.kind ?? 'admin';
  const secret = `vxl_${kind}_${randomBytes(24).toString('base64url')}`;
  const record: ApiKeyRecord = {
    id: randomUUID(),
    name: `key ${randomBytes(3).toString('hex')}`,
    kind,
    role: kind === 'sdk' ? 'reader' : 'editor',
    hash: createHash('sha256').update(secret, 'utf8').digest('hex'),
    prefix: secret.slice(0, 12),
    createdAt: new Date().toISOString(),
    createdBy: 'test-admin',
    ...overrides,
  };
  return { record, secret };
}

function keysOf(store: FlagStore): ApiKeyStore {
  assert.ok(store.apiKeys, `the ${store.kind} store keeps API keys`);
  return store.apiKeys;
}

/** Opens stores and closes every one of them when `fn` ends, passed or failed. */
async function withStores(fn: (open: () => Promise<FlagStore>, namespace: { open(): Promise<FlagStore> }) => Promise<void>, backend: Backend) {
  const namespace = await backend.fresh();
  const opened: FlagStore[] = [];
  const open = async () => {
    const store = await namespace.open();
    opened.push(store);
    return store;
  };
  try {
    await fn(open, namespace);
  } finally {
    for (const store of opened) await store.close().catch(() => undefined);
  }
}

// ---- the shared cases ---------------------------------------------------------------------------------------------

for (const backend of backends) {
  describe(`API keys in the ${backend.name} store`, () => {
    it('starts with no keys', () =>
      withStores(async (open) => {
        const store = await open();
        assert.equal(store.writable, true);
        assert.deepEqual(await keysOf(store).list(), []);
      }, backend));

    it('creates keys and lists them (hashes only, never secrets), oldest first', () =>
      withStores(async (open) => {
        const keys = keysOf(await open());
        const older = newKey({ kind: 'sdk', createdAt: '2025-01-02T03:04:05.678Z' });
        const newer = newKey({ kind: 'admin', role: 'admin', createdAt: '2025-06-07T08:09:10.111Z' });
        await keys.create(newer.record);
        await keys.create(older.record);
        const listed = await keys.list();
        assert.deepEqual(listed, [older.record, newer.record]);
        for (const record of listed) {
          for (const field of Object.keys(record)) assert.ok(RECORD_FIELDS.includes(field), `unexpected field ${field}`);
          assert.match(record.hash, /^[0-9a-f]{64}$/);
          assert.equal(record.revokedAt, undefined);
        }
        const text = JSON.stringify(listed);
        for (const { secret } of [older, newer]) {
          assert.ok(!text.includes(secret), 'a secret is listed');
          assert.ok(!text.includes(secret.slice(12)), 'part of a secret beyond its prefix is listed');
        }
      }, backend));

    it('announces a revocation to every store on the same data (onChange), not a key that does not exist', () =>
      withStores(async (open) => {
        const writer = keysOf(await open());
        const reader = keysOf(await open());
        assert.ok(reader.onChange, 'the store announces key changes');
        const heard: string[] = [];
        const stop = reader.onChange((change) => {
          if (change.type === 'revoked') heard.push(change.id);
        });
        try {
          // Give the subscription time to be in place: announcements before it are covered by a `resync`.
          await new Promise((resolve) => setTimeout(resolve, 300));
          const key = newKey();
          await writer.create(key.record);
          assert.equal(await writer.revoke('no-such-key', 'test-admin'), false);
          assert.equal(await writer.revoke(key.record.id, 'test-admin'), true);
          const deadline = Date.now() + 10_000;
          while (!heard.includes(key.record.id) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
          assert.deepEqual(heard, [key.record.id]);
        } finally {
          stop();
        }
      }, backend));

    it('revokes a key: kept in the list with revokedAt; revoking again keeps the first time', () =>
      withStores(async (open) => {
        const keys = keysOf(await open());
        const kept = newKey();
        const revoked = newKey();
        await keys.create(kept.record);
        await keys.create(revoked.record);
        const before = Date.now();
        assert.equal(await keys.revoke(revoked.record.id, 'test-admin'), true);
        const afterRevoke = Date.now();
        const listed = await keys.list();
        assert.equal(listed.length, 2);
        const found = listed.find((record) => record.id === revoked.record.id);
        assert.ok(found?.revokedAt, 'the revoked key is still listed, with revokedAt');
        assert.deepEqual({ ...found, revokedAt: undefined }, { ...revoked.record, revokedAt: undefined });
        assert.equal(new Date(found.revokedAt).toISOString(), found.revokedAt, 'revokedAt is ISO 8601');
        // The database clock may differ a little from this process's.
        const at = Date.parse(found.revokedAt);
        assert.ok(at >= before - 5_000 && at <= afterRevoke + 5_000, `revokedAt ${found.revokedAt} is now`);
        assert.equal(listed.find((record) => record.id === kept.record.id)?.revokedAt, undefined);

        await new Promise((resolve) => setTimeout(resolve, 10));
        assert.equal(await keys.revoke(revoked.record.id, 'someone-else'), true);
        assert.equal((await keys.list()).find((record) => record.id === revoked.record.id)?.revokedAt, found.revokedAt);
      }, backend));

    it('resolves false when revoking an unknown key, changing nothing', () =>
      withStores(async (open) => {
        const keys = keysOf(await open());
        assert.equal(await keys.revoke(randomUUID(), 'test-admin'), false);
        const { record } = newKey();
        await keys.create(record);
        assert.equal(await keys.revoke('no-such-key', 'test-admin'), false);
        assert.deepEqual(await keys.list(), [record]);
      }, backend));

    it('shares keys with a second store on the same backend, and keeps them across a restart', () =>
      withStores(async (open) => {
        const first = await open();
        const second = await open();
        const a = newKey();
        await keysOf(first).create(a.record);
        assert.deepEqual(await keysOf(second).list(), [a.record], 'the second store sees the key the first created');

        const b = newKey({ createdAt: new Date(Date.now() + 1).toISOString() });
        await keysOf(second).create(b.record);
        assert.equal(await keysOf(second).revoke(a.record.id, 'second'), true);
        const seen = await keysOf(first).list();
        assert.deepEqual(seen.map((record) => [record.id, record.revokedAt !== undefined]), [[a.record.id, true], [b.record.id, false]]);

        await first.close();
        await second.close();
        const restarted = await open();
        assert.deepEqual(await keysOf(restarted).list(), seen, 'a store opened again finds the same keys');
      }, backend));

    it(
      'rejects a key with the hash of an existing one',
      () =>
        withStores(async (open) => {
          const first = await open();
          const second = await open();
          const original = newKey();
          await keysOf(first).create(original.record);
          const copy = newKey({ hash: original.record.hash, name: 'same secret, other id' });
          await assert.rejects(keysOf(first).create(copy.record), /already exists/);
          await assert.rejects(keysOf(second).create({ ...copy.record, id: randomUUID() }), /already exists/);
          assert.deepEqual(await keysOf(second).list(), [original.record]);
        }, backend),
    );

    it('rejects a key with the id of an existing one', () =>
      withStores(async (open) => {
        const keys = keysOf(await open());
        const original = newKey();
        await keys.create(original.record);
        await assert.rejects(keys.create(newKey({ id: original.record.id }).record), /already exists/);
        assert.deepEqual(await keys.list(), [original.record]);
      }, backend));

    it('keeps keys out of the flags: no revision, no audit entry, no change event', () =>
      withStores(async (open) => {
        const store = await open();
        await store.put('a-flag', flag, { actor: 'test' });
        const { revision } = await store.list();
        const { record } = newKey();
        await keysOf(store).create(record);
        await keysOf(store).revoke(record.id, 'test');
        assert.equal((await store.list()).revision, revision);
        const { entries } = await store.audit();
        assert.deepEqual(entries.map((entry) => entry.key), ['a-flag']);
        const controller = new AbortController();
        const events: unknown[] = [];
        const watching = (async () => {
          for await (const event of store.watch({ fromRevision: 0, signal: controller.signal })) events.push(event);
        })();
        await new Promise((resolve) => setTimeout(resolve, 300));
        controller.abort();
        await watching;
        assert.deepEqual(events.map((event) => (event as { key?: string }).key), ['a-flag']);
      }, backend));
  });
}

// ---- what only the SQL store does -------------------------------------------------------------------------------

describe('API keys in the SQL store', () => {
  const pglite = backends[0]!;
  const pg = backends[1]!;

  it('rejects records the table cannot hold with a TypeError, before writing anything', () =>
    withStores(async (open) => {
      const keys = keysOf(await open());
      const bad: Partial<ApiKeyRecord>[] = [
        { id: '' },
        { kind: 'root' as never },
        { role: 'owner' as never },
        { hash: 'not-a-hash' },
        { hash: 'ab'.repeat(31) },
        { createdAt: 'yesterday' },
        { revokedAt: 'never' },
        { name: 42 as never },
      ];
      for (const overrides of bad) await assert.rejects(keys.create(newKey(overrides).record), TypeError, JSON.stringify(overrides));
      assert.deepEqual(await keys.list(), []);
    }, pglite));

  it('treats hashes case-insensitively: stored in lower case, one secret once', () =>
    withStores(async (open) => {
      const keys = keysOf(await open());
      const { record } = newKey();
      await keys.create({ ...record, hash: record.hash.toUpperCase() });
      assert.deepEqual(await keys.list(), [record]);
      await assert.rejects(keys.create(newKey({ hash: record.hash }).record), /same hash/);
    }, pglite));

  it('keeps a key created already revoked as it is', () =>
    withStores(async (open) => {
      const keys = keysOf(await open());
      const { record } = newKey({ revokedAt: '2025-03-04T05:06:07.089Z' });
      await keys.create(record);
      assert.deepEqual(await keys.list(), [record]);
      assert.equal(await keys.revoke(record.id, 'test'), true);
      assert.deepEqual(await keys.list(), [record]);
    }, pglite));

  it('fails with StoreUnavailableError once the store is closed', () =>
    withStores(async (open) => {
      const store = await open();
      await store.close();
      await assert.rejects(keysOf(store).list(), StoreUnavailableError);
      await assert.rejects(keysOf(store).create(newKey().record), StoreUnavailableError);
      await assert.rejects(keysOf(store).revoke('x', 'test'), StoreUnavailableError);
    }, pglite));

  it('records who revoked a key on its row (PostgreSQL)', () =>
    withStores(async (open) => {
      const store = await open();
      const { record } = newKey();
      await keysOf(store).create(record);
      await keysOf(store).revoke(record.id, 'alice');
      await keysOf(store).revoke(record.id, 'bob');
      const schema = (store as unknown as { schema: string }).schema;
      const rows = await pgAdmin.unsafe(`SELECT revoked_by FROM "${schema}".api_keys WHERE id = $1`, [record.id]);
      assert.deepEqual(rows.map((row) => row.revoked_by), ['alice']);
    }, pg));

  it('migrates a store made before API keys existed, once, with several servers starting at the same moment (PostgreSQL)', () =>
    withStores(async (open) => {
      const store = await open();
      await store.put('kept', flag, { actor: 'test' });
      const schema = (store as unknown as { schema: string }).schema;
      assert.ok(schema.startsWith(RUN));
      await store.close();
      // Back to the schema before migration 2.
      await pgAdmin.unsafe(`DROP TABLE "${schema}".api_keys`);
      await pgAdmin.unsafe(`DROP TABLE "${schema}".documents`); // migration 4, after it
      await pgAdmin.unsafe(`DELETE FROM "${schema}".schema_migrations WHERE version >= 2`);

      const stores = await Promise.all(Array.from({ length: 6 }, () => open()));
      const applied = await pgAdmin.unsafe(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
      assert.deepEqual(applied.map((row) => row.version), MIGRATIONS.map((migration) => migration.version));
      assert.equal((await stores[0]!.get('kept'))?.version, 1, 'the flags are still there');
      const { record } = newKey();
      await keysOf(stores[1]!).create(record);
      for (const other of stores) assert.deepEqual(await keysOf(other).list(), [record]);
    }, pg));

  it('creates a fresh schema with API keys once when several servers start at the same moment (PostgreSQL)', () =>
    withStores(async (open) => {
      const stores = await Promise.all(Array.from({ length: 6 }, () => open()));
      const schema = (stores[0] as unknown as { schema: string }).schema;
      const applied = await pgAdmin.unsafe(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
      assert.deepEqual(applied.map((row) => row.version), MIGRATIONS.map((migration) => migration.version));
      const { record } = newKey();
      await keysOf(stores[5]!).create(record);
      assert.deepEqual(await keysOf(stores[0]!).list(), [record]);
    }, pg));

  it('keeps keys on disk across a restart of the embedded store', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vexil-keys-'));
    tempDirs.push(dir);
    const url = `pglite:${dir}`;
    const { record } = newKey();
    const first = await openStore(url);
    try {
      await keysOf(first).create(record);
      assert.equal(await keysOf(first).revoke(record.id, 'test'), true);
    } finally {
      await first.close();
    }
    const again = await openStore(url);
    try {
      const listed = await keysOf(again).list();
      assert.equal(listed.length, 1);
      assert.deepEqual({ ...listed[0], revokedAt: undefined }, { ...record, revokedAt: undefined });
      assert.ok(listed[0]!.revokedAt);
    } finally {
      await again.close();
    }
  });
});
