import type { FastifyBaseLogger } from 'fastify';
import { DEFAULT_ENVIRONMENT, type EventBatch, type EventsStore, type ExposureRecord } from '@vexil/store';

export interface EventsPipelineOptions {
  /** Write what is buffered at least this often (default 1000 ms). */
  flushIntervalMs?: number;
  /** Write at once when this many events are buffered (default 5,000). */
  flushEvents?: number;
  /** Events buffered at most (default 500,000): past it, batches are refused (503) and counted as dropped. */
  maxBufferedEvents?: number;
  /** Approximate memory the buffer may take (default 64 MiB). */
  maxBufferedBytes?: number;
  /** Events written per transaction at most (default 5,000). */
  maxWriteEvents?: number;
  /** Wait after a failed write, doubling up to 30 s (default 500 ms). */
  retryDelayMs?: number;
  log?: FastifyBaseLogger;
  onWritten?: (events: number, duplicateBatches: number) => void;
  onDropped?: (reason: 'buffer_full' | 'rejected_by_store' | 'shutdown', events: number) => void;
  onBuffered?: (events: number, bytes: number) => void;
}

interface Pending {
  batch: EventBatch;
  events: number;
  bytes: number;
}

export type EventsStatus = 'ok' | 'degraded';

/** Bytes a folded server-side exposure takes while buffered (approximate). */
const FOLDED_BYTES = 160;
const MAX_FOLDED_KEYS = 50_000;

type FoldedExposure = ExposureRecord & { environment: string };

/**
 * Between the HTTP routes and the events store: batches wait in a bounded, memory-capped buffer and are written in
 * the background, many per transaction. Evaluations never wait for it. When the store fails, the buffer keeps them
 * (status `degraded`) and writes again with a growing delay; when it is full, new batches are refused and counted as
 * dropped, never silently lost. Evaluations the server answers itself are folded in memory (one row per flag ×
 * variation × unit × minute) before they join the buffer.
 */
export class EventsPipeline {
  readonly store: EventsStore;
  readonly #options: Required<Omit<EventsPipelineOptions, 'log' | 'onWritten' | 'onDropped' | 'onBuffered'>> & EventsPipelineOptions;
  readonly #queue: Pending[] = [];
  #bufferedEvents = 0;
  #bufferedBytes = 0;
  /**
   * Exposures being folded, by flag and unit, then a short list (variation, minute, environment, error: one entry in
   * practice). Nested maps rather than one string key: no key is built per evaluation, on the OFREP hot path.
   */
  readonly #folded = new Map<string, Map<string, FoldedExposure[]>>();
  #foldedCount = 0;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #retryAt = 0;
  #failures = 0;
  #status: EventsStatus = 'ok';
  #lastError: { message: string; at: string } | undefined;
  #dropped = 0;
  #written = 0;
  #closed = false;

  constructor(store: EventsStore, options: EventsPipelineOptions = {}) {
    this.store = store;
    this.#options = {
      flushIntervalMs: 1000,
      flushEvents: 5_000,
      maxBufferedEvents: 500_000,
      maxBufferedBytes: 64 * 1024 * 1024,
      maxWriteEvents: 5_000,
      retryDelayMs: 500,
      ...options,
    };
    this.#timer = setInterval(() => void this.flush(), this.#options.flushIntervalMs);
    this.#timer.unref();
  }

  get status(): EventsStatus {
    return this.#status;
  }

  get health(): { status: EventsStatus; buffered: number; dropped: number; written: number; lastError?: string; lastErrorAt?: string } {
    return {
      status: this.#status,
      buffered: this.#bufferedEvents + this.#foldedCount,
      dropped: this.#dropped,
      written: this.#written,
      ...(this.#lastError && this.#status !== 'ok' ? { lastError: this.#lastError.message, lastErrorAt: this.#lastError.at } : {}),
    };
  }

  /** Buffers one batch. False when the buffer is full: the batch is dropped (and counted). */
  enqueue(batch: EventBatch, bytes: number): boolean {
    const events = batch.exposures.length + batch.tracks.length;
    if (events === 0 || this.#closed) return !this.#closed;
    if (this.#bufferedEvents + events > this.#options.maxBufferedEvents || this.#bufferedBytes + bytes > this.#options.maxBufferedBytes) {
      this.#drop('buffer_full', events);
      return false;
    }
    this.#queue.push({ batch, events, bytes });
    this.#bufferedEvents += events;
    this.#bufferedBytes += bytes;
    this.#options.onBuffered?.(this.#bufferedEvents, this.#bufferedBytes);
    if (this.#bufferedEvents >= this.#options.flushEvents) void this.flush();
    return true;
  }

  /** An evaluation this server answered (OFREP, relay) of a flag with `trackEvents`: an exposure, folded. */
  recordEvaluation(flag: string, variation: string, unit: string | undefined, errorCode: string | undefined, environment = DEFAULT_ENVIRONMENT): void {
    if (this.#closed) return;
    const at = Math.floor(Date.now() / 60_000) * 60_000;
    const error = errorCode || undefined;
    let byUnit = this.#folded.get(flag);
    if (byUnit === undefined) this.#folded.set(flag, (byUnit = new Map()));
    let list = byUnit.get(unit ?? '');
    if (list === undefined) byUnit.set(unit ?? '', (list = []));
    for (const folded of list) {
      if (folded.variation === variation && folded.at === at && folded.environment === environment && folded.errorCode === error) {
        folded.count = (folded.count ?? 1) + 1;
        return;
      }
    }
    list.push({
      environment,
      flag,
      variation,
      ...(unit !== undefined ? { unit } : {}),
      at,
      count: 1,
      ...(error ? { errorCode: error } : {}),
    });
    this.#foldedCount += 1;
    if (this.#foldedCount >= MAX_FOLDED_KEYS) this.#moveFolded();
  }

  /** Writes what is buffered now (one write at a time; a call during a write waits for it). */
  flush(): Promise<void> {
    if (this.#flushing) return this.#flushing;
    this.#flushing = this.#flush().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /** Writes what is left (waiting up to `timeoutMs`), then stops; what could not be written is counted as dropped. */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#timer);
    this.#moveFolded();
    const deadline = Date.now() + timeoutMs;
    this.#retryAt = 0;
    while (this.#queue.length > 0 && Date.now() < deadline) {
      const before = this.#bufferedEvents;
      await this.flush();
      if (this.#bufferedEvents >= before) await new Promise((resolve) => setTimeout(resolve, Math.min(200, Math.max(0, deadline - Date.now()))));
      this.#retryAt = 0;
    }
    this.#closed = true;
    if (this.#bufferedEvents > 0) this.#drop('shutdown', this.#bufferedEvents);
    this.#queue.length = 0;
    this.#bufferedEvents = 0;
    this.#bufferedBytes = 0;
  }

  #moveFolded(): void {
    if (this.#foldedCount === 0) return;
    const byEnvironment = new Map<string, ExposureRecord[]>();
    for (const byUnit of this.#folded.values())
      for (const folded of byUnit.values())
        for (const { environment, ...exposure } of folded) {
          const list = byEnvironment.get(environment) ?? [];
          list.push(exposure);
          byEnvironment.set(environment, list);
        }
    this.#folded.clear();
    this.#foldedCount = 0;
    for (const [environment, exposures] of byEnvironment) {
      const events = exposures.length;
      const bytes = events * FOLDED_BYTES;
      if (this.#bufferedEvents + events > this.#options.maxBufferedEvents || this.#bufferedBytes + bytes > this.#options.maxBufferedBytes) {
        this.#drop('buffer_full', exposures.reduce((sum, e) => sum + (e.count ?? 1), 0));
        continue;
      }
      this.#queue.push({ batch: { environment, exposures, tracks: [] }, events, bytes });
      this.#bufferedEvents += events;
      this.#bufferedBytes += bytes;
    }
  }

  async #flush(): Promise<void> {
    this.#moveFolded();
    while (this.#queue.length > 0) {
      if (Date.now() < this.#retryAt) return;
      let events = 0;
      let take = 0;
      while (take < this.#queue.length && (take === 0 || events + this.#queue[take]!.events <= this.#options.maxWriteEvents)) {
        events += this.#queue[take]!.events;
        take++;
      }
      const pending = this.#queue.slice(0, take);
      try {
        const result = await this.store.write(pending.map((p) => p.batch));
        this.#remove(pending);
        this.#written += result.events;
        this.#options.onWritten?.(result.events, result.duplicates);
        if (this.#status !== 'ok') this.#options.log?.info({ buffered: this.#bufferedEvents }, 'events store: writing again');
        this.#status = 'ok';
        this.#failures = 0;
      } catch (error) {
        this.#lastError = { message: (error as Error).message, at: new Date().toISOString() };
        if (!this.store.isUnavailable(error) && !isTransient(error)) {
          // Data the store refuses would block the buffer for ever: dropped, counted and logged.
          this.#remove(pending);
          this.#drop('rejected_by_store', events);
          this.#options.log?.error({ err: error, events }, 'events store refused a write: events dropped');
          continue;
        }
        if (this.#status === 'ok') this.#options.log?.warn({ err: error }, 'events store unavailable: buffering events');
        this.#status = 'degraded';
        this.#retryAt = Date.now() + Math.min(this.#options.retryDelayMs * 2 ** this.#failures++, 30_000);
        return;
      }
    }
  }

  #remove(pending: Pending[]): void {
    this.#queue.splice(0, pending.length);
    for (const p of pending) {
      this.#bufferedEvents -= p.events;
      this.#bufferedBytes -= p.bytes;
    }
    this.#options.onBuffered?.(this.#bufferedEvents, this.#bufferedBytes);
  }

  #drop(reason: 'buffer_full' | 'rejected_by_store' | 'shutdown', events: number): void {
    this.#dropped += events;
    this.#options.onDropped?.(reason, events);
  }
}

/** Connection-level failures the driver may not classify (a pool that gave up, a socket closed mid-query). */
function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && (code.startsWith('08') || code.startsWith('57P') || code === '40P01' || code === '40001' || code === '53300')) return true;
  return error instanceof Error && /connect|closed|terminat|timeout|ECONN/i.test(error.message);
}
