/**
 * Vexil's progressive-delivery extension of the flag format: `rollout` (a plan of steps with metric gates, judged by
 * the rollout controller) and `killSwitch` (a gate that disables the flag when it trips), as users write them; and
 * `rolloutState`, which only the controller writes: the step being served, its counters and its check history.
 *
 * A flag without these fields is evaluated exactly as GO Feature Flag does. With them, the flag is still served by
 * GO Feature Flag's own rules: the controller rewrites `defaultRule` into a percentage split at each step
 * (`rollout/progressive-delivery.ts`), so an exported flag serves the same in GO Feature Flag.
 */
import type { Rule } from './flag.js';

/** `{ min, max }`: a measured value below `min` or above `max` fails (Flagger's thresholdRange). */
export interface ThresholdRange {
  min?: number;
  max?: number;
}

/**
 * One gate, judged at the end of each interval. Exactly one kind:
 * - `metric` + `compare: control` + `maxIncrease`: the rollout arm's rate of `metric` errors per exposed unit is not
 *   more than `maxIncrease` above the control arm's (a one-sided sequential test, so an A/A rarely fails);
 * - `metric` + `thresholdRange`: the rollout arm's rate of `metric` errors per exposed unit, absolute;
 * - `metric` + `quantile` + `thresholdRange`: the rollout arm's quantile of `metric` values (e.g. latency p99);
 * - `prometheus` + `thresholdRange`: a PromQL query returning one number.
 */
export interface RolloutGate {
  /** Shown in the history; defaults to the metric or the query. */
  name?: string;
  metric?: string;
  compare?: 'control';
  /** `10%` or 0.1: the largest tolerated relative increase over the control arm. */
  maxIncrease?: string | number;
  /** 0 < quantile < 1. */
  quantile?: number;
  prometheus?: string;
  thresholdRange?: ThresholdRange;
  /** Argo Rollouts' dryRun: measured, judged and recorded in the history, but never counted in a check's result. */
  dryRun?: boolean;
}

export type RolloutOnFailure = 'rollback' | 'pause';

export interface RolloutPlanDefinition {
  /** The variation being released; the other units stay on what the flag served before the rollout. */
  variation?: string;
  /** Percent of units on `variation` at each step, increasing; the last one may be 100 (else promotion follows it). */
  steps?: number[];
  /** Flagger's form: add `stepWeight` each step until `maxWeight` (default 100) is reached, then promote. */
  stepWeight?: number;
  maxWeight?: number;
  /** Time on each step before its gates are judged, e.g. `10m`, `1h30m`, `45s`. */
  interval?: string;
  /** Steps (percentages from `steps`) that wait for a person before they are served. */
  approval?: number[];
  onFailure?: RolloutOnFailure;
  gates?: RolloutGate[];
  /** Failed checks tolerated before acting (Argo Rollouts; default 0: the first failure acts; -1: never). */
  failureLimit?: number;
  /** Successful checks in a row that end a step early (Argo Rollouts; 0: off, the step needs every check of its interval). */
  consecutiveSuccessLimit?: number;
  /** Units per arm below which a check is inconclusive, never a pass. Default 100. */
  minSampleSize?: number;
  /**
   * Inconclusive checks tolerated on one step before the rollout pauses for a person (Argo Rollouts). Default -1:
   * never; an inconclusive check holds the step and it is checked again.
   */
  inconclusiveLimit?: number;
}

export interface KillSwitchDefinition {
  metric?: string;
  thresholdRange?: ThresholdRange;
  /** How far back the metric is measured, e.g. `5m`. Default 5m. */
  window?: string;
  minSampleSize?: number;
}

/** What one gate measured at one check. */
export interface GateCheck {
  gate: string;
  /** successful | failed | inconclusive (no data, too few units, the source failed). */
  phase: 'successful' | 'failed' | 'inconclusive';
  /** The measured figure (rollout arm), when there is one. */
  value?: number;
  /** The control arm's figure, for relative gates. */
  control?: number;
  /** Relative increase over control and its one-sided lower bound, for relative gates. */
  increase?: number;
  increaseLowerBound?: number;
  units?: { rollout: number; control?: number };
  /** A dry-run gate: recorded, not counted in the check's phase. */
  dryRun?: boolean;
  /** The threshold, in words (e.g. "≤ 0.02", "increase ≤ 10%"). */
  threshold: string;
  message?: string;
}

export interface RolloutCheckRecord {
  at: string;
  stepIndex: number;
  percent: number;
  phase: 'successful' | 'failed' | 'inconclusive';
  gates: GateCheck[];
  decision: string;
}

export type RolloutStatus = 'running' | 'waiting-for-approval' | 'paused' | 'promoted' | 'rolled-back' | 'aborted';

/** Written by the rollout controller only (a user who re-applies a flag without it restarts the rollout from scratch). */
export interface RolloutStateDefinition {
  status: RolloutStatus;
  /** Index into the plan's step percentages of the step being served (or awaiting approval). */
  stepIndex: number;
  /** Percent of units being served the rollout variation now. */
  percent: number;
  /** The default rule as it was before the rollout: what the other units keep, and what a rollback restores. */
  baseline: Rule;
  startedAt: string;
  stepStartedAt: string;
  lastCheckAt?: string;
  /** Argo Rollouts' counters for the current step. */
  checks: number;
  successful: number;
  failed: number;
  inconclusive: number;
  consecutiveSuccess: number;
  /** Why the rollout paused, was rolled back or aborted. */
  reason?: string;
  /** Each check and action, newest last, bounded (the audit log keeps every write). */
  history: RolloutCheckRecord[];
}
