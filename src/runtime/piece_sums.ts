/**
 * Checksums of the pieces of copies a runtime has read whole and verified,
 * so that a later read needing part of a copy on a file-backed tier reads
 * and checks only the pieces it needs. A copy's record names the CRC-32 of
 * the whole copy; the piece checksums are computed here from bytes that
 * matched it, so a piece that matches its checksum holds the bytes the
 * record names.
 *
 * @module
 */

import { crc32 } from "node:zlib";
import { CHECKSUM_PIECE_BYTES, nextTurn, pieceChecksums } from "./checksum.ts";

/** Bytes per checked piece: a 2-D block of a band of 8 KiB rows still skips most of each row. */
export const PIECE_BYTES = 16 * 1024;

/** Copies smaller than this are read whole: a table would save little. */
export const PIECED_MIN_BYTES = 1 << 20;

/** Table bytes kept by default: 16 MiB of tables covers 64 GiB of copies. */
const DEFAULT_LIMIT = 16 << 20;

/**
 * Piece checksum tables by copy (its key and whole checksum), the least
 * recently used dropped past a byte limit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PIECE_BYTES, PieceSums } from "./piece_sums.ts";
 * const sums = new PieceSums();
 * const bytes = new Uint8Array(3 * PIECE_BYTES).map((_, i) => i);
 * await sums.build("7:particles/1/x", bytes);
 * const table = sums.get("7:particles/1/x")!;
 * const read = new Uint8Array(bytes.byteLength);
 * read.set(bytes.subarray(PIECE_BYTES, 2 * PIECE_BYTES), PIECE_BYTES);
 * assert.equal(await PieceSums.firstBad(table, read, [[PIECE_BYTES, PIECE_BYTES]]), -1);
 * read[PIECE_BYTES + 5]! ^= 1;
 * assert.equal(await PieceSums.firstBad(table, read, [[PIECE_BYTES, PIECE_BYTES]]), 1);
 * ```
 */
export class PieceSums {
  readonly #tables = new Map<string, Uint32Array>();
  readonly #building = new Set<string>();
  readonly #limit: number;
  #bytes = 0;

  /** Keeps at most `limitBytes` of tables (default 16 MiB). */
  constructor(limitBytes = DEFAULT_LIMIT) {
    this.#limit = limitBytes;
  }

  /** Bytes of tables held. */
  get byteLength(): number {
    return this.#bytes;
  }

  /** The table of copy `id`, marked as recently used, or undefined. */
  get(id: string): Uint32Array | undefined {
    const table = this.#tables.get(id);
    if (table !== undefined) {
      this.#tables.delete(id);
      this.#tables.set(id, table);
    }
    return table;
  }

  /** Whether a table of `id` is held or being built. */
  has(id: string): boolean {
    return this.#tables.has(id) || this.#building.has(id);
  }

  /**
   * Computes and keeps the table of copy `id` from `bytes`, which the caller
   * has checked against the copy's recorded checksum and does not change
   * meanwhile.
   */
  async build(id: string, bytes: Uint8Array): Promise<void> {
    if (this.has(id)) return;
    this.#building.add(id);
    try {
      this.set(id, await pieceChecksums(bytes, PIECE_BYTES));
    } finally {
      this.#building.delete(id);
    }
  }

  /**
   * Keeps `table` (one CRC-32 per `PIECE_BYTES`) as copy `id`'s, computed by
   * the caller from the bytes its record's checksum was computed from (a
   * publish reading a staged file), dropping the least recently used past
   * the limit.
   */
  set(id: string, table: Uint32Array): void {
    if (table.byteLength > this.#limit) return;
    this.forget(id);
    this.#tables.set(id, table);
    this.#bytes += table.byteLength;
    for (const [old, t] of this.#tables) {
      if (this.#bytes <= this.#limit) break;
      this.#tables.delete(old);
      this.#bytes -= t.byteLength;
    }
  }

  /** Drops the table of `id` (its copy was found spoiled). */
  forget(id: string): void {
    const table = this.#tables.get(id);
    if (table === undefined) return;
    this.#tables.delete(id);
    this.#bytes -= table.byteLength;
  }

  /**
   * The first piece of `runs` (byte runs starting on piece boundaries) whose
   * bytes in `bytes` do not match `table`, or -1 when all match; the event
   * loop gets a turn after each `CHECKSUM_PIECE_BYTES` checked.
   */
  static async firstBad(
    table: Uint32Array,
    bytes: Uint8Array,
    runs: readonly (readonly [number, number])[],
  ): Promise<number> {
    let done = 0;
    for (const [offset, length] of runs) {
      for (let at = offset; at < offset + length; at += PIECE_BYTES) {
        if (done >= CHECKSUM_PIECE_BYTES) {
          done = 0;
          await nextTurn();
        }
        const p = at / PIECE_BYTES;
        const end = Math.min(at + PIECE_BYTES, bytes.byteLength);
        if (crc32(bytes.subarray(at, end)) !== table[p]) return p;
        done += end - at;
      }
    }
    return -1;
  }
}
