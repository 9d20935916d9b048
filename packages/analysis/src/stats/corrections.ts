// Multiple-testing corrections across a family of p-values (all goal metrics × treatment variations), as GrowthBook
// applies them to frequentist results. Results come back in the input's order.
import { normalQuantileOf } from './distributions.js';

/** Holm–Bonferroni: controls the family-wise error rate. */
export function holmBonferroni(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, index) => ({ p, index })).sort((x, y) => x.p - y.p);
  const adjusted = new Array<number>(m);
  let runningMax = -Infinity;
  order.forEach(({ p, index }, i) => {
    runningMax = Math.max(runningMax, Math.min(p * (m - i), 1));
    adjusted[index] = runningMax;
  });
  return adjusted;
}

/** Benjamini–Hochberg: controls the false discovery rate (less strict than Holm). */
export function benjaminiHochberg(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, index) => ({ p, index })).sort((x, y) => y.p - x.p);
  const adjusted = new Array<number>(m);
  let runningMin = Infinity;
  order.forEach(({ p, index }, i) => {
    runningMin = Math.min(runningMin, Math.min((p * m) / (m - i), 1));
    adjusted[index] = runningMin;
  });
  return adjusted;
}

export type Correction = 'holm-bonferroni' | 'benjamini-hochberg';

export function correctPValues(pValues: readonly number[], correction: Correction): number[] {
  return correction === 'holm-bonferroni' ? holmBonferroni(pValues) : benjaminiHochberg(pValues);
}

/**
 * The interval that matches an adjusted p-value (GrowthBook's getAdjustedCI): lift ± z(1 − alpha/2)·|lift / z(1 − p/2)|,
 * used only when it is wider than the unadjusted `ci`; (−∞, ∞) when the adjusted p-value is essentially 1.
 */
export function adjustedInterval(
  adjustedPValue: number,
  lift: number,
  alpha: number,
  ci: readonly [number, number],
): [number, number] {
  if (adjustedPValue > 0.999999) return [-Infinity, Infinity];
  let candidate: [number, number] = [0, 0];
  if (lift) {
    const width = normalQuantileOf(1 - alpha / 2, 0, 1) * Math.abs(lift / normalQuantileOf(1 - adjustedPValue / 2, 0, 1));
    candidate = [lift - width, lift + width];
  }
  return candidate[0] < ci[0] && candidate[1] > ci[1] ? candidate : [ci[0], ci[1]];
}
