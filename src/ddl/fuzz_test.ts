import assert from "node:assert/strict";
import { StrataError } from "../errors.ts";
import { compileDescription, fragmentLayout } from "./mod.ts";

const SEEDS = [
  `dataset particles {
  const N = 16
  type Point struct { a float64; b, c float32 }
  var data [N]Point
  var temp [4, 8]float64
  var n int32
  var v [n]float32
}
view viz read-only rowmajor {
  type PointB { b } Point
  var b [] { b } = data
  var d [i] = data[i*5]
  var e [i]PointB = data[i*3 + 1]
  var t [i, j] = temp[j, i]
}
fragment block(r0, r1, c0, c1) columnar { var t float32 = temp[r0:r1, c0:c1:2] }
replica r "viz.dat" complete { view viz }
`,
];

const PIECES = [
  "{",
  "}",
  "[",
  "]",
  "(",
  ")",
  ",",
  "=",
  "*",
  ":",
  ";",
  "\n",
  "var",
  "type",
  "struct",
  "view",
  "fragment",
  "replica",
  "const",
  "float64",
  "int8",
  "string4",
  "x",
  "i",
  "0",
  "99999999999999999999",
  "-",
  "/",
  '"',
  "read-only",
  "columnar",
  "/*",
  ".",
  "$",
];

/** mulberry32: a small seeded generator so every run tries the same inputs. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("compileDescription() throws only its own errors on mutated input", () => {
  const rand = rng(20261123);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  let accepted = 0;
  for (let n = 0; n < 3000; n++) {
    let s = pick(SEEDS);
    const edits = 1 + Math.floor(rand() * 4);
    for (let k = 0; k < edits; k++) {
      const at = Math.floor(rand() * s.length);
      const len = Math.floor(rand() * 6);
      const r = rand();
      if (r < 0.4) s = s.slice(0, at) + s.slice(at + len);
      else if (r < 0.8) s = s.slice(0, at) + pick(PIECES) + s.slice(at);
      else s = s.slice(0, at) + " " + pick(PIECES) + " " + s.slice(at + len);
    }
    try {
      const ds = compileDescription(s);
      accepted++;
      for (const name of ds.fragments.keys()) {
        try {
          fragmentLayout(ds, name, { r0: 0, r1: 2, c0: 0, c1: 2, n: 3 });
        } catch (e) {
          assert.ok(e instanceof StrataError, `layout of ${JSON.stringify(s)} threw ${e}`);
        }
      }
    } catch (e) {
      assert.ok(e instanceof StrataError, `input ${JSON.stringify(s)} threw ${e}`);
    }
  }
  assert.ok(accepted > 0, "some mutations should still be valid descriptions");
});
