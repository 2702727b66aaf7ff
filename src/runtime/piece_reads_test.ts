import assert from "node:assert/strict";
import { LostError } from "../errors.ts";
import { metrics } from "../observe/mod.ts";
import { PIECE_BYTES } from "./piece_sums.ts";
import { type TestNode, withCluster } from "./_test_cluster.ts";

// A field of 256 rows of 4096 float64 (32 KiB, two pieces, per row): a block
// of its first 512 columns needs the first piece of each row, half the copy.
const ROWS = 256;
const COLS = 4096;
const DESCRIPTION = `dataset field { var t [${ROWS}, ${COLS}]float64 }
fragment band(r0, r1) { var t = t[r0:r1, :] }
fragment block(r0, r1, c0, c1) { var b = t[r0:r1, c0:c1] }`;
const BLOCK = { r0: 0, r1: ROWS, c0: 0, c1: 512 };

function field(): Uint8Array {
  const a = new Float64Array(ROWS * COLS);
  for (let r = 0; r < ROWS; r++) for (let c = 0; c < COLS; c++) a[r * COLS + c] = r * 10_000 + c;
  return new Uint8Array(a.buffer);
}

function assertBlock(bytes: Uint8Array): void {
  const v = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
  const w = BLOCK.c1 - BLOCK.c0;
  assert.equal(v.length, (BLOCK.r1 - BLOCK.r0) * w);
  for (let r = BLOCK.r0; r < BLOCK.r1; r++) {
    for (let c = BLOCK.c0; c < BLOCK.c1; c++) {
      if (v[(r - BLOCK.r0) * w + c - BLOCK.c0] !== r * 10_000 + c) {
        assert.fail(`value (${r}, ${c}) is ${v[(r - BLOCK.r0) * w + c - BLOCK.c0]}`);
      }
    }
  }
}

async function piecedReads(): Promise<number> {
  return (await metrics.piecedReads.get()).values[0]?.value ?? 0;
}

/** The one file of `dir` (recursively) of `size` bytes: the copy on the file tier. */
async function copyFile(dir: string, size: number): Promise<string> {
  const found: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const path = `${d}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (e.isFile && (await Deno.stat(path)).size === size) found.push(path);
    }
  };
  await walk(dir);
  assert.equal(found.length, 1, `copies of ${size} bytes under ${dir}: ${found.join(", ")}`);
  return found[0]!;
}

/** Flips one byte of the file at `offset`. */
async function spoil(path: string, offset: number): Promise<void> {
  using f = await Deno.open(path, { read: true, write: true });
  const one = new Uint8Array(1);
  await f.seek(offset, Deno.SeekMode.Start);
  await f.read(one);
  one[0]! ^= 0xff;
  await f.seek(offset, Deno.SeekMode.Start);
  await f.write(one);
}

/**
 * Attaches the block on `reader` until a read of only its pieces served it
 * (the piece checksums are kept after the first whole read, as it answers).
 */
async function attachPieced(reader: TestNode): Promise<Uint8Array> {
  const before = await piecedReads();
  for (let i = 0; i < 100; i++) {
    const got = await reader.runtime.attach({
      dataset: "field",
      version: 1,
      fragment: "block",
      bindings: BLOCK,
    });
    assertBlock(got.bytes);
    if (await piecedReads() > before) return got.bytes;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("no attach read only the pieces it needs");
}

for (const where of ["on the copy's node", "from another node"] as const) {
  Deno.test(`A block of a copy on a file tier, attached ${where}, reads and checks only its pieces`, async () => {
    await withCluster(["a", "b"], async (registry, n) => {
      await registry.createDataset({ name: "field", description: DESCRIPTION });
      const bytes = field();
      await n.a!.runtime.publish({
        dataset: "field",
        version: 1,
        fragment: "band",
        bindings: { r0: 0, r1: ROWS },
        bytes,
      });
      const reader = where === "on the copy's node" ? n.a! : n.b!;
      await attachPieced(reader);
      const path = await copyFile(n.a!.dataDir, bytes.byteLength);
      // A byte the block does not need (row 5, column 3000, the second piece
      // of its row): the pieces it reads still match, and its values are right.
      await spoil(path, (5 * COLS + 3000) * 8);
      assertBlock(await attachPieced(reader));
      // A byte it needs (row 9, column 100): the copy is never served.
      await spoil(path, (9 * COLS + 100) * 8);
      await assert.rejects(
        reader.runtime.attach({ dataset: "field", version: 1, fragment: "block", bindings: BLOCK }),
        (e: unknown) => {
          assert.ok(e instanceof LostError, String(e));
          const piece = Math.floor((9 * COLS + 100) * 8 / PIECE_BYTES) * PIECE_BYTES;
          assert.match(e.message, new RegExp(`bytes ${piece}-${piece + PIECE_BYTES - 1} do not`));
          return true;
        },
      );
    }, { memoryBytes: 1024 });
  });
}

Deno.test("A whole attach of a copy still checks every byte after reads of its pieces", async () => {
  await withCluster(["a"], async (registry, n) => {
    await registry.createDataset({ name: "field", description: DESCRIPTION });
    const bytes = field();
    const band = { dataset: "field", version: 1, fragment: "band", bindings: { r0: 0, r1: ROWS } };
    await n.a!.runtime.publish({ ...band, bytes });
    await attachPieced(n.a!);
    await spoil(await copyFile(n.a!.dataDir, bytes.byteLength), (5 * COLS + 3000) * 8);
    assertBlock(await attachPieced(n.a!));
    await assert.rejects(n.a!.runtime.attach(band), (e: unknown) => {
      assert.ok(e instanceof LostError, String(e));
      assert.match(e.message, /Checksum mismatch/);
      return true;
    });
  }, { memoryBytes: 1024 });
});

Deno.test("A publish of a staged file keeps its piece checksums: the first partial attach reads only its pieces", async () => {
  await withCluster(["a"], async (registry, n) => {
    await registry.createDataset({ name: "field", description: DESCRIPTION });
    const bytes = field();
    const path = `${n.a!.dataDir}/staged.bin`;
    await Deno.writeFile(path, bytes);
    await n.a!.runtime.publishFile({
      dataset: "field",
      version: 1,
      fragment: "band",
      bindings: { r0: 0, r1: ROWS },
      file: { path, byteLength: bytes.byteLength },
    });
    const before = await piecedReads();
    const got = await n.a!.runtime.attach({
      dataset: "field",
      version: 1,
      fragment: "block",
      bindings: BLOCK,
    });
    assertBlock(got.bytes);
    assert.equal(await piecedReads(), before + 1);
  }, { memoryBytes: 1024 });
});

Deno.test("Random blocks of copies on a file tier, in the copy's type and converted, read right whether pieced or whole", async () => {
  const description = `dataset field { var t [${ROWS}, ${COLS}]float64 }
fragment band(r0, r1) { var t = t[r0:r1, :] }
fragment block(r0, r1, c0, c1) { var b = t[r0:r1, c0:c1] }
fragment block32(r0, r1, c0, c1) { var b float32 = t[r0:r1, c0:c1] }`;
  await withCluster(["a", "b"], async (registry, n) => {
    await registry.createDataset({ name: "field", description });
    // Two bands, one per node: blocks span either or both.
    const bytes = field();
    const half = ROWS / 2;
    for (const [node, r0] of [["a", 0], ["b", half]] as const) {
      await n[node]!.runtime.publish({
        dataset: "field",
        version: 1,
        fragment: "band",
        bindings: { r0, r1: r0 + half },
        bytes: bytes.slice(r0 * COLS * 8, (r0 + half) * COLS * 8),
      });
    }
    let seed = 11;
    const rand = (k: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % k;
    const before = await piecedReads();
    for (let i = 0; i < 40; i++) {
      const r0 = rand(ROWS - 1);
      const r1 = r0 + 1 + rand(Math.min(ROWS - r0, 96));
      const wide = rand(4) === 0;
      const c0 = rand(COLS - 1);
      const c1 = c0 + 1 + rand(Math.min(COLS - c0, wide ? COLS : 700));
      const converted = rand(2) === 0;
      const reader = rand(2) === 0 ? n.a! : n.b!;
      const got = await reader.runtime.attach({
        dataset: "field",
        version: 1,
        fragment: converted ? "block32" : "block",
        bindings: { r0, r1, c0, c1 },
      });
      const w = c1 - c0;
      const v = converted
        ? new Float32Array(got.bytes.buffer, got.bytes.byteOffset, got.bytes.byteLength / 4)
        : new Float64Array(got.bytes.buffer, got.bytes.byteOffset, got.bytes.byteLength / 8);
      assert.equal(v.length, (r1 - r0) * w);
      for (let r = r0; r < r1; r++) {
        for (let c = c0; c < c1; c++) {
          const want = converted ? Math.fround(r * 10_000 + c) : r * 10_000 + c;
          if (v[(r - r0) * w + c - c0] !== want) {
            assert.fail(
              `block ${i} (${r0}:${r1}, ${c0}:${c1}) value (${r}, ${c}): ${
                v[(r - r0) * w + c - c0]
              }`,
            );
          }
        }
      }
    }
    assert.ok(await piecedReads() > before, "some blocks were read as pieces");
  }, { memoryBytes: 1024 });
});
