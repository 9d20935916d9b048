// The embedded store (PGlite): the conformance suite in memory, then what only PGlite does — persisting to disk.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FlagDefinition } from '@vexil/core';
import { SqlFlagStore } from '../src/sql/index.js';
import { openPGliteDriver } from '../src/sql/pglite-driver.js';
import type { SqlDriver } from '../src/sql/driver.js';
import { fileStorePaths, openStore } from '../src/open-store.js';
import { parseSqlUrl } from '../src/sql/url.js';
import { runConformanceSuite } from './conformance.js';

const by = { actor: 'test' };
const flag: FlagDefinition = { variations: { on: true, off: false }, defaultRule: { variation: 'on' } };

/**
 * One in-memory database for the whole suite (starting PGlite costs seconds), a fresh schema per test. A driver kept
 * open by the factory holds the database between tests and writes garbage for the malformed-data test.
 */
function memoryFactory() {
  const name = `memory:conformance-${randomBytes(4).toString('hex')}`;
  let holder: Promise<SqlDriver> | undefined;
  let count = 0;
  const url = () => `pglite:${name}?schema=t_${count}`;
  return {
    async open() {
      holder ??= openPGliteDriver({ location: name });
      await holder;
      count++;
      return SqlFlagStore.open(url(), { pollIntervalMs: 2_000 });
    },
    openSecond: () => SqlFlagStore.open(url(), { pollIntervalMs: 2_000 }),
    async corrupt(key: string) {
      const driver = await holder!;
      await driver.query(`UPDATE "t_${count}".flags SET definition = '{"variations": 42}'::jsonb WHERE key = $1`, [key]);
    },
    async cleanup() {
      await (await holder)?.close();
    },
  };
}

runConformanceSuite('pglite (in memory)', memoryFactory());

describe('PGlite store', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('persists flags, versions and the audit log across a reopen of the same directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vexil-pglite-'));
    dirs.push(dir);
    const first = await openStore('pglite:./data', { cwd: dir });
    assert.equal(first.kind, 'pglite');
    await first.put('kept', flag, { actor: 'alice', reason: 'persist me' });
    await first.put('kept', { ...flag, defaultRule: { variation: 'off' } }, { actor: 'bob', expectedVersion: 1 });
    // A second store on the same directory in this process shares the one database, never a second copy of it.
    const same = await openStore(`pglite:${join(dir, 'data')}`);
    assert.equal((await same.get('kept'))?.version, 2);
    await same.close();
    await first.close();
    assert.ok((await stat(join(dir, 'data', 'PG_VERSION'))).isFile(), 'the data directory holds a PostgreSQL cluster');

    const reopened = await SqlFlagStore.open(`pglite:${join(dir, 'data')}`);
    try {
      const kept = await reopened.get('kept');
      assert.equal(kept?.version, 2);
      assert.deepEqual(kept?.flag.defaultRule, { variation: 'off' });
      assert.equal((await reopened.list()).revision, 2);
      const audit = await reopened.audit({ key: 'kept' });
      assert.deepEqual(audit.entries.map((e) => e.actor), ['bob', 'alice']);
      const watched = [];
      for await (const change of reopened.watch({ fromRevision: 0 })) {
        watched.push(change.revision);
        if (watched.length === 2) break;
      }
      assert.deepEqual(watched, [1, 2], 'the change log survives too');
    } finally {
      await reopened.close();
    }
  });

  it('keeps schemas apart, gives each pglite:memory: its own database, and rejects unsafe schema names', async () => {
    const name = `memory:schemas-${randomBytes(4).toString('hex')}`;
    const one = await SqlFlagStore.open(`pglite:${name}?schema=one`);
    const two = await SqlFlagStore.open(`pglite:${name}`, { schema: 'two' });
    const sameName = await SqlFlagStore.open(`pglite:${name}?schema=one`);
    const fresh = await openStore('pglite:memory:?schema=one');
    try {
      await one.put('f', flag, by);
      assert.equal(await two.get('f'), undefined);
      assert.equal(two.schema, 'two');
      assert.equal((await sameName.get('f'))?.version, 1, 'memory:<name> is one database per name');
      assert.equal(await fresh.get('f'), undefined, 'pglite:memory: is a database of its own');
      await assert.rejects(SqlFlagStore.open(`pglite:${name}?schema=Robert"); DROP`), TypeError);
    } finally {
      for (const store of [one, two, sameName, fresh]) await store.close();
    }
  });

  it('parses store URLs', () => {
    assert.deepEqual(parseSqlUrl('pglite:'), { driver: 'pglite', location: './.vexil/data' });
    assert.deepEqual(parseSqlUrl('pglite:./x?schema=s'), { driver: 'pglite', location: './x', schema: 's' });
    assert.deepEqual(parseSqlUrl('pglite:memory:'), { driver: 'pglite', location: 'memory:' });
    assert.deepEqual(parseSqlUrl('postgres://u@h:5/db?schema=s&sslmode=disable'), {
      driver: 'postgres',
      url: 'postgres://u@h:5/db?sslmode=disable',
      schema: 's',
    });
    assert.throws(() => parseSqlUrl('mysql://x'), TypeError);
    assert.deepEqual(fileStorePaths('file:./a.yaml,./b.json'), ['./a.yaml', './b.json']);
    assert.deepEqual(fileStorePaths('file:///etc/flags/'), ['/etc/flags/']);
    assert.throws(() => fileStorePaths('file:'), TypeError);
  });

  it('openStore() rejects an unknown kind of URL', async () => {
    await assert.rejects(openStore('mysql://localhost/flags'), /unknown store URL/);
  });
});
