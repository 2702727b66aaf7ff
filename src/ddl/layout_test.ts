import assert from "node:assert/strict";
import { compileDescription, datasetLayout, fragmentLayout } from "./mod.ts";
import { LayoutError } from "../errors.ts";
import type { CopyOp } from "../transform/op.ts";
import { compilePlan } from "../transform/plan.ts";

const DREPL = `
dataset {
  const N = 10
  type Point struct { a float64; b, c float32 }
  var data [N]Point
  var temp [4, 3]float64
  var p struct { a, b, c float64 }
}
view viz read-only rowmajor {
  type PointB { b } Point
  var b [] { b } = data
  var d [i] = data[i*5]
  var e [i]PointB = data[i*3]
  var t [i,j] = temp[j,i]
  var pba { b, a } = p
}
replica r "viz.dat" complete { view viz }
`;

function fields(l: ReturnType<typeof datasetLayout>) {
  return l.slots.flatMap((s) =>
    s.fields.map((f) => `${s.name}.${f.path || "*"}:${f.offset}/${f.strides.join("x")}`)
  );
}

Deno.test("datasetLayout() packs struct fields and aligns each variable", () => {
  const ds = compileDescription(DREPL);
  const l = datasetLayout(ds);
  assert.equal(l.byteLength, 280);
  assert.deepEqual(fields(l), [
    "data.a:0/16",
    "data.b:8/16",
    "data.c:12/16",
    "temp.*:160/24x8",
    "p.a:256/",
    "p.b:264/",
    "p.c:272/",
  ]);
});

Deno.test("fragmentLayout() lays out DRepl's substructs, slices, transposition and view types", () => {
  const ds = compileDescription(DREPL);
  const l = fragmentLayout(ds, "viz");
  assert.equal(l.byteLength, 200);
  assert.deepEqual(fields(l), [
    "b.b:0/4",
    "d.a:40/16",
    "d.b:48/16",
    "d.c:52/16",
    "e.b:72/4",
    "t.*:88/32x8",
    "pba.b:184/",
    "pba.a:192/",
  ]);
  const d = l.slots[1]!;
  assert.deepEqual(d.axes, [{ dim: 0, step: 5, count: 2 }]);
  const e = l.slots[2]!;
  assert.deepEqual(e.axes, [{ dim: 0, step: 3, count: 4 }]);
  const t = l.slots[3]!;
  assert.deepEqual(t.axes, [{ dim: 1, step: 1, count: 3 }, { dim: 0, step: 1, count: 4 }]);
  assert.equal(ds.fragments.get("viz")!.decl.readOnly, true);
  assert.deepEqual(ds.description.replicas[0], {
    name: "r",
    file: "viz.dat",
    complete: true,
    views: ["viz"],
    pos: { line: 17, col: 9 },
  });
});

Deno.test("fragmentLayout() binds region parameters at attach time", () => {
  const ds = compileDescription(`dataset grid { var temp [8, 6]float64 }
fragment block(r0, r1, c0, c1) { var t = temp[r0:r1, c0:c1] }`);
  const l = fragmentLayout(ds, "block", { r0: 2, r1: 4, c0: 3, c1: 6 });
  assert.equal(l.byteLength, 2 * 3 * 8);
  assert.deepEqual(l.slots[0]!.origin, [2, 3]);
  assert.deepEqual(l.slots[0]!.axes, [{ dim: 0, step: 1, count: 2 }, {
    dim: 1,
    step: 1,
    count: 3,
  }]);
  assert.deepEqual(l.slots[0]!.fields[0]!.strides, [24, 8]);
});

Deno.test("fragmentLayout() throws when a parameter is left unbound", () => {
  const ds = compileDescription(`dataset grid { var temp [8, 6]float64 }
fragment block(r0, r1) { var t = temp[r0:r1, :] }`);
  assert.throws(
    () => fragmentLayout(ds, "block", { r0: 0 }),
    (e) =>
      e instanceof LayoutError && e.message === "Parameter 'r1' of fragment 'block' is not bound",
  );
  assert.throws(
    () => fragmentLayout(ds, "block", { r0: 0, r1: 2, rows: 3 }),
    (e) =>
      e instanceof LayoutError &&
      e.message === "Fragment 'block' has no parameter 'rows': it takes parameters r0, r1",
  );
  assert.throws(
    () => fragmentLayout(ds, "block", { r0: 4, r1: 9 }),
    (e) =>
      e instanceof LayoutError &&
      e.message ===
        "Slice 4:9 is outside index 1 of 'temp' (extent 8): expected 0 <= start < end <= 8",
  );
  assert.throws(
    () => fragmentLayout(ds, "nope"),
    (e) =>
      e instanceof LayoutError &&
      e.message === "Unknown fragment 'nope': the dataset declares 'block'",
  );
});

Deno.test("fragmentLayout() stores struct arrays as columns and converts element types", () => {
  const ds = compileDescription(`dataset particles {
  type Particle struct { x, y, z float64; id int32 }
  var p [100]Particle
}
fragment xyz columnar { var p { x float32, y float32, z float32, id int64 } = p }
fragment aos { var p { id, x float32 } = p }`);
  const cols = fragmentLayout(ds, "xyz");
  assert.deepEqual(
    cols.slots[0]!.fields.map((f) => [f.path, f.type, f.offset, f.strides[0]]),
    [["x", "float32", 0, 4], ["y", "float32", 400, 4], ["z", "float32", 800, 4], [
      "id",
      "int64",
      1200,
      8,
    ]],
  );
  assert.equal(cols.byteLength, 2000);
  const aos = fragmentLayout(ds, "aos");
  assert.deepEqual(aos.slots[0]!.fields.map((f) => [f.path, f.offset, f.strides[0]]), [
    ["id", 0, 8],
    ["x", 4, 8],
  ]);
});

Deno.test("fragmentLayout() lays out rowminor arrays with the first axis fastest", () => {
  const ds = compileDescription(`dataset { var a [3, 4]int16 }
view f rowminor { var a = a }`);
  assert.deepEqual(fragmentLayout(ds, "f").slots[0]!.fields[0]!.strides, [2, 6]);
});

Deno.test("datasetLayout() sizes arrays by a bound integer variable", () => {
  const ds = compileDescription(`dataset { var sz int32
  var data [sz]float32 }`);
  const l = datasetLayout(ds, { sz: 5 });
  assert.equal(l.byteLength, 4 + 20);
  assert.throws(
    () => datasetLayout(ds),
    (e) =>
      e instanceof LayoutError &&
      e.message === "Size of 'data' depends on variable 'sz', which is not bound",
  );
});

Deno.test("datasetLayout() lays out strings as an int16 length plus N bytes and inner arrays packed", () => {
  const ds = compileDescription(`dataset {
  type Rec struct { tag string6; v [3]float32; m [2]struct { a int8; b int16 } }
  var r [2]Rec
}`);
  const l = datasetLayout(ds);
  assert.deepEqual(
    l.slots[0]!.fields.map((f) => [f.path, f.offset, f.count]),
    [["tag", 0, 1], ["v", 8, 3], ["m[0].a", 20, 1], ["m[0].b", 21, 1], ["m[1].a", 23, 1], [
      "m[1].b",
      24,
      1,
    ]],
  );
  assert.equal(l.slots[0]!.fields[0]!.strides[0], 26);
  assert.equal(l.byteLength, 52);
});

Deno.test("fragmentLayout() keeps a fixed index as a dropped dimension", () => {
  const ds = compileDescription(`dataset { var a [4, 5]float64 }
fragment row2 { var r [j] = a[2, j] }
fragment odd { var c [i] = a[i*2 + 1, 0] }`);
  const r = fragmentLayout(ds, "row2").slots[0]!;
  assert.deepEqual(r.origin, [2, 0]);
  assert.deepEqual(r.axes, [{ dim: 1, step: 1, count: 5 }]);
  const c = fragmentLayout(ds, "odd").slots[0]!;
  assert.deepEqual(c.origin, [1, 0]);
  assert.deepEqual(c.axes, [{ dim: 0, step: 2, count: 2 }]);
});

Deno.test("fragmentLayout() gives layouts compilePlan() turns into one converting op per column", () => {
  const ds = compileDescription(`dataset particles {
  type Particle struct { x, y, z float64; id int64 }
  var p [100]Particle
}
fragment all { var p = p }
fragment xy columnar { var p { x float32, y float32 } = p }`);
  const plan = compilePlan([fragmentLayout(ds, "all")], fragmentLayout(ds, "xy"));
  const op = (o: Partial<CopyOp>): CopyOp => ({
    source: 0,
    srcOffset: 0,
    dstOffset: 0,
    counts: [],
    srcStrides: [],
    dstStrides: [],
    from: "uint8",
    to: "uint8",
    ...o,
  });
  assert.deepEqual(plan.ops, [
    op({ counts: [100], srcStrides: [32], dstStrides: [4], from: "float64", to: "float32" }),
    op({
      srcOffset: 8,
      dstOffset: 400,
      counts: [100],
      srcStrides: [32],
      dstStrides: [4],
      from: "float64",
      to: "float32",
    }),
  ]);
});
