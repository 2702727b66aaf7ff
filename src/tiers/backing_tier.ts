/**
 * The backing tier: a persistent directory standing in for the parallel file
 * system, where versions are flushed to outlive every runtime.
 *
 * @module
 */

import { DirectoryTier } from "./directory_tier.ts";

/**
 * A persistent tier of files under `dir`, each write flushed to the device.
 * It is the last tier of a node: nothing spills out of it, and a version
 * flushed to it is found again by a runtime restarted over the same
 * directory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BackingTier } from "./backing_tier.ts";
 * await Deno.mkdir("tmp", { recursive: true });
 * const dir = await Deno.makeTempDir({ dir: "tmp" });
 * const t = await BackingTier.open("backing", dir, 1 << 20);
 * await t.put("particles/1/dataset/", new Uint8Array([1]));
 * const again = await BackingTier.open("backing", dir, 1 << 20);
 * assert.deepEqual(again.info(), {
 *   name: "backing", kind: "backing", capacity: 1 << 20, used: 1, count: 1, persistent: true,
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class BackingTier extends DirectoryTier {
  /** Opens (creating if needed) the backing tier and indexes what it holds. */
  static async open(name: string, dir: string, capacity: number): Promise<BackingTier> {
    const tier = new BackingTier({
      name,
      kind: "backing",
      dir,
      capacity,
      persistent: true,
      sync: true,
    });
    await tier.load();
    return tier;
  }
}
