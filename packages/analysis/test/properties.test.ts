// Invariants that hold for any input, checked with fast-check.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AnalysisInputError,
  analyzeExperiment,
  bayesianTest,
  benjaminiHochberg,
  frequentistTest,
  holmBonferroni,
  parseAnalysisInput,
  proportion,
  sampleMean,
  sampleRatioMismatchPValue,
  type ArmStatistic,
} from '../src/index.ts';

/** A realistic arm: n units whose values have mean `mean` and standard deviation `sd`, summarised. */
const meanArm = fc
  .record({ n: fc.integer({ min: 2, max: 1_000_000 }), mean: fc.double({ min: 0.01, max: 1000, noNaN: true }), sd: fc.double({ min: 0.01, max: 1000, noNaN: true }) })
  .map(({ n, mean, sd }) => sampleMean(n, n * mean, (n - 1) * sd ** 2 + n * mean ** 2));
const binomialArm = fc
  .record({ n: fc.integer({ min: 2, max: 1_000_000 }), rate: fc.double({ min: 0.001, max: 0.999, noNaN: true }) })
  .map(({ n, rate }) => proportion(n, Math.max(1, Math.min(n - 1, Math.round(n * rate)))));
const arm: fc.Arbitrary<ArmStatistic> = fc.oneof(meanArm, binomialArm);
const pair = fc.oneof(fc.tuple(meanArm, meanArm), fc.tuple(binomialArm, binomialArm));
const alpha = fc.double({ min: 0.001, max: 0.4, noNaN: true });

function relativeClose(a: number, b: number, tolerance = 1e-9) {
  return Math.abs(a - b) <= tolerance * Math.max(Math.abs(a), Math.abs(b), 1e-12);
}

describe('statistics properties', () => {
  it('swapping the arms negates the absolute effect and keeps its standard error and two-sided p-value', () => {
    fc.assert(
      fc.property(pair, ([a, b]) => {
        const forward = frequentistTest(a, b, { difference: 'absolute' });
        const backward = frequentistTest(b, a, { difference: 'absolute' });
        if (forward.error) return;
        assert.ok(relativeClose(forward.expected, -backward.expected), `${forward.expected} vs ${backward.expected}`);
        assert.ok(relativeClose(forward.stdError, backward.stdError));
        assert.ok(relativeClose(forward.pValue!, backward.pValue!, 1e-6) || Math.abs(forward.pValue! - backward.pValue!) < 1e-12);
      }),
    );
  });

  it('every interval contains its estimate, and p-values, chances to win and risks are in range', () => {
    const sides = fc.constantFrom('two-sided' as const, 'greater' as const, 'lesser' as const);
    fc.assert(
      fc.property(pair, alpha, sides, fc.boolean(), fc.constantFrom('relative' as const, 'absolute' as const), ([a, b], level, side, sequential, difference) => {
        const f = frequentistTest(a, b, { alpha: level, sides: side, difference, ...(sequential ? { sequential: {} } : {}) });
        assert.ok(f.ci[0] <= f.expected && f.expected <= f.ci[1], `${f.ci[0]} ≤ ${f.expected} ≤ ${f.ci[1]}`);
        if (f.pValue !== null) assert.ok(f.pValue >= 0 && f.pValue <= 1, `p ${f.pValue}`);
        const bayes = bayesianTest(a, b, { alpha: level, difference });
        assert.ok(bayes.ci[0] <= bayes.expected && bayes.expected <= bayes.ci[1]);
        assert.ok(bayes.chanceToWin >= 0 && bayes.chanceToWin <= 1);
        assert.ok(bayes.risk[0] >= 0 && bayes.risk[1] >= 0, `risk ${bayes.risk}`);
      }),
    );
  });

  it('with enough units for the t-test to be normal, a sequential interval is never narrower than the fixed-horizon one', () => {
    const large = (stat: ArmStatistic) => stat.n >= 1000;
    fc.assert(
      fc.property(pair.filter(([a, b]) => large(a) && large(b)), alpha, ([a, b], level) => {
        const fixed = frequentistTest(a, b, { alpha: level });
        const sequential = frequentistTest(a, b, { alpha: level, sequential: {} });
        if (fixed.error) return;
        assert.ok(sequential.ci[1] - sequential.ci[0] >= (fixed.ci[1] - fixed.ci[0]) * (1 - 1e-9));
      }),
    );
  });

  it('the SRM p-value is in [0, 1] and is 1 for a perfectly even split', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10_000_000 }), { minLength: 1, maxLength: 8 }), (units) => {
        const p = sampleRatioMismatchPValue(units);
        assert.ok(p >= 0 && p <= 1, `p ${p}`);
        assert.equal(sampleRatioMismatchPValue(units.map(() => units[0]!)), 1);
      }),
    );
  });

  it('corrections: Holm ≥ BH ≥ raw, ≤ 1, and they reject exactly what the step-down / step-up procedures reject', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 30 }), alpha, (pValues, level) => {
        const holm = holmBonferroni(pValues);
        const bh = benjaminiHochberg(pValues);
        pValues.forEach((p, i) => {
          assert.ok(holm[i]! >= bh[i]! - 1e-15 && bh[i]! >= p - 1e-15 && holm[i]! <= 1);
        });
        const m = pValues.length;
        const sorted = [...pValues].sort((x, y) => x - y);
        // Holm: step down while p_(k) ≤ α/(m − k).
        let holmCount = 0;
        while (holmCount < m && sorted[holmCount]! <= level / (m - holmCount)) holmCount++;
        const holmThreshold = holmCount === 0 ? -1 : sorted[holmCount - 1]!;
        // BH: the largest k with p_(k) ≤ kα/m; reject everything up to it.
        let bhCount = 0;
        for (let k = m; k >= 1; k--) if (sorted[k - 1]! <= (k * level) / m) { bhCount = k; break; }
        const bhThreshold = bhCount === 0 ? -1 : sorted[bhCount - 1]!;
        pValues.forEach((p, i) => {
          // Compare away from the boundary, where floating-point products decide.
          if (Math.abs(holm[i]! - level) > 1e-12) assert.equal(holm[i]! <= level, p <= holmThreshold, `holm ${p}`);
          if (Math.abs(bh[i]! - level) > 1e-12) assert.equal(bh[i]! <= level, p <= bhThreshold, `bh ${p}`);
        });
      }),
    );
  });
});

describe('the stats.json contract never breaks on odd input', () => {
  const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
  const variation = fc.record({
    name: fc.string({ maxLength: 8 }),
    units: fc.oneof(fc.nat({ max: 10 }), fc.nat({ max: 10_000_000 })),
    sum: fc.oneof(finite, fc.integer({ min: -5, max: 100 })),
    sumSquares: fc.oneof(finite, fc.integer({ min: 0, max: 1000 })),
    denominatorSum: finite,
    denominatorSumSquares: finite,
    sumProductWithDenominator: finite,
    covariateSum: finite,
    covariateSumSquares: finite,
    sumProductWithCovariate: finite,
  });
  const input = fc.record({
    metric: fc.record({ type: fc.constantFrom('binomial', 'mean', 'ratio'), inverse: fc.boolean() }),
    engine: fc.constantFrom('frequentist', 'bayesian'),
    difference: fc.constantFrom('relative', 'absolute'),
    alpha: fc.double({ min: 1e-6, max: 0.999, noNaN: true }),
    oneSided: fc.boolean(),
    sequential: fc.option(fc.record({ tuning: fc.double({ min: 1, max: 1e7, noNaN: true }) }), { nil: undefined }),
    prior: fc.option(fc.record({ mean: fc.double({ min: -1, max: 1, noNaN: true }), stddev: fc.double({ min: 1e-3, max: 10, noNaN: true }) }), { nil: undefined }),
    cuped: fc.boolean(),
    variations: fc.array(variation, { minLength: 1, maxLength: 4 }),
  });

  it('any finite numbers: no throw, valid JSON, degenerate comparisons carry gbstats\' error codes and default numbers', () => {
    fc.assert(
      fc.property(input, (raw) => {
        const value = raw.cuped && raw.metric.type === 'ratio' ? { ...raw, cuped: false } : raw;
        const output = JSON.parse(JSON.stringify(analyzeExperiment(parseAnalysisInput(value))));
        assert.equal(output.variations.length, value.variations.length);
        assert.equal(output.variations[0].effect, undefined);
        for (const v of output.variations.slice(1)) {
          const e = v.effect;
          assert.ok(e, 'every treatment has an effect');
          if (e.error === 'ZERO_NEGATIVE_VARIANCE' || e.error === 'ZERO_NEGATIVE_BASELINE_VARIATION' || e.error?.startsWith('ALPHA_')) {
            assert.equal(e.expected, 0);
            assert.deepEqual(e.ci, [0, 0]);
            if (value.engine === 'bayesian') {
              assert.equal(e.chanceToWin, 0.5);
              assert.deepEqual(e.risk, [0, 0]);
            } else assert.equal(e.pValue, 1);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary JSON is either accepted or rejected with an error naming a field', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          parseAnalysisInput(value);
        } catch (error) {
          assert.ok(error instanceof AnalysisInputError, String(error));
          assert.ok(error.field.length > 0);
        }
      }),
    );
  });
});
