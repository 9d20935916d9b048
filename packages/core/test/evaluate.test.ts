import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileFlags, compileFlagSet, evaluate, evaluateAll, type FlagDefinition } from '../src/index.js';

const yaml = String.raw;

function one(flag: FlagDefinition, key = 'f') {
  return compileFlagSet({ [key]: flag });
}

describe('evaluate: GO Feature Flag semantics', () => {
  it('serves the default rule with STATIC when the flag has no targeting, DEFAULT when no rule matched', () => {
    const staticFlag = one({ variations: { a: 'A', b: 'B' }, defaultRule: { variation: 'b' } });
    assert.deepEqual(pick(evaluate(staticFlag, 'f', {})), { value: 'B', variant: 'b', reason: 'STATIC' });
    const targeted = one({
      variations: { a: 'A', b: 'B' },
      targeting: [{ query: 'targetingKey eq "x"', variation: 'a' }],
      defaultRule: { variation: 'b' },
    });
    assert.deepEqual(pick(evaluate(targeted, 'f', { targetingKey: 'y' })), { value: 'B', variant: 'b', reason: 'DEFAULT' });
    assert.deepEqual(pick(evaluate(targeted, 'f', { targetingKey: 'x' })), { value: 'A', variant: 'a', reason: 'TARGETING_MATCH' });
  });

  it('lets the first matching rule win and names it in flagMetadata.evaluatedRuleName', () => {
    const snap = one({
      variations: { a: 1, b: 2, c: 3 },
      targeting: [
        { name: 'first', query: 'country eq "fr"', variation: 'a' },
        { name: 'second', query: 'country pr', variation: 'b' },
      ],
      defaultRule: { variation: 'c' },
      metadata: { owner: 'team-x' },
    });
    const fr = evaluate(snap, 'f', { targetingKey: 'u', country: 'FR' });
    assert.equal(fr.value, 1);
    assert.deepEqual(fr.flagMetadata, { owner: 'team-x', evaluatedRuleName: 'first' });
    const de = evaluate(snap, 'f', { targetingKey: 'u', country: 'de' });
    assert.equal(de.value, 2);
    assert.equal(de.flagMetadata.evaluatedRuleName, 'second');
    const none = evaluate(snap, 'f', { targetingKey: 'u' });
    assert.equal(none.value, 3);
    assert.deepEqual(none.flagMetadata, { owner: 'team-x' });
  });

  it('skips disabled rules', () => {
    const snap = one({
      variations: { a: true, b: false },
      targeting: [{ query: 'key eq "u"', variation: 'a', disable: true }],
      defaultRule: { variation: 'b' },
    });
    assert.equal(evaluate(snap, 'f', { targetingKey: 'u' }).value, false);
  });

  it('prefers progressiveRollout over percentage over variation within a rule', () => {
    const snap = one({
      variations: { a: 'A', b: 'B' },
      defaultRule: { variation: 'a', percentage: { b: 100, a: 0 } },
    });
    // A 100% entry is not a split: GO Feature Flag reports STATIC.
    assert.deepEqual(pick(evaluate(snap, 'f', { targetingKey: 'k' })), { value: 'B', variant: 'b', reason: 'STATIC' });
  });

  it('splits by weight with the same result as GO Feature Flag', () => {
    const snap = compileFlags(
      yaml`
new-admin-access:
  variations: { "True": true, "False": false }
  defaultRule:
    percentage: { "False": 70, "True": 30 }
`,
      { format: 'yaml' },
    );
    const detail = evaluate(snap, 'new-admin-access', { targetingKey: 'a20b1cd5-7165-4e02-a279-c0c8b90a8912' });
    assert.deepEqual(pick(detail), { value: true, variant: 'True', reason: 'SPLIT' });
  });

  it('reports TARGETING_MATCH_SPLIT for a split inside a targeting rule', () => {
    const snap = one(
      {
        variations: { enable: true, disable: false },
        targeting: [{ query: 'key eq "random-key"', percentage: { enable: 90, disable: 10 } }],
        defaultRule: { variation: 'disable' },
      },
      'TEST',
    );
    assert.deepEqual(pick(evaluate(snap, 'TEST', { targetingKey: 'random-key' })), {
      value: true,
      variant: 'enable',
      reason: 'TARGETING_MATCH_SPLIT',
    });
  });

  it('needs a targeting key only when the flag buckets', () => {
    const split = one({ variations: { a: 1, b: 2 }, defaultRule: { percentage: { a: 50, b: 50 } } });
    const missing = evaluate(split, 'f', {}, { defaultValue: 0 });
    assert.equal(missing.errorCode, 'TARGETING_KEY_MISSING');
    assert.equal(missing.reason, 'ERROR');
    assert.equal(missing.value, 0);
    const plain = one({ variations: { a: 1, b: 2 }, defaultRule: { variation: 'a' } });
    assert.equal(evaluate(plain, 'f', {}).errorCode, undefined);
    assert.equal(evaluate(plain, 'f', {}).value, 1);
  });

  it('checks the bucketing key before the disabled state, as GO Feature Flag does', () => {
    const snap = one({ variations: { a: 1, b: 2 }, disable: true, defaultRule: { percentage: { a: 50, b: 50 } } });
    assert.equal(evaluate(snap, 'f', {}).errorCode, 'TARGETING_KEY_MISSING');
    assert.equal(evaluate(snap, 'f', { targetingKey: 'x' }).reason, 'DISABLED');
  });

  it('serves the caller default for a disabled flag, or offVariation when one is set', () => {
    const off = one({ variations: { on: true, off: false }, disable: true, defaultRule: { variation: 'on' } });
    const detail = evaluate(off, 'f', { targetingKey: 'x' }, { defaultValue: true });
    assert.deepEqual(pick(detail), { value: true, variant: undefined, reason: 'DISABLED' });
    const withOff = one({ variations: { on: true, off: false }, disable: true, offVariation: 'off', defaultRule: { variation: 'on' } });
    assert.deepEqual(pick(evaluate(withOff, 'f', {}, { defaultValue: true })), { value: false, variant: 'off', reason: 'DISABLED' });
  });

  it('uses bucketingKey (a dot path) instead of the targeting key', () => {
    const snap = one(
      { variations: { variation_A: 'A', variation_B: 'B' }, bucketingKey: 'company.id', defaultRule: { percentage: { variation_A: 33, variation_B: 67 } } },
      'my-flag',
    );
    assert.equal(evaluate(snap, 'my-flag', { targetingKey: 'user-key', company: { id: 'company-456' } }).variant, 'variation_B');
    const missing = evaluate(snap, 'my-flag', { targetingKey: 'user-key' });
    assert.equal(missing.errorCode, 'TARGETING_KEY_MISSING');
    const teams = one(
      { variations: { variation_A: 'A', variation_B: 'B' }, bucketingKey: 'teamId', defaultRule: { percentage: { variation_A: 33, variation_B: 67 } } },
      'my-flag',
    );
    assert.equal(evaluate(teams, 'my-flag', { targetingKey: 'user-key', teamId: 'team-123' }).variant, 'variation_B');
  });

  it('returns FLAG_NOT_FOUND for unknown flags and explains rejected ones', () => {
    const snap = compileFlags('good:\n  variations: { a: 1 }\n  defaultRule: { variation: a }\nbad:\n  variations: { a: 1, b: "x" }\n  defaultRule: { variation: a }\n', {
      source: 'f.yaml',
    });
    const unknown = evaluate(snap, 'nope', {}, { defaultValue: 5 });
    assert.deepEqual(pick(unknown), { value: 5, variant: undefined, reason: 'ERROR' });
    assert.equal(unknown.errorCode, 'FLAG_NOT_FOUND');
    const bad = evaluate(snap, 'bad', {});
    assert.equal(bad.errorCode, 'FLAG_NOT_FOUND');
    assert.match(bad.errorMessage!, /f\.yaml:5:\d+ bad variations\.b: variation "b" is a string but "a" is a number/);
    assert.equal(evaluate(snap, 'good', {}).value, 1);
  });

  it('reports TYPE_MISMATCH and serves the default when the caller asks for another type', () => {
    const snap = one({ variations: { a: 'text' }, defaultRule: { variation: 'a' } });
    const detail = evaluate(snap, 'f', {}, { expectedType: 'boolean', defaultValue: false });
    assert.equal(detail.errorCode, 'TYPE_MISMATCH');
    assert.equal(detail.value, false);
    assert.equal(evaluate(snap, 'f', {}, { expectedType: 'string' }).value, 'text');
  });

  it('sees targetingKey and key as the targeting key in queries', () => {
    const snap = one({
      variations: { a: 'A', b: 'B' },
      targeting: [{ query: 'key eq "u1" and targetingKey eq "u1"', variation: 'a' }],
      defaultRule: { variation: 'b' },
    });
    assert.equal(evaluate(snap, 'f', { targetingKey: 'u1' }).value, 'A');
    assert.equal(evaluate(snap, 'f', { targetingKey: 'u2', key: 'u1' }).value, 'B');
  });

  it('resolves segments referenced with @name', () => {
    const snap = compileFlags(
      yaml`
$segments:
  staff: 'email ew "@corp.com"'
  beta: 'beta eq true or @staff'
f:
  variations: { on: true, off: false }
  targeting:
    - query: '@beta'
      variation: on
  defaultRule: { variation: off }
`,
    );
    assert.equal(evaluate(snap, 'f', { targetingKey: 'a', email: 'x@corp.com' }).value, true);
    assert.equal(evaluate(snap, 'f', { targetingKey: 'a', beta: true }).value, true);
    assert.equal(evaluate(snap, 'f', { targetingKey: 'a', email: 'x@else.com' }).value, false);
  });
});

describe('evaluate: time-based rollouts', () => {
  const progressive: FlagDefinition = {
    variations: { variation_A: 'A', variation_B: 'B' },
    defaultRule: {
      progressiveRollout: {
        initial: { variation: 'variation_A', percentage: 0, date: '2026-01-01T00:00:00Z' },
        end: { variation: 'variation_B', percentage: 100, date: '2026-01-11T00:00:00Z' },
      },
    },
  };

  it('serves the initial variation to everyone before the start date', () => {
    const snap = one(progressive, 'my-flag');
    for (let i = 0; i < 200; i++) {
      const detail = evaluate(snap, 'my-flag', { targetingKey: `u${i}` }, { now: new Date('2025-12-31T23:59:59Z') });
      assert.equal(detail.variant, 'variation_A');
    }
  });

  it('ramps linearly between the dates and serves the end split after', () => {
    const snap = one(progressive, 'my-flag');
    const share = (now: string) => {
      let b = 0;
      for (let i = 0; i < 20_000; i++) if (evaluate(snap, 'my-flag', { targetingKey: `user-${i}` }, { now: new Date(now) }).variant === 'variation_B') b++;
      return b / 20_000;
    };
    assert.ok(Math.abs(share('2026-01-06T00:00:00Z') - 0.5) < 0.02);
    assert.ok(Math.abs(share('2026-01-03T12:00:00Z') - 0.25) < 0.02);
    assert.equal(share('2026-02-01T00:00:00Z'), 1);
  });

  it('pins GO Feature Flag vector: my-flag/user-key at 5% after the end stays on the initial variation', () => {
    const snap = one(
      {
        variations: { variation_A: 'A', variation_B: 'B' },
        defaultRule: {
          progressiveRollout: {
            initial: { variation: 'variation_A', percentage: 0, date: '2020-01-01T00:00:00Z' },
            end: { variation: 'variation_B', percentage: 5, date: '2020-01-02T00:00:00Z' },
          },
        },
      },
      'my-flag',
    );
    const detail = evaluate(snap, 'my-flag', { targetingKey: 'user-key' }, { now: new Date('2026-01-01T00:00:00Z') });
    assert.equal(detail.variant, 'variation_A');
    assert.equal(detail.reason, 'SPLIT');
    assert.equal(detail.cacheable, false);
  });

  it('applies scheduled steps that are due, merging rules by name and dropping negative percentages', () => {
    const snap = compileFlags(yaml`
f:
  variations: { a: "A", b: "B", c: "C" }
  targeting:
    - name: rule1
      query: 'beta eq true'
      percentage: { a: 50, b: 50 }
  defaultRule: { variation: a }
  scheduledRollout:
    - date: 2026-03-01T00:00:00Z
      targeting:
        - name: rule1
          percentage: { a: -1, b: 100 }
    - date: 2026-02-01T00:00:00Z
      defaultRule: { variation: c }
`);
    const ctx = { targetingKey: 'someone', beta: true };
    const before = evaluate(snap, 'f', { targetingKey: 'x' }, { now: new Date('2026-01-15T00:00:00Z') });
    assert.equal(before.value, 'A');
    assert.equal(evaluate(snap, 'f', { targetingKey: 'x' }, { now: new Date('2026-02-15T00:00:00Z') }).value, 'C');
    const after = evaluate(snap, 'f', ctx, { now: new Date('2026-03-02T00:00:00Z') });
    assert.deepEqual(pick(after), { value: 'B', variant: 'b', reason: 'TARGETING_MATCH' });
  });

  it('treats a flag outside its experimentation window as disabled', () => {
    const snap = one({
      variations: { a: 1, b: 2 },
      defaultRule: { variation: 'a' },
      experimentation: { start: '2026-01-01T00:00:00Z', end: '2026-02-01T00:00:00Z' },
    });
    assert.equal(evaluate(snap, 'f', {}, { now: new Date('2025-12-01T00:00:00Z') }).reason, 'DISABLED');
    assert.equal(evaluate(snap, 'f', {}, { now: new Date('2026-01-15T00:00:00Z') }).value, 1);
    assert.equal(evaluate(snap, 'f', {}, { now: new Date('2026-02-01T00:00:01Z') }).reason, 'DISABLED');
  });

  it('takes the time from gofeatureflag.currentDateTime when no time is given', () => {
    const snap = one({ variations: { a: 1 }, defaultRule: { variation: 'a' }, experimentation: { start: '2030-01-01T00:00:00Z' } });
    assert.equal(evaluate(snap, 'f', {}).reason, 'DISABLED');
    assert.equal(evaluate(snap, 'f', { gofeatureflag: { currentDateTime: '2031-01-01T00:00:00Z' } }).reason, 'STATIC');
  });
});

describe('explain', () => {
  it('says which rule matched and where the user fell in the split', () => {
    const snap = one({
      variations: { a: 'A', b: 'B' },
      targeting: [
        { name: 'never', query: 'country eq "zz"', variation: 'a' },
        { name: 'fr', query: 'country eq "fr"', percentage: { a: 50, b: 50 } },
      ],
      defaultRule: { variation: 'b' },
    });
    const detail = evaluate(snap, 'f', { targetingKey: 'u', country: 'fr' }, { explain: true });
    const steps = detail.explain!;
    assert.equal(steps[0]!.matched, false);
    assert.equal(steps[1]!.matched, true);
    const split = steps.find((s) => s.step === 'split')!;
    assert.ok(split.bucket! >= split.range![0] && split.bucket! < split.range![1]);
  });
});

describe('robustness', () => {
  const snap = compileFlags(yaml`
f:
  variations: { a: 1, b: 2 }
  targeting:
    - query: 'a.b.c gt 3 and name sw "x"'
      variation: a
  defaultRule: { percentage: { a: 50, b: 50 } }
`);
  it('never throws on arbitrary contexts', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.anything()), (context) => {
        const detail = evaluate(snap, 'f', context as Record<string, unknown>);
        assert.ok(['SPLIT', 'TARGETING_MATCH', 'ERROR'].includes(detail.reason));
      }),
    );
  });
  it('evaluateAll returns every flag sorted by key', () => {
    const all = evaluateAll(compileFlagSet({ b: { variations: { x: 1 }, defaultRule: { variation: 'x' } }, a: { variations: { x: 1 }, defaultRule: { variation: 'x' } } }), {});
    assert.deepEqual(all.map((d) => d.key), ['a', 'b']);
  });
});

function pick(detail: { value: unknown; variant?: string; reason: string }) {
  return { value: detail.value, variant: detail.variant, reason: detail.reason };
}

describe('GO Feature Flag compatibility edge cases', () => {
  const snap = compileFlags(`
admin-only:
  variations: { Default: false, "False": false, "True": true }
  targeting:
    - name: legacyRuleV0
      query: anonymous eq true
      percentage: { "False": 0, "True": 100 }
  defaultRule: { name: legacyDefaultRule, variation: Default }
escaped-quotes:
  variations: { Default: { test: test }, "True": { test2: test } }
  targeting:
    - query: key eq \\"key\\"
      percentage: { "True": 100 }
  defaultRule: { variation: Default }
broken-query:
  variations: { Default: { test: test }, "True": { test2: test } }
  targeting:
    - query: key eq
      percentage: { "True": 100 }
  defaultRule: { variation: Default }
`, { source: 'compat.yaml' });

  it('serves a flag whose query holds JSON-escaped quotes (key eq \\"key\\"), as GO Feature Flag serves its relay testdata', () => {
    assert.deepEqual(pick(evaluate(snap, 'escaped-quotes', { targetingKey: 'random-key' })), { value: { test: 'test' }, variant: 'Default', reason: 'DEFAULT' });
    assert.deepEqual(pick(evaluate(snap, 'escaped-quotes', { targetingKey: 'key' })), { value: { test2: 'test' }, variant: 'True', reason: 'TARGETING_MATCH' });
  });

  it('drops a flag whose rule query does not parse, as GO Feature Flag drops what IsValid rejects (FLAG_NOT_FOUND, why in errorMessage)', () => {
    const detail = evaluate(snap, 'broken-query', { targetingKey: 'key' }, { defaultValue: { test: 'default' } });
    assert.deepEqual(pick(detail), { value: { test: 'default' }, variant: undefined, reason: 'ERROR' });
    assert.equal(detail.errorCode, 'FLAG_NOT_FOUND');
    assert.match(detail.errorMessage!, /query does not parse/);
    const errors = snap.problems.filter((p) => p.severity === 'error');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.flagKey, 'broken-query');
  });

  it('defaults anonymous to false and keeps quoted names like "True" as variation names', () => {
    assert.deepEqual(pick(evaluate(snap, 'admin-only', { targetingKey: 'x' })), { value: false, variant: 'Default', reason: 'DEFAULT' });
    const anon = evaluate(snap, 'admin-only', { targetingKey: 'x', anonymous: true });
    assert.deepEqual(pick(anon), { value: true, variant: 'True', reason: 'TARGETING_MATCH' });
    assert.equal(anon.flagMetadata.evaluatedRuleName, 'legacyRuleV0');
  });
});

describe('contexts as OpenFeature passes them', () => {
  it('evaluates frozen contexts (OpenFeature freezes the merged context)', () => {
    const snap = one({ variations: { a: 'A', b: 'B' }, targeting: [{ query: 'plan eq "pro"', variation: 'a' }], defaultRule: { percentage: { a: 50, b: 50 } } });
    const context = Object.freeze({ targetingKey: 'user-1', plan: 'pro' });
    assert.equal(evaluate(snap, 'f', context).value, 'A');
  });
});

describe('GO Feature Flag form (segments inlined)', () => {
  it('gives the same answers as the flag with segment references', async () => {
    const { toGoFeatureFlagForm, inlineSegments } = await import('../src/index.js');
    const segments = { staff: { query: 'email ew "@corp.com"' }, beta: { query: 'beta eq true or @staff' } };
    assert.equal(inlineSegments('@beta and name eq "@staff"', segments), '(beta eq true or (email ew "@corp.com")) and name eq "@staff"');
    const flag: FlagDefinition = {
      variations: { on: true, off: false },
      targeting: [{ query: 'not @beta', variation: 'off' }, { query: '@staff', variation: 'on' }],
      defaultRule: { percentage: { on: 30, off: 70 } },
      offVariation: 'off',
    };
    const withSegments = compileFlagSet({ f: flag }, { segments });
    const plain = toGoFeatureFlagForm(flag, segments);
    assert.equal(plain.offVariation, undefined);
    const inlined = compileFlagSet({ f: plain });
    fc.assert(
      fc.property(fc.record({ targetingKey: fc.string(), email: fc.constantFrom('a@corp.com', 'b@x.io'), beta: fc.boolean() }), (context) => {
        assert.deepEqual(evaluate(inlined, 'f', context).value, evaluate(withSegments, 'f', context).value);
      }),
    );
  });
});
