/**
 * Layout parts shared between the copies the registry keeps.
 *
 * Why: the copies of one fragment at different places (`cell(r)` for each
 * r, the row band of each rank) have layouts that differ only in their
 * origin, and each kept its own axes and fields: five of the dozen objects
 * a copy's record holds in memory. A registry keeps every copy, and the
 * garbage collector marks them all on each full collection
 * (bench/registry_memory_bench.ts). Layouts are read-only, so copies may
 * share equal parts.
 *
 * @module
 */

import type { Axis, FieldSlot, FragmentLayout, VarSlot } from "../transform/layout.ts";

/** Distinct slot shapes kept; past that the least recently used is forgotten. */
const MAX_SHAPES = 4096;

/**
 * Equal axes and fields of layouts, kept once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LayoutParts } from "./_layout_parts.ts";
 * const at = (r: number) => ({
 *   byteLength: 8,
 *   slots: [{
 *     name: "t", variable: "t", origin: [r],
 *     axes: [{ dim: 0, step: 1, count: 1 }],
 *     fields: [{ path: "", type: "float64", count: 1, offset: 0, strides: [8] }],
 *   }],
 * } as const);
 * const parts = new LayoutParts();
 * const a = parts.share(at(1));
 * const b = parts.share(at(2));
 * assert.equal(b.slots[0]!.fields, a.slots[0]!.fields);
 * assert.equal(b.slots[0]!.axes, a.slots[0]!.axes);
 * assert.deepEqual(b, at(2));
 * // Bounded: past `max` shapes, the least recently used is forgotten.
 * const one = new LayoutParts(1);
 * one.share(at(1));
 * one.share({ ...at(1), slots: [{ ...at(1).slots[0], axes: [{ dim: 0, step: 2, count: 1 }] }] });
 * assert.equal(one.size, 1);
 * ```
 */
export class LayoutParts {
  readonly #max: number;
  /** Parts by their JSON, least recently used first. */
  readonly #shapes = new Map<string, Pick<VarSlot, "axes" | "fields">>();

  /** Keeps at most `max` distinct slot shapes. */
  constructor(max = MAX_SHAPES) {
    this.#max = max;
  }

  /** Distinct shapes kept now. */
  get size(): number {
    return this.#shapes.size;
  }

  /**
   * `layout`, or an equal layout whose slots' axes and fields are those of
   * an earlier layout when they were equal.
   */
  share(layout: FragmentLayout): FragmentLayout {
    let shared = false;
    const slots = layout.slots.map((slot) => {
      const parts = this.#parts(slot.axes, slot.fields);
      if (parts.axes === slot.axes && parts.fields === slot.fields) return slot;
      shared = true;
      return {
        name: slot.name,
        variable: slot.variable,
        origin: slot.origin,
        axes: parts.axes,
        fields: parts.fields,
      };
    });
    return shared ? { byteLength: layout.byteLength, slots } : layout;
  }

  #parts(
    axes: readonly Axis[],
    fields: readonly FieldSlot[],
  ): Pick<VarSlot, "axes" | "fields"> {
    const key = JSON.stringify([axes, fields]);
    const found = this.#shapes.get(key);
    if (found !== undefined) {
      // Most recently used last.
      this.#shapes.delete(key);
      this.#shapes.set(key, found);
      return found;
    }
    if (this.#shapes.size >= this.#max) this.#shapes.delete(this.#shapes.keys().next().value!);
    const parts = { axes, fields };
    this.#shapes.set(key, parts);
    return parts;
  }
}

/** The parts the registry's copies share. */
const shared = new LayoutParts();

/**
 * The layout the registry keeps for a copy of `fragment`: its parts shared
 * with the other copies', except the whole dataset's layout, which is one
 * object for all its versions already.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keptLayout } from "./_layout_parts.ts";
 * const whole = { byteLength: 0, slots: [] };
 * assert.equal(keptLayout("dataset", whole), whole);
 * ```
 */
export function keptLayout(fragment: string, layout: FragmentLayout): FragmentLayout {
  return fragment === "dataset" ? layout : shared.share(layout);
}
