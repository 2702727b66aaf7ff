/**
 * Which parts of a dataset the published fragments of a version cover.
 *
 * @module
 */

import type { FragmentLayout, VarSlot } from "../transform/layout.ts";
import { intersectBoxes, type StridedBox, subtractBox } from "../transform/region.ts";

/**
 * The box of variable indices a slot holds: one progression per variable
 * dimension.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { slotBox } from "./coverage.ts";
 * const box = slotBox({ name: "t", variable: "t", origin: [2, 0], axes: [{ dim: 1, step: 1, count: 4 }], fields: [] });
 * assert.deepEqual(box, [{ start: 2, step: 1, count: 1 }, { start: 0, step: 1, count: 4 }]);
 * ```
 */
export function slotBox(slot: VarSlot): StridedBox {
  return slot.origin.map((start, d) => {
    const axis = slot.axes.find((a) => a.dim === d);
    return axis === undefined
      ? { start, step: 1, count: 1 }
      : { start, step: axis.step, count: axis.count };
  });
}

/** A part of the dataset no published fragment holds. */
export interface Gap {
  /** Variable name. */
  readonly variable: string;
  /** Leaf field path. */
  readonly field: string;
  /** Boxes of missing indices. */
  readonly missing: readonly StridedBox[];
}

/**
 * The parts of the whole dataset that the published layouts do not hold
 * (empty when the version is complete). Each variable and each of its leaf
 * fields must be held at every index.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, datasetLayout, fragmentLayout } from "../ddl/mod.ts";
 * import { gaps } from "./coverage.ts";
 * const ds = compileDescription("dataset { var t [8]float64 }\nfragment half(lo) { var t = t[lo:lo + 4] }");
 * const first = fragmentLayout(ds, "half", { lo: 0 });
 * assert.equal(gaps(datasetLayout(ds), [first]).length, 1);
 * assert.equal(gaps(datasetLayout(ds), [first, fragmentLayout(ds, "half", { lo: 4 })]).length, 0);
 * ```
 */
export function gaps(whole: FragmentLayout, published: readonly FragmentLayout[]): Gap[] {
  let out: Gap[] = whole.slots.flatMap((slot) =>
    slot.fields.map((f) => ({ variable: slot.variable, field: f.path, missing: [slotBox(slot)] }))
  );
  for (const layout of published) {
    if (out.length === 0) break;
    out = subtractLayout(out, layout);
  }
  return out;
}

/**
 * The gaps left once `layout` is published too: only the new layout is
 * subtracted, so tracking a version's coverage costs one step per publish.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, datasetLayout, fragmentLayout } from "../ddl/mod.ts";
 * import { gaps, subtractLayout } from "./coverage.ts";
 * const ds = compileDescription("dataset { var t [8]float64 }\nfragment half(lo) { var t = t[lo:lo + 4] }");
 * const left = subtractLayout(gaps(datasetLayout(ds), []), fragmentLayout(ds, "half", { lo: 0 }));
 * assert.deepEqual(left[0]?.missing, [[{ start: 4, step: 1, count: 4 }]]);
 * ```
 */
export function subtractLayout(current: readonly Gap[], layout: FragmentLayout): Gap[] {
  const out: Gap[] = [];
  for (const gap of current) {
    let missing = gap.missing as StridedBox[];
    for (const s of layout.slots) {
      if (s.variable !== gap.variable || !s.fields.some((f) => f.path === gap.field)) continue;
      const have = slotBox(s);
      missing = missing.flatMap((m) => {
        const common = intersectBoxes(m, have);
        return common === undefined ? [m] : subtractBox(m, common);
      });
      if (missing.length === 0) break;
    }
    if (missing.length > 0) out.push({ variable: gap.variable, field: gap.field, missing });
  }
  return out;
}

/**
 * Whether two layouts hold any common index of a common variable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, fragmentLayout } from "../ddl/mod.ts";
 * import { overlaps } from "./coverage.ts";
 * const ds = compileDescription("dataset { var t [8]float64 }\nfragment part(lo, hi) { var t = t[lo:hi] }");
 * const a = fragmentLayout(ds, "part", { lo: 0, hi: 4 });
 * assert.ok(overlaps(a, fragmentLayout(ds, "part", { lo: 3, hi: 8 })));
 * assert.ok(!overlaps(a, fragmentLayout(ds, "part", { lo: 4, hi: 8 })));
 * ```
 */
export function overlaps(a: FragmentLayout, b: FragmentLayout): boolean {
  for (const sa of a.slots) {
    for (const sb of b.slots) {
      if (sa.variable === sb.variable && intersectBoxes(slotBox(sa), slotBox(sb)) !== undefined) {
        return true;
      }
    }
  }
  return false;
}
