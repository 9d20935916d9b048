import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  compileFlagSet,
  continueRollout,
  evaluate,
  formatProblem,
  normalizeRolloutPlan,
  parseDuration,
  parseFlagFile,
  rolloutServingRule,
  stepPercentages,
  toGoFeatureFlagForm,
  withRolloutState,
  type FlagDefinition,
  type RolloutStateDefinition,
} from '../src/index.js';

const ISSUE_EXAMPLE = `new-checkout:
  variations: { on: true, off: false }
  defaultRule: { variation: off }
  rollout:
    variation: on
    steps: [1, 5, 25, 50, 100]
    interval: 10m
    approval: [50]
    onFailure: rollback
    gates:
      - metric: checkout-error
        compare: control
        maxIncrease: 10%
      - metric: request
        quantile: 0.99
        thresholdRange: { max: 800 }
      - prometheus: 'histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{version="v2"}[5m])) by (le))'
        thresholdRange: { max: 0.5 }
    failureLimit: 2
    minSampleSize: 200
  killSwitch: { metric: checkout-error, thresholdRange: { max: 0.05 }, window: 5m, minSampleSize: 100 }
`;

function lint(text: string): string[] {
  return parseFlagFile(text, { format: 'yaml', source: 'flags.yaml' }).problems.map(formatProblem);
}

describe('rollout plan in the flag file: vexil lint', () => {
  it('accepts the plan of the issue, with its three kinds of gate and a kill switch', () => {
    const parsed = parseFlagFile(ISSUE_EXAMPLE, { format: 'yaml', source: 'flags.yaml' });
    assert.deepEqual(parsed.problems.map(formatProblem), []);
    const plan = normalizeRolloutPlan(parsed.flags['new-checkout']!.rollout!);
    assert.deepEqual(plan.steps, [1, 5, 25, 50]);
    assert.equal(plan.intervalMs, 600_000);
    assert.deepEqual(plan.approvalSteps, [3]);
    assert.equal(plan.failureLimit, 2);
    assert.equal(plan.minSampleSize, 200);
    assert.deepEqual(plan.gates.map((gate) => gate.kind), ['relative', 'quantile', 'prometheus']);
    assert.equal(plan.gates[0]!.kind === 'relative' && plan.gates[0]!.maxIncrease, 0.1);
    assert.equal(plan.inconclusiveLimit, -1, 'inconclusive checks hold the step unless a limit is given');
    const limited = normalizeRolloutPlan({ ...parsed.flags['new-checkout']!.rollout!, inconclusiveLimit: 3, gates: [{ prometheus: 'up', thresholdRange: { max: 1 }, dryRun: true }] });
    assert.equal(limited.inconclusiveLimit, 3);
    assert.equal(limited.gates[0]!.dryRun, true);
  });

  it('names the file, line, flag and field of every mistake, and rejects the flag', () => {
    const text = `f:
  variations: { on: true, off: false }
  defaultRule: { variation: off }
  rollout:
    variation: onn
    steps: [5, 1, 120]
    interval: soon
    approval: [30]
    onFailure: retry
    gates:
      - metric: errors
        compare: control
      - metric: latency
        quantile: 99
        thresholdRange: { min: 5, max: 1 }
      - prometheus: 'up'
      - { name: nothing }
      - { prometheus: 'up', thresholdRange: { max: 1 }, dryRun: maybe }
    failureLimit: -3
    minSampleSize: 0
    inconclusiveLimit: 1.5
  killSwitch: { thresholdRange: {}, window: forever }
`;
    const problems = lint(text);
    const expected = [
      'flags.yaml:5:16 f rollout.variation: unknown variation "onn" (the flag has "on", "off")',
      'flags.yaml:6:16 f rollout.steps[1]: steps must increase: 1 comes after 5',
      'flags.yaml:6:19 f rollout.steps[2]: a step is a percentage above 0 and at most 100, not 120',
      'flags.yaml:7:15 f rollout.interval: "soon" is not a duration (e.g. 30s, 10m, 1h30m)',
      'flags.yaml:9:16 f rollout.onFailure: onFailure is rollback or pause, not "retry"',
      'flags.yaml:12:9 f rollout.gates[0].maxIncrease: missing: the largest tolerated increase over control (e.g. 10%)',
      'flags.yaml:14:19 f rollout.gates[1].quantile: quantile is a number between 0 and 1 (0.99 for p99), not 99',
      'flags.yaml:15:25 f rollout.gates[1].thresholdRange: min (5) is above max (1): every value fails',
      'flags.yaml:16:9 f rollout.gates[2].thresholdRange: missing: give thresholdRange { min, max } (or compare: control with maxIncrease)',
      'flags.yaml:17:9 f rollout.gates[3]: a gate needs a metric (a tracked event) or a prometheus query',
      'flags.yaml:18:19 f rollout.failureLimit: failureLimit is a whole number ≥ 0 (or -1: never act on failures)',
      'flags.yaml:19:20 f rollout.minSampleSize: minSampleSize is a whole number of units ≥ 1',
      'flags.yaml:18:63 f rollout.gates[4].dryRun: dryRun is true or false, not a string',
      'flags.yaml:21:24 f rollout.inconclusiveLimit: inconclusiveLimit is a whole number ≥ 0 (or -1: never pause on inconclusive checks)',
      'flags.yaml:20:3 f killSwitch.metric: missing: the tracked event whose error rate trips the switch',
      'flags.yaml:20:34 f killSwitch.thresholdRange: thresholdRange needs min, max or both',
      'flags.yaml:20:46 f killSwitch.window: "forever" is not a duration (e.g. 5m)',
    ];
    for (const line of expected) assert.ok(problems.some((p) => p.replace(/:\d+:\d+ /, ' ') === line.replace(/:\d+:\d+ /, ' ')), `missing problem:\n${line}\nin:\n${problems.join('\n')}`);
    for (const problem of problems) assert.match(problem, /^flags\.yaml:\d+:\d+ f (rollout|killSwitch)/);
    const parsed = parseFlagFile(text, { format: 'yaml', source: 'flags.yaml' });
    assert.equal(parsed.flags.f, undefined, 'a flag with a broken plan is not served');
  });

  it('needs a default rule serving one variation, and either steps or stepWeight', () => {
    const problems = lint(`f:
  variations: { a: 1, b: 2, c: 3 }
  defaultRule: { percentage: { a: 50, b: 50 } }
  rollout: { variation: c, interval: 1m }
`);
    assert.ok(problems.some((p) => /f defaultRule: a flag with a rollout needs a defaultRule serving one variation/.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /f rollout\.steps: missing: give steps/.test(p)), problems.join('\n'));
  });

  it('reads Flagger-style stepWeight and maxWeight, overshooting the last step as Flagger does', () => {
    assert.deepEqual(stepPercentages({ stepWeight: 20, maxWeight: 50 }), [20, 40, 60]);
    assert.deepEqual(stepPercentages({ stepWeight: 10, maxWeight: 50 }), [10, 20, 30, 40, 50]);
    assert.deepEqual(stepPercentages({ stepWeight: 25 }), [25, 50, 75]);
    assert.deepEqual(stepPercentages({ steps: [1, 5, 100] }), [1, 5]);
  });

  it('reads durations', () => {
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('45s'), 45_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.ok(Number.isNaN(parseDuration('10')));
    assert.ok(Number.isNaN(parseDuration('0s')));
  });
});

describe('rollout serving: GO Feature Flag percentage buckets, monotone as the step grows', () => {
  const baseFlag = (on: string, off: string): FlagDefinition => ({
    variations: { [on]: true, [off]: false },
    defaultRule: { variation: off },
    rollout: { variation: on, steps: [1, 5, 25, 50], interval: '10m' },
  });
  const state = (percent: number, off: string, status: RolloutStateDefinition['status'] = 'running'): RolloutStateDefinition => ({
    status,
    stepIndex: 0,
    percent,
    baseline: { variation: off },
    startedAt: '2026-01-01T00:00:00Z',
    stepStartedAt: '2026-01-01T00:00:00Z',
    checks: 0,
    successful: 0,
    failed: 0,
    inconclusive: 0,
    consecutiveSuccess: 0,
    history: [],
  });
  const serve = (flag: FlagDefinition, key: string, unit: string): unknown => {
    const snapshot = compileFlagSet({ [key]: flag });
    assert.deepEqual(snapshot.invalid.size, 0, JSON.stringify([...snapshot.invalid]));
    return evaluate(snapshot, key, { targetingKey: unit }).variant;
  };

  it('a flag with a plan but no state yet serves exactly what it served without the plan', () => {
    const flag = baseFlag('on', 'off');
    const { rollout: _plan, ...plain } = flag;
    for (let i = 0; i < 50; i++) assert.equal(serve(flag, 'f', `u${i}`), serve(plain, 'f', `u${i}`));
  });

  it('serves the rollout variation to about p% of units, and all of them once promoted, none once rolled back', () => {
    const flag = withRolloutState(baseFlag('on', 'off'), state(25, 'off'));
    assert.deepEqual(flag.defaultRule, { percentage: { on: 25, off: 75 } });
    const snapshot = compileFlagSet({ f: flag });
    let on = 0;
    for (let i = 0; i < 4000; i++) if (evaluate(snapshot, 'f', { targetingKey: `user-${i}` }).variant === 'on') on++;
    assert.ok(on > 4000 * 0.22 && on < 4000 * 0.28, `${on} of 4000 on the rollout variation at 25%`);
    assert.deepEqual(withRolloutState(baseFlag('on', 'off'), state(25, 'off', 'promoted')).defaultRule, { variation: 'on' });
    assert.deepEqual(withRolloutState(baseFlag('on', 'off'), state(25, 'off', 'rolled-back')).defaultRule, { variation: 'off' });
  });

  it('property: a unit on the rollout variation at p% stays on it at every larger percentage (any names, keys, units)', () => {
    const name = fc.string({ minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(
        name,
        name,
        fc.string({ minLength: 1, maxLength: 12 }),
        fc.array(fc.string({ maxLength: 16 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 99 }),
        fc.integer({ min: 1, max: 99 }),
        (on, off, key, units, a, b) => {
          fc.pre(on !== off);
          const [low, high] = a <= b ? [a, b] : [b, a];
          const lowFlag = withRolloutState(baseFlag(on, off), state(low, off));
          const highFlag = withRolloutState(baseFlag(on, off), state(high, off));
          const lowSnapshot = compileFlagSet({ [key]: lowFlag });
          const highSnapshot = compileFlagSet({ [key]: highFlag });
          for (const unit of units) {
            if (evaluate(lowSnapshot, key, { targetingKey: unit }).variant === on) {
              assert.equal(evaluate(highSnapshot, key, { targetingKey: unit }).variant, on, `unit ${JSON.stringify(unit)} left ${on} going from ${low}% to ${high}%`);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('in GO Feature Flag form (/v1/flag/configuration) a step is a plain percentage rule, without the Vexil fields', () => {
    const flag = withRolloutState({ ...baseFlag('on', 'off'), killSwitch: { metric: 'e', thresholdRange: { max: 0.1 } } }, state(5, 'off'));
    assert.deepEqual(toGoFeatureFlagForm(flag, {}), { variations: { on: true, off: false }, defaultRule: { percentage: { on: 5, off: 95 } } });
  });

  it('rolloutServingRule keeps the baseline at 0% and serves the rollout alone at 100%', () => {
    assert.deepEqual(rolloutServingRule({ variation: 'off' }, 'on', 0), { variation: 'off' });
    assert.deepEqual(rolloutServingRule({ variation: 'off' }, 'on', 100), { variation: 'on' });
    assert.deepEqual(rolloutServingRule({ variation: 'off' }, 'on', 5), { percentage: { on: 5, off: 95 } });
  });
});

describe('a flag applied again while its rollout runs', () => {
  const file: FlagDefinition = { variations: { on: true, off: false }, defaultRule: { variation: 'off' }, rollout: { variation: 'on', steps: [5, 50], interval: '10m' } };
  const state: RolloutStateDefinition = {
    status: 'running', stepIndex: 0, percent: 5, baseline: { variation: 'off' }, startedAt: '2026-12-01T00:00:00.000Z', stepStartedAt: '2026-12-01T00:00:00.000Z',
    checks: 0, successful: 0, failed: 0, inconclusive: 0, consecutiveSuccess: 0, history: [],
  };
  const stored = withRolloutState(file, state);

  it('goes on when the plan and the baseline are unchanged', () => {
    assert.deepEqual(continueRollout(structuredClone(file), stored), stored);
  });
  it('starts over when the plan or the baseline changed, or when the write carries a state of its own', () => {
    const replanned = { ...file, rollout: { ...file.rollout!, steps: [10, 50] } };
    assert.deepEqual(continueRollout(replanned, stored), replanned);
    const rebased = { ...file, defaultRule: { variation: 'on' } };
    assert.deepEqual(continueRollout(rebased, stored), rebased);
    assert.deepEqual(continueRollout(stored, stored), stored);
    assert.deepEqual(continueRollout(file, undefined), file);
  });
});
