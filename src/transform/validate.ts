/**
 * Structural checks of a layout before a plan is compiled from it, so that
 * execution can trust every offset it computes.
 *
 * @module
 */

import { LayoutError } from "../errors.ts";
import type { FragmentLayout } from "./layout.ts";
import { scalarSize } from "./scalar.ts";

/**
 * Throws `LayoutError` when a layout is malformed: an axis outside the
 * variable's rank or two axes walking one dimension, a step below 1, strides
 * that do not match the axes or are negative, or a field whose bytes fall
 * outside the buffer.
 * `what` names the layout in messages ("source 2", "target").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateLayout } from "./validate.ts";
 * import { LayoutError } from "../errors.ts";
 * const layout = {
 *   byteLength: 8,
 *   slots: [{ name: "t", variable: "t", origin: [0], axes: [{ dim: 0, step: 1, count: 2 }],
 *     fields: [{ path: "", type: "float64" as const, count: 1, offset: 0, strides: [8] }] }],
 * };
 * assert.throws(() => validateLayout(layout, "target"), LayoutError);
 * ```
 */
export function validateLayout(layout: FragmentLayout, what: string): void {
  if (!isCount(layout.byteLength)) {
    throw new LayoutError(`Invalid byte length of ${what}: ${layout.byteLength}`);
  }
  for (const slot of layout.slots) {
    const where = `slot '${slot.name}' of ${what}`;
    const rank = slot.origin.length;
    const walked = new Set<number>();
    for (const a of slot.axes) {
      if (!Number.isInteger(a.dim) || a.dim < 0 || a.dim >= rank) {
        throw new LayoutError(
          `Invalid axis in ${where}: dimension ${a.dim} is outside rank ${rank}`,
        );
      }
      if (walked.has(a.dim)) {
        throw new LayoutError(
          `Unsupported axes in ${where}: two axes walk dimension ${a.dim}`,
        );
      }
      walked.add(a.dim);
      if (!Number.isSafeInteger(a.step) || a.step < 1 || !isCount(a.count)) {
        throw new LayoutError(
          `Invalid axis in ${where}: step ${a.step} and count ${a.count} must be integers, step >= 1`,
        );
      }
    }
    if (!slot.origin.every(Number.isSafeInteger)) {
      throw new LayoutError(`Invalid origin in ${where}: [${slot.origin.join(", ")}]`);
    }
    const empty = slot.axes.some((a) => a.count === 0);
    for (const f of slot.fields) {
      if (f.strides.length !== slot.axes.length) {
        throw new LayoutError(
          `Invalid field '${f.path}' in ${where}: expected ${slot.axes.length} strides, found ${f.strides.length}`,
        );
      }
      if (!f.strides.every(isCount) || !isCount(f.offset) || !Number.isSafeInteger(f.count)) {
        throw new LayoutError(
          `Invalid field '${f.path}' in ${where}: offset, strides and count must be non-negative integers`,
        );
      }
      if (f.count < 1) {
        throw new LayoutError(`Invalid field '${f.path}' in ${where}: count must be at least 1`);
      }
      if (empty) continue;
      const end = slot.axes.reduce(
        (e, a, k) => e + (a.count - 1) * f.strides[k]!,
        f.offset + scalarSize(f.type) * f.count,
      );
      if (end > layout.byteLength) {
        throw new LayoutError(
          `Field '${f.path}' of ${where} lies outside the buffer: it ends at byte ${end}, the buffer has ${layout.byteLength}`,
        );
      }
    }
  }
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}
