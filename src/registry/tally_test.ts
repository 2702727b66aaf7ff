import assert from "node:assert/strict";
import { compileDescription, datasetLayout, fragmentLayout } from "../ddl/mod.ts";
import { Coverage } from "./coverage.ts";
import { exactTiling, MAX_TILES, Tally } from "./tally.ts";

const DS = compileDescription(
  [
    "dataset { var t [16]float64 }",
    "fragment part(a, b) { var t = t[a:b] }",
    "fragment low { var t float32 = t[0:16] }",
  ].join("\n"),
);
const WHOLE = datasetLayout(DS);
const part = (a: number, b: number) => fragmentLayout(DS, "part", { a, b });
const id = (a: number, b: number) => `part/a=${a},b=${b}`;

/** A tally fed `parts` in order, with the tiling `from` learned. */
function tally(parts: readonly (readonly [number, number])[], from?: Tally): Tally {
  const t = new Tally(WHOLE, from?.tiling());
  for (const [a, b] of parts) t.add(id(a, b), part(a, b));
  return t;
}

Deno.test("a tally learns the regions that tile the dataset and counts them in later versions", () => {
  const blocks = [[0, 4], [4, 8], [8, 12], [12, 16]] as const;
  const first = tally(blocks);
  assert.ok(first.complete);
  assert.deepEqual([...first.tiling()!.keys()].sort(), blocks.map(([a, b]) => id(a, b)).sort());
  for (let missing = 0; missing < 4; missing++) {
    const next = tally(blocks.filter((_, k) => k !== missing), first);
    assert.equal(next.complete, false, `block ${missing} missing`);
    const [a, b] = blocks[missing]!;
    next.add(id(a, b), part(a, b));
    assert.ok(next.complete);
    // Counted, not learned again.
    assert.equal(next.tiling(), undefined);
  }
});

Deno.test("regions holding as many indices as the dataset, overlapping, leave it incomplete until covered", () => {
  const t = tally([[0, 9]]);
  assert.equal(t.complete, false);
  t.add(id(0, 9), part(0, 9));
  t.add(id(2, 10), part(2, 10));
  assert.equal(t.complete, false);
  t.add(id(10, 16), part(10, 16));
  assert.ok(t.complete);
  assert.equal(t.tiling(), undefined);
});

Deno.test("a region added twice counts once", () => {
  const first = tally([[0, 8], [8, 16]]);
  const next = tally([[0, 8], [0, 8]], first);
  assert.equal(next.complete, false);
});

Deno.test("overlapping regions (halos) tile nothing: each version subtracts boxes", () => {
  const halos = [[0, 9], [7, 16]] as const;
  const first = tally(halos);
  assert.ok(first.complete);
  assert.equal(first.tiling(), undefined);
  assert.equal(
    exactTiling(WHOLE, new Map(halos.map(([a, b]) => [id(a, b), part(a, b)]))),
    undefined,
  );
  assert.equal(tally([[0, 9]], first).complete, false);
});

Deno.test("regions that miss part of the dataset tile nothing", () => {
  assert.equal(
    exactTiling(WHOLE, new Map([[id(0, 8), part(0, 8)], [id(9, 16), part(9, 16)]])),
    undefined,
  );
});

Deno.test("a region outside the tiling makes the tally subtract boxes, from what it counted", () => {
  const first = tally([[0, 4], [4, 8], [8, 12], [12, 16]]);
  // Two blocks counted, then a half the tiling does not know.
  const mixed = tally([[0, 4], [4, 8]], first);
  assert.equal(mixed.complete, false);
  mixed.add(id(8, 16), part(8, 16));
  assert.ok(mixed.complete);
  // The same with a region that leaves a gap.
  const short = tally([[0, 4], [4, 8]], first);
  short.add(id(8, 15), part(8, 15));
  assert.equal(short.complete, false);
  short.add(id(12, 16), part(12, 16));
  assert.ok(short.complete);
});

Deno.test("a region holding no index as the dataset stores it is left out of the tiling", () => {
  const low = fragmentLayout(DS, "low", {});
  const first = tally([[0, 8], [8, 16]]);
  first.add("low/", low);
  assert.ok(first.complete);
  assert.deepEqual([...first.tiling()!.keys()].sort(), [id(0, 8), id(8, 16)]);
  // Adding it to a counting tally changes nothing it answers.
  const next = tally([[0, 8]], first);
  next.add("low/", low);
  assert.equal(next.complete, false);
  next.add(id(8, 16), part(8, 16));
  assert.ok(next.complete);
});

Deno.test("a copy stored as another element type covers nothing, counted or not", () => {
  const first = tally([[0, 8], [8, 16]]);
  const next = tally([[0, 8]], first);
  next.add("low/", fragmentLayout(DS, "low", {}));
  assert.equal(next.complete, false);
});

Deno.test("past MAX_TILES regions, a complete tally learns nothing", () => {
  const ds = compileDescription(
    `dataset { var t [${MAX_TILES + 1}]int8 }\nfragment cell(i) { var t = t[i:i + 1] }`,
  );
  const t = new Tally(datasetLayout(ds));
  for (let i = 0; i <= MAX_TILES; i++) t.add(`cell/i=${i}`, fragmentLayout(ds, "cell", { i }));
  assert.ok(t.complete);
  assert.equal(t.tiling(), undefined);
});

Deno.test("counting answers what subtracting boxes answers, for random regions in random order", () => {
  let seed = 12345;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 300; round++) {
    // A random partition of [0, 16) learned from a first version.
    const cuts = [...new Set([0, 16, ...Array.from({ length: random(6) }, () => random(17))])]
      .sort((x, y) => x - y);
    const blocks = cuts.slice(1).map((b, k) => [cuts[k]!, b] as const);
    const first = tally(blocks);
    assert.ok(first.complete);
    // Later versions: some of the blocks, others regions, in random order.
    const picks: (readonly [number, number])[] = [];
    for (let k = 0, n = random(8); k < n; k++) {
      if (random(4) === 0) {
        const a = random(16);
        picks.push([a, a + 1 + random(16 - a)]);
      } else picks.push(blocks[random(blocks.length)]!);
    }
    const counted = tally(picks, first);
    const fresh = tally(picks);
    const boxes = new Coverage(WHOLE);
    for (const [a, b] of picks) boxes.add(part(a, b));
    assert.equal(counted.complete, boxes.complete, JSON.stringify({ blocks, picks }));
    assert.equal(fresh.complete, boxes.complete, JSON.stringify({ picks }));
  }
});
