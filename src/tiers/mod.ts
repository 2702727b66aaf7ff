/**
 * Tier stores (memory, shm, file, backing), their declarations, and the
 * tier set that places, spills and finds a node's fragment copies.
 *
 * @module
 */

export * from "./backing_tier.ts";
export * from "./directory_tier.ts";
export * from "./file_tier.ts";
export * from "./memory_tier.ts";
export * from "./shm_tier.ts";
export * from "./tier.ts";
export * from "./tier_config.ts";
export * from "./check_decision.ts";
export * from "./load_policy.ts";
export * from "./open_tier.ts";
export * from "./policy.ts";
export * from "./tier_set.ts";
export * from "./usage.ts";
export * from "./report.ts";
export * from "./memory_and_file.ts";
export * from "./copy_keys.ts";
export * from "./estimate.ts";
export * from "./fastest_fit.ts";
export { default as fastestFit } from "./fastest_fit.ts";
export * from "./spill.ts";
