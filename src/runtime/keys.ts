/**
 * Names of fragment copies in tiers.
 *
 * @module
 */

/**
 * The canonical text of a region's bindings: names sorted, `name=value`
 * joined by `,` (empty for a fragment without parameters).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { regionKey } from "./keys.ts";
 * assert.equal(regionKey({ r1: 4, r0: 0 }), "r0=0,r1=4");
 * ```
 */
export function regionKey(bindings: Readonly<Record<string, number>>): string {
  return Object.keys(bindings).sort().map((k) => `${k}=${bindings[k]}`).join(",");
}

/**
 * The tier key of one published fragment copy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { copyKey } from "./keys.ts";
 * assert.equal(copyKey("particles", 3, "block", { r0: 0 }), "particles/3/block/r0=0");
 * ```
 */
export function copyKey(
  dataset: string,
  version: number,
  fragment: string,
  bindings: Readonly<Record<string, number>>,
): string {
  return `${dataset}/${version}/${fragment}/${regionKey(bindings)}`;
}
