/**
 * Parser of the data language: DRepl's `dataset`, `view` and `replica`
 * sections, and Strata's additions (`fragment`, parameters, conversions,
 * `columnar`).
 *
 * @module
 */

import { DescriptionError, type SourcePosition } from "../errors.ts";
import type {
  ArrayOrder,
  ConstDecl,
  Description,
  ElementSpec,
  Expr,
  FieldDecl,
  FieldSelect,
  FragmentDecl,
  IndexExpr,
  ReplicaDecl,
  TypeDecl,
  TypeExpr,
  ViewType,
  ViewVar,
} from "./ast.ts";
import { type Token, tokenize } from "./lexer.ts";
import { MAX_NESTING, MAX_OPERATORS } from "./limits.ts";

/**
 * Parses a description. Throws `DescriptionError` (and nothing else) with the
 * line, column and a caret under the offending token, also for input nested
 * deeper than `MAX_NESTING` or expressions longer than `MAX_OPERATORS`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDescription } from "./parser.ts";
 * const d = parseDescription(`
 * dataset {
 *   var p struct { a, b, c float64 }
 * }
 * fragment viz { var pba { b, a } = p }
 * `);
 * assert.ok(d.fragments[0]?.name === "viz");
 * ```
 */
export function parseDescription(source: string): Description {
  return new Parser(source).description();
}

const MODIFIERS = new Set([
  "read-only",
  "readonly",
  "rowmajor",
  "rowminor",
  "columnmajor",
  "default",
  "columnar",
]);

class Parser {
  readonly #lines: string[];
  readonly #tokens: Token[];
  #at = 0;
  /** Structs, array types, selections and parentheses open around the current token. */
  #depth = 0;
  /** Operators in the expression being parsed. */
  #operators = 0;

  constructor(source: string) {
    this.#lines = source.split("\n");
    this.#tokens = tokenize(source);
  }

  description(): Description {
    this.#skipNewlines();
    const start = this.#peek();
    if (start.kind !== "ident" || start.text !== "dataset") {
      this.#fail(`Expected 'dataset', found ${describe(start)}`, start);
    }
    this.#next();
    let name: string | undefined;
    if (this.#peek().kind === "ident") name = this.#next().text;
    const consts: ConstDecl[] = [];
    const types: TypeDecl[] = [];
    const vars: TypeDecl[] = [];
    this.#block(() => {
      const t = this.#expectIdent("'const', 'type', 'var' or '}'");
      if (t.text === "const") {
        const n = this.#expectIdent("a constant name");
        this.#expectPunct("=");
        consts.push({ name: n.text, pos: n.pos, value: this.#expression() });
      } else if (t.text === "type") {
        const n = this.#expectIdent("a type name");
        types.push({ name: n.text, pos: n.pos, type: this.#type() });
      } else if (t.text === "var") {
        const names = this.#nameList("a variable name");
        const type = this.#type();
        for (const n of names) vars.push({ name: n.text, pos: n.pos, type });
      } else {
        this.#fail(`Expected 'const', 'type', 'var' or '}', found '${t.text}'`, t);
      }
    });
    const fragments: FragmentDecl[] = [];
    const replicas: ReplicaDecl[] = [];
    for (;;) {
      this.#skipNewlines();
      const t = this.#peek();
      if (t.kind === "eof") break;
      if (t.kind === "ident" && (t.text === "view" || t.text === "fragment")) {
        fragments.push(this.#fragment());
      } else if (t.kind === "ident" && t.text === "replica") {
        replicas.push(this.#replica());
      } else {
        this.#fail(`Expected 'view', 'fragment', 'replica' or the end, found ${describe(t)}`, t);
      }
    }
    return { ...(name === undefined ? {} : { name }), consts, types, vars, fragments, replicas };
  }

  #fragment(): FragmentDecl {
    const keyword = this.#next().text as "view" | "fragment";
    const n = this.#expectIdent("a fragment name");
    const params: string[] = [];
    if (this.#isPunct("(")) {
      this.#next();
      if (!this.#isPunct(")")) {
        for (const p of this.#nameList("a parameter name")) params.push(p.text);
      }
      this.#expectPunct(")");
    }
    let readOnly = false;
    let order: ArrayOrder = "rowmajor";
    let columnar = false;
    while (this.#peek().kind === "ident" && MODIFIERS.has(this.#peek().text)) {
      const m = this.#next().text;
      if (m === "read-only" || m === "readonly") readOnly = true;
      else if (m === "rowminor" || m === "columnmajor") order = "rowminor";
      else if (m === "rowmajor" || m === "default") order = "rowmajor";
      else columnar = true;
    }
    const types: ViewType[] = [];
    const vars: ViewVar[] = [];
    this.#block(() => {
      const t = this.#expectIdent("'type', 'var' or '}'");
      if (t.text === "type") {
        const tn = this.#expectIdent("a type name");
        const sel = this.#selection();
        const base = this.#expectIdent("the dataset type it selects from");
        types.push({
          name: tn.text,
          pos: tn.pos,
          fields: sel.fields,
          base: base.text,
          basePos: base.pos,
        });
      } else if (t.text === "var") {
        vars.push(this.#viewVar());
      } else {
        this.#fail(`Expected 'type', 'var' or '}', found '${t.text}'`, t);
      }
    });
    return { name: n.text, pos: n.pos, params, readOnly, order, columnar, types, vars, keyword };
  }

  #viewVar(): ViewVar {
    const n = this.#expectIdent("a variable name");
    let axes: string[] | undefined;
    if (this.#isPunct("[")) {
      this.#next();
      axes = [];
      if (!this.#isPunct("]")) {
        for (const a of this.#nameList("an index variable")) axes.push(a.text);
      }
      this.#expectPunct("]");
    }
    let element: ElementSpec | undefined;
    this.#skipNewlines();
    if (this.#isPunct("{")) {
      element = this.#selection();
    } else if (this.#peek().kind === "ident") {
      const t = this.#next();
      element = { kind: "named", name: t.text, pos: t.pos };
    }
    this.#skipNewlines();
    this.#expectPunct("=");
    const src = this.#expectIdent("a dataset variable");
    let indices: IndexExpr[] | undefined;
    if (this.#isPunct("[")) {
      this.#next();
      indices = [];
      for (;;) {
        indices.push(this.#index());
        if (!this.#isPunct(",")) break;
        this.#next();
      }
      this.#expectPunct("]");
    }
    return {
      name: n.text,
      pos: n.pos,
      ...(axes === undefined ? {} : { axes }),
      ...(element === undefined ? {} : { element }),
      source: src.text,
      sourcePos: src.pos,
      ...(indices === undefined ? {} : { indices }),
    };
  }

  #index(): IndexExpr {
    const pos = this.#peek().pos;
    let start: Expr | undefined;
    if (!this.#isPunct(":")) {
      start = this.#expression();
      if (!this.#isPunct(":")) return { kind: "at", expr: start, pos };
    }
    this.#next();
    let end: Expr | undefined;
    let step: Expr | undefined;
    if (!this.#isPunct(":") && !this.#isPunct(",") && !this.#isPunct("]")) {
      end = this.#expression();
    }
    if (this.#isPunct(":")) {
      this.#next();
      step = this.#expression();
    }
    return {
      kind: "slice",
      ...(start === undefined ? {} : { start }),
      ...(end === undefined ? {} : { end }),
      ...(step === undefined ? {} : { step }),
      pos,
    };
  }

  /**
   * `{ field, ... }`: fields separated by `,`, `;` or line breaks. A field is
   * a dotted path, then a scalar type to store it as (that field only) or a
   * nested selection of its own fields; a nested selection after a list of
   * names (`pos, vel { x, y }`) applies to each of them, as in DRepl's
   * `IdentifierList ViewType`.
   */
  #selection(): { kind: "select"; fields: FieldSelect[]; pos: SourcePosition } {
    this.#skipNewlines();
    const open = this.#expectPunct("{");
    this.#enter(open);
    const fields: FieldSelect[] = [];
    let names: { path: string; pos: SourcePosition }[] = [];
    for (;;) {
      this.#skipNewlines();
      if (this.#isPunct("}") && (fields.length > 0 || names.length > 0)) {
        for (const n of names) fields.push({ path: n.path, pos: n.pos });
        break;
      }
      const first = this.#expectIdent("a field name");
      let path = first.text;
      while (this.#isPunct(".")) {
        this.#next();
        path += "." + this.#expectIdent("a field name after '.'").text;
      }
      names.push({ path, pos: first.pos });
      if (this.#isPunct("{")) {
        const inner = this.#selection();
        for (const n of names) {
          for (const f of inner.fields) {
            fields.push({ ...f, path: `${n.path}.${f.path}`, pos: f.pos ?? n.pos });
          }
        }
        names = [];
      } else if (this.#peek().kind === "ident") {
        const as = this.#next().text;
        // Names before the typed one keep their own types: `{ x, y float32 }` converts y only.
        for (const n of names.slice(0, -1)) fields.push({ path: n.path, pos: n.pos });
        fields.push({ path, pos: first.pos, as });
        names = [];
      }
      const t = this.#peek();
      if (this.#isPunct(",")) {
        this.#next();
        continue;
      }
      for (const n of names) fields.push({ path: n.path, pos: n.pos });
      names = [];
      if (t.kind === "newline") continue;
      if (this.#isPunct("}")) break;
      this.#fail(`Expected ',', ';', a new line or '}', found ${describe(t)}`, t);
    }
    this.#next();
    this.#depth--;
    return { kind: "select", fields, pos: open.pos };
  }

  #replica(): ReplicaDecl {
    this.#next();
    let complete = false;
    // DRepl's released parser takes `complete` before the name as well.
    const ahead = this.#tokens[this.#at + 1];
    if (this.#peek().text === "complete" && ahead !== undefined && ahead.kind === "ident") {
      this.#next();
      complete = true;
    }
    const n = this.#expectIdent("a replica name");
    let file: string | undefined;
    if (this.#peek().kind === "string") file = this.#next().text;
    if (this.#peek().kind === "ident" && this.#peek().text === "complete") {
      this.#next();
      complete = true;
    }
    const views: string[] = [];
    this.#block(() => {
      const t = this.#expectIdent("'view' or '}'");
      if (t.text !== "view" && t.text !== "fragment") {
        this.#fail(`Expected 'view' or '}', found '${t.text}'`, t);
      }
      for (const v of this.#nameList("a view name")) views.push(v.text);
    });
    return { name: n.text, pos: n.pos, ...(file === undefined ? {} : { file }), complete, views };
  }

  #type(): TypeExpr {
    const t = this.#peek();
    if (t.kind === "punct" && t.text === "[") {
      this.#next();
      this.#enter(t);
      const dims: Expr[] = [];
      for (;;) {
        dims.push(this.#expression());
        if (!this.#isPunct(",")) break;
        this.#next();
      }
      this.#expectPunct("]");
      const element = this.#type();
      this.#depth--;
      return { kind: "array", dims, element, pos: t.pos };
    }
    if (t.kind === "ident" && t.text === "struct") {
      this.#next();
      this.#enter(t);
      const fields: FieldDecl[] = [];
      this.#block(() => {
        const names = this.#nameList("a field name");
        const type = this.#type();
        for (const n of names) fields.push({ name: n.text, type, pos: n.pos });
      });
      this.#depth--;
      return { kind: "struct", fields, pos: t.pos };
    }
    if (t.kind === "ident") {
      this.#next();
      return { kind: "named", name: t.text, pos: t.pos };
    }
    return this.#fail(`Expected a type, found ${describe(t)}`, t);
  }

  /** A whole integer expression, whose operators are counted against `MAX_OPERATORS`. */
  #expression(): Expr {
    this.#operators = 0;
    return this.#expr();
  }

  #expr(): Expr {
    let left = this.#term();
    while (this.#isPunct("+") || this.#isPunct("-")) {
      const op = this.#operator();
      left = { kind: "binary", op: op.text as "+" | "-", left, right: this.#term(), pos: op.pos };
    }
    return left;
  }

  #term(): Expr {
    let left = this.#factor();
    while (this.#isPunct("*") || this.#isPunct("/") || this.#isPunct("%")) {
      const op = this.#operator();
      const kind = op.text as "*" | "/" | "%";
      left = { kind: "binary", op: kind, left, right: this.#factor(), pos: op.pos };
    }
    return left;
  }

  #operator(): Token {
    const op = this.#next();
    if (++this.#operators > MAX_OPERATORS) {
      this.#fail(`Expression is too long: expected at most ${MAX_OPERATORS} operators`, op);
    }
    return op;
  }

  #factor(): Expr {
    const t = this.#peek();
    if (t.kind === "int") {
      this.#next();
      const value = Number(t.text);
      if (!Number.isSafeInteger(value)) this.#fail(`Integer too large: '${t.text}'`, t);
      return { kind: "int", value, pos: t.pos };
    }
    if (t.kind === "ident") {
      this.#next();
      return { kind: "name", name: t.text, pos: t.pos };
    }
    if (t.kind === "punct" && t.text === "(") {
      this.#next();
      this.#enter(t);
      const e = this.#expr();
      this.#expectPunct(")");
      this.#depth--;
      return e;
    }
    if (t.kind === "punct" && t.text === "-") {
      this.#operator();
      return { kind: "neg", operand: this.#factor(), pos: t.pos };
    }
    return this.#fail(`Expected an integer expression, found ${describe(t)}`, t);
  }

  /** Opens one more level of nesting at `at`, failing beyond `MAX_NESTING`. */
  #enter(at: Token): void {
    if (++this.#depth > MAX_NESTING) {
      this.#fail(`Description is nested too deeply: expected at most ${MAX_NESTING} levels`, at);
    }
  }

  /** `{ stmt (newline stmt)* }` where each statement is parsed by `stmt`. */
  #block(stmt: () => void): void {
    this.#skipNewlines();
    this.#expectPunct("{");
    for (;;) {
      this.#skipNewlines();
      if (this.#isPunct("}")) break;
      if (this.#peek().kind === "eof") this.#fail("Expected '}', found the end", this.#peek());
      stmt();
      const t = this.#peek();
      if (t.kind !== "newline" && !(t.kind === "punct" && t.text === "}")) {
        this.#fail(`Expected a new line, ';' or '}', found ${describe(t)}`, t);
      }
    }
    this.#next();
  }

  #nameList(what: string): Token[] {
    const names = [this.#expectIdent(what)];
    while (this.#isPunct(",")) {
      this.#next();
      names.push(this.#expectIdent(what));
    }
    return names;
  }

  #skipNewlines(): void {
    while (this.#peek().kind === "newline") this.#at++;
  }

  #peek(): Token {
    return this.#tokens[this.#at]!;
  }

  #next(): Token {
    const t = this.#tokens[this.#at]!;
    if (t.kind !== "eof") this.#at++;
    return t;
  }

  #isPunct(text: string): boolean {
    const t = this.#peek();
    return t.kind === "punct" && t.text === text;
  }

  #expectPunct(text: string): Token {
    const t = this.#peek();
    if (t.kind !== "punct" || t.text !== text) {
      this.#fail(`Expected '${text}', found ${describe(t)}`, t);
    }
    return this.#next();
  }

  #expectIdent(what: string): Token {
    const t = this.#peek();
    if (t.kind !== "ident") this.#fail(`Expected ${what}, found ${describe(t)}`, t);
    return this.#next();
  }

  #fail(detail: string, at: Token): never {
    throw new DescriptionError(detail, at.pos, this.#lines[at.pos.line - 1] ?? "");
  }
}

function describe(t: Token): string {
  switch (t.kind) {
    case "eof":
      return "the end";
    case "newline":
      return t.text === ";" ? "';'" : "the end of the line";
    case "string":
      return `"${t.text}"`;
    default:
      return `'${t.text}'`;
  }
}
