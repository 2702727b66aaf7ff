/**
 * A map keyed by byte strings compared by value. A `Map` keyed by strings
 * made of the bytes cost more to ask: building a product key's string and
 * hashing it, new, took about 0.5 µs (V8 hashes a string the first time it
 * is used as a key); a lookup of a cached HEPnOS product fell from 0.70-0.75
 * to 0.50-0.58 µs with 256k entries held, a write stayed within noise of it
 * (`ValueCache`, in process).
 *
 * @module
 */

import { mix32 } from "./hash.ts";

/** One entry: its key, its value and the next entry of the same hash. */
interface Slot<V> {
  readonly key: Uint8Array;
  value: V;
  next: Slot<V> | undefined;
}

/**
 * Hashes kept to 30 bits: small integers to V8, where a 32-bit one past
 * 2^31 is a heap number, allocated and hashed again on every lookup.
 */
const SMI_MASK = 0x3fff_ffff;

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
  constructor(hash: (key: Uint8Array) => number = bytesHash) {
    this.#hash = hash;
  }

  /** Entries held. */
  get size(): number {
    return this.#size;
  }

  /**
   * The map's hash of `key`: the methods below take it when given, so a
   * key used several times is hashed once.
   */
  hash(key: Uint8Array): number {
    return this.#hash(key);
  }

  /** The value of `key` (whose hash is `h`), or undefined. */
  get(key: Uint8Array, h: number = this.#hash(key)): V | undefined {
    return this.#find(key, h)?.value;
  }

  /** Whether `key` (whose hash is `h`) is held. */
  has(key: Uint8Array, h: number = this.#hash(key)): boolean {
    return this.#find(key, h) !== undefined;
  }

  /** Sets `key` (held as given when new; the held key kept otherwise) to `value`. */
  set(key: Uint8Array, value: V, h: number = this.#hash(key)): this {
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
  delete(
    key: Uint8Array,
    h: number = this.#hash(key),
  ): { readonly key: Uint8Array; readonly value: V } | undefined {
    let before: Slot<V> | undefined;
    for (let s = this.#slots.get(h); s !== undefined; before = s, s = s.next) {
      if (!bytesEqual(s.key, key)) continue;
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
      if (bytesEqual(s.key, key)) return s;
    }
    return undefined;
  }
}

/**
 * A seeded 30-bit hash of `bytes`, four bytes a step (MurmurHash3's body
 * and finalizer): a 48-byte product key in about 30 ns, where a byte a step
 * took 130.
 */
function bytesHash(bytes: Uint8Array): number {
  const n = bytes.length;
  let h = SEED;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
  }
  let k = 0;
  for (let shift = 0; i < n; i++, shift += 8) k |= bytes[i]! << shift;
  k = Math.imul(k, 0xcc9e2d51);
  h ^= Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  return mix32(h ^ n) & SMI_MASK;
}

/**
 * Whether `a` and `b` hold the same bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bytesEqual } from "./bytes_map.ts";
 * assert.equal(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])), true);
 * assert.equal(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1])), false);
 * ```
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
