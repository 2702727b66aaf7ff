/**
 * The typed-array view of a layout that a function receives and returns:
 * which field sits where in the buffer, under which names, with what extents.
 * Pure: the Worker builds its views from this table, and the host packs
 * returned arrays into an output layout with it.
 *
 * @module
 */

import { LayoutError } from "../errors.ts";
import type { FieldSlot, FragmentLayout } from "../transform/layout.ts";
import { type NumericType, scalarName, scalarSize } from "../transform/scalar.ts";

/** One field of a layout as a typed array. */
export interface FieldEntry {
  /** `slot` for a scalar variable, `slot.path` for a struct field. */
  readonly name: string;
  /** Further names of the same array (a slot's name when it holds one field). */
  readonly aliases: readonly string[];
  /** Element type (`bool` is viewed as bytes). */
  readonly type: NumericType;
  /** Byte offset of the field's first element in the buffer. */
  readonly offset: number;
  /** Elements of the field. */
  readonly length: number;
  /** Its fragment axes' counts, then its inner array's count when above 1. */
  readonly shape: readonly number[];
}

/**
 * The fields of a layout as typed arrays, in buffer order. Throws
 * `LayoutError` when a field is a string, or is interleaved with others (an
 * array of structs: declare the fragment `columnar`), or is not aligned.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, fragmentLayout } from "../ddl/mod.ts";
 * import { fieldTable } from "./fields.ts";
 * const ds = compileDescription(`dataset { var p [4]struct { x float64; id int32 } }
 * fragment cols columnar { var q { id, x } = p }`);
 * const t = fieldTable(fragmentLayout(ds, "cols"));
 * assert.deepEqual(t.map((f) => [f.name, f.type, f.offset, f.length]), [
 *   ["q.id", "int32", 0, 4],
 *   ["q.x", "float64", 16, 4],
 * ]);
 * ```
 */
export function fieldTable(layout: FragmentLayout): FieldEntry[] {
  const out: FieldEntry[] = [];
  for (const slot of layout.slots) {
    const counts = slot.axes.map((a) => a.count);
    for (const field of slot.fields) {
      const name = field.path === "" ? slot.name : `${slot.name}.${field.path}`;
      if (typeof field.type !== "string") {
        throw new LayoutError(
          `Field '${name}' is a ${scalarName(field.type)}: functions take numeric fields only`,
        );
      }
      const size = scalarSize(field.type);
      if (!contiguous(field, counts, size)) {
        throw new LayoutError(
          `Field '${name}' is interleaved with other fields: declare the fragment columnar so each field is one array`,
        );
      }
      if (field.offset % size !== 0) {
        throw new LayoutError(
          `Field '${name}' is not aligned to ${size} bytes at offset ${field.offset}`,
        );
      }
      out.push({
        name,
        aliases: slot.fields.length === 1 && field.path !== "" ? [slot.name] : [],
        type: field.type,
        offset: field.offset,
        length: counts.reduce((p, c) => p * c, 1) * field.count,
        shape: field.count > 1 ? [...counts, field.count] : counts,
      });
    }
  }
  return out;
}

/** The typed array class name of each numeric type (`bool` as bytes). */
export const ARRAY_OF_TYPE: Readonly<Record<NumericType, string>> = {
  int8: "Int8Array",
  int16: "Int16Array",
  int32: "Int32Array",
  int64: "BigInt64Array",
  uint8: "Uint8Array",
  uint16: "Uint16Array",
  uint32: "Uint32Array",
  uint64: "BigUint64Array",
  float32: "Float32Array",
  float64: "Float64Array",
  bool: "Uint8Array",
};

/**
 * Packs the arrays a function returned into one buffer of `layout`: each
 * field must be returned under its name (or alias) as a typed array of its
 * type and exact length. Throws `TypeError` saying what was expected and
 * found; extra names are refused too, so a typo does not pass silently.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, datasetLayout } from "../ddl/mod.ts";
 * import { fieldTable, packOutput } from "./fields.ts";
 * const layout = datasetLayout(compileDescription("dataset { var h [2]uint32 }"));
 * const bytes = packOutput(layout, fieldTable(layout), { h: new Uint32Array([3, 4]) });
 * assert.deepEqual([...new Uint32Array(bytes.buffer)], [3, 4]);
 * ```
 */
export function packOutput(
  layout: FragmentLayout,
  fields: readonly FieldEntry[],
  arrays: Readonly<Record<string, unknown>>,
): Uint8Array {
  if (typeof arrays !== "object" || arrays === null || ArrayBuffer.isView(arrays)) {
    throw new TypeError(
      `Expected an object of typed arrays (${fields.map((f) => f.name).join(", ")}), found ${
        describe(arrays)
      }`,
    );
  }
  const out = new Uint8Array(layout.byteLength);
  const used = new Set<string>();
  for (const f of fields) {
    const key = [f.name, ...f.aliases].find((k) => k in arrays);
    if (key === undefined) throw new TypeError(`Missing output field '${f.name}'`);
    used.add(key);
    const a = arrays[key];
    const expected = ARRAY_OF_TYPE[f.type];
    if (!ArrayBuffer.isView(a) || a.constructor.name !== expected) {
      throw new TypeError(`Output field '${f.name}': expected a ${expected}, found ${describe(a)}`);
    }
    const view = a as unknown as { length: number; byteOffset: number; byteLength: number };
    if (view.length !== f.length) {
      throw new TypeError(
        `Output field '${f.name}': expected ${f.length} elements, found ${view.length}`,
      );
    }
    out.set(new Uint8Array(a.buffer, view.byteOffset, view.byteLength), f.offset);
  }
  for (const k of Object.keys(arrays)) {
    if (!used.has(k)) {
      throw new TypeError(
        `Unknown output field '${k}': the output fragment holds ${
          fields.map((f) => f.name).join(", ")
        }`,
      );
    }
  }
  return out;
}

function contiguous(field: FieldSlot, counts: readonly number[], size: number): boolean {
  let expect = size * field.count;
  for (let k = counts.length - 1; k >= 0; k--) {
    if (counts[k] !== 1 && field.strides[k] !== expect) return false;
    expect *= counts[k]!;
  }
  return true;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}
