import assert from "node:assert/strict";
import { compileDescription } from "../ddl/mod.ts";
import {
  checkDescriptionSize,
  checkName,
  checkRetention,
  checkSizes,
  checkVersion,
  regionOf,
  sizeVariables,
} from "./validate.ts";

Deno.test("checkName() accepts a letter then letters, digits, '_', '.' and '-', up to 128", () => {
  for (const ok of ["a", "grid.v2", "A_b-c", "x".repeat(128)]) checkName("dataset", ok);
  for (const bad of ["", "9a", "_a", "a b", "a/b", "x".repeat(129), 7]) {
    assert.throws(() => checkName("dataset", bad), { code: "invalid_request" }, String(bad));
  }
  assert.throws(() => checkName("node", "a b"), {
    message:
      "Invalid node name 'a b': expected a letter then up to 127 letters, digits, '_', '.' or '-'",
  });
});

Deno.test("checkVersion() and checkRetention() accept integers >= 1 only", () => {
  checkVersion(1);
  checkRetention(10);
  for (const bad of [0, -1, 1.5, NaN, "1", Number.MAX_SAFE_INTEGER + 1]) {
    assert.throws(() => checkVersion(bad), { code: "invalid_request" });
    assert.throws(() => checkRetention(bad), { code: "invalid_request" });
  }
});

Deno.test("checkDescriptionSize() refuses text over 32 KiB of UTF-8", () => {
  checkDescriptionSize("x".repeat(32 * 1024));
  assert.throws(() => checkDescriptionSize("é".repeat(16 * 1024 + 1)), {
    message: "Description too large: expected at most 32768 bytes, received 32770",
  });
});

Deno.test("checkSizes() refuses unknown size variables and negative sizes", () => {
  const ds = compileDescription("dataset { var n int64\n var x [n]float64 }");
  assert.deepEqual([...sizeVariables(ds)], ["n"]);
  checkSizes(ds, { n: 0 });
  assert.throws(() => checkSizes(ds, { n: -1 }), {
    message: "Invalid size 'n': expected a non-negative integer, found -1",
  });
});

Deno.test("regionOf() drops size variables bound to the dataset's value from the region", () => {
  const sizes = new Set(["n"]);
  assert.deepEqual(regionOf({ r0: 1, n: 4 }, sizes, { n: 4 }), {
    params: { r0: 1 },
    layoutBindings: { n: 4, r0: 1 },
    sizes: {},
  });
  assert.throws(() => regionOf({ n: 5 }, sizes, { n: 4 }), {
    code: "invalid_layout",
    message: "Size variable 'n' is 4 in this dataset, found 5",
  });
});

Deno.test("regionOf() returns size variables the known sizes do not hold, refusing non-positive ones", () => {
  const sizes = new Set(["n"]);
  assert.deepEqual(regionOf({ r0: 1, n: 6 }, sizes, {}), {
    params: { r0: 1 },
    layoutBindings: { n: 6, r0: 1 },
    sizes: { n: 6 },
  });
  assert.throws(() => regionOf({ n: 0 }, sizes, {}), {
    code: "invalid_layout",
    message: "Size variable 'n' must be a positive integer, found 0",
  });
  assert.throws(() => regionOf({ n: 5 }, sizes, { n: 6 }, { where: "version 2 of 'p'" }), {
    code: "invalid_layout",
    message: "Size variable 'n' is 6 in version 2 of 'p', found 5",
  });
});
