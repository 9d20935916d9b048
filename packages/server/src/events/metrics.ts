import { Counter, Gauge, type Registry } from 'prom-client';

/** Prometheus series of event ingestion (registered in the server's registry). */
export class EventsMetrics {
  readonly refused: Counter<'reason'>;
  readonly dropped: Counter<'reason'>;
  readonly written: Counter;
  readonly duplicateBatches: Counter;
  readonly buffered: Gauge;

  constructor(registry: Registry) {
    this.refused = new Counter({
      name: 'vexil_events_refused_total',
      help: 'Events refused one by one at ingestion (malformed, oversized, out of range), by reason; the rest of their batch is kept.',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
    this.dropped = new Counter({
      name: 'vexil_events_dropped_total',
      help: 'Valid events not written to the events store, by reason (buffer_full while the store was down, rejected_by_store, shutdown).',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
    this.written = new Counter({ name: 'vexil_events_written_total', help: 'Events written to the events store.', registers: [registry] });
    this.duplicateBatches = new Counter({
      name: 'vexil_events_duplicate_batches_total',
      help: 'Batches skipped because their id was already counted (retries).',
      registers: [registry],
    });
    this.buffered = new Gauge({ name: 'vexil_events_buffered', help: 'Events waiting in memory for the events store.', registers: [registry] });
  }
}
