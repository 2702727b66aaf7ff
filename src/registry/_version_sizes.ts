/**
 * Sizes read per version: a dataset's size variables not given at creation
 * take, in each version, the values its first copies give; regions and
 * layouts of a version are made with them.
 *
 * @module
 */

import { datasetLayout, fragmentLayout } from "../ddl/mod.ts";
import { LayoutError } from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import type { DatasetEntry, VersionEntry } from "./_state.ts";
import { type Region, regionOf } from "./validate.ts";

/**
 * A region of version `v`: a size given at creation may only be repeated
 * (`in this dataset`), as may one the version holds (`in version N`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetEntry, newVersion } from "./_state.ts";
 * import { regionIn } from "./_version_sizes.ts";
 * const d = datasetEntry({
 *   name: "p", description: "dataset { var sz int64\n var a [sz]float32 }", retention: 2,
 *   durable: false, overwrite: false, sizes: {}, createdAt: 1,
 * });
 * const v = newVersion(d, 1);
 * v.sizes = { sz: 3 };
 * assert.deepEqual(regionIn(d, v, { sz: 3 }).layoutBindings, { sz: 3 });
 * assert.throws(() => regionIn(d, v, { sz: 4 }));
 * ```
 */
export function regionIn(
  d: DatasetEntry,
  v: VersionEntry | undefined,
  bindings: Readonly<Record<string, number>>,
): Region {
  const fixed = regionOf(bindings, d.sizeVars, d.record.sizes);
  if (v === undefined || Object.keys(v.sizes).length === 0) return fixed;
  const own = regionOf(fixed.sizes, d.perVersion, v.sizes, {
    where: `version ${v.version} of '${d.record.name}'`,
  });
  return {
    params: fixed.params,
    layoutBindings: { ...fixed.layoutBindings, ...own.layoutBindings },
    sizes: own.sizes,
  };
}

/**
 * The sizes of a version: given at creation, and those its copies gave.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetEntry, newVersion } from "./_state.ts";
 * import { knownSizes } from "./_version_sizes.ts";
 * const d = datasetEntry({
 *   name: "p", description: "dataset { var n int64\n var sz int64\n var a [n, sz]float32 }",
 *   retention: 2, durable: false, overwrite: false, sizes: { n: 2 }, createdAt: 1,
 * });
 * const v = newVersion(d, 1);
 * v.sizes = { sz: 3 };
 * assert.deepEqual(knownSizes(d, v), { n: 2, sz: 3 });
 * assert.deepEqual(knownSizes(d, undefined), { n: 2 });
 * ```
 */
export function knownSizes(d: DatasetEntry, v: VersionEntry | undefined): Record<string, number> {
  return v === undefined ? { ...d.record.sizes } : { ...d.record.sizes, ...v.sizes };
}

/**
 * A version's whole-dataset layout, once every size is known (kept in `v`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetEntry, newVersion } from "./_state.ts";
 * import { wholeOf } from "./_version_sizes.ts";
 * const d = datasetEntry({
 *   name: "p", description: "dataset { var sz int64\n var a [sz]float32 }", retention: 2,
 *   durable: false, overwrite: false, sizes: {}, createdAt: 1,
 * });
 * const v = newVersion(d, 1);
 * assert.equal(wholeOf(d, v), undefined);
 * v.sizes = { sz: 3 };
 * assert.equal(wholeOf(d, v)?.byteLength, 8 + 12);
 * ```
 */
export function wholeOf(d: DatasetEntry, v: VersionEntry): FragmentLayout | undefined {
  if (d.whole !== undefined) return d.whole;
  if (v.whole === undefined && [...d.perVersion].every((k) => v.sizes[k] !== undefined)) {
    v.whole = datasetLayout(d.ds, knownSizes(d, v));
  }
  return v.whole;
}

/**
 * After a registration failed: the sizes the stored record and the
 * remaining copies give (the whole layout and coverage are made again).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetEntry, newVersion } from "./_state.ts";
 * import { restoreSizes } from "./_version_sizes.ts";
 * const d = datasetEntry({
 *   name: "p", description: "dataset { var sz int64\n var a [sz]float32 }", retention: 2,
 *   durable: false, overwrite: false, sizes: {}, createdAt: 1,
 * });
 * const v = newVersion(d, 1);
 * v.sizes = { sz: 3 }; // given by a copy whose write failed
 * restoreSizes(d, v);
 * assert.deepEqual(v.sizes, {});
 * ```
 */
export function restoreSizes(d: DatasetEntry, v: VersionEntry): void {
  const sizes: Record<string, number> = { ...v.storedSizes };
  // Without sizes per version no copy gives one: a failure in a version of
  // a million copies does not look at each of them.
  if (d.perVersion.size > 0) {
    for (const h of v.held.values()) {
      for (const k of d.perVersion) {
        const n = h.record.bindings[k];
        if (n !== undefined) sizes[k] = n;
      }
    }
  }
  // The same sizes keep the whole layout, and the coverage of the durable
  // copies (a copy whose registration failed was never in it).
  if (sameSizes(sizes, v.sizes)) return;
  v.sizes = sizes;
  v.whole = undefined;
  v.coverage = undefined;
  v.admitted = undefined;
}

/**
 * The layout of a region, of version `v` when given (its sizes are in
 * `region`); `dataset` is the whole dataset.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetEntry } from "./_state.ts";
 * import { layoutOf } from "./_version_sizes.ts";
 * import { regionOf } from "./validate.ts";
 * const d = datasetEntry({
 *   name: "t", description: "dataset { var x [4]float64 }", retention: 2, durable: false,
 *   overwrite: false, sizes: {}, createdAt: 1,
 * });
 * const region = regionOf({}, d.sizeVars, d.record.sizes);
 * assert.equal(layoutOf(d, undefined, "dataset", region).byteLength, 32);
 * ```
 */
export function layoutOf(
  d: DatasetEntry,
  v: VersionEntry | undefined,
  fragment: string,
  region: Region,
): FragmentLayout {
  if (fragment !== "dataset") return fragmentLayout(d.ds, fragment, region.layoutBindings);
  const extra = Object.keys(region.params);
  if (extra.length > 0) {
    throw new LayoutError(
      `Fragment 'dataset' (the whole dataset) takes no parameters: found ${extra.join(", ")}`,
    );
  }
  const kept = d.whole ??
    (v !== undefined && Object.keys(region.sizes).length === 0 ? wholeOf(d, v) : undefined);
  return kept ?? datasetLayout(d.ds, region.layoutBindings);
}

function sameSizes(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>) {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => a[k] === b[k]);
}
