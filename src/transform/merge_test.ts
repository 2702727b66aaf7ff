import assert from "node:assert/strict";
import { mergeOps, normaliseOp, toByteCopy } from "./merge.ts";
import type { CopyOp } from "./op.ts";

function op(o: Partial<CopyOp>): CopyOp {
  return {
    source: 0,
    srcOffset: 0,
    dstOffset: 0,
    counts: [],
    srcStrides: [],
    dstStrides: [],
    from: "float64",
    to: "float64",
    ...o,
  };
}

Deno.test("normaliseOp() drops count-1 dimensions and orders the rest by target stride", () => {
  const n = normaliseOp(op({ counts: [3, 1, 5], srcStrides: [8, 99, 24], dstStrides: [40, 7, 8] }));
  assert.deepEqual([n.counts, n.srcStrides, n.dstStrides], [[3, 5], [8, 24], [40, 8]]);
});

Deno.test("normaliseOp() collapses dimensions only when both sides are contiguous", () => {
  const both = normaliseOp(op({ counts: [4, 5], srcStrides: [40, 8], dstStrides: [40, 8] }));
  assert.deepEqual(both.counts, [20]);
  const one = normaliseOp(op({ counts: [4, 5], srcStrides: [48, 8], dstStrides: [40, 8] }));
  assert.deepEqual(one.counts, [4, 5]);
});

Deno.test("toByteCopy() keeps the byte dimension when the op copies one scalar", () => {
  const b = toByteCopy(op({ from: "int16", to: "int16" }));
  assert.deepEqual([b.counts, b.srcStrides, b.dstStrides, b.from], [[2], [1], [1], "uint8"]);
});

Deno.test("mergeOps() joins x, y, z into one raw copy when copied to a struct of the same order", () => {
  const field = (i: number) =>
    op({ srcOffset: 8 * i, dstOffset: 8 * i, counts: [100], srcStrides: [32], dstStrides: [24] });
  assert.deepEqual(mergeOps([field(2), field(0), field(1)]), [
    op({ counts: [100, 24], srcStrides: [32, 1], dstStrides: [24, 1], from: "uint8", to: "uint8" }),
  ]);
});

Deno.test("mergeOps() does not join ops with a conversion or from different sources", () => {
  const a = op({ counts: [10], srcStrides: [16], dstStrides: [16] });
  const converted = op({
    srcOffset: 8,
    dstOffset: 8,
    counts: [10],
    srcStrides: [16],
    dstStrides: [16],
    from: "int64",
    to: "float64",
  });
  assert.equal(mergeOps([a, converted]).length, 2);
  const other = { ...converted, source: 1, from: "float64" as const };
  assert.equal(mergeOps([a, other]).length, 2);
});

Deno.test("mergeOps() turns a contiguous copy without conversion into one memcpy", () => {
  const signs = op({ counts: [64], srcStrides: [4], dstStrides: [4], from: "int32", to: "uint32" });
  assert.deepEqual(mergeOps([signs]), [
    op({ counts: [256], srcStrides: [1], dstStrides: [1], from: "uint8", to: "uint8" }),
  ]);
});

Deno.test("mergeOps() chains memcpys of consecutive columns into one", () => {
  const column = (i: number) =>
    op({ srcOffset: 800 * i, dstOffset: 800 * i, counts: [100], srcStrides: [8], dstStrides: [8] });
  assert.deepEqual(mergeOps([column(0), column(1), column(3), column(2)]), [
    op({ counts: [3200], srcStrides: [1], dstStrides: [1], from: "uint8", to: "uint8" }),
  ]);
});
