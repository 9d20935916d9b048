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
