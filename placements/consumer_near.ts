/**
 * consumer-near: the copy goes where the dataset's declared consumers will
 * attach it, so their attach reads local bytes.
 *
 * @module
 */

import type {
  CopyPlacement,
  NodeView,
  PlacementDecision,
  PlacementRequest,
} from "../src/tiers/policy.ts";
import { fastestOn, fits } from "../src/tiers/estimate.ts";
import { persistentCopy } from "../src/tiers/fastest_fit.ts";

/**
 * Places the copy on the first declared consumer node that can take it (the
 * publishing node when no consumer is declared or none has room). On a
 * consumer's node an shm tier is preferred, so a consumer process there can
 * read the file in place; otherwise the fastest tier that fits. A durable
 * fragment also gets a persistent copy. Reshapes run at the source, which is
 * the consumer's node when the copy went there, and at the destination when
 * the copy stayed with the producer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import consumerNear from "./consumer_near.ts";
 * const tier = (name: string, kind: "memory" | "shm") => ({ name, kind, capacity: 1000, used: 0, free: 1000, room: 1000, bandwidth: 1e10, latency: 0, persistent: false });
 * const nodes = ["a", "b"].map((name) => ({ name, link: { bandwidth: 1e9, latency: 0 }, tiers: [tier("memory", "memory"), tier("shm", "shm")] }));
 * const fragment = { dataset: "d", version: 1, fragment: "dataset", bindings: {}, byteLength: 64, durable: false, consumers: ["b"] };
 * assert.deepEqual(consumerNear({ fragment, node: "a", nodes, sequence: 0 }), { copies: [{ node: "b", tier: "shm" }], reshape: "source" });
 * ```
 */
export default function consumerNear(request: PlacementRequest): PlacementDecision {
  const bytes = request.fragment.byteLength;
  for (const name of request.fragment.consumers) {
    const node = request.nodes.find((n) => n.name === name);
    if (node === undefined) continue;
    const decision = onNode(request, node, true);
    if (decision !== undefined) return decision;
  }
  const home = request.nodes.find((n) => n.name === request.node);
  const decision = home === undefined ? undefined : onNode(request, home, false);
  return decision ?? { copies: [], reshape: "destination" };

  function onNode(
    request: PlacementRequest,
    node: NodeView,
    consumerHere: boolean,
  ): PlacementDecision | undefined {
    const shm = consumerHere
      ? node.tiers.find((t) => t.kind === "shm" && fits(t, bytes))
      : undefined;
    const tier = shm ?? fastestOn(node, bytes);
    if (tier === undefined) return undefined;
    const copies: CopyPlacement[] = [{ node: node.name, tier: tier.name }];
    if (request.fragment.durable && !tier.persistent) {
      const persistent = persistentCopy(request, node, bytes);
      if (persistent === undefined) return undefined;
      copies.push(persistent);
    }
    return { copies, reshape: consumerHere ? "source" : "destination" };
  }
}
