/**
 * The checker: resolves names and types of a parsed description and reports
 * every mistake with its line and column.
 *
 * @module
 */

import { DescriptionError, type SourcePosition } from "../errors.ts";
import { conversionKeepsRange, scalarName, type ScalarType } from "../transform/scalar.ts";
import type {
  Description,
  ElementSpec,
  FieldSelect,
  FragmentDecl,
  TypeExpr,
  ViewVar,
} from "./ast.ts";
import { evalExpr, ExprError, exprNames } from "./expr.ts";
import { MAX_NESTING, MAX_TYPE_NODES } from "./limits.ts";
import {
  type Dim,
  isVariableSized,
  type Leaf,
  leavesOf,
  type ResolvedType,
  scalarByName,
  typeKey,
  typeSize,
} from "./types.ts";

/** A dataset variable after checking. */
export interface Variable {
  /** Its name. */
  readonly name: string;
  /** Its full type. */
  readonly type: ResolvedType;
  /** Dimensions of its index space (those of its top-level array, or none). */
  readonly dims: readonly Dim[];
  /** Element type at each index. */
  readonly element: ResolvedType;
}

/** A leaf a fragment variable stores, with the type it stores it as. */
export interface SelectedLeaf {
  /** Leaf path inside the element. */
  readonly path: string;
  /** Type in the dataset. */
  readonly from: ScalarType;
  /** Type in the fragment. */
  readonly to: ScalarType;
  /** Packed scalars per element. */
  readonly count: number;
}

/** A fragment variable after checking. */
export interface CheckedViewVar {
  /** The declaration. */
  readonly decl: ViewVar;
  /** The dataset variable it reads. */
  readonly variable: Variable;
  /** The leaves it stores, in element order. */
  readonly leaves: readonly SelectedLeaf[];
}

/** A fragment after checking. */
export interface CheckedFragment {
  /** The declaration. */
  readonly decl: FragmentDecl;
  /** Its variables, in buffer order. */
  readonly vars: readonly CheckedViewVar[];
}

/**
 * A checked dataset: the description with every name resolved.
 */
export interface Dataset {
  /** What was parsed. */
  readonly description: Description;
  /** The description's text, for error snippets. */
  readonly source: string;
  /** Constant values. */
  readonly consts: ReadonlyMap<string, number>;
  /** Named types. */
  readonly types: ReadonlyMap<string, ResolvedType>;
  /** Variables in declaration order. */
  readonly variables: ReadonlyMap<string, Variable>;
  /** Fragments by name. */
  readonly fragments: ReadonlyMap<string, CheckedFragment>;
}

/**
 * Checks a parsed description. Throws `DescriptionError` naming what was
 * expected and what was found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDescription } from "./parser.ts";
 * import { checkDescription } from "./check.ts";
 * const src = "dataset { var t [4, 4]float64 }\nfragment tr { var t [i, j] = t[j, i] }";
 * const ds = checkDescription(parseDescription(src), src);
 * assert.ok(ds.variables.get("t")?.dims.length === 2);
 * ```
 */
export function checkDescription(description: Description, source: string): Dataset {
  return new Checker(description, source).run();
}

class Checker {
  readonly #d: Description;
  readonly #source: string;
  readonly #lines: string[];
  readonly #consts = new Map<string, number>();
  readonly #types = new Map<string, ResolvedType>();
  readonly #resolving = new Set<string>();
  /** Levels below each resolved named type and constant (`type A B` is one level). */
  readonly #typeDepth = new Map<string, number>();
  readonly #constDepth = new Map<string, number>();
  /** Nodes of each resolved type's tree, each use of a named type counted anew. */
  readonly #nodes = new WeakMap<ResolvedType, number>();
  readonly #variables = new Map<string, Variable>();

  constructor(d: Description, source: string) {
    this.#d = d;
    this.#source = source;
    this.#lines = source.split("\n");
  }

  run(): Dataset {
    const d = this.#d;
    const values = new Set<string>();
    for (const c of [...d.consts, ...d.vars]) {
      if (values.has(c.name)) this.#fail(`Duplicate name '${c.name}'`, c.pos);
      values.add(c.name);
    }
    const typeNames = new Set<string>();
    for (const t of d.types) {
      if (scalarByName(t.name) !== undefined) {
        this.#fail(`Cannot redefine built-in type '${t.name}'`, t.pos);
      }
      if (typeNames.has(t.name)) this.#fail(`Duplicate type '${t.name}'`, t.pos);
      typeNames.add(t.name);
    }
    for (const c of d.consts) this.#constValue(c.name, c.pos);
    for (const t of d.types) this.#named(t.name, t.pos);
    for (const v of d.vars) {
      const type = this.#resolve(v.type);
      let dims: readonly Dim[] = [];
      let element = type;
      if (type.kind === "array") {
        dims = type.dims;
        element = type.element;
      }
      if (isVariableSized(element)) {
        this.#fail(
          `Variable-sized type used as an element type in '${v.name}': only the outermost array may be sized by a variable`,
          v.type.pos ?? v.pos,
        );
      }
      const fixed = dims.reduce<number>((n, d) => n * (typeof d === "number" ? d : 1), 1);
      if (!Number.isSafeInteger(fixed * typeSize(element))) {
        this.#fail(
          `Variable '${v.name}' is too large: its size exceeds 2^53 bytes`,
          v.type.pos ?? v.pos,
        );
      }
      this.#leaves(element, v.type.pos ?? v.pos);
      this.#variables.set(v.name, { name: v.name, type, dims, element });
    }
    const fragments = new Map<string, CheckedFragment>();
    for (const f of d.fragments) {
      if (fragments.has(f.name)) this.#fail(`Duplicate fragment '${f.name}'`, f.pos);
      fragments.set(f.name, this.#fragment(f));
    }
    const replicas = new Set<string>();
    for (const r of d.replicas) {
      if (replicas.has(r.name)) this.#fail(`Duplicate replica '${r.name}'`, r.pos);
      replicas.add(r.name);
      for (const v of r.views) {
        if (!fragments.has(v)) this.#fail(`Unknown view '${v}' in replica '${r.name}'`, r.pos);
      }
    }
    return {
      description: d,
      source: this.#source,
      consts: this.#consts,
      types: this.#types,
      variables: this.#variables,
      fragments,
    };
  }

  /**
   * The value of a constant. `level` counts the constants being evaluated
   * around this one, so a long chain fails before it exhausts the stack.
   */
  #constValue(name: string, pos: SourcePosition | undefined, level = 0): number {
    const known = this.#consts.get(name);
    if (known !== undefined) {
      this.#deepEnough(level + (this.#constDepth.get(name) ?? 0), `Constant '${name}'`, pos);
      return known;
    }
    const decl = this.#d.consts.find((c) => c.name === name);
    if (decl === undefined) return this.#fail(`Unknown constant '${name}'`, pos);
    if (this.#resolving.has(`const ${name}`)) {
      this.#fail(`Constant '${name}' refers to itself`, decl.pos);
    }
    this.#deepEnough(level + 1, `Constant '${name}'`, pos ?? decl.pos);
    this.#resolving.add(`const ${name}`);
    const value = this.#eval(
      decl.value,
      (n, p) => this.#isConst(n) ? this.#constValue(n, p, level + 1) : undefined,
    );
    this.#resolving.delete(`const ${name}`);
    const below = exprNames(decl.value).reduce(
      (d, n) => Math.max(d, this.#constDepth.get(n.name) ?? 0),
      0,
    );
    this.#consts.set(name, value);
    this.#constDepth.set(name, below + 1);
    return value;
  }

  /** Fails when `levels` exceed `MAX_NESTING`. */
  #deepEnough(levels: number, what: string, pos: SourcePosition | undefined): void {
    if (levels > MAX_NESTING) {
      this.#fail(
        `${what} is nested too deeply: expected at most ${MAX_NESTING} levels of named types, structs, arrays or constants`,
        pos,
      );
    }
  }

  /** Fails when a type's tree (named types expanded) is larger than `MAX_TYPE_NODES`. */
  #smallEnough(type: ResolvedType, pos: SourcePosition | undefined): ResolvedType {
    let n = 1;
    if (type.kind === "struct") {
      for (const f of type.fields) n += this.#nodes.get(f.type) ?? 1;
    } else if (type.kind === "array") {
      n += this.#nodes.get(type.element) ?? 1;
    }
    if (n > MAX_TYPE_NODES) {
      this.#fail(
        `Type is too large: expected at most ${MAX_TYPE_NODES} fields and arrays once named types expand`,
        pos,
      );
    }
    this.#nodes.set(type, n);
    return type;
  }

  #isConst(name: string): boolean {
    return this.#d.consts.some((c) => c.name === name);
  }

  #eval(
    expr: Parameters<typeof evalExpr>[0],
    lookup: (name: string, pos: SourcePosition | undefined) => number | undefined,
  ): number {
    for (const n of exprNames(expr)) {
      if (lookup(n.name, n.pos) === undefined) {
        this.#fail(`Unknown name '${n.name}': expected a constant`, n.pos);
      }
    }
    try {
      return evalExpr(expr, (n) => lookup(n, undefined));
    } catch (e) {
      if (e instanceof ExprError) return this.#fail(e.message, e.pos ?? expr.pos);
      throw e;
    }
  }

  /**
   * Resolves a named type. `level` counts the named types, structs and arrays
   * being resolved around this one, so a long chain fails before it exhausts
   * the stack.
   */
  #named(name: string, pos: SourcePosition | undefined, level = 0): ResolvedType {
    const scalar = scalarByName(name);
    if (scalar !== undefined) return { kind: "scalar", scalar };
    const known = this.#types.get(name);
    if (known !== undefined) {
      this.#deepEnough(level + (this.#typeDepth.get(name) ?? 0), `Type '${name}'`, pos);
      return known;
    }
    const decl = this.#d.types.find((t) => t.name === name);
    if (decl === undefined) return this.#fail(`Unknown type '${name}'`, pos);
    if (this.#resolving.has(`type ${name}`)) {
      this.#fail(`Type '${name}' refers to itself`, decl.pos);
    }
    this.#deepEnough(level + 1, `Type '${name}'`, pos ?? decl.pos);
    this.#resolving.add(`type ${name}`);
    let type = this.#resolve(decl.type, level + 1);
    if (type.kind === "struct") type = this.#smallEnough({ ...type, name }, decl.pos);
    this.#resolving.delete(`type ${name}`);
    this.#types.set(name, type);
    this.#typeDepth.set(name, this.#depthOf(decl.type) + 1);
    return type;
  }

  /** Levels below a written type, named types counted as resolved. */
  #depthOf(t: TypeExpr): number {
    switch (t.kind) {
      case "named":
        return this.#typeDepth.get(t.name) ?? 0;
      case "struct":
        return 1 + t.fields.reduce((d, f) => Math.max(d, this.#depthOf(f.type)), 0);
      case "array":
        return 1 + this.#depthOf(t.element);
    }
  }

  #resolve(t: TypeExpr, level = 0): ResolvedType {
    switch (t.kind) {
      case "named":
        return this.#named(t.name, t.pos, level);
      case "struct": {
        this.#deepEnough(level + 1, "Struct", t.pos);
        const seen = new Set<string>();
        const fields = t.fields.map((f) => {
          if (seen.has(f.name)) this.#fail(`Duplicate field '${f.name}'`, f.pos);
          seen.add(f.name);
          const type = this.#resolve(f.type, level + 1);
          if (isVariableSized(type)) {
            this.#fail(
              `Variable-sized type used as an element type in field '${f.name}': only the outermost array may be sized by a variable`,
              f.type.pos ?? f.pos,
            );
          }
          return { name: f.name, type };
        });
        return this.#smallEnough({ kind: "struct", fields }, t.pos);
      }
      case "array": {
        this.#deepEnough(level + 1, "Array type", t.pos);
        const dims = t.dims.map((e): Dim => {
          if (e.kind === "name" && !this.#isConst(e.name)) {
            const v = this.#d.vars.find((x) => x.name === e.name);
            if (v === undefined) {
              return this.#fail(
                `Unknown name '${e.name}': expected a constant or an integer variable`,
                e.pos,
              );
            }
            const vt = v.type.kind === "named" ? scalarByName(v.type.name) : undefined;
            if (
              vt === undefined || typeof vt !== "string" || vt === "bool" || vt.startsWith("float")
            ) {
              this.#fail(`Array size '${e.name}' must be an integer variable or constant`, e.pos);
            }
            return { sizeVar: e.name };
          }
          const n = this.#eval(
            e,
            (name, p) => this.#isConst(name) ? this.#constValue(name, p) : undefined,
          );
          if (n < 1) this.#fail(`Array size must be positive, found ${n}`, e.pos);
          return n;
        });
        const element = this.#resolve(t.element, level + 1);
        if (isVariableSized(element)) {
          this.#fail(
            "Variable-sized type used as an element type: only the outermost array may be sized by a variable",
            t.element.pos ?? t.pos,
          );
        }
        return this.#smallEnough({ kind: "array", dims, element }, t.pos);
      }
    }
  }

  #fragment(f: FragmentDecl): CheckedFragment {
    const params = new Set<string>();
    for (const p of f.params) {
      if (params.has(p)) this.#fail(`Duplicate parameter '${p}' in fragment '${f.name}'`, f.pos);
      params.add(p);
    }
    const viewTypes = new Map<string, { fields: readonly FieldSelect[]; base: ResolvedType }>();
    for (const t of f.types) {
      if (viewTypes.has(t.name) || this.#d.types.some((x) => x.name === t.name)) {
        this.#fail(`Duplicate type '${t.name}'`, t.pos);
      }
      const base = this.#named(t.base, t.basePos);
      this.#select(base, t.fields, t.base);
      viewTypes.set(t.name, { fields: t.fields, base });
    }
    const names = new Set<string>();
    const vars = f.vars.map((v) => {
      if (names.has(v.name)) {
        this.#fail(`Duplicate variable '${v.name}' in fragment '${f.name}'`, v.pos);
      }
      names.add(v.name);
      const variable = this.#variables.get(v.source);
      if (variable === undefined) {
        return this.#fail(
          `Unknown variable '${v.source}': the dataset has no such variable`,
          v.sourcePos,
        );
      }
      this.#indices(f, v, variable, params);
      const leaves = this.#element(v.element, variable, viewTypes);
      return { decl: v, variable, leaves };
    });
    return { decl: f, vars };
  }

  #indices(f: FragmentDecl, v: ViewVar, variable: Variable, params: Set<string>): void {
    const axes = v.axes ?? [];
    const seenAxes = new Set<string>();
    for (const a of axes) {
      if (seenAxes.has(a)) this.#fail(`Duplicate index variable '${a}'`, v.pos);
      if (params.has(a) || this.#isConst(a)) {
        this.#fail(`Index variable '${a}' hides a parameter or constant of the same name`, v.pos);
      }
      seenAxes.add(a);
    }
    const rank = variable.dims.length;
    if (v.indices === undefined) {
      if (axes.length !== 0 && axes.length !== rank) {
        this.#fail(
          `Index variables do not match: '${v.source}' has ${rank} dimension(s), found ${axes.length} index variable(s)`,
          v.pos,
        );
      }
      return;
    }
    if (v.indices.length !== rank) {
      this.#fail(
        `Index count does not match: '${v.source}' has ${rank} dimension(s), found ${v.indices.length} index(es)`,
        v.indices[0]?.pos ?? v.sourcePos,
      );
    }
    const used = new Map<string, number>();
    const known = (name: string) => params.has(name) || this.#isConst(name);
    for (const ix of v.indices) {
      const exprs = ix.kind === "at"
        ? [ix.expr]
        : [ix.start, ix.end, ix.step].filter((e) => e !== undefined);
      const inThis = new Set<string>();
      for (const e of exprs) {
        for (const n of exprNames(e)) {
          if (seenAxes.has(n.name)) {
            if (ix.kind === "slice") {
              this.#fail(`Index variable '${n.name}' cannot appear in a slice`, n.pos);
            }
            inThis.add(n.name);
            used.set(n.name, (used.get(n.name) ?? 0) + 1);
          } else if (!known(n.name)) {
            this.#fail(
              `Unknown name '${n.name}': expected an index variable, a parameter of '${f.name}' or a constant`,
              n.pos,
            );
          }
        }
      }
      if (inThis.size > 1) {
        this.#fail(`An index may use one index variable, found ${[...inThis].join(", ")}`, ix.pos);
      }
    }
    for (const a of axes) {
      const n = used.get(a) ?? 0;
      if (n !== 1) {
        this.#fail(
          `Index variables do not match: '${a}' must appear in exactly one index of '${v.source}', found ${n}`,
          v.indices[0]?.pos ?? v.pos,
        );
      }
    }
  }

  #element(
    spec: ElementSpec | undefined,
    variable: Variable,
    viewTypes: ReadonlyMap<string, { fields: readonly FieldSelect[]; base: ResolvedType }>,
  ): SelectedLeaf[] {
    const all = () =>
      this.#leaves(variable.element, spec?.pos).map((l) => ({
        path: l.path,
        from: l.type,
        to: l.type,
        count: l.count,
      }));
    if (spec === undefined) return all();
    if (spec.kind === "select") return this.#select(variable.element, spec.fields, variable.name);
    const vt = viewTypes.get(spec.name);
    if (vt !== undefined) {
      if (typeKey(vt.base) !== typeKey(variable.element)) {
        this.#fail(
          `Type '${spec.name}' selects from ${typeKey(vt.base)}, but '${variable.name}' holds ${
            typeKey(variable.element)
          }`,
          spec.pos,
        );
      }
      return this.#select(variable.element, vt.fields, variable.name);
    }
    const target = scalarByName(spec.name);
    if (target !== undefined) {
      if (variable.element.kind === "struct") {
        this.#fail(
          `Cannot store struct elements of '${variable.name}' as ${spec.name}: select fields instead`,
          spec.pos,
        );
      }
      return all().map((l) => ({ ...l, to: this.#convert(l.from, target, spec.name, spec.pos) }));
    }
    const named = this.#named(spec.name, spec.pos);
    if (typeKey(named) !== typeKey(variable.element)) {
      this.#fail(
        `Type mismatch: '${variable.name}' holds ${
          typeKey(variable.element)
        }, found '${spec.name}' (${typeKey(named)})`,
        spec.pos,
      );
    }
    return all();
  }

  #select(element: ResolvedType, fields: readonly FieldSelect[], owner: string): SelectedLeaf[] {
    const leaves = this.#leaves(element, fields[0]?.pos);
    const out: SelectedLeaf[] = [];
    const taken = new Set<string>();
    for (const f of fields) {
      const hit = leaves.filter((l) =>
        l.path === f.path || l.path.startsWith(f.path + ".") || l.path.startsWith(f.path + "[")
      );
      if (hit.length === 0 || element.kind !== "struct") {
        const where = element.kind === "struct"
          ? `struct ${typeKey(element)}`
          : `${typeKey(element)} (not a struct)`;
        this.#fail(`No field '${f.path}' in the elements of '${owner}': they are ${where}`, f.pos);
      }
      for (const l of hit) {
        if (taken.has(l.path)) this.#fail(`Field '${l.path}' is selected twice`, f.pos);
        taken.add(l.path);
        let to = l.type;
        if (f.as !== undefined) {
          const target = scalarByName(f.as);
          if (target === undefined) {
            this.#fail(`Unknown type '${f.as}': expected a scalar type`, f.pos);
          }
          to = this.#convert(l.type, target, f.as, f.pos);
        }
        out.push({ path: l.path, from: l.type, to, count: l.count });
      }
    }
    return out;
  }

  #convert(
    from: ScalarType,
    to: ScalarType,
    name: string,
    pos: SourcePosition | undefined,
  ): ScalarType {
    if (typeof from !== "string" || typeof to !== "string") {
      if (scalarName(from) !== scalarName(to)) {
        this.#fail(`Cannot convert ${scalarName(from)} to ${name}: strings keep their size`, pos);
      }
    } else if (!conversionKeepsRange(from, to)) {
      this.#fail(`Conversion from ${scalarName(from)} to ${name} loses range`, pos);
    }
    return to;
  }

  #leaves(type: ResolvedType, pos: SourcePosition | undefined): Leaf[] {
    const size = typeSize(type);
    if (!Number.isSafeInteger(size)) {
      this.#fail("Type is too large: its size exceeds 2^53 bytes", pos);
    }
    try {
      return leavesOf(type);
    } catch (e) {
      if (e instanceof RangeError) return this.#fail(e.message, pos);
      throw e;
    }
  }

  #fail(detail: string, pos: SourcePosition | undefined): never {
    const p = pos ?? { line: 1, col: 1 };
    throw new DescriptionError(detail, p, this.#lines[p.line - 1] ?? "");
  }
}
