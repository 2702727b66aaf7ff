/**
 * Publishing a fragment copy: checks, registration through the group
 * committer, and the commit of the version it completes.
 *
 * @module
 */

import { copyRegion } from "./_fixed_regions.ts";
import {
  BusyError,
  ConflictError,
  InvalidRequestError,
  LayoutError,
  NotFoundError,
  SizeMismatchError,
} from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { type Commits, IncompleteCommit } from "./_commit.ts";
import {
  copyKey,
  type DatasetEntry,
  type DeferredCopy,
  dropVersion,
  type Held,
  newVersion,
  type RegistryState,
  storedVersionRecord,
  type VersionEntry,
} from "./_state.ts";
import { restoreSizes, wholeOf } from "./_version_sizes.ts";
import { learnTiling, type Tally, tallyOf } from "./tally.ts";
import { keyBytesOf, type Mutation, mutationBytes } from "./group_commit.ts";
import { copyRecordBytes } from "./_record_bytes.ts";
import { KEYS, regionText } from "./keys.ts";
import type { FragmentRecord, PublishResult, StoredPack } from "./records.ts";
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
  /** Datasets whose held copies are looked at when the group committer next takes a group. */
  readonly #sweeping = new Set<DatasetEntry>();
  /** Per dataset, the timer of its earliest held copies' deadline. */
  readonly #timers = new Map<
    DatasetEntry,
    { readonly at: number; readonly id: ReturnType<typeof setTimeout> }
  >();

  /** `#register`, bound once: what a held block that is not carried writes. */
  readonly #registerOwn = (a: Admitted) => this.#register(a);

  /** Publishes into the datasets of `state`, committing versions through `commits`. */
  constructor(state: RegistryState, commits: Commits) {
    this.#s = state;
    this.#commits = commits;
    state.flushHeld = (d, v) => this.#flush(d, v);
    state.onClosed = () => {
      for (const t of this.#timers.values()) clearTimeout(t.id);
      this.#timers.clear();
    };
  }

  /**
   * Registers a published fragment copy; see `Registry.publishFragment`.
   * Not `async` itself: a block held for its version's commit goes
   * straight to `#deferred`, one promise fewer per publish (a failure
   * before any wait rejects the promise it answers, as an `async` one's).
   */
  publish(record: FragmentRecord): Promise<PublishResult> {
    let a: Admitted;
    let closes: boolean;
    try {
      this.#s.checkOpen();
      const d = this.#s.dataset(record.dataset);
      checkVersion(record.version);
      checkCopy(record);
      a = admit(d, record, this.#s.maxOpenVersions);
      const { v } = a;
      // Whether this copy closes the version: with the copies published
      // before it, durable or still being registered, it covers the dataset.
      const admitted = a.before === undefined ? admittedOf(d, v) : v.admitted;
      admitted?.add(a.id, a.layout);
      if (admitted?.complete === true) learnTiling(d, admitted);
      closes = a.before === undefined && admitted?.complete === true;
      if (closes) d.closedAt = performance.now();
      v.held.set(a.id, a.mine);
      v.bytes += record.byteLength - (a.before?.record.byteLength ?? 0);
      if (a.before === undefined) {
        // The publish that closes a version queues its commit at once, so
        // versions commit in the order their last publishes arrived; the
        // commit's atomic registers its copy and the version's copies still
        // held for the next group (no KV commit of their own: rank blocks
        // cost one atomic per version, bench/commit_bench.ts). Not while an
        // overwrite is being written: it may close an earlier version.
        if (closes && d.writing === 0) return this.#registerInCommit(a, this.#claim(d, v));
        // Any other copy waits for the group committer's next group (a KV
        // atomic in flight would have delayed it as long), in case the commit
        // of its version comes first and carries it; else the copies of its
        // version held by then are written together, in packs.
        if (!closes) return this.#deferred(a);
      } else {
        // An overwrite goes after the version's held copies (one may be the copy it replaces).
        this.#flush(d, v);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#registerCounted(a, closes);
  }

  /**
   * Registers a copy that closes its version while an overwrite is being
   * written, or an overwrite, then commits the version if it is complete.
   */
  async #registerCounted(a: Admitted, closes: boolean): Promise<PublishResult> {
    const { d } = a;
    // Writes that may close their version once durable hold the closing
    // publishes of other versions back; a copy that does not close its
    // version cannot (the publish that does closes it).
    const counted = closes || a.before !== undefined;
    if (counted) d.writing++;
    try {
      await this.#register(a);
    } finally {
      if (counted) d.writing--;
    }
    if (a.before !== undefined) this.#releaseReplaced(a.before, a.mine.record.node);
    return await this.#commitIfComplete(a);
  }

  /**
   * Registers the copy, and `joined` (copies of its version held for the
   * next group), in the atomic of the commit of the version it closes.
   */
  async #registerInCommit(a: Admitted, joined: readonly DeferredCopy[]): Promise<PublishResult> {
    const { d, v, id, mine } = a;
    // Other publishes into the version are refused from now on, as during any commit.
    v.committing = true;
    const commit = this.#commits.chain(d, v.version, [...joined.map((j) => j.held), mine], true);
    for (const j of joined) j.join(commit);
    try {
      const { retired } = await commit;
      return retired.length === 0 ? { committed: true } : { committed: true, retired };
    } catch (e) {
      // Nothing was written: the copy is not registered, the version stays open.
      v.committing = false;
      // A copy this one counted on failed: this one is registered on its own.
      if (e instanceof IncompleteCommit && v.held.get(id) === mine) return await this.#alone(a);
      if (!mine.durable && v.held.get(id) === mine) {
        v.held.delete(id);
        v.admitted = undefined;
        v.bytes -= mine.record.byteLength;
        restoreSizes(d, v);
        if (v.held.size === 0 && !v.stored && v.inflight.size === 0) dropVersion(d, v.version);
      }
      throw e;
    }
  }

  /**
   * Holds the copy's registration until the group committer takes its next
   * group (a KV atomic in flight would have delayed it as long), or, while
   * the dataset's versions close (a publish closed one in the last
   * `HOLD_WHILE_MS`), up to `holdMs` (20 ms by default) for the publish
   * that closes its version: that publish puts its record in the commit's
   * atomic, one KV row for the version and all its copies. Otherwise it is
   * written on its own, in packs with the other copies of its version held
   * with it. Holding also keeps producers that publish parts of each
   * version in step: one that ran ahead would see its copies answered at
   * once, written as packs the commit later deletes (bench/commit_bench.ts).
   */
  async #deferred(a: Admitted): Promise<PublishResult> {
    const { d, v } = a;
    const copy = new HeldBlock(a, this.#registerOwn);
    const byVersion = d.deferred ??= new Map();
    const list = byVersion.get(v);
    if (list !== undefined) list.copies.push(copy);
    else {
      const now = performance.now();
      const hold = d.closedAt !== undefined && now - d.closedAt < HOLD_WHILE_MS &&
        this.#s.holdMs > 0 && this.#s.writes.grouping;
      const until = hold ? now + this.#s.holdMs : 0;
      byVersion.set(v, { until, copies: [copy] });
      this.#watch(d, until);
    }
    const t = await copy.turn;
    if (t.own !== undefined) await t.own;
    else {
      try {
        await t.commit;
        return { committed: false };
      } catch {
        // The commit wrote nothing: the copy is registered on its own.
        return await this.#alone(a);
      }
    }
    return await this.#commitIfComplete(a);
  }

  /**
   * Registers a copy on its own once the commit that was to carry it
   * failed. When a newer version's commit refused it by retiring the
   * version, that commit is waited for: if it stands, the copy is freed as
   * that commit's and nothing is written (a record written after it would
   * outlive its version).
   */
  async #alone(a: Admitted): Promise<PublishResult> {
    const { d, v } = a;
    while (v.retiring) await this.#commits.settled(d);
    if (d.deleted) throw new NotFoundError(`Unknown dataset '${d.record.name}'`);
    if (v.state !== "open") return { committed: false };
    await this.#register(a);
    return await this.#commitIfComplete(a);
  }

  /**
   * The copies of `v` held, taken for its commit: none past `MAX_JOINING`
   * (holding the copies of a version of thousands costs the commit more
   * than it saves: they are written in packs first, now).
   */
  #claim(d: DatasetEntry, v: VersionEntry): readonly DeferredCopy[] {
    const list = d.deferred?.get(v);
    if (list === undefined) return [];
    if (list.copies.length > MAX_JOINING) {
      this.#flush(d, v);
      return [];
    }
    d.deferred!.delete(v);
    if (d.deferred!.size === 0) this.#unwatch(d);
    return list.copies;
  }

  /**
   * Looks at the held copies of `d` when the group committer next takes a
   * group (and at once if it closes), and at `until` when that is set.
   */
  #watch(d: DatasetEntry, until: number): void {
    if (!this.#sweeping.has(d)) {
      this.#sweeping.add(d);
      this.#s.writes.beforeTake(() => {
        this.#sweeping.delete(d);
        this.#sweep(d);
      });
    }
    if (until === 0) return;
    const timer = this.#timers.get(d);
    if (timer !== undefined && timer.at <= until) return;
    if (timer !== undefined) clearTimeout(timer.id);
    const id = setTimeout(() => {
      this.#timers.delete(d);
      this.#sweep(d);
    }, Math.max(0, until - performance.now()));
    this.#timers.set(d, { at: until, id });
  }

  /**
   * Writes the held copies of `d` whose deadline passed (all of them once
   * the registry is closing), and watches the others.
   */
  #sweep(d: DatasetEntry): void {
    const held = d.deferred;
    if (held === undefined) {
      this.#unwatch(d);
      return;
    }
    const now = this.#s.closed ? Infinity : performance.now();
    let next = Infinity;
    for (const [v, list] of held) {
      if (list.until <= now) {
        held.delete(v);
        this.#writeHeld(d, v, list.copies);
      } else next = Math.min(next, list.until);
    }
    if (held.size === 0) this.#unwatch(d);
    else this.#watch(d, next);
  }

  /**
   * Forgets the held copies of `d` (none is left). Their deadline's timer
   * stays: when it fires it finds nothing or the copies held since, and a
   * dataset whose versions close one after the other reuses it instead of
   * setting a timer per version (setting and clearing one per version took
   * 3-5% of the thread under 4 ranks' publishes, V8's profiler). The
   * registry's close clears it.
   */
  #unwatch(d: DatasetEntry): void {
    d.deferred = undefined;
  }

  /** Writes the held copies, of `v` or of every version of `d`, now: alone, or several in packs. */
  #flush(d: DatasetEntry, v?: VersionEntry): void {
    const held = d.deferred;
    if (held === undefined) return;
    if (v !== undefined) {
      const list = held.get(v);
      held.delete(v);
      if (list !== undefined) this.#writeHeld(d, v, list.copies);
      if (held.size > 0) return;
    } else for (const [version, list] of held) this.#writeHeld(d, version, list.copies);
    this.#unwatch(d);
  }

  /**
   * Writes held copies of `v`: one on its own, several in packs of at
   * most `PACK_BYTES` of records, one KV row each instead of a row per copy
   * (bench/registry_wrk_bench.ts, publishes 100 per request).
   */
  #writeHeld(d: DatasetEntry, v: VersionEntry, list: readonly DeferredCopy[]): void {
    // Without group commit (a comparison), every write goes alone.
    if (list.length === 1 || !this.#s.writes.grouping) {
      for (const copy of list) copy.write();
      return;
    }
    let pack: { copy: DeferredCopy; bytes: number }[] = [];
    let bytes = 0;
    const send = () => {
      const write = this.#registerPack(d, v, pack);
      for (const p of pack) p.copy.write(write);
      pack = [];
      bytes = 0;
    };
    for (const copy of list) {
      const size = copyRecordBytes(copy.held.record);
      if (pack.length > 0 && bytes + size > PACK_BYTES) send();
      pack.push({ copy, bytes: size });
      bytes += size;
    }
    send();
  }

  /**
   * Writes the records of copies of `v` as one pack (and the version's
   * record, with its first copies or sizes they give) through the group
   * committer; on failure, undoes what their publishes changed in memory.
   */
  async #registerPack(
    d: DatasetEntry,
    v: VersionEntry,
    pack: readonly { readonly copy: DeferredCopy; readonly bytes: number }[],
  ): Promise<void> {
    const copies = pack.map((p) => p.copy.held);
    const id = ++this.#s.lastPack;
    const key = KEYS.pack(d.record.name, v.version, id);
    const value: StoredPack = { copies: copies.map((h) => h.record) };
    // Each record was sized once, generously: the committer need not size them again.
    const size = { bytes: keyBytesOf(key) + 64, keyBytes: keyBytesOf(key) };
    for (const p of pack) size.bytes += p.bytes;
    // Put if absent: a pack never replaces another (ids rise per process; a second
    // process writing this store could pick the same).
    await this.#writeWithVersion(d, v, [{ type: "set", key, value }], size, () => {
      for (const h of copies) {
        if (v.held.get(h.id) !== h) continue;
        v.held.delete(h.id);
        v.bytes -= h.record.byteLength;
      }
      v.admitted = undefined;
    }, key);
    for (const h of copies) {
      h.durable = true;
      h.home = id;
    }
    (v.packs ??= []).push(id);
  }

  /**
   * Writes the copy's record (and the version's, with its first copy or
   * sizes it gives) through the group committer; on failure, undoes what
   * the publish changed in memory.
   */
  async #register(a: Admitted): Promise<void> {
    const { d, v, id, before, mine } = a;
    const mutation: Mutation = { type: "set", key: copyKey(mine), value: mine.record };
    await this.#writeWithVersion(d, v, [mutation], undefined, () => {
      if (v.held.get(id) !== mine) return;
      if (before === undefined) v.held.delete(id);
      else v.held.set(id, before);
      v.admitted = undefined;
      v.bytes -= mine.record.byteLength - (before?.record.byteLength ?? 0);
    });
    mine.durable = true;
  }

  /**
   * Writes `mutations`, the records of copies admitted into `v`, with the
   * version's record when it has none in KV yet (its counts are derived
   * from the copies when the registry loads) or when they give sizes its
   * record lacks: a registered copy's layout never rests on sizes that are
   * not durable. `size` estimates `mutations` (see `GroupCommitter.write`);
   * `absent`: a key that must not exist yet (else `ConflictError`). On
   * failure, `undo` takes the copies back, and the version's own state is
   * restored (dropped when nothing is left of it).
   */
  async #writeWithVersion(
    d: DatasetEntry,
    v: VersionEntry,
    mutations: Mutation[],
    size: { bytes: number; keyBytes: number } | undefined,
    undo: () => void,
    absent?: Deno.KvKey,
  ): Promise<void> {
    const first = !v.stored;
    const sizes = { ...v.sizes };
    const ahead = Object.keys(sizes).some((k) => v.storedSizes[k] === undefined);
    if (first || ahead) {
      v.stored = true;
      const record: Mutation = {
        type: "set",
        key: KEYS.version(d.record.name, v.version),
        value: storedVersionRecord(v),
      };
      mutations.push(record);
      if (size !== undefined) {
        const more = mutationBytes([record]);
        size.bytes += more.bytes;
        size.keyBytes += more.keyBytes;
      }
    }
    const checks = absent === undefined ? [] : [{ key: absent, versionstamp: null }];
    const write = this.#s.writes.write(mutations, checks, size);
    v.inflight.add(write);
    try {
      const { ok, versionstamp } = await write;
      if (!ok) {
        throw new ConflictError(
          `Cannot register copies of version ${v.version} of '${d.record.name}': their key ${
            JSON.stringify(absent)
          } is taken, another process writes this registry's store`,
        );
      }
      if ((first || ahead) && versionstamp !== undefined) v.stamp = versionstamp;
    } catch (e) {
      undo();
      if (first) v.stored = false;
      restoreSizes(d, v);
      if (v.held.size === 0 && !v.stored && v.inflight.size === 1) dropVersion(d, v.version);
      throw e;
    } finally {
      v.inflight.delete(write);
    }
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
    const full = complete(d, v, a.id, a.layout);
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
function admit(d: DatasetEntry, record: FragmentRecord, maxOpen: number): Admitted {
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
  checkOpenVersion(d, n, found, maxOpen);
  const before = found?.held.get(id);
  if (before !== undefined && !d.record.overwrite) {
    throw new ConflictError(
      `Fragment '${record.fragment}'${
        describeRegion(region.params)
      } of version ${n} of '${name}' is already published: datasets are write-once unless created with overwrite`,
    );
  }
  const v = found ?? newVersion(d, n);
  if (hasKeys(region.sizes)) {
    // Decided here, in memory: a copy giving other sizes is refused from now on.
    Object.assign(v.sizes, region.sizes);
    v.whole = undefined;
  }
  const mine: Held = {
    record: storedRecord(record),
    layout,
    id,
    durable: false,
    home: "key",
  };
  return { d, v, region, layout, id, before, mine };
}

/**
 * Refuses a publish into a version that is not open, too old to open, or
 * new while `maxOpen` versions are open.
 */
function checkOpenVersion(
  d: DatasetEntry,
  n: number,
  v: VersionEntry | undefined,
  maxOpen: number,
): void {
  const name = d.record.name;
  if (v === undefined) {
    const floor = oldestOpenable(d.committed, d.record.retention);
    if (n < floor) {
      throw new ConflictError(
        `Cannot publish into version ${n} of '${name}': it is older than the ${d.record.retention} committed versions kept, publish into version ${floor} or later`,
      );
    }
    if (d.opens.length >= maxOpen) {
      throw new BusyError(
        `Cannot open version ${n} of '${name}': ${d.opens.length} of its versions are open (published into, not committed), at most ${maxOpen}; complete or commit versions ${
          d.opens[0]
        } and up first`,
        { fields: { open: d.opens.length, limit: maxOpen, oldest: d.opens[0]! } },
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
  checkLabel("fragment name", r.fragment);
  checkName("node", r.node);
  checkLabel("tier name", r.tier);
  checkBindings(() => publishOfFragment(r), r.bindings);
  if (!Number.isSafeInteger(r.byteLength) || r.byteLength < 0) {
    badCopy(r, `a byte length, found ${r.byteLength}`);
  }
  if (typeof r.checksum !== "number") badCopy(r, "a numeric checksum");
  if (typeof r.bindings !== "object" || r.bindings === null) badCopy(r, "bindings");
  if (r.reshape !== undefined && r.reshape !== "source" && r.reshape !== "destination") {
    badCopy(r, `reshape 'source' or 'destination', found ${JSON.stringify(r.reshape)}`);
  }
  if (r.replicas !== undefined && (!Array.isArray(r.replicas) || r.replicas.length > 0)) {
    badCopy(
      r,
      "no replicas: a replica is added by the node that holds it, once the copy is registered",
    );
  }
}

/** What refusals of a publish of `r` call it. */
function publishOfFragment(r: FragmentRecord): string {
  return `publish of fragment '${r.fragment}'`;
}

/** Refuses a publish of `r`, saying what was `expected` (a function, not a closure per publish). */
function badCopy(r: FragmentRecord, expected: string): never {
  throw new InvalidRequestError(`Invalid ${publishOfFragment(r)}: expected ${expected}`);
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

/** Where a held block's registration went: its own write, or a commit that carries it. */
interface Turn {
  readonly own?: Promise<void>;
  readonly commit?: Promise<unknown>;
}

/**
 * A block held until the group committer takes its next group or its
 * version's commit carries it (`Publisher.#deferred`). Commits and
 * deletions of its version wait for it, as for a write in flight, until
 * its own write stands for it or a commit carries it: `turn`, settled
 * then, is in the version's `inflight` meanwhile. One object and one
 * promise per block (closures and two resolvers each took 1.6 KB a block
 * of 4 ranks' versions, `node:inspector` heap sampling).
 */
class HeldBlock implements DeferredCopy {
  readonly held: Held;
  /** Settles when the block is written or carried: with its write, or the commit carrying it. */
  readonly turn: Promise<Turn>;
  readonly #a: Admitted;
  readonly #register: (a: Admitted) => Promise<void>;
  #settle!: (t: Turn) => void;

  constructor(a: Admitted, register: (a: Admitted) => Promise<void>) {
    this.held = a.mine;
    this.#a = a;
    this.#register = register;
    this.turn = new Promise<Turn>((resolve) => this.#settle = resolve);
    a.v.inflight.add(this.turn);
  }

  /** Writes its registration now (`shared`: the write of a pack holding its record). */
  write(shared?: Promise<void>): void {
    this.#a.v.inflight.delete(this.turn);
    this.#settle({ own: shared ?? this.#register(this.#a) });
  }

  /** Hands it to the commit of its version, whose atomic writes its record. */
  join(commit: Promise<unknown>): void {
    this.#a.v.inflight.delete(this.turn);
    this.#settle({ commit });
  }
}

/** Whether `o` has an own key (without building the array of them). */
function hasKeys(o: object): boolean {
  for (const k in o) if (Object.hasOwn(o, k)) return true;
  return false;
}

/** Most held copies a commit carries in its atomic. */
const MAX_JOINING = 64;

/**
 * Copies wait for their version's closing publish only if one of the
 * dataset's versions was closed by a publish within this many ms: a
 * dataset whose versions are committed explicitly, or whose copies rarely
 * complete a version, has its copies written at the next group as before.
 */
const HOLD_WHILE_MS = 1000;

/**
 * Most estimated bytes of records in one pack (`copyRecordBytes`, more than
 * Deno KV's encoding of them): well within the 64 KiB a KV
 * value may hold.
 */
const PACK_BYTES = 24 * 1024;

/**
 * What all copies of `v` cover, durable or being registered (computed
 * once, then kept up to date, made again when a copy is taken back);
 * undefined while its sizes are not all known.
 */
function admittedOf(d: DatasetEntry, v: VersionEntry): Tally | undefined {
  if (v.admitted === undefined) {
    const whole = wholeOf(d, v);
    if (whole === undefined) return undefined;
    v.admitted = tallyOf(d, whole);
    for (const h of v.held.values()) v.admitted.add(h.id, h.layout);
  }
  return v.admitted;
}

/**
 * What the durable copies of `v` cover (computed once, then kept up to
 * date); undefined while its sizes are not all known.
 */
function coverageOf(d: DatasetEntry, v: VersionEntry): Tally | undefined {
  if (v.coverage === undefined) {
    const whole = wholeOf(d, v);
    if (whole === undefined) return undefined;
    v.coverage = tallyOf(d, whole);
    for (const h of v.held.values()) if (h.durable) v.coverage.add(h.id, h.layout);
  }
  return v.coverage;
}

/** Whether the durable copies of `v` now cover the dataset (`added`, region `id`, just became durable). */
function complete(d: DatasetEntry, v: VersionEntry, id: string, added: FragmentLayout): boolean {
  if (v.coverage === undefined) return coverageOf(d, v)?.complete ?? false;
  v.coverage.add(id, added);
  return v.coverage.complete;
}

function describeRegion(params: Readonly<Record<string, number>>): string {
  const r = regionText(params);
  return r === "" ? "" : ` (${r})`;
}
