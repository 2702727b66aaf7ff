/**
 * Byte strings joined into one buffer: a body sent in pieces where one
 * buffer is needed, a body read in chunks.
 *
 * @module
 */

/**
 * `pieces` back to back in one new buffer; a single piece is answered as
 * it is (no copy).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { joinBytes } from "./join_bytes.ts";
 * assert.deepEqual(joinBytes([new Uint8Array([1]), new Uint8Array([2, 3])]), new Uint8Array([1, 2, 3]));
 * const one = new Uint8Array([4]);
 * assert.equal(joinBytes([one]), one);
 * ```
 */
export function joinBytes(pieces: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  if (pieces.length === 1) return pieces[0] as Uint8Array<ArrayBuffer>;
  let total = 0;
  for (const p of pieces) total += p.byteLength;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
