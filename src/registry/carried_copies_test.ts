import assert from "node:assert/strict";
import { openRegistry } from "./registry.ts";
import { copiesIn, GRID, keysIn, rows, withRegistry } from "./_testing.ts";
import type { FragmentRecord } from "./records.ts";

const whole = { dataset: "grid", version: 1, fragment: "rows", bindings: { r0: 0, r1: 8 } };

Deno.test("a commit carries the copies it registers in its version's record: one KV row, found again after a restart", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID });
    const answers = await Promise.all([0, 2, 4, 6].map((r) => reg.publishFragment(rows(r, r + 2))));
    assert.deepEqual(answers.map((a) => a.committed), [false, false, false, true]);
    // The blocks rode with the commit: no key of their own, all four in the version's record.
    assert.deepEqual(await keysIn(path, ["fragments", "grid"]), []);
    assert.equal((await copiesIn(path, "grid", 1)).length, 4);
    reg.close();
    await using again = await openRegistry({ path });
    const found = await again.attachFragments({ ...whole, fragment: "even", bindings: {} });
    assert.deepEqual(found.sources.map((s) => s.bindings.r0).sort(), [0, 2, 4, 6]);
    assert.deepEqual(
      (await again.listVersions("grid")).map((v) => [v.version, v.state, v.fragments, v.bytes]),
      [[1, "committed", 4, 256]],
    );
    // Its retirement takes the version's record, and the copies with it.
    await again.publishFragment(rows(0, 8, 2));
    await again.publishFragment(rows(0, 8, 3));
    assert.deepEqual((await copiesIn(path, "grid")).map((k) => k[2]), [2, 3]);
  });
});

Deno.test("replicas added at once to a carried copy: each one answered true survives a restart", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 4 });
    await reg.publishFragment(rows(0, 8));
    assert.deepEqual(await keysIn(path, ["fragments", "grid"]), []);
    const added = await Promise.all(
      ["n2", "n3", "n4"].map((node) => reg.addReplica({ ...whole, node }, "memory")),
    );
    // The first gives the copy a key of its own; the others raced it and changed nothing.
    assert.ok(added.includes(true));
    const kept = ["n2", "n3", "n4"].filter((_, i) => added[i]);
    assert.equal((await keysIn(path, ["fragments", "grid", 1])).length, 1);
    // Later ones go through that key.
    assert.equal(await reg.addReplica({ ...whole, node: "n5" }, "file"), true);
    reg.close();
    await using again = await openRegistry({ path });
    const found = await again.attachFragments(whole);
    assert.deepEqual(found.sources.map((s) => [s.node, s.replicas?.map((p) => p.node)]), [
      ["n1", [...kept, "n5"]],
    ]);
    // The dataset's deletion hands back that copy once, as its own key holds it.
    const freed: FragmentRecord[] = await again.deleteDataset("grid");
    assert.deepEqual(freed.map((r) => r.replicas?.map((p) => p.node)), [[...kept, "n5"]]);
  });
});

Deno.test("a commit of more copies than its version's record carries writes the rest under their own keys", async () => {
  await withRegistry(async (reg, path) => {
    const description = "dataset c { var x [60]float64 }\nfragment cell(r) { var x = x[r:r + 1] }";
    await reg.createDataset({ name: "c", description });
    // Records of about 300 bytes: 60 of them are more than a version's record carries.
    const node = `n${"x".repeat(120)}`;
    await Promise.all(Array.from({ length: 60 }, (_, r) =>
      reg.publishFragment({
        dataset: "c",
        version: 1,
        fragment: "cell",
        bindings: { r },
        node,
        tier: "memory",
        byteLength: 8,
        checksum: 0,
      })));
    const own = (await keysIn(path, ["fragments", "c", 1])).length;
    assert.ok(own > 0 && own < 60, `${own} of 60 copies under keys of their own`);
    assert.deepEqual(await keysIn(path, ["packs", "c"]), []);
    assert.equal((await copiesIn(path, "c", 1)).length, 60);
    reg.close();
    await using again = await openRegistry({ path });
    const found = await again.attachFragments({
      dataset: "c",
      version: 1,
      fragment: "dataset",
      bindings: {},
    });
    assert.equal(found.sources.length, 60);
  });
});
