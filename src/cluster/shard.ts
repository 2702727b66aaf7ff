/**
 * Which name server holds a dataset: its name hashed over the configured
 * list, so every runtime and client agrees with no central directory.
 *
 * @module
 */

/**
 * The index of the name server of `dataset` among `count` (FNV-1a of the
 * name's UTF-8 bytes, modulo `count`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shardOf } from "./shard.ts";
 * assert.equal(shardOf("particles", 1), 0);
 * assert.equal(shardOf("particles", 3), shardOf("particles", 3));
 * assert.ok(shardOf("particles", 3) < 3);
 * ```
 */
export function shardOf(dataset: string, count: number): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(dataset)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % count;
}
