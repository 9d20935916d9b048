// Frequentist tests of a treatment against the control (gbstats frequentist/tests.py): Welch's t-test, two- or
// one-sided, and the sequential variant (sequential.ts) that stays valid when results are checked repeatedly.
import { withCupedTheta } from './cuped.js';
import { estimateEffect, type Difference, type EffectEstimate } from './effect.js';
import { studentTCdf, studentTQuantile } from './distributions.js';
import { ALPHA_GREATER_THAN_HALF_FOR_SEQUENTIAL_ONE_SIDED_TEST, type ComparisonErrorCode } from './errors.js';
import { varianceOf, type ArmStatistic } from './statistics.js';
import {
  DEFAULT_SEQUENTIAL_TUNING,
  sequentialOneSidedPValue,
  sequentialRho,
  sequentialTwoSidedHalfWidth,
  sequentialOneSidedHalfWidth,
  sequentialTwoSidedPValue,
} from './sequential.js';

/**
 * Which alternative the test looks for. `two-sided`: any difference. `greater`: the treatment is higher (p = P(T ≥ t),
 * interval [low, +∞)). `lesser`: the treatment is lower (p = P(T ≤ t), interval (−∞, high]).
 */
export type Sides = 'two-sided' | 'greater' | 'lesser';

export interface FrequentistOptions {
  readonly difference?: Difference;
  /** Significance level; the interval is 1 − alpha. Default 0.05. */
  readonly alpha?: number;
  readonly sides?: Sides;
  /** Present: a Waudby-Smith confidence sequence with this tuning N* (default 5000) instead of a fixed-horizon test. */
  readonly sequential?: { readonly tuning?: number };
}

export interface FrequentistResult {
  /** The effect (relative uplift or absolute difference); 0 for a degenerate comparison. */
  readonly expected: number;
  readonly stdError: number;
  /** [low, high]; an open side of a one-sided interval is ±Infinity. */
  readonly ci: readonly [number, number];
  /** null only when the sequential one-sided p-value search does not converge. */
  readonly pValue: number | null;
  readonly error?: ComparisonErrorCode;
}

function defaultResult(error: ComparisonErrorCode): FrequentistResult {
  return { expected: 0, stdError: 0, ci: [0, 0], pValue: 1, error };
}

/** Welch–Satterthwaite degrees of freedom, from the per-unit arm variances (absolute scale even for relative effects). */
export function welchDegreesOfFreedom(a: ArmStatistic, b: ArmStatistic): number {
  const varianceA = varianceOf(a);
  const varianceB = varianceOf(b);
  return (
    (varianceB / b.n + varianceA / a.n) ** 2 /
    (varianceB ** 2 / (b.n ** 2 * (b.n - 1)) + varianceA ** 2 / (a.n ** 2 * (a.n - 1)))
  );
}

function fixedHorizon(a: ArmStatistic, b: ArmStatistic, effect: EffectEstimate, alpha: number, sides: Sides): FrequentistResult {
  const dof = welchDegreesOfFreedom(a, b);
  const { estimate, stdError } = effect;
  const t = estimate / stdError;
  if (sides === 'two-sided') {
    const halfWidth = studentTQuantile(1 - alpha / 2, dof) * stdError;
    // 2·(1 − F) rather than 2·sf, as gbstats computes it, so that tiny p-values round the same way.
    return { expected: estimate, stdError, ci: [estimate - halfWidth, estimate + halfWidth], pValue: 2 * (1 - studentTCdf(Math.abs(t), dof)) };
  }
  const halfWidth = studentTQuantile(1 - alpha, dof) * stdError;
  if (sides === 'greater') return { expected: estimate, stdError, ci: [estimate - halfWidth, Infinity], pValue: 1 - studentTCdf(t, dof) };
  return { expected: estimate, stdError, ci: [-Infinity, estimate + halfWidth], pValue: studentTCdf(t, dof) };
}

function sequential(a: ArmStatistic, b: ArmStatistic, effect: EffectEstimate, alpha: number, sides: Sides, tuning: number): FrequentistResult {
  const n = a.n + b.n;
  const { estimate, stdError } = effect;
  const s2 = stdError ** 2 * n;
  if (sides === 'two-sided') {
    const rho = sequentialRho(alpha, tuning, true);
    const halfWidth = sequentialTwoSidedHalfWidth(s2, n, alpha, rho);
    return { expected: estimate, stdError, ci: [estimate - halfWidth, estimate + halfWidth], pValue: sequentialTwoSidedPValue(estimate, stdError, n, rho) };
  }
  const rho = sequentialRho(alpha, tuning, false);
  const halfWidth = sequentialOneSidedHalfWidth(s2, n, alpha, rho);
  const ci: [number, number] = sides === 'greater' ? [estimate - halfWidth, Infinity] : [-Infinity, estimate + halfWidth];
  const p = sequentialOneSidedPValue(estimate, s2, n, rho, sides === 'lesser');
  return p.error ? { expected: estimate, stdError, ci, pValue: null, error: p.error } : { expected: estimate, stdError, ci, pValue: p.pValue };
}

/**
 * Tests `treatment` against `control`. CUPED statistics get their θ fitted on both arms first. Degenerate comparisons
 * return gbstats' defaults (expected 0, ci [0, 0], p 1) with its error code.
 */
export function frequentistTest(control: ArmStatistic, treatment: ArmStatistic, options: FrequentistOptions = {}): FrequentistResult {
  const difference = options.difference ?? 'relative';
  const alpha = options.alpha ?? 0.05;
  const sides = options.sides ?? 'two-sided';
  const [a, b] = withCupedTheta(control, treatment);
  const effect = estimateEffect(a, b, difference);
  if (effect.error) return defaultResult(effect.error);
  if (!options.sequential) return fixedHorizon(a, b, effect, alpha, sides);
  if (sides !== 'two-sided' && alpha >= 0.5) return defaultResult(ALPHA_GREATER_THAN_HALF_FOR_SEQUENTIAL_ONE_SIDED_TEST);
  return sequential(a, b, effect, alpha, sides, options.sequential.tuning ?? DEFAULT_SEQUENTIAL_TUNING);
}
