// Sample ratio mismatch: are the units split the way the traffic was allocated? (gbstats check_srm)
import { chiSquareSurvival } from './distributions.js';

/** GrowthBook, Eppo and Statsig all alarm below this p-value: the check is re-run on every refresh. */
export const SRM_P_VALUE_THRESHOLD = 0.001;

/**
 * Pearson's chi-square goodness-of-fit p-value of the observed `units` per variation against the expected split
 * `weights` (default equal). Arms with weight 0 add nothing to χ² but still count in the degrees of freedom, as in
 * gbstats. 1 when no unit was seen (and for a single variation: nothing to compare).
 */
export function sampleRatioMismatchPValue(units: readonly number[], weights?: readonly number[]): number {
  const total = units.reduce((sum, n) => sum + n, 0);
  if (!total || units.length < 2) return 1;
  const w = weights ?? units.map(() => 1);
  const totalWeight = w.reduce((sum, x) => sum + x, 0);
  let chiSquare = 0;
  units.forEach((observed, i) => {
    const weight = w[i] ?? 0;
    if (weight <= 0) return;
    const expected = (weight / totalWeight) * total;
    chiSquare += (observed - expected) ** 2 / expected;
  });
  return chiSquareSurvival(chiSquare, units.length - 1);
}

export function isSampleRatioMismatch(pValue: number): boolean {
  return pValue < SRM_P_VALUE_THRESHOLD;
}
