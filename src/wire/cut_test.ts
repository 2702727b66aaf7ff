import assert from "node:assert/strict";
import { compileDescription, datasetLayout, fragmentLayout } from "../ddl/mod.ts";
import { redistribute } from "../transform/mod.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { coversWhole, cutLayout, sameLayout } from "./cut.ts";

const DS = compileDescription(`
dataset grid {
  type P struct { x, y float64; e float32; id int32 }
  var p [64]P
  var t [16, 12]float64
}
fragment parts(lo, hi) { var p = p[lo:hi] }
fragment cols(lo, hi) columnar { var p { id, e float64, x } = p[lo:hi] }
fragment evens { var q [i] { y } = p[i*2] }
fragment rows(r0, r1) { var t = t[r0:r1, :] }
fragment block(r0, r1, c0, c1) { var b float32 = t[r0:r1, c0:c1] }
fragment tr(c0) { var u [j, i] = t[i, c0 + j] }
`);

function filled(layout: FragmentLayout, seed: number): Uint8Array {
  const b = new Uint8Array(layout.byteLength);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  // Keep float bit patterns ordinary: every 8th byte small, so no NaN payloads change.
  for (let i = 7; i < b.length; i += 8) b[i] = 0x3f;
  for (let i = 3; i < b.length; i += 4) b[i] = b[i]! & 0x3f;
  return b;
}

/** The dataset written by 4 ranks: particle blocks and row bands. */
function pieces(seed: number): { layout: FragmentLayout; bytes: Uint8Array }[] {
  const out = [];
  for (let k = 0; k < 4; k++) {
    const p = fragmentLayout(DS, "parts", { lo: 16 * k, hi: 16 * k + 16 });
    const t = fragmentLayout(DS, "rows", { r0: 4 * k, r1: 4 * k + 4 });
    out.push({ layout: p, bytes: filled(p, seed + k) }, {
      layout: t,
      bytes: filled(t, seed + 9 + k),
    });
  }
  return out;
}

const targets: [string, FragmentLayout][] = [
  ["columnar particles with conversion", fragmentLayout(DS, "cols", { lo: 10, hi: 60 })],
  ["a strided field subset", fragmentLayout(DS, "evens", {})],
  ["a converted 2-D block", fragmentLayout(DS, "block", { r0: 2, r1: 9, c0: 3, c1: 11 })],
  ["transposed columns", fragmentLayout(DS, "tr", { c0: 5 })],
  ["the whole dataset", datasetLayout(DS)],
];

for (const [name, target] of targets) {
  for (const at of ["source", "destination"] as const) {
    Deno.test(`cutLayout() moves only what the target needs: ${name}, reshape at ${at}`, () => {
      const sources = pieces(3);
      const direct = redistribute(sources, target);
      const moved = [];
      for (const s of sources) {
        const cut = cutLayout(s.layout, target, at);
        if (cut === undefined) continue;
        assert.ok(cut.byteLength <= Math.max(s.layout.byteLength, target.byteLength));
        moved.push({ layout: cut, bytes: redistribute([s], cut) });
      }
      assert.deepEqual(redistribute(moved, target), direct);
    });
  }
}

Deno.test("cutLayout() gives the target itself when one copy covers it, reshape at source", () => {
  const copy = datasetLayout(DS);
  const target = fragmentLayout(DS, "cols", { lo: 0, hi: 64 });
  const cut = cutLayout(copy, target, "source")!;
  assert.equal(cut.byteLength, target.byteLength);
  const bytes = filled(copy, 1);
  assert.deepEqual(
    redistribute([{ layout: copy, bytes }], cut),
    redistribute([{ layout: copy, bytes }], target),
  );
});

Deno.test("cutLayout() is the copy itself when the target needs all of it, reshape at destination", () => {
  const copy = fragmentLayout(DS, "rows", { r0: 0, r1: 8 });
  assert.ok(coversWhole(cutLayout(copy, datasetLayout(DS), "destination")!, copy));
  assert.ok(
    !coversWhole(
      cutLayout(copy, fragmentLayout(DS, "rows", { r0: 2, r1: 8 }), "destination")!,
      copy,
    ),
  );
});

Deno.test("cutLayout() returns undefined when the copy and the target do not meet", () => {
  assert.equal(
    cutLayout(
      fragmentLayout(DS, "rows", { r0: 0, r1: 4 }),
      fragmentLayout(DS, "rows", { r0: 4, r1: 8 }),
      "destination",
    ),
    undefined,
  );
  assert.equal(
    cutLayout(
      fragmentLayout(DS, "rows", { r0: 0, r1: 4 }),
      fragmentLayout(DS, "parts", { lo: 0, hi: 4 }),
      "source",
    ),
    undefined,
  );
});

Deno.test("sameLayout() tells equal layouts from different ones", () => {
  const a = fragmentLayout(DS, "rows", { r0: 0, r1: 4 });
  assert.ok(sameLayout(a, fragmentLayout(DS, "rows", { r0: 0, r1: 4 })));
  assert.ok(!sameLayout(a, fragmentLayout(DS, "rows", { r0: 1, r1: 5 })));
});
