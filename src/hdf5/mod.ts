/**
 * HDF5 in and out: a committed version as an HDF5 file (`toHdf5`), a dataset
 * from an HDF5 file (`fromHdf5`), served by `src/api/hdf5_routes.ts`. Built on
 * h5wasm, the HDF5 C library compiled to WebAssembly, which keeps its files in
 * memory and needs no Deno permission. See docs/hdf5.md.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HDF5_MEDIA_TYPE } from "./mod.ts";
 * assert.equal(HDF5_MEDIA_TYPE, "application/x-hdf5");
 * ```
 *
 * @module
 */

export * from "./export.ts";
export * from "./import.ts";
