/**
 * HEPnOS's event store over the kit: datasets, runs, subruns and events as
 * keys of the service's targets, products as values (large ones in blobs).
 *
 * KV layout, under the service's prefix: `["ds", target, datasetKey]` →
 * UUID; `["uuid", uuid]` → path; `["run" | "sub" | "ev", target,
 * descriptor]` → empty; `["prod", target, productKey]` → the value.
 *
 * @module
 */

import { InvalidRequestError, NotFoundError } from "../../errors.ts";
import { KV_LIMITS } from "../kv_limits.ts";
import { compareKeyParts } from "../kv_order.ts";
import type { MetaLease, MetaOp, ServiceMeta } from "../meta.ts";
import type { TargetRing } from "../targets.ts";
import type { StagedFile } from "../../tiers/tier.ts";
import { ValueCache } from "../value_cache.ts";
import { bytesEqual, BytesMap } from "../bytes_map.ts";
import {
  bytesKey,
  childPrefix,
  datasetKey,
  datasetUuid,
  decodeItem,
  DESCRIPTOR_BYTES,
  encodeItem,
  INVALID,
  type Item,
  type ItemKind,
  itemLevel,
  kindOf,
  MAX_DATASET_DEPTH,
  MAX_NAME_BYTES,
  parentDescriptor,
  productKey,
  productKeyInto,
  sameParent,
  splitPath,
  splitProductKey,
  UUID_BYTES,
} from "./codec.ts";
import { datasetTarget, descriptorTarget, itemTarget, productTarget } from "./placement.ts";
import { joinBytes } from "../../http/join_bytes.ts";

/** How a store of a product already stored is treated. */
export type OverwritePolicy = "overwrite" | "keep";

/** A dataset found or created. */
export interface DataSetRecord {
  /** Its full path, `a/b/c`. */
  readonly path: string;
  /** Its UUID. */
  readonly uuid: Uint8Array;
}

/** One product to store. */
export interface ProductWrite extends ProductRef {
  /** The value's bytes. */
  readonly value: Uint8Array;
}

/** A product: its item, label and type. */
export interface ProductRef {
  /** The item's descriptor. */
  readonly item: Uint8Array;
  /** Label. */
  readonly label: string;
  /** Type name. */
  readonly type: string;
}

/** A product whose value lies in a file of the node (a staged request body): `storeStaged`. */
export interface StagedProduct extends ProductRef {
  /** Where its value starts in the file. */
  readonly at: number;
  /** Its value's bytes. */
  readonly size: number;
}

/** One product to load (a byte range of it with `offset`). */
export interface ProductRead extends ProductRef {
  /** First byte wanted. */
  readonly offset?: number;
  /** Bytes wanted from `offset`. */
  readonly length?: number;
}

/** Options of a store. */
export interface HepnosStoreOptions {
  /** This runtime's name in the target ring (default: the ring's only runtime). */
  readonly node?: string;
  /**
   * Bytes of small products (up to `KV_LIMITS.inlineValueBytes` each) kept
   * in memory for loads (default 256 MiB; 0: none).
   */
  readonly cacheBytes?: number;
}

/** Bytes of products a store keeps in memory by default. */
export const DEFAULT_CACHE_BYTES = 256 << 20;

/** Where a listing starts. */
export interface ListFrom {
  /** First number (or name) considered. */
  readonly from?: bigint | string;
  /** Skip `from` itself (upper_bound). */
  readonly exclusive?: boolean;
  /** Most entries (1 to 10000). */
  readonly limit: number;
}

const EMPTY = new Uint8Array(0);
const NS: Record<Exclude<ItemKind, "dataset">, string> = { run: "run", subrun: "sub", event: "ev" };
/** `NS` by descriptor level (1 a run, 2 a subrun, 3 an event). */
const LEVEL_NS = [undefined, NS.run, NS.subrun, NS.event];
const utf8 = new TextEncoder();
const text = new TextDecoder();

/**
 * The store.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KIND_DEFAULTS, MemoryTier, TierSet } from "../../tiers/mod.ts";
 * import { BlobStore, ServiceMeta, TargetRing } from "../mod.ts";
 * import { encodeItem, INVALID } from "./codec.ts";
 * import { HepnosStore } from "./store.ts";
 * const spec = { name: "mem", kind: "memory", capacity: 1 << 24, ...KIND_DEFAULTS.memory } as const;
 * const tiers = new TierSet({ node: "n", tiers: [{ tier: new MemoryTier("mem", 1 << 24), spec }] });
 * const kv = await Deno.openKv(":memory:");
 * const store = new HepnosStore(new ServiceMeta(kv, "hepnos", new BlobStore("hepnos", tiers, { durable: false })), new TargetRing(4), "keep");
 * const ds = await store.createDataSet("", "nova");
 * const run = encodeItem({ uuid: ds.uuid, run: 1n, subrun: INVALID, event: INVALID });
 * await store.create([run]);
 * assert.deepEqual(await store.store([{ item: run, label: "l", type: "t", value: new Uint8Array([1]) }]), [true]);
 * assert.deepEqual(await store.store([{ item: run, label: "l", type: "t", value: new Uint8Array([2]) }]), [false]);
 * assert.deepEqual(await store.load([{ item: run, label: "l", type: "t" }]), [new Uint8Array([1])]);
 * kv.close();
 * ```
 */
export class HepnosStore {
  readonly #meta: ServiceMeta;
  readonly #ring: TargetRing;
  /** What a second store of a product does: replace it, or keep the first (answered false). */
  readonly overwrite: OverwritePolicy;
  /**
   * Items known to exist (created or found here). HEPnOS never deletes an
   * item, so an entry never goes stale; a store of products on known items
   * skips the read of their keys before its commit. Bounded: two
   * generations of at most KNOWN_ITEMS / 2, the older dropped when the
   * newer fills, so the items seen last stay.
   */
  #known = new BytesMap<true>();
  #knownBefore = new BytesMap<true>();
  /**
   * Small products in memory, for the targets whose every write this store
   * sees (`#cached`): all of them when the KV reports other writers'
   * commits (the registry's KV in this process), else those of the targets
   * this runtime holds, whose stores the host routes here.
   */
  readonly #cache: ValueCache;
  readonly #cached: (target: number) => boolean;
  /** Where `#lookupKey` writes a product's key (a descriptor and two names of 512 bytes fit). */
  readonly #scratch = new Uint8Array(DESCRIPTOR_BYTES + 2 * MAX_NAME_BYTES + 1);
  readonly #unwatch: (() => void) | undefined;

  /** Creates the store over a service's metadata and targets. */
  constructor(
    meta: ServiceMeta,
    ring: TargetRing,
    overwrite: OverwritePolicy,
    options: HepnosStoreOptions = {},
  ) {
    this.#meta = meta;
    this.#ring = ring;
    this.overwrite = overwrite;
    const cacheBytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    this.#cache = new ValueCache({
      maxBytes: cacheBytes,
      maxValueBytes: KV_LIMITS.inlineValueBytes,
    });
    const node = options.node ?? (ring.runtimes.length === 1 ? ring.runtimes[0] : undefined);
    this.#unwatch = cacheBytes > 0 ? meta.watchWrites((keys) => this.#forget(keys)) : undefined;
    const watched = this.#unwatch !== undefined;
    this.#cached = cacheBytes === 0
      ? () => false
      : watched
      ? () => true
      : ring.runtimes.length > 1
      ? (t) => ring.runtimeOf(t) === node
      : () => false;
  }

  /** Stops following other writers' commits (the service closes). */
  close(): void {
    this.#unwatch?.();
  }

  /** How many targets items and products hash to. */
  get numTargets(): number {
    return this.#ring.numTargets;
  }

  /**
   * Creates dataset `name` under `parentPath` (the root is `""`), or finds
   * it: creates are idempotent. `NotFoundError` when the parent is missing.
   */
  async createDataSet(parentPath: string, name: string): Promise<DataSetRecord> {
    const parent = splitPath(parentPath);
    const path = [...parent, ...splitPath(name)];
    if (path.length !== parent.length + 1) {
      throw new InvalidRequestError(`Invalid dataset name '${name}': '/' is not allowed`);
    }
    if (path.length > MAX_DATASET_DEPTH) {
      throw new InvalidRequestError(
        `Dataset path too deep: ${path.length} levels, at most ${MAX_DATASET_DEPTH}`,
        { fields: { levels: path.length, limit: MAX_DATASET_DEPTH } },
      );
    }
    if (parent.length > 0) await this.dataSet(parent.join("/"));
    const uuid = datasetUuid(path);
    const t = datasetTarget(parent, this.#ring);
    await this.#meta.write([
      { type: "put", key: ["uuid", uuid], value: utf8.encode(path.join("/")) },
      { type: "put", key: ["ds", t, datasetKey(parent, path.at(-1)!)], value: uuid },
    ]);
    return { path: path.join("/"), uuid };
  }

  /** The dataset at `path`; `NotFoundError` when missing. */
  async dataSet(path: string): Promise<DataSetRecord> {
    const names = splitPath(path);
    if (names.length === 0) return { path: "", uuid: datasetUuid([]) };
    const parent = names.slice(0, -1);
    const t = datasetTarget(parent, this.#ring);
    const uuid = await this.#meta.get(["ds", t, datasetKey(parent, names.at(-1)!)]);
    if (uuid === undefined) {
      throw new NotFoundError(`No dataset '${names.join("/")}'`, {
        fields: { dataset: names.join("/") },
      });
    }
    return { path: names.join("/"), uuid };
  }

  /** The path of the dataset with UUID `uuid`; `NotFoundError` when none has it. */
  async pathOf(uuid: Uint8Array): Promise<string> {
    if (!(uuid instanceof Uint8Array) || uuid.length !== UUID_BYTES) {
      throw new InvalidRequestError("Invalid dataset UUID: expected 16 bytes");
    }
    if (uuid.every((b, i) => b === datasetUuid([])[i])) return "";
    const path = await this.#meta.get(["uuid", uuid]);
    if (path === undefined) throw new NotFoundError("No dataset with this UUID");
    return text.decode(path);
  }

  /** The child datasets of `parentPath` in name order, from a name on. */
  async dataSets(parentPath: string, from: ListFrom): Promise<DataSetRecord[]> {
    const parent = splitPath(parentPath);
    const prefix = childPrefix(parent);
    const t = datasetTarget(parent, this.#ring);
    const start = typeof from.from === "string"
      ? joinBytes([prefix, utf8.encode(from.from), from.exclusive ? new Uint8Array([0]) : EMPTY])
      : undefined;
    const out: DataSetRecord[] = [];
    const scan = start === undefined
      ? { prefix: ["ds", t], start: ["ds", t, prefix], end: ["ds", t, after(prefix)] }
      : { prefix: ["ds", t], start: ["ds", t, start], end: ["ds", t, after(prefix)] };
    for await (const e of this.#meta.list({ ...scan, limit: from.limit })) {
      const key = e.key[2] as Uint8Array;
      out.push({ path: text.decode(key.subarray(1)).replace(/^\//, ""), uuid: e.value });
    }
    return out;
  }

  /**
   * Creates runs, subruns and events (idempotent), checking their parents
   * exist; `NotFoundError` naming the first missing one.
   */
  async create(items: readonly Uint8Array[]): Promise<number> {
    const levels = items.map(itemLevel);
    // Parents created by this same request count as existing (a write batch
    // sends them together); an event is nobody's parent.
    const created = new Set<string>();
    levels.forEach((level, i) => {
      if (level === 0) throw new InvalidRequestError("Invalid item: a dataset is created by name");
      if (level < 3) created.add(bytesKey(items[i]!));
    });
    // Each parent once, and its children's target once: both follow from
    // the parent's numbers, which a batch's events share a subrun at a time.
    const parents = new Map<string, Uint8Array>();
    const ops: MetaOp[] = new Array(items.length);
    let previous = -1;
    let target = 0;
    items.forEach((item, i) => {
      const level = levels[i]!;
      if (
        previous < 0 || levels[previous] !== level || !sameParent(item, items[previous]!, level)
      ) {
        const parent = parentDescriptor(item);
        const id = bytesKey(parent);
        if (level === 1 || !created.has(id)) parents.set(id, parent);
        target = descriptorTarget(item, level, this.#ring);
      }
      previous = i;
      ops[i] = { type: "put", key: [LEVEL_NS[level]!, target, item], value: EMPTY };
    });
    await this.#checkExist([...parents.values()]);
    await this.#meta.write(ops);
    for (const i of items) this.#remember(i);
    return ops.length;
  }

  /** Whether each item exists. */
  async exists(items: readonly Uint8Array[]): Promise<boolean[]> {
    const decoded = items.map(decodeItem);
    const out: boolean[] = new Array(decoded.length).fill(false);
    const keys: Deno.KvKey[] = [];
    const at: number[] = [];
    for (let i = 0; i < decoded.length; i++) {
      const item = decoded[i]!;
      const kind = kindOf(item);
      if (kind === "dataset") {
        keys.push(["uuid", item.uuid]);
        if (item.uuid.every((b, j) => b === datasetUuid([])[j])) {
          out[i] = true;
          continue;
        }
      } else keys.push([NS[kind], itemTarget(item, this.#ring), items[i]!]);
      at.push(i);
    }
    const found = await this.#meta.has(keys);
    found.forEach((f, j) => out[at[j]!] = f);
    return out;
  }

  /**
   * Whether each item exists, as `exists`: items of one kind and target
   * (the events of a batch's subruns, say) are read as one scan of the key
   * range between them, unless it holds many more keys than they are
   * (then, and for the rest, key by key).
   */
  async #existAll(items: readonly Uint8Array[]): Promise<boolean[]> {
    const out: boolean[] = new Array(items.length).fill(false);
    const groups = new Map<string, { ns: string; target: number; at: number[] }>();
    const single: number[] = [];
    items.forEach((bytes, i) => {
      const item = decodeItem(bytes);
      const kind = kindOf(item);
      if (kind === "dataset") return single.push(i);
      const target = itemTarget(item, this.#ring);
      const id = `${kind}/${target}`;
      const g = groups.get(id) ?? { ns: NS[kind], target, at: [] };
      g.at.push(i);
      groups.set(id, g);
    });
    await Promise.all([...groups.values()].map(async ({ ns, target, at }) => {
      if (at.length < RANGE_MIN) return single.push(...at);
      at.sort((a, b) => compareKeyParts(items[a]!, items[b]!));
      const last = items[at[at.length - 1]!]!;
      const limit = RANGE_MIN * at.length;
      const found = new Set<string>();
      for await (
        const k of this.#meta.keys({
          prefix: [ns, target],
          start: [ns, target, items[at[0]!]!],
          end: [ns, target, joinBytes([last, new Uint8Array([0])])],
          limit,
        })
      ) found.add(bytesKey(k[2] as Uint8Array));
      // A range crowded with other items: read these key by key instead.
      if (found.size >= limit) return single.push(...at);
      for (const i of at) out[i] = found.has(bytesKey(items[i]!));
    }));
    if (single.length > 0) {
      const got = await this.exists(single.map((i) => items[i]!));
      single.forEach((i, k) => out[i] = got[k]!);
    }
    return out;
  }

  /**
   * The children of `parent` (a dataset's runs, a run's subruns, a
   * subrun's events) in numeric order, from a number on.
   */
  async children(parent: Uint8Array, from: ListFrom): Promise<Item[]> {
    const p = decodeItem(parent);
    const kind = kindOf(p);
    if (kind === "event") throw new InvalidRequestError("Invalid parent: events have no children");
    const child = (n: bigint): Item =>
      kind === "dataset"
        ? { uuid: p.uuid, run: n, subrun: INVALID, event: INVALID }
        : kind === "run"
        ? { ...p, subrun: n, event: INVALID }
        : { ...p, event: n };
    const first = typeof from.from === "bigint" ? from.from + (from.exclusive ? 1n : 0n) : 0n;
    if (first >= INVALID) return [];
    const probe = child(0n);
    const ns = NS[kindOf(probe) as Exclude<ItemKind, "dataset">];
    const t = itemTarget(probe, this.#ring);
    const out: Item[] = [];
    for await (
      const key of this.#meta.keys({
        prefix: [ns, t],
        start: [ns, t, encodeItem(child(first))],
        end: [ns, t, encodeItem(child(INVALID))],
        limit: from.limit,
      })
    ) out.push(decodeItem(key[2] as Uint8Array));
    return out;
  }

  /**
   * The events of dataset `uuid` held by `target`, in (run, subrun, event)
   * order, after the descriptor `after` when given.
   */
  async events(
    uuid: Uint8Array,
    target: number,
    options: { readonly after?: Uint8Array; readonly limit: number },
  ): Promise<Uint8Array[]> {
    if (!Number.isInteger(target) || target < 0 || target >= this.#ring.numTargets) {
      throw new InvalidRequestError(
        `Invalid target ${target}: expected 0 to ${this.#ring.numTargets - 1}`,
        { fields: { target, numTargets: this.#ring.numTargets } },
      );
    }
    const low = encodeItem({ uuid, run: 0n, subrun: 0n, event: 0n });
    const high = encodeItem({ uuid, run: INVALID, subrun: INVALID, event: INVALID });
    const start = options.after === undefined
      ? low
      : joinBytes([options.after, new Uint8Array([0])]);
    const out: Uint8Array[] = [];
    for await (
      const key of this.#meta.keys({
        prefix: ["ev", target],
        start: ["ev", target, start],
        end: ["ev", target, high],
        limit: options.limit,
      })
    ) out.push(key[2] as Uint8Array);
    return out;
  }

  /**
   * Stores products; per product, whether it was stored (false: it was
   * stored before and the policy keeps the first value). `NotFoundError`
   * when an item does not exist. The values are kept as they are (a
   * memory tier and the value cache may hold views of their buffers, a
   * request body): callers must not change them afterwards.
   */
  async store(products: readonly ProductWrite[]): Promise<boolean[]> {
    return await this.#store(
      products,
      (type, keys) =>
        this.#meta.write(keys.map((key, i) => ({ type, key, value: products[i]!.value }))),
      (i) => products[i]!.value,
    );
  }

  /**
   * Stores products whose values lie back to back in a file of this node
   * (a staged request body), as `store` does: the file is kept as one pack,
   * each value a range of it (`ServiceMeta.writeRanges`), never read into
   * this process but for its CRC-32 nor written again.
   */
  async storeStaged(file: StagedFile, products: readonly StagedProduct[]): Promise<boolean[]> {
    return await this.#store(
      products,
      (type, keys) =>
        this.#meta.writeRanges(
          file,
          keys.map((key, i) => ({ type, key, at: products[i]!.at, length: products[i]!.size })),
        ),
      // Read from the pack when loaded: the cache forgets them.
      () => undefined,
    );
  }

  /**
   * Stores `products` with `write` (the keys to set, by the overwrite
   * policy's kind of set), keeping in the cache what `cached` answers for
   * each applied product of a target it follows.
   */
  async #store(
    products: readonly ProductRef[],
    write: (type: "set" | "setIfAbsent", keys: Deno.KvKey[]) => Promise<boolean[]>,
    cached: (i: number) => Uint8Array | undefined,
  ): Promise<boolean[]> {
    await this.#checkExist(products.map((p) => p.item));
    const type = this.overwrite === "overwrite" ? "set" : "setIfAbsent";
    const cacheKeys: Uint8Array[] = [];
    const cachedAt: number[] = [];
    const keys = products.map((p, i) => {
      const t = productTarget(p.item, this.#ring);
      const key = productKey(p.item, p.label, p.type);
      if (this.#cached(t)) {
        // The key loads look it up by: its KV key's bytes.
        cacheKeys.push(key);
        cachedAt.push(i);
      }
      return ["prod", t, key];
    });
    if (cacheKeys.length === 0) return await write(type, keys);
    let applied: boolean[] = [];
    await this.#cache.write(cacheKeys, async () => {
      applied = await write(type, keys);
      return cachedAt.map((i) => applied[i] ? cached(i) : undefined);
    });
    return applied;
  }

  /**
   * Loads products (undefined where none is stored), or byte ranges of
   * them. Small products of the targets the cache follows come from memory
   * when held there; the others are read from KV (and kept for next time).
   * The bytes answered are shared with the cache: callers must not change
   * them.
   */
  async load(products: readonly ProductRead[]): Promise<(Uint8Array | undefined)[]> {
    const since = this.#cache.epoch;
    const values = new Array<Uint8Array | undefined>(products.length);
    const missed: number[] = [];
    const keys: Deno.KvKey[] = [];
    const cacheKeys: (Uint8Array | undefined)[] = [];
    // Ranges of products not in memory are read alone: from a blob in a
    // file, only the pieces holding them (a few elements of a large array).
    const ranged: Promise<void>[] = [];
    // Whole products from memory whose range is cut at the end.
    const cut = new Set<number>();
    products.forEach((p, i) => {
      // Checked as decodeItem checks it (40 bytes), without decoding it.
      if (p.item.byteLength !== DESCRIPTOR_BYTES) decodeItem(p.item);
      const t = productTarget(p.item, this.#ring);
      const cached = this.#cached(t);
      // Looked up by a key written into a buffer of the store's; a key of its own only for a
      // product not held in memory.
      const hit = cached ? this.#cache.get(this.#lookupKey(p)) : undefined;
      const range = p.offset !== undefined || p.length !== undefined;
      if (hit !== undefined) {
        values[i] = hit;
        if (range) cut.add(i);
        return;
      }
      const key = productKey(p.item, p.label, p.type);
      const c = cached ? key : undefined;
      if (range) {
        const start = p.offset ?? 0;
        ranged.push(
          this.#meta.getRange(["prod", t, key], start, p.length)
            .then((got) => {
              if (got === undefined) return;
              // A small product held in KV came whole: kept for next time, as whole loads are.
              if (got.whole !== undefined && c !== undefined) this.#cache.fill(c, got.whole, since);
              // Refused as `rangeOf` refuses it: no bytes come for a range outside the product.
              if (got.bytes === undefined) rangeOf(p, got.size);
              values[i] = got.bytes;
            }),
        );
      } else {
        missed.push(i);
        keys.push(["prod", t, key]);
        cacheKeys.push(c);
      }
    });
    // The ranges and the whole products are read at once.
    const whole = missed.length === 0
      ? Promise.resolve()
      : this.#meta.getMany(keys).then((read) =>
        read.forEach((v, j) => {
          values[missed[j]!] = v;
          const c = cacheKeys[j];
          if (v !== undefined && c !== undefined) this.#cache.fill(c, v, since);
        })
      );
    await Promise.all([...ranged, whole]);
    return values.map((v, i) => {
      const p = products[i]!;
      if (v === undefined || !cut.has(i)) return v;
      const { start, end } = rangeOf(p, v.length);
      return v.subarray(start, end);
    });
  }

  /**
   * Where products are for a process of this node to read them in place
   * (`ServiceMeta.leaseMany`): undefined where none is stored, the bytes of
   * a small product (from the cache or KV), a range of a leased file on
   * this node's shm tier, or the size alone of one held elsewhere (load
   * it). Byte ranges (`offset`, `length`) are cut as `load` cuts them.
   */
  async lease(
    products: readonly ProductRead[],
    options: { readonly ttlMs?: number } = {},
  ): Promise<(MetaLease | undefined)[]> {
    const out = new Array<MetaLease | undefined>(products.length);
    const missed: number[] = [];
    products.forEach((p, i) => {
      if (p.item.byteLength !== DESCRIPTOR_BYTES) decodeItem(p.item);
      const t = productTarget(p.item, this.#ring);
      const hit = this.#cached(t) ? this.#cache.get(this.#lookupKey(p)) : undefined;
      if (hit !== undefined) out[i] = { bytes: hit };
      else missed.push(i);
    });
    const found = await this.#meta.leaseMany(
      missed.map((i) => {
        const p = products[i]!;
        return ["prod", productTarget(p.item, this.#ring), productKey(p.item, p.label, p.type)];
      }),
      options,
    );
    missed.forEach((i, j) => out[i] = found[j]);
    return out.map((v, i) => v === undefined ? v : cut(v, products[i]!));
  }

  /** The products of an item (those of one label when given): labels and type names. */
  async products(item: Uint8Array, label?: string): Promise<{ label: string; type: string }[]> {
    decodeItem(item);
    const t = productTarget(item, this.#ring);
    const prefix = label === undefined ? item : productKey(item, label, "x").subarray(0, -1);
    const out: { label: string; type: string }[] = [];
    for await (
      const key of this.#meta.keys({
        prefix: ["prod", t],
        start: ["prod", t, prefix],
        end: ["prod", t, after(prefix)],
        limit: 10_000,
      })
    ) out.push(splitProductKey(key[2] as Uint8Array));
    return out;
  }

  /** Drops from the cache the products another writer's commit set. */
  #forget(keys: readonly Deno.KvKey[]): void {
    for (const k of keys) {
      if (k[0] === "prod" && k[2] instanceof Uint8Array) this.#cache.forget(k[2]);
    }
  }

  /**
   * `p`'s key in a buffer this store reuses: for a cache lookup only (the
   * next call overwrites it).
   */
  #lookupKey(p: ProductRef): Uint8Array {
    return productKeyInto(this.#scratch, p.item, p.label, p.type);
  }

  /**
   * Remembers that `item` exists: a copy of it (an item is most often a
   * view of a request's body, which it would keep in memory).
   */
  #remember(item: Uint8Array, h = this.#known.hash(item)): void {
    if (this.#known.size >= KNOWN_ITEMS / 2) {
      this.#knownBefore = this.#known;
      this.#known = new BytesMap();
    }
    this.#known.set(item.slice(), true, h);
  }

  async #checkExist(items: readonly Uint8Array[]): Promise<void> {
    // Each item once, those not remembered: looked up by their bytes (both
    // generations hash alike), not by a string made of them.
    const unique: Uint8Array[] = [];
    let seen: BytesMap<true> | undefined;
    let previous: Uint8Array | undefined;
    for (const i of items) {
      // A batch's products often name one item after another: looked up once.
      if (previous !== undefined && bytesEqual(previous, i)) continue;
      previous = i;
      const h = this.#known.hash(i);
      if (this.#known.has(i, h) || this.#knownBefore.has(i, h)) continue;
      seen ??= new BytesMap();
      if (seen.has(i, h)) continue;
      seen.set(i, true, h);
      unique.push(i);
    }
    if (unique.length === 0) return;
    const found = await this.#existAll(unique);
    unique.forEach((i, k) => found[k] && this.#remember(i));
    const missing = found.indexOf(false);
    if (missing >= 0) {
      const m = decodeItem(unique[missing]!);
      const kind = kindOf(m);
      throw new NotFoundError(`No ${kind} ${describe(m)}`, {
        fields: { kind, run: String(m.run), subrun: String(m.subrun), event: String(m.event) },
      });
    }
  }
}

/** The byte range `p` asks for of a product of `size` bytes; `InvalidRequestError` outside it. */
function rangeOf(p: ProductRead, size: number): { start: number; end: number } {
  const start = p.offset ?? 0;
  const end = p.length === undefined ? size : start + p.length;
  if (start < 0 || end > size || end < start) {
    throw new InvalidRequestError(
      `Invalid range ${start}..${end} of product '${p.label}': it holds ${size} bytes`,
      { fields: { label: p.label, offset: start, end, size } },
    );
  }
  return { start, end };
}

/** `v` cut to the byte range `p` asks for (`InvalidRequestError` for one outside it). */
function cut(v: MetaLease, p: ProductRead): MetaLease {
  if (p.offset === undefined && p.length === undefined) return v;
  const { start, end } = rangeOf(p, "bytes" in v ? v.bytes.byteLength : v.size);
  if ("bytes" in v) return { bytes: v.bytes.subarray(start, end) };
  if ("path" in v) return { ...v, at: v.at + start, size: end - start };
  return { size: end - start };
}

/**
 * Items remembered as existing, at most: about 280 bytes each (a copy of its
 * 40-byte descriptor and its map entry, measured with V8's heap counters), so
 * at most about 72 MB.
 */
const KNOWN_ITEMS = 1 << 18;

/** Items of one kind and target read as a key range rather than key by key, at least. */
const RANGE_MIN = 4;

function describe(item: Item): string {
  const parts = [`run ${item.run}`];
  if (item.subrun !== INVALID) parts.push(`subrun ${item.subrun}`);
  if (item.event !== INVALID) parts.push(`event ${item.event}`);
  return item.run === INVALID ? "dataset" : parts.join(", ");
}

/** The first byte string after every string starting with `prefix`. */
function after(prefix: Uint8Array): Uint8Array {
  const out = prefix.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 0xff) {
      out[i]!++;
      return out.subarray(0, i + 1);
    }
  }
  return joinBytes([prefix, new Uint8Array([0xff])]);
}
