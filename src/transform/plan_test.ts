import assert from "node:assert/strict";
import { LayoutError, MissingRegionError } from "../errors.ts";
import type { FieldSlot, FragmentLayout, VarSlot } from "./layout.ts";
import type { CopyOp } from "./op.ts";
import { compilePlan } from "./plan.ts";
import type { ScalarType } from "./scalar.ts";

const N = 1000;
const XYZW = ["x", "y", "z", "w"];

function slot(fields: FieldSlot[], origin = [0], axes = [{ dim: 0, step: 1, count: N }]): VarSlot {
  return { name: "p", variable: "p", origin, axes, fields };
}

function aos(paths: string[], type: ScalarType = "float64", size = 8): FragmentLayout {
  const elem = size * paths.length;
  return {
    byteLength: N * elem,
    slots: [
      slot(paths.map((path, i) => ({ path, type, count: 1, offset: size * i, strides: [elem] }))),
    ],
  };
}

function soa(paths: string[], type: ScalarType = "float64", size = 8): FragmentLayout {
  return {
    byteLength: N * size * paths.length,
    slots: [
      slot(
        paths.map((path, i) => ({ path, type, count: 1, offset: N * size * i, strides: [size] })),
      ),
    ],
  };
}

function op(o: Partial<CopyOp>): CopyOp {
  return {
    source: 0,
    srcOffset: 0,
    dstOffset: 0,
    counts: [],
    srcStrides: [],
    dstStrides: [],
    from: "uint8",
    to: "uint8",
    ...o,
  };
}

Deno.test("compilePlan() gives one memcpy op when source and target layouts are the same", () => {
  const plan = compilePlan([aos(XYZW)], aos(XYZW));
  assert.deepEqual(plan, {
    sourceBytes: [32 * N],
    targetBytes: 32 * N,
    ops: [op({ counts: [32 * N], srcStrides: [1], dstStrides: [1] })],
  });
});

Deno.test("compilePlan() gives one strided op per column when splitting AoS into SoA", () => {
  const plan = compilePlan([aos(XYZW)], soa(XYZW));
  assert.deepEqual(
    plan.ops,
    XYZW.map((_, i) =>
      op({
        srcOffset: 8 * i,
        dstOffset: 8 * N * i,
        counts: [N],
        srcStrides: [32],
        dstStrides: [8],
        from: "float64",
        to: "float64",
      })
    ),
  );
});

Deno.test("compilePlan() merges the copied fields into one raw op when taking a field subset", () => {
  const plan = compilePlan([aos(XYZW)], aos(["x", "y"]));
  assert.deepEqual(plan.ops, [op({ counts: [N, 16], srcStrides: [32, 1], dstStrides: [16, 1] })]);
});

Deno.test("compilePlan() does not merge fields whose order differs between layouts", () => {
  const plan = compilePlan([aos(["x", "y"])], aos(["y", "x"]));
  assert.equal(plan.ops.length, 2);
  assert.deepEqual(plan.ops.map((o) => [o.srcOffset, o.dstOffset]), [[8, 0], [0, 8]]);
});

Deno.test("compilePlan() keeps a conversion as one typed op when narrowing float64 to float32", () => {
  const plan = compilePlan([soa(["x"])], soa(["x"], "float32", 4));
  assert.deepEqual(plan.ops, [
    op({ counts: [N], srcStrides: [8], dstStrides: [4], from: "float64", to: "float32" }),
  ]);
});

Deno.test("compilePlan() joins SoA columns into one memcpy when the column layout is the same", () => {
  const plan = compilePlan([soa(XYZW)], soa(XYZW));
  assert.deepEqual(plan.ops, [op({ counts: [32 * N], srcStrides: [1], dstStrides: [1] })]);
});

function matrix(rows: number, cols: number, transposed: boolean): FragmentLayout {
  const axes = transposed
    ? [{ dim: 1, step: 1, count: cols }, { dim: 0, step: 1, count: rows }]
    : [{ dim: 0, step: 1, count: rows }, { dim: 1, step: 1, count: cols }];
  const strides = transposed ? [8 * rows, 8] : [8 * cols, 8];
  return {
    byteLength: rows * cols * 8,
    slots: [{
      name: "m",
      variable: "m",
      origin: [0, 0],
      axes,
      fields: [{ path: "", type: "float64", count: 1, offset: 0, strides }],
    }],
  };
}

Deno.test("compilePlan() walks the target in order when transposing a matrix", () => {
  const plan = compilePlan([matrix(4, 6, false)], matrix(4, 6, true));
  assert.deepEqual(plan.ops, [
    op({
      counts: [6, 4],
      srcStrides: [8, 48],
      dstStrides: [32, 8],
      from: "float64",
      to: "float64",
    }),
  ]);
});

Deno.test("compilePlan() maps a strided slice and a fixed index into offsets and strides", () => {
  // Target: row 2 of a 6x8 matrix, every other column from 1: m[2, 1:8:2].
  const target: FragmentLayout = {
    byteLength: 32,
    slots: [{
      name: "r",
      variable: "m",
      origin: [2, 1],
      axes: [{ dim: 1, step: 2, count: 4 }],
      fields: [{ path: "", type: "float64", count: 1, offset: 0, strides: [8] }],
    }],
  };
  const plan = compilePlan([matrix(6, 8, false)], target);
  assert.deepEqual(plan.ops, [
    op({
      srcOffset: (2 * 8 + 1) * 8,
      counts: [4],
      srcStrides: [16],
      dstStrides: [8],
      from: "float64",
      to: "float64",
    }),
  ]);
});

Deno.test("compilePlan() adds an innermost dimension when the field is an inner array", () => {
  const field = (type: ScalarType, size: number): FragmentLayout => ({
    byteLength: N * 3 * size,
    slots: [slot([{ path: "v", type, count: 3, offset: 0, strides: [3 * size] }])],
  });
  const plan = compilePlan([field("float64", 8)], field("float32", 4));
  assert.deepEqual(plan.ops, [
    op({ counts: [3 * N], srcStrides: [8], dstStrides: [4], from: "float64", to: "float32" }),
  ]);
});

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  assert.fail("Expected an error");
}

function rows(r0: number, r1: number, cols = 4): FragmentLayout {
  return {
    byteLength: (r1 - r0) * cols * 4,
    slots: [{
      name: "g",
      variable: "g",
      origin: [r0, 0],
      axes: [{ dim: 0, step: 1, count: r1 - r0 }, { dim: 1, step: 1, count: cols }],
      fields: [{ path: "", type: "int32", count: 1, offset: 0, strides: [cols * 4, 4] }],
    }],
  };
}

Deno.test("compilePlan() takes each element from the first source holding it when sources overlap", () => {
  const plan = compilePlan([rows(0, 6), rows(4, 10), rows(0, 10)], rows(0, 10));
  assert.deepEqual(plan.ops, [
    op({ source: 0, counts: [96], srcStrides: [1], dstStrides: [1] }),
    op({ source: 1, srcOffset: 32, dstOffset: 96, counts: [64], srcStrides: [1], dstStrides: [1] }),
  ]);
});

Deno.test("compilePlan() names exactly the missing rows when a block is absent", () => {
  const err = thrown(() => compilePlan([rows(0, 2), rows(4, 8)], rows(0, 8)));
  assert.ok(err instanceof MissingRegionError);
  assert.equal(err.message, "Sources do not cover 'g': missing [2:4, 0:4]");
  assert.deepEqual(err.missing, [{ start: [2, 0], count: [2, 4] }]);
});

Deno.test("compilePlan() throws MissingRegionError for the whole region when no source holds the field", () => {
  assert.throws(
    () => compilePlan([aos(["x", "y"])], aos(["x", "w"])),
    (e: unknown) =>
      e instanceof MissingRegionError && e.field === "w" &&
      e.message === `Sources do not cover 'p.w': missing [0:${N}]`,
  );
});

Deno.test("compilePlan() names only missing elements when a strided source leaves gaps", () => {
  const even: FragmentLayout = {
    byteLength: 16,
    slots: [{
      name: "g",
      variable: "g",
      origin: [0, 0],
      axes: [{ dim: 1, step: 2, count: 2 }],
      fields: [{ path: "", type: "int32", count: 1, offset: 0, strides: [4] }],
    }],
  };
  const err = thrown(() => compilePlan([even, rows(1, 2)], rows(0, 2)));
  assert.ok(err instanceof MissingRegionError);
  assert.equal(err.message, "Sources do not cover 'g': missing [0:1, 1:2], [0:1, 3:4]");
});

Deno.test("compilePlan() throws LayoutError when a string changes size", () => {
  const strings = (size: number): FragmentLayout => ({
    byteLength: N * size,
    slots: [
      slot([{
        path: "name",
        type: { kind: "string", size },
        count: 1,
        offset: 0,
        strides: [size],
      }]),
    ],
  });
  assert.throws(
    () => compilePlan([strings(18)], strings(10)),
    (e: unknown) =>
      e instanceof LayoutError &&
      e.message ===
        "Cannot convert 'p.name' from string16 to string8: strings convert only to strings of the same size",
  );
});

Deno.test("compilePlan() throws LayoutError when an inner array changes length", () => {
  const arr = (count: number): FragmentLayout => ({
    byteLength: N * count * 4,
    slots: [slot([{ path: "v", type: "float32", count, offset: 0, strides: [4 * count] }])],
  });
  assert.throws(() => compilePlan([arr(3)], arr(2)), LayoutError);
});

Deno.test("compilePlan() throws LayoutError when a field lies outside its buffer", () => {
  const bad = { ...aos(XYZW), byteLength: 32 * N - 1 };
  assert.throws(
    () => compilePlan([bad], aos(XYZW)),
    (e: unknown) =>
      e instanceof LayoutError && e.message.startsWith("Field 'w' of slot 'p' of source 0"),
  );
});
