/**
 * The rollout controller's measurements from the server's own events store: per arm (variation) and window, the
 * distinct units exposed, and per gate metric its events, errors and the quantiles the gates ask for. Tracked events
 * count for the variation each unit saw first (the store's attribution), so a unit moved to the canary by a later step
 * keeps counting for its first arm.
 *
 * The store keeps minutes: the window starts at the first whole minute of the step (events from the minute the step
 * began, partly before it, are left out) and ends at `to`. A window shorter than that has no units: inconclusive.
 */
import type { ArmMeasurement, MeasurementRequest, MeasurementSource, Measurements, MetricMeasurement } from '@vexil/analysis';
import type { EventsStore, MetricSummaryRow } from '@vexil/store';

const MINUTE = 60_000;

export interface EventsMeasurementSourceOptions {
  /** The events store, or undefined when there is none now (then every arm is inconclusive). */
  store: () => EventsStore | undefined;
  /** Called before measuring, e.g. to write the events still buffered, so a check sees the latest traffic. */
  beforeMeasure?: () => Promise<void>;
  environment?: string;
}

export class EventsMeasurementSource implements MeasurementSource {
  readonly name = 'events';
  readonly #options: EventsMeasurementSourceOptions;

  constructor(options: EventsMeasurementSourceOptions) {
    this.#options = options;
  }

  async measure(request: MeasurementRequest): Promise<Partial<Measurements>> {
    const store = this.#options.store();
    if (!store) throw new Error('no events store');
    await this.#options.beforeMeasure?.().catch(() => undefined);
    const since = Math.ceil(request.from / MINUTE) * MINUTE;
    const until = request.to;
    const variations = [...new Set([request.rolloutVariation, request.controlVariation, ...(request.variations ?? [])])];
    const arms = new Map<string, ArmMeasurement>(variations.map((variation) => [variation, { variation, units: 0, metrics: {} }]));
    if (since < until) {
      const environment = this.#options.environment !== undefined ? { environment: this.#options.environment } : {};
      const exposures = await store.flagSummary(request.flagKey, { ...environment, since, until, stepMinutes: Math.max(1, Math.ceil((until - since) / MINUTE)) });
      for (const row of exposures.variations) {
        const arm = arms.get(row.variation);
        if (arm) arm.units = row.units;
      }
      for (const { metric, quantiles } of request.metrics) {
        const summary = await store.metricSummary({ ...environment, metric, flag: request.flagKey, by: 'variation', since, until, ...(quantiles.length > 0 ? { quantiles } : {}) });
        const rows = new Map(summary.rows.map((row) => [row.variation, row]));
        for (const arm of arms.values()) arm.metrics[metric] = metricOf(rows.get(arm.variation));
      }
    } else for (const arm of arms.values()) for (const { metric } of request.metrics) arm.metrics[metric] = { events: 0, errors: 0 };
    return {
      rollout: arms.get(request.rolloutVariation)!,
      control: arms.get(request.controlVariation)!,
      ...(request.variations ? { arms: request.variations.map((variation) => arms.get(variation)!) } : {}),
    };
  }
}

function metricOf(row: MetricSummaryRow | undefined): MetricMeasurement {
  if (!row) return { events: 0, errors: 0 };
  const quantiles = Object.entries(row.quantiles ?? {}).filter((entry): entry is [string, number] => entry[1] !== null);
  return { events: row.count, errors: row.errors, ...(quantiles.length > 0 ? { quantiles: Object.fromEntries(quantiles) } : {}) };
}
