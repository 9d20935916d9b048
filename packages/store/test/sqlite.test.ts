// The SQLite store (the embedded default): the conformance suite, a fresh database file per test, then what an
// embedded store on disk must do besides.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import type { FlagDefinition } from '@vexil/core';
import { openStore } from '../src/open-store.js';
import { EmbeddedStoreLockedError } from '../src/errors.js';
import { SqliteFlagStore } from '../src/sqlite/store.js';
import { runConformanceSuite } from './conformance.js';

const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
const folder = await mkdtemp(join(tmpdir(), 'vexil-sqlite-store-'));
let count = 0;
const file = () => join(folder, `t${count}`, 'vexil.db');

runConformanceSuite('sqlite (file)', {
  async open() {
    count++;
    return SqliteFlagStore.open(`sqlite:${file()}`, { pollIntervalMs: 2_000 });
  },
  openSecond: () => SqliteFlagStore.open(`sqlite:${file()}`, { pollIntervalMs: 2_000 }),
  async corrupt(key) {
    // Another connection, as a hand edit would be.
    const db = new Database(file());
    db.prepare(`UPDATE vexil_flags SET definition = '{"variations": 42}' WHERE key = ?`).run(key);
    db.close();
  },
  cleanup: () => rm(folder, { recursive: true, force: true }),
});

const by = { actor: 'test' };
const flag: FlagDefinition = { variations: { on: true, off: false }, defaultRule: { variation: 'on' } };

describe('SQLite store on disk', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('keeps flags, versions, the audit log and its identity across a reopen; a second process is told who owns it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vexil-sqlite-'));
    dirs.push(dir);
    const first = await openStore('sqlite:./.vexil/vexil.db', { cwd: dir });
    assert.equal(first.kind, 'sqlite');
    await first.put('kept', flag, { actor: 'alice' });
    await first.put('kept', { ...flag, defaultRule: { variation: 'off' } }, { actor: 'bob', expectedVersion: 1 });
    const id = first.instanceId;
    // A second store on the same file in this process shares its connection and its lock.
    const same = await openStore(`sqlite:${join(dir, '.vexil', 'vexil.db')}`);
    assert.equal((await same.get('kept'))?.version, 2);
    await same.close();
    // Another process may not open it while this one does.
    const { spawnSync } = await import('node:child_process');
    const other = spawnSync(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', '-e', `import { openStore } from ${JSON.stringify(new URL('../src/open-store.ts', import.meta.url).pathname)}; await openStore('sqlite:./.vexil/vexil.db', { cwd: ${JSON.stringify(dir)} });`],
      { encoding: 'utf8' },
    );
    assert.notEqual(other.status, 0);
    assert.match(other.stderr, /is in use by process/);
    await first.close();
    const again = await openStore('sqlite:./.vexil/vexil.db', { cwd: dir });
    try {
      const stored = await again.get('kept');
      assert.equal(stored?.version, 2);
      assert.equal(stored?.updatedBy, 'bob');
      assert.equal(again.instanceId, id);
      assert.deepEqual((await again.audit({ key: 'kept' })).entries.map((entry) => [entry.action, entry.actor]), [
        ['update', 'bob'],
        ['create', 'alice'],
      ]);
    } finally {
      await again.close();
    }
    assert.ok(EmbeddedStoreLockedError);
  });
});
