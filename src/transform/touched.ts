/**
 * Which pieces of a source buffer a plan reads: what a runtime needs to
 * read of a stored copy when an attach wants only part of it (a 2-D block
 * of a row band reads a quarter of each row).
 *
 * @module
 */

import type { CopyOp, Plan } from "./op.ts";
import { scalarSize } from "./scalar.ts";

/**
 * Marks, for each `pieceBytes` piece of source `source`, whether `plan`
 * reads any byte of it (1) or none (0). An op whose scalars are more than
 * `pieceBytes` apart marks each scalar's piece; an op of too many runs to
 * walk (past eight times the piece count) marks every piece between its
 * first and last byte: the marks never miss a byte read, and may include a
 * few that are not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { touchedPieces } from "./touched.ts";
 * // Bytes 16-31 of each 64-byte row of 4 rows: one piece of 64 bytes per row.
 * const plan = {
 *   sourceBytes: [256],
 *   targetBytes: 64,
 *   ops: [{
 *     source: 0, srcOffset: 16, dstOffset: 0, counts: [4, 16], srcStrides: [64, 1],
 *     dstStrides: [16, 1], from: "uint8" as const, to: "uint8" as const,
 *   }],
 * };
 * assert.deepEqual([...touchedPieces(plan, 0, 16)], [0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0]);
 * ```
 */
export function touchedPieces(plan: Plan, source: number, pieceBytes: number): Uint8Array {
  const byteLength = plan.sourceBytes[source] ?? 0;
  const marks = new Uint8Array(Math.ceil(byteLength / pieceBytes));
  let budget = 8 * marks.length + 1024;
  const mark = (from: number, to: number) => {
    const last = Math.min(Math.floor((to - 1) / pieceBytes), marks.length - 1);
    for (let p = Math.max(0, Math.floor(from / pieceBytes)); p <= last; p++) marks[p] = 1;
  };
  for (const op of plan.ops) {
    if (op.source !== source) continue;
    const size = scalarSize(op.from);
    const d = op.counts.length;
    if (op.counts.some((n) => n === 0)) continue;
    if (d === 0) {
      mark(op.srcOffset, op.srcOffset + size);
      continue;
    }
    const n = op.counts[d - 1]!;
    const s = op.srcStrides[d - 1]!;
    const apart = Math.abs(s) > pieceBytes;
    const outer = op.counts.slice(0, d - 1).reduce((a, b) => a * b, 1);
    const steps = apart ? outer * n : outer;
    if (steps > budget) {
      const [lo, hi] = extent(op, size);
      mark(lo, hi);
      continue;
    }
    budget -= steps;
    eachBase(op, (base) => {
      if (apart) {
        for (let i = 0; i < n; i++) mark(base + i * s, base + i * s + size);
      } else {
        const end = base + (n - 1) * s;
        mark(Math.min(base, end), Math.max(base, end) + size);
      }
    });
  }
  return marks;
}

/**
 * The byte runs of the marked pieces, `[offset, length]`, adjacent pieces
 * joined, the last clipped to `byteLength`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pieceRuns } from "./touched.ts";
 * assert.deepEqual(pieceRuns(new Uint8Array([1, 1, 0, 1]), 16, 60), [[0, 32], [48, 12]]);
 * ```
 */
export function pieceRuns(
  marks: Uint8Array,
  pieceBytes: number,
  byteLength: number,
): [number, number][] {
  const runs: [number, number][] = [];
  for (let p = 0; p < marks.length; p++) {
    if (marks[p] === 0) continue;
    let q = p;
    while (q + 1 < marks.length && marks[q + 1] === 1) q++;
    const from = p * pieceBytes;
    runs.push([from, Math.min((q + 1) * pieceBytes, byteLength) - from]);
    p = q;
  }
  return runs;
}

/** Calls `f` with the source offset of each innermost run of `op`. */
function eachBase(op: CopyOp, f: (base: number) => void): void {
  const d = op.counts.length;
  const index = new Array<number>(d - 1).fill(0);
  let base = op.srcOffset;
  for (;;) {
    f(base);
    let k = d - 2;
    while (k >= 0) {
      index[k]!++;
      base += op.srcStrides[k]!;
      if (index[k]! < op.counts[k]!) break;
      base -= op.srcStrides[k]! * op.counts[k]!;
      index[k] = 0;
      k--;
    }
    if (k < 0) return;
  }
}

/** The first and one past the last byte `op` reads. */
function extent(op: CopyOp, size: number): [number, number] {
  let lo = op.srcOffset;
  let hi = op.srcOffset;
  op.counts.forEach((n, k) => {
    const span = (n - 1) * op.srcStrides[k]!;
    if (span < 0) lo += span;
    else hi += span;
  });
  return [lo, hi + size];
}
