import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { analyzeExperiment, correctPValues, experimentReport, type ReportPlan, type ReportStatistics } from '../src/index.js';

const plan = (overrides: Partial<ReportPlan> = {}): ReportPlan => ({
  control: 'a',
  variations: ['a', 'b'],
  weights: [1, 1],
  attributionWindowMs: 72 * 3_600_000,
  engine: 'frequentist',
  alpha: 0.05,
  sequential: false,
  correction: 'holm-bonferroni',
  minUnits: 100,
  metrics: [
    { name: 'buy', event: 'buy', type: 'binomial', role: 'goal', inverse: false },
    { name: 'spend', event: 'spend', type: 'mean', role: 'goal', inverse: false },
    { name: 'errors', event: 'error', type: 'binomial', role: 'guardrail', inverse: true },
  ],
  ...overrides,
});

const binomial = (variation: string, units: number, sum: number) => ({ variation, units, sum, sumSquares: sum, denominatorSum: 0, denominatorSumSquares: 0, sumProductWithDenominator: 0 });
const mean = (variation: string, units: number, sum: number, sumSquares: number) => ({ variation, units, sum, sumSquares, denominatorSum: 0, denominatorSumSquares: 0, sumProductWithDenominator: 0 });

const stats = (a: number, b: number, multiple = 0): ReportStatistics => ({
  units: [
    { variation: 'a', units: a },
    { variation: 'b', units: b },
  ],
  multipleExposures: multiple,
  multipleExposureShare: multiple / (a + b + multiple),
  metrics: [
    { name: 'buy', variations: [binomial('a', a, Math.round(a * 0.1)), binomial('b', b, Math.round(b * 0.13))] },
    { name: 'spend', variations: [mean('a', a, a * 5, a * 60), mean('b', b, b * 5.2, b * 62)] },
    { name: 'errors', variations: [binomial('a', a, Math.round(a * 0.02)), binomial('b', b, Math.round(b * 0.03))] },
  ],
});

const NOW = Date.parse('2026-12-03T00:00:00Z');

describe('experiment report', () => {
  it('gives the same figures as analyzeExperiment, Holm-corrects the goal metrics only, and judges inverse metrics', () => {
    const report = experimentReport(plan(), stats(5000, 5000), NOW);
    const direct = analyzeExperiment({
      metric: { type: 'binomial', inverse: false },
      engine: 'frequentist',
      difference: 'relative',
      alpha: 0.05,
      oneSided: false,
      cuped: false,
      variations: [
        { name: 'a', units: 5000, sum: 500, sumSquares: 500, denominatorSum: 0, denominatorSumSquares: 0, sumProductWithDenominator: 0, covariateSum: 0, covariateSumSquares: 0, sumProductWithCovariate: 0 },
        { name: 'b', units: 5000, sum: 650, sumSquares: 650, denominatorSum: 0, denominatorSumSquares: 0, sumProductWithDenominator: 0, covariateSum: 0, covariateSumSquares: 0, sumProductWithCovariate: 0 },
      ],
    });
    const buy = report.metrics[0]!.variations[1]!.uplift!;
    assert.equal(buy.expected, direct.variations[1]!.effect!.expected);
    assert.deepEqual(buy.ci, direct.variations[1]!.effect!.ci);
    assert.equal(report.metrics[0]!.variations[1]!.conversions, 650);
    const spend = report.metrics[1]!.variations[1]!.uplift!;
    const holm = correctPValues([buy.pValue!, spend.pValue!], 'holm-bonferroni');
    assert.equal(buy.pValueAdjusted, holm[0]);
    assert.equal(spend.pValueAdjusted, holm[1]);
    assert.equal(buy.significant, 'better');
    const errors = report.metrics[2]!.variations[1]!.uplift!;
    assert.equal(errors.pValueAdjusted, undefined, 'guardrails stay out of the family');
    assert.ok(errors.expected > 0);
    assert.equal(errors.significant, errors.pValue! < 0.05 ? 'worse' : 'none', 'more errors is worse on an inverse metric');
  });

  it('warns: SRM below p 0.001, multiple exposures above 1 %, too little data, peeking while a fixed-horizon test runs', () => {
    const codes = (p: ReportPlan, s: ReportStatistics, now = NOW) => experimentReport(p, s, now).warnings.map((w) => w.code);
    assert.deepEqual(codes(plan(), stats(5000, 5000)), ['peeking']);
    assert.deepEqual(codes(plan({ sequential: true }), stats(5000, 5000)), [], 'sequential tests may be looked at any time');
    assert.deepEqual(codes(plan({ engine: 'bayesian' }), stats(5000, 5000)), []);
    assert.deepEqual(codes(plan({ end: NOW - 1 }), stats(5000, 5000)), [], 'an ended test is read at its horizon');
    assert.deepEqual(codes(plan({ end: NOW - 1 }), stats(5200, 4800)), ['srm']);
    assert.deepEqual(codes(plan({ end: NOW - 1, weights: [52, 48] }), stats(5200, 4800)), [], 'the expected split is the flag\u2019s');
    assert.deepEqual(codes(plan({ end: NOW - 1 }), stats(5000, 5000, 200)), ['multiple_exposures']);
    assert.deepEqual(codes(plan({ end: NOW - 1 }), stats(5000, 5000, 50)), [], '0.5 % is tolerated');
    assert.deepEqual(codes(plan({ end: NOW - 1 }), stats(99, 120)), ['too_little_data']);
  });

  it('adds up exposures per hour into cumulative units per variation, in plan order', () => {
    const s = {
      ...stats(30, 20),
      exposuresByHour: [
        { at: '2026-12-01T10:00:00.000Z', variation: 'b', units: 5 },
        { at: '2026-12-01T09:00:00.000Z', variation: 'a', units: 10 },
        { at: '2026-12-01T10:00:00.000Z', variation: 'a', units: 20 },
        { at: '2026-12-01T11:00:00.000Z', variation: 'b', units: 15 },
        { at: '2026-12-01T11:00:00.000Z', variation: 'gone', units: 99 },
      ],
    };
    assert.deepEqual(experimentReport(plan(), s, NOW).cumulativeExposures, [
      { at: '2026-12-01T09:00:00.000Z', units: [10, 0] },
      { at: '2026-12-01T10:00:00.000Z', units: [30, 5] },
      { at: '2026-12-01T11:00:00.000Z', units: [30, 20] },
    ]);
  });

  it('never throws and keeps every figure finite or null, whatever the counts', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(10_000), fc.nat(1_000), fc.constantFrom<'frequentist' | 'bayesian'>('frequentist', 'bayesian'), (a, b, multiple, engine) => {
        const report = experimentReport(plan({ engine }), stats(a, b, multiple), NOW);
        assert.equal(report.metrics.length, 3);
        for (const metric of report.metrics) {
          for (const v of metric.variations) {
            assert.ok(Number.isFinite(v.mean) && Number.isFinite(v.stdDev));
            for (const bound of v.uplift?.ci ?? []) assert.ok(bound === null || Number.isFinite(bound));
          }
        }
        assert.ok(report.srm.pValue >= 0 && report.srm.pValue <= 1);
      }),
      { numRuns: 200 },
    );
  });
});
