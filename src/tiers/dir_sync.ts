/**
 * Durable renames: a file renamed into a directory is on the device only
 * once the directory is flushed too (its entry is the directory's data).
 * A tier that renames a flushed temporary file over a copy's name flushes
 * the directory before the copy counts, so a record naming the copy never
 * outlives the copy's name after a power loss, even when the registry's KV
 * file lives on another file system (whose flushes commit nothing of this
 * one).
 *
 * @module
 */

/**
 * Flushes one directory for the renames made in it, one flush shared by
 * every rename made before it started: concurrent writers pay for one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DirectorySync } from "./dir_sync.ts";
 * await Deno.mkdir("tmp", { recursive: true });
 * const dir = await Deno.makeTempDir({ dir: "tmp" });
 * const sync = new DirectorySync(dir);
 * await Promise.all(["a", "b", "c"].map(async (name) => {
 *   await Deno.writeTextFile(`${dir}/${name}.tmp`, name);
 *   await Deno.rename(`${dir}/${name}.tmp`, `${dir}/${name}`);
 *   await sync.flush();
 * }));
 * assert.ok(sync.flushes >= 1 && sync.flushes < 3);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class DirectorySync {
  readonly #dir: string;
  /** The flush under way, if any. */
  #current: Promise<void> | undefined;
  /** The flush that starts once the current one is done, shared by whoever asks meanwhile. */
  #next: Promise<void> | undefined;
  /** Flushes made so far. */
  flushes = 0;

  /** Flushes `dir` on request. */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /**
   * Resolves once a flush of the directory that started after this call
   * has completed: every rename made before the call is then durable.
   * Rejects with the file system's error when the flush fails.
   */
  flush(): Promise<void> {
    // A flush under way may have read the directory before this caller's
    // rename: it takes the next one, which every caller until then shares.
    this.#next ??= (async () => {
      await this.#current?.catch(() => {});
      this.#next = undefined;
      this.#current = this.#flushNow();
      await this.#current;
    })();
    return this.#next;
  }

  async #flushNow(): Promise<void> {
    using dir = await Deno.open(this.#dir, { read: true });
    await dir.sync();
    this.flushes++;
  }
}
