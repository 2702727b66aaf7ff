/**
 * Resolved types: sizes, byte offsets and leaf fields under DRepl's packing
 * rules (struct fields and array elements packed with no padding).
 *
 * @module
 */

import {
  NUMERIC_SIZES,
  type NumericType,
  scalarName,
  scalarSize,
  type ScalarType,
} from "../transform/scalar.ts";

/** A dimension of an array: a fixed size, or the value of an integer variable. */
export type Dim = number | { readonly sizeVar: string };

/** A type after name resolution. */
export type ResolvedType =
  | { readonly kind: "scalar"; readonly scalar: ScalarType }
  | {
    readonly kind: "struct";
    readonly name?: string;
    readonly fields: readonly { readonly name: string; readonly type: ResolvedType }[];
  }
  | { readonly kind: "array"; readonly dims: readonly Dim[]; readonly element: ResolvedType };

/** One leaf (scalar or packed scalar array) of a type, at its byte offset. */
export interface Leaf {
  /** Dotted path: "" for a scalar, "a", "pos.x", "v[1].y". */
  readonly path: string;
  /** Scalar type of the leaf. */
  readonly type: ScalarType;
  /** Number of packed scalars (1 unless an inner array of scalars). */
  readonly count: number;
  /** Byte offset inside the enclosing type. */
  readonly offset: number;
}

/**
 * The scalar type a name denotes, or undefined: int8..int64, uint8..uint64,
 * float32, float64, bool, stringN.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scalarByName } from "./types.ts";
 * assert.ok(scalarByName("float32") === "float32");
 * assert.ok(JSON.stringify(scalarByName("string8")) === '{"kind":"string","size":10}');
 * assert.ok(scalarByName("Point") === undefined);
 * ```
 */
export function scalarByName(name: string): ScalarType | undefined {
  if (Object.hasOwn(NUMERIC_SIZES, name)) return name as NumericType;
  const m = /^string([0-9]+)$/.exec(name);
  if (m) {
    const n = Number(m[1]);
    if (n >= 1 && n <= 32767) return { kind: "string", size: n + 2 };
  }
  return undefined;
}

/**
 * Byte size of a type with fixed dimensions (packed, no padding).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { typeSize } from "./types.ts";
 * const t = { kind: "struct", fields: [
 *   { name: "a", type: { kind: "scalar", scalar: "float64" } },
 *   { name: "b", type: { kind: "scalar", scalar: "float32" } },
 * ] } as const;
 * assert.ok(typeSize(t) === 12);
 * ```
 */
export function typeSize(type: ResolvedType): number {
  switch (type.kind) {
    case "scalar":
      return scalarSize(type.scalar);
    case "struct":
      return type.fields.reduce((s, f) => s + typeSize(f.type), 0);
    case "array":
      return fixedCount(type.dims) * typeSize(type.element);
  }
}

/** Whether a type's size depends on a variable's value. */
export function isVariableSized(type: ResolvedType): boolean {
  switch (type.kind) {
    case "scalar":
      return false;
    case "struct":
      return type.fields.some((f) => isVariableSized(f.type));
    case "array":
      return type.dims.some((d) => typeof d !== "number") || isVariableSized(type.element);
  }
}

function fixedCount(dims: readonly Dim[]): number {
  let n = 1;
  for (const d of dims) {
    if (typeof d !== "number") throw new RangeError(`Array size depends on '${d.sizeVar}'`);
    n *= d;
  }
  return n;
}

/** Largest number of leaves an element may expand to (inner arrays of structs expand). */
export const MAX_LEAVES = 4096;

/**
 * The leaves of a type in layout order, with byte offsets. Inner arrays of
 * scalars stay one leaf with a count; inner arrays of structs expand per index.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { leavesOf } from "./types.ts";
 * const t = { kind: "struct", fields: [
 *   { name: "id", type: { kind: "scalar", scalar: "int32" } },
 *   { name: "v", type: { kind: "array", dims: [3], element: { kind: "scalar", scalar: "float32" } } },
 * ] } as const;
 * const leaves = leavesOf(t);
 * assert.ok(leaves[1]?.path === "v" && leaves[1]?.count === 3 && leaves[1]?.offset === 4);
 * ```
 */
export function leavesOf(type: ResolvedType): Leaf[] {
  const out: Leaf[] = [];
  collect(type, "", 0, out);
  return out;
}

function collect(type: ResolvedType, path: string, offset: number, out: Leaf[]): void {
  if (out.length > MAX_LEAVES) {
    throw new RangeError(`Element has more than ${MAX_LEAVES} fields once inner arrays expand`);
  }
  switch (type.kind) {
    case "scalar":
      out.push({ path, type: type.scalar, count: 1, offset });
      return;
    case "struct": {
      let at = offset;
      for (const f of type.fields) {
        collect(f.type, path === "" ? f.name : `${path}.${f.name}`, at, out);
        at += typeSize(f.type);
      }
      return;
    }
    case "array": {
      const n = fixedCount(type.dims);
      const inner = leavesOf(type.element);
      const only = inner[0];
      if (inner.length === 1 && only !== undefined && only.path === "") {
        out.push({ path, type: only.type, count: only.count * n, offset });
        return;
      }
      // The element's leaves are collected once and repeated, so nested
      // arrays cost their leaf count, not one walk per enclosing index.
      const size = typeSize(type.element);
      for (let k = 0; k < n; k++) {
        for (const l of inner) {
          if (out.length > MAX_LEAVES) {
            throw new RangeError(
              `Element has more than ${MAX_LEAVES} fields once inner arrays expand`,
            );
          }
          const at = `${path}[${k}]`;
          const sub = l.path === "" ? at : l.path.startsWith("[") ? at + l.path : `${at}.${l.path}`;
          out.push({ ...l, path: sub, offset: offset + k * size + l.offset });
        }
      }
      return;
    }
  }
}

/**
 * A canonical text of a resolved type, used to compare types structurally.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { typeKey } from "./types.ts";
 * assert.ok(typeKey({ kind: "array", dims: [4], element: { kind: "scalar", scalar: "int8" } }) === "[4]int8");
 * ```
 */
export function typeKey(type: ResolvedType): string {
  switch (type.kind) {
    case "scalar":
      return scalarName(type.scalar);
    case "struct":
      return `struct{${type.fields.map((f) => `${f.name} ${typeKey(f.type)}`).join("; ")}}`;
    case "array":
      return `[${type.dims.map((d) => typeof d === "number" ? d : d.sizeVar).join(",")}]${
        typeKey(type.element)
      }`;
  }
}
