/**
 * The registry's state in memory, shared by its parts: each dataset with its
 * versions and their copies, the KV store and group committer it writes
 * through, the version waiters, and the release and commit listeners.
 *
 * @module
 */

import type { NoticeQueue } from "./notice_queue.ts";
import { type Dataset, datasetLayout } from "../ddl/mod.ts";
import { compileShared, sharedSizeVariables, sharedWhole } from "./_compiled.ts";
import { ClosedError, NotFoundError } from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import type { Tally, Tiling } from "./tally.ts";
import type { CopyRegion } from "./_fixed_regions.ts";
import { type GroupCommitOptions, GroupCommitter } from "./group_commit.ts";
import { KEYS, regionText } from "./keys.ts";
import type {
  CommitResult,
  DatasetDescription,
  DatasetRecord,
  FragmentRecord,
  StoredVersionRecord,
  VersionRecord,
  VersionState,
} from "./records.ts";
import type { RegionIndex } from "./region_index.ts";
import { VersionWaiters } from "./waiters.ts";
import { insertVersion, removeVersion } from "./retention.ts";
import { NamedMap } from "./named_map.ts";

/** A registered copy of a fragment region, as the registry holds it. */
export interface Held {
  /** Replaced when the copy moves to another tier of its node. */
  record: FragmentRecord;
  /** The region's layout. */
  readonly layout: FragmentLayout;
  /**
   * Its key among its version's copies (`regionId`): the fragment, `/`,
   * and the region's text, which is also the last part of its KV key
   * (`copyKey`).
   */
  readonly id: string;
  /** Whether its write has committed: only durable copies count and are found. */
  durable: boolean;
  /**
   * Where its record is stored: under its own key (`"key"`), carried in
   * its version's record (`"version"`: registered by the commit,
   * `StoredVersionRecord.copies`), or in the pack of that id (`StoredPack`).
   * Set when the copy is made, so every copy has the same shape in memory.
   */
  home: "key" | "version" | number;
}

/** A version of a dataset, as the registry holds it. */
export interface VersionEntry {
  /** Version number. */
  readonly version: number;
  /** State. */
  state: VersionState;
  /** Set while a commit of it runs: publishes into it are refused. */
  committing: boolean;
  /**
   * Set once a publish that completed it has queued its commit: the other
   * publishes whose writes landed with it do not queue it again.
   */
  commitQueued: boolean;
  /** Set while a commit of a newer version retires it: publishes are refused. */
  retiring: boolean;
  /** When it was committed, ms since the epoch. */
  committedAt?: number;
  /** Whether its record is in KV. */
  stored: boolean;
  /**
   * The versionstamp of its record as this registry last wrote or loaded
   * it (null: none written): its commit is checked against it, no read.
   */
  stamp: string | null;
  /** Bytes of the copies held. */
  bytes: number;
  /** What the durable copies do not cover yet (undefined: not computed). */
  coverage: Tally | undefined;
  /**
   * What all its copies, durable or being registered, do not cover yet
   * (undefined: not computed, or a copy was taken back since): a publish it
   * finds complete closes the version.
   */
  admitted: Tally | undefined;
  /** Copies by region (`fragment/params`). */
  readonly held: Map<string, Held>;
  /** The packs holding records of its copies (`StoredPack`); undefined when none. */
  packs: number[] | undefined;
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

/** A dataset, as the registry holds it. */
export interface DatasetEntry {
  /** Its record in KV. */
  readonly record: DatasetRecord;
  /** Its compiled description. */
  readonly ds: Dataset;
  /** The whole-dataset layout; undefined when sizes are read per version. */
  readonly whole: FragmentLayout | undefined;
  /** Its size variables. */
  readonly sizeVars: ReadonlySet<string>;
  /** Size variables not given at creation: each version reads them from its published bytes. */
  readonly perVersion: ReadonlySet<string>;
  /**
   * Its versions by number. A dataset without versions shares one empty
   * map that refuses additions: `newVersion` gives it its own.
   */
  versions: Map<number, VersionEntry>;
  /**
   * The versions a commit still looks at: not retired, or retired with
   * copies whose records are still to remove. Commits scan these, never
   * every version the dataset ever had. Shared and empty, like `versions`,
   * until the first version.
   */
  live: Set<VersionEntry>;
  /** The latest committed version (0: none). */
  latest: number;
  /**
   * Its committed versions (not retired), ascending: retention plans from
   * them without looking at every version kept. Shared and empty until the
   * first commit, replaced (never changed in place) by each batch of commits.
   */
  committed: readonly number[];
  /**
   * Retired versions whose copies' records a crash left behind (found at
   * load): the next commit removes them. While 0, commits look for none.
   */
  leftovers: number;
  /**
   * Its open versions, ascending (shared and empty until its first
   * version): a commit finds the open versions below its retention window
   * from the front, without looking at every version.
   */
  opens: number[];
  /** Settles once the commits queued for this dataset have run. */
  commitChain: Promise<unknown>;
  /** Commits of this dataset queued or running. */
  commits: number;
  /**
   * Commits waiting for the next batch, in call order: shared, empty and
   * frozen until its first commit (`queueCommit`).
   */
  commitQueue: QueuedCommit[];

  /**
   * Publish writes in flight, over all versions, that may close their
   * version once durable (overwrites, and closing publishes that could not
   * queue their commit at once): while any is, closing publishes of other
   * versions do not queue theirs ahead of it.
   */
  writing: number;
  /** Set once it is deleted: commits queued behind the deletion fail. */
  deleted: boolean;
  /** The dataset pack holding its record (`StoredDatasetPack`); undefined when none does. */
  pack: number | undefined;
  /** The parts of `describeDataset()` that never change, built at its first call. */
  described?: Pick<DatasetDescription, "descriptionJson" | "fragments">;
  /**
   * The regions lookups and publishes named, by fragment and bindings,
   * while its sizes are fixed at creation (every version lays a region out
   * the same way); made at the first, at most `FIXED_REGIONS` kept
   * (`_fixed_regions.ts`).
   */
  fixedRegions?: Map<string, CopyRegion>;
  /**
   * Regions that tile the dataset, learned from the latest version found
   * complete by subtracting boxes while its sizes are fixed at creation:
   * later versions count these regions (`tally.ts`).
   */
  tiling?: Tiling;
  /**
   * Copies whose registration waits for the commit of their version or
   * their deadline, by version, in publish order (`_publish.ts`).
   */
  deferred?: Map<VersionEntry, HeldCopies> | undefined;
  /**
   * When a publish last closed one of its versions (`performance.now()`):
   * while it did recently, copies that do not close theirs wait a little
   * for the one that does (`_publish.ts`).
   */
  closedAt?: number;
  /**
   * The versions it retired last, oldest first, at most `RETIRED_KEPT`:
   * still listed and named as retired. Older ones are forgotten (their
   * records were deleted when they retired): every version below the
   * oldest kept is retired or never was (`retiredBelow`).
   */
  retiredKept?: number[];
}

/**
 * Retired versions a dataset keeps listing, at most. A stream of versions
 * keeps the name server's memory and KV at its retention plus these, where
 * each version it ever had used to stay (about 700 bytes of memory and a
 * KV row each, forever).
 */
export const RETIRED_KEPT = 16;

/**
 * The oldest version `d` keeps (its oldest committed version once its
 * retention window is full; 0 before): every version below it was retired,
 * dropped, or never published, and can never be published again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetEntry, retiredBelow } from "./_state.ts";
 * const d = datasetEntry({
 *   name: "t", description: "dataset { var x [4]float64 }", retention: 2, durable: false,
 *   overwrite: false, sizes: {}, createdAt: 1,
 * });
 * d.committed = [7];
 * assert.equal(retiredBelow(d), 0);
 * d.committed = [7, 9];
 * assert.equal(retiredBelow(d), 7);
 * ```
 */
export function retiredBelow(d: DatasetEntry): number {
  const keep = d.record.retention;
  return d.committed.length < keep ? 0 : d.committed[d.committed.length - keep]!;
}

/**
 * Notes that `v` retired (its record deleted with the commit that retired
 * it): it stays listed while among the last `RETIRED_KEPT`, and the oldest
 * one past them is forgotten unless a crash left copies of it to remove.
 */
export function rememberRetired(d: DatasetEntry, v: VersionEntry): void {
  const kept = d.retiredKept ??= [];
  kept.push(v.version);
  while (kept.length > RETIRED_KEPT) {
    const old = d.versions.get(kept.shift()!);
    if (old !== undefined && old.state === "retired" && old.held.size === 0) {
      d.versions.delete(old.version);
    }
  }
}

/**
 * A published copy whose registration waits for the group committer's
 * next group or its deadline, in case the commit of its version, closed by
 * a later publish before then, carries it in its own atomic (`_publish.ts`).
 */
export interface DeferredCopy {
  /** The copy, not durable yet. */
  readonly held: Held;
  /**
   * Writes its registration now: the next group is being taken. `shared`:
   * the write of a pack that holds its record (`StoredPack`), else its own.
   */
  readonly write: (shared?: Promise<void>) => void;
  /** Hands it to the commit of its version, whose atomic writes its record. */
  readonly join: (commit: Promise<unknown>) => void;
}

/** The held copies of one version and when they stop waiting for its commit. */
export interface HeldCopies {
  /**
   * Their deadline (`performance.now()`): past it, or at the group
   * committer's next group when 0, they are written without the commit.
   */
  readonly until: number;
  /** The copies, in publish order. */
  readonly copies: DeferredCopy[];
}

/** A commit waiting for its batch. */
export interface QueuedCommit {
  /** The version to commit. */
  readonly version: number;
  /** Copies being published whose records go in the commit's atomic. */
  readonly joining: readonly Held[];
  /**
   * Set by the publish that closed the version: the commit fails with
   * `IncompleteCommit` if a copy it waited for was taken back.
   */
  readonly ifComplete: boolean;
  /** Settles the caller. */
  readonly resolve: (r: CommitResult) => void;
  /** Fails the caller. */
  readonly reject: (e: unknown) => void;
}

/** Options of the registry's state. */
export interface StateOptions {
  /** Committed versions a dataset keeps when it does not say. Default 2. */
  readonly defaultRetention?: number;
  /** Node lease when a registration does not say, in ms. Default 10 000. */
  readonly defaultLeaseMs?: number;
  /** Limits of the group committer (and `group: false` to turn batching off). */
  readonly groupCommit?: GroupCommitOptions;
  /**
   * Longest a published copy that does not close its version waits for the
   * publish that does, in ms, while the dataset's versions are closed by
   * publishes (one was in the last second): its record then rides in the
   * commit's atomic. Default 20; 0 writes such copies at the group
   * committer's next group.
   */
  readonly holdMs?: number;
  /**
   * Most versions of one dataset open at once (published into, not yet
   * committed nor retired); a publish that would open one more is refused
   * with `busy` until earlier ones commit. Default `MAX_OPEN_VERSIONS`.
   */
  readonly maxOpenVersions?: number;
}

/**
 * Versions of one dataset open at once by default: far more than a
 * producer runs ahead of its commits (streams keep up to 16 ahead, the
 * commit benchmark 256 in flight), and a bound on what a producer that
 * never completes its versions makes the name server keep (about a
 * kilobyte each).
 */
export const MAX_OPEN_VERSIONS = 4096;

/**
 * The state one registry's parts share. It is the only writer of its KV
 * store: conflicts between concurrent calls are decided here, in memory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RegistryState } from "./_state.ts";
 * using state = new RegistryState(await Deno.openKv(":memory:"));
 * const d = state.entry({
 *   name: "t", description: "dataset { var x [4]float64 }", retention: 2, durable: false,
 *   overwrite: false, sizes: {}, createdAt: 1,
 * });
 * state.datasets.set("t", d);
 * assert.equal(state.dataset("t").whole?.byteLength, 32);
 * assert.ok(state.nextCreatedAt() > 1);
 * ```
 */
export class RegistryState implements Disposable {
  /** The KV store. */
  readonly kv: Deno.Kv;
  /** Every write goes through it, and is answered once durable. */
  readonly writes: GroupCommitter;
  /** Consumers waiting for a version. */
  readonly waiters: VersionWaiters;
  /** Datasets by name. */
  readonly datasets = new NamedMap<DatasetEntry>();
  /** Names whose creation is being written. */
  readonly creating = new Set<string>();
  /** Names whose deletion is under way. */
  readonly deleting = new Set<string>();
  /** Committed versions a dataset keeps when it does not say. */
  readonly defaultRetention: number;
  /** Node lease when a registration does not say, in ms. */
  readonly defaultLeaseMs: number;
  /** Longest a copy waits for the publish that closes its version, in ms (`StateOptions.holdMs`). */
  readonly holdMs: number;
  /** Most versions of a dataset open at once (`StateOptions.maxOpenVersions`). */
  readonly maxOpenVersions: number;
  readonly #releaseListeners = new Set<(copies: readonly FragmentRecord[]) => void>();
  readonly #commitListeners = new Set<(dataset: string, version: number) => void>();
  /** Per dataset, the queues of `block` subscribers and their deadlines. */
  readonly #holds = new Map<string, Map<NoticeQueue, number>>();
  /** The latest creation time given or loaded: each dataset gets a later one. */
  #lastCreatedAt = 0;
  /** The highest pack id used or loaded: each pack gets a higher one. */
  lastPack = 0;
  /**
   * The members of each dataset pack (`StoredDatasetPack`) by id, as
   * stored: datasets whose deletion has not completed included.
   */
  readonly datasetPacks = new Map<number, Map<string, DatasetRecord>>();
  /** The highest dataset pack id used or loaded. */
  lastDatasetPack = 0;
  /**
   * Older dataset packs still holding a name also in a later one (a
   * deletion whose last atomic failed, the dataset created again), by
   * name, found at load: its deletion takes it out of them too.
   */
  readonly stalePacks = new Map<string, number[]>();
  /**
   * Writes the held copies of `v` (of every version of `d` without `v`)
   * now: a commit, retirement or deletion waits for them (set by the
   * publisher).
   */
  flushHeld: (d: DatasetEntry, v?: VersionEntry) => void = () => {};
  /** Called once the registry closes, after its writes were told to (the publisher's timers). */
  onClosed: () => void = () => {};
  #closed = false;

  /** Creates the state over an open KV store. */
  constructor(kv: Deno.Kv, options: StateOptions = {}) {
    this.kv = kv;
    this.writes = new GroupCommitter(kv, options.groupCommit);
    // A dataset this registry does not hold was committed by another
    // process: trust the watched pointer. One it holds is answered once its
    // in-memory state shows the commit, so an attach right after agrees.
    this.waiters = new VersionWaiters(kv, (name, atLeast, latest) => {
      const d = this.datasets.get(name);
      return d === undefined ? latest : firstCommitted(d, atLeast);
    });
    this.defaultRetention = options.defaultRetention ?? 2;
    this.defaultLeaseMs = options.defaultLeaseMs ?? 10_000;
    this.holdMs = options.holdMs ?? 20;
    if (!(this.holdMs >= 0 && this.holdMs <= 60_000)) {
      throw new RangeError(`holdMs must be from 0 to 60000 ms, got ${options.holdMs}`);
    }
    this.maxOpenVersions = options.maxOpenVersions ?? MAX_OPEN_VERSIONS;
    if (!(Number.isSafeInteger(this.maxOpenVersions) && this.maxOpenVersions >= 1)) {
      throw new RangeError(
        `maxOpenVersions must be a positive integer, got ${options.maxOpenVersions}`,
      );
    }
  }

  /** Whether it is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Throws `ClosedError` once closed. */
  checkOpen(): void {
    if (this.#closed) throw new ClosedError("registry");
  }

  /** The dataset named `name`, or `NotFoundError`. */
  dataset(name: string): DatasetEntry {
    const d = this.datasets.get(name);
    if (d === undefined) throw new NotFoundError(`Unknown dataset '${name}'`);
    return d;
  }

  /** Adds a listener of copies whose bytes must be freed; returns its removal. */
  onRelease(listener: (copies: readonly FragmentRecord[]) => void): () => void {
    this.#releaseListeners.add(listener);
    return () => this.#releaseListeners.delete(listener);
  }

  /** Tells the release listeners that `copies` must be freed. */
  release(copies: readonly FragmentRecord[]): void {
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
   * Holds the commits of `dataset` while `queue` (a subscriber's, policy
   * `block`) is full, for at most `timeoutMs` each time; returns its removal.
   */
  holdCommits(dataset: string, queue: NoticeQueue, timeoutMs: number): () => void {
    let held = this.#holds.get(dataset);
    if (held === undefined) this.#holds.set(dataset, held = new Map());
    held.set(queue, timeoutMs);
    return () => {
      held!.delete(queue);
      if (held!.size === 0 && this.#holds.get(dataset) === held) this.#holds.delete(dataset);
    };
  }

  /** Whether `block` subscribers hold the commits of `dataset`. */
  holding(dataset: string): boolean {
    return this.#holds.has(dataset);
  }

  /**
   * How many commits of `dataset` may go now: waits until every queue
   * holding them has room (or failed at its deadline), then answers the
   * least room among them; `Infinity` when no queue holds them.
   */
  async room(dataset: string): Promise<number> {
    const held = this.#holds.get(dataset);
    if (held === undefined) return Infinity;
    await Promise.all([...held].map(([q, ms]) => q.room(ms)));
    let least = Infinity;
    for (const q of held.keys()) if (q.free > 0) least = Math.min(least, q.free);
    return least;
  }

  /** Adds a listener of commits that stand; returns its removal. */
  onCommit(listener: (dataset: string, version: number) => void): () => void {
    this.#commitListeners.add(listener);
    return () => this.#commitListeners.delete(listener);
  }

  /** Tells the commit listeners that version `version` of `dataset` committed. */
  committed(dataset: string, version: number): void {
    for (const listener of this.#commitListeners) {
      try {
        listener(dataset, version);
      } catch {
        // A listener's failure must not undo a commit that stands.
      }
    }
  }

  /** A creation time later than any dataset's this registry has held since it opened. */
  nextCreatedAt(): number {
    this.#lastCreatedAt = Math.max(Date.now(), this.#lastCreatedAt + 1);
    return this.#lastCreatedAt;
  }

  /** The entry of a dataset record (compiled again unless given), noting its creation time. */
  entry(record: DatasetRecord, compiled?: Dataset): DatasetEntry {
    this.#lastCreatedAt = Math.max(this.#lastCreatedAt, record.createdAt);
    return datasetEntry(record, compiled);
  }

  /**
   * Closes now: waiters and writes still queued fail with `ClosedError`,
   * then the KV store closes. Closing again is harmless.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.waiters.close();
    this.writes.close();
    this.onClosed();
    this.kv.close();
  }

  /** Closes. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** The empty set of names datasets share. */
const NO_NAMES: ReadonlySet<string> = new Set();
/** A map that stays empty: datasets without versions share one. */
class EmptyMap<K, V> extends Map<K, V> {
  override set(key: K): never {
    throw new Error(`Cannot add ${String(key)} to a shared empty map`);
  }
}

/** A set that stays empty: datasets without versions share one. */
class EmptySet<T> extends Set<T> {
  override add(value: T): never {
    throw new Error(`Cannot add ${String(value)} to a shared empty set`);
  }
}

// A million datasets created and never published into would otherwise hold
// a million empty maps and sets (about 340 bytes each pair).
const NO_VERSIONS: Map<number, VersionEntry> = new EmptyMap();
const NO_LIVE: Set<VersionEntry> = new EmptySet();
const NO_COMMITTED: readonly number[] = Object.freeze([]);
const NO_OPENS: number[] = Object.freeze([]) as unknown as number[];
const NO_COMMITS: QueuedCommit[] = Object.freeze([]) as unknown as QueuedCommit[];

/** The settled promise datasets start their commit chain with. */
const SETTLED: Promise<unknown> = Promise.resolve();

/**
 * The entry of a dataset record with no versions yet.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetEntry } from "./_state.ts";
 * const d = datasetEntry({
 *   name: "p", description: "dataset { var sz int64\n var a [sz]float32 }", retention: 2,
 *   durable: false, overwrite: false, sizes: {}, createdAt: 1,
 * });
 * assert.deepEqual([...d.perVersion], ["sz"]);
 * assert.equal(d.whole, undefined);
 * ```
 */
export function datasetEntry(record: DatasetRecord, compiled?: Dataset): DatasetEntry {
  const ds = compiled ?? compileShared(record.description);
  // Shared where they can be: a million datasets each with its own empty sets weigh on the collector.
  const sizeVars = sharedSizeVariables(ds);
  const unknown = [...sizeVars].filter((k) => record.sizes[k] === undefined);
  const perVersion = unknown.length === 0 ? NO_NAMES : new Set(unknown);
  return {
    record,
    ds,
    whole: perVersion.size === 0
      ? Object.keys(record.sizes).length === 0 ? sharedWhole(ds) : datasetLayout(ds, record.sizes)
      : undefined,
    sizeVars,
    perVersion,
    versions: NO_VERSIONS,
    live: NO_LIVE,
    latest: 0,
    committed: NO_COMMITTED,
    leftovers: 0,
    opens: NO_OPENS,
    commitChain: SETTLED,
    commits: 0,
    commitQueue: NO_COMMITS,
    writing: 0,
    deleted: false,
    pack: undefined,
  };
}

/**
 * Adds an open version `n`, with no copies, to `d`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetEntry, newVersion } from "./_state.ts";
 * const d = datasetEntry({
 *   name: "t", description: "dataset { var x [4]float64 }", retention: 2, durable: false,
 *   overwrite: false, sizes: {}, createdAt: 1,
 * });
 * const other = datasetEntry(d.record);
 * assert.equal(newVersion(d, 3).state, "open");
 * assert.deepEqual([...d.versions.keys()], [3]);
 * // A dataset gets its own map with its first version; the other's stays empty.
 * assert.equal(other.versions.size + other.live.size, 0);
 * assert.throws(() => other.versions.set(1, d.versions.get(3)!), /shared empty map/);
 * ```
 */
export function newVersion(d: DatasetEntry, n: number): VersionEntry {
  const v: VersionEntry = {
    version: n,
    state: "open",
    committing: false,
    commitQueued: false,
    retiring: false,
    stored: false,
    stamp: null,
    coverage: undefined,
    admitted: undefined,
    index: undefined,
    bytes: 0,
    held: new Map(),
    packs: undefined,
    inflight: new Set(),
    sizes: {},
    storedSizes: {},
    whole: undefined,
  };
  if (d.opens === NO_OPENS) d.opens = [];
  insertVersion(d.opens, n);
  if (d.versions === NO_VERSIONS) d.versions = new Map();
  if (d.live === NO_LIVE) d.live = new Set();
  d.versions.set(n, v);
  d.live.add(v);
  return v;
}

/**
 * Removes version `n` from `d` (a version whose first publish failed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetEntry, dropVersion, newVersion } from "./_state.ts";
 * const d = datasetEntry({
 *   name: "t", description: "dataset { var x [4]float64 }", retention: 2, durable: false,
 *   overwrite: false, sizes: {}, createdAt: 1,
 * });
 * newVersion(d, 3);
 * dropVersion(d, 3);
 * assert.equal(d.versions.size + d.live.size, 0);
 * ```
 */
export function dropVersion(d: DatasetEntry, n: number): void {
  const v = d.versions.get(n);
  if (v === undefined) return;
  d.versions.delete(n);
  d.live.delete(v);
  if (v.state === "open") removeVersion(d.opens, n);
}

/**
 * A version's record, as stored in KV and listed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetEntry, newVersion, versionRecord } from "./_state.ts";
 * const d = datasetEntry({
 *   name: "t", description: "dataset { var x [4]float64 }", retention: 2, durable: false,
 *   overwrite: false, sizes: {}, createdAt: 1,
 * });
 * assert.deepEqual(versionRecord(newVersion(d, 1)), { version: 1, state: "open", fragments: 0, bytes: 0 });
 * ```
 */
export function versionRecord(v: VersionEntry): VersionRecord {
  return {
    version: v.version,
    state: v.state,
    fragments: v.held.size,
    bytes: v.bytes,
    ...(v.committedAt === undefined ? {} : { committedAt: v.committedAt }),
    ...(Object.keys(v.sizes).length === 0 ? {} : { sizes: { ...v.sizes } }),
  };
}

/**
 * A version's record as written to KV: `versionRecord`, with the records
 * of the copies its record carries (`Held.home`) and of `carry`, copies
 * its commit registers into it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetEntry, newVersion, storedVersionRecord } from "./_state.ts";
 * const d = datasetEntry({
 *   name: "t", description: "dataset { var x [4]float64 }", retention: 2, durable: false,
 *   overwrite: false, sizes: {}, createdAt: 1,
 * });
 * const record = {
 *   dataset: "t", version: 1, fragment: "dataset", bindings: {}, node: "n", tier: "memory",
 *   byteLength: 32, checksum: 0,
 * };
 * const v = newVersion(d, 1);
 * assert.deepEqual(storedVersionRecord(v).copies, undefined);
 * assert.deepEqual(storedVersionRecord(v, [record]).copies, [record]);
 * ```
 */
export function storedVersionRecord(
  v: VersionEntry,
  carry: readonly FragmentRecord[] = [],
): StoredVersionRecord {
  const copies = [...carry];
  for (const h of v.held.values()) if (h.home === "version") copies.push(h.record);
  return { ...versionRecord(v), ...(copies.length === 0 ? {} : { copies }) };
}

/**
 * The first committed version of `d` at or above `atLeast`, or 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetEntry, firstCommitted, newVersion } from "./_state.ts";
 * const d = datasetEntry({
 *   name: "t", description: "dataset { var x [4]float64 }", retention: 2, durable: false,
 *   overwrite: false, sizes: {}, createdAt: 1,
 * });
 * newVersion(d, 2).state = "committed";
 * assert.equal(firstCommitted(d, 1), 2);
 * assert.equal(firstCommitted(d, 3), 0);
 * ```
 */
export function firstCommitted(d: DatasetEntry, atLeast: number): number {
  let best = 0;
  for (const v of d.live) {
    if (v.state === "committed" && v.version >= atLeast && (best === 0 || v.version < best)) {
      best = v.version;
    }
  }
  return best;
}

/**
 * Where a copy's record is in KV: built when written or removed, not held
 * (an array of five per copy weighed a tenth of it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { copyKey, regionId } from "./_state.ts";
 * const record = {
 *   dataset: "p", version: 3, fragment: "cell", bindings: { r: 2 }, node: "n", tier: "memory",
 *   byteLength: 1, checksum: 0,
 * };
 * const layout = { byteLength: 1, slots: [] };
 * const id = regionId("cell", { r: 2 });
 * assert.deepEqual(copyKey({ record, layout, id, durable: true, home: "key" }), ["fragments", "p", 3, "cell", "r=2"]);
 * ```
 */
export function copyKey(h: Held): Deno.KvKey {
  const r = h.record;
  return KEYS.fragment(r.dataset, r.version, r.fragment, h.id.slice(r.fragment.length + 1));
}

/**
 * The key of a region among a version's copies: `fragment/params`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { regionId } from "./_state.ts";
 * assert.equal(regionId("dataset", {}), "dataset/");
 * ```
 */
export function regionId(fragment: string, params: Readonly<Record<string, number>>): string {
  return `${fragment}/${regionText(params)}`;
}

/**
 * Queues a commit of `d`: its queue is made at the first (datasets share
 * one empty queue until then: an array each weighed on the collector for
 * every dataset never committed into).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetEntry, queueCommit } from "./_state.ts";
 * const d = datasetEntry({
 *   name: "t", description: "dataset { var x [4]float64 }", retention: 2, durable: false,
 *   overwrite: false, sizes: {}, createdAt: 1,
 * });
 * assert.equal(Object.isFrozen(d.commitQueue), true);
 * queueCommit(d, { version: 1, joining: [], ifComplete: false, resolve: () => {}, reject: () => {} });
 * assert.equal(d.commitQueue.length, 1);
 * ```
 */
export function queueCommit(d: DatasetEntry, commit: QueuedCommit): void {
  if (d.commitQueue === NO_COMMITS) d.commitQueue = [];
  d.commitQueue.push(commit);
}
