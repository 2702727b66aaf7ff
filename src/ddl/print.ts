/**
 * Prints a description model as canonical text in the data language.
 *
 * @module
 */

import type {
  Description,
  ElementSpec,
  Expr,
  FieldSelect,
  FragmentDecl,
  IndexExpr,
  TypeExpr,
} from "./ast.ts";

/**
 * Formats a description as text that parses back to the same model.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDescription } from "./parser.ts";
 * import { printDescription } from "./print.ts";
 * const text = printDescription(parseDescription("dataset d { var x [4]float64 }"));
 * assert.ok(text.startsWith("dataset d {\n  var x [4]float64\n}"));
 * ```
 */
export function printDescription(d: Description): string {
  const out: string[] = [];
  out.push(d.name === undefined ? "dataset {" : `dataset ${d.name} {`);
  for (const c of d.consts) out.push(`  const ${c.name} = ${printExpr(c.value)}`);
  for (const t of d.types) out.push(`  type ${t.name} ${printType(t.type, "  ")}`);
  for (const v of d.vars) out.push(`  var ${v.name} ${printType(v.type, "  ")}`);
  out.push("}");
  for (const f of d.fragments) out.push(...printFragment(f));
  for (const r of d.replicas) {
    const file = r.file === undefined ? "" : ` ${JSON.stringify(r.file)}`;
    out.push(`replica ${r.name}${file}${r.complete ? " complete" : ""} {`);
    for (const v of r.views) out.push(`  view ${v}`);
    out.push("}");
  }
  return out.join("\n") + "\n";
}

function printFragment(f: FragmentDecl): string[] {
  const head = [f.keyword + " " + f.name + (f.params.length > 0 ? `(${f.params.join(", ")})` : "")];
  if (f.readOnly) head.push("read-only");
  if (f.order === "rowminor") head.push("rowminor");
  if (f.columnar) head.push("columnar");
  const out = [`${head.join(" ")} {`];
  for (const t of f.types) out.push(`  type ${t.name} ${printSelect(t.fields)} ${t.base}`);
  for (const v of f.vars) {
    let line = `  var ${v.name}`;
    if (v.axes !== undefined) line += ` [${v.axes.join(", ")}]`;
    if (v.element !== undefined) line += ` ${printElement(v.element)}`;
    line += ` = ${v.source}`;
    if (v.indices !== undefined) line += `[${v.indices.map(printIndex).join(", ")}]`;
    out.push(line);
  }
  out.push("}");
  return out;
}

function printElement(e: ElementSpec): string {
  return e.kind === "named" ? e.name : printSelect(e.fields);
}

function printSelect(fields: readonly FieldSelect[]): string {
  return `{ ${fields.map((f) => f.as === undefined ? f.path : `${f.path} ${f.as}`).join(", ")} }`;
}

function printIndex(ix: IndexExpr): string {
  if (ix.kind === "at") return printExpr(ix.expr);
  let s = `${ix.start === undefined ? "" : printExpr(ix.start)}:${
    ix.end === undefined ? "" : printExpr(ix.end)
  }`;
  if (ix.step !== undefined) s += `:${printExpr(ix.step)}`;
  return s;
}

function printType(t: TypeExpr, indent: string): string {
  switch (t.kind) {
    case "named":
      return t.name;
    case "array":
      return `[${t.dims.map((d) => printExpr(d)).join(", ")}]${printType(t.element, indent)}`;
    case "struct": {
      const inner = indent + "  ";
      const lines = t.fields.map((f) => `${inner}${f.name} ${printType(f.type, inner)}`);
      return `struct {\n${lines.join("\n")}\n${indent}}`;
    }
  }
}

const PRECEDENCE = { "+": 1, "-": 1, "*": 2, "/": 2, "%": 2 } as const;

/**
 * Formats an integer expression with only the parentheses it needs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDescription } from "./parser.ts";
 * import { printExpr } from "./print.ts";
 * const d = parseDescription("dataset { const N = (2 + 3) * 4 }");
 * assert.ok(printExpr(d.consts[0]!.value) === "(2 + 3) * 4");
 * ```
 */
export function printExpr(e: Expr): string {
  switch (e.kind) {
    case "int":
      return String(e.value);
    case "name":
      return e.name;
    case "neg":
      return `-${e.operand.kind === "binary" ? `(${printExpr(e.operand)})` : printExpr(e.operand)}`;
    case "binary": {
      const p = PRECEDENCE[e.op];
      const wrap = (c: Expr, right: boolean) => {
        const needs = c.kind === "binary" &&
          (PRECEDENCE[c.op] < p || (right && PRECEDENCE[c.op] === p));
        return needs ? `(${printExpr(c)})` : printExpr(c);
      };
      return `${wrap(e.left, false)} ${e.op} ${wrap(e.right, true)}`;
    }
  }
}
