/**
 * Estimates placement policies share: whether a copy fits a tier, and how
 * long reading it from there takes.
 *
 * @module
 */

import type { NodeView, TierView } from "./policy.ts";

/**
 * Whether `tier` can take `bytes`, spilling if it must.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fits } from "./estimate.ts";
 * const tier = { name: "m", kind: "memory", capacity: 100, used: 90, free: 10, room: 50, bandwidth: 1e9, latency: 0, persistent: false } as const;
 * assert.ok(fits(tier, 50));
 * assert.ok(!fits(tier, 51));
 * ```
 */
export function fits(tier: TierView, bytes: number): boolean {
  return tier.capacity >= bytes && tier.room >= bytes;
}

/**
 * Estimated seconds to read `bytes` from `tier` on `node` from the
 * publishing node: both latencies, then the bytes at the slower of the link
 * and the tier.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { accessTime } from "./estimate.ts";
 * const tier = (name: string, free: number, bandwidth: number) => ({
 *   name, kind: "memory", capacity: 1000, used: 1000 - free, free, room: free,
 *   bandwidth, latency: 0, persistent: false,
 * } as const);
 * const node = { name: "n1", link: { bandwidth: 1e10, latency: 0 }, tiers: [tier("fast", 10, 1e10), tier("slow", 1000, 1e9)] };
 * assert.equal(accessTime(node, node.tiers[1]!, 1e9), 1);
 * ```
 */
export function accessTime(node: NodeView, tier: TierView, bytes: number): number {
  return node.link.latency + tier.latency + bytes / Math.min(node.link.bandwidth, tier.bandwidth);
}

/**
 * The tier of `node` with the least access time for `bytes` that fits and passes `accept`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fastestOn } from "./estimate.ts";
 * const tier = (name: string, free: number, bandwidth: number) => ({
 *   name, kind: "memory", capacity: 1000, used: 1000 - free, free, room: free,
 *   bandwidth, latency: 0, persistent: false,
 * } as const);
 * const node = { name: "n1", link: { bandwidth: 1e10, latency: 0 }, tiers: [tier("fast", 10, 1e10), tier("slow", 1000, 1e9)] };
 * assert.equal(fastestOn(node, 8)?.name, "fast");
 * assert.equal(fastestOn(node, 64)?.name, "slow");
 * assert.equal(fastestOn(node, 8, (t) => t.persistent), undefined);
 * ```
 */
export function fastestOn(
  node: NodeView,
  bytes: number,
  accept: (tier: TierView) => boolean = () => true,
): TierView | undefined {
  let best: TierView | undefined;
  let bestTime = Infinity;
  for (const tier of node.tiers) {
    if (!fits(tier, bytes) || !accept(tier)) continue;
    const t = accessTime(node, tier, bytes);
    if (t < bestTime) {
      best = tier;
      bestTime = t;
    }
  }
  return best;
}
