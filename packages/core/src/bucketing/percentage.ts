import { compareUtf8 } from './fnv.js';

/** GO Feature Flag multiplies percentages by 1000: 100% is 100,000 buckets. */
export const PERCENTAGE_MULTIPLIER = 1000;
/** Progressive rollouts always use 100,000 buckets. */
export const PROGRESSIVE_BUCKETS = 100_000;

export interface PercentageBuckets {
  /** Variation names in GO Feature Flag's order: descending UTF-8 byte order. */
  names: string[];
  /** Half-open bucket ranges `[starts[i], ends[i])`, already truncated like GO Feature Flag does. */
  starts: number[];
  ends: number[];
  /** Number of buckets: trunc(sum of weights × 1000). 0 means every user lands in bucket 0. */
  modulus: number;
}

/**
 * Precomputes the buckets of a percentage split exactly as GO Feature Flag does: names sorted in descending byte
 * order, weights summed in that order (GO Feature Flag sums in random map order, which can differ by one ULP; a fixed
 * order makes our result deterministic), each name owning `[trunc(start), trunc(start + pct × 1000))`.
 */
export function buildPercentageBuckets(percentages: Record<string, number>): PercentageBuckets {
  const names = Object.keys(percentages).sort((a, b) => compareUtf8(b, a));
  let sum = 0;
  for (const name of names) sum += percentages[name]!;
  const modulus = toUint32(sum * PERCENTAGE_MULTIPLIER);
  const starts: number[] = [];
  const ends: number[] = [];
  let start = 0;
  for (const name of names) {
    const end = start + percentages[name]! * PERCENTAGE_MULTIPLIER;
    starts.push(toUint32(start));
    ends.push(toUint32(end));
    start = end;
  }
  return { names, starts, ends, modulus };
}

/** The bucket a hash falls into: `hash % modulus`, or 0 when the modulus is 0 (GO Feature Flag's guard). */
export function bucketOf(hash: number, modulus: number): number {
  return modulus === 0 ? 0 : hash % modulus;
}

/** The index of the variation owning `bucket`, or -1 when none does (only possible with degenerate weights). */
export function pickBucket(buckets: PercentageBuckets, bucket: number): number {
  const { starts, ends } = buckets;
  for (let i = 0; i < starts.length; i++) {
    if (bucket >= starts[i]! && bucket < ends[i]!) return i;
  }
  return -1;
}

/** Go's `uint32(float64)` for the values that occur here: truncation toward zero, clamped at 0. */
export function toUint32(value: number): number {
  if (!(value > 0)) return 0;
  return Math.trunc(value) >>> 0;
}
