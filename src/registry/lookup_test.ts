import assert from "node:assert/strict";
import { FIXED_REGIONS } from "./_fixed_regions.ts";
import { openRegistry } from "./registry.ts";

const DESCRIPTION =
  "dataset { var x [8, 4]float64 }\nfragment rows(r, n) { var x = x[r:r + n, :] }";

async function withGrid(fn: (reg: Awaited<ReturnType<typeof openRegistry>>) => Promise<void>) {
  await using reg = await openRegistry({ path: ":memory:" });
  await reg.createDataset({ name: "g", description: DESCRIPTION });
  for (let r = 0; r < 8; r += 2) {
    await reg.publishFragment({
      dataset: "g",
      version: 1,
      fragment: "rows",
      bindings: { r, n: 2 },
      node: `n${r}`,
      tier: "memory",
      byteLength: 64,
      checksum: r,
    });
  }
  await fn(reg);
}

Deno.test("lookups of a region asked for before answer as the first did, and bad regions stay refused", async () => {
  await withGrid(async (reg) => {
    const query = {
      dataset: "g",
      version: "latest" as const,
      fragment: "rows",
      bindings: { r: 1, n: 4 },
    };
    const first = reg.lookupRecords(query);
    assert.deepEqual(first.sources.map((s) => s.node), ["n0", "n2", "n4"]);
    assert.equal(first.byteLength, 4 * 4 * 8);
    assert.deepEqual(reg.lookupRecords(query), first);
    const attached = await reg.attachFragments(query);
    assert.deepEqual(attached.sources.map((s) => s.checksum), [0, 2, 4]);
    // The same numbers under other names, or as text, are other queries.
    assert.throws(() => reg.lookupRecords({ ...query, bindings: { r: 1, m: 4 } }), {
      name: "LayoutError",
    });
    assert.throws(
      () =>
        reg.lookupRecords({
          ...query,
          bindings: { r: 1, n: "4" } as unknown as Record<string, number>,
        }),
      { name: "LayoutError" },
    );
    assert.throws(() => reg.lookupRecords({ ...query, bindings: { r: 7, n: 4 } }), {
      name: "LocatedLayoutError",
    });
  });
});

Deno.test("a dataset keeps at most FIXED_REGIONS region layouts, and answers past them alike", async () => {
  await using reg = await openRegistry({ path: ":memory:" });
  const cells = FIXED_REGIONS * 2;
  await reg.createDataset({
    name: "c",
    description: `dataset { var x [${cells}]float64 }
fragment half(h) { var x = x[h * ${FIXED_REGIONS}:(h + 1) * ${FIXED_REGIONS}] }
fragment cell(r) { var x = x[r:r + 1] }`,
  });
  for (const h of [0, 1]) {
    await reg.publishFragment({
      dataset: "c",
      version: 1,
      fragment: "half",
      bindings: { h },
      node: `n${h}`,
      tier: "memory",
      byteLength: FIXED_REGIONS * 8,
      checksum: h,
    });
  }
  // Every cell twice: the second round finds layouts kept, or laid out again once evicted.
  for (let round = 0; round < 2; round++) {
    for (let r = 0; r < cells; r++) {
      const found = reg.lookupRecords({
        dataset: "c",
        version: 1,
        fragment: "cell",
        bindings: { r },
      });
      assert.deepEqual(found.sources.map((s) => s.node), [r < FIXED_REGIONS ? "n0" : "n1"]);
      assert.equal(found.byteLength, 8);
    }
  }
});
