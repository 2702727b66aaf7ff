import assert from "node:assert/strict";
import {
  boxSize,
  coalesceBoxes,
  gcd,
  intersectBoxes,
  intersectProgressions,
  type Progression,
  subtractBox,
  subtractProgression,
} from "./region.ts";
import { Random } from "./_testing.ts";

const p = (start: number, step: number, count: number): Progression => ({ start, step, count });

function values(x: Progression | undefined): number[] {
  if (x === undefined) return [];
  return Array.from({ length: x.count }, (_, i) => x.start + x.step * i);
}

Deno.test("gcd() returns the greatest common divisor when given two integers", () => {
  assert.equal(gcd(0, 5), 5);
  assert.equal(gcd(21, 6), 3);
  assert.equal(gcd(7, 13), 1);
});

Deno.test("intersectProgressions() solves the congruences when both are strided", () => {
  // 1, 5, 9, ..., 97 and 3, 9, 15, ..., 99 share 9, 21, 33, ...
  assert.deepEqual(intersectProgressions(p(1, 4, 25), p(3, 6, 17)), p(9, 12, 8));
});

Deno.test("intersectProgressions() returns undefined when residues never meet", () => {
  assert.equal(intersectProgressions(p(0, 2, 10), p(1, 2, 10)), undefined);
  assert.equal(intersectProgressions(p(0, 1, 4), p(4, 1, 4)), undefined);
});

Deno.test("intersectProgressions() gives step 1 when a single value is shared", () => {
  assert.deepEqual(intersectProgressions(p(0, 3, 10), p(6, 1, 1)), p(6, 1, 1));
});

Deno.test("intersectProgressions() matches set intersection on random progressions", () => {
  const r = new Random(7);
  for (let n = 0; n < 2000; n++) {
    const a = p(r.int(0, 40), r.int(1, 7), r.int(1, 12));
    const b = p(r.int(0, 40), r.int(1, 7), r.int(1, 12));
    const expected = values(a).filter((x) => values(b).includes(x));
    assert.deepEqual(values(intersectProgressions(a, b)), expected, JSON.stringify([a, b]));
  }
});

Deno.test("subtractProgression() leaves prefix, gaps and suffix when b skips values", () => {
  const a = p(0, 1, 10);
  const b = p(2, 3, 3); // 2, 5, 8
  const rest = subtractProgression(a, b).flatMap(values).sort((x, y) => x - y);
  assert.deepEqual(rest, [0, 1, 3, 4, 6, 7, 9]);
});

Deno.test("subtractBox() returns disjoint boxes covering exactly a minus b", () => {
  const r = new Random(11);
  for (let n = 0; n < 300; n++) {
    const a = [p(r.int(0, 5), r.int(1, 3), r.int(1, 6)), p(r.int(0, 5), r.int(1, 3), r.int(1, 6))];
    const other = [
      p(r.int(0, 8), r.int(1, 3), r.int(1, 6)),
      p(r.int(0, 8), r.int(1, 3), r.int(1, 6)),
    ];
    const b = intersectBoxes(a, other);
    if (b === undefined) continue;
    const key = (x: number, y: number) => `${x},${y}`;
    const inB = new Set(values(b[0]).flatMap((x) => values(b[1]).map((y) => key(x, y))));
    const expected = values(a[0]).flatMap((x) => values(a[1]).map((y) => key(x, y)))
      .filter((k) => !inB.has(k)).sort();
    const pieces = subtractBox(a, b);
    const got = pieces.flatMap((box) =>
      values(box[0]).flatMap((x) => values(box[1]).map((y) => key(x, y)))
    ).sort();
    assert.deepEqual(got, expected);
    assert.equal(pieces.reduce((s, box) => s + boxSize(box), 0), expected.length);
  }
});

Deno.test("coalesceBoxes() joins the pieces of a subtraction back into one box when they continue", () => {
  const whole = [p(0, 1, 8), p(0, 1, 8)];
  const hole = [p(2, 1, 2), p(0, 1, 8)];
  const pieces = subtractBox(whole, hole);
  assert.deepEqual(coalesceBoxes(pieces), [[p(0, 1, 2), p(0, 1, 8)], [p(4, 1, 4), p(0, 1, 8)]]);
});

Deno.test("coalesceBoxes() keeps apart boxes that only touch diagonally", () => {
  const a = [p(0, 1, 2), p(0, 1, 2)];
  const b = [p(2, 1, 2), p(2, 1, 2)];
  assert.deepEqual(coalesceBoxes([b, a]), [a, b]);
});
