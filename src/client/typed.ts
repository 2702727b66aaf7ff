/**
 * Typed-array views of attached bytes.
 *
 * @module
 */

import { LayoutError } from "../errors.ts";
import type { FieldSlot, FragmentLayout } from "../transform/layout.ts";
import { type NumericType, scalarName, scalarSize } from "../transform/scalar.ts";

/** Any typed array a numeric field can be viewed as. */
export type NumericArray =
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

const CTORS: Record<NumericType, (b: ArrayBuffer, o: number, n: number) => NumericArray> = {
  int8: (b, o, n) => new Int8Array(b, o, n),
  int16: (b, o, n) => new Int16Array(b, o, n),
  int32: (b, o, n) => new Int32Array(b, o, n),
  int64: (b, o, n) => new BigInt64Array(b, o, n),
  uint8: (b, o, n) => new Uint8Array(b, o, n),
  uint16: (b, o, n) => new Uint16Array(b, o, n),
  uint32: (b, o, n) => new Uint32Array(b, o, n),
  uint64: (b, o, n) => new BigUint64Array(b, o, n),
  float32: (b, o, n) => new Float32Array(b, o, n),
  float64: (b, o, n) => new Float64Array(b, o, n),
  bool: (b, o, n) => new Uint8Array(b, o, n),
};

/**
 * A typed array over one stored field, without copying. The field must be
 * contiguous in the buffer (a column of a `columnar` fragment, or the only
 * field of a scalar variable) and aligned.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fieldArray } from "./typed.ts";
 * const layout = { byteLength: 16, slots: [{ name: "t", variable: "t", origin: [0],
 *   axes: [{ dim: 0, step: 1, count: 2 }],
 *   fields: [{ path: "", type: "float64" as const, count: 1, offset: 0, strides: [8] }] }] };
 * const bytes = new Uint8Array(new Float64Array([1.5, 2.5]).buffer);
 * assert.deepEqual([...fieldArray(layout, bytes, "t")], [1.5, 2.5]);
 * ```
 */
export function fieldArray(layout: FragmentLayout, bytes: Uint8Array, name: string): NumericArray {
  const dot = name.indexOf(".");
  const slotName = dot < 0 ? name : name.slice(0, dot);
  const path = dot < 0 ? "" : name.slice(dot + 1);
  const slot = layout.slots.find((s) => s.name === slotName);
  const field = slot?.fields.find((f) => f.path === path);
  if (slot === undefined || field === undefined) {
    const names = layout.slots.flatMap((s) =>
      s.fields.map((f) => f.path ? `${s.name}.${f.path}` : s.name)
    );
    throw new LayoutError(`No field '${name}' in this layout: it holds ${names.join(", ")}`);
  }
  if (typeof field.type !== "string") {
    throw new LayoutError(`Field '${name}' is a ${scalarName(field.type)}: view it as bytes`);
  }
  const size = scalarSize(field.type);
  const n = slot.axes.reduce((p, a) => p * a.count, 1) * field.count;
  if (!contiguous(field, slot.axes.map((a) => a.count), size)) {
    throw new LayoutError(
      `Field '${name}' is interleaved with others: attach a columnar fragment to view it`,
    );
  }
  const offset = bytes.byteOffset + field.offset;
  if (offset % size !== 0) {
    throw new LayoutError(`Field '${name}' is not aligned to ${size} bytes at offset ${offset}`);
  }
  return CTORS[field.type](bytes.buffer as ArrayBuffer, offset, n);
}

function contiguous(field: FieldSlot, counts: number[], size: number): boolean {
  let expect = size * field.count;
  for (let k = counts.length - 1; k >= 0; k--) {
    if (counts[k] !== 1 && field.strides[k] !== expect) return false;
    expect *= counts[k]!;
  }
  return true;
}
