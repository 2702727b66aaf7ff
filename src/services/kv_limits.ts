/**
 * Deno KV's limits (denoland/deno ext/kv/config.rs) and the sizes of keys
 * as KV encodes them, so a service checks its writes before KV refuses them.
 *
 * @module
 */

/** KV's limits, and the inline value size past which a service value goes to a blob. */
export const KV_LIMITS = {
  /** Largest encoded key, in bytes. */
  maxKeyBytes: 2048,
  /** Largest value, in bytes. */
  maxValueBytes: 65536,
  /** Mutations in one atomic commit. */
  maxMutations: 1000,
  /** Checks in one atomic commit. */
  maxChecks: 100,
  /** Bytes of keys and values in one atomic commit. */
  maxCommitBytes: 800 * 1024,
  /** Bytes of keys in one atomic commit. */
  maxCommitKeyBytes: 80 * 1024,
  /** Values larger than this are stored as blobs, with a reference in KV. */
  inlineValueBytes: 60 * 1024,
} as const;

/**
 * The size of `key` as Deno KV encodes it: a tag per part, strings and bytes
 * with their zero bytes escaped and a terminator, numbers in 8 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyBytes } from "./kv_limits.ts";
 * assert.equal(keyBytes(["svc", new Uint8Array([1, 0, 2])]), 5 + 6);
 * assert.equal(keyBytes([7]), 9);
 * ```
 */
export function keyBytes(key: Deno.KvKey): number {
  let n = 0;
  for (const part of key) {
    if (part instanceof Uint8Array) n += 2 + part.length + zeros(part);
    else if (typeof part === "string") n += 2 + stringBytes(part);
    else if (typeof part === "number") n += 9;
    else if (typeof part === "bigint") n += 2 + Math.ceil(part.toString(16).length / 2) + 1;
    else n += 1;
  }
  return n;
}

/** A string's UTF-8 bytes, each zero byte counted twice (escaped), without encoding it. */
function stringBytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) n += 2;
    else if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      // A surrogate pair: one 4-byte character; a lone surrogate encodes as U+FFFD (3 bytes).
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

function zeros(b: Uint8Array): number {
  let z = 0;
  for (let i = 0; i < b.length; i++) if (b[i] === 0) z++;
  return z;
}
