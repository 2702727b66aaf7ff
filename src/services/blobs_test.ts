import assert from "node:assert/strict";
import { KIND_DEFAULTS, MemoryTier, TierSet } from "../tiers/mod.ts";
import { BlobStore } from "./blobs.ts";

Deno.test("BlobStore.put() keeps a view's bytes in a buffer of their own, not the buffer it views", async () => {
  const spec = { name: "mem", kind: "memory", capacity: 1 << 20, ...KIND_DEFAULTS.memory } as const;
  const tier = new MemoryTier("mem", 1 << 20);
  const tiers = new TierSet({ node: "n", tiers: [{ tier, spec }] });
  const blobs = new BlobStore("notes", tiers, { durable: false });
  const body = new Uint8Array(512 * 1024).map((_, i) => i & 0xff);
  const ref = await blobs.put(body.subarray(100, 104));
  body.fill(0);
  const got = await blobs.get(ref);
  assert.deepEqual([...got], [100, 101, 102, 103]);
  assert.equal(got.buffer.byteLength, 4, "the tier holds 4 bytes, not the 512 KiB body");
});

Deno.test("BlobStore.put() keeps a view of nearly all its buffer as it is, without a copy", async () => {
  const spec = { name: "mem", kind: "memory", capacity: 1 << 22, ...KIND_DEFAULTS.memory } as const;
  const tiers = new TierSet({ node: "n", tiers: [{ tier: new MemoryTier("mem", 1 << 22), spec }] });
  const blobs = new BlobStore("notes", tiers, { durable: false });
  // One product of 1 MiB after a frame's 100-byte header.
  const body = new Uint8Array(100 + (1 << 20)).map((_, i) => i & 0xff);
  const value = body.subarray(100);
  const got = await blobs.get(await blobs.put(value));
  assert.equal(got.buffer, body.buffer);
  assert.deepEqual(got, value);
});
