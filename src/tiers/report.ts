/**
 * What `GET /v1/nodes` shows of a node's tiers: capacity, usage, copy counts
 * and speed of each, and how its placement policy is doing.
 *
 * @module
 */

import type { PolicyStatus, TierSet, TierUsage } from "./tier_set.ts";

/** A node's tiers, as `GET /v1/nodes` reports them. */
export interface NodeTierReport {
  /** Node name. */
  readonly node: string;
  /** The placement policy and its fallbacks to the default. */
  readonly placement: PolicyStatus;
  /** Each tier, fastest first. */
  readonly tiers: readonly TierUsage[];
  /** Bytes held on all tiers (a copy on two tiers counts twice). */
  readonly used: number;
  /** Capacity of all tiers. */
  readonly capacity: number;
  /** Fragment copies held (a copy on two tiers counts once). */
  readonly fragments: number;
}

/**
 * The tier part of a node's entry in `GET /v1/nodes`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KIND_DEFAULTS, MemoryTier, TierSet } from "./mod.ts";
 * import { tierReport } from "./report.ts";
 * const tiers = new TierSet({
 *   node: "n1",
 *   tiers: [{ tier: new MemoryTier("memory", 100), spec: { name: "memory", kind: "memory", capacity: 100, ...KIND_DEFAULTS.memory } }],
 * });
 * await tiers.store("d/1/dataset/", new Uint8Array(10), { dataset: "d", version: 1, fragment: "dataset", bindings: {}, byteLength: 10, durable: false, consumers: [] });
 * const r = tierReport(tiers);
 * assert.deepEqual([r.node, r.used, r.capacity, r.fragments, r.placement.name], ["n1", 10, 100, 1, "fastest-fit"]);
 * assert.deepEqual([r.tiers[0]!.count, r.tiers[0]!.free], [1, 90]);
 * ```
 */
export function tierReport(tiers: TierSet): NodeTierReport {
  const usage = tiers.usage();
  return {
    node: tiers.node,
    placement: tiers.policy,
    tiers: usage,
    used: usage.reduce((n, u) => n + u.used, 0),
    capacity: usage.reduce((n, u) => n + u.capacity, 0),
    fragments: tiers.keys().length,
  };
}
