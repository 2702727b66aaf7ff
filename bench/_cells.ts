/**
 * The registry benchmarks' dataset of cells: a billion one-byte cells, a
 * fragment per cell, so that every publish names a new region.
 *
 * @module
 */

/** A description with one fragment per cell, `cell(r)`. */
export const CELLS_DESCRIPTION =
  "dataset cells { var t [1073741824]int8 }\nfragment cell(r) { var t = t[r:r + 1] }";

/** The record of a copy of cell `r` of version 1 of `dataset`, on node n1's memory tier. */
export { cellCopy } from "../src/registry/_testing.ts";
