// The events store on the real PostgreSQL: the conformance suite, one schema per test (dropped after), and three
// stores (three servers) writing one schema with retried batches.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { SqlEventsStore, type EventBatch } from '../src/events/index.js';
import { runEventsConformance } from './events-conformance.js';

const BASE_URL = process.env.VEXIL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUN = `vexil_events_test_${randomBytes(4).toString('hex')}`;
const admin = postgres(BASE_URL, { max: 1, onnotice: () => undefined });
const schemas: string[] = [];
let counter = 0;
const newSchema = () => {
  const schema = `${RUN}_${++counter}`;
  schemas.push(schema);
  return schema;
};
const url = (schema: string) => `${BASE_URL}${BASE_URL.includes('?') ? '&' : '?'}schema=${schema}`;

after(async () => {
  for (const schema of schemas) await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end({ timeout: 2 });
});

let latest = '';
runEventsConformance('postgres', {
  open: (options) => SqlEventsStore.open(url((latest = newSchema())), { pruneIntervalMs: 0, maxConnections: 4, ...options }),
  openSecond: () => SqlEventsStore.open(url(latest), { pruneIntervalMs: 0, maxConnections: 4 }),
  cleanup: async () => undefined,
});

describe('events store on PostgreSQL: three servers', () => {
  it('totals equal the events sent, exactly, with 10 % of batches retried on another server', async () => {
    const schema = newSchema();
    const stores = await Promise.all([0, 1, 2].map(() => SqlEventsStore.open(url(schema), { pruneIntervalMs: 0, maxConnections: 4 })));
    try {
      const at = Date.UTC(2026, 10, 30, 12, 0, 0);
      let sentEvaluations = 0;
      let sentTracks = 0;
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 300; i++) {
        const batch: EventBatch = {
          id: `server-batch-${i}`,
          exposures: Array.from({ length: 20 }, (_, j) => ({
            flag: 'new-checkout',
            variation: (i + j) % 3 === 0 ? 'v2' : 'v1',
            unit: `user-${(i * 7 + j) % 500}`,
            at: at + ((i + j) % 30) * 60_000,
            count: 1 + (j % 3),
          })),
          tracks: Array.from({ length: 5 }, (_, j) => ({ metric: 'request', unit: `user-${(i + j) % 500}`, at: at + 45 * 60_000, value: j + 1, error: j === 0 })),
        };
        sentEvaluations += batch.exposures.reduce((sum, e) => sum + (e.count ?? 1), 0);
        sentTracks += batch.tracks.length;
        writes.push(stores[i % 3]!.write([batch]));
        // 10 % retried, on another server, at the same moment (as after a timeout behind a load balancer).
        if (i % 10 === 0) writes.push(stores[(i + 1) % 3]!.write([batch]));
      }
      const results = (await Promise.all(writes)) as { written: number; duplicates: number }[];
      assert.equal(results.reduce((sum, r) => sum + r.written, 0), 300);
      assert.equal(results.reduce((sum, r) => sum + r.duplicates, 0), 30);
      const range = { since: at, until: at + 3_600_000 };
      const summary = await stores[2]!.flagSummary('new-checkout', range);
      assert.equal(summary.variations.reduce((sum, v) => sum + v.evaluations, 0), sentEvaluations);
      const metric = await stores[1]!.metricSummary({ metric: 'request', ...range });
      assert.equal(metric.rows[0]!.count, sentTracks);
      assert.equal(metric.rows[0]!.errors, sentTracks / 5);
      assert.equal(metric.rows[0]!.mean, 3);
      assert.equal((await stores[0]!.firstExposures({ flag: 'new-checkout', limit: 10_000 })).length, 500);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });
});
