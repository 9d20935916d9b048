/**
 * Vexil's experiment extension of the flag format: `experiment` names the control variation, the metrics to compare
 * the variations on, and how they are measured. It changes nothing in evaluation: the flag's rules still split the
 * units (GO Feature Flag's `experimentation` window still bounds when it serves), and the results come from the
 * events store (`vexil experiment results`, `GET /admin/v1/flags/{key}/experiment`).
 */

export type ExperimentMetricType = 'binomial' | 'mean' | 'ratio';

export interface ExperimentMetricDefinition {
  /** The tracked event (`/v1/data/collector` `key`, OpenFeature `track` name) this metric reads. */
  event?: string;
  /** binomial: the share of units with at least one event; mean: Σ value per unit; ratio: Σ value / Σ denominator. */
  type?: ExperimentMetricType;
  /** Per unit: `sum` of the events' values (default) or `count` of events; binomial metrics ignore it. */
  value?: 'sum' | 'count';
  /** Ratio metrics: the event whose per-unit quantity (per `value`) is the denominator. */
  denominator?: string;
  /** Shown in the results; defaults to the event. */
  name?: string;
  /** A goal metric decides the experiment (corrected for multiple goals); the default when neither is given. */
  goal?: boolean;
  /** A guardrail metric must not get worse; it is reported, never corrected with the goals. */
  guardrail?: boolean;
  /** Lower is better (e.g. errors, latency). */
  inverse?: boolean;
}

export interface ExperimentDefinition {
  /** The variation the others are compared with; default: the flag's first variation. */
  control?: string;
  /** RFC 3339 dates bounding the analysis; absent: the `experimentation` window, else all data. */
  start?: string;
  end?: string;
  metrics?: ExperimentMetricDefinition[];
  /** How long after a unit's first exposure its events count, e.g. `72h`. Default 72h. */
  attributionWindow?: string;
  /**
   * Keep each unit on the first variation it is served while the experiment runs, even when the split or the rules
   * change: `true` (kept 90 days) or how long, e.g. `30d`. Kept in the store by the server and the provider's daemon
   * mode (`experiment/sticky.ts`).
   */
  sticky?: boolean | string;
  /**
   * Which set of sticky assignments is served (default 0). Raising it starts the assignments over: every unit is
   * assigned afresh by the current split, as on the experiment's first day, and the earlier set is no longer read (it
   * expires by itself). The admin page's "start assignments over" raises it by one, in an audited flag write.
   */
  stickyVersion?: number;
  /** Default bayesian (as gbstats). */
  engine?: 'frequentist' | 'bayesian';
  /** Default 0.05. */
  alpha?: number;
  /** Frequentist only: always-valid intervals, so peeking is safe. */
  sequential?: boolean;
  /** Correction across goal metrics: holm-bonferroni (default) or benjamini-hochberg, or none. */
  correction?: 'holm-bonferroni' | 'benjamini-hochberg' | 'none';
  /** Units per variation below which the results carry a "too little data" warning. Default 100. */
  minUnits?: number;
  /**
   * CUPED (regression adjustment, as GrowthBook's): each unit's binomial or mean metric is adjusted by the same metric
   * before its first exposure, which narrows intervals when the past predicts the future. `true` looks back 14 days,
   * or give how far (whole days, e.g. `28d`). Ratio metrics are not adjusted.
   */
  cuped?: boolean | string;
}

export const EXPERIMENT_FIELDS = ['control', 'start', 'end', 'metrics', 'attributionWindow', 'sticky', 'stickyVersion', 'engine', 'alpha', 'sequential', 'correction', 'minUnits', 'cuped'] as const;
/** How far CUPED looks back before a unit's first exposure when `cuped: true` (GrowthBook's default). */
export const DEFAULT_CUPED_LOOKBACK = '14d';
export const EXPERIMENT_METRIC_FIELDS = ['event', 'type', 'value', 'denominator', 'name', 'goal', 'guardrail', 'inverse'] as const;
export const DEFAULT_ATTRIBUTION_WINDOW = '72h';
export const DEFAULT_EXPERIMENT_MIN_UNITS = 100;
