/**
 * N -> M redistribution: rebuild one fragment from fragments written by other
 * ranks (a restart with a different number of readers, a different blocking,
 * a transposed or converted layout).
 *
 * @module
 */

import type { FragmentLayout } from "./layout.ts";
import { compilePlan } from "./plan.ts";
import { executePlan } from "./execute.ts";

/** A source fragment: its layout and its bytes. */
export interface SourceFragment {
  /** Layout of `bytes`. */
  readonly layout: FragmentLayout;
  /** The fragment buffer. */
  readonly bytes: Uint8Array;
}

/**
 * Compiles and runs the plan from `sources` to `target`, returning a new
 * zero-padded buffer in the target layout. Where sources overlap, the first
 * in the list wins. Throws `MissingRegionError` naming the missing boxes when
 * the sources do not cover the target, `LayoutError` for sizes or conversions
 * that do not fit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redistribute } from "./redistribute.ts";
 * import type { FragmentLayout } from "./layout.ts";
 * // Rows 0-1 and 2-3 of a 4x2 int32 grid, written by two ranks, read by one.
 * const rows = (r0: number, r1: number): FragmentLayout => ({
 *   byteLength: (r1 - r0) * 8,
 *   slots: [{ name: "g", variable: "g", origin: [r0, 0],
 *     axes: [{ dim: 0, step: 1, count: r1 - r0 }, { dim: 1, step: 1, count: 2 }],
 *     fields: [{ path: "", type: "int32", count: 1, offset: 0, strides: [8, 4] }] }],
 * });
 * const bytes = (values: number[]) => new Uint8Array(new Int32Array(values).buffer);
 * const whole = redistribute([
 *   { layout: rows(2, 4), bytes: bytes([5, 6, 7, 8]) },
 *   { layout: rows(0, 2), bytes: bytes([1, 2, 3, 4]) },
 * ], rows(0, 4));
 * assert.deepEqual([...new Int32Array(whole.buffer)], [1, 2, 3, 4, 5, 6, 7, 8]);
 * ```
 */
export function redistribute(
  sources: readonly SourceFragment[],
  target: FragmentLayout,
): Uint8Array {
  const plan = compilePlan(sources.map((s) => s.layout), target);
  const out = new Uint8Array(target.byteLength);
  executePlan(plan, sources.map((s) => s.bytes), out);
  return out;
}
