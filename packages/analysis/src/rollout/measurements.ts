/**
 * What the rollout controller measures, and the interface any measurement source implements (the events store,
 * Prometheus, a simulation). Plain data, so the decision stays pure.
 */

/** One metric on one arm over the window. */
export interface MetricMeasurement {
  /** Events of this metric sent by the arm's units. */
  events: number;
  /** Of those, events with `error: true` (what rate gates and kill switches judge: errors per exposed unit). */
  errors: number;
  /**
   * Σ over units of (errors of that unit)², when the source knows it. Absent: each unit is taken to have at most one
   * error when errors ≤ units (a 0/1 metric), else a Poisson count.
   */
  errorsSumSquares?: number;
  /** Quantiles of the metric's values (e.g. latency in ms), keyed by the quantile as written: `{ "0.99": 412 }`. */
  quantiles?: Record<string, number>;
}

/** One arm (the units served one variation of the flag) over the window. */
export interface ArmMeasurement {
  variation: string;
  /** Distinct units exposed to this variation in the window. */
  units: number;
  metrics: Record<string, MetricMeasurement>;
}

/** A PromQL (or other query) result: one number, or why there is none. NaN and ±Inf count as no data. */
export type QueryResult = { ok: true; value: number } | { ok: false; reason: 'error' | 'no-data'; message: string };

export interface MeasurementRequest {
  flagKey: string;
  /** The variation being released, and the one the other units are served (the control arm). */
  rolloutVariation: string;
  controlVariation: string;
  /** Metrics (tracked event names) the gates read, with the quantiles each needs. */
  metrics: Array<{ metric: string; quantiles: number[] }>;
  /** Queries of prometheus gates, verbatim. */
  queries: string[];
  /** Half-open window [from, to), milliseconds since the epoch. */
  from: number;
  to: number;
  /** Also measure each of these variations, in `Measurements.arms` (the kill switch judges the whole flag). */
  variations?: string[];
}

export interface Measurements {
  /** Absent: the source has no figures for the arm (inconclusive, never a pass). */
  rollout?: ArmMeasurement;
  control?: ArmMeasurement;
  /** One per variation of `MeasurementRequest.variations`, when asked. */
  arms?: ArmMeasurement[];
  /** Keyed by the query text. A query missing here is inconclusive. */
  queries: Record<string, QueryResult>;
}

/**
 * A source of measurements. A source answers the parts it knows (the events store: the arms; Prometheus: the queries)
 * and leaves the rest out; `combineMeasurementSources` merges several. A source that throws makes every gate it
 * would have answered inconclusive.
 */
export interface MeasurementSource {
  readonly name: string;
  measure(request: MeasurementRequest): Promise<Partial<Measurements>>;
}

/** Merges sources: the first one that answers an arm or a query wins; a source that fails leaves its part empty. */
export function combineMeasurementSources(...sources: MeasurementSource[]): MeasurementSource {
  return {
    name: sources.map((source) => source.name).join('+'),
    async measure(request) {
      const answers = await Promise.allSettled(sources.map((source) => source.measure(request)));
      const out: Measurements = { queries: {} };
      answers.forEach((answer, index) => {
        if (answer.status === 'rejected') {
          const message = `${sources[index]!.name}: ${answer.reason instanceof Error ? answer.reason.message : String(answer.reason)}`;
          for (const query of request.queries) out.queries[query] ??= { ok: false, reason: 'error', message };
          return;
        }
        const value = answer.value;
        out.rollout ??= value.rollout;
        out.control ??= value.control;
        out.arms ??= value.arms;
        for (const [query, result] of Object.entries(value.queries ?? {})) {
          const known = out.queries[query];
          if (!known || (!known.ok && result.ok)) out.queries[query] = result;
        }
      });
      return out;
    },
  };
}
