/**
 * The size of a copy record, estimated without serialising it: what packs
 * of copies and commits count toward Deno KV's limits.
 *
 * @module
 */

import type { FragmentRecord } from "./records.ts";

/**
 * A copy record's estimated bytes in a pack or a commit's atomic, more
 * than Deno KV's encoding takes: two bytes a character for its text (V8 stores a string in one or
 * two bytes a character), 16 for each number and field, and 256 for the
 * field names. Counted without serialising it: a JSON text of each record
 * took a fiftieth of a publish.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { copyRecordBytes } from "./_copy_bytes.ts";
 * const r = {
 *   dataset: "d", version: 1, fragment: "rank", bindings: { r: 0 }, node: "n1", tier: "memory",
 *   byteLength: 32, checksum: 0,
 * };
 * assert.ok(copyRecordBytes(r) > JSON.stringify(r).length);
 * ```
 */
export function copyRecordBytes(r: FragmentRecord): number {
  let bytes = 256 + 2 * (r.dataset.length + r.fragment.length + r.node.length + r.tier.length);
  for (const k in r.bindings) bytes += 2 * k.length + 16;
  if (r.reshape !== undefined) bytes += 2 * r.reshape.length + 16;
  for (const p of r.replicas ?? []) bytes += 64 + 2 * (p.node.length + p.tier.length);
  return bytes;
}
