/**
 * Plan compilation: from the layouts of some source buffers and of a target
 * buffer to the strided copies that fill the target.
 *
 * For every field of every target slot, each source slot holding the same
 * variable and field path is intersected with the target's region in the
 * variable's index space (per dimension, two progressions meet in one whose
 * step is the lcm of theirs). What the target still misses is tracked as boxes
 * in the target's own index space: the first source that holds an element
 * writes it, later overlapping sources are skipped for it, and whatever no
 * source holds is reported as `MissingRegionError`, never left as zeros.
 *
 * @module
 */

import { type IndexBox, LayoutError, MissingRegionError } from "../errors.ts";
import { checkConversion } from "./convert.ts";
import type { FieldSlot, FragmentLayout, VarSlot } from "./layout.ts";
import { mergeOps } from "./merge.ts";
import type { CopyOp, Plan } from "./op.ts";
import {
  coalesceBoxes,
  intersectBoxes,
  intersectProgressions,
  type Progression,
  type StridedBox,
  subtractBox,
} from "./region.ts";
import { scalarSize } from "./scalar.ts";
import { validateLayout } from "./validate.ts";

/**
 * Compiles the plan that fills a buffer in layout `target` from buffers in
 * layouts `sources`.
 *
 * Throws `MissingRegionError` when the sources do not hold every element of a
 * target field, naming the missing boxes in the variable's index space: the
 * target's elements inside them are exactly the missing ones (for a strided
 * target a box also spans the indices the target skips), unless the gaps left
 * by strided sources would take more than 64 boxes, when they are named by
 * their bounding boxes. Also throws `LayoutError` for a malformed layout, an inner array of another length, or a
 * conversion between a string and anything but a string of the same size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compilePlan } from "./plan.ts";
 * import type { FragmentLayout } from "./layout.ts";
 * const field = (path: string, offset: number, stride: number) =>
 *   ({ path, type: "float64" as const, count: 1, offset, strides: [stride] });
 * const slot = (fields: ReturnType<typeof field>[]) =>
 *   ({ name: "p", variable: "p", origin: [0], axes: [{ dim: 0, step: 1, count: 100 }], fields });
 * const aos: FragmentLayout = { byteLength: 1600, slots: [slot([field("x", 0, 16), field("y", 8, 16)])] };
 * const soa: FragmentLayout = { byteLength: 1600, slots: [slot([field("x", 0, 8), field("y", 800, 8)])] };
 * const plan = compilePlan([aos], soa);
 * assert.equal(plan.ops.length, 2);
 * assert.deepEqual(plan.ops[1], {
 *   source: 0, srcOffset: 8, dstOffset: 800, counts: [100], srcStrides: [16], dstStrides: [8],
 *   from: "float64", to: "float64",
 * });
 * ```
 */
export function compilePlan(sources: readonly FragmentLayout[], target: FragmentLayout): Plan {
  sources.forEach((s, i) => validateLayout(s, `source ${i}`));
  validateLayout(target, "target");
  const ops: CopyOp[] = [];
  for (const slot of target.slots) {
    for (const field of slot.fields) ops.push(...planField(sources, slot, field));
  }
  return {
    sourceBytes: sources.map((s) => s.byteLength),
    targetBytes: target.byteLength,
    ops: mergeOps(ops),
  };
}

/** The copies that fill one target field, first source first. */
function planField(
  sources: readonly FragmentLayout[],
  slot: VarSlot,
  field: FieldSlot,
): CopyOp[] {
  if (slot.axes.some((a) => a.count === 0)) return [];
  let missing: StridedBox[] = [slot.axes.map((a) => ({ start: 0, step: 1, count: a.count }))];
  const ops: CopyOp[] = [];
  const name = field.path === "" ? slot.variable : `${slot.variable}.${field.path}`;
  sources.forEach((source, s) => {
    for (const from of source.slots) {
      if (missing.length === 0) return;
      if (from.variable !== slot.variable) continue;
      const fromField = from.fields.find((f) => f.path === field.path);
      if (fromField === undefined) continue;
      if (from.origin.length !== slot.origin.length) {
        throw new LayoutError(
          `Variable '${slot.variable}' has rank ${from.origin.length} in source ${s} but ${slot.origin.length} in the target`,
        );
      }
      const held = regionInTarget(slot, from);
      if (held === undefined) continue;
      const still: StridedBox[] = [];
      for (const box of missing) {
        const part = intersectBoxes(box, held);
        if (part === undefined) {
          still.push(box);
          continue;
        }
        checkField(fromField, field, name, s);
        ops.push(copyFor(part, { slot, field }, { slot: from, field: fromField, index: s }));
        still.push(...subtractBox(box, part));
      }
      missing = still;
    }
  });
  if (missing.length > 0) {
    throw new MissingRegionError(slot.variable, field.path, missingBoxes(slot, missing));
  }
  return ops;
}

function checkField(from: FieldSlot, to: FieldSlot, name: string, source: number): void {
  if (from.count !== to.count) {
    throw new LayoutError(
      `Field '${name}' holds ${from.count} scalars per element in source ${source} but ${to.count} in the target`,
    );
  }
  checkConversion(from.type, to.type, name);
}

/** Values of a slot along a variable dimension: its axis, or its fixed origin. */
function along(slot: VarSlot, dim: number): { axis: number; p: Progression } {
  const axis = slot.axes.findIndex((a) => a.dim === dim);
  const a = slot.axes[axis];
  const start = slot.origin[dim]!;
  return { axis, p: a === undefined ? { start, step: 1, count: 1 } : { start, ...a } };
}

/** The part of the target slot's region that `source` holds, in target fragment indices. */
function regionInTarget(target: VarSlot, source: VarSlot): StridedBox | undefined {
  const box: Progression[] = target.axes.map(() => ({ start: 0, step: 1, count: 1 }));
  for (let d = 0; d < target.origin.length; d++) {
    const t = along(target, d);
    const common = intersectProgressions(t.p, along(source, d).p);
    if (common === undefined) return undefined;
    if (t.axis < 0) continue;
    box[t.axis] = {
      start: (common.start - t.p.start) / t.p.step,
      step: common.count > 1 ? common.step / t.p.step : 1,
      count: common.count,
    };
  }
  return box;
}

interface Side {
  readonly slot: VarSlot;
  readonly field: FieldSlot;
}

/** The strided copy of the target box `part` from one source slot. */
function copyFor(part: StridedBox, dst: Side, src: Side & { index: number }): CopyOp {
  let srcOffset = src.field.offset;
  let dstOffset = dst.field.offset;
  const counts: number[] = [];
  const srcStrides: number[] = [];
  const dstStrides: number[] = [];
  dst.slot.axes.forEach((axis, k) => {
    const p = part[k]!;
    const stride = dst.field.strides[k]!;
    dstOffset += stride * p.start;
    const first = dst.slot.origin[axis.dim]! + axis.step * p.start;
    const s = along(src.slot, axis.dim);
    let srcStride = 0;
    if (s.axis >= 0) {
      const sStride = src.field.strides[s.axis]!;
      srcOffset += sStride * ((first - s.p.start) / s.p.step);
      if (p.count > 1) srcStride = sStride * (axis.step * p.step / s.p.step);
    }
    counts.push(p.count);
    srcStrides.push(srcStride);
    dstStrides.push(p.count > 1 ? stride * p.step : 0);
  });
  src.slot.axes.forEach((axis, k) => {
    if (dst.slot.axes.some((a) => a.dim === axis.dim)) return;
    const fixed = dst.slot.origin[axis.dim]!;
    srcOffset += src.field.strides[k]! * ((fixed - src.slot.origin[axis.dim]!) / axis.step);
  });
  if (dst.field.count > 1) {
    counts.push(dst.field.count);
    srcStrides.push(scalarSize(src.field.type));
    dstStrides.push(scalarSize(dst.field.type));
  }
  return {
    source: src.index,
    srcOffset,
    dstOffset,
    counts,
    srcStrides,
    dstStrides,
    from: src.field.type,
    to: dst.field.type,
  };
}

/** Most boxes a missing region is split into to name it exactly. */
const EXACT_BOXES = 64;

/**
 * The missing part of a target slot as boxes of variable indices. Boxes with
 * steps (left by strided sources) are split into unit-step boxes so that the
 * report names only missing elements; past `EXACT_BOXES` boxes, each strided
 * box is reported by its bounding box instead.
 */
function missingBoxes(slot: VarSlot, missing: readonly StridedBox[]): IndexBox[] {
  let pieces: StridedBox[] = [];
  let total = 0;
  for (const box of missing) {
    total += box.reduce((n, p) => n * (p.step > 1 ? p.count : 1), 1);
    if (total > EXACT_BOXES) break;
    pieces.push(...unitSteps(box));
  }
  if (total > EXACT_BOXES) pieces = [...missing];
  return coalesceBoxes(pieces).map((box) => variableBox(slot, box));
}

/** A box as boxes without steps: one slice per value along each strided axis. */
function unitSteps(box: StridedBox): StridedBox[] {
  let out: Progression[][] = [[]];
  for (const p of box) {
    const values = p.step > 1
      ? Array.from(
        { length: p.count },
        (_, i) => ({ start: p.start + p.step * i, step: 1, count: 1 }),
      )
      : [p];
    out = out.flatMap((prefix) => values.map((v) => [...prefix, v]));
  }
  return out;
}

/** A box of target fragment indices as a box of variable indices. */
function variableBox(slot: VarSlot, box: StridedBox): IndexBox {
  const start = [...slot.origin];
  const count = slot.origin.map(() => 1);
  slot.axes.forEach((a, k) => {
    const p = box[k]!;
    start[a.dim] = slot.origin[a.dim]! + a.step * p.start;
    count[a.dim] = a.step * p.step * (p.count - 1) + 1;
  });
  return { start, count };
}
