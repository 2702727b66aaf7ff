/**
 * The data a compiled plan is made of: strided copy operations between byte
 * buffers. Plans are plain JSON-serialisable objects, so they can be cached,
 * logged, shipped to another runtime and executed there.
 *
 * @module
 */

import type { ScalarType } from "./scalar.ts";

/**
 * One strided copy: for every index tuple `(i0, i1, ...)` below `counts`, read
 * a `from` scalar at byte `srcOffset + i0 * srcStrides[0] + ...` of source
 * buffer `source`, convert it, and write it as `to` at byte `dstOffset + i0 *
 * dstStrides[0] + ...` of the target. Dimensions are outermost first. A copy
 * of raw bytes (merged fields, a memcpy) has `from` and `to` both `uint8`.
 *
 * @example
 * ```ts
 * import type { CopyOp } from "./op.ts";
 * // Column x of 1024 structs {x, y, z, w float64} into a packed array.
 * const op: CopyOp = {
 *   source: 0,
 *   srcOffset: 0,
 *   dstOffset: 0,
 *   counts: [1024],
 *   srcStrides: [32],
 *   dstStrides: [8],
 *   from: "float64",
 *   to: "float64",
 * };
 * ```
 */
export interface CopyOp {
  /** Index of the source buffer in the plan's sources. */
  readonly source: number;
  /** Byte offset of the first scalar read. */
  readonly srcOffset: number;
  /** Byte offset of the first scalar written. */
  readonly dstOffset: number;
  /** Iteration counts, outermost first (empty for a single scalar). */
  readonly counts: readonly number[];
  /** Byte stride per dimension in the source. */
  readonly srcStrides: readonly number[];
  /** Byte stride per dimension in the target. */
  readonly dstStrides: readonly number[];
  /** Scalar type read. */
  readonly from: ScalarType;
  /** Scalar type written. */
  readonly to: ScalarType;
}

/**
 * A compiled transform from some source buffers into one target buffer. Its
 * ops write disjoint target bytes and together write every byte of every
 * target field; bytes of the target outside any field (alignment padding) are
 * left as they are.
 *
 * @example
 * ```ts
 * import type { Plan } from "./op.ts";
 * const plan: Plan = {
 *   sourceBytes: [64],
 *   targetBytes: 64,
 *   ops: [{
 *     source: 0, srcOffset: 0, dstOffset: 0, counts: [64], srcStrides: [1], dstStrides: [1],
 *     from: "uint8", to: "uint8",
 *   }],
 * };
 * ```
 */
export interface Plan {
  /** Expected byte length of each source buffer. */
  readonly sourceBytes: readonly number[];
  /** Expected byte length of the target buffer. */
  readonly targetBytes: number;
  /** The copies, sorted by target offset. */
  readonly ops: readonly CopyOp[];
}

/**
 * Whether an op is one contiguous run of raw bytes (a memcpy).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isMemcpy } from "./op.ts";
 * assert.ok(isMemcpy({
 *   source: 0, srcOffset: 0, dstOffset: 8, counts: [16], srcStrides: [1], dstStrides: [1],
 *   from: "uint8", to: "uint8",
 * }));
 * ```
 */
export function isMemcpy(op: CopyOp): boolean {
  return op.from === "uint8" && op.to === "uint8" && op.counts.length === 1 &&
    op.srcStrides[0] === 1 && op.dstStrides[0] === 1;
}
