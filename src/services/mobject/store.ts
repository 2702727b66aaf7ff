/**
 * Mobject's objects in a service's keys: each object's record, the chunks
 * of its bytes and its omap, on the target its pool and name hash to. An op
 * list is applied to a draft of the object and committed in one atomic
 * commit (all or nothing, stronger than Mobject's); the op lists of one
 * object, reads included, run one after another in this process (each
 * object's requests are routed to its target's runtime), so every object is
 * linearizable.
 *
 * @module
 */

import { hash32 } from "../hash.ts";
import { KeyedQueue } from "../keyed_queue.ts";
import type { MetaOp, ServiceMeta } from "../meta.ts";
import type { TargetRing } from "../targets.ts";
import { type DraftSource, ObjectDraft, type ObjectRecord } from "./object_draft.ts";
import { opError, type ReadOp, type WriteOp } from "./ops.ts";

/** Default bytes per chunk of an object. */
export const DEFAULT_CHUNK_BYTES = 1 << 20;

/** What `stat` answers. */
export interface ObjectStat {
  /** Bytes. */
  readonly size: number;
  /** Last write, ms since the epoch. */
  readonly mtime: number;
  /** Op lists applied since the object was created. */
  readonly version: number;
}

/** The answer of one read op. */
export type ReadResult =
  | ObjectStat
  | { readonly data: Uint8Array }
  | { readonly keys: string[]; readonly values?: Uint8Array[]; readonly more: boolean };

const utf8 = new TextEncoder();
const text = new TextDecoder();

/**
 * The objects of one service.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KIND_DEFAULTS, MemoryTier, TierSet } from "../../tiers/mod.ts";
 * import { BlobStore } from "../blobs.ts";
 * import { ServiceMeta } from "../meta.ts";
 * import { TargetRing } from "../targets.ts";
 * import { ObjectStore } from "./store.ts";
 * const spec = { name: "mem", kind: "memory", capacity: 1 << 24, ...KIND_DEFAULTS.memory } as const;
 * const tiers = new TierSet({ node: "n", tiers: [{ tier: new MemoryTier("mem", 1 << 24), spec }] });
 * const kv = await Deno.openKv(":memory:");
 * const meta = new ServiceMeta(kv, "mobject", new BlobStore("mobject", tiers, { durable: false }));
 * const store = new ObjectStore(meta, new TargetRing(2));
 * await store.operate("pool", "obj", [{ op: "write_full", data: new TextEncoder().encode("hello") }]);
 * const [stat, read] = await store.read("pool", "obj", [{ op: "stat" }, { op: "read", offset: 1, length: 3 }]);
 * assert.equal((stat as { size: number }).size, 5);
 * assert.equal(new TextDecoder().decode((read as { data: Uint8Array }).data), "ell");
 * kv.close();
 * ```
 */
export class ObjectStore {
  readonly #meta: ServiceMeta;
  readonly #ring: TargetRing;
  readonly #chunkBytes: number;
  /** The requests of each object, one after another. */
  readonly #queues = new KeyedQueue();

  /** The objects in `meta`, on the targets of `ring`, cut in chunks of `chunkBytes`. */
  constructor(meta: ServiceMeta, ring: TargetRing, chunkBytes = DEFAULT_CHUNK_BYTES) {
    this.#meta = meta;
    this.#ring = ring;
    this.#chunkBytes = chunkBytes;
  }

  /** The target an object hashes to (its pool and name). */
  targetOf(pool: string, object: string): number {
    return this.#ring.targetOf(hash32(utf8.encode(`${pool}/${object}`)));
  }

  /** Applies a write op list to an object, all or nothing; answers its record after. */
  operate(pool: string, object: string, ops: readonly WriteOp[]): Promise<ObjectStat | null> {
    return this.#serial(pool, object, async () => {
      const base = this.#base(pool, object);
      const committed = await this.#record(base);
      const draft = new ObjectDraft(committed, this.#chunkBytes, this.#source(base));
      for (const [i, op] of ops.entries()) await draft.apply(op, i);
      const r = draft.result();
      const writes: MetaOp[] = [];
      const live = r.record;
      if (live === undefined) {
        if (committed !== undefined) writes.push({ type: "delete", key: base });
      } else {
        writes.push({ type: "put", key: base, value: utf8.encode(JSON.stringify(live)) });
        for (const [idx, bytes] of r.chunks) {
          const key = [...chunkPrefix(base, live.incarnation, live.dataGen), idx];
          writes.push(
            bytes === null ? { type: "delete", key } : { type: "set", key, value: bytes },
          );
        }
        for (const [k, v] of r.omap) {
          const key = [...omapPrefix(base, live.incarnation), k];
          writes.push(v === null ? { type: "delete", key } : { type: "set", key, value: v });
        }
      }
      if (writes.length > 0) await this.#meta.atomic(writes);
      // Chunks and omap keys no record names any more: deleted after the
      // commit (a crash between leaves them unnamed by any record, and an
      // object created again under the name has another incarnation).
      for (const g of r.garbage.chunks) {
        await this.#deleteAll(chunkPrefix(base, g.incarnation, g.dataGen));
      }
      for (const incarnation of r.garbage.omap) {
        await this.#deleteAll(omapPrefix(base, incarnation));
      }
      return live === undefined ? null : stat(live);
    });
  }

  /** Runs read ops on an object; `NotFoundError` (ENOENT) when it does not exist. */
  read(pool: string, object: string, ops: readonly ReadOp[]): Promise<ReadResult[]> {
    return this.#serial(pool, object, async () => {
      const base = this.#base(pool, object);
      const r = await this.#record(base);
      if (r === undefined) throw opError("missing", 0, `no object '${object}' in pool '${pool}'`);
      const draft = new ObjectDraft(r, this.#chunkBytes, this.#source(base));
      const out: ReadResult[] = [];
      for (const op of ops) {
        switch (op.op) {
          case "stat":
            out.push(stat(r));
            break;
          case "read":
            out.push({ data: await draft.read(op.offset, op.length) });
            break;
          case "omap_get_keys":
          case "omap_get_vals": {
            const prefix = op.op === "omap_get_vals" ? op.prefix : "";
            const got = await this.#omapRange(base, r.incarnation, op.startAfter, prefix, op.max);
            out.push(
              op.op === "omap_get_keys"
                ? { keys: got.keys, more: got.more }
                : { keys: got.keys, values: got.values, more: got.more },
            );
            break;
          }
          case "omap_get_vals_by_keys": {
            const keys = op.keys.map((k) => [...omapPrefix(base, r.incarnation), k]);
            const values = await this.#meta.getMany(keys);
            const found = op.keys.map((k, i) => [k, values[i]] as const).filter(([, v]) => v);
            out.push({
              keys: found.map(([k]) => k),
              values: found.map(([, v]) => v!),
              more: false,
            });
            break;
          }
        }
      }
      return out;
    });
  }

  /** Object names of a pool, in name order, after `after`, at most `limit`. */
  async list(pool: string, after: string | undefined, limit: number): Promise<string[]> {
    const names: string[] = [];
    for (let t = 0; t < this.#ring.numTargets; t++) {
      const prefix = ["obj", t, pool];
      const scan = after === undefined ? { prefix } : { prefix, start: [...prefix, after] };
      for await (const k of this.#meta.keys({ ...scan, limit: limit + 1 })) {
        const n = k[3] as string;
        if (n !== after) names.push(n);
      }
    }
    return names.sort().slice(0, limit);
  }

  /**
   * Deletes the chunks and omap keys of the objects on `targets` that no
   * record names: what a crash between an op list's commit and the deletion
   * of what it orphaned (a removed object, a truncate to a new generation)
   * left behind. Each object's keys are checked and deleted in its turn, so
   * op lists running meanwhile are safe. Stops early once `stopped()` says
   * so. Answers the keys deleted.
   */
  async sweep(targets: readonly number[], stopped: () => boolean = () => false): Promise<number> {
    let deleted = 0;
    for (const t of targets) {
      for (const space of ["chunk", "omap"] as const) {
        // Keys of one object's incarnation (and data generation) come together, in key order.
        let group: { id: string; key: Deno.KvKey; keys: Deno.KvKey[] } | undefined;
        const settle = async () => {
          if (group !== undefined) {
            deleted += await this.#dropIfOrphaned(space, group.key, group.keys);
          }
          group = undefined;
        };
        for await (
          const k of this.#meta.keys({ prefix: [space, t], limit: Number.MAX_SAFE_INTEGER })
        ) {
          if (stopped()) return deleted;
          // chunk: [chunk, t, pool, object, incarnation, dataGen, idx]; omap: [omap, t, pool, object, incarnation, key].
          const head = k.slice(0, space === "chunk" ? 6 : 5);
          const id = JSON.stringify(head);
          if (group?.id !== id || group.keys.length >= 500) await settle();
          group ??= { id, key: head, keys: [] };
          group.keys.push(k);
        }
        await settle();
      }
    }
    return deleted;
  }

  /** Deletes `keys` (of one object's incarnation) unless the object's record names them. */
  async #dropIfOrphaned(
    space: "chunk" | "omap",
    head: Deno.KvKey,
    keys: Deno.KvKey[],
  ): Promise<number> {
    const [, t, pool, object, incarnation, dataGen] = head as [
      string,
      number,
      string,
      string,
      string,
      number?,
    ];
    if (typeof pool !== "string" || typeof object !== "string") return 0;
    return await this.#serial(pool, object, async () => {
      const r = await this.#record(["obj", t, pool, object]);
      const named = r !== undefined && r.incarnation === incarnation &&
        (space === "omap" || r.dataGen === dataGen);
      if (named) return 0;
      await this.#meta.write(keys.map((key) => ({ type: "delete", key })));
      return keys.length;
    });
  }

  #base(pool: string, object: string): Deno.KvKey {
    return ["obj", this.targetOf(pool, object), pool, object];
  }

  async #record(base: Deno.KvKey): Promise<ObjectRecord | undefined> {
    const raw = await this.#meta.get(base);
    return raw === undefined ? undefined : JSON.parse(text.decode(raw)) as ObjectRecord;
  }

  #source(base: Deno.KvKey): DraftSource {
    return {
      chunk: (incarnation, dataGen, idx) =>
        this.#meta.get([...chunkPrefix(base, incarnation, dataGen), idx]),
      chunks: async (incarnation, dataGen, from, to) => {
        const prefix = chunkPrefix(base, incarnation, dataGen);
        const out = new Map<number, Uint8Array>();
        const scan = { prefix, start: [...prefix, from], end: [...prefix, to], limit: to - from };
        for await (const e of this.#meta.list(scan)) {
          out.set(e.key[prefix.length] as number, e.value);
        }
        return out;
      },
      omapKeys: async (incarnation) => {
        const keys: string[] = [];
        const prefix = omapPrefix(base, incarnation);
        for await (const k of this.#meta.keys({ prefix, limit: 1e9 })) {
          keys.push(k[prefix.length] as string);
        }
        return keys;
      },
    };
  }

  async #omapRange(
    base: Deno.KvKey,
    incarnation: string,
    startAfter: string,
    prefix: string,
    max: number,
  ): Promise<{ keys: string[]; values: Uint8Array[]; more: boolean }> {
    const p = omapPrefix(base, incarnation);
    const keys: string[] = [];
    const values: Uint8Array[] = [];
    let more = false;
    const start = startAfter > prefix ? startAfter : prefix;
    for await (const e of this.#meta.list({ prefix: p, start: [...p, start], limit: max + 2 })) {
      const k = e.key[p.length] as string;
      if (k === startAfter) continue;
      if (!k.startsWith(prefix)) break;
      if (keys.length === max) {
        more = true;
        break;
      }
      keys.push(k);
      values.push(e.value);
    }
    return { keys, values, more };
  }

  /** Deletes every key under `prefix`, 500 at a time. */
  async #deleteAll(prefix: Deno.KvKey): Promise<void> {
    for (;;) {
      const keys: Deno.KvKey[] = [];
      for await (const k of this.#meta.keys({ prefix, limit: 500 })) keys.push(k);
      if (keys.length === 0) return;
      await this.#meta.write(keys.map((key) => ({ type: "delete", key })));
    }
  }

  #serial<T>(pool: string, object: string, fn: () => Promise<T>): Promise<T> {
    return this.#queues.run(`${pool}/${object}`, fn);
  }
}

function chunkPrefix(base: Deno.KvKey, incarnation: string, dataGen: number): Deno.KvKey {
  return ["chunk", ...base.slice(1), incarnation, dataGen];
}

function omapPrefix(base: Deno.KvKey, incarnation: string): Deno.KvKey {
  return ["omap", ...base.slice(1), incarnation];
}

function stat(r: ObjectRecord): ObjectStat {
  return { size: r.size, mtime: r.mtime, version: r.version };
}
