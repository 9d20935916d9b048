// Sequential testing with asymptotic confidence sequences (Waudby-Smith et al., arXiv 2103.06476v7), as gbstats
// implements them: intervals and p-values that stay valid however often the results are looked at.
import { NUMERICAL_PVALUE_NOT_CONVERGED } from './errors.js';

/** N*: the total sample size (both arms) at which the sequence is tightest. GrowthBook's default. */
export const DEFAULT_SEQUENTIAL_TUNING = 5000;

/** ρ for the tuning N* (paper eq. 161); a one-sided test spends 2α. */
export function sequentialRho(alpha: number, tuning: number, twoSided: boolean): number {
  const a = twoSided ? alpha : 2 * alpha;
  return Math.sqrt((-2 * Math.log(a) + Math.log(-2 * Math.log(a) + 1)) / tuning);
}

/** Two-sided half-width at total sample size n, with s² = n·se² (eq. 9). */
export function sequentialTwoSidedHalfWidth(s2: number, n: number, alpha: number, rho: number): number {
  const nRho2 = n * rho ** 2;
  return Math.sqrt(s2) * Math.sqrt((2 * (nRho2 + 1) * Math.log(Math.sqrt(nRho2 + 1) / alpha)) / (n * rho) ** 2);
}

/** One-sided half-width (eq. 134). */
export function sequentialOneSidedHalfWidth(s2: number, n: number, alpha: number, rho: number): number {
  const nRho2 = n * rho ** 2;
  return Math.sqrt(s2 * ((2 * (nRho2 + 1)) / (n * rho) ** 2) * Math.log(1 + Math.sqrt(nRho2 + 1) / (2 * alpha)));
}

/** Two-sided p-value: the reciprocal of the e-value (eq. 155), capped at 1. */
export function sequentialTwoSidedPValue(estimate: number, stdError: number, n: number, rho: number): number {
  const st2 = (estimate ** 2 * n) / stdError ** 2;
  const nRho2PlusOne = n * rho ** 2 + 1;
  const eValue = Math.exp((rho ** 2 * st2) / (2 * nRho2PlusOne)) / Math.sqrt(nRho2PlusOne);
  return Math.min(1 / eValue, 1);
}

const MIN_ALPHA = 1e-5;
const MAX_ALPHA = 0.4999;
const TOLERANCE = 1e-6;
const MAX_ITERATIONS = 100;

/**
 * One-sided p-value: the α at which the one-sided bound crosses 0, found by gbstats' bisection over [1e-5, 0.4999]
 * (tolerance 1e-6, at most 100 steps, ρ kept from the test's own α). Clamped at either end; an error code when the
 * search does not converge.
 */
export function sequentialOneSidedPValue(
  estimate: number,
  s2: number,
  n: number,
  rho: number,
  lesser: boolean,
): { pValue: number | null; error?: typeof NUMERICAL_PVALUE_NOT_CONVERGED } {
  // The bound that matters: the upper one when looking for a lesser treatment, the lower one otherwise.
  const bound = (alpha: number) => {
    const halfWidth = sequentialOneSidedHalfWidth(s2, n, alpha, rho);
    return lesser ? estimate + halfWidth : estimate - halfWidth;
  };
  let low = MIN_ALPHA;
  let high = MAX_ALPHA;
  // Smaller α, wider interval: if even the widest interval excludes 0 the p-value is at the floor; if even the
  // narrowest includes it, at the ceiling.
  const widest = bound(low);
  if (lesser ? widest < 0 : widest > 0) return { pValue: MIN_ALPHA };
  const narrowest = bound(high);
  if (lesser ? narrowest > 0 : narrowest < 0) return { pValue: MAX_ALPHA };
  let alpha = 0.5 * (low + high);
  let diff = 0;
  for (let i = 0; i < MAX_ITERATIONS; i++) {
    diff = bound(alpha);
    if (lesser ? diff > 0 : diff < 0) low = alpha;
    else high = alpha;
    alpha = 0.5 * (low + high);
    if (Math.abs(diff) < TOLERANCE) break;
  }
  if (Math.abs(diff) < TOLERANCE) return { pValue: alpha };
  return { pValue: null, error: NUMERICAL_PVALUE_NOT_CONVERGED };
}
