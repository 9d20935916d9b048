// Per-arm sufficient statistics and their moments, as gbstats defines them (models/statistics.py). Everything
// downstream (effects, tests) only needs `mean`, `unadjustedMean`, `variance` and `n` of these.

/** A 0/1 metric: `sum` units converted out of `n`. Variance p(1 − p), without the n − 1 correction (gbstats). */
export interface ProportionStatistic {
  readonly kind: 'proportion';
  readonly n: number;
  readonly sum: number;
}

/** A metric with a value per unit: the sum and sum of squares of the per-unit values over `n` units. */
export interface SampleMeanStatistic {
  readonly kind: 'sampleMean';
  readonly n: number;
  readonly sum: number;
  readonly sumSquares: number;
}

export type BaseStatistic = ProportionStatistic | SampleMeanStatistic;

/** A ratio metric ΣM / ΣD over `n` units, with the per-unit cross sum Σ(M·D) for the delta method. */
export interface RatioStatistic {
  readonly kind: 'ratio';
  readonly n: number;
  readonly numerator: BaseStatistic;
  readonly denominator: BaseStatistic;
  readonly sumOfProducts: number;
}

/**
 * CUPED: the post-exposure metric regression-adjusted by a pre-exposure covariate, Ȳ − θ·X̄. `theta` is null until
 * it is fitted on both arms of a comparison (see cuped.ts).
 */
export interface RegressionAdjustedStatistic {
  readonly kind: 'regressionAdjusted';
  readonly n: number;
  readonly post: BaseStatistic;
  readonly pre: BaseStatistic;
  readonly sumOfProducts: number;
  readonly theta: number | null;
}

/**
 * CUPED for a ratio metric: numerator and denominator after exposure (M, D) and before it (M₀, D₀), with the six cross
 * sums, adjusted as M/D − θ·M₀/D₀ by the delta method over their 4×4 covariance (gbstats
 * RegressionAdjustedRatioStatistic).
 */
export interface RegressionAdjustedRatioStatistic {
  readonly kind: 'regressionAdjustedRatio';
  readonly n: number;
  readonly numeratorPost: BaseStatistic;
  readonly denominatorPost: BaseStatistic;
  readonly numeratorPre: BaseStatistic;
  readonly denominatorPre: BaseStatistic;
  /** Σ M·M₀, Σ D·D₀, Σ M₀·D₀, Σ M·D, Σ M·D₀, Σ M₀·D. */
  readonly sumsOfProducts: {
    readonly numeratorPostNumeratorPre: number;
    readonly denominatorPostDenominatorPre: number;
    readonly numeratorPreDenominatorPre: number;
    readonly numeratorPostDenominatorPost: number;
    readonly numeratorPostDenominatorPre: number;
    readonly numeratorPreDenominatorPost: number;
  };
  readonly theta: number | null;
}

export type ArmStatistic = BaseStatistic | RatioStatistic | RegressionAdjustedStatistic | RegressionAdjustedRatioStatistic;

export function proportion(n: number, sum: number): ProportionStatistic {
  return { kind: 'proportion', n, sum };
}

export function sampleMean(n: number, sum: number, sumSquares: number): SampleMeanStatistic {
  return { kind: 'sampleMean', n, sum, sumSquares };
}

export function ratio(n: number, numerator: BaseStatistic, denominator: BaseStatistic, sumOfProducts: number): RatioStatistic {
  return { kind: 'ratio', n, numerator, denominator, sumOfProducts };
}

export function regressionAdjusted(
  n: number,
  post: BaseStatistic,
  pre: BaseStatistic,
  sumOfProducts: number,
  theta: number | null = null,
): RegressionAdjustedStatistic {
  if (post.kind !== pre.kind) throw new TypeError('CUPED needs the metric and its covariate to be of the same kind');
  return { kind: 'regressionAdjusted', n, post, pre, sumOfProducts, theta };
}

/** Per-unit mean of a metric part (0 without units). */
export function baseMean(stat: BaseStatistic): number {
  return stat.n === 0 ? 0 : stat.sum / stat.n;
}

/** Per-unit variance of a metric part: p(1 − p) for a proportion, the sample variance (n − 1) otherwise. */
export function baseVariance(stat: BaseStatistic): number {
  if (stat.kind === 'proportion') {
    const p = baseMean(stat);
    return p * (1 - p);
  }
  if (stat.n <= 1) return 0;
  return (stat.sumSquares - (stat.sum * stat.sum) / stat.n) / (stat.n - 1);
}

/** Cov(A, B) per unit from the cross sum; proportions use the population form, like gbstats' compute_covariance. */
export function covariance(n: number, a: BaseStatistic, b: BaseStatistic, sumOfProducts: number): number {
  if (n <= 1) return 0;
  if (a.kind === 'proportion' && b.kind === 'proportion') return sumOfProducts / n - (a.sum * b.sum) / (n * n);
  return (sumOfProducts - (a.sum * b.sum) / n) / (n - 1);
}

/**
 * Var(M/D) by the delta method, given the means and variances of M and D and their covariance; 0 when D's mean is 0
 * (gbstats variance_of_ratios).
 */
export function varianceOfRatio(meanM: number, varM: number, meanD: number, varD: number, covMD: number): number {
  if (meanD === 0) return 0;
  return varM / meanD ** 2 + (varD * meanM ** 2) / meanD ** 4 - (2 * covMD * meanM) / meanD ** 3;
}

export function thetaOf(stat: RegressionAdjustedStatistic | RegressionAdjustedRatioStatistic): number {
  return stat.theta ? stat.theta : 0;
}

/** The point value of the statistic (CUPED: the adjusted mean). */
export function meanOf(stat: ArmStatistic): number {
  switch (stat.kind) {
    case 'proportion':
    case 'sampleMean':
      return baseMean(stat);
    case 'ratio':
      return stat.denominator.sum === 0 ? 0 : stat.numerator.sum / stat.denominator.sum;
    case 'regressionAdjusted':
      return baseMean(stat.post) - thetaOf(stat) * baseMean(stat.pre);
    case 'regressionAdjustedRatio':
      if (stat.denominatorPost.sum === 0 || stat.denominatorPre.sum === 0) return 0;
      return stat.numeratorPost.sum / stat.denominatorPost.sum - thetaOf(stat) * (stat.numeratorPre.sum / stat.denominatorPre.sum);
  }
}

/** The mean without regression adjustment: what a user reads as the variation's value. */
export function unadjustedMeanOf(stat: ArmStatistic): number {
  if (stat.kind === 'regressionAdjusted') return baseMean(stat.post);
  if (stat.kind === 'regressionAdjustedRatio') return stat.denominatorPost.sum === 0 ? 0 : stat.numeratorPost.sum / stat.denominatorPost.sum;
  return meanOf(stat);
}

/** Per-unit variance of the statistic (CUPED: of the adjusted metric). */
export function varianceOf(stat: ArmStatistic): number {
  switch (stat.kind) {
    case 'proportion':
    case 'sampleMean':
      return baseVariance(stat);
    case 'ratio': {
      const meanD = baseMean(stat.denominator);
      if (meanD === 0 || stat.n <= 1) return 0;
      return varianceOfRatio(
        baseMean(stat.numerator),
        baseVariance(stat.numerator),
        meanD,
        baseVariance(stat.denominator),
        covariance(stat.n, stat.numerator, stat.denominator, stat.sumOfProducts),
      );
    }
    case 'regressionAdjusted': {
      if (stat.n <= 1) return 0;
      const theta = thetaOf(stat);
      return baseVariance(stat.post) + theta ** 2 * baseVariance(stat.pre) - 2 * theta * regressionCovariance(stat);
    }
    case 'regressionAdjustedRatio': {
      const gradient = ratioCupedGradient(stat);
      return quadraticForm(gradient, ratioCupedCovariance(stat), gradient);
    }
  }
}

/** Cov(Y, X) between the metric and its covariate, per unit. */
export function regressionCovariance(stat: RegressionAdjustedStatistic): number {
  return covariance(stat.n, stat.post, stat.pre, stat.sumOfProducts);
}

/** The variance without regression adjustment (for display: CUPED shows the post-period metric's spread). */
export function unadjustedVarianceOf(stat: ArmStatistic): number {
  if (stat.kind === 'regressionAdjusted') return baseVariance(stat.post);
  if (stat.kind === 'regressionAdjustedRatio') return varianceOf(ratio(stat.n, stat.numeratorPost, stat.denominatorPost, stat.sumsOfProducts.numeratorPostDenominatorPost));
  return varianceOf(stat);
}

/** The per-unit covariance matrix Λ of (M, D, M₀, D₀). */
export function ratioCupedCovariance(stat: RegressionAdjustedRatioStatistic): number[][] {
  const { n, numeratorPost: m, denominatorPost: d, numeratorPre: m0, denominatorPre: d0, sumsOfProducts: p } = stat;
  const mD = covariance(n, m, d, p.numeratorPostDenominatorPost);
  const mM0 = covariance(n, m, m0, p.numeratorPostNumeratorPre);
  const mD0 = covariance(n, m, d0, p.numeratorPostDenominatorPre);
  const dM0 = covariance(n, d, m0, p.numeratorPreDenominatorPost);
  const dD0 = covariance(n, d, d0, p.denominatorPostDenominatorPre);
  const m0D0 = covariance(n, m0, d0, p.numeratorPreDenominatorPre);
  return [
    [baseVariance(m), mD, mM0, mD0],
    [mD, baseVariance(d), dM0, dD0],
    [mM0, dM0, baseVariance(m0), m0D0],
    [mD0, dD0, m0D0, baseVariance(d0)],
  ];
}

/** ∇ of M/D − θ·M₀/D₀ at the per-unit means; zeros when a denominator mean is 0. */
export function ratioCupedGradient(stat: RegressionAdjustedRatioStatistic, theta = thetaOf(stat)): number[] {
  const [m, d, m0, d0] = [stat.numeratorPost, stat.denominatorPost, stat.numeratorPre, stat.denominatorPre].map(baseMean) as [number, number, number, number];
  if (d === 0 || d0 === 0) return [0, 0, 0, 0];
  return [1 / d, -m / d ** 2, -theta / d0, (theta * m0) / d0 ** 2];
}

/** xᵀ·Λ·y over the index ranges given (all four by default). */
export function quadraticForm(x: readonly number[], matrix: readonly (readonly number[])[], y: readonly number[], rows = [0, 1, 2, 3], columns = rows): number {
  let total = 0;
  rows.forEach((i, a) => columns.forEach((j, b) => (total += x[a]! * matrix[i]![j]! * y[b]!)));
  return total;
}

/** Standard deviation, 0 when the variance is not positive (gbstats Statistic.stddev). */
export function stdDevOf(variance: number): number {
  return variance <= 0 ? 0 : Math.sqrt(variance);
}


export function regressionAdjustedRatio(
  n: number,
  parts: { numeratorPost: BaseStatistic; denominatorPost: BaseStatistic; numeratorPre: BaseStatistic; denominatorPre: BaseStatistic },
  sumsOfProducts: RegressionAdjustedRatioStatistic['sumsOfProducts'],
  theta: number | null = null,
): RegressionAdjustedRatioStatistic {
  if (parts.numeratorPost.kind !== parts.numeratorPre.kind || parts.denominatorPost.kind !== parts.denominatorPre.kind) {
    throw new TypeError('ratio CUPED needs each part and its covariate to be of the same kind');
  }
  return { kind: 'regressionAdjustedRatio', n, ...parts, sumsOfProducts, theta };
}
