/**
 * Loading a registry's state from its KV store: datasets (under keys of
 * their own, which win, and in packs), versions (with
 * the copies their records carry), packs of copies, copies under keys of
 * their own (which win over a carried or packed record of the same region)
 * and latest pointers, then the deletions a crash interrupted.
 *
 * @module
 */

import { copyRegion } from "./_fixed_regions.ts";
import {
  type DatasetEntry,
  type Held,
  newVersion,
  type RegistryState,
  retiredBelow,
  type VersionEntry,
} from "./_state.ts";
import { KEYS } from "./keys.ts";
import { removeVersion } from "./retention.ts";
import { loadDatasetPack } from "./_dataset_packs.ts";
import type {
  DatasetRecord,
  FragmentRecord,
  StoredDatasetPack,
  StoredPack,
  StoredVersionRecord,
} from "./records.ts";

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
  const { stale, carrying } = await loadVersions(state);
  const packed = await loadPacks(state);
  await loadCopies(state);
  // In key order, as copies under keys of their own load: listings and messages name them so.
  for (const v of new Set([...carrying, ...packed])) inKeyOrder(v);
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
  const records = new Map<string, DatasetRecord>();
  for await (const e of state.kv.list<DatasetRecord>({ prefix: KEYS.datasets() })) {
    records.set(e.value.name, e.value);
  }
  // Records in packs, ids rising. A dataset's own row wins over a pack's
  // record of the same creation or an earlier one; a later creation wins
  // over the row (a dataset created again after a deletion whose last
  // atomic failed, which left the name in its pack too).
  const packOf = new Map<string, number>();
  for await (const e of state.kv.list<StoredDatasetPack>({ prefix: KEYS.datasetPacks() })) {
    const id = e.key[1] as number;
    loadDatasetPack(state, id, e.value);
    for (const r of e.value.datasets) {
      const older = packOf.get(r.name);
      if (older !== undefined) {
        const stale = state.stalePacks.get(r.name);
        if (stale === undefined) state.stalePacks.set(r.name, [older]);
        else stale.push(older);
      }
      packOf.set(r.name, id);
      const known = records.get(r.name);
      if (known === undefined || known.createdAt < r.createdAt) records.set(r.name, r);
    }
  }
  const unfinished: string[] = [];
  for (const r of records.values()) {
    if (r.deleting === true) unfinished.push(r.name);
    else {
      const d = state.entry(r);
      d.pack = packOf.get(r.name);
      state.datasets.set(r.name, d);
    }
  }
  return unfinished;
}

/**
 * Loads the version records and the copies they carry; returns the keys of
 * records of versions retired below the oldest version kept, which are
 * dropped (`retiredBelow` answers for them), and the versions whose
 * records carried copies.
 */
async function loadVersions(
  state: RegistryState,
): Promise<{ stale: Deno.KvKey[]; carrying: VersionEntry[] }> {
  const committed = new Map<DatasetEntry, number[]>();
  const carried: [DatasetEntry, VersionEntry, readonly FragmentRecord[]][] = [];
  for await (const e of state.kv.list<StoredVersionRecord>({ prefix: KEYS.versions() })) {
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
    if (e.value.copies !== undefined) carried.push([d, v, e.value.copies]);
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
  const carrying: VersionEntry[] = [];
  for (const [d, v, copies] of carried) {
    if (d.versions.get(v.version) !== v) continue;
    for (const record of copies) hold(d, v, record, "version");
    carrying.push(v);
  }
  return { stale, carrying };
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
    hold(d, v, e.value, "key");
  }
}

/** Loads the packs; returns the versions whose copies they hold. */
async function loadPacks(state: RegistryState): Promise<VersionEntry[]> {
  const packed = new Set<VersionEntry>();
  for await (const e of state.kv.list<StoredPack>({ prefix: KEYS.packs() })) {
    const [, name, n, id] = e.key as [string, string, number, number];
    state.lastPack = Math.max(state.lastPack, id);
    const d = state.datasets.get(name);
    if (d === undefined) continue;
    const v = d.versions.get(n) ?? (n < retiredBelow(d) ? retiredVersion(d, n) : newVersion(d, n));
    (v.packs ??= []).push(id);
    for (const record of e.value.copies) hold(d, v, record, id);
    packed.add(v);
  }
  return [...packed];
}

/** Reorders `v`'s copies as their keys would list: by fragment, then region text. */
function inKeyOrder(v: VersionEntry): void {
  const sorted = [...v.held.values()].sort((a, b) =>
    compare(a.record.fragment, b.record.fragment) || compare(a.id, b.id)
  );
  v.held.clear();
  for (const h of sorted) v.held.set(h.id, h);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Holds a loaded copy's record in `v`, in place of one its version's
 * record carried for the same region (a key of its own is the newer).
 */
function hold(
  d: DatasetEntry,
  v: VersionEntry,
  record: FragmentRecord,
  home: Held["home"],
): void {
  const { region, layout, id } = copyRegion(d, v, record.fragment, record.bindings);
  Object.assign(v.sizes, region.sizes);
  const before = v.held.get(id);
  if (before !== undefined) v.bytes -= before.record.byteLength;
  // The region's text in `id` is the last part of the key (`copyKey`).
  v.held.set(id, { record, layout, id, durable: true, home });
  v.bytes += record.byteLength;
}

/** A retired version `n` of `d`, known only by copies of it left to remove. */
function retiredVersion(d: DatasetEntry, n: number): VersionEntry {
  const v = newVersion(d, n);
  v.state = "retired";
  removeVersion(d.opens, n);
  return v;
}
