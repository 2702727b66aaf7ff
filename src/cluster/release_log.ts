/**
 * Release notices for runtimes in other processes: the copies whose bytes a
 * node must free (versions retired, datasets deleted), kept per node until
 * the node has read them; in memory, or also in the name server's Deno KV so
 * they outlive a restart.
 *
 * @module
 */

import { BusyError } from "../errors.ts";
import { type GroupCommitter, keyBytesOf, type Mutation } from "../registry/group_commit.ts";
import type { FragmentRecord, ReleasedCopy } from "../name_service/name_service.ts";
import { log } from "../observe/mod.ts";

/** What `poll()` answers. */
export interface ReleaseBatch {
  /** Identifies this log: a new epoch means the log started over (its notices are gone). */
  readonly epoch: string;
  /** Read up to here: pass it as `after` next time. */
  readonly seq: number;
  /** Copies the node must free. */
  readonly copies: readonly ReleasedCopy[];
  /** Notices past `after` were dropped (the node fell too far behind). */
  readonly gap: boolean;
}

/**
 * Options of a `ReleaseLog`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReleaseLog, type ReleaseLogOptions } from "./release_log.ts";
 * const errors: unknown[] = [];
 * const options: ReleaseLogOptions = { maxPerNode: 1000, onError: (e) => errors.push(e) };
 * using kv = await Deno.openKv(":memory:");
 * const log = await ReleaseLog.open(kv, options);
 * assert.equal((await log.poll("a", 0, 0)).copies.length, 0);
 * assert.deepEqual(errors, []);
 * ```
 */
export interface ReleaseLogOptions {
  /** Most unread notices kept per node; older ones are dropped (a `gap`). Default 100 000. */
  readonly maxPerNode?: number;
  /**
   * Most polls waiting at once, over all nodes; a poll past it that would
   * wait fails with `BusyError` (503) at once. Default 1024.
   */
  readonly maxWaiting?: number;
  /**
   * Told when the durable log cannot write to KV (the notices stay in memory
   * and the write is tried again at the next push or poll). Default: logged
   * to stderr. Unused in memory.
   */
  readonly onError?: (e: Error) => void;
  /**
   * The group committer of the registry sharing the KV
   * (`Registry.committer`): the durable log's writes then join the
   * registry's next atomic (the commit after the one that released the
   * copies) instead of making atomics of their own. Unused in memory.
   */
  readonly committer?: Pick<GroupCommitter, "write" | "ride">;
}

interface NodeLog {
  readonly node: string;
  /** Notices by sequence number, those before `start` dropped or read. */
  entries: Notice[];
  /**
   * Index of the first notice kept: dropping or reading notices moves it
   * (the array is cut once half of it is behind it), so that a node at its
   * bound does not move every notice it keeps for each one pushed.
   */
  start: number;
  /** Highest sequence number dropped without being read. */
  dropped: number;
  /** Highest sequence number the node acknowledged. */
  read: number;
  waiters: Set<() => void>;
  // The durable log's state of the node; unused in memory.
  /** Its packs in KV, oldest first. */
  packs: PackSpan[];
  /** `dropped` as stored in KV. */
  droppedStored: number;
  /** `read` as stored in KV (0 when no marker is stored). */
  readStored: number;
}

/** A notice: a copy to free, numbered. */
interface Notice {
  readonly seq: number;
  readonly copy: ReleasedCopy;
}

/** A pack in KV: the first and last sequence numbers of its notices. */
interface PackSpan {
  readonly first: number;
  readonly last: number;
}

/**
 * The durable log's value at `["release_log", "pack", node, first]`:
 * notices of the node written together, each a sequence number, a version
 * and a kind (an index into `kinds`: the copy but for its version, as a
 * node's copies of one fragment region repeat from version to version).
 * Packs written before kinds hold `copies`, whole records.
 */
type StoredPack = {
  readonly seqs: readonly number[];
  readonly versions: readonly number[];
  readonly of: readonly number[];
  readonly kinds: readonly Kind[];
} | {
  readonly seqs: readonly number[];
  readonly copies: readonly FragmentRecord[];
};

/** What the notices of a pack's kind share: all but the version (the node is the pack's). */
interface Kind {
  readonly dataset: string;
  readonly fragment: string;
  readonly bindings: Readonly<Record<string, number>>;
}

/** The durable log's value at `["release_log", "meta"]`. */
interface Meta {
  readonly epoch: string;
  /** Highest sequence number stored. */
  readonly seq: number;
}

/** A KV mutation of a write: a set, or a delete when `value` is undefined. */
interface Write {
  readonly key: Deno.KvKey;
  readonly value: unknown;
  readonly bytes: number;
  readonly keyBytes: number;
  /** The sequence numbers of the notices a pack's set stores. */
  readonly seqs?: readonly number[];
  /** Called once the mutation is committed. */
  readonly done?: () => void;
  /** Called when it was not: what it would have recorded is queued again. */
  readonly undo?: () => void;
}

// Every key of the durable log is under ["release_log"], a top-level prefix
// the registry and the function store do not use (docs/registry.md,
// docs/functions.md), so neither ever reads or removes these keys.
const PREFIX = "release_log";
const META: Deno.KvKey = [PREFIX, "meta"];
const PACKS: Deno.KvKey = [PREFIX, "pack"];
const DROPPED: Deno.KvKey = [PREFIX, "dropped"];
const READ: Deno.KvKey = [PREFIX, "read"];
// A notice per row, as logs stored them before packs: read at open and rewritten as packs.
const ENTRIES: Deno.KvKey = [PREFIX, "entry"];

// Deno KV allows 1000 mutations, 800 KiB and 80 KiB of keys per atomic;
// half of that leaves room for the estimates to be off.
const MAX_MUTATIONS = 500;
const MAX_BYTES = 400 * 1024;
const MAX_KEY_BYTES = 40 * 1024;
// Longest a durable log's write waits for another write of the registry
// to ride with (GroupCommitter.ride): notices become durable, and so
// answerable, this much later at most when no commit follows.
const RIDE_WAIT_MS = 5;
// A pack holds a node's notices of one write, up to this many estimated
// bytes (twice what is stored: NOTICE_BYTES a notice, and each kind's JSON
// twice): a value small enough to stay in its row's B-tree page. Deno KV's
// SQLite moves a value past about 1,000 bytes to overflow pages of 4 KiB
// each, so packs of 1 to 4 KB cost a page each: 1,000-byte values of 4
// rows an atomic made a file 4.4 times the size of 900-byte ones and their
// atomics 30% slower (alone, on this disk); a producer publishing versions
// over HTTP to a name server committed about a fifth more per second with
// packs of about 5 notices than with one pack of 26 (bench/commit_bench.ts).
const PACK_BYTES = 1700;
// A notice's estimated bytes in a pack once its kind is there: its sequence
// number, version and kind index as V8 stores small integers (a tag and up
// to 5 bytes each), doubled. About 70 notices of one kind fill a pack.
const NOTICE_BYTES = 24;

/**
 * A bounded log of release notices per node. A node polls it with the last
 * sequence number it handled; entries up to that number are dropped, so the
 * log holds only notices not yet read, at most `maxPerNode` of them (older
 * ones are dropped and the next poll says `gap`).
 *
 * `new ReleaseLog()` keeps the notices in memory only: a new log has a new
 * epoch. `ReleaseLog.open(kv)` also stores them in KV, with its epoch and
 * sequence counter, so a log reopened from the same KV answers the notices
 * not yet read and the `after` a node holds stays valid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReleaseLog } from "./release_log.ts";
 * const log = new ReleaseLog();
 * const copy = { dataset: "d", version: 1, fragment: "dataset", bindings: {}, node: "a", tier: "memory", byteLength: 8, checksum: 0 };
 * log.push([copy, { ...copy, node: "b" }]);
 * const got = await log.poll("a", 0, 0);
 * assert.deepEqual(got.copies, [copy]);
 * assert.equal((await log.poll("a", got.seq, 0)).copies.length, 0);
 * ```
 */
export class ReleaseLog {
  #epoch: string = crypto.randomUUID();
  readonly #maxPerNode: number;
  readonly #maxWaiting: number;
  #waiting = 0;
  readonly #nodes = new Map<string, NodeLog>();
  #seq = 0;
  #closed = false;
  // The durable log's state; #kv stays undefined in memory.
  #kv: Deno.Kv | undefined;
  #committer: Pick<GroupCommitter, "write" | "ride"> | undefined;
  #onError: (e: Error) => void = (e) => log.warn("release notices", { error: e.message });
  /** Notices pushed and not yet written, in sequence order, with their node. */
  #fresh: { log: NodeLog; notice: Notice }[] = [];
  /** Packs to delete (their notices read or dropped). */
  #doomed: Deno.KvKey[] = [];
  /** Nodes whose markers (`read`, `dropped`) may differ from KV. */
  readonly #dirty = new Set<NodeLog>();
  /** Highest sequence number stored along with every one before it. */
  #stored = 0;
  /** The chain of writes; it never rejects. */
  #writing: Promise<void> = Promise.resolve();
  #scheduled = false;

  /** Creates an empty log in memory keeping at most `maxPerNode` unread notices per node (default 100 000). */
  constructor(options: ReleaseLogOptions = {}) {
    const max = options.maxPerNode ?? 100_000;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(`Invalid maxPerNode: expected a positive integer, received ${max}`);
    }
    this.#maxPerNode = max;
    const waiting = options.maxWaiting ?? 1024;
    if (!Number.isSafeInteger(waiting) || waiting < 0) {
      throw new RangeError(
        `Invalid maxWaiting: expected a non-negative integer, received ${waiting}`,
      );
    }
    this.#maxWaiting = waiting;
  }

  /**
   * Opens the log stored in `kv` under `["release_log"]` (a new, empty one
   * with a new epoch the first time): its epoch, sequence counter and unread
   * notices. Pushes then also write to `kv`, and a poll answers a notice
   * only once it is stored. The caller keeps `kv` open until `drain()` and
   * closes it. Notices read back from `kv` hold what a node needs to free
   * the copy (`ReleasedCopy`, its node the one they were kept for).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ReleaseLog } from "./release_log.ts";
   * using kv = await Deno.openKv(":memory:");
   * const copy = { dataset: "d", version: 1, fragment: "dataset", bindings: {}, node: "a", tier: "memory", byteLength: 8, checksum: 0 };
   * const first = await ReleaseLog.open(kv);
   * first.push([copy]);
   * await first.drain();
   * const again = await ReleaseLog.open(kv);
   * assert.equal(again.epoch, first.epoch);
   * assert.deepEqual((await again.poll("a", 0, 0)).copies, [
   *   { dataset: "d", version: 1, fragment: "dataset", bindings: {}, node: "a" },
   * ]);
   * ```
   */
  static async open(kv: Deno.Kv, options: ReleaseLogOptions = {}): Promise<ReleaseLog> {
    const log = new ReleaseLog(options);
    const found = await kv.get<Meta>(META);
    let meta = found.value;
    if (meta === null) {
      const fresh: Meta = { epoch: crypto.randomUUID(), seq: 0 };
      const made = await kv.atomic().check(found).set(META, fresh).commit();
      // Another process opening the same KV at once won the race: use its epoch.
      meta = made.ok ? fresh : (await kv.get<Meta>(META)).value;
      if (meta === null) throw new Error("Cannot open the release log: its epoch vanished");
    }
    let seq = meta.seq;
    for await (const e of kv.list<number>({ prefix: DROPPED })) {
      const l = log.#log(String(e.key[2]));
      l.dropped = l.droppedStored = e.value;
      seq = Math.max(seq, e.value);
    }
    for await (const e of kv.list<number>({ prefix: READ })) {
      const l = log.#log(String(e.key[2]));
      l.read = l.readStored = e.value;
    }
    // Packs list in key order: by node, then by first sequence number.
    for await (const e of kv.list<StoredPack>({ prefix: PACKS })) {
      const l = log.#log(String(e.key[2]));
      const pack = e.value;
      const { seqs } = pack;
      l.packs.push({ first: seqs[0]!, last: seqs[seqs.length - 1]! });
      const floor = Math.max(l.read, l.dropped);
      seqs.forEach((s, i) => {
        if (s <= floor) return;
        if ("copies" in pack) l.entries.push({ seq: s, copy: pack.copies[i]! });
        else {
          const kind = pack.kinds[pack.of[i]!]!;
          const copy = {
            dataset: kind.dataset,
            version: pack.versions[i]!,
            fragment: kind.fragment,
            bindings: kind.bindings,
            node: l.node,
          };
          l.entries.push({ seq: s, copy });
        }
      });
      seq = Math.max(seq, seqs[seqs.length - 1]!);
    }
    // Notices stored a row each are written again as packs, their rows deleted with that write.
    const rows: { log: NodeLog; notice: Notice }[] = [];
    for await (const e of kv.list<FragmentRecord>({ prefix: ENTRIES })) {
      const l = log.#log(String(e.key[2]));
      const s = Number(e.key[3]);
      log.#doomed.push(e.key);
      if (s > Math.max(l.read, l.dropped)) rows.push({ log: l, notice: { seq: s, copy: e.value } });
      seq = Math.max(seq, s);
    }
    if (rows.length > 0) {
      rows.sort((a, b) => a.notice.seq - b.notice.seq);
      for (const r of rows) r.log.entries.push(r.notice);
      // A node's rows may fall between the notices of its packs.
      for (const l of log.#nodes.values()) l.entries.sort((a, b) => a.seq - b.seq);
      log.#fresh = rows;
    }
    log.#epoch = meta.epoch;
    log.#seq = seq;
    log.#stored = seq;
    log.#kv = kv;
    log.#committer = options.committer;
    if (options.onError !== undefined) log.#onError = options.onError;
    // The bound may be lower than when these notices were written; a pack
    // read or dropped whole before a crash let its delete go is deleted now.
    for (const l of log.#nodes.values()) {
      log.#trim(l);
      log.#dirty.add(l);
    }
    void log.#flush();
    return log;
  }

  /** This log's identity: the same after a durable log is reopened. */
  get epoch(): string {
    return this.#epoch;
  }

  /**
   * Records copies to free, each for every node that holds it (the primary
   * copy's node and its replicas' nodes), except `skip` (a runtime in the
   * name server's own process, which hears the registry directly). A durable
   * log starts writing them to KV; polls answer them once written.
   */
  push(copies: readonly ReleasedCopy[], skip?: string): void {
    const touched = new Set<NodeLog>();
    const add = (node: string, copy: ReleasedCopy) => {
      if (node === skip) return;
      const log = this.#log(node);
      const notice = { seq: ++this.#seq, copy };
      log.entries.push(notice);
      if (this.#kv !== undefined) this.#fresh.push({ log, notice });
      this.#trim(log);
      touched.add(log);
    };
    // The copy's node, then its replicas' (no list of them built per copy).
    for (const copy of copies) {
      add(copy.node, copy);
      if (copy.replicas !== undefined) { for (const p of copy.replicas) add(p.node, copy); }
    }
    if (this.#kv !== undefined && touched.size > 0) void this.#flush();
    for (const log of touched) {
      for (const wake of log.waiters) wake();
      log.waiters.clear();
    }
  }

  /**
   * Notices for `node` after `after`, waiting up to `waitMs` for one when
   * there are none; entries up to `after` are forgotten (and deleted from
   * KV): `after` acknowledges them. A durable log answers only notices
   * already stored.
   */
  async poll(
    node: string,
    after: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<ReleaseBatch> {
    const log = this.#nodes.get(node);
    if (log !== undefined) this.#acknowledge(log, after);
    return await this.read(node, after, waitMs, signal);
  }

  /**
   * Notices for `node` after `after`, waiting up to `waitMs` for one when
   * there are none, without acknowledging anything: reading changes nothing
   * (a node never heard of gets an empty batch). `BusyError` when
   * `maxWaiting` polls already wait.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ReleaseLog } from "./release_log.ts";
   * const log = new ReleaseLog();
   * const copy = { dataset: "d", version: 1, fragment: "dataset", bindings: {}, node: "a", tier: "memory", byteLength: 8, checksum: 0 };
   * log.push([copy]);
   * assert.deepEqual((await log.read("a", 0, 0)).copies, [copy]);
   * assert.deepEqual((await log.read("a", 0, 0)).copies, [copy]);
   * assert.deepEqual((await log.read("zz", 0, 0)).copies, []);
   * ```
   */
  async read(
    node: string,
    after: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<ReleaseBatch> {
    if (this.#kv !== undefined) await this.#flush();
    let log = this.#nodes.get(node);
    if (
      this.#unread(log, after).length === 0 && waitMs > 0 && !signal?.aborted && !this.#closed
    ) {
      if (this.#waiting >= this.#maxWaiting) {
        throw new BusyError(
          `Too many release polls wait (${this.#maxWaiting}): poll again without waiting, or later`,
        );
      }
      // A node never heard of gets its log only while it waits for one.
      const fresh = log === undefined;
      log ??= this.#log(node);
      const waiting = log;
      this.#waiting++;
      try {
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            waiting.waiters.delete(done);
            signal?.removeEventListener("abort", done);
            resolve();
          };
          const timer = setTimeout(done, waitMs);
          waiting.waiters.add(done);
          signal?.addEventListener("abort", done);
        });
      } finally {
        this.#waiting--;
        if (
          fresh && waiting.entries.length === waiting.start && waiting.dropped === 0 &&
          waiting.waiters.size === 0 && this.#nodes.get(node) === waiting
        ) this.#nodes.delete(node);
      }
      if (this.#kv !== undefined) await this.#flush();
    }
    const entries = this.#unread(log, after);
    const last = entries[entries.length - 1]?.seq;
    const dropped = log?.dropped ?? 0;
    return {
      epoch: this.#epoch,
      seq: last ?? Math.max(after, Math.min(dropped, this.#upTo())),
      copies: entries.map((e) => e.copy),
      gap: dropped > after,
    };
  }

  /** Polls waiting now, over all nodes. */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * Ends every wait now (the name server is stopping); later polls do not
   * wait. Resolves once the writes under way are done (as `drain()`).
   */
  close(): Promise<void> {
    this.#closed = true;
    for (const log of this.#nodes.values()) {
      for (const wake of log.waiters) wake();
      log.waiters.clear();
    }
    return this.drain();
  }

  /** Closes the log (`await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Waits until the notices pushed and the entries dropped so far are
   * written to KV, or their write failed (told to `onError`); at once in
   * memory. Call it before closing the KV.
   */
  async drain(): Promise<void> {
    await this.#flush();
  }

  #log(node: string): NodeLog {
    let log = this.#nodes.get(node);
    if (log === undefined) {
      log = {
        node,
        entries: [],
        start: 0,
        dropped: 0,
        read: 0,
        waiters: new Set(),
        packs: [],
        droppedStored: 0,
        readStored: 0,
      };
      this.#nodes.set(node, log);
    }
    return log;
  }

  /** The node's entries after `after` that a poll may answer: those stored (all, in memory). */
  #unread(log: NodeLog | undefined, after: number): Notice[] {
    if (log === undefined) return [];
    const from = firstAfter(log.entries, after, log.start);
    return log.entries.slice(from, firstAfter(log.entries, this.#upTo(), from));
  }

  #upTo(): number {
    return this.#kv === undefined ? this.#seq : this.#stored;
  }

  /** Drops the node's oldest entries beyond the bound. */
  #trim(log: NodeLog): void {
    if (log.entries.length - log.start <= this.#maxPerNode) return;
    log.start = log.entries.length - this.#maxPerNode;
    log.dropped = log.entries[log.start - 1]!.seq;
    compact(log);
    if (this.#kv !== undefined) this.#dirty.add(log);
  }

  /** Forgets the node's entries up to `after`, the last sequence number it handled. */
  #acknowledge(log: NodeLog, after: number): void {
    if (after <= log.read) return;
    log.read = after;
    log.start = firstAfter(log.entries, after, log.start);
    compact(log);
    if (this.#kv !== undefined) this.#dirty.add(log);
  }

  /** Starts writing what is queued (unless a write of it is already scheduled); resolves when written. */
  #flush(): Promise<void> {
    const queued = this.#fresh.length > 0 || this.#doomed.length > 0 || this.#dirty.size > 0;
    if (this.#kv !== undefined && queued && !this.#scheduled) {
      this.#scheduled = true;
      const kv = this.#kv;
      const committer = this.#committer;
      const write = () => {
        this.#scheduled = false;
        return this.#write(kv);
      };
      // With a committer, the write is made right before it takes its next
      // group of other writes (the next commit, usually), so it rides in
      // that atomic; RIDE_WAIT_MS at most.
      this.#writing = this.#writing.then(() =>
        committer === undefined
          ? write()
          : new Promise<void>((resolve) => committer.ride(() => resolve(write()), RIDE_WAIT_MS))
      ).catch((e) => this.#onError(e as Error));
    }
    return this.#writing;
  }

  /**
   * Writes what is queued: the fresh notices as packs (one or more per
   * node), then deletes of the packs read or dropped whole, then the
   * nodes' markers; in atomics of at most MAX_MUTATIONS, each also storing
   * the highest sequence number stored with every one before it. Stops at
   * the first failure, queueing again what it and the rest would have
   * written.
   */
  async #write(kv: Deno.Kv): Promise<void> {
    const fresh = this.#fresh;
    this.#fresh = [];
    const writes = [...this.#packWrites(fresh), ...this.#deleteWrites(), ...this.#markerWrites()];
    // The notices this write stores, by sequence number: what a chunk before theirs may not claim.
    const unstored = new Set(writes.flatMap((w) => w.seqs ?? []));
    let i = 0;
    while (i < writes.length) {
      const chunk: Write[] = [];
      let bytes = 0;
      let keyBytes = 0;
      // One mutation is kept for the meta record.
      while (i < writes.length && chunk.length < MAX_MUTATIONS - 1) {
        const w = writes[i]!;
        if (
          chunk.length > 0 && (bytes + w.bytes > MAX_BYTES || keyBytes + w.keyBytes > MAX_KEY_BYTES)
        ) break;
        chunk.push(w);
        bytes += w.bytes;
        keyBytes += w.keyBytes;
        i++;
      }
      const stored = this.#storedAfter(chunk, unstored);
      try {
        await this.#commit(kv, chunk, stored > this.#stored ? stored : undefined, bytes, keyBytes);
      } catch (e) {
        for (const w of writes.slice(i - chunk.length)) w.undo?.();
        this.#onError(
          new Error(`Cannot store release notices: ${(e as Error).message}`, { cause: e }),
        );
        return;
      }
      for (const w of chunk) w.done?.();
      this.#stored = Math.max(this.#stored, stored);
    }
  }

  /** Commits `chunk`, and the meta record with `stored` when given, in one atomic. */
  async #commit(
    kv: Deno.Kv,
    chunk: readonly Write[],
    stored: number | undefined,
    bytes: number,
    keyBytes: number,
  ): Promise<void> {
    const mutations: Mutation[] = chunk.map((w) =>
      w.value === undefined
        ? { type: "delete", key: w.key }
        : { type: "set", key: w.key, value: w.value }
    );
    if (stored !== undefined) {
      mutations.push({ type: "set", key: META, value: { epoch: this.#epoch, seq: stored } });
    }
    if (this.#committer !== undefined) {
      const size = { bytes: bytes + 64, keyBytes: keyBytes + keyBytesOf(META) };
      await this.#committer.write(mutations, [], size);
      return;
    }
    const op = kv.atomic();
    for (const m of mutations) {
      if (m.type === "delete") op.delete(m.key);
      else op.set(m.key, m.value);
    }
    await op.commit();
  }

  /**
   * The highest sequence number stored with every one before it once
   * `chunk` is: below the first notice still to store, of this write
   * (`unstored`, from which the notices of `chunk` are taken out) or pushed
   * since. Notices read or dropped before their write need no storing.
   */
  #storedAfter(chunk: readonly Write[], unstored: Set<number>): number {
    for (const w of chunk) for (const s of w.seqs ?? []) unstored.delete(s);
    let low = this.#seq + 1;
    for (const s of unstored) low = Math.min(low, s);
    if (this.#fresh.length > 0) low = Math.min(low, this.#fresh[0]!.notice.seq);
    return low - 1;
  }

  /** Sets of packs for `fresh` notices, skipping those read or dropped meanwhile. */
  #packWrites(fresh: readonly { log: NodeLog; notice: Notice }[]): Write[] {
    const byNode = new Map<NodeLog, Notice[]>();
    for (const { log, notice } of fresh) {
      if (notice.seq <= Math.max(log.read, log.dropped)) continue;
      let list = byNode.get(log);
      if (list === undefined) byNode.set(log, list = []);
      list.push(notice);
    }
    const writes: Write[] = [];
    for (const [log, notices] of byNode) {
      let pack: Notice[] = [];
      let of: number[] = [];
      let kinds: Kind[] = [];
      let kindOf = new Map<string, number>();
      let bytes = 0;
      const close = () => {
        const these = pack;
        const seqs = these.map((n) => n.seq);
        const key = [...PACKS, log.node, seqs[0]!];
        const value: StoredPack = { seqs, versions: these.map((n) => n.copy.version), of, kinds };
        writes.push({
          key,
          value,
          seqs,
          bytes: bytes + 16,
          keyBytes: keyBytesOf(key),
          done: () => log.packs.push({ first: seqs[0]!, last: seqs[seqs.length - 1]! }),
          undo: () => this.#requeue(these.map((notice) => ({ log, notice }))),
        });
        pack = [];
        of = [];
        kinds = [];
        kindOf = new Map();
        bytes = 0;
      };
      for (const n of notices) {
        const { dataset, fragment, bindings } = n.copy;
        const id = `${dataset}\u0000${fragment}\u0000${JSON.stringify(bindings)}`;
        // A kind's first notice in a pack brings it (estimated as twice its text).
        const kindBytes = 2 * id.length + 16;
        const size = NOTICE_BYTES + (kindOf.has(id) ? 0 : kindBytes);
        if (pack.length > 0 && bytes + size > PACK_BYTES) close();
        let k = kindOf.get(id);
        if (k === undefined) {
          k = kinds.push({ dataset, fragment, bindings }) - 1;
          kindOf.set(id, k);
          bytes += kindBytes;
        }
        pack.push(n);
        of.push(k);
        bytes += NOTICE_BYTES;
      }
      if (pack.length > 0) close();
    }
    return writes;
  }

  /** Deletes of the packs whose notices are all read or dropped, and of rows of the older layout. */
  #deleteWrites(): Write[] {
    const keys = this.#doomed;
    this.#doomed = [];
    for (const log of this.#dirty) {
      const floor = Math.max(log.read, log.dropped);
      const gone = log.packs.filter((p) => p.last <= floor);
      if (gone.length === 0) continue;
      log.packs = log.packs.filter((p) => p.last > floor);
      for (const p of gone) keys.push([...PACKS, log.node, p.first]);
    }
    return keys.map((key) => ({
      key,
      value: undefined,
      bytes: 0,
      keyBytes: keyBytesOf(key),
      undo: () => this.#doomed.push(key),
    }));
  }

  /**
   * The markers of the nodes whose `read` or `dropped` moved: `dropped`
   * always; `read` only while a pack it cuts into remains (a pack read
   * whole is deleted instead), deleted once none does.
   */
  #markerWrites(): Write[] {
    const writes: Write[] = [];
    for (const log of this.#dirty) {
      this.#dirty.delete(log);
      if (log.dropped !== log.droppedStored) {
        const key = [...DROPPED, log.node];
        const dropped = log.dropped;
        writes.push({
          key,
          value: dropped,
          bytes: 32,
          keyBytes: keyBytesOf(key),
          done: () => (log.droppedStored = Math.max(log.droppedStored, dropped)),
          undo: () => this.#dirty.add(log),
        });
      }
      const read = log.packs.some((p) => p.first <= log.read) ? log.read : 0;
      if (read !== log.readStored) {
        const key = [...READ, log.node];
        writes.push({
          key,
          value: read === 0 ? undefined : read,
          bytes: 32,
          keyBytes: keyBytesOf(key),
          done: () => (log.readStored = read),
          undo: () => this.#dirty.add(log),
        });
      }
    }
    return writes;
  }

  /** Queues notices whose write failed again, ahead of those pushed since. */
  #requeue(notices: { log: NodeLog; notice: Notice }[]): void {
    this.#fresh = [...notices, ...this.#fresh].sort((a, b) => a.notice.seq - b.notice.seq);
  }
}

/** The index of the first of `entries` from `from` on whose sequence number is past `seq`. */
function firstAfter(entries: readonly Notice[], seq: number, from: number): number {
  let lo = from;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid]!.seq > seq) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Cuts the notices behind `log.start` once they are half of its array or more. */
function compact(log: NodeLog): void {
  if (log.start > 0 && log.start * 2 >= log.entries.length) {
    log.entries = log.entries.slice(log.start);
    log.start = 0;
  }
}
