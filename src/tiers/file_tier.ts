/**
 * The file tier: copies as files in a local directory, flushed to disk.
 *
 * @module
 */

import { DirectoryTier } from "./directory_tier.ts";

/**
 * A tier of files under `dir` on a local disk, one file per copy, each write
 * flushed to the device before it counts. Persistent unless declared
 * otherwise (a scratch disk whose copies are cleared at open).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileTier } from "./file_tier.ts";
 * await Deno.mkdir("tmp", { recursive: true });
 * const dir = await Deno.makeTempDir({ dir: "tmp" });
 * const t = await FileTier.open("file", dir, 1 << 20);
 * await t.put("particles/1/viz", new Uint8Array([7, 8]));
 * const again = await FileTier.open("file", dir, 1 << 20);
 * assert.deepEqual(await again.get("particles/1/viz"), new Uint8Array([7, 8]));
 * assert.equal(again.info().kind, "file");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileTier extends DirectoryTier {
  /** Opens (creating if needed) a file tier and indexes the copies it already holds. */
  static async open(
    name: string,
    dir: string,
    capacity: number,
    options: { readonly persistent?: boolean } = {},
  ): Promise<FileTier> {
    const persistent = options.persistent ?? true;
    const tier = new FileTier({ name, kind: "file", dir, capacity, persistent, sync: true });
    await tier.load();
    return tier;
  }
}
