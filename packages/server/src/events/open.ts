import { openEventsStore, type EventBatch, type EventsStore, type EventsStoreOptions } from '@vexil/store';

/**
 * An events store opened on first use and opened again after a failed open: a server whose events database is down
 * at start still starts (serving flags, buffering events) and begins writing when the database answers.
 */
export class ReconnectingEventsStore implements EventsStore {
  readonly kind: EventsStore['kind'];
  readonly schema: string;
  #store: Promise<EventsStore> | undefined;
  #closed = false;

  constructor(
    private readonly url: string,
    private readonly options: EventsStoreOptions = {},
  ) {
    this.kind = url.startsWith('pglite:') ? 'pglite' : url.startsWith('sqlite:') ? 'sqlite' : 'postgres';
    this.schema = this.kind === 'sqlite' ? 'events_' : (options.schema ?? 'vexil_events');
  }

  /** Opens now; resolves either way (a failure is retried on the next use). */
  async start(): Promise<Error | undefined> {
    try {
      await this.#get();
      return undefined;
    } catch (error) {
      return error as Error;
    }
  }

  #get(): Promise<EventsStore> {
    if (this.#closed) return Promise.reject(new Error('the events store is closed'));
    if (!this.#store) {
      const opening = openEventsStore(this.url, this.options);
      this.#store = opening;
      opening.catch(() => {
        if (this.#store === opening) this.#store = undefined;
      });
    }
    return this.#store;
  }

  async write(batches: EventBatch[]) {
    return (await this.#get()).write(batches);
  }
  async flagSummary(...args: Parameters<EventsStore['flagSummary']>) {
    return (await this.#get()).flagSummary(...args);
  }
  async metricSummary(...args: Parameters<EventsStore['metricSummary']>) {
    return (await this.#get()).metricSummary(...args);
  }
  async firstExposures(...args: Parameters<EventsStore['firstExposures']>) {
    return (await this.#get()).firstExposures(...args);
  }
  async unitMetricTotals(...args: Parameters<EventsStore['unitMetricTotals']>) {
    return (await this.#get()).unitMetricTotals(...args);
  }
  async experimentStatistics(...args: Parameters<EventsStore['experimentStatistics']>) {
    return (await this.#get()).experimentStatistics(...args);
  }
  async prune(now?: number) {
    return (await this.#get()).prune(now);
  }
  async ping(): Promise<boolean> {
    try {
      return await (await this.#get()).ping();
    } catch {
      return false;
    }
  }
  isUnavailable(error: unknown): boolean {
    // A failed open is a store that did not answer.
    return (error as { name?: string } | undefined)?.name === 'StoreUnavailableError' || /connect|ECONN|closed|timeout/i.test(String((error as Error)?.message));
  }
  async close(): Promise<void> {
    this.#closed = true;
    const store = this.#store;
    this.#store = undefined;
    await (await store?.catch(() => undefined))?.close();
  }
}
