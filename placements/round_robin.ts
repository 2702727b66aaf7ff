/**
 * round-robin: copies go to the nodes in turn, spreading load and memory
 * over the allocation whatever their speed.
 *
 * @module
 */

import type { CopyPlacement, PlacementDecision, PlacementRequest } from "../src/tiers/policy.ts";
import { fastestOn } from "../src/tiers/estimate.ts";
import { persistentCopy } from "../src/tiers/fastest_fit.ts";

/**
 * Places the copy on the next node in turn (the request's `sequence` modulo
 * the nodes that can take it), on that node's fastest tier that fits; a
 * durable fragment also gets a persistent copy, on the same node when it
 * can. Reshapes run at the destination, spreading that work too.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import roundRobin from "./round_robin.ts";
 * const memory = { name: "memory", kind: "memory", capacity: 1000, used: 0, free: 1000, room: 1000, bandwidth: 1e10, latency: 0, persistent: false } as const;
 * const nodes = ["a", "b", "c"].map((name) => ({ name, link: { bandwidth: 1e9, latency: 0 }, tiers: [memory] }));
 * const fragment = { dataset: "d", version: 1, fragment: "dataset", bindings: {}, byteLength: 64, durable: false, consumers: [] };
 * const chosen = [0, 1, 2, 3].map((sequence) => roundRobin({ fragment, node: "a", nodes, sequence }).copies[0]!.node);
 * assert.deepEqual(chosen, ["a", "b", "c", "a"]);
 * ```
 */
export default function roundRobin(request: PlacementRequest): PlacementDecision {
  const bytes = request.fragment.byteLength;
  const open = request.nodes.filter((n) => fastestOn(n, bytes) !== undefined);
  if (open.length === 0) return { copies: [], reshape: "destination" };
  const node = open[request.sequence % open.length]!;
  const tier = fastestOn(node, bytes)!;
  const copies: CopyPlacement[] = [{ node: node.name, tier: tier.name }];
  if (request.fragment.durable && !tier.persistent) {
    const persistent = persistentCopy(request, node, bytes);
    if (persistent === undefined) return { copies: [], reshape: "destination" };
    copies.push(persistent);
  }
  return { copies, reshape: "destination" };
}
