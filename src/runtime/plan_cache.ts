/**
 * Copy plans kept for reuse: an attach of a region repeats the plan of the
 * attach before it, and compiling one is far slower than finding it.
 *
 * @module
 */

import type { FragmentLayout } from "../transform/layout.ts";
import type { Plan } from "../transform/op.ts";
import { compilePlan } from "../transform/plan.ts";
import { chunkPlan, type PlanChunk } from "./plan_chunks.ts";

/**
 * Source bytes per piece of a reshape that runs while its part arrives: a
 * few reads' worth, so that each piece runs soon after its bytes are there
 * (bench/streaming_bench.ts).
 */
const CHUNK_BYTES = 1 << 20;

/**
 * Compiled plans by their sources and target, least recently used dropped
 * first, and the same plans cut into pieces by source offset.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PlanCache } from "./plan_cache.ts";
 * import type { FragmentLayout } from "../transform/layout.ts";
 * const column = (stride: number): FragmentLayout => ({
 *   byteLength: 800,
 *   slots: [{ name: "p", variable: "p", origin: [0], axes: [{ dim: 0, step: 1, count: 100 }],
 *     fields: [{ path: "x", type: "float64", count: 1, offset: 0, strides: [stride] }] }],
 * });
 * const plans = new PlanCache(2);
 * const source = column(8);
 * const target = column(8);
 * const plan = plans.plan([source], target);
 * assert.equal(plans.plan([source], target), plan);
 * assert.equal(plans.plan([column(8)], column(8)), plan);
 * assert.equal(plans.chunks(plan).length, 1);
 * ```
 */
export class PlanCache {
  readonly #plans = new Map<string, Plan>();
  /**
   * The last plan made for a target layout object, with its sources: repeated
   * attaches of one region pass the same layout objects, and finding them by
   * identity skips serialising layouts into a cache key.
   */
  readonly #lastPlans = new WeakMap<
    FragmentLayout,
    { readonly sources: readonly FragmentLayout[]; readonly plan: Plan }
  >();
  /** Cached plans cut into pieces by source offset (the map above keeps the plans). */
  readonly #chunks = new WeakMap<Plan, PlanChunk[]>();
  readonly #size: number;

  /** Creates a cache that keeps `size` plans (default 256). */
  constructor(size = 256) {
    this.#size = size;
  }

  /** The plan from `sources` to `target`, compiled once and kept. */
  plan(sources: readonly FragmentLayout[], target: FragmentLayout): Plan {
    const last = this.#lastPlans.get(target);
    if (
      last !== undefined && last.sources.length === sources.length &&
      last.sources.every((s, i) => s === sources[i])
    ) {
      return last.plan;
    }
    const key = JSON.stringify([sources, target]);
    let plan = this.#plans.get(key);
    if (plan !== undefined) {
      this.#plans.delete(key);
    } else {
      plan = compilePlan(sources, target);
      if (this.#plans.size >= this.#size) {
        this.#plans.delete(this.#plans.keys().next().value!);
      }
    }
    this.#plans.set(key, plan);
    this.#lastPlans.set(target, { sources: [...sources], plan });
    return plan;
  }

  /** A plan's pieces for reshaping a part as it arrives (about 1 MiB of it each). */
  chunks(plan: Plan): PlanChunk[] {
    let chunks = this.#chunks.get(plan);
    if (chunks === undefined) {
      chunks = chunkPlan(plan, CHUNK_BYTES);
      this.#chunks.set(plan, chunks);
    }
    return chunks;
  }

  /** Drops the kept plans. */
  clear(): void {
    this.#plans.clear();
  }
}
