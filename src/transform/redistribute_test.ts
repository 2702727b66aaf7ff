import assert from "node:assert/strict";
import { MissingRegionError } from "../errors.ts";
import type { FragmentLayout } from "./layout.ts";
import { redistribute, type SourceFragment } from "./redistribute.ts";
import type { ScalarType } from "./scalar.ts";

// A 2-D variable t[R, C] of float64 written by 8 ranks, read back differently.
const R = 64;
const C = 48;

interface Block {
  r0: number;
  r1: number;
  c0: number;
  c1: number;
}

function blockLayout(
  b: Block,
  opts: { type?: ScalarType; transposed?: boolean } = {},
): FragmentLayout {
  const type = opts.type ?? "float64";
  const size = type === "float32" ? 4 : 8;
  const rows = b.r1 - b.r0;
  const cols = b.c1 - b.c0;
  const rowAxis = { dim: 0, step: 1, count: rows };
  const colAxis = { dim: 1, step: 1, count: cols };
  return {
    byteLength: rows * cols * size,
    slots: [{
      name: "t",
      variable: "t",
      origin: [b.r0, b.c0],
      axes: opts.transposed ? [colAxis, rowAxis] : [rowAxis, colAxis],
      fields: [{
        path: "",
        type,
        count: 1,
        offset: 0,
        strides: opts.transposed ? [rows * size, size] : [cols * size, size],
      }],
    }],
  };
}

const value = (r: number, c: number) => r * 1000 + c + 0.25;

function blockBytes(b: Block): Uint8Array {
  const out = new Float64Array((b.r1 - b.r0) * (b.c1 - b.c0));
  let i = 0;
  for (let r = b.r0; r < b.r1; r++) for (let c = b.c0; c < b.c1; c++) out[i++] = value(r, c);
  return new Uint8Array(out.buffer);
}

function rowBlocks(n: number): Block[] {
  return Array.from(
    { length: n },
    (_, i) => ({ r0: (i * R) / n, r1: ((i + 1) * R) / n, c0: 0, c1: C }),
  );
}

function grid(pr: number, pc: number): Block[] {
  const out: Block[] = [];
  for (let i = 0; i < pr; i++) {
    for (let j = 0; j < pc; j++) {
      out.push({
        r0: (i * R) / pr,
        r1: ((i + 1) * R) / pr,
        c0: (j * C) / pc,
        c1: ((j + 1) * C) / pc,
      });
    }
  }
  return out;
}

function written(blocks: Block[]): SourceFragment[] {
  return blocks.map((b) => ({ layout: blockLayout(b), bytes: blockBytes(b) }));
}

function assertRestores(writers: Block[], readers: Block[]): void {
  const sources = written(writers);
  for (const b of readers) {
    const got = redistribute(sources, blockLayout(b));
    assert.deepEqual(got, blockBytes(b), `reader [${b.r0}:${b.r1}, ${b.c0}:${b.c1}]`);
  }
}

Deno.test("redistribute() restores 8 row blocks into 8, 4, 2 and 1 readers when restarting", () => {
  for (const n of [8, 4, 2, 1]) assertRestores(rowBlocks(8), rowBlocks(n));
});

Deno.test("redistribute() restores a 2 x 4 block grid into 2 x 2, 4 x 1 and 1 x 1 readers", () => {
  assertRestores(grid(2, 4), grid(2, 2));
  assertRestores(grid(2, 4), grid(4, 1));
  assertRestores(grid(2, 4), grid(1, 1));
  assertRestores(rowBlocks(8), grid(2, 4));
});

Deno.test("redistribute() builds the whole array transposed and as float32 when the reader asks", () => {
  const whole = { r0: 0, r1: R, c0: 0, c1: C };
  const sources = written(grid(2, 4));
  const transposed = new Float64Array(
    redistribute(sources, blockLayout(whole, { transposed: true })).buffer,
  );
  const narrow = new Float32Array(
    redistribute(sources, blockLayout(whole, { type: "float32" })).buffer,
  );
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      assert.equal(transposed[c * R + r], value(r, c));
      assert.equal(narrow[r * C + c], Math.fround(value(r, c)));
    }
  }
});

Deno.test("redistribute() accepts overlapping writers and takes the first one's values", () => {
  const blocks = rowBlocks(8);
  const sources = written(blocks);
  // A stale copy of rows 8..24 placed last: ignored, the 8 writers cover it first.
  const stale = { r0: 8, r1: 24, c0: 0, c1: C };
  sources.push({
    layout: blockLayout(stale),
    bytes: new Uint8Array(blockLayout(stale).byteLength),
  });
  const whole = { r0: 0, r1: R, c0: 0, c1: C };
  assert.deepEqual(redistribute(sources, blockLayout(whole)), blockBytes(whole));
  // Placed first, it wins where it overlaps.
  const first = redistribute([sources.at(-1)!, ...sources.slice(0, -1)], blockLayout(whole));
  const f = new Float64Array(first.buffer);
  assert.equal(f[8 * C], 0);
  assert.equal(f[24 * C], value(24, 0));
});

Deno.test("redistribute() throws MissingRegionError naming exactly the missing block when a writer is lost", () => {
  const blocks = grid(2, 4);
  const lost = blocks.splice(5, 1)[0]!;
  assert.deepEqual(lost, { r0: 32, r1: 64, c0: 12, c1: 24 });
  assert.throws(
    () => redistribute(written(blocks), blockLayout({ r0: 0, r1: R, c0: 0, c1: C })),
    (e: unknown) =>
      e instanceof MissingRegionError &&
      e.message === "Sources do not cover 't': missing [32:64, 12:24]" &&
      JSON.stringify(e.missing) === JSON.stringify([{ start: [32, 12], count: [32, 12] }]),
  );
  // A reader whose block does not touch the lost one is served.
  assertRestores(blocks, [{ r0: 0, r1: 32, c0: 0, c1: C }]);
});

Deno.test("redistribute() restores a 1-D variable from 8 uneven writers into 3 readers", () => {
  const cuts = [0, 100, 130, 300, 301, 520, 700, 999, 1000];
  const range = (a: number, b: number): SourceFragment => ({
    layout: {
      byteLength: (b - a) * 4,
      slots: [{
        name: "v",
        variable: "v",
        origin: [a],
        axes: [{ dim: 0, step: 1, count: b - a }],
        fields: [{ path: "", type: "int32", count: 1, offset: 0, strides: [4] }],
      }],
    },
    bytes: new Uint8Array(Int32Array.from({ length: b - a }, (_, i) => (a + i) * 7).buffer),
  });
  const writers = cuts.slice(1).map((b, i) => range(cuts[i]!, b));
  for (const [a, b] of [[0, 333], [333, 666], [666, 1000]]) {
    const got = redistribute(writers, range(a!, b!).layout);
    assert.deepEqual(got, range(a!, b!).bytes);
  }
});
