/**
 * A push-based queue consumed as an async iterator: the producer pushes items as they happen, the consumer pulls them
 * with `for await`. Used by the stores' `watch()` implementations.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private readonly waiting: Array<(result: IteratorResult<T>) => void> = [];
  private ended = false;
  private readonly onEnd: (() => void) | undefined;

  /** `onEnd` runs once, when the queue ends (producer `end()`, consumer `return()`/`break`, or the signal aborts). */
  constructor(options: { signal?: AbortSignal | undefined; onEnd?: () => void } = {}) {
    this.onEnd = options.onEnd;
    const { signal } = options;
    if (signal) {
      if (signal.aborted) this.end();
      else signal.addEventListener('abort', () => this.end(), { once: true });
    }
  }

  get closed(): boolean {
    return this.ended;
  }

  push(item: T): void {
    if (this.ended) return;
    const waiter = this.waiting.shift();
    if (waiter) waiter({ value: item, done: false });
    else this.items.push(item);
  }

  /** Ends the stream: items already queued are still delivered, then the iterator is done. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const waiter of this.waiting.splice(0)) waiter({ value: undefined, done: true });
    this.onEnd?.();
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.items.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
