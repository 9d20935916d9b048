// Cases computed independently of gbstats' code path: from raw per-unit data with textbook formulas, from closed forms,
// from identities, and by simulation with a seeded generator.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  bayesianTest,
  cupedTheta,
  frequentistTest,
  meanOf,
  proportion,
  ratio,
  regressionAdjusted,
  sampleMean,
  sampleRatioMismatchPValue,
  varianceOf,
  withCupedTheta,
  type ArmStatistic,
} from '../src/index.ts';
import { meanAndVariance, normalDraws, seededRandom, sum } from './helpers.ts';

function close(actual: number, expected: number, what: string, relative = 1e-9) {
  assert.ok(Math.abs(actual - expected) <= relative * Math.max(Math.abs(expected), 1e-300), `${what}: expected ${expected}, got ${actual}`);
}

function summarise(values: readonly number[]) {
  return sampleMean(values.length, sum(values), sum(values.map((x) => x * x)));
}

describe('from raw per-unit data', () => {
  const gaussian = normalDraws(seededRandom(7));
  const control = Array.from({ length: 800 }, () => 20 + 4 * gaussian());
  const treatment = Array.from({ length: 900 }, () => 21 + 5 * gaussian());

  it('mean and variance from sums equal the two-pass sample moments', () => {
    const direct = meanAndVariance(control);
    const stat = summarise(control);
    close(meanOf(stat), direct.mean, 'mean');
    close(varianceOf(stat), direct.variance, 'variance', 1e-8);
  });

  it('absolute effect: difference of means with the unpooled standard error', () => {
    const a = meanAndVariance(control);
    const b = meanAndVariance(treatment);
    const r = frequentistTest(summarise(control), summarise(treatment), { difference: 'absolute' });
    close(r.expected, b.mean - a.mean, 'difference', 1e-9);
    close(r.stdError, Math.sqrt(a.variance / control.length + b.variance / treatment.length), 'standard error', 1e-8);
  });

  it('relative effect: delta-method standard error of (B − A)/A', () => {
    const a = meanAndVariance(control);
    const b = meanAndVariance(treatment);
    const r = frequentistTest(summarise(control), summarise(treatment));
    close(r.expected, (b.mean - a.mean) / a.mean, 'uplift');
    const variance = b.variance / treatment.length / a.mean ** 2 + ((a.variance / control.length) * b.mean ** 2) / a.mean ** 4;
    close(r.stdError, Math.sqrt(variance), 'standard error', 1e-8);
  });

  it('the p-value and the interval agree: at alpha = p the interval just touches 0', () => {
    const r = frequentistTest(summarise(control), summarise(treatment), { difference: 'absolute' });
    assert.ok(r.pValue !== null && r.pValue > 1e-10 && r.pValue < 1);
    const atP = frequentistTest(summarise(control), summarise(treatment), { difference: 'absolute', alpha: r.pValue });
    const nearest = Math.min(Math.abs(atP.ci[0]), Math.abs(atP.ci[1]));
    assert.ok(nearest < 1e-9 * r.stdError + 1e-12, `bound nearest 0 is ${nearest}`);
  });

  it('ratio metric: the delta-method variance equals the variance of the linearised unit values', () => {
    const random = seededRandom(11);
    const sessions = Array.from({ length: 500 }, () => 1 + Math.floor(random() * 6));
    const clicks = sessions.map((s) => Math.floor(s * random() * 3));
    const n = sessions.length;
    const stat = ratio(
      n,
      sampleMean(n, sum(clicks), sum(clicks.map((x) => x * x))),
      sampleMean(n, sum(sessions), sum(sessions.map((x) => x * x))),
      sum(clicks.map((c, i) => c * sessions[i]!)),
    );
    const r = sum(clicks) / sum(sessions);
    const meanSessions = sum(sessions) / n;
    close(meanOf(stat), r, 'ratio');
    const linearised = clicks.map((c, i) => (c - r * sessions[i]!) / meanSessions);
    close(varianceOf(stat), meanAndVariance(linearised).variance, 'variance', 1e-8);
  });

  it('CUPED: θ is the pooled least-squares slope, and each arm is adjusted by Y − θX', () => {
    const random = normalDraws(seededRandom(5));
    const makeArm = (n: number, lift: number) => {
      const pre = Array.from({ length: n }, () => 10 + 3 * random());
      const post = pre.map((x) => 2 + 0.7 * x + lift + random());
      return { pre, post };
    };
    const armA = makeArm(600, 0);
    const armB = makeArm(650, 0.3);
    const stat = (arm: { pre: number[]; post: number[] }) =>
      regressionAdjusted(arm.pre.length, summarise(arm.post), summarise(arm.pre), sum(arm.post.map((y, i) => y * arm.pre[i]!)));
    const pooledPre = [...armA.pre, ...armB.pre];
    const pooledPost = [...armA.post, ...armB.post];
    const xBar = sum(pooledPre) / pooledPre.length;
    const yBar = sum(pooledPost) / pooledPost.length;
    const slope = sum(pooledPre.map((x, i) => (x - xBar) * (pooledPost[i]! - yBar))) / sum(pooledPre.map((x) => (x - xBar) ** 2));
    close(cupedTheta(stat(armA), stat(armB)), slope, 'theta', 1e-8);
    const [a] = withCupedTheta(stat(armA), stat(armB)) as [ArmStatistic, ArmStatistic];
    const adjusted = armA.post.map((y, i) => y - slope * armA.pre[i]!);
    const direct = meanAndVariance(adjusted);
    close(meanOf(a), direct.mean, 'adjusted mean', 1e-8);
    close(varianceOf(a), direct.variance, 'adjusted variance', 1e-6);
    // The point of CUPED: a much tighter interval than without the covariate.
    const plain = frequentistTest(summarise(armA.post), summarise(armB.post), { difference: 'absolute' });
    const cuped = frequentistTest(stat(armA), stat(armB), { difference: 'absolute' });
    assert.ok(cuped.stdError < plain.stdError / 2, `CUPED ${cuped.stdError} vs plain ${plain.stdError}`);
  });
});

describe('closed forms', () => {
  it('SRM with 2 arms: chi-square with 1 degree of freedom is a squared normal', () => {
    const units = [4900, 5150];
    const expected = sum(units) / 2;
    const chiSquare = sum(units.map((o) => (o - expected) ** 2 / expected));
    // P(χ²₁ > x) = P(|Z| > √x) = erfc(√(x/2)), with erfc from Numerical Recipes' Chebyshev fit (relative error < 1.2e-7).
    const z = Math.sqrt(chiSquare);
    const t = 1 / (1 + 0.5 * z / Math.SQRT2);
    const erfc =
      t * Math.exp(-(z * z) / 2 - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
    assert.ok(Math.abs(sampleRatioMismatchPValue(units) - erfc) < 1e-7, `${sampleRatioMismatchPValue(units)} vs ${erfc}`);
  });
  it('SRM with 3 arms: chi-square with 2 degrees of freedom has survival exp(−x/2)', () => {
    const units = [1000, 1080, 950];
    const expected = sum(units) / 3;
    const chiSquare = sum(units.map((o) => (o - expected) ** 2 / expected));
    close(sampleRatioMismatchPValue(units), Math.exp(-chiSquare / 2), 'p', 1e-10);
  });
  it('SRM against unequal weights', () => {
    const units = [9050, 950, 1000];
    const weights = [80, 10, 10];
    const total = sum(units);
    const chiSquare = sum(units.map((o, i) => (o - (weights[i]! / 100) * total) ** 2 / ((weights[i]! / 100) * total)));
    close(sampleRatioMismatchPValue(units, weights), Math.exp(-chiSquare / 2), 'p', 1e-10);
  });
  it('Bayesian proper prior: the precision-weighted average of data and prior', () => {
    const a = proportion(4000, 400);
    const b = proportion(4000, 452);
    const flat = bayesianTest(a, b);
    const prior = { mean: 0.02, stdDev: 0.05 };
    const r = bayesianTest(a, b, { prior });
    const precision = 1 / flat.stdError ** 2 + 1 / prior.stdDev ** 2;
    close(r.stdError, Math.sqrt(1 / precision), 'posterior sd');
    close(r.expected, (flat.expected / flat.stdError ** 2 + prior.mean / prior.stdDev ** 2) / precision, 'posterior mean');
    // Shrinkage: the posterior sits between the prior mean and the data.
    assert.ok(r.expected < flat.expected && r.expected > prior.mean);
  });
  it('Bayesian risk: E[max(X, 0)] − E[max(−X, 0)] = E[X], and a Monte Carlo estimate agrees', () => {
    const r = bayesianTest(sampleMean(400, 4000, 41000), sampleMean(420, 4300, 45500));
    close(r.risk[0] - r.risk[1], r.expected, 'identity', 1e-9);
    const draw = normalDraws(seededRandom(3));
    let lossControl = 0;
    let lossTreatment = 0;
    const draws = 400_000;
    for (let i = 0; i < draws; i++) {
      const x = r.expected + r.stdError * draw();
      if (x > 0) lossControl += x;
      else lossTreatment -= x;
    }
    assert.ok(Math.abs(lossControl / draws - r.risk[0]) < 4e-4, `${lossControl / draws} vs ${r.risk[0]}`);
    assert.ok(Math.abs(lossTreatment / draws - r.risk[1]) < 4e-4, `${lossTreatment / draws} vs ${r.risk[1]}`);
  });
  it('inverse metrics: chance to win and risk are taken the other way round', () => {
    const a = proportion(5000, 300);
    const b = proportion(5000, 340);
    const normal = bayesianTest(a, b);
    const inverse = bayesianTest(a, b, { inverse: true });
    close(inverse.chanceToWin, 1 - normal.chanceToWin, 'chance to win');
    assert.deepEqual(inverse.risk, [normal.risk[1], normal.risk[0]]);
  });
});

describe('simulation: error rates and power (seeded)', () => {
  // Binomial arms of `n` units per batch with conversion `rate`; returns the running sums after each batch.
  function simulate(seed: number, batches: number, n: number, rateA: number, rateB: number) {
    const random = seededRandom(seed);
    let unitsA = 0;
    let unitsB = 0;
    let convA = 0;
    let convB = 0;
    const looks: Array<[ArmStatistic, ArmStatistic]> = [];
    for (let batch = 0; batch < batches; batch++) {
      for (let i = 0; i < n; i++) {
        if (random() < rateA) convA++;
        if (random() < rateB) convB++;
      }
      unitsA += n;
      unitsB += n;
      looks.push([proportion(unitsA, convA), proportion(unitsB, convB)]);
    }
    return looks;
  }

  it('A/A, fixed horizon, one look: rejects at about 5% (α = 0.05) over 400 seeds', () => {
    let rejections = 0;
    const seeds = 400;
    for (let seed = 1; seed <= seeds; seed++) {
      const [a, b] = simulate(seed, 1, 2000, 0.2, 0.2).at(-1)!;
      if ((frequentistTest(a, b).pValue ?? 1) < 0.05) rejections++;
    }
    // 5% of 400 = 20, binomial sd ≈ 4.4: allow ±3 sd.
    assert.ok(rejections >= 7 && rejections <= 33, `${rejections} rejections out of ${seeds}`);
  });

  it('A/A, checked after every batch: the sequential test stays at or below α, peeking at a fixed-horizon test does not', () => {
    let sequentialRejections = 0;
    let peekingRejections = 0;
    const seeds = 200;
    for (let seed = 1; seed <= seeds; seed++) {
      const looks = simulate(1000 + seed, 20, 250, 0.3, 0.3);
      if (looks.some(([a, b]) => (frequentistTest(a, b, { sequential: {} }).pValue ?? 1) < 0.05)) sequentialRejections++;
      if (looks.some(([a, b]) => (frequentistTest(a, b).pValue ?? 1) < 0.05)) peekingRejections++;
    }
    // Nominal 10 of 200; allow binomial noise above it (sd ≈ 3).
    assert.ok(sequentialRejections <= 19, `sequential: ${sequentialRejections} of ${seeds}`);
    assert.ok(peekingRejections > sequentialRejections + 10, `peeking ${peekingRejections} vs sequential ${sequentialRejections}`);
  });

  it('a true 5% uplift on a 50% conversion rate with 20,000 units per arm is detected', () => {
    let detected = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const [a, b] = simulate(5000 + seed, 1, 20_000, 0.5, 0.525).at(-1)!;
      const r = frequentistTest(a, b);
      if ((r.pValue ?? 1) < 0.05 && r.ci[0] > 0) detected++;
    }
    // Power is above 99.9% here.
    assert.ok(detected >= 19, `${detected} of 20 detected`);
  });

  it('a 52/48 split is flagged as a sample ratio mismatch; an even one is not', () => {
    assert.ok(sampleRatioMismatchPValue([10_400, 9_600]) < 0.001);
    assert.ok(sampleRatioMismatchPValue([10_030, 9_970]) > 0.001);
  });
});
