/**
 * Deletes of many keys (a dataset's records, retired versions' copies),
 * split into writes that each fit one KV atomic.
 *
 * @module
 */

import { keyBytesOf, type Mutation } from "./group_commit.ts";

/** Deletes per write when a dataset or retired versions are removed. */
const DELETES_PER_WRITE = 256;
/** Key bytes per delete write, well inside the 80 KiB KV allows per atomic. */
const DELETE_KEY_BYTES = 32 * 1024;

/**
 * The mutation that deletes `key`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deletion } from "./_deletes.ts";
 * assert.deepEqual(deletion(["latest", "t"]), { type: "delete", key: ["latest", "t"] });
 * ```
 */
export function deletion(key: Deno.KvKey): Mutation {
  return { type: "delete", key };
}

/**
 * Splits keys into delete writes that fit one atomic each.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chunks } from "./_deletes.ts";
 * const keys = Array.from({ length: 600 }, (_, i) => ["fragments", "t", 1, `r${i}`]);
 * assert.deepEqual(chunks(keys).map((c) => c.length), [256, 256, 88]);
 * ```
 */
export function chunks(keys: readonly Deno.KvKey[]): Deno.KvKey[][] {
  const out: Deno.KvKey[][] = [];
  let chunk: Deno.KvKey[] = [];
  let bytes = 0;
  for (const key of keys) {
    const b = keyBytesOf(key);
    if (chunk.length > 0 && (chunk.length >= DELETES_PER_WRITE || bytes + b > DELETE_KEY_BYTES)) {
      out.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(key);
    bytes += b;
  }
  if (chunk.length > 0) out.push(chunk);
  return out;
}
