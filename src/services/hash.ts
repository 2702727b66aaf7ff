/**
 * The hash that places service keys on targets: 32-bit FNV-1a finished with
 * the MurmurHash3 mixer, portable and byte-exact across processes (HEPnOS's
 * `std::hash` is not).
 *
 * @module
 */

/**
 * The 32-bit hash of `bytes`, seeded with `seed` (default 0).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hash32 } from "./hash.ts";
 * const a = hash32(new TextEncoder().encode("run-1"));
 * assert.equal(a, hash32(new TextEncoder().encode("run-1")));
 * assert.notEqual(a, hash32(new TextEncoder().encode("run-2")));
 * assert.ok(a >= 0 && a < 2 ** 32);
 * ```
 */
export function hash32(bytes: Uint8Array, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

/**
 * The MurmurHash3 finalizer: spreads every input bit over the result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mix32 } from "./hash.ts";
 * assert.notEqual(mix32(1), mix32(2));
 * assert.equal(mix32(0), 0);
 * ```
 */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
