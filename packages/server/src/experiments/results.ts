// An experiment's results: the flag's `experiment` block (the plan), the events store's per-variation sufficient
// statistics, and @vexil/analysis' report. Shared by the admin API and `vexil experiment results`.
import { normalizeExperiment, type FlagDefinition } from '@vexil/core';
import { experimentReport, type ExperimentReport } from '@vexil/analysis';
import type { EventsStore } from '@vexil/store';

export interface ExperimentResults extends ExperimentReport {
  flag: string;
  environment: string;
  computedAt: string;
}

export class NoExperimentError extends Error {
  constructor(readonly flag: string) {
    super(`flag "${flag}" has no experiment block (add experiment: { metrics: [...] } to it)`);
    this.name = 'NoExperimentError';
  }
}

export async function experimentResults(
  events: EventsStore,
  key: string,
  flag: FlagDefinition,
  options: { now?: number; environment?: string } = {},
): Promise<ExperimentResults> {
  const plan = normalizeExperiment(flag);
  if (!plan) throw new NoExperimentError(key);
  const now = options.now ?? Date.now();
  const stats = await events.experimentStatistics({
    ...(options.environment ? { environment: options.environment } : {}),
    flag: key,
    ...(plan.start !== undefined ? { since: plan.start } : {}),
    ...(plan.end !== undefined ? { until: plan.end } : {}),
    attributionWindowMs: plan.attributionWindowMs,
    ...(plan.cupedLookbackMs !== undefined ? { covariateLookbackMs: plan.cupedLookbackMs } : {}),
    metrics: plan.metrics.map((metric) => ({
      name: metric.name,
      event: metric.event,
      type: metric.type,
      value: metric.value,
      ...(metric.denominator !== undefined ? { denominator: metric.denominator } : {}),
    })),
  });
  return { flag: key, environment: stats.environment, computedAt: new Date(now).toISOString(), ...experimentReport(plan, stats, now) };
}
