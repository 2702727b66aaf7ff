import assert from "node:assert/strict";
import { compileDescription, datasetLayout, fragmentLayout, parseDescription } from "./mod.ts";

function fields(l: ReturnType<typeof datasetLayout>) {
  return l.slots.flatMap((s) =>
    s.fields.map((f) => `${s.name}.${f.path || "*"}:${f.offset}/${f.strides.join("x")}`)
  );
}

/** The paper's examples, as printed (line breaks included). */
const PAPER = `
dataset {
  const N = 10
  type Point struct {
    a float64
    b, c float32
  }
  var sz int32
  var b [5,5]float64
  var data [N]Point
  var p struct { a,
    b, c float32 }
}
view default { var p = p }
view viz read-only rowminor {
  type Subpoint {
    a, c
  } Point
  type PointB { b } Point
  var pa { a } = p
  var pba { b, a } =
    p
  var bb [] {
    b
  } = data
  var d [i] {
    b
  } = data[i*3]
  var e [i]PointB = data[i*3]
  var s [i]Subpoint = data[i*5]
}
replica default { view default }
replica viz { view viz }
`;

Deno.test("compileDescription() accepts the paper's examples as printed", () => {
  const ds = compileDescription(PAPER);
  const viz = fragmentLayout(ds, "viz");
  assert.deepEqual(fields(viz), [
    "pa.a:0/",
    "pba.b:4/",
    "pba.a:8/",
    "bb.b:12/4",
    "d.b:52/4",
    "e.b:68/4",
    "s.a:88/12",
    "s.c:96/12",
  ]);
  assert.equal(ds.fragments.get("viz")!.decl.order, "rowminor");
  assert.deepEqual(fields(fragmentLayout(ds, "default")), ["p.a:0/", "p.b:4/", "p.c:8/"]);
  assert.deepEqual(
    ds.description.replicas.map((r) => [r.name, r.file, r.complete, r.views.join()]),
    [["default", undefined, false, "default"], ["viz", undefined, false, "viz"]],
  );
});

Deno.test("parseDescription() separates selected fields by ',', ';' or line breaks", () => {
  const src = `dataset { var p [4]struct { a, b, c float64 } }
view semi { var q { b; a } = p }
view lines { var q {
  c
  a;
  b,
} = p }`;
  const d = parseDescription(src);
  assert.deepEqual(d.fragments[0]!.vars[0]!.element, {
    kind: "select",
    fields: [{ path: "b", pos: { line: 2, col: 21 } }, { path: "a", pos: { line: 2, col: 24 } }],
    pos: { line: 2, col: 19 },
  });
  const ds = compileDescription(src);
  assert.deepEqual(
    fragmentLayout(ds, "lines").slots[0]!.fields.map((f) => f.path),
    ["c", "a", "b"],
  );
});

Deno.test("parseDescription() selects fields of a nested struct with nested braces", () => {
  const ds = compileDescription(`dataset {
  type Vec struct { x, y, z float64 }
  type Particle struct { id int64; pos, vel Vec; m float32 }
  var p [8]Particle
}
view a { var q { id; pos { x, z } } = p }
view b { var q { pos, vel { y } } = p }
view c { var q { pos { z float32; x } } = p }
view d { var q {
  vel {
    x
    y
  }
  m
} = p }`);
  const paths = (f: string) =>
    fragmentLayout(ds, f).slots[0]!.fields.map((x) => `${x.path}:${x.type}`);
  assert.deepEqual(paths("a"), ["id:int64", "pos.x:float64", "pos.z:float64"]);
  assert.deepEqual(paths("b"), ["pos.y:float64", "vel.y:float64"]);
  assert.deepEqual(paths("c"), ["pos.z:float32", "pos.x:float64"]);
  assert.deepEqual(paths("d"), ["vel.x:float64", "vel.y:float64", "m:float32"]);
});

Deno.test("parseDescription() takes the released spellings readonly and columnmajor", () => {
  const d = parseDescription(`dataset { var t [2, 3]float64 }
view a readonly columnmajor { var t = t }
view b read-only rowminor { var t = t }
view c default { var t = t }`);
  const flags = d.fragments.map((f) => `${f.name}:${f.readOnly}:${f.order}`);
  assert.deepEqual(flags, ["a:true:rowminor", "b:true:rowminor", "c:false:rowmajor"]);
  const ds = compileDescription(`dataset { var t [2, 3]float64 }
view a readonly columnmajor { var t = t }`);
  assert.deepEqual(fragmentLayout(ds, "a").slots[0]!.fields[0]!.strides, [8, 16]);
});

Deno.test("parseDescription() reads replicas with or without a file name, complete before or after the name", () => {
  const d = parseDescription(`dataset { var t [4]float64 }
view v { var t = t }
replica r1 { view v }
replica r2 complete { view v }
replica r3 "r3.dat" complete { view v }
replica complete r4 { view v }
replica complete "c.dat" { view v }`);
  assert.deepEqual(
    d.replicas.map((r) => `${r.name}:${r.file ?? "-"}:${r.complete}`),
    ["r1:-:false", "r2:-:true", "r3:r3.dat:true", "r4:-:true", "complete:c.dat:false"],
  );
});

Deno.test("compileDescription() evaluates % with the sign of the dividend", () => {
  const ds = compileDescription(`dataset {
  const A = 17 % 5
  const B = -7 % 3
  const C = 2 + 10 % 4 * 3
  var t [A + 10]float64
}
view v { var e [i] = t[(C % 5) + i*A] }`);
  assert.deepEqual([ds.consts.get("A"), ds.consts.get("B"), ds.consts.get("C")], [2, -1, 8]);
  const slot = fragmentLayout(ds, "v").slots[0]!;
  assert.deepEqual([slot.origin, slot.axes], [[3], [{ dim: 0, step: 2, count: 5 }]]);
  assert.throws(() => compileDescription("dataset { const Z = 1 % 0 }"), /1:23: Division by zero/);
});

Deno.test("datasetLayout() aligns a struct as its first field and an array as its element", () => {
  const ds = compileDescription(`dataset {
  var a int8
  var s struct { c int32; d float64 }
  var b int8
  var u [3]struct { c int8; d float64 }
  var w [2]struct { inner struct { e int16; f float64 }; g int8 }
  var x float64
}
view sel { var q int8 = a; var r { d, c } = s }`);
  assert.deepEqual(fields(datasetLayout(ds)), [
    "a.*:0/",
    "s.c:4/",
    "s.d:8/",
    "b.*:16/",
    "u.c:17/9",
    "u.d:18/9",
    "w.inner.e:44/11",
    "w.inner.f:46/11",
    "w.g:54/11",
    "x.*:72/",
  ]);
  assert.deepEqual(fields(fragmentLayout(ds, "sel")), ["q.*:0/", "r.d:8/", "r.c:16/"]);
});
