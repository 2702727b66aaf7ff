import assert from "node:assert/strict";
import { LayoutError } from "../errors.ts";
import {
  compileDescription,
  datasetLayout,
  fragmentLayout,
  layoutSizeVariables,
  publishableSizes,
  publishedSizes,
} from "./mod.ts";

/** The paper's variable-sized array, and views of it. */
const PAPER = `dataset {
  var sz int32
  var b [5,5]float64
  var c [sz]float32
}
view all { var sz = sz; var c = c }
view tail { var c = c }
view late { var c = c; var sz = sz }`;

function published(sz: number, floats: number): Uint8Array {
  const bytes = new Uint8Array(8 + 200 + 4 * floats);
  new DataView(bytes.buffer).setInt32(0, sz, true);
  return bytes;
}

Deno.test("publishedSizes() takes an array's size from the published size variable", () => {
  const ds = compileDescription(PAPER);
  const bytes = published(6, 6);
  assert.deepEqual(publishedSizes(ds, bytes), { sz: 6 });
  const layout = datasetLayout(ds, { sz: 6 });
  assert.equal(layout.byteLength, bytes.byteLength);
  assert.deepEqual(layout.slots.map((s) => s.fields[0]!.offset), [0, 8, 208]);
  const view = new Uint8Array(4 + 4 * 3);
  new DataView(view.buffer).setInt32(0, 3, true);
  assert.deepEqual(publishedSizes(ds, view, { fragment: "all" }), { sz: 3 });
  assert.equal(fragmentLayout(ds, "all", { sz: 3 }).byteLength, 16);
});

Deno.test("publishedSizes() refuses a published size that disagrees with the bytes", () => {
  const ds = compileDescription(PAPER);
  const refused = (bytes: Uint8Array, message: string, options = {}) =>
    assert.throws(() => publishedSizes(ds, bytes, options), (e) => {
      assert.ok(e instanceof LayoutError, `expected LayoutError, got ${e}`);
      assert.equal(e.message, message);
      return true;
    });
  refused(published(6, 5), "Cannot publish the dataset: expected 232 bytes (sz = 6), received 228");
  refused(published(0, 0), "Size variable 'sz' must be a positive integer, found 0");
  refused(published(-3, 0), "Size variable 'sz' must be a positive integer, found -3");
  refused(
    published(6, 6),
    "Size variable 'sz' is 5 in this dataset, but the published bytes hold 6",
    { bindings: { sz: 5 } },
  );
  refused(
    new Uint8Array(2),
    "Cannot read size variable 'sz': expected at least 4 bytes, received 2",
  );
  refused(
    new Uint8Array(12),
    "Size of 'c' depends on variable 'sz', which is not bound and not published before it in fragment 'tail'",
    { fragment: "tail" },
  );
  refused(
    new Uint8Array(12),
    "Size of 'c' depends on variable 'sz', which is not bound and not published before it in fragment 'late'",
    { fragment: "late" },
  );
});

Deno.test("publishedSizes() uses a bound size for a fragment that does not store it", () => {
  const ds = compileDescription(PAPER);
  assert.deepEqual(
    publishedSizes(ds, new Uint8Array(12), { fragment: "tail", bindings: { sz: 3 } }),
    {},
  );
});

Deno.test("publishedSizes() names where a bound size comes from", () => {
  const ds = compileDescription(PAPER);
  assert.throws(
    () => publishedSizes(ds, published(6, 6), { bindings: { sz: 5 }, sizesOf: "version 2 of 'p'" }),
    { message: "Size variable 'sz' is 5 in version 2 of 'p', but the published bytes hold 6" },
  );
});

Deno.test("layoutSizeVariables() lists the size variables of what a layout stores", () => {
  const ds = compileDescription(PAPER);
  assert.deepEqual(layoutSizeVariables(ds), ["sz"]);
  assert.deepEqual(layoutSizeVariables(ds, "tail"), ["sz"]);
  assert.deepEqual(layoutSizeVariables(ds, "nope"), []);
  const two = compileDescription(`dataset { var n, m int32; var a [n]int8; var b [m]int8 }
fragment bs { var b = b }`);
  assert.deepEqual(layoutSizeVariables(two), ["n", "m"]);
  assert.deepEqual(layoutSizeVariables(two, "bs"), ["m"]);
});

Deno.test("publishableSizes() finds size variables stored before the arrays they size", () => {
  assert.deepEqual([...publishableSizes(compileDescription(PAPER))], ["sz"]);
  // Only a fragment stores it first: still publishable, through that fragment.
  const late = compileDescription(`dataset { var c [sz]float32; var sz int32 }
view first { var sz = sz; var c = c }`);
  assert.deepEqual([...publishableSizes(late)], ["sz"]);
  // A read-only view is never published.
  const readOnly = compileDescription(`dataset { var c [sz]float32; var sz int32 }
view first read-only { var sz = sz; var c = c }`);
  assert.deepEqual([...publishableSizes(readOnly)], []);
});
