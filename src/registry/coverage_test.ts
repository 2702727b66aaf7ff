import assert from "node:assert/strict";
import { compileDescription, datasetLayout, fragmentLayout } from "../ddl/mod.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { Coverage, gaps, missingCount } from "./coverage.ts";
import { overlaps, slotBox } from "../transform/overlap.ts";

const GRID = compileDescription(`dataset g { var t [8, 4]float64 }
fragment rows(r0, r1) { var t = t[r0:r1, :] }
fragment cols(c0, c1) { var t = t[:, c0:c1] }
fragment every(a, st) { var t [i, j] = t[a + st*i, j] }
fragment low(r0, r1) { var t float32 = t[r0:r1, :] }`);
const whole = datasetLayout(GRID);
const rows = (r0: number, r1: number) => fragmentLayout(GRID, "rows", { r0, r1 });

Deno.test("gaps() is empty when four row blocks cover a 2-D variable", () => {
  const blocks = [rows(0, 2), rows(2, 4), rows(4, 6)];
  assert.deepEqual(gaps(whole, blocks)[0]?.missing, [[
    { start: 6, step: 1, count: 2 },
    { start: 0, step: 1, count: 4 },
  ]]);
  assert.deepEqual(gaps(whole, [...blocks, rows(6, 8)]), []);
});

Deno.test("gaps() is empty when overlapping row and column blocks cover the variable", () => {
  const c = (c0: number, c1: number) => fragmentLayout(GRID, "cols", { c0, c1 });
  assert.deepEqual(gaps(whole, [rows(0, 5), c(0, 3), rows(3, 8), c(2, 4)]), []);
});

Deno.test("gaps() keeps the rows a strided fragment skips", () => {
  const even = fragmentLayout(GRID, "every", { a: 0, st: 2 });
  const left = gaps(whole, [even]);
  assert.equal(missingCount(left), 16);
  const missingRows = new Set(left[0]!.missing.flatMap(boxCells).map((c) => c.split(",")[0]));
  assert.deepEqual([...missingRows].sort(), ["1", "3", "5", "7"]);
  assert.deepEqual(gaps(whole, [even, fragmentLayout(GRID, "every", { a: 1, st: 2 })]), []);
});

Deno.test("gaps() does not count a field stored as another element type", () => {
  assert.equal(missingCount(gaps(whole, [fragmentLayout(GRID, "low", { r0: 0, r1: 8 })])), 32);
});

Deno.test("gaps() requires every leaf field of a struct variable", () => {
  const ds = compileDescription(`dataset p { var p [4]struct { x float64; y float64 } }
fragment xs { var p { x } = p }
fragment ys(lo, hi) { var p { y } = p[lo:hi] }`);
  const all = datasetLayout(ds);
  const xs = fragmentLayout(ds, "xs");
  assert.deepEqual(gaps(all, [xs]).map((g) => [g.field, missingCount([g])]), [["y", 4]]);
  const ys = (lo: number, hi: number) => fragmentLayout(ds, "ys", { lo, hi });
  assert.deepEqual(gaps(all, [xs, ys(0, 2), ys(2, 4)]), []);
});

Deno.test("Coverage.add() tracks the same gaps one publish at a time as gaps() at once", () => {
  const layouts = [rows(0, 3), fragmentLayout(GRID, "every", { a: 1, st: 3 }), rows(5, 8)];
  const coverage = new Coverage(whole);
  for (const l of layouts) {
    assert.ok(!coverage.complete);
    coverage.add(l);
  }
  assert.deepEqual(coverage.gaps(), gaps(whole, layouts));
  coverage.add(rows(3, 5));
  assert.ok(coverage.complete);
});

Deno.test("Coverage.add() completes after 20 000 single cells in random order", () => {
  const ds = compileDescription(
    "dataset c { var t [20000]int8 }\nfragment cell(r) { var t = t[r:r + 1] }",
  );
  const coverage = new Coverage(datasetLayout(ds));
  const order = Array.from({ length: 20000 }, (_, i) => (i * 7919) % 20000);
  for (const r of order.slice(0, -1)) coverage.add(fragmentLayout(ds, "cell", { r }));
  assert.equal(missingCount(coverage.gaps()), 1);
  coverage.add(fragmentLayout(ds, "cell", { r: order.at(-1)! }));
  assert.ok(coverage.complete);
});

Deno.test("gaps() agrees with counting covered cells one by one, for random strided blocks", () => {
  const ds = compileDescription(`dataset g { var t [7, 5]float64 }
fragment s(a, b, st, c0, c1, cs) { var t = t[a:b:st, c0:c1:cs] }`);
  const all = datasetLayout(ds);
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let trial = 0; trial < 300; trial++) {
    const layouts: FragmentLayout[] = [];
    for (let k = 1 + rand(8); k > 0; k--) {
      const a = rand(7);
      const c0 = rand(5);
      layouts.push(fragmentLayout(ds, "s", {
        a,
        b: a + 1 + rand(7 - a),
        st: 1 + rand(3),
        c0,
        c1: c0 + 1 + rand(5 - c0),
        cs: 1 + rand(2),
      }));
    }
    const covered = new Set<string>();
    for (const l of layouts) for (const cell of cells(l)) covered.add(cell);
    const left = gaps(all, layouts);
    assert.equal(missingCount(left), 35 - covered.size, `trial ${trial}`);
    for (const box of left.flatMap((g) => g.missing)) {
      for (const cell of boxCells(box)) assert.ok(!covered.has(cell), `trial ${trial}: ${cell}`);
    }
  }
});

Deno.test("overlaps() tells whether two layouts share an index", () => {
  const even = fragmentLayout(GRID, "every", { a: 0, st: 2 });
  assert.ok(overlaps(rows(0, 1), even));
  assert.ok(!overlaps(rows(1, 2), even));
  assert.ok(overlaps(rows(1, 3), even));
});

Deno.test("slotBox() gives a dropped dimension its origin only", () => {
  const ds = compileDescription(
    "dataset g { var t [8, 4]float64 }\nfragment row(r) { var t [j] = t[r, j] }",
  );
  assert.deepEqual(slotBox(fragmentLayout(ds, "row", { r: 5 }).slots[0]!), [
    { start: 5, step: 1, count: 1 },
    { start: 0, step: 1, count: 4 },
  ]);
});

function cells(l: FragmentLayout): string[] {
  return l.slots.flatMap((s) => boxCells(slotBox(s)));
}

function boxCells(box: readonly { start: number; step: number; count: number }[]): string[] {
  const [r, c] = box;
  const out: string[] = [];
  for (let i = 0; i < r!.count; i++) {
    for (let j = 0; j < c!.count; j++) {
      out.push(`${r!.start + i * r!.step},${c!.start + j * c!.step}`);
    }
  }
  return out;
}
