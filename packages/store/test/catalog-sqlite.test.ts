// Projects × environments on the SQLite store: the catalog conformance suite, then the flag conformance suite against
// an environment's own store (its tables `vexil_e_<id>_…` in the root's file).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { SqliteFlagStore } from '../src/sqlite/store.js';
import type { FlagStore } from '../src/types.js';
import { catalogConformance } from './catalog-conformance.js';
import { runConformanceSuite } from './conformance.js';

const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
const folder = await mkdtemp(join(tmpdir(), 'vexil-sqlite-catalog-'));

/** A fresh database file per test; `same` opens the latest again (sharing its connection, as a second server would its database). */
function files(prefix: string) {
  let count = 0;
  const file = () => join(folder, `${prefix}-${count}`, 'vexil.db');
  return {
    fresh: () => {
      count++;
      return SqliteFlagStore.open(`sqlite:${file()}`, { pollIntervalMs: 2_000 });
    },
    same: () => SqliteFlagStore.open(`sqlite:${file()}`, { pollIntervalMs: 2_000 }),
    file,
  };
}

const catalogs = files('catalog');
catalogConformance('sqlite', {
  open: () => catalogs.fresh(),
  openSecond: () => catalogs.same(),
  cleanup: async () => undefined,
});

function environmentFactory() {
  const db = files('scoped');
  const roots: FlagStore[] = [];
  let prefix = '';
  const staging = async (root: SqliteFlagStore) => {
    roots.push(root);
    const ref = { project: 'default', environment: 'staging' };
    if (!(await root.catalog!.getEnvironment(ref))) await root.catalog!.createEnvironment('default', { key: 'staging' }, { actor: 'test' });
    const record = await root.catalog!.getEnvironment(ref);
    prefix = `vexil_e_${record!.id}_`;
    return root.catalog!.environment(ref);
  };
  return {
    open: async () => staging(await db.fresh()),
    openSecond: async () => staging(await db.same()),
    async corrupt(key: string) {
      const connection = new Database(db.file());
      connection.prepare(`UPDATE ${prefix}flags SET definition = '{"variations": 42}' WHERE key = ?`).run(key);
      connection.close();
    },
    async cleanup() {
      for (const root of roots) await root.close();
      await rm(folder, { recursive: true, force: true });
    },
  };
}

runConformanceSuite('sqlite environment store (default/staging)', environmentFactory());
