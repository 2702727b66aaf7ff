import assert from "node:assert/strict";
import { openRegistry } from "./registry.ts";
import { copiesIn, keysIn, withRegistry } from "./_testing.ts";
import { KEYS } from "./keys.ts";
import { ConflictError } from "../errors.ts";
import type { FragmentRecord } from "./records.ts";

const CELLS = "dataset c { var x [400]float64 }\nfragment cell(r) { var x = x[r:r + 1] }";

function cell(r: number, version = 1): FragmentRecord {
  return {
    dataset: "c",
    version,
    fragment: "cell",
    bindings: { r },
    node: "n1",
    tier: "memory",
    byteLength: 8,
    checksum: r,
  };
}

const publishCells = (
  reg: { publishFragment(r: FragmentRecord): Promise<unknown> },
  from: number,
  to: number,
  version = 1,
) =>
  Promise.all(
    Array.from({ length: to - from }, (_, i) => reg.publishFragment(cell(from + i, version))),
  );

Deno.test("copies of one version published at once are written in packs, and found again after a restart", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "c", description: CELLS });
    await publishCells(reg, 0, 300);
    // Not a key per copy: a few packs hold them all.
    assert.deepEqual(await keysIn(path, ["fragments", "c"]), []);
    const packs = (await keysIn(path, ["packs", "c", 1])).length;
    assert.ok(packs >= 1 && packs < 30, `${packs} packs`);
    assert.equal((await copiesIn(path, "c", 1)).length, 300);
    reg.close();
    await using again = await openRegistry({ path });
    assert.deepEqual(
      (await again.listVersions("c")).map((v) => [v.state, v.fragments, v.bytes]),
      [["open", 300, 2400]],
    );
    // The rest closes the version; every copy is found, each with its own record.
    await publishCells(again, 300, 400);
    const found = await again.attachFragments({
      dataset: "c",
      version: 1,
      fragment: "dataset",
      bindings: {},
    });
    assert.deepEqual(
      found.sources.map((s) => s.checksum).sort((a, b) => a - b),
      Array.from({ length: 400 }, (_, r) => r),
    );
  });
});

Deno.test("a version's retirement deletes its packs, and a pack write past the first gets a new id after a restart", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "c", description: CELLS, retention: 1 });
    await publishCells(reg, 0, 400, 1);
    assert.ok((await keysIn(path, ["packs", "c", 1])).length > 0);
    reg.close();
    await using again = await openRegistry({ path });
    const before = (await keysIn(path, ["packs", "c", 1])).map((k) => k[3] as number);
    await publishCells(again, 0, 200, 2);
    const added = (await keysIn(path, ["packs", "c", 2])).map((k) => k[3] as number);
    assert.ok(Math.min(...added) > Math.max(...before), "new packs take new ids");
    await publishCells(again, 200, 400, 2);
    // Version 2 committed and retired version 1: its packs are gone.
    assert.deepEqual(await keysIn(path, ["packs", "c", 1]), []);
    assert.deepEqual((await copiesIn(path, "c")).map((k) => k[2]).filter((v) => v !== 2), []);
  });
});

Deno.test("a replica of a packed copy gets a key of its own, and a dataset's deletion frees each copy once", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "c", description: CELLS });
    await publishCells(reg, 0, 100);
    const copy = { dataset: "c", version: 1, fragment: "cell", bindings: { r: 7 } };
    assert.equal(await reg.addReplica({ ...copy, node: "n2" }, "file"), true);
    assert.deepEqual((await keysIn(path, ["fragments", "c"])).map((k) => k.at(-1)), ["r=7"]);
    reg.close();
    await using again = await openRegistry({ path });
    assert.equal(await again.addReplica({ ...copy, node: "n3" }, "memory"), true);
    const freed = await again.deleteDataset("c");
    assert.equal(freed.length, 100);
    assert.deepEqual(
      freed.filter((r) => r.bindings.r === 7).map((r) => r.replicas?.map((p) => p.node)),
      [["n2", "n3"]],
    );
    for (const prefix of [["packs", "c"], ["fragments", "c"], ["versions", "c"]]) {
      assert.deepEqual(await keysIn(path, prefix), []);
    }
  });
});

Deno.test("a pack never replaces one another process wrote under its key: its publishes fail, nothing is lost", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "c", description: CELLS });
    // Another writer of this store took the key this registry's first pack will use.
    const theirs = { copies: [{ ...cell(399), node: "elsewhere" }] };
    await reg.kv.set(KEYS.pack("c", 1, 1), theirs);
    const first = await Promise.allSettled(
      Array.from({ length: 10 }, (_, r) => reg.publishFragment(cell(r))),
    );
    assert.ok(first.every((r) => r.status === "rejected" && r.reason instanceof ConflictError));
    assert.match(
      String((first[0] as PromiseRejectedResult).reason.message),
      /another process writes this registry's store/,
    );
    assert.deepEqual((await reg.kv.get(KEYS.pack("c", 1, 1))).value, theirs);
    // The next pack takes the next id.
    await publishCells(reg, 0, 10);
    assert.deepEqual((await keysIn(path, ["packs", "c", 1])).map((k) => k[3]), [1, 2]);
  });
});
