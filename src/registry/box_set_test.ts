import assert from "node:assert/strict";
import type { StridedBox } from "../transform/region.ts";
import { BoxSet } from "./box_set.ts";

const box = (r: [number, number, number], c: [number, number, number]): StridedBox => [
  { start: r[0], step: r[1], count: r[2] },
  { start: c[0], step: c[1], count: c[2] },
];

Deno.test("BoxSet.subtract() leaves exactly the cells not subtracted, for random strided boxes", () => {
  let seed = 11;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let trial = 0; trial < 100; trial++) {
    const set = new BoxSet();
    set.add(box([0, 1, 40], [0, 1, 6]));
    const left = new Set<string>();
    for (let r = 0; r < 40; r++) for (let c = 0; c < 6; c++) left.add(`${r},${c}`);
    for (let k = 0; k < 12; k++) {
      const rs = 1 + rand(3);
      const r0 = rand(40);
      const rc = 1 + rand(Math.floor((39 - r0) / rs) + 1);
      const c0 = rand(6);
      const cc = 1 + rand(6 - c0);
      set.subtract(box([r0, rs, rc], [c0, 1, cc]));
      for (let i = 0; i < rc; i++) {
        for (let j = 0; j < cc; j++) left.delete(`${r0 + i * rs},${c0 + j}`);
      }
      assert.equal(set.indices, left.size, `trial ${trial}, step ${k}`);
    }
    for (const b of set.boxes()) {
      for (let i = 0; i < b[0]!.count; i++) {
        for (let j = 0; j < b[1]!.count; j++) {
          const cell = `${b[0]!.start + i * b[0]!.step},${b[1]!.start + j * b[1]!.step}`;
          assert.ok(left.has(cell), `trial ${trial}: ${cell} is not missing`);
        }
      }
    }
  }
});

Deno.test("BoxSet.add() ignores an empty box and holds a box without dimensions", () => {
  const set = new BoxSet();
  set.add([{ start: 0, step: 1, count: 0 }]);
  assert.equal(set.size, 0);
  set.add([]);
  assert.equal(set.size, 1);
  set.subtract([]);
  assert.equal(set.size, 0);
});
