/**
 * The registry (name server state) on Deno KV: datasets, versions, published
 * fragment locations and nodes. See docs/registry.md.
 *
 * @module
 */

export * from "./batch.ts";
export * from "./box_set.ts";
export * from "./coverage.ts";
export * from "./group_commit.ts";
export * from "./interval_grid.ts";
export * from "./keys.ts";
export * from "./named_map.ts";
export * from "./notice_queue.ts";
export * from "./records.ts";
export * from "./region_index.ts";
export * from "./registry.ts";
export * from "./retention.ts";
export * from "./validate.ts";
export * from "./waiters.ts";
