// applyChanges: a write recompiles only what it touches, and the result is exactly a full compile's.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyChanges, compileFlagSet, evaluate, evaluateAll, type SegmentDefinition, type Snapshot } from '../src/index.js';
import { LayeredMap } from '../src/compile/layered-map.js';

const FLAG_KEYS = ['alpha', 'beta', 'gamma', '10', '2', 'delta'];
const SEGMENT_NAMES = ['staff', 'fr', 'beta-testers'];
const QUERIES = [
  'country eq "fr"',
  'email ew "@example.com"',
  '@staff',
  'not @fr',
  '@beta-testers and plan eq "pro"',
  '@staff or @fr',
  '@unknown',
  'country eq', // does not parse: the flag is invalid
  '',
  '{"in": [{"var": "country"}, ["fr", "de"]]}',
];
const SEGMENT_QUERIES = ['email ew "@example.com"', 'country eq "fr"', 'beta eq true or @staff', '@fr and plan eq "pro"', '@beta-testers', 'country eq'];

const ruleArb = fc.oneof(
  fc.record({ name: fc.constantFrom('r1', 'r2'), query: fc.constantFrom(...QUERIES), variation: fc.constantFrom('on', 'off') }),
  fc.record({ query: fc.constantFrom(...QUERIES), percentage: fc.constant({ on: 30, off: 70 }) }),
);
const flagArb = fc.record(
  {
    variations: fc.constant({ on: true, off: false }),
    targeting: fc.array(ruleArb, { maxLength: 3 }),
    defaultRule: fc.oneof(fc.constant({ variation: 'off' }), fc.constant({ variation: 'missing' })),
    disable: fc.boolean(),
  },
  { requiredKeys: ['variations', 'defaultRule'] },
);
const segmentsArb = fc.dictionary(fc.constantFrom(...SEGMENT_NAMES), fc.constantFrom(...SEGMENT_QUERIES).map((query): SegmentDefinition => ({ query })), {
  maxKeys: 3,
});
type Operation =
  | { put: string; flag: unknown }
  | { del: string }
  | { segments: Record<string, SegmentDefinition> }
  | { batch: Array<{ key: string; flag: unknown }> };
const operationArb: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ put: fc.constantFrom(...FLAG_KEYS), flag: flagArb }) },
  { weight: 2, arbitrary: fc.record({ del: fc.constantFrom(...FLAG_KEYS) }) },
  { weight: 2, arbitrary: fc.record({ segments: segmentsArb }) },
  // Several changes at once (a burst the holder coalesces), deletes (no flag) and repeated keys included.
  { weight: 2, arbitrary: fc.record({ batch: fc.array(fc.record({ key: fc.constantFrom(...FLAG_KEYS), flag: fc.option(flagArb, { nil: undefined }) }), { maxLength: 4 }) }) },
);

const CONTEXTS = [
  { targetingKey: 'user-1', country: 'fr', email: 'a@example.com', plan: 'pro', beta: true },
  { targetingKey: 'user-2', country: 'de', email: 'b@other.org', plan: 'free' },
  { targetingKey: 'user-3', country: 'fr', plan: 'pro' },
  {},
];

function assertSameSnapshot(actual: Snapshot, expected: Snapshot): void {
  assert.deepEqual([...actual.flags.keys()], [...expected.flags.keys()], 'the same flags, in the same order');
  assert.deepEqual([...actual.invalid], [...expected.invalid], 'the same invalid flags and reasons');
  assert.deepEqual(actual.problems, expected.problems, 'the same problems');
  assert.deepEqual(actual.definitions, expected.definitions);
  assert.deepEqual(actual.segments, expected.segments);
  assert.equal(actual.revision, expected.revision);
  const now = new Date('2026-06-01T00:00:00Z');
  for (const context of CONTEXTS) {
    for (const key of [...FLAG_KEYS, 'absent']) assert.deepEqual(evaluate(actual, key, context, { now }), evaluate(expected, key, context, { now }), key);
    assert.deepEqual(evaluateAll(actual, context, { now }), evaluateAll(expected, context, { now }));
  }
}

describe('applyChanges (incremental snapshot)', () => {
  it('gives exactly what a full compile gives, over any sequence of puts, deletes and segment changes', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...FLAG_KEYS), flagArb), segmentsArb, fc.array(operationArb, { minLength: 1, maxLength: 12 }), (initial, initialSegments, operations) => {
        const flags = new Map<string, unknown>(Object.entries(initial));
        let segments = initialSegments;
        let snapshot = compileFlagSet(Object.fromEntries(flags), { segments, revision: 1 });
        let revision = 1;
        for (const operation of operations) {
          revision++;
          const before = snapshot;
          const beforeKeys = [...before.flags.keys()];
          if ('put' in operation) {
            flags.set(operation.put, operation.flag);
            snapshot = applyChanges(snapshot, { flags: [[operation.put, operation.flag]], revision });
          } else if ('del' in operation) {
            flags.delete(operation.del);
            snapshot = applyChanges(snapshot, { flags: [[operation.del, undefined]], revision });
          } else if ('batch' in operation) {
            for (const { key, flag } of operation.batch) {
              if (flag === undefined) flags.delete(key);
              else flags.set(key, flag);
            }
            snapshot = applyChanges(snapshot, { flags: operation.batch.map(({ key, flag }) => [key, flag] as const), revision });
          } else {
            segments = operation.segments;
            snapshot = applyChanges(snapshot, { segments, revision });
          }
          assert.deepEqual([...before.flags.keys()], beforeKeys, 'the previous snapshot is left as it was');
          assertSameSnapshot(snapshot, compileFlagSet(Object.fromEntries(flags), { segments, revision }));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a segment change updates the flags that use it and leaves the others compiled as they were', () => {
    const flag = (query: string) => ({ variations: { on: true, off: false }, targeting: [{ query, variation: 'on' }], defaultRule: { variation: 'off' } });
    const before = compileFlagSet(
      { staffOnly: flag('@staff'), betaOnly: flag('@beta'), french: flag('country eq "fr"'), later: flag('@later') },
      { segments: { staff: { query: 'email ew "@example.com"' }, beta: { query: 'beta eq true or @staff' } }, revision: 1 },
    );
    const newcomer = { targetingKey: 'u', email: 'new@acme.test' };
    assert.equal(evaluate(before, 'staffOnly', newcomer).value, false);
    assert.equal(evaluate(before, 'betaOnly', newcomer).value, false);
    assert.equal(evaluate(before, 'later', newcomer).errorCode, 'FLAG_NOT_FOUND', 'a flag using an unknown segment is invalid');

    const after = applyChanges(before, {
      segments: { staff: { query: 'email ew "@acme.test"' }, beta: { query: 'beta eq true or @staff' }, later: { query: 'country eq "de"' } },
      revision: 2,
    });
    assert.equal(evaluate(after, 'staffOnly', newcomer).value, true, 'the flag using the changed segment follows it');
    assert.equal(evaluate(after, 'betaOnly', newcomer).value, true, 'so does a flag using it through another segment');
    assert.equal(evaluate(after, 'later', { targetingKey: 'u', country: 'de' }).value, true, 'a segment added later makes its flag valid');
    assert.equal(after.flags.get('french'), before.flags.get('french'), 'a flag using no changed segment is not recompiled');
    assert.equal(evaluate(before, 'staffOnly', newcomer).value, false, 'the previous snapshot still answers as before');
    assert.equal(after.revision, 2);

    const removed = applyChanges(after, { segments: { beta: { query: 'beta eq true or @staff' } }, revision: 3 });
    assert.equal(evaluate(removed, 'staffOnly', newcomer).errorCode, 'FLAG_NOT_FOUND', 'removing a segment invalidates the flags using it');
    assert.match(evaluate(removed, 'staffOnly', newcomer).errorMessage ?? '', /unknown segment "staff"/);
  });

  it('a put recompiles only that flag', () => {
    const flags = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`f${i}`, { variations: { a: 1, b: 2 }, defaultRule: { variation: 'a' } }]));
    const before = compileFlagSet(flags, { revision: 1 });
    const after = applyChanges(before, { flags: [['f7', { variations: { a: 1, b: 2 }, defaultRule: { variation: 'b' } }], ['f8', undefined]], revision: 2 });
    assert.equal(evaluate(after, 'f7', {}).value, 2);
    assert.equal(evaluate(after, 'f8', {}).errorCode, 'FLAG_NOT_FOUND');
    assert.equal(evaluate(before, 'f7', {}).value, 1);
    const shared = [...after.flags].filter(([key, compiled]) => before.flags.get(key) === compiled).length;
    assert.equal(shared, 48, 'every other flag is shared with the previous snapshot');
  });
});

describe('LayeredMap (the maps incremental snapshots share)', () => {
  it('answers and iterates as a Map given the same sets and deletes, and earlier versions stay as they were', () => {
    const change = fc.tuple(fc.integer({ min: 0, max: 300 }).map(String), fc.option(fc.integer(), { nil: undefined }));
    fc.assert(
      fc.property(fc.array(fc.array(change, { maxLength: 40 }), { maxLength: 30 }), (batches) => {
        const model = new Map<string, number>();
        let layered = LayeredMap.of(new Map<string, number>());
        const versions: Array<[LayeredMap<string, number>, Array<[string, number]>]> = [];
        for (const batch of batches) {
          for (const [key, value] of batch) {
            if (value === undefined) model.delete(key);
            else model.set(key, value);
          }
          layered = layered.with(batch);
          assert.deepEqual([...layered], [...model]);
          assert.equal(layered.size, model.size);
          for (let key = 0; key <= 300; key += 7) assert.equal(layered.get(String(key)), model.get(String(key)));
          versions.push([layered, [...model]]);
        }
        for (const [version, entries] of versions) assert.deepEqual([...version.entries()], entries);
      }),
      { numRuns: 100 },
    );
  });
});
