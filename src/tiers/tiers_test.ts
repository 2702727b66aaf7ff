import assert from "node:assert/strict";
import { withDir } from "../../tests/_fixtures.ts";
import { StrataError, TierFullError } from "../errors.ts";
import { BackingTier, FileTier, MemoryTier, ShmTier, type Tier } from "./mod.ts";

async function capacityIsEnforced(t: Tier) {
  await t.put("a", new Uint8Array(60));
  await assert.rejects(
    () => t.put("b", new Uint8Array(50)),
    (e) =>
      e instanceof TierFullError &&
      e.message === `Tier '${t.name}' is full: capacity 100 bytes, 60 used, 50 requested`,
  );
  assert.equal(await t.has("b"), false);
  assert.deepEqual(await t.get("a"), new Uint8Array(60));
  await t.put("a", new Uint8Array(90)); // replacing frees the old copy's bytes first
  assert.equal(t.info().used, 90);
  assert.equal(await t.delete("a"), true);
  assert.equal(await t.delete("a"), false);
  assert.equal(t.info().used, 0);
}

Deno.test("MemoryTier.put() refuses copies past capacity and keeps what it holds", async () => {
  await capacityIsEnforced(new MemoryTier("memory", 100));
});

Deno.test("FileTier.put() refuses copies past capacity and keeps what it holds", async () => {
  await withDir(async (dir) => await capacityIsEnforced(await FileTier.open("file", dir, 100)));
});

Deno.test("ShmTier.put() refuses copies past capacity and keeps what it holds", async () => {
  await withDir(async (dir) => await capacityIsEnforced(await ShmTier.open("shm", dir, 100)));
});

Deno.test("BackingTier.put() refuses copies past capacity and keeps what it holds", async () => {
  await withDir(async (dir) => await capacityIsEnforced(await BackingTier.open("pfs", dir, 100)));
});

Deno.test("ShmTier.open() at /dev/shm says why when Deno refuses /dev to narrow permissions", async () => {
  const dir = `/dev/shm/strata/test-${crypto.randomUUID()}`;
  const opened = await ShmTier.open("shm", dir, 100).catch((e) => e);
  if (opened instanceof ShmTier) {
    // A Deno that grants /dev/shm to --allow-write gives a working tier.
    await capacityIsEnforced(opened);
    await Deno.remove(dir, { recursive: true });
    return;
  }
  assert.ok(opened instanceof StrataError, String(opened));
  assert.equal(
    opened.message,
    `Cannot open shm tier 'shm' at '${dir}': Deno grants access under /dev only with --allow-all, which Strata does not run with; declare the tier's path on another tmpfs mount`,
  );
});

Deno.test("ShmTier.open() clears what a previous run left unless declared persistent", async () => {
  await withDir(async (dir) => {
    const t = await ShmTier.open("shm", dir, 1000);
    await t.put("a/1/dataset/", new Uint8Array([1, 2, 3]));
    assert.deepEqual(Deno.readFileSync(t.pathOf("a/1/dataset/")), new Uint8Array([1, 2, 3]));
    const kept = await ShmTier.open("shm", dir, 1000, { persistent: true });
    assert.deepEqual(kept.list(), [{ key: "a/1/dataset/", byteLength: 3 }]);
    assert.equal(kept.info().persistent, true);
    const cleared = await ShmTier.open("shm", dir, 1000);
    assert.deepEqual(cleared.list(), []);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("FileTier.open() finds copies after a restart, with any key", async () => {
  await withDir(async (dir) => {
    const keys = ["particles/3/viz?r0=0&r1=2", "a~b c/ü", "..", "x.bin.tmp"];
    const t = await FileTier.open("file", dir, 1 << 20);
    for (const [i, k] of keys.entries()) await t.put(k, new Uint8Array([i, i + 1]));
    await Deno.writeFile(`${dir}/torn.bin.1234.tmp`, new Uint8Array(5));
    const again = await FileTier.open("file", dir, 1 << 20);
    assert.equal(again.info().count, keys.length);
    assert.equal(again.info().used, 2 * keys.length);
    for (const [i, k] of keys.entries()) {
      assert.deepEqual(await again.get(k), new Uint8Array([i, i + 1]));
    }
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.ok(names.every((n) => !n.endsWith(".tmp")), "leftover temporary files are removed");
  });
});

Deno.test("FileTier.put() keeps concurrent writers within capacity", async () => {
  await withDir(async (dir) => {
    const t = await FileTier.open("file", dir, 100);
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => t.put(`k${i}`, new Uint8Array(40))),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 2);
    assert.equal(t.info().used, 80);
  });
});

Deno.test("FileTier.put() flushes the directory after its renames, one flush for concurrent writes; ShmTier never", async () => {
  await withDir(async (dir) => {
    const t = await FileTier.open("file", `${dir}/file`, 1 << 20);
    await t.put("a", new Uint8Array(8));
    assert.equal(t.directoryFlushes, 1);
    await Promise.all(Array.from({ length: 8 }, (_, i) => t.put(`k${i}`, new Uint8Array(8))));
    const flushes = t.directoryFlushes - 1;
    assert.ok(flushes >= 1 && flushes < 8, `${flushes} flushes for 8 concurrent puts`);
    const file = `${dir}/staged`;
    await Deno.writeFile(file, new Uint8Array(4));
    await t.putFile("f", { path: file, byteLength: 4 }, { move: false });
    assert.equal(t.directoryFlushes, flushes + 2);
    const shm = await ShmTier.open("shm", `${dir}/shm`, 1 << 20);
    await shm.put("a", new Uint8Array(8));
    assert.equal(shm.directoryFlushes, 0);
  });
});

Deno.test("FileTier.putFile() copies a file, ShmTier.putFile() with move takes it, both sized", async () => {
  await withDir(async (dir) => {
    const file = await FileTier.open("file", `${dir}/file`, 100);
    const shm = await ShmTier.open("shm", `${dir}/shm`, 100);
    const staged = shm.stagingPathOf("s1");
    assert.equal(staged, `${dir}/shm/s1.stage.tmp`);
    await Deno.writeFile(staged, new Uint8Array([1, 2, 3, 4]));
    await file.putFile("d/1/f/", { path: staged, byteLength: 4 }, { move: false });
    assert.deepEqual(await file.get("d/1/f/"), new Uint8Array([1, 2, 3, 4]));
    await shm.putFile("d/1/f/", { path: staged, byteLength: 4 }, { move: true });
    assert.deepEqual(await shm.get("d/1/f/"), new Uint8Array([1, 2, 3, 4]));
    assert.equal((await Deno.stat(staged).catch((e) => e)) instanceof Deno.errors.NotFound, true);
    assert.equal(shm.info().used, 4);
    // A file of another size is refused, and nothing is kept or counted.
    await Deno.writeFile(staged, new Uint8Array(5));
    await assert.rejects(
      () => file.putFile("d/2/f/", { path: staged, byteLength: 4 }, { move: false }),
      (e) => e instanceof StrataError && e.code === "size_mismatch",
    );
    assert.equal(await file.has("d/2/f/"), false);
    assert.equal(file.info().used, 4);
    await assert.rejects(
      () => file.putFile("d/3/f/", { path: staged, byteLength: 200 }, { move: false }),
      TierFullError,
    );
    assert.deepEqual([...Deno.readDirSync(`${dir}/file`)].map((e) => e.name).length, 1);
  });
});

Deno.test("ShmTier.stagingPathOf() refuses ids that are not plain names", async () => {
  await withDir(async (dir) => {
    const shm = await ShmTier.open("shm", dir, 100);
    assert.throws(() => shm.stagingPathOf("../x"), RangeError);
  });
});

Deno.test("FileTier.getRanges() reads runs at their offsets, less a base, and refuses runs that do not fit", async () => {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  try {
    const t = await FileTier.open("file", dir, 1 << 20);
    const bytes = new Uint8Array(100).map((_, i) => i);
    await t.put("k", bytes);
    const whole = new Uint8Array(100);
    assert.equal(await t.getRanges("k", [[10, 5], [90, 10]], whole), true);
    assert.deepEqual([...whole.subarray(8, 16)], [0, 0, 10, 11, 12, 13, 14, 0]);
    assert.deepEqual([...whole.subarray(90)], [90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
    const window = new Uint8Array(20);
    assert.equal(await t.getRanges("k", [[40, 20]], window, 40), true);
    assert.deepEqual(window, bytes.subarray(40, 60));
    await assert.rejects(t.getRanges("k", [[40, 21]], window, 40), RangeError);
    await assert.rejects(t.getRanges("k", [[30, 5]], window, 40), RangeError);
    assert.equal(await t.getRanges("missing", [[0, 1]], window), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
