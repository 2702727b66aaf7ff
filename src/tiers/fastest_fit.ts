/**
 * fastest-fit, the default policy: the copy goes where it will be read
 * fastest, among the tiers that can take it (spilling if they must), as
 * Hermes' MinimizeIoTime does.
 *
 * @module
 */

import type {
  CopyPlacement,
  NodeView,
  PlacementDecision,
  PlacementRequest,
  TierView,
} from "./policy.ts";
import { accessTime, fastestOn } from "./estimate.ts";

/**
 * Places one copy on the (node, tier) with the least estimated access time
 * (latency plus size over bandwidth, across the link from the publishing
 * node) that fits. A durable fragment whose fastest place is volatile gets a
 * second copy on the fastest persistent tier of the same node (or any node).
 * No copies when nothing fits. The reshape site is left to each attach
 * (`auto`): the policy knows nothing of the layouts consumers will ask for,
 * an attach does (the side that moves fewer bytes, the destination on a tie,
 * which spares the producer's cores: the streaming benchmark's producer,
 * reshaping its 64 MiB steps at the source, ran at 60% of the speed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import fastestFit from "./fastest_fit.ts";
 * const tier = (name: string, free: number, bandwidth: number, persistent = false) => ({
 *   name, kind: persistent ? "file" : "memory", capacity: 1000, used: 1000 - free, free, room: free,
 *   bandwidth, latency: 0, persistent,
 * } as const);
 * const node = { name: "n1", link: { bandwidth: Infinity, latency: 0 }, tiers: [tier("memory", 100, 1e10), tier("file", 1000, 1e9, true)] };
 * const fragment = { dataset: "d", version: 1, fragment: "dataset", bindings: {}, byteLength: 64, durable: false, consumers: [] };
 * const request = { fragment, node: "n1", nodes: [node], sequence: 0 };
 * assert.deepEqual(fastestFit(request), { copies: [{ node: "n1", tier: "memory" }], reshape: "auto" });
 * assert.deepEqual(fastestFit({ ...request, fragment: { ...fragment, byteLength: 500 } }).copies, [{ node: "n1", tier: "file" }]);
 * assert.deepEqual(fastestFit({ ...request, fragment: { ...fragment, durable: true } }).copies, [
 *   { node: "n1", tier: "memory" }, { node: "n1", tier: "file" },
 * ]);
 * ```
 */
export default function fastestFit(request: PlacementRequest): PlacementDecision {
  const bytes = request.fragment.byteLength;
  let best: { node: NodeView; tier: TierView; time: number } | undefined;
  for (const node of request.nodes) {
    const tier = fastestOn(node, bytes);
    if (tier === undefined) continue;
    const time = accessTime(node, tier, bytes);
    if (best === undefined || time < best.time) best = { node, tier, time };
  }
  if (best === undefined) return { copies: [], reshape: "auto" };
  const copies: CopyPlacement[] = [{ node: best.node.name, tier: best.tier.name }];
  if (request.fragment.durable && !best.tier.persistent) {
    const persistent = persistentCopy(request, best.node, bytes);
    if (persistent === undefined) return { copies: [], reshape: "auto" };
    copies.push(persistent);
  }
  return { copies, reshape: "auto" };
}

/**
 * The fastest persistent place for a durable copy: on `near` if it has one, else anywhere.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { persistentCopy } from "./fastest_fit.ts";
 * const tier = (name: string, persistent: boolean) => ({
 *   name, kind: persistent ? "file" : "memory", capacity: 1000, used: 0, free: 1000, room: 1000,
 *   bandwidth: 1e9, latency: 0, persistent,
 * } as const);
 * const link = { bandwidth: Infinity, latency: 0 };
 * const a = { name: "a", link, tiers: [tier("memory", false)] };
 * const b = { name: "b", link, tiers: [tier("file", true)] };
 * const fragment = { dataset: "d", version: 1, fragment: "dataset", bindings: {}, byteLength: 64, durable: true, consumers: [] };
 * const request = { fragment, node: "a", nodes: [a, b], sequence: 0 };
 * assert.deepEqual(persistentCopy(request, a, 64), { node: "b", tier: "file" });
 * ```
 */
export function persistentCopy(
  request: PlacementRequest,
  near: NodeView,
  bytes: number,
): CopyPlacement | undefined {
  const isPersistent = (t: TierView) => t.persistent;
  const here = fastestOn(near, bytes, isPersistent);
  if (here !== undefined) return { node: near.name, tier: here.name };
  let best: { copy: CopyPlacement; time: number } | undefined;
  for (const node of request.nodes) {
    const tier = fastestOn(node, bytes, isPersistent);
    if (tier === undefined) continue;
    const time = accessTime(node, tier, bytes);
    if (best === undefined || time < best.time) {
      best = { copy: { node: node.name, tier: tier.name }, time };
    }
  }
  return best?.copy;
}
