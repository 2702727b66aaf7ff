import assert from "node:assert/strict";
import { IntervalGrid } from "./interval_grid.ts";

Deno.test("IntervalGrid.query() returns every item whose range meets the query, for random ranges", () => {
  let seed = 3;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const grid = new IntervalGrid<number>();
  const ranges: [number, number][] = [];
  for (let i = 0; i < 2000; i++) {
    const lo = rand(100_000);
    const hi = lo + (rand(4) === 0 ? rand(50_000) : rand(30));
    ranges.push([lo, hi]);
    grid.add(lo, hi, i);
  }
  for (let i = 0; i < 2000; i += 3) assert.ok(grid.delete(ranges[i]![0], ranges[i]![1], i));
  assert.equal(grid.size, 2000 - 667);
  for (let q = 0; q < 500; q++) {
    const lo = rand(100_000);
    const hi = lo + rand(q % 10 === 0 ? 20_000 : 40);
    const found = grid.query(lo, hi);
    ranges.forEach(([a, b], i) => {
      const meets = a <= hi && b >= lo && i % 3 !== 0;
      if (meets) assert.ok(found.has(i), `query ${q} misses ${i}`);
      if (i % 3 === 0) assert.ok(!found.has(i), `query ${q} finds deleted ${i}`);
    });
  }
});

Deno.test("IntervalGrid.query() examines few items for a point among many small ranges", () => {
  const grid = new IntervalGrid<number>();
  for (let i = 0; i < 100_000; i++) grid.add(i * 2, i * 2, i);
  grid.add(0, 1_000_000_000, -1);
  assert.deepEqual([...grid.query(500, 500)].sort((a, b) => a - b), [-1, 250]);
});

Deno.test("IntervalGrid.delete() returns false for an item not held", () => {
  const grid = new IntervalGrid<string>();
  grid.add(0, 3, "a");
  assert.equal(grid.delete(0, 3, "b"), false);
  assert.equal(grid.delete(0, 3, "a"), true);
  assert.equal(grid.size, 0);
  assert.deepEqual(grid.values(), []);
});
