/**
 * The packed, row-major form of each variable of a dataset layout: its
 * elements back to back, each element's leaf fields back to back in layout
 * order. That is the byte order of an HDF5 dataset of a compound (or scalar)
 * type, so export and import move bytes between it and the dataset layout
 * with one copy plan of the transform engine.
 *
 * @module
 */

import { type FieldSlot, type FragmentLayout, scalarSize, type VarSlot } from "../transform/mod.ts";

/** One variable in the packed buffer. */
export interface PackedVariable {
  /** The dataset variable. */
  readonly name: string;
  /** Byte offset of its first element in the packed buffer. */
  readonly offset: number;
  /** Bytes of one element. */
  readonly elementSize: number;
  /** Elements along each axis, outermost first (empty: a single element). */
  readonly shape: readonly number[];
  /** Leaf fields with offsets relative to the element's start. */
  readonly fields: readonly FieldSlot[];
}

/** A dataset layout's variables, packed; `layout` is the packed buffer's layout. */
export interface Packed {
  /** Layout of the packed buffer, for copy plans to and from the dataset layout. */
  readonly layout: FragmentLayout;
  /** Each variable's place in it. */
  readonly variables: readonly PackedVariable[];
}

/** Lays out every slot of `layout` packed and row-major, one after another (8-byte aligned). */
export function packedLayout(layout: FragmentLayout): Packed {
  let at = 0;
  const slots: VarSlot[] = [];
  const variables: PackedVariable[] = [];
  for (const slot of layout.slots) {
    at = Math.ceil(at / 8) * 8;
    let elementSize = 0;
    const fields: FieldSlot[] = slot.fields.map((f) => {
      const field = { ...f, offset: elementSize, strides: [] };
      elementSize += scalarSize(f.type) * f.count;
      return field;
    });
    const shape = slot.axes.map((a) => a.count);
    const strides = shape.map((_, k) =>
      elementSize * shape.slice(k + 1).reduce((p, n) => p * n, 1)
    );
    slots.push({
      ...slot,
      fields: fields.map((f) => ({ ...f, offset: at + f.offset, strides })),
    });
    variables.push({ name: slot.variable, offset: at, elementSize, shape, fields });
    at += elementSize * shape.reduce((p, n) => p * n, 1);
  }
  return { layout: { byteLength: at, slots }, variables };
}
