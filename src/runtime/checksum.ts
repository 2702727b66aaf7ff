/**
 * The CRC-32 of a payload, computed in pieces that give the event loop back
 * between them: a 64 MiB publish costs about 2 ms of CRC-32 on this
 * machine (`node:zlib` runs at 30-37 GB/s), during which a runtime
 * computing it in one call serves nothing else, not even the data-plane
 * fetch of the version before (bench/streaming_bench.ts).
 *
 * @module
 */

import { crc32 } from "node:zlib";
import { SizeMismatchError } from "../errors.ts";

/**
 * Bytes checksummed between two turns of the event loop by default: about
 * 0.25 ms of work. A turn (`nextTurn`) costs about 32 µs, more than the
 * CRC-32 of a MiB (27 µs): a 64 MiB checksum took 5.7 ms in 1 MiB pieces
 * and 3.5 ms in 8 MiB pieces (2.6 ms in one call).
 */
export const CHECKSUM_PIECE_BYTES = 8 << 20;

/** Options of `checksum`. */
export interface ChecksumOptions {
  /** Bytes per piece (default `CHECKSUM_PIECE_BYTES`); a smaller payload is done in one call. */
  readonly pieceBytes?: number;
}

/**
 * The CRC-32 of `bytes` (the same value as `crc32(bytes)` of `node:zlib`),
 * one piece at a time: after each piece but the last, the I/O and timers
 * that are ready run before the next piece. The bytes must not change until the
 * promise resolves.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { crc32 } from "node:zlib";
 * import { checksum } from "./checksum.ts";
 * const bytes = new Uint8Array(10_000).map((_, i) => i * 7);
 * assert.equal(await checksum(bytes, { pieceBytes: 4096 }), crc32(bytes));
 * ```
 */
export async function checksum(
  bytes: Uint8Array,
  options: ChecksumOptions = {},
): Promise<number> {
  const piece = options.pieceBytes ?? CHECKSUM_PIECE_BYTES;
  if (!Number.isSafeInteger(piece) || piece <= 0) {
    throw new RangeError(`Invalid piece size ${piece}: expected a positive integer`);
  }
  let sum = 0;
  for (let at = 0; at < bytes.byteLength; at += piece) {
    if (at > 0) await nextTurn();
    sum = crc32(bytes.subarray(at, at + piece), sum);
  }
  return sum;
}

/**
 * The CRC-32 of each `pieceBytes` piece of `bytes` (the last one shorter
 * when the length is not a multiple), with a turn of the event loop after
 * each `CHECKSUM_PIECE_BYTES` as `checksum` gives.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { crc32 } from "node:zlib";
 * import { pieceChecksums } from "./checksum.ts";
 * const bytes = new Uint8Array(100).map((_, i) => i);
 * const sums = await pieceChecksums(bytes, 64);
 * assert.deepEqual([...sums], [crc32(bytes.subarray(0, 64)), crc32(bytes.subarray(64))]);
 * ```
 */
export async function pieceChecksums(bytes: Uint8Array, pieceBytes: number): Promise<Uint32Array> {
  if (!Number.isSafeInteger(pieceBytes) || pieceBytes <= 0) {
    throw new RangeError(`Invalid piece size ${pieceBytes}: expected a positive integer`);
  }
  const sums = new Uint32Array(Math.ceil(bytes.byteLength / pieceBytes));
  const perTurn = Math.max(1, Math.floor(CHECKSUM_PIECE_BYTES / pieceBytes));
  for (let p = 0; p < sums.length; p++) {
    if (p > 0 && p % perTurn === 0) await nextTurn();
    sums[p] = crc32(bytes.subarray(p * pieceBytes, (p + 1) * pieceBytes));
  }
  return sums;
}

/** An empty input: the cheapest digest there is. */
const NOTHING = new Uint8Array(0);

/**
 * Resolves once the event loop has polled the sockets (long computations
 * call it between pieces of work): on this Deno a
 * `setImmediate` or a message to a `MessagePort` resolves without the
 * runtime looking at its sockets (a data-plane fetch waited for the whole
 * CRC-32 of a 64 MiB publish either way), and `setTimeout(0)` sleeps to the
 * next millisecond. An operation that completes on another thread (the
 * digest of nothing, about 40 µs) makes the event loop wait for it, and
 * that wait takes in the socket events that are ready.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nextTurn } from "./checksum.ts";
 * let ran = false;
 * setTimeout(() => ran = true, 0);
 * while (!ran) await nextTurn(); // the timer gets its turn
 * assert.ok(ran);
 * ```
 */
export async function nextTurn(): Promise<void> {
  await crypto.subtle.digest("SHA-1", NOTHING);
}

/** Bytes of a file read per piece by `checksumFile`. */
const FILE_PIECE_BYTES = 1 << 20;

/**
 * The CRC-32 of the first `byteLength` bytes of an open file, read in
 * pieces into one buffer (no buffer of the file's size, whose fresh pages
 * cost more than the read); a file of another size is a
 * `SizeMismatchError` naming `what`. With `pieces` (one slot per
 * `pieceBytes` of the file, a divisor of a MiB), each slot also receives
 * the CRC-32 of its piece, from the same reads.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { crc32 } from "node:zlib";
 * import { checksumFile } from "./checksum.ts";
 * await Deno.mkdir("tmp", { recursive: true });
 * const path = await Deno.makeTempFile({ dir: "tmp" });
 * const bytes = new Uint8Array(3000).map((_, i) => i);
 * await Deno.writeFile(path, bytes);
 * using f = await Deno.open(path);
 * const pieces = new Uint32Array(3);
 * assert.equal(await checksumFile(f, 3000, "x", { pieces, pieceBytes: 1024 }), crc32(bytes));
 * assert.equal(pieces[2], crc32(bytes.subarray(2048)));
 * await Deno.remove(path);
 * ```
 */
export async function checksumFile(
  file: Deno.FsFile,
  byteLength: number,
  what: string,
  options: { readonly pieces?: Uint32Array; readonly pieceBytes?: number } = {},
): Promise<number> {
  const piece = new Uint8Array(Math.min(FILE_PIECE_BYTES, Math.max(1, byteLength)));
  const { pieces } = options;
  const pieceBytes = options.pieceBytes ?? FILE_PIECE_BYTES;
  if (pieces !== undefined && FILE_PIECE_BYTES % pieceBytes !== 0) {
    throw new RangeError(`Invalid piece size ${pieceBytes}: expected a divisor of a MiB`);
  }
  let sum = 0;
  let at = 0;
  for (;;) {
    // A whole buffer at a time (or up to the end), so pieces start on their boundaries.
    let n = 0;
    while (n < piece.byteLength) {
      const got = await file.read(piece.subarray(n));
      if (got === null) break;
      n += got;
    }
    if (n === 0) break;
    const start = at;
    at += n;
    if (at > byteLength) break;
    const read = piece.subarray(0, n);
    sum = crc32(read, sum);
    if (pieces !== undefined) {
      for (let p = 0; p < n; p += pieceBytes) {
        pieces[(start + p) / pieceBytes] = crc32(read.subarray(p, p + pieceBytes));
      }
    }
    if (n < piece.byteLength) break;
  }
  if (at !== byteLength) {
    throw new SizeMismatchError(what, byteLength, at > byteLength ? `more than ${byteLength}` : at);
  }
  return sum;
}
