/**
 * Helpers the built-in policies share: fit and access-time estimates.
 *
 * @module
 */

import type { NodeView, TierView } from "../src/tiers/policy.ts";

/** Whether `tier` can take `bytes`, spilling if it must. */
export function fits(tier: TierView, bytes: number): boolean {
  return tier.capacity >= bytes && tier.room >= bytes;
}

/**
 * Estimated seconds to read `bytes` from `tier` on `node` from the
 * publishing node: both latencies, then the bytes at the slower of the link
 * and the tier.
 */
export function accessTime(node: NodeView, tier: TierView, bytes: number): number {
  return node.link.latency + tier.latency + bytes / Math.min(node.link.bandwidth, tier.bandwidth);
}

/** The tier of `node` with the least access time for `bytes` that fits and passes `accept`. */
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
