/**
 * A service's metadata: its keys under its own prefix (`["svc", name]`) of
 * the registry's Deno KV. Values are bytes; a value past
 * `KV_LIMITS.inlineValueBytes` goes to a blob, written before the KV record
 * that names it, and the mid-size values of a batch go together into one
 * blob, a pack, each key naming its range. Batches are cut into commits
 * within KV's limits.
 *
 * @module
 */

import { InvalidRequestError, PayloadTooLargeError } from "../errors.ts";
import { type Check, type Mutation, mutationBytes } from "../registry/group_commit.ts";
import type { StagedFile } from "../tiers/tier.ts";
import type { MapGrant } from "../runtime/map_leases.ts";
import type { BlobRef, BlobStore } from "./blobs.ts";
import { adjacentRuns } from "./frames.ts";
import { joinBytes } from "../http/join_bytes.ts";
import { keyBytes, KV_LIMITS } from "./kv_limits.ts";
import { COMMIT_BUDGET, LocalMetaKv, type MetaKv } from "./meta_kv.ts";

/** One write of a batch. */
export type MetaOp =
  /** Sets `key` to `value`, replacing what it held. */
  | { readonly type: "set"; readonly key: Deno.KvKey; readonly value: Uint8Array }
  /**
   * Sets `key` to a value of at most `KV_LIMITS.inlineValueBytes`, without
   * reading what it held: for keys that never hold blobs (markers, indexes).
   */
  | { readonly type: "put"; readonly key: Deno.KvKey; readonly value: Uint8Array }
  /** Sets `key` to `value` only if it holds nothing. */
  | { readonly type: "setIfAbsent"; readonly key: Deno.KvKey; readonly value: Uint8Array }
  /**
   * Sets `key` to the bytes a file of the node holds (a staged request
   * body): always a blob, stored from the file without reading it into the
   * process (`BlobStore.putFile`); replaces what the key held, as `set`.
   */
  | { readonly type: "setFile"; readonly key: Deno.KvKey; readonly file: StagedFile }
  /** Removes `key`. */
  | { readonly type: "delete"; readonly key: Deno.KvKey };

/**
 * One write of `ServiceMeta.writeRanges`: `key` set (as `set`, or as
 * `setIfAbsent`) to `length` bytes from `at` of the file the batch names.
 */
export interface RangeOp {
  readonly type: "set" | "setIfAbsent";
  readonly key: Deno.KvKey;
  /** Where the value starts in the file. */
  readonly at: number;
  /** The value's bytes. */
  readonly length: number;
}

/**
 * Where a value is for a process of this node (`ServiceMeta.leaseMany`):
 * its bytes, a range of a leased file, or its size alone (held elsewhere).
 */
export type MetaLease =
  | { readonly bytes: Uint8Array }
  | {
    /** Absolute path of the leased file. */
    readonly path: string;
    /** The lease keeping the file whole until released. */
    readonly lease: string;
    /** Where the value starts in the file. */
    readonly at: number;
    /** The value's bytes. */
    readonly size: number;
  }
  | { readonly size: number };

/** One entry of a scan. */
export interface MetaEntry {
  /** The key, without the service's prefix. */
  readonly key: Deno.KvKey;
  /** The value's bytes. */
  readonly value: Uint8Array;
}

/** A scan: keys under `prefix`, from `start` (inclusive) to `end` (exclusive). */
export interface MetaScan {
  /** Keys start with these parts. */
  readonly prefix: Deno.KvKey;
  /** First key (inclusive), under the prefix. */
  readonly start?: Deno.KvKey;
  /** Key to stop before, under the prefix. */
  readonly end?: Deno.KvKey;
  /** Most entries (default 1000). */
  readonly limit?: number;
  /** Newest-first order. */
  readonly reverse?: boolean;
}

/**
 * A value as KV holds it: the bytes, the blob holding them, or the range
 * of a pack (a blob holding several values of one batch) holding them.
 */
type Stored = Uint8Array | {
  readonly blob: BlobRef;
  /** Where the value starts in a pack. */
  readonly at?: number;
  /** The value's bytes in a pack. */
  readonly length?: number;
};

/**
 * Values of a batch from this size up to `KV_LIMITS.inlineValueBytes` are
 * written together into packs: KV holds a reference to each value's range,
 * not its bytes (Deno KV writes about 11,500 rows of 10 kB a second on
 * this disk, against 118,000 rows of 100 bytes).
 */
export const PACK_FROM_BYTES = 2048;

/**
 * Packable bytes a batch needs for a pack: under this, its values go to KV
 * as they are, the batch keeping its one commit rather than adding a
 * blob's write and flush before it.
 */
export const PACK_MIN_BYTES = 256 * 1024;

/** Bytes of one pack at most; a batch with more packable bytes writes several. */
export const PACK_MAX_BYTES = 16 << 20;

/** The size of a stored value. */
function sizeOf(v: Exclude<Stored, Uint8Array>): number {
  return v.length ?? v.blob.size;
}

/** Whether a stored value is a range of a pack, which other keys' values share. */
function inPack(v: Exclude<Stored, Uint8Array>): boolean {
  return v.at !== undefined;
}

/**
 * The keys of one service.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KIND_DEFAULTS, MemoryTier, TierSet } from "../tiers/mod.ts";
 * import { BlobStore } from "./blobs.ts";
 * import { ServiceMeta } from "./meta.ts";
 * const spec = { name: "mem", kind: "memory", capacity: 1 << 24, ...KIND_DEFAULTS.memory } as const;
 * const tiers = new TierSet({ node: "n", tiers: [{ tier: new MemoryTier("mem", 1 << 24), spec }] });
 * const kv = await Deno.openKv(":memory:");
 * const meta = new ServiceMeta(kv, "notes", new BlobStore("notes", tiers, { durable: false }));
 * const applied = await meta.write([
 *   { type: "set", key: ["n", "b"], value: new Uint8Array([2]) },
 *   { type: "setIfAbsent", key: ["n", "a"], value: new Uint8Array(100_000) },
 * ]);
 * assert.deepEqual(applied, [true, true]);
 * assert.equal((await meta.get(["n", "a"]))?.length, 100_000); // kept in a blob
 * const keys = [];
 * for await (const e of meta.list({ prefix: ["n"] })) keys.push(e.key[1]);
 * assert.deepEqual(keys, ["a", "b"]);
 * kv.close();
 * ```
 */
export class ServiceMeta {
  /** The service's name. */
  readonly service: string;
  /** Its blobs, where large values go. */
  readonly blobs: BlobStore;
  readonly #kv: MetaKv;
  /** `#kv` when every commit to it passes through this process: it knows which services hold blobs. */
  readonly #local: LocalMetaKv | undefined;
  readonly #prefix: Deno.KvKey;
  /** Blobs the last sweep found held and unnamed. */
  #unnamedBefore = new Set<string>();

  /**
   * Opens the keys of `service` in `kv`: a Deno KV of this process (its
   * commits then grouped by a `LocalMetaKv`), or a `MetaKv` such as the
   * name server's over HTTP.
   */
  constructor(kv: Deno.Kv | MetaKv, service: string, blobs: BlobStore) {
    this.service = service;
    this.blobs = blobs;
    this.#kv = kv instanceof Deno.Kv ? new LocalMetaKv(kv) : kv;
    this.#local = this.#kv instanceof LocalMetaKv ? this.#kv : undefined;
    this.#prefix = ["svc", service];
  }

  /** The value of `key`, or undefined. */
  async get(key: Deno.KvKey): Promise<Uint8Array | undefined> {
    const e = (await this.#kv.getMany([this.#full(key)]))[0]!;
    return e.value === null ? undefined : await this.#bytes(e.value as Stored);
  }

  /**
   * Bytes `start` to `start + length` (default: to its end) of the value of
   * `key`, with the value's size; undefined when absent. A value kept in a
   * blob is read for the range alone (from a file, only the pieces holding
   * it: `BlobStore.get`); a value held in KV itself comes whole too
   * (`whole`). A range outside the value answers its size and no bytes, for
   * the caller to refuse.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { KIND_DEFAULTS, MemoryTier, TierSet } from "../tiers/mod.ts";
   * import { BlobStore } from "./blobs.ts";
   * import { ServiceMeta } from "./meta.ts";
   * const spec = { name: "mem", kind: "memory", capacity: 1 << 20, ...KIND_DEFAULTS.memory } as const;
   * const tiers = new TierSet({ node: "n", tiers: [{ tier: new MemoryTier("mem", 1 << 20), spec }] });
   * using kv = await Deno.openKv(":memory:");
   * const meta = new ServiceMeta(kv, "notes", new BlobStore("notes", tiers, { durable: false }));
   * await meta.write([{ type: "set", key: ["a"], value: new Uint8Array([1, 2, 3, 4]) }]);
   * const got = await meta.getRange(["a"], 1, 2);
   * assert.deepEqual([got?.size, got?.bytes], [4, new Uint8Array([2, 3])]);
   * assert.equal((await meta.getRange(["a"], 3, 2))?.bytes, undefined);
   * assert.equal(await meta.getRange(["b"], 0), undefined);
   * ```
   */
  async getRange(
    key: Deno.KvKey,
    start: number,
    length?: number,
  ): Promise<{ size: number; bytes?: Uint8Array; whole?: Uint8Array } | undefined> {
    const e = (await this.#kv.getMany([this.#full(key)]))[0]!;
    if (e.value === null) return undefined;
    const v = e.value as Stored;
    const size = v instanceof Uint8Array ? v.byteLength : sizeOf(v);
    const end = length === undefined ? size : start + length;
    if (v instanceof Uint8Array) {
      // Held in KV itself: the whole value came with the read.
      return start < 0 || end > size || end < start
        ? { size, whole: v }
        : { size, bytes: v.subarray(start, end), whole: v };
    }
    if (start < 0 || end > size || end < start) return { size };
    const offset = (v.at ?? 0) + start;
    return { size, bytes: await this.blobs.get(v.blob, { offset, length: end - start }) };
  }

  /** The values of `keys`, in order (undefined where absent). */
  async getMany(keys: readonly Deno.KvKey[]): Promise<(Uint8Array | undefined)[]> {
    // Deno KV reads at most 10 keys per getMany; the groups of 10, and the
    // blobs they name, are read concurrently, not one after another (a
    // batched load of 128 products waited for 13 reads in turn;
    // bench/services_bench.ts).
    const groups: Promise<(Uint8Array | undefined)[]>[] = [];
    for (let at = 0; at < keys.length; at += 10) {
      const part = keys.slice(at, at + 10).map((k) => this.#full(k));
      groups.push(
        this.#kv.getMany(part).then((got) =>
          Promise.all(got.map((e) => e.value === null ? undefined : this.#bytes(e.value as Stored)))
        ),
      );
    }
    return (await Promise.all(groups)).flat();
  }

  /**
   * Where the values of `keys` are, for a process of this node to read them
   * in place: undefined where absent; `{ bytes }` for a value held in KV;
   * `{ path, lease, at, size }` for a value in a blob (or a range of a pack)
   * on this node's shm tier, its file leased (`BlobStore.lease`; one lease
   * per blob, released with `DELETE /v1/leases/<lease>` or at its end);
   * `{ size }` for a value held elsewhere, to read with `getMany`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { KIND_DEFAULTS, MemoryTier, TierSet } from "../tiers/mod.ts";
   * import { BlobStore } from "./blobs.ts";
   * import { ServiceMeta } from "./meta.ts";
   * const spec = { name: "mem", kind: "memory", capacity: 1 << 20, ...KIND_DEFAULTS.memory } as const;
   * const tiers = new TierSet({ node: "n", tiers: [{ tier: new MemoryTier("mem", 1 << 20), spec }] });
   * using kv = await Deno.openKv(":memory:");
   * const meta = new ServiceMeta(kv, "notes", new BlobStore("notes", tiers, { durable: false }));
   * await meta.write([
   *   { type: "set", key: ["small"], value: new Uint8Array([1]) },
   *   { type: "set", key: ["large"], value: new Uint8Array(100_000) },
   * ]);
   * const [small, large, none] = await meta.leaseMany([["small"], ["large"], ["none"]]);
   * assert.deepEqual(small, { bytes: new Uint8Array([1]) });
   * assert.deepEqual(large, { size: 100_000 }); // in memory, not in an shm file
   * assert.equal(none, undefined);
   * ```
   */
  async leaseMany(
    keys: readonly Deno.KvKey[],
    options: { readonly ttlMs?: number } = {},
  ): Promise<(MetaLease | undefined)[]> {
    // Groups of 10 keys (Deno KV's most per read), read concurrently as `getMany` reads them.
    const groups: Promise<(Stored | null)[]>[] = [];
    for (let at = 0; at < keys.length; at += 10) {
      const part = keys.slice(at, at + 10).map((k) => this.#full(k));
      groups.push(this.#kv.getMany(part).then((got) => got.map((e) => e.value as Stored | null)));
    }
    const records = (await Promise.all(groups)).flat();
    const grants = new Map<string, Promise<MapGrant | undefined>>();
    const leased = records.map((v) => {
      if (v === null || v instanceof Uint8Array) return v;
      let grant = grants.get(v.blob.id);
      if (grant === undefined) {
        grant = this.blobs.lease(v.blob, options);
        grants.set(v.blob.id, grant);
      }
      return grant;
    });
    const out: (MetaLease | undefined)[] = [];
    for (let i = 0; i < records.length; i++) {
      const v = records[i]!;
      if (v === null) out.push(undefined);
      else if (v instanceof Uint8Array) out.push({ bytes: v });
      else {
        const grant = await leased[i] as MapGrant | undefined;
        const size = sizeOf(v);
        out.push(
          grant === undefined
            ? { size }
            : { path: grant.path, lease: grant.lease, at: grant.offset + (v.at ?? 0), size },
        );
      }
    }
    return out;
  }

  /** Whether each of `keys` holds a value, without reading blobs. */
  async has(keys: readonly Deno.KvKey[]): Promise<boolean[]> {
    // The groups of 10 are read concurrently, as in `getMany`.
    const groups: Promise<boolean[]>[] = [];
    for (let at = 0; at < keys.length; at += 10) {
      const part = keys.slice(at, at + 10).map((k) => this.#full(k));
      groups.push(this.#kv.getMany(part).then((got) => got.map((e) => e.versionstamp !== null)));
    }
    return (await Promise.all(groups)).flat();
  }

  /**
   * Applies `ops` in order, in as few commits as KV's limits allow; a
   * commit is atomic, a batch cut into several is not. Returns, per op,
   * whether it applied (a `setIfAbsent` on a key holding a value does not).
   * Values past the inline size are written to blobs first, and those from
   * `PACK_FROM_BYTES` to the inline size to packs when they add up to
   * `PACK_MIN_BYTES`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { KIND_DEFAULTS, MemoryTier, TierSet } from "../tiers/mod.ts";
   * import { BlobStore } from "./blobs.ts";
   * import { ServiceMeta } from "./meta.ts";
   * const spec = { name: "mem", kind: "memory", capacity: 1 << 20, ...KIND_DEFAULTS.memory } as const;
   * const tiers = new TierSet({ node: "n", tiers: [{ tier: new MemoryTier("mem", 1 << 20), spec }] });
   * using kv = await Deno.openKv(":memory:");
   * const meta = new ServiceMeta(kv, "notes", new BlobStore("notes", tiers, { durable: false }));
   * const values = Array.from({ length: 5 }, (_, i) => new Uint8Array(60_000).fill(i));
   * await meta.write(values.map((value, i) => ({ type: "set", key: ["n", i], value })));
   * assert.equal(tiers.keys("svc~notes~").length, 1); // one pack
   * assert.deepEqual(await meta.get(["n", 4]), values[4]);
   * ```
   */
  async write(ops: readonly MetaOp[]): Promise<boolean[]> {
    const packed = await this.#pack(ops);
    const prepared = await this.#prepareAll(ops, packed);
    await this.#local?.blobsKnown();
    const applied: boolean[] = [];
    for (const chunk of chunks(prepared, !this.#blobFree())) {
      applied.push(...await this.#commitChunk(chunk));
    }
    return applied;
  }

  /**
   * Sets keys to byte ranges of one file of the node (a staged request
   * body holding several values back to back): the file is stored as one
   * pack (`BlobStore.putFile`: never read into this process but for its
   * CRC-32), durable before the records naming its ranges commit, in as
   * few commits as KV's limits allow, as `write`. Returns, per op, whether
   * it applied. A range outside the file is an `InvalidRequestError`,
   * before anything is stored.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { KIND_DEFAULTS, MemoryTier, TierSet } from "../tiers/mod.ts";
   * import { BlobStore } from "./blobs.ts";
   * import { ServiceMeta } from "./meta.ts";
   * const spec = { name: "mem", kind: "memory", capacity: 1 << 20, ...KIND_DEFAULTS.memory } as const;
   * const tiers = new TierSet({ node: "n", tiers: [{ tier: new MemoryTier("mem", 1 << 20), spec }] });
   * using kv = await Deno.openKv(":memory:");
   * const meta = new ServiceMeta(kv, "notes", new BlobStore("notes", tiers, { durable: false }));
   * await Deno.mkdir("tmp", { recursive: true });
   * const path = await Deno.makeTempFile({ dir: "tmp" });
   * await Deno.writeFile(path, new Uint8Array([1, 2, 3, 4, 5]));
   * const applied = await meta.writeRanges({ path, byteLength: 5 }, [
   *   { type: "set", key: ["a"], at: 0, length: 2 },
   *   { type: "setIfAbsent", key: ["b"], at: 2, length: 3 },
   * ]);
   * assert.deepEqual(applied, [true, true]);
   * assert.deepEqual(await meta.get(["b"]), new Uint8Array([3, 4, 5]));
   * await Deno.remove(path);
   * ```
   */
  async writeRanges(file: StagedFile, ops: readonly RangeOp[]): Promise<boolean[]> {
    for (const op of ops) {
      if (
        !Number.isSafeInteger(op.at) || !Number.isSafeInteger(op.length) || op.at < 0 ||
        op.length < 0 || op.at + op.length > file.byteLength
      ) {
        throw new InvalidRequestError(
          `Range ${op.at}..${op.at + op.length} is outside the file's ${file.byteLength} bytes`,
          { fields: { at: op.at, length: op.length, size: file.byteLength } },
        );
      }
    }
    // Keys checked before the file is stored.
    const keys = ops.map((op) => this.#full(op.key));
    const blob = await this.blobs.putFile(file);
    const prepared = ops.map((op, i) =>
      prepare(op, keys[i]!, { blob, at: op.at, length: op.length })
    );
    const applied: boolean[] = [];
    try {
      await this.#local?.blobsKnown();
      for (const chunk of chunks(prepared, !this.#blobFree())) {
        applied.push(...await this.#commitChunk(chunk));
      }
    } finally {
      // No range named (none applied, or the first commit failed): nothing
      // else can name the pack, freed now rather than by a sweep (which
      // frees it if this fails: the commit's own error is the one to tell).
      if (!applied.includes(true)) await this.blobs.delete(blob).catch(() => {});
    }
    return applied;
  }

  /**
   * Whether no key of this service ever named a blob, as far as every
   * commit queued so far goes (a KV of this process only): a set or a
   * delete then replaces nothing that must be freed.
   */
  #blobFree(): boolean {
    return this.#local?.mayHoldBlobs(this.service) === false;
  }

  /**
   * Applies `ops` in one atomic commit: all or none. False when a
   * `setIfAbsent` found its key set; `PayloadTooLargeError` when the ops do
   * not fit one commit.
   */
  async atomic(ops: readonly MetaOp[]): Promise<boolean> {
    const prepared = await this.#prepareAll(ops, new Map());
    const parts = chunks(prepared, false);
    if (parts.length > 1) {
      await this.#dropBlobs(prepared);
      throw new PayloadTooLargeError(
        `Batch of ${ops.length} writes does not fit one commit: at most ${KV_LIMITS.maxMutations} writes, ${KV_LIMITS.maxChecks} put-if-absent and ${KV_LIMITS.maxCommitBytes} bytes`,
        { fields: { writes: ops.length, limit: KV_LIMITS.maxMutations } },
      );
    }
    // Read only while a key of the service may name a blob; else the commit is queued at once.
    const replaced = this.#blobFree() ? [] : await this.#replacedBlobs(prepared);
    const ok = await this.#commit(prepared);
    if (!ok) await this.#dropBlobs(prepared);
    else await this.#deleteBlobs(replaced);
    return ok;
  }

  /**
   * Calls `listener` with the keys (without the service's prefix) that each
   * commit of another writer to this service's keys set or deleted: another
   * runtime's, through the name server's routes, or another `ServiceMeta`'s.
   * Undefined when the KV cannot report every commit (the name server's,
   * reached over HTTP); otherwise the function that stops the listener.
   */
  watchWrites(listener: (keys: readonly Deno.KvKey[]) => void): (() => void) | undefined {
    const prefix = this.#prefix;
    return this.#kv.watch?.((mutations, origin) => {
      if (origin === this) return;
      const keys: Deno.KvKey[] = [];
      for (const m of mutations) {
        if (m.key.length >= prefix.length && prefix.every((p, i) => m.key[i] === p)) {
          keys.push(m.key.slice(prefix.length));
        }
      }
      if (keys.length > 0) listener(keys);
    });
  }

  /**
   * Frees the blobs of this service that this node holds and no key names:
   * left by a crash between a blob's write and the commit of the record
   * naming it, or between a commit and the freeing of the blob it replaced.
   * A blob is freed only when two sweeps in a row found it unnamed, so a
   * write under way during one sweep (its blob stored, its record not yet
   * committed) is named by the next: call it no more often than a write
   * may take. Reads every key of the service (its values, not its blobs).
   */
  async sweepBlobs(): Promise<{ held: number; unnamed: number; freed: number }> {
    const held = this.blobs.heldIds();
    const named = new Set<string>();
    const all = { prefix: this.#prefix, limit: Number.MAX_SAFE_INTEGER, reverse: false };
    for await (const e of this.#kv.list(all)) {
      const v = e.value as Stored | null;
      if (v !== null && !(v instanceof Uint8Array) && typeof v === "object" && "blob" in v) {
        named.add(v.blob.id);
      }
    }
    const unnamed = held.filter((id) => !named.has(id));
    let freed = 0;
    for (const id of unnamed) {
      if (!this.#unnamedBefore.has(id)) continue;
      await this.blobs.deleteId(id);
      freed++;
    }
    this.#unnamedBefore = new Set(unnamed);
    return { held: held.length, unnamed: unnamed.length, freed };
  }

  /** The entries of a scan, in key order (bytes compare bytewise, numbers numerically). */
  async *list(scan: MetaScan): AsyncIterableIterator<MetaEntry> {
    for await (const e of this.#entries(scan)) {
      yield { key: e.key.slice(this.#prefix.length), value: await this.#bytes(e.value as Stored) };
    }
  }

  /** The keys of a scan, in key order, without reading values held in blobs. */
  async *keys(scan: MetaScan): AsyncIterableIterator<Deno.KvKey> {
    for await (const e of this.#entries(scan)) yield e.key.slice(this.#prefix.length);
  }

  #entries(scan: MetaScan): AsyncIterable<{ key: Deno.KvKey; value: unknown }> {
    return this.#kv.list({
      prefix: this.#full(scan.prefix),
      ...(scan.start === undefined ? {} : { start: this.#full(scan.start) }),
      ...(scan.end === undefined ? {} : { end: this.#full(scan.end) }),
      limit: scan.limit ?? 1000,
      reverse: scan.reverse ?? false,
    });
  }

  #full(key: Deno.KvKey): Deno.KvKey {
    const full = [...this.#prefix, ...key];
    const size = keyBytes(full);
    if (size > KV_LIMITS.maxKeyBytes) {
      throw new InvalidRequestError(
        `Key of service '${this.service}' too long: ${size} bytes, at most ${KV_LIMITS.maxKeyBytes}`,
        { fields: { service: this.service, keyBytes: size, limit: KV_LIMITS.maxKeyBytes } },
      );
    }
    return full;
  }

  async #bytes(v: Stored): Promise<Uint8Array> {
    if (v instanceof Uint8Array) return v;
    if (v.at === undefined) return await this.blobs.get(v.blob);
    return await this.blobs.get(v.blob, { offset: v.at, length: sizeOf(v) });
  }

  /**
   * Writes the values of `ops` from `PACK_FROM_BYTES` to the inline size
   * into packs of at most `PACK_MAX_BYTES`, when they add up to
   * `PACK_MIN_BYTES`: one blob (one write, one flush) for many values,
   * durable before the records naming their ranges commit. Returns what
   * each packed op stores, by its index.
   */
  async #pack(ops: readonly MetaOp[]): Promise<Map<number, Stored>> {
    const out = new Map<number, Stored>();
    const groups: { i: number; value: Uint8Array }[][] = [[]];
    let total = 0;
    let bytes = 0;
    ops.forEach((op, i) => {
      if (op.type !== "set" && op.type !== "setIfAbsent") return;
      const size = op.value.byteLength;
      if (size < PACK_FROM_BYTES || size > KV_LIMITS.inlineValueBytes) return;
      if (bytes + size > PACK_MAX_BYTES) {
        groups.push([]);
        bytes = 0;
      }
      groups.at(-1)!.push({ i, value: op.value });
      bytes += size;
      total += size;
    });
    if (total < PACK_MIN_BYTES) return out;
    await Promise.all(groups.map(async (group) => {
      const blob = await this.blobs.put(packOf(group.map((p) => p.value)));
      let at = 0;
      for (const { i, value } of group) {
        out.set(i, { blob, at, length: value.byteLength });
        at += value.byteLength;
      }
    }));
    return out;
  }

  /**
   * What each op commits (`packed`: the ops a pack holds, by index),
   * awaited only when a value goes to a blob: a batch of small values
   * (HEPnOS's event creates) is prepared without a promise per value. An op
   * refused (a key too long) after blobs began to be written leaves their
   * writes to finish unobserved (an unnamed blob is swept), never a
   * rejection nobody handles.
   */
  #prepareAll(
    ops: readonly MetaOp[],
    packed: ReadonlyMap<number, Stored>,
  ): Prepared[] | Promise<Prepared[]> {
    const each: (Prepared | Promise<Prepared>)[] = [];
    try {
      ops.forEach((op, i) => {
        const stored = packed.get(i);
        each.push(
          stored === undefined ? this.#prepare(op) : prepare(op, this.#full(op.key), stored),
        );
      });
    } catch (e) {
      for (const p of each) if (p instanceof Promise) p.catch(() => {});
      throw e;
    }
    return each.some((p) => p instanceof Promise) ? Promise.all(each) : each as Prepared[];
  }

  /** What `op` commits: at once for a delete or an inline value, once its blob is written else. */
  #prepare(op: MetaOp): Prepared | Promise<Prepared> {
    const key = this.#full(op.key);
    if (op.type === "delete") {
      return { op: "delete", key, stored: null, ...mutationBytes([{ type: "delete", key }]) };
    }
    if (op.type === "setFile") return inBlob(op, key, this.blobs.putFile(op.file));
    if (op.type === "put" && op.value.byteLength > KV_LIMITS.inlineValueBytes) {
      throw new PayloadTooLargeError(
        `Value of a put too large: ${op.value.byteLength} bytes, at most ${KV_LIMITS.inlineValueBytes}`,
        { fields: { bytes: op.value.byteLength, limit: KV_LIMITS.inlineValueBytes } },
      );
    }
    if (op.value.byteLength <= KV_LIMITS.inlineValueBytes) {
      return {
        op: op.type,
        key,
        stored: op.value,
        ...mutationBytes([{ type: "set", key, value: op.value }]),
      };
    }
    return inBlob(op, key, this.blobs.put(op.value));
  }

  async #commitChunk(chunk: readonly Prepared[]): Promise<boolean[]> {
    // No key of the service names a blob, as of the commits queued before
    // this one: nothing the chunk replaces needs freeing, so its sets need
    // neither a check nor a read (put-if-absents keep their checks).
    // Decided right before the commit is queued, with no wait in between.
    if (this.#blobFree()) {
      if (await this.#commit(chunk)) return chunk.map(() => true);
      return await this.#oneByOne(chunk, []);
    }
    // Cut for unchecked sets while the service held no blob, and since
    // marked: cut again, the sets checked.
    if (chunks(chunk, true).length > 1) {
      const out: boolean[] = [];
      for (const part of chunks(chunk, true)) out.push(...await this.#commitChunk(part));
      return out;
    }
    // Sets first go as put-if-absent: when none of their keys held a value
    // (a first store), nothing is replaced, so no blob needs freeing and
    // no read of the keys is needed before the commit.
    if (chunk.some((p) => p.op === "set") && chunk.every((p) => p.op !== "delete")) {
      if (await this.#commit(chunk, true)) return chunk.map(() => true);
    }
    const replaced = await this.#replacedBlobs(chunk);
    if (await this.#commit(chunk)) {
      await this.#deleteBlobs(replaced);
      return chunk.map(() => true);
    }
    return await this.#oneByOne(chunk, replaced);
  }

  /** Applies `chunk` op by op (a put-if-absent of it found its key set), then frees `replaced`. */
  async #oneByOne(chunk: readonly Prepared[], replaced: readonly BlobRef[]): Promise<boolean[]> {
    const out: boolean[] = [];
    for (const p of chunk) {
      const ok = await this.#commit([p]);
      if (!ok) await this.#dropBlobs([p]);
      out.push(ok);
    }
    await this.#deleteBlobs(replaced);
    return out;
  }

  /** Commits `chunk`; with `setsAbsent`, only if the keys of its sets hold nothing. */
  #commit(chunk: readonly Prepared[], setsAbsent = false): Promise<boolean> {
    const mutations: Mutation[] = [];
    const checks: Check[] = [];
    let bytes = 0;
    let keyBytes = 0;
    for (const p of chunk) {
      bytes += p.bytes;
      keyBytes += p.keyBytes;
      if (p.op === "delete") mutations.push({ type: "delete", key: p.key });
      else {
        if (p.op === "setIfAbsent" || (setsAbsent && p.op === "set")) {
          checks.push({ key: p.key, versionstamp: null });
        }
        mutations.push({ type: "set", key: p.key, value: p.stored });
      }
    }
    return this.#kv.commit(mutations, checks, this, { bytes, keyBytes });
  }

  /** Blobs that `set` and `delete` ops of `chunk` replace (freed after the commit). */
  async #replacedBlobs(chunk: readonly Prepared[]): Promise<BlobRef[]> {
    const keys = chunk.filter((p) => p.op === "set" || p.op === "delete").map((p) => p.key);
    const out: BlobRef[] = [];
    for (let at = 0; at < keys.length; at += 10) {
      for (const e of await this.#kv.getMany(keys.slice(at, at + 10))) {
        const v = e.value as Stored | null;
        // A pack's other values may still be named: the sweep frees it once none is.
        if (v !== null && !(v instanceof Uint8Array) && !inPack(v)) out.push(v.blob);
      }
    }
    return out;
  }

  /** Frees the blobs written for ops that did not apply. */
  async #dropBlobs(ops: readonly Prepared[]): Promise<void> {
    const refs: BlobRef[] = [];
    for (const p of ops) {
      if (p.stored !== null && !(p.stored instanceof Uint8Array) && !inPack(p.stored)) {
        refs.push(p.stored.blob);
      }
    }
    await this.#deleteBlobs(refs);
  }

  async #deleteBlobs(refs: readonly BlobRef[]): Promise<void> {
    for (const r of refs) await this.blobs.delete(r);
  }
}

/**
 * The bytes of `values` back to back: a view of their buffer when they lie
 * there back to back already (the values of a framed request body), else a
 * copy.
 */
function packOf(values: readonly Uint8Array[]): Uint8Array {
  const runs = adjacentRuns(values);
  return runs.length === 1 ? runs[0]! : joinBytes(values);
}

/** `op` naming the blob `blob` writes: prepared once it is durable, before any record names it. */
async function inBlob(op: MetaOp, key: Deno.KvKey, blob: Promise<BlobRef>): Promise<Prepared> {
  return prepare(op, key, { blob: await blob });
}

/** A set-like op (`setFile` as a `set`) ready to commit with what its key is to hold. */
function prepare(op: { readonly type: MetaOp["type"] }, key: Deno.KvKey, stored: Stored): Prepared {
  const type = op.type === "setFile" ? "set" : op.type;
  return { op: type, key, stored, ...mutationBytes([{ type: "set", key, value: stored }]) };
}

interface Prepared {
  readonly op: MetaOp["type"];
  readonly key: Deno.KvKey;
  readonly stored: Stored | null;
  /** Estimated bytes of key and value (`mutationBytes`), of which `keyBytes` of the key. */
  readonly bytes: number;
  readonly keyBytes: number;
}

/**
 * Cuts `ops` into commits within KV's mutation, check and size limits
 * (`COMMIT_BUDGET`); `checkSets`: count a check for each set (its first
 * try is a put-if-absent).
 */
function chunks(ops: readonly Prepared[], checkSets: boolean): Prepared[][] {
  const out: Prepared[][] = [];
  let cur: Prepared[] = [];
  let checks = 0;
  let bytes = 0;
  let keys = 0;
  for (const p of ops) {
    // A check counts its key once more; a set may be checked (`#commitChunk`).
    const check = p.op === "setIfAbsent" || (checkSets && p.op === "set") ? 1 : 0;
    const keyCost = p.keyBytes * (1 + check);
    if (
      cur.length > 0 &&
      (cur.length + 1 > COMMIT_BUDGET.mutations || checks + check > COMMIT_BUDGET.checks ||
        bytes + p.bytes > COMMIT_BUDGET.bytes || keys + keyCost > COMMIT_BUDGET.keyBytes)
    ) {
      out.push(cur);
      cur = [];
      checks = 0;
      bytes = 0;
      keys = 0;
    }
    cur.push(p);
    checks += check;
    bytes += p.bytes;
    keys += keyCost;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
