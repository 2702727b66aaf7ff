/**
 * The built-in placement policies, by the names config uses, and the spill
 * rule every policy works with.
 *
 * @module
 */

import type { PlacementPolicy } from "../src/tiers/policy.ts";
import consumerNear from "./consumer_near.ts";
import fastestFit from "./fastest_fit.ts";
import roundRobin from "./round_robin.ts";

export {
  planSpill,
  type SpillCopy,
  type SpillMove,
  type SpillRequest,
  type SpillTier,
} from "./spill.ts";
export { consumerNear, fastestFit, roundRobin };

/** The policy used when config names none, and when a configured policy fails. */
export const DEFAULT_POLICY = "fastest-fit";

/**
 * Built-in policies by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BUILTIN_POLICIES, DEFAULT_POLICY } from "./mod.ts";
 * assert.deepEqual(Object.keys(BUILTIN_POLICIES), ["fastest-fit", "round-robin", "consumer-near"]);
 * assert.ok(DEFAULT_POLICY in BUILTIN_POLICIES);
 * ```
 */
export const BUILTIN_POLICIES: Readonly<Record<string, PlacementPolicy>> = {
  "fastest-fit": fastestFit,
  "round-robin": roundRobin,
  "consumer-near": consumerNear,
};
