/**
 * Watchers waiting for "something may have changed": `wait` resolves when its condition holds after a wake-up, after
 * `timeoutMs` (a safety poll), on abort, or once `closed()` says the owner closed.
 */
export class Wakers {
  readonly #wakers = new Set<() => void>();

  constructor(private readonly closed: () => boolean) {}

  wake(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  wait(ready: () => boolean, signal: AbortSignal | undefined, timeoutMs: number): Promise<void> {
    if (ready() || this.closed() || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(check);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const check = () => {
        if (ready() || this.closed()) done();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#wakers.add(check);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
