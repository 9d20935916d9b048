import assert from 'node:assert/strict';

/** gbstats agreement: 1e-6 relative, with a 1e-14 absolute floor for values that are rounding noise around 0. */
export function assertClose(actual: unknown, expected: unknown, path: string, relative = 1e-6): void {
  if (expected === null || expected === undefined) {
    assert.ok(actual === null || actual === undefined, `${path}: expected ${String(expected)}, got ${String(actual)}`);
    return;
  }
  if (typeof expected === 'number') {
    assert.equal(typeof actual, 'number', `${path}: expected a number ${expected}, got ${String(actual)}`);
    const a = actual as number;
    const tolerance = Math.max(relative * Math.abs(expected), 1e-14);
    assert.ok(Math.abs(a - expected) <= tolerance, `${path}: expected ${expected}, got ${a} (difference ${Math.abs(a - expected)})`);
    return;
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array, got ${JSON.stringify(actual)}`);
    assert.equal((actual as unknown[]).length, expected.length, `${path}: length`);
    expected.forEach((e, i) => assertClose((actual as unknown[])[i], e, `${path}[${i}]`, relative));
    return;
  }
  if (typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', `${path}: expected an object, got ${JSON.stringify(actual)}`);
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual as object)]);
    for (const key of keys) {
      const e = (expected as Record<string, unknown>)[key];
      const a = (actual as Record<string, unknown>)[key];
      assert.ok(key in (expected as object) || a === undefined, `${path}.${key}: unexpected field with ${JSON.stringify(a)}`);
      assertClose(a, e, `${path}.${key}`, relative);
    }
    return;
  }
  assert.equal(actual, expected, path);
}

/** A small seeded generator (mulberry32), so simulations are reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws (Box–Muller) from a uniform generator. */
export function normalDraws(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

export function sum(values: readonly number[]): number {
  return values.reduce((s, x) => s + x, 0);
}

/** Two-pass sample mean and variance (n − 1), as a textbook would compute them from raw values. */
export function meanAndVariance(values: readonly number[]): { mean: number; variance: number } {
  const mean = sum(values) / values.length;
  const variance = sum(values.map((x) => (x - mean) ** 2)) / (values.length - 1);
  return { mean, variance };
}
