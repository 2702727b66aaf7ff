/**
 * Checks what a placement policy answered before the runtime acts on it: a
 * policy is user code, and a wrong answer must cost a log line, never a copy.
 * Pure.
 *
 * @module
 */

import type { PlacementDecision, PlacementRequest } from "./policy.ts";

/** A decision that passed, or what was wrong with it. */
export type CheckedDecision =
  | { readonly ok: true; readonly decision: PlacementDecision }
  | { readonly ok: false; readonly problem: string };

const SHAPE =
  "expected { copies: [{ node, tier }, ...], reshape: 'source' | 'destination' | 'auto' }";

/**
 * Checks a policy's answer against its request: the shape, that every node
 * and tier exists, that no tier is named twice, that each tier can take the
 * copy (its capacity and room), and that a durable fragment gets a
 * persistent tier. Problems read as the end of "the policy ...".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDecision } from "./check_decision.ts";
 * const memory = { name: "memory", kind: "memory", capacity: 100, used: 0, free: 100, room: 100, bandwidth: 1e10, latency: 0, persistent: false } as const;
 * const request = {
 *   fragment: { dataset: "d", version: 1, fragment: "dataset", bindings: {}, byteLength: 10, durable: false, consumers: [] },
 *   node: "n1", nodes: [{ name: "n1", link: { bandwidth: Infinity, latency: 0 }, tiers: [memory] }], sequence: 0,
 * };
 * assert.equal(checkDecision({ copies: [{ node: "n1", tier: "memory" }], reshape: "source" }, request).ok, true);
 * assert.deepEqual(checkDecision({ copies: [{ node: "n1", tier: "nvme" }], reshape: "source" }, request), {
 *   ok: false, problem: "returned tier 'nvme', which node 'n1' does not have (it has memory)",
 * });
 * ```
 */
export function checkDecision(value: unknown, request: PlacementRequest): CheckedDecision {
  const no = (problem: string): CheckedDecision => ({ ok: false, problem });
  if (typeof value !== "object" || value === null) return no(`returned ${show(value)}: ${SHAPE}`);
  if (typeof (value as { then?: unknown }).then === "function") {
    return no(`returned a promise: a policy answers at once, ${SHAPE}`);
  }
  const { copies, reshape } = value as { copies?: unknown; reshape?: unknown };
  if (!Array.isArray(copies)) return no(`returned ${show(value)}: ${SHAPE}`);
  if (reshape !== "source" && reshape !== "destination" && reshape !== "auto") {
    return no(`returned reshape ${show(reshape)}: expected 'source', 'destination' or 'auto'`);
  }
  if (copies.length === 0) return no("placed no copy: no tier it considered had room");
  const size = request.fragment.byteLength;
  const seen = new Set<string>();
  let persistent = false;
  for (const c of copies as unknown[]) {
    const { node, tier } = (c ?? {}) as { node?: unknown; tier?: unknown };
    if (typeof node !== "string" || typeof tier !== "string") {
      return no(`returned copy ${show(c)}: ${SHAPE}`);
    }
    const n = request.nodes.find((x) => x.name === node);
    if (n === undefined) {
      return no(
        `returned node '${node}', which is not one it was offered (${
          request.nodes.map((x) => x.name).join(", ")
        })`,
      );
    }
    const t = n.tiers.find((x) => x.name === tier);
    if (t === undefined) {
      return no(
        `returned tier '${tier}', which node '${node}' does not have (it has ${
          n.tiers.map((x) => x.name).join(", ")
        })`,
      );
    }
    if (seen.has(`${node}\0${tier}`)) return no(`returned tier '${tier}' of node '${node}' twice`);
    seen.add(`${node}\0${tier}`);
    if (t.capacity < size || t.room < size) {
      return no(
        `returned tier '${tier}' of node '${node}', which is full: capacity ${t.capacity} bytes, ${t.used} used, room for ${t.room} after spilling, ${size} requested`,
      );
    }
    persistent ||= t.persistent;
  }
  if (request.fragment.durable && !persistent) {
    return no("placed a durable fragment on no persistent tier");
  }
  return {
    ok: true,
    decision: {
      copies: (copies as { node: string; tier: string }[]).map((c) => ({
        node: c.node,
        tier: c.tier,
      })),
      reshape,
    },
  };
}

function show(v: unknown): string {
  try {
    return JSON.stringify(v)?.slice(0, 120) ?? String(v);
  } catch {
    return String(v);
  }
}
