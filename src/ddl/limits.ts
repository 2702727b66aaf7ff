/**
 * Bounds on how deep a description may nest. Every recursive step of the
 * parser, the checker and the layout code is bounded by them, so no accepted
 * input can exhaust the stack and every rejected one gets a located
 * `DescriptionError`.
 *
 * @module
 */

/**
 * Most levels a description may nest: structs, array types, field selections
 * and parentheses inside one another, and chains of named types and of
 * constants (`type A B`, `type B C`, ...; `const N = M + 1`, ...).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, MAX_NESTING } from "./mod.ts";
 * const deep = "struct { a ".repeat(MAX_NESTING + 1) + "int8" + " }".repeat(MAX_NESTING + 1);
 * assert.throws(() => compileDescription(`dataset { var x ${deep} }`), /nested too deeply/);
 * ```
 */
export const MAX_NESTING = 64;

/**
 * Most operators (`+ - * / %` and unary `-`) one integer expression may hold.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, MAX_OPERATORS } from "./mod.ts";
 * const long = Array.from({ length: MAX_OPERATORS + 2 }, () => "1").join(" + ");
 * assert.throws(() => compileDescription(`dataset { const N = ${long} }`), /too long/);
 * ```
 */
export const MAX_OPERATORS = 256;

/**
 * Most nodes (struct fields and arrays) a type may hold once every named type
 * in it is written out in full: `type B struct { x, y A }` holds `A` twice.
 * It keeps types that reuse named types at every level from growing
 * exponentially.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription } from "./mod.ts";
 * const types = Array.from({ length: 20 }, (_, i) => `type T${i} struct { a, b T${i + 1} }`);
 * const src = `dataset {\n${types.join("\n")}\ntype T20 int8\nvar x T0\n}`;
 * assert.throws(() => compileDescription(src), /Type is too large/);
 * ```
 */
export const MAX_TYPE_NODES = 100_000;
