// The SQL (SQLite, PGlite, PostgreSQL) and Redis stores on this machine as test backends, each test in a namespace of its own (a schema or a key
// prefix, named after the test file's run id), all removed by `removeBackendData` at the end of the file.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { openPGliteDriver } from '../src/sql/pglite-driver.js';
import type { SqlDriver } from '../src/sql/driver.js';

const POSTGRES = process.env.VEXIL_TEST_POSTGRES_URL ?? 'postgres://127.0.0.1:5432/test';
const REDIS = process.env.VEXIL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

export interface StoreBackend {
  name: string;
  /** A store URL in a fresh namespace. */
  url(): Promise<string>;
}

/** Backends for one test file; `run` prefixes every namespace they make (e.g. `vexil_lease_1a2b3c4d`). */
export function storeBackends(label: string): { run: string; backends: StoreBackend[]; removeBackendData(): Promise<void> } {
  const run = `${label}_${randomBytes(4).toString('hex')}`;
  const pgAdmin = postgres(POSTGRES, { max: 1, onnotice: () => undefined });
  const pgSchemas: string[] = [];
  const redisAdmin = new Redis(REDIS, { lazyConnect: true });
  const redisPrefixes: string[] = [];
  const pgliteMemory = `memory:${run}`;
  let pgliteHolder: Promise<SqlDriver> | undefined;
  let counter = 0;
  const sqliteFolder = join(tmpdir(), `vexil-${run}`);
  const backends: StoreBackend[] = [
    {
      name: 'sqlite',
      async url() {
        // A file per namespace (a second store on the same URL shares its connection).
        return `sqlite:${join(sqliteFolder, `t${++counter}`, 'vexil.db')}`;
      },
    },
    {
      name: 'pglite',
      async url() {
        // One in-memory database for the file, kept open so that every store on it sees the same data.
        await (pgliteHolder ??= openPGliteDriver({ location: pgliteMemory }));
        return `pglite:${pgliteMemory}?schema=t${++counter}`;
      },
    },
    {
      name: 'postgres',
      async url() {
        const schema = `${run}_${++counter}`;
        pgSchemas.push(schema);
        return `${POSTGRES}?schema=${schema}`;
      },
    },
    {
      name: 'redis',
      async url() {
        const prefix = `${run}:${++counter}:`;
        redisPrefixes.push(prefix);
        return `${REDIS}?prefix=${encodeURIComponent(prefix)}`;
      },
    },
  ];
  async function removeBackendData(): Promise<void> {
    for (const schema of pgSchemas) {
      assert.ok(schema.startsWith(run));
      // The schema and those of its environments (`<schema>_e_<id>`).
      for (const { nspname } of await pgAdmin<Array<{ nspname: string }>>`SELECT nspname FROM pg_namespace WHERE nspname = ${schema} OR nspname LIKE ${`${schema}_e_%`}`) {
        await pgAdmin.unsafe(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
      }
    }
    await pgAdmin.end({ timeout: 2 });
    for (const prefix of redisPrefixes) {
      assert.ok(prefix.startsWith(`${run}:`));
      const keys = await redisAdmin.keys(`${prefix}*`);
      if (keys.length > 0) await redisAdmin.del(...keys);
    }
    redisAdmin.disconnect();
    if (pgliteHolder) await (await pgliteHolder).close();
    await rm(sqliteFolder, { recursive: true, force: true });
  }
  return { run, backends, removeBackendData };
}
