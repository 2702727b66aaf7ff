/**
 * Where a pipeline's function runs: in situ (on the node that produced the
 * fragments) or in transit (on another node, off the producer's cores). A
 * pipeline may pin either; `auto` asks the placement policy. Pure: a policy
 * is a function of what it is given, and a service can be handed another.
 *
 * @module
 */

import type { PlacementMode } from "./pipeline_spec.ts";

/** What a run placement policy decides from (not the tiers' `PlacementRequest`). */
export interface RunPlacementInput {
  /** What the pipeline asked for. */
  readonly requested: PlacementMode;
  /** Nodes holding the source version's fragments (the producers). */
  readonly producers: readonly string[];
  /** Live nodes that can run functions, this one included. */
  readonly nodes: readonly string[];
  /** Bytes of input the run reads. */
  readonly inputBytes: number;
  /** Source version, to spread runs over nodes. */
  readonly version: number;
}

/** Where a pipeline run goes: in situ or in transit, and on which node. */
export interface RunPlacement {
  /** In situ or in transit. */
  readonly decided: "in-situ" | "in-transit";
  /** The node chosen. */
  readonly node: string;
  /** Why, in a few words. */
  readonly reason: string;
}

/**
 * Decides where a pipeline run goes (the tiers' `PlacementPolicy` decides
 * where a copy's bytes go).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decidePlacement, type RunPlacementPolicy } from "./placement.ts";
 * const policy: RunPlacementPolicy = decidePlacement;
 * const d = policy({ requested: "in-situ", producers: ["a"], nodes: ["a", "b"], inputBytes: 0, version: 1 });
 * assert.equal(d.node, "a");
 * ```
 */
export type RunPlacementPolicy = (input: RunPlacementInput) => RunPlacement;

/** Inputs at least this large go in transit under `auto` when another node is live. */
export const IN_TRANSIT_BYTES = 1024 * 1024;

/**
 * The built-in policy. Pinned modes are honoured: in situ runs on the first
 * producer; in transit on a live node that produced nothing (spread by
 * version), or on the producer when no such node is live. `auto` goes in
 * transit when the input is at least 1 MiB and another node is live (moving
 * the compute off the producer is worth a transfer), in situ otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decidePlacement } from "./placement.ts";
 * const one = { producers: ["n1"], nodes: ["n1"], inputBytes: 8 << 20, version: 1 };
 * assert.equal(decidePlacement({ ...one, requested: "auto" }).decided, "in-situ");
 * const two = { ...one, nodes: ["n1", "n2"] };
 * assert.deepEqual(decidePlacement({ ...two, requested: "auto" }).node, "n2");
 * assert.equal(decidePlacement({ ...two, requested: "in-situ" }).node, "n1");
 * ```
 */
export function decidePlacement(input: RunPlacementInput): RunPlacement {
  const producer = input.producers[0] ?? input.nodes[0] ?? "local";
  const others = input.nodes.filter((n) => !input.producers.includes(n));
  const transit = (why: string): RunPlacement => {
    if (others.length === 0) {
      return {
        decided: "in-transit",
        node: producer,
        reason: `${why}; no other node is live, so it runs on the producer's node`,
      };
    }
    return { decided: "in-transit", node: others[input.version % others.length]!, reason: why };
  };
  switch (input.requested) {
    case "in-situ":
      return { decided: "in-situ", node: producer, reason: "pinned in situ" };
    case "in-transit":
      return transit("pinned in transit");
    case "auto":
      if (others.length > 0 && input.inputBytes >= IN_TRANSIT_BYTES) {
        return transit(`input of ${input.inputBytes} bytes is worth moving off the producer`);
      }
      return {
        decided: "in-situ",
        node: producer,
        reason: others.length === 0
          ? "no other node is live"
          : `input of ${input.inputBytes} bytes is cheaper to compute where it is`,
      };
  }
}
