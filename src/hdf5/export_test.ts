import assert from "node:assert/strict";
import { compileDescription, datasetLayout } from "../ddl/mod.ts";
import type { FragmentLayout } from "../transform/mod.ts";
import { toHdf5 } from "./export.ts";
import { FLATTEN_PY, flattenLayout, h5pyMissing, python } from "./_testing.ts";

const missing = await h5pyMissing();
if (missing !== undefined) {
  console.warn(
    `WARNING: h5py (/usr/bin/python3) unavailable, HDF5 export tests skipped: ${missing}`,
  );
}

/** Fills every field of every element with values that differ per element, field and type. */
function fill(layout: FragmentLayout): Uint8Array {
  const bytes = new Uint8Array(layout.byteLength);
  const view = new DataView(bytes.buffer);
  let seed = 0;
  for (const slot of layout.slots) {
    const shape = slot.axes.map((a) => a.count);
    const total = shape.reduce((p, n) => p * n, 1);
    for (const f of slot.fields) {
      const size = typeof f.type === "string" ? 0 : f.type.size;
      for (let e = 0; e < total; e++) {
        let at = f.offset;
        let rest = e;
        for (let d = shape.length - 1; d >= 0; d--) {
          at += (rest % shape[d]!) * f.strides[d]!;
          rest = Math.floor(rest / shape[d]!);
        }
        for (let k = 0; k < f.count; k++) {
          const n = ++seed;
          const t = f.type;
          if (typeof t !== "string") {
            const text = `s${n}`.slice(0, size - 2);
            view.setInt16(at + k * size, text.length, true);
            bytes.set(new TextEncoder().encode(text), at + k * size + 2);
            continue;
          }
          const w =
            { int8: 1, uint8: 1, bool: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4 }[
              t as string
            ];
          const p = at + k * (w ?? 8);
          if (t === "int8") view.setInt8(p, -(n % 100));
          else if (t === "uint8") view.setUint8(p, 200 + (n % 50));
          else if (t === "bool") view.setUint8(p, n % 2);
          else if (t === "int16") view.setInt16(p, -30000 + n, true);
          else if (t === "uint16") view.setUint16(p, 60000 + n, true);
          else if (t === "int32") view.setInt32(p, -2_000_000_000 + n, true);
          else if (t === "uint32") view.setUint32(p, 4_000_000_000 + n, true);
          else if (t === "int64") view.setBigInt64(p, -(2n ** 62n) - BigInt(n), true);
          else if (t === "uint64") view.setBigUint64(p, 2n ** 63n + BigInt(n), true);
          else if (t === "float32") view.setFloat32(p, n * 0.25 - 100, true);
          else view.setFloat64(p, n * 1e-3 - 7.5, true);
        }
      }
    }
  }
  return bytes;
}

const ALL = `dataset all {
  type Inner struct { a int16; b [3]float32 }
  var p [3]struct {
    i8 int8; i16 int16; i32 int32; i64 int64
    u8 uint8; u16 uint16; u32 uint32; u64 uint64
    f32 float32; f64 float64; ok bool; name string6; inner Inner
  }
  var t [2, 3, 4]float64
  var m [2][3]uint16
  var s int32
  var words [2]string5
}`;

Deno.test({
  name: "toHdf5() writes each variable as an HDF5 dataset h5py reads value for value",
  ignore: missing !== undefined,
  fn: async () => {
    const layout = datasetLayout(compileDescription(ALL));
    const bytes = fill(layout);
    const file = await toHdf5({
      dataset: "all",
      version: 7,
      description: ALL,
      layout,
      bytes,
      lineage: { function: "histogram", version: 2 },
    });
    await Deno.mkdir("tmp", { recursive: true });
    const path = await Deno.makeTempFile({ dir: "tmp", suffix: ".h5" });
    try {
      await Deno.writeFile(path, file);
      const got = JSON.parse(
        await python(
          `${FLATTEN_PY}\nimport sys\nprint(json.dumps(flatten(sys.argv[1])))`,
          [path],
        ),
      );
      assert.deepEqual(got, flattenLayout(layout, bytes));
      const meta = JSON.parse(
        await python(
          `import h5py, json, sys
f = h5py.File(sys.argv[1], "r")
a = {k: (v.decode() if isinstance(v, bytes) else v if isinstance(v, str) else int(v)) for k, v in f.attrs.items()}
print(json.dumps({"attrs": a, "shapes": {k: list(f[k].shape) for k in f},
  "types": {k: str(f[k].dtype) for k in f}}))`,
          [path],
        ),
      );
      assert.deepEqual(meta.attrs, {
        dataset: "all",
        version: 7,
        description: ALL,
        lineage: '{"function":"histogram","version":2}',
      });
      assert.deepEqual(meta.shapes, { p: [3], t: [2, 3, 4], m: [2, 3], s: [], words: [2] });
      assert.equal(meta.types.t, "float64");
      assert.equal(meta.types.words, "|S5");
      assert.equal(
        meta.types.p,
        "{'names': ['i8', 'i16', 'i32', 'i64', 'u8', 'u16', 'u32', 'u64', 'f32', 'f64', 'ok', 'name', 'inner'], " +
          "'formats': ['i1', '<i2', '<i4', '<i8', 'u1', '<u2', '<u4', '<u8', '<f4', '<f8', 'u1', 'S6', " +
          "[('a', '<i2'), ('b[0]', '<f4'), ('b[1]', '<f4'), ('b[2]', '<f4')]], " +
          "'offsets': [0, 1, 3, 7, 15, 16, 18, 22, 30, 34, 42, 45, 51], 'itemsize': 65}",
      );
    } finally {
      await Deno.remove(path);
    }
  },
});
