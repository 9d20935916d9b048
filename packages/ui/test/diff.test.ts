// Unit tests of the page's pure helpers: diff, three-way merge, split arithmetic, staleness.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffJson } from '../src/lib/diff.js';
import { threeWayMerge } from '../src/lib/merge.js';
import { apportion, fromUnits, setShare, toUnits, TOTAL } from '../src/lib/split.js';
import { staleness } from '../src/lib/flag-info.js';
import { fromDefinition, renameVariation, toDefinition } from '../src/lib/editor-model.js';

test('diff lists changed fields by path, added maps field by field, rules by name', () => {
  const before = { variations: { on: true, off: false }, defaultRule: { variation: 'off' }, targeting: [{ name: 'a', query: 'x eq 1', variation: 'on' }, { name: 'b', query: 'y eq 2', variation: 'off' }] };
  const after = {
    variations: { on: true, off: false },
    defaultRule: { percentage: { on: 10, off: 90 } },
    targeting: [{ name: 'b', query: 'y eq 3', variation: 'off' }, { name: 'a', query: 'x eq 1', variation: 'on' }],
    metadata: { owner: 'growth', tags: ['a', 'b'] },
  };
  const changes = diffJson(before, after).map((change) => `${change.kind} ${change.path}`);
  assert.deepEqual(changes, [
    'removed defaultRule.variation',
    'added defaultRule.percentage.on',
    'added defaultRule.percentage.off',
    'moved targeting[0] "b"',
    'changed targeting[0] "b".query',
    'added metadata.owner',
    'added metadata.tags',
  ]);
  assert.deepEqual(diffJson({ a: 1 }, { a: 1 }), []);
});

test('three-way merge keeps both sides and reports what both changed', () => {
  const base = { defaultRule: { variation: 'off' }, metadata: { owner: 'a' } };
  const mine = { defaultRule: { variation: 'on' }, metadata: { owner: 'a' } };
  const theirs = { defaultRule: { variation: 'off' }, metadata: { owner: 'b' }, disable: true };
  assert.deepEqual(threeWayMerge(base, mine, theirs), { merged: { defaultRule: { variation: 'on' }, metadata: { owner: 'b' }, disable: true }, conflicts: [] });
  const clash = threeWayMerge({ x: 1 }, { x: 2 }, { x: 3 });
  assert.deepEqual(clash, { merged: { x: 2 }, conflicts: ['x'] });
});

test('split sliders always sum to 100 %', () => {
  const units = toUnits({ a: 1, b: 1, c: 1 }, ['a', 'b', 'c']);
  assert.equal(Object.values(units).reduce((x, y) => x + y, 0), TOTAL);
  for (const value of [0, 1, 3333, 5000, 9999, 10_000, 12_000, -5]) {
    const next = setShare(units, 'b', value);
    assert.equal(Object.values(next).reduce((x, y) => x + y, 0), TOTAL, `b = ${value}`);
  }
  assert.deepEqual(fromUnits(setShare(toUnits({ on: 50, off: 50 }, ['on', 'off']), 'on', 10_000)), { on: 100 });
  assert.deepEqual(setShare({ a: 10_000, b: 0, c: 0 }, 'a', 4000), { a: 4000, b: 3000, c: 3000 });
  assert.deepEqual(apportion([1, 1, 1], 100), [34, 33, 33]);
});

test('stale: unchanged for 90 days, or one variation for everyone for 30 days', () => {
  const day = 86_400_000;
  const now = Date.parse('2025-06-01T00:00:00Z');
  const ago = (days: number) => new Date(now - days * day).toISOString();
  const single = { variations: { on: true, off: false }, defaultRule: { variation: 'on' } };
  const split = { variations: { on: true, off: false }, defaultRule: { percentage: { on: 50, off: 50 } } };
  assert.equal(staleness(single, ago(10), now).stale, false);
  assert.equal(staleness(single, ago(31), now).stale, true);
  assert.equal(staleness(split, ago(31), now).stale, false);
  assert.equal(staleness(split, ago(91), now).stale, true);
});

test('editor model round-trips a definition and renames variations everywhere', () => {
  const flag = {
    variations: { on: true, off: false },
    targeting: [{ name: 'r', query: 'a eq 1', percentage: { on: 20, off: 80 } }],
    defaultRule: { variation: 'off' },
    offVariation: 'off',
    metadata: { tags: ['x'], description: 'd' },
    scheduledRollout: [{ date: '2030-01-01T00:00:00Z', defaultRule: { variation: 'on' } }],
  };
  const model = fromDefinition(flag);
  assert.deepEqual(toDefinition(model).flag, flag);
  const renamed = toDefinition(renameVariation(model, model.variations[1]!.id, 'disabled')).flag;
  assert.deepEqual(renamed.defaultRule, { variation: 'disabled' });
  assert.deepEqual(renamed.targeting?.[0]?.percentage, { on: 20, disabled: 80 });
  assert.equal(renamed.offVariation, 'disabled');
});
