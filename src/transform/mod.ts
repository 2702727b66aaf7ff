/**
 * The transform engine: compiles copy plans between fragment layouts (array
 * of structs, struct of arrays, field subsets, transposition, strided slices,
 * element conversion, N -> M redistribution) and runs them on generated
 * kernels. See docs/transform.md.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compilePlan, executePlan, formatPlan, type FragmentLayout } from "./mod.ts";
 * // 3 structs {a int32, b float64} stored packed (AoS), read as two columns.
 * const slot = (fields: FragmentLayout["slots"][number]["fields"]) => ({
 *   name: "s", variable: "s", origin: [0], axes: [{ dim: 0, step: 1, count: 3 }], fields,
 * });
 * const aos: FragmentLayout = { byteLength: 36, slots: [slot([
 *   { path: "a", type: "int32", count: 1, offset: 0, strides: [12] },
 *   { path: "b", type: "float64", count: 1, offset: 4, strides: [12] },
 * ])] };
 * const soa: FragmentLayout = { byteLength: 40, slots: [slot([
 *   { path: "a", type: "int32", count: 1, offset: 0, strides: [4] },
 *   { path: "b", type: "float64", count: 1, offset: 16, strides: [8] },
 * ])] };
 * const plan = compilePlan([aos], soa);
 * assert.equal(plan.ops.length, 2);
 * const src = new Uint8Array(36);
 * const view = new DataView(src.buffer);
 * [1, 2, 3].forEach((v, i) => {
 *   view.setInt32(12 * i, v, true);
 *   view.setFloat64(12 * i + 4, v / 2, true);
 * });
 * const dst = new Uint8Array(40);
 * executePlan(plan, [src], dst);
 * assert.deepEqual([...new Float64Array(dst.buffer, 16, 3)], [0.5, 1, 1.5]);
 * assert.ok(formatPlan(plan).startsWith("Plan: 1 source (36 bytes)"));
 * ```
 *
 * @module
 */

export * from "./layout.ts";
export * from "./scalar.ts";
export * from "./op.ts";
export * from "./plan.ts";
export * from "./region.ts";
export * from "./convert.ts";
export * from "./validate.ts";
export * from "./merge.ts";
export * from "./format.ts";
export * from "./kernels.ts";
export * from "./fuse.ts";
export * from "./execute.ts";
export * from "./redistribute.ts";
export * from "./overlap.ts";
export * from "./touched.ts";
