/**
 * Release notices for runtimes in other processes: the copies whose bytes a
 * node must free (versions retired, datasets deleted), kept per node until
 * the node has read them; in memory, or also in the name server's Deno KV so
 * they outlive a restart.
 *
 * @module
 */

import { BusyError } from "../errors.ts";
import { keyBytesOf } from "../registry/group_commit.ts";
import type { FragmentRecord } from "../name_service/name_service.ts";
import { log } from "../observe/mod.ts";

/** What `poll()` answers. */
export interface ReleaseBatch {
  /** Identifies this log: a new epoch means the log started over (its notices are gone). */
  readonly epoch: string;
  /** Read up to here: pass it as `after` next time. */
  readonly seq: number;
  /** Copies the node must free. */
  readonly copies: readonly FragmentRecord[];
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
}

interface NodeLog {
  readonly node: string;
  entries: { seq: number; copy: FragmentRecord }[];
  /** Highest sequence number dropped without being read. */
  dropped: number;
  waiters: Set<() => void>;
}

/** The durable log's value at `["release_log", "meta"]`. */
interface Meta {
  readonly epoch: string;
  /** Highest sequence number stored. */
  readonly seq: number;
}

/** A KV mutation waiting to be written: a set, or a delete when `value` is undefined. */
interface Unwritten {
  readonly id: string;
  readonly key: Deno.KvKey;
  readonly value: unknown;
  /** The sequence number stored by this set (0 for deletes). */
  readonly seq: number;
  readonly bytes: number;
  readonly keyBytes: number;
}

// Every key of the durable log is under ["release_log"], a top-level prefix
// the registry and the function store do not use (docs/registry.md,
// docs/functions.md), so neither ever reads or removes these keys.
const PREFIX = "release_log";
const META: Deno.KvKey = [PREFIX, "meta"];
const ENTRIES: Deno.KvKey = [PREFIX, "entry"];
const DROPPED: Deno.KvKey = [PREFIX, "dropped"];

// Deno KV allows 1000 mutations, 800 KiB and 80 KiB of keys per atomic;
// half of that leaves room for the estimates to be off.
const MAX_MUTATIONS = 500;
const MAX_BYTES = 400 * 1024;
const MAX_KEY_BYTES = 40 * 1024;

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
  #onError: (e: Error) => void = (e) => log.warn("release notices", { error: e.message });
  /** Mutations not yet written, in the order made; a later one for the same key replaces it. */
  readonly #unwritten = new Map<string, Unwritten>();
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
   * closes it.
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
   * assert.deepEqual((await again.poll("a", 0, 0)).copies, [copy]);
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
      log.#log(String(e.key[2])).dropped = e.value;
      seq = Math.max(seq, e.value);
    }
    for await (const e of kv.list<FragmentRecord>({ prefix: ENTRIES })) {
      const s = Number(e.key[3]);
      log.#log(String(e.key[2])).entries.push({ seq: s, copy: e.value });
      seq = Math.max(seq, s);
    }
    log.#epoch = meta.epoch;
    log.#seq = seq;
    log.#stored = seq;
    log.#kv = kv;
    if (options.onError !== undefined) log.#onError = options.onError;
    // The bound may be lower than when these notices were written.
    for (const l of log.#nodes.values()) log.#trim(l);
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
  push(copies: readonly FragmentRecord[], skip?: string): void {
    const touched = new Set<NodeLog>();
    for (const copy of copies) {
      for (const node of [copy.node, ...(copy.replicas ?? []).map((p) => p.node)]) {
        if (node === skip) continue;
        const log = this.#log(node);
        const seq = ++this.#seq;
        log.entries.push({ seq, copy });
        if (this.#kv !== undefined) this.#unwrite([...ENTRIES, node, seq], copy, seq);
        this.#trim(log);
        touched.add(log);
      }
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
          fresh && waiting.entries.length === 0 && waiting.dropped === 0 &&
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
      log = { node, entries: [], dropped: 0, waiters: new Set() };
      this.#nodes.set(node, log);
    }
    return log;
  }

  /** The node's entries after `after` that a poll may answer: those stored (all, in memory). */
  #unread(log: NodeLog | undefined, after: number): { seq: number; copy: FragmentRecord }[] {
    if (log === undefined) return [];
    const upTo = this.#upTo();
    return log.entries.filter((e) => e.seq > after && e.seq <= upTo);
  }

  #upTo(): number {
    return this.#kv === undefined ? this.#seq : this.#stored;
  }

  /** Drops the node's oldest entries beyond the bound. */
  #trim(log: NodeLog): void {
    if (log.entries.length <= this.#maxPerNode) return;
    const cut = log.entries.splice(0, log.entries.length - this.#maxPerNode);
    log.dropped = cut[cut.length - 1]!.seq;
    if (this.#kv === undefined) return;
    for (const e of cut) this.#unwrite([...ENTRIES, log.node, e.seq], undefined, 0);
    this.#unwrite([...DROPPED, log.node], log.dropped, log.dropped);
  }

  /** Forgets the node's entries up to `after`, the last sequence number it handled. */
  #acknowledge(log: NodeLog, after: number): void {
    const read = log.entries.filter((e) => e.seq <= after);
    if (read.length === 0) return;
    log.entries = log.entries.filter((e) => e.seq > after);
    if (this.#kv === undefined) return;
    for (const e of read) this.#unwrite([...ENTRIES, log.node, e.seq], undefined, 0);
  }

  /** Queues a mutation; it replaces (and moves after) a queued one for the same key. */
  #unwrite(key: Deno.KvKey, value: unknown, seq: number): void {
    const id = JSON.stringify(key);
    this.#unwritten.delete(id);
    this.#unwritten.set(id, {
      id,
      key,
      value,
      seq,
      bytes: value === undefined ? 0 : 16 + 2 * (JSON.stringify(value)?.length ?? 0),
      keyBytes: keyBytesOf(key),
    });
  }

  /** Starts writing what is queued (unless a write of it is already scheduled); resolves when written. */
  #flush(): Promise<void> {
    if (this.#kv !== undefined && this.#unwritten.size > 0 && !this.#scheduled) {
      this.#scheduled = true;
      this.#writing = this.#writing.then(() => {
        this.#scheduled = false;
        return this.#write(this.#kv!);
      }).catch((e) => this.#onError(e as Error));
    }
    return this.#writing;
  }

  /**
   * Writes the queued mutations in order, in atomics of at most
   * MAX_MUTATIONS, each also storing the highest sequence number it holds;
   * stops at the first failure, leaving it and the rest queued.
   */
  async #write(kv: Deno.Kv): Promise<void> {
    const queued = [...this.#unwritten.values()];
    let i = 0;
    while (i < queued.length) {
      const chunk: Unwritten[] = [];
      let bytes = 0;
      let keyBytes = 0;
      let seq = 0;
      // One mutation is kept for the meta record.
      while (i < queued.length && chunk.length < MAX_MUTATIONS - 1) {
        const m = queued[i]!;
        if (
          chunk.length > 0 && (bytes + m.bytes > MAX_BYTES || keyBytes + m.keyBytes > MAX_KEY_BYTES)
        ) break;
        chunk.push(m);
        bytes += m.bytes;
        keyBytes += m.keyBytes;
        seq = Math.max(seq, m.seq);
        i++;
      }
      const op = kv.atomic();
      for (const m of chunk) {
        if (m.value === undefined) op.delete(m.key);
        else op.set(m.key, m.value);
      }
      if (seq > this.#stored) op.set(META, { epoch: this.#epoch, seq } satisfies Meta);
      try {
        await op.commit();
      } catch (e) {
        this.#onError(
          new Error(`Cannot store release notices: ${(e as Error).message}`, { cause: e }),
        );
        return;
      }
      for (const m of chunk) {
        if (this.#unwritten.get(m.id) === m) this.#unwritten.delete(m.id);
      }
      // Mutations are queued in sequence order, so every notice up to `seq` is stored.
      this.#stored = Math.max(this.#stored, seq);
    }
  }
}
