/**
 * The request counters of the rate limit: fixed windows per key, as @fastify/rate-limit's own local store counts
 * them, given to the plugin as its store so that the OFREP fast lane (ofrep/fast-lane.ts) counts its requests in the
 * very same windows. Bounded: at most `maxKeys` keys, the least recently used forgotten first.
 */
export interface RateWindow {
  current: number;
  /** Milliseconds left in the window. */
  ttl: number;
}

type Callback = (error: Error | null, window: RateWindow) => void;

export class RateWindows {
  readonly #windows = new Map<string, { current: number; startMs: number }>();

  constructor(private readonly maxKeys = 50_000) {}

  /** Counts one request of `key`; the window's count and time left after it. */
  count(key: string, timeWindowMs: number, now = Date.now()): RateWindow {
    let window = this.#live(key, timeWindowMs, now);
    if (window === undefined) window = { current: 1, startMs: now };
    else window.current++;
    // Map order is insertion order: re-inserting keeps the most recently used last.
    this.#windows.delete(key);
    this.#windows.set(key, window);
    if (this.#windows.size > this.maxKeys) this.#windows.delete(this.#windows.keys().next().value!);
    return { current: window.current, ttl: timeWindowMs - (now - window.startMs) };
  }

  /** The window of `key` while it lasts; undefined when there is none or it has ended. */
  #live(key: string, timeWindowMs: number, now: number): { current: number; startMs: number } | undefined {
    const window = this.#windows.get(key);
    return window === undefined || window.startMs + timeWindowMs <= now ? undefined : window;
  }

  /** Takes back one request of `key` (counted by the OFREP fast lane, then handed to Fastify, which counts it). */
  refund(key: string): void {
    const window = this.#windows.get(key);
    if (window !== undefined && window.current > 0) window.current--;
  }

  /** This object as @fastify/rate-limit's `store` option (it calls `new store(options)`). */
  asPluginStore(): new (options: unknown) => object {
    const windows = this;
    const store = {
      incr(key: string, callback: Callback, timeWindow: number) {
        callback(null, windows.count(key, timeWindow));
      },
      read(key: string, callback: Callback, timeWindow: number) {
        const now = Date.now();
        const window = windows.#live(key, timeWindow, now);
        callback(null, window === undefined ? { current: 0, ttl: timeWindow } : { current: window.current, ttl: timeWindow - (now - window.startMs) });
      },
      child() {
        return store;
      },
    };
    // A constructor that returns an object makes `new` return that object.
    return function PluginStore() {
      return store;
    } as unknown as new (options: unknown) => object;
  }
}
