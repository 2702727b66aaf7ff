/**
 * The description model: what a dataset description says, before checking.
 * It is plain data; its JSON form (see `json.ts`) is this model without the
 * source positions.
 *
 * @module
 */

import type { SourcePosition } from "../errors.ts";

/** An integer expression: a number, a name (const, parameter, index), or arithmetic. */
export type Expr =
  | { readonly kind: "int"; readonly value: number; readonly pos?: SourcePosition }
  | { readonly kind: "name"; readonly name: string; readonly pos?: SourcePosition }
  | {
    readonly kind: "binary";
    readonly op: "+" | "-" | "*" | "/" | "%";
    readonly left: Expr;
    readonly right: Expr;
    readonly pos?: SourcePosition;
  }
  | { readonly kind: "neg"; readonly operand: Expr; readonly pos?: SourcePosition };

/** A field of a struct type. */
export interface FieldDecl {
  /** Field name. */
  readonly name: string;
  /** Field type. */
  readonly type: TypeExpr;
  /** Where the field name appears. */
  readonly pos?: SourcePosition;
}

/** A type as written in a description. */
export type TypeExpr =
  | { readonly kind: "named"; readonly name: string; readonly pos?: SourcePosition }
  | {
    readonly kind: "struct";
    readonly fields: readonly FieldDecl[];
    readonly pos?: SourcePosition;
  }
  | {
    readonly kind: "array";
    readonly dims: readonly Expr[];
    readonly element: TypeExpr;
    readonly pos?: SourcePosition;
  };

/** `const NAME = EXPR`, `type NAME TYPE`, or `var NAME TYPE`. */
export interface Decl {
  /** Declared name. */
  readonly name: string;
  /** Where the name appears. */
  readonly pos?: SourcePosition;
}

/** `const N = 1000`. */
export interface ConstDecl extends Decl {
  /** Value expression (constants only). */
  readonly value: Expr;
}

/** `type Point struct { ... }` or `var p Point`. */
export interface TypeDecl extends Decl {
  /** The type. */
  readonly type: TypeExpr;
}

/** One selected field in a fragment: `b`, `pos.x`, or `x float32` (converted). */
export interface FieldSelect {
  /** Dotted path of the field inside the element. */
  readonly path: string;
  /** Type to store it as, when it differs from the dataset's. */
  readonly as?: string;
  /** Where the path appears. */
  readonly pos?: SourcePosition;
}

/** What element a fragment variable stores. */
export type ElementSpec =
  | {
    readonly kind: "select";
    readonly fields: readonly FieldSelect[];
    readonly pos?: SourcePosition;
  }
  | { readonly kind: "named"; readonly name: string; readonly pos?: SourcePosition };

/** One index of a variable reference: an affine expression or a slice. */
export type IndexExpr =
  | { readonly kind: "at"; readonly expr: Expr; readonly pos?: SourcePosition }
  | {
    readonly kind: "slice";
    readonly start?: Expr;
    readonly end?: Expr;
    readonly step?: Expr;
    readonly pos?: SourcePosition;
  };

/** `var NAME [i, j] SPEC = VARIABLE[index, ...]` inside a fragment. */
export interface ViewVar extends Decl {
  /** Index variables naming the fragment's axes (`[i, j]`), or undefined when absent. */
  readonly axes?: readonly string[];
  /** Stored element, when not the whole element. */
  readonly element?: ElementSpec;
  /** Referenced dataset variable. */
  readonly source: string;
  /** Indices into the dataset variable, when given. */
  readonly indices?: readonly IndexExpr[];
  /** Where the source name appears. */
  readonly sourcePos?: SourcePosition;
}

/** `type PointB { b } Point` inside a fragment. */
export interface ViewType extends Decl {
  /** Selected fields. */
  readonly fields: readonly FieldSelect[];
  /** The dataset type it selects from. */
  readonly base: string;
  /** Where the base name appears. */
  readonly basePos?: SourcePosition;
}

/** Order of multi-dimensional arrays in a fragment. */
export type ArrayOrder = "rowmajor" | "rowminor";

/** `view NAME ...` / `fragment NAME(params) ... { ... }`. */
export interface FragmentDecl extends Decl {
  /** Parameters bound at attach time. */
  readonly params: readonly string[];
  /** Whether writers may not publish through it. */
  readonly readOnly: boolean;
  /** Array order of its axes. */
  readonly order: ArrayOrder;
  /** Struct-of-arrays layout of struct arrays. */
  readonly columnar: boolean;
  /** Named view types. */
  readonly types: readonly ViewType[];
  /** Variables, in buffer order. */
  readonly vars: readonly ViewVar[];
  /** Whether it was written `view` (DRepl) rather than `fragment`. */
  readonly keyword: "view" | "fragment";
}

/** `replica NAME ["file"] [complete] { view X }`. */
export interface ReplicaDecl extends Decl {
  /** File the replica is stored in, when given (otherwise the replica's name names it). */
  readonly file?: string;
  /** Whether the replica holds the whole dataset. */
  readonly complete: boolean;
  /** Fragments it stores. */
  readonly views: readonly string[];
}

/**
 * A whole description: one dataset section, then fragments and replicas.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDescription } from "./parser.ts";
 * const d = parseDescription("dataset p { var x [4]float64 }");
 * assert.ok(d.name === "p" && d.vars.length === 1);
 * ```
 */
export interface Description {
  /** Dataset name, when the description gives one. */
  readonly name?: string;
  /** Constants. */
  readonly consts: readonly ConstDecl[];
  /** Types. */
  readonly types: readonly TypeDecl[];
  /** Variables, in declaration order. */
  readonly vars: readonly TypeDecl[];
  /** Fragments (views). */
  readonly fragments: readonly FragmentDecl[];
  /** Replicas. */
  readonly replicas: readonly ReplicaDecl[];
}
