/**
 * Progressive delivery in the flag model: the plan in its normalised form (durations in milliseconds, step
 * percentages spelled out), and how a step is served.
 *
 * A step is served with GO Feature Flag's own percentage rule: the default rule becomes
 * `percentage: { <rollout variation>: p, <baseline variation>: 100 − p }`. The weights always sum to 100, so the
 * modulus (100,000 buckets) and hence each unit's bucket never change from step to step; the rollout variation owns
 * one end of the bucket range ([0, p) when its name sorts first, [100 − p, 100) when it sorts last), so raising `p` only
 * moves units onto it: a unit on the rollout variation at 5% is still on it at 25%.
 */
import type { FlagDefinition, Rule } from '../model/flag.js';
import { structuredCloneJson } from './scheduled.js';
import { canonicalJson } from '../snapshot/canonical-json.js';
import type { RolloutGate, RolloutOnFailure, RolloutPlanDefinition, RolloutStateDefinition, ThresholdRange } from '../model/rollout.js';

export type NormalizedGate = (
  | { kind: 'relative'; name: string; metric: string; maxIncrease: number }
  | { kind: 'rate'; name: string; metric: string; thresholdRange: ThresholdRange }
  | { kind: 'quantile'; name: string; metric: string; quantile: number; thresholdRange: ThresholdRange }
  | { kind: 'prometheus'; name: string; query: string; thresholdRange: ThresholdRange }
) & { dryRun?: boolean };

/** A validated plan, ready for the decision (`@vexil/analysis` rollout). */
export interface RolloutPlan {
  variation: string;
  /** Percent served at each step, strictly increasing, each in (0, 100). Promotion to 100% follows the last one. */
  steps: number[];
  intervalMs: number;
  /** Step indexes that wait for approval before they are served; `steps.length` means the promotion waits. */
  approvalSteps: number[];
  onFailure: RolloutOnFailure;
  gates: NormalizedGate[];
  failureLimit: number;
  consecutiveSuccessLimit: number;
  minSampleSize: number;
  /** -1: never pause on inconclusive checks. */
  inconclusiveLimit: number;
}

export const DEFAULT_MIN_SAMPLE_SIZE = 100;

/** Go-style durations: `90s`, `10m`, `1h30m`, `250ms`. NaN when unreadable or not positive. */
export function parseDuration(value: unknown): number {
  if (typeof value !== 'string') return Number.NaN;
  const text = value.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(text)) return Number.NaN;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let total = 0;
  for (const match of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(match[1]) * units[match[2]!]!;
  return total > 0 ? total : Number.NaN;
}

/** `10%` → 0.1, 0.1 → 0.1; NaN when unreadable. A bare number above 1 is read as a percentage (10 → 0.1). */
export function parseFraction(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? (value > 1 ? value / 100 : value) : Number.NaN;
  if (typeof value !== 'string') return Number.NaN;
  const match = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value);
  return match ? Number(match[1]) / 100 : Number.NaN;
}

/** The percentages of a plan's steps, without a final 100 (promotion always follows the last step). */
export function stepPercentages(plan: RolloutPlanDefinition): number[] {
  let steps: number[] = [];
  if (Array.isArray(plan.steps)) steps = [...plan.steps];
  else if (typeof plan.stepWeight === 'number' && plan.stepWeight > 0) {
    // Flagger: add stepWeight until maxWeight is reached; the last step may overshoot it (20, 40, 60 for max 50).
    const max = Math.min(100, plan.maxWeight ?? 100);
    for (let weight = plan.stepWeight; ; weight += plan.stepWeight) {
      steps.push(Math.min(weight, 100));
      if (weight >= max) break;
    }
  }
  while (steps.length > 0 && steps[steps.length - 1]! >= 100) steps.pop();
  return steps;
}

export function gateName(gate: RolloutGate): string {
  if (gate.name) return gate.name;
  if (gate.prometheus !== undefined) return gate.prometheus;
  if (gate.quantile !== undefined) return `${gate.metric} p${Math.round(gate.quantile * 1000) / 10}`;
  if (gate.compare === 'control') return `${gate.metric} vs control`;
  return `${gate.metric ?? '?'} rate`;
}

/** The plan a validated `rollout` field describes (call only on a flag `checkFlag` accepted). */
export function normalizeRolloutPlan(plan: RolloutPlanDefinition): RolloutPlan {
  const steps = stepPercentages(plan);
  const approvalSteps = (plan.approval ?? []).map((percent) => (percent >= 100 ? steps.length : steps.indexOf(percent))).filter((i) => i >= 0);
  const gates: NormalizedGate[] = (plan.gates ?? []).map((gate): NormalizedGate => {
    const normalized = normalizeGate(gate);
    return gate.dryRun === true ? { ...normalized, dryRun: true } : normalized;
  });
  function normalizeGate(gate: RolloutGate): NormalizedGate {
    const name = gateName(gate);
    if (gate.prometheus !== undefined) return { kind: 'prometheus', name, query: gate.prometheus, thresholdRange: gate.thresholdRange ?? {} };
    if (gate.quantile !== undefined) return { kind: 'quantile', name, metric: gate.metric!, quantile: gate.quantile, thresholdRange: gate.thresholdRange ?? {} };
    if (gate.compare === 'control') return { kind: 'relative', name, metric: gate.metric!, maxIncrease: parseFraction(gate.maxIncrease) };
    return { kind: 'rate', name, metric: gate.metric!, thresholdRange: gate.thresholdRange ?? {} };
  }
  return {
    variation: plan.variation!,
    steps,
    intervalMs: parseDuration(plan.interval),
    approvalSteps: [...new Set(approvalSteps)].sort((a, b) => a - b),
    onFailure: plan.onFailure ?? 'rollback',
    gates,
    failureLimit: plan.failureLimit ?? 0,
    consecutiveSuccessLimit: plan.consecutiveSuccessLimit ?? 0,
    minSampleSize: plan.minSampleSize ?? DEFAULT_MIN_SAMPLE_SIZE,
    inconclusiveLimit: plan.inconclusiveLimit ?? -1,
  };
}

/** The variation a baseline rule serves when it serves exactly one (the only case a rollout accepts). */
export function baselineVariation(rule: Rule | undefined): string | undefined {
  if (!rule || rule.progressiveRollout !== undefined) return undefined;
  if (rule.percentage !== undefined) {
    const served = Object.entries(rule.percentage).filter(([, weight]) => weight > 0);
    return served.length === 1 ? served[0]![0] : undefined;
  }
  return typeof rule.variation === 'string' ? rule.variation : undefined;
}

/**
 * The default rule that serves `percent`% of units the rollout `variation` and the rest the baseline: the baseline
 * itself at 0, the rollout variation alone at 100, else a two-way GO Feature Flag percentage split (see the top).
 */
export function rolloutServingRule(baseline: Rule, variation: string, percent: number): Rule {
  const base = baselineVariation(baseline);
  if (percent <= 0 || base === undefined || base === variation) return structuredCloneJson(baseline);
  const rule: Rule = {};
  if (baseline.name !== undefined) rule.name = baseline.name;
  if (percent >= 100) rule.variation = variation;
  else rule.percentage = { [variation]: percent, [base]: 100 - percent };
  return rule;
}

/** The flag serving the state's step: `defaultRule` rewritten from the state's baseline, `rolloutState` set. */
export function withRolloutState(flag: FlagDefinition, state: RolloutStateDefinition): FlagDefinition {
  const plan = flag.rollout!;
  const percent = state.status === 'rolled-back' || state.status === 'aborted' ? 0 : state.status === 'promoted' ? 100 : state.percent;
  return { ...flag, defaultRule: rolloutServingRule(state.baseline, plan.variation!, percent), rolloutState: state };
}

/**
 * A flag written again as its file has it (a GitOps apply, `vexil import`, a PUT of the file's text) carries no
 * `rolloutState`, and its `defaultRule` is the baseline, not the split the controller serves. When its plan and its
 * baseline are those of the rollout under way, that rollout goes on: the stored state and serving rule are kept, so
 * re-applying an unchanged file neither restarts a rollout nor undoes a promotion. Any change to the plan or the
 * baseline starts it over (the written flag as it is).
 */
export function continueRollout(incoming: FlagDefinition, stored: FlagDefinition | undefined): FlagDefinition {
  const state = stored?.rolloutState;
  if (!incoming.rollout || incoming.rolloutState !== undefined || !state || !stored?.rollout) return incoming;
  if (canonicalJson(incoming.rollout) !== canonicalJson(stored.rollout)) return incoming;
  if (canonicalJson(incoming.defaultRule ?? null) !== canonicalJson(state.baseline)) return incoming;
  const kept: FlagDefinition = { ...incoming, rolloutState: state };
  if (stored.defaultRule !== undefined) kept.defaultRule = stored.defaultRule;
  return kept;
}
