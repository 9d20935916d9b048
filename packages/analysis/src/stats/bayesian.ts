// GrowthBook's Bayesian engine (gbstats EffectBayesianABTest): a Gaussian posterior on the effect, from a flat
// (improper) prior or a proper Gaussian prior on the relative effect.
import { withCupedTheta } from './cuped.js';
import { estimateEffect, type Difference } from './effect.js';
import { normalQuantileOf, standardNormalCdf, standardNormalPdf } from './distributions.js';
import { ZERO_NEGATIVE_BASELINE_VARIATION, type ComparisonErrorCode } from './errors.js';
import { unadjustedMeanOf, type ArmStatistic } from './statistics.js';

export interface GaussianPrior {
  /** Prior mean of the relative effect (0 = no expected change). */
  readonly mean: number;
  /** Prior standard deviation of the relative effect (GrowthBook's app default is 0.3). */
  readonly stdDev: number;
}

export interface BayesianOptions {
  readonly difference?: Difference;
  /** The credible interval is 1 − alpha. Default 0.05. */
  readonly alpha?: number;
  /** Lower is better (errors, latency): chance to win and risk are taken the other way round. */
  readonly inverse?: boolean;
  /** A proper prior on the relative effect; absent = flat. Rescaled by |control mean| for absolute differences. */
  readonly prior?: GaussianPrior;
}

export interface BayesianResult {
  /** Posterior mean of the effect. */
  readonly expected: number;
  /** Posterior standard deviation (the data's standard error under a flat prior). */
  readonly stdError: number;
  readonly ci: readonly [number, number];
  /** P(treatment is better). */
  readonly chanceToWin: number;
  /** [expected loss if the control is chosen, expected loss if the treatment is chosen]. */
  readonly risk: readonly [number, number];
  readonly error?: ComparisonErrorCode;
}

function defaultResult(error: ComparisonErrorCode): BayesianResult {
  return { expected: 0, stdError: 0, ci: [0, 0], chanceToWin: 0.5, risk: [0, 0], error };
}

/** E[X | X > 0] for X ~ N(mu, sigma²). */
function meanAboveZero(mu: number, sigma: number): number {
  const lower = -mu / sigma;
  return mu + (sigma * standardNormalPdf(lower)) / standardNormalCdf(-lower);
}

/** E[X | X < 0] for X ~ N(mu, sigma²). */
function meanBelowZero(mu: number, sigma: number): number {
  const upper = -mu / sigma;
  return mu - (sigma * standardNormalPdf(upper)) / standardNormalCdf(upper);
}

/**
 * Expected loss of each choice under the posterior N(mu, sigma²): [choosing control, choosing treatment]. Beyond
 * 37 standard deviations one side's probability is exactly 0 in double precision, so the limit is returned.
 */
export function risks(mu: number, sigma: number): [number, number] {
  if (sigma > 0 && Math.abs(mu / sigma) > 37) return [Math.max(mu, 0), Math.max(-mu, 0)];
  const controlIsBetter = standardNormalCdf((0 - mu) / sigma);
  const riskControl = (1 - controlIsBetter) * meanAboveZero(mu, sigma);
  const riskTreatment = -(controlIsBetter * meanBelowZero(mu, sigma));
  return [riskControl, riskTreatment];
}

export function bayesianTest(control: ArmStatistic, treatment: ArmStatistic, options: BayesianOptions = {}): BayesianResult {
  const difference = options.difference ?? 'relative';
  const alpha = options.alpha ?? 0.05;
  const inverse = options.inverse ?? false;
  const [a, b] = withCupedTheta(control, treatment);
  const effect = estimateEffect(a, b, difference);
  if (effect.error) return defaultResult(effect.error);

  let prior: { mean: number; variance: number } | undefined = options.prior
    ? { mean: options.prior.mean, variance: options.prior.stdDev ** 2 }
    : undefined;
  if (prior && difference === 'absolute') {
    // The prior is on the relative effect: bring it to the absolute scale of this metric.
    const controlMean = unadjustedMeanOf(a);
    if (controlMean === 0) return defaultResult(ZERO_NEGATIVE_BASELINE_VARIATION);
    prior = { mean: prior.mean * Math.abs(controlMean), variance: prior.variance * controlMean ** 2 };
  }

  const dataVariance = effect.stdError ** 2;
  let precision: number;
  let mean: number;
  if (dataVariance) {
    precision = 1 / dataVariance + (prior ? 1 / prior.variance : 0);
    mean = prior ? (effect.estimate / dataVariance + prior.mean / prior.variance) / precision : effect.estimate;
  } else {
    precision = prior ? 1 / prior.variance : 0;
    mean = prior ? prior.mean : 0;
  }
  if (precision === 0) return defaultResult(ZERO_NEGATIVE_BASELINE_VARIATION);
  const sd = Math.sqrt(1 / precision);

  const treatmentIsBetter = standardNormalCdf(mean / sd);
  const chanceToWin = inverse ? 1 - treatmentIsBetter : treatmentIsBetter;
  const ci: [number, number] = [normalQuantileOf(alpha / 2, mean, sd), normalQuantileOf(1 - alpha / 2, mean, sd)];
  const [riskControl, riskTreatment] = risks(mean, sd);
  return { expected: mean, stdError: sd, ci, chanceToWin, risk: inverse ? [riskTreatment, riskControl] : [riskControl, riskTreatment] };
}
