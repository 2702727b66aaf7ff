/**
 * Other nodes as a placement policy sees them: their tiers' usage from the
 * name server's node list, and the link to them.
 *
 * @module
 */

import type { NodeView, TierView } from "../tiers/policy.ts";
import type { NodeEntry } from "../name_service/name_service.ts";

/** The network link to other nodes as placement policies see it. */
export type Link = { readonly bandwidth: number; readonly latency: number };

/** The live nodes of `entries` other than `self` that report their tiers. */
export function placementNodes(
  entries: readonly NodeEntry[],
  self: string,
  link: Link,
): NodeView[] {
  const out: NodeView[] = [];
  for (const n of entries) {
    if (n.id === self || n.wire === undefined || n.tiers === undefined) continue;
    const tiers: TierView[] = [];
    for (const t of n.tiers) {
      if (
        t.kind === undefined || t.used === undefined || t.bandwidth === undefined ||
        t.latency === undefined || t.persistent === undefined
      ) continue;
      const free = t.free ?? Math.max(0, t.capacity - t.used);
      tiers.push({
        name: t.name,
        kind: t.kind as TierView["kind"],
        capacity: t.capacity,
        used: t.used,
        free,
        room: t.room ?? free,
        bandwidth: t.bandwidth,
        latency: t.latency,
        persistent: t.persistent,
      });
    }
    if (tiers.length > 0) out.push({ name: n.id, link, tiers });
  }
  return out;
}
