/**
 * Publishing a fragment copy: checks, registration through the group
 * committer, and the commit of the version it completes.
 *
 * @module
 */

import { copyRegion } from "./_fixed_regions.ts";
import {
  ConflictError,
  InvalidRequestError,
  LayoutError,
  NotFoundError,
  SizeMismatchError,
} from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import type { Commits } from "./_commit.ts";
import {
  copyKey,
  type DatasetEntry,
  dropVersion,
  type Held,
  newVersion,
  type RegistryState,
  type VersionEntry,
  versionRecord,
} from "./_state.ts";
import { restoreSizes, wholeOf } from "./_version_sizes.ts";
import { Coverage } from "./coverage.ts";
import type { Mutation } from "./group_commit.ts";
import { KEYS, regionText } from "./keys.ts";
import type { FragmentRecord, PublishResult } from "./records.ts";
import { oldestOpenable } from "./retention.ts";
import { checkBindings, checkLabel, checkName, checkVersion, type Region } from "./validate.ts";

/** A publish that passed its checks: where its copy goes. */
interface Admitted {
  readonly d: DatasetEntry;
  readonly v: VersionEntry;
  readonly region: Region;
  readonly layout: FragmentLayout;
  /** The region's key among the version's copies. */
  readonly id: string;
  /** The copy it replaces (an overwrite), if any. */
  readonly before: Held | undefined;
  /** Its copy, not durable yet. */
  readonly mine: Held;
}

/**
 * The publishes of fragment copies into a registry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RegistryState } from "./_state.ts";
 * import { Commits } from "./_commit.ts";
 * import { Datasets } from "./_datasets.ts";
 * import { Publisher } from "./_publish.ts";
 * using state = new RegistryState(await Deno.openKv(":memory:"));
 * await new Datasets(state).create({ name: "t", description: "dataset { var x [4]float64 }" });
 * const publisher = new Publisher(state, new Commits(state));
 * const result = await publisher.publish({
 *   dataset: "t", version: 1, fragment: "dataset", bindings: {}, node: "n", tier: "memory", byteLength: 32, checksum: 0,
 * });
 * assert.deepEqual(result, { committed: true });
 * ```
 */
export class Publisher {
  readonly #s: RegistryState;
  readonly #commits: Commits;

  /** Publishes into the datasets of `state`, committing versions through `commits`. */
  constructor(state: RegistryState, commits: Commits) {
    this.#s = state;
    this.#commits = commits;
  }

  /** Registers a published fragment copy; see `Registry.publishFragment`. */
  async publish(record: FragmentRecord): Promise<PublishResult> {
    this.#s.checkOpen();
    const d = this.#s.dataset(record.dataset);
    checkVersion(record.version);
    checkCopy(record);
    const a = admit(d, record);
    // A publish that completes its version registers the copy in the atomic
    // of the version's commit: no KV commit of its own, and the commits of
    // versions published concurrently share atomics (bench/registry_micro.ts,
    // bench/streaming_bench.ts). Not while another publish of the dataset is
    // being written: it may complete an earlier version, and versions commit
    // in the order their last publishes arrived.
    const completes = a.before === undefined && d.writing === 0 &&
      coverageOf(d, a.v)?.completedBy(a.layout) === true;
    a.v.held.set(a.id, a.mine);
    a.v.bytes += record.byteLength - (a.before?.record.byteLength ?? 0);
    if (completes) return await this.#registerInCommit(a);
    await this.#register(a);
    if (a.before !== undefined) this.#releaseReplaced(a.before, record.node);
    return await this.#commitIfComplete(a);
  }

  /** Registers the copy in the atomic of the commit of the version it completes. */
  async #registerInCommit(a: Admitted): Promise<PublishResult> {
    const { d, v, id, mine } = a;
    // Other publishes into the version are refused from now on, as during any commit.
    v.committing = true;
    try {
      const { retired } = await this.#commits.chain(d, v.version, mine);
      return retired.length === 0 ? { committed: true } : { committed: true, retired };
    } catch (e) {
      // Nothing was written: the copy is not registered, the version stays open.
      v.committing = false;
      if (!mine.durable && v.held.get(id) === mine) {
        v.held.delete(id);
        v.bytes -= mine.record.byteLength;
        restoreSizes(d, v);
        if (v.held.size === 0 && !v.stored && v.inflight.size === 0) dropVersion(d, v.version);
      }
      throw e;
    }
  }

  /**
   * Writes the copy's record (and the version's, with its first copy or
   * sizes it gives) through the group committer; on failure, undoes what
   * the publish changed in memory.
   */
  async #register(a: Admitted): Promise<void> {
    const { d, v, id, before, mine } = a;
    const mutations: Mutation[] = [{ type: "set", key: copyKey(mine), value: mine.record }];
    // The version's record is written with its first copy; its counts are
    // derived from the copies when the registry loads.
    const first = !v.stored;
    // Sizes this copy gives, or that its layout took from copies still being
    // written, go in the version's record with it: a registered copy's layout
    // never rests on sizes that are not durable.
    const sizes = { ...v.sizes };
    const ahead = Object.keys(sizes).some((k) => v.storedSizes[k] === undefined);
    if (first || ahead) {
      v.stored = true;
      mutations.push({
        type: "set",
        key: KEYS.version(d.record.name, v.version),
        value: versionRecord(v),
      });
    }
    const write = this.#s.writes.write(mutations);
    v.inflight.add(write);
    d.writing++;
    try {
      const { versionstamp } = await write;
      if ((first || ahead) && versionstamp !== undefined) v.stamp = versionstamp;
    } catch (e) {
      if (v.held.get(id) === mine) {
        if (before === undefined) v.held.delete(id);
        else v.held.set(id, before);
        v.bytes -= mine.record.byteLength - (before?.record.byteLength ?? 0);
      }
      if (first) v.stored = false;
      restoreSizes(d, v);
      if (v.held.size === 0 && !v.stored && v.inflight.size === 1) dropVersion(d, v.version);
      throw e;
    } finally {
      v.inflight.delete(write);
      d.writing--;
    }
    mine.durable = true;
    if (ahead) v.storedSizes = { ...v.storedSizes, ...sizes };
  }

  /**
   * After an overwrite: the copies of the replaced record on other nodes
   * are freed (the publishing node replaced its own in place).
   */
  #releaseReplaced(before: Held, node: string): void {
    const stale = [before.record.node, ...(before.record.replicas ?? []).map((p) => p.node)]
      .filter((n) => n !== node);
    const base = withoutReplicas(before.record);
    if (stale.length > 0) this.#s.release(stale.map((n) => ({ ...base, node: n })));
  }

  /** Commits the version when the durable copies now cover it. */
  async #commitIfComplete(a: Admitted): Promise<PublishResult> {
    const { d, v } = a;
    const full = complete(d, v, a.layout);
    if (!full || v.state !== "open" || v.committing || v.retiring || v.commitQueued) {
      return { committed: false };
    }
    // The writes of a version's blocks land together: each would see it
    // complete, and all but one commit would fail (bench/commit_bench.ts).
    v.commitQueued = true;
    try {
      const { retired } = await this.#commits.commit(d.record.name, v.version);
      return retired.length === 0 ? { committed: true } : { committed: true, retired };
    } catch (e) {
      v.commitQueued = false;
      // An explicit commit won the race.
      if (e instanceof ConflictError || e instanceof NotFoundError) return { committed: false };
      throw e;
    }
  }
}

/**
 * Checks a publish against the dataset and its version, opens the version
 * if it is new, and fixes the sizes the copy gives; returns its copy.
 */
function admit(d: DatasetEntry, record: FragmentRecord): Admitted {
  const name = d.record.name;
  const n = record.version;
  const found = d.versions.get(n);
  // A size this version holds already may only be repeated: the first
  // copy to give one fixes it for the version.
  const { region, layout, id } = copyRegion(d, found, record.fragment, record.bindings);
  if (d.ds.fragments.get(record.fragment)?.decl.readOnly === true) {
    throw new LayoutError(
      `Cannot publish fragment '${record.fragment}': it is read-only, consumers attach it and producers publish through another fragment`,
    );
  }
  if (record.byteLength !== layout.byteLength) {
    throw new SizeMismatchError(record.fragment, layout.byteLength, record.byteLength);
  }
  checkOpenVersion(d, n, found);
  const before = found?.held.get(id);
  if (before !== undefined && !d.record.overwrite) {
    throw new ConflictError(
      `Fragment '${record.fragment}'${
        describeRegion(region.params)
      } of version ${n} of '${name}' is already published: datasets are write-once unless created with overwrite`,
    );
  }
  const v = found ?? newVersion(d, n);
  if (Object.keys(region.sizes).length > 0) {
    // Decided here, in memory: a copy giving other sizes is refused from now on.
    Object.assign(v.sizes, region.sizes);
    v.whole = undefined;
  }
  const mine: Held = {
    record: storedRecord(record),
    layout,
    id,
    durable: false,
  };
  return { d, v, region, layout, id, before, mine };
}

/** Refuses a publish into a version that is not open, or too old to open. */
function checkOpenVersion(d: DatasetEntry, n: number, v: VersionEntry | undefined): void {
  const name = d.record.name;
  if (v === undefined) {
    const floor = oldestOpenable(committedVersions(d), d.record.retention);
    if (n < floor) {
      throw new ConflictError(
        `Cannot publish into version ${n} of '${name}': it is older than the ${d.record.retention} committed versions kept, publish into version ${floor} or later`,
      );
    }
  } else if (v.state !== "open" || v.committing || v.retiring) {
    const state = v.committing ? "being committed" : v.retiring ? "being retired" : v.state;
    throw new ConflictError(
      `Cannot publish into version ${n} of '${name}': it is ${state}, publish into a new version`,
    );
  }
}

function checkCopy(r: FragmentRecord): void {
  const bad = (what: string) => {
    throw new InvalidRequestError(`Invalid publish of fragment '${r.fragment}': expected ${what}`);
  };
  checkLabel("fragment name", r.fragment);
  checkName("node", r.node);
  checkLabel("tier name", r.tier);
  checkBindings(`publish of fragment '${r.fragment}'`, r.bindings);
  if (!Number.isSafeInteger(r.byteLength) || r.byteLength < 0) {
    bad(`a byte length, found ${r.byteLength}`);
  }
  if (typeof r.checksum !== "number") bad("a numeric checksum");
  if (typeof r.bindings !== "object" || r.bindings === null) bad("bindings");
  if (r.reshape !== undefined && r.reshape !== "source" && r.reshape !== "destination") {
    bad(`reshape 'source' or 'destination', found ${JSON.stringify(r.reshape)}`);
  }
  if (r.replicas !== undefined && (!Array.isArray(r.replicas) || r.replicas.length > 0)) {
    bad("no replicas: a replica is added by the node that holds it, once the copy is registered");
  }
}

/**
 * The record a publish registers, built field by field: a spread of the
 * request's record took a second backing store per copy (bench/registry_memory_bench.ts).
 * Replicas are added later, by the nodes that hold them.
 */
function storedRecord(r: FragmentRecord): FragmentRecord {
  const stored = {
    dataset: r.dataset,
    version: r.version,
    fragment: r.fragment,
    bindings: { ...r.bindings },
    node: r.node,
    tier: r.tier,
    byteLength: r.byteLength,
    checksum: r.checksum,
  };
  return r.reshape === undefined ? stored : { ...stored, reshape: r.reshape };
}

/** A published record as stored: replicas are added later, by the nodes that hold them. */
function withoutReplicas(r: FragmentRecord): FragmentRecord {
  const { replicas: _, ...base } = r;
  return base;
}

/**
 * What the durable copies of `v` cover (computed once, then kept up to
 * date); undefined while its sizes are not all known.
 */
function coverageOf(d: DatasetEntry, v: VersionEntry): Coverage | undefined {
  if (v.coverage === undefined) {
    const whole = wholeOf(d, v);
    if (whole === undefined) return undefined;
    v.coverage = new Coverage(whole);
    for (const h of v.held.values()) if (h.durable) v.coverage.add(h.layout);
  }
  return v.coverage;
}

/** Whether the durable copies of `v` now cover the dataset (`added` just became durable). */
function complete(d: DatasetEntry, v: VersionEntry, added: FragmentLayout): boolean {
  if (v.coverage === undefined) return coverageOf(d, v)?.complete ?? false;
  v.coverage.add(added);
  return v.coverage.complete;
}

function committedVersions(d: DatasetEntry): number[] {
  const out: number[] = [];
  for (const v of d.live) if (v.state === "committed") out.push(v.version);
  return out;
}

function describeRegion(params: Readonly<Record<string, number>>): string {
  const r = regionText(params);
  return r === "" ? "" : ` (${r})`;
}
