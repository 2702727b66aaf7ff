/**
 * The file tier: copies as files in a local directory, written so that a
 * crash leaves either the old copy or the new one, never a torn file.
 *
 * @module
 */

import { TierFullError } from "../errors.ts";
import type { Tier, TierInfo } from "./tier.ts";

/**
 * A tier of files under `dir`, one file per copy. A write goes to a temporary
 * file, is flushed to disk, then renamed over the final name. Opening an
 * existing directory picks up the copies already there (after a restart).
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
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileTier implements Tier {
  readonly name: string;
  readonly #dir: string;
  readonly #capacity: number;
  readonly #sizes = new Map<string, number>();
  #used = 0;

  private constructor(name: string, dir: string, capacity: number) {
    this.name = name;
    this.#dir = dir;
    this.#capacity = capacity;
  }

  /** Opens (creating if needed) a file tier and indexes the copies it already holds. */
  static async open(name: string, dir: string, capacity: number): Promise<FileTier> {
    await Deno.mkdir(dir, { recursive: true });
    const tier = new FileTier(name, dir, capacity);
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile) continue;
      if (entry.name.endsWith(".tmp")) {
        await Deno.remove(`${dir}/${entry.name}`);
        continue;
      }
      const key = decodeKey(entry.name);
      if (key === undefined) continue;
      const size = (await Deno.stat(`${dir}/${entry.name}`)).size;
      tier.#sizes.set(key, size);
      tier.#used += size;
    }
    return tier;
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const old = this.#sizes.get(key) ?? 0;
    if (this.#used - old + bytes.byteLength > this.#capacity) {
      throw new TierFullError(this.name, {
        capacity: this.#capacity,
        used: this.#used,
        requested: bytes.byteLength,
      });
    }
    // Reserve before the await so concurrent puts cannot overshoot the capacity.
    this.#used += bytes.byteLength - old;
    this.#sizes.set(key, bytes.byteLength);
    const path = this.#path(key);
    const tmp = `${path}.${crypto.randomUUID()}.tmp`;
    try {
      using file = await Deno.open(tmp, { write: true, create: true, truncate: true });
      let at = 0;
      while (at < bytes.byteLength) at += await file.write(bytes.subarray(at));
      await file.syncData();
      await Deno.rename(tmp, path);
    } catch (e) {
      this.#used -= bytes.byteLength - old;
      if (old === 0) this.#sizes.delete(key);
      else this.#sizes.set(key, old);
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
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

  info(): TierInfo {
    return {
      name: this.name,
      kind: "file",
      capacity: this.#capacity,
      used: this.#used,
      count: this.#sizes.size,
      persistent: true,
    };
  }

  #path(key: string): string {
    return `${this.#dir}/${encodeKey(key)}`;
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
