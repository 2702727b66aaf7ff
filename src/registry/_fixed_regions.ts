/**
 * The regions copies and lookups name: the region, its layout and its key
 * among a version's copies. A dataset whose sizes are all fixed at creation
 * lays a region out the same way in every version, so its regions are
 * worked out once and kept, for lookups and publishes of the same region in
 * later versions, and copies loaded at start.
 *
 * @module
 */

import { keptLayout } from "./_layout_parts.ts";
import { type DatasetEntry, regionId, type VersionEntry } from "./_state.ts";
import { layoutOf, regionIn } from "./_version_sizes.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { type Region, regionOf } from "./validate.ts";

/** A region a copy or a lookup names, laid out. */
export interface CopyRegion {
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
): CopyRegion {
  const key = regionKey(fragment, bindings);
  const kept = key === undefined ? undefined : d.fixedRegions?.get(key);
  if (kept !== undefined) return kept;
  const region = regionOf(bindings, d.sizeVars, d.record.sizes);
  const found: CopyRegion = {
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
 * The region a copy's bindings name in version `v` of `d` (undefined: not
 * open yet), laid out: kept for every version when the dataset's sizes are
 * fixed at creation (`fixedRegion`), against the version's sizes otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetEntry } from "./_state.ts";
 * import { copyRegion } from "./_fixed_regions.ts";
 * const d = datasetEntry({
 *   name: "p", description: "dataset { var n int64\n var x [n]float64 }\nfragment head { var x = x[0:1] }",
 *   retention: 2, durable: false, overwrite: false, sizes: {}, createdAt: 1,
 * });
 * const { id, layout } = copyRegion(d, undefined, "head", { n: 4 });
 * assert.equal(id, "head/");
 * assert.equal(layout.byteLength, 8);
 * ```
 */
export function copyRegion(
  d: DatasetEntry,
  v: VersionEntry | undefined,
  fragment: string,
  bindings: Readonly<Record<string, number>>,
): CopyRegion {
  if (d.perVersion.size === 0) return fixedRegion(d, fragment, bindings);
  const region = regionIn(d, v, bindings);
  return {
    region,
    layout: keptLayout(fragment, layoutOf(d, v, fragment, region)),
    id: regionId(fragment, region.params),
  };
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
  // One binding (a rank's block) needs no sorted list of names.
  let only: string | undefined;
  let count = 0;
  for (const name in bindings) {
    if (!Object.hasOwn(bindings, name)) continue;
    only = name;
    if (++count > 1) break;
  }
  if (count === 1) {
    const value = bindings[only!];
    return typeof value === "number" ? `${key};${only!.length}:${only}=${value}` : undefined;
  }
  if (count === 0) return key;
  for (const name of Object.keys(bindings).sort()) {
    const value = bindings[name];
    if (typeof value !== "number") return undefined;
    key += `;${name.length}:${name}=${value}`;
  }
  return key;
}
