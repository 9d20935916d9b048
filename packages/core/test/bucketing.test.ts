import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fnv1a32, fnv1a32Continue, compareUtf8 } from '../src/bucketing/fnv.js';
import { buildPercentageBuckets, bucketOf, pickBucket } from '../src/bucketing/percentage.js';

function variationFor(flagKey: string, key: string, percentages: Record<string, number>): string | undefined {
  const buckets = buildPercentageBuckets(percentages);
  const index = pickBucket(buckets, bucketOf(fnv1a32(flagKey + key), buckets.modulus));
  return index < 0 ? undefined : buckets.names[index];
}

describe('FNV-1a 32 (GO Feature Flag vectors)', () => {
  it('hashes like Go hash/fnv New32a', () => {
    assert.equal(fnv1a32('flagNameUserKey'), 3946001934);
    assert.equal(fnv1a32('my-flag' + 'e56f628e-9817-498f-ae38-4961e9c2bb21') % 100000, 70272);
    assert.equal(fnv1a32('e56f628e-9817-498f-ae38-4961e9c2bb21') % 100000, 74237);
    assert.equal(fnv1a32('') % 100000, 36261);
  });
  it('continues from a seed exactly as hashing the concatenation', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        assert.equal(fnv1a32Continue(fnv1a32(a), b), fnv1a32(a + b));
      }),
    );
  });
  it('encodes non-ASCII text as UTF-8 bytes', () => {
    // "é" is C3 A9 in UTF-8; hash of those two bytes computed by hand with the FNV-1a definition.
    let h = 0x811c9dc5;
    for (const byte of [0xc3, 0xa9]) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
    assert.equal(fnv1a32('é'), h);
    let h4 = 0x811c9dc5;
    for (const byte of [0xf0, 0x9f, 0x98, 0x80]) h4 = Math.imul(h4 ^ byte, 0x01000193) >>> 0;
    assert.equal(fnv1a32('😀'), h4);
  });
});

describe('percentage buckets (GO Feature Flag vectors)', () => {
  const cases: Array<[string, string, Record<string, number>, string]> = [
    ['my-flag', 'user-key', { variation_A: 50, variation_B: 50 }, 'variation_A'],
    ['flagname+', 'userkey', { variation_C: 9, variation_B: 91 }, 'variation_C'],
    ['flagname+', 'userkey', { variation_C: 91, variation_B: 91 }, 'variation_B'],
    ['flagname+', 'randomUserID', { variation_D: 70, variation_C: 10, variation_B: 20 }, 'variation_C'],
    ['flagname+', '96ac59e6-7492-436b-b15a-ba1d797d2423', { variation_D: 70, variation_C: 10, variation_B: 20 }, 'variation_B'],
    ['my-flag', 'user-key-123', { variation_B: 30, variation_C: 70 }, 'variation_C'],
    ['my-flag', 'team-123', { variation_A: 33, variation_B: 67 }, 'variation_B'],
    ['my-flag', 'user-key', { variation_A: 33, variation_B: 67 }, 'variation_A'],
    ['my-flag', 'company-456', { variation_A: 33, variation_B: 67 }, 'variation_B'],
    ['TEST', 'random-key', { enable: 90, disable: 10 }, 'enable'],
    ['test-flag', 'random-key-ssss1', { False: 90, True: 10 }, 'False'],
    ['new-admin-access', 'a20b1cd5-7165-4e02-a279-c0c8b90a8912', { False: 70, True: 30 }, 'True'],
    ['new-admin-access', '4f433951-4c8c-42b3-9f18-8c9a5ed8e9eb', { False: 70, True: 30 }, 'True'],
  ];
  for (const [flag, key, percentages, expected] of cases) {
    it(`${flag} / ${key} / ${JSON.stringify(percentages)} → ${expected}`, () => {
      assert.equal(variationFor(flag, key, percentages), expected);
    });
  }
  it('orders names by descending UTF-8 bytes, not UTF-16 code units', () => {
    // U+FF5E (UTF-16 0xFF5E) sorts above U+1F600 (surrogates 0xD83D…) in UTF-16, below it in UTF-8.
    const buckets = buildPercentageBuckets({ '\uff5e': 50, '😀': 50 });
    assert.deepEqual(buckets.names, ['😀', '\uff5e']);
    assert.ok(compareUtf8('😀', '\uff5e') > 0);
  });
  it('uses weights: percentages need not sum to 100', () => {
    const buckets = buildPercentageBuckets({ a: 1, b: 3 });
    assert.equal(buckets.modulus, 4000);
    assert.deepEqual(buckets.names, ['b', 'a']);
    assert.deepEqual(buckets.starts, [0, 3000]);
    assert.deepEqual(buckets.ends, [3000, 4000]);
  });
});

describe('bucketing properties', () => {
  it('is stable and never fails for any key and weights', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 1000 }), { minKeys: 1, maxKeys: 6 }),
        (flagKey, key, weights) => {
          const first = variationFor(flagKey, key, weights);
          assert.ok(first !== undefined && first in weights);
          assert.equal(variationFor(flagKey, key, weights), first);
        },
      ),
    );
  });
  it('spreads 100,000 keys within 1% of the weights', () => {
    const weights = { control: 50, blue: 30, green: 20 };
    const counts: Record<string, number> = { control: 0, blue: 0, green: 0 };
    const n = 100_000;
    for (let i = 0; i < n; i++) counts[variationFor('spread-flag', `user-${i}`, weights)!]!++;
    for (const [name, weight] of Object.entries(weights)) {
      const share = (counts[name]! / n) * 100;
      assert.ok(Math.abs(share - weight) < 1, `${name}: ${share.toFixed(2)}% vs ${weight}%`);
    }
  });
});
