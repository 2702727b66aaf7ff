import assert from "node:assert/strict";
import { StrataError } from "../errors.ts";
import {
  compileDescription,
  datasetLayout,
  descriptionFromJson,
  descriptionToJson,
  fragmentLayout,
  printDescription,
} from "./mod.ts";

const DESCRIPTIONS = [
  `dataset particles {
  const N = 2 * (3 + 5)
  type Point struct { a float64; b, c float32 }
  var data [N]Point
  var temp [4, 8]float64
  var n int32
  var v [n]float32
}
view viz read-only rowminor {
  type PointB { b } Point
  var b [] { b } = data
  var d [i] = data[i*5]
  var e [i]PointB = data[i*3 + 1]
  var t [i, j] = temp[j, i]
}
fragment block(r0, r1, c0, c1) columnar { var t float32 = temp[r0:r1, c0:c1:2] }
fragment row { var r [j] = temp[-(-2), j] }
replica r "viz.dat" complete { view viz, block }
`,
  "dataset { var p struct { a, b, c float64 } }\nfragment viz { var pa { a } = p; var pba { b, a } = p }",
  `dataset {
  type V struct { pos [3]float32; tag string8 }
  var cells [2, 3, 4]V
}
fragment pos { var p [k, j, i] { pos } = cells[i, j, k] }
`,
];

Deno.test("descriptionFromJson() gives back the same model as the text", () => {
  for (const text of DESCRIPTIONS) {
    const ds = compileDescription(text);
    const json = descriptionToJson(ds.description);
    const again = descriptionFromJson(JSON.parse(JSON.stringify(json)));
    assert.deepEqual(descriptionToJson(again.description), json);
    assert.deepEqual(datasetLayout(again, { n: 7 }), datasetLayout(ds, { n: 7 }));
    for (const name of ds.fragments.keys()) {
      const b = { r0: 1, r1: 3, c0: 2, c1: 7 };
      const bind = ds.fragments.get(name)!.decl.params.length > 0 ? b : {};
      assert.deepEqual(fragmentLayout(again, name, bind), fragmentLayout(ds, name, bind));
    }
  }
});

Deno.test("printDescription() output parses to the same model", () => {
  for (const text of DESCRIPTIONS) {
    const json = descriptionToJson(compileDescription(text).description);
    const printed = printDescription(json);
    assert.deepEqual(descriptionToJson(compileDescription(printed).description), json);
  }
});

Deno.test("descriptionFromJson() names the JSON path of a malformed description", () => {
  const base = descriptionToJson(compileDescription(DESCRIPTIONS[1]!).description);
  const cases: [unknown, string][] = [
    [null, "Invalid description JSON at $: expected an object, found null"],
    [{ ...base, vars: {} }, "Invalid description JSON at $.vars: expected an array, found {}"],
    [
      { ...base, vars: [{ name: "a b", type: { kind: "named", name: "int8" } }] },
      'Invalid description JSON at $.vars[0].name: expected a name, found "a b"',
    ],
    [
      { ...base, vars: [{ name: "x", type: { kind: "tuple" } }] },
      'Invalid description JSON at $.vars[0].type.kind: expected named | struct | array, found "tuple"',
    ],
    [
      { ...base, replicas: [{ name: "r", file: 'a"b', complete: false, views: [] }] },
      'Invalid description JSON at $.replicas[0].file: expected a file name, found "a\\"b"',
    ],
  ];
  for (const [json, message] of cases) {
    assert.throws(
      () => descriptionFromJson(json),
      (e) => e instanceof StrataError && e.code === "invalid_description" && e.message === message,
    );
  }
});

Deno.test("descriptionFromJson() reports language errors with line and column", () => {
  const json = descriptionToJson(compileDescription("dataset { var x [4]float64 }").description);
  const bad = { ...json, vars: [{ name: "x", type: { kind: "named", name: "Point" } }] };
  assert.throws(
    () => descriptionFromJson(bad),
    (e) => e instanceof StrataError && e.message.startsWith("2:9: Unknown type 'Point'"),
  );
});
