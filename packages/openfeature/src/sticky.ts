// Sticky assignment in the client (`experiment.sticky`): the variation a unit was first given while the experiment
// runs is kept by the store (daemon mode) or the server, and cached here. The provider's async resolve waits for a unit
// it has not seen; the client's synchronous methods serve a cached assignment at once, and on a miss serve the flag's
// own result while the assignment is fetched for the next call (they cannot wait for I/O).
import { stickyRequestFor, withKeptVariation, type EvaluationContext, type EvaluationDetail, type Snapshot, type StickyRequest } from '@vexil/core/json';
import type { AssignmentAsk } from './sync/types.js';

/** Asks the source; undefined when it cannot answer (then nothing is cached and the flag's own result is served). */
export type AssignmentSource = (asks: readonly AssignmentAsk[], context: Record<string, unknown>) => Promise<string[] | undefined>;

interface Cached {
  variation: string;
  until: number;
}

export class ClientStickyAssignments {
  readonly #cache = new Map<string, Cached>();
  readonly #inFlight = new Map<string, Promise<void>>();
  /** The last snapshot looked at, and whether any of its flags has a sticky experiment. */
  #checked: Snapshot | undefined;
  #anySticky = false;

  constructor(
    private readonly source: AssignmentSource,
    private readonly maxEntries = 50_000,
    /** How long a cached assignment is trusted before the source is asked again. */
    private readonly ttlMs = 600_000,
  ) {}

  /**
   * The detail with the unit's cached assignment served; on a miss the detail as it is, while the assignment is fetched
   * in the background for the next evaluation.
   */
  served<T>(snapshot: Snapshot, detail: EvaluationDetail<T>, context: EvaluationContext): EvaluationDetail<T> {
    // Most snapshots have no sticky experiment: one comparison per evaluation then, and no lookup.
    if (snapshot !== this.#checked) {
      this.#checked = snapshot;
      this.#anySticky = [...snapshot.flags.values()].some((flag) => flag.definition.experiment?.sticky);
    }
    if (!this.#anySticky) return detail;
    const found = this.lookup(snapshot, detail, context);
    if (found.served) return found.served;
    if (found.miss) void this.fetch(snapshot, detail, context, found.miss.request, found.miss.replace);
    return detail;
  }

  /** Makes sure the unit's assignment for this evaluation is cached (waits for the source on a miss). */
  async prepare(snapshot: Snapshot, detail: EvaluationDetail<unknown>, context: EvaluationContext): Promise<void> {
    const { miss } = this.lookup(snapshot, detail, context);
    if (miss) await this.fetch(snapshot, detail, context, miss.request, miss.replace);
  }

  /**
   * Whether this evaluation takes part, and then its cached assignment served, or what to fetch (`replace` when the
   * cached variation is one the flag no longer has).
   */
  private lookup<T>(snapshot: Snapshot, detail: EvaluationDetail<T>, context: EvaluationContext): { served?: EvaluationDetail<T>; miss?: { request: StickyRequest; replace: boolean } } {
    const flag = snapshot.flags.get(detail.key);
    if (!flag?.definition.experiment?.sticky) return {};
    const now = Date.now();
    const request = stickyRequestFor(flag, detail, context, now);
    if (!request) return {};
    const cached = this.#get(request, now);
    const served = cached === undefined ? undefined : withKeptVariation(flag, detail, cached, now);
    return served ? { served } : { miss: { request, replace: cached !== undefined } };
  }

  /** One fetch per unit and flag at a time; a kept variation the flag no longer has is replaced. */
  private fetch(snapshot: Snapshot, detail: EvaluationDetail<unknown>, context: EvaluationContext, request: StickyRequest, replace: boolean): Promise<void> {
    const key = keyOf(request);
    let running = this.#inFlight.get(key);
    if (running) return running;
    running = (async () => {
      const flag = snapshot.flags.get(request.flag)!;
      const plain = context as Record<string, unknown>;
      let answer = await this.source([{ ...request, ...(replace ? { replace: true } : {}) }], plain);
      if (answer?.[0] !== undefined && !withKeptVariation(flag, detail, answer[0], Date.now())) {
        answer = await this.source([{ ...request, replace: true }], plain);
      }
      const kept = answer?.[0];
      if (kept !== undefined) this.#set(key, kept, Math.min(this.ttlMs, request.ttlMs));
    })()
      .catch(() => undefined)
      .finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, running);
    return running;
  }

  #get(request: StickyRequest, now: number): string | undefined {
    const key = keyOf(request);
    const entry = this.#cache.get(key);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.#cache.delete(key);
      return undefined;
    }
    return entry.variation;
  }

  #set(key: string, variation: string, ttlMs: number): void {
    this.#cache.delete(key);
    this.#cache.set(key, { variation, until: Date.now() + ttlMs });
    if (this.#cache.size > this.maxEntries) this.#cache.delete(this.#cache.keys().next().value!);
  }
}

function keyOf(request: StickyRequest): string {
  return `${request.flag.length}:${request.flag}${request.unit}`;
}
