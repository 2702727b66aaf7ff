/**
 * Several processes: the name service over HTTP for runtimes in their own
 * processes, dataset sharding over name servers, node leases and release
 * notices. See docs/nodes.md.
 *
 * @module
 */

export * from "./control_call.ts";
export * from "./lease.ts";
export * from "./name_client.ts";
export * from "./node_book.ts";
export * from "./release_log.ts";
export * from "./shard.ts";
export * from "./publish_order.ts";
export * from "./stream_credits.ts";
