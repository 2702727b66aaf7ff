import assert from "node:assert/strict";
import { compileDescription, fragmentLayout } from "../ddl/mod.ts";
import { LayoutError } from "../errors.ts";
import { fieldTable, packOutput } from "./fields.ts";

const DS = `dataset {
  type P struct { pos [3]float32; e float64; id int64; tag string8 }
  var p [4]P
  var grid [2, 3]int16
}
fragment cols columnar { var q { pos, e } = p }
fragment one columnar { var es { e } = p }
fragment aos { var q { pos, e } = p }
fragment tags columnar { var t { tag } = p }
fragment g { var g = grid }`;

Deno.test("fieldTable() names fields, aliases single-field slots and gives their extents", () => {
  const ds = compileDescription(DS);
  assert.deepEqual(
    fieldTable(fragmentLayout(ds, "cols")).map((
      f,
    ) => [f.name, f.aliases, f.type, f.length, f.shape]),
    [
      ["q.pos", [], "float32", 12, [4, 3]],
      ["q.e", [], "float64", 4, [4]],
    ],
  );
  assert.deepEqual(fieldTable(fragmentLayout(ds, "one")).map((f) => [f.name, f.aliases]), [
    ["es.e", ["es"]],
  ]);
  assert.deepEqual(fieldTable(fragmentLayout(ds, "g")).map((f) => [f.name, f.shape, f.offset]), [
    ["g", [2, 3], 0],
  ]);
});

Deno.test("fieldTable() refuses interleaved and string fields", () => {
  const ds = compileDescription(DS);
  assert.throws(() => fieldTable(fragmentLayout(ds, "aos")), (e) => {
    assert.ok(e instanceof LayoutError);
    assert.equal(
      e.message,
      "Field 'q.pos' is interleaved with other fields: declare the fragment columnar so each field is one array",
    );
    return true;
  });
  assert.throws(
    () => fieldTable(fragmentLayout(ds, "tags")),
    /Field 't.tag' is a string8: functions take numeric fields only/,
  );
});

Deno.test("packOutput() places each array at its field and refuses what does not fit", () => {
  const ds = compileDescription(DS);
  const layout = fragmentLayout(ds, "cols");
  const fields = fieldTable(layout);
  const pos = Float32Array.from({ length: 12 }, (_, i) => i);
  const e = new Float64Array([1, 2, 3, 4]);
  const out = packOutput(layout, fields, { "q.pos": pos, "q.e": e });
  assert.deepEqual([...new Float32Array(out.buffer, 0, 12)], [...pos]);
  assert.deepEqual([...new Float64Array(out.buffer, fields[1]!.offset, 4)], [...e]);
  const bad = (arrays: Record<string, unknown>, message: string) =>
    assert.throws(() => packOutput(layout, fields, arrays), { name: "TypeError", message });
  bad({ "q.pos": pos }, "Missing output field 'q.e'");
  bad(
    { "q.pos": pos, "q.e": new Float32Array(4) },
    "Output field 'q.e': expected a Float64Array, found a Float32Array",
  );
  bad(
    { "q.pos": pos, "q.e": new Float64Array(3) },
    "Output field 'q.e': expected 4 elements, found 3",
  );
  bad(
    { "q.pos": pos, "q.e": [1, 2, 3, 4] },
    "Output field 'q.e': expected a Float64Array, found an array",
  );
  bad(
    { "q.pos": pos, "q.e": e, "q.x": e },
    "Unknown output field 'q.x': the output fragment holds q.pos, q.e",
  );
  bad(
    new Float64Array(2) as unknown as Record<string, unknown>,
    "Expected an object of typed arrays (q.pos, q.e), found a Float64Array",
  );
});
