/**
 * Which variable indices a layout holds, and whether two layouts share any:
 * the geometry both the registry (which copies an attach needs) and the
 * runtime (which of a lookup's copies to read) work with. Pure.
 *
 * @module
 */

import type { FragmentLayout, VarSlot } from "./layout.ts";
import { boxSize, intersectBoxes, type StridedBox } from "./region.ts";

/**
 * The box of variable indices a slot holds: one progression per variable
 * dimension (a dimension no axis walks holds only its origin).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { slotBox } from "./overlap.ts";
 * const box = slotBox({ name: "t", variable: "t", origin: [2, 0], axes: [{ dim: 1, step: 1, count: 4 }], fields: [] });
 * assert.deepEqual(box, [{ start: 2, step: 1, count: 1 }, { start: 0, step: 1, count: 4 }]);
 * ```
 */
export function slotBox(slot: VarSlot): StridedBox {
  return slot.origin.map((start, d) => {
    const axis = slot.axes.find((a) => a.dim === d);
    return axis === undefined || axis.count <= 1
      ? { start, step: 1, count: axis?.count ?? 1 }
      : { start, step: axis.step, count: axis.count };
  });
}

/**
 * Whether two layouts hold any common index of a common variable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FragmentLayout } from "./layout.ts";
 * import { overlaps } from "./overlap.ts";
 * // Elements [lo, hi) of a float64 variable t.
 * const part = (lo: number, hi: number): FragmentLayout => ({
 *   byteLength: (hi - lo) * 8,
 *   slots: [{
 *     name: "t", variable: "t", origin: [lo], axes: [{ dim: 0, step: 1, count: hi - lo }],
 *     fields: [{ path: "", type: "float64", count: 1, offset: 0, strides: [8] }],
 *   }],
 * });
 * assert.ok(overlaps(part(0, 4), part(3, 8)));
 * assert.ok(!overlaps(part(0, 4), part(4, 8)));
 * ```
 */
export function overlaps(a: FragmentLayout, b: FragmentLayout): boolean {
  for (const sa of a.slots) {
    for (const sb of b.slots) {
      if (sa.variable !== sb.variable) continue;
      const ba = slotBox(sa);
      const bb = slotBox(sb);
      if (boxSize(ba) > 0 && boxSize(bb) > 0 && intersectBoxes(ba, bb) !== undefined) return true;
    }
  }
  return false;
}
