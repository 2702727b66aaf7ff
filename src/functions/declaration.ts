/**
 * A function module's declaration (its `input`, `output`, `sample` exports
 * and whether it has `merge`), checked and compiled, and how its input
 * fragment is laid out against a real dataset. Pure: the exports arrive as
 * data read inside the sandbox.
 *
 * @module
 */

import {
  compileDescription,
  type Dataset,
  datasetLayout,
  fragmentLayout,
  parseDescription,
  printDescription,
} from "../ddl/mod.ts";
import { DescriptionError, InvalidFunctionError, LayoutError, StrataError } from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { type FieldEntry, fieldTable } from "./fields.ts";

/** The exports of a module as the sandbox reports them. */
export interface ModuleExports {
  /** The `input` export. */
  readonly input: unknown;
  /** The `output` export. */
  readonly output: unknown;
  /** The `sample` export. */
  readonly sample: unknown;
  /** `typeof run`. */
  readonly run: string;
  /** `typeof merge`. */
  readonly merge: string;
}

/** Where results go. */
export type OutputDecl =
  | { readonly kind: "value" }
  | {
    readonly kind: "dataset";
    /** Description of the derived dataset. */
    readonly description: string;
    /** Fragment each call produces (`dataset` for the whole dataset). */
    readonly fragment: string;
    /** That fragment's parameters (a subset of the input's). */
    readonly params: readonly string[];
  };

/** A checked declaration. */
export interface Declaration {
  /** The `input` description text. */
  readonly input: string;
  /** Name of the input fragment. */
  readonly fragment: string;
  /** Its parameters, bound per call (from the region, or from each published copy). */
  readonly params: readonly string[];
  /** Where results go. */
  readonly output: OutputDecl;
  /** Size variables and parameters of the dry run's sample. */
  readonly sample: Readonly<Record<string, number>>;
  /** Whether the module exports `merge`. */
  readonly merge: boolean;
}

/** Size of a size variable the sample does not bind. */
export const DEFAULT_SAMPLE_SIZE = 16;

/**
 * Checks the exports of function `name` and compiles its descriptions;
 * throws `InvalidFunctionError` (stage `declaration`) saying what was
 * expected and found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDeclaration } from "./declaration.ts";
 * const d = parseDeclaration("sum", {
 *   input: "dataset { var n int64; var x [n]float64 }\nfragment part(lo, hi) { var x = x[lo:hi] }",
 *   output: "value", sample: { lo: 0, hi: 8 }, run: "function", merge: "function",
 * });
 * assert.deepEqual([d.fragment, d.params, d.merge], ["part", ["lo", "hi"], true]);
 * ```
 */
export function parseDeclaration(name: string, e: ModuleExports): Declaration {
  const bad = (detail: string, cause?: unknown): never => {
    throw new InvalidFunctionError(name, "declaration", detail, { cause });
  };
  if (e.run !== "function") bad(`expected an exported function 'run', found ${e.run}`);
  if (e.merge !== "function" && e.merge !== "undefined") {
    bad(`expected 'merge' to be a function when exported, found ${e.merge}`);
  }
  if (typeof e.input !== "string") {
    bad(`expected 'input' to be a description in the data language, found ${kind(e.input)}`);
  }
  const input = e.input as string;
  const ds = compileOr(input, (m, c) => bad(`'input' does not compile: ${m}`, c));
  if (ds.fragments.size !== 1) {
    bad(`expected 'input' to declare exactly one fragment, found ${ds.fragments.size}`);
  }
  const [fragment, f] = [...ds.fragments][0]!;
  const sample = checkSample(e.sample, bad);
  const output = parseOutput(e.output, f.decl.params, bad);
  const decl: Declaration = {
    input,
    fragment,
    params: f.decl.params,
    output,
    sample,
    merge: e.merge === "function",
  };
  for (const p of decl.params) {
    if (sample[p] === undefined) {
      bad(
        `the input fragment '${fragment}' takes parameters ${
          decl.params.join(", ")
        }: export 'sample' with a value for each, for the dry run`,
      );
    }
  }
  try {
    fieldTable(sampleLayout(decl));
    if (output.kind === "dataset") fieldTable(sampleOutputLayout(decl));
  } catch (err) {
    if (err instanceof StrataError) bad(err.message, err);
    throw err;
  }
  return decl;
}

/** The compiled input description (its own dataset section and fragment). */
export function inputDataset(decl: Declaration): Dataset {
  return compileDescription(decl.input);
}

/**
 * The layout of the dry run's sample input: the function's own dataset
 * section, size variables from `sample` (default 16) and its parameters.
 */
export function sampleLayout(decl: Declaration): FragmentLayout {
  const ds = inputDataset(decl);
  return fragmentLayout(ds, decl.fragment, sampleBindings(ds, decl, decl.params));
}

/** The layout of the dry run's output fragment (dataset outputs only). */
export function sampleOutputLayout(decl: Declaration): FragmentLayout {
  if (decl.output.kind !== "dataset") throw new TypeError("The function returns a value");
  const ds = compileDescription(decl.output.description);
  return outputLayout(ds, decl.output, sampleBindings(ds, decl, decl.output.params));
}

/**
 * Compiles the function's input fragment against a source dataset's
 * description (its dataset section replaces the function's own), so the
 * fragment names the source's variables and fields. Throws `LayoutError`
 * naming the function and dataset when the source lacks what it reads.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fragmentLayout } from "../ddl/mod.ts";
 * import { composeInput, parseDeclaration } from "./declaration.ts";
 * const d = parseDeclaration("e", {
 *   input: "dataset { var p [4]struct { e float64 } }\nfragment es columnar { var v { e } = p }",
 *   output: "value", sample: undefined, run: "function", merge: "undefined",
 * });
 * const ds = composeInput("e", d, "particles", "dataset { var p [8]struct { id int64; e float64 } }");
 * assert.equal(fragmentLayout(ds, "es").byteLength, 64);
 * ```
 */
export function composeInput(
  name: string,
  decl: Declaration,
  dataset: string,
  sourceDescription: string,
): Dataset {
  const mine = parseDescription(decl.input).fragments[0]!;
  const source = parseDescription(sourceDescription);
  const text = printDescription({ ...source, fragments: [mine], replicas: [] });
  try {
    return compileDescription(text);
  } catch (e) {
    if (e instanceof StrataError) {
      // Positions would point into the composed text, which nobody wrote.
      const detail = e instanceof DescriptionError ? e.detail : e.message.split("\n")[0];
      throw new LayoutError(`Function '${name}' cannot read dataset '${dataset}': ${detail}`, {
        cause: e,
      });
    }
    throw e;
  }
}

/**
 * Layout of an output fragment with bindings (`dataset` names the whole
 * derived dataset).
 */
export function outputLayout(
  ds: Dataset,
  output: Extract<OutputDecl, { kind: "dataset" }>,
  bindings: Readonly<Record<string, number>>,
): FragmentLayout {
  return output.fragment === "dataset"
    ? datasetLayout(ds, bindings)
    : fragmentLayout(ds, output.fragment, bindings);
}

/** The fields of a layout, or `LayoutError` naming the function. */
export function fieldsFor(name: string, layout: FragmentLayout): FieldEntry[] {
  try {
    return fieldTable(layout);
  } catch (e) {
    if (e instanceof LayoutError) {
      throw new LayoutError(`Function '${name}': ${e.message}`, { cause: e });
    }
    throw e;
  }
}

function sampleBindings(
  ds: Dataset,
  decl: Declaration,
  params: readonly string[],
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of ds.variables.values()) {
    for (const d of v.dims) {
      if (typeof d !== "number") out[d.sizeVar] = decl.sample[d.sizeVar] ?? DEFAULT_SAMPLE_SIZE;
    }
  }
  for (const p of params) out[p] = decl.sample[p]!;
  return out;
}

function parseOutput(
  raw: unknown,
  inputParams: readonly string[],
  bad: (detail: string, cause?: unknown) => never,
): OutputDecl {
  if (raw === "value") return { kind: "value" };
  const expected = `expected 'output' to be "value" or { description, fragment? }, found ${
    kind(raw)
  }`;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) bad(expected);
  const o = raw as Record<string, unknown>;
  if (typeof o.description !== "string") bad(expected);
  for (const k of Object.keys(o)) {
    if (k !== "description" && k !== "fragment") bad(`unknown key '${k}' in 'output'`);
  }
  const fragment = o.fragment ?? "dataset";
  if (typeof fragment !== "string") bad(`expected 'output.fragment' to be a fragment name`);
  const ds = compileOr(
    o.description as string,
    (m, c) => bad(`'output.description' does not compile: ${m}`, c),
  );
  let params: readonly string[] = [];
  if (fragment !== "dataset") {
    const f = ds.fragments.get(fragment as string);
    if (f === undefined) {
      bad(`'output.fragment' names '${fragment}', which 'output.description' does not declare`);
    }
    params = f!.decl.params;
    const unbound = params.filter((p) => !inputParams.includes(p));
    if (unbound.length > 0) {
      bad(
        `the output fragment's parameters ${
          unbound.join(", ")
        } are not parameters of the input fragment, which binds them`,
      );
    }
  }
  return {
    kind: "dataset",
    description: o.description as string,
    fragment: fragment as string,
    params,
  };
}

function checkSample(
  raw: unknown,
  bad: (detail: string) => never,
): Readonly<Record<string, number>> {
  if (raw === undefined) return {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    bad(`expected 'sample' to be an object of integers, found ${kind(raw)}`);
  }
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== "number" || !Number.isSafeInteger(v)) {
      bad(`expected 'sample.${k}' to be an integer, found ${kind(v)}`);
    }
    out[k] = v as number;
  }
  return out;
}

function compileOr(text: string, bad: (message: string, cause: unknown) => never): Dataset {
  try {
    return compileDescription(text);
  } catch (e) {
    if (e instanceof StrataError) bad(e.message.split("\n")[0]!, e);
    throw e;
  }
}

function kind(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `the string ${JSON.stringify(v.slice(0, 40))}`;
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/**
 * The sizes of a derived dataset's size variables, taken from the source's
 * by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription } from "../ddl/mod.ts";
 * import { sizesFor } from "./declaration.ts";
 * const out = compileDescription("dataset { var n int64; var y [n]float32 }");
 * assert.deepEqual(sizesFor(out, { n: 10, m: 3 }), { n: 10 });
 * ```
 */
export function sizesFor(
  ds: Dataset,
  sourceSizes: Readonly<Record<string, number>>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of ds.variables.values()) {
    for (const d of v.dims) {
      if (typeof d !== "number" && sourceSizes[d.sizeVar] !== undefined) {
        out[d.sizeVar] = sourceSizes[d.sizeVar]!;
      }
    }
  }
  return out;
}
