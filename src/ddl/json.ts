/**
 * The JSON form of descriptions, for programs: the description model without
 * source positions. Reading JSON checks its shape, prints it as canonical text
 * and compiles that, so JSON and text descriptions go through one checker.
 *
 * @module
 */

import { StrataError } from "../errors.ts";
import type { Description } from "./ast.ts";
import type { Dataset } from "./check.ts";
import { compileDescription } from "./compile.ts";
import { printDescription } from "./print.ts";

const POSITION_KEYS = new Set(["pos", "sourcePos", "basePos"]);

/**
 * The JSON form of a description (plain data, no positions).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, descriptionToJson } from "./mod.ts";
 * const json = descriptionToJson(compileDescription("dataset d { var x float64 }").description);
 * assert.ok(JSON.stringify(json.vars) === '[{"name":"x","type":{"kind":"named","name":"float64"}}]');
 * ```
 */
export function descriptionToJson(d: Description): Description {
  return JSON.parse(JSON.stringify(d, (k, v) => POSITION_KEYS.has(k) ? undefined : v));
}

/**
 * Compiles a description given in its JSON form. Shape errors name the JSON
 * path; language errors carry line and column in the canonical text, which is
 * part of the message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { descriptionFromJson } from "./json.ts";
 * const ds = descriptionFromJson({
 *   name: "d", consts: [], types: [], fragments: [], replicas: [],
 *   vars: [{ name: "x", type: { kind: "array", dims: [{ kind: "int", value: 4 }], element: { kind: "named", name: "int32" } } }],
 * });
 * assert.ok(ds.variables.get("x")?.dims[0] === 4);
 * ```
 */
export function descriptionFromJson(json: unknown): Dataset {
  checkShape(json);
  return compileDescription(printDescription(json));
}

class ShapeError extends StrataError {
  constructor(path: string, expected: string, found: unknown) {
    const shown = found === undefined
      ? "nothing"
      : JSON.stringify(found)?.slice(0, 40) ?? String(found);
    super(
      "invalid_description",
      `Invalid description JSON at ${path}: expected ${expected}, found ${shown}`,
    );
  }
}

type Check = (v: unknown, path: string) => void;

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

const ident: Check = (v, p) => {
  if (typeof v !== "string" || !IDENT.test(v) || v === "read-only") {
    throw new ShapeError(p, "a name", v);
  }
};
const bool: Check = (v, p) => {
  if (typeof v !== "boolean") throw new ShapeError(p, "true or false", v);
};
const list = (item: Check): Check => (v, p) => {
  if (!Array.isArray(v)) throw new ShapeError(p, "an array", v);
  v.forEach((x, i) => item(x, `${p}[${i}]`));
};
const optional = (c: Check): Check => (v, p) => {
  if (v !== undefined) c(v, p);
};
const object = (fields: Record<string, Check>): Check => (v, p) => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new ShapeError(p, "an object", v);
  }
  for (const [k, c] of Object.entries(fields)) c((v as Record<string, unknown>)[k], `${p}.${k}`);
};
const oneOf = (cases: Record<string, Check>): Check => (v, p) => {
  const kind = typeof v === "object" && v !== null ? (v as { kind?: unknown }).kind : undefined;
  const c = typeof kind === "string" ? cases[kind] : undefined;
  if (c === undefined) throw new ShapeError(`${p}.kind`, Object.keys(cases).join(" | "), kind);
  c(v, p);
};

const expr: Check = (v, p) =>
  oneOf({
    int: object({
      value: (x, q) => {
        if (!Number.isSafeInteger(x) || (x as number) < 0) {
          throw new ShapeError(q, "a non-negative integer", x);
        }
      },
    }),
    name: object({ name: ident }),
    neg: object({ operand: expr }),
    binary: object({
      op: (x, q) => {
        if (x !== "+" && x !== "-" && x !== "*" && x !== "/" && x !== "%") {
          throw new ShapeError(q, "+ - * / %", x);
        }
      },
      left: expr,
      right: expr,
    }),
  })(v, p);

const type: Check = (v, p) =>
  oneOf({
    named: object({ name: ident }),
    struct: object({ fields: list(object({ name: ident, type })) }),
    array: object({ dims: list(expr), element: type }),
  })(v, p);

const select = list(object({
  path: (x, q) => {
    if (typeof x !== "string" || !PATH.test(x)) throw new ShapeError(q, "a field path", x);
  },
  as: optional(ident),
}));

const index: Check = (v, p) =>
  oneOf({
    at: object({ expr }),
    slice: object({ start: optional(expr), end: optional(expr), step: optional(expr) }),
  })(v, p);

const description = object({
  name: optional(ident),
  consts: list(object({ name: ident, value: expr })),
  types: list(object({ name: ident, type })),
  vars: list(object({ name: ident, type })),
  fragments: list(object({
    name: ident,
    keyword: (x, q) => {
      if (x !== "view" && x !== "fragment") throw new ShapeError(q, "view | fragment", x);
    },
    params: list(ident),
    readOnly: bool,
    order: (x, q) => {
      if (x !== "rowmajor" && x !== "rowminor") throw new ShapeError(q, "rowmajor | rowminor", x);
    },
    columnar: bool,
    types: list(object({ name: ident, fields: select, base: ident })),
    vars: list(object({
      name: ident,
      axes: optional(list(ident)),
      element: optional(
        oneOf({ select: object({ fields: select }), named: object({ name: ident }) }),
      ),
      source: ident,
      indices: optional(list(index)),
    })),
  })),
  replicas: list(object({
    name: ident,
    file: optional((x, q) => {
      if (typeof x !== "string" || x.includes('"') || x.includes("\n")) {
        throw new ShapeError(q, "a file name", x);
      }
    }),
    complete: bool,
    views: list(ident),
  })),
});

/**
 * Deepest JSON nesting read. The text parser's own limits (see `limits.ts`)
 * are stricter and give located errors; this bound only keeps the shape check
 * and the printer from exhausting the stack first.
 */
const MAX_JSON_DEPTH = 2000;

function checkShape(json: unknown): asserts json is Description {
  tooDeep(json, "$");
  description(json, "$");
}

/** Finds the first path nested deeper than `MAX_JSON_DEPTH`, without recursion. */
function tooDeep(json: unknown, root: string): void {
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: json, path: root, depth: 0 }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    if (typeof top.v !== "object" || top.v === null) continue;
    if (top.depth >= MAX_JSON_DEPTH) {
      throw new ShapeError(top.path, `at most ${MAX_JSON_DEPTH} levels of nesting`, "more");
    }
    const entries = Array.isArray(top.v)
      ? top.v.map((x, i) => [`[${i}]`, x] as const)
      : Object.entries(top.v).map(([k, x]) => [`.${k}`, x] as const);
    for (const [k, x] of entries) stack.push({ v: x, path: top.path + k, depth: top.depth + 1 });
  }
}
