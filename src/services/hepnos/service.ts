/**
 * HEPnOS as a service of the kit: its operations, served as
 * `POST /v1/services/hepnos/<operation>` with msgpack bodies (product
 * values and item descriptors are bytes). See docs/services.md.
 *
 * @module
 */

import { InvalidConfigError, InvalidRequestError } from "../../errors.ts";
import { frame } from "../frames.ts";
import { hash32 } from "../hash.ts";
import { type MetaLease, PACK_FROM_BYTES } from "../meta.ts";
import { defineService, RawBody, rawBodyOf, RawReply, type ServiceDefinition } from "../service.ts";
import type { TargetRing } from "../targets.ts";
import { checkU64, decodeItem, encodeItem } from "./codec.ts";
import { ProcessorJobs } from "./parallel.ts";
import { productTarget } from "./placement.ts";
import { productListFrom, productListOf } from "./product_list.ts";
import {
  DEFAULT_CACHE_BYTES,
  HepnosStore,
  type OverwritePolicy,
  type ProductRead,
  type StagedProduct,
} from "./store.ts";
import { bytes, int, leaseOptions, list, MAX_ENTRIES, record, str } from "../input.ts";

/**
 * The HEPnOS service. Products travel as msgpack (`store`, `load`) or as
 * raw bytes (`store_bytes`: a framed batch in, `load_bytes`: a framed
 * answer out; see docs/services.md). Option `overwrite` (default false): whether a second
 * store of a product replaces it (Yokan's default) or is refused with a
 * false answer (HEPnOS's documented rule). Option `cacheBytes` (default
 * 256 MiB, 0: none): bytes of small products kept in memory for loads.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hepnos } from "./service.ts";
 * assert.equal(hepnos.name, "hepnos");
 * assert.deepEqual(hepnos.options, ["overwrite", "cacheBytes"]);
 * ```
 */
export const hepnos: ServiceDefinition = defineService({
  name: "hepnos",
  options: ["overwrite", "cacheBytes"],
  open: (ctx) => {
    const o = ctx.options.overwrite ?? false;
    if (typeof o !== "boolean") {
      throw new InvalidConfigError(
        `Invalid configuration: 'services.${ctx.name}.options.overwrite' must be true or false`,
      );
    }
    const cacheBytes = ctx.options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    if (!Number.isSafeInteger(cacheBytes) || (cacheBytes as number) < 0) {
      throw new InvalidConfigError(
        `Invalid configuration: 'services.${ctx.name}.options.cacheBytes' must be a byte count of 0 or more, found ${
          JSON.stringify(cacheBytes)
        }`,
      );
    }
    const policy: OverwritePolicy = o ? "overwrite" : "keep";
    const store = new HepnosStore(ctx.meta, ctx.targets, policy, {
      node: ctx.blobs.node,
      cacheBytes: cacheBytes as number,
    });
    const jobs = new ProcessorJobs({
      targets: ctx.targets.numTargets,
      source: (dataset) => (target, after, limit) =>
        store.events(dataset, target, { ...(after === undefined ? {} : { after }), limit }),
    });
    const jobTarget = (input: unknown) =>
      ctx.targets.targetOf(hash32(new TextEncoder().encode(str(record(input), "job"))));
    const limit = (r: Record<string, unknown>) => int(r, "limit", 1, MAX_ENTRIES, 1000);
    const from = (r: Record<string, unknown>) =>
      r.from === undefined || r.from === null ? {} : { from: checkU64(r.from, "from") };
    return Promise.resolve({
      name: ctx.name,
      info: () => ({ numTargets: store.numTargets, overwrite: policy === "overwrite" }),
      close: () => {
        store.close();
        return Promise.resolve();
      },
      // A product's blob lands in the tiers of its target's runtime.
      routes: {
        store: {
          list: "products",
          answer: "stored",
          target: (p) => productTarget(bytes(record(p).item, "item"), ctx.targets),
        },
        // A framed store goes whole to one runtime: the client sends each runtime its own.
        store_bytes: { target: (input) => framedTarget(input, ctx.targets) },
        // A job's loaders and cursors live on one runtime: the one its name hashes to.
        processor_start: { target: jobTarget },
        processor_next: { target: jobTarget },
      },
      operations: {
        info: () =>
          Promise.resolve({ numTargets: store.numTargets, overwrite: policy === "overwrite" }),
        create_dataset: async (input) => {
          const r = record(input);
          return await store.createDataSet(str(r, "parent", true), str(r, "name"));
        },
        dataset: async (input) => await store.dataSet(str(record(input), "path")),
        dataset_path: async (input) => ({
          path: await store.pathOf(bytes(record(input).uuid, "uuid")),
        }),
        datasets: async (input) => {
          const r = record(input);
          const start = r.from === undefined || r.from === null ? {} : { from: str(r, "from") };
          return {
            datasets: await store.dataSets(str(r, "parent", true), {
              ...start,
              exclusive: r.exclusive === true,
              limit: limit(r),
            }),
          };
        },
        create: async (input) => {
          const items = list(record(input), "items").map((i) => bytes(i, "items"));
          return { created: await store.create(items) };
        },
        exists: async (input) => {
          const items = list(record(input), "items").map((i) => bytes(i, "items"));
          return { found: await store.exists(items) };
        },
        children: async (input) => {
          const r = record(input);
          const items = await store.children(bytes(r.parent, "parent"), {
            ...from(r),
            exclusive: r.exclusive === true,
            limit: limit(r),
          });
          return { items: items.map(encodeItem) };
        },
        events: async (input) => {
          const r = record(input);
          const after = r.after === undefined || r.after === null
            ? {}
            : { after: bytes(r.after, "after") };
          const items = await store.events(
            bytes(r.dataset, "dataset"),
            int(r, "target", 0, 1 << 20),
            {
              ...after,
              limit: limit(r),
            },
          );
          return { items };
        },
        store: async (input) => {
          const products = list(record(input), "products").map((p) => {
            const q = record(p);
            return {
              item: bytes(q.item, "item"),
              label: str(q, "label"),
              type: str(q, "type"),
              value: bytes(q.value, "value"),
            };
          });
          return { stored: await store.store(products) };
        },
        store_bytes: async (input) => ({ stored: await storeFramed(store, input) }),
        // Where products are for a client on this runtime's node: leased files it reads in place.
        lease_products: async (input) => {
          const r = record(input);
          return {
            products: (await store.lease(productReads(input), leaseOptions(r))).map((v) =>
              v ?? null
            ),
          };
        },
        // The same, framed: the bytes of small products as parts, the other leases in the header.
        lease_bytes: async (input) => {
          const { products, ttlMs } = await productListInput(input);
          return framedLeases(await store.lease(products, leaseOptions({ ttlMs })));
        },
        load_bytes: async (input) => {
          const { products } = await productListInput(input);
          return new RawReply(frame({}, await store.load(products)));
        },
        load: async (input) => {
          return { values: (await store.load(productReads(input))).map((v) => v ?? null) };
        },
        products: async (input) => {
          const r = record(input);
          const item = bytes(r.item, "item");
          decodeItem(item);
          return {
            products: await store.products(
              item,
              r.label === undefined ? undefined : str(r, "label"),
            ),
          };
        },
        processor_start: (input) => {
          const r = record(input);
          return Promise.resolve(jobs.start(str(r, "job"), {
            dataset: bytes(r.dataset, "dataset"),
            ranks: int(r, "ranks", 1, 65536),
            inputBatchSize: int(r, "inputBatchSize", 1, MAX_ENTRIES, 64),
          }));
        },
        processor_next: async (input) => {
          const r = record(input);
          return await jobs.next(
            str(r, "job"),
            int(r, "rank", 0, 65535),
            int(r, "n", 1, MAX_ENTRIES, 16),
          );
        },
      },
    });
  },
});

/**
 * The products to load of a `load_bytes` or `lease_bytes` input: a framed
 * product list (`productListBody`) or msgpack as `load` takes it.
 */
async function productListInput(
  input: unknown,
): Promise<{ products: ProductRead[]; ttlMs: unknown }> {
  if (input instanceof RawBody) return productListOf(await input.read());
  return { products: productReads(input), ttlMs: record(input).ttlMs };
}

/**
 * A framed answer of leases: header `leases`, one entry per product (null
 * where its bytes are the part, or where none is stored and the part is
 * null too), parts the bytes of products answered in full.
 */
function framedLeases(found: readonly (MetaLease | undefined)[]): RawReply {
  const leases = new Array<Exclude<MetaLease, { readonly bytes: Uint8Array }> | null>(
    found.length,
  );
  const parts = new Array<Uint8Array | null>(found.length);
  for (let i = 0; i < found.length; i++) {
    const f = found[i];
    if (f !== undefined && "bytes" in f) {
      leases[i] = null;
      parts[i] = f.bytes;
    } else {
      leases[i] = f ?? null;
      parts[i] = null;
    }
  }
  return new RawReply(frame({ leases }, parts));
}

/** The products to load of a `load` or `load_bytes` input (byte ranges with `offset`, `length`). */
function productReads(input: unknown): ProductRead[] {
  return list(record(input), "products").map((p) => {
    const q = record(p);
    const range = q.offset === undefined && q.length === undefined ? {} : {
      offset: int(q, "offset", 0, Number.MAX_SAFE_INTEGER, 0),
      ...(q.length === undefined ? {} : { length: int(q, "length", 0, Number.MAX_SAFE_INTEGER) }),
    };
    return { item: bytes(q.item, "item"), label: str(q, "label"), type: str(q, "type"), ...range };
  });
}

/**
 * The products a framed `store_bytes` body lists (item, label, type) with
 * where each one's bytes lie in the body: named in its header
 * (`products`), or by a product list (`pairs`, its descriptors and pair
 * indices the first two parts, the values after them).
 */
function framedItems(body: RawBody): StagedProduct[] {
  let items = framedRead.get(body);
  if (items === undefined) framedRead.set(body, items = readFramedItems(body));
  return items;
}

/** What `framedItems` read of a body: its routing and its store both ask. */
const framedRead = new WeakMap<RawBody, StagedProduct[]>();

function readFramedItems(body: RawBody): StagedProduct[] {
  const { header, parts } = body.layout();
  if (header.products === undefined && header.pairs !== undefined) return listedItems(body);
  const products = list(header, "products");
  if (products.length !== parts.length) {
    throw new InvalidRequestError(
      `Invalid store_bytes body: ${products.length} products, ${parts.length} parts`,
      { fields: { products: products.length, parts: parts.length } },
    );
  }
  return products.map((p, i) => {
    const q = record(p);
    const part = parts[i];
    if (part === null || part === undefined) {
      throw new InvalidRequestError(`Invalid store_bytes body: product ${i} has no bytes`);
    }
    return { item: bytes(q.item, "item"), label: str(q, "label"), type: str(q, "type"), ...part };
  });
}

/**
 * The products of a `store_bytes` body that names them with a product
 * list: read from the body's first two parts, each value the part after.
 * A body staged on the node is refused (its head alone is read to route
 * it): the client names a staged batch's products in the header.
 */
function listedItems(body: RawBody): StagedProduct[] {
  const { header, parts } = body.layout();
  if (body.file !== undefined) {
    throw new InvalidRequestError(
      "Invalid store_bytes body: a staged body names its products in its header ('products'), not in a product list",
    );
  }
  const [d, x] = parts;
  if (d == null || x == null) {
    throw new InvalidRequestError(
      "Invalid store_bytes body: a product list needs its descriptors and pair indices as parts 0 and 1",
    );
  }
  if (header.ranges !== undefined) {
    throw new InvalidRequestError(
      "Invalid store_bytes body: a store takes whole products, no 'ranges'",
    );
  }
  const view = (p: { at: number; size: number }) => body.head.subarray(p.at, p.at + p.size);
  const { products } = productListFrom(header, view(d), view(x));
  if (parts.length !== products.length + 2) {
    throw new InvalidRequestError(
      `Invalid store_bytes body: ${products.length} products, ${parts.length - 2} values`,
      { fields: { products: products.length, parts: parts.length - 2 } },
    );
  }
  return products.map((p, i) => {
    const part = parts[i + 2];
    if (part == null) {
      throw new InvalidRequestError(`Invalid store_bytes body: product ${i} has no bytes`);
    }
    return { item: p.item, label: p.label, type: p.type, at: part.at, size: part.size };
  });
}

/**
 * Stores the products of a framed `store_bytes` body. A body the client
 * staged on this node's shm tier whose products are all large enough to
 * be kept as ranges of it (`PACK_FROM_BYTES`) is stored as it is, one
 * pack, never read into this process but for its header and CRC-32; any
 * other body is read and its values stored as views of it.
 */
async function storeFramed(store: HepnosStore, input: unknown): Promise<boolean[]> {
  const body = rawBodyOf(input, "store_bytes");
  const items = framedItems(body);
  if (body.file !== undefined && items.every((p) => p.size >= PACK_FROM_BYTES)) {
    return await store.storeStaged(body.file, items);
  }
  const all = await body.read();
  return await store.store(
    items.map((p) => ({
      item: p.item,
      label: p.label,
      type: p.type,
      value: all.subarray(p.at, p.at + p.size),
    })),
  );
}

/** The target a framed store goes to; its products must all belong to one runtime. */
function framedTarget(input: unknown, ring: TargetRing): number {
  const products = framedItems(rawBodyOf(input, "store_bytes"));
  const targets = products.map((p) => productTarget(p.item, ring));
  const first = targets[0] ?? 0;
  const runtime = ring.runtimeOf(first);
  const other = targets.find((t) => ring.runtimeOf(t) !== runtime);
  if (other !== undefined) {
    throw new InvalidRequestError(
      `Invalid store_bytes batch: targets ${first} and ${other} belong to runtimes '${runtime}' and '${
        ring.runtimeOf(other)
      }'; send each runtime its own batch`,
      { fields: { target: first, other } },
    );
  }
  return first;
}
