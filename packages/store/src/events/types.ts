/**
 * The events store: what decisions need from exposures and tracked events, aggregated (DESIGN: "Events are
 * aggregated, not hoarded"). Every table and query is per environment (`default` until environments exist).
 */

export const DEFAULT_ENVIRONMENT = 'default';

/** One or more identical evaluations of a flag (a feature event, or an evaluation the server answered itself). */
export interface ExposureRecord {
  flag: string;
  variation: string;
  /** The unit (targeting key); without one the evaluation counts, but not as a unit. */
  unit?: string;
  /** When, in epoch milliseconds. */
  at: number;
  /** How many identical evaluations (default 1). */
  count?: number;
  /** An OpenFeature error code when the evaluation failed. */
  errorCode?: string;
}

/** A tracked event: `track(metric, ctx, { value, error })`. */
export interface TrackRecord {
  metric: string;
  unit?: string;
  at: number;
  /** A finite number (latency, amount…). */
  value?: number;
  error?: boolean;
}

/** What one SDK request (or one server-side flush) delivered. A batch with an id is counted once, however often sent. */
export interface EventBatch {
  id?: string;
  environment?: string;
  exposures: ExposureRecord[];
  tracks: TrackRecord[];
}

export interface EventsWriteResult {
  /** Batches written now. */
  written: number;
  /** Batches skipped because their id was already recorded. */
  duplicates: number;
  /** Exposure and tracked events counted now. */
  events: number;
}

export interface TimeRange {
  environment?: string;
  /** Epoch milliseconds, inclusive (rounded down to the minute). */
  since: number;
  /** Epoch milliseconds, exclusive (default: now). */
  until?: number;
}

export interface FlagVariationTotals {
  variation: string;
  evaluations: number;
  /** Distinct units over the whole range (exact up to 256 a minute, then HyperLogLog: about 1.6 % error). */
  units: number;
  errors: Record<string, number>;
}

export interface FlagSeriesPoint {
  /** Start of the minute (or step), ISO 8601. */
  at: string;
  variation: string;
  evaluations: number;
  units: number;
}

export interface FlagEventsSummary {
  environment: string;
  flag: string;
  since: string;
  until: string;
  stepMinutes: number;
  variations: FlagVariationTotals[];
  series: FlagSeriesPoint[];
}

export interface MetricQuery extends TimeRange {
  metric: string;
  /** Only events of units exposed to this flag, attributed to the variation each unit saw first. */
  flag?: string;
  /** `variation` (needs `flag`): one row per variation; otherwise one row in total. */
  by?: 'variation' | 'none';
  /** Also these quantiles (0 < q < 1) of each row's values, in `MetricSummaryRow.quantiles` (rollout gates ask any). */
  quantiles?: number[];
}

export interface MetricSummaryRow {
  /** The variation (with `by: variation`), or `*`. */
  variation: string;
  count: number;
  /** Events that carried a numeric `value`. */
  valueCount: number;
  errors: number;
  /** errors ÷ events. */
  errorRate: number | null;
  /** Exposed units of the variation in the interval (with `flag`). */
  exposedUnits: number | null;
  /** errors ÷ exposed units (with `flag`). */
  errorsPerExposedUnit: number | null;
  mean: number | null;
  stddev: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  /** The quantiles asked in `MetricQuery.quantiles`, keyed as `String(q)` (`"0.9"`); null without values. */
  quantiles?: Record<string, number | null>;
}

export interface MetricSummary {
  environment: string;
  metric: string;
  flag: string | null;
  since: string;
  until: string;
  /** Width of a series step. */
  stepMinutes: number;
  rows: MetricSummaryRow[];
  series: { at: string; variation: string; count: number; errors: number; mean: number | null; p99: number | null }[];
}

export interface FirstExposure {
  unit: string;
  firstVariation: string;
  variations: string[];
  firstAt: string;
  lastAt: string;
  evaluations: number;
}

export interface FirstExposureQuery {
  environment?: string;
  flag: string;
  /** Only units first exposed at or after (epoch ms). */
  since?: number;
  /** Page after this unit (ordered by unit). */
  after?: string;
  limit?: number;
}

export interface UnitMetricTotal {
  unit: string;
  firstVariation: string;
  count: number;
  sum: number;
  errors: number;
}

export interface RetentionOptions {
  /** Unit-level rows (per unit × flag, per unit × metric × day) older than this are pruned. Default 90. */
  unitDays?: number;
  /** Minute series older than this are pruned. Default 400. */
  minuteDays?: number;
  /** Batch ids are remembered this long (a retry later than this counts again). Default 7. */
  batchDays?: number;
}

export interface PruneResult {
  unitExposures: number;
  metricUnitDays: number;
  flagMinutes: number;
  metricMinutes: number;
  batches: number;
}

export interface EventsStore {
  readonly kind: 'pglite' | 'postgres' | 'sqlite';
  readonly schema: string;
  /** Writes batches in one transaction: all or nothing. Batches whose id is already recorded are skipped. */
  write(batches: EventBatch[]): Promise<EventsWriteResult>;
  flagSummary(flag: string, range: TimeRange & { stepMinutes?: number }): Promise<FlagEventsSummary>;
  metricSummary(query: MetricQuery): Promise<MetricSummary>;
  firstExposures(query: FirstExposureQuery): Promise<FirstExposure[]>;
  /** Per unit exposed to `flag`: its first variation and its totals of `metric` since (days, UTC). */
  unitMetricTotals(query: { environment?: string; flag: string; metric: string; since: number }): Promise<UnitMetricTotal[]>;
  /** Per metric × variation: the sufficient statistics of an experiment on `flag` (experiment-statistics.ts). */
  experimentStatistics(query: ExperimentStatisticsQuery): Promise<ExperimentStatistics>;
  /** Deletes rows past retention, in small chunks (ingestion is never blocked for long). */
  prune(now?: number): Promise<PruneResult>;
  /** True when the database answers. */
  ping(): Promise<boolean>;
  isUnavailable(error: unknown): boolean;
  close(): Promise<void>;
}

/** One metric of an experiment, as the events store measures it (see experiment-statistics.ts). */
export interface ExperimentMetricQuery {
  name?: string;
  event: string;
  type: 'binomial' | 'mean' | 'ratio';
  /** Per unit: sum of the events' values (default) or their count. */
  value?: 'sum' | 'count';
  /** Ratio: the denominator event. */
  denominator?: string;
}

export interface ExperimentStatisticsQuery {
  environment?: string;
  flag: string;
  /** Only units first exposed in [since, until) (epoch ms); events after `until` are not counted either. */
  since?: number;
  until?: number;
  /** Events count from a unit's first exposure to this long after it (rounded out to whole UTC days). */
  attributionWindowMs: number;
  metrics: ExperimentMetricQuery[];
  /**
   * CUPED: binomial and mean metrics also get their covariate, the same quantity over the whole UTC days from this
   * long before the day of a unit's first exposure up to (not including) that day.
   */
  covariateLookbackMs?: number;
}

/** The sufficient statistics of one metric in one variation (the `stats.json` contract of @vexil/analysis). */
export interface ExperimentVariationStatistics {
  variation: string;
  units: number;
  /** Binomial: converted units; mean: Σ per-unit value; ratio: Σ per-unit numerator. */
  sum: number;
  /** Σ of squared per-unit values. */
  sumSquares: number;
  denominatorSum: number;
  denominatorSumSquares: number;
  sumProductWithDenominator: number;
  /** CUPED (when the query asks for a lookback): Σc, Σc² and Σxc of the unit's metric before its first exposure. */
  covariateSum?: number;
  covariateSumSquares?: number;
  sumProductWithCovariate?: number;
}

export interface ExperimentStatistics {
  environment: string;
  flag: string;
  /** Units first exposed to each variation and never to another. */
  units: { variation: string; units: number }[];
  /** Units seen in more than one variation: left out of every figure. */
  multipleExposures: number;
  multipleExposureShare: number;
  /** Units first exposed per hour (start of the hour, ISO 8601, UTC) and variation; units of several variations left out. */
  exposuresByHour: { at: string; variation: string; units: number }[];
  metrics: { name: string; variations: ExperimentVariationStatistics[] }[];
}
