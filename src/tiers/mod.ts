/**
 * Tier stores: where a runtime holds fragment copies.
 *
 * @module
 */

export * from "./file_tier.ts";
export * from "./memory_tier.ts";
export * from "./tier.ts";
