import type { FastifyBaseLogger } from 'fastify';
import { signature } from '../notify/notifier.js';

export interface EventsWebhookOptions {
  url: string;
  /** Signs each body: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>` (as notifications are signed). */
  secret?: string;
  /** Events per request at most (default 1,000). */
  batchSize?: number;
  /** Send what is waiting at least this often (default 5,000 ms). */
  flushIntervalMs?: number;
  /** Events kept in memory at most (default 100,000): past it, the oldest are dropped and counted. */
  maxBuffered?: number;
  /** Attempts per request (default 4), waiting `retryDelayMs` × 2^attempt between them (default 500 ms). */
  attempts?: number;
  retryDelayMs?: number;
  timeoutMs?: number;
  /** Extra `meta` in each body (GO Feature Flag's webhook exporter sends `{ meta, events }`). */
  meta?: Record<string, string>;
  log?: FastifyBaseLogger;
  fetch?: typeof fetch;
  onOutcome?: (outcome: 'sent' | 'retry' | 'failed' | 'dropped', events: number) => void;
}

/**
 * Exports the raw collected events to a warehouse: batched POSTs of `{ meta, events }` (GO Feature Flag's webhook
 * exporter body), HMAC-signed like notifications, retried with backoff, bounded in memory. One request at a time, in
 * order; what is dropped (full buffer, retries exhausted, shutdown) is counted.
 */
export class EventsWebhookExporter {
  readonly #options: Required<Omit<EventsWebhookOptions, 'secret' | 'log' | 'onOutcome' | 'meta'>> & EventsWebhookOptions;
  #buffer: unknown[] = [];
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<void> | undefined;
  #closed = false;
  readonly #abort = new AbortController();

  constructor(options: EventsWebhookOptions) {
    this.#options = { batchSize: 1_000, flushIntervalMs: 5_000, maxBuffered: 100_000, attempts: 4, retryDelayMs: 500, timeoutMs: 10_000, fetch: globalThis.fetch, ...options };
    this.#timer = setInterval(() => void this.flush(), this.#options.flushIntervalMs);
    this.#timer.unref();
  }

  get buffered(): number {
    return this.#buffer.length;
  }

  add(events: unknown[]): void {
    if (this.#closed) return;
    this.#buffer.push(...events);
    const over = this.#buffer.length - this.#options.maxBuffered;
    if (over > 0) {
      this.#buffer.splice(0, over);
      this.#options.onOutcome?.('dropped', over);
    }
    if (this.#buffer.length >= this.#options.batchSize) void this.flush();
  }

  flush(): Promise<void> {
    this.#sending ??= this.#send().finally(() => {
      this.#sending = undefined;
    });
    return this.#sending;
  }

  async #send(): Promise<void> {
    while (this.#buffer.length > 0 && !this.#abort.signal.aborted) {
      const events = this.#buffer.splice(0, this.#options.batchSize);
      const body = JSON.stringify({ meta: this.#options.meta ?? {}, events });
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (this.#options.secret) headers['x-hub-signature-256'] = signature(this.#options.secret, body);
      let delivered = false;
      for (let attempt = 0; attempt < this.#options.attempts && !this.#abort.signal.aborted; attempt++) {
        try {
          const response = await this.#options.fetch(this.#options.url, {
            method: 'POST',
            headers,
            body,
            signal: AbortSignal.any([AbortSignal.timeout(this.#options.timeoutMs), this.#abort.signal]),
          });
          await response.arrayBuffer().catch(() => undefined);
          if (response.ok) {
            delivered = true;
            break;
          }
          if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) break;
        } catch {
          // retried below
        }
        if (attempt + 1 < this.#options.attempts) {
          this.#options.onOutcome?.('retry', events.length);
          await new Promise((resolve) => setTimeout(resolve, this.#options.retryDelayMs * 2 ** attempt));
        }
      }
      if (delivered) this.#options.onOutcome?.('sent', events.length);
      else {
        this.#options.onOutcome?.('failed', events.length);
        this.#options.log?.error({ url: this.#options.url, events: events.length }, 'events webhook: delivery failed, events dropped');
      }
    }
  }

  /** Sends what is left, waiting up to `timeoutMs`; the rest is counted as dropped. */
  async close(timeoutMs = 3_000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flush(), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    this.#abort.abort();
    await this.#sending?.catch(() => undefined);
    if (this.#buffer.length > 0) this.#options.onOutcome?.('dropped', this.#buffer.length);
    this.#buffer = [];
  }
}
