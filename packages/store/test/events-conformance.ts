// The events store's conformance suite: the same tests against PGlite and the real PostgreSQL.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EventBatch, EventsStore, ExposureRecord, TrackRecord } from '../src/events/index.js';

export interface EventsFactory {
  /** A store on a fresh, empty schema, with the given retention. */
  open(options?: { unitDays?: number; minuteDays?: number; batchDays?: number }): Promise<EventsStore>;
  /** Another store on the latest schema (another server). */
  openSecond(): Promise<EventsStore>;
  cleanup(): Promise<void>;
}

const MINUTE = 60_000;
// A fixed hour in the past, on a minute boundary, so tests do not depend on the clock.
const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);
const range = { since: T0, until: T0 + 60 * MINUTE };

const exposure = (flag: string, variation: string, unit: string | undefined, at: number, extra: Partial<ExposureRecord> = {}): ExposureRecord => ({
  flag,
  variation,
  ...(unit === undefined ? {} : { unit }),
  at,
  ...extra,
});
const track = (metric: string, unit: string | undefined, at: number, extra: Partial<TrackRecord> = {}): TrackRecord => ({
  metric,
  ...(unit === undefined ? {} : { unit }),
  at,
  ...extra,
});
const batch = (exposures: ExposureRecord[], tracks: TrackRecord[] = [], id?: string, environment?: string): EventBatch => ({
  ...(id === undefined ? {} : { id }),
  ...(environment === undefined ? {} : { environment }),
  exposures,
  tracks,
});

export function runEventsConformance(name: string, factory: EventsFactory): void {
  describe(`events store conformance: ${name}`, () => {
    const open: EventsStore[] = [];
    const fresh = async (options?: Parameters<EventsFactory['open']>[0]) => {
      const store = await factory.open(options);
      open.push(store);
      return store;
    };
    after(async () => {
      for (const store of open) await store.close().catch(() => undefined);
      await factory.cleanup();
    });

    it('counts evaluations, distinct units and errors per flag × variation, and per minute', async () => {
      const store = await fresh();
      await store.write([
        batch([
          exposure('checkout', 'on', 'u1', T0 + 1_000),
          exposure('checkout', 'on', 'u1', T0 + 2_000, { count: 4 }),
          exposure('checkout', 'on', 'u2', T0 + MINUTE + 5),
          exposure('checkout', 'off', 'u3', T0 + 3_000),
          exposure('checkout', 'off', undefined, T0 + 4_000, { errorCode: 'TARGETING_KEY_MISSING' }),
          exposure('other', 'on', 'u1', T0),
        ]),
      ]);
      const summary = await store.flagSummary('checkout', { ...range, stepMinutes: 1 });
      assert.deepEqual(summary.variations, [
        { variation: 'off', evaluations: 2, units: 1, errors: { TARGETING_KEY_MISSING: 1 } },
        { variation: 'on', evaluations: 6, units: 2, errors: {} },
      ]);
      assert.deepEqual(
        summary.series.map((p) => [p.at, p.variation, p.evaluations, p.units]),
        [
          [new Date(T0).toISOString(), 'off', 2, 1],
          [new Date(T0).toISOString(), 'on', 5, 1],
          [new Date(T0 + MINUTE).toISOString(), 'on', 1, 1],
        ],
      );
    });

    it('counts a batch with an id once, however often it is written, and batches without an id every time', async () => {
      const store = await fresh();
      const b = batch([exposure('f', 'on', 'u1', T0)], [track('latency', 'u1', T0, { value: 10 })], 'batch-1');
      assert.deepEqual(await store.write([b, b]), { written: 1, duplicates: 1, events: 2 });
      assert.deepEqual(await store.write([b]), { written: 0, duplicates: 1, events: 0 });
      const anonymous = batch([exposure('f', 'on', 'u2', T0)]);
      await store.write([anonymous]);
      await store.write([anonymous]);
      const summary = await store.flagSummary('f', range);
      assert.equal(summary.variations[0]!.evaluations, 3);
      const metric = await store.metricSummary({ metric: 'latency', ...range });
      assert.equal(metric.rows[0]!.count, 1);
    });

    it('keeps each unit\'s first variation, every variation it saw, and its first and last exposure', async () => {
      const store = await fresh();
      await store.write([batch([exposure('f', 'B', 'u1', T0 + 5_000), exposure('f', 'A', 'u2', T0)])]);
      // A later batch carries an earlier exposure of u1 (events arrive out of order): it becomes the first.
      await store.write([batch([exposure('f', 'A', 'u1', T0 + 1_000), exposure('f', 'B', 'u1', T0 + 9_000, { count: 2 })])]);
      const rows = await store.firstExposures({ flag: 'f' });
      assert.deepEqual(rows, [
        {
          unit: 'u1',
          firstVariation: 'A',
          variations: ['B', 'A'],
          firstAt: new Date(T0 + 1_000).toISOString(),
          lastAt: new Date(T0 + 9_000).toISOString(),
          evaluations: 4,
        },
        { unit: 'u2', firstVariation: 'A', variations: ['A'], firstAt: new Date(T0).toISOString(), lastAt: new Date(T0).toISOString(), evaluations: 1 },
      ]);
      assert.deepEqual((await store.firstExposures({ flag: 'f', after: 'u1' })).map((r) => r.unit), ['u2']);
      assert.deepEqual((await store.firstExposures({ flag: 'f', since: T0 + 500 })).map((r) => r.unit), ['u1']);
    });

    it('summarises a metric per variation: count, error rate, mean and percentiles, attributed to the first variation', async () => {
      const store = await fresh();
      const exposures: ExposureRecord[] = [];
      const tracks: TrackRecord[] = [];
      for (let i = 0; i < 100; i++) {
        const variation = i % 2 === 0 ? 'control' : 'canary';
        exposures.push(exposure('new-checkout', variation, `u${i}`, T0));
      }
      await store.write([batch(exposures)]);
      for (let i = 0; i < 100; i++) {
        const canary = i % 2 === 1;
        // control: latencies 1..50, 1 error in 50; canary: latencies 101..150, 10 errors in 50.
        const value = canary ? 100 + (i + 1) / 2 : i / 2 + 1;
        tracks.push(track('request', `u${i}`, T0 + 10_000, { value, error: canary ? i % 10 === 1 : i === 0 }));
      }
      // An event of a unit never exposed, and one before the unit's exposure: counted overall, in no variation.
      tracks.push(track('request', 'stranger', T0 + 10_000, { value: 5 }));
      await store.write([batch([], tracks)]);
      await store.write([batch([exposure('new-checkout', 'canary', 'late', T0 + 20 * MINUTE)], [track('request', 'late', T0 + 10 * MINUTE, { value: 7 })])]);

      const byVariation = await store.metricSummary({ metric: 'request', flag: 'new-checkout', by: 'variation', ...range });
      const [canary, control] = byVariation.rows;
      assert.equal(canary!.variation, 'canary');
      assert.equal(control!.variation, 'control');
      assert.equal(control!.count, 50);
      assert.equal(control!.errors, 1);
      assert.equal(control!.errorRate, 1 / 50);
      assert.equal(control!.exposedUnits, 50);
      assert.equal(control!.errorsPerExposedUnit, 1 / 50);
      assert.equal(control!.mean, 25.5);
      assert.equal(canary!.count, 50);
      assert.equal(canary!.errors, 10);
      assert.equal(canary!.exposedUnits, 51);
      assert.equal(canary!.mean, 125.5);
      // DDSketch: 1 % relative accuracy.
      assert.ok(Math.abs(control!.p50! - 25.5) <= 1.5, `p50 ${control!.p50}`);
      assert.ok(Math.abs(canary!.p99! - 149.5) <= 3, `p99 ${canary!.p99}`);
      assert.ok(canary!.p95! > control!.p99!);

      const overall = await store.metricSummary({ metric: 'request', ...range });
      assert.equal(overall.rows.length, 1);
      assert.equal(overall.rows[0]!.count, 102);
      assert.equal(overall.rows[0]!.exposedUnits, null);
      assert.ok(overall.series.length > 0);

      const totals = await store.unitMetricTotals({ flag: 'new-checkout', metric: 'request', since: T0 });
      assert.equal(totals.length, 101);
      const u1 = totals.find((row) => row.unit === 'u1')!;
      assert.deepEqual(u1, { unit: 'u1', firstVariation: 'canary', count: 1, sum: 101, errors: 1 });
    });

    it('experiment statistics: per variation, from first exposure to the end of the attribution window, sums exact', async () => {
      const store = await fresh();
      const HOUR = 60 * MINUTE;
      const DAY = 24 * HOUR;
      await store.write([
        batch(
          [
            exposure('exp', 'a', 'a1', T0),
            exposure('exp', 'a', 'a2', T0),
            exposure('exp', 'a', 'a3', T0),
            exposure('exp', 'b', 'b1', T0),
            exposure('exp', 'b', 'b2', T0 + MINUTE),
            exposure('exp', 'a', 'm1', T0),
            exposure('exp', 'b', 'm1', T0 + 2 * MINUTE),
            exposure('exp', 'b', 'early', T0 - 2 * HOUR),
          ],
          [
            track('purchase', 'a1', T0 + HOUR, { value: 10 }),
            track('purchase', 'a1', T0 + HOUR, { value: 5 }),
            track('purchase', 'a3', T0 + 5 * DAY, { value: 7 }),
            track('purchase', 'b1', T0 + DAY, { value: 20 }),
            track('purchase', 'b2', T0 + 2 * HOUR, { value: 4 }),
            track('purchase', 'b2', T0 + DAY, { value: 6 }),
            track('purchase', 'm1', T0 + HOUR, { value: 100 }),
            track('purchase', 'early', T0 + HOUR, { value: 1 }),
            ...[1, 2, 3].map(() => track('page-view', 'a1', T0 + 30 * MINUTE)),
            track('page-view', 'a2', T0 + 30 * MINUTE),
            ...[1, 2].map(() => track('page-view', 'b1', T0 + 30 * MINUTE)),
            ...[1, 2, 3, 4].map(() => track('page-view', 'b2', T0 + 30 * MINUTE)),
          ],
        ),
        batch([exposure('exp', 'b', 'a1', T0)], [track('purchase', 'a1', T0 + HOUR, { value: 1000 })], undefined, 'staging'),
      ]);
      const stats = await store.experimentStatistics({
        flag: 'exp',
        since: T0 - HOUR,
        attributionWindowMs: 48 * HOUR,
        metrics: [
          { event: 'purchase', type: 'binomial', name: 'converted' },
          { event: 'purchase', type: 'mean', name: 'revenue' },
          { event: 'purchase', type: 'mean', value: 'count', name: 'purchases' },
          { event: 'purchase', type: 'ratio', value: 'count', denominator: 'page-view', name: 'purchases per view' },
        ],
      });
      assert.deepEqual(stats.units, [
        { variation: 'a', units: 3 },
        { variation: 'b', units: 2 },
      ]);
      assert.equal(stats.multipleExposures, 1, 'm1 saw both variations');
      assert.equal(stats.multipleExposureShare, 1 / 6);
      assert.deepEqual(stats.exposuresByHour, [
        { at: new Date(T0).toISOString(), variation: 'a', units: 3 },
        { at: new Date(T0).toISOString(), variation: 'b', units: 2 },
      ]);
      const zero = { denominatorSum: 0, denominatorSumSquares: 0, sumProductWithDenominator: 0 };
      assert.deepEqual(stats.metrics, [
        {
          name: 'converted',
          variations: [
            { variation: 'a', units: 3, sum: 1, sumSquares: 1, ...zero },
            { variation: 'b', units: 2, sum: 2, sumSquares: 2, ...zero },
          ],
        },
        {
          name: 'revenue',
          variations: [
            // a3's purchase comes 5 days after exposure: outside the 48h window.
            { variation: 'a', units: 3, sum: 15, sumSquares: 225, ...zero },
            { variation: 'b', units: 2, sum: 30, sumSquares: 20 * 20 + 10 * 10, ...zero },
          ],
        },
        {
          name: 'purchases',
          variations: [
            { variation: 'a', units: 3, sum: 2, sumSquares: 4, ...zero },
            { variation: 'b', units: 2, sum: 3, sumSquares: 1 + 4, ...zero },
          ],
        },
        {
          name: 'purchases per view',
          variations: [
            { variation: 'a', units: 3, sum: 2, sumSquares: 4, denominatorSum: 4, denominatorSumSquares: 9 + 1, sumProductWithDenominator: 6 },
            { variation: 'b', units: 2, sum: 3, sumSquares: 5, denominatorSum: 6, denominatorSumSquares: 4 + 16, sumProductWithDenominator: 2 + 8 },
          ],
        },
      ]);
      const longer = await store.experimentStatistics({ flag: 'exp', since: T0 - HOUR, attributionWindowMs: 7 * DAY, metrics: [{ event: 'purchase', type: 'mean' }] });
      assert.deepEqual(longer.metrics[0]!.variations[0], { variation: 'a', units: 3, sum: 22, sumSquares: 225 + 49, ...zero }, 'a 7-day window takes in a3');
      const unbounded = await store.experimentStatistics({ flag: 'exp', attributionWindowMs: 48 * HOUR, metrics: [] });
      assert.deepEqual(unbounded.units.find((u) => u.variation === 'b'), { variation: 'b', units: 3 }, 'without since, the early unit counts');
      const ended = await store.experimentStatistics({ flag: 'exp', since: T0 - HOUR, until: T0 + 30_000, attributionWindowMs: 48 * HOUR, metrics: [{ event: 'purchase', type: 'binomial' }] });
      assert.deepEqual(ended.units, [{ variation: 'a', units: 3 }, { variation: 'b', units: 1 }], 'b2 was exposed after the end');

      // CUPED: purchases before the first exposure, 3, 10 and 20 days before it; a 14-day lookback takes the first two.
      await store.write([batch([], [track('purchase', 'a1', T0 - 3 * DAY, { value: 8 }), track('purchase', 'b1', T0 - 10 * DAY, { value: 3 }), track('purchase', 'b2', T0 - 20 * DAY, { value: 50 })])]);
      const cuped = await store.experimentStatistics({
        flag: 'exp',
        since: T0 - HOUR,
        attributionWindowMs: 48 * HOUR,
        covariateLookbackMs: 14 * DAY,
        metrics: [
          { event: 'purchase', type: 'binomial', name: 'converted' },
          { event: 'purchase', type: 'mean', name: 'revenue' },
          { event: 'purchase', type: 'ratio', value: 'count', denominator: 'page-view', name: 'purchases per view' },
        ],
      });
      assert.deepEqual(cuped.metrics[0]!.variations, [
        { variation: 'a', units: 3, sum: 1, sumSquares: 1, ...zero, covariateSum: 1, covariateSumSquares: 1, sumProductWithCovariate: 1 },
        { variation: 'b', units: 2, sum: 2, sumSquares: 2, ...zero, covariateSum: 1, covariateSumSquares: 1, sumProductWithCovariate: 1 },
      ]);
      assert.deepEqual(cuped.metrics[1]!.variations, [
        { variation: 'a', units: 3, sum: 15, sumSquares: 225, ...zero, covariateSum: 8, covariateSumSquares: 64, sumProductWithCovariate: 15 * 8 },
        { variation: 'b', units: 2, sum: 30, sumSquares: 500, ...zero, covariateSum: 3, covariateSumSquares: 9, sumProductWithCovariate: 20 * 3 },
      ], 'the events before exposure are the covariate, never the metric');
      assert.equal(cuped.metrics[2]!.variations[0]!.covariateSum, undefined, 'ratio metrics get no covariate');
      assert.deepEqual(cuped.metrics[2]!.variations[0]!.sum, 2);
    });

    it('answers any quantile asked, per variation, over a window of minutes (what rollout gates read)', async () => {
      const store = await fresh();
      const exposures: ExposureRecord[] = [];
      const tracks: TrackRecord[] = [];
      for (let i = 0; i < 200; i++) exposures.push(exposure('gated', i % 2 === 0 ? 'control' : 'canary', `g${i}`, T0));
      // Minute 1: control values 1..100, canary values 201..300. Minute 30: canary 1000 (outside the window below).
      for (let i = 0; i < 200; i++) tracks.push(track('latency', `g${i}`, T0 + MINUTE, { value: i % 2 === 0 ? i / 2 + 1 : 200 + (i + 1) / 2 }));
      tracks.push(track('latency', 'g1', T0 + 30 * MINUTE, { value: 1000, error: true }));
      await store.write([batch(exposures, tracks)]);

      const window = await store.metricSummary({ metric: 'latency', flag: 'gated', by: 'variation', since: T0, until: T0 + 10 * MINUTE, quantiles: [0.9, 0.5] });
      const canary = window.rows.find((row) => row.variation === 'canary')!;
      const control = window.rows.find((row) => row.variation === 'control')!;
      assert.deepEqual(Object.keys(canary.quantiles!).sort(), ['0.5', '0.9']);
      assert.ok(Math.abs(control.quantiles!['0.9']! - 90) <= 2, `control p90 ${control.quantiles!['0.9']}`);
      assert.ok(Math.abs(canary.quantiles!['0.5']! - 250) <= 4, `canary p50 ${canary.quantiles!['0.5']}`);
      assert.equal(canary.count, 100);
      assert.equal(canary.errors, 0, 'the error at minute 30 is outside the window');

      const later = await store.metricSummary({ metric: 'latency', flag: 'gated', by: 'variation', since: T0 + 10 * MINUTE, until: T0 + 60 * MINUTE, quantiles: [0.9] });
      const lateCanary = later.rows.find((row) => row.variation === 'canary')!;
      assert.equal(lateCanary.count, 1);
      assert.equal(lateCanary.errors, 1);
      assert.ok(Math.abs(lateCanary.quantiles!['0.9']! - 1000) <= 20);

      const none = await store.metricSummary({ metric: 'latency', flag: 'gated', by: 'variation', ...range });
      assert.equal(none.rows[0]!.quantiles, undefined, 'no quantiles asked, none answered');
      await assert.rejects(store.metricSummary({ metric: 'latency', ...range, quantiles: [1.5] }), /quantile 1.5/);
    });

    it('counts distinct units exactly up to 256 a minute, then within a few percent', async () => {
      const store = await fresh();
      const exact = Array.from({ length: 200 }, (_, i) => exposure('small', 'on', `unit-${i}`, T0));
      await store.write([batch(exact), batch(exact.slice(0, 50))]);
      assert.equal((await store.flagSummary('small', range)).variations[0]!.units, 200);
      const many = Array.from({ length: 5_000 }, (_, i) => exposure('large', 'on', `user-${i}`, T0 + (i % 10) * MINUTE));
      for (let i = 0; i < many.length; i += 1_000) await store.write([batch(many.slice(i, i + 1_000))]);
      const { units, evaluations } = (await store.flagSummary('large', range)).variations[0]!;
      assert.equal(evaluations, 5_000);
      assert.ok(Math.abs(units - 5_000) / 5_000 < 0.05, `estimated ${units} distinct units of 5000`);
    });

    it('keeps environments apart', async () => {
      const store = await fresh();
      await store.write([batch([exposure('f', 'on', 'u1', T0)], [], 'same-id', 'staging'), batch([exposure('f', 'on', 'u1', T0)], [], 'same-id')]);
      await store.write([batch([exposure('f', 'on', 'u2', T0)], [], undefined, 'staging')]);
      assert.equal((await store.flagSummary('f', range)).variations[0]!.evaluations, 1);
      assert.equal((await store.flagSummary('f', { ...range, environment: 'staging' })).variations[0]!.evaluations, 2);
      assert.deepEqual((await store.firstExposures({ flag: 'f', environment: 'staging' })).map((r) => r.unit), ['u1', 'u2']);
    });

    it('prunes unit-level rows and minute series past their retention, and keeps the rest', async () => {
      const store = await fresh({ unitDays: 2, minuteDays: 5, batchDays: 1 });
      const DAY = 86_400_000;
      const now = T0 + 10 * DAY;
      await store.write([
        batch([exposure('f', 'on', 'old', now - 3 * DAY), exposure('f', 'on', 'ancient', now - 6 * DAY), exposure('f', 'on', 'new', now - 1_000)], [
          track('m', 'old', now - 3 * DAY, { value: 1 }),
          track('m', 'new', now - 1_000, { value: 1 }),
        ]),
      ]);
      const result = await store.prune(now);
      assert.deepEqual(
        { unitExposures: result.unitExposures, metricUnitDays: result.metricUnitDays, flagMinutes: result.flagMinutes, metricMinutes: result.metricMinutes },
        { unitExposures: 2, metricUnitDays: 1, flagMinutes: 1, metricMinutes: 0 },
      );
      assert.deepEqual((await store.firstExposures({ flag: 'f' })).map((r) => r.unit), ['new']);
      const series = await store.flagSummary('f', { since: now - 7 * DAY, until: now + MINUTE });
      assert.equal(series.variations[0]!.evaluations, 2, 'the minute series of 3 days ago is kept (5-day retention)');
    });

    it('two stores on one schema add up: totals equal the events written, retried batches counted once', async () => {
      const first = await fresh();
      const second = await factory.openSecond();
      open.push(second);
      const stores = [first, second];
      const writes: Promise<unknown>[] = [];
      let expected = 0;
      for (let i = 0; i < 40; i++) {
        const b = batch(
          Array.from({ length: 10 }, (_, j) => exposure('race', j % 2 ? 'a' : 'b', `u${(i * 10 + j) % 37}`, T0 + (j % 3) * MINUTE, { count: 2 })),
          [track('m', `u${i % 37}`, T0, { value: i })],
          `b-${i}`,
        );
        expected += 20;
        writes.push(stores[i % 2]!.write([b]));
        if (i % 4 === 0) writes.push(stores[(i + 1) % 2]!.write([b]));
      }
      await Promise.all(writes);
      const summary = await first.flagSummary('race', range);
      assert.equal(summary.variations.reduce((sum, v) => sum + v.evaluations, 0), expected);
      assert.equal((await first.metricSummary({ metric: 'm', ...range })).rows[0]!.count, 40);
      assert.equal((await first.firstExposures({ flag: 'race' })).length, 37);
    });
  });
}
