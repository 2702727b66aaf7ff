/**
 * Evaluation of the language's integer expressions.
 *
 * @module
 */

import type { SourcePosition } from "../errors.ts";
import type { Expr } from "./ast.ts";

/** An evaluation failure at a position, turned into a located error by the caller. */
export class ExprError extends Error {
  /** Where the failing sub-expression is. */
  readonly pos: SourcePosition | undefined;

  /** Creates the error. */
  constructor(message: string, pos: SourcePosition | undefined) {
    super(message);
    this.pos = pos;
  }
}

/**
 * Evaluates an integer expression; `lookup` gives each name's value or
 * undefined for an unknown name. Division truncates toward zero, `%` takes the
 * sign of the dividend (`-7 % 3` is -1), and either by zero is an error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evalExpr } from "./expr.ts";
 * const e = { kind: "binary", op: "*", left: { kind: "name", name: "i" }, right: { kind: "int", value: 5 } } as const;
 * assert.ok(evalExpr(e, (n) => (n === "i" ? 3 : undefined)) === 15);
 * ```
 */
export function evalExpr(expr: Expr, lookup: (name: string) => number | undefined): number {
  switch (expr.kind) {
    case "int":
      return expr.value;
    case "name": {
      const v = lookup(expr.name);
      if (v === undefined) throw new ExprError(`Unknown name '${expr.name}'`, expr.pos);
      return v;
    }
    case "neg":
      return -evalExpr(expr.operand, lookup);
    case "binary": {
      const a = evalExpr(expr.left, lookup);
      const b = evalExpr(expr.right, lookup);
      let v: number;
      if (expr.op === "+") v = a + b;
      else if (expr.op === "-") v = a - b;
      else if (expr.op === "*") v = a * b;
      else {
        if (b === 0) throw new ExprError("Division by zero", expr.pos);
        // `+ 0` turns the -0 of `-4 % 2` into 0.
        v = expr.op === "/" ? Math.trunc(a / b) + 0 : (a % b) + 0;
      }
      if (!Number.isSafeInteger(v)) throw new ExprError("Integer overflow", expr.pos);
      return v;
    }
  }
}

/**
 * The names an expression mentions, in order of appearance.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exprNames } from "./expr.ts";
 * const e = { kind: "binary", op: "+", left: { kind: "name", name: "i" }, right: { kind: "name", name: "lo" } } as const;
 * assert.ok(exprNames(e).map((n) => n.name).join() === "i,lo");
 * ```
 */
export function exprNames(expr: Expr): { name: string; pos: SourcePosition | undefined }[] {
  switch (expr.kind) {
    case "int":
      return [];
    case "name":
      return [{ name: expr.name, pos: expr.pos }];
    case "neg":
      return exprNames(expr.operand);
    case "binary":
      return [...exprNames(expr.left), ...exprNames(expr.right)];
  }
}
