import assert from "node:assert/strict";
import { insertVersion, oldestOpenable, planRetention } from "./retention.ts";

/** Open versions below a version, from a list. */
const opens = (open: number[]) => (below: number) => open.filter((n) => n < below);

Deno.test("planRetention() retires the committed versions past the newest K", () => {
  assert.deepEqual(planRetention([1, 2, 3], 4, 2), { ok: true, retire: [1, 2], dropped: 2 });
  assert.deepEqual(planRetention([1, 2, 3], 4, 4), { ok: true, retire: [], dropped: 0 });
});

Deno.test("planRetention() retires open versions older than the kept ones once the window is full", () => {
  assert.deepEqual(planRetention([3], 5, 2, opens([1, 2, 5])), {
    ok: true,
    retire: [1, 2],
    dropped: 0,
  });
  assert.deepEqual(planRetention([3], 5, 3, opens([1, 2, 5])), {
    ok: true,
    retire: [],
    dropped: 0,
  });
});

Deno.test("planRetention() refuses a version older than every version kept", () => {
  assert.deepEqual(planRetention([2, 3], 1, 2), { ok: false, kept: [3, 2] });
  assert.deepEqual(planRetention([2, 3], 1, 3), { ok: true, retire: [], dropped: 0 });
});

Deno.test("planRetention() decides as a sort of every version would, on random datasets", () => {
  // The plan by sorting every committed version, as a reference.
  const reference = (committed: number[], open: number[], n: number, keep: number) => {
    const all = [n, ...committed].sort((a, b) => b - a);
    const kept = all.slice(0, keep);
    if (!kept.includes(n)) return { ok: false, kept };
    const retire = all.slice(keep);
    if (kept.length === keep) {
      for (const o of open) if (o < kept[kept.length - 1]! && o !== n) retire.push(o);
    }
    return { ok: true, retire: retire.sort((a, b) => a - b) };
  };
  let seed = 7;
  const random = (m: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % m;
  for (let trial = 0; trial < 2000; trial++) {
    const versions = [...new Set(Array.from({ length: random(12) + 1 }, () => random(30) + 1))];
    const committed: number[] = [];
    const open: number[] = [];
    for (const v of versions) (random(2) === 0 ? committed : open).push(v);
    const n = open.length > 0 && random(3) > 0 ? open[random(open.length)]! : 31 + random(3);
    const keep = random(6) + 1;
    const asc = [...committed].sort((a, b) => a - b);
    const plan = planRetention(asc, n, keep, opens(open));
    const want = reference(committed, open, n, keep);
    const context = `committed ${asc}, open ${open}, committing ${n}, keep ${keep}`;
    if (!plan.ok) assert.deepEqual(plan, want, context);
    else {
      assert.deepEqual({ ok: true, retire: plan.retire }, want, context);
      assert.deepEqual(asc.slice(0, plan.dropped), plan.retire.filter((r) => asc.includes(r)));
    }
  }
});

Deno.test("oldestOpenable() is one past the oldest kept version when the window is full", () => {
  assert.equal(oldestOpenable([1, 2, 3], 2), 3);
  assert.equal(oldestOpenable([1], 2), 0);
  assert.equal(oldestOpenable([], 1), 0);
});

Deno.test("insertVersion() keeps the versions ascending", () => {
  const committed: number[] = [];
  for (const n of [5, 1, 9, 3, 10, 2]) insertVersion(committed, n);
  assert.deepEqual(committed, [1, 2, 3, 5, 9, 10]);
});
