import assert from "node:assert/strict";
import { compilePlan, executePlan, type FragmentLayout } from "../transform/mod.ts";
import type { NumericType } from "../transform/scalar.ts";
import { Random } from "../transform/_testing.ts";
import { ChunkedRun, chunkPlan } from "./plan_chunks.ts";

const SIZES: Record<string, number> = { float64: 8, float32: 4, int32: 4, int16: 2, uint8: 1 };
/** Stored type -> wanted type (bit copies and lossless integer widening). */
const WANTS: Record<string, NumericType[]> = {
  float64: ["float64"],
  float32: ["float32"],
  int32: ["int32", "float64"],
  int16: ["int16", "int32"],
  uint8: ["uint8", "int16"],
};

/** A random array of structs (1-D or 2-D) and a columnar sub-box of it with conversions. */
function randomCase(r: Random): { source: FragmentLayout; target: FragmentLayout } {
  const extents = r.chance(0.5) ? [r.int(1, 60)] : [r.int(1, 12), r.int(1, 9)];
  const leaves = Array.from({ length: r.int(1, 4) }, (_, i) => ({
    path: `f${i}`,
    type: r.pick(Object.keys(SIZES)) as NumericType,
    count: r.int(1, 2),
  }));
  let elem = 0;
  const offsets = leaves.map((l) => {
    const at = elem;
    elem += SIZES[l.type]! * l.count;
    return at;
  });
  elem += r.int(0, 3); // padding
  const rowStrides = extents.map((_, k) => elem * extents.slice(k + 1).reduce((p, e) => p * e, 1));
  const source: FragmentLayout = {
    byteLength: elem * extents.reduce((p, e) => p * e, 1),
    slots: [{
      name: "p",
      variable: "p",
      origin: extents.map(() => 0),
      axes: extents.map((count, dim) => ({ dim, step: 1, count })),
      fields: leaves.map((l, i) => ({ ...l, offset: offsets[i]!, strides: rowStrides })),
    }],
  };
  const lo = extents.map((e) => r.int(0, e - 1));
  const counts = extents.map((e, k) => r.int(1, e - lo[k]!));
  const n = counts.reduce((p, c) => p * c, 1);
  let at = 0;
  const fields = r.shuffle(leaves).map((l) => {
    const type = r.pick(WANTS[l.type]!);
    const size = SIZES[type]!;
    const strides = counts.map((_, k) =>
      size * l.count * counts.slice(k + 1).reduce((p, c) => p * c, 1)
    );
    const f = { path: l.path, type, count: l.count, offset: at, strides };
    at += size * l.count * n;
    return f;
  });
  const target: FragmentLayout = {
    byteLength: at,
    slots: [{
      name: "p",
      variable: "p",
      origin: lo,
      axes: counts.map((count, dim) => ({ dim, step: 1, count })),
      fields,
    }],
  };
  return { source, target };
}

Deno.test("chunkPlan() pieces write what the plan writes, each reading only below its bound", () => {
  const r = new Random(20261123);
  for (let c = 0; c < 300; c++) {
    const { source, target } = randomCase(r);
    const plan = compilePlan([source], target);
    const src = r.bytes(source.byteLength);
    const before = r.bytes(target.byteLength);
    const whole = before.slice();
    executePlan(plan, [src], whole);
    for (const chunkBytes of [1, r.int(2, 64), r.int(65, 4096), 1 << 20]) {
      const chunks = chunkPlan(plan, chunkBytes);
      let last = 0;
      for (const chunk of chunks) {
        assert.ok(chunk.readyAt > last || chunk.readyAt === 0, "bounds increase");
        assert.ok(chunk.readyAt <= source.byteLength);
        last = chunk.readyAt;
        // Bytes at and past the bound are never read: changing them changes nothing.
        const poisoned = src.slice();
        for (let i = chunk.readyAt; i < poisoned.length; i++) poisoned[i] = poisoned[i]! ^ 0x5a;
        const a = before.slice();
        const b = before.slice();
        executePlan(chunk.plan, [src], a);
        executePlan(chunk.plan, [poisoned], b);
        assert.deepEqual(a, b, `case ${c}, chunk ending at ${chunk.readyAt} of ${chunkBytes}`);
      }
      const pieces = before.slice();
      const run = new ChunkedRun(chunks, src, pieces);
      for (let got = 0; got < src.length; got += r.int(1, 97)) run.advance(got);
      run.finish();
      assert.deepEqual(pieces, whole, `case ${c}, chunks of ${chunkBytes}`);
    }
  }
});

Deno.test("ChunkedRun.advance() runs a piece only once its source bytes are there", () => {
  const plan = {
    sourceBytes: [32],
    targetBytes: 16,
    ops: [{
      source: 0,
      srcOffset: 0,
      dstOffset: 0,
      counts: [4],
      srcStrides: [8],
      dstStrides: [4],
      from: "int32" as const,
      to: "int32" as const,
    }],
  };
  const chunks = chunkPlan(plan, 8);
  assert.deepEqual(chunks.map((c) => c.readyAt), [8, 16, 24, 32]);
  const src = new Uint8Array(new Int32Array([1, 0, 2, 0, 3, 0, 4, 0]).buffer);
  const out = new Int32Array(4);
  const run = new ChunkedRun(chunks, src, new Uint8Array(out.buffer));
  run.advance(7);
  assert.deepEqual([...out], [0, 0, 0, 0]);
  run.advance(20);
  assert.deepEqual([...out], [1, 2, 0, 0]);
  run.finish();
  assert.deepEqual([...out], [1, 2, 3, 4]);
  assert.throws(() => chunkPlan(plan, 0), RangeError);
});
