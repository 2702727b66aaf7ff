/**
 * Version commits: one at a time per dataset, each one KV atomic that sets
 * the version committed, moves `latest` and retires the versions past
 * retention, checked against the version's record.
 *
 * @module
 */

import { ConflictError, NotFoundError } from "../errors.ts";
import { chunks, deletion } from "./_deletes.ts";
import {
  type DatasetEntry,
  type Held,
  type RegistryState,
  type VersionEntry,
  versionRecord,
} from "./_state.ts";
import type { Mutation } from "./group_commit.ts";
import { KEYS } from "./keys.ts";
import type { CommitResult, VersionRecord } from "./records.ts";
import { planRetention } from "./retention.ts";
import { checkVersion } from "./validate.ts";

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
   * `joining` is a copy being published that is not registered yet: its
   * record goes in the commit's atomic operation, and it is registered
   * exactly when the commit stands.
   */
  chain(d: DatasetEntry, n: number, joining?: Held): Promise<CommitResult> {
    d.commits++;
    const run = d.commitChain.then(() => this.#commit(d, n, joining));
    d.commitChain = run.catch(() => {}).finally(() => d.commits--);
    return run;
  }

  async #commit(d: DatasetEntry, n: number, joining?: Held): Promise<CommitResult> {
    const v = openVersion(d, n);
    v.committing = true;
    let retiring: VersionEntry[] = [];
    try {
      const retire = await this.#checkReady(d, v);
      retiring = retire.filter((r) => r.state === "open");
      for (const r of retiring) r.retiring = true;
      for (const r of retiring) await Promise.allSettled([...r.inflight]);
      const retirement = retirementOf(d, retire);
      const committedAt = Date.now();
      const latest = Math.max(d.latest, n);
      const rest = await this.#write(d, v, { joining, retirement, committedAt, latest });
      applyCommit(d, v, { joining, retirement, committedAt, latest });
      this.#s.waiters.notify(d.record.name);
      await this.#removeRest(rest);
      const retired = retirement.freed.map((h) => h.record);
      this.#s.release(retired);
      this.#s.committed(d.record.name, n);
      return { version: n, retired };
    } finally {
      v.committing = false;
      for (const r of retiring) r.retiring = false;
    }
  }

  /**
   * Waits for the version's publishes, then checks it can commit; returns
   * the versions its commit retires.
   */
  async #checkReady(d: DatasetEntry, v: VersionEntry): Promise<VersionEntry[]> {
    const name = d.record.name;
    const n = v.version;
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
    return plan.retire.map((r) => d.versions.get(r)!);
  }

  /**
   * Writes the commit in one atomic, checked against the version's record;
   * returns the deletes of retired copies' records that did not fit in it.
   */
  async #write(d: DatasetEntry, v: VersionEntry, c: CommitChange): Promise<Deno.KvKey[][]> {
    const name = d.record.name;
    const n = v.version;
    // A version whose record this registry has not written yet must not
    // have one: no read needed to check that.
    const current = v.stored
      ? await this.#s.kv.get<VersionRecord>(KEYS.version(name, n))
      : { versionstamp: null };
    const deletes = chunks(c.retirement.freed.map((h) => h.kvKey));
    const result = await this.#s.writes.write(
      [...commitMutations(d, v, c), ...(deletes.shift() ?? []).map(deletion)],
      [{ key: KEYS.version(name, n), versionstamp: current.versionstamp }],
    );
    if (!result.ok) {
      throw new ConflictError(
        `Version ${n} of '${name}' changed while committing: another process writes this registry's store`,
      );
    }
    return deletes;
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

/** What one commit writes and then holds. */
interface CommitChange {
  readonly joining: Held | undefined;
  readonly retirement: Retirement;
  readonly committedAt: number;
  readonly latest: number;
}

/** Version `n` of `d`, which must be open to commit. */
function openVersion(d: DatasetEntry, n: number): VersionEntry {
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
  return v;
}

function retirementOf(d: DatasetEntry, retire: readonly VersionEntry[]): Retirement {
  // Copies of versions retired before a crash, whose records were not yet removed.
  const leftover = [...d.versions.values()].filter((r) => r.state === "retired" && r.held.size > 0);
  const freed = [...retire, ...leftover].flatMap((r) => [...r.held.values()]);
  return { retire, leftover, freed };
}

/** The records a commit sets: the joining copy, the version, `latest`, the retired versions. */
function commitMutations(d: DatasetEntry, v: VersionEntry, c: CommitChange): Mutation[] {
  const name = d.record.name;
  const mutations: Mutation[] = [
    ...(c.joining === undefined
      ? []
      : [{ type: "set" as const, key: c.joining.kvKey, value: c.joining.record }]),
    {
      type: "set",
      key: KEYS.version(name, v.version),
      value: { ...versionRecord(v), state: "committed", committedAt: c.committedAt },
    },
    { type: "set", key: KEYS.latest(name), value: c.latest },
  ];
  for (const r of c.retirement.retire) {
    mutations.push({
      type: "set",
      key: KEYS.version(name, r.version),
      value: { ...versionRecord(r), state: "retired", fragments: 0, bytes: 0 },
    });
  }
  return mutations;
}

/** Holds in memory what a commit that stands wrote. */
function applyCommit(d: DatasetEntry, v: VersionEntry, c: CommitChange): void {
  if (c.joining !== undefined) {
    c.joining.durable = true;
    v.stored = true;
  }
  v.state = "committed";
  v.committedAt = c.committedAt;
  v.coverage = undefined;
  v.storedSizes = { ...v.sizes };
  d.latest = c.latest;
  for (const r of [...c.retirement.retire, ...c.retirement.leftover]) {
    r.state = "retired";
    r.index = undefined;
    r.held.clear();
    r.bytes = 0;
    r.coverage = undefined;
  }
}
