/**
 * The registry (name server state) on Deno KV. See docs/registry.md.
 *
 * @module
 */

export * from "./coverage.ts";
export * from "./group_commit.ts";
export * from "./records.ts";
export * from "./registry.ts";
