/**
 * Which bytes of a stored copy an attach needs: the part of the copy's
 * region and fields that the target layout holds, packed into a layout of
 * its own. Only those bytes cross the wire. Pure: no I/O.
 *
 * @module
 */

import type { FieldSlot, FragmentLayout, VarSlot } from "../transform/layout.ts";
import { intersectProgressions, type Progression } from "../transform/region.ts";
import { scalarSize } from "../transform/scalar.ts";

/**
 * Where a reshape runs: `source` (in situ: the holder of the copy sends the
 * needed bytes already in the target's element types and order), or
 * `destination` (in transit: the holder sends them in the copy's own types
 * and order, and the attaching runtime reshapes).
 */
export type ReshapeAt = "source" | "destination";

/**
 * The layout of the bytes of `copy` that `target` needs, packed, or
 * `undefined` when they share nothing. With `at: "destination"` it keeps the
 * copy's element types and field order (the source only gathers); with `at:
 * "source"` it takes the target's (the source converts). Each slot is the
 * intersection of a copy slot and a target slot of the same variable;
 * interleaved (array-of-structs) references stay interleaved, columnar ones
 * stay columnar.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cutLayout } from "./cut.ts";
 * import type { FragmentLayout } from "../transform/layout.ts";
 * // Rows 0-3 of {a, b float64} stored as structs; the target wants b of rows 2-5.
 * const slot = (start: number, paths: string[]) => ({
 *   name: "p", variable: "p", origin: [start], axes: [{ dim: 0, step: 1, count: 4 }],
 *   fields: paths.map((path, i) => ({ path, type: "float64" as const, count: 1, offset: 8 * i, strides: [8 * paths.length] })),
 * });
 * const copy: FragmentLayout = { byteLength: 64, slots: [slot(0, ["a", "b"])] };
 * const target: FragmentLayout = { byteLength: 32, slots: [slot(2, ["b"])] };
 * const cut = cutLayout(copy, target, "destination")!;
 * assert.equal(cut.byteLength, 16); // b of rows 2 and 3 only
 * assert.deepEqual(cut.slots[0]!.origin, [2]);
 * ```
 */
export function cutLayout(
  copy: FragmentLayout,
  target: FragmentLayout,
  at: ReshapeAt,
): FragmentLayout | undefined {
  const slots: VarSlot[] = [];
  let offset = 0;
  for (const t of target.slots) {
    for (const s of copy.slots) {
      if (s.variable !== t.variable) continue;
      const region = intersectRegions(regionOf(s), regionOf(t));
      if (region === undefined) continue;
      const ref = at === "destination" ? s : t;
      const other = at === "destination" ? t : s;
      const kept = ref.fields.filter((f) => other.fields.some((o) => o.path === f.path));
      if (kept.length === 0) continue;
      const axes = ref.axes
        .filter((a) => region[a.dim]!.count > 1)
        .map((a) => ({ dim: a.dim, step: region[a.dim]!.step, count: region[a.dim]!.count }));
      offset = align(offset, 8);
      const { fields, bytes } = pack(kept, axes.map((a) => a.count), offset, interleaved(ref));
      slots.push({
        name: t.name,
        variable: t.variable,
        origin: region.map((p) => p.start),
        axes,
        fields,
      });
      offset += bytes;
    }
  }
  return slots.length === 0 ? undefined : { byteLength: offset, slots };
}

/**
 * Whether two layouts are the same (then a copy is sent as stored).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sameLayout } from "./cut.ts";
 * assert.ok(sameLayout({ byteLength: 0, slots: [] }, { byteLength: 0, slots: [] }));
 * ```
 */
export function sameLayout(a: FragmentLayout, b: FragmentLayout): boolean {
  if (a === b) return true;
  if (a.byteLength !== b.byteLength || a.slots.length !== b.slots.length) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Whether a cut holds every byte of the copy it was cut from, in the copy's
 * own layout: then the copy itself is what must move.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { coversWhole } from "./cut.ts";
 * const l = { byteLength: 8, slots: [{ name: "x", variable: "x", origin: [0], axes: [{ dim: 0, step: 1, count: 2 }],
 *   fields: [{ path: "", type: "float32" as const, count: 1, offset: 0, strides: [4] }] }] };
 * assert.ok(coversWhole(l, l));
 * ```
 */
export function coversWhole(cut: FragmentLayout, copy: FragmentLayout): boolean {
  if (cut.byteLength !== copy.byteLength || cut.slots.length !== copy.slots.length) return false;
  let payload = 0;
  for (const s of copy.slots) {
    const n = s.axes.reduce((k, a) => k * a.count, 1);
    for (const f of s.fields) payload += n * scalarSize(f.type) * f.count;
  }
  // No padding in the copy, and the cut holds as many bytes: same elements,
  // same fields. Slot names are the target's and do not matter.
  const unnamed = (l: FragmentLayout) => ({
    ...l,
    slots: l.slots.map((s) => ({ ...s, name: "" })),
  });
  return payload === copy.byteLength && sameLayout(unnamed(cut), unnamed(copy));
}

function regionOf(s: VarSlot): Progression[] {
  return s.origin.map((start, d) => {
    const axis = s.axes.find((a) => a.dim === d);
    return axis === undefined
      ? { start, step: 1, count: 1 }
      : { start, step: axis.count > 1 ? axis.step : 1, count: axis.count };
  });
}

function intersectRegions(a: Progression[], b: Progression[]): Progression[] | undefined {
  if (a.length !== b.length) return undefined;
  const out: Progression[] = [];
  for (let d = 0; d < a.length; d++) {
    const p = intersectProgressions(a[d]!, b[d]!);
    if (p === undefined) return undefined;
    out.push(p);
  }
  return out;
}

/** Whether a slot stores its fields interleaved (array of structs). */
function interleaved(s: VarSlot): boolean {
  if (s.fields.length < 2 || s.axes.length === 0) return false;
  const inner = s.axes.length - 1;
  const stride = s.fields[0]!.strides[inner];
  return s.fields.every((f) =>
    f.strides[inner] === stride && stride! > scalarSize(f.type) * f.count
  );
}

function pack(
  fields: readonly FieldSlot[],
  counts: readonly number[],
  base: number,
  aos: boolean,
): { fields: FieldSlot[]; bytes: number } {
  const n = counts.reduce((k, c) => k * c, 1);
  const rowMajor = (inner: number) => {
    const strides = new Array<number>(counts.length);
    let s = inner;
    for (let k = counts.length - 1; k >= 0; k--) {
      strides[k] = s;
      s *= counts[k]!;
    }
    return strides;
  };
  const sizes = fields.map((f) => scalarSize(f.type) * f.count);
  if (aos) {
    const elem = sizes.reduce((a, b) => a + b, 0);
    let at = 0;
    const out = fields.map((f, i) => {
      const slot = { ...f, offset: base + at, strides: rowMajor(elem) };
      at += sizes[i]!;
      return slot;
    });
    return { fields: out, bytes: elem * n };
  }
  let at = base;
  const out = fields.map((f, i) => {
    at = align(at, 8);
    const slot = { ...f, offset: at, strides: rowMajor(sizes[i]!) };
    at += sizes[i]! * n;
    return slot;
  });
  return { fields: out, bytes: at - base };
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
