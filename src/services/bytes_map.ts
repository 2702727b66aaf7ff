/**
 * A map keyed by byte strings compared by value. A `Map` keyed by strings
 * made of the bytes cost more to ask than the answer was worth: building a
 * product key's string and hashing it, new, took about 0.5 µs (V8 hashes a
 * string the first time it is used as a key), a third of a cached HEPnOS
 * load's time on the server; hashing the bytes here takes about 0.04 µs.
 *
 * @module
 */

import { hash32 } from "./hash.ts";

/** One entry: its key, its value and the next entry of the same hash. */
interface Slot<V> {
  readonly key: Uint8Array;
  value: V;
  next: Slot<V> | undefined;
}

/** The seed of this process's hashes: keys chosen to collide here would need it. */
const SEED = crypto.getRandomValues(new Uint32Array(1))[0]!;

/**
 * The map. A key is held as given, not copied: its bytes must not change
 * while it is in the map (`set` from a reused buffer: pass a copy).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BytesMap } from "./bytes_map.ts";
 * const m = new BytesMap<string>();
 * m.set(new Uint8Array([1, 2]), "a");
 * assert.equal(m.get(new Uint8Array([1, 2])), "a");
 * assert.equal(m.get(new Uint8Array([1, 2, 0])), undefined);
 * assert.deepEqual(m.delete(new Uint8Array([1, 2]))?.value, "a");
 * assert.equal(m.size, 0);
 * ```
 */
export class BytesMap<V> {
  readonly #slots = new Map<number, Slot<V>>();
  readonly #hash: (key: Uint8Array) => number;
  #size = 0;

  /** An empty map hashing keys with `hash` (default: a seeded 32-bit FNV-1a, `hash32`). */
  constructor(hash: (key: Uint8Array) => number = (key) => hash32(key, SEED)) {
    this.#hash = hash;
  }

  /** Entries held. */
  get size(): number {
    return this.#size;
  }

  /** The value of `key`, or undefined. */
  get(key: Uint8Array): V | undefined {
    return this.#find(key, this.#hash(key))?.value;
  }

  /** Whether `key` is held. */
  has(key: Uint8Array): boolean {
    return this.#find(key, this.#hash(key)) !== undefined;
  }

  /** Sets `key` (held as given when new; the held key kept otherwise) to `value`. */
  set(key: Uint8Array, value: V): this {
    const h = this.#hash(key);
    const found = this.#find(key, h);
    if (found !== undefined) {
      found.value = value;
      return this;
    }
    this.#slots.set(h, { key, value, next: this.#slots.get(h) });
    this.#size++;
    return this;
  }

  /** Removes `key`; answers its entry (the key as held, and its value), or undefined. */
  delete(key: Uint8Array): { readonly key: Uint8Array; readonly value: V } | undefined {
    const h = this.#hash(key);
    let before: Slot<V> | undefined;
    for (let s = this.#slots.get(h); s !== undefined; before = s, s = s.next) {
      if (!equal(s.key, key)) continue;
      if (before !== undefined) before.next = s.next;
      else if (s.next !== undefined) this.#slots.set(h, s.next);
      else this.#slots.delete(h);
      this.#size--;
      return s;
    }
    return undefined;
  }

  /** Removes every entry. */
  clear(): void {
    this.#slots.clear();
    this.#size = 0;
  }

  #find(key: Uint8Array, h: number): Slot<V> | undefined {
    for (let s = this.#slots.get(h); s !== undefined; s = s.next) {
      if (equal(s.key, key)) return s;
    }
    return undefined;
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
