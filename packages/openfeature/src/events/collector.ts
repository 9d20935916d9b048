import type { EvaluationContext, JsonValue } from '@vexil/core/json';

/** A tracking event's details (OpenFeature's `TrackingEventDetails`: `value` and custom fields). */
type TrackingEventDetails = Record<string, unknown>;
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
  /**
   * Largest request body sent, in bytes (default 512 KiB: half the server's default body limit). A batch is split
   * before it is sent rather than after the server refuses it: a server refusing a large body may also reset the
   * connection, which looks like an outage.
   */
  maxBatchBytes?: number;
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

const DEFAULT_MAX_BATCH_BYTES = 512 * 1024;
const utf8 = new TextEncoder();

/** Bytes of `text` in UTF-8: its length when it is ASCII (the common case, no copy), else encoded. */
function utf8Length(text: string): number {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text.length : utf8.encode(text).length;
}

/** The largest `count` one exposure event carries (the server refuses larger ones as invalid). */
const MAX_COUNT = 1_000_000_000;

/**
 * Batches exposure and tracking events and posts them to the server's collector. Recording never blocks and never
 * throws: it only touches memory, and at most `maxPending` events are held (more are dropped and counted). Sending
 * happens on a timer (unref'd), at most one request at a time, at most `batchSize` events per request (halved while
 * the server answers 413, so a batch always fits its body limit).
 */
export class EventCollector {
  /**
   * Exposures of the current batch: flag → user → the event of the first variant the user got, so that a repeated
   * evaluation costs two map reads and no string built. A user who gets another variant of the same flag in the same
   * batch (a targeting change, other attributes) has that event in `otherVariants`, by flag, variant and user.
   */
  private exposures = new Map<string, Map<string, FeatureEvent>>();
  private otherVariants = new Map<string, FeatureEvent>();
  private exposureCount = 0;
  private tracking: TrackingEvent[] = [];
  /** Events taken out of the maps, oldest first, waiting for their request (or its retry). */
  private outbox: CollectedEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private flushScheduled = false;
  private readonly backoff: Backoff;
  private notBefore = 0;
  /** Events in the request being sent. */
  private sending = 0;
  /** Events per request: `batchSize`, halved on each 413, doubled back after each success up to `batchCeiling`. */
  private batchLimit: number;
  /** Below the smallest batch the server refused with 413: growing back never reaches a size known to be refused. */
  private batchCeiling: number;
  private closed = false;
  /** Aborts the request in flight when close() runs out of time, so that nothing outlives the provider. */
  private readonly abort = new AbortController();
  private warnedUnreachable = false;
  private readonly counters = { sent: 0, dropped: 0 };
  /** Exposures merged into an event of the batch (a field of its own: the hot path adds to it). */
  private merged = 0;
  /**
   * A batch whose request failed, sent again as it was, with the same `batchId`: when the first attempt did reach the
   * server (a time-out after it answered), the server counts the batch once.
   */
  private retry: { id: string; events: CollectedEvent[] } | undefined;
  private readonly batchPrefix = globalThis.crypto.randomUUID();
  private batchSequence = 0;

  constructor(private readonly options: CollectorOptions) {
    this.batchLimit = Math.max(1, options.batchSize);
    this.batchCeiling = this.batchLimit;
    this.backoff = new Backoff(Math.min(1_000, options.flushIntervalMs), 60_000);
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs);
    this.timer.unref();
  }

  get stats(): CollectorStats {
    return { pending: this.pending, sent: this.counters.sent, dropped: this.counters.dropped, merged: this.merged };
  }

  /** Events in memory: waiting, waiting for a retry, or being sent. Never above `maxPending`. */
  private get pending(): number {
    return this.exposureCount + this.tracking.length + this.outbox.length + (this.retry?.events.length ?? 0) + this.sending;
  }

  /**
   * The hot path of `exposure`: counts a repeated exposure (this user already has an event of this flag and variant in
   * the batch) and answers true; false when it is not one, and `exposure` must record it.
   */
  merge(key: string, variant: string, context: EvaluationContext): boolean {
    const user = context.targetingKey;
    const first = this.exposures.get(key)?.get(typeof user === 'string' && user !== '' ? user : 'anonymous');
    if (first === undefined || first.variation !== variant || first.count >= MAX_COUNT || this.closed) return false;
    first.count++;
    this.merged++;
    return true;
  }

  /** Counts one evaluation of a flag that has `trackEvents` (callers on a hot path try `merge` first). */
  exposure(key: string, variant: string, value: JsonValue, context: EvaluationContext, version: string | undefined, isDefault = false): void {
    if (this.closed || this.merge(key, variant, context)) return;
    const userKey = typeof context.targetingKey === 'string' && context.targetingKey !== '' ? context.targetingKey : 'anonymous';
    const first = this.exposures.get(key)?.get(userKey);
    const otherKey = first !== undefined && first.variation !== variant ? `${key}\u0000${variant}\u0000${userKey}` : undefined;
    const existing = otherKey === undefined ? first : this.otherVariants.get(otherKey);
    if (existing !== undefined && existing.count < MAX_COUNT) {
      existing.count++;
      this.merged++;
      return;
    }
    if (existing !== undefined || this.pending >= this.options.maxPending) {
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
    if (otherKey !== undefined) this.otherVariants.set(otherKey, event);
    else {
      const users = this.exposures.get(key);
      if (users !== undefined) users.set(userKey, event);
      else this.exposures.set(key, new Map([[userKey, event]]));
    }
    this.exposureCount++;
    this.maybeFlushEarly();
  }

  /** Records one `track()` call: the context and the details (its `value` and custom fields) as JSON. */
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
      evaluationContext: toJsonObject(context),
      trackingEventDetails: toJsonObject(details ?? {}),
    });
    this.maybeFlushEarly();
  }

  private maybeFlushEarly(): void {
    if (this.flushScheduled || this.inFlight || this.pending - this.sending < this.options.batchSize || Date.now() < this.notBefore) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  /**
   * Sends what is waiting now, in as many requests as needed (one at a time); stops at the first failure (the events
   * are kept for a retry with backoff). Never rejects.
   */
  flush(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (this.pending === 0) return Promise.resolve();
    if (!this.closed && Date.now() < this.notBefore) return Promise.resolve();
    this.inFlight = this.sendWaiting().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Sends the events waiting when it starts (not those recorded meanwhile, so that a flush under load ends). */
  private async sendWaiting(): Promise<void> {
    let budget = this.pending;
    while (budget > 0) {
      const sent = await this.sendBatch();
      if (sent < 0) return;
      budget -= sent;
    }
    if (!this.closed) setImmediate(() => this.maybeFlushEarly());
  }

  /** One request. Returns how many events it settled (sent or refused for good), or -1 when it should stop. */
  private async sendBatch(): Promise<number> {
    // What was recorded since goes behind what waits for a retry.
    if (this.exposureCount > 0) for (const event of this.takeExposures()) this.outbox.push(event);
    if (this.tracking.length > 0) {
      for (const event of this.tracking) this.outbox.push(event);
      this.tracking = [];
    }
    // Events not delivered within maxAgeMs (the collector was unreachable) are given up on.
    const oldest = Math.floor((Date.now() - this.options.maxAgeMs) / 1000);
    const before = this.outbox.length;
    if (this.outbox.some((event) => event.creationDate < oldest)) {
      this.outbox = this.outbox.filter((event) => {
        if (event.creationDate >= oldest) return true;
        this.counters.dropped += weight(event);
        return false;
      });
    }
    let expired = before - this.outbox.length;
    let batch = this.retry;
    this.retry = undefined;
    if (batch && batch.events.some((event) => event.creationDate < oldest)) {
      const kept = batch.events.filter((event) => {
        if (event.creationDate >= oldest) return true;
        this.counters.dropped += weight(event);
        expired++;
        return false;
      });
      batch = kept.length > 0 ? { id: batch.id, events: kept } : undefined;
    }
    if (!batch) {
      if (this.outbox.length === 0) return expired > 0 ? expired : -1;
      batch = { id: `${this.batchPrefix}-${++this.batchSequence}`, events: this.outbox.splice(0, this.batchLimit) };
    }
    // `batchId`: Vexil's servers count a batch once however often it is sent; GO Feature Flag ignores it.
    let body = JSON.stringify({ meta: this.options.meta, batchId: batch.id, events: batch.events });
    const maxBytes = this.options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    while (batch.events.length > 1 && utf8Length(body) > maxBytes) {
      // Too large: the second half goes back to the front of the outbox, in order. (A retried batch was split before
      // its first attempt, so it fits and keeps its id.)
      const half = Math.floor(batch.events.length / 2);
      this.outbox.unshift(...batch.events.slice(half));
      batch = { id: batch.id, events: batch.events.slice(0, half) };
      body = JSON.stringify({ meta: this.options.meta, batchId: batch.id, events: batch.events });
    }
    const events = batch.events;
    this.sending = events.length;
    try {
      const response = await this.options.fetch(this.options.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...this.options.headers },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(this.options.requestTimeoutMs), this.abort.signal]),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.status === 413 && events.length > 1) {
        // Too large for the server's body limit: smaller requests, at once.
        this.batchLimit = Math.max(1, Math.floor(events.length / 2));
        this.batchCeiling = Math.min(this.batchCeiling, this.batchLimit);
        this.outbox.unshift(...events);
        return 0;
      }
      if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
        // The collector refuses these events (bad key, bad shape, one event too large): retrying would not help.
        for (const event of events) this.counters.dropped += weight(event);
        this.options.warn(`the collector refused ${events.length} events (HTTP ${response.status}); they were dropped`);
        return events.length;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      for (const event of events) this.counters.sent += weight(event);
      this.batchLimit = Math.min(this.batchCeiling, this.batchLimit * 2);
      this.backoff.reset();
      this.notBefore = 0;
      this.warnedUnreachable = false;
      return events.length;
    } catch (error) {
      if (!this.warnedUnreachable && !this.abort.signal.aborted) {
        this.warnedUnreachable = true;
        this.options.warn(`cannot send events to ${this.options.endpoint} (${describe(error)}); keeping them for retry`);
      }
      this.notBefore = Date.now() + this.backoff.next();
      // Kept as the same batch (same id) for the next attempt: they already count in `pending`, so the memory bound holds.
      this.retry = batch;
      return -1;
    } finally {
      this.sending = 0;
    }
  }

  /** Empties the exposure maps and returns their events. */
  private takeExposures(): FeatureEvent[] {
    const events: FeatureEvent[] = [];
    for (const users of this.exposures.values()) for (const event of users.values()) events.push(event);
    for (const event of this.otherVariants.values()) events.push(event);
    this.exposures = new Map();
    this.otherVariants = new Map();
    this.exposureCount = 0;
    return events;
  }

  /**
   * Stops the timer and sends what is left, waiting at most `timeoutMs`. Events still unsent then are counted as
   * dropped. Leaves nothing running that keeps the process alive.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const deadline = Date.now() + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, timeoutMs));
    });
    try {
      // The request in flight, then what is left (closed, flush ignores the backoff), until done or out of time.
      while (this.pending > 0 && Date.now() < deadline) {
        const before = this.pending;
        await Promise.race([this.flush(), expired]);
        if (this.pending >= before && !this.inFlight) break; // the collector failed again: no point in spinning
      }
    } finally {
      clearTimeout(timer);
    }
    this.abort.abort();
    await this.inFlight;
    // Whatever could not be delivered in time is lost: count it.
    for (const event of [...(this.retry?.events ?? []), ...this.outbox, ...this.takeExposures(), ...this.tracking]) this.counters.dropped += weight(event);
    this.retry = undefined;
    this.outbox = [];
    this.tracking = [];
  }
}

function weight(event: CollectedEvent): number {
  return event.kind === 'feature' ? event.count : 1;
}

/**
 * A context or details object as JSON, built at once (so a later change by the caller does not show, and nothing
 * unserialisable is left for the request): dates become ISO strings, bigints strings; functions, symbols, undefined
 * and circular references are left out.
 */
function toJsonObject(value: object): Record<string, unknown> {
  const out = toJson(value, new Set());
  return out !== null && typeof out === 'object' && !Array.isArray(out) ? (out as Record<string, unknown>) : {};
}

function toJson(value: unknown, seen: Set<object>): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (value === null || typeof value !== 'object') return typeof value === 'string' || typeof value === 'boolean' ? value : undefined;
  if (seen.has(value)) return undefined;
  seen.add(value);
  let out: unknown;
  if (Array.isArray(value)) out = value.map((item) => toJson(item, seen) ?? null);
  else {
    const object: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const converted = toJson(item, seen);
      if (converted !== undefined) object[key] = converted;
    }
    out = object;
  }
  seen.delete(value);
  return out;
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
}
