/**
 * What a transform function module sees: the types its author imports with
 * `import type { ... } from "strata/function"`. A function module exports
 * `input` (the fragment it takes, in the data language), `output` (`"value"`
 * or a derived dataset), optionally `sample` (bindings for the dry run), and
 * the functions `run(input, ctx)` and optionally `merge(a, b)`. See
 * docs/functions.md.
 *
 * Only types live here: a deployed module runs in a Worker without
 * permissions, where nothing but its own source can be imported.
 *
 * @example
 * ```ts
 * import type { FunctionContext, FunctionModule } from "./api.ts";
 * const total: FunctionModule = {
 *   input: "dataset { var n int64; var x [n]float64 }\nfragment all { var x = x }",
 *   output: "value",
 *   run(input: { x: Float64Array }, _ctx: FunctionContext) {
 *     return input.x.reduce((a, b) => a + b, 0);
 *   },
 *   merge: (a: number, b: number) => a + b,
 * };
 * ```
 *
 * @module
 */

/** A typed array over one numeric field of the input, as the runtime hands it over. */
export type NumericArray =
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

/**
 * The input of one call: one typed array per field of the declared input
 * fragment, named `slot` for a scalar variable and `slot.field` for a struct
 * field (a slot with a single field is also under its own name). Arrays view
 * one buffer, transferred to the Worker without copying.
 */
export type Inputs = Readonly<Record<string, NumericArray>>;

/** What a call knows besides its input. */
export interface FunctionContext {
  /** The deployed function: name, version and content digest. */
  readonly function: {
    readonly name: string;
    readonly version: number;
    readonly digest: string;
  };
  /** The source dataset (`sample` during the dry run). */
  readonly dataset: string;
  /** The source version (0 during the dry run). */
  readonly version: number;
  /** The input fragment's parameters, as bound for this call. */
  readonly params: Readonly<Record<string, number>>;
  /** Extents of each input field: its fragment axes, then its inner array when it has one. */
  readonly shapes: Readonly<Record<string, readonly number[]>>;
  /** Arguments of the invocation or pipeline (JSON), `null` when none. */
  readonly args: unknown;
  /** Whether this is the dry run at deploy time. */
  readonly dryRun: boolean;
  /** Adds a line to the call's log (returned with its result, bounded). */
  log(...values: unknown[]): void;
}

/** A function whose result is a fragment of a derived dataset. */
export interface DatasetOutput {
  /** The derived dataset's description, in the data language. */
  readonly description: string;
  /**
   * The fragment of it each call produces (default `dataset`, the whole
   * dataset). Its parameters are bound from the input's, by name.
   */
  readonly fragment?: string;
}

/** What `run` returns: a small JSON value, or a fragment of a derived dataset. */
export type Output = "value" | DatasetOutput;

/** The exports of a function module, checked at deploy time. */
export interface FunctionModule {
  /**
   * The input, in the data language: the dataset shape the function reads
   * and exactly one fragment, the layout it takes (`columnar` for struct
   * fields, so each field is one contiguous array).
   */
  readonly input: string;
  /** `"value"`, or the derived dataset a call produces a fragment of. */
  readonly output: Output;
  /** Size variables and fragment parameters of the dry run's sample input. */
  readonly sample?: Readonly<Record<string, number>>;
  /**
   * Computes on one input. A value output returns JSON-compatible data
   * (typed arrays become arrays); a dataset output returns one typed array
   * per field of its output fragment.
   */
  // deno-lint-ignore no-explicit-any
  run(input: any, ctx: FunctionContext): unknown;
  /** Combines two results of one version (associative), for per-fragment runs. */
  // deno-lint-ignore no-explicit-any
  merge?(a: any, b: any): unknown;
}
