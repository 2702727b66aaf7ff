/**
 * Strata, a data service for HPC workflows: the typed client of its HTTP API
 * (`connect()`), the data language that describes datasets and the layouts
 * they are published and attached in (`compileDescription()`,
 * `fragmentLayout()`), and the types a deployed function is written against
 * (`FunctionContext`, also importable as `strata/function`). The server is
 * the `strata` command (`src/cli/main.ts`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, connect, fragmentLayout } from "./mod.ts";
 * const particles = compileDescription(`dataset particles {
 *   type P struct { x, y, z float64; id int64 }
 *   var p [1000]P
 * }
 * fragment xyz(lo, hi) columnar { var p { x float32, y float32, z float32 } = p[lo:hi] }`);
 * assert.equal(fragmentLayout(particles, "xyz", { lo: 0, hi: 100 }).byteLength, 1200);
 * assert.equal(typeof connect, "function");
 * ```
 *
 * @module
 */

export * from "./client/mod.ts";
export * from "./ddl/mod.ts";
export type {
  DatasetOutput,
  FunctionContext,
  FunctionModule,
  Inputs,
  Output,
} from "./functions/api.ts";
