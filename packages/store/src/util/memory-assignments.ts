// Sticky assignments kept in this process only: for stores that cannot keep them (flag files). Lost on restart and
// not shared between servers, which the server says in its start-up banner. Bounded: the oldest go first.
import type { AssignmentRequest, AssignmentStore } from '../types.js';
import { assignmentKey } from './assignments.js';

export class MemoryAssignmentStore implements AssignmentStore {
  readonly #kept = new Map<string, { flag: string; variation: string; expiresAt: number }>();

  constructor(private readonly maxEntries = 1_000_000) {}

  async assign(requests: readonly AssignmentRequest[]): Promise<string[]> {
    const now = Date.now();
    return requests.map((request) => {
      const key = assignmentKey(request);
      const kept = this.#kept.get(key);
      if (kept && kept.expiresAt > now && !request.replace) return kept.variation;
      this.#kept.delete(key);
      this.#kept.set(key, { flag: request.flag, variation: request.variation, expiresAt: now + request.ttlMs });
      if (this.#kept.size > this.maxEntries) this.#kept.delete(this.#kept.keys().next().value!);
      return request.variation;
    });
  }

  async clear(flag: string): Promise<number> {
    let removed = 0;
    for (const [key, entry] of this.#kept) {
      if (entry.flag !== flag) continue;
      this.#kept.delete(key);
      removed++;
    }
    return removed;
  }
}
