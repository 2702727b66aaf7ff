import assert from "node:assert/strict";
import {
  ConflictError,
  DescriptionError,
  LayoutError,
  LostError,
  NotCommittedError,
  NotFoundError,
  StrataError,
  WaitTimeoutError,
} from "../errors.ts";
import type { FragmentRecord } from "../runtime/name_service.ts";
import { openRegistry, type Registry } from "./registry.ts";

const GRID = `dataset grid { var t [8, 4]float64 }
fragment rows(r0, r1) { var t = t[r0:r1, :] }
fragment even { var t [i, j] = t[i*2, j] }`;

async function withRegistry(fn: (reg: Registry, path: string) => Promise<void>): Promise<void> {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  const path = `${dir}/registry.kv`;
  const reg = await openRegistry({ path });
  try {
    await fn(reg, path);
  } finally {
    reg.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function rows(r0: number, r1: number, version = 1): FragmentRecord {
  return {
    dataset: "grid",
    version,
    fragment: "rows",
    bindings: { r0, r1 },
    node: "n1",
    tier: "memory",
    byteLength: (r1 - r0) * 4 * 8,
    checksum: 1,
  };
}

function rejectsWith(
  p: Promise<unknown>,
  cls: new (...a: never[]) => StrataError,
  message: string,
) {
  return assert.rejects(p, (e) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    assert.equal(e.message, message);
    return true;
  });
}

Deno.test("Registry creates, lists, describes and deletes datasets", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 3 });
    assert.deepEqual((await reg.listDatasets()).map((d) => d.name), ["grid"]);
    const d = await reg.describeDataset("grid");
    assert.equal(d.byteLength, 256);
    assert.deepEqual(d.fragments, [
      { name: "rows", params: ["r0", "r1"], readOnly: false },
      { name: "even", params: [], readOnly: false },
    ]);
    await rejectsWith(
      reg.createDataset({ name: "grid", description: GRID }),
      ConflictError,
      "Dataset 'grid' exists: delete it first or choose another name",
    );
    await reg.publishFragment(rows(0, 4));
    const freed = await reg.deleteDataset("grid");
    assert.equal(freed.length, 1);
    await rejectsWith(reg.describeDataset("grid"), NotFoundError, "Unknown dataset 'grid'");
    await assert.rejects(
      reg.createDataset({ name: "x", description: "dataset { var t flaot }" }),
      DescriptionError,
    );
    await assert.rejects(
      reg.createDataset({ name: "9bad", description: GRID }),
      /Invalid dataset name '9bad'/,
    );
  });
});

Deno.test("Registry.publishFragment() refuses bad publishes and registers nothing", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    await rejectsWith(
      reg.publishFragment({ ...rows(0, 4), byteLength: 100 }),
      StrataError,
      "Cannot publish fragment 'rows': expected 128 bytes, received 100",
    );
    await assert.rejects(reg.publishFragment({ ...rows(0, 4), fragment: "nope" }), LayoutError);
    await rejectsWith(
      reg.publishFragment({ ...rows(0, 4), dataset: "none" }),
      NotFoundError,
      "Unknown dataset 'none'",
    );
    assert.deepEqual(await reg.listVersions("grid"), []);
    await reg.publishFragment(rows(0, 4));
    await rejectsWith(
      reg.publishFragment(rows(0, 4)),
      ConflictError,
      "Fragment 'rows' (r0=0,r1=4) of version 1 of 'grid' is already published: datasets are write-once unless created with overwrite",
    );
    assert.equal((await reg.listVersions("grid"))[0]!.fragments, 1);
  });
});

Deno.test("Registry commits a version once the published rows cover the dataset", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    assert.deepEqual(await reg.publishFragment(rows(0, 2)), { committed: false });
    assert.deepEqual(await reg.publishFragment(rows(2, 5)), { committed: false });
    // Even rows only: does not cover rows 5 and 7.
    assert.deepEqual(
      await reg.publishFragment({
        ...rows(0, 1),
        fragment: "even",
        bindings: {},
        byteLength: 4 * 4 * 8,
      }),
      { committed: false },
    );
    await rejectsWith(
      reg.attachFragments({
        dataset: "grid",
        version: 1,
        fragment: "rows",
        bindings: { r0: 0, r1: 2 },
      }),
      NotCommittedError,
      "Version 1 of 'grid' is not committed: attach with wait to wait for it",
    );
    assert.deepEqual(await reg.publishFragment(rows(4, 8)), { committed: true }); // overlaps row 4: fine
    const found = await reg.attachFragments({
      dataset: "grid",
      version: "latest",
      fragment: "rows",
      bindings: { r0: 3, r1: 5 },
    });
    assert.equal(found.version, 1);
    assert.deepEqual(
      found.sources.map((s) => s.bindings).sort((a, b) => (a.r0 ?? -1) - (b.r0 ?? -1)),
      [{}, { r0: 2, r1: 5 }, { r0: 4, r1: 8 }],
    );
    await rejectsWith(
      reg.publishFragment(rows(0, 2)),
      ConflictError,
      "Cannot publish into version 1 of 'grid': it is committed, publish into a new version",
    );
  });
});

Deno.test("Registry.commitVersion() lets exactly one of two racing commits win", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    await reg.publishFragment(rows(0, 2));
    const results = await Promise.allSettled([
      reg.commitVersion("grid", 1),
      reg.commitVersion("grid", 1),
    ]);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    assert.ok(lost.reason instanceof ConflictError);
    assert.equal(lost.reason.message, "Version 1 of 'grid' is already committed");
    await rejectsWith(
      reg.commitVersion("grid", 2),
      NotFoundError,
      "Version 2 of 'grid' does not exist: nothing was published into it",
    );
  });
});

Deno.test("Registry.publishFragment() lets exactly one of many concurrent publishes of a region win", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => reg.publishFragment(rows(0, 3))),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    assert.ok(results.every((r) => r.status === "fulfilled" || r.reason instanceof ConflictError));
  });
});

Deno.test("Registry allows republishing a region when created with overwrite", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID, overwrite: true });
    await reg.publishFragment(rows(0, 3));
    await reg.publishFragment({ ...rows(0, 3), checksum: 2 });
    assert.equal((await reg.listVersions("grid"))[0]!.fragments, 1);
  });
});

Deno.test("Registry.waitForVersion() resolves when another task commits, and times out", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    const waiting = reg.waitForVersion("grid", 2, { timeoutMs: 5000 });
    await reg.publishFragment({ ...rows(0, 8), version: 1 });
    await reg.publishFragment({ ...rows(0, 8), version: 2 });
    assert.equal(await waiting, 2);
    assert.equal(await reg.waitForVersion("grid", 1, { timeoutMs: 10 }), 1);
    await rejectsWith(
      reg.waitForVersion("grid", 3, { timeoutMs: 20 }),
      WaitTimeoutError,
      "Timed out after 20 ms waiting for version 3 of 'grid' to be committed",
    );
  });
});

Deno.test("Registry retires versions past retention and returns their copies", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 2 });
    await reg.publishFragment(rows(0, 8, 1));
    await reg.publishFragment(rows(0, 8, 2));
    await reg.publishFragment({ ...rows(0, 4, 3) });
    const { retired } = await reg.commitVersion("grid", 3);
    assert.deepEqual(retired.map((r) => [r.version, r.bindings]), [[1, { r0: 0, r1: 8 }]]);
    assert.deepEqual(
      (await reg.listVersions("grid")).map((v) => [v.version, v.state, v.fragments]),
      [
        [1, "retired", 0],
        [2, "committed", 1],
        [3, "committed", 1],
      ],
    );
    await rejectsWith(
      reg.attachFragments({ dataset: "grid", version: 1, fragment: "even", bindings: {} }),
      LostError,
      "Version 1 of 'grid' is lost: fragment 'even' was retired: 'grid' keeps its last 2 versions",
    );
  });
});

Deno.test("Registry state survives closing and reopening its KV file", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID, durable: true });
    await reg.publishFragment(rows(0, 8, 1));
    await reg.publishFragment(rows(0, 4, 2));
    reg.close();
    const again = await openRegistry({ path });
    try {
      assert.deepEqual((await again.listVersions("grid")).map((v) => [v.version, v.state]), [
        [1, "committed"],
        [2, "open"],
      ]);
      const found = await again.attachFragments({
        dataset: "grid",
        version: "latest",
        fragment: "even",
        bindings: {},
      });
      assert.equal(found.sources.length, 1);
      assert.equal((await again.datasetSettings("grid")).durable, true);
      assert.deepEqual(await again.publishFragment(rows(4, 8, 2)), { committed: true });
    } finally {
      again.close();
    }
    // withRegistry closes `reg` again: closing twice must be harmless.
  });
});

Deno.test("Registry group-commits concurrent publishes into few atomic writes", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    const before = reg.stats.commits;
    const versions = Array.from({ length: 500 }, (_, i) => i + 1);
    await Promise.all(versions.map((v) => reg.publishFragment(rows(0, 4, v))));
    const used = reg.stats.commits - before;
    assert.ok(used < 50, `500 publishes used ${used} atomic commits`);
    assert.equal((await reg.listVersions("grid")).length, 500);
  });
});

Deno.test("Registry.batch() gives each operation its own result", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    const results = await reg.batch([
      { op: "publish", ...rows(0, 8) },
      { op: "publish", ...rows(0, 8) },
      { op: "lookup", dataset: "grid", version: 1, fragment: "even" },
      { op: "nope" },
    ]);
    assert.deepEqual(results[0], { ok: { committed: true } });
    assert.equal((results[1] as { error: { code: string } }).error.code, "conflict");
    assert.equal((results[2] as { ok: { sources: unknown[] } }).ok.sources.length, 1);
    assert.equal((results[3] as { error: { code: string } }).error.code, "invalid_request");
  });
});
