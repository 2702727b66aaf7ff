import assert from "node:assert/strict";
import type { CopyOp, Plan } from "./op.ts";
import { pieceRuns, touchedPieces } from "./touched.ts";

function planOf(
  sourceBytes: number,
  ...ops: Omit<CopyOp, "source" | "dstOffset" | "dstStrides" | "to">[]
): Plan {
  return {
    sourceBytes: [sourceBytes],
    targetBytes: 0,
    ops: ops.map((o) => ({
      ...o,
      source: 0,
      dstOffset: 0,
      dstStrides: o.counts.map(() => 0),
      to: o.from,
    })),
  };
}

Deno.test("touchedPieces() marks the scalars of a column whose stride spans pieces, one by one", () => {
  // 4 float64 every 100 bytes, pieces of 32: bytes 0-7, 100-107, 200-207, 300-307.
  const plan = planOf(400, {
    srcOffset: 0,
    counts: [4],
    srcStrides: [100],
    from: "float64",
  });
  assert.deepEqual(
    [...touchedPieces(plan, 0, 32)],
    [1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0],
  );
});

Deno.test("touchedPieces() follows negative strides", () => {
  // Rows read backwards: row 3 first, then 2, 1, 0; 4 bytes of each 32-byte row.
  const plan = planOf(128, {
    srcOffset: 96,
    counts: [4, 4],
    srcStrides: [-32, 1],
    from: "uint8",
  });
  assert.deepEqual([...touchedPieces(plan, 0, 16)], [1, 0, 1, 0, 1, 0, 1, 0]);
});

Deno.test("touchedPieces() marks an op's whole extent past its walking budget, missing nothing", () => {
  // A million single-byte runs over a 4 MiB source of 64 KiB pieces (64 pieces):
  // too many runs to walk, so everything between the first and last byte.
  const plan = planOf(4 << 20, {
    srcOffset: 4,
    counts: [1 << 20, 1],
    srcStrides: [4, 1],
    from: "uint8",
  });
  const marks = touchedPieces(plan, 0, 64 * 1024);
  assert.equal(marks.length, 64);
  assert.ok(marks.every((m) => m === 1));
});

Deno.test("touchedPieces() leaves the pieces of other sources and of empty ops unmarked", () => {
  const plan: Plan = {
    sourceBytes: [64, 64],
    targetBytes: 8,
    ops: [
      {
        source: 1,
        srcOffset: 0,
        dstOffset: 0,
        counts: [8],
        srcStrides: [1],
        dstStrides: [1],
        from: "uint8",
        to: "uint8",
      },
      {
        source: 0,
        srcOffset: 0,
        dstOffset: 0,
        counts: [0, 8],
        srcStrides: [8, 1],
        dstStrides: [8, 1],
        from: "uint8",
        to: "uint8",
      },
    ],
  };
  assert.deepEqual([...touchedPieces(plan, 0, 16)], [0, 0, 0, 0]);
  assert.deepEqual([...touchedPieces(plan, 1, 16)], [1, 0, 0, 0]);
});

Deno.test("pieceRuns() joins adjacent pieces and clips the last to the copy", () => {
  assert.deepEqual(pieceRuns(new Uint8Array([0, 0]), 8, 16), []);
  assert.deepEqual(pieceRuns(new Uint8Array([1, 1, 1]), 8, 20), [[0, 20]]);
  assert.deepEqual(pieceRuns(new Uint8Array([0, 1, 0, 1, 1]), 8, 40), [[8, 8], [24, 16]]);
});
