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
import type { TierSet } from "../tiers/tier_set.ts";
import { pieceRuns } from "../transform/touched.ts";
import { CHECKSUM_PIECE_BYTES, nextTurn, pieceChecksums } from "./checksum.ts";

/** Bytes per checked piece: a 2-D block of a band of 8 KiB rows still skips most of each row. */
export const PIECE_BYTES = 16 * 1024;

/** Copies smaller than this are read whole: a table would save little. */
export const PIECED_MIN_BYTES = 1 << 20;

/**
 * What is wrong with piece `index` that did not match its checksum, for
 * the error that reports it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { badPiece } from "./piece_sums.ts";
 * assert.equal(badPiece(1), "bytes 16384-32767 do not match the checksum of their piece");
 * ```
 */
export function badPiece(index: number): string {
  const at = index * PIECE_BYTES;
  return `bytes ${at}-${at + PIECE_BYTES - 1} do not match the checksum of their piece`;
}

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
   * The first piece of `runs` (byte runs starting on piece boundaries, the
   * last one ending at the copy's end or a piece boundary) whose bytes in
   * `bytes` (byte `base` of the copy at index 0) do not match `table`, or -1
   * when all match; the event loop gets a turn after each
   * `CHECKSUM_PIECE_BYTES` checked.
   */
  static async firstBad(
    table: Uint32Array,
    bytes: Uint8Array,
    runs: readonly (readonly [number, number])[],
    base = 0,
  ): Promise<number> {
    let done = 0;
    for (const [offset, length] of runs) {
      for (let at = offset; at < offset + length; at += PIECE_BYTES) {
        if (done >= CHECKSUM_PIECE_BYTES) {
          done = 0;
          await nextTurn();
        }
        const p = at / PIECE_BYTES;
        const end = Math.min(at + PIECE_BYTES, offset + length);
        if (crc32(bytes.subarray(at - base, end - base)) !== table[p]) return p;
        done += end - at;
      }
    }
    return -1;
  }
}

/** Pieces of a copy read and checked (`readPieces`). */
export interface PieceRead {
  /** A buffer of the copy's size holding the pieces read; its other bytes are zero. */
  readonly bytes: Uint8Array;
  /** The first piece that did not match its checksum, when one did not. */
  readonly bad?: number;
}

/**
 * Bytes `readPieces` reads synchronously between two turns of the event
 * loop (a synchronous read of a MiB from a tmpfs takes about 0.1-0.3 ms).
 */
const READ_BYTES_PER_TURN = 1 << 20;

/**
 * Reads the pieces of `key` that `marks` names (one mark per `PIECE_BYTES`)
 * from the fastest tier of `tiers` holding it, about a MiB at a time with
 * the event loop turning between, and checks each against `table`; undefined
 * when that tier reads copies whole (read it whole then). The bytes land in
 * a fresh buffer of the copy's `byteLength` (the pages never touched cost
 * nothing) at their offsets, or, with `window` (a byte span of the copy
 * holding every marked piece), in a buffer of that span alone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KIND_DEFAULTS, TierSet } from "../tiers/mod.ts";
 * import { FileTier } from "../tiers/file_tier.ts";
 * import { pieceChecksums } from "./checksum.ts";
 * import { PIECE_BYTES, readPieces } from "./piece_sums.ts";
 * await Deno.mkdir("tmp", { recursive: true });
 * const dir = await Deno.makeTempDir({ dir: "tmp" });
 * const spec = { name: "file", kind: "file", capacity: 1 << 24, ...KIND_DEFAULTS.file } as const;
 * const tier = await FileTier.open("file", dir, 1 << 24);
 * const tiers = new TierSet({ node: "n", tiers: [{ tier, spec }] });
 * const bytes = new Uint8Array(4 * PIECE_BYTES).map((_, i) => i);
 * const placed = { dataset: "d", version: 1, fragment: "f", bindings: {}, byteLength: bytes.byteLength, durable: false, consumers: [] };
 * await tiers.store("k", bytes, placed);
 * const table = await pieceChecksums(bytes, PIECE_BYTES);
 * const third = bytes.subarray(2 * PIECE_BYTES, 3 * PIECE_BYTES);
 * const read = await readPieces(tiers, "k", table, bytes.byteLength, new Uint8Array([0, 0, 1, 0]));
 * assert.deepEqual(read!.bytes.subarray(2 * PIECE_BYTES, 3 * PIECE_BYTES), third);
 * const window = { from: 2 * PIECE_BYTES, to: 3 * PIECE_BYTES };
 * const alone = await readPieces(tiers, "k", table, bytes.byteLength, new Uint8Array([0, 0, 1, 0]), window);
 * assert.deepEqual(alone!.bytes, third);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readPieces(
  tiers: Pick<TierSet, "getRanges">,
  key: string,
  table: Uint32Array,
  byteLength: number,
  marks: Uint8Array,
  window?: { readonly from: number; readonly to: number },
): Promise<PieceRead | undefined> {
  if (table.length !== marks.length) return undefined;
  const runs = pieceRuns(marks, PIECE_BYTES, byteLength);
  const base = window?.from ?? 0;
  const bytes = new Uint8Array((window?.to ?? byteLength) - base);
  for (let i = 0, first = true; i < runs.length; first = false) {
    let j = i;
    for (let n = 0; j < runs.length && n < READ_BYTES_PER_TURN; j++) n += runs[j]![1];
    if (!first) await nextTurn();
    if (!await tiers.getRanges(key, runs.slice(i, j), bytes, base)) return undefined;
    i = j;
  }
  const bad = await PieceSums.firstBad(table, bytes, runs, base);
  return bad < 0 ? { bytes } : { bytes, bad };
}

/**
 * The marks of the pieces holding bytes `offset` to `end` (exclusive) of a
 * copy of `byteLength` bytes, and how many they are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PIECE_BYTES, rangeMarks } from "./piece_sums.ts";
 * const { marks, count } = rangeMarks(4 * PIECE_BYTES, PIECE_BYTES + 1, 2 * PIECE_BYTES + 1);
 * assert.deepEqual([...marks], [0, 1, 1, 0]);
 * assert.equal(count, 2);
 * ```
 */
export function rangeMarks(
  byteLength: number,
  offset: number,
  end: number,
): { marks: Uint8Array; count: number } {
  const marks = new Uint8Array(Math.ceil(byteLength / PIECE_BYTES));
  if (end <= offset) return { marks, count: 0 };
  const first = Math.floor(offset / PIECE_BYTES);
  const last = Math.floor((end - 1) / PIECE_BYTES);
  marks.fill(1, first, last + 1);
  return { marks, count: last - first + 1 };
}
