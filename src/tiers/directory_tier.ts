/**
 * Tiers of files in a directory (the shm, file and backing kinds share this
 * store), written so that a crash leaves either the old copy or the new one,
 * never a torn file.
 *
 * @module
 */

import { SizeMismatchError, TierFullError } from "../errors.ts";
import { DirectorySync } from "./dir_sync.ts";
import type { StagedFile, Tier, TierEntry, TierInfo, TierKind } from "./tier.ts";

/** How a directory tier stores its copies. */
export interface DirectoryTierOptions {
  /** Name from config. */
  readonly name: string;
  /** Kind reported by `info()`. */
  readonly kind: Exclude<TierKind, "memory">;
  /** The directory (created if needed). */
  readonly dir: string;
  /** Capacity in bytes. */
  readonly capacity: number;
  /**
   * Whether copies found at open are kept. A tier declared volatile removes
   * them instead: the runtime does not count on them after a restart, so
   * neither may the bytes linger unaccounted.
   */
  readonly persistent: boolean;
  /**
   * Whether each write is flushed to the device before it counts, the
   * directory entry its rename made too (not for tmpfs).
   */
  readonly sync: boolean;
}

/**
 * A tier of files under one directory, one file per copy. A write goes to a
 * temporary file (flushed to the device when `sync`), then is renamed over
 * the final name. Opening a persistent directory picks up the copies already
 * there (after a restart).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DirectoryTier } from "./directory_tier.ts";
 * await Deno.mkdir("tmp", { recursive: true });
 * const dir = await Deno.makeTempDir({ dir: "tmp" });
 * const options = { name: "disk", kind: "file", dir, capacity: 1 << 20, persistent: true, sync: true } as const;
 * const t = await DirectoryTier.openDirectory(options);
 * await t.put("particles/1/viz", new Uint8Array([7, 8]));
 * const again = await DirectoryTier.openDirectory(options);
 * assert.deepEqual(await again.get("particles/1/viz"), new Uint8Array([7, 8]));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class DirectoryTier implements Tier {
  readonly name: string;
  readonly #options: DirectoryTierOptions;
  readonly #sizes = new Map<string, number>();
  /** Bytes reserved for staged files, by staging id (`reserveStaging`). */
  readonly #staged = new Map<string, number>();
  /** Flushes the directory after renames, when writes are flushed (`sync`). */
  readonly #dirSync: DirectorySync | undefined;
  #used = 0;

  /** Creates the tier without touching the directory; `open()` also indexes it. */
  protected constructor(options: DirectoryTierOptions) {
    this.name = options.name;
    this.#options = options;
    this.#dirSync = options.sync ? new DirectorySync(options.dir) : undefined;
  }

  /** Opens (creating if needed) a directory tier and indexes, or clears, what it holds. */
  static async openDirectory(options: DirectoryTierOptions): Promise<DirectoryTier> {
    const tier = new DirectoryTier(options);
    await tier.load();
    return tier;
  }

  /** Creates the directory, removes torn writes, and indexes (or removes) the copies there. */
  protected async load(): Promise<void> {
    const dir = this.#options.dir;
    await Deno.mkdir(dir, { recursive: true });
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile) continue;
      const path = `${dir}/${entry.name}`;
      if (entry.name.endsWith(".tmp")) {
        await Deno.remove(path);
        continue;
      }
      const key = decodeKey(entry.name);
      if (key === undefined) continue;
      if (!this.#options.persistent) {
        await Deno.remove(path);
        continue;
      }
      const size = (await Deno.stat(path)).size;
      this.#sizes.set(key, size);
      this.#used += size;
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    await this.#written(key, bytes.byteLength, async (tmp) => {
      using file = await Deno.open(tmp, { write: true, create: true, truncate: true });
      let at = 0;
      while (at < bytes.byteLength) at += await file.write(bytes.subarray(at));
      if (this.#options.sync) await file.syncData();
    });
  }

  /**
   * Stores the copy a file holds: renamed into place with `move` (on the
   * same file system; else copied), else copied by the kernel (no byte
   * passes through this process) and flushed like a `put`. A file not of
   * `file.byteLength` bytes is a `SizeMismatchError`, and nothing is kept.
   */
  async putFile(key: string, file: StagedFile, options: { readonly move: boolean }): Promise<void> {
    await this.#written(key, file.byteLength, async (tmp) => {
      if (options.move) {
        try {
          await Deno.rename(file.path, tmp);
        } catch (e) {
          // Another file system (EXDEV): copied instead, the file left where it is.
          if (e instanceof Deno.errors.NotFound) throw e;
          await Deno.copyFile(file.path, tmp);
        }
      } else await Deno.copyFile(file.path, tmp);
      const size = (await Deno.stat(tmp)).size;
      if (size !== file.byteLength) {
        throw new SizeMismatchError(key, file.byteLength, size, {
          message:
            `Cannot store '${key}' from '${file.path}': expected ${file.byteLength} bytes, the file holds ${size}`,
        });
      }
      if (this.#options.sync) {
        using f = await Deno.open(tmp, { write: true });
        await f.syncData();
      }
    });
  }

  /**
   * Reserves `byteLength` bytes for `key`, has `write` fill a temporary
   * file, and renames it over the key's file; on failure nothing is kept.
   */
  async #written(
    key: string,
    byteLength: number,
    write: (tmp: string) => Promise<void>,
  ): Promise<void> {
    const old = this.#sizes.get(key) ?? 0;
    if (this.#used - old + byteLength > this.#options.capacity) {
      throw new TierFullError(this.name, {
        capacity: this.#options.capacity,
        used: this.#used,
        requested: byteLength,
      });
    }
    // Reserve before the await so concurrent puts cannot overshoot the capacity.
    this.#used += byteLength - old;
    this.#sizes.set(key, byteLength);
    const path = this.#path(key);
    const tmp = `${path}.${crypto.randomUUID()}.tmp`;
    try {
      await write(tmp);
      await Deno.rename(tmp, path);
    } catch (e) {
      this.#used -= byteLength - old;
      if (old === 0) this.#sizes.delete(key);
      else this.#sizes.set(key, old);
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
    // The new name is durable once the directory is (one flush for the
    // renames of concurrent writes): only then may a record name the copy.
    try {
      await this.#dirSync?.flush();
    } catch (e) {
      // Not durable: a new copy is taken back; a replaced one keeps the new bytes.
      if (old === 0) {
        this.#used -= byteLength;
        this.#sizes.delete(key);
        await Deno.remove(path).catch(() => {});
      }
      throw e;
    }
  }

  /** Directory flushes made so far for renames (0 unless `sync`). */
  get directoryFlushes(): number {
    return this.#dirSync?.flushes ?? 0;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    if (!this.#sizes.has(key)) return undefined;
    try {
      return await Deno.readFile(this.#path(key));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  async getRanges(
    key: string,
    runs: readonly (readonly [number, number])[],
    into: Uint8Array,
    base = 0,
  ): Promise<boolean> {
    if (!this.#sizes.has(key)) return false;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.#path(key));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
    try {
      // Synchronous: each asynchronous seek or read is a hop to a thread and
      // back (about 50 µs), which cost more than the reads of 16 KiB runs
      // themselves; callers pass runs of about a MiB at a time.
      for (const [offset, length] of runs) {
        file.seekSync(offset, Deno.SeekMode.Start);
        // A short file leaves the rest of the run as it was: its checksums say so.
        const to = offset - base + length;
        if (offset < base || to > into.byteLength) {
          throw new RangeError(
            `Bytes ${offset}-${
              offset + length - 1
            } of '${key}' do not fit a buffer of ${into.byteLength} bytes from byte ${base}`,
          );
        }
        for (let at = offset - base; at < to;) {
          const n = file.readSync(into.subarray(at, to));
          if (n === null || n === 0) break;
          at += n;
        }
      }
      return true;
    } finally {
      file.close();
    }
  }

  async delete(key: string): Promise<boolean> {
    const size = this.#sizes.get(key);
    if (size === undefined) return false;
    this.#sizes.delete(key);
    this.#used -= size;
    await Deno.remove(this.#path(key)).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    return true;
  }

  has(key: string): Promise<boolean> {
    return Promise.resolve(this.#sizes.has(key));
  }

  list(): TierEntry[] {
    return [...this.#sizes].map(([key, byteLength]) => ({ key, byteLength }));
  }

  info(): TierInfo {
    return {
      name: this.name,
      kind: this.#options.kind,
      capacity: this.#options.capacity,
      used: this.#used,
      count: this.#sizes.size,
      persistent: this.#options.persistent,
    };
  }

  /** The file holding a key's copy, for tools that read it in place. */
  pathOf(key: string): string {
    return this.#path(key);
  }

  /**
   * A file of this tier's directory that is never a copy: a writer of the
   * node fills it before a publish reads it (`POST .../stage`). Its name
   * ends in `.tmp`, so opening the tier removes what a stopped runtime left.
   */
  stagingPathOf(id: string): string {
    if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) {
      throw new RangeError(`Invalid staging id '${id.slice(0, 64)}': expected [A-Za-z0-9-]`);
    }
    return `${this.#options.dir}/${id}.stage.tmp`;
  }

  /**
   * Reserves `byteLength` bytes of this tier's capacity for a staged file
   * (`stagingPathOf(id)`) and returns its path: a writer outside the
   * process fills it, and until `releaseStaging(id)` it counts as used, so
   * staged files cannot together fill the tier past its capacity (a
   * `TierFullError` when it has no room left).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ShmTier } from "./shm_tier.ts";
   * await Deno.mkdir("tmp", { recursive: true });
   * const dir = await Deno.makeTempDir({ dir: "tmp" });
   * const shm = await ShmTier.open("shm", dir, 100);
   * assert.equal(shm.reserveStaging("s1", 60), shm.stagingPathOf("s1"));
   * assert.throws(() => shm.reserveStaging("s2", 60));
   * shm.releaseStaging("s1");
   * assert.equal(shm.info().used, 0);
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  reserveStaging(id: string, byteLength: number): string {
    const path = this.stagingPathOf(id);
    if (this.#staged.has(id)) throw new RangeError(`Staging id '${id}' is already reserved`);
    if (this.#used + byteLength > this.#options.capacity) {
      throw new TierFullError(this.name, {
        capacity: this.#options.capacity,
        used: this.#used,
        requested: byteLength,
      });
    }
    this.#used += byteLength;
    this.#staged.set(id, byteLength);
    return path;
  }

  /** Gives back the bytes `reserveStaging(id)` took; nothing when it holds none. */
  releaseStaging(id: string): void {
    const bytes = this.#staged.get(id);
    if (bytes === undefined) return;
    this.#staged.delete(id);
    this.#used -= bytes;
  }

  #path(key: string): string {
    return `${this.#options.dir}/${encodeKey(key)}`;
  }
}

/** Keys become file names: every byte outside [A-Za-z0-9_.-] is written as ~XX. */
function encodeKey(key: string): string {
  let out = "";
  for (const b of new TextEncoder().encode(key)) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9_.-]/.test(c) ? c : "~" + b.toString(16).padStart(2, "0");
  }
  return out + ".bin";
}

function decodeKey(name: string): string | undefined {
  if (!name.endsWith(".bin")) return undefined;
  const body = name.slice(0, -4);
  const bytes: number[] = [];
  for (let i = 0; i < body.length; i++) {
    if (body[i] === "~") {
      const b = parseInt(body.slice(i + 1, i + 3), 16);
      if (Number.isNaN(b)) return undefined;
      bytes.push(b);
      i += 2;
    } else bytes.push(body.charCodeAt(i));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}
