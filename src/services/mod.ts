/**
 * The service kit: namespaced metadata in the registry's KV, checksummed
 * blobs in the node's tiers, targets with virtual nodes, and the contract a
 * service implements to be served under `/v1/services/<name>/`. See
 * docs/services.md.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TargetRing } from "./mod.ts";
 * assert.equal(new TargetRing(3).numTargets, 3);
 * ```
 *
 * @module
 */

export * from "./blobs.ts";
export * from "./bytes_map.ts";
export * from "./config.ts";
export * from "./frames.ts";
export * from "./hash.ts";
export * from "./input.ts";
export * from "./keyed_queue.ts";
export * from "./host.ts";
export * from "./kv_limits.ts";
export * from "./kv_order.ts";
export * from "./meta.ts";
export * from "./meta_kv.ts";
export * from "./remote_meta_kv.ts";
export * from "./service.ts";
export * from "./service_client.ts";
export * from "./targets.ts";
export * from "./builtin.ts";
