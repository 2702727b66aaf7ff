/**
 * Targets: the shards a service's keys hash to (HEPnOS's databases). Each
 * target owns several points (virtual nodes) on a ring of 32-bit hashes; a
 * key goes to the owner of the first point at or after its hash. Targets
 * belong to runtimes in turn (target `i` to runtime `i mod R`).
 *
 * @module
 */

import { mix32 } from "./hash.ts";

/** Options of a target ring. */
export interface TargetRingOptions {
  /** Points each target owns on the ring (default 4, as HEPnOS's ch_placement). */
  readonly virtualNodes?: number;
  /** The runtimes targets belong to, in order (default one, `local`). */
  readonly runtimes?: readonly string[];
}

/** Most targets a service may declare. */
export const MAX_TARGETS = 1024;

/**
 * A ring of `numTargets` targets with virtual nodes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TargetRing } from "./targets.ts";
 * const ring = new TargetRing(4, { runtimes: ["a", "b"] });
 * assert.equal(ring.numTargets, 4);
 * const t = ring.targetOf(123456789);
 * assert.ok(t >= 0 && t < 4);
 * assert.equal(ring.runtimeOf(3), "b");
 * ```
 */
export class TargetRing {
  /** How many targets. */
  readonly numTargets: number;
  /** The runtimes targets belong to. */
  readonly runtimes: readonly string[];
  /** Points each target owns on the ring. */
  readonly virtualNodes: number;
  readonly #points: Uint32Array;
  readonly #owners: Uint16Array;

  /** Builds the ring; `RangeError` for a count outside 1..`MAX_TARGETS`. */
  constructor(numTargets: number, options: TargetRingOptions = {}) {
    const vnodes = options.virtualNodes ?? 4;
    if (!Number.isInteger(numTargets) || numTargets < 1 || numTargets > MAX_TARGETS) {
      throw new RangeError(`Invalid target count ${numTargets}: expected 1 to ${MAX_TARGETS}`);
    }
    if (!Number.isInteger(vnodes) || vnodes < 1 || vnodes > 256) {
      throw new RangeError(`Invalid virtual node count ${vnodes}: expected 1 to 256`);
    }
    this.numTargets = numTargets;
    this.runtimes = options.runtimes ?? ["local"];
    this.virtualNodes = vnodes;
    const points: { at: number; owner: number }[] = [];
    for (let t = 0; t < numTargets; t++) {
      for (let v = 0; v < vnodes; v++) points.push({ at: mix32(t * 0x9e3779b1 + v + 1), owner: t });
    }
    points.sort((a, b) => a.at - b.at || a.owner - b.owner);
    this.#points = Uint32Array.from(points, (p) => p.at);
    this.#owners = Uint16Array.from(points, (p) => p.owner);
  }

  /** The target owning a 32-bit hash. */
  targetOf(hash: number): number {
    const h = hash >>> 0;
    const points = this.#points;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return this.#owners[lo === points.length ? 0 : lo]!;
  }

  /** The runtime holding target `target`. */
  runtimeOf(target: number): string {
    return this.runtimes[target % this.runtimes.length]!;
  }
}
