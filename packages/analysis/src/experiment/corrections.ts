// Corrections across a family of comparisons, as GrowthBook's results view applies them: every goal metric × every
// treatment variation (guardrail and secondary metrics stay out of the family). Frequentist results only.
import { adjustedInterval, correctPValues, type Correction } from '../stats/corrections.js';
import type { AnalysisOutput, Bound } from './analyze.js';

export interface AdjustedComparison {
  /** Index into the outputs passed in (one per goal metric). */
  readonly metric: number;
  /** Index into that output's variations (never 0, the control). */
  readonly variation: number;
  readonly pValue: number;
  readonly pValueAdjusted: number;
  /** The interval matching the adjusted p-value, when wider than the original; open sides stay open. */
  readonly ciAdjusted: [Bound, Bound];
}

/**
 * Adjusts the p-values of every treatment in every goal metric's analysis together. Comparisons without a p-value
 * (Bayesian results, a degenerate comparison, a p-value search that did not converge) are left out of the family.
 */
export function adjustGoalMetrics(goalMetrics: readonly AnalysisOutput[], correction: Correction, alpha = 0.05): AdjustedComparison[] {
  const family: Array<{ metric: number; variation: number; pValue: number }> = [];
  goalMetrics.forEach((output, metric) => {
    output.variations.forEach((v, variation) => {
      const pValue = v.effect?.pValue;
      if (variation > 0 && typeof pValue === 'number' && !v.effect?.error) family.push({ metric, variation, pValue });
    });
  });
  const adjusted = correctPValues(
    family.map((c) => c.pValue),
    correction,
  );
  return family.map((c, i) => {
    const effect = goalMetrics[c.metric]!.variations[c.variation]!.effect!;
    const pValueAdjusted = adjusted[i]!;
    const [low, high] = effect.ci;
    let ciAdjusted: [Bound, Bound] = [low, high];
    if (low !== null && high !== null) {
      const [l, h] = adjustedInterval(pValueAdjusted, effect.expected, alpha, [low, high]);
      ciAdjusted = [Number.isFinite(l) ? l : null, Number.isFinite(h) ? h : null];
    }
    return { ...c, pValueAdjusted, ciAdjusted };
  });
}
