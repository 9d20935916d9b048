// GO Feature Flag's evaluation and validation semantics, restated as Vexil test cases.
//
// Each case below is a flag file, a context, a time and the answer GO Feature Flag gives, taken from its public tests
// (modules/core/flag/internal_flag_test.go, rule_test.go, rule_progressive_rollout_test.go), its code
// (InternalFlag.Value / applyScheduledRolloutSteps / RequiresBucketing / GetBucketingKeyValue, Rule.Evaluate /
// MergeRules / MergeSetOfRules, IsValid in internal_flag.go and rule_validation.go) and its documentation
// (configure_flag/rollout/scheduled, progressive, custom-bucketing). The flags are written in our own words as YAML.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyScheduledStep,
  compileFlags,
  evaluate,
  fnv1a32,
  formatProblem,
  parseFlagFile,
  type EvaluationContext,
  type EvaluationDetail,
  type FlagDefinition,
  type Snapshot,
} from '../src/index.js';

const META = { description: 'this is a flag', 'issue-link': 'https://issue.link/GOFF-1' };
const META_YAML = `  metadata: { description: this is a flag, issue-link: "https://issue.link/GOFF-1" }\n`;

function load(yaml: string): Snapshot {
  return compileFlags(yaml, { format: 'yaml', source: 'flags.yaml' });
}

function run(snapshot: Snapshot, context: EvaluationContext, now?: string, key = 'my-flag'): EvaluationDetail {
  return evaluate(snapshot, key, context, { defaultValue: 'value_default', ...(now ? { now: new Date(now) } : {}) });
}

/** The parts of a result GO Feature Flag's ResolutionDetails carries. */
function brief(detail: EvaluationDetail) {
  return {
    value: detail.value,
    variant: detail.variant,
    reason: detail.reason,
    ...(detail.errorCode ? { errorCode: detail.errorCode } : {}),
    flagMetadata: detail.flagMetadata,
    cacheable: detail.cacheable,
  };
}

function lint(yaml: string) {
  const parsed = parseFlagFile(yaml, { format: 'yaml', source: 'flags.yaml' });
  return {
    errors: parsed.problems.filter((p) => p.severity === 'error').map(formatProblem),
    warnings: parsed.problems.filter((p) => p.severity === 'warning').map(formatProblem),
  };
}

const ABC = `  variations: { variation_A: value_A, variation_B: value_B, variation_C: value_C, variation_D: value_D }\n`;

describe('InternalFlag.Value: reasons, metadata, cacheability', () => {
  it('no targeting: the default rule, STATIC, with the flag metadata, cacheable', () => {
    const snap = load(`my-flag:\n  variations: { variation_A: true, variation_B: false }\n  defaultRule: { variation: variation_A }\n${META_YAML}`);
    assert.deepEqual(brief(run(snap, { targetingKey: 'user-key' })), { value: true, variant: 'variation_A', reason: 'STATIC', flagMetadata: META, cacheable: true });
  });

  it('a disabled flag: the caller default, DISABLED, no variant, the flag metadata, cacheable', () => {
    const snap = load(`my-flag:\n  disable: true\n  variations: { a: x }\n  defaultRule: { variation: a }\n${META_YAML}`);
    assert.deepEqual(brief(run(snap, { targetingKey: 'user-key' })), { value: 'value_default', variant: undefined, reason: 'DISABLED', flagMetadata: META, cacheable: true });
  });

  it('outside the experimentation window (not started, ended, or after it by gofeatureflag.currentDateTime): DISABLED, not cacheable', () => {
    const snap = load(
      `my-flag:\n  variations: { a: x }\n  defaultRule: { variation: a }\n  experimentation: { start: 2026-01-01T00:00:05Z, end: 2026-01-01T00:00:10Z }\n${META_YAML}`,
    );
    const disabled = { value: 'value_default', variant: undefined, reason: 'DISABLED', flagMetadata: META, cacheable: false };
    assert.deepEqual(brief(run(snap, { targetingKey: 'k' }, '2026-01-01T00:00:04Z')), disabled);
    assert.deepEqual(brief(run(snap, { targetingKey: 'k' }, '2026-01-01T00:00:11Z')), disabled);
    assert.deepEqual(brief(evaluate(snap, 'my-flag', { targetingKey: 'k', gofeatureflag: { currentDateTime: '2026-01-01T00:00:16Z' } }, { defaultValue: 'value_default' })), disabled);
    assert.deepEqual(brief(run(snap, { targetingKey: 'k' }, '2026-01-01T00:00:05Z')), { value: 'x', variant: 'a', reason: 'STATIC', flagMetadata: META, cacheable: false });
  });

  it('the first matching rule wins; a named rule shows as evaluatedRuleName, an unnamed one does not; disabled rules are skipped', () => {
    const snap = load(`my-flag:
${ABC}  targeting:
    - { name: rule1, query: 'key eq "not-user-key"', variation: variation_C }
    - { name: rule2, query: 'company eq "go-feature-flag"', variation: variation_D, disable: true }
    - { query: 'key eq "user-key"', variation: variation_B }
    - { name: rule4, query: 'company eq "go-feature-flag"', variation: variation_D }
  defaultRule: { variation: variation_A }
${META_YAML}`);
    assert.deepEqual(brief(run(snap, { targetingKey: 'user-key', company: 'go-feature-flag' })), {
      value: 'value_B',
      variant: 'variation_B',
      reason: 'TARGETING_MATCH',
      flagMetadata: META,
      cacheable: true,
    });
    assert.deepEqual(brief(run(snap, { targetingKey: 'other', company: 'go-feature-flag' })), {
      value: 'value_D',
      variant: 'variation_D',
      reason: 'TARGETING_MATCH',
      flagMetadata: { ...META, evaluatedRuleName: 'rule4' },
      cacheable: true,
    });
    assert.deepEqual(brief(run(snap, { targetingKey: 'other' })), { value: 'value_A', variant: 'variation_A', reason: 'DEFAULT', flagMetadata: META, cacheable: true });
  });

  it('the same with JsonLogic queries', () => {
    const snap = load(`my-flag:
${ABC}  targeting:
    - { name: rule1, query: '{"==":[{"var":"key"},"not-user-key"]}', variation: variation_C }
    - { name: rule2, query: '{"==":[{"var":"key"},"user-key"]}', variation: variation_B }
  defaultRule: { variation: variation_A }
`);
    assert.deepEqual(brief(run(snap, { targetingKey: 'user-key' })), {
      value: 'value_B',
      variant: 'variation_B',
      reason: 'TARGETING_MATCH',
      flagMetadata: { evaluatedRuleName: 'rule2' },
      cacheable: true,
    });
  });

  it('reasons: TARGETING_MATCH_SPLIT for a split or a progressive rule, SPLIT for a split default rule, STATIC for a 100% default split', () => {
    const snap = load(`my-flag:
  variations: { variation_A: value_A, variation_B: value_B }
  targeting:
    - { name: split-rule, query: 'key eq "user-key"', percentage: { variation_A: 50, variation_B: 50 } }
    - name: ramp-rule
      query: 'key eq "ramp-key"'
      progressiveRollout:
        initial: { variation: variation_A, percentage: 0, date: 2026-01-01T00:00:00Z }
        end: { variation: variation_B, percentage: 100, date: 2026-01-01T00:01:00Z }
  defaultRule: { percentage: { variation_A: 50, variation_B: 50 } }
full-split:
  variations: { variation_A: value_A, variation_B: value_B }
  defaultRule: { percentage: { variation_A: 100, variation_B: 0 } }
`);
    const at = '2026-01-01T00:00:00Z';
    assert.deepEqual(brief(run(snap, { targetingKey: 'user-key' }, at)), {
      value: 'value_A',
      variant: 'variation_A',
      reason: 'TARGETING_MATCH_SPLIT',
      flagMetadata: { evaluatedRuleName: 'split-rule' },
      cacheable: true,
    });
    assert.deepEqual(brief(run(snap, { targetingKey: 'ramp-key' }, at)), {
      value: 'value_A',
      variant: 'variation_A',
      reason: 'TARGETING_MATCH_SPLIT',
      flagMetadata: { evaluatedRuleName: 'ramp-rule' },
      cacheable: false,
    });
    assert.equal(run(snap, { targetingKey: 'user-key-2' }, at).reason, 'SPLIT');
    assert.deepEqual(brief(run(snap, { targetingKey: 'user-key' }, at, 'full-split')), {
      value: 'value_A',
      variant: 'variation_A',
      reason: 'STATIC',
      flagMetadata: {},
      cacheable: true,
    });
  });
});

describe('InternalFlag.Value: scheduled rollout steps', () => {
  const steps = (body: string) =>
    load(`my-flag:
  variations: { variation_A: value_A, variation_B: value_B }
  defaultRule: { variation: variation_A }
${META_YAML}  scheduledRollout:
${body}`);

  it('no step due: the flag as written (STATIC, not cacheable); gofeatureflag.currentDateTime can make them due', () => {
    const snap = steps(`    - { date: 2026-06-01T00:00:01Z, defaultRule: { variation: variation_B } }
    - { date: 2026-06-01T00:00:02Z, variations: { variation_A: value_QWERTY } }
`);
    assert.deepEqual(brief(run(snap, { targetingKey: 'user-key' }, '2026-06-01T00:00:00Z')), {
      value: 'value_A',
      variant: 'variation_A',
      reason: 'STATIC',
      flagMetadata: META,
      cacheable: false,
    });
    const later = evaluate(snap, 'my-flag', { targetingKey: 'user-key', gofeatureflag: { currentDateTime: '2026-06-01T00:01:00Z' } });
    assert.deepEqual([later.value, later.variant, later.reason], ['value_B', 'variation_B', 'STATIC']);
  });

  it('only the steps due apply; a step applies from its exact date on; all due steps apply in order', () => {
    const snap = steps(`    - { date: "2022-01-01T12:12:12.000000012Z", defaultRule: { variation: variation_B } }
    - { date: 2022-01-01T12:12:14Z, variations: { variation_B: value_QWERTY } }
`);
    assert.equal(run(snap, { targetingKey: 'k' }, '2022-01-01T12:12:11Z').value, 'value_A');
    assert.deepEqual(brief(run(snap, { targetingKey: 'k' }, '2022-01-01T12:12:12Z')), {
      value: 'value_B',
      variant: 'variation_B',
      reason: 'STATIC',
      flagMetadata: META,
      cacheable: false,
    });
    assert.equal(run(snap, { targetingKey: 'k' }, '2022-01-01T12:12:14Z').value, 'value_QWERTY');
  });

  it('steps apply in date order, not declaration order; on the same date the one declared last wins', () => {
    const snap = steps(`    - { date: 2026-03-01T00:00:00Z, defaultRule: { variation: variation_A } }
    - { date: 2026-02-01T00:00:00Z, defaultRule: { variation: variation_B } }
    - { date: 2026-04-01T00:00:00Z, defaultRule: { variation: variation_B } }
    - { date: 2026-04-01T00:00:00Z, defaultRule: { variation: variation_A } }
`);
    assert.equal(run(snap, { targetingKey: 'k' }, '2026-02-15T00:00:00Z').variant, 'variation_B');
    assert.equal(run(snap, { targetingKey: 'k' }, '2026-03-15T00:00:00Z').variant, 'variation_A');
    assert.equal(run(snap, { targetingKey: 'k' }, '2026-04-15T00:00:00Z').variant, 'variation_A');
  });

  it('a step without a date is skipped, and the flag stays valid (lint: a warning)', () => {
    const yaml = `my-flag:
  variations: { variation_A: value_A, variation_B: value_B }
  defaultRule: { variation: variation_A }
  scheduledRollout:
    - variations: { variation_A: value_QWERTY }
`;
    assert.equal(run(load(yaml), { targetingKey: 'k' }).value, 'value_A');
    const { errors, warnings } = lint(yaml);
    assert.deepEqual(errors, []);
    assert.match(warnings.join('\n'), /scheduledRollout\[0\]: warning: a scheduled step without a date is never applied/);
  });

  it('a step patches a rule by name (adding the variation it now serves); evaluatedRuleName follows', () => {
    const snap = load(`my-flag:
  variations: { variation_A: value_A, variation_B: value_B }
  targeting:
    - { name: rule1, query: 'key eq "user-key"', variation: variation_B }
  defaultRule: { variation: variation_A }
  scheduledRollout:
    - date: 2026-01-01T00:00:00Z
      variations: { variation_C: value_C }
      targeting:
        - { name: rule1, variation: variation_C }
`);
    assert.equal(run(snap, { targetingKey: 'user-key' }, '2025-12-31T00:00:00Z').value, 'value_B');
    assert.deepEqual(brief(run(snap, { targetingKey: 'user-key' }, '2026-01-02T00:00:00Z')), {
      value: 'value_C',
      variant: 'variation_C',
      reason: 'TARGETING_MATCH',
      flagMetadata: { evaluatedRuleName: 'rule1' },
      cacheable: false,
    });
  });

  it('a step turns the default rule into a split (user-key-123 → variation_C, SPLIT) and appends a rule it names anew', () => {
    const snap = load(`my-flag:
  variations: { variation_A: value_A, variation_B: value_B, variation_C: value_C }
  targeting:
    - { name: rule1, query: 'key eq "user-key"', variation: variation_B }
  defaultRule: { variation: variation_C }
  scheduledRollout:
    - date: 2026-01-01T00:00:00Z
      defaultRule: { percentage: { variation_B: 30, variation_C: 70 } }
    - date: 2026-02-01T00:00:00Z
      targeting:
        - { name: rule2, query: 'key eq "user-key-2"', variation: variation_A }
`);
    assert.deepEqual([run(snap, { targetingKey: 'user-key-123' }, '2026-01-15T00:00:00Z')].map((d) => [d.variant, d.reason])[0], ['variation_C', 'SPLIT']);
    const appended = run(snap, { targetingKey: 'user-key-2' }, '2026-02-15T00:00:00Z');
    assert.deepEqual([appended.variant, appended.reason, appended.flagMetadata], ['variation_A', 'TARGETING_MATCH', { evaluatedRuleName: 'rule2' }]);
    assert.equal(run(snap, { targetingKey: 'user-key' }, '2026-02-15T00:00:00Z').variant, 'variation_B');
  });

  it('a step can disable the flag; trackEvents and version in the result stay those of the flag as written', () => {
    const snap = load(`my-flag:
  variations: { variation_A: value_A, variation_B: value_B }
  defaultRule: { variation: variation_A }
  version: "0.9"
  scheduledRollout:
    - { date: 2026-01-01T00:00:00Z, disable: true, trackEvents: false, version: "1.0.0" }
`);
    const detail = run(snap, { targetingKey: 'k' }, '2026-01-02T00:00:00Z');
    assert.deepEqual([detail.value, detail.variant, detail.reason], ['value_default', undefined, 'DISABLED']);
    assert.equal(detail.trackEvents, true);
    assert.equal(detail.version, '0.9');
  });

  it('a step can open an experimentation window; a step nested in a step is ignored', () => {
    const snap = load(`my-flag:
  variations: { variation_A: value_A, variation_B: value_B }
  defaultRule: { variation: variation_A }
  scheduledRollout:
    - date: 2026-01-01T00:00:00Z
      experimentation: { start: 2026-01-01T00:00:00Z, end: 2026-01-10T00:00:00Z }
      variations: { variation_A: value_AB }
      scheduledRollout:
        - { date: 2025-01-01T00:00:00Z, variations: { variation_A: value_ABC } }
`);
    assert.equal(run(snap, { targetingKey: 'k' }, '2026-01-05T00:00:00Z').value, 'value_AB');
    assert.equal(run(snap, { targetingKey: 'k' }, '2026-01-11T00:00:00Z').reason, 'DISABLED');
  });

  it("metadata and bucketingKey in a step are not applied", () => {
    const snap = load(`my-flag:
  variations: { variation_A: value_A, variation_B: value_B }
  defaultRule: { percentage: { variation_A: 33, variation_B: 67 } }
  metadata: { owner: a }
  scheduledRollout:
    - { date: 2026-01-01T00:00:00Z, metadata: { owner: b }, bucketingKey: teamId }
`);
    const detail = run(snap, { targetingKey: 'user-key' }, '2026-01-02T00:00:00Z');
    assert.deepEqual(detail.flagMetadata, { owner: 'a' });
    assert.equal(detail.errorCode, undefined);
    assert.equal(detail.variant, 'variation_A'); // hashed on the targeting key, as GO Feature Flag's my-flag/user-key vector
  });
});

describe('scheduled rollout merge rules (Rule.MergeRules, MergeSetOfRules)', () => {
  const base = (rule: Record<string, unknown>): FlagDefinition => ({
    variations: { variation_A: 'A', variation_B: 'B' },
    targeting: [{ name: 'rule1', query: 'key eq "abc"', variation: 'variation_A', ...rule }],
    defaultRule: { variation: 'variation_A' },
  });
  const merged = (rule: Record<string, unknown>, patch: Record<string, unknown>) =>
    applyScheduledStep(base(rule), { date: '2026-01-01T00:00:00Z', targeting: [{ name: 'rule1', ...patch }] }).targeting;

  it('percentages merge per key; a negative value removes the key', () => {
    const out = merged(
      { variation: undefined, percentage: { variation_A: 10, variation_B: 10, variation_C: 10, variation_D: 10, variation_E: 60 } },
      { percentage: { variation_D: -1, variation_E: 50, variation_F: 20 } },
    );
    assert.deepEqual(out![0]!.percentage, { variation_A: 10, variation_B: 10, variation_C: 10, variation_E: 50, variation_F: 20 });
  });

  it('query, variation and disable are overwritten; the name stays', () => {
    assert.deepEqual(merged({}, { variation: 'variation_B' }), [{ name: 'rule1', query: 'key eq "abc"', variation: 'variation_B' }]);
    assert.deepEqual(merged({}, { disable: true })![0]!.disable, true);
    assert.deepEqual(merged({ disable: true }, { disable: false })![0]!.disable, false);
    assert.deepEqual(merged({}, { query: 'key eq "cde"' })![0]!.query, 'key eq "cde"');
  });

  it('an empty query removes the condition: the rule then matches everyone', () => {
    const snap = load(`my-flag:
  variations: { variation_A: value_A, variation_B: value_B }
  targeting:
    - { name: rule1, query: 'key eq "abc"', variation: variation_B }
  defaultRule: { variation: variation_A }
  scheduledRollout:
    - date: 2026-01-01T00:00:00Z
      targeting:
        - { name: rule1, query: "" }
`);
    assert.equal(run(snap, { targetingKey: 'xyz' }, '2025-01-01T00:00:00Z').variant, 'variation_A');
    assert.equal(run(snap, { targetingKey: 'xyz' }, '2026-01-02T00:00:00Z').variant, 'variation_B');
  });

  it('a progressive rollout merges its initial and end steps field by field (and is created when the rule had none)', () => {
    const initial = { variation: 'variation_B', date: '2021-02-01T10:10:10Z' };
    const end = { variation: 'variation_C', date: '2021-02-03T10:10:10Z' };
    assert.deepEqual(merged({}, { progressiveRollout: { initial, end } })![0]!.progressiveRollout, { initial, end });
    assert.deepEqual(merged({ progressiveRollout: { initial, end } }, { progressiveRollout: { initial: { variation: 'variation_D', percentage: 40 } } })![0]!.progressiveRollout, {
      initial: { variation: 'variation_D', percentage: 40, date: '2021-02-01T10:10:10Z' },
      end,
    });
    assert.deepEqual(merged({ progressiveRollout: { initial, end } }, { progressiveRollout: { end: { date: '2021-02-12T10:10:10Z', percentage: 100 } } })![0]!.progressiveRollout, {
      initial,
      end: { variation: 'variation_C', date: '2021-02-12T10:10:10Z', percentage: 100 },
    });
    // Only one side given, no rollout before: the other side is empty, so the rule answers an error when reached.
    assert.deepEqual(merged({}, { progressiveRollout: { initial } })![0]!.progressiveRollout, { initial, end: {} });
  });

  it('a step naming the same rule twice applies the last patch only; a patch naming no rule is appended as written', () => {
    const step = {
      date: '2026-01-01T00:00:00Z',
      targeting: [
        { name: 'rule1', variation: 'variation_B', query: 'key eq "first"' },
        { name: 'rule1', variation: 'variation_B' },
        { name: 'new-rule', query: 'key eq "n"', percentage: { variation_A: 100, variation_B: -1 } },
      ],
    };
    assert.deepEqual(applyScheduledStep(base({}), step).targeting, [
      { name: 'rule1', query: 'key eq "abc"', variation: 'variation_B' },
      { name: 'new-rule', query: 'key eq "n"', percentage: { variation_A: 100, variation_B: -1 } },
    ]);
  });

  it('variations merge per key; experimentation bounds are overwritten one by one', () => {
    const flag: FlagDefinition = {
      variations: { a: 1, b: 2 },
      defaultRule: { variation: 'a' },
      experimentation: { start: '2026-01-01T00:00:00Z', end: '2026-02-01T00:00:00Z' },
    };
    const out = applyScheduledStep(flag, { date: '2026-01-01T00:00:00Z', variations: { b: 3, c: 4 }, experimentation: { end: '2026-03-01T00:00:00Z' } });
    assert.deepEqual(out.variations, { a: 1, b: 3, c: 4 });
    assert.deepEqual(out.experimentation, { start: '2026-01-01T00:00:00Z', end: '2026-03-01T00:00:00Z' });
  });
});

describe('progressive rollout arithmetic at the boundaries (rule_progressive_rollout_test.go)', () => {
  // A ramp of the end variation from 0% to 25% between T-1s and T+1s. The four keys hash (FNV-1a of flag key + key,
  // modulo 100,000) right at the thresholds.
  const keys = { 12499: 'user-148034', 12500: 'user-124802', 24999: 'user-203016', 25000: 'user-123652' } as const;
  const snap = load(`ramp:
  variations: { A: a, B: b }
  defaultRule:
    progressiveRollout:
      initial: { variation: A, percentage: 0, date: 2026-01-01T00:00:09Z }
      end: { variation: B, percentage: 25, date: 2026-01-01T00:00:11Z }
`);
  const variant = (bucket: keyof typeof keys, at: string) => run(snap, { targetingKey: keys[bucket] }, at, 'ramp').variant;

  it('the keys sit on the thresholds', () => {
    for (const [bucket, key] of Object.entries(keys)) assert.equal(fnv1a32(`ramp${key}`) % 100_000, Number(bucket));
  });
  it('before the start everyone gets the initial variation', () => {
    for (const bucket of [12499, 12500, 24999, 25000] as const) assert.equal(variant(bucket, '2026-01-01T00:00:07Z'), 'A');
  });
  it('halfway (12.5%): bucket 12499 gets the end variation, 12500 the initial one', () => {
    assert.equal(variant(12499, '2026-01-01T00:00:10Z'), 'B');
    assert.equal(variant(12500, '2026-01-01T00:00:10Z'), 'A');
  });
  it('at and after the end date (25%): bucket 24999 gets the end variation, 25000 the initial one', () => {
    for (const at of ['2026-01-01T00:00:11Z', '2026-01-01T00:00:16Z']) {
      assert.equal(variant(24999, at), 'B');
      assert.equal(variant(25000, at), 'A');
    }
  });
  it('the ramp moves in whole seconds: 999 ms after the start is still 0%', () => {
    assert.equal(variant(12499, '2026-01-01T00:00:09.999Z'), 'A');
  });
  it('an end percentage left out (0) or above 100 ramps to 100%', () => {
    for (const end of ['', ', percentage: 150']) {
      const full = load(`ramp:
  variations: { A: a, B: b }
  defaultRule:
    progressiveRollout:
      initial: { variation: A, date: 2026-01-01T00:00:09Z }
      end: { variation: B, date: 2026-01-01T00:00:11Z${end} }
`);
      assert.equal(run(full, { targetingKey: keys[25000] }, '2026-01-01T00:00:12Z', 'ramp').variant, 'B');
    }
  });
  it('progressiveRollout wins over percentage, which wins over variation', () => {
    const both = load(`my-flag:
  variations: { variation_A: a, variation_B: b, variation_C: c }
  defaultRule:
    variation: variation_A
    percentage: { variation_A: 100 }
    progressiveRollout:
      initial: { variation: variation_B, percentage: 0, date: 2026-01-01T00:00:00Z }
      end: { variation: variation_C, percentage: 100, date: 2026-01-01T00:00:03Z }
`);
    assert.equal(run(both, { targetingKey: 'userkey' }, '2025-12-31T00:00:00Z').variant, 'variation_B');
    assert.equal(run(both, { targetingKey: 'userkey' }, '2026-01-02T00:00:00Z').variant, 'variation_C');
    const split = load(`flagname+:
  variations: { variation_A: a, variation_B: b, variation_C: c }
  defaultRule: { variation: variation_A, percentage: { variation_B: 0, variation_C: 100 } }
`);
    assert.equal(run(split, { targetingKey: 'userkey' }, undefined, 'flagname+').variant, 'variation_C');
  });
  it('a rollout without a date, or ending before it starts, is accepted but answers ERROR when its rule is reached', () => {
    const yaml = `my-flag:
  variations: { variation_A: a, variation_B: b }
  targeting:
    - name: first
      query: 'beta eq true'
      progressiveRollout:
        initial: { variation: variation_A, percentage: 0 }
        end: { variation: variation_B, percentage: 100, date: 2026-01-01T00:00:00Z }
  defaultRule:
    progressiveRollout:
      initial: { variation: variation_A, date: 2026-01-03T00:00:00Z }
      end: { variation: variation_B, date: 2026-01-01T00:00:00Z }
`;
    assert.deepEqual(lint(yaml).errors, []);
    const snap = load(yaml);
    for (const context of [{ targetingKey: 'k', beta: true }, { targetingKey: 'k' }]) {
      const detail = run(snap, context, '2026-01-02T00:00:00Z');
      assert.deepEqual([detail.value, detail.reason, detail.errorCode], ['value_default', 'ERROR', 'GENERAL']);
    }
  });
});

describe('bucketing key (GetBucketingKeyValue, RequiresBucketing)', () => {
  const split = (extra = '') =>
    load(`my-flag:
  variations: { variation_A: value_A, variation_B: value_B, variation_C: value_C }
  defaultRule: { percentage: { variation_A: 33, variation_B: 67 } }
${extra}`);

  it('bucketingKey hashes that attribute (teamId team-123 → variation_B; a nested company.id too); "" hashes the targeting key', () => {
    assert.equal(run(split('  bucketingKey: teamId\n'), { targetingKey: 'user-key', teamId: 'team-123' }).variant, 'variation_B');
    assert.equal(run(split('  bucketingKey: company.id\n'), { targetingKey: 'user-key', company: { id: 'company-456' } }).variant, 'variation_B');
    assert.equal(run(split('  bucketingKey: ""\n'), { targetingKey: 'user-key', teamId: 'team-123' }).variant, 'variation_A');
  });

  it('a bucketing attribute that is missing (even nested) or not a string is TARGETING_KEY_MISSING', () => {
    for (const [extra, context] of [
      ['  bucketingKey: teamId\n', { targetingKey: 'user-key' }],
      ['  bucketingKey: company.id\n', { targetingKey: 'user-key', company: { name: 'acme-corp' } }],
      ['  bucketingKey: company.id\n', { targetingKey: 'user-key', company: { id: 12345 } }],
    ] as const) {
      const detail = run(split(extra), context);
      assert.deepEqual([detail.value, detail.variant, detail.reason, detail.errorCode], ['value_default', undefined, 'ERROR', 'TARGETING_KEY_MISSING']);
    }
  });

  it('an empty key is fine for a flag that does not split users, and TARGETING_KEY_MISSING (with the metadata) for one that does', () => {
    const staticFlag = load(`my-flag:\n  variations: { variation_A: true, variation_B: false }\n  defaultRule: { variation: variation_A }\n  bucketingKey: teamId\n${META_YAML}`);
    assert.deepEqual(brief(run(staticFlag, { targetingKey: 'toto', teamId: '' })), { value: true, variant: 'variation_A', reason: 'STATIC', flagMetadata: META, cacheable: true });
    const plain = load(`my-flag:\n  variations: { variation_A: true, variation_B: false }\n  defaultRule: { variation: variation_A }\n`);
    assert.equal(run(plain, {}).variant, 'variation_A');
    const splitting = load(`my-flag:\n  variations: { variation_A: true, variation_B: false }\n  defaultRule: { percentage: { variation_A: 50, variation_B: 50 } }\n${META_YAML}`);
    assert.deepEqual(brief(run(splitting, { targetingKey: '' })), {
      value: 'value_default',
      variant: undefined,
      reason: 'ERROR',
      errorCode: 'TARGETING_KEY_MISSING',
      flagMetadata: META,
      cacheable: false,
    });
  });

  it('a split introduced by any scheduled step, even one not due yet, makes the key required now', () => {
    const snap = load(`my-flag:
  variations: { variation_A: value_A, variation_B: value_B }
  defaultRule: { variation: variation_A }
  scheduledRollout:
    - date: 2030-01-01T00:00:00Z
      targeting:
        - { name: later, query: 'beta eq true', percentage: { variation_A: 50, variation_B: 50 } }
`);
    assert.equal(run(snap, {}, '2026-01-01T00:00:00Z').errorCode, 'TARGETING_KEY_MISSING');
    assert.equal(run(snap, { targetingKey: 'k' }, '2026-01-01T00:00:00Z').variant, 'variation_A');
    const byDefaultRule = load(`my-flag:
  variations: { variation_A: value_A, variation_B: value_B }
  defaultRule: { variation: variation_A }
  scheduledRollout:
    - { date: 2030-01-01T00:00:00Z, defaultRule: { percentage: { variation_A: 50, variation_B: 50 } } }
`);
    assert.equal(run(byDefaultRule, {}, '2026-01-01T00:00:00Z').errorCode, 'TARGETING_KEY_MISSING');
    const staticSteps = load(`my-flag:
  variations: { variation_A: value_A, variation_B: value_B }
  defaultRule: { variation: variation_A }
  scheduledRollout:
    - { date: 2030-01-01T00:00:00Z, defaultRule: { variation: variation_B } }
`);
    assert.equal(run(staticSteps, {}, '2031-01-01T00:00:00Z').variant, 'variation_B');
  });

  it('any progressive rollout, even one missing its dates, makes the key required', () => {
    const snap = load(`my-flag:
  variations: { enabled: true, disabled: false }
  defaultRule:
    progressiveRollout:
      initial: { variation: disabled, percentage: 0 }
      end: { variation: enabled, percentage: 100 }
`);
    assert.equal(run(snap, {}).errorCode, 'TARGETING_KEY_MISSING');
    assert.equal(run(snap, { targetingKey: 'k' }).errorCode, 'GENERAL');
  });

  it('a disabled flag that splits users still needs a key (checked before the disabled state)', () => {
    const snap = split('  disable: true\n');
    assert.equal(run(snap, {}).errorCode, 'TARGETING_KEY_MISSING');
    assert.equal(run(snap, { targetingKey: 'k' }).reason, 'DISABLED');
  });

  it('bucketingKey "" without a targeting key: never TARGETING_KEY_MISSING; rules before the first split still serve, the split is an error', () => {
    const snap = load(`my-flag:
  bucketingKey: ""
  variations: { variation_A: value_A, variation_B: value_B }
  targeting:
    - { query: 'beta eq true', variation: variation_B }
    - { query: 'beta eq false', percentage: { variation_A: 50, variation_B: 50 } }
  defaultRule: { variation: variation_A }
`);
    assert.equal(run(snap, { beta: true }).variant, 'variation_B');
    assert.deepEqual([run(snap, { beta: 'x' }).reason, run(snap, { beta: 'x' }).errorCode], ['ERROR', 'GENERAL']);
    const disabled = load(`my-flag:\n  bucketingKey: ""\n  disable: true\n  variations: { a: 1, b: 2 }\n  defaultRule: { percentage: { a: 50, b: 50 } }\n`);
    assert.equal(run(disabled, {}).reason, 'DISABLED');
  });
});

describe('validation: what GO Feature Flag rejects (IsValid) is a lint error and FLAG_NOT_FOUND', () => {
  const rejected: [string, string, RegExp][] = [
    ['no variation', '  variations: {}\n  defaultRule: { variation: A }\n', /at least one variation/],
    ['different types', '  variations: { A: A, C: C, B: 120.1 }\n  defaultRule: { variation: A }\n', /all variations must have one type/],
    ['a null variation', '  variations: { A: A, B: null }\n  defaultRule: { variation: A }\n', /is null/],
    ['no default rule', "  variations: { A: A }\n  targeting:\n    - { name: Rule1, query: 'key eq 1', variation: A }\n", /missing defaultRule/],
    [
      'a duplicated rule name (unnamed and empty names do not count)',
      `  variations: { A: A }
  targeting:
    - { name: Rule1, query: 'key eq 1', variation: A }
    - { name: "", query: 'key eq 3', variation: A }
    - { query: 'key eq 3', variation: A }
    - { name: Rule1, query: 'key eq 4', variation: A }
  defaultRule: { variation: A }
`,
      /duplicate rule name "Rule1"/,
    ],
    ['default percentages summing to 0', '  variations: { A: A, B: B }\n  defaultRule: { percentage: { A: 0, B: 0 } }\n', /sum to 0/],
    ['weights summing to 0 with a negative one', '  variations: { A: A, B: B }\n  defaultRule: { percentage: { A: 50, B: -50 } }\n', /sum to 0/],
    ['empty percentages', '  variations: { A: A, B: B }\n  defaultRule: { percentage: {} }\n', /percentage is empty/],
    ['a targeting rule without query', '  variations: { A: A, B: B }\n  targeting:\n    - { name: Rule1, percentage: { A: 90, B: 10 } }\n  defaultRule: { variation: A }\n', /needs a query/],
    ['a rule with nothing to serve', '  variations: { A: A, B: B }\n  defaultRule: { name: nothing to return }\n', /serves nothing/],
    [
      'a progressive rollout going down (30% → 20%)',
      '  variations: { A: A, B: B }\n  defaultRule:\n    progressiveRollout:\n      initial: { variation: A, percentage: 30, date: 2026-01-01T00:00:00Z }\n      end: { variation: A, percentage: 20, date: 2026-01-02T00:00:00Z }\n',
      /initial percentage \(30\) must not be above the end percentage \(20\)/,
    ],
    [
      'a progressive rollout from 10% to an end percentage left out (read as 0)',
      '  variations: { A: A, B: B }\n  defaultRule:\n    progressiveRollout:\n      initial: { variation: A, percentage: 10, date: 2026-01-01T00:00:00Z }\n      end: { variation: B, date: 2026-01-02T00:00:00Z }\n',
      /initial percentage \(10\) must not be above the end percentage \(0\)/,
    ],
    ['a default variation that does not exist', '  variations: { A: A, B: B }\n  defaultRule: { variation: C }\n', /unknown variation "C"/],
    ['a percentage on a variation that does not exist', '  variations: { A: A, B: B }\n  defaultRule: { percentage: { A: 90, B: 5, C: 5 } }\n', /unknown variation "C"/],
    [
      'a progressive end variation that does not exist',
      '  variations: { A: A, B: B }\n  defaultRule:\n    progressiveRollout:\n      initial: { variation: A, percentage: 0, date: 2026-01-01T00:00:00Z }\n      end: { variation: C, percentage: 100, date: 2026-01-02T00:00:00Z }\n',
      /unknown variation "C"/,
    ],
    [
      'a progressive initial variation that does not exist (in a targeting rule)',
      "  variations: { A: A, B: B }\n  targeting:\n    - query: 'targetingKey eq 1'\n      progressiveRollout:\n        initial: { variation: C, percentage: 0, date: 2026-01-01T00:00:00Z }\n        end: { variation: A, percentage: 100, date: 2026-01-02T00:00:00Z }\n  defaultRule: { variation: A }\n",
      /unknown variation "C"/,
    ],
    ['a targeting variation that does not exist', "  variations: { A: A, B: B }\n  targeting:\n    - { query: 'targetingKey eq 1', variation: C }\n  defaultRule: { variation: A }\n", /unknown variation "C"/],
    ['a query the parser rejects', "  variations: { A: A, B: B }\n  targeting:\n    - { query: 'invalid', variation: A }\n  defaultRule: { variation: A }\n", /query does not parse/],
  ];
  for (const [name, body, message] of rejected) {
    it(name, () => {
      const yaml = `my-flag:\n${body}`;
      const { errors } = lint(yaml);
      assert.ok(errors.some((line) => message.test(line)), `${name}: ${errors.join('\n')}`);
      const detail = run(load(yaml), { targetingKey: 'k' });
      assert.deepEqual([detail.value, detail.reason, detail.errorCode], ['value_default', 'ERROR', 'FLAG_NOT_FOUND']);
    });
  }
});

describe('validation: what GO Feature Flag accepts lints without errors and is served', () => {
  const accepted: [string, string, EvaluationContext, unknown][] = [
    ['ints and floats together', '  variations: { A: 120, B: 120.1 }\n  defaultRule: { variation: A }\n', {}, 120],
    [
      'an invalid rule that is disabled',
      "  variations: { A: A, B: B }\n  targeting:\n    - { name: Rule1, query: 'key eq 5', disable: true, percentage: { A: 90, B: 20, C: 1 } }\n  defaultRule: { name: nothing to return, variation: A }\n",
      { targetingKey: 'k' },
      'A',
    ],
    [
      'a rule variation that does not exist next to a percentage (only what the rule serves is checked)',
      "  variations: { A: A, B: B }\n  targeting:\n    - { query: 'key eq \"k\"', variation: nope, percentage: { B: 100 } }\n  defaultRule: { variation: A }\n",
      { targetingKey: 'k' },
      'B',
    ],
    ['targeting left empty (its rules commented out)', '  variations: { A: A, B: B }\n  targeting:\n#    - query: key eq "x"\n#      variation: B\n  defaultRule:\n    variation: A\n', {}, 'A'],
    ['fields set to null', '  variations: { A: A, B: B }\n  targeting: null\n  version: null\n  metadata: null\n  defaultRule: { variation: A, percentage: null }\n', {}, 'A'],
    ['fields GO Feature Flag does not know', '  variations: { A: A, B: B }\n  defaultRule: { variation: A, weight: 3 }\n  owner: team-a\n', {}, 'A'],
    ['a negative weight (the weights sum to 100)', '  variations: { A: A, B: B }\n  targeting:\n    - { query: "x eq 1", percentage: { A: 120, B: -20 } }\n  defaultRule: { variation: A }\n', { targetingKey: 'k' }, 'A'],
    ['an experiment ending before it starts (always disabled)', '  variations: { A: A }\n  defaultRule: { variation: A }\n  experimentation: { start: 2026-02-01T00:00:00Z, end: 2026-01-01T00:00:00Z }\n', {}, 'value_default'],
    [
      'a scheduled step that breaks the flag (only the step date on is affected)',
      '  variations: { A: A, B: B }\n  defaultRule: { variation: A }\n  scheduledRollout:\n    - { date: 2099-01-01T00:00:00Z, defaultRule: { variation: C } }\n',
      {},
      'A',
    ],
  ];
  for (const [name, body, context, value] of accepted) {
    it(name, () => {
      const yaml = `my-flag:\n${body}`;
      assert.deepEqual(lint(yaml).errors, [], name);
      assert.deepEqual(run(load(yaml), context, '2026-06-01T00:00:00Z').value, value);
    });
  }

  it('the documented scheduled-rollout example (configure_flag/rollout/scheduled)', () => {
    const yaml = `scheduled-flag:
  variations:
    variationA: A
    variationB: B
  defaultRule:
    name: defaultRule
    percentage:
      variationA: 100
      variationB: 0
  scheduledRollout:
    - date: 2020-04-10T00:00:00.1+02:00
      targeting:
        - name: rule1
          query: beta eq "true"
          percentage:
            variationA: 0
            variationB: 100
    - date: 2022-05-12T15:36:00.1+02:00
      targeting:
        - name: rule1
          query: beta eq "false"
`;
    assert.deepEqual(lint(yaml), { errors: [], warnings: [] });
    const snap = load(yaml);
    const at = (beta: string, now: string) => {
      const d = run(snap, { targetingKey: 'k', beta }, now, 'scheduled-flag');
      return [d.value, d.reason];
    };
    assert.deepEqual(at('true', '2020-01-01T00:00:00Z'), ['A', 'STATIC']);
    assert.deepEqual(at('true', '2021-01-01T00:00:00Z'), ['B', 'TARGETING_MATCH']);
    assert.deepEqual(at('false', '2021-01-01T00:00:00Z'), ['A', 'DEFAULT']);
    assert.deepEqual(at('true', '2023-01-01T00:00:00Z'), ['A', 'DEFAULT']);
    assert.deepEqual(at('false', '2023-01-01T00:00:00Z'), ['B', 'TARGETING_MATCH']);
  });

  it('YAML merge keys (<<: *anchor), which GO Feature Flag\'s YAML decoder applies', () => {
    const snap = load(`base: &base
  variations: { "on": true, "off": false }
  defaultRule: { variation: "off" }
my-flag:
  <<: *base
  targeting:
    - { query: 'beta eq true', variation: "on" }
`);
    assert.equal(run(snap, { targetingKey: 'k', beta: true }).value, true);
    assert.equal(run(snap, { targetingKey: 'k' }).value, false);
  });
});
