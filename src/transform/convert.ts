/**
 * Which scalar conversions a plan may contain, and which of them are plain
 * byte copies.
 *
 * Numbers convert to numbers with typed-array semantics (integers wrap modulo
 * their width, floats truncate toward zero into integers, NaN and infinities
 * become 0, float64 -> float32 rounds to nearest); a `bool` target stores 1 for
 * any non-zero, non-NaN value and a `bool` source reads as its byte. Strings
 * are opaque bytes: they copy only to strings of the same size.
 *
 * @module
 */

import { LayoutError } from "../errors.ts";
import { scalarName, scalarSize, type ScalarType } from "./scalar.ts";

/**
 * Throws `LayoutError` unless `from` may be converted to `to`; `what` names
 * the field in the message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkConversion } from "./convert.ts";
 * checkConversion("float64", "float32", "p.x");
 * assert.throws(() => checkConversion({ kind: "string", size: 10 }, "int32", "p.name"));
 * ```
 */
export function checkConversion(from: ScalarType, to: ScalarType, what: string): void {
  const fromString = typeof from !== "string";
  const toString = typeof to !== "string";
  if (!fromString && !toString) return;
  if (fromString && toString && from.size === to.size) return;
  throw new LayoutError(
    `Cannot convert '${what}' from ${scalarName(from)} to ${scalarName(to)}: ` +
      "strings convert only to strings of the same size",
  );
}

/**
 * Whether converting `from` to `to` leaves every byte as it is: the same type,
 * or integers of the same width that differ in sign only (typed arrays wrap
 * modulo 2^bits, so the bit pattern is kept).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isBitCopy } from "./convert.ts";
 * assert.ok(isBitCopy("int32", "uint32"));
 * assert.ok(!isBitCopy("int32", "float32"));
 * ```
 */
export function isBitCopy(from: ScalarType, to: ScalarType): boolean {
  if (scalarName(from) === scalarName(to)) return true;
  if (typeof from !== "string" || typeof to !== "string") return false;
  return isInt(from) && isInt(to) && scalarSize(from) === scalarSize(to);
}

function isInt(t: string): boolean {
  return t.startsWith("int") || t.startsWith("uint");
}
