/**
 * Version commits: in call order per dataset, in batches of one KV atomic
 * each that set the versions committed, move `latest` and retire the
 * versions past retention, checked against the `latest` pointer.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { ConflictError, NotFoundError } from "../errors.ts";
import { chunks, deletion } from "./_deletes.ts";
import {
  copyKey,
  type DatasetEntry,
  type Held,
  queueCommit,
  type QueuedCommit,
  type RegistryState,
  rememberRetired,
  retiredBelow,
  storedVersionRecord,
  type VersionEntry,
} from "./_state.ts";
import { keyBytesOf, type Mutation, mutationBytes } from "./group_commit.ts";
import { copyRecordBytes, versionRecordBytes } from "./_record_bytes.ts";
import { KEYS } from "./keys.ts";
import type { CommitResult, VersionState } from "./records.ts";
import { insertVersion, planRetention, removeVersion } from "./retention.ts";
import { checkVersion } from "./validate.ts";
import { learnTiling, tallyOf } from "./tally.ts";
import { wholeOf } from "./_version_sizes.ts";
import { countCommit } from "../observe/mod.ts";

/** What a commit changes besides the version itself. */
interface Retirement {
  /** Versions past retention, retired by this commit. */
  readonly retire: readonly VersionEntry[];
  /** Versions retired before a crash whose copies' records were not yet removed. */
  readonly leftover: readonly VersionEntry[];
  /** The copies of both, whose records go and whose bytes must be freed. */
  readonly freed: readonly Held[];
}

/**
 * The commits of a registry's versions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RegistryState } from "./_state.ts";
 * import { Commits } from "./_commit.ts";
 * import { Datasets } from "./_datasets.ts";
 * using state = new RegistryState(await Deno.openKv(":memory:"));
 * await new Datasets(state).create({ name: "t", description: "dataset { var x [4]float64 }" });
 * await assert.rejects(new Commits(state).commit("t", 1), {
 *   message: "Version 1 of 't' does not exist: nothing was published into it",
 * });
 * ```
 */
export class Commits {
  readonly #s: RegistryState;
  /** The batch of each dataset being planned or written, settled either way. */
  readonly #batches = new WeakMap<DatasetEntry, Promise<void>>();

  /** Commits of the versions in `state`. */
  constructor(state: RegistryState) {
    this.#s = state;
  }

  /** Commits a version; see `Registry.commitVersion`. */
  commit(dataset: string, version: number): Promise<CommitResult> {
    try {
      this.#s.checkOpen();
      const d = this.#s.dataset(dataset);
      checkVersion(version);
      return this.chain(d, version);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Queues a commit of version `n` behind the dataset's other commits.
   * `joining` are copies being published that are not registered yet:
   * their records go in the commit's atomic operation, and they are
   * registered exactly when the commit stands. `ifComplete`: the publish
   * of one of them closed the version, counting copies still being
   * written; if one of those is taken back (its write failed) before the
   * commit is planned, the commit fails with `IncompleteCommit`.
   *
   * Commits queued while a batch is being written go together in the next
   * one: planned in call order, each as if the ones before it had
   * committed, written in one KV atomic, and answered once it committed
   * (bench/registry_micro.ts measures versions committed per second).
   */
  chain(
    d: DatasetEntry,
    n: number,
    joining: readonly Held[] = [],
    ifComplete = false,
  ): Promise<CommitResult> {
    d.commits++;
    const done = new Promise<CommitResult>((resolve, reject) => {
      queueCommit(d, { version: n, joining, ifComplete, resolve, reject });
    });
    if (d.commitQueue.length === 1 && d.commits === 1) {
      // The first commit of a burst starts the batches after this turn of
      // the event loop, so every commit of the same turn joins the first.
      d.commitChain = Promise.resolve().then(() => this.#drain(d));
    }
    return done;
  }

  /**
   * Settles once the batch of `d`'s commits under way (if any) has
   * committed or failed: the versions it retires are retired by then, or
   * open again.
   */
  settled(d: DatasetEntry): Promise<void> {
    return this.#batches.get(d) ?? Promise.resolve();
  }

  /** Writes the queued commits in batches until none is left. */
  async #drain(d: DatasetEntry): Promise<void> {
    while (d.commitQueue.length > 0) {
      // Subscribers with policy `block` hold the commits while their queues are full.
      const room = this.#s.holding(d.record.name) ? await this.#s.room(d.record.name) : Infinity;
      const batch = d.commitQueue.splice(0, Math.min(MAX_BATCH, room));
      const run = this.#commitBatch(d, batch);
      this.#batches.set(d, run.then(() => {}, () => {}));
      try {
        await run;
      } catch (e) {
        for (const q of batch) q.reject(e);
      } finally {
        d.commits -= batch.length;
      }
    }
  }

  /** Plans the commits of a batch in order, writes them in one atomic, then holds them. */
  async #commitBatch(d: DatasetEntry, batch: QueuedCommit[]): Promise<void> {
    const planned: Planned[] = [];
    const view = new Map<number, VersionState>();
    // What one atomic holds: each commit checks its version's record.
    const budget = { ...this.#s.writes.limits };
    let latest = d.latest;
    let leftoverTaken = false;
    // The committed versions as the commits planned so far leave them.
    let committed = d.committed;
    try {
      for (let i = 0; i < batch.length; i++) {
        const q = batch[i]!;
        let v: VersionEntry | undefined;
        let retiring: VersionEntry[] = [];
        try {
          v = openVersion(d, q.version, view);
          v.committing = true;
          const waited = v.inflight.size > 0;
          const { retire, dropped } = await this.#checkReady(d, v, view, committed);
          if (q.ifComplete && waited && !covered(d, v, q.joining)) {
            throw new IncompleteCommit(d.record.name, v.version);
          }
          retiring = retire.filter((r) => r.state === "open" && view.get(r.version) === undefined);
          for (const r of retiring) r.retiring = true;
          for (const r of retiring) this.#s.flushHeld(d, r);
          for (const r of retiring) await Promise.allSettled([...r.inflight]);
          const retirement = retirementOf(d, retire, leftoverTaken);
          const change: CommitChange = {
            joining: q.joining,
            retirement,
            committedAt: Date.now(),
            latest: Math.max(latest, q.version),
          };
          const mutations = commitMutations(d, v, change);
          const all = mutations.all;
          const size = mutations.size;
          const checkBytes = keyBytesOf(KEYS.version(d.record.name, v.version));
          if (
            planned.length > 0 && (all.length > budget.mutations || budget.checks < 1 ||
              size.bytes > budget.bytes || size.keyBytes + checkBytes > budget.keyBytes)
          ) {
            // Past what one atomic holds: this one starts the next batch.
            v.committing = false;
            for (const r of retiring) r.retiring = false;
            d.commitQueue.unshift(...batch.splice(i));
            break;
          }
          budget.mutations -= all.length;
          budget.bytes -= size.bytes;
          budget.keyBytes -= size.keyBytes + checkBytes;
          budget.checks--;
          leftoverTaken ||= retirement.leftover.length > 0;
          latest = change.latest;
          if (committed === d.committed) committed = [...committed];
          (committed as number[]).splice(0, dropped);
          insertVersion(committed as number[], v.version);
          view.set(v.version, "committed");
          for (const r of retire) view.set(r.version, "retired");
          planned.push({ q, v, retiring, change, mutations });
        } catch (e) {
          if (v !== undefined && view.get(v.version) === undefined) v.committing = false;
          for (const r of retiring) r.retiring = false;
          q.reject(e);
        }
      }
      if (planned.length === 0) return;
      const rest = await this.#write(d, planned, budget);
      for (const p of planned) applyCommit(d, p.v, p.change, p.mutations.carried);
      d.committed = committed;
      this.#s.waiters.notify(d.record.name);
      await this.#removeRest(rest);
      const answers: (() => void)[] = [];
      for (const p of planned) {
        const retired = p.change.retirement.freed.map((h) => h.record);
        this.#s.release(retired);
        this.#s.committed(d.record.name, p.v.version);
        countCommit(d.record.name);
        answers.push(() => p.q.resolve({ version: p.v.version, retired }));
      }
      // Answered once the promise chains under way have run: the next batch,
      // planned by them, is then in the committer's hands, and its atomic
      // runs while the publishers of this one are answered (over HTTP, their
      // replies) instead of after. In process, 256 publishes in flight
      // committed 105k whole versions/s against 79k answered at once
      // (bench/commit_bench.ts, same hour).
      setImmediate(() => {
        for (const a of answers) a();
      });
    } finally {
      for (const p of planned) {
        p.v.committing = false;
        for (const r of p.retiring) r.retiring = false;
      }
    }
  }

  /**
   * Waits for the version's publishes, then checks it can commit; returns
   * the versions its commit retires. `view` holds the states the commits
   * planned before it in its batch give their versions.
   */
  async #checkReady(
    d: DatasetEntry,
    v: VersionEntry,
    view: ReadonlyMap<number, VersionState>,
    committed: readonly number[],
  ): Promise<{ retire: VersionEntry[]; dropped: number }> {
    const name = d.record.name;
    const n = v.version;
    // Copies held for the version's closing publish are written now, not at their deadline.
    this.#s.flushHeld(d, v);
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
    const plan = planRetention(committed, n, d.record.retention, (oldest) => {
      // Open versions below the window, from the front of the ordered open
      // ones: past those this batch commits, usually none.
      const out: number[] = [];
      for (const o of d.opens) {
        if (o >= oldest) break;
        if (o !== n && view.get(o) === undefined) out.push(o);
      }
      return out;
    });
    if (!plan.ok) {
      throw new ConflictError(
        `Cannot commit version ${n} of '${name}': it is older than the ${d.record.retention} committed versions kept (${
          plan.kept.join(", ")
        })`,
      );
    }
    return { retire: plan.retire.map((r) => d.versions.get(r)!), dropped: plan.dropped };
  }

  /**
   * Writes a batch of commits in one atomic, each checked against its
   * version's record as this registry last wrote it (a record another
   * process wrote fails the check: nothing of the batch is written);
   * returns the deletes of retired copies' records that did not fit in it.
   */
  async #write(
    d: DatasetEntry,
    planned: readonly Planned[],
    budget: { mutations: number; bytes: number; keyBytes: number },
  ): Promise<Deno.KvKey[][]> {
    const name = d.record.name;
    // Copies a commit of the batch registers and a later one retires: never
    // written, nothing to remove (a stream of versions with more in flight
    // than the dataset keeps).
    // Likewise a version it commits and a later one retires: its committed
    // record is never written (the retirement deletes the open record it
    // had, if any).
    const gone = new Set<Held>();
    const retired = new Set<VersionEntry>();
    for (const p of planned) {
      for (const h of p.change.retirement.freed) if (!h.durable) gone.add(h);
      for (const r of p.change.retirement.retire) retired.add(r);
    }
    // Only the batch's last `latest` is written: no key is written twice.
    // The size planned for each commit bounds what of it is written.
    const mutations: Mutation[] = [];
    const size = { bytes: 0, keyBytes: 0 };
    for (const { v, mutations: m } of planned) {
      for (const j of m.joining) if (!gone.has(j.held)) mutations.push(j.mutation);
      if (!retired.has(v)) mutations.push(m.version);
      mutations.push(...m.retired);
      size.bytes += m.size.bytes;
      size.keyBytes += m.size.keyBytes;
    }
    mutations.push(planned[planned.length - 1]!.mutations.latest);
    // Records of retired copies go in the same atomic while they fit, the
    // rest in atomics of their own after it: their own keys, and their
    // versions' packs. Copies carried in their version's record go with it.
    const keys = planned.flatMap((p) => {
      const { freed, retire, leftover } = p.change.retirement;
      const own = freed.filter((h) => h.durable && h.home === "key");
      const packs = [...retire, ...leftover].flatMap((r) =>
        (r.packs ?? []).map((id) => KEYS.pack(name, r.version, id))
      );
      return [...own.map(copyKey), ...packs];
    });
    let fit = 0;
    for (let bytes = 0; fit < keys.length && fit < budget.mutations; fit++) {
      bytes += keyBytesOf(keys[fit]!);
      if (bytes > budget.keyBytes || bytes > budget.bytes) break;
    }
    const deletes = keys.slice(0, fit).map(deletion);
    mutations.push(...deletes);
    const deleted = mutationBytes(deletes);
    size.bytes += deleted.bytes;
    size.keyBytes += deleted.keyBytes;
    const checks = planned.map((p) => ({
      key: KEYS.version(name, p.v.version),
      versionstamp: p.v.stamp,
    }));
    const result = await this.#s.writes.write(mutations, checks, size);
    if (!result.ok) {
      const versions = planned.map((p) => p.v.version);
      throw new ConflictError(
        `Version${versions.length === 1 ? "" : "s"} ${
          versions.join(", ")
        } of '${name}' changed while committing: another process writes this registry's store`,
      );
    }
    for (const p of planned) p.change.stamp = result.versionstamp ?? null;
    return chunks(keys.slice(fit));
  }

  /**
   * Removes the records past the first atomic's share. The commit stands
   * even if this fails: records left behind come back as leftovers when
   * the registry next loads, and the next commit returns them again.
   */
  async #removeRest(deletes: readonly Deno.KvKey[][]): Promise<void> {
    try {
      for (const keys of deletes) await this.#s.writes.write(keys.map(deletion));
    } catch {
      // Left to the next load, as after a crash.
    }
  }
}

/**
 * A commit a publish asked for when it closed its version counting copies
 * still being registered, one of which failed meanwhile: the version is
 * not complete, nothing was written. The publisher registers its copy on
 * its own instead (`_publish.ts`); callers never see it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IncompleteCommit } from "./_commit.ts";
 * assert.match(new IncompleteCommit("t", 3).message, /not complete/);
 * ```
 */
export class IncompleteCommit extends ConflictError {
  /** Creates the error for version `version` of `dataset`. */
  constructor(dataset: string, version: number) {
    super(
      `Version ${version} of '${dataset}' is not complete: a copy's registration failed while its commit waited, publish the missing region again`,
      { fields: { dataset, version } },
    );
  }
}

/** Whether the durable copies of `v` and `joining` cover the whole dataset. */
function covered(d: DatasetEntry, v: VersionEntry, joining: readonly Held[]): boolean {
  const whole = wholeOf(d, v);
  if (whole === undefined) return false;
  const tally = tallyOf(d, whole);
  for (const h of v.held.values()) if (h.durable) tally.add(h.id, h.layout);
  for (const h of joining) tally.add(h.id, h.layout);
  if (!tally.complete) return false;
  learnTiling(d, tally);
  return true;
}

/** Most commits of one dataset in one atomic. */
const MAX_BATCH = 256;

/** A commit of a batch, planned. */
interface Planned {
  readonly q: QueuedCommit;
  readonly v: VersionEntry;
  readonly retiring: readonly VersionEntry[];
  readonly change: CommitChange;
  readonly mutations: CommitMutations;
}

/**
 * Most estimated bytes of copy records a version's record carries: the
 * copies its commit registers ride in it up to this, the rest under keys
 * of their own (KV values hold at most 64 KiB).
 */
const CARRIED_BYTES = 16 * 1024;

/** The records one commit sets, by what they are. */
interface CommitMutations {
  /** The records, under their own keys, of the copies registered with the commit. */
  readonly joining: readonly { readonly held: Held; readonly mutation: Mutation }[];
  /** The copies registered with the commit whose records the version's record carries. */
  readonly carried: readonly Held[];
  /** The version's record, committed. */
  readonly version: Mutation;
  /** The deletes of the records of the versions it retires. */
  readonly retired: readonly Mutation[];
  /** The dataset's latest version (a batch writes only its last commit's). */
  readonly latest: Mutation;
  /** All of them, in that order: what the commit alone would write. */
  readonly all: readonly Mutation[];
  /** Their estimated bytes, at least what Deno KV's encoding of `all` takes. */
  readonly size: { readonly bytes: number; readonly keyBytes: number };
}

/** What one commit writes and then holds. */
interface CommitChange {
  readonly joining: readonly Held[];
  readonly retirement: Retirement;
  readonly committedAt: number;
  readonly latest: number;
  /** The versionstamp its atomic gave the records it set, once written. */
  stamp?: string | null;
}

/** Version `n` of `d`, which must be open to commit (in `view` too, when it names it). */
function openVersion(
  d: DatasetEntry,
  n: number,
  view: ReadonlyMap<number, VersionState>,
): VersionEntry {
  const name = d.record.name;
  if (d.deleted) throw new NotFoundError(`Unknown dataset '${name}'`);
  const v = d.versions.get(n);
  if (v === undefined && n < retiredBelow(d)) {
    throw new ConflictError(`Version ${n} of '${name}' is already retired`, {
      fields: { dataset: name, version: n, state: "retired" },
    });
  }
  if (v === undefined) {
    throw new NotFoundError(
      `Version ${n} of '${name}' does not exist: nothing was published into it`,
    );
  }
  const state = view.get(n) ?? v.state;
  if (state !== "open") {
    throw new ConflictError(`Version ${n} of '${name}' is already ${state}`, {
      fields: { dataset: name, version: n, state },
    });
  }
  return v;
}

function retirementOf(
  d: DatasetEntry,
  retire: readonly VersionEntry[],
  leftoverTaken: boolean,
): Retirement {
  // Copies of versions retired before a crash, whose records were not yet
  // removed: the first commit of a batch takes them.
  const leftover = leftoverTaken || d.leftovers === 0
    ? []
    : [...d.live].filter((r) => r.state === "retired" && r.held.size > 0);
  const freed = [...retire, ...leftover].flatMap((r) => [...r.held.values()]);
  return { retire, leftover, freed };
}

/**
 * The records a commit writes: the joining copies, the version, the deletes
 * of the retired versions' records, and `latest` (a batch writes only its
 * last commit's). The joining copies' records ride in the version's record
 * while they fit in `CARRIED_BYTES`: one KV row for a version and its
 * copies instead of one each, written now and deleted at its retirement
 * (bench/commit_bench.ts measures versions kept by the thousand).
 */
function commitMutations(d: DatasetEntry, v: VersionEntry, c: CommitChange): CommitMutations {
  const name = d.record.name;
  const joining: { held: Held; mutation: Mutation }[] = [];
  const carried: Held[] = [];
  // Each copy's record is sized once, without serialising it
  // (`copyRecordBytes`, more than Deno KV's encoding takes: a JSON text of
  // each took a fourteenth of a version's commit from 4 ranks); its key is
  // built and sized only for a copy the version's record cannot carry.
  const size = { bytes: 0, keyBytes: 0 };
  let room = CARRIED_BYTES;
  for (const held of c.joining) {
    const bytes = copyRecordBytes(held.record);
    if (bytes <= room) {
      room -= bytes;
      carried.push(held);
      size.bytes += bytes;
    } else {
      const mutation: Mutation = { type: "set", key: copyKey(held), value: held.record };
      const keyBytes = keyBytesOf(mutation.key);
      joining.push({ held, mutation });
      size.bytes += keyBytes + bytes;
      size.keyBytes += keyBytes;
    }
  }
  // The version's record, sized without the copies it carries (sized above).
  const key = KEYS.version(name, v.version);
  const record = storedVersionRecord(v, carried.map((h) => h.record));
  const version: Mutation = {
    type: "set",
    key,
    value: { ...record, state: "committed", committedAt: c.committedAt },
  };
  const all: Mutation[] = [];
  for (const j of joining) all.push(j.mutation);
  all.push(version);
  // A retired version leaves no record: versions below the oldest kept are
  // retired (`retiredBelow`), so the dataset's records stay within its
  // retention however many versions it had.
  const retired: Mutation[] = [];
  for (const list of [c.retirement.retire, c.retirement.leftover]) {
    for (const r of list) {
      if (r.stored) retired.push({ type: "delete", key: KEYS.version(name, r.version) });
    }
  }
  const latest: Mutation = { type: "set", key: KEYS.latest(name), value: c.latest };
  for (const m of retired) all.push(m);
  all.push(latest);
  for (const m of [version, ...retired, latest]) {
    const k = keyBytesOf(m.key);
    size.keyBytes += k;
    size.bytes += k;
  }
  // The version record's fields, and latest's number.
  size.bytes += versionRecordBytes(record) + 16;
  return { joining, carried, version, retired, latest, all, size };
}

/** Holds in memory what a commit that stands wrote (`carried`: copies its version's record holds). */
function applyCommit(
  d: DatasetEntry,
  v: VersionEntry,
  c: CommitChange,
  carried: readonly Held[],
): void {
  for (const h of c.joining) h.durable = true;
  for (const h of carried) h.home = "version";
  removeVersion(d.opens, v.version);
  v.state = "committed";
  v.stored = true;
  v.stamp = c.stamp ?? null;
  v.committedAt = c.committedAt;
  v.coverage = undefined;
  v.admitted = undefined;
  v.storedSizes = { ...v.sizes };
  d.latest = c.latest;
  d.leftovers -= c.retirement.leftover.length;
  for (const r of [...c.retirement.retire, ...c.retirement.leftover]) {
    if (r.state === "open") removeVersion(d.opens, r.version);
    r.state = "retired";
    r.stored = false;
    r.stamp = null;
    r.index = undefined;
    r.held.clear();
    r.packs = undefined;
    r.bytes = 0;
    r.coverage = undefined;
    r.admitted = undefined;
    d.live.delete(r);
    rememberRetired(d, r);
  }
}
