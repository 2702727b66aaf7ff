/**
 * HEPnOS, the event store of high energy physics, on Strata's service kit:
 * the key codec and placement, the store, the service and its TypeScript
 * client. See docs/services.md.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDatasetName } from "./mod.ts";
 * assert.equal(checkDatasetName("nova"), "nova");
 * ```
 *
 * @module
 */

export * from "./codec.ts";
export * from "./parallel.ts";
export * from "./placement.ts";
export * from "./service.ts";
export * from "./store.ts";
export * from "./batch.ts";
export * from "./client.ts";
export * from "./items.ts";
export * from "./prefetcher.ts";
export * from "./product_list.ts";
export * from "./processor.ts";
