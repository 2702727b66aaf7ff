/**
 * Staged copies: the new bytes of an overwrite wait under a staged key
 * (`stagedKey`) beside the copy until the registry's record names them, so
 * that the bytes a record names are on a tier at every moment, and after a
 * crash at any point.
 *
 * @module
 */

import type { TierSet } from "../tiers/tier_set.ts";
import { parseStagedKey, stagedKey } from "../tiers/copy_keys.ts";

/** What staged copies need of a node's tiers. */
export type StagedTiers = Pick<TierSet, "get" | "delete">;

/**
 * The staged copies a node's tiers hold, by the copy key they stand beside.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StagedCopies } from "./staged_copies.ts";
 * import { stagedKey } from "../tiers/copy_keys.ts";
 * const held = new Map<string, Uint8Array>([
 *   ["particles/1/xyz", new Uint8Array([1])],
 *   [stagedKey("particles/1/xyz", 7), new Uint8Array([2])],
 * ]);
 * const tiers = {
 *   get: (key: string) =>
 *     Promise.resolve(held.has(key) ? { bytes: held.get(key)!, tier: "memory" } : undefined),
 *   delete: (key: string) => Promise.resolve(void held.delete(key)),
 * };
 * const staged = new StagedCopies(tiers);
 * staged.note(stagedKey("particles/1/xyz", 7));
 * assert.deepEqual(await staged.read("particles/1/xyz", 7), new Uint8Array([2]));
 * assert.deepEqual(await staged.read("particles/1/xyz", 8), new Uint8Array([1]));
 * await staged.deleteWith("particles/1/xyz");
 * assert.equal(held.size, 0);
 * ```
 */
export class StagedCopies {
  readonly #tiers: StagedTiers;
  /** Staged keys by the copy key they stand beside. */
  readonly #staged = new Map<string, Set<string>>();

  /** Creates an empty index over `tiers`. */
  constructor(tiers: StagedTiers) {
    this.#tiers = tiers;
  }

  /** Indexes `key` when it is a staged copy's. */
  note(key: string): void {
    const parsed = parseStagedKey(key);
    if (parsed === undefined) return;
    let set = this.#staged.get(parsed.key);
    if (set === undefined) this.#staged.set(parsed.key, set = new Set());
    set.add(key);
  }

  /** Drops staged `key` from the index (its bytes were removed). */
  forget(key: string): void {
    const parsed = parseStagedKey(key);
    const set = parsed === undefined ? undefined : this.#staged.get(parsed.key);
    set?.delete(key);
    if (set?.size === 0) this.#staged.delete(parsed!.key);
  }

  /** The staged keys beside copy `key`. */
  beside(key: string): Iterable<string> {
    return this.#staged.get(key) ?? [];
  }

  /** Removes the staged copies beside copy `key` from every tier. */
  async deleteBeside(key: string): Promise<void> {
    for (const staged of this.beside(key)) await this.#tiers.delete(staged);
    this.#staged.delete(key);
  }

  /** Removes copy `key` from every tier, with the staged copies beside it. */
  async deleteWith(key: string): Promise<void> {
    await this.#tiers.delete(key);
    await this.deleteBeside(key);
  }

  /**
   * The bytes of copy `key` whose record names `checksum`: the staged copy
   * of those bytes while an overwrite is under way (or a crash interrupted
   * one), else the copy under the key.
   */
  async read(key: string, checksum: number): Promise<Uint8Array | undefined> {
    const staged = stagedKey(key, checksum);
    if (this.#staged.get(key)?.has(staged)) {
      const found = await this.#tiers.get(staged);
      if (found !== undefined) return found.bytes;
    }
    return (await this.#tiers.get(key))?.bytes;
  }
}
