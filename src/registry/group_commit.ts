/**
 * Group commit: concurrent registry writes share one Deno KV atomic
 * operation, and each writer is answered only once the atomic that holds its
 * writes has committed.
 *
 * @module
 */

/** One KV mutation. */
export type Mutation =
  | {
    readonly type: "set";
    readonly key: Deno.KvKey;
    readonly value: unknown;
    readonly expireIn?: number;
  }
  | { readonly type: "delete"; readonly key: Deno.KvKey };

/** Options of a group committer. */
export interface GroupCommitOptions {
  /** Most mutations in one atomic (Deno KV allows 1000). */
  readonly maxMutations?: number;
  /** Most estimated bytes of keys and values in one atomic (Deno KV allows 800 KiB). */
  readonly maxBytes?: number;
  /** Most writes waiting; further writers wait for room (backpressure). */
  readonly maxQueue?: number;
}

interface Pending {
  readonly mutations: readonly Mutation[];
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Batches concurrent writes into shared atomic commits.
 *
 * Writes that arrive while a commit is in flight wait and go together in the
 * next one, so the commit rate stays near one atomic per KV round trip while
 * the mutation rate grows with the number of writers.
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
  readonly #maxBytes: number;
  readonly #maxQueue: number;
  readonly #queue: Pending[] = [];
  readonly #room: (() => void)[] = [];
  #running = false;
  /** Atomic operations committed so far. */
  commits = 0;
  /** Writes committed so far. */
  writes = 0;

  /** Creates a committer over a KV store. */
  constructor(kv: Deno.Kv, options: GroupCommitOptions = {}) {
    this.#kv = kv;
    this.#maxMutations = options.maxMutations ?? 900;
    this.#maxBytes = options.maxBytes ?? 640 * 1024;
    this.#maxQueue = options.maxQueue ?? 16384;
  }

  /** Writes `mutations` atomically together; resolves once they are committed to disk. */
  async write(mutations: readonly Mutation[]): Promise<void> {
    if (mutations.length === 0) return;
    while (this.#queue.length >= this.#maxQueue) {
      await new Promise<void>((r) => this.#room.push(r));
    }
    const bytes = mutations.reduce((n, m) => n + estimate(m), 0);
    const done = new Promise<void>((resolve, reject) => {
      this.#queue.push({ mutations, bytes, resolve, reject });
    });
    if (!this.#running) {
      this.#running = true;
      // Let the writers of this turn of the event loop join the first batch.
      queueMicrotask(() => this.#drain());
    }
    return await done;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const group: Pending[] = [];
        let count = 0;
        let bytes = 0;
        while (this.#queue.length > 0) {
          const next = this.#queue[0]!;
          const fits = count + next.mutations.length <= this.#maxMutations &&
            bytes + next.bytes <= this.#maxBytes;
          if (group.length > 0 && !fits) break;
          group.push(this.#queue.shift()!);
          count += next.mutations.length;
          bytes += next.bytes;
        }
        while (this.#room.length > 0 && this.#queue.length < this.#maxQueue) this.#room.shift()!();
        await this.#commit(group);
      }
    } finally {
      this.#running = false;
    }
  }

  async #commit(group: Pending[]): Promise<void> {
    try {
      await this.#atomic(group.flatMap((p) => p.mutations));
      this.commits++;
      this.writes += group.length;
      for (const p of group) p.resolve();
    } catch (e) {
      if (group.length === 1) {
        group[0]!.reject(e);
        return;
      }
      // One bad write must not fail its neighbours: retry each on its own.
      for (const p of group) await this.#commit([p]);
    }
  }

  async #atomic(mutations: readonly Mutation[]): Promise<void> {
    const op = this.#kv.atomic();
    for (const m of mutations) {
      if (m.type === "set") {
        op.set(m.key, m.value, m.expireIn === undefined ? undefined : { expireIn: m.expireIn });
      } else op.delete(m.key);
    }
    const result = await op.commit();
    if (!result.ok) throw new Error("Atomic write failed");
  }
}

function estimate(m: Mutation): number {
  const key = JSON.stringify(m.key, (_k, v) => typeof v === "bigint" ? String(v) : v).length;
  if (m.type === "delete") return key + 16;
  return key + (JSON.stringify(m.value)?.length ?? 16) + 16;
}
