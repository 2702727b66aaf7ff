/**
 * The registry's KV keys, one builder per key prefix (docs/registry.md lists
 * each with its value). Keys are plain arrays, so they are built and compared
 * without a KV store.
 *
 * @module
 */

/** A KV key as the registry builds it (assignable to `Deno.KvKey`). */
export type RegistryKey = readonly (string | number)[];

/**
 * Builders of every registry key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KEYS } from "./keys.ts";
 * assert.deepEqual(KEYS.fragment("p", 3, "viz", "r0=0"), ["fragments", "p", 3, "viz", "r0=0"]);
 * assert.deepEqual(KEYS.fragments("p", 3), ["fragments", "p", 3]);
 * assert.deepEqual(KEYS.latest("p"), ["latest", "p"]);
 * ```
 */
export const KEYS = {
  /** A dataset's record. */
  dataset: (name: string): RegistryKey => ["datasets", name],
  /** Prefix of every dataset record. */
  datasets: (): RegistryKey => ["datasets"],
  /** A pack: the records of datasets created together. */
  datasetPack: (id: number): RegistryKey => ["dataset_packs", id],
  /** Prefix of every dataset pack. */
  datasetPacks: (): RegistryKey => ["dataset_packs"],
  /** One version's record. */
  version: (name: string, v: number): RegistryKey => ["versions", name, v],
  /** Prefix of a dataset's version records (or of all with no name). */
  versions: (name?: string): RegistryKey => name === undefined ? ["versions"] : ["versions", name],
  /** A dataset's newest committed version number. */
  latest: (name: string): RegistryKey => ["latest", name],
  /** Prefix of every latest pointer. */
  latests: (): RegistryKey => ["latest"],
  /** One published fragment copy. */
  fragment: (name: string, v: number, fragment: string, region: string): RegistryKey => [
    "fragments",
    name,
    v,
    fragment,
    region,
  ],
  /** Prefix of the fragment copies of a dataset, or of one of its versions. */
  fragments: (name?: string, v?: number): RegistryKey =>
    name === undefined ? ["fragments"] : v === undefined ? ["fragments", name] : [
      "fragments",
      name,
      v,
    ],
  /** A pack: the records of copies of one version registered together. */
  pack: (name: string, v: number, id: number): RegistryKey => ["packs", name, v, id],
  /** Prefix of the packs of a dataset (or of all with no name). */
  packs: (name?: string): RegistryKey => name === undefined ? ["packs"] : ["packs", name],
  /** A node's record (it expires with the node's lease). */
  node: (id: string): RegistryKey => ["nodes", id],
  /** Prefix of every node record. */
  nodes: (): RegistryKey => ["nodes"],
} as const;

/**
 * The canonical text of a region's bindings: names sorted, `name=value`
 * joined by `,` (empty for a fragment without parameters). The same text as
 * the runtime's copy keys use.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { regionText } from "./keys.ts";
 * assert.equal(regionText({ r1: 4, r0: 0 }), "r0=0,r1=4");
 * assert.equal(regionText({}), "");
 * ```
 */
export function regionText(bindings: Readonly<Record<string, number>>): string {
  return Object.keys(bindings).sort().map((k) => `${k}=${bindings[k]}`).join(",");
}
