/**
 * Which parts of a dataset the published fragments of a version cover. Pure:
 * layouts in, missing index boxes out.
 *
 * Every variable and every leaf field of it must be held at every index of
 * the variable's index space. A slot's indices form one arithmetic
 * progression per dimension, so subtraction stays exact with strides: a
 * fragment of the even rows covers the even rows and nothing else. A field
 * stored with another element type (float64 published as float32) does not
 * count: it holds the values only approximately.
 *
 * @module
 */

import type { ScalarType } from "../transform/scalar.ts";
import type { FragmentLayout, VarSlot } from "../transform/layout.ts";
import { slotBox } from "../transform/overlap.ts";
import { boxSize, type StridedBox } from "../transform/region.ts";
import { BoxSet } from "./box_set.ts";

/** A part of the dataset no published fragment holds. */
export interface Gap {
  /** Variable name. */
  readonly variable: string;
  /** Leaf field path ("" for a scalar element). */
  readonly field: string;
  /** Element type of the field in the dataset. */
  readonly type: ScalarType;
  /** Scalars per element of the field (an inner array holds several). */
  readonly count: number;
  /** Disjoint boxes of missing indices. */
  readonly missing: readonly StridedBox[];
}

/**
 * What one version still misses, updated one published layout at a time:
 * one `BoxSet` of missing indices per variable and leaf field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, datasetLayout, fragmentLayout } from "../ddl/mod.ts";
 * import { Coverage } from "./coverage.ts";
 * const ds = compileDescription("dataset { var t [8]float64 }\nfragment half(lo) { var t = t[lo:lo + 4] }");
 * const coverage = new Coverage(datasetLayout(ds));
 * coverage.add(fragmentLayout(ds, "half", { lo: 0 }));
 * assert.deepEqual(coverage.gaps()[0]?.missing, [[{ start: 4, step: 1, count: 4 }]]);
 * coverage.add(fragmentLayout(ds, "half", { lo: 4 }));
 * assert.ok(coverage.complete);
 * ```
 */
export class Coverage {
  readonly #entries: { readonly gap: Omit<Gap, "missing">; readonly set: BoxSet }[] = [];

  /** Starts with everything of the whole dataset missing (variables without indices need nothing). */
  constructor(whole: FragmentLayout) {
    for (const slot of whole.slots) {
      const box = slotBox(slot);
      for (const f of slot.fields) {
        const set = new BoxSet();
        set.add(box);
        if (set.size === 0) continue;
        this.#entries.push({
          gap: { variable: slot.variable, field: f.path, type: f.type, count: f.count },
          set,
        });
      }
    }
  }

  /** Whether nothing is missing. */
  get complete(): boolean {
    return this.#entries.every((e) => e.set.size === 0);
  }

  /** Marks what a published layout holds as covered. */
  add(layout: FragmentLayout): void {
    for (const e of this.#entries) {
      if (e.set.size === 0) continue;
      for (const s of layout.slots) {
        if (s.variable === e.gap.variable && holdsField(s, e.gap.field, e.gap.type, e.gap.count)) {
          e.set.subtract(slotBox(s));
        }
      }
    }
  }

  /** What is missing, per variable and field. */
  gaps(): Gap[] {
    return this.#entries
      .filter((e) => e.set.size > 0)
      .map((e) => ({ ...e.gap, missing: e.set.boxes() }));
  }
}

/**
 * The parts of the whole dataset that the published layouts do not hold
 * (empty when the version is complete).
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
  const coverage = new Coverage(whole);
  for (const layout of published) coverage.add(layout);
  return coverage.gaps();
}

/**
 * Whether slot `s` holds the leaf field at `path` as the dataset stores it
 * (`type`, `count` scalars an element): a field stored as another type
 * holds its values only approximately and does not count.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, fragmentLayout } from "../ddl/mod.ts";
 * import { holdsField } from "./coverage.ts";
 * const ds = compileDescription("dataset { var t [4]float64 }\nfragment low { var t float32 = t[0:4] }");
 * const [slot] = fragmentLayout(ds, "low", {}).slots;
 * assert.equal(holdsField(slot!, "", "float64", 1), false);
 * assert.equal(holdsField(slot!, "", "float32", 1), true);
 * ```
 */
export function holdsField(s: VarSlot, path: string, type: ScalarType, count: number): boolean {
  return s.fields.some((f) => f.path === path && f.type === type && f.count === count);
}

/**
 * Number of indices still missing, over all gaps (a progress figure).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, datasetLayout } from "../ddl/mod.ts";
 * import { gaps, missingCount } from "./coverage.ts";
 * const ds = compileDescription("dataset { var t [8, 2]float64 }");
 * assert.equal(missingCount(gaps(datasetLayout(ds), [])), 16);
 * ```
 */
export function missingCount(current: readonly Gap[]): number {
  let n = 0;
  for (const g of current) for (const b of g.missing) n += boxSize(b);
  return n;
}
