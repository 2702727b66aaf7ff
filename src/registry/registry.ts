/**
 * The registry: datasets, versions, published fragment locations and nodes in
 * Deno KV, with atomic version commits and group-committed writes. See
 * docs/registry.md for the key schema and the guarantees.
 *
 * @module
 */

import {
  compileDescription,
  type Dataset,
  datasetLayout,
  descriptionFromJson,
  descriptionToJson,
  fragmentLayout,
  printDescription,
  publishableSizes,
} from "../ddl/mod.ts";
import {
  ClosedError,
  ConflictError,
  InvalidRequestError,
  LayoutError,
  LostError,
  NotCommittedError,
  NotFoundError,
  SizeMismatchError,
} from "../errors.ts";
import type { CopyRef, DatasetSettings, NameService } from "../name_service/name_service.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { batchError, type BatchOp, type BatchResult, parseBatchOp } from "./batch.ts";
import { Coverage } from "./coverage.ts";
import { overlaps } from "../transform/overlap.ts";
import {
  type GroupCommitOptions,
  GroupCommitter,
  keyBytesOf,
  type Mutation,
} from "./group_commit.ts";
import { KEYS, regionText } from "./keys.ts";
import { RegionIndex } from "./region_index.ts";
import type {
  AttachQuery,
  AttachResult,
  AttachWait,
  CommitResult,
  CreateDatasetInput,
  DatasetDescription,
  DatasetRecord,
  DatasetSummary,
  FragmentRecord,
  NodeInput,
  NodeRecord,
  NodeTier,
  PublishResult,
  VersionRecord,
  VersionState,
} from "./records.ts";
import { oldestOpenable, planRetention } from "./retention.ts";
import {
  checkBindings,
  checkConsumers,
  checkDescriptionInput,
  checkDescriptionSize,
  checkLabel,
  checkName,
  checkRetention,
  checkSizes,
  checkVersion,
  MAX_NODE_TIERS,
  MAX_URL_LENGTH,
  type Region,
  regionOf,
  sizeVariables,
} from "./validate.ts";
import { VersionWaiters, type WaitOptions } from "./waiters.ts";

/** Options of `openRegistry()`. */
export interface RegistryOptions {
  /** Path of the KV file (from config), or `:memory:` in tests. */
  readonly path: string;
  /** Committed versions a dataset keeps when it does not say. Default 2. */
  readonly defaultRetention?: number;
  /** Node lease when `registerNode()` does not say, in ms. Default 10 000. */
  readonly defaultLeaseMs?: number;
  /** Limits of the group committer (and `group: false` to turn batching off). */
  readonly groupCommit?: GroupCommitOptions;
}

/** Deletes per write when a dataset or retired versions are removed. */
const DELETES_PER_WRITE = 256;
/** Key bytes per delete write, well inside the 80 KiB KV allows per atomic. */
const DELETE_KEY_BYTES = 32 * 1024;

interface Held {
  /** Replaced when the copy moves to another tier of its node. */
  record: FragmentRecord;
  readonly layout: FragmentLayout;
  readonly kvKey: Deno.KvKey;
  /** Whether its write has committed: only durable copies count and are found. */
  durable: boolean;
}

interface VersionEntry {
  readonly version: number;
  state: VersionState;
  /** Set while a commit of it runs: publishes into it are refused. */
  committing: boolean;
  /** Set while a commit of a newer version retires it: publishes are refused. */
  retiring: boolean;
  committedAt?: number;
  /** Whether its record is in KV. */
  stored: boolean;
  /** Bytes of the copies held. */
  bytes: number;
  /** What the durable copies do not cover yet (undefined: not computed). */
  coverage: Coverage | undefined;
  /** Copies by region (`fragment/params`). */
  readonly held: Map<string, Held>;
  /** Durable copies by region, built at the first attach of a committed version. */
  index: RegionIndex<Held> | undefined;
  /** Publish writes in flight. */
  readonly inflight: Set<Promise<unknown>>;
  /**
   * Sizes of the size variables not given at creation, as its copies give
   * them (registrations still being written too): the first copy to give
   * one fixes it for the version.
   */
  sizes: Record<string, number>;
  /** The sizes its record in KV holds. */
  storedSizes: Readonly<Record<string, number>>;
  /** Its whole-dataset layout, once every size is known (see `wholeOf`). */
  whole: FragmentLayout | undefined;
}

interface DatasetEntry {
  readonly record: DatasetRecord;
  readonly ds: Dataset;
  /** The whole-dataset layout; undefined when sizes are read per version. */
  readonly whole: FragmentLayout | undefined;
  readonly sizeVars: ReadonlySet<string>;
  /** Size variables not given at creation: each version reads them from its published bytes. */
  readonly perVersion: ReadonlySet<string>;
  readonly versions: Map<number, VersionEntry>;
  latest: number;
  /** Serialises the commits of this dataset. */
  commitChain: Promise<unknown>;
  /** Commits of this dataset queued or running on `commitChain`. */
  commits: number;
  /** Publish writes in flight, over all versions. */
  writing: number;
  deleted: boolean;
  /** The parts of `describeDataset()` that never change, built at its first call. */
  described?: Pick<DatasetDescription, "descriptionJson" | "fragments">;
}

/**
 * Opens (or creates) a registry on a KV file and loads its state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openRegistry } from "./registry.ts";
 * await using reg = await openRegistry({ path: ":memory:" });
 * await reg.createDataset({ name: "t", description: "dataset { var x [4]float64 }" });
 * const { committed } = await reg.publishFragment({
 *   dataset: "t", version: 1, fragment: "dataset", bindings: {}, node: "n", tier: "memory", byteLength: 32, checksum: 0,
 * });
 * assert.equal(committed, true);
 * ```
 */
export async function openRegistry(options: RegistryOptions): Promise<Registry> {
  if (options.defaultRetention !== undefined) checkRetention(options.defaultRetention);
  const kv = await Deno.openKv(options.path);
  const reg = new Registry(kv, options);
  try {
    await reg.load();
  } catch (e) {
    reg.close();
    throw e;
  }
  return reg;
}

/**
 * The registry of one name server.
 *
 * It is the only writer of its KV store (one name server per shard): it
 * decides conflicts between concurrent calls in memory, exactly, writes
 * through a group committer, and answers a write only once it is durable.
 * Version commits also check-and-set in KV.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openRegistry } from "./registry.ts";
 * await using reg = await openRegistry({ path: ":memory:" });
 * await reg.createDataset({
 *   name: "grid",
 *   description: "dataset { var t [4, 2]float64 }\nfragment rows(r0, r1) { var t = t[r0:r1, :] }",
 * });
 * const rows = (r0: number) => ({
 *   dataset: "grid", version: 1, fragment: "rows", bindings: { r0, r1: r0 + 2 },
 *   node: "n1", tier: "memory", byteLength: 32, checksum: 0,
 * });
 * assert.deepEqual(await reg.publishFragment(rows(0)), { committed: false });
 * assert.deepEqual(await reg.publishFragment(rows(2)), { committed: true });
 * const found = await reg.attachFragments({ dataset: "grid", version: "latest", fragment: "rows", bindings: { r0: 1, r1: 3 } });
 * assert.equal(found.sources.length, 2);
 * ```
 */
export class Registry implements NameService {
  readonly #kv: Deno.Kv;
  readonly #writes: GroupCommitter;
  readonly #waiters: VersionWaiters;
  readonly #datasets = new Map<string, DatasetEntry>();
  /** The latest creation time given or loaded: each dataset gets a later one. */
  #lastCreatedAt = 0;
  readonly #creating = new Set<string>();
  readonly #deleting = new Set<string>();
  readonly #defaultRetention: number;
  readonly #defaultLeaseMs: number;
  readonly #releaseListeners = new Set<(copies: readonly FragmentRecord[]) => void>();
  readonly #commitListeners = new Set<(dataset: string, version: number) => void>();
  #closed = false;
  #loaded = false;

  /** Creates a registry over an open KV store; prefer `openRegistry()`, which also loads it. */
  constructor(kv: Deno.Kv, options: Omit<RegistryOptions, "path"> = {}) {
    this.#kv = kv;
    this.#writes = new GroupCommitter(kv, options.groupCommit);
    // A dataset this registry does not hold was committed by another
    // process: trust the watched pointer. One it holds is answered once its
    // in-memory state shows the commit, so an attach right after agrees.
    this.#waiters = new VersionWaiters(kv, (name, atLeast, latest) => {
      const d = this.#datasets.get(name);
      return d === undefined ? latest : firstCommitted(d, atLeast);
    });
    this.#defaultRetention = options.defaultRetention ?? 2;
    this.#defaultLeaseMs = options.defaultLeaseMs ?? 10_000;
  }

  /**
   * Calls `listener` with the copies whose bytes must be freed whenever a
   * commit retires versions or a dataset is deleted, however the change was
   * asked for (a commit, a publish that completed a version, a batch).
   * Returns a function that removes the listener.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openRegistry } from "./registry.ts";
   * await using reg = await openRegistry({ path: ":memory:" });
   * const freed: number[] = [];
   * reg.onRelease((copies) => freed.push(...copies.map((c) => c.version)));
   * await reg.createDataset({ name: "t", description: "dataset { var x [4]float64 }", retention: 1 });
   * const copy = { dataset: "t", fragment: "dataset", bindings: {}, node: "n", tier: "memory", byteLength: 32, checksum: 0 };
   * await reg.publishFragment({ ...copy, version: 1 });
   * await reg.publishFragment({ ...copy, version: 2 });
   * assert.deepEqual(freed, [1]);
   * ```
   */
  onRelease(listener: (copies: readonly FragmentRecord[]) => void): () => void {
    this.#releaseListeners.add(listener);
    return () => this.#releaseListeners.delete(listener);
  }

  #release(copies: readonly FragmentRecord[]): void {
    if (copies.length === 0) return;
    for (const listener of this.#releaseListeners) {
      try {
        listener(copies);
      } catch {
        // A listener's failure must not undo a commit that stands.
      }
    }
  }

  /**
   * Calls `listener` with the dataset and version after each commit stands,
   * however it was asked for (an explicit commit, a publish that completed
   * the version, a batch). Listeners run synchronously inside the commit and
   * must only queue work: a listener that throws is ignored, and nothing a
   * listener does delays the committer's answer. Returns a function that
   * removes the listener.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openRegistry } from "./registry.ts";
   * await using reg = await openRegistry({ path: ":memory:" });
   * const seen: string[] = [];
   * reg.onCommit((dataset, version) => seen.push(`${dataset}@${version}`));
   * await reg.createDataset({ name: "t", description: "dataset { var x [4]float64 }" });
   * const copy = { dataset: "t", fragment: "dataset", bindings: {}, node: "n", tier: "memory", byteLength: 32, checksum: 0 };
   * await reg.publishFragment({ ...copy, version: 1 });
   * assert.deepEqual(seen, ["t@1"]);
   * ```
   */
  onCommit(listener: (dataset: string, version: number) => void): () => void {
    this.#commitListeners.add(listener);
    return () => this.#commitListeners.delete(listener);
  }

  /**
   * The KV store, for stores that keep their own key prefixes beside the
   * registry's in the same file (function deployments and pipelines, see
   * docs/functions.md). They must never write the registry's prefixes.
   */
  get kv(): Deno.Kv {
    return this.#kv;
  }

  /** Atomic commits and writes so far (group-commit efficiency), and writes queued. */
  get stats(): { commits: number; writes: number; queued: number } {
    return {
      commits: this.#writes.commits,
      writes: this.#writes.writes,
      queued: this.#writes.queued,
    };
  }

  /** Loads every record from KV, and finishes deletions a crash interrupted (once). */
  async load(): Promise<void> {
    if (this.#loaded) return;
    this.#loaded = true;
    const unfinished: string[] = [];
    for await (const e of this.#kv.list<DatasetRecord>({ prefix: KEYS.datasets() })) {
      if (e.value.deleting === true) unfinished.push(e.value.name);
      else this.#datasets.set(e.value.name, this.#entry(e.value));
    }
    for await (const e of this.#kv.list<VersionRecord>({ prefix: KEYS.versions() })) {
      const d = this.#datasets.get(e.key[1] as string);
      if (d === undefined) continue;
      const v = newVersion(d, e.value.version);
      v.state = e.value.state;
      v.stored = true;
      if (e.value.committedAt !== undefined) v.committedAt = e.value.committedAt;
      if (e.value.sizes !== undefined) {
        v.storedSizes = e.value.sizes;
        v.sizes = { ...e.value.sizes };
      }
    }
    for await (const e of this.#kv.list<FragmentRecord>({ prefix: KEYS.fragments() })) {
      const d = this.#datasets.get(e.value.dataset);
      if (d === undefined) continue;
      // A copy whose version record was not written (its first write failed) opens it.
      const v = d.versions.get(e.value.version) ?? newVersion(d, e.value.version);
      const region = regionIn(d, v, e.value.bindings);
      Object.assign(v.sizes, region.sizes);
      const layout = this.#layout(d, v, e.value.fragment, region);
      v.held.set(regionId(e.value.fragment, region.params), {
        record: e.value,
        layout,
        kvKey: e.key,
        durable: true,
      });
      v.bytes += e.value.byteLength;
    }
    for await (const e of this.#kv.list<number>({ prefix: KEYS.latests() })) {
      const d = this.#datasets.get(e.key[1] as string);
      if (d !== undefined) d.latest = e.value;
    }
    for (const name of unfinished) await this.#purge(name);
  }

  /**
   * Registers a dataset from its description (the talk's "create object").
   * A size variable not given in `sizes` is read from each version's
   * published bytes (DRepl's `var sz int64; var a [sz]float32`). Throws
   * `ConflictError` when the name is taken, `DescriptionError` for a
   * description that does not compile, `LayoutError` for a size variable
   * neither given nor stored by any layout before the arrays it sizes.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openRegistry } from "./registry.ts";
   * await using reg = await openRegistry({ path: ":memory:" });
   * await reg.createDataset({ name: "p", description: "dataset { var sz int64\n var a [sz]float32 }" });
   * const copy = { dataset: "p", fragment: "dataset", node: "n", tier: "memory", checksum: 0 };
   * await reg.publishFragment({ ...copy, version: 1, bindings: { sz: 3 }, byteLength: 8 + 12 });
   * await reg.publishFragment({ ...copy, version: 2, bindings: { sz: 5 }, byteLength: 8 + 20 });
   * assert.deepEqual((await reg.listVersions("p")).map((v) => v.sizes), [{ sz: 3 }, { sz: 5 }]);
   * ```
   */
  async createDataset(input: CreateDatasetInput): Promise<DatasetSummary> {
    this.#checkOpen();
    const name = input.name;
    checkName("dataset", name);
    if (this.#datasets.has(name) || this.#creating.has(name)) {
      throw new ConflictError(`Dataset '${name}' exists: delete it first or choose another name`);
    }
    if (this.#deleting.has(name)) {
      throw new ConflictError(`Dataset '${name}' is being deleted: create it once that completes`);
    }
    // Size first: nothing over the limits is compiled.
    checkDescriptionInput(input);
    const ds = compileInput(input);
    const retention = input.retention ?? this.#defaultRetention;
    checkRetention(retention);
    const sizes = { ...(input.sizes ?? {}) };
    checkSizes(ds, sizes);
    checkPublishable(ds, sizes);
    if (input.consumers !== undefined) checkConsumers(input.consumers);
    const description = typeof input.description === "string"
      ? input.description
      : printDescription(ds.description);
    checkDescriptionSize(description);
    const record: DatasetRecord = {
      name,
      description,
      retention,
      durable: input.durable === true,
      overwrite: input.overwrite === true,
      sizes,
      // Never the time of a dataset created before: a name deleted and
      // created again within a millisecond still gets a new one.
      createdAt: this.#nextCreatedAt(),
      ...(input.consumers === undefined || input.consumers.length === 0
        ? {}
        : { consumers: [...new Set(input.consumers)] }),
    };
    const entry = this.#entry(record, ds);
    this.#creating.add(name);
    try {
      await this.#writes.write([{ type: "set", key: KEYS.dataset(name), value: record }]);
      this.#datasets.set(name, entry);
    } finally {
      this.#creating.delete(name);
    }
    return summary(entry);
  }

  /** Summaries of every dataset, by name. */
  // deno-lint-ignore require-await
  async listDatasets(): Promise<DatasetSummary[]> {
    return [...this.#datasets.values()]
      .sort((a, b) => a.record.name < b.record.name ? -1 : 1)
      .map(summary);
  }

  /** One dataset: settings, description (text and JSON), fragments and versions. */
  // deno-lint-ignore require-await
  async describeDataset(name: string): Promise<DatasetDescription> {
    const d = this.#dataset(name);
    // A dataset's description never changes: built once, shared, frozen.
    d.described ??= deepFreeze({
      descriptionJson: descriptionToJson(d.ds.description),
      fragments: [...d.ds.fragments.values()].map((f) => ({
        name: f.decl.name,
        params: [...f.decl.params],
        readOnly: f.decl.readOnly,
      })),
    });
    return {
      ...summary(d),
      description: d.record.description,
      descriptionJson: d.described.descriptionJson,
      sizes: d.record.sizes,
      sizesPerVersion: [...d.perVersion],
      consumers: d.record.consumers ?? [],
      fragments: d.described.fragments,
      byteLength: d.whole?.byteLength ?? null,
      versions: versionList(d),
    };
  }

  /**
   * Deletes a dataset and every record of it, in batches within KV limits;
   * returns the copies whose bytes must be freed. A crash part-way leaves it
   * marked, and the next `load()` finishes the deletion.
   */
  async deleteDataset(name: string): Promise<FragmentRecord[]> {
    this.#checkOpen();
    const d = this.#dataset(name);
    d.deleted = true;
    this.#datasets.delete(name);
    this.#deleting.add(name);
    try {
      for (const v of d.versions.values()) await Promise.allSettled([...v.inflight]);
      await d.commitChain;
      try {
        await this.#writes.write([{
          type: "set",
          key: KEYS.dataset(name),
          value: { ...d.record, deleting: true },
        }]);
      } catch (e) {
        d.deleted = false;
        this.#datasets.set(name, d);
        throw e;
      }
      const copies = await this.#purge(name);
      this.#release(copies);
      return copies;
    } finally {
      this.#deleting.delete(name);
    }
  }

  /** Versions of a dataset, oldest first. */
  // deno-lint-ignore require-await
  async listVersions(name: string): Promise<VersionRecord[]> {
    return versionList(this.#dataset(name));
  }

  /** Settings the runtime acts on. */
  // deno-lint-ignore require-await
  async datasetSettings(name: string): Promise<DatasetSettings> {
    const d = this.#dataset(name);
    return {
      name,
      durable: d.record.durable,
      consumers: d.record.consumers ?? [],
      ...(d.perVersion.size === 0
        ? {}
        : { description: d.record.description, sizes: d.record.sizes }),
    };
  }

  /**
   * The sizes version `version` is laid out with: those given at creation
   * and those its copies gave (registrations being written too).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openRegistry } from "./registry.ts";
   * await using reg = await openRegistry({ path: ":memory:" });
   * await reg.createDataset({ name: "p", description: "dataset { var sz int64\n var a [sz]float32 }" });
   * assert.deepEqual(await reg.versionSizes("p", 1), {});
   * await reg.publishFragment({
   *   dataset: "p", version: 1, fragment: "dataset", bindings: { sz: 3 }, node: "n", tier: "memory", byteLength: 20, checksum: 0,
   * });
   * assert.deepEqual(await reg.versionSizes("p", 1), { sz: 3 });
   * ```
   */
  // deno-lint-ignore require-await
  async versionSizes(dataset: string, version: number): Promise<Record<string, number>> {
    const d = this.#dataset(dataset);
    checkVersion(version);
    return knownSizes(d, d.versions.get(version));
  }

  /**
   * Layout of a fragment region (`dataset` for the whole dataset). The
   * bindings give the size variables not given at creation.
   */
  // deno-lint-ignore require-await
  async fragmentLayout(
    dataset: string,
    fragment: string,
    bindings: Readonly<Record<string, number>>,
  ): Promise<FragmentLayout> {
    const d = this.#dataset(dataset);
    return this.#layout(d, undefined, fragment, regionOf(bindings, d.sizeVars, d.record.sizes));
  }

  /**
   * Registers a published fragment copy (the talk's "publish fragment") and
   * resolves once the record is durable. The version commits itself when the
   * published regions cover the whole dataset; `committed` tells whether this
   * publish committed it, and `retired` (present when that commit retired
   * versions) lists the copies whose bytes must be freed. Nothing is
   * registered when it throws.
   */
  async publishFragment(record: FragmentRecord): Promise<PublishResult> {
    this.#checkOpen();
    const d = this.#dataset(record.dataset);
    checkVersion(record.version);
    checkCopy(record);
    const name = d.record.name;
    const n = record.version;
    let v = d.versions.get(n);
    // A size this version holds already may only be repeated: the first
    // copy to give one fixes it for the version.
    const region = regionIn(d, v, record.bindings);
    const { params } = region;
    const layout = this.#layout(d, v, record.fragment, region);
    if (d.ds.fragments.get(record.fragment)?.decl.readOnly === true) {
      throw new LayoutError(
        `Cannot publish fragment '${record.fragment}': it is read-only, consumers attach it and producers publish through another fragment`,
      );
    }
    if (record.byteLength !== layout.byteLength) {
      throw new SizeMismatchError(record.fragment, layout.byteLength, record.byteLength);
    }
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
    const id = regionId(record.fragment, params);
    const before = v?.held.get(id);
    if (before !== undefined && !d.record.overwrite) {
      throw new ConflictError(
        `Fragment '${record.fragment}'${
          describeRegion(params)
        } of version ${n} of '${name}' is already published: datasets are write-once unless created with overwrite`,
      );
    }
    v ??= newVersion(d, n);
    if (Object.keys(region.sizes).length > 0) {
      // Decided here, in memory: a copy giving other sizes is refused from now on.
      Object.assign(v.sizes, region.sizes);
      v.whole = undefined;
    }
    // A publish that completes its version, with nothing else under way for
    // its dataset, registers the copy and commits the version in one atomic
    // operation: one KV commit instead of two, on the path from a producer's
    // publish to its consumers (bench/streaming_bench.ts). Not while another
    // publish or commit is under way: versions commit in the order their
    // last publishes arrived, as they do on the usual path.
    const completes = before === undefined && d.writing === 0 && d.commits === 0 &&
      coverageOf(d, v)?.completedBy(layout) === true;
    const mine: Held = {
      record: { ...withoutReplicas(record), bindings: { ...record.bindings } },
      layout,
      kvKey: KEYS.fragment(name, n, record.fragment, regionText(params)),
      durable: false,
    };
    v.held.set(id, mine);
    v.bytes += record.byteLength - (before?.record.byteLength ?? 0);
    if (completes) {
      // Other publishes into the version are refused from now on, as during any commit.
      v.committing = true;
      const version = v;
      try {
        const { retired } = await this.#chainCommit(d, n, mine);
        return retired.length === 0 ? { committed: true } : { committed: true, retired };
      } catch (e) {
        // Nothing was written: the copy is not registered, the version stays open.
        version.committing = false;
        if (!mine.durable && version.held.get(id) === mine) {
          version.held.delete(id);
          version.bytes -= record.byteLength;
          restoreSizes(d, version);
          if (version.held.size === 0 && !version.stored && version.inflight.size === 0) {
            d.versions.delete(n);
          }
        }
        throw e;
      }
    }
    const mutations: Mutation[] = [{ type: "set", key: mine.kvKey, value: mine.record }];
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
      mutations.push({ type: "set", key: KEYS.version(name, n), value: versionRecord(v) });
    }
    const write = this.#writes.write(mutations);
    v.inflight.add(write);
    d.writing++;
    try {
      await write;
    } catch (e) {
      if (v.held.get(id) === mine) {
        if (before === undefined) v.held.delete(id);
        else v.held.set(id, before);
        v.bytes -= record.byteLength - (before?.record.byteLength ?? 0);
      }
      if (first) v.stored = false;
      restoreSizes(d, v);
      if (v.held.size === 0 && !v.stored && v.inflight.size === 1) d.versions.delete(n);
      throw e;
    } finally {
      v.inflight.delete(write);
      d.writing--;
    }
    mine.durable = true;
    if (ahead) v.storedSizes = { ...v.storedSizes, ...sizes };
    if (before !== undefined) {
      // An overwrite: the copies of the replaced record on other nodes are freed
      // (the publishing node replaced its own in place).
      const stale = [before.record.node, ...(before.record.replicas ?? []).map((p) => p.node)]
        .filter((node) => node !== record.node);
      const base = withoutReplicas(before.record);
      if (stale.length > 0) this.#release(stale.map((node) => ({ ...base, node })));
    }
    const full = complete(d, v, layout);
    if (!full || v.state !== "open" || v.committing || v.retiring) return { committed: false };
    try {
      const { retired } = await this.commitVersion(name, n);
      return retired.length === 0 ? { committed: true } : { committed: true, retired };
    } catch (e) {
      // A publish completing the same version, or an explicit commit, won the race.
      if (e instanceof ConflictError || e instanceof NotFoundError) return { committed: false };
      throw e;
    }
  }

  /**
   * Records that a registered copy moved to another tier of the node
   * holding it (the runtime spilled or flushed it), so lost-or-present
   * decisions about the node see where the bytes are. Resolves true once
   * the change is durable; false when the copy is not registered (yet, or
   * any more: its version retired, its dataset deleted, another node
   * republished the region), in which case nothing is written. The write is
   * checked against the copy's record in KV, so a retirement racing it
   * cannot be undone by it.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openRegistry } from "./registry.ts";
   * await using reg = await openRegistry({ path: ":memory:" });
   * await reg.createDataset({ name: "t", description: "dataset { var x [4]float64 }" });
   * const copy = { dataset: "t", version: 1, fragment: "dataset", bindings: {}, node: "n1" };
   * await reg.publishFragment({ ...copy, tier: "memory", byteLength: 32, checksum: 0 });
   * assert.equal(await reg.relocateFragment(copy, "file"), true);
   * const { sources } = await reg.attachFragments({ dataset: "t", version: 1, fragment: "dataset", bindings: {} });
   * assert.equal(sources[0]!.tier, "file");
   * assert.equal(await reg.relocateFragment({ ...copy, node: "n2" }, "file"), false);
   * ```
   */
  async relocateFragment(copy: CopyRef, tier: string): Promise<boolean> {
    this.#checkOpen();
    if (typeof tier !== "string" || tier === "") {
      throw new InvalidRequestError(`Invalid tier ${JSON.stringify(tier)}: expected a tier name`);
    }
    const d = this.#datasets.get(copy.dataset);
    const v = d?.versions.get(copy.version);
    if (d === undefined || v === undefined || v.state === "retired" || v.retiring) return false;
    const { params } = regionOf(copy.bindings, d.sizeVars, d.record.sizes);
    const id = regionId(copy.fragment, params);
    const h = v.held.get(id);
    if (h === undefined || !h.durable || !holdsCopy(h.record, copy.node)) return false;
    if (tierOn(h.record, copy.node) === tier) return true;
    return await this.#rewriteCopy(v, id, h, (r) => {
      if (r.node === copy.node) return { ...r, tier };
      if (!holdsCopy(r, copy.node)) return undefined;
      return { ...r, replicas: r.replicas!.map((p) => p.node === copy.node ? { ...p, tier } : p) };
    });
  }

  /**
   * Which of `copies` are registered as held by their node (as the copy or a
   * replica). A registration still being written counts as held; an unknown
   * dataset, a retired or retiring version, a region nobody registered, or
   * one registered to other nodes does not. A runtime that restarts frees
   * the bytes of copies not held: stored before a crash, never registered.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openRegistry } from "./registry.ts";
   * await using reg = await openRegistry({ path: ":memory:" });
   * await reg.createDataset({ name: "t", description: "dataset { var x [4]float64 }" });
   * const copy = { dataset: "t", version: 1, fragment: "dataset", bindings: {}, node: "a" };
   * await reg.publishFragment({ ...copy, tier: "memory", byteLength: 32, checksum: 0 });
   * assert.deepEqual(reg.heldCopies([copy, { ...copy, node: "b" }, { ...copy, version: 2 }]), [true, false, false]);
   * ```
   */
  heldCopies(copies: readonly CopyRef[]): boolean[] {
    this.#checkOpen();
    return copies.map((copy) => {
      const d = this.#datasets.get(copy.dataset);
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

  /**
   * Records a further copy of a registered fragment, held by `copy.node` in
   * `tier` (the runtime fetched and stored it where the placement policy
   * said). Resolves true once durable; false when the fragment is not
   * registered (any more), and the caller frees what it stored. A node
   * that holds a copy already has its tier updated.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openRegistry } from "./registry.ts";
   * await using reg = await openRegistry({ path: ":memory:" });
   * await reg.createDataset({ name: "t", description: "dataset { var x [4]float64 }" });
   * const copy = { dataset: "t", version: 1, fragment: "dataset", bindings: {}, node: "a" };
   * await reg.publishFragment({ ...copy, tier: "memory", byteLength: 32, checksum: 0 });
   * assert.equal(await reg.addReplica({ ...copy, node: "b" }, "memory"), true);
   * const { sources } = await reg.attachFragments({ dataset: "t", version: 1, fragment: "dataset", bindings: {} });
   * assert.deepEqual(sources[0]!.replicas, [{ node: "b", tier: "memory" }]);
   * ```
   */
  async addReplica(copy: CopyRef, tier: string): Promise<boolean> {
    this.#checkOpen();
    checkName("node", copy.node);
    if (typeof tier !== "string" || tier === "") {
      throw new InvalidRequestError(`Invalid tier ${JSON.stringify(tier)}: expected a tier name`);
    }
    const found = this.#heldCopy(copy);
    if (found === undefined) return false;
    const [v, id, h] = found;
    if (holdsCopy(h.record, copy.node)) return await this.relocateFragment(copy, tier);
    return await this.#rewriteCopy(v, id, h, (r) => {
      if (holdsCopy(r, copy.node)) return undefined;
      return { ...r, replicas: [...(r.replicas ?? []), { node: copy.node, tier }] };
    });
  }

  /**
   * Forgets the copy that `copy.node` holds of a registered fragment, while
   * another copy of it stays registered: dropping the primary copy makes
   * the first replica primary. False, with nothing changed, when the node
   * holds the only copy or none. The node frees its bytes afterwards, so
   * no attach is ever pointed at a copy that is gone.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openRegistry } from "./registry.ts";
   * await using reg = await openRegistry({ path: ":memory:" });
   * await reg.createDataset({ name: "t", description: "dataset { var x [4]float64 }" });
   * const copy = { dataset: "t", version: 1, fragment: "dataset", bindings: {}, node: "a" };
   * await reg.publishFragment({ ...copy, tier: "memory", byteLength: 32, checksum: 0 });
   * assert.equal(await reg.dropCopy(copy), false); // the only copy
   * await reg.addReplica({ ...copy, node: "b" }, "file");
   * assert.equal(await reg.dropCopy(copy), true);
   * const { sources } = await reg.attachFragments({ dataset: "t", version: 1, fragment: "dataset", bindings: {} });
   * assert.deepEqual([sources[0]!.node, sources[0]!.tier, sources[0]!.replicas], ["b", "file", undefined]);
   * ```
   */
  async dropCopy(copy: CopyRef): Promise<boolean> {
    this.#checkOpen();
    const found = this.#heldCopy(copy);
    if (found === undefined) return false;
    const [v, id, h] = found;
    return await this.#rewriteCopy(v, id, h, (r) => withoutCopy(r, copy.node));
  }

  /** The version and entry of a registered, durable copy's region, or undefined. */
  #heldCopy(copy: CopyRef): [VersionEntry, string, Held] | undefined {
    const d = this.#datasets.get(copy.dataset);
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
   * racing it is never undone.
   */
  async #rewriteCopy(
    v: VersionEntry,
    id: string,
    h: Held,
    change: (r: FragmentRecord) => FragmentRecord | undefined,
  ): Promise<boolean> {
    const current = await this.#kv.get<FragmentRecord>(h.kvKey);
    if (current.value === null) return false;
    const record = change(current.value);
    if (record === undefined) return false;
    const result = await this.#writes.write(
      [{ type: "set", key: h.kvKey, value: record }],
      [{ key: h.kvKey, versionstamp: current.versionstamp }],
    );
    if (!result.ok) return false;
    if (v.held.get(id) === h) h.record = record;
    return true;
  }

  /**
   * Commits a version: its state, the dataset's latest pointer and the
   * retirement of versions past retention change in one atomic operation,
   * checked against the version's record (KV check-and-set). Returns the
   * copies of the retired versions, whose bytes must be freed. Of two racing
   * commits of one version, one wins and the other throws `ConflictError`.
   */
  commitVersion(dataset: string, version: number): Promise<CommitResult> {
    try {
      this.#checkOpen();
      const d = this.#dataset(dataset);
      checkVersion(version);
      return this.#chainCommit(d, version);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Queues a commit of version `n` behind the dataset's other commits. */
  #chainCommit(d: DatasetEntry, n: number, joining?: Held): Promise<CommitResult> {
    d.commits++;
    const run = d.commitChain.then(() => this.#commit(d, n, joining));
    d.commitChain = run.catch(() => {}).finally(() => d.commits--);
    return run;
  }

  /**
   * Commits version `n`. `joining` is a copy being published that is not
   * registered yet: its record goes in the commit's atomic operation, and it
   * is registered exactly when the commit stands.
   */
  async #commit(d: DatasetEntry, n: number, joining?: Held): Promise<CommitResult> {
    const name = d.record.name;
    if (d.deleted) throw new NotFoundError(`Unknown dataset '${name}'`);
    const v = d.versions.get(n);
    if (v === undefined) {
      throw new NotFoundError(
        `Version ${n} of '${name}' does not exist: nothing was published into it`,
      );
    }
    if (v.state !== "open") {
      throw new ConflictError(`Version ${n} of '${name}' is already ${v.state}`, {
        fields: { dataset: name, version: n, state: v.state },
      });
    }
    v.committing = true;
    let retiring: VersionEntry[] = [];
    try {
      while (v.inflight.size > 0) await Promise.allSettled([...v.inflight]);
      if (d.deleted) throw new NotFoundError(`Unknown dataset '${name}'`);
      if (v.held.size === 0) {
        throw new NotFoundError(
          `Version ${n} of '${name}' does not exist: nothing was published into it`,
        );
      }
      const unknown = [...d.perVersion].filter((k) => v.sizes[k] === undefined);
      if (unknown.length > 0) {
        throw new ConflictError(
          `Cannot commit version ${n} of '${name}': no copy published into it gives size variable${
            unknown.length === 1 ? "" : "s"
          } ${unknown.map((k) => `'${k}'`).join(", ")}, publish a fragment that stores ${
            unknown.length === 1 ? "it" : "them"
          } first`,
        );
      }
      const plan = planRetention(d.versions.values(), n, d.record.retention);
      if (!plan.ok) {
        throw new ConflictError(
          `Cannot commit version ${n} of '${name}': it is older than the ${d.record.retention} committed versions kept (${
            plan.kept.join(", ")
          })`,
        );
      }
      const retire = plan.retire.map((r) => d.versions.get(r)!);
      retiring = retire.filter((r) => r.state === "open");
      for (const r of retiring) r.retiring = true;
      for (const r of retiring) await Promise.allSettled([...r.inflight]);
      // Copies of versions retired before a crash, whose records were not yet removed.
      const leftover = [...d.versions.values()].filter((r) =>
        r.state === "retired" && r.held.size > 0
      );
      const freed = [...retire, ...leftover].flatMap((r) => [...r.held.values()]);
      // A version whose record this registry has not written yet must not
      // have one: no read needed to check that.
      const current = v.stored
        ? await this.#kv.get<VersionRecord>(KEYS.version(name, n))
        : { versionstamp: null };
      const committedAt = Date.now();
      const latest = Math.max(d.latest, n);
      const mutations: Mutation[] = [
        ...(joining === undefined
          ? []
          : [{ type: "set" as const, key: joining.kvKey, value: joining.record }]),
        {
          type: "set",
          key: KEYS.version(name, n),
          value: { ...versionRecord(v), state: "committed", committedAt },
        },
        { type: "set", key: KEYS.latest(name), value: latest },
      ];
      for (const r of retire) {
        mutations.push({
          type: "set",
          key: KEYS.version(name, r.version),
          value: { ...versionRecord(r), state: "retired", fragments: 0, bytes: 0 },
        });
      }
      const deletes = chunks(freed.map((h) => h.kvKey));
      const result = await this.#writes.write(
        [...mutations, ...(deletes.shift() ?? []).map(deletion)],
        [{ key: KEYS.version(name, n), versionstamp: current.versionstamp }],
      );
      if (!result.ok) {
        throw new ConflictError(
          `Version ${n} of '${name}' changed while committing: another process writes this registry's store`,
        );
      }
      if (joining !== undefined) {
        joining.durable = true;
        v.stored = true;
      }
      v.state = "committed";
      v.committedAt = committedAt;
      v.coverage = undefined;
      v.storedSizes = { ...v.sizes };
      d.latest = latest;
      for (const r of [...retire, ...leftover]) {
        r.state = "retired";
        r.index = undefined;
        r.held.clear();
        r.bytes = 0;
        r.coverage = undefined;
      }
      this.#waiters.notify(name);
      // Records past the first atomic's share. The commit stands even if
      // removing them fails: records left behind come back as `leftover` when
      // the registry next loads, and the next commit returns them again.
      try {
        for (const keys of deletes) await this.#writes.write(keys.map(deletion));
      } catch {
        // Left to the next load, as after a crash.
      }
      const retired = freed.map((h) => h.record);
      this.#release(retired);
      for (const listener of this.#commitListeners) {
        try {
          listener(name, n);
        } catch {
          // A listener's failure must not undo a commit that stands.
        }
      }
      return { version: n, retired };
    } finally {
      v.committing = false;
      for (const r of retiring) r.retiring = false;
    }
  }

  /**
   * Finds the published copies holding part of a fragment region of a
   * committed version (the registry side of the talk's "attach fragment").
   * Throws `NotCommittedError` for an open version and `LostError` for a
   * retired one. With `waitMs`, a version that cannot be found yet (a
   * consumer running ahead of its producer) is waited for first, as
   * `waitForVersion()` does, and the first committed version at or above it
   * is found: `WaitTimeoutError` when none is committed in time.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openRegistry } from "./registry.ts";
   * await using reg = await openRegistry({ path: ":memory:" });
   * await reg.createDataset({ name: "t", description: "dataset { var x [4]float64 }" });
   * const query = { dataset: "t", version: 1, fragment: "dataset", bindings: {} };
   * const found = reg.attachFragments(query, { waitMs: 5000 });
   * await reg.publishFragment({ ...query, node: "n", tier: "memory", byteLength: 32, checksum: 0 });
   * assert.equal((await found).sources.length, 1);
   * ```
   */
  async attachFragments(query: AttachQuery, options: AttachWait = {}): Promise<AttachResult> {
    if (options.waitMs === undefined) return this.#find(query);
    if (query.version !== "latest") {
      try {
        return this.#find(query);
      } catch {
        // Not committed yet (or another answer that the wait settles first).
      }
    }
    const atLeast = query.version === "latest" ? 1 : query.version;
    const version = await this.waitForVersion(query.dataset, atLeast, {
      timeoutMs: options.waitMs,
    });
    return this.#find({ ...query, version });
  }

  #find(query: AttachQuery): AttachResult {
    const d = this.#dataset(query.dataset);
    const name = d.record.name;
    // With sizes fixed at creation, a bad region is refused whatever the version.
    const fixed = d.perVersion.size === 0
      ? this.#layout(
        d,
        undefined,
        query.fragment,
        regionOf(query.bindings, d.sizeVars, d.record.sizes),
      )
      : undefined;
    let n: number;
    if (query.version === "latest") {
      if (d.latest === 0) throw new NotCommittedError(name, 1);
      n = d.latest;
    } else {
      checkVersion(query.version);
      n = query.version;
    }
    const v = d.versions.get(n);
    if (v === undefined) throw new NotFoundError(`Version ${n} of '${name}' does not exist`);
    if (v.state === "open") throw new NotCommittedError(name, n);
    if (v.state === "retired") {
      throw new LostError(
        name,
        n,
        query.fragment,
        `was retired: '${name}' keeps its last ${d.record.retention} versions`,
      );
    }
    if (v.index === undefined) {
      // A committed version's copies no longer change: index them once.
      v.index = new RegionIndex();
      for (const h of v.held.values()) if (h.durable) v.index.add(h.layout, h);
    }
    const layout = fixed ?? this.#layout(d, v, query.fragment, regionIn(d, v, query.bindings));
    const sources = [];
    for (const h of v.index.query(layout)) {
      if (overlaps(h.layout, layout)) sources.push({ ...h.record, layout: h.layout });
    }
    return { version: n, layout, sources, createdAt: d.record.createdAt, sizes: knownSizes(d, v) };
  }

  /**
   * Resolves with the first committed version >= `atLeast`, watching the
   * dataset's latest pointer (`kv.watch`). The dataset need not exist yet: a
   * consumer may start before its producer. Rejects with `WaitTimeoutError`
   * after `timeoutMs`, or with the signal's reason when it aborts.
   */
  // deno-lint-ignore require-await
  async waitForVersion(
    dataset: string,
    atLeast: number,
    options: WaitOptions = {},
  ): Promise<number> {
    checkName("dataset", dataset);
    checkVersion(atLeast);
    const d = this.#datasets.get(dataset);
    const now = d === undefined ? 0 : firstCommitted(d, atLeast);
    if (now > 0) return now;
    return this.#waiters.wait(dataset, atLeast, options);
  }

  /** Registers a node, or renews it, with a lease: its record expires unless renewed. */
  async registerNode(
    node: NodeInput,
    options: { readonly leaseMs?: number } = {},
  ): Promise<NodeRecord> {
    this.#checkOpen();
    checkName("node", node.id);
    checkLabel(`url of node '${node.id}'`, node.url, MAX_URL_LENGTH);
    if (node.wire !== undefined) checkLabel(`wire of node '${node.id}'`, node.wire, MAX_URL_LENGTH);
    if (!Array.isArray(node.tiers)) {
      throw new InvalidRequestError(`Invalid node '${node.id}': expected a list of tiers`);
    }
    const leaseMs = this.#leaseOf(options.leaseMs);
    const record: NodeRecord = {
      id: node.id,
      url: node.url,
      tiers: nodeTiers(node.id, node.tiers),
      ...(typeof node.wire === "string" ? { wire: node.wire } : {}),
      leaseUntil: Date.now() + leaseMs,
    };
    await this.#writes.write([{
      type: "set",
      key: KEYS.node(node.id),
      value: record,
      expireIn: leaseMs,
    }]);
    return record;
  }

  /**
   * Extends a registered node's lease, with its tiers' current usage when
   * `tiers` is given; `NotFoundError` when it lapsed.
   */
  async renewNode(
    id: string,
    options: { readonly leaseMs?: number; readonly tiers?: readonly NodeTier[] } = {},
  ): Promise<NodeRecord> {
    this.#checkOpen();
    checkName("node", id);
    const leaseMs = this.#leaseOf(options.leaseMs);
    const tiers = options.tiers === undefined ? undefined : nodeTiers(id, options.tiers);
    const found = await this.#kv.get<NodeRecord>(KEYS.node(id));
    if (found.value === null || found.value.leaseUntil <= Date.now()) {
      throw new NotFoundError(`Unknown node '${id}': its lease lapsed, register it again`);
    }
    const record = {
      ...found.value,
      ...(tiers === undefined ? {} : { tiers }),
      leaseUntil: Date.now() + leaseMs,
    };
    await this.#writes.write([{
      type: "set",
      key: KEYS.node(id),
      value: record,
      expireIn: leaseMs,
    }]);
    return record;
  }

  /** Nodes whose lease has not lapsed, by id. */
  async listNodes(): Promise<NodeRecord[]> {
    const out: NodeRecord[] = [];
    const now = Date.now();
    for await (const e of this.#kv.list<NodeRecord>({ prefix: KEYS.nodes() })) {
      if (e.value.leaseUntil > now) out.push(e.value);
    }
    return out;
  }

  /**
   * Runs many operations (`create`, `publish`, `commit`, `lookup`; see
   * `parseBatchOp`) in order, each with its own result or error. A run of
   * consecutive creates, or of consecutive publishes, runs concurrently, so
   * their writes share atomic commits. A create answers the dataset's
   * summary; a publish, `{committed}`; a commit, its `CommitResult`; a lookup,
   * the version, byte length and sources without their layouts.
   */
  async batch(ops: readonly unknown[]): Promise<BatchResult[]> {
    const out: BatchResult[] = [];
    for (let i = 0; i < ops.length;) {
      let j = i + 1;
      const kind = concurrentKind(ops[i]);
      if (kind !== undefined) { while (j < ops.length && concurrentKind(ops[j]) === kind) j++; }
      const settled = await Promise.allSettled(ops.slice(i, j).map((op) => this.#one(op)));
      for (const s of settled) {
        out.push(s.status === "fulfilled" ? { ok: s.value } : batchError(s.reason));
      }
      i = j;
    }
    return out;
  }

  async #one(raw: unknown): Promise<unknown> {
    const op: BatchOp = parseBatchOp(raw);
    switch (op.op) {
      case "create":
        return await this.createDataset(op.input);
      case "publish": {
        // The batch contract answers a publish with `committed` only.
        const { committed } = await this.publishFragment(op.record);
        return { committed };
      }
      case "commit":
        return await this.commitVersion(op.dataset, op.version);
      case "lookup": {
        const r = await this.attachFragments(op.query);
        return {
          version: r.version,
          byteLength: r.layout.byteLength,
          sources: r.sources.map(({ layout: _, ...s }) => s),
        };
      }
    }
  }

  /** Resolves once every operation under way has finished and its writes are durable. */
  async drain(): Promise<void> {
    for (const d of this.#datasets.values()) {
      for (const v of d.versions.values()) await Promise.allSettled([...v.inflight]);
      await d.commitChain;
    }
    await this.#writes.drain();
  }

  /**
   * Closes the registry now: waiters and writes still queued fail with
   * `ClosedError` (nothing of them is applied), then the KV store closes.
   * Closing again is harmless. `await using` drains first instead.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiters.close();
    this.#writes.close();
    this.#kv.close();
  }

  /** Drains the operations under way, then closes. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#closed) await this.drain();
    this.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError("registry");
  }

  #leaseOf(leaseMs: number | undefined): number {
    const ms = leaseMs ?? this.#defaultLeaseMs;
    if (!Number.isSafeInteger(ms) || ms < 1) {
      throw new InvalidRequestError(`Invalid lease ${ms} ms: expected an integer >= 1`);
    }
    return ms;
  }

  /** Removes every record of a dataset marked as deleting; returns its copies. */
  async #purge(name: string): Promise<FragmentRecord[]> {
    const freed: FragmentRecord[] = [];
    const keys: Deno.KvKey[] = [];
    for await (const e of this.#kv.list<FragmentRecord>({ prefix: KEYS.fragments(name) })) {
      keys.push(e.key);
      freed.push(e.value);
    }
    for await (const e of this.#kv.list({ prefix: KEYS.versions(name) })) keys.push(e.key);
    for (const chunk of chunks(keys)) await this.#writes.write(chunk.map(deletion));
    // The dataset's record goes last: until then a restart sees the mark.
    await this.#writes.write([deletion(KEYS.latest(name)), deletion(KEYS.dataset(name))]);
    return freed;
  }

  /** A creation time later than any dataset's this registry has held since it opened. */
  #nextCreatedAt(): number {
    this.#lastCreatedAt = Math.max(Date.now(), this.#lastCreatedAt + 1);
    return this.#lastCreatedAt;
  }

  #entry(record: DatasetRecord, compiled?: Dataset): DatasetEntry {
    this.#lastCreatedAt = Math.max(this.#lastCreatedAt, record.createdAt);
    const ds = compiled ?? compileDescription(record.description);
    const sizeVars = sizeVariables(ds);
    const perVersion = new Set([...sizeVars].filter((k) => record.sizes[k] === undefined));
    return {
      record,
      ds,
      whole: perVersion.size === 0 ? datasetLayout(ds, record.sizes) : undefined,
      sizeVars,
      perVersion,
      versions: new Map(),
      latest: 0,
      commitChain: Promise.resolve(),
      commits: 0,
      writing: 0,
      deleted: false,
    };
  }

  #dataset(name: string): DatasetEntry {
    const d = this.#datasets.get(name);
    if (d === undefined) throw new NotFoundError(`Unknown dataset '${name}'`);
    return d;
  }

  /** The layout of a region, of version `v` when given (its sizes are in `region`). */
  #layout(
    d: DatasetEntry,
    v: VersionEntry | undefined,
    fragment: string,
    region: Region,
  ): FragmentLayout {
    if (fragment !== "dataset") return fragmentLayout(d.ds, fragment, region.layoutBindings);
    const extra = Object.keys(region.params);
    if (extra.length > 0) {
      throw new LayoutError(
        `Fragment 'dataset' (the whole dataset) takes no parameters: found ${extra.join(", ")}`,
      );
    }
    const kept = d.whole ??
      (v !== undefined && Object.keys(region.sizes).length === 0 ? wholeOf(d, v) : undefined);
    return kept ?? datasetLayout(d.ds, region.layoutBindings);
  }
}

function compileInput(input: CreateDatasetInput): Dataset {
  if (typeof input.description === "string") return compileDescription(input.description);
  const json = input.description ?? input.descriptionJson;
  if (json === undefined) {
    throw new InvalidRequestError(
      `Invalid dataset '${input.name}': expected a description, as text or in its JSON form`,
    );
  }
  return descriptionFromJson(json);
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

/** A published record as stored: replicas are added later, by the nodes that hold them. */
function withoutReplicas(r: FragmentRecord): FragmentRecord {
  const { replicas: _, ...base } = r;
  return base;
}

/** A node's tiers as its lease records them, checked. */
function nodeTiers(id: string, tiers: readonly unknown[]): NodeTier[] {
  if (!Array.isArray(tiers)) {
    throw new InvalidRequestError(`Invalid node '${id}': expected a list of tiers`);
  }
  if (tiers.length > MAX_NODE_TIERS) {
    throw new InvalidRequestError(
      `Invalid node '${id}': expected at most ${MAX_NODE_TIERS} tiers, found ${tiers.length}`,
    );
  }
  return tiers.map((t) => {
    const x = (t ?? {}) as Record<string, unknown>;
    checkLabel(`tier name of node '${id}'`, x.name);
    if (x.kind !== undefined) checkLabel(`tier kind of node '${id}'`, x.kind);
    if (typeof x.name !== "string" || !Number.isSafeInteger(x.capacity)) {
      throw new InvalidRequestError(
        `Invalid tier of node '${id}': expected {name, capacity, ...}, found ${JSON.stringify(t)}`,
      );
    }
    const out: Record<string, unknown> = { name: x.name, capacity: x.capacity };
    if (typeof x.kind === "string") out.kind = x.kind;
    if (typeof x.persistent === "boolean") out.persistent = x.persistent;
    for (const k of ["used", "free", "room", "bandwidth", "latency"] as const) {
      if (typeof x[k] === "number") out[k] = x[k];
    }
    return out as unknown as NodeTier;
  });
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

/** Refuses a size variable neither given nor published by any layout before what it sizes. */
function checkPublishable(ds: Dataset, sizes: Readonly<Record<string, number>>): void {
  const publishable = publishableSizes(ds);
  for (const k of sizeVariables(ds)) {
    if (sizes[k] !== undefined || publishable.has(k)) continue;
    throw new LayoutError(
      `Size variable '${k}' is not given in sizes, and no layout a producer publishes stores it before the arrays it sizes: give it when creating the dataset, or store it first`,
    );
  }
}

/**
 * A region of version `v`: a size given at creation may only be repeated
 * (`in this dataset`), as may one the version holds (`in version N`).
 */
function regionIn(
  d: DatasetEntry,
  v: VersionEntry | undefined,
  bindings: Readonly<Record<string, number>>,
): Region {
  const fixed = regionOf(bindings, d.sizeVars, d.record.sizes);
  if (v === undefined || Object.keys(v.sizes).length === 0) return fixed;
  const own = regionOf(fixed.sizes, d.perVersion, v.sizes, {
    where: `version ${v.version} of '${d.record.name}'`,
  });
  return {
    params: fixed.params,
    layoutBindings: { ...fixed.layoutBindings, ...own.layoutBindings },
    sizes: own.sizes,
  };
}

/** The sizes of a version: given at creation, and those its copies gave. */
function knownSizes(d: DatasetEntry, v: VersionEntry | undefined): Record<string, number> {
  return v === undefined ? { ...d.record.sizes } : { ...d.record.sizes, ...v.sizes };
}

/** A version's whole-dataset layout, once every size is known. */
function wholeOf(d: DatasetEntry, v: VersionEntry): FragmentLayout | undefined {
  if (d.whole !== undefined) return d.whole;
  if (v.whole === undefined && [...d.perVersion].every((k) => v.sizes[k] !== undefined)) {
    v.whole = datasetLayout(d.ds, knownSizes(d, v));
  }
  return v.whole;
}

/** After a registration failed: the sizes the stored record and the remaining copies give. */
function restoreSizes(d: DatasetEntry, v: VersionEntry): void {
  const sizes: Record<string, number> = { ...v.storedSizes };
  for (const h of v.held.values()) {
    for (const k of d.perVersion) {
      const n = h.record.bindings[k];
      if (n !== undefined) sizes[k] = n;
    }
  }
  v.sizes = sizes;
  v.whole = undefined;
  v.coverage = undefined;
}

function newVersion(d: DatasetEntry, n: number): VersionEntry {
  const v: VersionEntry = {
    version: n,
    state: "open",
    committing: false,
    retiring: false,
    stored: false,
    coverage: undefined,
    index: undefined,
    bytes: 0,
    held: new Map(),
    inflight: new Set(),
    sizes: {},
    storedSizes: {},
    whole: undefined,
  };
  d.versions.set(n, v);
  return v;
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

function firstCommitted(d: DatasetEntry, atLeast: number): number {
  let best = 0;
  for (const v of d.versions.values()) {
    if (v.state === "committed" && v.version >= atLeast && (best === 0 || v.version < best)) {
      best = v.version;
    }
  }
  return best;
}

function committedVersions(d: DatasetEntry): number[] {
  const out: number[] = [];
  for (const v of d.versions.values()) if (v.state === "committed") out.push(v.version);
  return out;
}

function summary(d: DatasetEntry): DatasetSummary {
  return {
    name: d.record.name,
    retention: d.record.retention,
    durable: d.record.durable,
    overwrite: d.record.overwrite,
    latest: d.latest === 0 ? null : d.latest,
    createdAt: d.record.createdAt,
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function versionList(d: DatasetEntry): VersionRecord[] {
  return [...d.versions.values()].sort((a, b) => a.version - b.version).map(versionRecord);
}

function versionRecord(v: VersionEntry): VersionRecord {
  return {
    version: v.version,
    state: v.state,
    fragments: v.held.size,
    bytes: v.bytes,
    ...(v.committedAt === undefined ? {} : { committedAt: v.committedAt }),
    ...(Object.keys(v.sizes).length === 0 ? {} : { sizes: { ...v.sizes } }),
  };
}

function regionId(fragment: string, params: Readonly<Record<string, number>>): string {
  return `${fragment}/${regionText(params)}`;
}

function describeRegion(params: Readonly<Record<string, number>>): string {
  const r = regionText(params);
  return r === "" ? "" : ` (${r})`;
}

function deletion(key: Deno.KvKey): Mutation {
  return { type: "delete", key };
}

/** Splits keys into delete writes that fit one atomic each. */
function chunks(keys: readonly Deno.KvKey[]): Deno.KvKey[][] {
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

/** Consecutive creates, or consecutive publishes, run concurrently (their writes share commits). */
function concurrentKind(op: unknown): "create" | "publish" | undefined {
  const kind = typeof op === "object" && op !== null ? (op as { op?: unknown }).op : undefined;
  return kind === "create" || kind === "publish" ? kind : undefined;
}
