/**
 * Physical layouts of datasets and fragments: the byte offset and strides of
 * every stored field, ready for the transform engine.
 *
 * Placement rules (DRepl's, with Strata's additions):
 * - struct fields and array elements are packed, with no padding;
 * - each variable of a dataset or fragment starts at the next offset aligned
 *   as its type (the paper's rule): a scalar to its size (a string to 2), a
 *   struct as its first field, an array as its element;
 * - `rowmajor` (the default) lays out the last axis fastest, `rowminor` the
 *   first;
 * - `columnar` stores each leaf field of a variable as its own array (struct of
 *   arrays), each column aligned to its scalar.
 *
 * @module
 */

import { LayoutError, type SourcePosition } from "../errors.ts";
import type { Axis, FieldSlot, FragmentLayout, VarSlot } from "../transform/layout.ts";
import { scalarAlign, scalarSize } from "../transform/scalar.ts";
import type { ArrayOrder, Expr, IndexExpr } from "./ast.ts";
import type { CheckedViewVar, Dataset, Variable } from "./check.ts";
import { evalExpr, ExprError, exprNames } from "./expr.ts";
import { leavesOf } from "./types.ts";

/** Values bound at attach time: fragment parameters and size variables. */
export type Bindings = Readonly<Record<string, number>>;

/** A layout error that knows where in the description it comes from. */
export class LocatedLayoutError extends LayoutError {
  /** Position of the offending expression. */
  readonly pos: SourcePosition | undefined;

  /** Creates the error. */
  constructor(message: string, pos: SourcePosition | undefined) {
    super(message);
    this.pos = pos;
  }
}

/**
 * The extents of a variable's index space, with size variables bound.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, variableExtents } from "./mod.ts";
 * const ds = compileDescription("dataset { var n int32\n var d [n]float32 }");
 * assert.ok(variableExtents(ds, "d", { n: 10 })[0] === 10);
 * ```
 */
export function variableExtents(ds: Dataset, name: string, bindings: Bindings = {}): number[] {
  const v = ds.variables.get(name);
  if (v === undefined) throw new LayoutError(`Unknown variable '${name}'`);
  return extentsOf(v, bindings);
}

function extentsOf(v: Variable, bindings: Bindings): number[] {
  return v.dims.map((d) => {
    if (typeof d === "number") return d;
    const n = bindings[d.sizeVar];
    if (n === undefined) {
      throw new LayoutError(
        `Size of '${v.name}' depends on variable '${d.sizeVar}', which is not bound`,
      );
    }
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new LayoutError(`Size variable '${d.sizeVar}' must be a positive integer, found ${n}`);
    }
    return n;
  });
}

/**
 * The layout of the whole dataset: every variable in declaration order, as
 * declared (array of structs, row-major).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, datasetLayout } from "./mod.ts";
 * const ds = compileDescription("dataset { var p [4]struct { x, y float32 } }");
 * assert.ok(datasetLayout(ds).byteLength === 32);
 * ```
 */
export function datasetLayout(ds: Dataset, bindings: Bindings = {}): FragmentLayout {
  return wholeLayout(ds, bindings, Infinity);
}

/**
 * The layout of the first `count` variables of the dataset (or of fragment
 * `fragment`): their offsets depend on nothing after them, so they are known
 * before later variables' sizes are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, layoutPrefix } from "./mod.ts";
 * const ds = compileDescription("dataset { var n int32\n var d [n]float64 }");
 * assert.equal(layoutPrefix(ds, { count: 1 }).byteLength, 4);
 * ```
 */
export function layoutPrefix(
  ds: Dataset,
  options: { readonly fragment?: string; readonly bindings?: Bindings; readonly count: number },
): FragmentLayout {
  const bindings = options.bindings ?? {};
  return options.fragment === undefined
    ? wholeLayout(ds, bindings, options.count)
    : viewLayout(ds, options.fragment, bindings, options.count);
}

function wholeLayout(ds: Dataset, bindings: Bindings, count: number): FragmentLayout {
  let cursor = 0;
  const slots: VarSlot[] = [];
  for (const v of ds.variables.values()) {
    if (slots.length >= count) break;
    const extents = extentsOf(v, bindings);
    const axes = extents.map((count, dim) => ({ dim, step: 1, count }));
    const leaves = leavesOf(v.element).map((l) => ({
      path: l.path,
      from: l.type,
      to: l.type,
      count: l.count,
    }));
    const placed = place(
      v.name,
      v.name,
      extents.map(() => 0),
      axes,
      leaves,
      cursor,
      "rowmajor",
      false,
    );
    slots.push(placed.slot);
    cursor = placed.end;
  }
  return { byteLength: cursor, slots: slots.slice() };
}

/**
 * The layout of a fragment, with its parameters (and any size variables)
 * bound. Throws `LayoutError` for an unknown fragment, an unbound or unknown
 * parameter, or a region outside the variable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, fragmentLayout } from "./mod.ts";
 * const ds = compileDescription(`dataset { var t [8, 8]float64 }
 * fragment block(r0, r1) { var t = t[r0:r1, :] }`);
 * const l = fragmentLayout(ds, "block", { r0: 2, r1: 4 });
 * assert.ok(l.byteLength === 2 * 8 * 8);
 * assert.ok(l.slots[0]?.origin.join() === "2,0");
 * ```
 */
export function fragmentLayout(ds: Dataset, name: string, bindings: Bindings = {}): FragmentLayout {
  return viewLayout(ds, name, bindings, Infinity);
}

function viewLayout(ds: Dataset, name: string, bindings: Bindings, count: number): FragmentLayout {
  const f = ds.fragments.get(name);
  if (f === undefined) {
    const known = [...ds.fragments.keys()].map((k) => `'${k}'`).join(", ") || "none";
    throw new LayoutError(`Unknown fragment '${name}': the dataset declares ${known}`);
  }
  for (const p of f.decl.params) {
    const v = bindings[p];
    if (v === undefined) {
      throw new LayoutError(`Parameter '${p}' of fragment '${name}' is not bound`);
    }
    if (!Number.isSafeInteger(v)) {
      throw new LayoutError(
        `Parameter '${p}' of fragment '${name}' must be an integer, found ${v}`,
      );
    }
  }
  for (const key of Object.keys(bindings)) {
    if (!f.decl.params.includes(key) && !isSizeVar(ds, key)) {
      const list = f.decl.params.length === 0
        ? "no parameters"
        : `parameters ${f.decl.params.join(", ")}`;
      throw new LayoutError(`Fragment '${name}' has no parameter '${key}': it takes ${list}`);
    }
  }
  let cursor = 0;
  const slots: VarSlot[] = [];
  for (const v of f.vars) {
    if (slots.length >= count) break;
    const { origin, axes } = regionOf(ds, v, bindings);
    const placed = place(
      v.decl.name,
      v.variable.name,
      origin,
      axes,
      v.leaves,
      cursor,
      f.decl.order,
      f.decl.columnar,
    );
    slots.push(placed.slot);
    cursor = placed.end;
  }
  return { byteLength: cursor, slots: slots.slice() };
}

function isSizeVar(ds: Dataset, name: string): boolean {
  for (const v of ds.variables.values()) {
    if (v.dims.some((d) => typeof d !== "number" && d.sizeVar === name)) return true;
  }
  return false;
}

function regionOf(
  ds: Dataset,
  v: CheckedViewVar,
  bindings: Bindings,
): { origin: number[]; axes: Axis[] } {
  const extents = extentsOf(v.variable, bindings);
  const names = v.decl.axes ?? [];
  if (v.decl.indices === undefined) {
    return {
      origin: extents.map(() => 0),
      axes: extents.map((count, dim) => ({ dim, step: 1, count })),
    };
  }
  const origin: number[] = [];
  const named: (Axis | undefined)[] = names.map(() => undefined);
  const sliced: Axis[] = [];
  const lookup = (extra: Record<string, number>) => (n: string) =>
    extra[n] ?? bindings[n] ?? ds.consts.get(n);
  v.decl.indices.forEach((ix: IndexExpr, dim) => {
    const extent = extents[dim]!;
    const what = `index ${dim + 1} of '${v.variable.name}' (extent ${extent})`;
    if (ix.kind === "slice") {
      const start = ix.start === undefined ? 0 : value(ix.start, lookup({}));
      const end = ix.end === undefined ? extent : value(ix.end, lookup({}));
      const step = ix.step === undefined ? 1 : value(ix.step, lookup({}));
      if (step < 1) {
        throw new LocatedLayoutError(
          `Slice step must be positive in ${what}, found ${step}`,
          ix.pos,
        );
      }
      if (start < 0 || end > extent || start >= end) {
        throw new LocatedLayoutError(
          `Slice ${start}:${end} is outside ${what}: expected 0 <= start < end <= ${extent}`,
          ix.pos,
        );
      }
      origin.push(start);
      sliced.push({ dim, step, count: Math.ceil((end - start) / step) });
      return;
    }
    const axis = exprNames(ix.expr).find((n) => names.includes(n.name))?.name;
    const f = (i: number) => value(ix.expr, lookup(axis === undefined ? {} : { [axis]: i }));
    const c = f(0);
    if (c < 0 || c >= extent) {
      throw new LocatedLayoutError(
        `Index ${c} is outside ${what}: expected 0 <= index < ${extent}`,
        ix.pos,
      );
    }
    origin.push(c);
    if (axis === undefined) return;
    const step = f(1) - c;
    if (step < 1 || f(2) - f(1) !== step) {
      throw new LocatedLayoutError(
        `Index of '${v.variable.name}' must be start + step * ${axis} with a positive step`,
        ix.pos,
      );
    }
    named[names.indexOf(axis)] = { dim, step, count: Math.floor((extent - 1 - c) / step) + 1 };
  });
  // Exact-sized arrays: a layout may be kept for each of millions of copies,
  // and an array grown by push (or spread) holds room for 17 elements.
  return {
    origin: origin.slice(),
    axes: named.filter((a): a is Axis => a !== undefined).concat(sliced),
  };
}

function value(e: Expr, lookup: (n: string) => number | undefined): number {
  try {
    return evalExpr(e, lookup);
  } catch (err) {
    if (err instanceof ExprError) throw new LocatedLayoutError(err.message, err.pos ?? e.pos);
    throw err;
  }
}

interface PlacedLeaf {
  readonly path: string;
  readonly to: import("../transform/scalar.ts").ScalarType;
  readonly count: number;
}

function place(
  name: string,
  variable: string,
  origin: number[],
  axes: Axis[],
  leaves: readonly PlacedLeaf[],
  cursor: number,
  order: ArrayOrder,
  columnar: boolean,
): { slot: VarSlot; end: number } {
  // The paper's rule: a variable aligns to its type, a struct to its first
  // field and an array to its element, which is always the first leaf stored.
  // Columns (Strata's) each align to their scalar, from the largest one on.
  const first = leaves[0];
  const align = columnar
    ? leaves.reduce((a, l) => Math.max(a, scalarAlign(l.to)), 1)
    : first === undefined
    ? 1
    : scalarAlign(first.to);
  let at = alignUp(cursor, align);
  const n = axes.reduce((p, a) => p * a.count, 1);
  const stridesFor = (elem: number) => {
    const s = new Array<number>(axes.length);
    let acc = elem;
    const idx = axes.map((_, k) => k);
    if (order === "rowmajor") idx.reverse();
    for (const k of idx) {
      s[k] = acc;
      acc *= axes[k]!.count;
    }
    return s;
  };
  const fields: FieldSlot[] = [];
  if (columnar) {
    for (const l of leaves) {
      const size = scalarSize(l.to) * l.count;
      at = alignUp(at, scalarAlign(l.to));
      fields.push({
        path: l.path,
        type: l.to,
        count: l.count,
        offset: at,
        strides: stridesFor(size),
      });
      at += size * n;
    }
  } else {
    const elem = leaves.reduce((s, l) => s + scalarSize(l.to) * l.count, 0);
    const strides = stridesFor(elem);
    let off = at;
    for (const l of leaves) {
      fields.push({ path: l.path, type: l.to, count: l.count, offset: off, strides });
      off += scalarSize(l.to) * l.count;
    }
    at += elem * n;
  }
  if (!Number.isSafeInteger(at)) {
    throw new LayoutError(`Layout of '${name}' is too large: its size exceeds 2^53 bytes`);
  }
  return { slot: { name, variable, origin, axes, fields: fields.slice() }, end: at };
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
