/**
 * The rollout decision, pure: (plan, state, measurements, now) → what to do. The controller applies it as a flag
 * write; tests drive it with a clock.
 *
 * Semantics (Argo Rollouts' counters, Flagger's loop):
 * - A step is served for at least one `interval`; at the end of each interval its gates are checked on the window since
 *   the step started. A check is successful when every gate is, failed when any gate is, else inconclusive.
 * - Counters as Argo Rollouts' analysis: successful → successful+1, consecutiveSuccess+1; failed → failed+1 and
 *   consecutiveSuccess reset; inconclusive → inconclusive+1 and consecutiveSuccess reset.
 * - `failed > failureLimit` (failed counted over the whole rollout, as Flagger's failedChecks; failureLimit −1 never
 *   trips) → `onFailure`: rollback (the baseline is served again) or pause.
 * - The step advances once `consecutiveSuccess ≥ max(1, consecutiveSuccessLimit)`. A failed check within the limit
 *   or an inconclusive one (too few units, no data, a source error) holds the step: it is checked again after another
 *   interval, and never advances on it. With `inconclusiveLimit` ≥ 0, more inconclusive checks than that on one step
 *   pause the rollout for a person (Argo's inconclusive analysis); `resume`, `skip` and `abort` are their answers.
 * - A gate with `dryRun` is judged and recorded in the history but never counted in a check's phase.
 * - A step listed in `approval` waits for a person before it is served (`wait-for-approval`); meanwhile the step
 *   being served keeps being checked, so a regression still rolls back.
 * - After the last step, promotion serves the rollout variation to everyone (100%) and ends the rollout.
 */
import type { GateCheck, RolloutCheckRecord, RolloutPlan, RolloutStateDefinition, Rule } from '@vexil/core';
import { judgeGate, type GateOptions } from './gates.js';
import type { Measurements, MeasurementRequest } from './measurements.js';

export type RolloutAction = 'hold' | 'advance' | 'promote' | 'pause' | 'rollback' | 'wait-for-approval';

export interface RolloutDecision {
  action: RolloutAction;
  /** The state after the decision (unchanged when nothing was due). */
  state: RolloutStateDefinition;
  /** The check made, when one was due. */
  check?: RolloutCheckRecord;
  /** Why, in words, with the figures: the audit reason of the write. */
  reason: string;
  /** True when the state changed and must be written. */
  changed: boolean;
}

/** At most this many checks are kept in the state's history (the audit log has every write). */
export const HISTORY_LIMIT = 200;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function freshCounters(): Pick<RolloutStateDefinition, 'checks' | 'successful' | 'failed' | 'inconclusive' | 'consecutiveSuccess'> {
  return { checks: 0, successful: 0, failed: 0, inconclusive: 0, consecutiveSuccess: 0 };
}

function pushHistory(state: RolloutStateDefinition, record: RolloutCheckRecord): RolloutCheckRecord[] {
  const history = [...state.history, record];
  return history.length > HISTORY_LIMIT ? history.slice(history.length - HISTORY_LIMIT) : history;
}

/** The state of a rollout that starts now: step 0 served, or waiting for approval when step 0 needs one. */
export function startRollout(plan: RolloutPlan, baseline: Rule, now: number): RolloutDecision {
  const waits = plan.approvalSteps.includes(0);
  const promoteNow = plan.steps.length === 0;
  const state: RolloutStateDefinition = {
    status: waits ? 'waiting-for-approval' : promoteNow ? 'promoted' : 'running',
    stepIndex: 0,
    percent: waits ? 0 : promoteNow ? 100 : plan.steps[0]!,
    baseline,
    startedAt: iso(now),
    stepStartedAt: iso(now),
    ...freshCounters(),
    history: [],
  };
  const action: RolloutAction = waits ? 'wait-for-approval' : promoteNow ? 'promote' : 'advance';
  const reason = waits ? `rollout of "${plan.variation}" waits for approval before serving ${plan.steps[0] ?? 100}%` : `rollout of "${plan.variation}" starts at ${state.percent}%`;
  state.history = [{ at: iso(now), stepIndex: 0, percent: state.percent, phase: 'successful', gates: [], decision: `${action}: ${reason}` }];
  return { action, state, reason, changed: true };
}

/** When the next check of this state is due (undefined: none, the rollout is paused or over). */
export function nextCheckAt(plan: RolloutPlan, state: RolloutStateDefinition): number | undefined {
  if (state.status !== 'running' && state.status !== 'waiting-for-approval') return undefined;
  if (state.status === 'waiting-for-approval' && state.percent === 0) return undefined; // nothing served yet to check
  const last = Date.parse(state.lastCheckAt ?? state.stepStartedAt);
  const stepStart = Date.parse(state.stepStartedAt);
  return Math.max(last, stepStart) + plan.intervalMs;
}

/** What the gates of this state need measured at `now`: the window since the step started. */
export function measurementRequest(flagKey: string, plan: RolloutPlan, state: RolloutStateDefinition, now: number): MeasurementRequest {
  const metrics = new Map<string, Set<number>>();
  const queries: string[] = [];
  for (const gate of plan.gates) {
    if (gate.kind === 'prometheus') queries.push(gate.query);
    else {
      const quantiles = metrics.get(gate.metric) ?? new Set<number>();
      if (gate.kind === 'quantile') quantiles.add(gate.quantile);
      metrics.set(gate.metric, quantiles);
    }
  }
  return {
    flagKey,
    rolloutVariation: plan.variation,
    controlVariation: controlVariationOf(state),
    metrics: [...metrics].map(([metric, quantiles]) => ({ metric, quantiles: [...quantiles] })),
    queries,
    from: Date.parse(state.stepStartedAt),
    to: now,
  };
}

export function controlVariationOf(state: RolloutStateDefinition): string {
  const baseline = state.baseline;
  if (typeof baseline.variation === 'string' && baseline.percentage === undefined) return baseline.variation;
  const served = Object.entries(baseline.percentage ?? {}).find(([, weight]) => weight > 0);
  return served?.[0] ?? String(baseline.variation);
}

/** The check's phase from its gates; dry-run gates are recorded but not counted (Argo Rollouts' dryRun). */
function checkPhase(gates: GateCheck[]): GateCheck['phase'] {
  const counted = gates.filter((gate) => gate.dryRun !== true);
  if (counted.some((gate) => gate.phase === 'failed')) return 'failed';
  if (counted.some((gate) => gate.phase === 'inconclusive')) return 'inconclusive';
  return 'successful';
}

export function describeGates(gates: GateCheck[]): string {
  return gates
    .map((gate) => {
      const figures: string[] = [];
      if (gate.value !== undefined) figures.push(`value ${gate.value}`);
      if (gate.control !== undefined) figures.push(`control ${gate.control}`);
      if (gate.increase !== undefined) figures.push(`increase ${Number.isFinite(gate.increase) ? `${Math.round(gate.increase * 1000) / 10}%` : '∞'}`);
      if (gate.increaseLowerBound !== undefined) figures.push(`lower bound ${Math.round(gate.increaseLowerBound * 1000) / 10}%`);
      if (gate.units) figures.push(`units ${gate.units.rollout}${gate.units.control !== undefined ? `/${gate.units.control}` : ''}`);
      return `${gate.gate}${gate.dryRun ? ' [dry run]' : ''}: ${gate.phase} (${[...figures, `threshold ${gate.threshold}`].join(', ')}${gate.message ? `; ${gate.message}` : ''})`;
    })
    .join('; ');
}

/** Moves to step `index` (or promotes past the last step), through its approval when it needs one. */
function enterStep(plan: RolloutPlan, state: RolloutStateDefinition, index: number, now: number, approved: boolean): { action: RolloutAction; state: RolloutStateDefinition } {
  const base = { ...state, ...freshCounters(), failed: state.failed, stepIndex: index, lastCheckAt: undefined };
  delete base.lastCheckAt;
  if (!approved && plan.approvalSteps.includes(index)) {
    return { action: 'wait-for-approval', state: { ...base, status: 'waiting-for-approval', percent: state.percent, stepStartedAt: iso(now) } };
  }
  if (index >= plan.steps.length) return { action: 'promote', state: { ...base, status: 'promoted', percent: 100, stepStartedAt: iso(now) } };
  return { action: 'advance', state: { ...base, status: 'running', percent: plan.steps[index]!, stepStartedAt: iso(now) } };
}

/**
 * Decides at `now`. Measurements are those of `measurementRequest` (undefined: the source gave nothing, so every gate
 * is inconclusive). Nothing is due before `nextCheckAt`: then the answer is `hold` with `changed: false`.
 */
export function decideRollout(
  plan: RolloutPlan,
  state: RolloutStateDefinition,
  measurements: Measurements | undefined,
  now: number,
  options: Omit<GateOptions, 'minSampleSize'> = {},
): RolloutDecision {
  const due = nextCheckAt(plan, state);
  if (due === undefined) return { action: state.status === 'waiting-for-approval' ? 'wait-for-approval' : 'hold', state, reason: `rollout is ${state.status}`, changed: false };
  if (now < due) return { action: state.status === 'waiting-for-approval' ? 'wait-for-approval' : 'hold', state, reason: `next check at ${iso(due)}`, changed: false };

  const gates = plan.gates.map((gate) => {
    const judged = judgeGate(gate, measurements, { ...options, minSampleSize: plan.minSampleSize });
    return gate.dryRun ? { ...judged, dryRun: true } : judged;
  });
  const phase = checkPhase(gates);
  const counted: RolloutStateDefinition = {
    ...state,
    lastCheckAt: iso(now),
    checks: state.checks + 1,
    successful: state.successful + (phase === 'successful' ? 1 : 0),
    failed: state.failed + (phase === 'failed' ? 1 : 0),
    inconclusive: state.inconclusive + (phase === 'inconclusive' ? 1 : 0),
    consecutiveSuccess: phase === 'successful' ? state.consecutiveSuccess + 1 : 0,
  };
  const figures = gates.length ? describeGates(gates) : 'no gates';
  const at = `step ${state.stepIndex + 1}/${plan.steps.length} (${state.percent}%)`;

  let action: RolloutAction;
  let next: RolloutStateDefinition;
  let reason: string;
  if (plan.failureLimit >= 0 && counted.failed > plan.failureLimit) {
    action = plan.onFailure === 'pause' ? 'pause' : 'rollback';
    reason = `${action} at ${at}: ${counted.failed} failed checks > failureLimit ${plan.failureLimit}; ${figures}`;
    next = { ...counted, status: action === 'pause' ? 'paused' : 'rolled-back', percent: action === 'pause' ? state.percent : 0, reason };
  } else if (plan.inconclusiveLimit >= 0 && counted.inconclusive > plan.inconclusiveLimit) {
    // Argo Rollouts: too many inconclusive runs make the analysis inconclusive, and the rollout waits for a person.
    action = 'pause';
    reason = `pause at ${at}: ${counted.inconclusive} inconclusive checks > inconclusiveLimit ${plan.inconclusiveLimit}; ${figures}`;
    next = { ...counted, status: 'paused', reason };
  } else if (state.status === 'waiting-for-approval') {
    action = 'wait-for-approval';
    reason = `waiting for approval of step ${state.stepIndex + 1 > plan.steps.length ? 'promotion' : `${state.stepIndex + 1} (${plan.steps[state.stepIndex]}%)`}; check ${phase} at ${state.percent}%: ${figures}`;
    next = counted;
  } else if (phase === 'successful' && counted.consecutiveSuccess >= Math.max(1, plan.consecutiveSuccessLimit)) {
    const entered = enterStep(plan, counted, state.stepIndex + 1, now, false);
    action = entered.action;
    next = entered.state;
    const target = action === 'promote' ? 'promote to 100%' : action === 'advance' ? `advance to ${next.percent}%` : `wait for approval of the next step`;
    reason = `${target} after ${at}: ${counted.consecutiveSuccess} successful check(s) in a row; ${figures}`;
  } else {
    action = 'hold';
    reason = `hold ${at}: check ${phase} (${counted.failed} failed of failureLimit ${plan.failureLimit}, ${counted.consecutiveSuccess} successful in a row); ${figures}`;
    next = counted;
  }
  const check: RolloutCheckRecord = { at: iso(now), stepIndex: state.stepIndex, percent: state.percent, phase, gates, decision: `${action}: ${reason}` };
  return { action, state: { ...next, history: pushHistory(state, check) }, check, reason, changed: true };
}

export type ManualCommand = 'approve' | 'pause' | 'resume' | 'abort' | 'skip';

/** A person's command, by the admin API or the CLI. Throws a `RolloutCommandError` when it makes no sense in this state. */
export function applyManualCommand(plan: RolloutPlan, state: RolloutStateDefinition, command: ManualCommand, now: number, actor: string): RolloutDecision {
  const record = (action: RolloutAction, next: RolloutStateDefinition, reason: string): RolloutDecision => ({
    action,
    state: { ...next, history: pushHistory(state, { at: iso(now), stepIndex: next.stepIndex, percent: next.percent, phase: 'successful', gates: [], decision: `${action}: ${reason}` }) },
    reason,
    changed: true,
  });
  const over = state.status === 'promoted' || state.status === 'rolled-back' || state.status === 'aborted';
  if (over) throw new RolloutCommandError(`the rollout is ${state.status}: nothing to ${command}`);
  switch (command) {
    case 'approve': {
      if (state.status !== 'waiting-for-approval') throw new RolloutCommandError(`nothing waits for approval (the rollout is ${state.status})`);
      const entered = enterStep(plan, state, state.stepIndex, now, true);
      return record(entered.action, entered.state, `${actor} approved ${entered.action === 'promote' ? 'promotion to 100%' : `step ${state.stepIndex + 1} (${entered.state.percent}%)`}`);
    }
    case 'pause':
      if (state.status === 'paused') throw new RolloutCommandError('the rollout is already paused');
      return record('pause', { ...state, status: 'paused', reason: `paused by ${actor}` }, `paused by ${actor} at ${state.percent}%`);
    case 'resume': {
      if (state.status !== 'paused') throw new RolloutCommandError(`the rollout is ${state.status}, not paused`);
      // Argo's retry: the step starts over with fresh counters.
      const waiting = state.percent < (plan.steps[state.stepIndex] ?? 100);
      const next: RolloutStateDefinition = { ...state, ...freshCounters(), status: waiting ? 'waiting-for-approval' : 'running', stepStartedAt: iso(now) };
      delete next.lastCheckAt;
      delete next.reason;
      return record(waiting ? 'wait-for-approval' : 'hold', next, `resumed by ${actor} at ${state.percent}%`);
    }
    case 'abort': {
      const reason = `aborted by ${actor} at ${state.percent}%`;
      return record('rollback', { ...state, status: 'aborted', percent: 0, reason }, reason);
    }
    case 'skip': {
      const from = state.status === 'waiting-for-approval' ? state.stepIndex : state.stepIndex + 1;
      const entered = enterStep(plan, state, from, now, state.status === 'waiting-for-approval');
      return record(entered.action, entered.state, `${actor} skipped step ${state.stepIndex + 1}: ${entered.action === 'promote' ? 'promoted to 100%' : entered.action === 'advance' ? `now ${entered.state.percent}%` : 'the next step waits for approval'}`);
    }
  }
}

export class RolloutCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RolloutCommandError';
  }
}
