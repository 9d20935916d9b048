import type { EvaluationContext, JsonValue, TrackingEventDetails } from '@openfeature/server-sdk';
import { Backoff } from '../sync/backoff.js';

/** GO Feature Flag's exposure event (`kind: "feature"`), as `POST /v1/data/collector` takes it, plus `count`. */
export interface FeatureEvent {
  kind: 'feature';
  contextKind: 'user' | 'anonymousUser';
  userKey: string;
  /** Unix seconds of the first evaluation in this batch. */
  creationDate: number;
  key: string;
  variation: string;
  value: JsonValue;
  default: boolean;
  version?: string;
  source: 'PROVIDER_CACHE';
  /** Vexil extension: how many identical evaluations (flag, variant, user) this event stands for. */
  count: number;
}

/** GO Feature Flag's tracking event (`kind: "tracking"`). */
export interface TrackingEvent {
  kind: 'tracking';
  contextKind: 'user' | 'anonymousUser';
  userKey: string;
  creationDate: number;
  key: string;
  evaluationContext: Record<string, unknown>;
  trackingEventDetails: Record<string, unknown>;
}

export type CollectedEvent = FeatureEvent | TrackingEvent;

export interface CollectorOptions {
  /** `{url}/v1/data/collector`. */
  endpoint: string;
  headers: Record<string, string>;
  flushIntervalMs: number;
  /** A flush starts early once this many events wait. */
  batchSize: number;
  /** Events kept in memory at most; beyond it new events are dropped (and counted). */
  maxPending: number;
  /** Events older than this are dropped (and counted) instead of being retried. */
  maxAgeMs: number;
  requestTimeoutMs: number;
  meta: Record<string, string>;
  warn: (message: string) => void;
  fetch: typeof fetch;
}

export interface CollectorStats {
  /** Events waiting to be sent. */
  pending: number;
  /** Events the collector accepted. */
  sent: number;
  /** Events dropped: memory bound reached, or too old because the collector was unreachable. */
  dropped: number;
  /** Evaluations folded into an existing exposure event (same flag, variant and user within one batch). */
  merged: number;
}

/**
 * Batches exposure and tracking events and posts them to the server's collector. Recording never blocks and never
 * throws: it only touches memory. Sending happens on a timer (unref'd), at most one request at a time.
 */
export class EventCollector {
  /**
   * Exposures of the current batch: flag → variant → user → event, so repeated evaluations cost one entry (nested maps
   * rather than one concatenated key: no string is built per evaluation).
   */
  private exposures = new Map<string, Map<string, Map<string, FeatureEvent>>>();
  private exposureCount = 0;
  private tracking: TrackingEvent[] = [];
  /** Events taken from a failed send, retried first. */
  private retry: CollectedEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private readonly backoff: Backoff;
  private notBefore = 0;
  /** Events in the request being sent. */
  private sending = 0;
  private closed = false;
  private warnedUnreachable = false;
  private readonly counters = { sent: 0, dropped: 0, merged: 0 };

  constructor(private readonly options: CollectorOptions) {
    this.backoff = new Backoff(Math.min(1_000, options.flushIntervalMs), 60_000);
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs);
    this.timer.unref();
  }

  get stats(): CollectorStats {
    return { pending: this.pending, sent: this.counters.sent, dropped: this.counters.dropped, merged: this.counters.merged };
  }

  /** Events in memory: waiting, waiting for a retry, or being sent. */
  private get pending(): number {
    return this.exposureCount + this.tracking.length + this.retry.length + this.sending;
  }

  /** Counts one evaluation of a flag that has `trackEvents`. */
  exposure(key: string, variant: string, value: JsonValue, context: EvaluationContext, version: string | undefined, isDefault = false): void {
    if (this.closed) return;
    const userKey = typeof context.targetingKey === 'string' && context.targetingKey !== '' ? context.targetingKey : 'anonymous';
    let variants = this.exposures.get(key);
    if (variants === undefined) this.exposures.set(key, (variants = new Map()));
    let users = variants.get(variant);
    if (users === undefined) variants.set(variant, (users = new Map()));
    const existing = users.get(userKey);
    if (existing !== undefined) {
      existing.count++;
      this.counters.merged++;
      return;
    }
    if (this.pending >= this.options.maxPending) {
      this.counters.dropped++;
      return;
    }
    const event: FeatureEvent = {
      kind: 'feature',
      contextKind: context.anonymous === true ? 'anonymousUser' : 'user',
      userKey,
      creationDate: Math.floor(Date.now() / 1000),
      key,
      variation: variant,
      value,
      default: isDefault,
      source: 'PROVIDER_CACHE',
      count: 1,
    };
    if (version !== undefined) event.version = version;
    users.set(userKey, event);
    this.exposureCount++;
    this.maybeFlushEarly();
  }

  /** Records one `track()` call. */
  track(name: string, context: EvaluationContext, details: TrackingEventDetails): void {
    if (this.closed) return;
    if (this.pending >= this.options.maxPending) {
      this.counters.dropped++;
      return;
    }
    this.tracking.push({
      kind: 'tracking',
      contextKind: context.anonymous === true ? 'anonymousUser' : 'user',
      userKey: typeof context.targetingKey === 'string' && context.targetingKey !== '' ? context.targetingKey : 'anonymous',
      creationDate: Math.floor(Date.now() / 1000),
      key: name,
      evaluationContext: toJson(context) as Record<string, unknown>,
      trackingEventDetails: toJson(details ?? {}) as Record<string, unknown>,
    });
    this.maybeFlushEarly();
  }

  private maybeFlushEarly(): void {
    if (this.pending >= this.options.batchSize && !this.inFlight && Date.now() >= this.notBefore) {
      setImmediate(() => void this.flush());
    }
  }

  /** Sends what is pending (one request at a time). Never rejects. */
  flush(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (this.pending === 0) return Promise.resolve();
    if (!this.closed && Date.now() < this.notBefore) return Promise.resolve();
    this.inFlight = this.send().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async send(): Promise<void> {
    const now = Date.now();
    const oldest = Math.floor((now - this.options.maxAgeMs) / 1000);
    const events: CollectedEvent[] = [];
    for (const event of this.retry) {
      if (event.creationDate < oldest) this.counters.dropped += weight(event);
      else events.push(event);
    }
    events.push(...this.takeExposures(), ...this.tracking);
    this.retry = [];
    this.tracking = [];
    if (events.length === 0) return;
    this.sending = events.length;
    try {
      const response = await this.options.fetch(this.options.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...this.options.headers },
        body: JSON.stringify({ meta: this.options.meta, events }),
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
        // The collector refuses these events (bad key, bad shape): retrying would not help.
        for (const event of events) this.counters.dropped += weight(event);
        this.options.warn(`the collector refused ${events.length} events (HTTP ${response.status}); they were dropped`);
        return;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      for (const event of events) this.counters.sent += weight(event);
      this.backoff.reset();
      this.notBefore = 0;
      this.warnedUnreachable = false;
    } catch (error) {
      if (!this.warnedUnreachable) {
        this.warnedUnreachable = true;
        this.options.warn(`cannot send events to ${this.options.endpoint} (${describe(error)}); keeping them for retry`);
      }
      this.notBefore = Date.now() + this.backoff.next();
      // Keep them for the next attempt, within the memory bound; newer events already waiting keep their place.
      const room = Math.max(0, this.options.maxPending - (this.exposureCount + this.tracking.length));
      const kept = events.slice(0, room);
      for (const event of events.slice(room)) this.counters.dropped += weight(event);
      this.retry = kept;
    } finally {
      this.sending = 0;
    }
  }

  /** Empties the exposure maps and returns their events. */
  private takeExposures(): FeatureEvent[] {
    const events: FeatureEvent[] = [];
    for (const variants of this.exposures.values()) for (const users of variants.values()) for (const event of users.values()) events.push(event);
    this.exposures = new Map();
    this.exposureCount = 0;
    return events;
  }

  /** Stops the timer and sends what is left, waiting at most `timeoutMs`. Events still unsent are counted as dropped. */
  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const deadline = Date.now() + timeoutMs;
    const until = (promise: Promise<void>) =>
      Promise.race([promise, new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref())]);
    if (this.inFlight) await until(this.inFlight);
    if (this.pending > 0 && Date.now() < deadline) await until(this.flush());
    // Whatever could not be delivered in time is lost: count it.
    for (const event of [...this.retry, ...this.takeExposures(), ...this.tracking]) this.counters.dropped += weight(event);
    this.retry = [];
    this.tracking = [];
  }
}

function weight(event: CollectedEvent): number {
  return event.kind === 'feature' ? event.count : 1;
}

/** Context and details as JSON: dates become ISO strings. */
function toJson(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = toJson(item);
    return out;
  }
  return value;
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
}
