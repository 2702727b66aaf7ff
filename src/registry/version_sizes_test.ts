import assert from "node:assert/strict";
import { ConflictError, LayoutError, SizeMismatchError } from "../errors.ts";
import { rejectsWith, withRegistry } from "./_testing.ts";
import type { FragmentRecord } from "./records.ts";
import { openRegistry } from "./registry.ts";
import { datasetEntry, newVersion } from "./_state.ts";
import { restoreSizes, wholeOf } from "./_version_sizes.ts";
import { Tally } from "./tally.ts";

/** DRepl's variable-sized array: its size is published with it, per version. */
const DREPL = `dataset p {
  var sz int64
  var a [sz]float32
  var t [2]float64
}
fragment head(n) { var a = a[0:n] }
fragment temps { var t = t }`;

function copy(
  version: number,
  fragment: string,
  bindings: Record<string, number>,
  byteLength: number,
): FragmentRecord {
  return {
    dataset: "p",
    version,
    fragment,
    bindings,
    node: "n1",
    tier: "memory",
    byteLength,
    checksum: 0,
  };
}

/** The whole dataset with `sz` elements: 8 + 4 sz bytes, then 16 aligned to 8. */
function whole(sz: number): number {
  return Math.ceil((8 + 4 * sz) / 8) * 8 + 16;
}

Deno.test("createDataset() takes a DRepl dataset without sizes, and each version records its own", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "p", description: DREPL });
    const d = await reg.describeDataset("p");
    assert.deepEqual([d.sizes, d.sizesPerVersion, d.byteLength], [{}, ["sz"], null]);
    assert.deepEqual(await reg.datasetSettings("p"), {
      name: "p",
      durable: false,
      consumers: [],
      description: DREPL,
      sizes: {},
    });
    assert.deepEqual(
      await reg.publishFragment(copy(1, "dataset", { sz: 3 }, whole(3))),
      { committed: true },
    );
    assert.deepEqual(
      await reg.publishFragment(copy(2, "dataset", { sz: 6 }, whole(6))),
      { committed: true },
    );
    assert.deepEqual((await reg.listVersions("p")).map((v) => [v.version, v.sizes]), [
      [1, { sz: 3 }],
      [2, { sz: 6 }],
    ]);
    const one = await reg.attachFragments({
      dataset: "p",
      version: 1,
      fragment: "dataset",
      bindings: {},
    });
    assert.deepEqual([one.layout.byteLength, one.sizes], [whole(3), { sz: 3 }]);
    const latest = await reg.attachFragments({
      dataset: "p",
      version: "latest",
      fragment: "head",
      bindings: { n: 4 },
    });
    assert.deepEqual([latest.version, latest.layout.byteLength, latest.sizes], [2, 16, { sz: 6 }]);
    // Version 1 holds 3 elements: 4 of them are outside it.
    await assert.rejects(
      reg.attachFragments({ dataset: "p", version: 1, fragment: "head", bindings: { n: 4 } }),
      LayoutError,
    );
    await rejectsWith(
      reg.attachFragments({ dataset: "p", version: 1, fragment: "dataset", bindings: { sz: 6 } }),
      LayoutError,
      "invalid_layout",
      "Size variable 'sz' is 3 in version 1 of 'p', found 6",
    );
  });
});

Deno.test("publishFragment() lays a version out with its recorded sizes and refuses others", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "p", description: DREPL });
    // Nothing sized yet: a fragment that needs the size cannot be laid out.
    await rejectsWith(
      reg.publishFragment(copy(1, "head", { n: 2 }, 8)),
      LayoutError,
      "invalid_layout",
      "Size of 'a' depends on variable 'sz', which is not bound",
    );
    await reg.publishFragment(copy(1, "temps", {}, 16));
    await rejectsWith(
      reg.commitVersion("p", 1),
      ConflictError,
      "conflict",
      "Cannot commit version 1 of 'p': no copy published into it gives size variable 'sz', publish a fragment that stores it first",
    );
    await reg.publishFragment(copy(1, "head", { n: 2, sz: 5 }, 8));
    assert.deepEqual(await reg.versionSizes("p", 1), { sz: 5 });
    // Later copies of the version may leave the size out, or repeat it, not change it.
    await reg.publishFragment(copy(1, "head", { n: 1 }, 4));
    const before = await reg.listVersions("p");
    await rejectsWith(
      reg.publishFragment(copy(1, "dataset", { sz: 6 }, whole(6))),
      LayoutError,
      "invalid_layout",
      "Size variable 'sz' is 5 in version 1 of 'p', found 6",
    );
    await rejectsWith(
      reg.publishFragment(copy(1, "dataset", { sz: 5 }, whole(9))),
      SizeMismatchError,
      "size_mismatch",
      `Cannot publish fragment 'dataset': expected ${whole(5)} bytes, received ${whole(9)}`,
    );
    assert.deepEqual(await reg.listVersions("p"), before);
    assert.deepEqual(
      await reg.publishFragment(copy(1, "dataset", { sz: 5 }, whole(5))),
      { committed: true },
    );
    // Another version is free to hold another size.
    await reg.publishFragment(copy(2, "head", { n: 2, sz: 9 }, 8));
    assert.deepEqual(await reg.versionSizes("p", 2), { sz: 9 });
    assert.deepEqual(await reg.versionSizes("p", 3), {});
  });
});

Deno.test("openRegistry() finds each version's sizes again after a close", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "p", description: DREPL, retention: 4 });
    await reg.publishFragment(copy(1, "dataset", { sz: 3 }, whole(3)));
    await reg.publishFragment(copy(2, "temps", {}, 16));
    await reg.publishFragment(copy(2, "head", { n: 1, sz: 7 }, 4));
    reg.close();
    await using again = await openRegistry({ path });
    assert.deepEqual((await again.listVersions("p")).map((v) => [v.state, v.sizes]), [
      ["committed", { sz: 3 }],
      ["open", { sz: 7 }],
    ]);
    await rejectsWith(
      again.publishFragment(copy(2, "dataset", { sz: 8 }, whole(8))),
      LayoutError,
      "invalid_layout",
      "Size variable 'sz' is 7 in version 2 of 'p', found 8",
    );
    const { layout } = await again.attachFragments({
      dataset: "p",
      version: 1,
      fragment: "dataset",
      bindings: {},
    });
    assert.equal(layout.byteLength, whole(3));
  });
});

/** A dataset's in-memory entry, as the registry makes it at create. */
function entry(name: string, description: string) {
  return datasetEntry({
    name,
    description,
    retention: 2,
    durable: false,
    overwrite: false,
    sizes: {},
    createdAt: 1,
  });
}

Deno.test("restoreSizes() keeps the whole layout and coverage when no size changes", () => {
  const d = entry("t", "dataset { var x [4]float64 }");
  const v = newVersion(d, 1);
  const coverage = new Tally(wholeOf(d, v)!);
  v.coverage = coverage;
  restoreSizes(d, v);
  assert.equal(v.coverage, coverage);
  assert.deepEqual(v.sizes, {});
});

Deno.test("restoreSizes() drops a size only a failed copy gave, with the whole layout", () => {
  const d = entry("p", DREPL);
  const v = newVersion(d, 1);
  v.storedSizes = { sz: 2 };
  v.sizes = { sz: 2 };
  restoreSizes(d, v);
  assert.deepEqual(v.sizes, { sz: 2 });
  v.sizes = { sz: 5 };
  restoreSizes(d, v);
  assert.deepEqual(v.sizes, { sz: 2 });
  assert.equal(v.whole, undefined);
});
