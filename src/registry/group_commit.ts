/**
 * Group commit: concurrent registry writes share one Deno KV atomic
 * operation, and each writer is answered only once the atomic that holds its
 * write has committed.
 *
 * Why: one atomic commit costs about 210 µs on this machine's disk (4.7k
 * commits/s) while 100 mutations per atomic reach 124k mutations/s, so
 * batching the writes that arrive while a commit is in flight multiplies the
 * write rate (bench/registry_micro.ts measures it).
 *
 * @module
 */

import { ClosedError } from "../errors.ts";
import { Fifo } from "./_fifo.ts";
import { metrics } from "../observe/mod.ts";

/** One KV mutation. */
export type Mutation =
  | {
    readonly type: "set";
    readonly key: Deno.KvKey;
    readonly value: unknown;
    readonly expireIn?: number;
  }
  | { readonly type: "delete"; readonly key: Deno.KvKey };

/** A check-and-set condition: the key still has this versionstamp (null: absent). */
export interface Check {
  /** Key to check. */
  readonly key: Deno.KvKey;
  /** Versionstamp it must have, or null when it must not exist. */
  readonly versionstamp: string | null;
}

/** What a write gets back: `ok` false when one of its checks failed (nothing written). */
export interface WriteResult {
  /** Whether the write committed. */
  readonly ok: boolean;
  /** The versionstamp of the atomic that committed it: every key it set now has it. */
  readonly versionstamp?: string;
}

/** Estimated bytes of mutations (`mutationBytes`), of which `keyBytes` of keys. */
export interface MutationSize {
  /** Keys and values. */
  readonly bytes: number;
  /** Keys. */
  readonly keyBytes: number;
}

/** Limits of one atomic operation and of the queue. */
export interface GroupCommitOptions {
  /** Most mutations in one atomic (Deno KV allows 1000). Default 1000. */
  readonly maxMutations?: number;
  /** Most checks in one atomic (Deno KV Connect allows 10, local KV 100). Default 10. */
  readonly maxChecks?: number;
  /** Most estimated bytes of keys and values in one atomic (KV allows 800 KiB). Default 640 KiB. */
  readonly maxBytes?: number;
  /** Most estimated bytes of keys in one atomic (KV allows 80 KiB). Default 64 KiB. */
  readonly maxKeyBytes?: number;
  /** Most writes queued; further writers wait for room (backpressure). Default 8192. */
  readonly maxQueue?: number;
  /** Whether to batch at all: false commits every write on its own (for comparison). */
  readonly group?: boolean;
}

interface Pending {
  readonly mutations: readonly Mutation[];
  readonly checks: readonly Check[];
  /**
   * Serialised keys of the mutations (made when first needed: only a group
   * with checks, or past an atomic's mutations, looks for repeated keys)
   * and of the checks, to find duplicates and conflicts.
   */
  ids?: readonly string[];
  readonly checkIds: readonly string[];
  readonly bytes: number;
  readonly keyBytes: number;
  readonly resolve: (r: WriteResult) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Batches concurrent writes into shared atomic commits.
 *
 * A write's mutations always go in one atomic operation together (a write is
 * never split), possibly with other writes. Writes commit in the order they
 * were queued. A write with checks never shares an atomic with an earlier
 * write that mutates a key it checks, so check-and-set keeps its meaning.
 * When a shared atomic fails, its writes are retried on their own so one
 * failing write does not fail its neighbours.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GroupCommitter } from "./group_commit.ts";
 * const kv = await Deno.openKv(":memory:");
 * const gc = new GroupCommitter(kv);
 * await Promise.all(Array.from({ length: 50 }, (_, i) => gc.write([{ type: "set", key: ["k", i], value: i }])));
 * assert.equal((await kv.get(["k", 7])).value, 7);
 * assert.ok(gc.commits < 50);
 * kv.close();
 * ```
 */
export class GroupCommitter {
  readonly #kv: Deno.Kv;
  readonly #maxMutations: number;
  readonly #maxChecks: number;
  readonly #maxBytes: number;
  readonly #maxKeyBytes: number;
  readonly #maxQueue: number;
  readonly #group: boolean;
  readonly #queue = new Fifo<Pending>();
  readonly #room = new Fifo<{ resolve: () => void; reject: (e: unknown) => void }>();
  /** Called before the next group is taken (`beforeTake`). */
  #hooks: (() => void)[] = [];
  /** Called before the next group that other writes start is taken (`ride`). */
  #riders: (() => void)[] = [];
  /** Calls the riders when no write came for them to ride with. */
  #riderTimer: ReturnType<typeof setTimeout> | undefined;
  /** When `#riderTimer` fires (`performance.now()` time). */
  #riderDeadline = 0;
  #running: Promise<void> | undefined;
  #closed = false;
  /** Atomic operations committed so far. */
  commits = 0;
  /** Writes committed so far. */
  writes = 0;

  /** Creates a committer over a KV store. */
  constructor(kv: Deno.Kv, options: GroupCommitOptions = {}) {
    this.#kv = kv;
    this.#maxMutations = options.maxMutations ?? 1000;
    this.#maxChecks = options.maxChecks ?? 10;
    this.#maxBytes = options.maxBytes ?? 640 * 1024;
    this.#maxKeyBytes = options.maxKeyBytes ?? 64 * 1024;
    this.#maxQueue = options.maxQueue ?? 8192;
    this.#group = options.group ?? true;
  }

  /** Most mutations, checks, estimated bytes and key bytes one write may hold. */
  get limits(): {
    readonly mutations: number;
    readonly checks: number;
    readonly bytes: number;
    readonly keyBytes: number;
  } {
    return {
      mutations: this.#maxMutations,
      checks: this.#maxChecks,
      bytes: this.#maxBytes,
      keyBytes: this.#maxKeyBytes,
    };
  }

  /** Whether writes are batched (`GroupCommitOptions.group`). */
  get grouping(): boolean {
    return this.#group;
  }

  /** Writes waiting to be committed. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Writes `mutations` atomically, if every check holds; resolves once they
   * are committed (durable), or with `ok` false when a check failed. Throws a
   * `RangeError` for a write larger than one atomic may be, and `ClosedError`
   * once the committer is closed. `size`: the caller's estimate of the
   * mutations' bytes, at least what Deno KV's encoding of them takes, when
   * it has one (`mutationBytes`, used otherwise, serialises every value).
   */
  async write(
    mutations: readonly Mutation[],
    checks: readonly Check[] = [],
    size?: MutationSize,
  ): Promise<WriteResult> {
    if (mutations.length === 0 && checks.length === 0) return { ok: true };
    const checkIds = checks.map((c) => keyId(c.key));
    let { bytes, keyBytes } = size ?? mutationBytes(mutations);
    for (const c of checks) keyBytes += keyBytesOf(c.key);
    if (
      mutations.length > this.#maxMutations || checks.length > this.#maxChecks ||
      bytes > this.#maxBytes || keyBytes > this.#maxKeyBytes
    ) {
      throw new RangeError(
        `Write too large for one atomic operation: ${mutations.length} mutations, ${checks.length} checks, about ${bytes} bytes of which ${keyBytes} of keys; at most ${this.#maxMutations}, ${this.#maxChecks}, ${this.#maxBytes} and ${this.#maxKeyBytes}`,
      );
    }
    while (this.queued >= this.#maxQueue) {
      if (this.#closed) break;
      await new Promise<void>((resolve, reject) => this.#room.push({ resolve, reject }));
    }
    if (this.#closed) throw new ClosedError("registry");
    const done = new Promise<WriteResult>((resolve, reject) => {
      this.#queue.push({ mutations, checks, checkIds, bytes, keyBytes, resolve, reject });
    });
    // The first writer of a burst starts the drain after this turn of the
    // event loop, so every writer of the same turn joins the first atomic.
    this.#running ??= Promise.resolve().then(() => this.#drain());
    return await done;
  }

  /**
   * Calls `hook` once, right before the committer next takes a group of
   * writes: when the atomic in flight has committed, or after this turn of
   * the event loop when none is. A write made in the hook joins that group.
   * A writer can so hold a write while an atomic is in flight, in case a
   * later write can carry it (the registry's rank blocks ride with the
   * commit of their version), at no cost in latency: it would have waited
   * for that atomic anyway. On `close` the hooks are called at once, and
   * their writes fail with `ClosedError`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { GroupCommitter } from "./group_commit.ts";
   * const kv = await Deno.openKv(":memory:");
   * const gc = new GroupCommitter(kv);
   * let held: Promise<unknown> | undefined;
   * gc.beforeTake(() => held = gc.write([{ type: "set", key: ["k"], value: 1 }]));
   * await gc.write([{ type: "set", key: ["j"], value: 2 }]);
   * await held;
   * assert.equal(gc.commits, 1);
   * kv.close();
   * ```
   */
  beforeTake(hook: () => void): void {
    if (this.#closed) {
      hook();
      return;
    }
    this.#hooks.push(hook);
    this.#running ??= Promise.resolve().then(() => this.#drain());
  }

  /**
   * Calls `hook` once, right before the committer next takes a group that
   * other writes start, so that a write made in the hook joins their atomic
   * instead of taking one of its own; when no write comes within `waitMs`,
   * the hook is called then and its write goes alone. For writes that need
   * to be durable soon but not at once: the registry's release notices ride
   * with the next commit (written as soon as their commit stood, they took
   * an atomic of their own between two batches of a dataset's commits: 2,696
   * atomics for 40,000 versions published over HTTP, 1,528-1,609 riding;
   * bench/commit_bench.ts). On `close` the hooks are called at once, and
   * their writes fail with `ClosedError`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { GroupCommitter } from "./group_commit.ts";
   * const kv = await Deno.openKv(":memory:");
   * const gc = new GroupCommitter(kv);
   * let rode: Promise<unknown> | undefined;
   * gc.ride(() => rode = gc.write([{ type: "set", key: ["notice"], value: 1 }]), 1000);
   * await gc.write([{ type: "set", key: ["commit"], value: 2 }]);
   * await rode;
   * assert.equal(gc.commits, 1);
   * kv.close();
   * ```
   */
  ride(hook: () => void, waitMs: number): void {
    if (this.#closed) {
      hook();
      return;
    }
    this.#riders.push(hook);
    if (this.queued > 0) this.#running ??= Promise.resolve().then(() => this.#drain());
    // One timer for the riders waiting, set for the earliest of their waits.
    const deadline = performance.now() + waitMs;
    if (this.#riderTimer !== undefined && deadline >= this.#riderDeadline) return;
    clearTimeout(this.#riderTimer);
    this.#riderDeadline = deadline;
    this.#riderTimer = setTimeout(() => {
      this.#riderTimer = undefined;
      this.#callRiders();
      this.#running ??= Promise.resolve().then(() => this.#drain());
    }, waitMs);
  }

  /** Resolves once every queued write has been committed or failed. */
  async drain(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /**
   * Stops accepting writes. Writes queued but not yet in an atomic fail with
   * `ClosedError` (they are not applied); the atomic in flight finishes,
   * and the promise resolves once it has.
   */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      const err = new ClosedError("registry");
      for (const p of this.#queue.clear()) p.reject(err);
      for (const r of this.#room.clear()) r.reject(err);
      this.#callHooks();
      this.#callRiders();
    }
    return this.drain();
  }

  /** Closes the committer (`await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Calls the `beforeTake` hooks, then the riders when writes are queued for them to join. */
  #callHooks(): void {
    const hooks = this.#hooks;
    if (hooks.length > 0) {
      this.#hooks = [];
      for (const hook of hooks) hook();
    }
    if (this.queued > 0) this.#callRiders();
  }

  #callRiders(): void {
    const riders = this.#riders;
    if (riders.length === 0) return;
    this.#riders = [];
    if (this.#riderTimer !== undefined) {
      clearTimeout(this.#riderTimer);
      this.#riderTimer = undefined;
    }
    for (const hook of riders) hook();
  }

  async #drain(): Promise<void> {
    try {
      for (this.#callHooks(); this.queued > 0; this.#callHooks()) {
        const group = this.#take();
        for (let n = this.#maxQueue - this.queued; n > 0 && this.#room.length > 0; n--) {
          this.#room.shift()!.resolve();
        }
        await this.#commitInOrder(group);
      }
    } finally {
      this.#running = undefined;
    }
  }

  /**
   * Takes the longest prefix of the queue that fits in one atomic. Keys set
   * twice count twice (a smaller group, never a larger one) until a write
   * with checks is looked at: from then on the group's keys are kept in a
   * set, to keep it from sharing an atomic with a write of a key it checks.
   */
  #take(): Pending[] {
    const group: Pending[] = [];
    let mutated: Set<string> | undefined;
    let mutations = 0;
    let checks = 0;
    let bytes = 0;
    let keyBytes = 0;
    for (let next = this.#queue.peek(); next !== undefined; next = this.#queue.peek()) {
      if (group.length > 0) {
        if (!this.#group) break;
        if (mutated === undefined && next.checkIds.length > 0) {
          mutated = new Set();
          for (const p of group) for (const id of idsOf(p)) mutated.add(id);
        }
        const seen = mutated;
        if (seen !== undefined && next.checkIds.some((id) => seen.has(id))) break;
        let fresh = next.mutations.length;
        if (mutated !== undefined) { for (const id of idsOf(next)) if (mutated.has(id)) fresh--; }
        if (
          mutations + fresh > this.#maxMutations || checks + next.checks.length > this.#maxChecks ||
          bytes + next.bytes > this.#maxBytes || keyBytes + next.keyBytes > this.#maxKeyBytes
        ) break;
        mutations += fresh;
        if (mutated !== undefined) { for (const id of idsOf(next)) mutated.add(id); }
      } else mutations += next.mutations.length;
      checks += next.checks.length;
      bytes += next.bytes;
      keyBytes += next.keyBytes;
      group.push(this.#queue.shift()!);
    }
    return group;
  }

  /** Commits a group; when the shared atomic fails, retries its writes in order. */
  async #commitInOrder(group: readonly Pending[]): Promise<void> {
    try {
      const r = await this.#atomic(group);
      if (r.ok || group.length === 1) {
        if (r.ok) {
          this.commits++;
          this.writes += group.length;
        }
        for (const p of group) p.resolve(r);
        return;
      }
    } catch (e) {
      if (group.length === 1) {
        group[0]!.reject(e);
        return;
      }
    }
    // A check failed or the atomic was refused: retry in queue order, the
    // writes without checks between two checked writes together.
    let run: Pending[] = [];
    for (const p of group) {
      if (p.checks.length === 0) {
        run.push(p);
        continue;
      }
      if (run.length > 0) await this.#commitRun(run);
      run = [];
      await this.#commitInOrder([p]);
    }
    if (run.length > 0) await this.#commitRun(run);
  }

  async #commitRun(run: readonly Pending[]): Promise<void> {
    if (run.length === 1) return await this.#commitInOrder(run);
    try {
      const r = await this.#atomic(run);
      this.commits++;
      this.writes += run.length;
      for (const p of run) p.resolve(r);
    } catch {
      for (const p of run) await this.#commitInOrder([p]);
    }
  }

  async #atomic(group: readonly Pending[]): Promise<WriteResult> {
    const op = this.#kv.atomic();
    let checked = false;
    for (const p of group) {
      for (const c of p.checks) {
        op.check(c);
        checked = true;
      }
    }
    // KV applies an atomic's mutations in order, so a key written twice keeps
    // its last write (group_commit_test.ts checks it). A group with more
    // mutations than an atomic takes (`#take` counts repeated keys once from
    // the point it keeps a set of them), or with checks, sends each key's
    // last mutation only.
    let total = 0;
    for (const p of group) total += p.mutations.length;
    const send = checked || total > this.#maxMutations
      ? lastOfEach(group)
      : group.flatMap((p) => p.mutations);
    for (const m of send) {
      if (m.type === "delete") op.delete(m.key);
      else if (m.expireIn === undefined) op.set(m.key, m.value);
      else op.set(m.key, m.value, { expireIn: m.expireIn });
    }
    const start = performance.now();
    const r = await op.commit();
    metrics.kvCommit.observe((performance.now() - start) / 1000);
    metrics.groupCommitBatch.observe(group.length);
    return r.ok ? { ok: true, versionstamp: r.versionstamp } : { ok: false };
  }
}

/** The last mutation of each key the writes of `group` mutate, in the order of those. */
function lastOfEach(group: readonly Pending[]): Mutation[] {
  const last = new Map<string, Mutation>();
  for (const p of group) {
    const ids = idsOf(p);
    p.mutations.forEach((m, i) => {
      const id = ids[i]!;
      last.delete(id);
      last.set(id, m);
    });
  }
  return [...last.values()];
}

/**
 * Estimated encoded size of a KV key in bytes (as KV counts it toward the
 * 80 KiB of keys per atomic): strings take their UTF-8 bytes plus two,
 * numbers nine.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyBytesOf } from "./group_commit.ts";
 * assert.equal(keyBytesOf(["versions", "grid", 3]), 10 + 6 + 9);
 * ```
 */
export function keyBytesOf(key: Deno.KvKey): number {
  let n = 0;
  for (const p of key) {
    if (typeof p === "string") n += 2 + utf8Length(p);
    else if (typeof p === "number") n += 9;
    else if (typeof p === "bigint") n += 11;
    else if (typeof p === "boolean") n += 1;
    else if (p instanceof Uint8Array) n += 2 + p.byteLength * 2;
    else n += 16;
  }
  return n;
}

/**
 * Estimated size of mutations as one atomic counts it: `bytes` of keys and
 * values, of which `keyBytes` of keys.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mutationBytes } from "./group_commit.ts";
 * const { bytes, keyBytes } = mutationBytes([{ type: "delete", key: ["k", 1] }]);
 * assert.equal(keyBytes, 3 + 9);
 * assert.equal(bytes, keyBytes);
 * ```
 */
export function mutationBytes(mutations: readonly Mutation[]): MutationSize {
  let bytes = 0;
  let keyBytes = 0;
  for (const m of mutations) {
    const k = keyBytesOf(m.key);
    keyBytes += k;
    bytes += k + (m.type === "set" ? valueBytesOf(m.value) : 0);
  }
  return { bytes, keyBytes };
}

/** Estimated serialised size of a value: its JSON (doubled when not ASCII) and its byte arrays. */
function valueBytesOf(value: unknown): number {
  // A byte array alone (a service's value): as the replacer below counts it.
  if (value instanceof Uint8Array) return jsonBytes("0", value.byteLength);
  // Values without big integers or byte arrays (every registry record) take
  // the JSON encoder's fast path: a replacer function called back for each
  // property made this a tenth of a publish (bench/registry_wrk_bench.ts).
  if (isPlain(value, 0)) return jsonBytes(JSON.stringify(value) ?? "", 0);
  let binary = 0;
  const json = JSON.stringify(value, (_k, v) => {
    if (typeof v === "bigint") return String(v);
    if (ArrayBuffer.isView(v)) {
      binary += v.byteLength;
      return 0;
    }
    return v;
  }) ?? "";
  return jsonBytes(json, binary);
}

function jsonBytes(json: string, binary: number): number {
  // deno-lint-ignore no-control-regex
  return 16 + binary + (/^[\x00-\x7f]*$/.test(json) ? json.length : json.length * 2);
}

/** Whether `v` holds no big integer nor byte array (deeper than 32 levels: not known). */
function isPlain(v: unknown, depth: number): boolean {
  if (typeof v === "bigint") return false;
  if (typeof v !== "object" || v === null) return true;
  if (
    depth > 32 || ArrayBuffer.isView(v) || typeof (v as { toJSON?: unknown }).toJSON === "function"
  ) {
    return false;
  }
  if (Array.isArray(v)) {
    for (const x of v) if (!isPlain(x, depth + 1)) return false;
    return true;
  }
  for (const k in v) if (!isPlain((v as Record<string, unknown>)[k], depth + 1)) return false;
  return true;
}

function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) n += c > 0x7ff ? 2 : 1;
  }
  return n;
}

/** The serialised keys of a write's mutations, made once. */
function idsOf(p: Pending): readonly string[] {
  return p.ids ??= p.mutations.map((m) => keyId(m.key));
}

function keyId(key: Deno.KvKey): string {
  let s = "";
  for (const p of key) {
    s += typeof p === "string" ? JSON.stringify(p) : p instanceof Uint8Array
      // Length-prefixed, one char per byte: unambiguous, and cheaper than joining numbers.
      ? `bytes${p.length}:${String.fromCharCode.apply(null, p as unknown as number[])}`
      : `${typeof p}:${String(p)}`;
    s += "\x00";
  }
  return s;
}
