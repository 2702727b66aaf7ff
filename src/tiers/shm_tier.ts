/**
 * The shm tier: copies as files on a tmpfs (by default under /dev/shm), in
 * memory yet visible to other processes of the node, so a local consumer can
 * read a copy in place.
 *
 * @module
 */

import { InvalidConfigError } from "../errors.ts";
import { DirectoryTier } from "./directory_tier.ts";

/** Where shm tiers live unless declared elsewhere: the kernel's tmpfs for POSIX shared memory. */
export const SHM_ROOT = "/dev/shm";

/**
 * A tier of files on a tmpfs directory. Writes are not flushed (a tmpfs has
 * no device); the copies outlive the runtime process but not the machine, so
 * the tier is volatile unless declared persistent, and a volatile one clears
 * what a previous run left when it opens.
 *
 * Deno grants access under /dev only to programs run with `--allow-all`
 * (denoland/deno#30979), which Strata never is: a tier at the /dev/shm
 * default fails to open with an error saying so, and the tier's `path` can
 * name a directory on another tmpfs mount instead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ShmTier } from "./shm_tier.ts";
 * await Deno.mkdir("tmp", { recursive: true });
 * const dir = await Deno.makeTempDir({ dir: "tmp" });
 * const t = await ShmTier.open("shm", dir, 1 << 20);
 * await t.put("particles/1/viz", new Uint8Array([7, 8]));
 * assert.deepEqual(await Deno.readFile(t.pathOf("particles/1/viz")), new Uint8Array([7, 8]));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class ShmTier extends DirectoryTier {
  /** Opens (creating if needed) an shm tier over a directory on a tmpfs. */
  static async open(
    name: string,
    dir: string,
    capacity: number,
    options: { readonly persistent?: boolean } = {},
  ): Promise<ShmTier> {
    const persistent = options.persistent ?? false;
    const tier = new ShmTier({ name, kind: "shm", dir, capacity, persistent, sync: false });
    try {
      await tier.load();
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable && dir.startsWith("/dev/")) {
        throw new InvalidConfigError(
          `Cannot open shm tier '${name}' at '${dir}': Deno grants access under /dev only with --allow-all, which Strata does not run with; declare the tier's path on another tmpfs mount`,
          { cause: e },
        );
      }
      throw e;
    }
    return tier;
  }
}
