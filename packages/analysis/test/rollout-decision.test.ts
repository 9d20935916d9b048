import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normalizeRolloutPlan, type RolloutPlanDefinition, type RolloutStateDefinition } from '@vexil/core';
import {
  applyManualCommand,
  decideRollout,
  judgeGate,
  judgeKillSwitch,
  measurementRequest,
  nextCheckAt,
  RolloutCommandError,
  startRollout,
  type ArmMeasurement,
  type Measurements,
  type RolloutAction,
} from '../src/index.js';

const MINUTE = 60_000;
const T0 = Date.parse('2026-03-01T00:00:00Z');

function plan(overrides: Partial<RolloutPlanDefinition> = {}) {
  return normalizeRolloutPlan({
    variation: 'on',
    steps: [1, 5, 25, 50, 100],
    interval: '10m',
    gates: [{ metric: 'checkout-error', compare: 'control', maxIncrease: '10%' }],
    minSampleSize: 200,
    ...overrides,
  });
}

function arm(variation: string, units: number, errors: number, p99?: number): ArmMeasurement {
  return { variation, units, metrics: { 'checkout-error': { events: errors, errors }, request: { events: units, errors: 0, ...(p99 !== undefined ? { quantiles: { '0.99': p99 } } : {}) } } };
}

function measured(rolloutUnits: number, rolloutErrors: number, controlUnits: number, controlErrors: number, extra: Partial<Measurements> = {}): Measurements {
  return { rollout: arm('on', rolloutUnits, rolloutErrors), control: arm('off', controlUnits, controlErrors), queries: {}, ...extra };
}

/** A seeded PRNG (mulberry32), so simulations are reproducible. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function binomial(n: number, p: number, rng: () => number): number {
  let k = 0;
  for (let i = 0; i < n; i++) if (rng() < p) k++;
  return k;
}

interface Simulation {
  actions: Array<{ at: number; action: RolloutAction; percent: number }>;
  final: RolloutStateDefinition;
}

/**
 * Runs a plan with a clock ticking every minute for `hours`, with `unitsPerMinute` units split by the served percent
 * and error rates per arm; measurements are cumulative since the step started, as the controller asks.
 */
function simulate(p: ReturnType<typeof plan>, options: { hours: number; unitsPerMinute: number; controlRate: number; rolloutRate: (minute: number) => number; seed: number }): Simulation {
  const rng = random(options.seed);
  let state = startRollout(p, { variation: 'off' }, T0).state;
  const actions: Simulation['actions'] = [];
  let window = { rolloutUnits: 0, rolloutErrors: 0, controlUnits: 0, controlErrors: 0, from: state.stepStartedAt };
  for (let minute = 1; minute <= options.hours * 60; minute++) {
    const now = T0 + minute * MINUTE;
    if (window.from !== state.stepStartedAt) window = { rolloutUnits: 0, rolloutErrors: 0, controlUnits: 0, controlErrors: 0, from: state.stepStartedAt };
    const onRollout = binomial(options.unitsPerMinute, state.percent / 100, rng);
    const onControl = options.unitsPerMinute - onRollout;
    window.rolloutUnits += onRollout;
    window.controlUnits += onControl;
    window.rolloutErrors += binomial(onRollout, options.rolloutRate(minute), rng);
    window.controlErrors += binomial(onControl, options.controlRate, rng);
    const decision = decideRollout(p, state, measured(window.rolloutUnits, window.rolloutErrors, window.controlUnits, window.controlErrors), now);
    if (decision.changed && decision.action !== 'hold') actions.push({ at: minute, action: decision.action, percent: decision.state.percent });
    state = decision.state;
    if (state.status !== 'running' && state.status !== 'waiting-for-approval') break;
  }
  return { actions, final: state };
}

describe('rollout decision: a plan of hours, on a clock', () => {
  it('a healthy canary advances once per interval through every step, then promotes', () => {
    // 1% of 4000 units a minute: 400 units on the rollout arm by the end of the first interval (minSampleSize 200).
    const run = simulate(plan(), { hours: 3, unitsPerMinute: 4000, controlRate: 0.02, rolloutRate: () => 0.02, seed: 1 });
    assert.deepEqual(
      run.actions.map((a) => `${a.at}m ${a.action} ${a.percent}%`),
      ['10m advance 5%', '20m advance 25%', '30m advance 50%', '40m promote 100%'],
    );
    assert.equal(run.final.status, 'promoted');
  });

  it('nothing is judged before the interval is over', () => {
    const p = plan();
    const start = startRollout(p, { variation: 'off' }, T0);
    assert.equal(start.action, 'advance');
    assert.equal(start.state.percent, 1);
    assert.equal(nextCheckAt(p, start.state), T0 + 10 * MINUTE);
    const early = decideRollout(p, start.state, measured(5000, 0, 5000, 0), T0 + 10 * MINUTE - 1);
    assert.deepEqual([early.action, early.changed], ['hold', false]);
    const due = decideRollout(p, start.state, measured(5000, 0, 5000, 0), T0 + 10 * MINUTE);
    assert.deepEqual([due.action, due.state.percent], ['advance', 5]);
  });

  it('a canary whose error rate doubles is rolled back within two intervals of the regression (failureLimit 1)', () => {
    const regressionAt = 25; // minutes, during the 25% step
    const run = simulate(plan({ failureLimit: 1 }), { hours: 3, unitsPerMinute: 4000, controlRate: 0.02, rolloutRate: (m) => (m >= regressionAt ? 0.04 : 0.02), seed: 7 });
    const rollback = run.actions.find((a) => a.action === 'rollback');
    assert.ok(rollback, JSON.stringify(run.actions));
    assert.equal(run.final.status, 'rolled-back');
    assert.equal(run.final.percent, 0);
    assert.ok(rollback.at - regressionAt <= 2 * 10, `rolled back ${rollback.at - regressionAt} minutes after the regression`);
    assert.match(run.final.reason!, /checkout-error vs control: failed \(value [\d.]+, control [\d.]+, increase [\d.]+%/);
  });

  it('the 1% step with too few units holds until enough units arrived, then advances', () => {
    const run = simulate(plan(), { hours: 3, unitsPerMinute: 400, controlRate: 0.02, rolloutRate: () => 0.02, seed: 1 });
    assert.ok(run.actions[0]!.at > 10 && run.actions[0]!.at % 10 === 0, JSON.stringify(run.actions));
    assert.equal(run.final.status, 'promoted');
  });

  it('time to detect a doubled error rate (2% → 4%) from the first step, by traffic (figures for the README)', () => {
    const rows: string[] = [];
    for (const unitsPerMinute of [1000, 4000, 16000, 64000]) {
      const minutes: number[] = [];
      for (let seed = 1; seed <= 10; seed++) {
        const run = simulate(plan(), { hours: 6, unitsPerMinute, controlRate: 0.02, rolloutRate: () => 0.04, seed: 500 + seed });
        const rollback = run.actions.find((a) => a.action === 'rollback');
        minutes.push(rollback ? rollback.at : Infinity);
      }
      minutes.sort((a, b) => a - b);
      rows.push(`${unitsPerMinute} units/min: median ${minutes[5]} min, worst ${minutes[9]} min (10 seeds)`);
      if (unitsPerMinute >= 16000) assert.ok(minutes[9]! <= 20, `${unitsPerMinute}: ${minutes}`);
      assert.ok(minutes[9]! < Infinity, `${unitsPerMinute} units/min: a doubled error rate was never detected`);
    }
    console.log(`detection of a doubled error rate (steps 1/5/25/50%, interval 10m, minSampleSize 200):\n  ${rows.join('\n  ')}`);
  });

  it('too little traffic holds the step: inconclusive checks never advance, never roll back', () => {
    const run = simulate(plan(), { hours: 24, unitsPerMinute: 3, controlRate: 0.02, rolloutRate: () => 0.5, seed: 3 });
    assert.deepEqual(run.actions, []);
    assert.equal(run.final.status, 'running');
    assert.equal(run.final.percent, 1);
    assert.equal(run.final.failed, 0);
    assert.equal(run.final.checks, 24 * 6);
    assert.equal(run.final.inconclusive, 24 * 6);
    assert.match(run.final.history.at(-1)!.decision, /too few units/);
  });

  it('no measurements at all (the source failed) is inconclusive, never a pass', () => {
    const p = plan();
    const state = startRollout(p, { variation: 'off' }, T0).state;
    const decision = decideRollout(p, state, undefined, T0 + 10 * MINUTE);
    assert.equal(decision.action, 'hold');
    assert.equal(decision.check?.phase, 'inconclusive');
  });

  it('A/A: 100 simulated rollouts of identical variations: false rollbacks are rare (counted)', () => {
    let rollbacks = 0;
    let promoted = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const run = simulate(plan(), { hours: 2, unitsPerMinute: 3000, controlRate: 0.05, rolloutRate: () => 0.05, seed: 1000 + seed });
      if (run.final.status === 'rolled-back') rollbacks++;
      if (run.final.status === 'promoted') promoted++;
    }
    console.log(`A/A: ${rollbacks} false rollbacks, ${promoted} promotions out of 100 (failureLimit 0, maxIncrease 10%)`);
    assert.ok(rollbacks <= 5, `${rollbacks} false rollbacks of 100`);
    assert.ok(promoted >= 95);
  });
});

describe('rollout decision: Argo Rollouts counters', () => {
  type Phase = 'S' | 'F' | 'I';
  const gatePlan = (overrides: Partial<RolloutPlanDefinition>) => plan({ steps: [10, 20, 30, 40, 50, 60, 70, 80], gates: [{ prometheus: 'q', thresholdRange: { max: 1 } }], ...overrides });
  const resultOf: Record<Phase, Measurements> = {
    S: { queries: { q: { ok: true, value: 0.5 } } },
    F: { queries: { q: { ok: true, value: 2 } } },
    I: { queries: { q: { ok: false, reason: 'no-data', message: 'empty vector' } } },
  };
  function run(overrides: Partial<RolloutPlanDefinition>, phases: Phase[]): RolloutAction[] {
    const p = gatePlan(overrides);
    let state = startRollout(p, { variation: 'off' }, T0).state;
    const actions: RolloutAction[] = [];
    phases.forEach((phase, i) => {
      const decision = decideRollout(p, state, resultOf[phase], T0 + (i + 1) * 10 * MINUTE);
      actions.push(decision.action);
      state = decision.state;
    });
    return actions;
  }
  const table: Array<[string, Partial<RolloutPlanDefinition>, Phase[], RolloutAction[]]> = [
    ['failureLimit 2: the third failure rolls back', { failureLimit: 2 }, ['F', 'F', 'F'], ['hold', 'hold', 'rollback']],
    ['failureLimit 0 (default): the first failure rolls back', {}, ['S', 'F'], ['advance', 'rollback']],
    ['failureLimit -1: failures never act', { failureLimit: -1 }, ['F', 'F', 'F', 'S'], ['hold', 'hold', 'hold', 'advance']],
    ['failures accumulate across steps (Flagger)', { failureLimit: 1 }, ['F', 'S', 'F'], ['hold', 'advance', 'rollback']],
    ['Argo case: count 5, failureLimit 1, consecutiveSuccessLimit 3, S F S S F fails', { failureLimit: 1, consecutiveSuccessLimit: 3 }, ['S', 'F', 'S', 'S', 'F'], ['hold', 'hold', 'hold', 'hold', 'rollback']],
    ['consecutiveSuccessLimit 3: three successes in a row advance', { consecutiveSuccessLimit: 3, failureLimit: 5 }, ['S', 'S', 'I', 'S', 'S', 'S'], ['hold', 'hold', 'hold', 'hold', 'hold', 'advance']],
    ['inconclusive holds, never advances nor fails', {}, ['I', 'I', 'I', 'I'], ['hold', 'hold', 'hold', 'hold']],
    ['onFailure pause pauses', { onFailure: 'pause' }, ['F'], ['pause']],
    ['inconclusiveLimit 2: the third inconclusive check on a step pauses', { inconclusiveLimit: 2 }, ['I', 'I', 'I'], ['hold', 'hold', 'pause']],
    ['inconclusiveLimit counts per step: a step advanced resets it', { inconclusiveLimit: 1 }, ['I', 'S', 'I', 'S', 'I', 'I'], ['hold', 'advance', 'hold', 'advance', 'hold', 'pause']],
    ['inconclusiveLimit 0: the first inconclusive check pauses', { inconclusiveLimit: 0 }, ['S', 'I'], ['advance', 'pause']],
    ['a dry-run gate never fails a check', { gates: [{ prometheus: 'q', thresholdRange: { max: 1 }, dryRun: true }] }, ['F', 'F', 'I'], ['advance', 'advance', 'advance']],
  ];
  for (const [name, overrides, phases, expected] of table) {
    it(name, () => assert.deepEqual(run(overrides, phases), expected));
  }

  it('a dry-run gate is recorded with its figures beside the gates that count', () => {
    const p = plan({ gates: [{ prometheus: 'q', thresholdRange: { max: 1 } }, { prometheus: 'latency', thresholdRange: { max: 0.5 }, dryRun: true }] });
    const state = startRollout(p, { variation: 'off' }, T0).state;
    const decision = decideRollout(p, state, { queries: { q: { ok: true, value: 0.5 }, latency: { ok: true, value: 0.9 } } }, T0 + 10 * MINUTE);
    assert.equal(decision.action, 'advance');
    assert.equal(decision.check?.phase, 'successful');
    assert.deepEqual(decision.check?.gates.map((gate) => [gate.gate, gate.phase, gate.dryRun ?? false]), [['q', 'successful', false], ['latency', 'failed', true]]);
    assert.match(decision.reason, /latency \[dry run\]: failed \(value 0\.9/);
  });

  it('a pause on inconclusive checks names the limit; resume starts the step over', () => {
    const p = gatePlan({ inconclusiveLimit: 0 });
    const state = startRollout(p, { variation: 'off' }, T0).state;
    const paused = decideRollout(p, state, resultOf.I, T0 + 10 * MINUTE);
    assert.equal(paused.state.status, 'paused');
    assert.match(paused.reason, /1 inconclusive checks > inconclusiveLimit 0/);
    const resumed = applyManualCommand(p, paused.state, 'resume', T0 + 11 * MINUTE, 'alice');
    assert.equal(resumed.state.status, 'running');
    assert.equal(resumed.state.inconclusive, 0);
  });

  it('property: an inconclusive check never advances, and no decision ever moves the served percentage down except a rollback', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom<Phase>('S', 'F', 'I'), { minLength: 1, maxLength: 30 }), fc.integer({ min: -1, max: 3 }), fc.integer({ min: 0, max: 3 }), (phases, failureLimit, consecutiveSuccessLimit) => {
        const p = gatePlan({ failureLimit, consecutiveSuccessLimit });
        let state = startRollout(p, { variation: 'off' }, T0).state;
        for (const [i, phase] of phases.entries()) {
          const decision = decideRollout(p, state, resultOf[phase], T0 + (i + 1) * 10 * MINUTE);
          if (phase === 'I') assert.ok(decision.action === 'hold' || decision.action === 'rollback' || decision.action === 'pause');
          if (decision.action !== 'rollback') assert.ok(decision.state.percent >= state.percent);
          if (decision.action === 'advance' || decision.action === 'promote') assert.equal(phase, 'S');
          if (decision.action === 'rollback') assert.ok(failureLimit >= 0 && decision.state.failed > failureLimit);
          state = decision.state;
          if (state.status !== 'running') break;
        }
      }),
    );
  });
});

describe('rollout gates', () => {
  const opts = { minSampleSize: 200 };
  const relative = plan().gates[0]!;
  it('relative gate: a doubled error rate fails, an equal one passes, a tiny sample is inconclusive', () => {
    assert.equal(judgeGate(relative, measured(4000, 160, 4000, 80), opts).phase, 'failed');
    assert.equal(judgeGate(relative, measured(4000, 80, 4000, 80), opts).phase, 'successful');
    const small = judgeGate(relative, measured(150, 100, 4000, 80), opts);
    assert.equal(small.phase, 'inconclusive');
    assert.match(small.message!, /too few units \(rollout 150, control 4000; need 200 each\)/);
  });
  it('relative gate: an increase within maxIncrease passes', () => {
    assert.equal(judgeGate(relative, measured(20_000, 420, 20_000, 400), opts).phase, 'successful');
  });
  it('absolute rate gate and quantile gate judge the rollout arm against thresholdRange', () => {
    const p = plan({ gates: [{ metric: 'checkout-error', thresholdRange: { max: 0.02 } }, { metric: 'request', quantile: 0.99, thresholdRange: { max: 800 } }] });
    const healthy: Measurements = { rollout: arm('on', 1000, 10, 420), control: arm('off', 1000, 10, 400), queries: {} };
    const slow: Measurements = { rollout: arm('on', 1000, 30, 950), control: arm('off', 1000, 10, 400), queries: {} };
    assert.deepEqual(p.gates.map((g) => judgeGate(g, healthy, opts).phase), ['successful', 'successful']);
    assert.deepEqual(p.gates.map((g) => judgeGate(g, slow, opts)).map((c) => [c.phase, c.value]), [['failed', 0.03], ['failed', 950]]);
    const noLatency: Measurements = { rollout: arm('on', 1000, 10), control: arm('off', 1000, 10), queries: {} };
    assert.equal(judgeGate(p.gates[1]!, noLatency, opts).phase, 'inconclusive');
  });
  it('prometheus gate: an error, no data or NaN is inconclusive', () => {
    const gate = { kind: 'prometheus' as const, name: 'p99', query: 'q', thresholdRange: { max: 0.5 } };
    assert.equal(judgeGate(gate, { queries: { q: { ok: true, value: 0.3 } } }, opts).phase, 'successful');
    assert.equal(judgeGate(gate, { queries: { q: { ok: true, value: 0.7 } } }, opts).phase, 'failed');
    assert.equal(judgeGate(gate, { queries: { q: { ok: true, value: Number.NaN } } }, opts).phase, 'inconclusive');
    assert.equal(judgeGate(gate, { queries: { q: { ok: false, reason: 'error', message: 'bad_data' } } }, opts).phase, 'inconclusive');
    assert.equal(judgeGate(gate, { queries: {} }, opts).phase, 'inconclusive');
  });
  it('the measurement request names the arms, metrics, quantiles and queries, over the window since the step started', () => {
    const p = plan({ gates: [{ metric: 'checkout-error', compare: 'control', maxIncrease: 0.1 }, { metric: 'request', quantile: 0.99, thresholdRange: { max: 800 } }, { prometheus: 'up', thresholdRange: { min: 1 } }] });
    const state = startRollout(p, { variation: 'off' }, T0).state;
    assert.deepEqual(measurementRequest('f', p, state, T0 + 5), {
      flagKey: 'f',
      rolloutVariation: 'on',
      controlVariation: 'off',
      metrics: [{ metric: 'checkout-error', quantiles: [] }, { metric: 'request', quantiles: [0.99] }],
      queries: ['up'],
      from: T0,
      to: T0 + 5,
    });
  });
  it('kill switch trips on the error rate over all arms once enough units were exposed', () => {
    const ks = { metric: 'checkout-error', thresholdRange: { max: 0.05 }, minSampleSize: 100 };
    assert.equal(judgeKillSwitch(ks, [arm('on', 50, 40)]).trips, false);
    assert.equal(judgeKillSwitch(ks, [arm('on', 500, 10), arm('off', 500, 10)]).trips, false);
    const tripped = judgeKillSwitch(ks, [arm('on', 500, 60), arm('off', 500, 0)]);
    assert.equal(tripped.trips, true);
    assert.equal(tripped.value, 0.06);
  });
});

describe('rollout: manual commands', () => {
  it('approval steps wait for a person; checks go on meanwhile; approve serves the step', () => {
    const p = plan({ approval: [50] });
    let state = startRollout(p, { variation: 'off' }, T0).state;
    const healthy = measured(5000, 100, 5000, 100);
    for (let i = 1; i <= 3; i++) state = decideRollout(p, state, healthy, T0 + i * 10 * MINUTE).state;
    assert.deepEqual([state.status, state.percent, state.stepIndex], ['waiting-for-approval', 25, 3]);
    const waiting = decideRollout(p, state, healthy, T0 + 40 * MINUTE);
    assert.equal(waiting.action, 'wait-for-approval');
    assert.equal(waiting.state.percent, 25);
    const approved = applyManualCommand(p, waiting.state, 'approve', T0 + 41 * MINUTE, 'alice');
    assert.deepEqual([approved.action, approved.state.status, approved.state.percent], ['advance', 'running', 50]);
    assert.match(approved.reason, /alice approved step 4 \(50%\)/);
    const regression = decideRollout(p, waiting.state, measured(5000, 300, 5000, 100), T0 + 50 * MINUTE);
    assert.equal(regression.action, 'rollback', 'a regression while waiting for approval still rolls back');
  });
  it('pause, resume, skip and abort', () => {
    const p = plan();
    const state = startRollout(p, { variation: 'off' }, T0).state;
    const paused = applyManualCommand(p, state, 'pause', T0 + MINUTE, 'bob').state;
    assert.equal(paused.status, 'paused');
    assert.equal(decideRollout(p, paused, measured(5000, 0, 5000, 0), T0 + 60 * MINUTE).changed, false, 'a paused rollout is not checked');
    assert.throws(() => applyManualCommand(p, paused, 'approve', T0, 'bob'), RolloutCommandError);
    const resumed = applyManualCommand(p, paused, 'resume', T0 + 2 * MINUTE, 'bob').state;
    assert.deepEqual([resumed.status, nextCheckAt(p, resumed)], ['running', T0 + 12 * MINUTE]);
    const skipped = applyManualCommand(p, resumed, 'skip', T0 + 3 * MINUTE, 'bob');
    assert.deepEqual([skipped.action, skipped.state.percent], ['advance', 5]);
    const aborted = applyManualCommand(p, skipped.state, 'abort', T0 + 4 * MINUTE, 'bob');
    assert.deepEqual([aborted.action, aborted.state.status, aborted.state.percent], ['rollback', 'aborted', 0]);
    assert.throws(() => applyManualCommand(p, aborted.state, 'resume', T0, 'bob'), /the rollout is aborted/);
  });
});
