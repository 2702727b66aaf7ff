/**
 * emptiest: an example of a custom policy module (config:
 * `placement: placements/emptiest.ts`). Each copy goes to the tier with the
 * largest share of its capacity free, on any node, spreading bytes evenly
 * instead of chasing speed; a durable fragment's copy goes to the emptiest
 * persistent tier. Reshapes run where the copy is.
 *
 * A policy module exports one function (default export, or `place`) that
 * reads its request and returns a decision: no I/O, no clock, no state
 * (use `request.sequence` to rotate). An answer that names a tier that does
 * not exist or cannot take the copy is reported and fastest-fit places the
 * copy instead.
 *
 * @module
 */

import type { PlacementDecision, PlacementRequest } from "../src/tiers/policy.ts";

/**
 * Places the copy on the emptiest tier, by share of capacity free, that can
 * take it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import emptiest from "./emptiest.ts";
 * const tier = (name: string, used: number) => ({ name, kind: "file", capacity: 100, used, free: 100 - used, room: 100 - used, bandwidth: 1e9, latency: 0, persistent: true } as const);
 * const nodes = [{ name: "n1", link: { bandwidth: Infinity, latency: 0 }, tiers: [tier("a", 70), tier("b", 20)] }];
 * const fragment = { dataset: "d", version: 1, fragment: "dataset", bindings: {}, byteLength: 10, durable: true, consumers: [] };
 * assert.deepEqual(emptiest({ fragment, node: "n1", nodes, sequence: 0 }).copies, [{ node: "n1", tier: "b" }]);
 * ```
 */
export default function emptiest(request: PlacementRequest): PlacementDecision {
  const { byteLength, durable } = request.fragment;
  let best: { node: string; tier: string; share: number } | undefined;
  for (const node of request.nodes) {
    for (const tier of node.tiers) {
      if (tier.free < byteLength || (durable && !tier.persistent)) continue;
      const share = tier.free / tier.capacity;
      if (best === undefined || share > best.share) {
        best = { node: node.name, tier: tier.name, share };
      }
    }
  }
  return {
    copies: best === undefined ? [] : [{ node: best.node, tier: best.tier }],
    reshape: "source",
  };
}
