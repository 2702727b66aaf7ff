import assert from "node:assert/strict";
import { compileDescription, descriptionToJson, printDescription } from "../ddl/mod.ts";
import {
  ClosedError,
  ConflictError,
  DescriptionError,
  InvalidRequestError,
  LayoutError,
  NotCommittedError,
  NotFoundError,
  SizeMismatchError,
  WaitTimeoutError,
} from "../errors.ts";
import {
  assertRetired,
  cellCopy,
  copiesIn,
  GRID,
  keysIn,
  rejectsWith,
  rows,
  withRegistry,
} from "./_testing.ts";
import { KEYS } from "./keys.ts";
import { DEFAULT_LIST_PAGE, type FragmentRecord } from "./records.ts";
import { openRegistry, type Registry } from "./registry.ts";
import { RETIRED_KEPT } from "./_state.ts";

// Datasets

Deno.test("createDataset() registers a dataset that listDatasets() and describeDataset() show", async () => {
  await withRegistry(async (reg) => {
    const created = await reg.createDataset({ name: "grid", description: GRID, retention: 3 });
    assert.equal(created.name, "grid");
    assert.deepEqual((await reg.listDatasets()).map((d) => [d.name, d.retention, d.latest]), [
      ["grid", 3, null],
    ]);
    await reg.publishFragment(rows(0, 8));
    const d = await reg.describeDataset("grid");
    assert.equal(d.description, GRID);
    assert.deepEqual(d.descriptionJson, descriptionToJson(compileDescription(GRID).description));
    assert.equal(d.byteLength, 256);
    assert.equal(d.retention, 3);
    assert.equal(d.durable, false);
    assert.equal(d.overwrite, false);
    assert.equal(d.latest, 1);
    assert.deepEqual(d.fragments, [
      { name: "rows", params: ["r0", "r1"], readOnly: false },
      { name: "even", params: [], readOnly: false },
      { name: "low", params: ["r0", "r1"], readOnly: false },
      { name: "view", params: [], readOnly: true },
    ]);
    assert.deepEqual(d.versions.map((v) => [v.version, v.state, v.fragments, v.bytes]), [
      [1, "committed", 1, 256],
    ]);
  });
});

Deno.test("describeDataset() lists the newest versions and counts the rest; listVersions() pages", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 2000 });
    const n = DEFAULT_LIST_PAGE + 3;
    await Promise.all(
      Array.from({ length: n }, (_, i) => reg.publishFragment(rows(0, 8, i + 1))),
    );
    const d = await reg.describeDataset("grid");
    assert.equal(d.versions.length, DEFAULT_LIST_PAGE);
    assert.equal(d.versions[0]!.version, 4);
    assert.equal(d.versions.at(-1)!.version, n);
    assert.equal(d.versionsOmitted, 3);
    assert.equal((await reg.listVersions("grid")).length, n);
    assert.deepEqual(
      (await reg.listVersions("grid", { after: 2, limit: 3 })).map((v) => v.version),
      [
        3,
        4,
        5,
      ],
    );
    assert.deepEqual(
      (await reg.listVersions("grid", { after: n - 1 })).map((v) => v.version),
      [n],
    );
    const few = await reg.createDataset({ name: "few", description: GRID });
    assert.equal(few.name, "few");
    assert.equal((await reg.describeDataset("few")).versionsOmitted, undefined);
  });
});

Deno.test("createDataset() accepts the JSON form of a description", async () => {
  await withRegistry(async (reg) => {
    const json = descriptionToJson(compileDescription(GRID).description);
    await reg.createDataset({ name: "a", description: json });
    await reg.createDataset({ name: "b", descriptionJson: json });
    const a = await reg.describeDataset("a");
    assert.equal(a.description, printDescription(compileDescription(GRID).description));
    assert.deepEqual((await reg.describeDataset("b")).fragments, a.fragments);
  });
});

Deno.test("createDataset() throws ConflictError when the name exists", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    await rejectsWith(
      reg.createDataset({ name: "grid", description: GRID }),
      ConflictError,
      "conflict",
      "Dataset 'grid' exists: delete it first or choose another name",
    );
  });
});

Deno.test("createDataset() lets exactly one of two concurrent creates of a name win", async () => {
  await withRegistry(async (reg) => {
    const results = await Promise.allSettled([
      reg.createDataset({ name: "grid", description: GRID }),
      reg.createDataset({ name: "grid", description: GRID, retention: 5 }),
    ]);
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected"]);
    assert.equal((await reg.describeDataset("grid")).retention, 2);
  });
});

Deno.test("createDataset() throws for a bad name, description, retention or sizes", async () => {
  await withRegistry(async (reg) => {
    await rejectsWith(
      reg.createDataset({ name: "9grid", description: GRID }),
      InvalidRequestError,
      "invalid_request",
      "Invalid dataset name '9grid': expected a letter then up to 127 letters, digits, '_', '.' or '-'",
    );
    await assert.rejects(
      reg.createDataset({ name: "x", description: "dataset { var t flaot64 }" }),
      DescriptionError,
    );
    await rejectsWith(
      reg.createDataset({ name: "x", description: GRID, retention: 0 }),
      InvalidRequestError,
      "invalid_request",
      "Invalid retention 0: expected an integer >= 1",
    );
    await rejectsWith(
      reg.createDataset({ name: "x" }),
      InvalidRequestError,
      "invalid_request",
      "Invalid dataset 'x': expected a description, as text or in its JSON form",
    );
    const sized = "dataset { var n int64\n var x [n]float64 }";
    await rejectsWith(
      reg.createDataset({ name: "x", description: sized, sizes: { m: 4 } }),
      LayoutError,
      "invalid_layout",
      "Unknown size variable 'm': the dataset's size variables are 'n'",
    );
    await rejectsWith(
      reg.createDataset({ name: "x", description: "dataset { var x [n]float64\n var n int64 }" }),
      LayoutError,
      "invalid_layout",
      "Size variable 'n' is not given in sizes, and no layout a producer publishes stores it before the arrays it sizes: give it when creating the dataset, or store it first",
    );
    assert.deepEqual(await reg.listDatasets(), []);
  });
});

Deno.test("createDataset() binds size variables, and publishes may repeat them but not change them", async () => {
  await withRegistry(async (reg) => {
    const description = "dataset s { var n int64\n var x [n]float64 }\n" +
      "fragment part(lo, hi) { var x = x[lo:hi] }";
    await reg.createDataset({ name: "s", description, sizes: { n: 6 } });
    assert.equal((await reg.describeDataset("s")).byteLength, 6 * 8 + 8);
    const part = (bindings: Record<string, number>): FragmentRecord => ({
      dataset: "s",
      version: 1,
      fragment: "part",
      bindings,
      node: "n1",
      tier: "memory",
      byteLength: 3 * 8,
      checksum: 0,
    });
    await reg.publishFragment(part({ lo: 0, hi: 3 }));
    await rejectsWith(
      reg.publishFragment(part({ lo: 0, hi: 3, n: 6 })),
      ConflictError,
      "conflict",
      "Fragment 'part' (hi=3,lo=0) of version 1 of 's' is already published: datasets are write-once unless created with overwrite",
    );
    await rejectsWith(
      reg.publishFragment(part({ lo: 3, hi: 6, n: 7 })),
      LayoutError,
      "invalid_layout",
      "Size variable 'n' is 6 in this dataset, found 7",
    );
  });
});

Deno.test("deleteDataset() removes every key of a dataset, in batches, and returns its copies", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({
      name: "cells",
      description: "dataset cells { var t [1000]int8 }\nfragment cell(r) { var t = t[r:r + 1] }",
    });
    await reg.createDataset({ name: "grid", description: GRID });
    await reg.publishFragment(rows(0, 8));
    const cell = (r: number) => cellCopy("cells", r);
    await Promise.all(Array.from({ length: 700 }, (_, r) => reg.publishFragment(cell(r))));
    const freed = await reg.deleteDataset("cells");
    assert.equal(freed.length, 700);
    assert.deepEqual(freed.map((f) => f.bindings.r).sort((a, b) => a! - b!)[699], 699);
    for (const prefix of [["datasets", "cells"], ["versions", "cells"], ["fragments", "cells"]]) {
      assert.deepEqual(await keysIn(path, prefix), [], `keys left under ${prefix}`);
    }
    assert.deepEqual(await keysIn(path, ["latest", "cells"]), []);
    assert.equal((await copiesIn(path, "grid")).length, 1);
    const before = (await reg.describeDataset("grid")).createdAt;
    await reg.createDataset({ name: "cells", description: GRID });
    assert.deepEqual(await reg.listVersions("cells"), []);
    // Created again at once: still a later creation time, which lookups answer.
    const again = (await reg.describeDataset("cells")).createdAt;
    assert.ok(again > before, `${again} > ${before}`);
    await reg.publishFragment({ ...rows(0, 8), dataset: "cells" });
    const found = await reg.attachFragments({
      dataset: "cells",
      version: 1,
      fragment: "rows",
      bindings: { r0: 0, r1: 8 },
    });
    assert.equal(found.createdAt, again);
    // Deleted and created again within one millisecond (the clock held
    // still): every creation time is still later than the one before.
    const times = [again];
    const now = Date.now;
    const still = now();
    Date.now = () => still;
    try {
      for (let i = 0; i < 5; i++) {
        await reg.deleteDataset("cells");
        await reg.createDataset({ name: "cells", description: GRID });
        times.push((await reg.describeDataset("cells")).createdAt);
      }
    } finally {
      Date.now = now;
    }
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! > times[i - 1]!, `${times}`);
  });
});

Deno.test("registry operations throw NotFoundError naming an unknown dataset", async () => {
  await withRegistry(async (reg) => {
    const unknown = (p: Promise<unknown>) =>
      rejectsWith(p, NotFoundError, "not_found", "Unknown dataset 'nope'");
    await unknown(reg.describeDataset("nope"));
    await unknown(reg.deleteDataset("nope"));
    await unknown(reg.listVersions("nope"));
    await unknown(reg.publishFragment({ ...rows(0, 8), dataset: "nope" }));
    await unknown(reg.commitVersion("nope", 1));
    await unknown(
      reg.attachFragments({
        dataset: "nope",
        version: 1,
        fragment: "rows",
        bindings: { r0: 0, r1: 8 },
      }),
    );
  });
});

// Publish

Deno.test("publishFragment() throws LayoutError for an unknown fragment and registers nothing", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID });
    await rejectsWith(
      reg.publishFragment({ ...rows(0, 4), fragment: "nope" }),
      LayoutError,
      "invalid_layout",
      "Unknown fragment 'nope': the dataset declares 'rows', 'even', 'low', 'view'",
    );
    await rejectsWith(
      reg.publishFragment({ ...rows(0, 4), fragment: "view", bindings: {}, byteLength: 256 }),
      LayoutError,
      "invalid_layout",
      "Cannot publish fragment 'view': it is read-only, consumers attach it and producers publish through another fragment",
    );
    assert.deepEqual(await reg.listVersions("grid"), []);
    assert.deepEqual(await copiesIn(path, "grid"), []);
  });
});

Deno.test("publishFragment() throws SizeMismatchError for a wrong byte length and registers nothing", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID });
    await rejectsWith(
      reg.publishFragment({ ...rows(0, 4), byteLength: 100 }),
      SizeMismatchError,
      "size_mismatch",
      "Cannot publish fragment 'rows': expected 128 bytes, received 100",
    );
    assert.deepEqual(await reg.listVersions("grid"), []);
    assert.deepEqual(await copiesIn(path, "grid"), []);
    assert.deepEqual(await keysIn(path, ["versions"]), []);
  });
});

Deno.test("publishFragment() throws ConflictError for a second publish of a region unless overwrite", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    await reg.publishFragment(rows(0, 4));
    await rejectsWith(
      reg.publishFragment({ ...rows(0, 4), node: "n2" }),
      ConflictError,
      "conflict",
      "Fragment 'rows' (r0=0,r1=4) of version 1 of 'grid' is already published: datasets are write-once unless created with overwrite",
    );
    await reg.createDataset({ name: "again", description: GRID, overwrite: true });
    await reg.publishFragment({ ...rows(0, 4), dataset: "again" });
    await reg.publishFragment({ ...rows(0, 4), dataset: "again", node: "n2" });
    assert.deepEqual((await reg.listVersions("again")).map((v) => [v.fragments, v.bytes]), [
      [1, 128],
    ]);
    await reg.commitVersion("again", 1);
    const found = await reg.attachFragments({
      dataset: "again",
      version: 1,
      fragment: "rows",
      bindings: { r0: 0, r1: 4 },
    });
    assert.deepEqual(found.sources.map((s) => s.node), ["n2"]);
  });
});

Deno.test("publishFragment() throws ConflictError for a version that is committed", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    await reg.publishFragment(rows(0, 8));
    await rejectsWith(
      reg.publishFragment(rows(0, 2)),
      ConflictError,
      "conflict",
      "Cannot publish into version 1 of 'grid': it is committed, publish into a new version",
    );
  });
});

Deno.test("publishFragment() lets exactly one of many concurrent publishes of a region win", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID });
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) => reg.publishFragment({ ...rows(0, 3), checksum: i })),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    assert.ok(results.every((r) => r.status === "fulfilled" || r.reason instanceof ConflictError));
    assert.equal((await copiesIn(path, "grid")).length, 1);
    assert.equal((await reg.listVersions("grid"))[0]!.fragments, 1);
  });
});

// Coverage and commit

Deno.test("publishFragment() commits the version when four ranks' row blocks cover the dataset", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    assert.deepEqual(await reg.publishFragment(rows(0, 2)), { committed: false });
    assert.deepEqual(await reg.publishFragment(rows(4, 6)), { committed: false });
    assert.deepEqual(await reg.publishFragment(rows(6, 8)), { committed: false });
    assert.deepEqual((await reg.listVersions("grid")).map((v) => v.state), ["open"]);
    assert.deepEqual(await reg.publishFragment(rows(2, 4)), { committed: true });
    const [v] = await reg.listVersions("grid");
    assert.equal(v!.state, "committed");
    assert.equal(v!.fragments, 4);
    assert.equal(v!.bytes, 256);
    assert.ok(typeof v!.committedAt === "number");
  });
});

Deno.test("publishFragment() counts overlapping blocks, but not skipped strided rows nor converted types", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    const even = { ...rows(0, 1), fragment: "even", bindings: {}, byteLength: 4 * 4 * 8 };
    const low = (r0: number, r1: number) => ({
      ...rows(r0, r1),
      fragment: "low",
      byteLength: (r1 - r0) * 4 * 4,
    });
    // Even rows 0, 2, 4, 6 and rows 0..5 (overlapping): rows 5 and 7 missing.
    assert.deepEqual(await reg.publishFragment(even), { committed: false });
    assert.deepEqual(await reg.publishFragment(rows(0, 3)), { committed: false });
    assert.deepEqual(await reg.publishFragment(rows(2, 6)), { committed: false });
    // Rows 5..8 as float32 hold the values only approximately: still open.
    assert.deepEqual(await reg.publishFragment(low(5, 8)), { committed: false });
    assert.deepEqual((await reg.listVersions("grid")).map((v) => v.state), ["open"]);
    assert.deepEqual(await reg.publishFragment(rows(5, 8)), { committed: true });
  });
});

Deno.test("publishFragment() that completes its version registers the copy and commits in one atomic commit", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 1 });
    await reg.publishFragment(rows(0, 8, 1));
    await reg.publishFragment(rows(0, 4, 2));
    const before = reg.stats.commits;
    const result = await reg.publishFragment(rows(4, 8, 2));
    assert.equal(reg.stats.commits - before, 1);
    assert.deepEqual(result.retired?.map((r) => [r.version, r.bindings]), [[1, { r0: 0, r1: 8 }]]);
    const fresh = await reg.publishFragment(rows(0, 8, 3));
    assert.equal(fresh.committed, true);
    assert.equal(reg.stats.commits - before, 2);
    reg.close();
    // Durable as a publish and a commit made one after the other would be.
    await using again = await openRegistry({ path });
    // Retired versions leave no record; they are still answered as retired.
    assert.deepEqual((await again.listVersions("grid")).map((v) => [v.version, v.state]), [
      [3, "committed"],
    ]);
    await rejectsWith(
      again.commitVersion("grid", 2),
      ConflictError,
      "conflict",
      "Version 2 of 'grid' is already retired",
    );
    const found = await again.attachFragments({
      dataset: "grid",
      version: 3,
      fragment: "rows",
      bindings: { r0: 0, r1: 8 },
    });
    assert.deepEqual(found.sources.map((s) => s.bindings), [{ r0: 0, r1: 8 }]);
    assert.deepEqual(await copiesIn(path, "grid", 2), []);
  });
});

Deno.test("publishFragment() that completes its version never commits ahead of a publish under way", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 4 });
    const seen: number[] = [];
    reg.onCommit((_dataset, version) => seen.push(version));
    const results = await Promise.all([
      reg.publishFragment(rows(0, 4, 1)),
      reg.publishFragment(rows(4, 8, 1)),
      reg.publishFragment(rows(0, 8, 2)),
    ]);
    assert.deepEqual(results.map((r) => r.committed), [false, true, true]);
    assert.deepEqual(seen, [1, 2]);
  });
});

Deno.test("publishFragment() that completes its version registers nothing when the commit fails", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID });
    // Another process wrote the version's record: the commit's check fails.
    await reg.kv.set(KEYS.version("grid", 1), { version: 1, state: "open" });
    await rejectsWith(
      reg.publishFragment(rows(0, 8, 1)),
      ConflictError,
      "conflict",
      "Version 1 of 'grid' changed while committing: another process writes this registry's store",
    );
    assert.deepEqual(await copiesIn(path, "grid"), []);
    await rejectsWith(
      reg.attachFragments({ dataset: "grid", version: 1, fragment: "even", bindings: {} }),
      NotFoundError,
      "not_found",
      "Version 1 of 'grid' does not exist",
    );
  });
});

Deno.test("commitVersion() commits a partial version and returns no retired copies", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID });
    await reg.publishFragment(rows(0, 2));
    assert.deepEqual(await reg.commitVersion("grid", 1), { version: 1, retired: [] });
    const raw = await Deno.openKv(path);
    try {
      assert.equal((await raw.get(KEYS.latest("grid"))).value, 1);
      assert.equal(
        (await raw.get<{ state: string }>(KEYS.version("grid", 1))).value?.state,
        "committed",
      );
    } finally {
      raw.close();
    }
  });
});

Deno.test("onCommit() tells each listener of every commit that stands, however it was asked for", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    const seen: string[] = [];
    reg.onCommit(() => {
      throw new Error("A failing listener");
    });
    const stop = reg.onCommit((dataset, version) => seen.push(`${dataset}@${version}`));
    await reg.publishFragment(rows(0, 2));
    await reg.commitVersion("grid", 1);
    await reg.publishFragment(rows(0, 4, 2));
    await reg.publishFragment(rows(4, 8, 2));
    await reg.publishFragment(rows(0, 2, 3));
    await reg.batch([{ op: "commit", dataset: "grid", version: 3 }]);
    await assert.rejects(reg.commitVersion("grid", 3), ConflictError);
    assert.deepEqual(seen, ["grid@1", "grid@2", "grid@3"]);
    stop();
    await reg.publishFragment(rows(0, 8, 4));
    assert.deepEqual(seen, ["grid@1", "grid@2", "grid@3"]);
    assert.equal((await reg.describeDataset("grid")).latest, 4);
  });
});

Deno.test("commitVersion() lets exactly one of two racing commits win", async () => {
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
    assert.equal(lost.reason.code, "conflict");
    assert.equal(lost.reason.message, "Version 1 of 'grid' is already committed");
  });
});

Deno.test("commitVersion() throws NotFoundError for a version nothing was published into", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    await rejectsWith(
      reg.commitVersion("grid", 2),
      NotFoundError,
      "not_found",
      "Version 2 of 'grid' does not exist: nothing was published into it",
    );
    await rejectsWith(
      reg.commitVersion("grid", 0),
      InvalidRequestError,
      "invalid_request",
      "Invalid version 0: expected an integer >= 1",
    );
  });
});

Deno.test("commitVersion() includes publishes under way and leaves the version committed in KV", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID });
    await reg.publishFragment(rows(0, 2));
    const [commit, late] = await Promise.all([
      reg.commitVersion("grid", 1),
      reg.publishFragment(rows(2, 4)),
    ]);
    assert.equal(commit.version, 1);
    assert.deepEqual(late, { committed: false });
    assert.deepEqual((await reg.listVersions("grid")).map((v) => [v.state, v.fragments]), [
      ["committed", 2],
    ]);
    reg.close();
    const again = await openRegistry({ path });
    try {
      assert.deepEqual((await again.listVersions("grid")).map((v) => [v.state, v.fragments]), [
        ["committed", 2],
      ]);
    } finally {
      again.close();
    }
  });
});

// Attach and wait

Deno.test("attachFragments() returns the copies that intersect the requested region", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    for (const [r0, r1] of [[0, 2], [2, 5], [4, 8]] as const) {
      await reg.publishFragment(rows(r0, r1));
    }
    const found = await reg.attachFragments({
      dataset: "grid",
      version: "latest",
      fragment: "rows",
      bindings: { r0: 1, r1: 3 },
    });
    assert.equal(found.version, 1);
    assert.equal(found.layout.byteLength, 64);
    assert.deepEqual(found.sources.map((s) => s.bindings), [{ r0: 0, r1: 2 }, { r0: 2, r1: 5 }]);
    assert.equal(found.sources[0]!.layout.byteLength, 64);
    const odd = await reg.attachFragments({
      dataset: "grid",
      version: 1,
      fragment: "even",
      bindings: {},
    });
    assert.equal(odd.sources.length, 3);
  });
});

Deno.test("attachFragments() throws NotCommittedError for an open version and NotFoundError for a missing one", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    const query = { dataset: "grid", fragment: "rows", bindings: { r0: 0, r1: 2 } };
    await rejectsWith(
      reg.attachFragments({ ...query, version: "latest" }),
      NotCommittedError,
      "not_committed",
      "Version 1 of 'grid' is not committed: attach with wait to wait for it",
    );
    await reg.publishFragment(rows(0, 2));
    await rejectsWith(
      reg.attachFragments({ ...query, version: 1 }),
      NotCommittedError,
      "not_committed",
      "Version 1 of 'grid' is not committed: attach with wait to wait for it",
    );
    await rejectsWith(
      reg.attachFragments({ ...query, version: 7 }),
      NotFoundError,
      "not_found",
      "Version 7 of 'grid' does not exist",
    );
  });
});

Deno.test("attachFragments() with waitMs finds a committed version at once and waits for one that is not", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 4 });
    const query = { dataset: "grid", fragment: "even", bindings: {} };
    await reg.publishFragment(rows(0, 8, 1));
    const now = await reg.attachFragments({ ...query, version: 1 }, { waitMs: 5000 });
    assert.deepEqual([now.version, now.sources.length], [1, 1]);
    const later = reg.attachFragments({ ...query, version: 2 }, { waitMs: 5000 });
    const unborn = reg.attachFragments(
      { ...query, dataset: "later", version: "latest" },
      { waitMs: 5000 },
    );
    await reg.publishFragment(rows(0, 4, 2));
    await reg.publishFragment(rows(4, 8, 2));
    const found = await later;
    assert.equal(found.version, 2);
    assert.deepEqual(found.sources.map((s) => s.bindings), [{ r0: 0, r1: 4 }, { r0: 4, r1: 8 }]);
    await reg.createDataset({ name: "later", description: GRID });
    await reg.publishFragment({ ...rows(0, 8, 1), dataset: "later" });
    assert.equal((await unborn).version, 1);
  });
});

Deno.test("attachFragments() with waitMs throws WaitTimeoutError when nothing commits in time", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    await reg.publishFragment(rows(0, 4));
    await rejectsWith(
      reg.attachFragments({ dataset: "grid", version: 1, fragment: "even", bindings: {} }, {
        waitMs: 20,
      }),
      WaitTimeoutError,
      "timeout",
      "Timed out after 20 ms waiting for version 1 of 'grid' to be committed",
    );
  });
});

Deno.test("waitForVersion() resolves when another task commits", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    const waiting = reg.waitForVersion("grid", 2, { timeoutMs: 5000 });
    const producer = (async () => {
      await reg.publishFragment(rows(0, 8, 1));
      await reg.publishFragment(rows(0, 8, 2));
    })();
    assert.equal(await waiting, 2);
    await producer;
    assert.equal(await reg.waitForVersion("grid", 1, { timeoutMs: 10 }), 1);
    const found = await reg.attachFragments({
      dataset: "grid",
      version: await reg.waitForVersion("grid", 2),
      fragment: "even",
      bindings: {},
    });
    assert.equal(found.version, 2);
  });
});

Deno.test("waitForVersion() waits for a dataset that is created later", async () => {
  await withRegistry(async (reg) => {
    const waiting = reg.waitForVersion("grid", 1, { timeoutMs: 5000 });
    await reg.createDataset({ name: "grid", description: GRID });
    await reg.publishFragment(rows(0, 8));
    assert.equal(await waiting, 1);
  });
});

Deno.test("waitForVersion() throws WaitTimeoutError when nothing commits in time", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    await reg.publishFragment(rows(0, 4));
    await rejectsWith(
      reg.waitForVersion("grid", 1, { timeoutMs: 20 }),
      WaitTimeoutError,
      "timeout",
      "Timed out after 20 ms waiting for version 1 of 'grid' to be committed",
    );
  });
});

Deno.test("waitForVersion() rejects with the signal's reason when it aborts", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    const stop = new AbortController();
    const waiting = reg.waitForVersion("grid", 1, { signal: stop.signal });
    stop.abort(new Error("Consumer stopped"));
    await assert.rejects(waiting, { message: "Consumer stopped" });
  });
});

// Retention

Deno.test("commitVersion() retires versions past retention and returns their copies", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 2 });
    await reg.publishFragment(rows(0, 4, 1));
    await reg.publishFragment({ ...rows(4, 8, 1), node: "n2", tier: "file" });
    await reg.publishFragment(rows(0, 8, 2));
    await reg.publishFragment(rows(0, 4, 3));
    const { retired } = await reg.commitVersion("grid", 3);
    assert.deepEqual(
      retired.map((r) => [r.version, r.node, r.tier, r.byteLength]),
      [[1, "n1", "memory", 128], [1, "n2", "file", 128]],
    );
    assert.deepEqual(
      (await reg.listVersions("grid")).map((v) => [v.version, v.state, v.fragments]),
      [[1, "retired", 0], [2, "committed", 1], [3, "committed", 1]],
    );
    assert.deepEqual(await copiesIn(path, "grid", 1), []);
    await assertRetired(reg, 1, 2, "even", {});
    await rejectsWith(
      reg.publishFragment(rows(0, 2, 1)),
      ConflictError,
      "conflict",
      "Cannot publish into version 1 of 'grid': it is retired, publish into a new version",
    );
  });
});

Deno.test("publishFragment() returns the copies its commit retired, open versions older than those kept included", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 1 });
    await reg.publishFragment({ ...rows(0, 2, 1), node: "slow" }); // a producer that never finished
    const result = await reg.publishFragment(rows(0, 8, 2));
    assert.equal(result.committed, true);
    assert.deepEqual(result.retired?.map((r) => [r.version, r.node]), [[1, "slow"]]);
    assert.deepEqual((await reg.listVersions("grid")).map((v) => [v.version, v.state]), [
      [1, "retired"],
      [2, "committed"],
    ]);
    await rejectsWith(
      reg.publishFragment(rows(0, 2, 1)),
      ConflictError,
      "conflict",
      "Cannot publish into version 1 of 'grid': it is retired, publish into a new version",
    );
  });
});

Deno.test("publishFragment() and commitVersion() refuse versions older than the versions kept", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 1 });
    await reg.publishFragment(rows(0, 2, 3));
    await reg.publishFragment(rows(0, 8, 5));
    await rejectsWith(
      reg.publishFragment(rows(0, 2, 4)),
      ConflictError,
      "conflict",
      "Cannot publish into version 4 of 'grid': it is older than the 1 committed versions kept, publish into version 6 or later",
    );
    await reg.createDataset({ name: "two", description: GRID, retention: 1 });
    await reg.publishFragment({ ...rows(0, 2, 3), dataset: "two" });
    await reg.publishFragment({ ...rows(0, 2, 5), dataset: "two" });
    await reg.commitVersion("two", 5);
    assert.deepEqual((await reg.listVersions("two")).map((v) => [v.version, v.state]), [
      [3, "retired"],
      [5, "committed"],
    ]);
  });
});

Deno.test("commits out of order keep the newest versions, and a restart keeps the same window", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 2 });
    for (const n of [5, 3, 4]) await reg.publishFragment(rows(0, 2, n));
    await reg.commitVersion("grid", 5);
    await reg.commitVersion("grid", 3);
    // Version 4 pushes 3 out: the window is 4 and 5.
    assert.deepEqual((await reg.commitVersion("grid", 4)).retired.map((r) => r.version), [3]);
    const refused =
      "Cannot publish into version 2 of 'grid': it is older than the 2 committed versions kept, publish into version 5 or later";
    await rejectsWith(reg.publishFragment(rows(0, 2, 2)), ConflictError, "conflict", refused);
    reg.close();
    await using again = await openRegistry({ path });
    await rejectsWith(again.publishFragment(rows(0, 2, 2)), ConflictError, "conflict", refused);
    await again.publishFragment(rows(0, 8, 6));
    // Version 3 retired before the restart and left no record; 4 retired since.
    assert.deepEqual((await again.listVersions("grid")).map((v) => [v.version, v.state]), [
      [4, "retired"],
      [5, "committed"],
      [6, "committed"],
    ]);
  });
});

// Durability

Deno.test("openRegistry() finds datasets, versions and copies again after a close", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID, durable: true, retention: 4 });
    await reg.publishFragment(rows(0, 8, 1));
    await reg.publishFragment(rows(0, 4, 2));
    await reg.registerNode({ id: "n1", url: "http://127.0.0.1:7071", tiers: [] });
    reg.close();
    const again = await openRegistry({ path });
    try {
      const d = await again.describeDataset("grid");
      assert.equal(d.retention, 4);
      assert.equal(d.durable, true);
      assert.equal(d.latest, 1);
      assert.deepEqual(d.versions.map((v) => [v.version, v.state, v.fragments, v.bytes]), [
        [1, "committed", 1, 256],
        [2, "open", 1, 128],
      ]);
      const found = await again.attachFragments({
        dataset: "grid",
        version: "latest",
        fragment: "even",
        bindings: {},
      });
      assert.deepEqual(found.sources.map((s) => [s.node, s.tier, s.byteLength]), [
        ["n1", "memory", 256],
      ]);
      assert.deepEqual((await again.listNodes()).map((n) => n.id), ["n1"]);
      await rejectsWith(
        again.publishFragment(rows(0, 4, 2)),
        ConflictError,
        "conflict",
        "Fragment 'rows' (r0=0,r1=4) of version 2 of 'grid' is already published: datasets are write-once unless created with overwrite",
      );
      assert.deepEqual(await again.publishFragment(rows(4, 8, 2)), { committed: true });
    } finally {
      again.close();
    }
  });
});

Deno.test("openRegistry() finishes a deletion that a crash interrupted", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID });
    await reg.publishFragment(rows(0, 8));
    reg.close();
    // What a crash after the deletion mark leaves behind.
    const raw = await Deno.openKv(path);
    const record = await raw.get<Record<string, unknown>>(KEYS.dataset("grid"));
    await raw.set(KEYS.dataset("grid"), { ...record.value, deleting: true });
    raw.close();
    const again = await openRegistry({ path });
    try {
      assert.deepEqual(await again.listDatasets(), []);
      for (const prefix of [["datasets"], ["versions"], ["fragments"], ["latest"]]) {
        assert.deepEqual(await keysIn(path, prefix), []);
      }
    } finally {
      again.close();
    }
  });
});

Deno.test("commitVersion() returns copies of versions whose removal a crash interrupted", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 1 });
    await reg.publishFragment(rows(0, 8, 1));
    await reg.publishFragment(rows(0, 8, 2));
    reg.close();
    // A retired version whose copy record was not yet removed.
    const raw = await Deno.openKv(path);
    const leftover = { ...rows(0, 8, 1), node: "n9" };
    await raw.set(KEYS.fragment("grid", 1, "rows", "r0=0,r1=8"), leftover);
    raw.close();
    const again = await openRegistry({ path });
    try {
      await again.publishFragment(rows(0, 2, 3));
      const { retired } = await again.commitVersion("grid", 3);
      assert.deepEqual(retired.map((r) => [r.version, r.node]).sort(), [[1, "n9"], [2, "n1"]]);
      assert.deepEqual(await copiesIn(path, "grid", 1), []);
    } finally {
      again.close();
    }
  });
});

// Group commit

Deno.test("publishFragment() group-commits 500 concurrent publishes into few atomic commits", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({
      name: "big",
      description: "dataset big { var t [500, 4]float64 }\nfragment row(r) { var t = t[r, :] }",
    });
    const before = reg.stats.commits;
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, r) =>
        reg.publishFragment({
          dataset: "big",
          version: 1,
          fragment: "row",
          bindings: { r },
          node: `rank${r}`,
          tier: "memory",
          byteLength: 32,
          checksum: r,
        })),
    );
    const used = reg.stats.commits - before;
    assert.ok(used <= 10, `500 publishes used ${used} atomic commits`);
    assert.equal(results.filter((r) => r.committed).length, 1);
    assert.equal((await copiesIn(path, "big", 1)).length, 500);
    assert.deepEqual((await reg.listVersions("big")).map((v) => [v.state, v.fragments]), [
      ["committed", 500],
    ]);
  });
});

Deno.test("publishFragment() commits each write alone when group commit is off", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    const before = reg.stats.commits;
    await Promise.all([0, 2, 4].map((r0) => reg.publishFragment(rows(r0, r0 + 2))));
    assert.equal(reg.stats.commits - before, 3);
  }, { groupCommit: { group: false } });
});

// Nodes

Deno.test("registerNode() leases a node that renewNode() extends and that lapses otherwise", async () => {
  await withRegistry(async (reg) => {
    const tiers = [{ name: "memory", capacity: 1 << 30 }];
    const node = await reg.registerNode({ id: "n1", url: "http://127.0.0.1:7071", tiers }, {
      leaseMs: 5_000,
    });
    assert.ok(node.leaseUntil > Date.now());
    await reg.registerNode({ id: "n2", url: "http://127.0.0.1:7072", tiers }, { leaseMs: 60_000 });
    assert.deepEqual((await reg.listNodes()).map((n) => n.id), ["n1", "n2"]);
    const renewed = await reg.renewNode("n1", { leaseMs: 60_000 });
    assert.ok(renewed.leaseUntil > node.leaseUntil);
    await reg.registerNode({ id: "n3", url: "http://127.0.0.1:7073", tiers }, { leaseMs: 20 });
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual((await reg.listNodes()).map((n) => n.id), ["n1", "n2"]);
    await rejectsWith(
      reg.renewNode("n3"),
      NotFoundError,
      "not_found",
      "Unknown node 'n3': its lease lapsed, register it again",
    );
  });
});

// Batch and close

Deno.test("batch() gives each operation its own result or error", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    const results = await reg.batch([
      { op: "publish", ...rows(0, 4) },
      { op: "publish", ...rows(0, 4) },
      { op: "publish", ...rows(4, 8), byteLength: 1 },
      { op: "commit", dataset: "grid", version: 1 },
      { op: "lookup", dataset: "grid", version: 1, fragment: "even" },
      { op: "lookup", dataset: "grid", version: "latest", fragment: "rows" },
      { op: "nope" },
    ]);
    assert.deepEqual(results[0], { ok: { committed: false } });
    assert.deepEqual(results[1], {
      error: {
        code: "conflict",
        message:
          "Fragment 'rows' (r0=0,r1=4) of version 1 of 'grid' is already published: datasets are write-once unless created with overwrite",
      },
    });
    assert.deepEqual(results[2], {
      error: {
        code: "size_mismatch",
        message: "Cannot publish fragment 'rows': expected 128 bytes, received 1",
        fields: { fragment: "rows", expected: 128, received: 1 },
      },
    });
    assert.deepEqual(results[3], { ok: { version: 1, retired: [] } });
    assert.deepEqual(results[4], {
      ok: { version: 1, byteLength: 128, sources: [rows(0, 4)] },
    });
    assert.equal((results[5] as { error: { code: string } }).error.code, "invalid_layout");
    assert.deepEqual(results[6], {
      error: {
        code: "invalid_request",
        message: "Unknown batch operation 'nope': expected create, publish, commit or lookup",
      },
    });
  });
});

Deno.test("batch() creates datasets concurrently, each with its own result", async () => {
  await withRegistry(async (reg) => {
    const description = "dataset { var x [4]float64 }";
    const results = await reg.batch([
      { op: "create", name: "a", description, retention: 3 },
      { op: "create", name: "b", description, durable: true },
      { op: "create", name: "a", description },
      { op: "create", name: "c", description: "dataset { var x [4]nope }" },
    ]);
    assert.equal((results[0] as { ok: { retention: number } }).ok.retention, 3);
    assert.equal((results[1] as { ok: { name: string } }).ok.name, "b");
    assert.equal((results[2] as { error: { code: string } }).error.code, "conflict");
    assert.equal((results[3] as { error: { code: string } }).error.code, "invalid_description");
    assert.deepEqual((await reg.listDatasets()).map((d) => d.name), ["a", "b"]);
    assert.equal((await reg.datasetSettings("b")).durable, true);
  });
});

Deno.test("close() fails later operations and pending waits with ClosedError", async () => {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp", prefix: "registry_" });
  try {
    const reg = await openRegistry({ path: `${dir}/registry.kv` });
    await reg.createDataset({ name: "grid", description: GRID });
    const waiting = reg.waitForVersion("grid", 1);
    reg.close();
    await rejectsWith(
      waiting,
      ClosedError,
      "unavailable",
      "The registry is closed: nothing to wait for",
    );
    await rejectsWith(
      reg.publishFragment(rows(0, 8)),
      ClosedError,
      "unavailable",
      "The registry is closed: nothing was written",
    );
    reg.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Registry[Symbol.asyncDispose]() lets writes under way finish before closing", async () => {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp", prefix: "registry_" });
  const path = `${dir}/registry.kv`;
  try {
    let publishes: Promise<unknown>;
    {
      await using reg = await openRegistry({ path });
      await reg.createDataset({ name: "grid", description: GRID });
      publishes = Promise.all([0, 2, 4, 6].map((r0) => reg.publishFragment(rows(r0, r0 + 2))));
    }
    await publishes;
    await using again = await openRegistry({ path });
    assert.deepEqual((await again.listVersions("grid")).map((v) => v.state), ["committed"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Tiers and placement

Deno.test("relocateFragment() moves a copy's tier durably, and never revives a retired copy", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 1 });
    const copy = { dataset: "grid", version: 1, fragment: "rows", bindings: { r0: 0, r1: 8 } };
    await reg.publishFragment(rows(0, 8, 1));
    assert.equal(await reg.relocateFragment({ ...copy, node: "n1" }, "file"), true);
    assert.equal(await reg.relocateFragment({ ...copy, node: "n9" }, "file"), false);
    assert.equal(
      await reg.relocateFragment({ ...copy, bindings: { r0: 0, r1: 4 }, node: "n1" }, "file"),
      false,
    );
    const lookup = { dataset: "grid", version: 1, fragment: "rows", bindings: { r0: 0, r1: 8 } };
    assert.equal((await reg.attachFragments(lookup)).sources[0]!.tier, "file");
    await rejectsWith(
      reg.relocateFragment({ ...copy, node: "n1" }, ""),
      InvalidRequestError,
      "invalid_request",
      'Invalid tier "": expected a tier name',
    );
    // Version 2 retires version 1: relocating its copy now writes nothing.
    await reg.publishFragment(rows(0, 8, 2));
    assert.equal(await reg.relocateFragment({ ...copy, node: "n1" }, "backing"), false);
    assert.deepEqual(await keysIn(path, KEYS.fragments("grid", 1)), []);
    reg.close();
    const again = await openRegistry({ path });
    try {
      assert.equal(
        (await again.attachFragments({ ...lookup, version: 2 })).sources[0]!.tier,
        "memory",
      );
    } finally {
      again.close();
    }
  });
});

Deno.test("relocateFragment() survives a restart of the registry", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID });
    await reg.publishFragment(rows(0, 8, 1));
    const copy = { dataset: "grid", version: 1, fragment: "rows", bindings: { r0: 0, r1: 8 } };
    assert.equal(await reg.relocateFragment({ ...copy, node: "n1" }, "backing"), true);
    reg.close();
    const again = await openRegistry({ path });
    try {
      const found = await again.attachFragments({ ...copy, fragment: "even", bindings: {} });
      assert.deepEqual(found.sources.map((s) => [s.node, s.tier]), [["n1", "backing"]]);
    } finally {
      again.close();
    }
  });
});

Deno.test("replicas: added by their nodes, relocated, dropped (never the last copy), kept across a restart, released with their version", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 1 });
    await rejectsWith(
      reg.publishFragment({ ...rows(0, 8, 1), replicas: [{ node: "n2", tier: "memory" }] }),
      InvalidRequestError,
      "invalid_request",
      "Invalid publish of fragment 'rows': expected no replicas: a replica is added by the node that holds it, once the copy is registered",
    );
    await rejectsWith(
      reg.publishFragment({ ...rows(0, 8, 1), reshape: "sideways" as "source" }),
      InvalidRequestError,
      "invalid_request",
      `Invalid publish of fragment 'rows': expected reshape 'source' or 'destination', found "sideways"`,
    );
    await reg.publishFragment({ ...rows(0, 8, 1), reshape: "source" });
    const copy = { dataset: "grid", version: 1, fragment: "rows", bindings: { r0: 0, r1: 8 } };
    assert.equal(await reg.addReplica({ ...copy, node: "n2" }, "memory"), true);
    assert.equal(await reg.addReplica({ ...copy, node: "n3" }, "file"), true);
    assert.equal(await reg.relocateFragment({ ...copy, node: "n2" }, "file"), true);
    assert.equal(
      await reg.addReplica({ ...copy, bindings: { r0: 8, r1: 16 }, node: "n2" }, "memory"),
      false,
    );
    assert.equal(await reg.dropCopy({ ...copy, node: "n1" }), true);
    reg.close();
    const again = await openRegistry({ path });
    try {
      const found = await again.attachFragments({ ...copy, fragment: "even", bindings: {} });
      assert.deepEqual(
        found.sources.map((s) => [s.node, s.tier, s.reshape, s.replicas]),
        [["n2", "file", "source", [{ node: "n3", tier: "file" }]]],
      );
      assert.equal(await again.dropCopy({ ...copy, node: "n3" }), true);
      assert.equal(await again.dropCopy({ ...copy, node: "n2" }), false); // the last copy
      assert.equal(await again.addReplica({ ...copy, node: "n4" }, "memory"), true);
      const released: FragmentRecord[] = [];
      again.onRelease((copies) => released.push(...copies));
      await again.publishFragment(rows(0, 8, 2)); // covers version 2: it commits, version 1 retires
      assert.deepEqual(
        released.map((r) => [r.version, r.node, r.replicas]),
        [[1, "n2", [{ node: "n4", tier: "memory" }]]],
      );
      assert.equal(await again.addReplica({ ...copy, node: "n5" }, "memory"), false);
    } finally {
      again.close();
    }
  });
});

Deno.test("an overwrite frees the replaced copies held by other nodes, never the publishing node's", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID, overwrite: true });
    await reg.publishFragment(rows(0, 4, 1));
    const copy = { dataset: "grid", version: 1, fragment: "rows", bindings: { r0: 0, r1: 4 } };
    await reg.addReplica({ ...copy, node: "n2" }, "memory");
    await reg.addReplica({ ...copy, node: "n3" }, "memory");
    const released: FragmentRecord[] = [];
    reg.onRelease((copies) => released.push(...copies));
    await reg.publishFragment({ ...rows(0, 4, 1), node: "n2" });
    assert.deepEqual(released.map((r) => [r.node, r.replicas]), [["n1", undefined], [
      "n3",
      undefined,
    ]]);
  });
});

Deno.test("createDataset() records consumer nodes for placement and checks them", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({
      name: "grid",
      description: GRID,
      consumers: ["viz-1", "viz-1", "n2"],
    });
    assert.deepEqual(await reg.datasetSettings("grid"), {
      name: "grid",
      durable: false,
      consumers: ["viz-1", "n2"],
    });
    assert.deepEqual((await reg.describeDataset("grid")).consumers, ["viz-1", "n2"]);
    await rejectsWith(
      reg.createDataset({ name: "bad", description: GRID, consumers: ["9x"] }),
      InvalidRequestError,
      "invalid_request",
      "Invalid node name '9x': expected a letter then up to 127 letters, digits, '_', '.' or '-'",
    );
    await assert.rejects(reg.describeDataset("bad"), NotFoundError);
  });
});

Deno.test("a stream of versions keeps the registry within its retention and the last RETIRED_KEPT retired versions", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 2 });
    for (let n = 1; n <= 300; n++) await reg.publishFragment(rows(0, 8, n));
    const listed = await reg.listVersions("grid");
    assert.equal(listed.length, 2 + RETIRED_KEPT);
    assert.deepEqual(listed.slice(-3).map((v) => [v.version, v.state]), [
      [298, "retired"],
      [299, "committed"],
      [300, "committed"],
    ]);
    // The store holds the versions kept, nothing of those retired.
    assert.deepEqual((await keysIn(path, ["versions", "grid"])).map((k) => k[2]), [299, 300]);
    const answers = async (r: Registry) => {
      await assertRetired(r, 1, 2);
      await rejectsWith(
        r.commitVersion("grid", 7),
        ConflictError,
        "conflict",
        "Version 7 of 'grid' is already retired",
      );
      await rejectsWith(
        r.publishFragment(rows(0, 8, 9)),
        ConflictError,
        "conflict",
        "Cannot publish into version 9 of 'grid': it is older than the 2 committed versions kept, publish into version 300 or later",
      );
    };
    await answers(reg);
    reg.close();
    await using again = await openRegistry({ path });
    await answers(again);
    assert.deepEqual((await again.listVersions("grid")).map((v) => v.version), [299, 300]);
  });
});

Deno.test("openRegistry() deletes the records stores used to keep of retired versions, and still answers them as retired", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 1 });
    for (let n = 1; n <= 3; n++) await reg.publishFragment(rows(0, 8, n));
    reg.close();
    // As stores written before retirement deleted records kept them.
    const raw = await Deno.openKv(path);
    for (const n of [1, 2]) {
      await raw.set(KEYS.version("grid", n), {
        version: n,
        state: "retired",
        fragments: 0,
        bytes: 0,
        committedAt: 1,
      });
    }
    raw.close();
    await using again = await openRegistry({ path });
    assert.deepEqual((await keysIn(path, ["versions", "grid"])).map((k) => k[2]), [3]);
    await assertRetired(again, 2, 1);
    assert.deepEqual((await again.listVersions("grid")).map((v) => v.version), [3]);
  });
});
