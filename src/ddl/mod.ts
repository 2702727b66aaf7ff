/**
 * The data language: parse, check and lay out dataset and fragment
 * descriptions (DRepl's language, plus Strata's fragments, parameters,
 * conversions and columnar layout). See docs/language.md.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, fragmentLayout } from "./mod.ts";
 * const ds = compileDescription(`
 * dataset particles {
 *   type Particle struct { x, y, z float64; id int64 }
 *   var p [1000]Particle
 * }
 * fragment xy columnar { var p { x float32, y float32 } = p }
 * `);
 * const layout = fragmentLayout(ds, "xy");
 * assert.ok(layout.byteLength === 1000 * 8);
 * assert.ok(layout.slots[0]?.fields[1]?.offset === 4000);
 * ```
 *
 * @module
 */

export * from "./ast.ts";
export * from "./check.ts";
export * from "./compile.ts";
export * from "./json.ts";
export * from "./layout.ts";
export * from "./lexer.ts";
export * from "./limits.ts";
export * from "./parser.ts";
export * from "./print.ts";
export * from "./sizes.ts";
export * from "./types.ts";
export { evalExpr, ExprError, exprNames } from "./expr.ts";
