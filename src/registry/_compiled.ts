/**
 * Compiled descriptions shared by the datasets that have the same text.
 *
 * Why: many datasets of one run are created from one description; compiling
 * it for each took a fifth of a create's time, and each copy of the compiled
 * form and its whole layout weighed on the garbage collector for as long as
 * the dataset lived (bench/registry_wrk_bench.ts, creates 100 per request).
 * A compiled `Dataset` and a `FragmentLayout` are read-only, so datasets may
 * share them.
 *
 * @module
 */

import { compileDescription, type Dataset, datasetLayout, publishableSizes } from "../ddl/mod.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { sizeVariables } from "./validate.ts";

/** Most description texts kept; the least recently used goes first. */
const MAX_KEPT = 256;

const compiled = new Map<string, Dataset>();
const wholes = new WeakMap<Dataset, FragmentLayout>();
const sizeVarSets = new WeakMap<Dataset, ReadonlySet<string>>();
const publishables = new WeakMap<Dataset, ReadonlySet<string>>();
const sources = new WeakMap<Dataset, string>();
/** The description of the last call, and its compiled form. */
let last: { readonly source: string; readonly ds: Dataset } | undefined;

/**
 * The compiled form of `source`, shared with every other caller that
 * compiled the same text; throws as `compileDescription` does (errors are
 * not kept).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileShared } from "./_compiled.ts";
 * const a = compileShared("dataset { var x [4]float64 }");
 * assert.equal(compileShared("dataset { var x [4]float64 }"), a);
 * assert.equal(a.variables.has("x"), true);
 * ```
 */
export function compileShared(source: string): Dataset {
  // The text of the last call again (datasets of a run are created from
  // one): it is the most recently used already.
  if (last !== undefined && last.source === source) return last.ds;
  let ds = compiled.get(source);
  if (ds !== undefined) {
    // Most recently used last.
    compiled.delete(source);
  } else {
    ds = compileDescription(source);
    sources.set(ds, source);
    if (compiled.size >= MAX_KEPT) compiled.delete(compiled.keys().next().value!);
  }
  compiled.set(source, ds);
  last = { source: sources.get(ds) ?? source, ds };
  return ds;
}

/**
 * The text `ds` was compiled from by `compileShared`, the one string every
 * dataset record of that text may share (a request's body gives each
 * create a string of its own); undefined for a description compiled
 * otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileShared, sharedSource } from "./_compiled.ts";
 * const text = "dataset { var x [4]float64 }";
 * assert.equal(sharedSource(compileShared(text)), text);
 * ```
 */
export function sharedSource(ds: Dataset): string | undefined {
  return sources.get(ds);
}

/**
 * The whole layout of `ds` with no size given at creation, shared by the
 * datasets of one compiled description; throws as `datasetLayout` does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileShared, sharedWhole } from "./_compiled.ts";
 * const ds = compileShared("dataset { var x [4]float64 }");
 * assert.equal(sharedWhole(ds).byteLength, 32);
 * assert.equal(sharedWhole(ds), sharedWhole(ds));
 * ```
 */
export function sharedWhole(ds: Dataset): FragmentLayout {
  return kept(wholes, ds, (d) => datasetLayout(d, {}));
}

/**
 * The size variables of `ds` (`sizeVariables`), one set shared by the
 * datasets of one compiled description: an empty set costs about 150 bytes
 * for each of a million datasets.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileShared, sharedSizeVariables } from "./_compiled.ts";
 * const ds = compileShared("dataset { var n int64; var x [n]float64 }");
 * assert.deepEqual([...sharedSizeVariables(ds)], ["n"]);
 * assert.equal(sharedSizeVariables(ds), sharedSizeVariables(ds));
 * ```
 */
export function sharedSizeVariables(ds: Dataset): ReadonlySet<string> {
  return kept(sizeVarSets, ds, sizeVariables);
}

/**
 * The size variables a producer of `ds` can publish (`publishableSizes`),
 * worked out once per compiled description: datasets created from one
 * description each asked for it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileShared, sharedPublishable } from "./_compiled.ts";
 * const ds = compileShared("dataset { var n int64\n var x [n]float64 }");
 * assert.deepEqual([...sharedPublishable(ds)], ["n"]);
 * assert.equal(sharedPublishable(ds), sharedPublishable(ds));
 * ```
 */
export function sharedPublishable(ds: Dataset): ReadonlySet<string> {
  return kept(publishables, ds, publishableSizes);
}

/** What `make` gives for `ds`, made the first time and kept in `memo` with the compiled form. */
function kept<T>(memo: WeakMap<Dataset, T>, ds: Dataset, make: (ds: Dataset) => T): T {
  let value = memo.get(ds);
  if (value === undefined) {
    value = make(ds);
    memo.set(ds, value);
  }
  return value;
}
