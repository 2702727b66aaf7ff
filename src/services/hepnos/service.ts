/**
 * HEPnOS as a service of the kit: its operations, served as
 * `POST /v1/services/hepnos/<operation>` with msgpack bodies (product
 * values and item descriptors are bytes). See docs/services.md.
 *
 * @module
 */

import { InvalidConfigError } from "../../errors.ts";
import { hash32 } from "../hash.ts";
import { defineService, type ServiceDefinition } from "../service.ts";
import { checkU64, decodeItem, encodeItem } from "./codec.ts";
import { ProcessorJobs } from "./parallel.ts";
import { productTarget } from "./placement.ts";
import { HepnosStore, type OverwritePolicy } from "./store.ts";
import { bytes, int, list, MAX_ENTRIES, record, str } from "./_input.ts";

/**
 * The HEPnOS service. Option `overwrite` (default false): whether a second
 * store of a product replaces it (Yokan's default) or is refused with a
 * false answer (HEPnOS's documented rule).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hepnos } from "./service.ts";
 * assert.equal(hepnos.name, "hepnos");
 * assert.deepEqual(hepnos.options, ["overwrite"]);
 * ```
 */
export const hepnos: ServiceDefinition = defineService({
  name: "hepnos",
  options: ["overwrite"],
  open: (ctx) => {
    const o = ctx.options.overwrite ?? false;
    if (typeof o !== "boolean") {
      throw new InvalidConfigError(
        `Invalid configuration: 'services.${ctx.name}.options.overwrite' must be true or false`,
      );
    }
    const policy: OverwritePolicy = o ? "overwrite" : "keep";
    const store = new HepnosStore(ctx.meta, ctx.targets, policy);
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
      close: () => Promise.resolve(),
      // A product's blob lands in the tiers of its target's runtime.
      routes: {
        store: {
          list: "products",
          answer: "stored",
          target: (p) => productTarget(bytes(record(p).item, "item"), ctx.targets),
        },
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
        load: async (input) => {
          const products = list(record(input), "products").map((p) => {
            const q = record(p);
            const range = q.offset === undefined && q.length === undefined ? {} : {
              offset: int(q, "offset", 0, Number.MAX_SAFE_INTEGER, 0),
              ...(q.length === undefined
                ? {}
                : { length: int(q, "length", 0, Number.MAX_SAFE_INTEGER) }),
            };
            return {
              item: bytes(q.item, "item"),
              label: str(q, "label"),
              type: str(q, "type"),
              ...range,
            };
          });
          return { values: (await store.load(products)).map((v) => v ?? null) };
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
