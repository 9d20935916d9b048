// Projects × environments on the embedded store (PGlite): the catalog conformance suite, then the flag conformance
// suite against an environment's own store (a scoped store is a full FlagStore).
import { randomBytes } from 'node:crypto';
import { SqlFlagStore } from '../src/sql/index.js';
import { openPGliteDriver } from '../src/sql/pglite-driver.js';
import type { SqlDriver } from '../src/sql/driver.js';
import type { FlagStore } from '../src/types.js';
import { catalogConformance } from './catalog-conformance.js';
import { runConformanceSuite } from './conformance.js';

/** One in-memory database per suite (starting PGlite costs seconds), a fresh schema per test. */
function memoryDatabase(prefix: string) {
  const name = `memory:${prefix}-${randomBytes(4).toString('hex')}`;
  let holder: Promise<SqlDriver> | undefined;
  let count = 0;
  const url = () => `pglite:${name}?schema=${prefix.replaceAll('-', '_')}_${count}`;
  return {
    async fresh(): Promise<SqlFlagStore> {
      holder ??= openPGliteDriver({ location: name });
      await holder;
      count++;
      return SqlFlagStore.open(url(), { pollIntervalMs: 2_000 });
    },
    same: () => SqlFlagStore.open(url(), { pollIntervalMs: 2_000 }),
    driver: async () => holder!,
    async close() {
      await (await holder)?.close();
    },
  };
}

const catalogDb = memoryDatabase('catalog');
catalogConformance('pglite (in memory)', {
  open: () => catalogDb.fresh(),
  openSecond: () => catalogDb.same(),
  cleanup: () => catalogDb.close(),
});

/** Each test gets environment default/staging of a fresh root store; the roots close when the suite ends. */
function environmentFactory() {
  const db = memoryDatabase('scoped');
  const roots: FlagStore[] = [];
  let schema = '';
  const staging = async (root: SqlFlagStore) => {
    roots.push(root);
    const ref = { project: 'default', environment: 'staging' };
    if (!(await root.catalog!.getEnvironment(ref))) await root.catalog!.createEnvironment('default', { key: 'staging' }, { actor: 'test' });
    const record = await root.catalog!.getEnvironment(ref);
    schema = `${root.schema}_e_${record!.id}`;
    return root.catalog!.environment(ref);
  };
  return {
    open: async () => staging(await db.fresh()),
    openSecond: async () => staging(await db.same()),
    async corrupt(key: string) {
      await (await db.driver()).query(`UPDATE "${schema}".flags SET definition = '{"variations": 42}'::jsonb WHERE key = $1`, [key]);
    },
    async cleanup() {
      for (const root of roots) await root.close();
      await db.close();
    },
  };
}

runConformanceSuite('pglite environment store (default/staging)', environmentFactory());
