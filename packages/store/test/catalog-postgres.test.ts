// Projects × environments on the PostgreSQL server of this machine: the catalog conformance suite (with the count of
// connections a store holds however many environments it opens), then the flag conformance suite against an
// environment's own store. Every schema this run makes starts with its name and is dropped at the end.
import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { SqlFlagStore } from '../src/sql/index.js';
import type { FlagStore } from '../src/types.js';
import { catalogConformance } from './catalog-conformance.js';
import { runConformanceSuite } from './conformance.js';

const BASE_URL = process.env.VEXIL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUN = `vexil_cat_${randomBytes(4).toString('hex')}`;
const admin = postgres(BASE_URL, { max: 1, onnotice: () => undefined });
let counter = 0;

const url = (schema: string) => `${BASE_URL}${BASE_URL.includes('?') ? '&' : '?'}schema=${schema}`;

after(async () => {
  // The roots' schemas and their environments' `<schema>_e_<id>` siblings.
  const rows = await admin.unsafe<{ nspname: string }[]>(`SELECT nspname FROM pg_namespace WHERE nspname LIKE $1::text`, [`${RUN}%`]);
  for (const { nspname } of rows) await admin.unsafe(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
  await admin.end({ timeout: 2 });
});

let catalogSchema = '';
const openCatalogStore = () => SqlFlagStore.open(url(catalogSchema), { applicationName: catalogSchema, pollIntervalMs: 2_000 });
catalogConformance('postgres', {
  open() {
    catalogSchema = `${RUN}_${++counter}`;
    return openCatalogStore();
  },
  openSecond: openCatalogStore,
  async countConnections() {
    const [row] = await admin.unsafe<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1::text AND backend_type = 'client backend'`,
      [catalogSchema],
    );
    return row!.n;
  },
  maxConnections: 12,
});

const roots: FlagStore[] = [];
let scopedSchema = '';
let environmentSchema = '';
async function staging(root: SqlFlagStore): Promise<FlagStore> {
  roots.push(root);
  const ref = { project: 'default', environment: 'staging' };
  if (!(await root.catalog!.getEnvironment(ref))) await root.catalog!.createEnvironment('default', { key: 'staging' }, { actor: 'test' });
  environmentSchema = `${root.schema}_e_${(await root.catalog!.getEnvironment(ref))!.id}`;
  return root.catalog!.environment(ref);
}
runConformanceSuite('postgres environment store (default/staging)', {
  async open() {
    scopedSchema = `${RUN}_${++counter}`;
    return staging(await SqlFlagStore.open(url(scopedSchema), { pollIntervalMs: 2_000 }));
  },
  openSecond: async () => staging(await SqlFlagStore.open(url(scopedSchema), { pollIntervalMs: 2_000 })),
  async corrupt(key: string) {
    await admin.unsafe(`UPDATE "${environmentSchema}".flags SET definition = '{"variations": 42}'::jsonb WHERE key = $1`, [key]);
  },
  async cleanup() {
    for (const root of roots) await root.close();
  },
});
