/**
 * Helpers of the registry's tests: a registry on its own KV file under
 * ./tmp, removed afterwards, and exact error expectations.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LostError, type StrataError } from "../errors.ts";
import type { FragmentRecord, StoredPack, StoredVersionRecord } from "./records.ts";
import { regionText } from "./keys.ts";
import { openRegistry, type Registry, type RegistryOptions } from "./registry.ts";

/** A 2-D grid: row blocks, even rows (strided), rows as float32, a read-only view. */
export const GRID = `dataset grid { var t [8, 4]float64 }
fragment rows(r0, r1) { var t = t[r0:r1, :] }
fragment even { var t [i, j] = t[i*2, j] }
fragment low(r0, r1) { var t float32 = t[r0:r1, :] }
fragment view read-only { var t = t }`;

/** Runs `fn` with a registry on a fresh KV file under ./tmp, then removes it. */
export async function withRegistry(
  fn: (reg: Registry, path: string) => Promise<void>,
  options: Omit<RegistryOptions, "path"> = {},
): Promise<void> {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp", prefix: "registry_" });
  const path = `${dir}/registry.kv`;
  const reg = await openRegistry({ path, ...options });
  try {
    await fn(reg, path);
  } finally {
    reg.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The record of a copy of cell `r` (a fragment `cell(r)`) of version 1 of
 * `dataset`, on node n1's memory tier.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cellCopy } from "./_testing.ts";
 * assert.deepEqual(cellCopy("c", 7).bindings, { r: 7 });
 * ```
 */
export function cellCopy(dataset: string, r: number): FragmentRecord {
  return {
    dataset,
    version: 1,
    fragment: "cell",
    bindings: { r },
    node: "n1",
    tier: "memory",
    byteLength: 1,
    checksum: 0,
  };
}

/**
 * The record of node `a`'s copy of the whole of version `version` of
 * `dataset`, `byteLength` bytes, on its memory tier.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wholeCopy } from "./_testing.ts";
 * assert.equal(wholeCopy("d", 3, 16).fragment, "dataset");
 * ```
 */
export function wholeCopy(dataset: string, version: number, byteLength: number): FragmentRecord {
  return {
    dataset,
    version,
    fragment: "dataset",
    bindings: {},
    node: "a",
    tier: "memory",
    byteLength,
    checksum: 0,
  };
}

/** The record of a publish of rows [r0, r1) of `grid`. */
export function rows(r0: number, r1: number, version = 1): FragmentRecord {
  return {
    dataset: "grid",
    version,
    fragment: "rows",
    bindings: { r0, r1 },
    node: "n1",
    tier: "memory",
    byteLength: (r1 - r0) * 4 * 8,
    checksum: 1,
  };
}

/** Asserts that `p` rejects with exactly this class, code and message. */
export async function rejectsWith(
  p: Promise<unknown>,
  cls: abstract new (...a: never[]) => StrataError,
  code: string,
  message: string,
): Promise<void> {
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    assert.equal(e.constructor, cls);
    assert.equal(e.code, code);
    assert.equal(e.message, message);
    return true;
  });
}

/**
 * Asserts that attaching `version` of dataset `grid` (a region of `fragment`,
 * whole rows by default) answers that it was retired, the dataset keeping `keep`.
 */
export async function assertRetired(
  reg: Registry,
  version: number,
  keep: number,
  fragment = "rows",
  bindings: Record<string, number> = { r0: 0, r1: 8 },
): Promise<void> {
  await rejectsWith(
    reg.attachFragments({ dataset: "grid", version, fragment, bindings }),
    LostError,
    "gone",
    `Version ${version} of 'grid' is lost: fragment '${fragment}' was retired: 'grid' keeps its last ${keep} versions`,
  );
}

/** Every key under `prefix` in the KV file at `path` (opened on its own). */
export async function keysIn(path: string, prefix: Deno.KvKey): Promise<Deno.KvKey[]> {
  const kv = await Deno.openKv(path);
  try {
    const out: Deno.KvKey[] = [];
    for await (const e of kv.list({ prefix })) out.push(e.key);
    return out;
  } finally {
    kv.close();
  }
}

/**
 * The keys of every copy record of `dataset` (of `version` when given) in
 * the KV file at `path`, in key order: copies under keys of their own, and
 * those their version's record carries or a pack holds, as keys of their
 * own would name them (`["fragments", dataset, version, fragment, region]`).
 */
export async function copiesIn(
  path: string,
  dataset: string,
  version?: number,
): Promise<Deno.KvKey[]> {
  const kv = await Deno.openKv(path);
  try {
    const out = new Map<string, Deno.KvKey>();
    const at = version === undefined ? [dataset] : [dataset, version];
    // A list by prefix leaves out the prefix's own key.
    const records = version === undefined
      ? (await Array.fromAsync(kv.list<StoredVersionRecord>({ prefix: ["versions", dataset] })))
      : [await kv.get<StoredVersionRecord>(["versions", dataset, version])];
    for (const e of records) {
      for (const r of e.value?.copies ?? []) {
        const key = ["fragments", r.dataset, r.version, r.fragment, regionText(r.bindings)];
        out.set(JSON.stringify(key), key);
      }
    }
    for await (const e of kv.list<StoredPack>({ prefix: ["packs", dataset] })) {
      if (version !== undefined && e.key[2] !== version) continue;
      for (const r of e.value.copies) {
        const key = ["fragments", r.dataset, r.version, r.fragment, regionText(r.bindings)];
        out.set(JSON.stringify(key), key);
      }
    }
    for await (const e of kv.list({ prefix: ["fragments", ...at] })) {
      out.set(JSON.stringify(e.key), e.key);
    }
    return [...out.keys()].sort().map((k) => out.get(k)!);
  } finally {
    kv.close();
  }
}
