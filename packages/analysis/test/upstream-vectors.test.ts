// gbstats' own unit-test vectors (packages/stats/tests/{frequentist,bayesian}/test_tests.py at growthbook 8f1db44,
// gbstats 0.8.0), at the full precision given in reference/experiments.md §12 or in the upstream test itself, and
// GrowthBook's p-value correction vectors (packages/shared/test/experiments.test.ts). Checked to 1e-6 relative;
// vectors upstream only gives to 5 decimals are checked to 5e-6 absolute.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  bayesianTest,
  benjaminiHochberg,
  frequentistTest,
  holmBonferroni,
  proportion,
  regressionAdjusted,
  regressionAdjustedRatio,
  risks,
  sampleMean,
  sampleRatioMismatchPValue,
  sequentialRho,
} from '../src/index.ts';
import { assertClose } from './helpers.ts';

const A = sampleMean(3407, 1396.87, 52377.9767);
const B = sampleMean(3461, 2422.7, 134698.29);
const A3000 = sampleMean(3000, 1396.87, 52377.9767);

function closeTo5Decimals(actual: number | null, expected: number, what: string) {
  assert.ok(actual !== null && Math.abs(actual - expected) <= 5e-6, `${what}: expected ${expected}, got ${actual}`);
}

describe('gbstats frequentist vectors', () => {
  it('1. two-sided Welch t-test, relative', () => {
    const r = frequentistTest(A, B, { difference: 'relative' });
    assertClose([r.expected, r.stdError, r.ci[0], r.ci[1], r.pValue], [0.7073170732, 0.3787943617, -0.03526008907, 1.449894235, 0.06191182746], 'r');
    assert.equal(r.error, undefined);
  });
  it('2. two-sided Welch t-test, absolute', () => {
    const r = frequentistTest(A, B, { difference: 'absolute' });
    assertClose([r.expected, r.stdError, r.ci[0], r.ci[1], r.pValue], [0.29, 0.1247836316, 0.04537789256, 0.5346221074, 0.02015840264], 'r');
  });
  it('3. proportions: the same Welch test with p(1 − p)', () => {
    const r = frequentistTest(proportion(28, 14), proportion(30, 16));
    assertClose([r.expected, r.stdError, r.ci[0], r.ci[1], r.pValue], [0.06666666667, 0.2716985569, -0.4776740283, 0.6110073616, 0.8070716832], 'r');
  });
  it('4. sequential two-sided, N* = 1000', () => {
    const r = frequentistTest(A3000, B, { sequential: { tuning: 1000 } });
    assertClose([r.expected, r.stdError, r.ci[0], r.ci[1], r.pValue], [0.5033610859, 0.3334122146, -0.5584405051, 1.565162677, 1], 'r');
  });
  it('5. sequential two-sided on proportions, default N* = 5000', () => {
    const r = frequentistTest(proportion(3000, 1396), proportion(3461, 2422), { sequential: {} });
    assertClose([r.expected, r.stdError, r.ci[0], r.ci[1]], [0.5038633517, 0.0338602148, 0.4009784967, 0.6067482067], 'r');
    assert.ok(r.pValue !== null && r.pValue < 1e-40 && r.pValue > 1e-48, `p ${r.pValue} ≈ 5.17e-44`);
  });
  it('sequential two-sided with CUPED (upstream test_sequential_test_runs_ra)', () => {
    const a = regressionAdjusted(3000, A3000, sampleMean(3000, 16.87, 527.9767), 1);
    const b = regressionAdjusted(3461, B, sampleMean(3461, 22.7, 1348.29), 1);
    const r = frequentistTest(a, b, { sequential: {} });
    closeTo5Decimals(r.expected, 0.50338, 'expected');
    closeTo5Decimals(r.stdError, 0.33341, 'stdError');
    closeTo5Decimals(r.ci[0], -0.50969, 'ci low');
    closeTo5Decimals(r.ci[1], 1.51646, 'ci high');
    assert.equal(r.pValue, 1);
  });
  it('one-sided "treatment greater", relative and absolute', () => {
    const rel = frequentistTest(A3000, B, { sides: 'greater' });
    assertClose([rel.expected, rel.stdError, rel.ci[0], rel.pValue], [0.5033610858562358, 0.3334122146400735, -0.045136675850396046, 0.06558262868467746], 'rel');
    assert.equal(rel.ci[1], Infinity);
    const abs = frequentistTest(A3000, B, { sides: 'greater', difference: 'absolute' });
    assertClose([abs.expected, abs.stdError, abs.ci[0], abs.pValue], [0.23437666666666668, 0.12983081254184736, 0.020791480063255735, 0.03554272489873023], 'abs');
  });
  it('one-sided "treatment lesser", relative and absolute', () => {
    const rel = frequentistTest(A3000, B, { sides: 'lesser' });
    assertClose([rel.ci[1], rel.pValue], [1.0518588475628676, 0.9344173713153225], 'rel');
    assert.equal(rel.ci[0], -Infinity);
    const abs = frequentistTest(A3000, B, { sides: 'lesser', difference: 'absolute' });
    assertClose([abs.ci[1], abs.pValue], [0.44796185327007765, 0.9644572751012698], 'abs');
  });
  it('sequential one-sided "greater": bound and bisected p-value', () => {
    const rel = frequentistTest(A3000, B, { sides: 'greater', sequential: {} });
    assertClose([rel.ci[0], rel.pValue], [-0.42356454602790883, 0.4999], 'rel');
    const abs = frequentistTest(A3000, B, { sides: 'greater', sequential: {}, difference: 'absolute' });
    assertClose([abs.ci[0], abs.pValue], [-0.12656844172804982, 0.46316491943359384], 'abs');
  });
  it('sequential one-sided "lesser": clamped at 0.4999', () => {
    const rel = frequentistTest(A3000, B, { sides: 'lesser', sequential: {} });
    assertClose([rel.ci[1], rel.pValue], [1.4302867177403806, 0.4999], 'rel');
    const abs = frequentistTest(A3000, B, { sides: 'lesser', sequential: {}, difference: 'absolute' });
    assertClose([abs.ci[1], abs.pValue], [0.5953217750613832, 0.4999], 'abs');
  });
  it('missing variance (n = 2 with an impossible sum of squares) gives the default output', () => {
    const r = frequentistTest(sampleMean(2, 1396.87, 52377.9767), B);
    assert.deepEqual(r, { expected: 0, stdError: 0, ci: [0, 0], pValue: 1, error: 'ZERO_NEGATIVE_VARIANCE' });
  });
  it('ρ(0.05, 5000)', () => {
    assertClose(sequentialRho(0.05, 5000, true), 0.03984006677, 'rho');
  });
});

describe('gbstats ratio CUPED vectors (test_two_sided_ttest_test_runs_ratio_ra, test_sequential_test_runs_ratio_ra)', () => {
  // Upstream gives these to 5 decimals; the full-precision values are gbstats' own output for the same inputs.
  const control = regressionAdjustedRatio(
    100,
    {
      numeratorPost: sampleMean(100, 485.112236689623, 2715.484666118136),
      denominatorPost: sampleMean(100, 679.9093275844917, 4939.424001640236),
      numeratorPre: sampleMean(100, 192.59138069991536, 460.076026390857),
      denominatorPre: sampleMean(100, 290.1398399750233, 920.9461385038898),
    },
    {
      numeratorPostNumeratorPre: 1113.6215759318352,
      denominatorPostDenominatorPre: 2130.9404074446747,
      numeratorPreDenominatorPre: 634.239482353647,
      numeratorPostDenominatorPost: 3602.146836776702,
      numeratorPostDenominatorPre: 1559.2878434944676,
      numeratorPreDenominatorPost: 1460.3181079276983,
    },
  );
  const treatment = regressionAdjustedRatio(
    100,
    {
      numeratorPost: sampleMean(100, 514.7757826608777, 2994.897482705013),
      denominatorPost: sampleMean(100, 705.4090874383759, 5291.36604146392),
      numeratorPre: sampleMean(100, 206.94157227402536, 514.2903702246757),
      denominatorPre: sampleMean(100, 302.54389139107326, 994.4506208125663),
    },
    {
      numeratorPostNumeratorPre: 1237.0953021125997,
      denominatorPostDenominatorPre: 2292.081739775257,
      numeratorPreDenominatorPre: 698.4173425817908,
      numeratorPostDenominatorPost: 3918.1561431600717,
      numeratorPostDenominatorPre: 1701.0287270040265,
      numeratorPreDenominatorPost: 1604.0759503266522,
    },
  );
  it('two-sided, relative (upstream: -0.0007, se 0.00391, ci (-0.00841, 0.00700), p 0.85771)', () => {
    const r = frequentistTest(control, treatment);
    assertClose([r.expected, r.stdError, r.ci[0], r.ci[1], r.pValue], [-0.0007014833343349333, 0.003907384079294573, -0.0084077861436321, 0.007004819474962233, 0.8577104052724964], 'r');
  });
  it('sequential two-sided (upstream: ci (-0.02063, 0.01923), p 1)', () => {
    const r = frequentistTest(control, treatment, { sequential: {} });
    assertClose([r.ci[0], r.ci[1], r.pValue], [-0.02062898572575184, 0.01922601905708197, 1], 'r');
  });
  it('absolute, and Bayesian', () => {
    const abs = frequentistTest(control, treatment, { difference: 'absolute' });
    assertClose([abs.expected, abs.stdError, abs.pValue], [-0.0005005051931390447, 0.0027882397747049296, 0.8577275125565893], 'abs');
    const bayes = bayesianTest(control, treatment);
    assertClose([bayes.chanceToWin, bayes.risk[0], bayes.risk[1]], [0.428761718996199, 0.0012331323181153774, 0.0019346156524503106], 'bayes');
  });
});

describe('gbstats Bayesian vectors', () => {
  it('6. binomial, flat prior', () => {
    const r = bayesianTest(proportion(100, 49), proportion(100, 51));
    assertClose(
      [r.expected, r.stdError, r.ci[0], r.ci[1], r.chanceToWin, r.risk[0], r.risk[1]],
      [0.04081632653, 0.1472525457, -0.2477933597, 0.3294260128, 0.6091813096, 0.08139584916, 0.04057952262],
      'r',
    );
  });
  it('7. mean, flat prior', () => {
    const r = bayesianTest(sampleMean(10, 100, 1002.25), sampleMean(10, 105, 1111.5));
    assertClose(
      [r.expected, r.stdError, r.ci[0], r.ci[1], r.chanceToWin, r.risk[0], r.risk[1]],
      [0.05, 0.03571589282, -0.0200018636, 0.1200018636, 0.9192339082, 0.05130981716, 0.001309817164],
      'r',
    );
  });
  it('8. mean, proper prior N(0.1, variance 0.1)', () => {
    const r = bayesianTest(sampleMean(10, 100, 1002.25), sampleMean(10, 105, 1111.5), { prior: { mean: 0.1, stdDev: Math.sqrt(0.1) } });
    assertClose(
      [r.expected, r.stdError, r.ci[0], r.ci[1], r.chanceToWin, r.risk[0], r.risk[1]],
      [0.05062977888, 0.03549024889, -0.01892983074, 0.1201893885, 0.9231499086, 0.05185680643, 0.001227027546],
      'r',
    );
  });
  it('missing data: chance to win 0.5, expected 0', () => {
    for (const [a, b] of [
      [proportion(0, 0), proportion(0, 0)],
      [sampleMean(0, 0, 0), sampleMean(0, 0, 0)],
    ] as const) {
      const r = bayesianTest(a, b);
      assert.equal(r.chanceToWin, 0.5);
      assert.equal(r.expected, 0);
      assert.deepEqual(r.risk, [0, 0]);
    }
  });
  it('risk: the limit beyond 37 standard deviations, and the regular regime', () => {
    assert.deepEqual(risks(0.01, 4.5e-9), [0.01, 0]);
    assert.deepEqual(risks(-0.01, 4.5e-9), [0, 0.01]);
    const [control, treatment] = risks(0.1, 0.05);
    assert.ok(Math.abs(control - 0.1004245351308) < 1e-10, String(control));
    assert.ok(Math.abs(treatment - 0.0004245351308414) < 1e-10, String(treatment));
  });
});

describe('sample ratio mismatch vectors', () => {
  it('equal weights', () => {
    assertClose(sampleRatioMismatchPValue([5000, 5200]), 0.04767038066, '5000/5200');
    assertClose(sampleRatioMismatchPValue([10000, 10300]), 0.03524022382, '10000/10300');
    assertClose(sampleRatioMismatchPValue([1000, 1000, 1100], [1, 1, 1]), 0.03972373339, '3 arms');
  });
  it('no units at all gives 1', () => {
    assert.equal(sampleRatioMismatchPValue([0, 0]), 1);
  });
});

describe('GrowthBook p-value corrections', () => {
  it('Holm–Bonferroni', () => {
    assertClose(holmBonferroni([0.01, 0.04, 0.03, 0.005, 0.55, 0.6]), [0.05, 0.12, 0.12, 0.03, 1, 1], 'holm');
    assertClose(holmBonferroni([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02], 'notes');
    assertClose(holmBonferroni([0.025, 0.03]), [0.05, 0.05], 'results');
  });
  it('Benjamini–Hochberg', () => {
    assertClose(
      benjaminiHochberg([0.898, 0.138, 0.007, 0.964, 0.538, 0.006, 0.138]),
      [0.964, 0.2415, 0.0245, 0.964, 0.7532, 0.0245, 0.2415],
      'bh',
    );
    assertClose(benjaminiHochberg([0.01, 0.04, 0.03, 0.005]), [0.02, 0.04, 0.04, 0.02], 'notes');
    assertClose(benjaminiHochberg([0.025, 0.03]), [0.03, 0.03], 'results');
  });
});
