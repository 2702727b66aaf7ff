import assert from "node:assert/strict";
import { kernelCount, kernelFor, type KernelShape, kernelSource, TILE } from "./kernels.ts";

const copy = { type: "float64", view: true } as const;

function transposeShape(members: number): KernelShape {
  return {
    dims: 2,
    blocked: true,
    srcSlots: [[members === 1], [false]],
    dstSlots: [[false], [true]],
    srcViews: [[0, 0]],
    dstViews: Array.from({ length: members }, () => [0, 0]),
    members: Array.from({ length: members }, (_, m) => ({
      from: copy,
      to: copy,
      src: 0,
      srcShift: m,
      dst: m,
      dstShift: 0,
    })),
  };
}

Deno.test("kernelFor() returns the cached kernel when asked for the same shape again", () => {
  const a = kernelFor(transposeShape(1));
  const count = kernelCount();
  const b = kernelFor(transposeShape(1));
  assert.equal(a, b);
  assert.equal(kernelCount(), count);
});

Deno.test("kernelFor() transposes exactly when the sizes are not multiples of the tiles", () => {
  for (const [rows, cols] of [[1, 1], [3, 5], [4, 4], [TILE + 3, 2 * TILE + 1], [70, 33]]) {
    for (const members of [1, 2, 5]) {
      // Source: rows x cols structs of `members` float64, row-major; targets: one
      // column-major matrix per member.
      const src = Float64Array.from({ length: rows! * cols! * members }, (_, i) => i);
      const dst = Array.from({ length: members }, () => new Float64Array(rows! * cols!));
      // Dimension 0 walks columns (source stride `members`, target stride rows),
      // dimension 1 walks rows (source stride cols * members, target stride 1).
      const srcStrides = members === 1 ? [cols! * members] : [members, cols! * members];
      kernelFor(transposeShape(members))([src], dst, [cols!, rows!, ...srcStrides, rows!]);
      for (let m = 0; m < members; m++) {
        for (let r = 0; r < rows!; r++) {
          for (let c = 0; c < cols!; c++) {
            const expected = src[(r * cols! + c) * members + m];
            if (dst[m]![c * rows! + r] !== expected) {
              assert.fail(`${rows}x${cols}, member ${m}: wrong value at row ${r}, column ${c}`);
            }
          }
        }
      }
    }
  }
});

Deno.test("kernelSource() bakes unit strides in as the loop index", () => {
  const text = kernelSource({
    dims: 1,
    blocked: false,
    srcSlots: [[false]],
    dstSlots: [[true]],
    srcViews: [[0]],
    dstViews: [[0], [0]],
    members: [
      { from: copy, to: copy, src: 0, srcShift: 0, dst: 0, dstShift: 0 },
      { from: copy, to: copy, src: 0, srcShift: 1, dst: 1, dstShift: 0 },
    ],
  });
  assert.ok(text.includes("D0[i0] = S0[i0 * ss0_0];"), text);
  assert.ok(text.includes("D1[i0] = S0[i0 * ss0_0 + 1];"), text);
});

Deno.test("kernelSource() reads and writes through DataViews when a side is unaligned", () => {
  const text = kernelSource({
    dims: 1,
    blocked: false,
    srcSlots: [[false]],
    dstSlots: [[false]],
    srcViews: [[0]],
    dstViews: [[0]],
    members: [{
      from: { type: "uint64", view: false },
      to: { type: "float32", view: false },
      src: 0,
      srcShift: 3,
      dst: 0,
      dstShift: 0,
    }],
  });
  assert.ok(
    text.includes(
      "D0.setFloat32(i0 * ds0_0, Number(S0.getBigUint64(i0 * ss0_0 + 3, true)), true);",
    ),
    text,
  );
});

Deno.test("kernelSource() starts with the signature so that no two shapes share compiled code", () => {
  const shape = (type: "float64" | "uint32"): KernelShape => ({
    dims: 1,
    blocked: false,
    srcSlots: [[true]],
    dstSlots: [[true]],
    srcViews: [[0]],
    dstViews: [[0]],
    members: [{
      from: { type, view: true },
      to: { type, view: true },
      src: 0,
      srcShift: 0,
      dst: 0,
      dstShift: 0,
    }],
  });
  const a = kernelSource(shape("float64"));
  const b = kernelSource(shape("uint32"));
  assert.notEqual(a, b);
  assert.equal(
    a.replace(/^\/\/.*\n/, ""),
    b.replace(/^\/\/.*\n/, ""),
    "only the signature differs",
  );
});
