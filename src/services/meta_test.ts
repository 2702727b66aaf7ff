import assert from "node:assert/strict";
import { InvalidRequestError, PayloadTooLargeError } from "../errors.ts";
import { KIND_DEFAULTS, MemoryTier, TierSet } from "../tiers/mod.ts";
import { BlobStore } from "./blobs.ts";
import { KV_LIMITS } from "./kv_limits.ts";
import { ServiceMeta } from "./meta.ts";

async function open() {
  const spec = { name: "mem", kind: "memory", capacity: 1 << 26, ...KIND_DEFAULTS.memory } as const;
  const tiers = new TierSet({ node: "n", tiers: [{ tier: new MemoryTier("mem", 1 << 26), spec }] });
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
