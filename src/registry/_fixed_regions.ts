/**
 * Regions of datasets whose sizes are all fixed at creation: such a dataset
 * lays a fragment region out the same way in every version, so the region,
 * its layout and its key among a version's copies are worked out once and
 * kept, for lookups and publishes of the same region in later versions.
 *
 * @module
 */

import { keptLayout } from "./_layout_parts.ts";
import { type DatasetEntry, regionId } from "./_state.ts";
import { layoutOf } from "./_version_sizes.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { type Region, regionOf } from "./validate.ts";

/** A region of a dataset with fixed sizes, as every version lays it out. */
export interface FixedRegion {
  /** Its parameters and the bindings its layout takes. */
  readonly region: Region;
  /** Its layout (read-only, shared: `keptLayout`). */
  readonly layout: FragmentLayout;
  /** Its key among a version's copies (`regionId`). */
  readonly id: string;
}

/** Most regions a dataset keeps (`DatasetEntry.fixedRegions`); past them it starts over. */
export const FIXED_REGIONS = 256;

/**
 * The region `bindings` name in `fragment` of `d`, whose sizes must all be
 * fixed at creation (`d.perVersion` empty): checked and laid out the first
 * time, then kept. Bindings that are not all numbers are checked every
 * time (and refused).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetEntry } from "./_state.ts";
 * import { fixedRegion } from "./_fixed_regions.ts";
 * const d = datasetEntry({
 *   name: "g", description: "dataset { var x [8]float64 }\nfragment half(h) { var x = x[h * 4:h * 4 + 4] }",
 *   retention: 2, durable: false, overwrite: false, sizes: {}, createdAt: 1,
 * });
 * const first = fixedRegion(d, "half", { h: 1 });
 * assert.equal(first.id, "half/h=1");
 * assert.equal(first.layout.byteLength, 32);
 * assert.equal(fixedRegion(d, "half", { h: 1 }), first);
 * assert.throws(() => fixedRegion(d, "half", { h: 2 }));
 * ```
 */
export function fixedRegion(
  d: DatasetEntry,
  fragment: string,
  bindings: Readonly<Record<string, number>>,
): FixedRegion {
  const key = regionKey(fragment, bindings);
  const kept = key === undefined ? undefined : d.fixedRegions?.get(key);
  if (kept !== undefined) return kept;
  const region = regionOf(bindings, d.sizeVars, d.record.sizes);
  const found: FixedRegion = {
    region,
    layout: keptLayout(fragment, layoutOf(d, undefined, fragment, region)),
    id: regionId(fragment, region.params),
  };
  if (key === undefined) return found;
  d.fixedRegions ??= new Map();
  if (d.fixedRegions.size >= FIXED_REGIONS) d.fixedRegions.clear();
  d.fixedRegions.set(key, found);
  return found;
}

/**
 * A text naming a fragment and bindings, names length-prefixed so that no
 * two share one; undefined when a binding is not a number.
 */
function regionKey(
  fragment: string,
  bindings: Readonly<Record<string, number>>,
): string | undefined {
  if (typeof bindings !== "object" || bindings === null) return undefined;
  let key = `${fragment.length}:${fragment}`;
  for (const name of Object.keys(bindings).sort()) {
    const value = bindings[name];
    if (typeof value !== "number") return undefined;
    key += `;${name.length}:${name}=${value}`;
  }
  return key;
}
