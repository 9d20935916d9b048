// Sticky assignment on the server (`experiment.sticky`): OFREP and the relay API serve a unit the variation it was
// first given while the experiment runs, kept in the environment's store. A flag that is not sticky costs one map
// lookup; a sticky one a store round trip for a unit this server has not seen lately (then it is cached: assignments
// never change while they live, so a cached one is as good as the store's).
import { stickyRequestFor, withKeptVariation, type CompiledFlag, type EvaluationContext, type EvaluationDetail, type Snapshot, type StickyRequest } from '@vexil/core';
import { assignmentKey, MemoryAssignmentStore, type AssignmentRequest, type AssignmentStore, type FlagStore } from '@vexil/store';

export interface StickyAssignmentsOptions {
  /** Assignments cached in this process (most recently used kept). Default 100,000. */
  cacheSize?: number;
  /** How long a cached assignment is trusted before the store is asked again (a `clear` elsewhere shows then). Default 10 min. */
  cacheTtlMs?: number;
}

/** Where a store failure is reported (a request's logger): at most once every 30 s per environment. */
export interface StickyLog {
  warn(details: object, message: string): void;
}

interface Cached {
  variation: string;
  until: number;
}

/** Requests per store call at most (a bulk evaluation of more sticky flags than this still goes in one call). */
const MAX_BATCH = 500;

interface QueuedAssignment {
  requests: AssignmentRequest[];
  resolve(answers: string[]): void;
  reject(error: unknown): void;
}

interface Pending {
  index: number;
  flag: CompiledFlag;
  request: StickyRequest & { replace?: boolean };
}

export class StickyAssignments {
  readonly #store: AssignmentStore;
  readonly #cache = new Map<string, Cached>();
  readonly #cacheSize: number;
  readonly #cacheTtlMs: number;
  #lastWarning = 0;
  #lastSweep = 0;
  readonly #queue: QueuedAssignment[] = [];
  #flushing = false;

  constructor(store: AssignmentStore, options: StickyAssignmentsOptions = {}) {
    this.#store = store;
    this.#cacheSize = options.cacheSize ?? 100_000;
    this.#cacheTtlMs = options.cacheTtlMs ?? 600_000;
  }

  /**
   * The details with each sticky flag's kept variation served (a unit seen for the first time keeps the one it got).
   * A detail that takes no part is returned as it was. Synchronous when every assignment needed is cached; a promise
   * when the store must be asked. When the store fails, the flags' own results are served.
   */
  apply<T>(snapshot: Snapshot, details: EvaluationDetail<T>[], context: EvaluationContext, log?: StickyLog, now = Date.now()): EvaluationDetail<T>[] | Promise<EvaluationDetail<T>[]> {
    const out = details.slice();
    const pending: Pending[] = [];
    for (let index = 0; index < details.length; index++) {
      const detail = details[index]!;
      const flag = snapshot.flags.get(detail.key);
      if (!flag?.definition.experiment?.sticky) continue;
      const request = stickyRequestFor(flag, detail, context, now);
      if (!request) continue;
      const cached = this.#cached(request, now);
      const served = cached === undefined ? undefined : withKeptVariation(flag, detail, cached, now);
      if (served) out[index] = served;
      else pending.push({ index, flag, request: cached === undefined ? request : { ...request, replace: true } });
    }
    return pending.length === 0 ? out : this.#fromStore(details, out, pending, log, now);
  }

  /** Asks the store for what the cache did not have; fills `out`. */
  async #fromStore<T>(details: EvaluationDetail<T>[], out: EvaluationDetail<T>[], pending: Pending[], log: StickyLog | undefined, now: number): Promise<EvaluationDetail<T>[]> {
    // At most two rounds: the second replaces kept variations the flag no longer has.
    for (let round = 0; round < 2 && pending.length > 0; round++) {
      let answers: string[];
      try {
        answers = await this.#assign(pending.map(({ request }) => request satisfies AssignmentRequest));
      } catch (error) {
        if (log && Date.now() - this.#lastWarning > 30_000) {
          this.#lastWarning = Date.now();
          log.warn({ err: error }, 'sticky assignments: the store did not answer; serving the flags\' own results');
        }
        return out;
      }
      const again: Pending[] = [];
      pending.forEach((entry, i) => {
        const kept = answers[i] ?? entry.request.variation;
        const served = withKeptVariation(entry.flag, details[entry.index]!, kept, now);
        if (!served) {
          again.push({ ...entry, request: { ...entry.request, replace: true } });
          return;
        }
        this.#remember(entry.request, kept, now);
        out[entry.index] = served;
      });
      pending = again;
    }
    return out;
  }

  /**
   * Group commit: requests queue while one store call is in flight, and the next call takes them all (up to
   * MAX_BATCH). Under load, many requests for new units cost one statement or script instead of one each.
   */
  #assign(requests: AssignmentRequest[]): Promise<string[]> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ requests, resolve, reject });
      if (this.#flushing) return;
      this.#flushing = true;
      // After this I/O phase: the requests read in it join the same call (an embedded store runs in this thread, so
      // nothing new is read while its call runs).
      setImmediate(() => void this.#flush());
    });
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch: QueuedAssignment[] = [];
        let size = 0;
        while (this.#queue.length > 0 && (batch.length === 0 || size + this.#queue[0]!.requests.length <= MAX_BATCH)) {
          const next = this.#queue.shift()!;
          batch.push(next);
          size += next.requests.length;
        }
        try {
          const answers = await this.#store.assign(batch.flatMap((entry) => entry.requests));
          this.#sweepNow();
          let offset = 0;
          for (const entry of batch) {
            entry.resolve(answers.slice(offset, offset + entry.requests.length));
            offset += entry.requests.length;
          }
        } catch (error) {
          for (const entry of batch) entry.reject(error);
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.#flushing = false;
    }
  }

  /** Stores that do not expire rows by themselves (SQL) are swept of expired assignments at most once an hour. */
  #sweepNow(): void {
    if (!this.#store.sweep || Date.now() - this.#lastSweep < 3_600_000) return;
    this.#lastSweep = Date.now();
    void this.#store.sweep().catch(() => undefined);
  }

  #cached(request: StickyRequest, now: number): string | undefined {
    const key = assignmentKey(request);
    const entry = this.#cache.get(key);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.#cache.delete(key);
      return undefined;
    }
    // Most recently used last: eviction takes the first.
    this.#cache.delete(key);
    this.#cache.set(key, entry);
    return entry.variation;
  }

  #remember(request: StickyRequest, variation: string, now: number): void {
    const key = assignmentKey(request);
    this.#cache.delete(key);
    this.#cache.set(key, { variation, until: now + Math.min(this.#cacheTtlMs, request.ttlMs) });
    if (this.#cache.size > this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
  }
}

const perStore = new WeakMap<FlagStore, StickyAssignments>();

/**
 * The sticky assignments of the environment served from `store`: kept in the store when it can (SQL, Redis,
 * DynamoDB), else in this process (flag files: not shared between servers, lost on restart).
 */
export function stickyAssignmentsOf(store: FlagStore, options: StickyAssignmentsOptions = {}): StickyAssignments {
  let sticky = perStore.get(store);
  if (!sticky) {
    sticky = new StickyAssignments(store.assignments ?? new MemoryAssignmentStore(), options);
    perStore.set(store, sticky);
  }
  return sticky;
}

/**
 * The details with sticky assignment applied: synchronously when no flag takes part or every assignment is cached
 * (no promise on the common paths), else a promise of the served details.
 */
export function withStickyAssignments<T>(
  store: FlagStore,
  snapshot: Snapshot,
  details: EvaluationDetail<T>[],
  context: EvaluationContext,
  log?: StickyLog,
): EvaluationDetail<T>[] | Promise<EvaluationDetail<T>[]> {
  for (const detail of details) {
    if (snapshot.flags.get(detail.key)?.definition.experiment?.sticky) return stickyAssignmentsOf(store).apply(snapshot, details, context, log);
  }
  return details;
}
