// The `experiment` block with every default filled in: what the results query and the analysis read.
import { DEFAULT_ATTRIBUTION_WINDOW, DEFAULT_CUPED_LOOKBACK, DEFAULT_EXPERIMENT_MIN_UNITS, type ExperimentMetricType } from '../model/experiment.js';
import type { FlagDefinition } from '../model/flag.js';
import { parseDuration } from '../rollout/progressive-delivery.js';
import { parseDate } from '../rollout/scheduled.js';

export interface ExperimentMetricPlan {
  name: string;
  event: string;
  type: ExperimentMetricType;
  value: 'sum' | 'count';
  denominator?: string;
  role: 'goal' | 'guardrail' | 'secondary';
  inverse: boolean;
}

export interface ExperimentPlan {
  control: string;
  /** Variations in the flag's order, the control first. */
  variations: string[];
  /** Epoch ms; undefined: unbounded. From `experiment.start/end`, else GO Feature Flag's `experimentation` window. */
  start?: number;
  end?: number;
  attributionWindowMs: number;
  sticky: boolean;
  engine: 'frequentist' | 'bayesian';
  alpha: number;
  sequential: boolean;
  correction: 'holm-bonferroni' | 'benjamini-hochberg' | 'none';
  minUnits: number;
  /** CUPED: how far before a unit's first exposure its covariate is measured (whole days); undefined: no CUPED. */
  cupedLookbackMs?: number;
  /** The expected split per variation (plan order) for the sample-ratio-mismatch check: the defaultRule's percentages, else equal. */
  weights: number[];
  metrics: ExperimentMetricPlan[];
}

/** The plan of a valid flag's experiment; undefined when the flag has none. */
export function normalizeExperiment(flag: FlagDefinition): ExperimentPlan | undefined {
  const experiment = flag.experiment;
  if (!experiment) return undefined;
  const names = Object.keys(flag.variations ?? {});
  const control = experiment.control ?? names[0] ?? 'control';
  const date = (value: string | undefined) => (value === undefined ? undefined : parseDate(value));
  const variations = [control, ...names.filter((name) => name !== control)];
  const split = flag.defaultRule?.percentage;
  const weights = variations.map((name) => (split ? (split[name] ?? 0) : 1));
  const anyGoal = (experiment.metrics ?? []).some((metric) => metric.goal === true);
  return {
    control,
    variations,
    weights: weights.some((w) => w > 0) ? weights : variations.map(() => 1),
    start: date(experiment.start ?? flag.experimentation?.start),
    end: date(experiment.end ?? flag.experimentation?.end),
    attributionWindowMs: parseDuration(experiment.attributionWindow ?? DEFAULT_ATTRIBUTION_WINDOW),
    sticky: experiment.sticky !== undefined && experiment.sticky !== false,
    engine: experiment.engine ?? 'bayesian',
    alpha: experiment.alpha ?? 0.05,
    sequential: experiment.sequential ?? false,
    correction: experiment.correction ?? 'holm-bonferroni',
    minUnits: experiment.minUnits ?? DEFAULT_EXPERIMENT_MIN_UNITS,
    ...(experiment.cuped !== undefined && experiment.cuped !== false
      ? { cupedLookbackMs: Math.ceil(parseDuration(experiment.cuped === true ? DEFAULT_CUPED_LOOKBACK : experiment.cuped) / 86_400_000) * 86_400_000 }
      : {}),
    metrics: (experiment.metrics ?? []).map((metric) => ({
      name: metric.name ?? metric.event ?? '',
      event: metric.event ?? '',
      type: metric.type ?? 'binomial',
      value: metric.value ?? 'sum',
      ...(metric.denominator !== undefined ? { denominator: metric.denominator } : {}),
      // With no goal named, every metric that is not a guardrail is a goal.
      role: metric.guardrail ? 'guardrail' : metric.goal || !anyGoal ? 'goal' : 'secondary',
      inverse: metric.inverse ?? false,
    })),
  };
}
