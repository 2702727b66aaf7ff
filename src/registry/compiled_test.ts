import assert from "node:assert/strict";
import { DescriptionError } from "../errors.ts";
import { compileShared, sharedWhole } from "./_compiled.ts";
import { openRegistry } from "./registry.ts";

Deno.test("compileShared() returns one compiled form per description text", () => {
  const a = compileShared("dataset { var x [4]float64 }");
  assert.equal(compileShared("dataset { var x [4]float64 }"), a);
  assert.notEqual(compileShared("dataset { var x [8]float64 }"), a);
});

Deno.test("compileShared() throws for a bad description every time", () => {
  for (let i = 0; i < 2; i++) {
    assert.throws(() => compileShared("dataset { var x [4]nosuchtype }"), DescriptionError);
  }
});

Deno.test("sharedWhole() is the whole layout of the compiled description", () => {
  const ds = compileShared("dataset { var x [4]float64\n var y [2]int8 }");
  assert.equal(sharedWhole(ds).byteLength, 34);
});

Deno.test("datasets created from one text share its compiled form and keep their own settings", async () => {
  await using reg = await openRegistry({ path: ":memory:" });
  const description = "dataset { var n int64\n var x [n]float64 }";
  await reg.createDataset({ name: "a", description, sizes: { n: 4 } });
  await reg.createDataset({ name: "b", description, sizes: { n: 8 } });
  const a = await reg.fragmentLayout("a", "dataset", {});
  const b = await reg.fragmentLayout("b", "dataset", {});
  assert.equal(b.byteLength - a.byteLength, 32);
});
