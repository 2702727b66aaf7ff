import assert from "node:assert/strict";
import { ChecksumError } from "../errors.ts";
import { PIECE_BYTES, PIECED_MIN_BYTES } from "../runtime/piece_sums.ts";
import { FileTier } from "../tiers/file_tier.ts";
import { KIND_DEFAULTS, MemoryTier, TierSet } from "../tiers/mod.ts";
import { BlobStore } from "./blobs.ts";

/** Runs `fn` with a node whose one tier is a file tier in a new directory under tmp/. */
async function withFileTier(fn: (tiers: TierSet, dir: string) => Promise<void>): Promise<void> {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  try {
    const spec = { name: "file", kind: "file", capacity: 1 << 26, ...KIND_DEFAULTS.file } as const;
    const tier = await FileTier.open("file", dir, 1 << 26);
    await fn(new TierSet({ node: "n", tiers: [{ tier, spec }] }), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

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

Deno.test("BlobStore.get() of a range of a blob in a file reads and checks only the pieces holding it", async () => {
  await withFileTier(async (tiers, dir) => {
    const blobs = new BlobStore("hepnos", tiers, { durable: true });
    const value = new Uint8Array(64 * PIECE_BYTES).map((_, i) => (i * 7) & 0xff);
    const ref = await blobs.put(value);
    const reads: number[] = [];
    const getRanges = tiers.getRanges.bind(tiers);
    tiers.getRanges = (key, runs, into, base) => {
      for (const [, length] of runs) reads.push(length);
      return getRanges(key, runs, into, base);
    };
    const range = { offset: 3 * PIECE_BYTES + 5, length: 2 * PIECE_BYTES };
    assert.deepEqual(
      await blobs.get(ref, range),
      value.subarray(range.offset, range.offset + range.length),
    );
    assert.deepEqual(reads, [3 * PIECE_BYTES], "the three pieces holding the range, nothing else");
    // A byte spoiled outside the range: the range still reads; the whole blob does not.
    const [file] = [...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) =>
      `${dir}/${e.name}`
    );
    const spoil = async (at: number) => {
      using f = await Deno.open(file!, { read: true, write: true });
      await f.seek(at, Deno.SeekMode.Start);
      await f.write(new Uint8Array([~value[at]! & 0xff]));
    };
    await spoil(40 * PIECE_BYTES);
    assert.deepEqual(
      await blobs.get(ref, range),
      value.subarray(range.offset, range.offset + range.length),
    );
    await assert.rejects(blobs.get(ref), ChecksumError);
    // Inside the range: refused, naming the piece.
    await spoil(4 * PIECE_BYTES + 1);
    await assert.rejects(blobs.get(ref, range), (e: unknown) => {
      assert.ok(e instanceof ChecksumError);
      assert.match(e.message, new RegExp(`bytes ${4 * PIECE_BYTES}-${5 * PIECE_BYTES - 1} do not`));
      return true;
    });
    // A range past half the blob is read whole (and refused whole here).
    await assert.rejects(blobs.get(ref, { offset: 0, length: 40 * PIECE_BYTES }), ChecksumError);
  });
});

Deno.test("BlobStore.get() of ranges of a blob read whole: concurrent reads share one, later ones read pieces", async () => {
  await withFileTier(async (tiers) => {
    const value = new Uint8Array(PIECED_MIN_BYTES).map((_, i) => (i * 13) & 0xff);
    const ref = await new BlobStore("hepnos", tiers, { durable: true }).put(value);
    // Another store, as after a restart: it knows no piece checksums of the blob.
    const blobs = new BlobStore("hepnos", tiers, { durable: true });
    let wholeReads = 0;
    let pieceReads = 0;
    const get = tiers.get.bind(tiers);
    tiers.get = (key) => (wholeReads++, get(key));
    const getRanges = tiers.getRanges.bind(tiers);
    tiers.getRanges = (key, runs, into, base) => (pieceReads++, getRanges(key, runs, into, base));
    const ranges = [0, 10, 20, 30].map((i) => ({ offset: i * PIECE_BYTES, length: 100 }));
    const got = await Promise.all(ranges.map((r) => blobs.get(ref, r)));
    got.forEach((g, i) =>
      assert.deepEqual(g, value.subarray(ranges[i]!.offset, ranges[i]!.offset + 100))
    );
    assert.equal(wholeReads, 1, "one read of the whole blob for the four ranges");
    assert.deepEqual(
      await blobs.get(ref, { offset: 5 * PIECE_BYTES, length: 10 }),
      value.subarray(5 * PIECE_BYTES, 5 * PIECE_BYTES + 10),
    );
    assert.deepEqual([wholeReads, pieceReads], [1, 1], "the next range reads its piece alone");
  });
});
