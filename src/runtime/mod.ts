/**
 * The node runtime: publish (store, then register), attach (look up, read,
 * check, transform), commit and retention, with the buffer pool, checksums
 * and plan chunks it works with. It reaches name servers through
 * `NameService` (`src/name_service/`) and other runtimes over the data plane
 * (`src/wire/`).
 *
 * @module
 */

export * from "./buffer_pool.ts";
export * from "./checksum.ts";
export * from "./map_limit.ts";
export * from "./peers.ts";
export * from "./piece_sums.ts";
export * from "./plan_cache.ts";
export * from "./plan_chunks.ts";
export * from "./replica_client.ts";
export * from "./runtime.ts";
export * from "./shared_reads.ts";
export * from "./staged_copies.ts";
export * from "./turns.ts";
