/**
 * Loading a registry's state from its KV store: datasets, versions, copies
 * and latest pointers, then the deletions a crash interrupted.
 *
 * @module
 */

import { copyRegion } from "./_fixed_regions.ts";
import {
  type DatasetEntry,
  newVersion,
  type RegistryState,
  retiredBelow,
  type VersionEntry,
} from "./_state.ts";
import { KEYS } from "./keys.ts";
import { removeVersion } from "./retention.ts";
import type { DatasetRecord, FragmentRecord, VersionRecord } from "./records.ts";

/**
 * Loads every record from KV into `state`; `purge` finishes each deletion
 * a crash interrupted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RegistryState } from "./_state.ts";
 * import { loadState } from "./_load.ts";
 * using state = new RegistryState(await Deno.openKv(":memory:"));
 * await state.kv.set(["datasets", "t"], {
 *   name: "t", description: "dataset { var x [4]float64 }", retention: 2, durable: false,
 *   overwrite: false, sizes: {}, createdAt: 1,
 * });
 * await state.kv.set(["latest", "t"], 3);
 * await loadState(state, () => Promise.resolve());
 * assert.equal(state.dataset("t").latest, 3);
 * ```
 */
export async function loadState(
  state: RegistryState,
  purge: (name: string) => Promise<unknown>,
): Promise<void> {
  const unfinished = await loadDatasets(state);
  const stale = await loadVersions(state);
  await loadCopies(state);
  // Retired versions with copies left (a crash came before their records
  // were removed) are counted: the next commit removes them. Without
  // copies (a retired record at or above the oldest version kept, which
  // retention never leaves) commits skip them.
  for (const d of state.datasets.values()) {
    for (const v of d.live) {
      if (v.state !== "retired") continue;
      if (v.held.size === 0) d.live.delete(v);
      else d.leftovers++;
    }
  }
  for await (const e of state.kv.list<number>({ prefix: KEYS.latests() })) {
    const d = state.datasets.get(e.key[1] as string);
    if (d !== undefined) d.latest = e.value;
  }
  for (const name of unfinished) await purge(name);
  // Records of retired versions, as stores written before retirement deleted them kept them.
  for (let i = 0; i < stale.length; i += STALE_PER_ATOMIC) {
    await state.writes.write(
      stale.slice(i, i + STALE_PER_ATOMIC).map((key) => ({ type: "delete" as const, key })),
    );
  }
}

/** Stale records deleted per atomic at load. */
const STALE_PER_ATOMIC = 500;

/** Loads the datasets; returns the names whose deletion was under way. */
async function loadDatasets(state: RegistryState): Promise<string[]> {
  const unfinished: string[] = [];
  for await (const e of state.kv.list<DatasetRecord>({ prefix: KEYS.datasets() })) {
    if (e.value.deleting === true) unfinished.push(e.value.name);
    else state.datasets.set(e.value.name, state.entry(e.value));
  }
  return unfinished;
}

/**
 * Loads the version records; returns the keys of records of versions
 * retired below the oldest version kept, which are dropped (`retiredBelow`
 * answers for them).
 */
async function loadVersions(state: RegistryState): Promise<Deno.KvKey[]> {
  const committed = new Map<DatasetEntry, number[]>();
  for await (const e of state.kv.list<VersionRecord>({ prefix: KEYS.versions() })) {
    const d = state.datasets.get(e.key[1] as string);
    if (d === undefined) continue;
    const v = newVersion(d, e.value.version);
    v.state = e.value.state;
    if (v.state !== "open") removeVersion(d.opens, v.version);
    if (v.state === "committed") {
      const list = committed.get(d);
      if (list === undefined) committed.set(d, [v.version]);
      else list.push(v.version);
    }
    v.stored = true;
    v.stamp = e.versionstamp;
    if (e.value.committedAt !== undefined) v.committedAt = e.value.committedAt;
    if (e.value.sizes !== undefined) {
      v.storedSizes = e.value.sizes;
      v.sizes = { ...e.value.sizes };
    }
  }
  for (const [d, list] of committed) d.committed = list.sort((a, b) => a - b);
  const stale: Deno.KvKey[] = [];
  for (const d of state.datasets.values()) {
    const below = retiredBelow(d);
    if (below === 0) continue;
    for (const v of d.versions.values()) {
      if (v.state !== "retired" || v.version >= below) continue;
      d.versions.delete(v.version);
      d.live.delete(v);
      stale.push(KEYS.version(d.record.name, v.version));
    }
  }
  return stale;
}

async function loadCopies(state: RegistryState): Promise<void> {
  for await (const e of state.kv.list<FragmentRecord>({ prefix: KEYS.fragments() })) {
    const d = state.datasets.get(e.value.dataset);
    if (d === undefined) continue;
    // A copy whose version record was not written (its first write failed)
    // opens it; below the oldest version kept, it is a retired version's
    // copy whose record a crash left (the next commit removes it).
    const n = e.value.version;
    const v = d.versions.get(n) ?? (n < retiredBelow(d) ? retiredVersion(d, n) : newVersion(d, n));
    const { region, layout, id } = copyRegion(d, v, e.value.fragment, e.value.bindings);
    Object.assign(v.sizes, region.sizes);
    // The region's text in `id` is the last part of the key (`copyKey`).
    v.held.set(id, { record: e.value, layout, id, durable: true });
    v.bytes += e.value.byteLength;
  }
}

/** A retired version `n` of `d`, known only by copies of it left to remove. */
function retiredVersion(d: DatasetEntry, n: number): VersionEntry {
  const v = newVersion(d, n);
  v.state = "retired";
  removeVersion(d.opens, n);
  return v;
}
