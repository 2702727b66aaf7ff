/**
 * N -> M restart through the data language and the transform engine: N
 * writers checkpoint their blocks in their own layouts, M readers rebuild
 * theirs (other blocks, other layouts), byte for byte.
 */
import assert from "node:assert/strict";
import { compileDescription, type Dataset, datasetLayout, fragmentLayout } from "../src/ddl/mod.ts";
import { MissingRegionError } from "../src/errors.ts";
import { compilePlan, executePlan } from "../src/transform/mod.ts";

const ROWS = 64;
const COLS = 48;

const DESCRIPTION = `
dataset field {
  const R = ${ROWS}
  const C = ${COLS}
  var temp [R, C]float64
}
fragment rows(r0, r1) { var t = temp[r0:r1, :] }
fragment block(r0, r1, c0, c1) { var t = temp[r0:r1, c0:c1] }
fragment block32(r0, r1, c0, c1) { var t float32 = temp[r0:r1, c0:c1] }
fragment colsT(c0) { var t [j, i] = temp[i, c0 + j] }
`;

/** The whole field, row-major: value = row * 1000 + col. */
function reference(): Float64Array {
  const a = new Float64Array(ROWS * COLS);
  for (let r = 0; r < ROWS; r++) for (let c = 0; c < COLS; c++) a[r * COLS + c] = r * 1000 + c;
  return a;
}

interface Piece {
  layout: ReturnType<typeof fragmentLayout>;
  bytes: Uint8Array;
}

/** N writers, each owning a band of rows, publish in the `rows` layout. */
function checkpoint(ds: Dataset, n: number): Piece[] {
  const ref = reference();
  const whole = new Uint8Array(ref.buffer);
  const pieces: Piece[] = [];
  for (let w = 0; w < n; w++) {
    const r0 = (w * ROWS) / n;
    const r1 = ((w + 1) * ROWS) / n;
    const layout = fragmentLayout(ds, "rows", { r0, r1 });
    pieces.push({ layout, bytes: whole.slice(r0 * COLS * 8, r1 * COLS * 8) });
  }
  return pieces;
}

function restore(pieces: Piece[], target: ReturnType<typeof fragmentLayout>): Uint8Array {
  const plan = compilePlan(pieces.map((p) => p.layout), target);
  const out = new Uint8Array(target.byteLength);
  executePlan(plan, pieces.map((p) => p.bytes), out);
  return out;
}

for (const m of [8, 4, 2]) {
  Deno.test(`restart 8 -> ${m}: readers rebuild their 2-D blocks exactly`, () => {
    const ds = compileDescription(DESCRIPTION);
    const pieces = checkpoint(ds, 8);
    const ref = reference();
    // M readers own a grid of blocks: 2 columns of blocks when M > 2.
    const gridCols = m > 2 ? 2 : 1;
    const gridRows = m / gridCols;
    for (let k = 0; k < m; k++) {
      const r0 = (Math.floor(k / gridCols) * ROWS) / gridRows;
      const r1 = r0 + ROWS / gridRows;
      const c0 = ((k % gridCols) * COLS) / gridCols;
      const c1 = c0 + COLS / gridCols;
      const got = new Float64Array(
        restore(pieces, fragmentLayout(ds, "block", { r0, r1, c0, c1 })).buffer,
      );
      const want = new Float64Array((r1 - r0) * (c1 - c0));
      for (let r = r0; r < r1; r++) {
        for (let c = c0; c < c1; c++) want[(r - r0) * (c1 - c0) + (c - c0)] = ref[r * COLS + c]!;
      }
      assert.deepEqual(got, want);
    }
  });
}

Deno.test("restart 8 -> 1: the whole dataset, and converted, and transposed", () => {
  const ds = compileDescription(DESCRIPTION);
  const pieces = checkpoint(ds, 8);
  const ref = reference();
  const whole = restore(pieces, datasetLayout(ds));
  assert.deepEqual(new Float64Array(whole.buffer), ref);
  const f32 = restore(pieces, fragmentLayout(ds, "block32", { r0: 0, r1: ROWS, c0: 0, c1: COLS }));
  assert.deepEqual(new Float32Array(f32.buffer), Float32Array.from(ref));
  const t = new Float64Array(restore(pieces, fragmentLayout(ds, "colsT", { c0: 8 })).buffer);
  // colsT holds columns 8.. as rows: t[j][i] = temp[i][8 + j].
  for (let j = 0; j < COLS - 8; j++) {
    for (let i = 0; i < ROWS; i++) assert.equal(t[j * ROWS + i], ref[i * COLS + 8 + j]);
  }
});

Deno.test("restart with a writer missing names the rows that are lost", () => {
  const ds = compileDescription(DESCRIPTION);
  const pieces = checkpoint(ds, 8).filter((_, w) => w !== 3);
  assert.throws(
    () => compilePlan(pieces.map((p) => p.layout), datasetLayout(ds)),
    (e) =>
      e instanceof MissingRegionError &&
      e.variable === "temp" &&
      JSON.stringify(e.missing) === JSON.stringify([{ start: [24, 0], count: [8, COLS] }]),
  );
});

Deno.test("restart of particles: array-of-structs writers, columnar readers", () => {
  const ds = compileDescription(`
dataset particles {
  type P struct { x, y, z float64; energy float32; id int32 }
  var p [1000]P
}
fragment mine(lo, hi) { var p = p[lo:hi] }
fragment cols(lo, hi) columnar { var p { id, energy float64, x } = p[lo:hi] }
`);
  const all = new Uint8Array(datasetLayout(ds).byteLength);
  const view = new DataView(all.buffer);
  for (let i = 0; i < 1000; i++) {
    view.setFloat64(i * 32, i + 0.5, true);
    view.setFloat64(i * 32 + 8, -i, true);
    view.setFloat64(i * 32 + 16, i * 2, true);
    view.setFloat32(i * 32 + 24, i / 4, true);
    view.setInt32(i * 32 + 28, 7000 + i, true);
  }
  const pieces = [0, 1, 2, 3].map((w) => {
    const lo = w * 250;
    return {
      layout: fragmentLayout(ds, "mine", { lo, hi: lo + 250 }),
      bytes: all.slice(lo * 32, (lo + 250) * 32),
    };
  });
  const target = fragmentLayout(ds, "cols", { lo: 100, hi: 700 });
  const out = restore(pieces, target);
  const id = new Int32Array(out.buffer, 0, 600);
  const energy = new Float64Array(out.buffer, target.slots[0]!.fields[1]!.offset, 600);
  const x = new Float64Array(out.buffer, target.slots[0]!.fields[2]!.offset, 600);
  for (let k = 0; k < 600; k++) {
    const i = 100 + k;
    assert.equal(id[k], 7000 + i);
    assert.equal(energy[k], i / 4);
    assert.equal(x[k], i + 0.5);
  }
});
