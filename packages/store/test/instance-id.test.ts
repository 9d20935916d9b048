// `instanceId`: a random id kept in the store's own data. The same for every store opened on the same data (reopened,
// or opened by several servers at once on a fresh schema or prefix), new when the data is recreated.
// PostgreSQL: one schema per test on 127.0.0.1:5432, dropped after. Redis: one key prefix per test on 127.0.0.1:6379,
// and only this run's keys are ever deleted.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import type { FlagDefinition } from '@vexil/core';
import { SqlFlagStore, MIGRATIONS } from '../src/sql/index.js';
import { RedisFlagStore } from '../src/redis/index.js';
import { FileFlagStore } from '../src/file/index.js';
import type { FlagStore } from '../src/types.js';

const by = { actor: 'test' };
const flag: FlagDefinition = { variations: { on: true, off: false }, defaultRule: { variation: 'on' } };
/** What the server accepts as a store id in stream event ids (`packages/server/src/stream/store-id.ts`). */
const STORE_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const RUN = randomBytes(4).toString('hex');

function idOf(store: FlagStore): string {
  const id = store.instanceId;
  assert.equal(typeof id, 'string', `${store.kind} store has an instance id`);
  assert.match(id!, STORE_ID);
  return id!;
}

async function closeAll(stores: FlagStore[]): Promise<void> {
  await Promise.all(stores.map((store) => store.close()));
}

describe('instanceId: PGlite', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  const newDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vexil-instance-'));
    dirs.push(dir);
    return dir;
  };

  it('is kept on disk: the same after a reopen, another for a new folder or another schema', async () => {
    const dir = await newDir();
    const first = await SqlFlagStore.open(`pglite:${dir}`);
    const id = idOf(first);
    await first.put('kept', flag, by);
    await first.close();

    const reopened = await SqlFlagStore.open(`pglite:${dir}`);
    try {
      assert.equal(idOf(reopened), id);
      assert.equal((await reopened.get('kept'))?.version, 1, 'the same data');
      const otherSchema = await SqlFlagStore.open(`pglite:${dir}?schema=other`);
      try {
        assert.notEqual(idOf(otherSchema), id, 'another schema is another store');
      } finally {
        await otherSchema.close();
      }
    } finally {
      await reopened.close();
    }

    const elsewhere = await SqlFlagStore.open(`pglite:${await newDir()}`);
    try {
      assert.notEqual(idOf(elsewhere), id);
    } finally {
      await elsewhere.close();
    }
  });

  it('is the same for stores opening a fresh schema at the same moment', async () => {
    const dir = await newDir();
    const stores = await Promise.all(Array.from({ length: 4 }, () => SqlFlagStore.open(`pglite:${dir}?schema=fresh`)));
    try {
      assert.equal(new Set(stores.map(idOf)).size, 1);
    } finally {
      await closeAll(stores);
    }
  });

  it('is different for two fresh in-memory databases', async () => {
    const [a, b] = await Promise.all([SqlFlagStore.open('pglite:memory:'), SqlFlagStore.open('pglite:memory:')]);
    try {
      assert.notEqual(idOf(a!), idOf(b!));
    } finally {
      await closeAll([a!, b!]);
    }
  });
});

describe('instanceId: PostgreSQL', () => {
  const BASE_URL = process.env.VEXIL_TEST_POSTGRES_URL ?? 'postgres://127.0.0.1:5432/test';
  const prefix = `vexil_test_instance_${RUN}`;
  const admin = postgres(BASE_URL, { max: 2, onnotice: () => undefined, connection: { application_name: `${prefix}_admin` } });
  const schemas: string[] = [];
  let counter = 0;
  const newSchema = () => {
    const schema = `${prefix}_${++counter}`;
    schemas.push(schema);
    return schema;
  };
  const open = (schema: string) =>
    SqlFlagStore.open(`${BASE_URL}${BASE_URL.includes('?') ? '&' : '?'}schema=${schema}`, { applicationName: schema, maxConnections: 2 });
  /** Drops one of this run's schemas, never anything else. */
  const drop = async (schema: string) => {
    assert.ok(schema.startsWith(prefix));
    await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  };
  after(async () => {
    for (const schema of schemas) await drop(schema);
    await admin.end({ timeout: 2 });
  });

  it('is the same after a reopen and for every store opening a fresh schema at once; new once the schema is recreated', async () => {
    const schema = newSchema();
    const stores = await Promise.all(Array.from({ length: 6 }, () => open(schema)));
    let id: string;
    try {
      const ids = new Set(stores.map(idOf));
      assert.equal(ids.size, 1, 'one id for the servers that created the schema together');
      id = [...ids][0]!;
      await stores[0]!.put('kept', flag, by);
      const rows = await admin.unsafe(`SELECT instance_id FROM "${schema}".instance`);
      assert.deepEqual(rows.map((row) => row.instance_id), [id], 'kept in the schema, one row');
    } finally {
      await closeAll(stores);
    }

    const reopened = await open(schema);
    try {
      assert.equal(idOf(reopened), id);
    } finally {
      await reopened.close();
    }

    await drop(schema);
    const recreated = await open(schema);
    try {
      assert.notEqual(idOf(recreated), id, 'a recreated schema is another store');
      assert.equal((await recreated.list()).revision, 0, 'revisions start again');
    } finally {
      await recreated.close();
    }
    const other = await open(newSchema());
    try {
      assert.notEqual(idOf(other), id);
      assert.notEqual(idOf(other), recreated.instanceId);
    } finally {
      await other.close();
    }
  });

  it('is created once by the migration when servers upgrade a schema from before instance ids at the same moment', async () => {
    const schema = newSchema();
    const first = await open(schema);
    await first.put('kept', flag, by);
    await first.close();
    // Back to the schema before migration 3.
    await admin.unsafe(`DROP TABLE "${schema}".instance`);
    await admin.unsafe(`DROP TABLE "${schema}".documents`); // migration 4, after it
    await admin.unsafe(`ALTER TABLE "${schema}".api_keys DROP COLUMN project, DROP COLUMN environment, DROP COLUMN grants`);
    await admin.unsafe(`DELETE FROM "${schema}".schema_migrations WHERE version >= 3`);

    const stores = await Promise.all(Array.from({ length: 6 }, () => open(schema)));
    try {
      assert.equal(new Set(stores.map(idOf)).size, 1);
      const applied = await admin.unsafe(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
      assert.deepEqual(applied.map((row) => row.version), MIGRATIONS.map((migration) => migration.version));
      assert.equal((await stores[1]!.get('kept'))?.version, 1, 'the flags are still there');
    } finally {
      await closeAll(stores);
    }
  });

  it('is created again when its row was deleted by hand, the same for stores finding it missing at once', async () => {
    const schema = newSchema();
    const first = await open(schema);
    const id = idOf(first);
    await first.close();
    await admin.unsafe(`DELETE FROM "${schema}".instance`);
    const stores = await Promise.all(Array.from({ length: 4 }, () => open(schema)));
    try {
      const ids = new Set(stores.map(idOf));
      assert.equal(ids.size, 1);
      assert.ok(!ids.has(id));
    } finally {
      await closeAll(stores);
    }
  });
});

describe('instanceId: Redis', () => {
  const REDIS = 'redis://127.0.0.1:6379/0';
  const admin = new Redis(REDIS);
  const prefixes: string[] = [];
  let counter = 0;
  const newPrefix = () => {
    const prefix = `vexil-test-instance-${RUN}-${++counter}:`;
    prefixes.push(prefix);
    return prefix;
  };
  const open = (prefix: string) => RedisFlagStore.open(`${REDIS}?prefix=${encodeURIComponent(prefix)}`);
  /** Deletes one of this run's prefixes' keys, never anyone else's. */
  const deletePrefix = async (prefix: string) => {
    assert.ok(prefix.startsWith(`vexil-test-instance-${RUN}-`));
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await admin.del(...keys);
    } while (cursor !== '0');
  };
  after(async () => {
    for (const prefix of prefixes) await deletePrefix(prefix);
    admin.disconnect();
  });

  it('is the same after a reopen and for every store opening a fresh prefix at once; new once the keys are deleted', async () => {
    const prefix = newPrefix();
    const stores = await Promise.all(Array.from({ length: 8 }, () => open(prefix)));
    let id: string;
    try {
      const ids = new Set(stores.map(idOf));
      assert.equal(ids.size, 1, 'SET NX: one id for the stores that opened the prefix together');
      id = [...ids][0]!;
      assert.equal(await admin.get(`${prefix}instance`), id, 'kept in {prefix}instance');
      await stores[0]!.put('kept', flag, by);
    } finally {
      await closeAll(stores);
    }

    const reopened = await open(prefix);
    try {
      assert.equal(idOf(reopened), id);
      assert.equal((await reopened.get('kept'))?.version, 1, 'the same data');
    } finally {
      await reopened.close();
    }

    await deletePrefix(prefix);
    const recreated = await open(prefix);
    try {
      assert.notEqual(idOf(recreated), id, 'the data was deleted: another store');
      assert.equal((await recreated.list()).revision, 0, 'revisions start again');
    } finally {
      await recreated.close();
    }
    const other = await open(newPrefix());
    try {
      assert.notEqual(idOf(other), id);
      assert.notEqual(idOf(other), recreated.instanceId);
    } finally {
      await other.close();
    }
  });

  it('is undefined when Redis does not answer at open', async () => {
    const store = await RedisFlagStore.open('redis://127.0.0.1:1/0', { connectTimeoutMs: 300, onError: () => undefined });
    try {
      assert.equal(store.instanceId, undefined);
    } finally {
      await store.close();
    }
  });

  it('refuses to open when the instance key holds another type', async () => {
    const prefix = newPrefix();
    await admin.hset(`${prefix}instance`, 'not', 'a string');
    await assert.rejects(open(prefix), /instance id/);
  });
});

describe('instanceId: files', () => {
  it('is undefined: the file store keeps no data of its own', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vexil-instance-files-'));
    try {
      await writeFile(join(dir, 'flags.json'), JSON.stringify({ f: flag }));
      const store: FlagStore = await FileFlagStore.open([join(dir, 'flags.json')], { watch: false });
      try {
        assert.equal(store.instanceId, undefined);
      } finally {
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
