import assert from "node:assert/strict";
import { LayoutError } from "../errors.ts";
import { PublishedSizes } from "./published_sizes.ts";

const SETTINGS = {
  name: "p",
  durable: false,
  description: `dataset p { var sz int64; var a [sz]float32; var t [2]float64 }
fragment part(lo, hi) { var sz = sz; var a = a[lo:hi] }
fragment head(n) { var a = a[0:n] }
fragment temps { var t = t }`,
  sizes: {},
};

function part(sz: number, lo: number, hi: number): Uint8Array {
  const bytes = new Uint8Array(8 + 4 * (hi - lo));
  new DataView(bytes.buffer).setBigInt64(0, BigInt(sz), true);
  return bytes;
}

Deno.test("PublishedSizes.bindingsOf() names the sizes a copy's layout depends on", () => {
  const sizes = new PublishedSizes();
  const req = (fragment: string, bindings: Record<string, number>) => ({
    dataset: "p",
    version: 2,
    fragment,
    bindings,
  });
  assert.deepEqual(
    sizes.bindingsOf(SETTINGS, req("part", { lo: 0, hi: 2 }), part(4, 0, 2), {}),
    { lo: 0, hi: 2, sz: 4 },
  );
  // A fragment that does not store the size takes the version's.
  assert.deepEqual(
    sizes.bindingsOf(SETTINGS, req("head", { n: 3 }), new Uint8Array(12), { sz: 4 }),
    { n: 3, sz: 4 },
  );
  // One that needs no size gets none.
  assert.deepEqual(sizes.bindingsOf(SETTINGS, req("temps", {}), new Uint8Array(16), {}), {});
});

Deno.test("PublishedSizes.bindingsOf() refuses sizes that disagree with the bytes or the version", () => {
  const sizes = new PublishedSizes();
  const req = { dataset: "p", version: 2, fragment: "part", bindings: { lo: 2, hi: 4 } };
  assert.throws(() => sizes.bindingsOf(SETTINGS, req, part(5, 2, 4), { sz: 4 }), (e) => {
    assert.ok(e instanceof LayoutError);
    assert.equal(
      e.message,
      "Size variable 'sz' is 4 in version 2 of 'p', but the published bytes hold 5",
    );
    return true;
  });
  assert.throws(
    () =>
      sizes.bindingsOf(
        SETTINGS,
        { ...req, fragment: "head", bindings: { n: 2 } },
        new Uint8Array(8),
        {},
      ),
    { message: /depends on variable 'sz', which is not bound and not published before it/ },
  );
});

Deno.test("PublishedSizes.layoutBindings() knows a publish's size only once the version holds it", () => {
  const sizes = new PublishedSizes();
  assert.equal(
    sizes.layoutBindings(SETTINGS, { fragment: "head", bindings: { n: 2 } }, {}),
    undefined,
  );
  assert.deepEqual(
    sizes.layoutBindings(SETTINGS, { fragment: "head", bindings: { n: 2 } }, { sz: 4 }),
    { n: 2, sz: 4 },
  );
  assert.deepEqual(sizes.layoutBindings(SETTINGS, { fragment: "temps", bindings: {} }, {}), {});
});
