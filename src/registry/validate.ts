/**
 * Checks of what callers hand the registry: names, version numbers,
 * retention, size variables and region bindings. Pure: no KV, no I/O.
 *
 * @module
 */

import type { Dataset } from "../ddl/mod.ts";
import { InvalidRequestError, LayoutError } from "../errors.ts";

/** Valid dataset and node names. */
export const NAME_PATTERN: RegExp = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;

/** Largest description text the registry stores, in UTF-8 bytes (a KV value holds 64 KiB). */
export const MAX_DESCRIPTION_BYTES = 32 * 1024;

/**
 * Throws `InvalidRequestError` unless `name` is a valid dataset or node name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkName } from "./validate.ts";
 * checkName("dataset", "grid.v2");
 * assert.throws(() => checkName("dataset", "9grid"), { code: "invalid_request" });
 * ```
 */
export function checkName(kind: "dataset" | "node", name: unknown): asserts name is string {
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
    throw new InvalidRequestError(
      `Invalid ${kind} name '${
        String(name).slice(0, 140)
      }': expected a letter then up to 127 letters, digits, '_', '.' or '-'`,
    );
  }
}

/**
 * Throws `InvalidRequestError` unless `v` is a version number (an integer >= 1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkVersion } from "./validate.ts";
 * checkVersion(3);
 * assert.throws(() => checkVersion(0), { message: "Invalid version 0: expected an integer >= 1" });
 * ```
 */
export function checkVersion(v: unknown): asserts v is number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
    throw new InvalidRequestError(`Invalid version ${String(v)}: expected an integer >= 1`);
  }
}

/**
 * Throws `InvalidRequestError` unless `k` is a retention (an integer >= 1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkRetention } from "./validate.ts";
 * checkRetention(2);
 * assert.throws(() => checkRetention(0), { code: "invalid_request" });
 * ```
 */
export function checkRetention(k: unknown): asserts k is number {
  if (typeof k !== "number" || !Number.isSafeInteger(k) || k < 1) {
    throw new InvalidRequestError(`Invalid retention ${String(k)}: expected an integer >= 1`);
  }
}

/** Most consumer nodes a dataset declares. */
export const MAX_CONSUMERS = 64;

/**
 * Throws `InvalidRequestError` unless `v` lists consumer node names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkConsumers } from "./validate.ts";
 * checkConsumers(["node-b", "node-c"]);
 * assert.throws(() => checkConsumers("node-b"), {
 *   message: "Invalid consumers \"node-b\": expected a list of at most 64 node names",
 * });
 * ```
 */
export function checkConsumers(v: unknown): asserts v is readonly string[] {
  if (!Array.isArray(v) || v.length > MAX_CONSUMERS) {
    throw new InvalidRequestError(
      `Invalid consumers ${
        JSON.stringify(v)?.slice(0, 140)
      }: expected a list of at most ${MAX_CONSUMERS} node names`,
    );
  }
  for (const name of v) checkName("node", name);
}

/**
 * Throws `InvalidRequestError` when a description is too large to store.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDescriptionSize } from "./validate.ts";
 * checkDescriptionSize("dataset { var x float64 }");
 * assert.throws(() => checkDescriptionSize("x".repeat(40000)), { code: "invalid_request" });
 * ```
 */
export function checkDescriptionSize(text: string): void {
  const bytes = new TextEncoder().encode(text).byteLength;
  if (bytes > MAX_DESCRIPTION_BYTES) {
    throw new InvalidRequestError(
      `Description too large: expected at most ${MAX_DESCRIPTION_BYTES} bytes, received ${bytes}`,
    );
  }
}

/**
 * Names of the description's size variables (those sizing an array).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription } from "../ddl/mod.ts";
 * import { sizeVariables } from "./validate.ts";
 * const ds = compileDescription("dataset { var n int64\n var x [n]float64 }");
 * assert.deepEqual([...sizeVariables(ds)], ["n"]);
 * ```
 */
export function sizeVariables(ds: Dataset): Set<string> {
  const out = new Set<string>();
  for (const v of ds.variables.values()) {
    for (const d of v.dims) if (typeof d !== "number") out.add(d.sizeVar);
  }
  return out;
}

/**
 * Throws unless `sizes` binds only size variables of `ds`, each to a
 * non-negative integer. (Missing ones are reported by the layout.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription } from "../ddl/mod.ts";
 * import { checkSizes } from "./validate.ts";
 * const ds = compileDescription("dataset { var n int64\n var x [n]float64 }");
 * checkSizes(ds, { n: 8 });
 * assert.throws(() => checkSizes(ds, { m: 8 }), { code: "invalid_layout" });
 * ```
 */
export function checkSizes(ds: Dataset, sizes: Readonly<Record<string, unknown>>): void {
  const known = sizeVariables(ds);
  for (const [k, v] of Object.entries(sizes)) {
    if (!known.has(k)) {
      const list = known.size === 0 ? "none" : [...known].map((s) => `'${s}'`).join(", ");
      throw new LayoutError(
        `Unknown size variable '${k}': the dataset's size variables are ${list}`,
      );
    }
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      throw new LayoutError(
        `Invalid size '${k}': expected a non-negative integer, found ${String(v)}`,
      );
    }
  }
}

/** A publish or attach region once its bindings are checked. */
export interface Region {
  /** The fragment's own parameters (size variables removed): what names the region. */
  readonly params: Readonly<Record<string, number>>;
  /** Everything to lay the fragment out with: the dataset's sizes and the parameters. */
  readonly layoutBindings: Readonly<Record<string, number>>;
}

/**
 * Separates a region's bindings into the fragment's parameters and size
 * variables. A size variable may be bound only to the value the dataset was
 * created with, so two spellings of one region name the same region.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { regionOf } from "./validate.ts";
 * const r = regionOf({ n: 8, r0: 2 }, new Set(["n"]), { n: 8 });
 * assert.deepEqual(r.params, { r0: 2 });
 * assert.deepEqual(r.layoutBindings, { n: 8, r0: 2 });
 * assert.throws(() => regionOf({ n: 9 }, new Set(["n"]), { n: 8 }), { code: "invalid_layout" });
 * ```
 */
export function regionOf(
  bindings: Readonly<Record<string, number>>,
  sizeVars: ReadonlySet<string>,
  sizes: Readonly<Record<string, number>>,
): Region {
  const params: Record<string, number> = {};
  for (const [k, v] of Object.entries(bindings)) {
    if (!sizeVars.has(k)) {
      params[k] = v;
      continue;
    }
    if (sizes[k] !== v) {
      throw new LayoutError(
        `Size variable '${k}' is ${sizes[k] ?? "unbound"} in this dataset, found ${v}`,
      );
    }
  }
  return { params, layoutBindings: { ...sizes, ...params } };
}
