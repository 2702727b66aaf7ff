/**
 * The sizes of dataset, copy and version records, estimated without serialising
 * them: what packs of copies and commits count toward Deno KV's limits.
 *
 * @module
 */

import type { DatasetRecord, FragmentRecord, VersionRecord } from "./records.ts";

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
 * import { copyRecordBytes } from "./_record_bytes.ts";
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

/**
 * A version record's estimated bytes without the copies it carries, more
 * than Deno KV's encoding takes: 256 for its fields, two bytes a character
 * of each size's name and 16 for its value. Counted without serialising
 * it: the commit of each version built and serialised a copy of its
 * record only to size it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { versionRecordBytes } from "./_record_bytes.ts";
 * const r = { version: 7, state: "committed" as const, fragments: 4, bytes: 128, committedAt: 1 };
 * assert.ok(versionRecordBytes(r) > JSON.stringify(r).length);
 * ```
 */
export function versionRecordBytes(r: Pick<VersionRecord, "version" | "sizes">): number {
  let bytes = 256;
  if (r.sizes !== undefined) { for (const k in r.sizes) bytes += 2 * k.length + 16; }
  return bytes;
}

/**
 * A dataset record's estimated bytes in a pack, more than Deno KV's
 * encoding takes: two bytes a character for its text (V8 stores a string
 * in one or two bytes a character), 16 for each number and field, and 256
 * for the field names. Counted without serialising it: a JSON text of each
 * record took a twentieth of a create.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetRecordBytes } from "./_record_bytes.ts";
 * const r = {
 *   name: "d", description: "dataset { var x [4]float64 }", retention: 2, durable: false,
 *   overwrite: false, sizes: {}, createdAt: 1,
 * };
 * assert.ok(datasetRecordBytes(r) > JSON.stringify(r).length);
 * ```
 */
export function datasetRecordBytes(r: DatasetRecord): number {
  let bytes = 256 + 2 * (r.name.length + r.description.length);
  for (const k in r.sizes) bytes += 2 * k.length + 16;
  for (const c of r.consumers ?? []) bytes += 2 * c.length + 16;
  return bytes;
}
