/**
 * The physical layout of a fragment buffer: the contract between the data
 * language (which computes it from a description) and the transform engine
 * (which compiles copy plans between two of them).
 *
 * A dataset variable has an index space: the dimensions of its top-level array
 * (rank 0 for a variable that is a single struct or scalar). A fragment buffer
 * holds one or more variable slots; each slot covers a strided box of one
 * variable's index space and stores some of the element's leaf fields, each at
 * its own byte offset and byte strides. Array-of-structs, struct-of-arrays,
 * field subsets, transposition, strided slices and element conversion are all
 * just different numbers in this structure.
 *
 * @module
 */

import type { ScalarType } from "./scalar.ts";

/**
 * One axis of a fragment slot: fragment dimension k walks variable dimension
 * `dim` from the slot's origin in steps of `step`, `count` times.
 */
export interface Axis {
  /** Index of the variable dimension this fragment dimension walks. */
  readonly dim: number;
  /** Variable-index step between consecutive fragment indices (>= 1). */
  readonly step: number;
  /** Number of fragment indices along this axis. */
  readonly count: number;
}

/**
 * Where one leaf field of the element lives in the fragment buffer.
 *
 * The field of the element at fragment index (i0, i1, ...) starts at byte
 * `offset + i0 * strides[0] + i1 * strides[1] + ...` and holds `count` scalars
 * of `type` packed back to back (count > 1 for a fixed inner array such as
 * `[3]float32`).
 */
export interface FieldSlot {
  /** Leaf path inside the element: "" for a scalar element, "a", "pos.x", "v[2].y". */
  readonly path: string;
  /** Scalar type as stored in this buffer (may differ from the dataset's: conversion). */
  readonly type: ScalarType;
  /** Scalars packed per element for this leaf (1 unless the leaf is an inner array). */
  readonly count: number;
  /** Byte offset of fragment index (0, 0, ...) in the buffer. */
  readonly offset: number;
  /** Byte stride per fragment axis (same length as the slot's axes). */
  readonly strides: readonly number[];
}

/**
 * A region of one dataset variable stored in a fragment buffer.
 *
 * Variable index of fragment index (i0, i1, ...):
 * `origin` with `origin[axes[k].dim] += axes[k].step * ik` for every k.
 * Variable dimensions no axis walks stay fixed at `origin` (a slice that drops
 * a dimension).
 */
export interface VarSlot {
  /** Name of the slot in the fragment (the fragment's own variable name). */
  readonly name: string;
  /** Name of the dataset variable it holds. */
  readonly variable: string;
  /** Variable index of fragment index (0, 0, ...); length = variable rank. */
  readonly origin: readonly number[];
  /** Fragment axes, outermost first. */
  readonly axes: readonly Axis[];
  /** Leaf fields stored, in buffer order. */
  readonly fields: readonly FieldSlot[];
}

/**
 * The full physical layout of one fragment buffer.
 *
 * @example
 * ```ts
 * import type { FragmentLayout } from "./layout.ts";
 * // 4 particles {x, y float32} as an array of structs.
 * const aos: FragmentLayout = {
 *   byteLength: 32,
 *   slots: [{
 *     name: "p",
 *     variable: "p",
 *     origin: [0],
 *     axes: [{ dim: 0, step: 1, count: 4 }],
 *     fields: [
 *       { path: "x", type: "float32", count: 1, offset: 0, strides: [8] },
 *       { path: "y", type: "float32", count: 1, offset: 4, strides: [8] },
 *     ],
 *   }],
 * };
 * ```
 */
export interface FragmentLayout {
  /** Total bytes of a buffer in this layout. */
  readonly byteLength: number;
  /** Variable slots held by the buffer. */
  readonly slots: readonly VarSlot[];
}
