/**
 * Copy records after a publish: a copy that moved to another tier of its
 * node, further copies (replicas) on other nodes, dropped copies, and which
 * copies a node is registered as holding.
 *
 * @module
 */

import { InvalidRequestError } from "../errors.ts";
import type { CopyRef } from "../name_service/name_service.ts";
import { copyKey, type Held, regionId, type RegistryState, type VersionEntry } from "./_state.ts";
import type { FragmentRecord } from "./records.ts";
import { KEYS } from "./keys.ts";
import { checkName, regionOf } from "./validate.ts";

/**
 * The records of registered copies, changed as nodes move, add and drop them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RegistryState } from "./_state.ts";
 * import { Commits } from "./_commit.ts";
 * import { CopyRecords } from "./_copies.ts";
 * import { Datasets } from "./_datasets.ts";
 * import { Publisher } from "./_publish.ts";
 * using state = new RegistryState(await Deno.openKv(":memory:"));
 * await new Datasets(state).create({ name: "t", description: "dataset { var x [4]float64 }" });
 * const copy = { dataset: "t", version: 1, fragment: "dataset", bindings: {}, node: "a" };
 * await new Publisher(state, new Commits(state)).publish({ ...copy, tier: "memory", byteLength: 32, checksum: 0 });
 * const copies = new CopyRecords(state);
 * assert.equal(await copies.addReplica({ ...copy, node: "b" }, "file"), true);
 * assert.deepEqual(copies.held([copy, { ...copy, node: "b" }, { ...copy, node: "c" }]), [true, true, false]);
 * ```
 */
export class CopyRecords {
  readonly #s: RegistryState;

  /** The copy records of `state`. */
  constructor(state: RegistryState) {
    this.#s = state;
  }

  /** Records that a copy moved to another tier of its node; see `Registry.relocateFragment`. */
  async relocate(copy: CopyRef, tier: string): Promise<boolean> {
    this.#s.checkOpen();
    checkTier(tier);
    const d = this.#s.datasets.get(copy.dataset);
    const v = d?.versions.get(copy.version);
    if (d === undefined || v === undefined || v.state === "retired" || v.retiring) return false;
    const { params } = regionOf(copy.bindings, d.sizeVars, d.record.sizes);
    const id = regionId(copy.fragment, params);
    const h = v.held.get(id);
    if (h === undefined || !h.durable || !holdsCopy(h.record, copy.node)) return false;
    if (tierOn(h.record, copy.node) === tier) return true;
    return await this.#rewrite(v, id, h, (r) => {
      if (r.node === copy.node) return { ...r, tier };
      if (!holdsCopy(r, copy.node)) return undefined;
      return { ...r, replicas: r.replicas!.map((p) => p.node === copy.node ? { ...p, tier } : p) };
    });
  }

  /** Which of `copies` are registered as held by their node; see `Registry.heldCopies`. */
  held(copies: readonly CopyRef[]): boolean[] {
    this.#s.checkOpen();
    return copies.map((copy) => {
      const d = this.#s.datasets.get(copy.dataset);
      const v = d?.versions.get(copy.version);
      if (d === undefined || v === undefined || v.state === "retired" || v.retiring) return false;
      let id: string;
      try {
        id = regionId(copy.fragment, regionOf(copy.bindings, d.sizeVars, d.record.sizes).params);
      } catch {
        return false;
      }
      const h = v.held.get(id);
      return h !== undefined && (!h.durable || holdsCopy(h.record, copy.node));
    });
  }

  /** Records a further copy of a registered fragment; see `Registry.addReplica`. */
  async addReplica(copy: CopyRef, tier: string): Promise<boolean> {
    this.#s.checkOpen();
    checkName("node", copy.node);
    checkTier(tier);
    const found = this.#heldCopy(copy);
    if (found === undefined) return false;
    const [v, id, h] = found;
    if (holdsCopy(h.record, copy.node)) return await this.relocate(copy, tier);
    return await this.#rewrite(v, id, h, (r) => {
      if (holdsCopy(r, copy.node)) return undefined;
      return { ...r, replicas: [...(r.replicas ?? []), { node: copy.node, tier }] };
    });
  }

  /** Forgets the copy a node holds while another stays; see `Registry.dropCopy`. */
  async drop(copy: CopyRef): Promise<boolean> {
    this.#s.checkOpen();
    const found = this.#heldCopy(copy);
    if (found === undefined) return false;
    const [v, id, h] = found;
    return await this.#rewrite(v, id, h, (r) => withoutCopy(r, copy.node));
  }

  /** The version and entry of a registered, durable copy's region, or undefined. */
  #heldCopy(copy: CopyRef): [VersionEntry, string, Held] | undefined {
    const d = this.#s.datasets.get(copy.dataset);
    const v = d?.versions.get(copy.version);
    if (d === undefined || v === undefined || v.state === "retired" || v.retiring) return undefined;
    const { params } = regionOf(copy.bindings, d.sizeVars, d.record.sizes);
    const id = regionId(copy.fragment, params);
    const h = v.held.get(id);
    return h === undefined || !h.durable ? undefined : [v, id, h];
  }

  /**
   * Rewrites a copy's record with `change` (undefined: no change possible),
   * checked against the record in KV so that a retirement or a republish
   * racing it is never undone. A copy its version's record carries, or a
   * pack holds, gets a key of its own, checked against the version's record
   * (a retirement deletes it); from then on that key holds it.
   */
  async #rewrite(
    v: VersionEntry,
    id: string,
    h: Held,
    change: (r: FragmentRecord) => FragmentRecord | undefined,
  ): Promise<boolean> {
    const key = copyKey(h);
    if (h.home !== "key") {
      const record = change(h.record);
      if (record === undefined) return false;
      const version = KEYS.version(h.record.dataset, h.record.version);
      const result = await this.#s.writes.write(
        [{ type: "set", key, value: record }],
        // No key of its own yet: a rewrite racing this one fails, as on a key.
        [{ key: version, versionstamp: v.stamp }, { key, versionstamp: null }],
      );
      if (!result.ok) return false;
      if (v.held.get(id) === h) {
        h.record = record;
        h.home = "key";
      }
      return true;
    }
    const current = await this.#s.kv.get<FragmentRecord>(key);
    if (current.value === null) return false;
    const record = change(current.value);
    if (record === undefined) return false;
    const result = await this.#s.writes.write(
      [{ type: "set", key, value: record }],
      [{ key, versionstamp: current.versionstamp }],
    );
    if (!result.ok) return false;
    if (v.held.get(id) === h) h.record = record;
    return true;
  }
}

function checkTier(tier: unknown): void {
  if (typeof tier !== "string" || tier === "") {
    throw new InvalidRequestError(`Invalid tier ${JSON.stringify(tier)}: expected a tier name`);
  }
}

/** Whether `node` holds a copy of a fragment: its primary copy or a replica. */
function holdsCopy(r: FragmentRecord, node: string): boolean {
  return r.node === node || (r.replicas?.some((p) => p.node === node) ?? false);
}

/** The tier that holds `node`'s copy of a fragment. */
function tierOn(r: FragmentRecord, node: string): string | undefined {
  return r.node === node ? r.tier : r.replicas?.find((p) => p.node === node)?.tier;
}

/** A record without `node`'s copy, the first replica promoted; undefined when that is the only copy. */
function withoutCopy(r: FragmentRecord, node: string): FragmentRecord | undefined {
  const replicas = r.replicas ?? [];
  if (r.node === node) {
    const [next, ...rest] = replicas;
    if (next === undefined) return undefined;
    const { replicas: _, ...base } = r;
    return {
      ...base,
      node: next.node,
      tier: next.tier,
      ...(rest.length ? { replicas: rest } : {}),
    };
  }
  if (!replicas.some((p) => p.node === node)) return undefined;
  const rest = replicas.filter((p) => p.node !== node);
  const { replicas: _, ...base } = r;
  return rest.length ? { ...base, replicas: rest } : base;
}
