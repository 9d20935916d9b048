// CUPED (regression adjustment with a pre-exposure covariate), as gbstats fits it: one θ per comparison, from both
// arms pooled, so that control and treatment are adjusted by the same amount.
import {
  baseVariance,
  covariance,
  proportion,
  quadraticForm,
  ratio,
  ratioCupedCovariance,
  ratioCupedGradient,
  sampleMean,
  type ArmStatistic,
  type BaseStatistic,
  type RegressionAdjustedRatioStatistic,
  type RegressionAdjustedStatistic,
} from './statistics.js';

function pooled(a: BaseStatistic, b: BaseStatistic, n: number): BaseStatistic {
  if (a.kind === 'proportion' && b.kind === 'proportion') return proportion(n, a.sum + b.sum);
  if (a.kind === 'sampleMean' && b.kind === 'sampleMean') return sampleMean(n, a.sum + b.sum, a.sumSquares + b.sumSquares);
  throw new TypeError('a metric must have the same kind (binomial or mean) in every variation');
}

/** θ = Cov(Y, X) / Var(X) over both arms pooled; 0 when either pooled variance is 0 (nothing to adjust with). */
export function cupedTheta(a: RegressionAdjustedStatistic, b: RegressionAdjustedStatistic): number {
  const n = a.n + b.n;
  const post = pooled(a.post, b.post, n);
  const pre = pooled(a.pre, b.pre, n);
  const preVariance = baseVariance(pre);
  if (preVariance === 0 || baseVariance(post) === 0) return 0;
  return covariance(n, post, pre, a.sumOfProducts + b.sumOfProducts) / preVariance;
}

/** Var and Cov terms of the pre-exposure ratio part, with θ = 1 so the gradient does not depend on θ. */
function preRatioMoments(stat: RegressionAdjustedRatioStatistic): { variance: number; covariance: number } {
  const gradient = ratioCupedGradient(stat, 1);
  const lambda = ratioCupedCovariance(stat);
  const pre = gradient.slice(2);
  return {
    variance: quadraticForm(pre, lambda, pre, [2, 3]),
    covariance: quadraticForm(pre, lambda, gradient.slice(0, 2), [2, 3], [0, 1]),
  };
}

/** θ for ratio CUPED: −(Cov_A + Cov_B) / (Var_A + Var_B) of the pre-exposure ratio; 0 when that has no variance. */
export function ratioCupedTheta(a: RegressionAdjustedRatioStatistic, b: RegressionAdjustedRatioStatistic): number {
  const momentsA = preRatioMoments(a);
  const momentsB = preRatioMoments(b);
  if (momentsA.variance + momentsB.variance === 0) return 0;
  return -(momentsA.covariance + momentsB.covariance) / (momentsA.variance + momentsB.variance);
}

function postRatio(stat: RegressionAdjustedRatioStatistic) {
  return ratio(stat.n, stat.numeratorPost, stat.denominatorPost, stat.sumsOfProducts.numeratorPostDenominatorPost);
}

/**
 * Fits θ for a control/treatment pair of CUPED statistics and returns both with θ set; when θ is 0 the pair falls
 * back to the unadjusted post-period statistics. Other statistics pass through unchanged.
 */
export function withCupedTheta(a: ArmStatistic, b: ArmStatistic): [ArmStatistic, ArmStatistic] {
  if (a.kind === 'regressionAdjustedRatio' && b.kind === 'regressionAdjustedRatio' && (a.theta === null || b.theta === null)) {
    const theta = ratioCupedTheta(a, b);
    if (Math.abs(theta) < 1e-8) return [postRatio(a), postRatio(b)];
    return [{ ...a, theta }, { ...b, theta }];
  }
  if (a.kind !== 'regressionAdjusted' || b.kind !== 'regressionAdjusted') return [a, b];
  if (a.theta !== null && b.theta !== null) return [a, b];
  const theta = cupedTheta(a, b);
  if (theta === 0) return [a.post, b.post];
  return [{ ...a, theta }, { ...b, theta }];
}
