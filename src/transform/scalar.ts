/**
 * Scalar element types shared by the data language and the transform engine.
 *
 * Every scalar is stored little-endian. `string` is DRepl's stringN: an int16
 * length followed by N bytes, copied as opaque bytes and never converted.
 *
 * @module
 */

/** Numeric scalar types a layout may store, with `bool` stored as one byte. */
export type NumericType =
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "uint8"
  | "uint16"
  | "uint32"
  | "uint64"
  | "float32"
  | "float64"
  | "bool";

/**
 * A scalar as stored in a layout: a numeric type, or an opaque DRepl string of
 * `size` bytes (2 length bytes plus N characters).
 *
 * @example
 * ```ts
 * import type { ScalarType } from "./scalar.ts";
 * const t: ScalarType = { kind: "string", size: 18 }; // string16
 * const f: ScalarType = "float64";
 * ```
 */
export type ScalarType = NumericType | { readonly kind: "string"; readonly size: number };

/** Byte size of each numeric type. */
export const NUMERIC_SIZES: Readonly<Record<NumericType, number>> = {
  int8: 1,
  int16: 2,
  int32: 4,
  int64: 8,
  uint8: 1,
  uint16: 2,
  uint32: 4,
  uint64: 8,
  float32: 4,
  float64: 8,
  bool: 1,
};

/**
 * Byte size of a scalar type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scalarSize } from "./scalar.ts";
 * assert.ok(scalarSize("float32") === 4);
 * assert.ok(scalarSize({ kind: "string", size: 10 }) === 10);
 * ```
 */
export function scalarSize(type: ScalarType): number {
  return typeof type === "string" ? NUMERIC_SIZES[type] : type.size;
}

/**
 * Natural alignment of a scalar type: its size for numbers, 2 for strings
 * (their int16 length prefix).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scalarAlign } from "./scalar.ts";
 * assert.ok(scalarAlign("int64") === 8);
 * ```
 */
export function scalarAlign(type: ScalarType): number {
  return typeof type === "string" ? NUMERIC_SIZES[type] : 2;
}

/**
 * A stable text name for a scalar type (`float64`, `string16`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scalarName } from "./scalar.ts";
 * assert.ok(scalarName({ kind: "string", size: 18 }) === "string16");
 * ```
 */
export function scalarName(type: ScalarType): string {
  return typeof type === "string" ? type : `string${type.size - 2}`;
}

/**
 * Whether two scalar types are the same.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sameScalar } from "./scalar.ts";
 * assert.ok(sameScalar("int8", "int8"));
 * assert.ok(!sameScalar("int8", "uint8"));
 * ```
 */
export function sameScalar(a: ScalarType, b: ScalarType): boolean {
  return scalarName(a) === scalarName(b);
}

/** Whether a numeric type is an integer type (bool excluded). */
export function isInteger(type: NumericType): boolean {
  return type !== "float32" && type !== "float64" && type !== "bool";
}

/** Inclusive value range of each integer type, as bigints. */
export const INTEGER_RANGES: Readonly<Record<string, readonly [bigint, bigint]>> = {
  int8: [-128n, 127n],
  int16: [-32768n, 32767n],
  int32: [-2147483648n, 2147483647n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint8: [0n, 255n],
  uint16: [0n, 65535n],
  uint32: [0n, 4294967295n],
  uint64: [0n, 2n ** 64n - 1n],
};

/**
 * Whether converting `from` to `to` keeps every value exactly representable
 * in range: integers widen only (int32 -> int64, uint8 -> int16), integers go
 * to floats only where the float's mantissa holds them (int32 -> float64),
 * floats narrow freely (float64 -> float32 rounds, it is a precision choice the
 * description states), floats never become integers, bool only to bool.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { conversionKeepsRange } from "./scalar.ts";
 * assert.ok(conversionKeepsRange("float64", "float32"));
 * assert.ok(!conversionKeepsRange("int64", "int32"));
 * ```
 */
export function conversionKeepsRange(from: ScalarType, to: ScalarType): boolean {
  if (typeof from !== "string" || typeof to !== "string") return sameScalar(from, to);
  if (from === to) return true;
  if (from === "bool" || to === "bool") return false;
  const fromInt = isInteger(from);
  const toInt = isInteger(to);
  if (!fromInt && !toInt) return true;
  if (!fromInt && toInt) return false;
  const [lo, hi] = INTEGER_RANGES[from]!;
  if (toInt) {
    const [tlo, thi] = INTEGER_RANGES[to]!;
    return lo >= tlo && hi <= thi;
  }
  const mantissa = to === "float32" ? 24n : 53n;
  const limit = 2n ** mantissa;
  return lo >= -limit && hi <= limit;
}
