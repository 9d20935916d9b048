import type { ChangeEvent } from '@vexil/store';

/**
 * The most recent store changes, in revision order, in a fixed-size ring. Every change with a revision above
 * `floor` is in it, so a stream client that last saw revision `r >= floor` can resume without a gap.
 */
export class ChangeLog {
  readonly capacity: number;
  readonly #ring: (ChangeEvent | undefined)[];
  #start = 0;
  #size = 0;
  /** Every change after this revision is kept. */
  floor = 0;

  constructor(capacity: number) {
    this.capacity = Math.max(1, capacity);
    this.#ring = new Array<ChangeEvent | undefined>(this.capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Forgets everything: the state was replaced as a whole at `revision`. */
  reset(revision: number): void {
    this.#ring.fill(undefined);
    this.#start = 0;
    this.#size = 0;
    this.floor = revision;
  }

  push(event: ChangeEvent): void {
    if (this.#size === this.capacity) {
      const oldest = this.#ring[this.#start]!;
      this.floor = oldest.revision;
      this.#ring[this.#start] = event;
      this.#start = (this.#start + 1) % this.capacity;
      return;
    }
    this.#ring[(this.#start + this.#size) % this.capacity] = event;
    this.#size++;
  }

  /** The changes after `revision`, or undefined when some of them are no longer kept. */
  since(revision: number): ChangeEvent[] | undefined {
    if (revision < this.floor) return undefined;
    const out: ChangeEvent[] = [];
    for (let i = 0; i < this.#size; i++) {
      const event = this.#ring[(this.#start + i) % this.capacity]!;
      if (event.revision > revision) out.push(event);
    }
    return out;
  }
}
