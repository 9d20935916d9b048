import { mkdirSync } from 'node:fs';
import { basename, dirname, extname } from 'node:path';
import type { Writable } from 'node:stream';
import { createStream } from 'rotating-file-stream';

/** A flag evaluation reported by an SDK (GO Feature Flag's `FeatureEvent`). */
export interface FeatureEvent {
  kind: 'feature';
  contextKind?: string;
  userKey?: string;
  creationDate: number;
  key: string;
  variation?: string;
  value?: unknown;
  default?: boolean;
  version?: string;
  source: string;
  metadata?: Record<string, unknown>;
  /**
   * How many identical evaluations this event stands for (Vexil extension: the Vexil provider folds repeated
   * identical exposures into one event). Absent means one.
   */
  count?: number;
}

/** A custom event reported by an SDK's `track()` (GO Feature Flag's `TrackingEvent`). */
export interface TrackingEvent {
  kind: 'tracking';
  contextKind?: string;
  userKey?: string;
  creationDate: number;
  key: string;
  evaluationContext?: Record<string, unknown>;
  trackingEventDetails?: Record<string, unknown>;
}

export interface VariationCount {
  count: number;
  /** Unix seconds of the latest event. */
  lastSeen: number;
}

export interface MetricAggregate {
  count: number;
  /** Over the events that carried a numeric `trackingEventDetails.value`. */
  valueCount: number;
  sum: number;
  sumOfSquares: number;
  lastSeen: number;
}

export interface CollectorSummary {
  since: string;
  received: number;
  invalid: number;
  /** Flag key → variation → count. */
  flags: Record<string, Record<string, VariationCount>>;
  /** Tracking event key → aggregate. */
  metrics: Record<string, MetricAggregate>;
  /** Events not aggregated because the series limit was reached. */
  overflow: number;
}

export interface FileRotation {
  /** Rotate when the file reaches this size (`10M`, `1G`; default `100M`). */
  size?: string;
  /** Rotate after this long (`1h`, `1d`; default `1d`). */
  interval?: string;
  /** Rotated files kept (default 30): older ones are deleted. */
  maxFiles?: number;
}

export interface CollectorOptions {
  /**
   * Append every event as one JSON line to this file, rotated by size and age: `events.jsonl` is the current file,
   * rotated ones are `events.<UTC time>-<n>.jsonl` beside it.
   */
  file?: string;
  rotation?: FileRotation;
  /** Every valid event, as it is written to the file (for exporters such as the webhook). */
  onExport?: (events: Array<FeatureEvent | TrackingEvent>) => void;
  /** At most this many flag × variation (plus metric) series are kept. Default 10,000. */
  maxSeries?: number;
  /**
   * At most this many of those series are created by one sender (an API key, or an address without one), so that one
   * key cannot fill the table for everyone. Default: a tenth of `maxSeries`.
   */
  maxSeriesPerSender?: number;
  onExposure?: (flag: string, variation: string, count: number) => void;
  onEvent?: (kind: 'feature' | 'tracking' | 'invalid') => void;
}

const MAX_LABEL = 256;
/** Senders whose series are counted one by one; later ones share one quota. */
const MAX_SENDERS = 10_000;
/** The largest `count` one feature event may carry (so that counters stay exact integers). */
const MAX_COUNT = 1_000_000_000;

/**
 * Receives the events SDKs send to `/v1/data/collector`: folds them into bounded in-memory counters (per flag ×
 * variation, and count/sum/sum of squares per tracked metric) and, optionally, appends them to a JSON-lines file.
 */
export class EventCollector {
  readonly #flags = new Map<string, Map<string, VariationCount>>();
  readonly #metrics = new Map<string, MetricAggregate>();
  readonly #maxSeries: number;
  readonly #maxSeriesPerSender: number;
  /** Series created per sender (bounded: past MAX_SENDERS, new senders share one quota). */
  readonly #seriesBySender = new Map<string, number>();
  #sender = '';
  readonly #options: CollectorOptions;
  #series = 0;
  #received = 0;
  #invalid = 0;
  #overflow = 0;
  readonly #since = new Date().toISOString();
  #file: Writable | undefined;

  constructor(options: CollectorOptions = {}) {
    this.#options = options;
    this.#maxSeries = options.maxSeries ?? 10_000;
    this.#maxSeriesPerSender = options.maxSeriesPerSender ?? Math.max(1, Math.floor(this.#maxSeries / 10));
    if (options.file) {
      this.#file = rotatingFile(options.file, options.rotation ?? {});
    }
  }

  /**
   * Ingests one batch; `meta` replaces each feature event's `metadata`, as GO Feature Flag does. `sender` (the key id,
   * or the address) is who the per-sender series quota is counted against. Returns the count.
   */
  ingest(events: unknown[], meta: Record<string, unknown> | undefined, sender = ''): number {
    this.#sender = this.#seriesBySender.has(sender) || this.#seriesBySender.size < MAX_SENDERS ? sender : '\u0000others';
    const lines: string[] = [];
    const exported: Array<FeatureEvent | TrackingEvent> = [];
    for (const raw of events) {
      this.#received++;
      const event = normaliseEvent(raw, meta);
      if (!event) {
        this.#invalid++;
        this.#options.onEvent?.('invalid');
        continue;
      }
      this.#options.onEvent?.(event.kind);
      if (event.kind === 'feature') this.#countFeature(event);
      else this.#countTracking(event);
      if (this.#file) lines.push(JSON.stringify(event));
      if (this.#options.onExport) exported.push(event);
    }
    if (this.#file && lines.length > 0) this.#file.write(lines.join('\n') + '\n');
    if (exported.length > 0) this.#options.onExport?.(exported);
    return events.length;
  }

  summary(): CollectorSummary {
    const flags: CollectorSummary['flags'] = {};
    for (const [flag, variations] of this.#flags) flags[flag] = Object.fromEntries([...variations].map(([name, count]) => [name, { ...count }]));
    const metrics: CollectorSummary['metrics'] = {};
    for (const [key, aggregate] of this.#metrics) metrics[key] = { ...aggregate };
    return { since: this.#since, received: this.#received, invalid: this.#invalid, flags, metrics, overflow: this.#overflow };
  }

  /** Flushes and closes the events file. */
  close(): Promise<void> {
    const file = this.#file;
    this.#file = undefined;
    if (!file) return Promise.resolve();
    return new Promise((resolve) => file.end(() => resolve()));
  }

  /** No new series: the table is full, or the current sender used its quota. */
  #full(): boolean {
    return this.#series >= this.#maxSeries || (this.#seriesBySender.get(this.#sender) ?? 0) >= this.#maxSeriesPerSender;
  }

  #newSeries(): void {
    this.#series++;
    this.#seriesBySender.set(this.#sender, (this.#seriesBySender.get(this.#sender) ?? 0) + 1);
  }

  #countFeature(event: FeatureEvent): void {
    const variation = (event.variation ?? 'SdkDefault').slice(0, MAX_LABEL);
    let variations = this.#flags.get(event.key);
    if (!variations) {
      if (this.#full()) return void this.#overflow++;
      variations = new Map();
      this.#flags.set(event.key, variations);
    }
    let count = variations.get(variation);
    if (!count) {
      if (this.#full()) return void this.#overflow++;
      this.#newSeries();
      count = { count: 0, lastSeen: 0 };
      variations.set(variation, count);
    }
    const n = event.count ?? 1;
    count.count += n;
    count.lastSeen = Math.max(count.lastSeen, event.creationDate);
    this.#options.onExposure?.(event.key, variation, n);
  }

  #countTracking(event: TrackingEvent): void {
    let aggregate = this.#metrics.get(event.key);
    if (!aggregate) {
      if (this.#full()) return void this.#overflow++;
      this.#newSeries();
      aggregate = { count: 0, valueCount: 0, sum: 0, sumOfSquares: 0, lastSeen: 0 };
      this.#metrics.set(event.key, aggregate);
    }
    aggregate.count++;
    aggregate.lastSeen = Math.max(aggregate.lastSeen, event.creationDate);
    const value = event.trackingEventDetails?.value;
    if (typeof value === 'number' && Number.isFinite(value)) {
      aggregate.valueCount++;
      aggregate.sum += value;
      aggregate.sumOfSquares += value * value;
    }
  }
}

/** The JSON-lines file, rotated by size and age (rotating-file-stream). */
function rotatingFile(file: string, rotation: FileRotation): Writable {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true });
  const extension = extname(file) || '.jsonl';
  const stem = basename(file, extname(file));
  const stamp = (time: Date) => time.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const stream = createStream((time, index) => (time ? `${stem}.${stamp(new Date(time))}-${index ?? 1}${extension}` : basename(file)), {
    path: dir,
    size: rotation.size ?? '100M',
    interval: rotation.interval ?? '1d',
    maxFiles: rotation.maxFiles ?? 30,
    intervalUTC: true,
  });
  stream.on('error', () => undefined);
  stream.on('warning', () => undefined);
  return stream;
}

/** A timestamp above 9,999,999,999 is in milliseconds: keep its first ten digits (seconds), as GO Feature Flag does. */
export function creationSeconds(value: unknown): number {
  let seconds = typeof value === 'number' && Number.isFinite(value) ? Math.trunc(value) : Math.floor(Date.now() / 1000);
  if (seconds > 9_999_999_999) seconds = Number(String(seconds).slice(0, 10));
  return seconds;
}

function normaliseEvent(raw: unknown, meta: Record<string, unknown> | undefined): FeatureEvent | TrackingEvent | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const event = raw as Record<string, unknown>;
  if (typeof event.key !== 'string' || event.key === '' || event.key.length > MAX_LABEL) return undefined;
  const common = {
    ...(typeof event.contextKind === 'string' ? { contextKind: event.contextKind } : {}),
    ...(typeof event.userKey === 'string' ? { userKey: event.userKey } : {}),
    creationDate: creationSeconds(event.creationDate),
    key: event.key,
  };
  if (event.kind === 'tracking') {
    return {
      kind: 'tracking',
      ...common,
      ...(isObject(event.evaluationContext) ? { evaluationContext: event.evaluationContext } : {}),
      ...(isObject(event.trackingEventDetails) ? { trackingEventDetails: event.trackingEventDetails } : {}),
    };
  }
  // A folded event says how many evaluations it stands for: a positive integer, or the event is invalid.
  if (event.count !== undefined && !(Number.isSafeInteger(event.count) && (event.count as number) >= 1 && (event.count as number) <= MAX_COUNT)) {
    return undefined;
  }
  const metadata = meta ?? (isObject(event.metadata) ? event.metadata : undefined);
  return {
    kind: 'feature',
    ...common,
    ...(typeof event.variation === 'string' ? { variation: event.variation } : {}),
    ...('value' in event ? { value: event.value } : {}),
    ...(typeof event.default === 'boolean' ? { default: event.default } : {}),
    ...(typeof event.version === 'string' ? { version: event.version } : {}),
    source: typeof event.source === 'string' && event.source !== '' ? event.source : 'PROVIDER_CACHE',
    ...(metadata ? { metadata } : {}),
    ...(event.count !== undefined ? { count: event.count as number } : {}),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
