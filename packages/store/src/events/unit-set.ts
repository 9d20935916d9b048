/**
 * Distinct units of one series (a flag × variation × minute): exact up to `EXACT_LIMIT` units (their 53-bit
 * hashes), then a HyperLogLog of 2^12 one-byte registers (standard error 1.04/√4096 ≈ 1.6 %). Both forms merge
 * (union), so minutes merge into hours and servers' batches into one row. Serialised as text: `x:<base64 hashes>`
 * or `h:<base64 registers>`; the empty string is the empty set.
 *
 * Hand-written (about 100 lines) because no maintained npm HyperLogLog both serialises and merges without a native
 * module or a large dependency tree; the algorithm is Flajolet et al. 2007 with linear counting for small
 * cardinalities. Hashes are plain numbers (no BigInt, no crypto): this runs for every exposure written.
 */
export const EXACT_LIMIT = 256;
const P = 12;
const M = 1 << P;
const ALPHA = 0.7213 / (1 + 1.079 / M);
const REST_BITS = 53 - P;
const REST = 2 ** REST_BITS;
const TWO_32 = 2 ** 32;

/** A 53-bit hash of a unit (two multiplicative 32-bit lanes mixed at the end), as a safe integer. */
export function unitHash(unit: string): number {
  let a = 0xdeadbeef;
  let b = 0x41c6ce57;
  for (let i = 0; i < unit.length; i++) {
    const c = unit.charCodeAt(i);
    a = Math.imul(a ^ c, 2654435761);
    b = Math.imul(b ^ c, 1597334677);
  }
  a = Math.imul(a ^ (a >>> 16), 2246822507) ^ Math.imul(b ^ (b >>> 13), 3266489909);
  b = Math.imul(b ^ (b >>> 16), 2246822507) ^ Math.imul(a ^ (a >>> 13), 3266489909);
  return 2_097_152 * (b >>> 0) + (a >>> 11);
}

export class UnitSet {
  #exact: Set<number> | undefined = new Set();
  #registers: Uint8Array | undefined;

  static parse(text: string | null | undefined): UnitSet {
    const set = new UnitSet();
    if (!text) return set;
    const bytes = Buffer.from(text.slice(2), 'base64');
    if (text.startsWith('h:')) {
      set.#exact = undefined;
      set.#registers = new Uint8Array(M);
      set.#registers.set(bytes.subarray(0, M));
    } else {
      for (let offset = 0; offset + 8 <= bytes.length; offset += 8) set.#exact!.add(bytes.readDoubleBE(offset));
    }
    return set;
  }

  addUnit(unit: string): void {
    this.addHash(unitHash(unit));
  }

  addHash(hash: number): void {
    if (this.#exact) {
      this.#exact.add(hash);
      if (this.#exact.size > EXACT_LIMIT) this.#toSketch();
      return;
    }
    addToRegisters(this.#registers!, hash);
  }

  merge(other: UnitSet): void {
    if (other.#exact) {
      for (const hash of other.#exact) this.addHash(hash);
      return;
    }
    if (this.#exact) this.#toSketch();
    const registers = this.#registers!;
    const theirs = other.#registers!;
    for (let i = 0; i < M; i++) if (theirs[i]! > registers[i]!) registers[i] = theirs[i]!;
  }

  get exact(): boolean {
    return this.#exact !== undefined;
  }

  size(): number {
    if (this.#exact) return this.#exact.size;
    const registers = this.#registers!;
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < M; i++) {
      sum += 2 ** -registers[i]!;
      if (registers[i] === 0) zeros++;
    }
    const estimate = (ALPHA * M * M) / sum;
    if (estimate <= 2.5 * M && zeros > 0) return Math.round(M * Math.log(M / zeros));
    return Math.round(estimate);
  }

  serialise(): string {
    if (this.#exact) {
      if (this.#exact.size === 0) return '';
      const bytes = Buffer.alloc(this.#exact.size * 8);
      let offset = 0;
      for (const hash of this.#exact) offset = bytes.writeDoubleBE(hash, offset);
      return `x:${bytes.toString('base64')}`;
    }
    return `h:${Buffer.from(this.#registers!).toString('base64')}`;
  }

  #toSketch(): void {
    const registers = new Uint8Array(M);
    for (const hash of this.#exact!) addToRegisters(registers, hash);
    this.#exact = undefined;
    this.#registers = registers;
  }
}

function addToRegisters(registers: Uint8Array, hash: number): void {
  const index = Math.floor(hash / REST);
  const rest = hash % REST;
  // Rank: position of the first 1 bit in the remaining 41 bits (42 when all are zero).
  const high = Math.floor(rest / TWO_32);
  const zeros = rest === 0 ? REST_BITS : high > 0 ? Math.clz32(high) - (32 - (REST_BITS - 32)) : REST_BITS - 32 + Math.clz32(rest >>> 0);
  const rank = zeros + 1;
  if (rank > registers[index]!) registers[index] = rank;
}
