/**
 * What a node's tiers hold and what room they have: the figures of
 * `GET /v1/nodes`, and the views placement policies decide on.
 *
 * @module
 */

import type { TierView } from "./policy.ts";
import type { TierInfo } from "./tier.ts";
import type { DeclaredTier } from "./tier_config.ts";

/** One tier's figures for `GET /v1/nodes`. */
export interface TierUsage extends TierInfo {
  /** Bytes free. */
  readonly free: number;
  /** Declared bandwidth, bytes per second. */
  readonly bandwidth: number;
  /** Declared latency, seconds. */
  readonly latency: number;
}

/**
 * Capacity, usage, copy count and speed of each tier, in the order given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KIND_DEFAULTS, MemoryTier, tierUsage } from "./mod.ts";
 * const tier = new MemoryTier("fast", 100);
 * await tier.put("k", new Uint8Array(30));
 * const [usage] = tierUsage([{ tier, spec: { name: "fast", kind: "memory", capacity: 100, ...KIND_DEFAULTS.memory } }]);
 * assert.equal(usage!.free, 70);
 * ```
 */
export function tierUsage(tiers: readonly DeclaredTier[]): TierUsage[] {
  return tiers.map(({ tier, spec }) => {
    const info = tier.info();
    return {
      ...info,
      free: Math.max(0, info.capacity - info.used),
      bandwidth: spec.bandwidth,
      latency: spec.latency,
    };
  });
}

/**
 * What a placement policy sees of tiers (fastest first): each one's room
 * is its free bytes, plus the bytes of copies another tier also holds
 * (`sharedOn`: dropped without a move), plus what demoting the rest into
 * the room of the tiers below could free. An estimate: copies move whole,
 * durable ones only to persistent tiers. `excluded` tiers, which failed to
 * make room for this copy, get no room from spilling.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tierViews } from "./mod.ts";
 * const usage = (name: string, used: number) => ({
 *   name, kind: "memory" as const, capacity: 100, used, free: 100 - used, count: 1,
 *   persistent: false, bandwidth: 1e9, latency: 0,
 * });
 * const views = tierViews([usage("fast", 80), usage("slow", 10)], () => 0);
 * assert.deepEqual(views.map((v) => v.room), [100, 90]);
 * ```
 */
export function tierViews(
  usage: readonly TierUsage[],
  sharedOn: (tier: string) => number,
  excluded?: ReadonlySet<string>,
): TierView[] {
  const views: TierView[] = [];
  let below = 0;
  for (let i = usage.length - 1; i >= 0; i--) {
    const u = usage[i]!;
    const shared = Math.min(u.used, sharedOn(u.name));
    const room = excluded?.has(u.name)
      ? u.free
      : u.free + shared + Math.min(u.used - shared, below);
    views[i] = {
      name: u.name,
      kind: u.kind,
      capacity: u.capacity,
      used: u.used,
      free: u.free,
      room,
      bandwidth: u.bandwidth,
      latency: u.latency,
      persistent: u.persistent,
    };
    below = room;
  }
  return views;
}
