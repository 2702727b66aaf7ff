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
 * import { regionKey } from "./copy_keys.ts";
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
 * import { copyKey } from "./copy_keys.ts";
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
 * import { copyKey, parseCopyKey } from "./copy_keys.ts";
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

/** Separates a copy key from the checksum of a staged copy's bytes. */
const STAGED = "#";

/**
 * The tier key of a staged copy: the bytes of an overwrite of `key` whose
 * CRC-32 is `checksum`, held beside the bytes they replace until the name
 * server's record names them and they are moved under `key`. A reader whose
 * record names `checksum` finds the right bytes here after any crash.
 * `parseCopyKey()` does not read it as a copy key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCopyKey, stagedKey } from "./copy_keys.ts";
 * assert.equal(stagedKey("particles/3/block/r0=0", 0xbeef), "particles/3/block/r0=0#0000beef");
 * assert.equal(parseCopyKey(stagedKey("particles/3/block/r0=0", 0xbeef)), undefined);
 * ```
 */
export function stagedKey(key: string, checksum: number): string {
  return `${key}${STAGED}${(checksum >>> 0).toString(16).padStart(8, "0")}`;
}

/**
 * The copy key and checksum a staged key names, or undefined for any other
 * key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseStagedKey, stagedKey } from "./copy_keys.ts";
 * assert.deepEqual(parseStagedKey(stagedKey("d/1/dataset/", 7)), { key: "d/1/dataset/", checksum: 7 });
 * assert.equal(parseStagedKey("d/1/dataset/"), undefined);
 * ```
 */
export function parseStagedKey(key: string): { key: string; checksum: number } | undefined {
  const at = key.lastIndexOf(STAGED);
  if (at < 0 || !/^[0-9a-f]{8}$/.test(key.slice(at + 1))) return undefined;
  return { key: key.slice(0, at), checksum: parseInt(key.slice(at + 1), 16) };
}

/**
 * The tier key of a service's blob (`svc~<service>~<id>`): not a fragment
 * copy key, so reconcile and move records pass it by. Over the data plane a
 * blob is asked for as the copy of dataset `~<service>`, fragment `<id>`
 * (`blobKeyOfCopy`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blobKey, parseCopyKey } from "./copy_keys.ts";
 * assert.equal(blobKey("hepnos", "b1"), "svc~hepnos~b1");
 * assert.equal(parseCopyKey(blobKey("hepnos", "b1")), undefined);
 * ```
 */
export function blobKey(service: string, id: string): string {
  return `svc~${service}~${id}`;
}

/**
 * The tier key of the blob a data plane request names (dataset
 * `~<service>`, fragment `<id>`), or undefined for a fragment copy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blobKeyOfCopy } from "./copy_keys.ts";
 * assert.equal(blobKeyOfCopy("~hepnos", "b1"), "svc~hepnos~b1");
 * assert.equal(blobKeyOfCopy("particles", "dataset"), undefined);
 * ```
 */
export function blobKeyOfCopy(dataset: string, fragment: string): string | undefined {
  return dataset.startsWith("~") ? blobKey(dataset.slice(1), fragment) : undefined;
}
