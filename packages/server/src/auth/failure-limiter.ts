import type { RateLimitOptions } from '../options.js';

/** Addresses tracked at once; past that, the oldest windows are forgotten first. */
const MAX_ADDRESSES = 100_000;

/**
 * Counts failed authentications per client address in fixed windows. An address that failed `max` times in its
 * window is refused (429) until the window ends, before its key is even looked at: guessing keys costs the guesser a
 * window per `max` guesses.
 */
export class AuthFailureLimiter {
  readonly max: number;
  readonly windowMs: number;
  readonly #windows = new Map<string, { failures: number; resetAt: number }>();

  constructor(options: RateLimitOptions, private readonly now: () => number = Date.now) {
    this.max = options.max;
    this.windowMs = options.timeWindowMs ?? 60_000;
  }

  /** True when no address has failed lately. */
  get idle(): boolean {
    return this.#windows.size === 0;
  }

  /** Seconds until `address` may try again, or undefined when it may now. */
  retryAfter(address: string): number | undefined {
    const window = this.#windows.get(address);
    if (!window) return undefined;
    const now = this.now();
    if (window.resetAt <= now) {
      this.#windows.delete(address);
      return undefined;
    }
    return window.failures >= this.max ? Math.max(1, Math.ceil((window.resetAt - now) / 1000)) : undefined;
  }

  /** Records one failure from `address`. */
  fail(address: string): void {
    const now = this.now();
    let window = this.#windows.get(address);
    if (!window || window.resetAt <= now) {
      if (window) this.#windows.delete(address);
      if (this.#windows.size >= MAX_ADDRESSES) this.#forgetOldest();
      window = { failures: 0, resetAt: now + this.windowMs };
      this.#windows.set(address, window);
    }
    window.failures += 1;
  }

  #forgetOldest(): void {
    // Map order is insertion order, and a renewed window is inserted again: the first windows are the oldest.
    for (const address of this.#windows.keys()) {
      if (this.#windows.size < MAX_ADDRESSES) return;
      this.#windows.delete(address);
    }
  }
}
