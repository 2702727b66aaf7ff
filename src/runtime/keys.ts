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

/**
 * The dataset, version, fragment and bindings a copy key names, or
 * undefined for a key `copyKey()` did not make.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { copyKey, parseCopyKey } from "./keys.ts";
 * assert.deepEqual(parseCopyKey(copyKey("particles", 3, "block", { r1: 8, r0: 0 })), {
 *   dataset: "particles", version: 3, fragment: "block", bindings: { r0: 0, r1: 8 },
 * });
 * assert.equal(parseCopyKey("particles/x/block/"), undefined);
 * ```
 */
export function parseCopyKey(key: string): {
  dataset: string;
  version: number;
  fragment: string;
  bindings: Record<string, number>;
} | undefined {
  const parts = key.split("/");
  if (parts.length !== 4) return undefined;
  const [dataset, v, fragment, region] = parts as [string, string, string, string];
  const version = Number(v);
  if (dataset === "" || fragment === "" || !/^[0-9]+$/.test(v)) return undefined;
  const bindings: Record<string, number> = {};
  for (const pair of region === "" ? [] : region.split(",")) {
    const [name, value] = pair.split("=");
    if (name === undefined || name === "" || value === undefined || !/^-?[0-9]+$/.test(value)) {
      return undefined;
    }
    bindings[name] = Number(value);
  }
  return { dataset, version, fragment, bindings };
}
