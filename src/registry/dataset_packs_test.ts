import assert from "node:assert/strict";
import { withRegistry } from "./_testing.ts";
import { openRegistry, type Registry } from "./registry.ts";
import type { DatasetRecord, StoredDatasetPack } from "./records.ts";

const DESCRIPTION = "dataset cells { var t [64]int8 }\nfragment cell(r) { var t = t[r:r + 1] }";

/** Creates `names` at once, as concurrent requests do. */
async function createAll(reg: Registry, names: readonly string[]): Promise<void> {
  await Promise.all(names.map((name) => reg.createDataset({ name, description: DESCRIPTION })));
}

/** The dataset packs stored, by id. */
async function packs(kv: Deno.Kv): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for await (const e of kv.list<StoredDatasetPack>({ prefix: ["dataset_packs"] })) {
    out.set(e.key[1] as number, e.value.datasets.map((r) => r.name));
  }
  return out;
}

/** Names with a row of their own. */
async function rows(kv: Deno.Kv): Promise<string[]> {
  const out: string[] = [];
  for await (const e of kv.list<DatasetRecord>({ prefix: ["datasets"] })) out.push(e.value.name);
  return out;
}

const names = (n: number, prefix = "d") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Reopens the registry at `path` and answers its dataset names, closing it. */
async function namesAfterRestart(path: string): Promise<string[]> {
  await using again = await openRegistry({ path });
  return (await again.listDatasets()).map((d) => d.name);
}

Deno.test("datasets created together share pack rows, and load again as they were created", async () => {
  await withRegistry(async (reg, path) => {
    const all = names(120);
    await createAll(reg, all);
    const stored = await packs(reg.kv);
    // 120 records of about 250 bytes: a few packs, no row each.
    assert.ok(stored.size >= 2 && stored.size <= 10, `${stored.size} packs`);
    assert.deepEqual([...stored.values()].flat().sort(), [...all].sort());
    assert.deepEqual(await rows(reg.kv), []);
    const before = await Promise.all(all.map((n) => reg.describeDataset(n)));
    reg.close();
    await using again = await openRegistry({ path });
    assert.deepEqual(await Promise.all(all.map((n) => again.describeDataset(n))), before);
    // A name taken in a pack stays taken.
    await assert.rejects(
      again.createDataset({ name: "d7", description: DESCRIPTION }),
      /Dataset 'd7' exists/,
    );
  });
});

Deno.test("a dataset created alone still gets a row of its own", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "solo", description: DESCRIPTION });
    assert.deepEqual(await rows(reg.kv), ["solo"]);
    assert.equal((await packs(reg.kv)).size, 0);
  });
});

Deno.test("deleting datasets takes them out of their pack, and the last one takes the pack", async () => {
  await withRegistry(async (reg, path) => {
    const all = names(30);
    await createAll(reg, all);
    // Deletions of members of the same packs at once.
    const gone = all.filter((_, i) => i % 3 !== 0);
    await Promise.all(gone.map((n) => reg.deleteDataset(n)));
    const kept = all.filter((_, i) => i % 3 === 0).sort();
    assert.deepEqual([...(await packs(reg.kv)).values()].flat().sort(), kept);
    assert.deepEqual(await rows(reg.kv), []);
    reg.close();
    assert.deepEqual((await namesAfterRestart(path)).sort(), kept);
    await using again = await openRegistry({ path });
    for (const n of kept) await again.deleteDataset(n);
    assert.equal((await packs(again.kv)).size, 0);
    assert.deepEqual(await again.listDatasets(), []);
  });
});

Deno.test("a deletion a crash interrupted finishes at load, the pack written without the name", async () => {
  await withRegistry(async (reg, path) => {
    await createAll(reg, ["a", "b"]);
    await reg.publishFragment({
      dataset: "a",
      version: 1,
      fragment: "dataset",
      bindings: {},
      node: "n1",
      tier: "memory",
      byteLength: 64,
      checksum: 0,
    });
    // What the deletion's first write leaves: the dataset's own row, marked.
    const a = (await packs(reg.kv)).size === 1 ? await recordIn(reg.kv, "a") : undefined;
    assert.ok(a !== undefined);
    await reg.kv.set(["datasets", "a"], { ...a, deleting: true });
    reg.close();
    await using again = await openRegistry({ path });
    assert.deepEqual((await again.listDatasets()).map((d) => d.name), ["b"]);
    assert.deepEqual([...(await packs(again.kv)).values()], [["b"]]);
    assert.deepEqual(await rows(again.kv), []);
    const left = [];
    for await (const e of again.kv.list({ prefix: ["versions", "a"] })) left.push(e.key);
    assert.deepEqual(left, []);
  });
});

Deno.test("a dataset created again after a deletion that did not complete loads as created again", async () => {
  await withRegistry(async (reg, path) => {
    await createAll(reg, ["x", "y"]);
    const first = await recordIn(reg.kv, "x");
    reg.close();
    // x's deletion marked its row and failed at its last atomic (x stayed
    // in its pack); x was created again since, in another pack.
    {
      using kv = await Deno.openKv(path);
      await kv.set(["datasets", "x"], { ...first, deleting: true });
      const again: StoredDatasetPack = {
        datasets: [{ ...first, retention: 5, createdAt: first.createdAt + 1000 }],
      };
      await kv.set(["dataset_packs", 99], again);
    }
    {
      await using again = await openRegistry({ path });
      assert.deepEqual((await again.listDatasets()).map((d) => d.name), ["x", "y"]);
      const x = await again.describeDataset("x");
      assert.deepEqual([x.createdAt, x.retention], [first.createdAt + 1000, 5]);
      // Deleting it takes the name out of every pack holding it.
      await again.deleteDataset("x");
      assert.deepEqual([...(await packs(again.kv)).values()], [["y"]]);
      assert.deepEqual(await rows(again.kv), []);
    }
    assert.deepEqual(await namesAfterRestart(path), ["y"]);
  });
});

/** The record of `name` in whichever pack holds it. */
async function recordIn(kv: Deno.Kv, name: string): Promise<DatasetRecord> {
  for await (const e of kv.list<StoredDatasetPack>({ prefix: ["dataset_packs"] })) {
    const r = e.value.datasets.find((d) => d.name === name);
    if (r !== undefined) return r;
  }
  throw new Error(`no pack holds '${name}'`);
}
