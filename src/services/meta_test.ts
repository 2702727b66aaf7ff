import assert from "node:assert/strict";
import { InvalidRequestError, NodeFullError, PayloadTooLargeError } from "../errors.ts";
import { KIND_DEFAULTS, MemoryTier, TierSet } from "../tiers/mod.ts";
import { BlobStore } from "./blobs.ts";
import { KV_LIMITS } from "./kv_limits.ts";
import { PACK_FROM_BYTES, PACK_MIN_BYTES, ServiceMeta } from "./meta.ts";
import { LocalMetaKv } from "./meta_kv.ts";

/** A node whose one tier is a memory tier of `capacity` bytes. */
function memoryTiers(capacity: number): TierSet {
  const spec = { name: "mem", kind: "memory", capacity, ...KIND_DEFAULTS.memory } as const;
  return new TierSet({ node: "n", tiers: [{ tier: new MemoryTier("mem", capacity), spec }] });
}

async function open() {
  const tiers = memoryTiers(1 << 26);
  const kv = await Deno.openKv(":memory:");
  return {
    kv,
    tiers,
    meta: new ServiceMeta(kv, "s", new BlobStore("s", tiers, { durable: false })),
  };
}

Deno.test("ServiceMeta.write() cuts 2500 writes into commits within KV's limits", async () => {
  const { kv, meta } = await open();
  const ops = Array.from({ length: 2500 }, (_, i) => ({
    type: "setIfAbsent" as const,
    key: ["k", i],
    value: new Uint8Array(8),
  }));
  assert.equal((await meta.write(ops)).filter(Boolean).length, 2500);
  // Again: every put-if-absent finds its key and reports it, none throws.
  assert.equal((await meta.write(ops.slice(0, 150))).filter(Boolean).length, 0);
  kv.close();
});

Deno.test("ServiceMeta.atomic() refuses a batch larger than one commit", async () => {
  const { kv, meta } = await open();
  const ops = Array.from({ length: KV_LIMITS.maxMutations + 1 }, (_, i) => ({
    type: "set" as const,
    key: ["k", i],
    value: new Uint8Array(1),
  }));
  await assert.rejects(meta.atomic(ops), PayloadTooLargeError);
  assert.equal(await meta.get(["k", 0]), undefined);
  kv.close();
});

Deno.test("ServiceMeta keeps large values in blobs and frees replaced ones", async () => {
  const { kv, meta, tiers } = await open();
  const big = new Uint8Array(300_000).fill(3);
  await meta.write([{ type: "set", key: ["b"], value: big }]);
  assert.equal(tiers.keys("svc~s~").length, 1);
  await meta.write([{ type: "set", key: ["b"], value: new Uint8Array([1]) }]);
  assert.equal(tiers.keys("svc~s~").length, 0);
  assert.deepEqual(await meta.get(["b"]), new Uint8Array([1]));
  await meta.write([{ type: "setIfAbsent", key: ["b"], value: big }]);
  assert.equal(tiers.keys("svc~s~").length, 0, "a refused put-if-absent leaves no blob");
  await assert.rejects(
    meta.get(["x".repeat(KV_LIMITS.maxKeyBytes)]),
    InvalidRequestError,
  );
  kv.close();
});

Deno.test("ServiceMeta.write() fits 128 values of 10 kB, as a write batch sends them, in KV's size limit", async () => {
  const { kv, meta } = await open();
  const ops = Array.from({ length: 128 }, (_, i) => ({
    type: "set" as const,
    key: ["p", new Uint8Array(40).fill(i), "label#type"],
    value: new Uint8Array(10_000),
  }));
  assert.equal((await meta.write(ops)).filter(Boolean).length, 128);
  kv.close();
});

Deno.test("ServiceMeta.sweepBlobs() frees a blob no key names once two sweeps found it so", async () => {
  const { kv, meta } = await open();
  const big = new Uint8Array(KV_LIMITS.inlineValueBytes + 1).fill(7);
  await meta.write([{ type: "set", key: ["kept"], value: big }]);
  // A crash between a blob's write and its record's commit leaves this.
  const orphan = await meta.blobs.put(new Uint8Array(100_000));
  assert.deepEqual(await meta.sweepBlobs(), { held: 2, unnamed: 1, freed: 0 });
  assert.deepEqual(await meta.sweepBlobs(), { held: 2, unnamed: 1, freed: 1 });
  assert.equal(meta.blobs.heldIds().includes(orphan.id), false);
  // A write under way during a sweep: its blob is stored, its record not
  // yet committed. The next sweep finds it named and keeps it.
  const late = await meta.blobs.put(big);
  assert.deepEqual(await meta.sweepBlobs(), { held: 2, unnamed: 1, freed: 0 });
  await kv.set(["svc", "s", "late"], { blob: late });
  assert.deepEqual(await meta.sweepBlobs(), { held: 2, unnamed: 0, freed: 0 });
  assert.deepEqual(await meta.get(["kept"]), big);
  assert.deepEqual(await meta.get(["late"]), big);
  kv.close();
});

/** A service over `kv` through `local`, whose Deno KV counts its reads (`getMany`). */
function counted(kv: Deno.Kv, tiers: TierSet, service = "s") {
  let reads = 0;
  const spied = new Proxy(kv, {
    get(target, prop) {
      if (prop === "getMany") return (...a: [Deno.KvKey[]]) => (reads++, target.getMany(...a));
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const local = new LocalMetaKv(spied);
  const meta = new ServiceMeta(local, service, new BlobStore(service, tiers, { durable: false }));
  return { local, meta, reads: () => reads };
}

Deno.test("ServiceMeta.write() of a service that never stored a blob sets without reading or checking", async () => {
  const { kv, tiers } = await open();
  const { local, meta, reads } = counted(kv, tiers);
  const ops = (value: number) =>
    Array.from({ length: 500 }, (_, i) => ({
      type: "set" as const,
      key: ["k", i],
      value: new Uint8Array([value]),
    }));
  assert.deepEqual(await meta.write(ops(1)), ops(1).map(() => true));
  // Overwritten: still no read, and one atomic for the 500 sets (100 when checked).
  const before = local.stats.atomics;
  assert.deepEqual(await meta.write(ops(2)), ops(2).map(() => true));
  assert.equal(local.stats.atomics - before, 1);
  assert.equal(reads(), 0);
  assert.deepEqual(await meta.get(["k", 499]), new Uint8Array([2]));
  // Put-if-absents keep their checks.
  const again = await meta.write([{
    type: "setIfAbsent",
    key: ["k", 0],
    value: new Uint8Array(1),
  }]);
  assert.deepEqual(again, [false]);
  assert.equal(local.mayHoldBlobs("s"), false);
  // A blob marks the service: a set over it reads it and frees the blob.
  await meta.write([{ type: "set", key: ["b"], value: new Uint8Array(100_000) }]);
  assert.equal(local.mayHoldBlobs("s"), true);
  await meta.write([{ type: "set", key: ["b"], value: new Uint8Array([1]) }]);
  assert.ok(reads() > 0);
  assert.equal(tiers.keys("svc~s~").length, 0);
  await local.close();
  kv.close();
});

Deno.test("ServiceMeta.write() racing a blob's write to the same key never leaks the blob", async () => {
  const { kv, tiers } = await open();
  const { local, meta } = counted(kv, tiers);
  await meta.write([{ type: "set", key: ["warm"], value: new Uint8Array(1) }]);
  for (let round = 0; round < 20; round++) {
    await Promise.all([
      meta.write([{ type: "set", key: ["k", round], value: new Uint8Array(100_000) }]),
      meta.write([{ type: "set", key: ["k", round], value: new Uint8Array([round]) }]),
    ]);
  }
  // Every blob still held is named by its key.
  let named = 0;
  for (let round = 0; round < 20; round++) {
    if ((await meta.get(["k", round]))!.length === 100_000) named++;
  }
  assert.equal(tiers.keys("svc~s~").length, named);
  await local.close();
  kv.close();
});

Deno.test("LocalMetaKv remembers which services stored blobs, and finds them in a KV written before it did", async () => {
  const dir = await Deno.makeTempDir({ dir: "tmp", prefix: "meta_blobs_" });
  const path = `${dir}/kv.sqlite`;
  try {
    {
      using kv = await Deno.openKv(path);
      const local = new LocalMetaKv(kv);
      const tiers = memoryTiers(1 << 22);
      const big = new ServiceMeta(local, "big", new BlobStore("big", tiers, { durable: false }));
      const small = new ServiceMeta(
        local,
        "small",
        new BlobStore("small", tiers, { durable: false }),
      );
      await big.write([{ type: "set", key: ["a"], value: new Uint8Array(100_000) }]);
      await small.write([{ type: "set", key: ["a"], value: new Uint8Array(10) }]);
      await local.close();
    }
    {
      using kv = await Deno.openKv(path);
      const local = new LocalMetaKv(kv);
      await local.blobsKnown();
      assert.deepEqual([local.mayHoldBlobs("big"), local.mayHoldBlobs("small")], [true, false]);
      // As a KV written before the markers: the values are read once for them.
      await kv.delete(["svc_blobs", "big"]);
      await kv.delete(["svc_blobs_scanned"]);
      await local.close();
    }
    using kv = await Deno.openKv(path);
    const local = new LocalMetaKv(kv);
    assert.equal(local.mayHoldBlobs("small"), true, "unknown until read");
    await local.blobsKnown();
    assert.deepEqual([local.mayHoldBlobs("big"), local.mayHoldBlobs("small")], [true, false]);
    assert.equal((await kv.get(["svc_blobs", "big"])).value, true);
    await local.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LocalMetaKv.blobsKnown() that failed reads again at the next call", async () => {
  using kv = await Deno.openKv(":memory:");
  let failing = true;
  const flaky = new Proxy(kv, {
    get(target, prop) {
      if (prop === "list" && failing) {
        return () => {
          throw new Error("KV busy");
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const local = new LocalMetaKv(flaky);
  await assert.rejects(local.blobsKnown(), /KV busy/);
  assert.equal(local.mayHoldBlobs("s"), true);
  failing = false;
  await local.blobsKnown();
  assert.equal(local.mayHoldBlobs("s"), false);
  await local.close();
});

Deno.test("ServiceMeta.write() packs a batch's mid-size values into one blob, each key naming its range", async () => {
  const { kv, meta, tiers } = await open();
  const n = Math.ceil(PACK_MIN_BYTES / 10_000);
  const values = Array.from({ length: n }, (_, i) => new Uint8Array(10_000).fill(i + 1));
  const applied = await meta.write([
    ...values.map((value, i) => ({ type: "set" as const, key: ["p", i], value })),
    { type: "set", key: ["small"], value: new Uint8Array(PACK_FROM_BYTES - 1).fill(99) },
  ]);
  assert.equal(applied.filter(Boolean).length, n + 1);
  assert.equal(tiers.keys("svc~s~").length, 1, `one pack for the ${n} values`);
  assert.deepEqual(await meta.getMany(values.map((_, i) => ["p", i])), values);
  assert.deepEqual(await meta.get(["small"]), new Uint8Array(PACK_FROM_BYTES - 1).fill(99));
  const range = await meta.getRange(["p", 3], 9_998);
  assert.deepEqual([range?.size, range?.bytes], [10_000, new Uint8Array([4, 4])]);
  assert.deepEqual((await meta.getRange(["p", 3], 9_999, 2))?.bytes, undefined);
  // A batch with fewer packable bytes stays in KV: one commit, no blob's flush before it.
  await meta.write(values.slice(0, 4).map((value, i) => ({ type: "set", key: ["q", i], value })));
  assert.equal(tiers.keys("svc~s~").length, 1);
  assert.deepEqual(await meta.get(["q", 3]), values[3]);
  kv.close();
});

Deno.test("ServiceMeta frees a pack only once no key names any of its values", async () => {
  const { kv, meta, tiers } = await open();
  const value = (n: number) => new Uint8Array(60_000).fill(n);
  await meta.write(
    [0, 1, 2, 3, 4].map((i) => ({ type: "set" as const, key: ["p", i], value: value(i) })),
  );
  assert.equal(tiers.keys("svc~s~").length, 1);
  // Replacing or deleting some values leaves the pack: the others still read.
  await meta.write([
    { type: "set", key: ["p", 0], value: new Uint8Array([7]) },
    { type: "delete", key: ["p", 1] },
    { type: "setIfAbsent", key: ["p", 2], value: value(8) },
  ]);
  assert.deepEqual(await meta.get(["p", 2]), value(2));
  assert.deepEqual((await meta.sweepBlobs()).freed, 0);
  assert.deepEqual((await meta.sweepBlobs()).freed, 0, "still named by p/2 to p/4");
  assert.equal(tiers.keys("svc~s~").length, 1);
  await meta.write([2, 3, 4].map((i) => ({ type: "delete" as const, key: ["p", i] })));
  assert.equal((await meta.sweepBlobs()).unnamed, 1);
  assert.equal((await meta.sweepBlobs()).freed, 1);
  assert.equal(tiers.keys("svc~s~").length, 0);
  kv.close();
});

Deno.test("LocalMetaKv does not count packs as blobs a replacement frees: sets stay unchecked", async () => {
  const { kv, meta } = await open();
  await meta.write(
    Array.from({ length: 8 }, (_, i) => ({
      type: "set" as const,
      key: ["p", i],
      value: new Uint8Array(KV_LIMITS.inlineValueBytes),
    })),
  );
  assert.equal((await kv.get(["svc_blobs", "s"])).versionstamp, null);
  await meta.write([{
    type: "set",
    key: ["b"],
    value: new Uint8Array(KV_LIMITS.inlineValueBytes + 1),
  }]);
  assert.notEqual(
    (await kv.get(["svc_blobs", "s"])).versionstamp,
    null,
    "a blob of its own marks it",
  );
  kv.close();
});

Deno.test("ServiceMeta.write() of a batch whose pack finds no room refuses it whole, leaving KV as it was", async () => {
  const tiers = memoryTiers(100_000);
  using kv = await Deno.openKv(":memory:");
  const meta = new ServiceMeta(kv, "s", new BlobStore("s", tiers, { durable: false }));
  const ops = Array.from({ length: 30 }, (_, i) => ({
    type: "set" as const,
    key: ["p", i],
    value: new Uint8Array(10_000),
  }));
  await assert.rejects(meta.write(ops), NodeFullError);
  assert.equal(await meta.get(["p", 0]), undefined);
  assert.equal(tiers.keys("svc~s~").length, 0);
});

Deno.test("ServiceMeta.write() and atomic() refuse a key too long after a blob began to be written, its failure handled", async () => {
  // The blob finds no room (NodeFullError, after the refusal): nothing may
  // be left rejecting unhandled, which would stop the process.
  const tiers = memoryTiers(100_000);
  using kv = await Deno.openKv(":memory:");
  const meta = new ServiceMeta(kv, "s", new BlobStore("s", tiers, { durable: false }));
  const ops = [
    { type: "set" as const, key: ["big"], value: new Uint8Array(200_000) },
    { type: "set" as const, key: ["k".repeat(3000)], value: new Uint8Array(1) },
  ];
  await assert.rejects(meta.write(ops), InvalidRequestError);
  await assert.rejects(meta.atomic(ops), InvalidRequestError);
  // The blob writes have settled (and failed) by the next turns of the loop.
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(await meta.get(["big"]), undefined);
  assert.equal(tiers.keys("svc~s~").length, 0);
});

Deno.test("ServiceMeta.writeRanges() keeps a file as one pack, refuses ranges outside it, frees an unnamed pack", async () => {
  const { kv, tiers, meta } = await open();
  await Deno.mkdir("tmp", { recursive: true });
  const bytes = new Uint8Array(5000).map((_, i) => i & 0xff);
  const paths: string[] = [];
  const staged = async () => {
    const path = await Deno.makeTempFile({ dir: "tmp" });
    paths.push(path);
    await Deno.writeFile(path, bytes);
    return { path, byteLength: bytes.byteLength };
  };
  try {
    // A range past the file's end: refused before anything is stored.
    const outside = await staged();
    await assert.rejects(
      meta.writeRanges(outside, [{ type: "set", key: ["x"], at: 4000, length: 1001 }]),
      InvalidRequestError,
    );
    assert.equal(tiers.keys("svc~s~").length, 0);

    const ops = [
      { type: "setIfAbsent" as const, key: ["a"], at: 0, length: 3000 },
      { type: "setIfAbsent" as const, key: ["b"], at: 3000, length: 2000 },
    ];
    assert.deepEqual(await meta.writeRanges(await staged(), ops), [true, true]);
    assert.equal(tiers.keys("svc~s~").length, 1);
    assert.deepEqual(await meta.get(["b"]), bytes.subarray(3000));
    assert.deepEqual((await meta.getRange(["a"], 10, 5))?.bytes, bytes.subarray(10, 15));
    // Every key set already: nothing applies, and the second pack is freed at once.
    assert.deepEqual(await meta.writeRanges(await staged(), ops), [false, false]);
    assert.equal(tiers.keys("svc~s~").length, 1);
  } finally {
    kv.close();
    for (const p of paths) await Deno.remove(p).catch(() => {});
  }
});
