/**
 * The registry: datasets, versions, published fragment locations and nodes in
 * Deno KV, with atomic version commits and group-committed writes. See
 * docs/registry.md for the key schema and the guarantees. `Registry` composes
 * its parts: datasets (`_datasets.ts`), publishes (`_publish.ts`), copy
 * records (`_copies.ts`), commits (`_commit.ts`), lookups and waits
 * (`_lookup.ts`), node leases (`_nodes.ts`) and loading (`_load.ts`), over
 * one shared state (`_state.ts`).
 *
 * @module
 */

import type {
  CommitSubscription,
  CopyRef,
  DatasetSettings,
  NameService,
  PublishOptions,
  SubscribeQuery,
} from "../name_service/name_service.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { Commits } from "./_commit.ts";
import { CopyRecords } from "./_copies.ts";
import { Datasets } from "./_datasets.ts";
import { loadState } from "./_load.ts";
import { Lookup } from "./_lookup.ts";
import { NodeLeases } from "./_nodes.ts";
import { Publisher } from "./_publish.ts";
import { RegistryState, type StateOptions } from "./_state.ts";
export { MAX_OPEN_VERSIONS } from "./_state.ts";
import { inlineKept, keepInline, subscribeCommits } from "./_subscribe.ts";
import { type BatchResult, runBatch } from "./batch.ts";
import type { GroupCommitter } from "./group_commit.ts";
import type {
  AttachQuery,
  AttachResult,
  AttachWait,
  CommitResult,
  CreateDatasetInput,
  DatasetDescription,
  DatasetPage,
  DatasetSummary,
  FragmentRecord,
  LookupRecords,
  NodeInput,
  NodeRecord,
  NodeTier,
  PublishResult,
  VersionPage,
  VersionRecord,
} from "./records.ts";
import { checkRetention } from "./validate.ts";
import type { WaitOptions } from "./waiters.ts";

/** Options of `openRegistry()`: the KV file, and the registry state's settings. */
export interface RegistryOptions extends StateOptions {
  /** Path of the KV file (from config), or `:memory:` in tests. */
  readonly path: string;
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
  // A local KV file takes 100 checks per atomic, KV Connect 10: each
  // version of a batch of commits checks its record.
  const local = !/^https?:\/\//.test(options.path);
  const reg = new Registry(kv, {
    ...options,
    groupCommit: { ...(local ? { maxChecks: 100 } : {}), ...options.groupCommit },
  });
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
  readonly #s: RegistryState;
  readonly #datasets: Datasets;
  readonly #commits: Commits;
  readonly #publisher: Publisher;
  readonly #copies: CopyRecords;
  readonly #lookup: Lookup;
  readonly #nodes: NodeLeases;
  #loaded = false;

  /** Creates a registry over an open KV store; prefer `openRegistry()`, which also loads it. */
  constructor(kv: Deno.Kv, options: Omit<RegistryOptions, "path"> = {}) {
    this.#s = new RegistryState(kv, options);
    this.#datasets = new Datasets(this.#s);
    this.#commits = new Commits(this.#s);
    this.#publisher = new Publisher(this.#s, this.#commits);
    this.#copies = new CopyRecords(this.#s);
    this.#lookup = new Lookup(this.#s);
    this.#nodes = new NodeLeases(this.#s);
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
    return this.#s.onRelease(listener);
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
    return this.#s.onCommit(listener);
  }

  /**
   * Subscribes to the commits of a dataset from `query.from` on: each
   * commit is queued for the subscriber (at most `query.limit`, then its
   * policy: drop the oldest, or fail) and answered with the copies of the
   * subscribed region when taken. The dataset need not exist yet.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openRegistry } from "./registry.ts";
   * await using reg = await openRegistry({ path: ":memory:" });
   * await reg.createDataset({ name: "t", description: "dataset { var x [4]float64 }" });
   * const sub = reg.subscribe({ dataset: "t", fragment: "dataset", bindings: {} });
   * await reg.publishFragment({
   *   dataset: "t", version: 1, fragment: "dataset", bindings: {}, node: "n", tier: "memory", byteLength: 32, checksum: 0,
   * });
   * const notice = await sub.next(1000);
   * assert.equal(notice?.version, 1);
   * assert.equal(notice?.sources.length, 1);
   * sub.close();
   * ```
   */
  subscribe(query: SubscribeQuery): CommitSubscription {
    return subscribeCommits(this.#s, this.#lookup, query);
  }

  /**
   * The KV store, for stores that keep their own key prefixes beside the
   * registry's in the same file (function deployments and pipelines, see
   * docs/functions.md). They must never write the registry's prefixes.
   */
  get kv(): Deno.Kv {
    return this.#s.kv;
  }

  /**
   * The group committer of the registry's writes, for stores kept beside
   * the registry's in the same KV whose writes may ride in its atomics (the
   * name server's release notices). They must never write the registry's
   * prefixes.
   */
  get committer(): GroupCommitter {
    return this.#s.writes;
  }

  /**
   * Atomic commits and writes so far (group-commit efficiency), writes
   * queued, the datasets held, and the small copies' bytes kept for commit
   * notices.
   */
  get stats(): {
    commits: number;
    datasets: number;
    writes: number;
    queued: number;
    inlineCopies: number;
    inlineBytes: number;
  } {
    const writes = this.#s.writes;
    const inline = inlineKept(this.#s);
    return {
      commits: writes.commits,
      datasets: this.#s.datasets.size,
      writes: writes.writes,
      queued: writes.queued,
      inlineCopies: inline.copies,
      inlineBytes: inline.bytes,
    };
  }

  /** Loads every record from KV, and finishes deletions a crash interrupted (once). */
  async load(): Promise<void> {
    if (this.#loaded) return;
    this.#loaded = true;
    await loadState(this.#s, (name) => this.#datasets.purge(name));
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
  createDataset(input: CreateDatasetInput): Promise<DatasetSummary> {
    return this.#datasets.create(input);
  }

  /**
   * Summaries of the datasets, by name: all of them, or a page (`after` a
   * name, at most `limit`).
   */
  listDatasets(page?: DatasetPage): Promise<DatasetSummary[]> {
    return this.#datasets.list(page);
  }

  /** One dataset: settings, description (text and JSON), fragments and versions. */
  describeDataset(name: string): Promise<DatasetDescription> {
    return this.#datasets.describe(name);
  }

  /**
   * Deletes a dataset and every record of it, in batches within KV limits;
   * returns the copies whose bytes must be freed. A crash part-way leaves it
   * marked, and the next `load()` finishes the deletion.
   */
  deleteDataset(name: string): Promise<FragmentRecord[]> {
    return this.#datasets.delete(name);
  }

  /** Versions of a dataset, oldest first: all of them, or a page (`after` a version, at most `limit`). */
  listVersions(name: string, page?: VersionPage): Promise<VersionRecord[]> {
    return this.#datasets.versions(name, page);
  }

  /** Settings the runtime acts on. */
  datasetSettings(name: string): Promise<DatasetSettings> {
    return this.#datasets.settings(name);
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
  versionSizes(dataset: string, version: number): Promise<Record<string, number>> {
    return this.#datasets.versionSizes(dataset, version);
  }

  /**
   * Layout of a fragment region (`dataset` for the whole dataset). The
   * bindings give the size variables not given at creation.
   */
  fragmentLayout(
    dataset: string,
    fragment: string,
    bindings: Readonly<Record<string, number>>,
  ): Promise<FragmentLayout> {
    return this.#datasets.fragmentLayout(dataset, fragment, bindings);
  }

  /**
   * Registers a published fragment copy (the talk's "publish fragment") and
   * resolves once the record is durable. The version commits itself when the
   * published regions cover the whole dataset; `committed` tells whether this
   * publish committed it, and `retired` (present when that commit retired
   * versions) lists the copies whose bytes must be freed. Nothing is
   * registered when it throws. `options.inline` (a small copy's bytes) is
   * kept for the commit notices of the dataset's subscribers.
   */
  publishFragment(record: FragmentRecord, options: PublishOptions = {}): Promise<PublishResult> {
    // Kept before the commit it may cause: its notice is built from the cache.
    if (options.inline !== undefined) keepInline(this.#s, record, options.inline);
    return this.#publisher.publish(record);
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
  relocateFragment(copy: CopyRef, tier: string): Promise<boolean> {
    return this.#copies.relocate(copy, tier);
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
    return this.#copies.held(copies);
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
  addReplica(copy: CopyRef, tier: string): Promise<boolean> {
    return this.#copies.addReplica(copy, tier);
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
  dropCopy(copy: CopyRef): Promise<boolean> {
    return this.#copies.drop(copy);
  }

  /**
   * Commits a version: its state, the dataset's latest pointer and the
   * retirement of versions past retention change in one atomic operation,
   * checked against the version's record (KV check-and-set). Returns the
   * copies of the retired versions, whose bytes must be freed. Of two racing
   * commits of one version, one wins and the other throws `ConflictError`.
   */
  commitVersion(dataset: string, version: number): Promise<CommitResult> {
    return this.#commits.commit(dataset, version);
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
  attachFragments(query: AttachQuery, options: AttachWait = {}): Promise<AttachResult> {
    return this.#lookup.attach(query, options);
  }

  /**
   * Resolves with the first committed version >= `atLeast`, watching the
   * dataset's latest pointer (`kv.watch`). The dataset need not exist yet: a
   * consumer may start before its producer. Rejects with `WaitTimeoutError`
   * after `timeoutMs`, or with the signal's reason when it aborts.
   */
  waitForVersion(dataset: string, atLeast: number, options: WaitOptions = {}): Promise<number> {
    return this.#lookup.waitForVersion(dataset, atLeast, options);
  }

  /** Registers a node, or renews it, with a lease: its record expires unless renewed. */
  registerNode(node: NodeInput, options: { readonly leaseMs?: number } = {}): Promise<NodeRecord> {
    return this.#nodes.register(node, options);
  }

  /**
   * Extends a registered node's lease, with its tiers' current usage when
   * `tiers` is given; `NotFoundError` when it lapsed.
   */
  renewNode(
    id: string,
    options: { readonly leaseMs?: number; readonly tiers?: readonly NodeTier[] } = {},
  ): Promise<NodeRecord> {
    return this.#nodes.renew(id, options);
  }

  /** Nodes whose lease has not lapsed, by id. */
  listNodes(): Promise<NodeRecord[]> {
    return this.#nodes.list();
  }

  /**
   * Runs many operations (`create`, `publish`, `commit`, `lookup`; see
   * `parseBatchOp`) in order, each with its own result or error. A run of
   * consecutive creates, or of consecutive publishes, runs concurrently, so
   * their writes share atomic commits. A create answers the dataset's
   * summary; a publish, `{committed}`; a commit, its `CommitResult`; a lookup,
   * the version, byte length and sources without their layouts.
   */
  batch(ops: readonly unknown[]): Promise<BatchResult[]> {
    return runBatch(ops, this);
  }

  /**
   * A batch's `lookup`: the version, the region's byte length and the
   * records of the copies of a committed version that hold part of it, as
   * `attachFragments` finds them without waiting (the records the registry
   * holds: not to be changed).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openRegistry } from "./registry.ts";
   * await using reg = await openRegistry({ path: ":memory:" });
   * await reg.createDataset({ name: "t", description: "dataset { var x [4]float64 }" });
   * await reg.publishFragment({
   *   dataset: "t", version: 1, fragment: "dataset", bindings: {}, node: "n", tier: "memory",
   *   byteLength: 32, checksum: 7,
   * });
   * const found = reg.lookupRecords({ dataset: "t", version: "latest", fragment: "dataset", bindings: {} });
   * assert.equal(found.byteLength, 32);
   * assert.deepEqual(found.sources.map((s) => s.checksum), [7]);
   * ```
   */
  lookupRecords(query: AttachQuery): LookupRecords {
    this.#s.checkOpen();
    return this.#lookup.records(query);
  }

  /** Resolves once every operation under way has finished and its writes are durable. */
  async drain(): Promise<void> {
    for (const d of this.#s.datasets.values()) {
      this.#s.flushHeld(d);
      for (const v of d.versions.values()) await Promise.allSettled([...v.inflight]);
      await d.commitChain;
    }
    await this.#s.writes.drain();
  }

  /**
   * Closes the registry now: waiters and writes still queued fail with
   * `ClosedError` (nothing of them is applied), then the KV store closes.
   * Closing again is harmless. `await using` drains first instead.
   */
  close(): void {
    this.#s.close();
  }

  /** Drains the operations under way, then closes. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#s.closed) await this.drain();
    this.close();
  }
}
