import assert from "node:assert/strict";
import { LayoutError } from "../errors.ts";
import { executePlan } from "./execute.ts";
import { tasksFor } from "./fuse.ts";
import type { FragmentLayout } from "./layout.ts";
import type { Plan } from "./op.ts";
import { compilePlan } from "./plan.ts";
import type { NumericType, ScalarType } from "./scalar.ts";
import { shifted } from "./_testing.ts";

function vector(type: ScalarType, size: number, n: number, offset = 0): FragmentLayout {
  return {
    byteLength: offset + n * size,
    slots: [{
      name: "v",
      variable: "v",
      origin: [0],
      axes: [{ dim: 0, step: 1, count: n }],
      fields: [{ path: "", type, count: 1, offset, strides: [size] }],
    }],
  };
}

function struct(n: number, columnar: boolean, paths = ["x", "y", "z", "w"]): FragmentLayout {
  const k = paths.length;
  return {
    byteLength: n * 8 * k,
    slots: [{
      name: "p",
      variable: "p",
      origin: [0],
      axes: [{ dim: 0, step: 1, count: n }],
      fields: paths.map((path, i) => ({
        path,
        type: "float64" as const,
        count: 1,
        offset: columnar ? 8 * n * i : 8 * i,
        strides: [columnar ? 8 : 8 * k],
      })),
    }],
  };
}

const SIZES: Record<NumericType, number> = {
  int8: 1,
  uint8: 1,
  bool: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  int64: 8,
  uint64: 8,
  float64: 8,
};

function convert(from: NumericType, to: NumericType, values: (number | bigint)[]): unknown[] {
  const n = values.length;
  const src = new Uint8Array(n * SIZES[from]);
  const view = new DataView(src.buffer);
  values.forEach((v, i) => {
    const at = i * SIZES[from];
    if (from === "float64") view.setFloat64(at, v as number, true);
    else if (from === "float32") view.setFloat32(at, v as number, true);
    else if (from === "int64") view.setBigInt64(at, v as bigint, true);
    else if (from === "uint64") view.setBigUint64(at, v as bigint, true);
    else if (from === "int32") view.setInt32(at, v as number, true);
    else if (from === "bool" || from === "uint8") view.setUint8(at, v as number);
    else throw new Error(`Test helper lacks ${from}`);
  });
  const dst = new Uint8Array(n * SIZES[to]);
  const plan = compilePlan([vector(from, SIZES[from], n)], vector(to, SIZES[to], n));
  executePlan(plan, [src], dst);
  const out = new DataView(dst.buffer);
  return values.map((_, i) => {
    const at = i * SIZES[to];
    switch (to) {
      case "int8":
        return out.getInt8(at);
      case "uint8":
      case "bool":
        return out.getUint8(at);
      case "int16":
        return out.getInt16(at, true);
      case "uint16":
        return out.getUint16(at, true);
      case "int32":
        return out.getInt32(at, true);
      case "uint32":
        return out.getUint32(at, true);
      case "int64":
        return out.getBigInt64(at, true);
      case "uint64":
        return out.getBigUint64(at, true);
      case "float32":
        return out.getFloat32(at, true);
      case "float64":
        return out.getFloat64(at, true);
    }
  });
}

Deno.test("executePlan() throws LayoutError naming both sizes when a source has the wrong size", () => {
  const plan = compilePlan([struct(10, false)], struct(10, true));
  const target = new Uint8Array(320).fill(7);
  assert.throws(
    () => executePlan(plan, [new Uint8Array(300)], target),
    (e: unknown) =>
      e instanceof LayoutError &&
      e.message === "Wrong size of source 0: expected 320 bytes, received 300",
  );
  assert.ok(target.every((b) => b === 7), "the target is untouched");
});

Deno.test("executePlan() throws LayoutError when the target or the number of sources is wrong", () => {
  const plan = compilePlan([struct(10, false)], struct(10, true));
  assert.throws(
    () => executePlan(plan, [new Uint8Array(320)], new Uint8Array(321)),
    (e: unknown) =>
      e instanceof LayoutError &&
      e.message === "Wrong size of target: expected 320 bytes, received 321",
  );
  assert.throws(
    () => executePlan(plan, [], new Uint8Array(320)),
    (e: unknown) =>
      e instanceof LayoutError && e.message === "Wrong number of sources: expected 1, received 0",
  );
});

Deno.test("executePlan() throws LayoutError when a hand-made plan reaches outside a buffer", () => {
  const plan: Plan = {
    sourceBytes: [16],
    targetBytes: 16,
    ops: [{
      source: 0,
      srcOffset: 8,
      dstOffset: 0,
      counts: [2],
      srcStrides: [8],
      dstStrides: [8],
      from: "float64",
      to: "float64",
    }],
  };
  assert.throws(
    () => executePlan(plan, [new Uint8Array(16)], new Uint8Array(16)),
    (e: unknown) =>
      e instanceof LayoutError && e.message === "Invalid plan: op 0 reaches outside its buffers",
  );
});

Deno.test("executePlan() leaves padding bytes of the target as they were", () => {
  const plan = compilePlan([vector("int32", 4, 3)], vector("int32", 4, 3, 4));
  const target = new Uint8Array(16).fill(0xee);
  executePlan(plan, [new Uint8Array(new Int32Array([1, 2, 3]).buffer)], target);
  assert.deepEqual([...target.subarray(0, 4)], [0xee, 0xee, 0xee, 0xee]);
  assert.deepEqual([...new Int32Array(target.buffer, 4)], [1, 2, 3]);
});

Deno.test("executePlan() gives the same bytes when buffers sit at unaligned offsets", () => {
  const n = 37;
  const src = new Uint8Array(n * 32);
  new Float64Array(src.buffer).forEach((_, i, a) => (a[i] = i + 0.5));
  const plan = compilePlan([struct(n, false)], struct(n, true));
  const aligned = new Uint8Array(n * 32);
  executePlan(plan, [src], aligned);
  for (const [s, t] of [[1, 3], [4, 0], [0, 6], [7, 7]]) {
    const target = shifted(new Uint8Array(n * 32), t!);
    executePlan(plan, [shifted(src, s!)], target);
    assert.deepEqual([...target], [...aligned], `shifts ${s}, ${t}`);
  }
});

Deno.test("executePlan() converts floats to integers by truncation and wrap-around, NaN to 0", () => {
  assert.deepEqual(
    convert("float64", "int8", [1.9, -1.9, 127, 128, 300, -129, NaN, Infinity]),
    [1, -1, 127, -128, 44, 127, 0, 0],
  );
  assert.deepEqual(convert("float64", "uint32", [-1, 4294967296.5, 1e20]), [
    4294967295,
    0,
    1661992960,
  ]);
});

Deno.test("executePlan() stores 1 in a bool for any non-zero, non-NaN value", () => {
  assert.deepEqual(convert("float64", "bool", [0, -0, 0.25, -3, NaN, Infinity]), [
    0,
    0,
    1,
    1,
    0,
    1,
  ]);
  assert.deepEqual(convert("int64", "bool", [0n, 256n, -1n]), [0, 1, 1]);
  assert.deepEqual(convert("bool", "float64", [0, 1]), [0, 1]);
});

Deno.test("executePlan() converts 64-bit integers exactly when they fit, modulo 2^bits when not", () => {
  assert.deepEqual(convert("int64", "int32", [-5n, 2n ** 32n + 7n, 2n ** 31n]), [
    -5,
    7,
    -(2 ** 31),
  ]);
  assert.deepEqual(convert("int64", "float64", [2n ** 53n + 1n, -3n]), [2 ** 53, -3]);
  assert.deepEqual(convert("float64", "int64", [-2.7, 2 ** 60, NaN, 2 ** 64]), [
    -2n,
    2n ** 60n,
    0n,
    0n,
  ]);
  assert.deepEqual(convert("int32", "uint64", [-1]), [2n ** 64n - 1n]);
  assert.deepEqual(convert("uint64", "int64", [2n ** 64n - 2n]), [-2n]);
});

Deno.test("executePlan() rounds to nearest when narrowing float64 to float32", () => {
  assert.deepEqual(convert("float64", "float32", [0.1, 1e40, -1e-50]), [
    Math.fround(0.1),
    Infinity,
    -0,
  ]);
});

Deno.test("executePlan() keeps NaN payloads when copying floats without conversion", () => {
  const words = new Uint32Array([1, 0x7ff00000, 0x7f800001, 0xffc00123]);
  const src = new Uint8Array(words.buffer);
  for (const shift of [0, 1, 4]) {
    const layout = vector("float32", 4, 4);
    const withGap: FragmentLayout = {
      byteLength: 32,
      slots: [{ ...layout.slots[0]!, fields: [{ ...layout.slots[0]!.fields[0]!, strides: [8] }] }],
    };
    const dst = shifted(new Uint8Array(32), shift);
    executePlan(compilePlan([layout], withGap), [src], dst);
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => new DataView(dst.buffer, dst.byteOffset).getUint32(8 * i, true)),
      [...words],
    );
  }
});

Deno.test("tasksFor() fuses the four columns into one pass when splitting AoS into SoA", () => {
  const plan = compilePlan([struct(1000, false)], struct(1000, true));
  const tasks = tasksFor(plan, [0], 0);
  assert.equal(tasks.length, 1);
  const t = tasks[0]!;
  assert.ok(t.kind === "loop");
  assert.equal(t.srcViews.length, 1, "the four fields share one source view");
  assert.equal(t.dstViews.length, 4, "one view per column");
  assert.equal(
    t.shape,
    "1|flat|n|1|0|0,0,0,0|float64>float64:0+0>0+0;float64>float64:0+1>1+0;" +
      "float64>float64:0+2>2+0;float64>float64:0+3>3+0",
  );
});

Deno.test("tasksFor() fuses SoA columns into one pass when building AoS", () => {
  const plan = compilePlan([struct(1000, true)], struct(1000, false));
  const tasks = tasksFor(plan, [0], 0);
  assert.equal(tasks.length, 1);
  const t = tasks[0]!;
  assert.ok(t.kind === "loop");
  assert.deepEqual([t.srcViews.length, t.dstViews.length], [4, 1]);
});

Deno.test("tasksFor() copies a field subset as two 8-byte words per element", () => {
  const plan = compilePlan([struct(1000, false)], struct(1000, false, ["x", "y"]));
  const t = tasksFor(plan, [0], 0)[0]!;
  assert.ok(t.kind === "loop");
  assert.equal(t.shape, "1|flat|n|n|0|0|float64>float64:0+0>0+0;float64>float64:0+1>0+1");
});

Deno.test("tasksFor() uses a bulk typed-array conversion when narrowing a contiguous vector", () => {
  const plan = compilePlan([vector("float64", 8, 100)], vector("float32", 4, 100));
  assert.deepEqual(tasksFor(plan, [0], 0), [{
    kind: "convert",
    source: 0,
    from: "float64",
    to: "float32",
    srcOffset: 0,
    dstOffset: 0,
    count: 100,
  }]);
});

Deno.test("tasksFor() tiles the loop when transposing and copies long rows with memcpy", () => {
  const matrix = (r0: number, rows: number, cols: number, transposed: boolean): FragmentLayout => ({
    byteLength: rows * cols * 8,
    slots: [{
      name: "m",
      variable: "m",
      origin: [r0, 0],
      axes: transposed
        ? [{ dim: 1, step: 1, count: cols }, { dim: 0, step: 1, count: rows }]
        : [{ dim: 0, step: 1, count: rows }, { dim: 1, step: 1, count: cols }],
      fields: [{
        path: "",
        type: "float64",
        count: 1,
        offset: 0,
        strides: transposed ? [8 * rows, 8] : [8 * cols, 8],
      }],
    }],
  });
  const transpose = tasksFor(
    compilePlan([matrix(0, 64, 64, false)], matrix(0, 64, 64, true)),
    [0],
    0,
  );
  assert.ok(transpose[0]?.kind === "loop" && transpose[0].shape.includes("|tiled|"));
  // Rows 8..16 of a 128-wide matrix into a block of 96 columns: 8 rows of 768 bytes.
  const block: FragmentLayout = {
    byteLength: 8 * 96 * 8,
    slots: [{
      name: "m",
      variable: "m",
      origin: [8, 16],
      axes: [{ dim: 0, step: 1, count: 8 }, { dim: 1, step: 1, count: 96 }],
      fields: [{ path: "", type: "float64", count: 1, offset: 0, strides: [768, 8] }],
    }],
  };
  const rows = tasksFor(compilePlan([matrix(0, 16, 128, false)], block), [0], 0);
  assert.deepEqual(rows, [{
    kind: "rows",
    source: 0,
    srcOffset: (8 * 128 + 16) * 8,
    dstOffset: 0,
    bytes: 768,
    counts: [8],
    srcStrides: [1024],
    dstStrides: [768],
  }]);
});

Deno.test("executePlan() throws LayoutError when a hand-made plan converts a string to a number", () => {
  const plan: Plan = {
    sourceBytes: [8],
    targetBytes: 8,
    ops: [{
      source: 0,
      srcOffset: 0,
      dstOffset: 0,
      counts: [],
      srcStrides: [],
      dstStrides: [],
      from: { kind: "string", size: 8 },
      to: "float64",
    }],
  };
  assert.throws(
    () => executePlan(plan, [new Uint8Array(8)], new Uint8Array(8)),
    (e: unknown) =>
      e instanceof LayoutError && e.message === "Invalid plan: op 0 converts a string",
  );
});
