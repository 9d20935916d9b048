const HIDDEN: unique symbol = Symbol('hidden');

/**
 * An immutable map made of a shared base map and a small overlay of changes, so that deriving the next version of a
 * 10,000-entry map costs the size of the change, not a copy of the whole map (a snapshot per write stays cheap while
 * readers keep the previous one). It iterates in the order a `Map` that received the same sets and deletes would.
 * Values are never `undefined`. When the overlay grows past a share of the base, the next version is flattened.
 */
export class LayeredMap<K, V> implements ReadonlyMap<K, V> {
  readonly size: number;
  readonly #base: ReadonlyMap<K, V>;
  /** New values of base keys (same position), or HIDDEN for base keys deleted (or moved to the end). */
  readonly #overlay: ReadonlyMap<K, V | typeof HIDDEN>;
  /** Keys after the base's, in insertion order. */
  readonly #appended: ReadonlyMap<K, V>;
  #flat: Map<K, V> | undefined;

  private constructor(base: ReadonlyMap<K, V>, overlay: ReadonlyMap<K, V | typeof HIDDEN>, appended: ReadonlyMap<K, V>, size: number) {
    this.#base = base;
    this.#overlay = overlay;
    this.#appended = appended;
    this.size = size;
  }

  /** Takes `map` as the base: the caller must never change it afterwards. */
  static of<K, V>(map: ReadonlyMap<K, V>): LayeredMap<K, V> {
    return map instanceof LayeredMap ? (map as LayeredMap<K, V>) : new LayeredMap(map, new Map(), new Map(), map.size);
  }

  /** A new version with these changes applied in order (`undefined`: delete). This one is left as it was. */
  with(changes: Iterable<readonly [K, V | undefined]>): LayeredMap<K, V> {
    const overlay = new Map(this.#overlay);
    const appended = new Map(this.#appended);
    let size = this.size;
    for (const [key, value] of changes) {
      const inBase = this.#base.has(key) && overlay.get(key) !== HIDDEN;
      if (value === undefined) {
        if (appended.delete(key)) size--;
        else if (inBase) {
          overlay.set(key, HIDDEN);
          size--;
        }
      } else if (appended.has(key)) appended.set(key, value);
      else if (inBase) overlay.set(key, value);
      else {
        appended.set(key, value);
        size++;
      }
    }
    const next = new LayeredMap(this.#base, overlay, appended, size);
    return overlay.size + appended.size > 64 + this.#base.size / 8 ? new LayeredMap(next.#entries(), new Map(), new Map(), size) : next;
  }

  get(key: K): V | undefined {
    if (this.#overlay.size === 0 && this.#appended.size === 0) return this.#base.get(key);
    const appended = this.#appended.get(key);
    if (appended !== undefined) return appended;
    const replaced = this.#overlay.get(key);
    if (replaced !== undefined) return replaced === HIDDEN ? undefined : replaced;
    return this.#base.get(key);
  }

  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.#entries()) callback.call(thisArg, value, key, this);
  }

  entries(): MapIterator<[K, V]> {
    return this.#entries().entries();
  }

  keys(): MapIterator<K> {
    return this.#entries().keys();
  }

  values(): MapIterator<V> {
    return this.#entries().values();
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  /** The entries in order, as a plain map built once per version (only when iterated). */
  #entries(): Map<K, V> {
    if (this.#flat) return this.#flat;
    if (this.#overlay.size === 0 && this.#appended.size === 0 && this.#base instanceof Map) return (this.#flat = this.#base);
    const flat = new Map<K, V>();
    for (const [key, value] of this.#base) {
      const replaced = this.#overlay.get(key);
      if (replaced === HIDDEN) continue;
      flat.set(key, replaced ?? value);
    }
    for (const [key, value] of this.#appended) flat.set(key, value);
    return (this.#flat = flat);
  }
}
