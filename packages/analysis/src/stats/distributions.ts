// Thin, named wrappers over @stdlib's per-distribution functions, so the rest of the engine reads like the formulas
// it implements and every distribution call goes through one place.
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import normalPdf from '@stdlib/stats-base-dists-normal-pdf';
import gammainc from '@stdlib/math-base-special-gammainc';

/** P(T ≤ x) for Student's t with `degreesOfFreedom` (may be fractional, as Welch's is; Infinity means normal). */
export function studentTCdf(x: number, degreesOfFreedom: number): number {
  if (degreesOfFreedom === Infinity) return normalCdf(x, 0, 1);
  return tCdf(x, degreesOfFreedom);
}

/** The p-quantile of Student's t with `degreesOfFreedom`. */
export function studentTQuantile(p: number, degreesOfFreedom: number): number {
  if (degreesOfFreedom === Infinity) return normalQuantile(p, 0, 1);
  return tQuantile(p, degreesOfFreedom);
}

/** Φ(x): the standard normal CDF. */
export function standardNormalCdf(x: number): number {
  return normalCdf(x, 0, 1);
}

/** φ(x): the standard normal density. */
export function standardNormalPdf(x: number): number {
  return normalPdf(x, 0, 1);
}

/** The p-quantile of N(mean, stdDev²). */
export function normalQuantileOf(p: number, mean: number, stdDev: number): number {
  return normalQuantile(p, mean, stdDev);
}

/**
 * P(X ≥ x) for chi-square with `degreesOfFreedom`: the regularized upper incomplete gamma Q(k/2, x/2), computed
 * directly (not 1 − CDF) so that the tiny p-values of a strong sample-ratio mismatch keep their precision.
 */
export function chiSquareSurvival(x: number, degreesOfFreedom: number): number {
  if (!(x > 0)) return x === 0 || x < 0 ? 1 : NaN;
  if (degreesOfFreedom <= 0) return 0;
  return gammainc(x / 2, degreesOfFreedom / 2, true, true);
}
