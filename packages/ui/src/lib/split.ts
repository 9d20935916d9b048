// Percentage splits edited with sliders: shares are kept in hundredths of a percent (10,000 in all) so they always
// sum to exactly 100. Moving one slider spreads the difference over the others in proportion to their shares.

export const TOTAL = 10_000;

export type Units = Record<string, number>;

/** Rounds non-negative weights to integers summing to `total` (largest remainder), keeping the order stable. */
export function apportion(weights: number[], total: number): number[] {
  const sum = weights.reduce((acc, weight) => acc + Math.max(0, weight), 0);
  if (weights.length === 0) return [];
  const exact = sum > 0 ? weights.map((weight) => (Math.max(0, weight) / sum) * total) : weights.map(() => total / weights.length);
  const floors = exact.map(Math.floor);
  let left = total - floors.reduce((acc, value) => acc + value, 0);
  const order = exact.map((value, index) => ({ index, rest: value - Math.floor(value) })).sort((a, b) => b.rest - a.rest || a.index - b.index);
  for (const { index } of order) {
    if (left <= 0) break;
    floors[index]! += 1;
    left -= 1;
  }
  return floors;
}

/** A GO Feature Flag percentage map (relative weights) as units over `names`, every name present. */
export function toUnits(percentage: Record<string, number> | undefined, names: string[]): Units {
  const weights = names.map((name) => percentage?.[name] ?? 0);
  const sum = weights.reduce((acc, weight) => acc + weight, 0);
  const units = sum > 0 ? apportion(weights, TOTAL) : apportion(names.map((_, index) => (index === 0 ? 1 : 0)), TOTAL);
  return Object.fromEntries(names.map((name, index) => [name, units[index]!]));
}

/** Sets one share (clamped to 0..100 %) and rebalances the others so the total stays 100 %. */
export function setShare(units: Units, name: string, value: number): Units {
  const names = Object.keys(units);
  const others = names.filter((other) => other !== name);
  if (others.length === 0) return { [name]: TOTAL };
  const own = Math.min(TOTAL, Math.max(0, Math.round(value)));
  const rest = TOTAL - own;
  const current = others.map((other) => units[other] ?? 0);
  const spread = apportion(current.every((share) => share === 0) ? current.map(() => 1) : current, rest);
  const out: Units = {};
  for (const each of names) out[each] = each === name ? own : spread[others.indexOf(each)]!;
  return out;
}

/** Units back to percentages (two decimals at most); zero shares are left out. */
export function fromUnits(units: Units): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, share] of Object.entries(units)) if (share > 0) out[name] = share / 100;
  return out;
}

export function percentText(units: number): string {
  const value = units / 100;
  return `${Number.isInteger(value) ? value : value.toFixed(2).replace(/0$/, '')} %`;
}
