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
import { type CheckedBytes, SharedReads } from "./shared_reads.ts";
import { PIECED_MIN_BYTES, type PieceRead, PieceSums, readPieces } from "./piece_sums.ts";

/** What staged copies need of a node's tiers (reading parts of copies is optional). */
export type StagedTiers =
  & Pick<TierSet, "get" | "delete">
  & Partial<Pick<TierSet, "getRanges" | "readsRanges">>;

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
  /** Reads under way, shared by the readers of the same copy meanwhile. */
  readonly #reads = new SharedReads();
  /** Checksums of the pieces of copies read whole and verified. */
  readonly #sums = new PieceSums();

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
   * one), else the copy under the key. A read of the same copy under way
   * is shared (bytes of a file tier are read once for all its readers):
   * callers must not change the bytes.
   */
  read(key: string, checksum: number): Promise<Uint8Array | undefined> {
    return this.#reads.read(`${checksum}:${key}`, () => this.#read(key, checksum));
  }

  /**
   * Like `read`, with the CRC-32 of the bytes read. Readers asking while a
   * read of the same copy is under way share its bytes and its checksum:
   * they must not change the bytes.
   */
  async readChecked(
    key: string,
    checksum: number,
    options: { readonly pieces?: boolean } = {},
  ): Promise<CheckedBytes | undefined> {
    const id = `${checksum}:${key}`;
    const read = await this.#reads.checked(id, () => this.#read(key, checksum));
    if (
      options.pieces && read !== undefined && read.sum === checksum &&
      read.bytes.byteLength >= PIECED_MIN_BYTES && !this.#sums.has(id) &&
      this.#tiers.readsRanges?.(this.#where(key, checksum)) === true
    ) {
      // After the answer: later reads of parts of this copy read only their pieces.
      this.#sums.build(id, read.bytes).catch(() => {});
    }
    return read;
  }

  /**
   * The pieces of copy `key` that `marks` names (one mark per `PIECE_BYTES`),
   * read from a tier that reads parts of copies and checked against the
   * checksums of the pieces taken when the copy was last read whole
   * (`readChecked` with `pieces`); undefined when those are not known here
   * or the tier reads copies whole: read it whole then.
   */
  async readPieces(
    key: string,
    checksum: number,
    byteLength: number,
    marks: Uint8Array,
  ): Promise<PieceRead | undefined> {
    const table = this.#sums.get(`${checksum}:${key}`);
    const tiers = this.#tiers;
    if (table === undefined || tiers.getRanges === undefined) return undefined;
    return await readPieces(
      { getRanges: tiers.getRanges.bind(tiers) },
      this.#where(key, checksum),
      table,
      byteLength,
      marks,
    );
  }

  /**
   * Keeps the piece checksums of copy `key` whose record names `checksum`,
   * computed from the bytes that checksum was computed from (a publish of a
   * staged file reads it once for both).
   */
  notePieces(key: string, checksum: number, table: Uint32Array): void {
    this.#sums.set(`${checksum}:${key}`, table);
  }

  /** The key holding the bytes of copy `key` that `checksum` names (`read`'s choice). */
  #where(key: string, checksum: number): string {
    const staged = stagedKey(key, checksum);
    return this.#staged.get(key)?.has(staged) ? staged : key;
  }

  async #read(key: string, checksum: number): Promise<Uint8Array | undefined> {
    const staged = stagedKey(key, checksum);
    if (this.#staged.get(key)?.has(staged)) {
      const found = await this.#tiers.get(staged);
      if (found !== undefined) return found.bytes;
    }
    return (await this.#tiers.get(key))?.bytes;
  }
}
