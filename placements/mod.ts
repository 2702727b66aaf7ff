/**
 * The built-in placement policies, by the names config uses. `strata` hands
 * them to the tiers (`loadPolicy(spec, { builtins: BUILTIN_POLICIES })`);
 * the default, fastest-fit, and the spill rule live with the tiers
 * (`src/tiers/fastest_fit.ts`, `src/tiers/spill.ts`).
 *
 * @module
 */

import type { PlacementPolicy } from "../src/tiers/policy.ts";
import fastestFit from "../src/tiers/fastest_fit.ts";
import consumerNear from "./consumer_near.ts";
import roundRobin from "./round_robin.ts";

export { DEFAULT_POLICY } from "../src/tiers/load_policy.ts";
export { consumerNear, fastestFit, roundRobin };

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
