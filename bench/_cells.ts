/**
 * The registry benchmarks' dataset of cells: a billion one-byte cells, a
 * fragment per cell, so that every publish names a new region.
 *
 * @module
 */

/** A description with one fragment per cell, `cell(r)`. */
export const CELLS_DESCRIPTION =
  "dataset cells { var t [1073741824]int8 }\nfragment cell(r) { var t = t[r:r + 1] }";

/**
 * The record of a copy of cell `r` of version 1 of `dataset`, on node n1's
 * memory tier.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cellCopy } from "./_cells.ts";
 * assert.deepEqual(cellCopy("c", 7).bindings, { r: 7 });
 * ```
 */
export function cellCopy(dataset: string, r: number) {
  return {
    dataset,
    version: 1,
    fragment: "cell",
    bindings: { r },
    node: "n1",
    tier: "memory",
    byteLength: 1,
    checksum: 0,
  };
}
