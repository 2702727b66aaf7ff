import assert from "node:assert/strict";
import { compileDescription, fragmentLayout } from "../ddl/mod.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { overlaps } from "../transform/overlap.ts";
import { RegionIndex } from "./region_index.ts";

const DS = compileDescription(`dataset d { var t [10000, 3]float64; var s float64 }
fragment block(a, b, st) { var t = t[a:b:st, :] }
fragment col(c) { var t [i] = t[i, c] }
fragment scalar { var s = s }
fragment both(a) { var t = t[a:a + 1, :]; var s = s }`);
const block = (a: number, b: number, st = 1) => fragmentLayout(DS, "block", { a, b, st });

Deno.test("RegionIndex.query() returns only copies near the region, in the order added", () => {
  const index = new RegionIndex<number>();
  for (let k = 0; k < 100; k++) index.add(block(k * 100, k * 100 + 100), k);
  assert.equal(index.size, 100);
  assert.deepEqual(index.query(block(250, 420)), [2, 3, 4]);
});

Deno.test("RegionIndex.query() finds wide copies and copies of variables without dimensions", () => {
  const index = new RegionIndex<string>();
  index.add(fragmentLayout(DS, "col", { c: 1 }), "column");
  index.add(fragmentLayout(DS, "scalar"), "scalar");
  index.add(block(9000, 9010), "tail");
  assert.deepEqual(index.query(block(0, 1)), ["column"]);
  assert.deepEqual(index.query(fragmentLayout(DS, "both", { a: 9005 })), [
    "column",
    "scalar",
    "tail",
  ]);
});

Deno.test("RegionIndex.query() returns every copy that overlaps, for random strided blocks", () => {
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const index = new RegionIndex<FragmentLayout>();
  const all: FragmentLayout[] = [];
  for (let k = 0; k < 400; k++) {
    const a = rand(10000);
    const span = rand(8) === 0 ? rand(10000 - a) + 1 : rand(Math.min(40, 10000 - a)) + 1;
    const l = block(a, a + span, 1 + rand(3));
    all.push(l);
    index.add(l, l);
  }
  for (let q = 0; q < 300; q++) {
    const a = rand(10000);
    const target = block(a, a + 1 + rand(Math.min(200, 10000 - a)));
    const found = new Set(index.query(target));
    for (const l of all) if (overlaps(l, target)) assert.ok(found.has(l), `query ${q}`);
  }
});
