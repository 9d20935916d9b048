import type { Registry } from 'prom-client';

/** One series (one set of label values) of a DurationHistogram: what the hot path keeps and observes into. */
export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot counts those above every bound (+Inf only). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }
}

interface MetricValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName: string;
}

/**
 * A Prometheus histogram whose series are held by the caller: observing is a bucket search and three additions.
 * prom-client's `Histogram` checks and hashes the label values on every observation (about 3 µs a request on the
 * bench machine, on the OFREP hot path); this one does that once per series. It registers in a prom-client registry
 * and prints exactly what prom-client's histogram prints.
 */
export class DurationHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly bounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The series of these label values (in `labelNames` order), made at its first use. */
  series(...values: string[]): HistogramSeries {
    const id = values.join('\u0000');
    let series = this.#series.get(id);
    if (series === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, index) => (labels[name] = values[index] ?? ''));
      this.#series.set(id, (series = new HistogramSeries(labels, this.bounds)));
    }
    return series;
  }

  reset(): void {
    for (const series of this.#series.values()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }

  /** prom-client's metric interface: the values the registry prints. */
  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const series of this.#series.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, index) => {
        cumulative += series.counts[index]!;
        values.push({ labels: { le: bound }, sharedLabels: series.labels as Record<string, string>, value: cumulative, metricName: bucket });
      });
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: series.labels as Record<string, string>, value: series.count, metricName: bucket },
        { labels: {}, sharedLabels: series.labels as Record<string, string>, value: series.sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: series.labels as Record<string, string>, value: series.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
