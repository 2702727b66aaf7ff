/**
 * Reading what an attach needs of a copy this node holds: the pieces a cut
 * of it touches when the copy sits on a file-backed tier and its piece
 * checksums are known, else the whole copy; checked either way.
 *
 * @module
 */

import { ChecksumError } from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { touchedPieces } from "../transform/touched.ts";
import { badPiece, PIECE_BYTES, PIECED_MIN_BYTES } from "./piece_sums.ts";
import type { RuntimeCore } from "./_core.ts";
import { metrics } from "../observe/mod.ts";

/** Bytes read for an attach; `bad` says how they fail their checksum, when they do. */
export interface NeededBytes {
  /** The copy's bytes, or a buffer of its size holding at least the bytes `want` needs. */
  readonly bytes: Uint8Array;
  /** Why the bytes do not match the copy's record, when they do not. */
  readonly bad?: string;
}

/**
 * The bytes of copy `key` (laid out as `layout`, whole CRC-32 `checksum`)
 * that a plan into `want` reads, checked: when the cut touches at most half
 * of the copy's pieces and they can be read alone, only those (the rest of
 * the buffer is zero and no plan from `layout` into `want` reads it); else
 * the whole copy, whose piece checksums are then kept for the next cut.
 * Undefined when this node does not hold the copy.
 */
export async function readNeeded(
  core: RuntimeCore,
  key: string,
  checksum: number,
  layout: FragmentLayout,
  want: FragmentLayout,
): Promise<NeededBytes | undefined> {
  const { staged } = core;
  let pieced = false;
  // A copy wanted whole (the same layout object) is read whole: no plan to walk.
  if (want !== layout && layout.byteLength >= PIECED_MIN_BYTES) {
    const marks = touchedPieces(core.plans.plan([layout], want), 0, PIECE_BYTES);
    let touched = 0;
    for (const m of marks) touched += m;
    pieced = 2 * touched <= marks.length;
    if (pieced) {
      const part = await staged.readPieces(key, checksum, layout.byteLength, marks);
      if (part !== undefined) {
        metrics.piecedReads.inc();
        if (part.bad === undefined) return { bytes: part.bytes };
        return { bytes: part.bytes, bad: badPiece(part.bad) };
      }
    }
  }
  const read = await staged.readChecked(key, checksum, { pieces: pieced });
  if (read === undefined) return undefined;
  if (read.sum === checksum) return { bytes: read.bytes };
  return { bytes: read.bytes, bad: new ChecksumError(key, checksum, read.sum).message };
}
